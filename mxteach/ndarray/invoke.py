"""Running one registered operator on NDArrays (``mx.nd.FullyConnected(...)``): the ``mx.nd``
namespace calls :func:`invoke` for every operator it exposes.

This sits above the operator registry (``mxteach.ndarray``'s package layer), so NDArray itself
(``ndarray/ndarray.py``) never imports operators. The device's backend gives the kernel and the
memory: the CPU runs ``op.forward`` on numpy arrays, a gpu ``op.gpu_forward`` on device arrays.
"""
from __future__ import annotations

import numpy as np

from ..backend import for_context
from ..base import MXNetError, mx_real_t
from ..context import Context, current_context
from ..ops.registry import parse_params
from .ndarray import NDArray
from .sparse_ops import dispatch
from .sparse_storage import fallback, is_sparse

__all__ = ["invoke"]


def invoke(op, inputs, params, out=None, name=None):
    """Run registered operator ``op`` once on NDArrays; returns one NDArray or a list.

    Parameters
    ----------
    op : Op
        The operator (``mxteach.ops.registry.get(name)``).
    inputs : list of NDArray
        Its arguments then its auxiliary states, on one device.
    params : dict
        Its parameters, as strings or values.
    out : NDArray or list of NDArray, optional
        Arrays the results are copied into (returned instead of new arrays).
    name : str, optional
        The name used in error messages (``op.name`` by default).
    """
    if any(is_sparse(x) for x in inputs):
        result = dispatch(op, inputs, params)
        if result is not None:
            return _store(result, out)
        fallback(f"mx.nd.{op.name}", [getattr(x, "stype", "default") for x in inputs])
        inputs = [x.tostype("default") if is_sparse(x) else x for x in inputs]
    p = parse_params(op, params, name or op.name)
    ctx = inputs[0].context if inputs else _context_param(p.get("ctx")) or current_context()
    in_shapes = [x.shape for x in inputs]
    n_args = len(op.list_arguments(p)) + len(op.list_aux(p))
    if len(inputs) != n_args:
        raise MXNetError(f"{op.name} expects {n_args} inputs "
                         f"({op.list_arguments(p) + op.list_aux(p)}), got {len(inputs)}")
    _, out_shapes = op.infer_shape(p, in_shapes)
    if "value_shapes" in op.extra:    # outputs sized by input values (contrib.boolean_mask)
        out_shapes = op.extra["value_shapes"](p, [x.asnumpy() for x in inputs])
    _, out_types = op.types(p, [np.dtype(x.dtype).name for x in inputs])
    be = for_context(ctx)
    forward, _ = be.kernels(op, f"mx.nd.{op.name}")
    if inputs:
        be.check_operands(f"mx.nd.{op.name}", ("first input", inputs[0]),
                          [(f"input {k}", x) for k, x in enumerate(inputs[1:], 1)])
    outs = [be.zeros(s, t or mx_real_t) for s, t in zip(out_shapes, out_types)]
    with be.device():
        forward(p, [be.raw(x._data) for x in inputs], [be.raw(o) for o in outs], False, {})
    results = [be.wrap(o) for o in outs]
    return _store(results[0] if len(results) == 1 else results, out)


def _context_param(value):
    """The ``ctx`` parameter of an operator without inputs (``mx.nd.eye(3, ctx=mx.gpu(0))``
    passes 'gpu(0)', as MXNet writes it) as a Context; None when unset."""
    if not value:
        return None
    kind, _, rest = str(value).partition("(")
    return Context(kind.strip(), int(rest.rstrip(")") or 0))


def _store(result, out):
    """``result``, or ``out`` after copying ``result`` into it."""
    if out is None:
        return result
    targets = out if isinstance(out, (list, tuple)) else [out]
    results = result if isinstance(result, (list, tuple)) else [result]
    for t, r in zip(targets, results):
        if is_sparse(t) or is_sparse(r):
            r.copyto(t)
        else:
            t._data[...] = r._data
    return out
