"""Indexing operators of the shape family: take, where, one_hot, SequenceMask, argmax.

The other shape operators are in ``shape.py``. Gather/scatter (take), one_hot and SequenceMask
run Numba kernels from ``kernels/cpu/shape.py`` (numpy twins ``kernels/reference/shape.py``);
their CUDA twins, and ``where``, are in ``kernels/cuda/shape.py`` (take's gradient scatter-adds
with atomics); argmax on the GPU is the tree reduction of ``kernels/cuda/reduce.py``.
Indices, conditions and lengths get no gradient: MXNet
writes zeros into theirs (take, where, one_hot), except SequenceMask, which leaves
``sequence_length``'s gradient untouched. See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import (CAST_DTYPES, norm_axis, split3, kernel_view, shape_from_input,
                     zero_grads, grad_mode, gpu_zero_grads, data_shape)
from ..base import MXNetError, ShapeError
from ..kernels.cpu.shape import (TAKE_MODES, take_indices, take_forward, take_backward,
                                 one_hot_fill, sequence_mask)


# -- take ------------------------------------------------------------------------------------
def _take_shape(p, in_shapes):
    a, idx = in_shapes
    if a is None or idx is None:
        return list(in_shapes), [None]
    a, idx = tuple(a), tuple(idx)
    ax = norm_axis("take", p["axis"], len(a))
    return [a, idx], [a[:ax] + idx + a[ax + 1:]]


def _take_positions(p, a_shape, raw):
    ax = norm_axis("take", p["axis"], len(a_shape))
    n = a_shape[ax]
    if n == 0:
        raise ShapeError(f"take: axis {ax} of input 'a' {tuple(a_shape)} is empty")
    pos = np.empty(raw.size, dtype=np.int64)
    bad = take_indices(np.ascontiguousarray(raw).reshape(-1), n, TAKE_MODES[p["mode"]], pos)
    if bad >= 0:
        raise MXNetError(f"take: index {raw.reshape(-1)[bad]} is out of range [0, {n}) for "
                         f"axis {ax} (mode='raise'; use mode='clip' or 'wrap')")
    return ax, pos


def _take_forward(p, ins, outs, is_train, state):
    a = ins[0]
    ax, pos = _take_positions(p, a.shape, ins[1])
    pre, _, post = split3(a.shape, ax)
    out, commit = kernel_view(outs[0], (pre, pos.size, post))
    take_forward(np.ascontiguousarray(a, dtype=out.dtype).reshape(split3(a.shape, ax)), pos,
                 out)
    commit()


def _take_backward(p, ograds, ins, outs, igrads, reqs, state):
    assign(igrads[1], reqs[1], 0)
    if igrads[0] is None or reqs[0] == "null":
        return
    ax, pos = _take_positions(p, igrads[0].shape, ins[1])
    pre, n, post = split3(igrads[0].shape, ax)
    dst, commit = kernel_view(igrads[0], (pre, n, post))
    take_backward(np.ascontiguousarray(ograds[0], dtype=dst.dtype).reshape(pre, pos.size, post),
                  pos, reqs[0] == "add", dst)
    commit()


def _take_gpu_positions(p, a_shape, raw):
    from ..kernels.cuda import shape as kshape
    ax = norm_axis("take", p["axis"], len(a_shape))
    if a_shape[ax] == 0:
        raise ShapeError(f"take: axis {ax} of input 'a' {tuple(a_shape)} is empty")
    return split3(a_shape, ax), kshape.take_indices(raw, a_shape[ax], p["mode"])


def _take_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import shape as kshape
    (pre, n, post), pos = _take_gpu_positions(p, ins[0].shape, ins[1])
    kshape.take_forward(ins[0].reshape(pre, n, post), pos,
                        outs[0].reshape(pre, pos.shape[0], post))


def _take_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import shape as kshape
    gpu_zero_grads(p, ograds, ins, outs, [None, igrads[1]], ["null", reqs[1]], state)
    if not grad_mode(reqs[0], igrads[0]):
        return
    (pre, n, post), pos = _take_gpu_positions(p, igrads[0].shape, ins[1])
    kshape.take_backward(ograds[0].reshape(pre, pos.shape[0], post), pos, reqs[0] == "add",
                         igrads[0].reshape(pre, n, post))


register(Op(
    name="take",
    params={"axis": Param("int", 0), "mode": Param("str", "clip", choices=tuple(TAKE_MODES))},
    arguments=("a", "indices"), infer_shape=_take_shape,
    infer_type=lambda p, t: ([t[0], t[1] or "float32"], [t[0]]),
    forward=_take_forward, backward=_take_backward, gpu_forward=_take_gpu_forward,
    gpu_backward=_take_gpu_backward, backward_uses=("ins",),
    doc="Gather slices of `a` along `axis` at `indices` (float indices are truncated); the "
        "gradient scatter-adds. See notebook 01."))


# -- where ------------------------------------------------------------------------------------
def _where_shape(p, in_shapes):
    cond, x, y = in_shapes
    data = tuple(x) if x is not None else (tuple(y) if y is not None else None)
    if data is None:
        return list(in_shapes), [None]
    for name, s in (("x", x), ("y", y)):
        if s is not None and tuple(s) != data:
            raise ShapeError(f"where: input '{name}' has shape {tuple(s)}, expected {data} "
                             f"(x and y need equal shapes)")
    if cond is None:
        cond = data
    cond = tuple(cond)
    if cond != data and (not data or int(np.prod(cond)) != data[0]):
        raise ShapeError(f"where: input 'condition' has shape {cond}; expected {data} or a "
                         f"vector of {data[0] if data else 0} (one flag per row)")
    return [cond, data, data], [data]


def _where_mask(cond, shape):
    if cond.shape == tuple(shape):
        return cond != 0
    return (cond.reshape(-1) != 0).reshape((-1,) + (1,) * (len(shape) - 1))


def _where_forward(p, ins, outs, is_train, state):
    outs[0][...] = np.where(_where_mask(ins[0], ins[1].shape), ins[1], ins[2])


def _where_backward(p, ograds, ins, outs, igrads, reqs, state):
    g = ograds[0]
    mask = _where_mask(ins[0], g.shape)
    assign(igrads[0], reqs[0], 0)
    assign(igrads[1], reqs[1], np.where(mask, g, 0).astype(g.dtype, copy=False))
    assign(igrads[2], reqs[2], np.where(mask, 0, g).astype(g.dtype, copy=False))


def _where_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import shape as kshape
    kshape.where(ins[0], ins[1], ins[2], outs[0])


def _where_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import shape as kshape
    gpu_zero_grads(p, ograds, ins, outs, igrads[:1], reqs[:1], state)
    for side in (0, 1):
        if grad_mode(reqs[side + 1], igrads[side + 1]):
            kshape.where_grad(ins[0], ograds[0], side, reqs[side + 1] == "add",
                              igrads[side + 1])


register(Op(
    name="where", params={}, arguments=("condition", "x", "y"), infer_shape=_where_shape,
    infer_type=lambda p, t: ([t[0] or t[1] or t[2], t[1] or t[2], t[1] or t[2]], [t[1] or t[2]]),
    forward=_where_forward, backward=_where_backward, gpu_forward=_where_gpu_forward,
    gpu_backward=_where_gpu_backward, backward_uses=("ins",),
    doc="x where condition is nonzero, else y; condition may also be one flag per row. "
        "See notebook 01."))


# -- one_hot ----------------------------------------------------------------------------------
def _one_hot_shape(p, s):
    if p["depth"] < 0:
        raise ShapeError(f"one_hot: depth={p['depth']} must not be negative")
    return s + (p["depth"],)


def _one_hot_forward(p, ins, outs, is_train, state):
    out, commit = kernel_view(outs[0], (ins[0].size, p["depth"]))
    one_hot_fill(np.ascontiguousarray(ins[0]).reshape(-1), out.dtype.type(p["on_value"]),
                 out.dtype.type(p["off_value"]), out)
    commit()


def _one_hot_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import shape as kshape
    kshape.one_hot(ins[0], p["on_value"], p["off_value"], outs[0].reshape(ins[0].size,
                                                                         p["depth"]))


register(Op(
    name="one_hot",
    params={"depth": Param("int"), "on_value": Param("float", 1.0),
            "off_value": Param("float", 0.0),
            "dtype": Param("dtype", "float32", choices=CAST_DTYPES[1:])},
    arguments=("indices",), infer_shape=shape_from_input(_one_hot_shape),
    infer_type=lambda p, t: ([t[0] or "float32"], [p["dtype"]]),
    forward=_one_hot_forward, backward=zero_grads, gpu_forward=_one_hot_gpu_forward,
    gpu_backward=gpu_zero_grads, backward_uses=(),
    doc="One row per index: on_value at the index, off_value elsewhere (indices outside "
        "[0, depth) give all off_value). See notebook 01."))


# -- SequenceMask -----------------------------------------------------------------------------
def _seqmask_shape(p, in_shapes):
    data = data_shape("SequenceMask", in_shapes, 2,
                      "(time, batch, ...) or with axis=1 (batch, time, ...)")
    if data is None:
        return list(in_shapes), [None]
    shapes = [data]
    if p["use_sequence_length"]:
        want = (data[1 - p["axis"]],)
        if in_shapes[1] is not None and tuple(in_shapes[1]) != want:
            raise ShapeError(f"SequenceMask: input 'sequence_length' has shape "
                             f"{tuple(in_shapes[1])}, expected {want} (one length per sequence)")
        shapes.append(want)
    return shapes, [data]


def _seqmask_run(p, src, lengths, value, accumulate, dst):
    shape3 = (src.shape[0], src.shape[1], int(np.prod(src.shape[2:], dtype=np.int64)))
    view, commit = kernel_view(dst, shape3)
    sequence_mask(np.ascontiguousarray(src, dtype=view.dtype).reshape(shape3),
                  np.ascontiguousarray(lengths), value, p["axis"] == 1, accumulate, view)
    commit()


def _seqmask_forward(p, ins, outs, is_train, state):
    if not p["use_sequence_length"]:
        outs[0][...] = ins[0]
        return
    _seqmask_run(p, ins[0], ins[1], p["value"], False, outs[0])


def _seqmask_backward(p, ograds, ins, outs, igrads, reqs, state):
    # the sequence_length gradient is left untouched, as MXNet does
    if igrads[0] is None or reqs[0] == "null":
        return
    if not p["use_sequence_length"]:
        assign(igrads[0], reqs[0], ograds[0])
        return
    _seqmask_run(p, ograds[0], ins[1], 0.0, reqs[0] == "add", igrads[0])


def _seqmask_gpu(p, src, lengths, value, accumulate, dst):
    from ..kernels.cuda import elemwise, shape as kshape
    if not p["use_sequence_length"]:
        elemwise.copy(src, dst, accumulate)
        return
    shape3 = (src.shape[0], src.shape[1], src.size // (src.shape[0] * src.shape[1]))
    kshape.sequence_mask(src.reshape(shape3), lengths, value, p["axis"] == 1, accumulate,
                         dst.reshape(shape3))


def _seqmask_gpu_forward(p, ins, outs, is_train, state):
    _seqmask_gpu(p, ins[0], ins[-1], p["value"], False, outs[0])


def _seqmask_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    # the sequence_length gradient is left untouched, as on the CPU
    if grad_mode(reqs[0], igrads[0]):
        _seqmask_gpu(p, ograds[0], ins[-1], 0.0, reqs[0] == "add", igrads[0])


register(Op(
    name="SequenceMask",
    params={"use_sequence_length": Param("bool", False), "value": Param("float", 0.0),
            "axis": Param("int", 0, choices=(0, 1))},
    arguments=lambda p: ["data", "sequence_length"] if p["use_sequence_length"] else ["data"],
    infer_shape=_seqmask_shape, forward=_seqmask_forward, backward=_seqmask_backward,
    gpu_forward=_seqmask_gpu_forward, gpu_backward=_seqmask_gpu_backward, backward_uses=("ins",),
    doc="Set time steps at or past each sequence's length to `value` (time is axis 0, or 1 with "
        "axis=1). See notebook 01."))


def _argmax_shape(p, s):
    if p["axis"] is None:
        return (1,) * len(s) if p["keepdims"] else (1,)
    ax = norm_axis("argmax", p["axis"], len(s))
    return s[:ax] + ((1,) if p["keepdims"] else ()) + s[ax + 1:]


def _argmax_forward(p, ins, outs, is_train, state):
    outs[0][...] = np.argmax(ins[0], axis=p["axis"]).reshape(outs[0].shape)


def _argmax_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import reduce
    x = ins[0]
    if p["axis"] is None:
        kept = (1,) * x.ndim
    else:
        ax = norm_axis("argmax", p["axis"], x.ndim)
        kept = tuple(1 if k == ax else d for k, d in enumerate(x.shape))
    reduce.reduce(x, kept, "argmax", outs[0])


register(Op(
    name="argmax",
    params={"axis": Param("int", None, optional=True), "keepdims": Param("bool", False)},
    arguments=("data",), infer_shape=shape_from_input(_argmax_shape),
    forward=_argmax_forward, backward=zero_grads, gpu_forward=_argmax_gpu_forward,
    gpu_backward=gpu_zero_grads, backward_uses=(),
    doc="Index of the largest value (first on ties), returned in the input's dtype as MXNet "
        "does. See notebook 01."))
