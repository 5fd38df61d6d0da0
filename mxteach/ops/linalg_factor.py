"""The linalg family, part 2: factorisations and the diagonal/triangle packers —
``linalg_sumlogdiag``, ``linalg_inverse``, ``linalg_det``, ``linalg_slogdet``, ``linalg_gelqf``,
``linalg_extractdiag``, ``linalg_makediag``, ``linalg_extracttrian``, ``linalg_maketrian``
(MXNet's ``_linalg_*`` operators, also ``mx.nd.linalg.det`` ...), batched over leading axes.

inverse, det and slogdet start from one LU factorisation with partial pivoting (LAPACK's
getrf): det is the product of U's diagonal times the sign of the row swaps, the inverse solves
L U X = P. gelqf is Householder LQ as LAPACK's gelqf + orglq (L's diagonal may be negative, as
MXNet's). The four packers are movements: one gather through an index map forward, one
scatter-add backward (the movement family's kernels). Forward and backward are written once
for both devices (``linalg_base.py``). See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Param
from .linalg_base import register_linalg, matrix_batch, square_batch, batch_shape
from ..base import MXNetError, ShapeError

__all__ = []


def _mats(side, *arrays):
    return [side.view(a, matrix_batch("linalg", "A", a.shape)) for a in arrays]


def _scalar_shape(shape):
    """Shape of one number per matrix: the batch axes, (1,) for a single matrix."""
    return batch_shape(shape) or (1,)


def _as4(a3):
    return a3.reshape((a3.shape[0], a3.shape[1], 1, a3.shape[2]))


def _mm(side, a3, b3, ta, tb, alpha=1.0, into=None):
    """op(a) @ op(b) of 3-d stacks; with ``into``, added to it."""
    rows = a3.shape[2] if ta else a3.shape[1]
    cols = b3.shape[1] if tb else b3.shape[2]
    out = into if into is not None else side.empty((a3.shape[0], rows, cols), a3.dtype)
    side.K.gemm(_as4(a3), _as4(b3), _as4(out), ta, tb, alpha, 0.0 if into is None else 1.0,
                _as4(out))
    return out


# -- sumlogdiag ------------------------------------------------------------------------------
def _per_matrix_shape(opname, n_out=1):
    def rule(p, s):
        square_batch(opname, s[0])
        return s, [_scalar_shape(s[0])] * n_out
    return rule


def _sumlogdiag_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    out = side.empty((a.shape[0],), a.dtype)
    side.K.sumlogdiag(a, out)
    return [out]


def _sumlogdiag_bwd(side, p, og, ins, outs):
    (a,) = _mats(side, ins[0])
    out = side.empty(a.shape, a.dtype)
    side.K.diag_grad(a, side.view(og[0], (a.shape[0],)), False, out)   # g / a_ii on the diagonal
    return [out]


register_linalg("sumlogdiag", {}, ("A",), ("output",), _per_matrix_shape("_linalg_sumlogdiag"),
                _sumlogdiag_fwd, _sumlogdiag_bwd, "Sum of the logarithms of the diagonal of "
                "each square matrix. See notebook 01.", backward_uses=("ins",))


# -- LU: inverse, det, slogdet ---------------------------------------------------------------
def _lu(side, a):
    """Packed LU, pivots, and (det, sign, log|det|) of each matrix."""
    lu = side.empty(a.shape, a.dtype)
    piv = side.empty(a.shape[:2], np.int64)
    side.K.lu(a, lu, piv)
    det, sign, logabs = (side.empty((a.shape[0],), a.dtype) for _ in range(3))
    side.K.lu_det(lu, piv, det, sign, logabs)
    return lu, piv, det, sign, logabs


def _inverse_of(side, a):
    lu, piv, _, sign, _ = _lu(side, a)
    inv = side.empty(a.shape, a.dtype)
    side.K.lu_inverse(lu, piv, inv)
    return inv, sign


def _inverse_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    inv, sign = _inverse_of(side, a)
    singular = np.nonzero(side.host(sign) == 0)[0]
    if singular.size:
        raise MXNetError(f"_linalg_inverse: matrix {int(singular[0])} of the batch is singular "
                         f"(LU has a zero pivot); it has no inverse")
    return [inv]


def _inverse_bwd(side, p, og, ins, outs):
    """out = A^-1: dA = -out^T g out^T."""
    o, g = _mats(side, outs[0], og[0])
    return [_mm(side, _mm(side, o, g, True, False, -1.0), o, False, True)]


def _square_rule(p, s):
    square_batch("_linalg_inverse", s[0])
    return s, [tuple(s[0])]


register_linalg("inverse", {}, ("A",), ("output",), _square_rule, _inverse_fwd, _inverse_bwd,
                "The inverse of each square matrix (LU with partial pivoting); a singular "
                "matrix is an error. See notebook 01.", backward_uses=("outs",))


def _det_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    return [_lu(side, a)[2]]


def _det_grad(side, a, g, scale, gate):
    """g * scale * A^-T, none where ``gate`` is 0 (det's gradient with scale = det; slogdet's
    with scale = 1; a singular matrix gets no gradient, as in MXNet)."""
    inv, _ = _inverse_of(side, a)
    out = side.empty(a.shape, a.dtype)
    side.K.scaled_transpose(inv, side.view(g, (a.shape[0],)), scale, gate, False, out)
    return out


def _det_bwd(side, p, og, ins, outs):
    (a,) = _mats(side, ins[0])
    det = side.view(outs[0], (a.shape[0],))
    return [_det_grad(side, a, og[0], det, det)]


def _slogdet_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    _, _, _, sign, logabs = _lu(side, a)
    return [sign, logabs]


def _slogdet_bwd(side, p, og, ins, outs):
    """Only log|det| has a gradient: g * A^-T (the sign is piecewise constant)."""
    (a,) = _mats(side, ins[0])
    ones = side.to_side(np.ones(a.shape[0], dtype=a.dtype))
    return [_det_grad(side, a, og[1], ones, side.view(outs[0], (a.shape[0],)))]


register_linalg("det", {}, ("A",), ("output",), _per_matrix_shape("_linalg_det"), _det_fwd,
                _det_bwd, "The determinant of each square matrix (LU with partial "
                "pivoting). See notebook 01.")
register_linalg("slogdet", {}, ("A",), ("output0", "output1"),
                _per_matrix_shape("_linalg_slogdet", 2), _slogdet_fwd, _slogdet_bwd,
                "The sign and the log of the absolute value of each determinant (0 and -inf "
                "for a singular matrix). See notebook 01.")


# -- gelqf -----------------------------------------------------------------------------------
def _gelqf_shape(p, s):
    _, m, n = matrix_batch("_linalg_gelqf", "A", s[0])
    if m > n:
        raise ShapeError(f"_linalg_gelqf: input 'A' has shape {s[0]}; the last dimension must "
                         f"be >= the second to last ({n} < {m})")
    return s, [tuple(s[0]), tuple(s[0][:-1]) + (m,)]


def _gelqf_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    bsz, m, n = a.shape
    q, low = side.empty(a.shape, a.dtype), side.empty((bsz, m, m), a.dtype)
    side.K.gelqf(a, side.empty(a.shape, a.dtype), side.empty((bsz, m), a.dtype), q, low)
    return [q, low]


def _gelqf_bwd(side, p, og, ins, outs):
    """A = L Q: dA = L^-T (gQ + Phi(M) Q) with M = L^T gL - gQ Q^T and Phi copying the lower
    triangle onto the upper (MXNet's formula)."""
    q, low, gq, gl = _mats(side, outs[0], outs[1], og[0], og[1])
    m = _mm(side, gq, q, False, True, -1.0, into=_mm(side, low, gl, True, False))
    side.K.lower_to_upper(m)
    r = side.empty(gq.shape, gq.dtype)
    side.put(r, "write", gq)
    _mm(side, m, q, False, False, into=r)
    out = side.empty(r.shape, r.dtype)
    side.K.trsm(low, r, True, False, True, 1.0, out)
    return [out]


register_linalg("gelqf", {}, ("A",), ("output0", "output1"), _gelqf_shape, _gelqf_fwd,
                _gelqf_bwd, "LQ factorisation A = L @ Q of matrices with rows <= columns: Q "
                "(output0) with orthonormal rows and lower triangular L (output1), as LAPACK's "
                "gelqf. See notebook 01.", backward_uses=("outs",))


# -- syevd -----------------------------------------------------------------------------------
def _syevd_shape(p, s):
    square_batch("_linalg_syevd", s[0])
    return s, [tuple(s[0]), tuple(s[0][:-1])]


def _syevd_fwd(side, p, ins):
    (a,) = _mats(side, *ins)
    bsz, n, _ = a.shape
    u, lam = side.empty(a.shape, a.dtype), side.empty((bsz, n), a.dtype)
    side.K.syevd(a, side.empty(a.shape, np.float64), side.empty(a.shape, np.float64), u, lam)
    return [u, lam]


def _syevd_bwd(side, p, og, ins, outs):
    """A = U^T diag(lam) U: dA = U^T Y U with Y from X = gU U^T (MXNet's formula: the
    antisymmetric part of X over the eigenvalue gaps, gLam on the diagonal)."""
    u, gu = _mats(side, outs[0], og[0])
    bsz, n, _ = u.shape
    lam, glam = side.view(outs[1], (bsz, n)), side.view(og[1], (bsz, n))
    y = side.empty(u.shape, u.dtype)
    eps = 1e-30 if np.dtype(u.dtype) == np.float32 else 1e-100
    side.K.syevd_mid(_mm(side, gu, u, False, True), lam, glam, eps, y)
    return [_mm(side, _mm(side, u, y, True, False), u, False, False)]


register_linalg("syevd", {}, ("A",), ("output0", "output1"), _syevd_shape, _syevd_fwd,
                _syevd_bwd, "Eigendecomposition A = U^T diag(lam) U of symmetric matrices "
                "(read from their lower triangle): U (output0) holds the eigenvectors as rows, "
                "each with its largest entry positive, lam (output1) the eigenvalues in "
                "ascending order. See notebook 01.", backward_uses=("outs",), alias=False)


# -- the packers: extractdiag, makediag, extracttrian, maketrian -----------------------------
def _diag_index(n, offset):
    """Flat positions in an n x n matrix of its ``offset`` diagonal."""
    d = n - abs(offset)
    t = np.arange(d, dtype=np.int64)
    return (t + max(0, -offset)) * n + (t + max(0, offset))


def _trian_index(n, offset, lower):
    """Flat positions of a triangle in MXNet's order: a lower one row by row, an upper one
    column by column (the lower triangle of the transpose)."""
    k = abs(offset)
    if offset < 0 or (offset == 0 and lower):
        return np.array([i * n + j for i in range(n) for j in range(i - k + 1)], np.int64)
    return np.array([i * n + j for j in range(n) for i in range(j - k + 1)], np.int64)


def _inverse_map(index, size):
    out = np.full(size, -1, np.int64)
    out[index] = np.arange(index.size, dtype=np.int64)
    return out


def _batched(index, batch, src_size):
    """The map of one matrix repeated over the batch (-1 stays -1)."""
    offs = (np.arange(batch, dtype=np.int64) * src_size)[:, None]
    return np.ascontiguousarray(np.where(index[None] >= 0, index[None] + offs, -1).reshape(-1))


def _check_offset(opname, n, offset):
    if n - abs(offset) <= 0:
        raise MXNetError(f"{opname}: illegal offset {offset} for diag/trian extraction of "
                         f"matrices with dimension {n} (expected |offset| < {n})")


def _tri_size(opname, length):
    t = int((np.sqrt(8 * length + 1) - 1) // 2)
    if t * (t + 1) // 2 != length:
        raise ShapeError(f"{opname}: the last axis of the input has length {length}, which is "
                         f"not a triangular number t*(t+1)/2; maketrian cannot shape it")
    return t


def _geometry(name, p, shape):
    """(index map of one matrix from source to output, source size, output size per matrix,
    output shape)."""
    o = p["offset"]
    if name in ("extractdiag", "extracttrian"):
        _, n, _ = square_batch(f"_linalg_{name}", shape)
        _check_offset(f"_linalg_{name}", n, o)
        idx = _diag_index(n, o) if name == "extractdiag" else _trian_index(n, o, p["lower"])
        return idx, n * n, idx.size, batch_shape(shape) + (idx.size,)
    if len(shape) < 1:
        raise ShapeError(f"_linalg_{name}: the input must have at least one axis")
    d = shape[-1] if name == "makediag" else _tri_size(f"_linalg_{name}", shape[-1])
    n = d + abs(o)
    idx = _diag_index(n, o) if name == "makediag" else _trian_index(n, o, p["lower"])
    return _inverse_map(idx, n * n), shape[-1], n * n, batch_shape(shape, 1) + (n, n)


def _packer(name):
    def shape_rule(p, s):
        return s, [_geometry(name, p, s[0])[3]]

    def maps(side, p, a):
        idx, src_size, _, out_shape = _geometry(name, p, tuple(a.shape))
        batch = a.size // src_size if src_size else 0
        fwd = _batched(idx, batch, src_size)
        return side.to_side(fwd), out_shape, batch * src_size

    def kernels(side):
        if side.gpu:
            from ..kernels.cuda import movement
        else:
            from ..kernels.cpu import movement
        return movement

    def forward(side, p, ins):
        m, out_shape, _ = maps(side, p, ins[0])
        out = side.empty((int(np.prod(out_shape, dtype=np.int64)),), ins[0].dtype)
        kernels(side).gather(side.flat(side.view(ins[0], ins[0].shape)), m, 0.0, out)
        return [out]

    def backward(side, p, og, ins, outs):
        m, _, size = maps(side, p, ins[0])
        dx = side.empty((size,), ins[0].dtype)
        kernels(side).scatter_add(side.flat(side.view(og[0], og[0].shape)), m, False, dx)
        return [dx]
    return shape_rule, forward, backward


_OFFSET = Param("int", 0, doc="diagonal offset: 0 the main one, >0 above, <0 below")
_LOWER = Param("bool", True, doc="the lower (else upper) triangle; only used with offset 0")
for _name, _params, _doc in (
        ("extractdiag", {"offset": _OFFSET}, "The `offset` diagonal of each square matrix."),
        ("makediag", {"offset": _OFFSET}, "Square matrices with the input vectors on their "
                                          "`offset` diagonal, zeros elsewhere."),
        ("extracttrian", {"offset": _OFFSET, "lower": _LOWER}, "The triangle of each square "
         "matrix as a vector (a lower one row by row, an upper one column by column)."),
        ("maketrian", {"offset": _OFFSET, "lower": _LOWER}, "Square triangular matrices from "
         "vectors packed as extracttrian packs them.")):
    register_linalg(_name, _params, ("A",), ("output",), *_packer(_name),
                    _doc + " See notebook 01.", backward_uses=("ins",))   # its shape
