"""CUDA twins of ``kernels/cpu/linalg.py`` (same names, signatures and layouts).

The algorithms are not written again: each kernel here runs the CPU module's ``*_job``
functions (``JOBS``), compiled as CUDA device functions, one thread per job. Two grains of
parallelism follow from what the jobs are:

* one thread per **output element** where the elements are independent: ``gemm`` (a dot
  product each), ``triangle``, ``lower_to_upper``, ``diag_grad``, ``scaled_transpose``,
  ``syevd_mid``, ``axpy``;
* one thread per **independent sequence** where each step needs the previous ones: one
  right-hand side of ``trsm``, one whole matrix of ``potrf``, ``lu``, ``lu_inverse``,
  ``lu_det``, ``sumlogdiag``, ``gelqf`` and ``syevd``.

The factorisations are sequential per matrix, so a batch of many small matrices (the shape of
``linalg_*`` in Module models: per-sample covariances, small Gaussian-process kernels) is what
runs in parallel; one big matrix runs on one thread. All loops are grid-stride.
"""
from __future__ import annotations

import types

from numba import cuda

from .elemwise import store
from .launch import grid_1d, check_device_arrays
from ..cpu.linalg import JOBS

__all__ = ["gemm", "triangle", "lower_to_upper", "trsm", "potrf", "lu", "lu_inverse", "lu_det",
           "sumlogdiag", "diag_grad", "scaled_transpose", "gelqf", "axpy", "syevd",
           "syevd_mid"]


def _device_functions():
    """The CPU jobs as CUDA device functions. A job calls small helpers (``_swap_rows`` ...)
    by global name; on the GPU those names must mean the helpers' device versions, so each
    job is rebuilt over a copy of its globals where they do."""
    helpers = {n: cuda.jit(device=True)(f) for n, f in JOBS.items() if n.startswith("_")}
    out = {}
    for name, f in JOBS.items():
        if name.startswith("_"):
            continue
        scope = dict(f.__globals__, **helpers)
        out[name] = cuda.jit(device=True)(types.FunctionType(f.__code__, scope, name))
    return out


_D = _device_functions()
_gemm, _trsm, _potrf, _lu = _D["gemm_job"], _D["trsm_job"], _D["potrf_job"], _D["lu_job"]
_lu_inverse, _lu_det, _sumlogdiag = _D["lu_inverse_job"], _D["lu_det_job"], _D["sumlogdiag_job"]
_gelqf, _syevd, _syevd_mid = _D["gelqf_job"], _D["syevd_job"], _D["syevd_mid_job"]
_triangle, _diag_grad, _scaled_t = _D["triangle_job"], _D["diag_grad_job"], \
    _D["scaled_transpose_job"]

_M3 = "{t}[:, :, ::1]"
_M4 = "{t}[:, :, :, ::1]"
_I1, _I2 = "int64[::1]", "int64[:, ::1]"
_F3 = "float64[:, :, ::1]"
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
    "_syevd_kernel": [f"{_M3}, {_F3}, {_F3}, {_M3}, {{t}}[:, ::1]"],
    "_syevd_mid_kernel": [f"{_M3}, {{t}}[:, ::1], {{t}}[:, ::1], float64, {_M3}"],
    "_axpy_kernel": ["{t}[::1], float64, boolean, {t}[::1]"],
}


# -- one thread per output element -----------------------------------------------------------
@cuda.jit
def _gemm_kernel(a, b, c, ta, tb, alpha, beta, out):
    pre, rows, mid, cols = out.shape
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        _gemm(a, b, c, ta, tb, alpha, beta, out, e // (cols * mid * rows),
              (e // (cols * mid)) % rows, (e // cols) % mid, e % cols)


@cuda.jit
def _triangle_kernel(a, lower, alpha, accumulate, out):
    bsz, n, m = a.shape
    for e in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        _triangle(a, lower, alpha, accumulate, out, e // (n * m), (e // m) % n, e % m)


@cuda.jit
def _lower_to_upper_kernel(a):
    bsz, n, _ = a.shape
    for e in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        k, i, j = e // (n * n), (e // n) % n, e % n
        if j > i:
            a[k, i, j] = a[k, j, i]


@cuda.jit
def _diag_grad_kernel(a, g, accumulate, out):
    bsz, n, _ = a.shape
    for e in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        _diag_grad(a, g, accumulate, out, e // (n * n), (e // n) % n, e % n)


@cuda.jit
def _scaled_transpose_kernel(a, s1, s2, gate, accumulate, out):
    bsz, n, m = out.shape
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        _scaled_t(a, s1, s2, gate, accumulate, out, e // (n * m), (e // m) % n, e % m)


@cuda.jit
def _syevd_mid_kernel(x, lam, glam, eps, out):
    bsz, n, _ = x.shape
    for e in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        _syevd_mid(x, lam, glam, eps, out, e // (n * n), (e // n) % n, e % n)


@cuda.jit
def _axpy_kernel(x, alpha, accumulate, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        store(out, i, alpha * x[i], accumulate)


# -- one thread per right-hand side or per matrix --------------------------------------------
@cuda.jit
def _trsm_kernel(a, b, transpose, rightside, lower, alpha, out):
    bsz, rows, cols = b.shape
    nvec = rows if rightside else cols
    for job in range(cuda.grid(1), bsz * nvec, cuda.gridsize(1)):
        _trsm(a, b, transpose, rightside, lower, alpha, out, job // nvec, job % nvec)


@cuda.jit
def _potrf_kernel(a, out, info):
    for k in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        _potrf(a, out, info, k)


@cuda.jit
def _lu_kernel(a, out, piv):
    for k in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        _lu(a, out, piv, k)


@cuda.jit
def _lu_inverse_kernel(lu_, piv, out):
    for k in range(cuda.grid(1), lu_.shape[0], cuda.gridsize(1)):
        _lu_inverse(lu_, piv, out, k)


@cuda.jit
def _lu_det_kernel(lu_, piv, det, sign, logabs):
    for k in range(cuda.grid(1), lu_.shape[0], cuda.gridsize(1)):
        _lu_det(lu_, piv, det, sign, logabs, k)


@cuda.jit
def _sumlogdiag_kernel(a, out):
    for k in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        _sumlogdiag(a, out, k)


@cuda.jit
def _gelqf_kernel(a, work, tau, q, l):
    for k in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        _gelqf(a, work, tau, q, l, k)


@cuda.jit
def _syevd_kernel(a, w, v, u, lam):
    for k in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        _syevd(a, w, v, u, lam, k)


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


def syevd(a, w, v, u, lam):
    """Symmetric eigendecomposition by Jacobi rotations, one thread per matrix (``w``, ``v``
    float64 scratch)."""
    _launch(_syevd_kernel, a.shape[0], a, w, v, u, lam, a=a, w=w, v=v, u=u, lam=lam)


def syevd_mid(x, lam, glam, eps, out):
    """The middle factor of syevd's gradient, one thread per element."""
    _launch(_syevd_mid_kernel, x.size, x, lam, glam, float(eps), out, x=x, lam=lam, glam=glam,
            out=out)


def axpy(x, alpha, accumulate, out):
    """``out (+)= alpha * x`` (1-d device arrays)."""
    _launch(_axpy_kernel, out.size, x, float(alpha), accumulate, out, x=x, out=out)
