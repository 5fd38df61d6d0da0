"""Reductions (sum, mean, max, min, norm), products (dot, batch_dot) and explicit broadcasts
(broadcast_to, broadcast_axis).

Reductions follow MXNet 1.9: ``axis`` may be an int, a tuple, None or () (both None and ()
reduce everything), negative axes count from the end, ``exclude=True`` reduces every axis *not*
listed, and a full reduction without ``keepdims`` gives shape (1,), never (). The gradient of
max/min flows to every element equal to the result (ties all receive it).

Kernels: CPU numpy (broadcast gradients are summed by ``kernels/cpu/elemwise.py``, numpy twin
``kernels/reference/elemwise.py``); CUDA ``kernels/cuda/reduce.py`` (block-level tree
reductions and their gradients, also summing broadcast gradients), ``kernels/cuda/elemwise.py``
(broadcast copies) and ``kernels/cuda/nn.py`` (the tiled GEMM behind dot and batch_dot).
See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import same_dtype, grad_to_shape, grad_mode
from ..base import ShapeError

__all__ = ["reduce_axes"]

_AXIS_DOC = "int, tuple of ints, or None for every axis"


# -- sum, mean, max, min ---------------------------------------------------------------------
def reduce_axes(opname, shape, axis, exclude=False):
    """The sorted, non-negative axes that ``axis``/``exclude`` reduce over for ``shape``."""
    nd = len(shape)
    if axis is None or len(axis) == 0:
        return tuple(range(nd))
    axes = []
    for a in axis:
        if not -nd <= a < nd:
            raise ShapeError(f"{opname}: reduction axis {a} is out of range for input of shape "
                             f"{tuple(shape)} (valid: {-nd} .. {nd - 1})")
        axes.append(a % nd)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{opname}: reduction axes {tuple(axis)} name the same axis twice "
                         f"for input of shape {tuple(shape)}")
    if exclude:
        axes = [k for k in range(nd) if k not in axes]
    return tuple(sorted(axes))


def _kept(shape, axes):
    """``shape`` with the reduced axes set to 1 (numpy's keepdims=True shape)."""
    return tuple(1 if k in axes else d for k, d in enumerate(shape))


def _out_shape(shape, axes, keepdims):
    if keepdims:
        return _kept(shape, axes)
    out = tuple(d for k, d in enumerate(shape) if k not in axes)
    return out or (1,)


def _axes_of(opname, p, shape):
    return reduce_axes(opname, shape, p["axis"], p.get("exclude", False))


def _reduce_shape(opname):
    def rule(p, in_shapes):
        if in_shapes[0] is None:
            return list(in_shapes), [None]
        shape = tuple(in_shapes[0])
        return [shape], [_out_shape(shape, _axes_of(opname, p, shape), p["keepdims"])]
    return rule


def _sum_forward(x, axes, out):
    np.sum(x, axis=axes, keepdims=True, out=out)


def _mean_forward(x, axes, out):
    np.sum(x, axis=axes, keepdims=True, out=out)
    count = int(np.prod([x.shape[k] for k in axes]))
    if out.dtype.kind in "iu":
        out[...] = np.trunc(out / count)       # integer mean truncates, as in MXNet
    else:
        out /= out.dtype.type(count)


def _sum_grad(g, x, o, axes):
    return g


def _mean_grad(g, x, o, axes):
    return g / g.dtype.type(np.prod([x.shape[k] for k in axes]))


def _extreme_grad(g, x, o, axes):
    return g * (x == o)          # every element equal to the max (min) gets the gradient


# name: (aliases, forward(x, axes, out_kept), grad(g_kept, x, out_kept, axes), backward reads)
_REDUCE = {
    "sum": (("sum_axis",), _sum_forward, _sum_grad, ()),
    "mean": ((), _mean_forward, _mean_grad, ()),
    "max": (("max_axis",), lambda x, a, o: np.max(x, axis=a, keepdims=True, out=o),
            _extreme_grad, ("ins", "outs")),
    "min": (("min_axis",), lambda x, a, o: np.min(x, axis=a, keepdims=True, out=o),
            _extreme_grad, ("ins", "outs")),
}


def _gpu_reduce(name, verb_of, scale_of=lambda p, n: 1.0, root_of=lambda p: False):
    """GPU (forward, backward) of a reduction: ``verb_of(p)`` names the tree reduction of
    ``kernels/cuda/reduce.py`` (and its gradient), ``scale_of(p, count)`` multiplies the result
    (mean: 1/count), ``root_of(p)`` takes its square root (L2 norm)."""
    def forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import reduce
        x = ins[0]
        axes = _axes_of(name, p, x.shape)
        count = int(np.prod([x.shape[k] for k in axes]))
        reduce.reduce(x, _kept(x.shape, axes), verb_of(p), outs[0], scale_of(p, count),
                      root_of(p))

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import reduce
        if not grad_mode(reqs[0], igrads[0]):
            return
        x = ins[0]
        axes = _axes_of(name, p, x.shape)
        count = int(np.prod([x.shape[k] for k in axes]))
        reduce.reduce_grad(ograds[0], x, outs[0], _kept(x.shape, axes), verb_of(p),
                           reqs[0] == "add", igrads[0], scale_of(p, count))
    return forward, backward


_GPU_REDUCE = {"sum": _gpu_reduce("sum", lambda p: "sum"),
               "mean": _gpu_reduce("mean", lambda p: "sum", lambda p, n: 1.0 / max(n, 1)),
               "max": _gpu_reduce("max", lambda p: "max"),
               "min": _gpu_reduce("min", lambda p: "min")}


def _make_reduce(name, aliases, forward, grad, uses):
    def fwd(p, ins, outs, is_train, state):
        x = ins[0]
        axes = _axes_of(name, p, x.shape)
        forward(x, axes, outs[0].reshape(_kept(x.shape, axes)))

    def bwd(p, ograds, ins, outs, igrads, reqs, state):
        if igrads[0] is None:
            return
        x = ins[0]
        axes = _axes_of(name, p, x.shape)
        kept = _kept(x.shape, axes)
        d = grad(ograds[0].reshape(kept), x, outs[0].reshape(kept), axes)
        assign(igrads[0], reqs[0], np.broadcast_to(d, x.shape))

    register(Op(
        name=name, aliases=aliases, arguments=("data",),
        params={"axis": Param("shape", None, optional=True, doc=_AXIS_DOC),
                "keepdims": Param("bool", False), "exclude": Param("bool", False)},
        infer_shape=_reduce_shape(name), infer_type=same_dtype(name, ["data"]),
        forward=fwd, backward=bwd, backward_uses=uses, gpu_forward=_GPU_REDUCE[name][0],
        gpu_backward=_GPU_REDUCE[name][1],
        doc=f"{name} of data over the given axes. See notebook 01."))


for _name, _row in _REDUCE.items():
    _make_reduce(_name, *_row)


# -- norm ------------------------------------------------------------------------------------
def _norm_forward(p, ins, outs, is_train, state):
    x = ins[0]
    axes = _axes_of("norm", p, x.shape)
    out = outs[0].reshape(_kept(x.shape, axes))
    if p["ord"] == 1:
        np.sum(np.abs(x), axis=axes, keepdims=True, out=out, dtype=out.dtype)
    else:
        np.sum(np.square(x, dtype=out.dtype), axis=axes, keepdims=True, out=out)
        np.sqrt(out, out=out)


def _norm_backward(p, ograds, ins, outs, igrads, reqs, state):
    if igrads[0] is None:
        return
    x = ins[0]
    kept = _kept(x.shape, _axes_of("norm", p, x.shape))
    g = ograds[0].reshape(kept)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = g * np.sign(x) if p["ord"] == 1 else g * x / outs[0].reshape(kept)
    assign(igrads[0], reqs[0], d)


def _norm_shape(p, in_shapes):
    if p["ord"] not in (1, 2):
        raise ShapeError(f"norm: ord={p['ord']} is not supported; use ord=1 or ord=2")
    return _reduce_shape("norm")(p, in_shapes)


def _norm_types(p, in_types):
    t = in_types[0]
    return [t], [p["out_dtype"] or (None if t is None else np.dtype(t).name)]


# L1: the tree sum of |x| (gradient sign(x)); L2: sqrt of the tree sum of x*x (gradient x/out)
_NORM_GPU = _gpu_reduce("norm", lambda p: "sumsq" if p["ord"] == 2 else "asum",
                        root_of=lambda p: p["ord"] == 2)


register(Op(
    name="norm", arguments=("data",),
    params={"ord": Param("int", 2, doc="1 (sum of |x|) or 2 (Euclidean)"),
            "axis": Param("shape", None, optional=True, doc=_AXIS_DOC),
            "out_dtype": Param("str", None, optional=True,
                               choices=(None, "float16", "float32", "float64", "int32",
                                        "int64", "int8")),
            "keepdims": Param("bool", False)},
    infer_shape=_norm_shape, infer_type=_norm_types, forward=_norm_forward,
    backward=_norm_backward, backward_uses=("ins", "outs"),
    gpu_forward=_NORM_GPU[0], gpu_backward=_NORM_GPU[1],
    doc="L1 or L2 norm over the given axes (all by default); the L2 gradient x/norm is NaN "
        "where the norm is 0, as in MXNet. See notebook 01."))


# -- dot -------------------------------------------------------------------------------------
def _dot_2d(p, lshape, rshape):
    """The 2-D views dot multiplies: lhs folds all but its last axis (first, if transposed),
    rhs all but its first axis (last, if transposed). Returns (lhs 2-D, rhs 2-D, out shape)."""
    L, R = tuple(lshape), tuple(rshape)
    ta, tb = p["transpose_a"], p["transpose_b"]
    if len(L) == 1 and len(R) == 1 and (ta or tb):
        raise ShapeError(f"dot: cannot transpose vectors (lhs {L}, rhs {R}); for two vectors "
                         f"leave transpose_a and transpose_b False")
    if not L or not R:
        raise ShapeError(f"dot: inputs must have at least one axis, got lhs {L}, rhs {R}")
    l2 = (L[0], int(np.prod(L[1:]))) if ta else (int(np.prod(L[:-1])), L[-1])
    r2 = (int(np.prod(R[:-1])), R[-1]) if tb else (R[0], int(np.prod(R[1:])))
    k_l, k_r = (l2[0] if ta else l2[1]), (r2[1] if tb else r2[0])
    if k_l != k_r:
        raise ShapeError(f"dot: shape error: lhs {L} x rhs {R} (transpose_a={ta}, "
                         f"transpose_b={tb}) contracts {k_l} against {k_r} elements")
    out = (L[1:] if ta else L[:-1]) + (R[:-1] if tb else R[1:])
    return l2, r2, out or (1,)


def _dot_shape(p, in_shapes):
    lhs, rhs = in_shapes
    if lhs is None or rhs is None:
        return list(in_shapes), [None]
    return [tuple(lhs), tuple(rhs)], [_dot_2d(p, lhs, rhs)[2]]


def _dot_operands(p, ins):
    l2, r2, _ = _dot_2d(p, ins[0].shape, ins[1].shape)
    a, b = ins[0].reshape(l2), ins[1].reshape(r2)
    return (a.T if p["transpose_a"] else a), (b.T if p["transpose_b"] else b)


def _dot_forward(p, ins, outs, is_train, state):
    a, b = _dot_operands(p, ins)
    np.matmul(a, b, out=outs[0].reshape(a.shape[0], b.shape[1]))   # BLAS GEMM


def _dot_backward(p, ograds, ins, outs, igrads, reqs, state):
    a, b = _dot_operands(p, ins)
    g = ograds[0].reshape(a.shape[0], b.shape[1])
    if igrads[0] is not None:
        da = g @ b.T
        assign(igrads[0], reqs[0], (da.T if p["transpose_a"] else da).reshape(ins[0].shape))
    if igrads[1] is not None:
        db = a.T @ g
        assign(igrads[1], reqs[1], (db.T if p["transpose_b"] else db).reshape(ins[1].shape))


def _gpu_products(p, pairs, ograd_parts, igrads, reqs, batched=False):
    """The GPU side of dot and batch_dot: for each (L, R) pair the tiled GEMM of
    ``kernels/cuda/nn.py`` computes ``op(L) @ op(R)`` or, with ``ograd_parts``, the two
    gradients ``dA = g @ op(R)^T``, ``dB = op(L)^T @ g`` written straight into the stored
    layout (transposed when the operand was) by the GEMM's transpose flags. ``batched``: the
    pair is (batch, rows, cols) stacks, each product one launch of the batched kernel."""
    from ..kernels.cuda import nn
    mm = nn.batch_matmul if batched else nn.matmul
    ta, tb = p["transpose_a"], p["transpose_b"]
    for (L, R, out), g, in zip(pairs, ograd_parts):
        if g is None:
            mm(L, R, out, ta, tb)
            continue
        dL, dR = out
        if dL is not None:
            if ta:
                mm(R, g, dL, tb, True, reqs[0] == "add")
            else:
                mm(g, R, dL, False, not tb, reqs[0] == "add")
        if dR is not None:
            if tb:
                mm(g, L, dR, True, ta, reqs[1] == "add")
            else:
                mm(L, g, dR, not ta, False, reqs[1] == "add")


def _gpu_grads(igrads, reqs):
    return [g if grad_mode(r, g) else None for g, r in zip(igrads, reqs)]


def _dot_gpu_forward(p, ins, outs, is_train, state):
    l2, r2, _ = _dot_2d(p, ins[0].shape, ins[1].shape)
    m, n = (l2[1] if p["transpose_a"] else l2[0]), (r2[0] if p["transpose_b"] else r2[1])
    _gpu_products(p, [(ins[0].reshape(l2), ins[1].reshape(r2), outs[0].reshape(m, n))], [None],
                  None, None)


def _dot_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    l2, r2, _ = _dot_2d(p, ins[0].shape, ins[1].shape)
    m, n = (l2[1] if p["transpose_a"] else l2[0]), (r2[0] if p["transpose_b"] else r2[1])
    dL, dR = _gpu_grads(igrads, reqs)
    _gpu_products(p, [(ins[0].reshape(l2), ins[1].reshape(r2),
                       (None if dL is None else dL.reshape(l2),
                        None if dR is None else dR.reshape(r2)))],
                  [ograds[0].reshape(m, n)], igrads, reqs)


_DOT_PARAMS = {"transpose_a": Param("bool", False), "transpose_b": Param("bool", False),
               "forward_stype": Param("str", None, optional=True,
                                      choices=(None, "default", "csr", "row_sparse"))}

register(Op(
    name="dot", params=dict(_DOT_PARAMS), arguments=("lhs", "rhs"), infer_shape=_dot_shape,
    infer_type=same_dtype("dot", ["lhs", "rhs"]), forward=_dot_forward,
    backward=_dot_backward, backward_uses=("ins",), gpu_forward=_dot_gpu_forward,
    gpu_backward=_dot_gpu_backward,
    doc="Matrix product that contracts the last axis of lhs with the first axis of rhs "
        "(N-D inputs are folded to 2-D). See notebook 01."))


# -- batch_dot -------------------------------------------------------------------------------
def _swap(x):
    return np.swapaxes(x, -1, -2)


def _batch_dot_shape(p, in_shapes):
    lhs, rhs = in_shapes
    if lhs is None or rhs is None:
        return list(in_shapes), [None]
    L, R = tuple(lhs), tuple(rhs)
    ta, tb = p["transpose_a"], p["transpose_b"]
    if len(L) < 3 or len(L) != len(R):
        raise ShapeError(f"batch_dot: lhs {L} and rhs {R} must have the same number of axes, "
                         f"at least 3 (batch axes, then a matrix); use dot for 2-D inputs")
    if L[:-2] != R[:-2]:
        raise ShapeError(f"batch_dot: the leading batch axes of lhs {L} and rhs {R} differ")
    m, k = (L[-1], L[-2]) if ta else (L[-2], L[-1])
    k2, n = (R[-1], R[-2]) if tb else (R[-2], R[-1])
    if k != k2:
        raise ShapeError(f"batch_dot: shape error: lhs {L} x rhs {R} (transpose_a={ta}, "
                         f"transpose_b={tb}) contracts {k} against {k2} elements")
    return [L, R], [L[:-2] + (m, n)]


def _batch_operands(p, ins):
    a, b = ins
    return (_swap(a) if p["transpose_a"] else a), (_swap(b) if p["transpose_b"] else b)


def _batch_dot_forward(p, ins, outs, is_train, state):
    a, b = _batch_operands(p, ins)
    np.matmul(a, b, out=outs[0])


def _batch_dot_backward(p, ograds, ins, outs, igrads, reqs, state):
    a, b = _batch_operands(p, ins)
    g = ograds[0]
    if igrads[0] is not None:
        da = g @ _swap(b)
        assign(igrads[0], reqs[0], _swap(da) if p["transpose_a"] else da)
    if igrads[1] is not None:
        db = _swap(a) @ g
        assign(igrads[1], reqs[1], _swap(db) if p["transpose_b"] else db)


def _stack(a):
    """A device array (B.., r, c) as one (B, r, c) stack (a view)."""
    r, c = a.shape[-2:]
    return a.reshape(a.size // (r * c), r, c)


def _batch_dot_gpu_forward(p, ins, outs, is_train, state):
    # one launch of the batched tiled GEMM for the whole batch (grid z = batch entry)
    _gpu_products(p, [(_stack(ins[0]), _stack(ins[1]), _stack(outs[0]))], [None], None, None,
                  batched=True)


def _batch_dot_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    dL, dR = _gpu_grads(igrads, reqs)
    grads = (None if dL is None else _stack(dL), None if dR is None else _stack(dR))
    _gpu_products(p, [(_stack(ins[0]), _stack(ins[1]), grads)], [_stack(ograds[0])], igrads,
                  reqs, batched=True)


register(Op(
    name="batch_dot", params=dict(_DOT_PARAMS), arguments=("lhs", "rhs"),
    infer_shape=_batch_dot_shape, infer_type=same_dtype("batch_dot", ["lhs", "rhs"]),
    forward=_batch_dot_forward, backward=_batch_dot_backward, backward_uses=("ins",),
    gpu_forward=_batch_dot_gpu_forward, gpu_backward=_batch_dot_gpu_backward,
    doc="One matrix product per batch entry: (B.., m, k) x (B.., k, n) -> (B.., m, n). "
        "See notebook 01."))


# -- broadcast_to, broadcast_axis ------------------------------------------------------------
def _broadcast_to_target(p, shape):
    target = p["shape"]
    if len(target) != len(shape):
        raise ShapeError(f"broadcast_to: input of shape {tuple(shape)} cannot be broadcast to "
                         f"{target}: the number of axes must be equal (use reshape or "
                         f"expand_dims first)")
    out = tuple(d if t == 0 else t for d, t in zip(shape, target))   # 0 keeps the input size
    for d, t in zip(shape, out):
        if d != t and d != 1:
            raise ShapeError(f"broadcast_to: input of shape {tuple(shape)} cannot be broadcast "
                             f"to {target}: only axes of size 1 can grow")
    return out


def _broadcast_axis_target(p, shape):
    axes, sizes = p["axis"], p["size"]
    if len(axes) != len(sizes):
        raise ShapeError(f"broadcast_axis: axis {axes} and size {sizes} must have the same "
                         f"length")
    out = list(shape)
    for a, s in zip(axes, sizes):
        if not 0 <= a < len(shape):   # MXNet 1.9 rejects negative axes here
            raise ShapeError(f"broadcast_axis: axis {a} must be in [0, {len(shape)}) for input "
                             f"of shape {tuple(shape)}")
        if shape[a] != 1:
            raise ShapeError(f"broadcast_axis: axis {a} of input shape {tuple(shape)} has size "
                             f"{shape[a]}; only axes of size 1 can be broadcast")
        out[a] = s
    return tuple(out)


def _make_broadcast(name, aliases, params, target, doc):
    def shape_rule(p, in_shapes):
        if in_shapes[0] is None:
            return list(in_shapes), [None]
        return [tuple(in_shapes[0])], [target(p, in_shapes[0])]

    def fwd(p, ins, outs, is_train, state):
        outs[0][...] = ins[0]                 # numpy broadcasting fills the larger array

    def bwd(p, ograds, ins, outs, igrads, reqs, state):
        grad_to_shape(igrads[0], reqs[0], ograds[0])   # sum over the broadcast axes

    def gpu_fwd(p, ins, outs, is_train, state):
        from ..kernels.cuda import elemwise
        elemwise.map_forward("copy", ins[0], None, outs[0])   # stride 0 on the grown axes

    def gpu_bwd(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import reduce
        if grad_mode(reqs[0], igrads[0]):
            reduce.sum_to(ograds[0], igrads[0], reqs[0] == "add")   # a tree sum per element

    register(Op(name=name, aliases=aliases, params=params, arguments=("data",),
                infer_shape=shape_rule, infer_type=same_dtype(name, ["data"]), forward=fwd,
                backward=bwd, gpu_forward=gpu_fwd, gpu_backward=gpu_bwd, backward_uses=(),
                doc=doc))


_make_broadcast("broadcast_to", (), {"shape": Param("shape", ())}, _broadcast_to_target,
                "Broadcast data to `shape` (0 keeps that axis). See notebook 01.")
_make_broadcast("broadcast_axis", ("broadcast_axes",),
                {"axis": Param("shape", ()), "size": Param("shape", ())}, _broadcast_axis_target,
                "Grow size-1 axes `axis` to `size`. See notebook 01.")
