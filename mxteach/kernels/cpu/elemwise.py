"""Numba CPU kernels for the elementwise operator family (``ops/elemwise.py``, ``ops/reduce.py``).

Plain arithmetic runs as numpy ufuncs with ``out=`` (already vectorised C); the kernels here are
the fused or branchy pieces: summing a broadcast gradient back to an input's shape, clip, and the
maximum/minimum gradient masks. Every kernel works on flat (1-D, contiguous) arrays of float32 or
float64 and has a numpy twin with the same signature in ``kernels/reference/elemwise.py``.

Set ``NUMBA_DISABLE_JIT=1`` to step through these functions in a debugger as plain Python.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["sum_to_shape", "clip_forward", "clip_backward", "maxmin_backward",
           "broadcast_strides", "BINARY_CODES"]

# The verb codes of the CUDA binary kernels (``kernels/cuda/elemwise.py``). They live in this
# CUDA-free file so the operators can tell which verbs have a GPU kernel without loading
# numba.cuda, as ``ACT_CODES`` in ``kernels/cpu/nn.py`` does for the activations.
BINARY_CODES = {"add": 0, "sub": 1, "mul": 2, "div": 3}


def broadcast_strides(big_shape, small_shape):
    """Element strides of ``small_shape`` seen from ``big_shape``: 0 on broadcast axes.

    ``small_shape`` is aligned to the right of ``big_shape`` (numpy/MXNet broadcasting), so a
    (3,) array inside a (2, 3) one has strides (0, 1).
    """
    nd = len(big_shape)
    small = (1,) * (nd - len(small_shape)) + tuple(small_shape)
    strides = [0] * nd
    step = 1
    for k in range(nd - 1, -1, -1):
        if small[k] != 1:
            strides[k] = step
        step *= small[k]
    return np.asarray(big_shape, dtype=np.int64), np.asarray(strides, dtype=np.int64)


@njit(cache=True)
def sum_to_shape(g, g_shape, t_strides, out):
    """Accumulate ``g`` (flat, logical shape ``g_shape``) into ``out`` (flat) so that element
    ``idx`` of g lands at offset ``sum(idx * t_strides)``: the gradient of a broadcast is the sum
    over the broadcast axes. ``out`` is added to, so zero it first for a plain write.

    The multi-index is kept as a counter (odometer) so each element costs O(1) on average.
    """
    nd = g_shape.shape[0]
    idx = np.zeros(nd, np.int64)
    off = 0
    for i in range(g.shape[0]):
        out[off] += g[i]
        k = nd - 1
        while k >= 0:
            idx[k] += 1
            off += t_strides[k]
            if idx[k] < g_shape[k]:
                break
            off -= t_strides[k] * g_shape[k]
            idx[k] = 0
            k -= 1


@njit(cache=True)
def clip_forward(x, a_min, a_max, out):
    """MXNet's clip: values above ``a_max`` become ``a_max``, then values below ``a_min`` become
    ``a_min`` (so with a_min > a_max the upper bound wins for large values, unlike np.clip)."""
    for i in range(x.shape[0]):
        v = x[i]
        if v > a_max:
            out[i] = a_max
        elif v < a_min:
            out[i] = a_min
        else:
            out[i] = v


@njit(cache=True)
def clip_backward(x, g, a_min, a_max, gx, accumulate):
    """The gradient passes where ``a_min <= x <= a_max`` (bounds included) and is 0 elsewhere."""
    for i in range(x.shape[0]):
        v = x[i]
        d = g[i] if (v >= a_min and v <= a_max) else 0.0
        if accumulate:
            gx[i] += d
        else:
            gx[i] = d


@njit(cache=True)
def maxmin_backward(a, b, g, ga, gb, is_max):
    """Split the gradient of ``maximum(a, b)`` (``is_max``) or ``minimum(a, b)`` between the two
    inputs. Ties go to the left input, as in MXNet: for maximum ``a >= b`` picks a, for minimum
    ``a <= b`` picks a. Writes full-size ``ga`` and ``gb``."""
    for i in range(g.shape[0]):
        if is_max:
            left = a[i] >= b[i]
        else:
            left = a[i] <= b[i]
        if left:
            ga[i] = g[i]
            gb[i] = 0.0
        else:
            ga[i] = 0.0
            gb[i] = g[i]
