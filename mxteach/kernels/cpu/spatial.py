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


@njit(cache=True, inline="always")
def _target(k, size):
    """Coordinate k of ``size`` spread evenly over [-1, 1] (-1 for a single one)."""
    return -1.0 + 2.0 * k / (size - 1) if size > 1 else -1.0


@njit(cache=True, parallel=True)
def affine_grid(theta, out):
    """``out[n, :, i, j] = theta[n].reshape(2, 3) @ (x_j, y_i, 1)`` with ``x_j`` and ``y_i``
    spread evenly over [-1, 1] (``out`` is (N, 2, H, W), ``theta`` (N, 6))."""
    N, _, H, W = out.shape
    for n in prange(N):
        for i in range(H):
            y = _target(i, H)
            for j in range(W):
                x = _target(j, W)
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
            y = _target(i, H)
            for j in range(W):
                x = _target(j, W)
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


@njit(cache=True, inline="always")
def _warp_point(src, n, i, j, hx, hy, inverse):
    """Grid point (i, j) of :func:`warp_grid` from the flow, or (``inverse``) the flow's
    gradient from the grid's."""
    if inverse:
        return src[n, 0, i, j] / hx, src[n, 1, i, j] / hy
    return (src[n, 0, i, j] + j) / hx - 1.0, (src[n, 1, i, j] + i) / hy - 1.0


@njit(cache=True, inline="always")
def _put_xy(dst, n, i, j, gx, gy, accumulate):
    """Write (or add) the pair (gx, gy) into channels 0 and 1 of ``dst`` at (i, j)."""
    if accumulate:
        dst[n, 0, i, j] += gx
        dst[n, 1, i, j] += gy
    else:
        dst[n, 0, i, j] = gx
        dst[n, 1, i, j] = gy


@njit(cache=True, parallel=True)
def _warp(src, dst, inverse, accumulate):
    """warp_grid (``inverse`` False: flow -> grid) or its backward (d grid -> d flow)."""
    N, _, H, W = src.shape
    hx, hy = (W - 1) / 2.0, (H - 1) / 2.0
    for n in prange(N):
        for i in range(H):
            for j in range(W):
                gx, gy = _warp_point(src, n, i, j, hx, hy, inverse)
                _put_xy(dst, n, i, j, gx, gy, accumulate)


@njit(cache=True)
def warp_grid(flow, out):
    """``out = (pixel position + flow)`` normalised to [-1, 1]: x by ``(W - 1) / 2``, y by
    ``(H - 1) / 2`` (``flow`` and ``out`` are (N, 2, H, W))."""
    _warp(flow, out, False, False)


@njit(cache=True)
def warp_grid_backward(dout, accumulate, dflow):
    """The gradient of :func:`warp_grid`: the grid's gradient divided by the half sizes."""
    _warp(dout, dflow, True, accumulate)


@njit(cache=True, inline="always")
def _sample_point(grid, n, i, j, H, W):
    """Grid point (i, j) in pixels: the top-left neighbour (x0, y0) and its weights (wx, wy)."""
    xr = (grid[n, 0, i, j] + 1.0) * (W - 1) / 2.0
    yr = (grid[n, 1, i, j] + 1.0) * (H - 1) / 2.0
    x0, y0 = int(math.floor(xr)), int(math.floor(yr))
    return x0, y0, 1.0 - (xr - x0), 1.0 - (yr - y0)


@njit(cache=True)
def _corners(data, n, c, y0, x0):
    """(top-left, top-right, bottom-left, bottom-right) neighbours of (y0, x0) in ``data[n, c]``,
    0 outside the image (the sampler's zero padding)."""
    H, W = data.shape[2], data.shape[3]
    top, bottom = 0 <= y0 < H, 0 <= y0 + 1 < H
    left, right = 0 <= x0 < W, 0 <= x0 + 1 < W
    tl = data[n, c, y0, x0] if top and left else 0.0
    tr = data[n, c, y0, x0 + 1] if top and right else 0.0
    bl = data[n, c, y0 + 1, x0] if bottom and left else 0.0
    br = data[n, c, y0 + 1, x0 + 1] if bottom and right else 0.0
    return tl, tr, bl, br


# The helpers the CUDA twin shares pass each other numbers, never arrays: the simulator runs a
# device function as Python, which cannot hand its arrays to a compiled function.
@njit(cache=True, inline="always")
def _mix(tl, tr, bl, br, wx, wy):
    """The bilinear interpolation of four neighbours (wx, wy: weights of the top-left one)."""
    return tl * wy * wx + tr * wy * (1.0 - wx) + bl * (1.0 - wy) * wx + br * (1.0 - wy) * (1.0 - wx)


@njit(cache=True, inline="always")
def _slopes(tl, tr, bl, br, wx, wy):
    """(d out / d yr, d out / d xr) of :func:`_mix`, with a minus sign."""
    return tr - br + (tl - tr - bl + br) * wx, bl - br + (tl - tr - bl + br) * wy


@njit(cache=True, parallel=True)
def bilinear_sample(data, grid, out):
    """``out[n, c, i, j]``: ``data[n, c]`` read at the grid point ``grid[n, :, i, j]`` by
    bilinear interpolation of its four neighbours (zeros outside)."""
    N, C, Ho, Wo = out.shape
    H, W = data.shape[2], data.shape[3]
    for n in prange(N):
        for i in range(Ho):
            for j in range(Wo):
                x0, y0, wx, wy = _sample_point(grid, n, i, j, H, W)
                for c in range(C):
                    tl, tr, bl, br = _corners(data, n, c, y0, x0)
                    out[n, c, i, j] = _mix(tl, tr, bl, br, wx, wy)


# not shared with the CUDA twin, which adds atomically
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
                x0, y0, wx, wy = _sample_point(grid, n, i, j, H, W)
                gx = 0.0
                gy = 0.0
                for c in range(C):
                    g = dout[n, c, i, j]
                    if want_data:
                        _scatter(ddata, n, c, y0, x0, g * wy * wx)
                        _scatter(ddata, n, c, y0, x0 + 1, g * wy * (1.0 - wx))
                        _scatter(ddata, n, c, y0 + 1, x0, g * (1.0 - wy) * wx)
                        _scatter(ddata, n, c, y0 + 1, x0 + 1, g * (1.0 - wy) * (1.0 - wx))
                    tl, tr, bl, br = _corners(data, n, c, y0, x0)
                    sy, sx = _slopes(tl, tr, bl, br, wx, wy)
                    gy -= g * sy
                    gx -= g * sx
                if want_grid:
                    _put_xy(dgrid, n, i, j, gx * ((W - 1) / 2.0), gy * ((H - 1) / 2.0),
                            acc_grid)


@njit(cache=True, inline="always")
def _resize_at(x, m, a, b, t, c, d, s):
    """``x[m]`` between rows a, b (weight t on b) and columns c, d (weight s on d)."""
    return ((1.0 - t) * ((1.0 - s) * x[m, a, c] + s * x[m, a, d])
            + t * ((1.0 - s) * x[m, b, c] + s * x[m, b, d]))


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
                out[m, i, j] = _resize_at(x, m, a, b, t, c, d, s)


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


@njit(cache=True, inline="always")
def _corr_origins(i, j, t, maxd, s1, s2, radius):
    """Top-left corners (y1, x1) of the p1 patch and (y2, x2) of the displaced p2 patch."""
    width = 2 * radius + 1
    y1, x1 = i * s1 + maxd, j * s1 + maxd
    return y1, x1, y1 + (t // width - radius) * s2, x1 + (t % width - radius) * s2


@njit(cache=True)
def _corr_value(p1, p2, n, t, i, j, k, maxd, s1, s2, radius, multiply):
    """out[n, t, i, j] of :func:`correlation_forward`."""
    C = p1.shape[3]
    y1, x1, y2, x2 = _corr_origins(i, j, t, maxd, s1, s2, radius)
    acc = 0.0
    for h in range(k):
        for w in range(k):
            for c in range(C):
                a, b = p1[n, y1 + h, x1 + w, c], p2[n, y2 + h, x2 + w, c]
                acc += a * b if multiply else abs(a - b)
    return acc / (k * k * C)


@njit(cache=True, parallel=True)
def correlation_forward(p1, p2, k, maxd, s1, s2, radius, multiply, out):
    """Correlation of the zero-padded (N, Hp, Wp, C) maps ``p1``, ``p2``: ``out[n, t, i, j]``
    is the mean over a ``k x k`` patch and the channels of ``p1 * p2`` (or ``|p1 - p2|``), the
    patch of ``p1`` starting at ``(i*s1 + maxd, j*s1 + maxd)`` and that of ``p2`` displaced by
    ``((t // grid - radius) * s2, (t % grid - radius) * s2)``, ``grid = 2 * radius + 1``."""
    N, T, Ho, Wo = out.shape
    for n in prange(N):
        for i in range(Ho):
            for j in range(Wo):
                for t in range(T):
                    out[n, t, i, j] = _corr_value(p1, p2, n, t, i, j, k, maxd, s1, s2, radius,
                                                  multiply)


@njit(cache=True, parallel=True)
def correlation_backward(p1, p2, dout, k, maxd, s1, s2, radius, multiply, dp1, dp2):
    """Gradients of :func:`correlation_forward` into the padded layouts ``dp1``, ``dp2``
    (cleared here; the caller crops the padding away). ``|a - b|`` has slope +1 where
    ``a >= b`` (MXNet's sign at a tie)."""
    N, T, Ho, Wo = dout.shape
    C = p1.shape[3]
    for n in prange(N):
        dp1[n] = 0.0
        dp2[n] = 0.0
        for i in range(Ho):
            for j in range(Wo):
                for t in range(T):
                    y1, x1, y2, x2 = _corr_origins(i, j, t, maxd, s1, s2, radius)
                    g = dout[n, t, i, j] / (k * k * C)
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
