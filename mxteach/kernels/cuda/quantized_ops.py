"""CUDA twins of ``kernels/cpu/quantized_ops.py``: the scaled sum (quantized_elemwise_add), the
truncating product (quantized_elemwise_mul), the int8 ReLU, and the integer<->float passes
around quantized pooling (which pools with the float Pooling kernels), quantized_embedding's
row gather and quantized_batch_norm's per-channel affine map. numpy twins in
``kernels/reference/quantized_ops.py``.

One thread per element, grid-stride. As in ``kernels/cuda/quantization.py``, each float32
product is formed in float64 (exact for float32 factors) and rounded once, so no multiply-add
can be fused into an FMA that would round differently from MXNet's CPU.
"""
from __future__ import annotations

import numpy as np
from numba import cuda, float32, float64, int32

from .launch import grid_1d, check_device_arrays
from .quantization import _round_saturate   # the one half-to-even saturating round

__all__ = ["scaled_sum", "truncating_product", "relu", "to_float", "round_to_int",
           "gather_rows", "channel_affine"]

_INT = ("int8", "uint8")
PTX_SIGNATURES = {
    "_scaled_sum_kernel": [f"{a}[::1], float32, {b}[::1], float32, float64, float64, {o}[::1]"
                           for a in _INT for b in _INT for o in ("int8", "uint8", "int32")],
    "_product_kernel": ["int8[::1], int8[::1], float32, int64, int32[::1]",
                        "int8[::1], int8[::1], float32, int64, int8[::1]",
                        "int8[::1], int8[::1], float32, int64, float32[::1]"],
    "_relu_kernel": ["int8[::1], int8[::1]"],
    "_to_float_kernel": ["int8[:, :, :, ::1], float32[:, :, :, ::1]",
                         "uint8[:, :, :, ::1], float32[:, :, :, ::1]"],
    "_affine_kernel": ["int8[:, :, ::1], float32, float32[::1], float32[::1], "
                       "int8[:, :, ::1]"],
    "_gather_kernel": ["{t}[::1], int8[:, ::1], int8[:, ::1]"],
    "_round_kernel": ["float32[::1], float64, float64, int8[::1]",
                      "float32[::1], float64, float64, uint8[::1]"],
}


@cuda.jit(device=True)
def _mul32(a, b):
    """float32(a * b) for float32 a, b, without FMA contraction."""
    return float32(float64(a) * float64(b))


@cuda.jit
def _scaled_sum_kernel(a, sa, b, sb, lo, hi, out):
    start = cuda.grid(1)
    for i in range(start, a.shape[0], cuda.gridsize(1)):
        v = float32(float64(_mul32(float32(a[i]), sa)) + float64(_mul32(float32(b[i]), sb)))
        out[i] = _round_saturate(float64(v), lo, hi)


@cuda.jit
def _product_kernel(a, b, scale, mode, out):
    start = cuda.grid(1)
    for i in range(start, a.shape[0], cuda.gridsize(1)):
        v = _mul32(float32(int32(a[i]) * int32(b[i])), scale)
        if mode == 0:
            out[i] = v
        else:
            w = float64(v)
            t = -2147483648
            if w == w and -2147483648.0 <= w < 2147483648.0:
                t = int(w)
            if mode == 2:
                t = ((t & 255) ^ 128) - 128
            out[i] = t


@cuda.jit
def _relu_kernel(x, out):
    start = cuda.grid(1)
    for i in range(start, x.shape[0], cuda.gridsize(1)):
        out[i] = x[i] if x[i] > 0 else 0


@cuda.jit
def _to_float_kernel(x4, out4):
    N, C, H, W = x4.shape
    start = cuda.grid(1)
    for i in range(start, N * C * H * W, cuda.gridsize(1)):
        w = i % W
        h = (i // W) % H
        c = (i // (W * H)) % C
        n = i // (W * H * C)
        out4[n, c, h, w] = float32(x4[n, c, h, w])


@cuda.jit
def _round_kernel(x, lo, hi, out):
    start = cuda.grid(1)
    for i in range(start, x.shape[0], cuda.gridsize(1)):
        out[i] = _round_saturate(float64(x[i]), lo, hi)


def _launch(kernel, name, n, *args, **arrays):
    check_device_arrays(name, **arrays)
    blocks, threads = grid_1d(n)
    kernel[blocks, threads](*args)


def scaled_sum(a, sa, b, sb, lo, hi, out):
    _launch(_scaled_sum_kernel, "scaled_sum", a.shape[0], a, np.float32(sa), b, np.float32(sb),
            float(lo), float(hi), out, a=a, b=b, out=out)


def truncating_product(a, b, scale, mode, out):
    _launch(_product_kernel, "truncating_product", a.shape[0], a, b, np.float32(scale),
            int(mode), out, a=a, b=b, out=out)


def relu(x, out):
    _launch(_relu_kernel, "relu", x.shape[0], x, out, x=x, out=out)


def to_float(x4, out4):
    """float32 copy of 4-D integer data into the leading corner of ``out4`` (which may be
    larger: quantized pooling's zero padding)."""
    _launch(_to_float_kernel, "to_float", x4.size, x4, out4, x4=x4, out4=out4)


def round_to_int(x, lo, hi, out):
    _launch(_round_kernel, "round_to_int", x.shape[0], x, float(lo), float(hi), out, x=x,
            out=out)


@cuda.jit
def _gather_kernel(idx, weight, out):
    n, cols = weight.shape
    start = cuda.grid(1)
    for k in range(start, idx.shape[0] * cols, cuda.gridsize(1)):
        r, c = k // cols, k % cols
        v = idx[r]
        i = 0 if v < 0 else (n - 1 if v >= n else int(v))
        out[r, c] = weight[i, c]


def gather_rows(idx, weight, out):
    """``out[r] = weight[clip(int(idx[r]), 0, rows - 1)]`` (flat float indices)."""
    _launch(_gather_kernel, "gather_rows", out.size, idx, weight, out, idx=idx, weight=weight,
            out=out)


@cuda.jit
def _affine_kernel(x3, inv, w, sh, out3):
    A, Cn, B = x3.shape
    start = cuda.grid(1)
    for i in range(start, A * Cn * B, cuda.gridsize(1)):
        b = i % B
        c = (i // B) % Cn
        a = i // (B * Cn)
        v = _mul32(_mul32(float32(x3[a, c, b]), inv), w[c])
        v = float32(float64(v) + float64(sh[c]))
        out3[a, c, b] = _round_saturate(float64(v), -128.0, 127.0)


def channel_affine(x3, inv, w, sh, out3):
    """``round(x * inv * w[c] + sh[c])`` to int8 on (A, C, B) device arrays."""
    _launch(_affine_kernel, "channel_affine", x3.size, x3, np.float32(inv), w, sh, out3, x3=x3,
            w=w, sh=sh, out3=out3)
