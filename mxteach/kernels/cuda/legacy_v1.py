"""CUDA twins of ``kernels/cpu/legacy_v1.py``: Pooling_v1's zero padding, gradient crop and
scaling (numpy twins in ``kernels/reference/legacy_v1.py``). One thread per element of the
larger array, grid-stride."""
from __future__ import annotations

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["pad2d", "crop2d", "scale"]

_A4 = "{t}[:, :, :, ::1]"
PTX_SIGNATURES = {
    "_pad_kernel": [f"{_A4}, int64, int64, {_A4}"],
    "_crop_kernel": [f"{_A4}, int64, int64, float64, boolean, {_A4}"],
    "_scale_kernel": ["{t}[::1], float64"],
}


@cuda.jit
def _pad_kernel(x, ph, pw, out):
    N, C, HP, WP = out.shape
    H, W = x.shape[2], x.shape[3]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, N * C * HP * WP, stride):
        w = i % WP
        h = (i // WP) % HP
        nc = i // (WP * HP)
        n, c = nc // C, nc % C
        hh, ww = h - ph, w - pw
        if 0 <= hh < H and 0 <= ww < W:
            out[n, c, h, w] = x[n, c, hh, ww]
        else:
            out[n, c, h, w] = 0


@cuda.jit
def _crop_kernel(gp, ph, pw, factor, accumulate, dx):
    N, C, H, W = dx.shape
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, N * C * H * W, stride):
        w = i % W
        h = (i // W) % H
        nc = i // (W * H)
        n, c = nc // C, nc % C
        v = factor * gp[n, c, h + ph, w + pw]
        if accumulate:
            dx[n, c, h, w] += v
        else:
            dx[n, c, h, w] = v


@cuda.jit
def _scale_kernel(a, factor):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, a.size, stride):
        a[i] *= factor


def pad2d(x, ph, pw, out):
    check_device_arrays("pad2d", x=x, out=out)
    _pad_kernel[grid_1d(out.size)](x, ph, pw, out)


def crop2d(gp, ph, pw, factor, accumulate, dx):
    check_device_arrays("crop2d", gp=gp, dx=dx)
    _crop_kernel[grid_1d(dx.size)](gp, ph, pw, factor, accumulate, dx)


def scale(a, factor):
    check_device_arrays("scale", a=a)
    _scale_kernel[grid_1d(a.size)](a, factor)
