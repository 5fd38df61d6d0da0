"""Shape operators: Flatten, Reshape, expand_dims, transpose, Concat, stack, SliceChannel,
slice_axis, zeros_like, ones_like, Cast. They are views and copies, so numpy does the work; the
backward of each is the matching reshape, split or scatter of the head gradient.

The indexing operators (take, where, one_hot, SequenceMask, argmax) are in ``shape_index.py``,
SwapAxis in ``shape_swap.py``. Kernels: CPU numpy (the indexing kernels are in
``kernels/cpu/shape.py``); CUDA: every operator here is a strided copy of
``kernels/cuda/elemwise.py`` (one launch reading and writing through element strides and an
offset: a transpose permutes the strides, Concat/stack/SliceChannel/slice_axis offset into the
larger array, Cast converts on the store) or a fill; numpy twins ``kernels/reference/shape.py``.
See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import (CAST_DTYPES, norm_axis, shape_from_input, zero_grads, grad_mode,
                     gpu_copy_forward, gpu_copy_backward, gpu_zero_grads)
from ..base import ShapeError
from ..shape_codes import infer_reshape


def _copy_out(p, ins, outs, is_train, state):
    outs[0][...] = ins[0].reshape(outs[0].shape)


def _reshape_back(p, ograds, ins, outs, igrads, reqs, state):
    if igrads[0] is not None:
        assign(igrads[0], reqs[0], ograds[0].reshape(igrads[0].shape))


# -- Flatten, Reshape, expand_dims ----------------------------------------------------------
def _flatten_shape(p, s):
    if not s:
        raise ShapeError("Flatten: input 'data' is a scalar (shape ()); it needs at least 1 dim")
    return (s[0], int(np.prod(s[1:], dtype=np.int64)))


def _reshape_shape(p, s):
    if p["shape"]:
        return infer_reshape(s, p["shape"], p["reverse"])
    if not p["target_shape"]:
        raise ShapeError("Reshape: give `shape` (e.g. shape=(0, -1)); both shape and the "
                         "deprecated target_shape are empty")
    out = list(p["target_shape"])          # deprecated form: 0 marks the one inferred dim
    if p["keep_highest"]:
        out[0] = s[0]
    free = [i for i in range(1 if p["keep_highest"] else 0, len(out)) if out[i] == 0]
    if len(free) == 1:
        rest = int(np.prod([d for i, d in enumerate(out) if i != free[0]], dtype=np.int64))
        out[free[0]] = int(np.prod(s, dtype=np.int64)) // max(rest, 1)
    if int(np.prod(out, dtype=np.int64)) != int(np.prod(s, dtype=np.int64)):
        raise ShapeError(f"Reshape: target_shape {p['target_shape']} gives {tuple(out)}, which "
                         f"does not hold the {int(np.prod(s))} elements of {s}")
    return tuple(out)


def _expand_shape(p, s):
    ax = norm_axis("expand_dims", p["axis"], len(s), extra=1)
    return s[:ax] + (1,) + s[ax:]


for _name, _aliases, _params, _rule, _doc in (
        ("Flatten", ("flatten",), {}, _flatten_shape, "(d0, d1, ...) -> (d0, d1*d2*...)"),
        ("Reshape", ("reshape",),
         {"shape": Param("shape", ()), "reverse": Param("bool", False),
          "target_shape": Param("shape", ()), "keep_highest": Param("bool", False)},
         _reshape_shape, "reshape with the special codes 0, -1, -2, -3, -4"),
        ("expand_dims", (), {"axis": Param("int")}, _expand_shape,
         "insert a size-1 axis at `axis`")):
    register(Op(name=_name, params=_params, arguments=("data",), aliases=_aliases,
                infer_shape=shape_from_input(_rule), forward=_copy_out, backward=_reshape_back,
                gpu_forward=gpu_copy_forward, gpu_backward=gpu_copy_backward,
                backward_uses=(), doc=f"{_doc}. See notebook 01."))


# -- transpose ------------------------------------------------------------------------------
def _perm(p, ndim):
    axes = p["axes"] or tuple(range(ndim - 1, -1, -1))
    if sorted(axes) != list(range(ndim)):
        raise ShapeError(f"transpose: axes {p['axes']} must be a permutation of "
                         f"{tuple(range(ndim))} for a {ndim}-d input")
    return axes


def _transpose_forward(p, ins, outs, is_train, state):
    outs[0][...] = np.transpose(ins[0], _perm(p, ins[0].ndim))


def _transpose_backward(p, ograds, ins, outs, igrads, reqs, state):
    inverse = np.argsort(_perm(p, ograds[0].ndim))
    assign(igrads[0], reqs[0], np.transpose(ograds[0], inverse))


def _transpose_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise
    elemwise.permute(ins[0], outs[0], _perm(p, ins[0].ndim))


def _transpose_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise
    if grad_mode(reqs[0], igrads[0]):
        inverse = [int(k) for k in np.argsort(_perm(p, ograds[0].ndim))]
        elemwise.permute(ograds[0], igrads[0], inverse, reqs[0] == "add")


register(Op(
    name="transpose", params={"axes": Param("shape", ())}, arguments=("data",),
    infer_shape=shape_from_input(lambda p, s: tuple(s[a] for a in _perm(p, len(s)))),
    forward=_transpose_forward, backward=_transpose_backward,
    gpu_forward=_transpose_gpu_forward, gpu_backward=_transpose_gpu_backward, backward_uses=(),
    doc="Permute axes (reversed when `axes` is empty). See notebook 01."))


# -- Concat, stack ---------------------------------------------------------------------------
def _arg_names(p):
    return [f"arg{i}" for i in range(p["num_args"])]


def _concat_shape(p, in_shapes):
    if p["num_args"] < 1 or len(in_shapes) != p["num_args"]:
        raise ShapeError(f"Concat: num_args={p['num_args']} but {len(in_shapes)} inputs")
    if any(s is None for s in in_shapes):
        return list(in_shapes), [None]
    first = tuple(in_shapes[0])
    ax = norm_axis("Concat", p["dim"], len(first))
    for i, s in enumerate(in_shapes):
        s = tuple(s)
        if len(s) != len(first) or s[:ax] + s[ax + 1:] != first[:ax] + first[ax + 1:]:
            raise ShapeError(f"Concat: input 'arg{i}' has shape {s}, expected "
                             f"{first[:ax] + ('?',) + first[ax + 1:]} (only dim {ax} may "
                             f"differ; arg0 is {first})")
    total = sum(int(s[ax]) for s in in_shapes)
    return [tuple(s) for s in in_shapes], [first[:ax] + (total,) + first[ax + 1:]]


def _concat_forward(p, ins, outs, is_train, state):
    np.concatenate(ins[:p["num_args"]], axis=norm_axis("Concat", p["dim"], ins[0].ndim),
                   out=outs[0])


def _concat_backward(p, ograds, ins, outs, igrads, reqs, state):
    ax = norm_axis("Concat", p["dim"], ograds[0].ndim)
    start = 0
    for g, r, x in zip(igrads, reqs, ins):
        stop = start + x.shape[ax]
        assign(g, r, ograds[0][(slice(None),) * ax + (slice(start, stop),)])
        start = stop


def _gpu_along(big, ax, parts, to_big):
    """Copy pieces into (``to_big``) or out of the device array ``big`` along axis ``ax``.
    ``parts`` lists (piece or None, its length along ax, accumulate); piece i starts where the
    ones before it end. A stacked piece (no axis ax) has length 1: the same memory layout. One
    strided launch per piece (``kernels/cuda/elemwise.py:strided_copy``)."""
    from ..kernels.cuda import elemwise
    big_str = elemwise.contiguous(big.shape)
    start = 0
    for piece, n, accumulate in parts:
        if piece is not None:
            shape = tuple(big.shape[:ax]) + (n,) + tuple(big.shape[ax + 1:])
            own, off = elemwise.contiguous(shape), start * big_str[ax]
            if to_big:
                elemwise.strided_copy(piece, big, shape, own, 0, big_str, off, accumulate)
            else:
                elemwise.strided_copy(big, piece, shape, big_str, off, own, 0, accumulate)
        start += n


def _gpu_join(axis_of, stacked):
    """GPU (forward, backward) of Concat (``stacked=False``) and stack."""
    def length(x, ax):
        return 1 if stacked else x.shape[ax]

    def forward(p, ins, outs, is_train, state):
        ax = axis_of(p, outs[0].ndim)
        _gpu_along(outs[0], ax, [(x, length(x, ax), False) for x in ins[:p["num_args"]]], True)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        ax = axis_of(p, ograds[0].ndim)
        _gpu_along(ograds[0], ax, [(g if grad_mode(r, g) else None, length(x, ax), r == "add")
                                   for g, r, x in zip(igrads, reqs, ins)], False)
    return forward, backward


_CONCAT_GPU = _gpu_join(lambda p, nd: norm_axis("Concat", p["dim"], nd), False)
_STACK_GPU = _gpu_join(lambda p, nd: norm_axis("stack", p["axis"], nd - 1, extra=1), True)


register(Op(
    name="Concat", params={"num_args": Param("int"), "dim": Param("int", 1)},
    arguments=_arg_names, num_args_param="num_args", aliases=("concat",),
    infer_shape=_concat_shape, forward=_concat_forward, backward=_concat_backward,
    gpu_forward=_CONCAT_GPU[0], gpu_backward=_CONCAT_GPU[1], backward_uses=("ins",),
    doc="Join inputs along `dim`. See notebook 01."))


def _stack_shape(p, in_shapes):
    if p["num_args"] < 1 or len(in_shapes) != p["num_args"]:
        raise ShapeError(f"stack: num_args={p['num_args']} but {len(in_shapes)} inputs")
    known = next((tuple(s) for s in in_shapes if s is not None), None)
    if known is None:
        return list(in_shapes), [None]
    for i, s in enumerate(in_shapes):
        if s is not None and tuple(s) != known:
            raise ShapeError(f"stack: input 'arg{i}' has shape {tuple(s)}, expected {known} "
                             f"(stack needs equal shapes)")
    ax = norm_axis("stack", p["axis"], len(known), extra=1)
    return [known] * len(in_shapes), [known[:ax] + (len(in_shapes),) + known[ax:]]


def _stack_forward(p, ins, outs, is_train, state):
    np.stack(ins[:p["num_args"]], axis=norm_axis("stack", p["axis"], ins[0].ndim, extra=1),
             out=outs[0])


def _stack_backward(p, ograds, ins, outs, igrads, reqs, state):
    ax = norm_axis("stack", p["axis"], ograds[0].ndim - 1, extra=1)
    for i, (g, r) in enumerate(zip(igrads, reqs)):
        assign(g, r, np.take(ograds[0], i, axis=ax))


register(Op(
    name="stack", params={"num_args": Param("int"), "axis": Param("int", 0)},
    arguments=_arg_names, num_args_param="num_args", infer_shape=_stack_shape,
    forward=_stack_forward, backward=_stack_backward,
    gpu_forward=_STACK_GPU[0], gpu_backward=_STACK_GPU[1], backward_uses=(),
    doc="Join inputs along a new axis. See notebook 01."))


# -- SliceChannel, slice_axis -----------------------------------------------------------------
def _split_axis(p, s):
    ax = norm_axis("SliceChannel", p["axis"], len(s))
    k = p["num_outputs"]
    if k < 1:
        raise ShapeError(f"SliceChannel: num_outputs={k}; it must be at least 1")
    if s[ax] % k:
        raise ShapeError(f"SliceChannel: axis {ax} of input {s} has size {s[ax]}, which does "
                         f"not split into num_outputs={k} equal parts")
    if p["squeeze_axis"] and s[ax] != k:
        raise ShapeError(f"SliceChannel: squeeze_axis=True needs axis {ax} of {s} to have size "
                         f"num_outputs={k}")
    return ax


def _split_shape(p, in_shapes):
    s = in_shapes[0]
    if s is None:
        return list(in_shapes), [None] * p["num_outputs"]
    s = tuple(s)
    ax = _split_axis(p, s)
    piece = () if p["squeeze_axis"] else (s[ax] // p["num_outputs"],)
    return [s], [s[:ax] + piece + s[ax + 1:]] * p["num_outputs"]


def _split_forward(p, ins, outs, is_train, state):
    ax = _split_axis(p, ins[0].shape)
    for o, piece in zip(outs, np.split(ins[0], p["num_outputs"], axis=ax)):
        o[...] = piece.reshape(o.shape)


def _split_backward(p, ograds, ins, outs, igrads, reqs, state):
    if igrads[0] is None or reqs[0] == "null":
        return
    g = igrads[0]
    ax = _split_axis(p, g.shape)
    step = g.shape[ax] // p["num_outputs"]
    if reqs[0] == "write":
        g[...] = 0
    for i, og in enumerate(ograds):
        if og is not None:       # an unused output contributes nothing
            region = g[(slice(None),) * ax + (slice(i * step, (i + 1) * step),)]
            region += og.reshape(region.shape)


def _split_gpu_forward(p, ins, outs, is_train, state):
    ax = _split_axis(p, ins[0].shape)
    step = ins[0].shape[ax] // p["num_outputs"]
    _gpu_along(ins[0], ax, [(o, step, False) for o in outs], False)


def _split_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise
    mode = grad_mode(reqs[0], igrads[0])
    if not mode:
        return
    if mode == 1:
        elemwise.fill(igrads[0], 0)      # an unused output contributes nothing
    ax = _split_axis(p, igrads[0].shape)
    step = igrads[0].shape[ax] // p["num_outputs"]
    _gpu_along(igrads[0], ax, [(og, step, True) for og in ograds], True)


register(Op(
    name="SliceChannel",
    params={"num_outputs": Param("int"), "axis": Param("int", 1),
            "squeeze_axis": Param("bool", False)},
    arguments=("data",), outputs=lambda p: [f"output{i}" for i in range(p["num_outputs"])],
    aliases=("split",), infer_shape=_split_shape, forward=_split_forward,
    backward=_split_backward, gpu_forward=_split_gpu_forward,
    gpu_backward=_split_gpu_backward, backward_uses=(),
    doc="Split into num_outputs equal parts along `axis`. See notebook 01."))


def _slice_range(p, s):
    ax = norm_axis("slice_axis", p["axis"], len(s))
    n = s[ax]
    begin = p["begin"] + n if p["begin"] < 0 else p["begin"]
    end = n if p["end"] is None else (p["end"] + n if p["end"] < 0 else p["end"])
    if not 0 <= begin < end <= n:
        raise ShapeError(f"slice_axis: begin={p['begin']}, end={p['end']} select [{begin}, "
                         f"{end}) of axis {ax} (size {n}); need 0 <= begin < end <= {n}")
    return ax, begin, end


def _slice_forward(p, ins, outs, is_train, state):
    ax, b, e = _slice_range(p, ins[0].shape)
    outs[0][...] = ins[0][(slice(None),) * ax + (slice(b, e),)]


def _slice_backward(p, ograds, ins, outs, igrads, reqs, state):
    g = igrads[0]
    if g is None or reqs[0] == "null":
        return
    ax, b, e = _slice_range(p, g.shape)
    if reqs[0] == "write":
        g[...] = 0
    g[(slice(None),) * ax + (slice(b, e),)] += ograds[0]


def _slice_gpu_forward(p, ins, outs, is_train, state):
    ax, b, e = _slice_range(p, ins[0].shape)
    _gpu_along(ins[0], ax, [(None, b, False), (outs[0], e - b, False)], False)


def _slice_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise
    mode = grad_mode(reqs[0], igrads[0])
    if not mode:
        return
    if mode == 1:
        elemwise.fill(igrads[0], 0)
    ax, b, e = _slice_range(p, igrads[0].shape)
    _gpu_along(igrads[0], ax, [(None, b, False), (ograds[0], e - b, True)], True)


def _slice_shape(p, s):
    ax, b, e = _slice_range(p, s)
    return s[:ax] + (e - b,) + s[ax + 1:]


register(Op(
    name="slice_axis",
    params={"axis": Param("int"), "begin": Param("int"), "end": Param("int", optional=True)},
    arguments=("data",), infer_shape=shape_from_input(_slice_shape),
    forward=_slice_forward, backward=_slice_backward, gpu_forward=_slice_gpu_forward,
    gpu_backward=_slice_gpu_backward, backward_uses=(),
    doc="Elements [begin, end) along `axis`; negative values count from the end, end=None "
        "means the end. See notebook 01."))


# -- zeros_like, ones_like, Cast ------------------------------------------------------
def _gpu_filler(value):
    def forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import elemwise
        elemwise.fill(outs[0], value)
    return forward


for _name, _fill in (("zeros_like", 0), ("ones_like", 1)):
    register(Op(name=_name, params={}, arguments=("data",),
                infer_shape=shape_from_input(lambda p, s: s),
                forward=lambda p, ins, outs, t, st, _fill=_fill: outs[0].fill(_fill),
                backward=zero_grads, gpu_forward=_gpu_filler(_fill),
                gpu_backward=gpu_zero_grads, backward_uses=(),
                doc=f"An array of {_fill}s shaped like the input. See notebook 01."))


def _cast_backward(p, ograds, ins, outs, igrads, reqs, state):
    if igrads[0] is not None:
        assign(igrads[0], reqs[0], ograds[0].astype(igrads[0].dtype))


register(Op(
    name="Cast", params={"dtype": Param("dtype", choices=CAST_DTYPES)}, arguments=("data",),
    aliases=("cast",), infer_shape=shape_from_input(lambda p, s: s),
    infer_type=lambda p, t: (list(t), [p["dtype"]]),
    forward=_copy_out, backward=_cast_backward, gpu_forward=gpu_copy_forward,
    gpu_backward=gpu_copy_backward, backward_uses=(),
    doc="Convert to `dtype` (float to int truncates). See notebook 01."))
