"""Numba CPU kernels of the quantized layers (``ops/quantized_ops.py``): the scaled sum of
quantized_elemwise_add, the truncating product of quantized_elemwise_mul, the int8 ReLU and the
round-to-integer of quantized pooling's float window averages, quantized_embedding's row
gather and quantized_batch_norm's per-channel affine map.

MXNet 1.9.1 runs these through MKL-DNN (sum, eltwise, pooling primitives), which compute in
float32 and round half to even with saturation; quantized_elemwise_mul is MXNet's own loop,
``static_cast<int>(a * b * scale)`` (truncation toward zero, no saturation: an out-of-range
value becomes what the x86 conversion gives, ``INT_MIN`` for int32 and its low byte for int8).
numpy twins in ``kernels/reference/quantized_ops.py``; CUDA twins in
``kernels/cuda/quantized_ops.py``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .quantization import _round_saturate   # the one half-to-even saturating round

__all__ = ["scaled_sum", "truncating_product", "relu", "round_to_int", "gather_rows",
           "channel_affine"]


@njit(cache=True, parallel=True)
def scaled_sum(a, sa, b, sb, lo, hi, out):
    """``out = saturate(round_half_even(float32(sa * a) + float32(sb * b)))`` (float32 math)."""
    for i in prange(a.shape[0]):
        v = np.float32(np.float32(a[i]) * sa) + np.float32(np.float32(b[i]) * sb)
        out[i] = _round_saturate(np.float64(v), lo, hi)


@njit(cache=True, inline="always")
def _x86_int32(v):
    if v != v or v >= 2147483648.0 or v < -2147483648.0:
        return -2147483648
    return int(v)


@njit(cache=True, parallel=True)
def truncating_product(a, b, scale, mode, out):
    """``a * b * scale`` in float32 (the int product first), then: mode 0 float32 output,
    1 int32 (truncated), 2 int8 (truncated to int32, low byte kept as a signed byte)."""
    for i in prange(a.shape[0]):
        v = np.float32(np.float32(np.int32(a[i]) * np.int32(b[i])) * scale)
        if mode == 0:
            out[i] = v
        else:
            t = _x86_int32(np.float64(v))
            if mode == 2:
                t = ((t & 255) ^ 128) - 128
            out[i] = t


@njit(cache=True, parallel=True)
def relu(x, out):
    """int8 ReLU: ``max(x, 0)``."""
    for i in prange(x.shape[0]):
        out[i] = x[i] if x[i] > 0 else 0


@njit(cache=True, parallel=True)
def round_to_int(x, lo, hi, out):
    """Float results (pooled windows) rounded half to even and saturated to [lo, hi]."""
    for i in prange(x.shape[0]):
        out[i] = _round_saturate(np.float64(x[i]), lo, hi)


@njit(cache=True, parallel=True)
def gather_rows(idx, weight, out):
    """``out[r] = weight[clip(int(idx[r]), 0, rows - 1)]``: Embedding's clipped lookup (a float
    index is truncated toward zero)."""
    n = weight.shape[0]
    for r in prange(idx.shape[0]):
        v = idx[r]
        i = 0 if v < 0 else (n - 1 if v >= n else int(v))
        for c in range(weight.shape[1]):
            out[r, c] = weight[i, c]


@njit(cache=True, parallel=True)
def channel_affine(x3, inv, w, sh, out3):
    """quantized_batch_norm on int8 data viewed (A, C, B): ``round(x * inv * w[c] + sh[c])``
    saturated to int8, each product rounded to float32 (MKL-DNN's batch norm with mean 0 and
    variance 1, ``inv = 1 / sqrt(1 + eps)``)."""
    A, Cn, B = x3.shape
    for a in prange(A):
        for c in range(Cn):
            for b in range(B):
                v = np.float32(np.float32(np.float32(x3[a, c, b]) * inv) * w[c]) + sh[c]
                out3[a, c, b] = _round_saturate(np.float64(v), -128.0, 127.0)
