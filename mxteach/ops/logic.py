"""Logic and hypot: ``logical_not``, ``broadcast_logical_and`` / ``_or`` / ``_xor``,
``broadcast_hypot``, and the forms MXNet's front-ends build on them: ``_hypot`` (same shapes,
``mx.sym.hypot``), ``_hypot_scalar`` and ``_logical_and/or/xor_scalar`` (``mx.nd.logical_and``
with a number).

Every operator here is one binary map ``out[i] = f(a[ia[i]], b[ib[i]])`` through two index
lists: for broadcasting, ``ia``/``ib`` say which element of each operand output i reads (built
once per pair of shapes); a scalar is a one-element operand read at 0; ``logical_not`` reads
``a`` twice. Kernels: ``kernels/cpu/logic.py`` and ``kernels/cuda/logic.py``.

The logical results are 1 or 0 in the operands' dtype, with a zero gradient (as in MXNet).
hypot's gradient is ``g * x / hypot(x, y)`` for each leg, summed over broadcast axes; where both
legs are 0 it is NaN, as in MXNet 1.9.1. See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import grad_mode, kernel_view, flat_in, gpu_flat, same_dtype, zero_grads, \
    gpu_zero_grads, identity_shape
from ..base import ShapeError
from ..kernels.cpu import logic as K

__all__ = ["LOGIC_OPS"]

LOGIC_OPS = []
_CODES = {"and": K.AND, "or": K.OR, "xor": K.XOR, "hypot": K.HYPOT, "not": K.NOT}


def _arange(shape):
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _broadcast(opname, sa, sb):
    try:
        return tuple(np.broadcast_shapes(tuple(sa), tuple(sb)))
    except ValueError:
        raise ShapeError(f"{opname}: operand shapes {tuple(sa)} and {tuple(sb)} cannot be "
                         "broadcast together (each axis must match or be 1)") from None


def _lists(kind, opname, shapes, state, gpu):
    """(ia, ib) for these input shapes, cached per node (device copies on the GPU)."""
    key = (gpu, tuple(tuple(s) for s in shapes))
    if state.get("lists_key") != key:
        if kind == "broadcast":
            out = _broadcast(opname, *shapes)
            ia = np.broadcast_to(_arange(shapes[0]), out).reshape(-1).copy()
            ib = np.broadcast_to(_arange(shapes[1]), out).reshape(-1).copy()
        elif kind == "scalar":
            ia = _arange(shapes[0]).reshape(-1)
            ib = np.zeros(ia.size, dtype=np.int64)
        else:                                     # unary, or two operands of one shape
            ia = ib = _arange(shapes[0]).reshape(-1)
        if gpu:
            from numba import cuda
            ia = cuda.to_device(ia)
            ib = ia if kind == "same" else cuda.to_device(ib)
        state["lists"], state["lists_key"] = (ia, ib), key
    return state["lists"]


def _operands(kind, p, ins, dtype, gpu):
    """The two operands the map reads: the second input, the scalar or the data again."""
    a = ins[0]
    if kind == "scalar":
        b = np.array([p["scalar"]], dtype=dtype)
        if gpu:
            from numba import cuda
            b = cuda.to_device(b)
        return a, b
    return a, (ins[1] if len(ins) > 1 else a)


def _make(name, verb, kind, doc, aliases=()):
    code = _CODES[verb]
    hypot = verb == "hypot"
    n_in = 2 if kind in ("broadcast", "binary") else 1

    def forward(p, ins, outs, is_train, state):
        ia, ib = _lists(kind, name, [a.shape for a in ins], state, False)
        out, commit = kernel_view(outs[0], -1)
        a, b = _operands(kind, p, ins, out.dtype, False)
        K.binary(flat_in(a), flat_in(b), ia, ib, code, out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        ia, ib = _lists(kind, name, [a.shape for a in ins], state, False)
        a, b = _operands(kind, p, ins, outs[0].dtype, False)
        for x, ix, g, r in zip((a, b), (ia, ib), igrads, reqs):
            mode = grad_mode(r, g)
            if mode:
                dx, commit = kernel_view(g, -1)
                K.hypot_grad(flat_in(ograds[0]).astype(dx.dtype, copy=False), flat_in(x),
                             flat_in(outs[0]), ix, mode == 2, dx)
                commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import logic as C
        ia, ib = _lists(kind, name, [a.shape for a in ins], state, True)
        a, b = _operands(kind, p, ins, outs[0].dtype, True)
        C.binary(gpu_flat(a), gpu_flat(b), ia, ib, code, gpu_flat(outs[0]))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import logic as C
        ia, ib = _lists(kind, name, [a.shape for a in ins], state, True)
        a, b = _operands(kind, p, ins, outs[0].dtype, True)
        for x, ix, g, r in zip((a, b), (ia, ib), igrads, reqs):
            if grad_mode(r, g):
                C.hypot_grad(gpu_flat(ograds[0]), gpu_flat(x), gpu_flat(outs[0]), ix,
                             r == "add", gpu_flat(g))

    def infer_shape(p, in_shapes):
        if any(s is None for s in in_shapes):
            return list(in_shapes), [None]
        shapes = [tuple(s) for s in in_shapes]
        if kind == "broadcast":
            return shapes, [_broadcast(name, *shapes)]
        if kind == "binary" and shapes[0] != shapes[1]:
            raise ShapeError(f"{name}: operands must have one shape, got {shapes[0]} and "
                             f"{shapes[1]} (use broadcast_hypot to broadcast)")
        return identity_shape(p, in_shapes)

    params = {"scalar": Param("float", 1.0), "is_int": Param("bool", True)} \
        if kind == "scalar" else {}
    arguments = ("lhs", "rhs") if kind == "broadcast" else \
        ("data",) if n_in == 1 else ("lhs", "rhs")
    register(Op(name=name, aliases=aliases, params=params, arguments=arguments,
                infer_shape=infer_shape, infer_type=same_dtype(name, list(arguments)),
                forward=forward, backward=backward if hypot else zero_grads,
                gpu_forward=gpu_forward, gpu_backward=gpu_backward if hypot else gpu_zero_grads,
                backward_uses=("ins", "outs") if hypot else (), doc=doc + " See notebook 01."))
    LOGIC_OPS.append(name)


_make("logical_not", "not", "unary", "1 where `data` is 0, else 0, in data's dtype.")
for _verb in ("and", "or", "xor"):
    _make(f"broadcast_logical_{_verb}", _verb, "broadcast",
          f"Logical {_verb.upper()} of the operands' truth values (non-zero is true), "
          "broadcasting, as 1/0 in their dtype.")
    _make(f"_logical_{_verb}_scalar", _verb, "scalar",
          f"Logical {_verb.upper()} of data and a number, as 1/0 in data's dtype.")
_make("broadcast_hypot", "hypot", "broadcast",
      "sqrt(lhs**2 + rhs**2), broadcasting (the hypotenuse of legs lhs and rhs).")
_make("_hypot", "hypot", "binary", "sqrt(lhs**2 + rhs**2) of two arrays of one shape.",
      aliases=("_Hypot",))
_make("_hypot_scalar", "hypot", "scalar", "sqrt(data**2 + scalar**2).",
      aliases=("_HypotScalar",))
