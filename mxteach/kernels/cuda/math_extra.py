"""CUDA kernels of the math_extra operators (``ops/math_extra.py``): one thread per element
for the elementwise functions (the formulas of ``kernels/cpu/math_extra.py``, picked by their
code), arange_like and index_array; allclose clears a flag where a pair differs."""
from __future__ import annotations

import numpy as np
from numba import cuda

from ..cpu.math_extra import CODES, scalar_f, scalar_df
from .launch import grid_1d, check_device_arrays

__all__ = ["CODES", "unary_forward", "unary_backward", "arange_like", "index_array",
           "allclose"]

# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: float32 and float64)
PTX_SIGNATURES = {
    "_forward_kernel": ["{t}[::1], {t}[::1], float64, float64, float64, int64"],
    "_backward_kernel": ["{t}[::1], {t}[::1], {t}[::1], {t}[::1], float64, float64, float64, "
                         "int64, boolean"],
    "_arange_kernel": ["{t}[::1], float64, float64, int64"],
    "_index_kernel": ["int64[::1], int64[::1], int64[:, ::1]"],
    "_allclose_kernel": ["{t}[::1], {t}[::1], float64, float64, boolean, uint8[::1]"],
}

_f = cuda.jit(device=True)(scalar_f)
_df = cuda.jit(device=True)(scalar_df)


@cuda.jit
def _forward_kernel(x, out, s, t, u, code):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):   # grid-stride: capped grids
        out[i] = _f(x[i], s, t, u, code)


@cuda.jit
def _backward_kernel(x, y, g, out, s, t, u, code, accumulate):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        d = g[i] * _df(x[i], y[i], s, t, u, code)
        out[i] = out[i] + d if accumulate else d


@cuda.jit
def _arange_kernel(out, start, step, repeat):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = start + step * (i // repeat)


@cuda.jit
def _index_kernel(shape, axes, out2):
    for i in range(cuda.grid(1), out2.shape[0], cuda.gridsize(1)):
        for k in range(axes.size):
            inner = 1
            for d in range(axes[k] + 1, shape.size):
                inner *= shape[d]
            out2[i, k] = (i // inner) % shape[axes[k]]


@cuda.jit
def _allclose_kernel(a, b, rtol, atol, equal_nan, flag):
    # flag[0] starts at 1; any thread that finds a differing pair writes 0 (every writer
    # writes the same value, so the race is harmless)
    for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        x, y = a[i], b[i]
        if x != x or y != y:
            if not (equal_nan and x != x and y != y):
                flag[0] = 0
        elif x != y and not abs(x - y) <= atol + rtol * abs(y):
            flag[0] = 0


def unary_forward(x, out, name, s=0.0, t=0.0, u=0.0):
    """``out = f(x)`` on flat device arrays; ``name`` is a key of ``CODES``."""
    check_device_arrays(name, x=x, out=out)
    blocks, threads = grid_1d(x.size)
    _forward_kernel[blocks, threads](x, out, float(s), float(t), float(u), CODES[name])


def unary_backward(x, y, g, out, name, accumulate, s=0.0, t=0.0, u=0.0):
    """``out (+)= g * f'(x)`` on flat device arrays."""
    check_device_arrays(name, x=x, y=y, g=g, out=out)
    blocks, threads = grid_1d(x.size)
    _backward_kernel[blocks, threads](x, y, g, out, float(s), float(t), float(u), CODES[name],
                                      bool(accumulate))


def arange_like(out, start, step, repeat):
    """``out[i] = start + step * (i // repeat)`` on a flat device array."""
    check_device_arrays("arange_like", out=out)
    blocks, threads = grid_1d(out.size)
    _arange_kernel[blocks, threads](out, float(start), float(step), int(repeat))


def index_array(shape, axes, out2):
    """Row i of ``out2``: element i's index along each of ``axes`` (int64 device arrays)."""
    check_device_arrays("index_array", shape=shape, axes=axes, out2=out2)
    blocks, threads = grid_1d(out2.shape[0])
    _index_kernel[blocks, threads](shape, axes, out2)


def allclose(a, b, rtol, atol, equal_nan, flag):
    """``flag[0]`` (uint8, length 1) = 1 if every pair of ``a``, ``b`` is close, else 0."""
    check_device_arrays("allclose", a=a, b=b, flag=flag)
    flag.copy_to_device(np.ones(1, np.uint8))
    blocks, threads = grid_1d(a.size)
    _allclose_kernel[blocks, threads](a, b, float(rtol), float(atol), bool(equal_nan), flag)
