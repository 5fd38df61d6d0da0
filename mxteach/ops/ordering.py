"""The ordering family: ``sort``, ``argsort``, ``topk``, ``argmin`` and ``argmax_channel``.

All of them start from the stable **rank** of each element along ``axis`` (its position after
sorting, ties in their original order — MXNet's order in both directions); values, indices,
masks and gradients are placements by rank (``kernels/cpu/ordering.py``, its CUDA twin counts
ranks in parallel). The gradient of a sorted value goes back to where the value came from;
indices and masks have a zero gradient. ``axis=None`` works on the flattened array.
MXNet 1.9.1's own backward of ``sort`` fails (its ``_backward_topk`` cannot parse the axis):
mxteach gives the gradient that ``topk(ret_typ='value')`` has there. See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, norm_axis, split3
from ..base import MXNetError, ShapeError
from ..kernels.cpu import ordering as K

__all__ = ["ORDERING_OPS"]

ORDERING_OPS = ("sort", "argsort", "topk", "argmin", "argmax_channel")
_INDEX_DTYPES = ("float16", "float32", "float64", "int32", "int64", "uint8")


def _geometry(op, p, shape):
    """(pre, n, post) around the ordered axis, and that axis (None: flattened)."""
    if p.get("axis") is None:
        return (1, int(np.prod(shape, dtype=np.int64)), 1), None
    ax = norm_axis(op, p["axis"], len(shape))
    return split3(shape, ax), ax


def _kk(op, p, n):
    """How many sorted places an operator keeps (topk's k; every place for the others)."""
    if op != "topk":
        return n
    k = p["k"]
    if k > n:
        raise MXNetError(f"topk: k = {k} is larger than the {n} elements along the axis")
    return n if k < 1 else k


def _kept_shape(op, p, shape, kk):
    """Shape of a value/index output keeping ``kk`` places along the axis."""
    geo, ax = _geometry(op, p, shape)
    if ax is None:
        return (kk,)
    return tuple(shape[:ax]) + (kk,) + tuple(shape[ax + 1:])


# -- the rank pipeline (CPU) ------------------------------------------------------------------
def _ranks(op, p, x, descending, state):
    geo, _ = _geometry(op, p, x.shape)
    x3 = np.ascontiguousarray(x).reshape(geo)
    rank = np.empty(geo, dtype=np.int64)
    K.ranks(x3.astype(np.float64, copy=False), descending, rank)
    state["rank"] = rank
    return x3, rank


def _place(x3, rank, kk):
    pre, n, post = x3.shape
    vals = np.zeros((pre, kk, post), dtype=np.float64)
    idxs = np.zeros((pre, kk, post), dtype=np.float64)
    K.place(x3.astype(np.float64, copy=False), rank, kk, vals, idxs)
    return vals, idxs


def _value_grad(p, op, ograd, igrad, req, state):
    mode = grad_mode(req, igrad)
    if not mode:
        return
    rank = state["rank"]
    pre, kk, post = rank.shape[0], ograd.size // (rank.shape[0] * rank.shape[2]), rank.shape[2]
    g3 = np.ascontiguousarray(ograd, dtype=np.float64).reshape(pre, kk, post)
    dx = np.zeros(rank.shape, dtype=np.float64) if mode == 1 else \
        np.array(igrad, dtype=np.float64).reshape(rank.shape)
    K.grad_from_ranks(g3, rank, kk, mode == 2, dx)
    igrad[...] = dx.reshape(igrad.shape)


# -- the rank pipeline (GPU) ------------------------------------------------------------------
def _gpu_ranks(op, p, x, descending, state):
    from numba import cuda
    from ..kernels.cuda import ordering as C
    geo, _ = _geometry(op, p, x.shape)
    x3 = x.reshape(geo)
    rank = cuda.device_array(geo, dtype=np.int64)
    C.ranks(x3, descending, rank)
    state["rank"] = rank
    return x3, rank


def _gpu_place(x3, rank, kk, vals_out, idxs_out):
    from numba import cuda
    from ..kernels.cuda import ordering as C
    pre, n, post = x3.shape
    vals = vals_out.reshape((pre, kk, post)) if vals_out is not None else \
        cuda.device_array((pre, kk, post), dtype=x3.dtype)
    idxs = idxs_out.reshape((pre, kk, post)) if idxs_out is not None else \
        cuda.device_array((pre, kk, post), dtype=x3.dtype)
    C.place(x3, rank, kk, vals, idxs)


def _gpu_value_grad(ograd, igrad, req, state):
    from ..kernels.cuda import ordering as C
    if not grad_mode(req, igrad):
        return
    rank = state["rank"]
    pre, post = rank.shape[0], rank.shape[2]
    kk = ograd.size // (pre * post)
    C.grad_from_ranks(ograd.reshape((pre, kk, post)), rank, kk, req == "add",
                      igrad.reshape(rank.shape))


def _gpu_zero(igrads, reqs):
    from ..kernels.cuda import elemwise
    for g, r in zip(igrads, reqs):
        if grad_mode(r, g) == 1:
            elemwise.fill(g, 0)


# -- sort and argsort -------------------------------------------------------------------------
_AXIS = Param("int", -1, optional=True, doc="the axis to order (None: the flattened array)")


def _same_or_flat(p, s):
    return [s], [_kept_shape("sort", p, s, _geometry("sort", p, s)[0][1])]


def _shape_rule(rule):
    def infer_shape(p, in_shapes):
        if in_shapes[0] is None:
            return list(in_shapes), [None] * (2 if p.get("ret_typ") == "both" else 1)
        ins, outs = rule(p, tuple(in_shapes[0]))
        return ins, outs
    return infer_shape


def _sort_forward(p, ins, outs, is_train, state):
    x3, rank = _ranks("sort", p, ins[0], not p["is_ascend"], state)
    vals, _ = _place(x3, rank, x3.shape[1])
    outs[0][...] = vals.reshape(outs[0].shape)


def _sort_backward(p, ograds, ins, outs, igrads, reqs, state):
    _value_grad(p, "sort", ograds[0], igrads[0], reqs[0], state)


def _sort_gpu_forward(p, ins, outs, is_train, state):
    x3, rank = _gpu_ranks("sort", p, ins[0], not p["is_ascend"], state)
    _gpu_place(x3, rank, x3.shape[1], outs[0], None)


def _sort_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    _gpu_value_grad(ograds[0], igrads[0], reqs[0], state)


register(Op(name="sort", params={"axis": _AXIS, "is_ascend": Param("bool", True)},
            arguments=("data",), infer_shape=_shape_rule(lambda p, s: _same_or_flat(p, s)),
            forward=_sort_forward, backward=_sort_backward, gpu_forward=_sort_gpu_forward,
            gpu_backward=_sort_gpu_backward, backward_uses=(),
            doc="The values sorted along `axis` (stable). See notebook 01."))


def _argsort_forward(p, ins, outs, is_train, state):
    x3, rank = _ranks("argsort", p, ins[0], not p["is_ascend"], state)
    _, idxs = _place(x3, rank, x3.shape[1])
    outs[0][...] = idxs.reshape(outs[0].shape).astype(outs[0].dtype)


def _argsort_gpu_forward(p, ins, outs, is_train, state):
    x3, rank = _gpu_ranks("argsort", p, ins[0], not p["is_ascend"], state)
    _gpu_place(x3, rank, x3.shape[1], None, outs[0])


def _zero_backward(p, ograds, ins, outs, igrads, reqs, state):
    for g, r in zip(igrads, reqs):
        assign(g, r, 0)


def _zero_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    _gpu_zero(igrads, reqs)


register(Op(name="argsort", params={"axis": _AXIS, "is_ascend": Param("bool", True),
                                    "dtype": Param("dtype", "float32", choices=_INDEX_DTYPES)},
            arguments=("data",), infer_shape=_shape_rule(lambda p, s: _same_or_flat(p, s)),
            infer_type=lambda p, t: ([t[0]], [p["dtype"]]),
            forward=_argsort_forward, backward=_zero_backward,
            gpu_forward=_argsort_gpu_forward, gpu_backward=_zero_gpu_backward,
            backward_uses=(), doc="The positions that sort `data` along `axis` (stable), as "
            "`dtype`. See notebook 01."))


# -- topk ------------------------------------------------------------------------------------
def _topk_outputs(p):
    return ["output0", "output1"] if p["ret_typ"] == "both" else ["output"]


def _topk_shape(p, s):
    kk = _kk("topk", p, _geometry("topk", p, s)[0][1])
    kept = _kept_shape("topk", p, s, kk)
    if p["ret_typ"] == "mask":
        return [s], [s]
    return [s], [kept] * (2 if p["ret_typ"] == "both" else 1)


def _topk_types(p, t):
    x = t[0]
    kind = p["ret_typ"]
    outs = {"value": [x], "indices": [p["dtype"]], "both": [x, p["dtype"]], "mask": [x]}[kind]
    return [x], outs


def _topk_forward(p, ins, outs, is_train, state):
    x3, rank = _ranks("topk", p, ins[0], not p["is_ascend"], state)
    kk = _kk("topk", p, x3.shape[1])
    kind = p["ret_typ"]
    if kind == "mask":
        m = np.empty(rank.shape, dtype=np.float64)
        K.mask_from_ranks(rank, kk, m)
        outs[0][...] = m.reshape(outs[0].shape)
        return
    vals, idxs = _place(x3, rank, kk)
    chosen = {"value": [vals], "indices": [idxs], "both": [vals, idxs]}[kind]
    for out, v in zip(outs, chosen):
        out[...] = v.reshape(out.shape).astype(out.dtype)


def _topk_backward(p, ograds, ins, outs, igrads, reqs, state):
    if p["ret_typ"] in ("value", "both"):
        _value_grad(p, "topk", ograds[0], igrads[0], reqs[0], state)
    else:
        assign(igrads[0], reqs[0], 0)


def _topk_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import ordering as C
    x3, rank = _gpu_ranks("topk", p, ins[0], not p["is_ascend"], state)
    kk = _kk("topk", p, x3.shape[1])
    kind = p["ret_typ"]
    if kind == "mask":
        C.mask_from_ranks(rank, kk, outs[0].reshape(rank.shape))
        return
    vals = outs[0] if kind in ("value", "both") else None
    idxs = outs[-1] if kind in ("indices", "both") else None
    _gpu_place(x3, rank, kk, vals, idxs)


def _topk_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    if p["ret_typ"] in ("value", "both"):
        _gpu_value_grad(ograds[0], igrads[0], reqs[0], state)
    else:
        _gpu_zero(igrads, reqs)


register(Op(name="topk", params={
    "axis": _AXIS, "k": Param("int", 1), "is_ascend": Param("bool", False),
    "ret_typ": Param("str", "indices", choices=("value", "indices", "both", "mask")),
    "dtype": Param("dtype", "float32", choices=_INDEX_DTYPES)},
    arguments=("data",), outputs=_topk_outputs, infer_shape=_shape_rule(_topk_shape),
    infer_type=_topk_types, forward=_topk_forward, backward=_topk_backward,
    gpu_forward=_topk_gpu_forward, gpu_backward=_topk_gpu_backward, backward_uses=(),
    doc="The k largest (or smallest with is_ascend) elements along `axis`: their values, "
        "indices, both, or a mask (k < 1: all). See notebook 01."))


# -- argmin and argmax_channel ---------------------------------------------------------------
def _arg_shape(p, s):
    if p.get("axis") is None:
        return [s], [(1,)]
    ax = norm_axis("argmin", p["axis"], len(s))
    kept = tuple(s[:ax]) + ((1,) if p.get("keepdims") else ()) + tuple(s[ax + 1:])
    return [s], [kept or (1,)]


def _arg_forward(opname, descending):
    def forward(p, ins, outs, is_train, state):
        x3, rank = _ranks(opname, p, ins[0], descending, state)
        _, idxs = _place(x3, rank, 1)
        outs[0][...] = idxs.reshape(outs[0].shape)

    def gpu_forward(p, ins, outs, is_train, state):
        x3, rank = _gpu_ranks(opname, p, ins[0], descending, state)
        _gpu_place(x3, rank, 1, None, outs[0])
    return forward, gpu_forward


_argmin_fwd, _argmin_gpu_fwd = _arg_forward("argmin", False)
register(Op(name="argmin", params={"axis": Param("int", None, optional=True),
                                   "keepdims": Param("bool", False)},
            arguments=("data",), infer_shape=_shape_rule(_arg_shape),
            forward=_argmin_fwd, backward=_zero_backward, gpu_forward=_argmin_gpu_fwd,
            gpu_backward=_zero_gpu_backward, backward_uses=(),
            doc="Position of the smallest element along `axis` (the first one among equals; "
                "None: of the flattened array), in the data's dtype. See notebook 01."))

_argmax_channel_fwd, _argmax_channel_gpu_fwd = _arg_forward("argmax_channel", True)


def _channel_shape(p, s):
    if len(s) < 2:
        raise ShapeError(f"argmax_channel: data needs at least 2 axes, got shape {s}")
    return [s], [tuple(s[:1]) + tuple(s[2:])]


def _with_axis1(fn):
    def call(p, ins, outs, is_train, state):
        return fn({**p, "axis": 1}, ins, outs, is_train, state)
    return call


register(Op(name="argmax_channel", params={}, arguments=("data",),
            infer_shape=_shape_rule(_channel_shape),
            forward=_with_axis1(_argmax_channel_fwd), backward=_zero_backward,
            gpu_forward=_with_axis1(_argmax_channel_gpu_fwd), gpu_backward=_zero_gpu_backward,
            backward_uses=(), doc="argmax along axis 1 (the channels), the first of equals. "
                                  "See notebook 01."))
