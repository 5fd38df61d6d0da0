"""CUDA twins of ``kernels/cpu/reduce_extra.py``: one thread per output element walks its
row ``x[base[m] + offs[:]]`` (grid-stride). Each input belongs to one output, so the gradient
kernels write without atomics. Sums and products accumulate in float64, as on the CPU."""
from __future__ import annotations

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["reduce_rows", "reduce_grad", "moments", "moments_grad"]

_IDX = "int64[::1], int64[::1]"
# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_reduce_kernel": [f"{{t}}[::1], {_IDX}, int64, {{t}}[::1]"],
    "_reduce_grad_kernel": [f"{{t}}[::1], {{t}}[::1], {{t}}[::1], {_IDX}, int64, boolean, "
                            "{t}[::1]"],
    "_moments_kernel": [f"{{t}}[::1], {_IDX}, {{t}}[::1], {{t}}[::1]"],
    "_moments_grad_kernel": [f"{{t}}[::1], {{t}}[::1], {{t}}[::1], {{t}}[::1], {_IDX}, "
                             "boolean, {t}[::1]"],
}
_NANSUM, _PROD = 1, 0


@cuda.jit
def _reduce_kernel(x, base, offs, kind, out):
    for m in range(cuda.grid(1), base.size, cuda.gridsize(1)):
        acc = 0.0 if kind == _NANSUM else 1.0
        for k in range(offs.size):
            v = float(x[base[m] + offs[k]])
            if kind == _PROD:
                acc *= v
            elif v == v:
                if kind == _NANSUM:
                    acc += v
                else:
                    acc *= v
        out[m] = acc


@cuda.jit
def _reduce_grad_kernel(g, x, out, base, offs, kind, accumulate, dx):
    for m in range(cuda.grid(1), base.size, cuda.gridsize(1)):
        for k in range(offs.size):
            j = base[m] + offs[k]
            v = float(x[j])
            if kind != _PROD and v != v:
                d = 0.0
            elif kind == _NANSUM:
                d = 1.0
            else:                 # array elements, not Python floats: the simulator's x / 0
                d = out[m] / x[j]     # must give inf/NaN as a GPU does, not ZeroDivisionError
            val = g[m] * d
            if accumulate:
                dx[j] += val
            else:
                dx[j] = val


@cuda.jit
def _moments_kernel(x, base, offs, mean, var):
    n = offs.size
    for m in range(cuda.grid(1), base.size, cuda.gridsize(1)):
        s = 0.0
        for k in range(n):
            s += x[base[m] + offs[k]]
        mu = s / n
        s2 = 0.0
        for k in range(n):
            d = x[base[m] + offs[k]] - mu
            s2 += d * d
        mean[m] = mu
        var[m] = s2 / n


@cuda.jit
def _moments_grad_kernel(gmean, gvar, x, mean, base, offs, accumulate, dx):
    n = offs.size
    for m in range(cuda.grid(1), base.size, cuda.gridsize(1)):
        for k in range(n):
            j = base[m] + offs[k]
            val = gmean[m] / n + gvar[m] * 2.0 * (x[j] - mean[m]) / n
            if accumulate:
                dx[j] += val
            else:
                dx[j] = val


def reduce_rows(x, base, offs, kind, out):
    """Device twin of ``kernels/cpu/reduce_extra.py:reduce_rows`` (1-D device arrays)."""
    check_device_arrays("reduce_rows", x=x, base=base, offs=offs, out=out)
    blocks, threads = grid_1d(base.size)
    _reduce_kernel[blocks, threads](x, base, offs, kind, out)


def reduce_grad(g, x, out, base, offs, kind, accumulate, dx):
    """Device twin of ``kernels/cpu/reduce_extra.py:reduce_grad``."""
    check_device_arrays("reduce_grad", g=g, x=x, out=out, base=base, offs=offs, dx=dx)
    blocks, threads = grid_1d(base.size)
    _reduce_grad_kernel[blocks, threads](g, x, out, base, offs, kind, accumulate, dx)


def moments(x, base, offs, mean, var):
    """Device twin of ``kernels/cpu/reduce_extra.py:moments``."""
    check_device_arrays("moments", x=x, base=base, offs=offs, mean=mean, var=var)
    blocks, threads = grid_1d(base.size)
    _moments_kernel[blocks, threads](x, base, offs, mean, var)


def moments_grad(gmean, gvar, x, mean, base, offs, accumulate, dx):
    """Device twin of ``kernels/cpu/reduce_extra.py:moments_grad``."""
    check_device_arrays("moments_grad", gmean=gmean, gvar=gvar, x=x, mean=mean, base=base,
                        offs=offs, dx=dx)
    blocks, threads = grid_1d(base.size)
    _moments_grad_kernel[blocks, threads](gmean, gvar, x, mean, base, offs, accumulate, dx)
