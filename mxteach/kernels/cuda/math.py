"""CUDA kernels of the unary math operators (``ops/math.py``): one thread per element, the
function picked by its code in ``kernels/cpu/math.py:CODES``."""
from __future__ import annotations

from numba import cuda

from ..cpu.math import CODES, scalar_f, scalar_df
from .launch import grid_1d, check_device_arrays

__all__ = ["CODES", "unary_forward", "unary_backward"]

# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: float32 and float64)
PTX_SIGNATURES = {
    "_forward_kernel": ["{t}[::1], {t}[::1], float64, float64, int64"],
    "_backward_kernel": ["{t}[::1], {t}[::1], {t}[::1], {t}[::1], float64, float64, int64, "
                         "boolean"],
}

# the formulas of kernels/cpu/math.py, compiled as device functions
_f = cuda.jit(device=True)(scalar_f)
_df = cuda.jit(device=True)(scalar_df)


@cuda.jit
def _forward_kernel(x, out, s, t, code):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):   # grid-stride: capped grids
        out[i] = _f(x[i], s, t, code)


@cuda.jit
def _backward_kernel(x, y, g, out, s, t, code, accumulate):
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        d = g[i] * _df(x[i], y[i], s, t, code)
        out[i] = out[i] + d if accumulate else d


def unary_forward(x, out, name, s=0.0, t=0.0):
    """``out = f(x)`` on flat device arrays; ``name`` is a key of ``CODES``."""
    check_device_arrays(name, x=x, out=out)
    blocks, threads = grid_1d(x.size)
    _forward_kernel[blocks, threads](x, out, float(s), float(t), CODES[name])


def unary_backward(x, y, g, out, name, accumulate, s=0.0, t=0.0):
    """``out (+)= g * f'(x)`` on flat device arrays."""
    check_device_arrays(name, x=x, y=y, g=g, out=out)
    blocks, threads = grid_1d(x.size)
    _backward_kernel[blocks, threads](x, y, g, out, float(s), float(t), CODES[name],
                                      bool(accumulate))
