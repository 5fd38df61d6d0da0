"""Numba CPU kernels of the linalg family (``ops/linalg.py``, ``ops/linalg_factor.py``): the
few loops every ``linalg_*`` operator and gradient is built from — a batched matrix product,
a triangular solve, Cholesky, LU with partial pivoting (inverse, det, slogdet), Householder
LQ, Jacobi's symmetric eigensolver, and small diagonal/triangle helpers.

Each algorithm is written once, as a plain Python function doing **one job** (one output
element, one right-hand side, or one whole matrix ``k`` of the batch): the ``*_job`` functions
below. Numba compiles them twice: here with ``njit`` (the kernels loop over the jobs with
``prange``) and in ``kernels/cuda/linalg.py`` as CUDA device functions (one thread per job).
Scalars accumulate in float64.

Layouts: ``gemm`` takes 4-d arrays (pre, rows, mid, cols) because MXNet's ``axis`` may put the
rows anywhere before the last axis; the rest takes (batch, rows, cols) stacks and (batch, n)
vectors. numpy twins with the same names and signatures: ``kernels/reference/linalg.py``.
"""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["gemm", "triangle", "lower_to_upper", "trsm", "potrf", "lu", "lu_inverse", "lu_det",
           "sumlogdiag", "diag_grad", "scaled_transpose", "gelqf", "axpy", "syevd",
           "syevd_mid", "JOBS"]


# -- the jobs (plain Python; compiled below for the CPU and in kernels/cuda for the GPU) -----
def gemm_job(a, b, c, ta, tb, alpha, beta, out, p, i, q, j):
    """out[p, i, q, j] = alpha * (op(a) @ op(b))[i, j] + beta * c[p, i, q, j] (c unread when
    beta == 0, so c may be out itself: that is how gradients accumulate)."""
    inner = a.shape[1] if ta else a.shape[3]
    acc = 0.0
    for k in range(inner):
        x = a[p, k, q, i] if ta else a[p, i, q, k]
        y = b[p, j, q, k] if tb else b[p, k, q, j]
        acc += x * y
    v = alpha * acc
    if beta != 0:
        v += beta * c[p, i, q, j]
    out[p, i, q, j] = v


def trsm_job(a, b, transpose, rightside, lower, alpha, out, k, v):
    """Right-hand side ``v`` of matrix ``k``: out = alpha op(T)^-1 b (rightside: alpha b
    op(T)^-1), T the lower (upper) triangle of a. A right-side solve is a left solve with the
    transposed matrix along a row of b, so every case is one substitution through
    N[i, j] = a[j, i] (when exactly one of transpose/rightside holds) or a[i, j], N lower or
    upper."""
    n = a.shape[1]
    flip = transpose != rightside
    n_lower = lower != flip
    for s in range(n):
        i = s if n_lower else n - 1 - s
        acc = alpha * (b[k, v, i] if rightside else b[k, i, v])
        for t in range(s):
            j = t if n_lower else n - 1 - t
            nij = a[k, j, i] if flip else a[k, i, j]
            acc -= nij * (out[k, v, j] if rightside else out[k, j, v])
        acc /= a[k, i, i]
        if rightside:
            out[k, v, i] = acc
        else:
            out[k, i, v] = acc


def potrf_job(a, out, info, k):
    """Cholesky factor (lower) of matrix k from its lower triangle, column by column;
    info[k] = 0, or 1 + the first column whose pivot is not positive."""
    n = a.shape[1]
    info[k] = 0
    for j in range(n):
        for i in range(j):
            out[k, i, j] = 0.0
        d = a[k, j, j] * 1.0
        for t in range(j):
            d -= out[k, j, t] * out[k, j, t]
        if not d > 0.0:
            if info[k] == 0:
                info[k] = j + 1
            d = 1.0
        ljj = math.sqrt(d)
        out[k, j, j] = ljj
        for i in range(j + 1, n):
            acc = a[k, i, j] * 1.0
            for t in range(j):
                acc -= out[k, i, t] * out[k, j, t]
            out[k, i, j] = acc / ljj


def _swap_rows(m, k, i, p):
    for j in range(m.shape[2]):
        tmp = m[k, i, j]
        m[k, i, j] = m[k, p, j]
        m[k, p, j] = tmp


def lu_job(a, out, piv, k):
    """LU of matrix k with partial pivoting, packed into out (unit lower L below the
    diagonal, U on and above); piv[k, i] is the row swapped with row i at step i (LAPACK's
    getrf). A zero pivot leaves its column (U singular: det 0, inverse inf/nan)."""
    n = a.shape[1]
    for i in range(n):
        for j in range(n):
            out[k, i, j] = a[k, i, j]
    for i in range(n):
        p = i
        for r in range(i + 1, n):
            if abs(out[k, r, i]) > abs(out[k, p, i]):
                p = r
        piv[k, i] = p
        if p != i:
            _swap_rows(out, k, i, p)
        d = out[k, i, i]
        if d != 0:
            for r in range(i + 1, n):
                f = out[k, r, i] / d
                out[k, r, i] = f
                for j in range(i + 1, n):
                    out[k, r, j] -= f * out[k, i, j]


def lu_inverse_job(lu_, piv, out, k):
    """Inverse of matrix k from its packed LU: solve L U X = P column by column, P the
    identity with the pivots' row swaps."""
    n = lu_.shape[1]
    for i in range(n):
        for j in range(n):
            out[k, i, j] = 1.0 if i == j else 0.0
    for i in range(n):
        if piv[k, i] != i:
            _swap_rows(out, k, i, piv[k, i])
    for c in range(n):
        for i in range(n):                    # L y = p (unit diagonal)
            acc = out[k, i, c]
            for j in range(i):
                acc -= lu_[k, i, j] * out[k, j, c]
            out[k, i, c] = acc
        for i in range(n - 1, -1, -1):        # U x = y
            acc = out[k, i, c]
            for j in range(i + 1, n):
                acc -= lu_[k, i, j] * out[k, j, c]
            out[k, i, c] = acc / lu_[k, i, i]


def lu_det_job(lu_, piv, det, sign, logabs, k):
    """det, its sign and log|det| of matrix k: U's diagonal and the parity of the swaps."""
    n = lu_.shape[1]
    s = 1.0
    for i in range(n):
        if piv[k, i] != i:
            s = -s
    d0 = s
    prod = 1.0
    la = 0.0
    for i in range(n):
        d = lu_[k, i, i] * 1.0
        prod *= d
        s *= 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)
        la += math.log(abs(d)) if d != 0 else -math.inf
    det[k] = d0 * prod
    sign[k] = s
    logabs[k] = la


def sumlogdiag_job(a, out, k):
    """out[k] = sum_i log a[k, i, i] (nan for a negative entry, as log)."""
    acc = 0.0
    for i in range(a.shape[1]):
        d = a[k, i, i] * 1.0
        acc += math.log(d) if d > 0 else (-math.inf if d == 0 else math.nan)
    out[k] = acc


def gelqf_job(a, work, tau, q, l, k):
    """LQ of matrix k (m <= n) by Householder reflections, as LAPACK's gelqf (reflector i
    zeroes row i right of the diagonal, which becomes -sign(alpha) * norm) and orglq
    (q = the first m rows of H_{m-1} ... H_0). work keeps the reduced rows and reflector
    v_i's tail right of the diagonal (v_i[i] = 1)."""
    m, n = a.shape[1], a.shape[2]
    for i in range(m):
        for j in range(n):
            work[k, i, j] = a[k, i, j]
    for i in range(m):
        alpha = work[k, i, i] * 1.0
        xn = 0.0
        for j in range(i + 1, n):
            xn += work[k, i, j] * work[k, i, j]
        xn = math.sqrt(xn)
        t, beta, scl = 0.0, alpha, 0.0
        if xn != 0.0:
            beta = -math.copysign(math.hypot(alpha, xn), alpha)
            t = (beta - alpha) / beta
            scl = 1.0 / (alpha - beta)
        tau[k, i] = t
        for j in range(i + 1, n):
            work[k, i, j] *= scl
        work[k, i, i] = beta
        for r in range(i + 1, m):             # rows below: w_r -= t (w_r . v) v
            _reflect(work, k, r, work, i, t)
    for i in range(m):
        for j in range(m):
            l[k, i, j] = work[k, i, j] if j <= i else 0.0
        for j in range(n):
            q[k, i, j] = 1.0 if i == j else 0.0
    for i in range(m - 1, -1, -1):            # q = q H_i, from the last reflector back
        for r in range(m):
            _reflect(q, k, r, work, i, tau[k, i])


def _reflect(x, k, r, vs, i, t):
    """Row r of x[k] times H_i = I - t v v^T, v = (0.., 1 at i, vs[k, i, i+1:])."""
    n = x.shape[2]
    dot = x[k, r, i] * 1.0
    for j in range(i + 1, n):
        dot += x[k, r, j] * vs[k, i, j]
    dot *= t
    x[k, r, i] -= dot
    for j in range(i + 1, n):
        x[k, r, j] -= dot * vs[k, i, j]


def _rotate(m, k, p, q, c, s, rows):
    """Columns (rows: rows) p, q of m[k] rotated by (c, s)."""
    for r in range(m.shape[1]):
        if rows:
            x, y = m[k, p, r], m[k, q, r]
            m[k, p, r] = c * x - s * y
            m[k, q, r] = s * x + c * y
        else:
            x, y = m[k, r, p], m[k, r, q]
            m[k, r, p] = c * x - s * y
            m[k, r, q] = s * x + c * y


def syevd_job(a, w, v, u, lam, k):
    """Eigendecomposition of symmetric matrix k (its lower triangle) by cyclic Jacobi
    rotations on float64 scratch w (the matrix) and v (the rotations so far), until the
    off-diagonal part is negligible; then the eigenvalues sorted ascending into lam, the
    eigenvectors as the rows of u, each signed so its largest entry (the first of equals) is
    positive — MXNet's convention after LAPACK's syevd."""
    n = a.shape[1]
    total = 0.0
    for i in range(n):
        for j in range(n):
            w[k, i, j] = a[k, i, j] if j <= i else a[k, j, i]
            v[k, i, j] = 1.0 if i == j else 0.0
            total += w[k, i, j] * w[k, i, j]
    for sweep in range(100):
        off = 0.0
        for p in range(n):
            for q in range(p + 1, n):
                off += w[k, p, q] * w[k, p, q]
        if off <= 1e-30 * total:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = w[k, p, q]
                if apq == 0.0:
                    continue
                theta = (w[k, q, q] - w[k, p, p]) / (2.0 * apq)
                t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                if theta < 0:
                    t = -t
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                _rotate(w, k, p, q, c, s, False)     # w = P^T w P
                _rotate(w, k, p, q, c, s, True)
                _rotate(v, k, p, q, c, s, False)     # v = v P
    for i in range(n):                 # selection sort of the diagonal, with v's columns
        best = i
        for j in range(i + 1, n):
            if w[k, j, j] < w[k, best, best]:
                best = j
        if best != i:
            tmp = w[k, i, i]
            w[k, i, i] = w[k, best, best]
            w[k, best, best] = tmp
            _rotate(v, k, i, best, 0.0, -1.0, False)   # swap (one negated; signs fixed below)
        big = 0
        for r in range(1, n):
            if abs(v[k, r, i]) > abs(v[k, big, i]):
                big = r
        sgn = -1.0 if v[k, big, i] < 0 else 1.0
        for r in range(n):
            u[k, i, r] = sgn * v[k, r, i]
        lam[k, i] = w[k, i, i]


def syevd_mid_job(x, lam, glam, eps, out, k, i, j):
    """The middle factor of syevd's gradient (MXNet's): (x[i, j] - x[j, i]) /
    (2 max(lam[i] - lam[j], eps)) for i > j, mirrored, glam[i] on the diagonal; eps (1e-30
    in float32, 1e-100 in float64) keeps equal eigenvalues finite."""
    if i == j:
        out[k, i, j] = glam[k, i]
        return
    lo, hi = (i, j) if i > j else (j, i)
    d = max(lam[k, lo] - lam[k, hi], eps)
    out[k, i, j] = (x[k, lo, hi] - x[k, hi, lo]) / (2.0 * d)


def triangle_job(a, lower, alpha, accumulate, out, k, i, j):
    """out (+)= alpha * a on the lower (upper) triangle with the diagonal; elsewhere 0."""
    inside = j <= i if lower else j >= i
    v = alpha * a[k, i, j] if inside else 0.0
    if accumulate:
        out[k, i, j] += v
    else:
        out[k, i, j] = v


def diag_grad_job(a, g, accumulate, out, k, i, j):
    """sumlogdiag's gradient: g[k] / a[k, i, i] on the diagonal, 0 elsewhere."""
    v = g[k] / a[k, i, i] if i == j else 0.0
    if accumulate:
        out[k, i, j] += v
    else:
        out[k, i, j] = v


def scaled_transpose_job(a, s1, s2, gate, accumulate, out, k, i, j):
    """out[k] (+)= s1[k] * s2[k] * a[k].T, 0 where gate[k] == 0 (det's gradient
    g * det * inverse^T, none for a singular matrix as in MXNet)."""
    v = s1[k] * s2[k] * a[k, j, i] if gate[k] != 0 else 0.0
    if accumulate:
        out[k, i, j] += v
    else:
        out[k, i, j] = v


# every job a kernel runs, for kernels/cuda/linalg.py to compile as device functions
JOBS = {f.__name__: f for f in (gemm_job, trsm_job, potrf_job, lu_job, lu_inverse_job,
                                lu_det_job, sumlogdiag_job, gelqf_job, syevd_job,
                                syevd_mid_job, triangle_job, diag_grad_job,
                                scaled_transpose_job, _swap_rows, _reflect, _rotate)}

_cj = njit(cache=True)
_swap_rows, _reflect, _rotate = _cj(_swap_rows), _cj(_reflect), _cj(_rotate)
_gemm, _trsm, _potrf, _lu = _cj(gemm_job), _cj(trsm_job), _cj(potrf_job), _cj(lu_job)
_lu_inverse, _lu_det, _sumlogdiag = _cj(lu_inverse_job), _cj(lu_det_job), _cj(sumlogdiag_job)
_gelqf, _syevd, _syevd_mid = _cj(gelqf_job), _cj(syevd_job), _cj(syevd_mid_job)
_triangle, _diag_grad, _scaled_t = _cj(triangle_job), _cj(diag_grad_job), \
    _cj(scaled_transpose_job)


# -- the kernels: every job, the batch in parallel -------------------------------------------
@njit(cache=True, parallel=True)
def gemm(a, b, c, ta, tb, alpha, beta, out):
    """``out = alpha * op(a) @ op(b) + beta * c`` on 4-d (pre, r, mid, c) arrays."""
    pre, rows, mid, cols = out.shape
    for job in prange(pre * mid):
        for i in range(rows):
            for j in range(cols):
                _gemm(a, b, c, ta, tb, alpha, beta, out, job // mid, i, job % mid, j)


@njit(cache=True, parallel=True)
def trsm(a, b, transpose, rightside, lower, alpha, out):
    """Triangular solve: ``out = alpha * op(T)^-1 b`` (``rightside``: ``alpha * b op(T)^-1``),
    T the lower (upper) triangle of ``a``."""
    bsz, rows, cols = b.shape
    nvec = rows if rightside else cols
    for job in prange(bsz * nvec):
        _trsm(a, b, transpose, rightside, lower, alpha, out, job // nvec, job % nvec)


@njit(cache=True, parallel=True)
def potrf(a, out, info):
    """Cholesky factor (lower) of each matrix; ``info[k]`` 0 or 1 + the failing column."""
    for k in prange(a.shape[0]):
        _potrf(a, out, info, k)


@njit(cache=True, parallel=True)
def lu(a, out, piv):
    """LU with partial pivoting of each matrix, packed, with LAPACK's pivots."""
    for k in prange(a.shape[0]):
        _lu(a, out, piv, k)


@njit(cache=True, parallel=True)
def lu_inverse(lu_, piv, out):
    """The inverse of each matrix from its packed LU and pivots."""
    for k in prange(lu_.shape[0]):
        _lu_inverse(lu_, piv, out, k)


@njit(cache=True, parallel=True)
def lu_det(lu_, piv, det, sign, logabs):
    """Determinant, its sign and log|det| of each matrix from its packed LU and pivots."""
    for k in prange(lu_.shape[0]):
        _lu_det(lu_, piv, det, sign, logabs, k)


@njit(cache=True, parallel=True)
def sumlogdiag(a, out):
    """``out[k] = sum_i log a[k, i, i]``."""
    for k in prange(a.shape[0]):
        _sumlogdiag(a, out, k)


@njit(cache=True, parallel=True)
def gelqf(a, work, tau, q, l):
    """LQ factorisation ``a = l @ q`` of each matrix (``work``, ``tau``: scratch)."""
    for k in prange(a.shape[0]):
        _gelqf(a, work, tau, q, l, k)


@njit(cache=True, parallel=True)
def syevd(a, w, v, u, lam):
    """Eigenvectors (rows of ``u``) and ascending eigenvalues ``lam`` of symmetric matrices
    (``w``, ``v``: float64 scratch)."""
    for k in prange(a.shape[0]):
        _syevd(a, w, v, u, lam, k)


@njit(cache=True, parallel=True)
def syevd_mid(x, lam, glam, eps, out):
    """The middle factor of syevd's gradient (see ``syevd_mid_job``)."""
    bsz, n, _ = x.shape
    for k in prange(bsz):
        for i in range(n):
            for j in range(n):
                _syevd_mid(x, lam, glam, eps, out, k, i, j)


@njit(cache=True, parallel=True)
def triangle(a, lower, alpha, accumulate, out):
    """``out (+)= alpha * a`` on the lower (upper) triangle with the diagonal; elsewhere 0."""
    bsz, n, m = a.shape
    for k in prange(bsz):
        for i in range(n):
            for j in range(m):
                _triangle(a, lower, alpha, accumulate, out, k, i, j)


@njit(cache=True, parallel=True)
def lower_to_upper(a):
    """In place: the strict upper triangle becomes the mirror of the strict lower one."""
    bsz, n, _ = a.shape
    for k in prange(bsz):
        for i in range(n):
            for j in range(i + 1, n):
                a[k, i, j] = a[k, j, i]


@njit(cache=True, parallel=True)
def diag_grad(a, g, accumulate, out):
    """Gradient of sumlogdiag: ``g[k] / a[k, i, i]`` on the diagonal, 0 elsewhere."""
    bsz, n, _ = a.shape
    for k in prange(bsz):
        for i in range(n):
            for j in range(n):
                _diag_grad(a, g, accumulate, out, k, i, j)


@njit(cache=True, parallel=True)
def scaled_transpose(a, s1, s2, gate, accumulate, out):
    """``out[k] (+)= s1[k] * s2[k] * a[k].T``, 0 where ``gate[k] == 0``."""
    bsz, n, m = out.shape
    for k in prange(bsz):
        for i in range(n):
            for j in range(m):
                _scaled_t(a, s1, s2, gate, accumulate, out, k, i, j)


@njit(cache=True, parallel=True)
def axpy(x, alpha, accumulate, out):
    """``out (+)= alpha * x`` (1-d): how results and gradients are stored or added."""
    for i in prange(out.size):
        if accumulate:
            out[i] += alpha * x[i]
        else:
            out[i] = alpha * x[i]
