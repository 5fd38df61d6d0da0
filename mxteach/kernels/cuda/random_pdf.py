"""CUDA twins of ``kernels/cpu/random_pdf.py``: the ``random_pdf_*`` densities on the layout
described there (``N`` parameter sets of ``M`` samples; Dirichlet rows of ``k`` components),
numpy twins in ``kernels/reference/random_pdf.py``.

**Launch strategy.** The forward is one thread per sample. The backward is one thread per
*parameter set* (per ``(set, component)`` for Dirichlet): the thread walks the set's ``M``
samples, writes their sample gradients and sums the parameter gradient itself, so no two
threads write one sum (no atomics, deterministic). The formulas (``_lpdf``, ``_dlpdf``,
``digamma``) are the CPU module's own functions compiled for the device.
"""
from __future__ import annotations

import math

from numba import cuda

from ..cpu import random_pdf as _cpu
from .launch import grid_1d, check_device_arrays

__all__ = ["pdf_forward", "pdf_backward", "dirichlet_forward", "dirichlet_backward"]

_V = "{t}[::1]"
_M = "{t}[:, ::1]"
PTX_SIGNATURES = {
    "_pdf_forward_kernel": [f"int64, {_V}, {_V}, {_V}, int64, boolean, {_V}"],
    "_pdf_backward_kernel": [f"int64, {_V}, {_V}, {_V}, {_V}, {_V}, int64, boolean, {_V}, "
                             f"int64, {_V}, int64, {_V}, int64"],
    "_dirichlet_forward_kernel": [f"{_M}, {_M}, int64, boolean, {_V}"],
    "_dirichlet_backward_kernel": [f"{_M}, {_M}, {_V}, {_V}, int64, boolean, {_M}, int64, "
                                   f"{_M}, int64"],
}

# the log-densities, their derivatives and digamma are the CPU module's functions, compiled for
# the device
_lpdf = cuda.jit(device=True)(_cpu._lpdf.py_func)
_dlpdf = cuda.jit(device=True)(_cpu._dlpdf.py_func)
_digamma = cuda.jit(device=True)(_cpu.digamma.py_func)
_put = cuda.jit(device=True)(_cpu._put.py_func)


# Not folded with the CPU kernels: these read every value as float64 first (``float(x[i])``),
# where the CPU kernels compute in the arrays' dtype; sharing one body would change one side's
# float32 numbers.
@cuda.jit
def _pdf_forward_kernel(code, x, p1, p2, M, is_log, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, x.size, stride):
        n = i // M
        lp = _lpdf(code, float(x[i]), float(p1[n]), float(p2[n]))
        out[i] = lp if is_log else math.exp(lp)


@cuda.jit
def _pdf_backward_kernel(code, x, p1, p2, out, dy, M, is_log, gx, mode_x, g1, mode_1, g2,
                         mode_2):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for n in range(start, p1.size, stride):
        s1 = 0.0
        s2 = 0.0
        for i in range(n * M, (n + 1) * M):
            scale = float(dy[i]) if is_log else float(dy[i]) * float(out[i])
            dx, da, db = _dlpdf(code, float(x[i]), float(p1[n]), float(p2[n]))
            s1 += scale * da
            s2 += scale * db
            _put(gx, i, mode_x, scale * dx)
        _put(g1, n, mode_1, s1)
        _put(g2, n, mode_2, s2)


@cuda.jit
def _dirichlet_forward_kernel(x, alpha, M, is_log, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    k = x.shape[1]
    for i in range(start, x.shape[0], stride):
        n = i // M
        s_alpha = 0.0
        s_lgamma = 0.0
        s_x = 0.0
        for j in range(k):
            a = float(alpha[n, j])
            s_alpha += a
            s_lgamma += math.lgamma(a)
            s_x += (a - 1.0) * math.log(float(x[i, j]))
        lp = s_x + math.lgamma(s_alpha) - s_lgamma
        out[i] = lp if is_log else math.exp(lp)


@cuda.jit
def _dirichlet_backward_kernel(x, alpha, out, dy, M, is_log, gx, mode_x, ga, mode_a):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    k = x.shape[1]
    for t in range(start, alpha.shape[0] * k, stride):
        n, j = t // k, t % k
        s_alpha = 0.0
        for c in range(k):
            s_alpha += float(alpha[n, c])
        a = float(alpha[n, j])
        psi = _digamma(s_alpha) - _digamma(a)
        acc = 0.0
        for i in range(n * M, (n + 1) * M):
            scale = float(dy[i]) if is_log else float(dy[i]) * float(out[i])
            xv = float(x[i, j])
            acc += scale * (math.log(xv) + psi)
            _put(gx, (i, j), mode_x, scale * (a - 1.0) / xv)
        _put(ga, (n, j), mode_a, acc)


def pdf_forward(code, x, p1, p2, M, is_log, out):
    """Launch the scalar-distribution forward (device arrays, flat)."""
    check_device_arrays("random_pdf", x=x, p1=p1, p2=p2, out=out)
    _pdf_forward_kernel[grid_1d(x.size)](code, x, p1, p2, M, is_log, out)


def pdf_backward(code, x, p1, p2, out, dy, M, is_log, gx, mode_x, g1, mode_1, g2, mode_2):
    """Launch the scalar-distribution backward; an unused gradient gets any array, mode 0."""
    check_device_arrays("random_pdf", x=x, p1=p1, p2=p2, out=out, dy=dy, gx=gx, g1=g1,
                        g2=g2)
    _pdf_backward_kernel[grid_1d(p1.size)](code, x, p1, p2, out, dy, M, is_log, gx, mode_x,
                                           g1, mode_1, g2, mode_2)


def dirichlet_forward(x, alpha, M, is_log, out):
    """Launch the Dirichlet forward: x (N * M, k), alpha (N, k), out (N * M,)."""
    check_device_arrays("random_pdf_dirichlet", x=x, alpha=alpha, out=out)
    _dirichlet_forward_kernel[grid_1d(x.shape[0])](x, alpha, M, is_log, out)


def dirichlet_backward(x, alpha, out, dy, M, is_log, gx, mode_x, ga, mode_a):
    """Launch the Dirichlet backward (one thread per alpha entry)."""
    check_device_arrays("random_pdf_dirichlet", x=x, alpha=alpha, out=out, dy=dy, gx=gx,
                        ga=ga)
    _dirichlet_backward_kernel[grid_1d(alpha.size)](x, alpha, out, dy, M, is_log, gx, mode_x,
                                                    ga, mode_a)
