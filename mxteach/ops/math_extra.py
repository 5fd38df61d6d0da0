"""More math operators: the special functions ``erfinv``, ``gamma``, ``gammaln``; the contrib
elementwise functions ``quadratic``, ``gradientmultiplier``, ``round_ste``, ``sign_ste``,
``div_sqrt_dim`` and the two backward helpers MXNet exposes (``backward_quadratic``,
``backward_gradientmultiplier``); ``arange_like``, ``index_array``, ``allclose`` and ``getnnz``.
Contrib operators are registered as ``_contrib_<name>`` and appear as ``mx.nd.contrib.<name>``.

The elementwise functions share one kernel pair, the function picked by its code
(``kernels/cpu/math_extra.py:CODES``, CUDA ``kernels/cuda/math_extra.py``, numpy twins
``kernels/reference/math_extra.py``). MXNet 1.9.1 behaviours kept here:

* ``round_ste`` / ``sign_ste`` round (halves away from zero) / take the sign forward, and pass
  the head gradient through unchanged ("straight-through estimator");
* ``gradientmultiplier`` is the identity forward; its gradient is ``scalar * ograd`` (``is_int``
  is accepted and changes nothing);
* ``div_sqrt_dim`` divides by the square root of the *last* axis' length;
* ``arange_like`` and ``index_array`` give the data a zero gradient; ``allclose`` (a uint8
  scalar, shape ``()``), ``getnnz`` and the backward helpers have none;
* ``getnnz`` runs on CSR arrays only (the stored values, explicit zeros included); axis 0 is
  "not supported yet", as MXNet says. See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import (table_unary_sides, identity_shape, kernel_view, flat_in, gpu_flat,
                     same_dtype, zero_grads, gpu_zero_grads)
from ..base import MXNetError, ShapeError
from ..kernels.cpu import math_extra as K

__all__ = ["MATH_EXTRA_OPS"]

_NO_PARAMS = ({}, lambda p, shape: (0.0, 0.0, 0.0))
_SCALAR = {"scalar": Param("float", 1.0, doc="the gradient's factor"),
           "is_int": Param("bool", True, doc="accepted, as in MXNet; no effect")}
_ABC = {k: Param("float", 0.0, doc=f"the coefficient {k} of a*x^2 + b*x + c") for k in "abc"}


def _last_axis(p, shape):
    shape = tuple(shape)             # the simulator's device shapes take no negative index
    if len(shape) < 1:
        raise ShapeError("div_sqrt_dim: input 'data' is a scalar; it needs a last axis")
    return (float(np.sqrt(shape[-1])), 0.0, 0.0)


# name: (registered name, parameters, (s, t, u) of the parameters and the data shape, has grad)
_ELEMENTWISE = {
    "erfinv": ("erfinv", *_NO_PARAMS, True),
    "gamma": ("gamma", *_NO_PARAMS, True),
    "gammaln": ("gammaln", *_NO_PARAMS, True),
    "quadratic": ("_contrib_quadratic", _ABC, lambda p, s: (p["a"], p["b"], p["c"]), True),
    "gradientmultiplier": ("_contrib_gradientmultiplier", _SCALAR,
                           lambda p, s: (p["scalar"], 0.0, 0.0), True),
    "round_ste": ("_contrib_round_ste", *_NO_PARAMS, True),
    "sign_ste": ("_contrib_sign_ste", *_NO_PARAMS, True),
    "div_sqrt_dim": ("_contrib_div_sqrt_dim", {}, _last_axis, True),
    "backward_gradientmultiplier": ("_contrib_backward_gradientmultiplier", _SCALAR,
                                    lambda p, s: (p["scalar"], 0.0, 0.0), False),
}
_DOCS = {
    "erfinv": "The inverse error function, erf(erfinv(x)) = x on [-1, 1].",
    "gamma": "The gamma function; gradient gamma(x) * digamma(x).",
    "gammaln": "log|gamma(x)|; gradient digamma(x).",
    "quadratic": "a * x^2 + b * x + c elementwise; gradient (2 a x + b) * ograd.",
    "gradientmultiplier": "The identity forward; backward multiplies the gradient by scalar.",
    "round_ste": "round(x) forward (halves away from zero); the gradient passes straight "
                 "through.",
    "sign_ste": "sign(x) forward; the gradient passes straight through.",
    "div_sqrt_dim": "x / sqrt(x.shape[-1]), the scaling of dot-product attention.",
    "backward_gradientmultiplier": "The backward of gradientmultiplier as an operator: "
                                   "ograd * scalar.",
}
MATH_EXTRA_OPS = tuple(reg for reg, *_ in _ELEMENTWISE.values()) + (
    "_contrib_backward_quadratic", "_contrib_arange_like", "_contrib_index_array",
    "_contrib_allclose", "_contrib_getnnz")


def _make(name, regname, params, st, differentiable):
    # ops/math.py's table-driven sides; here the kernels' parameters may depend on the shape
    forward, backward, gpu_forward, gpu_backward = table_unary_sides(K, "math_extra", name, st)

    def infer_shape(p, in_shapes):
        if in_shapes[0] is not None:
            st(p, tuple(in_shapes[0]))      # div_sqrt_dim checks there is a last axis
        return identity_shape(p, in_shapes)

    register(Op(name=regname, params=params, arguments=["data"], infer_shape=infer_shape,
                forward=forward, backward=backward if differentiable else None,
                gpu_forward=gpu_forward, gpu_backward=gpu_backward if differentiable else None,
                hint=name.lower(), doc=_DOCS[name] + " See notebook 01."))


for _name, (_reg, _params, _st, _grad) in _ELEMENTWISE.items():
    _make(_name, _reg, _params, _st, _grad)


# -- backward_quadratic: (ograd, data) -> ograd * (2 a data + b) ------------------------------
def _pair_shape(opname, names):
    def infer(p, in_shapes):
        known = [(n, tuple(s)) for n, s in zip(names, in_shapes) if s is not None]
        if not known:
            return list(in_shapes), [None]
        for n, s in known[1:]:
            if s != known[0][1]:
                raise ShapeError(f"{opname}: input '{n}' has shape {s}, expected {known[0][1]} "
                                 f"(the shape of '{known[0][0]}')")
        return [known[0][1]] * len(names), [known[0][1]]
    return infer


def _bq_forward(p, ins, outs, is_train, state):
    # quadratic's backward kernel, writing (not adding) ograd * f'(data) into the output
    out, commit = kernel_view(outs[0], -1)
    g, x = (flat_in(a).astype(out.dtype, copy=False) for a in ins)
    K.unary_backward(x, x, g, out, p["a"], p["b"], p["c"], K.CODES["quadratic"], False)
    commit()


def _bq_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import math_extra as C
    g, x = (gpu_flat(a) for a in ins)
    C.unary_backward(x, x, g, gpu_flat(outs[0]), "quadratic", False, p["a"], p["b"], p["c"])


register(Op(
    name="_contrib_backward_quadratic", params=dict(_ABC), arguments=["ograd", "data"],
    infer_shape=_pair_shape("backward_quadratic", ("ograd", "data")),
    infer_type=same_dtype("backward_quadratic", ["ograd", "data"]),
    forward=_bq_forward, gpu_forward=_bq_gpu_forward, hint="backward_quadratic",
    doc="The backward of quadratic as an operator: ograd * (2 a data + b). "
        "See notebook 01."))


# -- arange_like ---------------------------------------------------------------------------
def _arange_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    shape = tuple(in_shapes[0])
    if p["axis"] is None:
        return [shape], [shape]
    ax = p["axis"] + len(shape) if p["axis"] < 0 else p["axis"]
    if not 0 <= ax < len(shape):
        raise ShapeError(f"arange_like: axis = {p['axis']} is out of range for data of shape "
                         f"{shape} (expected {-len(shape)} <= axis < {len(shape)})")
    return [shape], [(shape[ax],)]


def _arange_forward(p, ins, outs, is_train, state):
    out, commit = kernel_view(outs[0], -1, np.float64)
    K.arange_like(out, p["start"], p["step"], p["repeat"])
    commit()


def _arange_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import math_extra as C
    C.arange_like(gpu_flat(outs[0]), p["start"], p["step"], p["repeat"])


register(Op(
    name="_contrib_arange_like",
    params={"start": Param("float", 0.0), "step": Param("float", 1.0),
            "repeat": Param("int", 1, low=1, doc="how often each value repeats"),
            "ctx": Param("str", "", doc="accepted; the output lives on the data's device"),
            "axis": Param("int", None, optional=True,
                          doc="count along this axis only (output 1-D); None: the whole shape")},
    arguments=["data"], infer_shape=_arange_shape, forward=_arange_forward,
    backward=zero_grads, gpu_forward=_arange_gpu_forward, gpu_backward=gpu_zero_grads,
    hint="arange_like", backward_uses=(),
    doc="start + step * (i // repeat) for i = 0, 1, ... over data's shape (or its axis), in "
        "data's dtype. See notebook 01."))


# -- index_array ---------------------------------------------------------------------------
def _index_axes(p, ndim):
    if p["axes"] is None:
        return list(range(ndim))
    axes = []
    for a in p["axes"]:
        if not -ndim <= a < 2 * ndim:
            raise ShapeError(f"index_array: axis {a} is out of range for a {ndim}-d input")
        axes.append((a + ndim) % ndim)   # as MXNet: an axis past the end wraps around
    return axes


def _index_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    shape = tuple(in_shapes[0])
    return [shape], [shape + (len(_index_axes(p, len(shape))),)]


def _index_forward(p, ins, outs, is_train, state):
    shape = np.asarray(ins[0].shape, np.int64)
    axes = np.asarray(_index_axes(p, ins[0].ndim), np.int64)
    out, commit = kernel_view(outs[0], (int(np.prod(ins[0].shape)), len(axes)))
    K.index_array(shape, axes, out)
    commit()


def _index_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import math_extra as C
    axes = _index_axes(p, len(ins[0].shape))
    C.index_array(cuda.to_device(np.asarray(ins[0].shape, np.int64)),
                  cuda.to_device(np.asarray(axes, np.int64)),
                  outs[0].reshape(int(np.prod(ins[0].shape)), len(axes)))


register(Op(
    name="_contrib_index_array",
    params={"axes": Param("shape", None, optional=True,
                          doc="the axes whose indices are listed (None: all)")},
    arguments=["data"], infer_shape=_index_shape,
    infer_type=lambda p, in_types: (list(in_types), ["int64"]),
    forward=_index_forward, backward=zero_grads, gpu_forward=_index_gpu_forward,
    gpu_backward=gpu_zero_grads, hint="index_array", backward_uses=(),
    doc="out[i, j, ..., k] = the index (i, j, ...) of each element along `axes`, int64, shape "
        "data.shape + (len(axes),). See notebook 01."))


# -- allclose ------------------------------------------------------------------------------
def _allclose_shape(p, in_shapes):
    a, b = (None if s is None else tuple(s) for s in in_shapes)
    if a is not None and b is not None and a != b:
        raise ShapeError(f"allclose: input 'b' has shape {b}, expected {a} (the shape of 'a'; "
                         f"allclose does not broadcast)")
    return [a or b, a or b], [()]


def _allclose_types(p, in_types):
    same_dtype("allclose", ["a", "b"])(p, in_types)
    return list(in_types), ["uint8"]


def _tolerances(p):
    # MXNet keeps rtol and atol as float32 (its default rtol is 9.99999975e-06)
    return float(np.float32(p["rtol"])), float(np.float32(p["atol"]))


def _allclose_forward(p, ins, outs, is_train, state):
    a, b = (flat_in(x) for x in ins)
    outs[0][...] = K.allclose(a, b, *_tolerances(p), p["equal_nan"])


def _allclose_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import math_extra as C
    C.allclose(gpu_flat(ins[0]), gpu_flat(ins[1]), *_tolerances(p), p["equal_nan"],
               outs[0].reshape(1))


register(Op(
    name="_contrib_allclose",
    params={"rtol": Param("float", 1e-5), "atol": Param("float", 1e-8),
            "equal_nan": Param("bool", True, doc="count NaN == NaN as close")},
    arguments=["a", "b"], infer_shape=_allclose_shape, infer_type=_allclose_types,
    forward=_allclose_forward, gpu_forward=_allclose_gpu_forward, hint="allclose",
    doc="1 (uint8, shape ()) if |a - b| <= atol + rtol * |b| everywhere, else 0. "
        "See notebook 01."))


# -- getnnz (CSR only) ---------------------------------------------------------------------
def _getnnz_axis(p):
    if p["axis"] not in (None, 0, 1):
        raise MXNetError(f"getnnz: axis = {p['axis']}; expected None, 0 or 1")
    if p["axis"] == 0:
        raise MXNetError("getnnz with axis = 0 is not supported yet (as in MXNet 1.9.1)")
    return p["axis"]


def _getnnz_shape(p, in_shapes):
    axis = _getnnz_axis(p)
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    shape = tuple(in_shapes[0])
    if len(shape) != 2:
        raise ShapeError(f"getnnz: input 'data' has shape {shape}; it needs a 2-D CSR matrix")
    return [shape], [(1,) if axis is None else (shape[0],)]


def getnnz_csr(p, indptr, shape):
    """getnnz of a CSR matrix from its row pointers: the stored values in all (axis None) or
    per row (axis 1), int64. Called on CSR NDArrays by ``ndarray/sparse_ops.py``."""
    indptr = np.asarray(indptr, np.int64)
    if _getnnz_axis(p) is None:
        return np.array([indptr[-1]], np.int64)
    return np.diff(indptr)


def _getnnz_dense(p, ins, outs, is_train, state):
    raise MXNetError("getnnz: input 'data' has storage type default; the operator is only "
                     "implemented for csr (convert with tostype('csr'))")


register(Op(
    name="_contrib_getnnz",
    params={"axis": Param("int", None, optional=True,
                          doc="None: all stored values; 1: per row (0 is not supported)")},
    arguments=["data"], infer_shape=_getnnz_shape,
    infer_type=lambda p, in_types: (list(in_types), ["int64"]),
    forward=_getnnz_dense, gpu_forward=_getnnz_dense, hint="getnnz",
    extra={"csr_forward": getnnz_csr},
    doc="The number of values a CSR matrix stores (axis None), or per row (axis 1), int64. "
        "See notebook 15."))
