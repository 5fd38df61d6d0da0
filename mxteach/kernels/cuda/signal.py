"""CUDA twins of ``kernels/cpu/signal.py``: the DFT of fft/ifft and the count sketch (numpy
twins in ``kernels/reference/signal.py``; the conventions are described in the CPU module).

**Launch strategy.** One thread per output value, grid-stride. The DFT thread for ``(n, k)`` sums
its ``d`` terms directly (O(d) per value, O(N d^2) in all: no cuFFT in Numba; the angle is
reduced as ``(j k mod d) / d`` so large ``j k`` lose no precision). The sketch forward thread
for ``(n, o)`` sums the inputs hashed to bucket ``o`` (no atomics: deterministic); the backward
thread for ``(n, i)`` gathers one value.
"""
from __future__ import annotations

import math

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["dft", "sketch_forward", "sketch_backward"]

_M = "{t}[:, ::1]"
PTX_SIGNATURES = {
    "_dft_kernel": [f"{_M}, boolean, int64, boolean, boolean, {_M}"],
    "_sketch_forward_kernel": [f"{_M}, {{t}}[::1], {{t}}[::1], {_M}"],
    "_sketch_backward_kernel": [f"{_M}, {{t}}[::1], {{t}}[::1], boolean, {_M}"],
}


@cuda.jit
def _dft_kernel(src, is_complex, sign, take_real, accumulate, dst):
    N = src.shape[0]
    d = src.shape[1] // 2 if is_complex else src.shape[1]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, N * d, stride):
        n, k = t // d, t % d
        re = 0.0
        im = 0.0
        for j in range(d):
            theta = 2.0 * math.pi * ((j * k) % d) / d
            c, s = math.cos(theta), sign * math.sin(theta)
            a = src[n, 2 * j] if is_complex else src[n, j]
            b = src[n, 2 * j + 1] if is_complex else 0.0
            re += a * c - b * s
            im += a * s + b * c
        if take_real:
            if accumulate:
                dst[n, k] += re
            else:
                dst[n, k] = re
        elif accumulate:
            dst[n, 2 * k] += re
            dst[n, 2 * k + 1] += im
        else:
            dst[n, 2 * k] = re
            dst[n, 2 * k + 1] = im


@cuda.jit
def _sketch_forward_kernel(x, h, s, out):
    N, D = x.shape
    O = out.shape[1]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, N * O, stride):
        n, o = t // O, t % O
        acc = 0.0
        for i in range(D):
            if int(h[i]) == o:
                acc += s[i] * x[n, i]
        out[n, o] = acc


@cuda.jit
def _sketch_backward_kernel(dy, h, s, accumulate, dx):
    N, D = dx.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, N * D, stride):
        n, i = t // D, t % D
        v = s[i] * dy[n, int(h[i])]
        if accumulate:
            dx[n, i] += v
        else:
            dx[n, i] = v


def dft(src, is_complex, sign, take_real, accumulate, dst):
    check_device_arrays("dft", src=src, dst=dst)
    d = src.shape[1] // 2 if is_complex else src.shape[1]
    _dft_kernel[grid_1d(src.shape[0] * d)](src, is_complex, sign, take_real, accumulate, dst)


def sketch_forward(x, h, s, out):
    check_device_arrays("sketch_forward", x=x, h=h, s=s, out=out)
    _sketch_forward_kernel[grid_1d(out.size)](x, h, s, out)


def sketch_backward(dy, h, s, accumulate, dx):
    check_device_arrays("sketch_backward", dy=dy, h=h, s=s, dx=dx)
    _sketch_backward_kernel[grid_1d(dx.size)](dy, h, s, accumulate, dx)
