"""Numba CPU kernels of the spatial family (``ops/spatial.py``): the sampling grids of
GridGenerator, the bilinear sampler of BilinearSampler and SpatialTransformer, BilinearResize2D
and Correlation.

Conventions (MXNet 1.9.1): a grid holds normalised coordinates, channel 0 is x (columns) and
channel 1 is y (rows), ``-1`` is the first pixel and ``+1`` the last; a sample outside the image
reads zeros. Backward kernels take ``accumulate`` (``grad_req='add'``): without it they clear
their gradient first and then scatter into it. numpy twins with the same names and signatures:
``kernels/reference/spatial.py``; CUDA twins: ``kernels/cuda/spatial.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["affine_grid", "affine_grid_backward", "warp_grid", "warp_grid_backward",
           "bilinear_sample", "bilinear_sample_backward", "resize_forward", "resize_backward",
           "correlation_forward", "correlation_backward", "pad_nhwc", "unpad_nhwc"]


@njit(cache=True, parallel=True)
def affine_grid(theta, out):
    """``out[n, :, i, j] = theta[n].reshape(2, 3) @ (x_j, y_i, 1)`` with ``x_j`` and ``y_i``
    spread evenly over [-1, 1] (``out`` is (N, 2, H, W), ``theta`` (N, 6))."""
    N, _, H, W = out.shape
    for n in prange(N):
        for i in range(H):
            y = -1.0 + 2.0 * i / (H - 1) if H > 1 else -1.0
            for j in range(W):
                x = -1.0 + 2.0 * j / (W - 1) if W > 1 else -1.0
                out[n, 0, i, j] = theta[n, 0] * x + theta[n, 1] * y + theta[n, 2]
                out[n, 1, i, j] = theta[n, 3] * x + theta[n, 4] * y + theta[n, 5]


@njit(cache=True, parallel=True)
def affine_grid_backward(dout, accumulate, dtheta):
    """The gradient of :func:`affine_grid` with respect to ``theta``: each of the six entries
    sums the grid's gradient times the target coordinate it multiplied."""
    N, _, H, W = dout.shape
    for n in prange(N):
        acc = np.zeros(6)
        for i in range(H):
            y = -1.0 + 2.0 * i / (H - 1) if H > 1 else -1.0
            for j in range(W):
                x = -1.0 + 2.0 * j / (W - 1) if W > 1 else -1.0
                for r in range(2):
                    g = dout[n, r, i, j]
                    acc[3 * r] += g * x
                    acc[3 * r + 1] += g * y
                    acc[3 * r + 2] += g
        for k in range(6):
            if accumulate:
                dtheta[n, k] += acc[k]
            else:
                dtheta[n, k] = acc[k]


@njit(cache=True, parallel=True)
def warp_grid(flow, out):
    """``out = (pixel position + flow)`` normalised to [-1, 1]: x by ``(W - 1) / 2``, y by
    ``(H - 1) / 2`` (``flow`` and ``out`` are (N, 2, H, W))."""
    N, _, H, W = out.shape
    hx, hy = (W - 1) / 2.0, (H - 1) / 2.0
    for n in prange(N):
        for i in range(H):
            for j in range(W):
                out[n, 0, i, j] = (flow[n, 0, i, j] + j) / hx - 1.0
                out[n, 1, i, j] = (flow[n, 1, i, j] + i) / hy - 1.0


@njit(cache=True, parallel=True)
def warp_grid_backward(dout, accumulate, dflow):
    """The gradient of :func:`warp_grid`: the grid's gradient divided by the half sizes."""
    N, _, H, W = dout.shape
    hx, hy = (W - 1) / 2.0, (H - 1) / 2.0
    for n in prange(N):
        for i in range(H):
            for j in range(W):
                gx, gy = dout[n, 0, i, j] / hx, dout[n, 1, i, j] / hy
                if accumulate:
                    dflow[n, 0, i, j] += gx
                    dflow[n, 1, i, j] += gy
                else:
                    dflow[n, 0, i, j] = gx
                    dflow[n, 1, i, j] = gy


@njit(cache=True)
def _pixel(data, n, c, y, x):
    """data[n, c, y, x], or 0 outside the image (the sampler's zero padding)."""
    if 0 <= y < data.shape[2] and 0 <= x < data.shape[3]:
        return data[n, c, y, x]
    return 0.0


@njit(cache=True, parallel=True)
def bilinear_sample(data, grid, out):
    """``out[n, c, i, j]``: ``data[n, c]`` read at the grid point ``grid[n, :, i, j]`` by
    bilinear interpolation of its four neighbours (zeros outside)."""
    N, C, Ho, Wo = out.shape
    H, W = data.shape[2], data.shape[3]
    for n in prange(N):
        for i in range(Ho):
            for j in range(Wo):
                xr = (grid[n, 0, i, j] + 1.0) * (W - 1) / 2.0
                yr = (grid[n, 1, i, j] + 1.0) * (H - 1) / 2.0
                x0, y0 = int(math.floor(xr)), int(math.floor(yr))
                wx, wy = 1.0 - (xr - x0), 1.0 - (yr - y0)    # weights of the top-left pixel
                for c in range(C):
                    out[n, c, i, j] = (_pixel(data, n, c, y0, x0) * wy * wx
                                       + _pixel(data, n, c, y0, x0 + 1) * wy * (1.0 - wx)
                                       + _pixel(data, n, c, y0 + 1, x0) * (1.0 - wy) * wx
                                       + _pixel(data, n, c, y0 + 1, x0 + 1)
                                       * (1.0 - wy) * (1.0 - wx))


@njit(cache=True)
def _scatter(ddata, n, c, y, x, v):
    if 0 <= y < ddata.shape[2] and 0 <= x < ddata.shape[3]:
        ddata[n, c, y, x] += v


@njit(cache=True, parallel=True)
def bilinear_sample_backward(data, grid, dout, want_data, acc_data, ddata, want_grid,
                             acc_grid, dgrid):
    """Gradients of :func:`bilinear_sample`: each output's gradient goes to its four pixels by
    their weights (``ddata``), and to its grid point through the slope of the interpolation
    (``dgrid``, scaled back to normalised units). Parallel over samples: a sample's pixels
    receive only its own grid points."""
    N, C, Ho, Wo = dout.shape
    H, W = data.shape[2], data.shape[3]
    for n in prange(N):
        if want_data and not acc_data:
            ddata[n] = 0.0
        for i in range(Ho):
            for j in range(Wo):
                xr = (grid[n, 0, i, j] + 1.0) * (W - 1) / 2.0
                yr = (grid[n, 1, i, j] + 1.0) * (H - 1) / 2.0
                x0, y0 = int(math.floor(xr)), int(math.floor(yr))
                wx, wy = 1.0 - (xr - x0), 1.0 - (yr - y0)
                gx = 0.0
                gy = 0.0
                for c in range(C):
                    g = dout[n, c, i, j]
                    tl = _pixel(data, n, c, y0, x0)
                    tr = _pixel(data, n, c, y0, x0 + 1)
                    bl = _pixel(data, n, c, y0 + 1, x0)
                    br = _pixel(data, n, c, y0 + 1, x0 + 1)
                    if want_data:
                        _scatter(ddata, n, c, y0, x0, g * wy * wx)
                        _scatter(ddata, n, c, y0, x0 + 1, g * wy * (1.0 - wx))
                        _scatter(ddata, n, c, y0 + 1, x0, g * (1.0 - wy) * wx)
                        _scatter(ddata, n, c, y0 + 1, x0 + 1, g * (1.0 - wy) * (1.0 - wx))
                    # d out / d yr and d out / d xr of the bilinear formula
                    gy -= g * (tr - br + (tl - tr - bl + br) * wx)
                    gx -= g * (bl - br + (tl - tr - bl + br) * wy)
                if want_grid:
                    gx *= (W - 1) / 2.0
                    gy *= (H - 1) / 2.0
                    if acc_grid:
                        dgrid[n, 0, i, j] += gx
                        dgrid[n, 1, i, j] += gy
                    else:
                        dgrid[n, 0, i, j] = gx
                        dgrid[n, 1, i, j] = gy


@njit(cache=True, parallel=True)
def resize_forward(x, h0, h1, lh, w0, w1, lw, out):
    """``out[m, i, j]`` interpolates ``x[m]`` between rows ``h0[i]``, ``h1[i]`` (weight
    ``lh[i]`` on ``h1``) and columns ``w0[j]``, ``w1[j]`` (weight ``lw[j]``); ``x`` and ``out``
    are (N*C, H, W) views."""
    M, Ho, Wo = out.shape
    for m in prange(M):
        for i in range(Ho):
            a, b, t = h0[i], h1[i], lh[i]
            for j in range(Wo):
                c, d, s = w0[j], w1[j], lw[j]
                out[m, i, j] = ((1.0 - t) * ((1.0 - s) * x[m, a, c] + s * x[m, a, d])
                                + t * ((1.0 - s) * x[m, b, c] + s * x[m, b, d]))


@njit(cache=True, parallel=True)
def resize_backward(dout, h0, h1, lh, w0, w1, lw, accumulate, dx):
    """The gradient of :func:`resize_forward`: each output's gradient scattered to its four
    source pixels by their weights (parallel over the N*C planes, which do not overlap)."""
    M, Ho, Wo = dout.shape
    for m in prange(M):
        if not accumulate:
            dx[m] = 0.0
        for i in range(Ho):
            a, b, t = h0[i], h1[i], lh[i]
            for j in range(Wo):
                c, d, s = w0[j], w1[j], lw[j]
                g = dout[m, i, j]
                dx[m, a, c] += (1.0 - t) * (1.0 - s) * g
                dx[m, a, d] += (1.0 - t) * s * g
                dx[m, b, c] += t * (1.0 - s) * g
                dx[m, b, d] += t * s * g


@njit(cache=True, parallel=True)
def correlation_forward(p1, p2, k, maxd, s1, s2, radius, multiply, out):
    """Correlation of the zero-padded (N, Hp, Wp, C) maps ``p1``, ``p2``: ``out[n, t, i, j]``
    is the mean over a ``k x k`` patch and the channels of ``p1 * p2`` (or ``|p1 - p2|``), the
    patch of ``p1`` starting at ``(i*s1 + maxd, j*s1 + maxd)`` and that of ``p2`` displaced by
    ``((t // grid - radius) * s2, (t % grid - radius) * s2)``, ``grid = 2 * radius + 1``."""
    N, T, Ho, Wo = out.shape
    C = p1.shape[3]
    width = 2 * radius + 1
    norm = k * k * C
    for n in prange(N):
        for i in range(Ho):
            for j in range(Wo):
                y1, x1 = i * s1 + maxd, j * s1 + maxd
                for t in range(T):
                    y2 = y1 + (t // width - radius) * s2
                    x2 = x1 + (t % width - radius) * s2
                    acc = 0.0
                    for h in range(k):
                        for w in range(k):
                            for c in range(C):
                                a, b = p1[n, y1 + h, x1 + w, c], p2[n, y2 + h, x2 + w, c]
                                acc += a * b if multiply else abs(a - b)
                    out[n, t, i, j] = acc / norm


@njit(cache=True, parallel=True)
def correlation_backward(p1, p2, dout, k, maxd, s1, s2, radius, multiply, dp1, dp2):
    """Gradients of :func:`correlation_forward` into the padded layouts ``dp1``, ``dp2``
    (cleared here; the caller crops the padding away). ``|a - b|`` has slope +1 where
    ``a >= b`` (MXNet's sign at a tie)."""
    N, T, Ho, Wo = dout.shape
    C = p1.shape[3]
    width = 2 * radius + 1
    norm = k * k * C
    for n in prange(N):
        dp1[n] = 0.0
        dp2[n] = 0.0
        for i in range(Ho):
            for j in range(Wo):
                y1, x1 = i * s1 + maxd, j * s1 + maxd
                for t in range(T):
                    y2 = y1 + (t // width - radius) * s2
                    x2 = x1 + (t % width - radius) * s2
                    g = dout[n, t, i, j] / norm
                    for h in range(k):
                        for w in range(k):
                            for c in range(C):
                                a, b = p1[n, y1 + h, x1 + w, c], p2[n, y2 + h, x2 + w, c]
                                if multiply:
                                    dp1[n, y1 + h, x1 + w, c] += g * b
                                    dp2[n, y2 + h, x2 + w, c] += g * a
                                else:
                                    sg = g if a >= b else -g
                                    dp1[n, y1 + h, x1 + w, c] += sg
                                    dp2[n, y2 + h, x2 + w, c] -= sg


@njit(cache=True, parallel=True)
def pad_nhwc(x, pad, out):
    """``out`` (N, Hp, Wp, C): ``x`` (N, C, H, W) moved to channels-last at offset ``pad``,
    zeros elsewhere (Correlation's padded copies)."""
    N, C, H, W = x.shape
    for n in prange(N):
        out[n] = 0.0
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    out[n, i + pad, j + pad, c] = x[n, c, i, j]


@njit(cache=True, parallel=True)
def unpad_nhwc(dp, pad, accumulate, dx):
    """The inverse of :func:`pad_nhwc` for gradients: the padding is dropped."""
    N, C, H, W = dx.shape
    for n in prange(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    if accumulate:
                        dx[n, c, i, j] += dp[n, i + pad, j + pad, c]
                    else:
                        dx[n, c, i, j] = dp[n, i + pad, j + pad, c]
