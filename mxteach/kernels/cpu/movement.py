"""Numba CPU kernels of the movement family (``ops/movement.py``): every operator there moves
elements without computing on them (tile, repeat, flip, slice, Pad, depth_to_space, pick ...), so
one gather through an index map does each forward, and one scatter-add does each backward.

The index map (int64, one entry per output element) holds the flat position in the input that
the output element copies, or -1 for "no input element" (padding, the zeros of ``diag`` of a
vector), which the forward fills with a constant and the backward skips. numpy twins with the
same names and signatures: ``kernels/reference/movement.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["gather", "scatter_add"]


@njit(cache=True, parallel=True)
def gather(src, index, fill, out):
    """``out[i] = src[index[i]]``, or ``fill`` where ``index[i] < 0`` (all 1-D)."""
    for i in prange(index.size):
        j = index[i]
        out[i] = src[j] if j >= 0 else fill


@njit(cache=True)
def scatter_add(grad, index, accumulate, dst):
    """``dst[index[i]] += grad[i]`` for ``index[i] >= 0``; ``dst`` is zeroed first unless
    ``accumulate``. Serial: several outputs may copy one input (tile, broadcast_like), and their
    gradients must add up without races."""
    if not accumulate:
        for j in range(dst.size):
            dst[j] = 0
    for i in range(index.size):
        j = index[i]
        if j >= 0:
            dst[j] += grad[i]
