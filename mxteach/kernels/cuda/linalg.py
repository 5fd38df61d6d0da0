"""CUDA twins of ``kernels/cpu/linalg.py`` (same names, signatures and layouts).

Two grains of parallelism, chosen by what depends on what:

* one thread per **output element** where the elements are independent: ``gemm`` (a dot
  product each), ``triangle``, ``lower_to_upper``, ``diag_grad``, ``scaled_transpose``;
* one thread per **independent sequence** where each step needs the previous ones: one
  right-hand side of ``trsm`` (its substitution), one whole matrix of ``potrf``, ``lu``,
  ``lu_inverse``, ``lu_det``, ``sumlogdiag`` and ``gelqf``.

The factorisations are sequential per matrix, so a batch of many small matrices (the shape of
``linalg_*`` in Module models: per-sample covariances, small Gaussian-process kernels) is what
runs in parallel; one big matrix runs on one thread. All loops are grid-stride.
"""
from __future__ import annotations

import math

from numba import cuda

from .elemwise import store
from .launch import grid_1d, check_device_arrays

__all__ = ["gemm", "triangle", "lower_to_upper", "trsm", "potrf", "lu", "lu_inverse", "lu_det",
           "sumlogdiag", "diag_grad", "scaled_transpose", "gelqf", "axpy", "syevd",
           "syevd_mid"]

_M3 = "{t}[:, :, ::1]"
_M4 = "{t}[:, :, :, ::1]"
_I1, _I2 = "int64[::1]", "int64[:, ::1]"
# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_gemm_kernel": [f"{_M4}, {_M4}, {_M4}, boolean, boolean, float64, float64, {_M4}"],
    "_triangle_kernel": [f"{_M3}, boolean, float64, boolean, {_M3}"],
    "_lower_to_upper_kernel": [_M3],
    "_trsm_kernel": [f"{_M3}, {_M3}, boolean, boolean, boolean, float64, {_M3}"],
    "_potrf_kernel": [f"{_M3}, {_M3}, {_I1}"],
    "_lu_kernel": [f"{_M3}, {_M3}, {_I2}"],
    "_lu_inverse_kernel": [f"{_M3}, {_I2}, {_M3}"],
    "_lu_det_kernel": [f"{_M3}, {_I2}, {{t}}[::1], {{t}}[::1], {{t}}[::1]"],
    "_sumlogdiag_kernel": [f"{_M3}, {{t}}[::1]"],
    "_diag_grad_kernel": [f"{_M3}, {{t}}[::1], boolean, {_M3}"],
    "_scaled_transpose_kernel": [f"{_M3}, {{t}}[::1], {{t}}[::1], {{t}}[::1], boolean, {_M3}"],
    "_gelqf_kernel": [f"{_M3}, {_M3}, {{t}}[:, ::1], {_M3}, {_M3}"],
    "_axpy_kernel": ["{t}[::1], float64, boolean, {t}[::1]"],
    "_syevd_kernel": [f"{_M3}, float64[:, :, ::1], float64[:, :, ::1], {_M3}, {{t}}[:, ::1]"],
    "_syevd_mid_kernel": [f"{_M3}, {{t}}[:, ::1], {{t}}[:, ::1], float64, {_M3}"],
}


@cuda.jit
def _gemm_kernel(a, b, c, ta, tb, alpha, beta, out):
    pre, rows, mid, cols = out.shape
    inner = a.shape[1] if ta else a.shape[3]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        j = e % cols
        q = (e // cols) % mid
        i = (e // (cols * mid)) % rows
        p = e // (cols * mid * rows)
        acc = 0.0
        for k in range(inner):
            x = a[p, k, q, i] if ta else a[p, i, q, k]
            y = b[p, j, q, k] if tb else b[p, k, q, j]
            acc += x * y
        v = alpha * acc
        if beta != 0:
            v += beta * c[p, i, q, j]
        out[p, i, q, j] = v


@cuda.jit
def _triangle_kernel(a, lower, alpha, accumulate, out):
    bsz, n, m = a.shape
    for e in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        k, i, j = e // (n * m), (e // m) % n, e % m
        inside = j <= i if lower else j >= i
        store(out, (k, i, j), alpha * a[k, i, j] if inside else 0.0, accumulate)


@cuda.jit
def _lower_to_upper_kernel(a):
    bsz, n, _ = a.shape
    for e in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        k, i, j = e // (n * n), (e // n) % n, e % n
        if j > i:
            a[k, i, j] = a[k, j, i]


@cuda.jit
def _trsm_kernel(a, b, transpose, rightside, lower, alpha, out):
    bsz, rows, cols = b.shape
    n = a.shape[1]
    flip = transpose != rightside
    n_lower = lower != flip
    nvec = rows if rightside else cols
    for job in range(cuda.grid(1), bsz * nvec, cuda.gridsize(1)):
        k, v = job // nvec, job % nvec
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


@cuda.jit
def _potrf_kernel(a, out, info):
    bsz, n, _ = a.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
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


@cuda.jit
def _lu_kernel(a, out, piv):
    bsz, n, _ = a.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
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
                for j in range(n):
                    tmp = out[k, i, j]
                    out[k, i, j] = out[k, p, j]
                    out[k, p, j] = tmp
            d = out[k, i, i]
            if d != 0:
                for r in range(i + 1, n):
                    f = out[k, r, i] / d
                    out[k, r, i] = f
                    for j in range(i + 1, n):
                        out[k, r, j] -= f * out[k, i, j]


@cuda.jit
def _lu_inverse_kernel(lu_, piv, out):
    bsz, n, _ = lu_.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
        for i in range(n):
            for j in range(n):
                out[k, i, j] = 1.0 if i == j else 0.0
        for i in range(n):
            p = piv[k, i]
            if p != i:
                for j in range(n):
                    tmp = out[k, i, j]
                    out[k, i, j] = out[k, p, j]
                    out[k, p, j] = tmp
        for c in range(n):
            for i in range(n):
                acc = out[k, i, c]
                for j in range(i):
                    acc -= lu_[k, i, j] * out[k, j, c]
                out[k, i, c] = acc
            for i in range(n - 1, -1, -1):
                acc = out[k, i, c]
                for j in range(i + 1, n):
                    acc -= lu_[k, i, j] * out[k, j, c]
                out[k, i, c] = acc / lu_[k, i, i]


@cuda.jit
def _lu_det_kernel(lu_, piv, det, sign, logabs):
    bsz, n, _ = lu_.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
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


@cuda.jit
def _sumlogdiag_kernel(a, out):
    bsz, n, _ = a.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
        acc = 0.0
        for i in range(n):
            d = a[k, i, i] * 1.0
            acc += math.log(d) if d > 0 else (-math.inf if d == 0 else math.nan)
        out[k] = acc


@cuda.jit
def _diag_grad_kernel(a, g, accumulate, out):
    bsz, n, _ = a.shape
    for e in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        k, i, j = e // (n * n), (e // n) % n, e % n
        store(out, (k, i, j), g[k] / a[k, i, i] if i == j else 0.0, accumulate)


@cuda.jit
def _scaled_transpose_kernel(a, s1, s2, gate, accumulate, out):
    bsz, n, m = out.shape
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        k, i, j = e // (n * m), (e // m) % n, e % m
        store(out, (k, i, j), s1[k] * s2[k] * a[k, j, i] if gate[k] != 0 else 0.0, accumulate)


@cuda.jit
def _gelqf_kernel(a, work, tau, q, l):
    bsz, m, n = a.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
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
            for r in range(i + 1, m):
                dot = work[k, r, i] * 1.0
                for j in range(i + 1, n):
                    dot += work[k, r, j] * work[k, i, j]
                dot *= t
                work[k, r, i] -= dot
                for j in range(i + 1, n):
                    work[k, r, j] -= dot * work[k, i, j]
        for i in range(m):
            for j in range(m):
                l[k, i, j] = work[k, i, j] if j <= i else 0.0
            for j in range(n):
                q[k, i, j] = 1.0 if i == j else 0.0
        for i in range(m - 1, -1, -1):
            for r in range(m):
                dot = q[k, r, i] * 1.0
                for j in range(i + 1, n):
                    dot += q[k, r, j] * work[k, i, j]
                dot *= tau[k, i]
                q[k, r, i] -= dot
                for j in range(i + 1, n):
                    q[k, r, j] -= dot * work[k, i, j]


@cuda.jit
def _axpy_kernel(x, alpha, accumulate, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        store(out, i, alpha * x[i], accumulate)


@cuda.jit
def _syevd_kernel(a, w, v, u, lam):
    bsz, n, _ = a.shape
    for k in range(cuda.grid(1), bsz, cuda.gridsize(1)):
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
                    for r in range(n):
                        x, y = w[k, r, p], w[k, r, q]
                        w[k, r, p] = c * x - s * y
                        w[k, r, q] = s * x + c * y
                    for r in range(n):
                        x, y = w[k, p, r], w[k, q, r]
                        w[k, p, r] = c * x - s * y
                        w[k, q, r] = s * x + c * y
                    for r in range(n):
                        x, y = v[k, r, p], v[k, r, q]
                        v[k, r, p] = c * x - s * y
                        v[k, r, q] = s * x + c * y
        for i in range(n):
            best = i
            for j in range(i + 1, n):
                if w[k, j, j] < w[k, best, best]:
                    best = j
            if best != i:
                tmp = w[k, i, i]
                w[k, i, i] = w[k, best, best]
                w[k, best, best] = tmp
                for r in range(n):
                    tmp = v[k, r, i]
                    v[k, r, i] = v[k, r, best]
                    v[k, r, best] = tmp
            big = 0
            for r in range(1, n):
                if abs(v[k, r, i]) > abs(v[k, big, i]):
                    big = r
            sgn = -1.0 if v[k, big, i] < 0 else 1.0
            for r in range(n):
                u[k, i, r] = sgn * v[k, r, i]
            lam[k, i] = w[k, i, i]


@cuda.jit
def _syevd_mid_kernel(x, lam, glam, eps, out):
    bsz, n, _ = x.shape
    for e in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        k, i, j = e // (n * n), (e // n) % n, e % n
        if i == j:
            out[k, i, j] = glam[k, i]
        else:
            lo, hi = (i, j) if i > j else (j, i)
            d = max(lam[k, lo] - lam[k, hi], eps)
            out[k, i, j] = (x[k, lo, hi] - x[k, hi, lo]) / (2.0 * d)


# -- host launchers --------------------------------------------------------------------------
def _launch(kernel, n, *args, **arrays):
    check_device_arrays("linalg", **arrays)
    blocks, threads = grid_1d(n)
    kernel[blocks, threads](*args)


def gemm(a, b, c, ta, tb, alpha, beta, out):
    """``out = alpha * op(a) @ op(b) + beta * c`` on 4-d (pre, r, mid, c) device arrays."""
    _launch(_gemm_kernel, out.size, a, b, c, ta, tb, float(alpha), float(beta), out,
            a=a, b=b, c=c, out=out)


def triangle(a, lower, alpha, accumulate, out):
    """``out (+)= alpha * a`` on the lower (upper) triangle; elsewhere 0."""
    _launch(_triangle_kernel, a.size, a, lower, float(alpha), accumulate, out, a=a, out=out)


def lower_to_upper(a):
    """In place: the strict upper triangle becomes the mirror of the strict lower one."""
    _launch(_lower_to_upper_kernel, a.size, a, a=a)


def trsm(a, b, transpose, rightside, lower, alpha, out):
    """Triangular solve, one thread per right-hand side (see the CPU twin)."""
    nvec = b.shape[1] if rightside else b.shape[2]
    _launch(_trsm_kernel, b.shape[0] * nvec, a, b, transpose, rightside, lower, float(alpha),
            out, a=a, b=b, out=out)


def potrf(a, out, info):
    """Cholesky factor (lower) of each matrix; ``info`` as the CPU twin."""
    _launch(_potrf_kernel, a.shape[0], a, out, info, a=a, out=out, info=info)


def lu(a, out, piv):
    """LU with partial pivoting, packed, one thread per matrix."""
    _launch(_lu_kernel, a.shape[0], a, out, piv, a=a, out=out, piv=piv)


def lu_inverse(lu_, piv, out):
    """The inverse of each matrix from its packed LU and pivots."""
    _launch(_lu_inverse_kernel, lu_.shape[0], lu_, piv, out, lu_=lu_, piv=piv, out=out)


def lu_det(lu_, piv, det, sign, logabs):
    """Determinant, its sign and log|det| from the packed LU and pivots."""
    _launch(_lu_det_kernel, lu_.shape[0], lu_, piv, det, sign, logabs, lu_=lu_, piv=piv,
            det=det, sign=sign, logabs=logabs)


def sumlogdiag(a, out):
    """``out[k] = sum_i log a[k, i, i]``."""
    _launch(_sumlogdiag_kernel, a.shape[0], a, out, a=a, out=out)


def diag_grad(a, g, accumulate, out):
    """Gradient of sumlogdiag: ``g[k] / a[k, i, i]`` on the diagonal."""
    _launch(_diag_grad_kernel, a.size, a, g, accumulate, out, a=a, g=g, out=out)


def scaled_transpose(a, s1, s2, gate, accumulate, out):
    """``out[k] (+)= s1[k] * s2[k] * a[k].T``, 0 where ``gate[k] == 0``."""
    _launch(_scaled_transpose_kernel, out.size, a, s1, s2, gate, accumulate, out, a=a, s1=s1,
            s2=s2, gate=gate, out=out)


def gelqf(a, work, tau, q, l):
    """LQ factorisation by Householder reflections, one thread per matrix."""
    _launch(_gelqf_kernel, a.shape[0], a, work, tau, q, l, a=a, work=work, tau=tau, q=q, l=l)


def axpy(x, alpha, accumulate, out):
    """``out (+)= alpha * x`` (1-d device arrays)."""
    _launch(_axpy_kernel, out.size, x, float(alpha), accumulate, out, x=x, out=out)


def syevd(a, w, v, u, lam):
    """Symmetric eigendecomposition by Jacobi rotations, one thread per matrix (see the CPU
    twin; ``w``, ``v`` float64 scratch)."""
    _launch(_syevd_kernel, a.shape[0], a, w, v, u, lam, a=a, w=w, v=v, u=u, lam=lam)


def syevd_mid(x, lam, glam, eps, out):
    """The middle factor of syevd's gradient, one thread per element."""
    _launch(_syevd_mid_kernel, x.size, x, lam, glam, float(eps), out, x=x, lam=lam, glam=glam,
            out=out)
