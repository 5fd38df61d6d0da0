"""CUDA twins of ``kernels/cpu/creation.py``: one thread per output element for the ramps and
``eye``; for the finiteness flag every thread that meets an inf or a NaN writes 0 to the same
place (all write the same value, so the race is harmless)."""
from __future__ import annotations

import math

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["ramp", "eye", "all_finite"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_ramp_kernel": ["float64, float64, int64, {t}[::1]"],
    "_eye_kernel": ["int64, {t}[:, ::1]"],
    "_all_finite_kernel": ["{t}[::1], float32[::1]"],
}


@cuda.jit
def _ramp_kernel(start, step, repeat, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = start + (i // repeat) * step


@cuda.jit
def _eye_kernel(k, out):
    cols = out.shape[1]
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        r = i // cols
        c = i - r * cols
        out[r, c] = 1 if c - r == k else 0


@cuda.jit
def _all_finite_kernel(x, out):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        if not math.isfinite(x[i]):
            out[0] = 0


def ramp(start, step, repeat, out):
    """Device twin of ``kernels/cpu/creation.py:ramp`` (1-D device array)."""
    check_device_arrays("ramp", out=out)
    blocks, threads = grid_1d(out.size)
    _ramp_kernel[blocks, threads](float(start), float(step), int(repeat), out)


def eye(k, out):
    """Device twin of ``kernels/cpu/creation.py:eye`` (2-D device array)."""
    check_device_arrays("eye", out=out)
    blocks, threads = grid_1d(out.size)
    _eye_kernel[blocks, threads](int(k), out)


def all_finite(x, out):
    """Device twin of ``kernels/cpu/creation.py:all_finite``."""
    check_device_arrays("all_finite", x=x, out=out)
    blocks, threads = grid_1d(x.size)
    _all_finite_kernel[blocks, threads](x, out)
