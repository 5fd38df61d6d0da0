"""CUDA twins of ``kernels/cpu/movement.py``: the gather through an index map (one thread per
output element) and its scatter-add gradient (one thread per output-gradient element, with
``cuda.atomic.add`` because several outputs may copy the same input element: tile, repeat,
broadcast_like, edge padding)."""
from __future__ import annotations

from numba import cuda

from .elemwise import fill as _fill
from .launch import grid_1d, check_device_arrays

__all__ = ["gather", "scatter_add"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_gather_kernel": ["{t}[::1], int64[::1], {t}, {t}[::1]"],
    "_scatter_add_kernel": ["{t}[::1], int64[::1], {t}[::1]"],
}


@cuda.jit
def _gather_kernel(src, index, fill, out):
    for i in range(cuda.grid(1), index.size, cuda.gridsize(1)):
        j = index[i]
        out[i] = src[j] if j >= 0 else fill


@cuda.jit
def _scatter_add_kernel(grad, index, dst):
    for i in range(cuda.grid(1), index.size, cuda.gridsize(1)):
        j = index[i]
        if j >= 0:
            cuda.atomic.add(dst, j, grad[i])


def gather(src, index, fill, out):
    """``out[i] = src[index[i]]`` or ``fill`` where ``index[i] < 0`` (1-D device arrays)."""
    check_device_arrays("gather", src=src, index=index, out=out)
    blocks, threads = grid_1d(index.size)
    _gather_kernel[blocks, threads](src, index, out.dtype.type(fill), out)


def scatter_add(grad, index, accumulate, dst):
    """``dst[index[i]] += grad[i]`` for ``index[i] >= 0`` (``dst`` zeroed unless
    ``accumulate``)."""
    check_device_arrays("scatter_add", grad=grad, index=index, dst=dst)
    if not accumulate:
        _fill(dst, 0)
    blocks, threads = grid_1d(index.size)
    _scatter_add_kernel[blocks, threads](grad, index, dst)
