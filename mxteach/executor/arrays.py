"""How ``bind`` and ``simple_bind`` get their arrays: ``grad_req`` in its three spellings,
arguments as a list or a dict, device placement from ``group2ctx``, and memory reused from a
``shared_buffer``. New arrays are allocated by the device's backend (``mxteach/backend/``).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..base import MXNetError, MXNetValueError, did_you_mean
from ..context import Context
from ..ndarray.ndarray import NDArray
from .devices import place_nodes

__all__ = ["norm_reqs", "as_dict", "placement", "zeros", "from_pool"]

_GRAD_REQS = ("write", "add", "null")


def norm_reqs(grad_req, names):
    if isinstance(grad_req, str):
        reqs = {n: grad_req for n in names}
    elif isinstance(grad_req, (list, tuple)):
        if len(grad_req) != len(names):
            raise MXNetError(f"grad_req list has {len(grad_req)} entries for {len(names)} "
                             f"arguments {names}")
        reqs = dict(zip(names, grad_req))
    elif isinstance(grad_req, dict):
        for k in grad_req:
            if k not in names:
                raise MXNetError(f"grad_req names '{k}', which is not an argument; arguments "
                                 f"are {names}.{did_you_mean(k, names)}")
        reqs = {n: grad_req.get(n, "null") for n in names}
    else:
        raise MXNetError(f"grad_req must be a str, list or dict, got {type(grad_req).__name__}")
    for n, r in reqs.items():
        if r not in _GRAD_REQS:
            raise MXNetError(f"grad_req for '{n}' is '{r}'; expected one of {_GRAD_REQS}")
    return reqs


def as_dict(arrays, names, what, allow_missing=False):
    if arrays is None:
        return {}
    if isinstance(arrays, dict):
        for k in arrays:
            if k not in names:
                raise MXNetError(f"{what}: '{k}' is not among {names}.{did_you_mean(k, names)}")
        if not allow_missing:
            missing = [n for n in names if n not in arrays]
            if missing:
                raise MXNetValueError(f"{what}: missing arrays for {missing}")
        return dict(arrays)
    arrays = list(arrays)
    if len(arrays) != len(names) and not (allow_missing and len(arrays) < len(names)):
        raise MXNetValueError(f"{what}: got {len(arrays)} arrays for {len(names)} names {names}")
    return dict(zip(names, arrays))


def placement(symbol, ctx, group2ctx):
    """{node name: device} for the nodes ``group2ctx`` places (model parallelism: their
    arrays live and their kernels run on that device), by MXNet's rule (``devices.py``)."""
    order = symbol._order()
    dev = place_nodes(order, group2ctx)
    return {node.name: dev[id(node)] for node in order if id(node) in dev}


def zeros(shape, dtype, ctx):
    """A new zero NDArray on ``ctx``, allocated by the device's backend."""
    be = backend.for_context(ctx if isinstance(ctx, Context) else Context(ctx))
    return be.wrap(be.zeros(tuple(shape), dtype))


def from_pool(pool, name, shape, dtype, ctx):
    """(array, reused): a view of pool[name] when it is large enough, else a new array that
    the pool remembers for the next executor."""
    need = int(np.prod(shape)) * np.dtype(dtype).itemsize
    arr = pool.get(name)
    if arr is not None and arr._data.nbytes >= need and arr._data.flags.c_contiguous:
        flat = arr._data.reshape(-1).view(np.uint8)
        return NDArray(flat[:need].view(dtype).reshape(shape), ctx), True
    new = zeros(shape, dtype, ctx)
    pool[name] = new
    return new, False
