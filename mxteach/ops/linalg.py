"""The linalg family, part 1: matrix products and the Cholesky pair — ``linalg_gemm``,
``linalg_gemm2``, ``linalg_trmm``, ``linalg_trsm``, ``linalg_syrk``, ``linalg_potrf``,
``linalg_potri`` (MXNet's ``_linalg_*`` operators, also ``mx.nd.linalg.gemm`` ...).

Every operator works on stacks of matrices: the leading axes are a batch. ``gemm``/``gemm2``
take MXNet's ``axis``: the axis of the rows (the columns are the last axis; the axes between
are batch axes too), so the kernels see 4-d (pre, rows, mid, cols) arrays. Triangular inputs
are read from their lower (``lower=False``: upper) triangle only, and their gradients are
triangular too. The gradients are written as products and solves of the same kernels (the
formulas are in each backward); the forward and backward are written once for both devices
(``linalg_base.py``). See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Param
from .common import norm_axis
from .linalg_base import register_linalg, matrix_batch, square_batch, check_info
from ..base import MXNetError, ShapeError

__all__ = []


# -- gemm and gemm2 --------------------------------------------------------------------------
def _geom(opname, shape, axis):
    """(pre, rows, mid, cols) of a tensor whose matrix rows are on ``axis``, cols last."""
    if len(shape) < 2:
        raise ShapeError(f"{opname}: inputs must have at least 2 dimensions, got shape {shape}")
    ax = norm_axis(opname, axis, len(shape))
    if ax == len(shape) - 1:
        raise ShapeError(f"{opname}: axis {axis} is the column axis of shape {shape}; the "
                         f"row axis must come before the last axis")
    return (int(np.prod(shape[:ax], dtype=np.int64)), int(shape[ax]),
            int(np.prod(shape[ax + 1:-1], dtype=np.int64)), int(shape[-1])), ax


def _product_shape(opname, p, a, b):
    """Shape of op(A) @ op(B) along ``axis``, after MXNet's checks."""
    (_, ra, _, ca), ax = _geom(opname, a, p["axis"])
    (_, rb, _, cb), _ = _geom(opname, b, p["axis"])
    if len(a) != len(b):
        raise ShapeError(f"{opname}: A has shape {a} and B {b}; they need the same number of "
                         f"dimensions")
    for i in range(len(a)):
        if i not in (ax, len(a) - 1) and a[i] != b[i]:
            raise ShapeError(f"{opname}: shapes of A {a} and B {b} must be the same except on "
                             f"the row/col axes (axis {i}: {a[i]} vs {b[i]})")
    inner_a = ra if p["transpose_a"] else ca
    inner_b = cb if p["transpose_b"] else rb
    if inner_a != inner_b:
        raise ShapeError(f"{opname}: incompatible matrix dimensions for multiplication: op(A) "
                         f"of {a} has {inner_a} columns, op(B) of {b} has {inner_b} rows")
    out = list(a)
    out[ax] = ca if p["transpose_a"] else ra
    out[-1] = rb if p["transpose_b"] else cb
    return tuple(out)


def _gemm2_shape(p, s):
    return s, [_product_shape("_linalg_gemm2", p, s[0], s[1])]


def _gemm_shape(p, s):
    out = _product_shape("_linalg_gemm", p, s[0], s[1])
    if tuple(s[2]) != out:
        raise ShapeError(f"_linalg_gemm: input 'C' has shape {s[2]}; expected the shape of "
                         f"op(A) @ op(B), {out}")
    return s, [out]


def _views4(side, p, arrays):
    return [side.view(a, _geom("_linalg_gemm", tuple(a.shape), p["axis"])[0]) for a in arrays]


def _product(side, p, a4, b4, beta=0.0, c4=None):
    ta, tb = p["transpose_a"], p["transpose_b"]
    out = side.empty((a4.shape[0], a4.shape[3] if ta else a4.shape[1], a4.shape[2],
                      b4.shape[1] if tb else b4.shape[3]), a4.dtype)
    side.K.gemm(a4, b4, out if c4 is None else c4, ta, tb, p["alpha"], beta, out)
    return out


def _product_grads(side, p, g4, a4, b4):
    """dA, dB of alpha op(A) op(B):  dA = alpha g op(B)^T (transposed back when transpose_a),
    dB = alpha op(A)^T g (likewise)."""
    ta, tb, alpha = p["transpose_a"], p["transpose_b"], p["alpha"]
    mm = side.K.gemm
    da, db = side.empty(a4.shape, a4.dtype), side.empty(b4.shape, b4.dtype)
    if ta:
        mm(b4, g4, da, tb, True, alpha, 0.0, da)        # dA = alpha op(B) g^T
    else:
        mm(g4, b4, da, False, not tb, alpha, 0.0, da)   # dA = alpha g op(B)^T
    if tb:
        mm(g4, a4, db, True, ta, alpha, 0.0, db)        # dB = alpha g^T op(A)
    else:
        mm(a4, g4, db, not ta, False, alpha, 0.0, db)   # dB = alpha op(A)^T g
    return da, db


def _gemm2_fwd(side, p, ins):
    a4, b4 = _views4(side, p, ins)
    return [_product(side, p, a4, b4)]


def _gemm2_bwd(side, p, og, ins, outs):
    a4, b4, g4 = _views4(side, p, ins + og)
    return list(_product_grads(side, p, g4, a4, b4))


def _gemm_fwd(side, p, ins):
    a4, b4, c4 = _views4(side, p, ins)
    return [_product(side, p, a4, b4, p["beta"], c4)]


def _gemm_bwd(side, p, og, ins, outs):
    a4, b4, g4 = _views4(side, p, ins[:2] + og)
    return list(_product_grads(side, p, g4, a4, b4)) + [(og[0], p["beta"])]   # dC = beta g


_TRANS = {"transpose_a": Param("bool", False, doc="multiply with the transpose of A"),
          "transpose_b": Param("bool", False, doc="multiply with the transpose of B"),
          "alpha": Param("float", 1.0, doc="factor of A*B")}
register_linalg("gemm", {**_TRANS, "beta": Param("float", 1.0, doc="factor of C"),
                         "axis": Param("int", -2, doc="axis of the matrix rows")},
                ("A", "B", "C"), ("output",), _gemm_shape, _gemm_fwd, _gemm_bwd,
                "alpha * op(A) @ op(B) + beta * C, batched over the other axes (rows on "
                "`axis`, columns last). See notebook 01.", backward_uses=("ins",))
register_linalg("gemm2", {**_TRANS, "axis": Param("int", -2, doc="axis of the matrix rows")},
                ("A", "B"), ("output",), _gemm2_shape, _gemm2_fwd, _gemm2_bwd,
                "alpha * op(A) @ op(B), batched over the other axes (rows on `axis`, columns "
                "last). See notebook 01.", backward_uses=("ins",))


# -- trmm and trsm ---------------------------------------------------------------------------
_TRI = {"transpose": Param("bool", False, doc="use the transpose of the triangular matrix"),
        "rightside": Param("bool", False, doc="multiply the triangular matrix from the right"),
        "lower": Param("bool", True, doc="A is lower (else upper) triangular"),
        "alpha": Param("float", 1.0, doc="factor of the result")}


def _tri_shape(opname):
    def rule(p, s):
        square_batch(opname, s[0])
        matrix_batch(opname, "B", s[1])
        if len(s[0]) != len(s[1]) or s[0][:-2] != s[1][:-2]:
            raise ShapeError(f"{opname}: A {s[0]} and B {s[1]} must have the same batch axes")
        n = s[0][-1]
        side_dim = s[1][-1] if p["rightside"] else s[1][-2]
        if side_dim != n:
            raise ShapeError(f"{opname}: incompatible matrix dimensions for multiplication: A "
                             f"is {n}x{n}, B {s[1][-2]}x{s[1][-1]} (rightside={p['rightside']})")
        return s, [tuple(s[1])]
    return rule


def _mats(side, *arrays):
    """(batch, rows, cols) views of stacks of matrices."""
    return [side.view(a, matrix_batch("linalg", "A", a.shape)) for a in arrays]


def _as4(a3):
    return a3.reshape((a3.shape[0], a3.shape[1], 1, a3.shape[2]))


def _mm(side, a3, b3, ta, tb, alpha=1.0, into=None):
    """op(a) @ op(b) of 3-d stacks; with ``into``, added to it (beta = 1)."""
    rows = a3.shape[2] if ta else a3.shape[1]
    cols = b3.shape[1] if tb else b3.shape[2]
    out = into if into is not None else side.empty((a3.shape[0], rows, cols), a3.dtype)
    side.K.gemm(_as4(a3), _as4(b3), _as4(out), ta, tb, alpha, 0.0 if into is None else 1.0,
                _as4(out))
    return out


def _tri(side, x3, lower, alpha=1.0):
    out = side.empty(x3.shape, x3.dtype)
    side.K.triangle(x3, lower, alpha, False, out)
    return out


def _trmm_fwd(side, p, ins):
    a, b = _mats(side, *ins)
    t = _tri(side, a, p["lower"])
    if p["rightside"]:
        return [_mm(side, b, t, False, p["transpose"], p["alpha"])]
    return [_mm(side, t, b, p["transpose"], False, p["alpha"])]


def _trmm_bwd(side, p, og, ins, outs):
    """Left: out = alpha op(T) B, so dB = alpha op(T)^T g and d op(T) = alpha g B^T; right:
    out = alpha B op(T), dB = alpha g op(T)^T and d op(T) = alpha B^T g. dA keeps T's triangle."""
    a, b, g = _mats(side, *ins, og[0])
    t, tr, al = _tri(side, a, p["lower"]), p["transpose"], p["alpha"]
    if p["rightside"]:
        db = _mm(side, g, t, False, not tr, al)
        dt = _mm(side, g, b, True, False, al) if tr else _mm(side, b, g, True, False, al)
    else:
        db = _mm(side, t, g, not tr, False, al)
        dt = _mm(side, b, g, False, True, al) if tr else _mm(side, g, b, False, True, al)
    return [_tri(side, dt, p["lower"]), db]


def _solve(side, a, b, transpose, rightside, lower, alpha):
    out = side.empty(b.shape, b.dtype)
    side.K.trsm(a, b, transpose, rightside, lower, alpha, out)
    return out


def _trsm_fwd(side, p, ins):
    a, b = _mats(side, *ins)
    return [_solve(side, a, b, p["transpose"], p["rightside"], p["lower"], p["alpha"])]


def _trsm_bwd(side, p, og, ins, outs):
    """Left: X = alpha M^-1 B (M = op(T)); Y = M^-T g gives dB = alpha Y, dM = -Y X^T. Right:
    X = alpha B M^-1; Y = g M^-T, dB = alpha Y, dM = -X^T Y. dA is dM (or its transpose) kept
    on T's triangle."""
    a, g, x = _mats(side, ins[0], og[0], outs[0])
    tr, right = p["transpose"], p["rightside"]
    y = _solve(side, a, g, not tr, right, p["lower"], 1.0)
    if right:
        dt = _mm(side, y, x, True, False, -1.0) if tr else _mm(side, x, y, True, False, -1.0)
    else:
        dt = _mm(side, x, y, False, True, -1.0) if tr else _mm(side, y, x, False, True, -1.0)
    return [_tri(side, dt, p["lower"]), (y, p["alpha"])]


register_linalg("trmm", _TRI, ("A", "B"), ("output",), _tri_shape("_linalg_trmm"), _trmm_fwd,
                _trmm_bwd, "alpha * op(T) @ B (rightside: alpha * B @ op(T)), T the lower "
                "(upper) triangle of A. See notebook 01.", backward_uses=("ins",))
register_linalg("trsm", _TRI, ("A", "B"), ("output",), _tri_shape("_linalg_trsm"), _trsm_fwd,
                _trsm_bwd, "Solves op(T) X = alpha * B (rightside: X op(T) = alpha * B) for X, "
                "T the lower (upper) triangle of A. See notebook 01.")


# -- syrk ------------------------------------------------------------------------------------
def _syrk_shape(p, s):
    _, m, k = matrix_batch("_linalg_syrk", "A", s[0])
    n = k if p["transpose"] else m
    return s, [tuple(s[0][:-2]) + (n, n)]


def _syrk_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    t = p["transpose"]
    return [_mm(side, a, a, t, not t, p["alpha"])]


def _syrk_bwd(side, p, og, ins, outs):
    """out = alpha A A^T: dA = alpha (g + g^T) A; transpose (alpha A^T A): alpha A (g + g^T)."""
    a, g = _mats(side, ins[0], og[0])
    al = p["alpha"]
    if p["transpose"]:
        return [_mm(side, a, g, False, True, al, into=_mm(side, a, g, False, False, al))]
    return [_mm(side, g, a, True, False, al, into=_mm(side, g, a, False, False, al))]


register_linalg("syrk", {"transpose": Param("bool", False, doc="A^T A instead of A A^T"),
                         "alpha": Param("float", 1.0, doc="factor of the result")},
                ("A",), ("output",), _syrk_shape, _syrk_fwd, _syrk_bwd,
                "alpha * A @ A^T (transpose: alpha * A^T @ A). See notebook 01.",
                backward_uses=("ins",))


# -- potrf and potri -------------------------------------------------------------------------
def _square_rule(opname):
    def rule(p, s):
        square_batch(opname, s[0])
        return s, [tuple(s[0])]
    return rule


def _potrf_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    out = side.empty(a.shape, a.dtype)
    info = side.empty((a.shape[0],), np.int64)
    side.K.potrf(a, out, info)
    check_info("_linalg_potrf", side, info, "the Cholesky factorisation failed: the input "
               "matrix is not symmetric positive definite")
    return [out]


def _potrf_bwd(side, p, og, ins, outs):
    """A = L L^T: dA = 1/2 L^-T Phi(L^T g) L^-1, Phi copying the lower triangle onto the upper
    (MXNet's formula; the result is symmetric)."""
    low, g = _mats(side, outs[0], og[0])
    m = _mm(side, low, g, True, False)
    side.K.lower_to_upper(m)
    m = _solve(side, low, m, False, True, True, 1.0)
    return [_solve(side, low, m, True, False, True, 0.5)]


def _identity(side, batch, n, dtype):
    return side.to_side(np.ascontiguousarray(np.broadcast_to(np.eye(n, dtype=dtype),
                                                             (batch, n, n))))


def _potri_fwd(side, p, ins):
    (low,) = _mats(side, *ins)
    diag = np.diagonal(side.host(low), axis1=1, axis2=2)
    if (diag == 0).any():
        k = int(np.nonzero((diag == 0).any(axis=1))[0][0])
        raise MXNetError(f"_linalg_potri: the input is not a Cholesky factor: matrix {k} "
                             f"of the batch has a zero on its diagonal")
    inv = _solve(side, low, _identity(side, *low.shape[:2], low.dtype), False, False, True, 1.0)
    return [_mm(side, inv, inv, True, False)]


def _potri_bwd(side, p, og, ins, outs):
    """out = (L L^T)^-1: dL = tril(-out (g + g^T) L^-T)."""
    low, g, o = _mats(side, ins[0], og[0], outs[0])
    m = _mm(side, o, g, False, True, into=_mm(side, o, g, False, False))
    m = _solve(side, low, m, True, True, True, -1.0)
    return [_tri(side, m, True)]


register_linalg("potrf", {}, ("A",), ("output",), _square_rule("_linalg_potrf"), _potrf_fwd,
                _potrf_bwd, "Cholesky factor L (lower triangular, A = L @ L^T) of symmetric "
                "positive definite matrices, read from their lower triangle. See notebook 01.",
                backward_uses=("outs",))
register_linalg("potri", {}, ("A",), ("output",), _square_rule("_linalg_potri"), _potri_fwd,
                _potri_bwd, "(L @ L^T)^-1 from a Cholesky factor L (the inverse of the matrix "
                "potrf factorised). See notebook 01.")
