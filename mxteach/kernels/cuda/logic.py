"""CUDA twins of ``kernels/cpu/logic.py``: the binary map (one thread per output element) and
hypot's gradient, scattered with ``cuda.atomic.add`` because a broadcast operand element feeds
several outputs."""
from __future__ import annotations

import math

from numba import cuda

from .elemwise import fill as _fill
from .launch import grid_1d, check_device_arrays

__all__ = ["binary", "hypot_grad"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_binary_kernel": ["{t}[::1], {t}[::1], int64[::1], int64[::1], int64, {t}[::1]"],
    "_hypot_grad_kernel": ["{t}[::1], {t}[::1], {t}[::1], int64[::1], {t}[::1]"],
}
_AND, _OR, _XOR, _HYPOT = 0, 1, 2, 3


@cuda.jit
def _binary_kernel(a, b, ia, ib, code, out):
    for i in range(cuda.grid(1), ia.size, cuda.gridsize(1)):
        x = float(a[ia[i]])
        y = float(b[ib[i]])
        if code == _AND:
            r = 1.0 if (x != 0.0 and y != 0.0) else 0.0
        elif code == _OR:
            r = 1.0 if (x != 0.0 or y != 0.0) else 0.0
        elif code == _XOR:
            r = 1.0 if ((x != 0.0) != (y != 0.0)) else 0.0
        elif code == _HYPOT:
            r = math.sqrt(x * x + y * y)
        else:
            r = 1.0 if x == 0.0 else 0.0
        out[i] = r


@cuda.jit
def _hypot_grad_kernel(g, x, o, ix, dx):
    for i in range(cuda.grid(1), ix.size, cuda.gridsize(1)):
        j = ix[i]
        cuda.atomic.add(dx, j, g[i] * x[j] / o[i])


def binary(a, b, ia, ib, code, out):
    """Device twin of ``kernels/cpu/logic.py:binary`` (1-D device arrays)."""
    check_device_arrays("binary", a=a, b=b, ia=ia, ib=ib, out=out)
    blocks, threads = grid_1d(ia.size)
    _binary_kernel[blocks, threads](a, b, ia, ib, code, out)


def hypot_grad(g, x, o, ix, accumulate, dx):
    """Device twin of ``kernels/cpu/logic.py:hypot_grad``."""
    check_device_arrays("hypot_grad", g=g, x=x, o=o, ix=ix, dx=dx)
    if not accumulate:
        _fill(dx, 0)
    blocks, threads = grid_1d(ix.size)
    _hypot_grad_kernel[blocks, threads](g, x, o, ix, dx)
