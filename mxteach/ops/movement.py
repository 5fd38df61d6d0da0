"""The movement family: operators that only move elements — ``tile``, ``repeat``, ``reverse``
(``flip``), ``slice`` (``crop``), ``squeeze``, ``depth_to_space``, ``space_to_depth``, ``diag``,
``slice_like``, ``reshape_like``, ``broadcast_like``, ``Pad`` (``pad``), ``SequenceReverse``,
``SequenceLast``, ``pick``, ``gather_nd`` and ``batch_take``.

Each is described by its shape rule and an **index map**: for every output element, the flat
position of the input element it copies (-1: none, filled with a constant — Pad's
``constant_value``, the zeros around ``diag`` of a vector). The map of a pure movement is the
operator applied to ``arange(size)`` with numpy; the map of an indexed one (``pick``,
``gather_nd``, ``batch_take``, the ``Sequence*`` with lengths) is computed from the index values.
Forward is then one gather and backward one scatter-add, on the CPU
(``kernels/cpu/movement.py``) and on the GPU (``kernels/cuda/movement.py``, index values copied
to the host to build the map). Maps that depend only on shapes are kept per node.

Gradients of the index and ``*_like`` inputs are zero, as in MXNet. See notebook 01.
"""
from __future__ import annotations

import ast

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, kernel_view, flat_in, gpu_flat
from ..base import MXNetError, ShapeError
from ..kernels.cpu import movement as K

__all__ = ["MOVEMENT_OPS"]

MOVEMENT_OPS = []


# -- the machinery: one gather forward, one scatter-add backward -----------------------------
def _arange(shape):
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def _node_map(spec, p, ins, state, key):
    """The index map of this call: cached per input shapes unless it reads index values."""
    shapes = tuple(tuple(a.shape) for a in ins)
    indexed = [k for k in spec["indexed"] if k < len(ins)]   # Sequence* without lengths: none
    if indexed:
        values = [_host(ins[k]) for k in indexed]
        state[key] = spec["map"](p, shapes, values).reshape(-1)
    elif state.get(key + "_shapes") != shapes:
        state[key] = np.ascontiguousarray(spec["map"](p, shapes, []).reshape(-1))
        state[key + "_shapes"] = shapes
    return state[key]


def _make(spec):
    name = spec["name"]

    def forward(p, ins, outs, is_train, state):
        m = _node_map(spec, p, ins, state, "map")
        out, commit = kernel_view(outs[0], -1)
        K.gather(flat_in(ins[0]).astype(out.dtype, copy=False), m, spec["fill"](p), out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        mode = grad_mode(reqs[0], igrads[0])
        if mode:
            dx, commit = kernel_view(igrads[0], -1)
            K.scatter_add(flat_in(ograds[0]).astype(dx.dtype, copy=False), state["map"],
                          mode == 2, dx)
            commit()
        for g, r in zip(igrads[1:], reqs[1:]):
            assign(g, r, 0)

    def gpu_forward(p, ins, outs, is_train, state):
        from numba import cuda
        from ..kernels.cuda import movement as C
        m = _node_map(spec, p, ins, state, "map")
        if state.get("gpu_map_of") is not m:
            state["gpu_map"], state["gpu_map_of"] = cuda.to_device(m), m
        C.gather(gpu_flat(ins[0]), state["gpu_map"], spec["fill"](p), gpu_flat(outs[0]))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import movement as C, elemwise
        if grad_mode(reqs[0], igrads[0]):
            C.scatter_add(gpu_flat(ograds[0]), state["gpu_map"], reqs[0] == "add",
                          gpu_flat(igrads[0]))
        for g, r in zip(igrads[1:], reqs[1:]):
            if grad_mode(r, g) == 1:
                elemwise.fill(g, 0)

    def infer_shape(p, in_shapes):
        if in_shapes[0] is None or any(in_shapes[k] is None for k in spec["needs"]):
            return list(in_shapes), [None]
        ins, out = spec["shape"](p, [None if s is None else tuple(s) for s in in_shapes])
        return ins, [tuple(out)]

    def infer_type(p, in_types):
        t = in_types[0] if in_types[0] is not None else next(
            (x for k, x in enumerate(in_types) if k not in spec["indexed"] and x is not None),
            None)
        filled = [x if x is not None else t for x in in_types]
        return filled, [t]

    register(Op(name=name, aliases=spec["aliases"], params=spec["params"],
                arguments=spec["arguments"], infer_shape=infer_shape, infer_type=infer_type,
                forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward, backward_uses=(), hint=spec.get("hint"),
                doc=spec["doc"] + " See notebook 01."))
    MOVEMENT_OPS.append(name)


def _op(name, params, shape, index_map, doc, arguments=("data",), aliases=(), indexed=(),
        needs=(), fill=lambda p: 0.0, hint=None):
    """Register a movement operator: ``shape(p, in_shapes) -> (in_shapes, out_shape)`` and
    ``index_map(p, in_shapes, index_values) -> int64 array of the output's shape``."""
    _make({"name": name, "params": params, "shape": shape, "map": index_map, "doc": doc,
           "arguments": arguments, "aliases": aliases, "indexed": tuple(indexed),
           "needs": tuple(needs), "fill": fill, "hint": hint})


def _by_numpy(fn):
    """Shape rule and map of a pure movement written as a numpy function of the data."""
    def shape(p, s):
        return s, fn(p, np.empty(s[0], dtype=np.int8), s).shape

    def index_map(p, s, values):
        return fn(p, _arange(s[0]), s)
    return shape, index_map


def _err(op, msg):
    return ShapeError(f"{op}: {msg}")


def _axis(op, ax, ndim, name="axis"):
    if not -ndim <= ax < ndim:
        raise _err(op, f"{name} = {ax} is out of range for an input of {ndim} dimensions")
    return ax % ndim


def _opt_ints(value):
    """A tuple of ints or Nones, from a tuple/list or its string form ``'(None, 2)'``."""
    if isinstance(value, str):
        value = ast.literal_eval(value.strip() or "()")
    if isinstance(value, (int, np.integer)) or value is None:
        value = (value,)
    return tuple(None if v is None else int(v) for v in value)


# -- pure movements --------------------------------------------------------------------------
def _tile(p, a, s):
    if any(r < 0 for r in p["reps"]):
        raise _err("tile", f"reps {p['reps']} must not be negative")
    return np.tile(a, p["reps"]) if p["reps"] else a


_op("tile", {"reps": Param("shape", doc="repetitions per axis (numpy.tile rules)")},
    *_by_numpy(_tile), "Repeat the whole array `reps` times along each axis, as numpy.tile.")


def _repeat(p, a, s):
    if p["repeats"] < 0:
        raise _err("repeat", f"repeats = {p['repeats']} must not be negative")
    ax = p["axis"]
    if ax is None:
        return np.repeat(a.reshape(-1), p["repeats"])
    return np.repeat(a, p["repeats"], _axis("repeat", ax, a.ndim))


_op("repeat", {"repeats": Param("int"), "axis": Param("int", None, optional=True)},
    *_by_numpy(_repeat), "Repeat each element `repeats` times along `axis` (flattened when "
    "axis is None), as numpy.repeat.")


def _reverse(p, a, s):
    return np.flip(a, tuple(_axis("reverse", ax, a.ndim) for ax in p["axis"]))


_op("reverse", {"axis": Param("shape", doc="the axes to reverse")}, *_by_numpy(_reverse),
    "Reverse the order of the elements along the given axes.", aliases=("flip",))


def _slice(p, a, s):
    begin, end = _opt_ints(p["begin"]), _opt_ints(p["end"])
    step = _opt_ints(p["step"]) if p["step"] is not None else ()
    if len(begin) != len(end) or len(begin) > a.ndim or len(step) not in (0, len(begin)):
        raise _err("slice", f"begin {begin}, end {end} and step {step} must have one entry per "
                   f"sliced axis (at most {a.ndim} for input shape {s[0]})")
    index = []
    for k, (b, e) in enumerate(zip(begin, end)):
        st = 1 if not step or step[k] is None else step[k]
        if st == 0:
            raise _err("slice", f"step on axis {k} is 0")
        index.append(slice(b, e, st))
    out = a[tuple(index)]
    if 0 in out.shape:
        raise _err("slice", f"begin {begin}, end {end}, step {step} select nothing from "
                   f"shape {s[0]}")
    return out


_op("slice", {"begin": Param("any", doc="first index per axis (None: from the start)"),
              "end": Param("any", doc="end per axis, excluded (None: to the end)"),
              "step": Param("any", None, optional=True, doc="step per axis (default 1)")},
    *_by_numpy(_slice), "Python-style slicing of the first len(begin) axes (negative indices "
    "and steps allowed).", aliases=("crop",))


def _squeeze(p, a, s):
    if p["axis"] is None:
        out = a.reshape(tuple(d for d in a.shape if d != 1))
    else:
        axes = {_axis("squeeze", ax, a.ndim) for ax in p["axis"]}
        for ax in sorted(axes):
            if a.shape[ax] != 1:
                raise _err("squeeze", f"axis {ax} has size {a.shape[ax]}, not 1 (input shape "
                           f"{s[0]})")
        out = a.reshape(tuple(d for k, d in enumerate(a.shape) if k not in axes))
    return out.reshape((1,)) if out.ndim == 0 else out     # MXNet keeps one axis


_op("squeeze", {"axis": Param("shape", None, optional=True)}, *_by_numpy(_squeeze),
    "Remove axes of size 1 (the given ones, or all); an all-ones shape becomes (1,).")


def _block(p, s, op):
    b = p["block_size"]
    if len(s) != 4:
        raise _err(op, f"expects a 4-D (N, C, H, W) input, got shape {s}")
    return b


def _depth_to_space(p, a, s):
    b = _block(p, a.shape, "depth_to_space")
    n, c, h, w = a.shape
    if c % (b * b):
        raise _err("depth_to_space", f"channels {c} must be a multiple of block_size^2 = {b * b}")
    x = a.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c // (b * b), h * b, w * b)


def _space_to_depth(p, a, s):
    b = _block(p, a.shape, "space_to_depth")
    n, c, h, w = a.shape
    if h % b or w % b:
        raise _err("space_to_depth", f"height {h} and width {w} must be multiples of "
                   f"block_size = {b}")
    x = a.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return x.reshape(n, c * b * b, h // b, w // b)


_BLOCK = {"block_size": Param("int", low=1)}
_op("depth_to_space", _BLOCK, *_by_numpy(_depth_to_space),
    "Move blocks of channels into block_size x block_size spatial blocks (DCR order).")
_op("space_to_depth", _BLOCK, *_by_numpy(_space_to_depth),
    "Move block_size x block_size spatial blocks into channels (inverse of depth_to_space).")


def _diag(p, a, s):
    k = p["k"]
    if a.ndim == 1:
        n = a.shape[0] + abs(k)
        out = np.full((n, n), -1, dtype=a.dtype)
        rows = np.arange(a.shape[0]) + max(0, -k)
        out[rows, rows + k] = a
        return out
    ax1, ax2 = _axis("diag", p["axis1"], a.ndim, "axis1"), _axis("diag", p["axis2"], a.ndim,
                                                               "axis2")
    if ax1 == ax2:
        raise _err("diag", f"axis1 and axis2 are both {ax1}")
    return np.diagonal(a, k, ax1, ax2)


_op("diag", {"k": Param("int", 0), "axis1": Param("int", 0), "axis2": Param("int", 1)},
    *_by_numpy(_diag), "The k-th diagonal of a matrix (of the axis1/axis2 planes of an "
    "n-d array), or the square matrix with a vector on its k-th diagonal.")


# -- *_like: the second input gives only its shape --------------------------------------------
def _slice_like_shape(p, s):
    data, like = s
    axes = p["axes"] or tuple(range(len(data)))
    if not p["axes"] and len(like) != len(data):
        raise _err("slice_like", f"shape_like {like} needs as many axes as data {data} when "
                   "axes is empty")
    out = list(data)
    for ax in axes:
        a = _axis("slice_like", ax, len(data))
        want = like[a] if a < len(like) else None
        if want is None or want > data[a]:
            raise _err("slice_like", f"cannot slice axis {a} of data {data} to shape_like "
                       f"{like}")
        out[a] = want
    return s, tuple(out)


def _slice_like_map(p, s, values):
    out = _slice_like_shape(p, s)[1]
    return _arange(s[0])[tuple(slice(0, d) for d in out)]


_op("slice_like", {"axes": Param("shape", ())}, _slice_like_shape, _slice_like_map,
    "Slice data from the start to the shape of shape_like on the given axes (all if empty).",
    arguments=("data", "shape_like"), needs=(1,))


def _reshape_like_shape(p, s):
    lhs, rhs = s
    lb, le = p["lhs_begin"] or 0, len(lhs) if p["lhs_end"] is None else p["lhs_end"]
    rb, re = p["rhs_begin"] or 0, len(rhs) if p["rhs_end"] is None else p["rhs_end"]
    out = tuple(lhs[:lb % (len(lhs) + 1) if lb < 0 else lb]) + tuple(rhs[rb:re]) + \
        tuple(lhs[le:])
    if int(np.prod(out, dtype=np.int64)) != int(np.prod(lhs, dtype=np.int64)):
        raise _err("reshape_like", f"cannot reshape lhs {lhs} to {out} (from rhs {rhs}): the "
                   "sizes differ")
    return s, out


def _reshape_like_map(p, s, values):
    return _arange(s[0]).reshape(_reshape_like_shape(p, s)[1])


_OPT_INT = Param("int", None, optional=True)
_op("reshape_like", {"lhs_begin": _OPT_INT, "lhs_end": _OPT_INT, "rhs_begin": _OPT_INT,
                     "rhs_end": _OPT_INT},
    _reshape_like_shape, _reshape_like_map,
    "Reshape lhs to the shape of rhs (or replace lhs[lhs_begin:lhs_end] by "
    "rhs[rhs_begin:rhs_end]).", arguments=("lhs", "rhs"), needs=(1,))


def _broadcast_like_shape(p, s):
    lhs, rhs = s
    if p["lhs_axes"] is None and p["rhs_axes"] is None:
        if len(lhs) != len(rhs):
            raise _err("broadcast_like", f"lhs {lhs} and rhs {rhs} need the same number of axes")
        pairs = [(k, k) for k in range(len(lhs)) if lhs[k] != rhs[k]]
    else:
        la, ra = p["lhs_axes"] or (), p["rhs_axes"] or ()
        if len(la) != len(ra):
            raise _err("broadcast_like", f"lhs_axes {la} and rhs_axes {ra} differ in length")
        pairs = [(_axis("broadcast_like", a, len(lhs)), _axis("broadcast_like", b, len(rhs)))
                 for a, b in zip(la, ra)]
    out = list(lhs)
    for a, b in pairs:
        if lhs[a] != 1 and lhs[a] != rhs[b]:
            raise _err("broadcast_like", f"axis {a} of lhs {lhs} has size {lhs[a]}, so it "
                       f"cannot broadcast to {rhs[b]} (rhs {rhs})")
        out[a] = rhs[b]
    return s, tuple(out)


def _broadcast_like_map(p, s, values):
    return np.broadcast_to(_arange(s[0]), _broadcast_like_shape(p, s)[1])


_op("broadcast_like", {"lhs_axes": Param("shape", None, optional=True),
                       "rhs_axes": Param("shape", None, optional=True)},
    _broadcast_like_shape, _broadcast_like_map,
    "Broadcast lhs to the shape of rhs (on all axes, or lhs_axes to rhs_axes).",
    arguments=("lhs", "rhs"), needs=(1,))


def _pad(p, a, s):
    pw = p["pad_width"]
    if a.ndim not in (4, 5):
        raise _err("Pad", f"supports 4-D and 5-D inputs only, got shape {s[0]}")
    if len(pw) != 2 * a.ndim:
        raise _err("Pad", f"pad_width {pw} needs 2 entries per axis ({2 * a.ndim})")
    if any(pw[:4]):
        raise _err("Pad", f"pad_width {pw}: the first two axes (batch, channel) cannot be "
                   "padded")
    pairs = [(pw[2 * k], pw[2 * k + 1]) for k in range(a.ndim)]
    if p["mode"] == "constant":
        return np.pad(a, pairs, mode="constant", constant_values=-1)
    if p["mode"] == "reflect" and any(max(pr) >= d for pr, d in zip(pairs, a.shape) if max(pr)):
        raise _err("Pad", f"reflect padding {pw} must be smaller than each padded axis of "
                   f"{s[0]}")
    return np.pad(a, pairs, mode=p["mode"])


_op("Pad", {"mode": Param("str", "constant", choices=("constant", "edge", "reflect")),
            "pad_width": Param("shape"), "constant_value": Param("float", 0.0)},
    *_by_numpy(_pad), "Pad the spatial axes of a 4-D/5-D array with a constant, the edge "
    "values or their reflection.", aliases=("pad",), fill=lambda p: p["constant_value"])


# -- indexed movements: the map reads index values --------------------------------------------
def _lengths(op, s, values, p):
    t, n = s[0][p["axis"]], s[0][1 - p["axis"]]
    lens = np.asarray(values[0]).reshape(-1).astype(np.int64)
    if lens.size != n:
        raise _err(op, f"sequence_length has {lens.size} entries for a batch of {n}")
    if (lens < 1).any() or (lens > t).any():
        raise MXNetError(f"{op}: sequence_length {lens.tolist()} must lie in [1, {t}] (the "
                         f"sequence axis has {t} steps)")
    return lens


def _seq_arguments(p):
    return ["data", "sequence_length"] if p["use_sequence_length"] else ["data"]


def _seq_shape(op, drop):
    def shape(p, s):
        data = s[0]
        if len(data) < 2:
            raise _err(op, f"data needs (time, batch, ...) axes, got shape {data}")
        ax = p["axis"]
        if p["use_sequence_length"]:
            s = [data, (data[1 - ax],)]
        return s, (data[:ax] + data[ax + 1:] if drop else data)
    return shape


def _seq_reverse_map(p, s, values):
    ar = _arange(s[0])
    if not p["use_sequence_length"]:
        return ar[::-1].copy()
    out = ar.copy()
    for b, n in enumerate(_lengths("SequenceReverse", s, values, p)):
        out[:n, b] = ar[:n, b][::-1]
    return out


def _seq_last_map(p, s, values):
    ar = np.moveaxis(_arange(s[0]), p["axis"], 0)     # (time, batch, ...)
    if not p["use_sequence_length"]:
        return ar[-1].copy()
    lens = _lengths("SequenceLast", s, values, p)
    return ar[lens - 1, np.arange(lens.size)]


_SEQ = {"use_sequence_length": Param("bool", False), "axis": Param("int", 0, choices=(0, 1))}
_op("SequenceReverse", {"use_sequence_length": Param("bool", False),
                        "axis": Param("int", 0, choices=(0,))},
    _seq_shape("SequenceReverse", False), _seq_reverse_map,
    "Reverse each sequence along time (axis 0), only its first sequence_length steps when "
    "use_sequence_length.", arguments=_seq_arguments,
    indexed=(1,))
_op("SequenceLast", _SEQ, _seq_shape("SequenceLast", True), _seq_last_map,
    "The last step of each sequence (time is axis 0, or 1 with axis=1; step "
    "sequence_length-1 when use_sequence_length).", arguments=_seq_arguments, indexed=(1,))


def _pick_shape(p, s):
    data = s[0]
    ax = _axis("pick", p["axis"], len(data))
    out = data[:ax] + ((1,) if p["keepdims"] else ()) + data[ax + 1:]
    return [data, data[:ax] + data[ax + 1:]], out


def _pick_map(p, s, values):
    data = s[0]
    ax = _axis("pick", p["axis"], len(data))
    idx = np.asarray(values[0]).astype(np.int64).reshape(data[:ax] + data[ax + 1:])
    n = data[ax]
    idx = np.mod(idx, n) if p["mode"] == "wrap" else np.clip(idx, 0, n - 1)
    picked = np.take_along_axis(_arange(data), np.expand_dims(idx, ax), ax)
    return picked if p["keepdims"] else np.squeeze(picked, ax)


_op("pick", {"axis": Param("int", -1), "keepdims": Param("bool", False),
             "mode": Param("str", "clip", choices=("clip", "wrap"))},
    _pick_shape, _pick_map, "Pick one element per position along `axis`, at the position given "
    "by `index` (clipped or wrapped).", arguments=("data", "index"), indexed=(1,),
    aliases=("choose_element_0index",))


def _gather_nd_shape(p, s):
    data, ind = s
    if ind is None:
        return s, None
    if not 1 <= ind[0] <= len(data):
        raise _err("gather_nd", f"indices of shape {ind} index {ind[0]} axes of data {data}")
    return s, tuple(ind[1:]) + tuple(data[ind[0]:])


def _gather_nd_map(p, s, values):
    data, ind = s
    m = ind[0]
    idx = np.asarray(values[0]).astype(np.int64).reshape(m, -1)
    for k in range(m):
        bad = (idx[k] < -data[k]) | (idx[k] >= data[k])
        if bad.any():
            raise MXNetError(f"gather_nd: index {int(idx[k][bad][0])} is out of range for axis "
                             f"{k} of data {data}")
        idx[k] %= data[k]
    rows = np.ravel_multi_index(tuple(idx), data[:m])
    inner = int(np.prod(data[m:], dtype=np.int64))
    out = rows[:, None] * inner + np.arange(inner, dtype=np.int64)[None, :]
    return out.reshape(tuple(ind[1:]) + tuple(data[m:]))


_op("gather_nd", {}, _gather_nd_shape, _gather_nd_map,
    "Gather slices of data at the positions given by the first axis of `indices` (negative "
    "indices count from the end).", arguments=("data", "indices"), indexed=(1,), needs=(1,))


def _batch_take_shape(p, s):
    a = s[0]
    if len(a) != 2:
        raise _err("batch_take", f"a must be 2-D (batch, k), got shape {a}")
    return [a, (a[0],)], (a[0],)


def _batch_take_map(p, s, values):
    n, k = s[0]
    idx = np.clip(np.asarray(values[0]).astype(np.int64).reshape(-1), 0, k - 1)
    return np.arange(n, dtype=np.int64) * k + idx


_op("batch_take", {}, _batch_take_shape, _batch_take_map,
    "out[i] = a[i, indices[i]] (indices clipped to [0, k)). MXNet 1.9.1 registers no gradient "
    "for it (a training graph with it fails there); mxteach's is the scatter of the head "
    "gradient.", arguments=("a", "indices"),
    indexed=(1,))
