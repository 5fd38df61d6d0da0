"""CUDA twins of ``kernels/cpu/spatial.py``: one thread per output element (grid point, pixel
of the resized image, correlation value). Backward kernels scatter with ``cuda.atomic.add``
because neighbouring outputs share source pixels; without ``accumulate`` the host clears the
gradient first. The per-point arithmetic (grid targets, bilinear weights and slopes, the
correlation of one patch pair) is the CPU module's own functions compiled for the device; only
the scatters differ (atomics here). numpy twins in ``kernels/reference/spatial.py``."""
from __future__ import annotations

from numba import cuda

from ..cpu import spatial as _cpu
from .launch import grid_1d, check_device_arrays
from .elemwise import fill

__all__ = ["affine_grid", "affine_grid_backward", "warp_grid", "warp_grid_backward",
           "bilinear_sample", "bilinear_sample_backward", "resize_forward", "resize_backward",
           "correlation_forward", "correlation_backward", "pad_nhwc", "unpad_nhwc"]

_A4 = "{t}[:, :, :, ::1]"
_A3 = "{t}[:, :, ::1]"
PTX_SIGNATURES = {
    "_affine_grid_kernel": ["{t}[:, ::1], " + _A4],
    "_affine_grid_backward_kernel": [_A4 + ", boolean, {t}[:, ::1]"],
    "_warp_grid_kernel": [f"{_A4}, {_A4}, boolean, boolean"],
    "_bilinear_kernel": [f"{_A4}, {_A4}, {_A4}"],
    "_bilinear_backward_kernel": [f"{_A4}, {_A4}, {_A4}, boolean, {_A4}, boolean, boolean, "
                                  f"{_A4}"],
    "_resize_kernel": [f"{_A3}, int64[::1], int64[::1], float64[::1], int64[::1], int64[::1], "
                       f"float64[::1], {_A3}"],
    "_resize_backward_kernel": [f"{_A3}, int64[::1], int64[::1], float64[::1], int64[::1], "
                                f"int64[::1], float64[::1], {_A3}"],
    "_correlation_kernel": [f"{_A4}, {_A4}, int64, int64, int64, int64, int64, boolean, {_A4}"],
    "_correlation_backward_kernel": [f"{_A4}, {_A4}, {_A4}, int64, int64, int64, int64, int64, "
                                     f"boolean, {_A4}, {_A4}"],
    "_pad_kernel": [f"{_A4}, int64, {_A4}, boolean, boolean"],
}


_target, _warp_point, _put_xy, _sample_point, _corners, _mix, _slopes, _resize_at, \
    _corr_origins, _corr_value = (
        cuda.jit(device=True)(f.py_func) for f in (
            _cpu._target, _cpu._warp_point, _cpu._put_xy, _cpu._sample_point, _cpu._corners,
            _cpu._mix, _cpu._slopes, _cpu._resize_at, _cpu._corr_origins, _cpu._corr_value))


@cuda.jit
def _affine_grid_kernel(theta, out):
    N, _, H, W = out.shape
    for e in range(cuda.grid(1), N * H * W, cuda.gridsize(1)):
        n, i, j = e // (H * W), (e // W) % H, e % W
        x, y = _target(j, W), _target(i, H)
        out[n, 0, i, j] = theta[n, 0] * x + theta[n, 1] * y + theta[n, 2]
        out[n, 1, i, j] = theta[n, 3] * x + theta[n, 4] * y + theta[n, 5]


# one thread per (n, k): a sum over the grid, no atomics needed
@cuda.jit
def _affine_grid_backward_kernel(dout, accumulate, dtheta):
    N, _, H, W = dout.shape
    for e in range(cuda.grid(1), N * 6, cuda.gridsize(1)):
        n, k = e // 6, e % 6
        r, col = k // 3, k % 3
        acc = 0.0
        for i in range(H):
            for j in range(W):
                f = 1.0
                if col == 0:
                    f = _target(j, W)
                elif col == 1:
                    f = _target(i, H)
                acc += dout[n, r, i, j] * f
        if accumulate:
            dtheta[n, k] += acc
        else:
            dtheta[n, k] = acc


# forward (inverse=False): flow -> grid; backward (inverse=True): d grid -> d flow
@cuda.jit
def _warp_grid_kernel(src, dst, inverse, accumulate):
    N, _, H, W = src.shape
    hx, hy = (W - 1) / 2.0, (H - 1) / 2.0
    for e in range(cuda.grid(1), N * H * W, cuda.gridsize(1)):
        n, i, j = e // (H * W), (e // W) % H, e % W
        gx, gy = _warp_point(src, n, i, j, hx, hy, inverse)
        _put_xy(dst, n, i, j, gx, gy, accumulate)


# not shared: the CPU backward adds plainly (one sample per thread), this one atomically
@cuda.jit(device=True)
def _scatter(ddata, n, c, y, x, v):
    if 0 <= y < ddata.shape[2] and 0 <= x < ddata.shape[3]:
        cuda.atomic.add(ddata, (n, c, y, x), v)


@cuda.jit
def _bilinear_kernel(data, grid, out):
    N, C, Ho, Wo = out.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), N * C * Ho * Wo, cuda.gridsize(1)):
        j, i, c, n = e % Wo, (e // Wo) % Ho, (e // (Wo * Ho)) % C, e // (Wo * Ho * C)
        x0, y0, wx, wy = _sample_point(grid, n, i, j, H, W)
        tl, tr, bl, br = _corners(data, n, c, y0, x0)
        out[n, c, i, j] = _mix(tl, tr, bl, br, wx, wy)


# one thread per grid point: it owns its grid gradient and scatters into the data's. Not folded
# with the CPU backward: the scatter is atomic here (_scatter), and a shared per-point helper
# would have to call _corners with arrays, which the simulator cannot do from Python.
@cuda.jit
def _bilinear_backward_kernel(data, grid, dout, want_data, ddata, want_grid, acc_grid, dgrid):
    N, C, Ho, Wo = dout.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), N * Ho * Wo, cuda.gridsize(1)):
        n, i, j = e // (Ho * Wo), (e // Wo) % Ho, e % Wo
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


@cuda.jit
def _resize_kernel(x, h0, h1, lh, w0, w1, lw, out):
    M, Ho, Wo = out.shape
    for e in range(cuda.grid(1), M * Ho * Wo, cuda.gridsize(1)):
        m, i, j = e // (Ho * Wo), (e // Wo) % Ho, e % Wo
        a, b, t = h0[i], h1[i], lh[i]
        c, d, s = w0[j], w1[j], lw[j]
        out[m, i, j] = _resize_at(x, m, a, b, t, c, d, s)


# not folded with the CPU backward, which loops over a plane: one thread per output, atomics
@cuda.jit
def _resize_backward_kernel(dout, h0, h1, lh, w0, w1, lw, dx):
    M, Ho, Wo = dout.shape
    for e in range(cuda.grid(1), M * Ho * Wo, cuda.gridsize(1)):
        m, i, j = e // (Ho * Wo), (e // Wo) % Ho, e % Wo
        a, b, t = h0[i], h1[i], lh[i]
        c, d, s = w0[j], w1[j], lw[j]
        g = dout[m, i, j]
        cuda.atomic.add(dx, (m, a, c), (1.0 - t) * (1.0 - s) * g)
        cuda.atomic.add(dx, (m, a, d), (1.0 - t) * s * g)
        cuda.atomic.add(dx, (m, b, c), t * (1.0 - s) * g)
        cuda.atomic.add(dx, (m, b, d), t * s * g)


@cuda.jit
def _correlation_kernel(p1, p2, k, maxd, s1, s2, radius, multiply, out):
    N, T, Ho, Wo = out.shape
    for e in range(cuda.grid(1), N * T * Ho * Wo, cuda.gridsize(1)):
        j, i, t, n = e % Wo, (e // Wo) % Ho, (e // (Wo * Ho)) % T, e // (Wo * Ho * T)
        out[n, t, i, j] = _corr_value(p1, p2, n, t, i, j, k, maxd, s1, s2, radius, multiply)


# not folded with the CPU backward: one thread per output value scatters with atomics
@cuda.jit
def _correlation_backward_kernel(p1, p2, dout, k, maxd, s1, s2, radius, multiply, dp1, dp2):
    N, T, Ho, Wo = dout.shape
    C = p1.shape[3]
    for e in range(cuda.grid(1), N * T * Ho * Wo, cuda.gridsize(1)):
        j, i, t, n = e % Wo, (e // Wo) % Ho, (e // (Wo * Ho)) % T, e // (Wo * Ho * T)
        y1, x1, y2, x2 = _corr_origins(i, j, t, maxd, s1, s2, radius)
        g = dout[n, t, i, j] / (k * k * C)
        for h in range(k):
            for w in range(k):
                for c in range(C):
                    a, b = p1[n, y1 + h, x1 + w, c], p2[n, y2 + h, x2 + w, c]
                    if multiply:
                        cuda.atomic.add(dp1, (n, y1 + h, x1 + w, c), g * b)
                        cuda.atomic.add(dp2, (n, y2 + h, x2 + w, c), g * a)
                    else:
                        sg = g if a >= b else -g
                        cuda.atomic.add(dp1, (n, y1 + h, x1 + w, c), sg)
                        cuda.atomic.add(dp2, (n, y2 + h, x2 + w, c), -sg)


# forward (inverse=False): x (N, C, H, W) -> padded channels-last p; backward: p -> x
@cuda.jit
def _pad_kernel(x, pad, p, inverse, accumulate):
    N, C, H, W = x.shape
    for e in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        j, i, c, n = e % W, (e // W) % H, (e // (W * H)) % C, e // (W * H * C)
        if not inverse:
            p[n, i + pad, j + pad, c] = x[n, c, i, j]
        elif accumulate:
            x[n, c, i, j] += p[n, i + pad, j + pad, c]
        else:
            x[n, c, i, j] = p[n, i + pad, j + pad, c]


def pad_nhwc(x, pad, out):
    """``x`` (N, C, H, W) to channels-last at offset ``pad`` in ``out``, zeros elsewhere."""
    check_device_arrays("pad_nhwc", x=x, out=out)
    fill(out, 0)
    blocks, threads = grid_1d(x.size)
    _pad_kernel[blocks, threads](x, int(pad), out, False, False)


def unpad_nhwc(dp, pad, accumulate, dx):
    """The padded channels-last gradient ``dp`` back to (N, C, H, W) ``dx``."""
    check_device_arrays("unpad_nhwc", dp=dp, dx=dx)
    blocks, threads = grid_1d(dx.size)
    _pad_kernel[blocks, threads](dx, int(pad), dp, True, bool(accumulate))


def affine_grid(theta, out):
    """The affine sampling grid (see the CPU twin)."""
    check_device_arrays("affine_grid", theta=theta, out=out)
    blocks, threads = grid_1d(out.size // 2)
    _affine_grid_kernel[blocks, threads](theta, out)


def affine_grid_backward(dout, accumulate, dtheta):
    check_device_arrays("affine_grid_backward", dout=dout, dtheta=dtheta)
    blocks, threads = grid_1d(dtheta.size)
    _affine_grid_backward_kernel[blocks, threads](dout, bool(accumulate), dtheta)


def warp_grid(flow, out):
    check_device_arrays("warp_grid", flow=flow, out=out)
    blocks, threads = grid_1d(out.size // 2)
    _warp_grid_kernel[blocks, threads](flow, out, False, False)


def warp_grid_backward(dout, accumulate, dflow):
    check_device_arrays("warp_grid_backward", dout=dout, dflow=dflow)
    blocks, threads = grid_1d(dout.size // 2)
    _warp_grid_kernel[blocks, threads](dout, dflow, True, bool(accumulate))


def bilinear_sample(data, grid, out):
    check_device_arrays("bilinear_sample", data=data, grid=grid, out=out)
    blocks, threads = grid_1d(out.size)
    _bilinear_kernel[blocks, threads](data, grid, out)


def bilinear_sample_backward(data, grid, dout, want_data, acc_data, ddata, want_grid,
                             acc_grid, dgrid):
    check_device_arrays("bilinear_sample_backward", data=data, grid=grid, dout=dout,
                        ddata=ddata, dgrid=dgrid)
    if want_data and not acc_data:
        fill(ddata, 0)
    blocks, threads = grid_1d(dout.shape[0] * dout.shape[2] * dout.shape[3])
    _bilinear_backward_kernel[blocks, threads](
        data, grid, dout, bool(want_data), ddata if want_data else data, bool(want_grid),
        bool(acc_grid), dgrid if want_grid else grid)


def resize_forward(x, h0, h1, lh, w0, w1, lw, out):
    check_device_arrays("resize_forward", x=x, h0=h0, h1=h1, lh=lh, w0=w0, w1=w1, lw=lw,
                        out=out)
    blocks, threads = grid_1d(out.size)
    _resize_kernel[blocks, threads](x, h0, h1, lh, w0, w1, lw, out)


def resize_backward(dout, h0, h1, lh, w0, w1, lw, accumulate, dx):
    check_device_arrays("resize_backward", dout=dout, dx=dx)
    if not accumulate:
        fill(dx, 0)
    blocks, threads = grid_1d(dout.size)
    _resize_backward_kernel[blocks, threads](dout, h0, h1, lh, w0, w1, lw, dx)


def correlation_forward(p1, p2, k, maxd, s1, s2, radius, multiply, out):
    check_device_arrays("correlation_forward", p1=p1, p2=p2, out=out)
    blocks, threads = grid_1d(out.size)
    _correlation_kernel[blocks, threads](p1, p2, int(k), int(maxd), int(s1), int(s2),
                                         int(radius), bool(multiply), out)


def correlation_backward(p1, p2, dout, k, maxd, s1, s2, radius, multiply, dp1, dp2):
    check_device_arrays("correlation_backward", p1=p1, p2=p2, dout=dout, dp1=dp1, dp2=dp2)
    fill(dp1, 0)
    fill(dp2, 0)
    blocks, threads = grid_1d(dout.size)
    _correlation_backward_kernel[blocks, threads](p1, p2, dout, int(k), int(maxd), int(s1),
                                                  int(s2), int(radius), bool(multiply),
                                                  dp1, dp2)
