"""More reductions: ``prod``, ``nansum``, ``nanprod`` and ``moments`` (mean and variance).

Axes follow MXNet 1.9's reductions (``axis`` an int, a tuple or None for all; ``exclude=True``
reduces every axis *not* listed; a full reduction without ``keepdims`` has shape (1,)). ``moments``
takes ``axes`` and, as in MXNet, refuses an empty or missing one.

Whatever the axes, the reduced inputs of output element m are ``x[base[m] + offs[k]]``: two
integer lists built once per input shape (``_index_lists``), so one kernel serves every axis set
(``kernels/cpu/reduce_extra.py``, its CUDA twin in ``kernels/cuda/reduce_extra.py``).

Gradients are MXNet's: ``nansum`` passes the head gradient to every non-NaN input, the products
send ``g * prod / x`` (so a zero input gives NaN, exactly as MXNet 1.9.1 does), the NaN-skipping
forms send 0 to NaN inputs, and ``moments`` sends ``gmean / K + gvar * 2 (x - mean) / K``.
See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import grad_mode, flat_in, kernel_view, gpu_flat
from ..base import MXNetError, ShapeError
from ..kernels.cpu import reduce_extra as K

__all__ = ["REDUCE_EXTRA_OPS"]

REDUCE_EXTRA_OPS = ("prod", "nansum", "nanprod", "moments")
_KIND = {"prod": K.PROD, "nansum": K.NANSUM, "nanprod": K.NANPROD}


def _axes(opname, shape, axis, exclude):
    """Sorted non-negative reduced axes (None or () for prod & co: every axis). The same rule
    as ``reduce_axes`` in ops/reduce.py, written again because family files never import each
    other."""
    nd = len(shape)
    if axis is None or len(axis) == 0:
        return tuple(range(nd))
    axes = []
    for a in axis:
        if not -nd <= a < nd:
            raise ShapeError(f"{opname}: reduction axis {a} exceeds the input's dimensions "
                             f"{tuple(shape)} (expected {-nd} <= axis < {nd})")
        axes.append(a % nd)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{opname}: axes {tuple(axis)} name the same axis twice")
    if exclude:
        axes = [k for k in range(nd) if k not in axes]
    return tuple(sorted(axes))


def _reduced_axes(opname, p, shape):
    if opname == "moments":
        if not p["axes"]:
            raise MXNetError("moments: empty axes are not supported; for global moments pass "
                             f"every axis, e.g. axes={tuple(range(len(shape)))}, got "
                             f"axes={p['axes']}")
        return _axes(opname, shape, p["axes"], False)
    return _axes(opname, shape, p["axis"], p["exclude"])


def _out_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if k in axes else d for k, d in enumerate(shape))
    return tuple(d for k, d in enumerate(shape) if k not in axes) or (1,)


def _index_lists(shape, axes):
    """(base, offs): ``base[m]`` is the flat input position of output m's first input (output
    order), ``offs[k]`` the distance to its k-th input."""
    flat = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)
    base = flat[tuple(0 if k in axes else slice(None) for k in range(len(shape)))]
    offs = flat[tuple(slice(None) if k in axes else 0 for k in range(len(shape)))]
    return np.ascontiguousarray(base).reshape(-1), np.ascontiguousarray(offs).reshape(-1)


def _lists(opname, p, shape, state, gpu=False):
    """The node's index lists for this input shape (cached; device copies on the GPU)."""
    key = ("gpu_lists" if gpu else "lists", tuple(shape))
    if state.get("lists_key") != key:
        lists = _index_lists(tuple(shape), _reduced_axes(opname, p, tuple(shape)))
        if gpu:
            from numba import cuda
            lists = tuple(cuda.to_device(a) for a in lists)
        state["lists"], state["lists_key"] = lists, key
    return state["lists"]


def _shape_rule(opname):
    def infer_shape(p, in_shapes):
        n_out = 2 if opname == "moments" else 1
        if in_shapes[0] is None:
            return list(in_shapes), [None] * n_out
        s = tuple(in_shapes[0])
        out = _out_shape(s, _reduced_axes(opname, p, s), p["keepdims"])
        return [s], [out] * n_out
    return infer_shape


# -- prod, nansum, nanprod -------------------------------------------------------------------
def _make(opname, doc):
    kind = _KIND[opname]

    def forward(p, ins, outs, is_train, state):
        base, offs = _lists(opname, p, ins[0].shape, state)
        out, commit = kernel_view(outs[0], -1)
        K.reduce_rows(flat_in(ins[0]), base, offs, kind, out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        mode = grad_mode(reqs[0], igrads[0])
        if not mode:
            return
        base, offs = _lists(opname, p, ins[0].shape, state)
        dx, commit = kernel_view(igrads[0], -1)
        K.reduce_grad(flat_in(ograds[0]).astype(dx.dtype, copy=False), flat_in(ins[0]),
                      flat_in(outs[0]), base, offs, kind, mode == 2, dx)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import reduce_extra as C
        base, offs = _lists(opname, p, ins[0].shape, state, gpu=True)
        C.reduce_rows(gpu_flat(ins[0]), base, offs, kind, gpu_flat(outs[0]))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import reduce_extra as C
        if not grad_mode(reqs[0], igrads[0]):
            return
        base, offs = _lists(opname, p, ins[0].shape, state, gpu=True)
        C.reduce_grad(gpu_flat(ograds[0]), gpu_flat(ins[0]), gpu_flat(outs[0]), base, offs,
                      kind, reqs[0] == "add", gpu_flat(igrads[0]))

    register(Op(name=opname, arguments=("data",), params={
        "axis": Param("shape", None, optional=True, doc="int, tuple of ints, or None for all"),
        "keepdims": Param("bool", False), "exclude": Param("bool", False)},
        infer_shape=_shape_rule(opname), forward=forward, backward=backward,
        gpu_forward=gpu_forward, gpu_backward=gpu_backward, backward_uses=("ins", "outs"),
        doc=doc + " See notebook 01."))


_make("prod", "The product of the elements over `axis` (gradient prod / x, as MXNet).")
_make("nansum", "The sum over `axis`, NaN counted as 0 (NaN inputs get a zero gradient).")
_make("nanprod", "The product over `axis`, NaN counted as 1 (NaN inputs get a zero gradient).")


# -- moments ---------------------------------------------------------------------------------
def _moments_forward(p, ins, outs, is_train, state):
    base, offs = _lists("moments", p, ins[0].shape, state)
    mean, commit_mean = kernel_view(outs[0], -1)
    var, commit_var = kernel_view(outs[1], -1)
    K.moments(flat_in(ins[0]).astype(mean.dtype, copy=False), base, offs, mean, var)
    commit_mean()
    commit_var()


def _moments_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if not mode:
        return
    base, offs = _lists("moments", p, ins[0].shape, state)
    dx, commit = kernel_view(igrads[0], -1)
    t = dx.dtype
    K.moments_grad(flat_in(ograds[0]).astype(t, copy=False),
                   flat_in(ograds[1]).astype(t, copy=False), flat_in(ins[0]).astype(t, copy=False),
                   flat_in(outs[0]).astype(t, copy=False), base, offs, mode == 2, dx)
    commit()


def _moments_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import reduce_extra as C
    base, offs = _lists("moments", p, ins[0].shape, state, gpu=True)
    C.moments(gpu_flat(ins[0]), base, offs, gpu_flat(outs[0]), gpu_flat(outs[1]))


def _moments_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import reduce_extra as C
    if not grad_mode(reqs[0], igrads[0]):
        return
    base, offs = _lists("moments", p, ins[0].shape, state, gpu=True)
    C.moments_grad(gpu_flat(ograds[0]), gpu_flat(ograds[1]), gpu_flat(ins[0]),
                   gpu_flat(outs[0]), base, offs, reqs[0] == "add", gpu_flat(igrads[0]))


register(Op(name="moments", arguments=("data",), outputs=("mean", "var"), params={
    "axes": Param("shape", None, optional=True, doc="the axes to reduce (required non-empty)"),
    "keepdims": Param("bool", False)},
    infer_shape=_shape_rule("moments"), forward=_moments_forward, backward=_moments_backward,
    gpu_forward=_moments_gpu_forward, gpu_backward=_moments_gpu_backward,
    backward_uses=("ins", "outs"),
    doc="Mean and (population) variance of `data` over `axes`, as two outputs. "
        "See notebook 01."))
