"""numpy twins of ``kernels/cpu/spatial.py`` (sampling grids, the bilinear sampler,
BilinearResize2D, Correlation), written as whole-array formulas. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["affine_grid", "affine_grid_backward", "warp_grid", "warp_grid_backward",
           "bilinear_sample", "bilinear_sample_backward", "resize_forward", "resize_backward",
           "correlation_forward", "correlation_backward", "pad_nhwc", "unpad_nhwc"]


def _store(dst, value, accumulate):
    if accumulate:
        dst += value
    else:
        dst[...] = value


def _target(H, W):
    """The (3, H*W) homogeneous target coordinates (x, y, 1), x fastest."""
    ys = np.linspace(-1.0, 1.0, H) if H > 1 else np.array([-1.0])
    xs = np.linspace(-1.0, 1.0, W) if W > 1 else np.array([-1.0])
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([xx.reshape(-1), yy.reshape(-1), np.ones(H * W)])


def affine_grid(theta, out):
    N, _, H, W = out.shape
    out[...] = (theta.reshape(N, 2, 3) @ _target(H, W)).reshape(out.shape)


def affine_grid_backward(dout, accumulate, dtheta):
    N, _, H, W = dout.shape
    g = dout.reshape(N, 2, H * W).astype(np.float64) @ _target(H, W).T
    _store(dtheta, g.reshape(N, 6), accumulate)


def _half_sizes(H, W):
    return np.array([(W - 1) / 2.0, (H - 1) / 2.0]).reshape(1, 2, 1, 1)


def warp_grid(flow, out):
    N, _, H, W = out.shape
    pos = np.stack(np.meshgrid(np.arange(W), np.arange(H), indexing="xy"))[None]
    out[...] = (flow + pos) / _half_sizes(H, W) - 1.0


def warp_grid_backward(dout, accumulate, dflow):
    _store(dflow, dout / _half_sizes(*dout.shape[2:]), accumulate)


def _corners(data, grid):
    """The four neighbours' flat indices, validity masks and bilinear weights per grid point."""
    H, W = data.shape[2:]
    xr = (grid[:, 0] + 1.0) * (W - 1) / 2.0
    yr = (grid[:, 1] + 1.0) * (H - 1) / 2.0
    x0, y0 = np.floor(xr).astype(np.int64), np.floor(yr).astype(np.int64)
    fx, fy = xr - x0, yr - y0
    out = []
    for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                      (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        y, x = y0 + dy, x0 + dx
        ok = (y >= 0) & (y < H) & (x >= 0) & (x < W)
        out.append((np.clip(y, 0, H - 1), np.clip(x, 0, W - 1), ok, w))
    return out, fx, fy


def _gather(data, y, x, ok):
    N = data.shape[0]
    v = data[np.arange(N)[:, None, None], :, y, x]          # (N, Ho, Wo, C)
    return np.moveaxis(v, -1, 1) * ok[:, None]


def bilinear_sample(data, grid, out):
    corners, _, _ = _corners(data, grid)
    out[...] = sum(_gather(data, y, x, ok) * w[:, None] for y, x, ok, w in corners)


def bilinear_sample_backward(data, grid, dout, want_data, acc_data, ddata, want_grid,
                             acc_grid, dgrid):
    corners, fx, fy = _corners(data, grid)
    N, C = dout.shape[:2]
    H, W = data.shape[2:]
    if want_data:
        g = np.zeros(ddata.shape)
        n_idx = np.arange(N)[:, None, None, None]
        c_idx = np.arange(C)[None, :, None, None]
        for y, x, ok, w in corners:
            np.add.at(g, (n_idx, c_idx, y[:, None], x[:, None]),
                      dout * (w * ok)[:, None])
        _store(ddata, g, acc_data)
    if want_grid:
        tl, tr, bl, br = (_gather(data, y, x, ok) for y, x, ok, _ in corners)
        # the derivatives of the interpolation along x and y, in pixel units
        ddx = ((tr - tl) * (1 - fy)[:, None] + (br - bl) * fy[:, None])
        ddy = ((bl - tl) * (1 - fx)[:, None] + (br - tr) * fx[:, None])
        g = np.stack([(dout * ddx).sum(1) * (W - 1) / 2.0, (dout * ddy).sum(1) * (H - 1) / 2.0],
                     axis=1)
        _store(dgrid, g, acc_grid)


def resize_forward(x, h0, h1, lh, w0, w1, lw, out):
    t, s = lh[None, :, None], lw[None, None, :]
    rows = x[:, h0, :] * (1 - t) + x[:, h1, :] * t
    out[...] = rows[:, :, w0] * (1 - s) + rows[:, :, w1] * s


def resize_backward(dout, h0, h1, lh, w0, w1, lw, accumulate, dx):
    # the forward is out = A_h @ x @ A_w^T per plane: the gradient is A_h^T @ dout @ A_w
    Ho, Wo = dout.shape[1:]
    H, W = dx.shape[1:]
    ah, aw = np.zeros((Ho, H)), np.zeros((Wo, W))
    np.add.at(ah, (np.arange(Ho), h0), 1 - lh)
    np.add.at(ah, (np.arange(Ho), h1), lh)
    np.add.at(aw, (np.arange(Wo), w0), 1 - lw)
    np.add.at(aw, (np.arange(Wo), w1), lw)
    _store(dx, ah.T @ dout @ aw, accumulate)


def _windows(p, y0, x0, k, Ho, Wo, s1):
    """(N, Ho, Wo, k, k, C) patches of ``p`` whose corners are (y0 + i*s1, x0 + j*s1)."""
    ii = y0 + s1 * np.arange(Ho)[:, None, None, None] + np.arange(k)[None, None, :, None]
    jj = x0 + s1 * np.arange(Wo)[None, :, None, None] + np.arange(k)[None, None, None, :]
    return p[:, ii, jj, :], ii, jj


def _displacements(T, radius, s2):
    width = 2 * radius + 1
    return [((t // width - radius) * s2, (t % width - radius) * s2) for t in range(T)]


def correlation_forward(p1, p2, k, maxd, s1, s2, radius, multiply, out):
    N, T, Ho, Wo = out.shape
    a, _, _ = _windows(p1, maxd, maxd, k, Ho, Wo, s1)
    for t, (dy, dx) in enumerate(_displacements(T, radius, s2)):
        b, _, _ = _windows(p2, maxd + dy, maxd + dx, k, Ho, Wo, s1)
        v = a * b if multiply else np.abs(a - b)
        out[:, t] = v.mean(axis=(3, 4, 5))


def correlation_backward(p1, p2, dout, k, maxd, s1, s2, radius, multiply, dp1, dp2):
    N, T, Ho, Wo = dout.shape
    norm = k * k * p1.shape[3]
    g1, g2 = np.zeros(dp1.shape), np.zeros(dp2.shape)
    a, ii1, jj1 = _windows(p1, maxd, maxd, k, Ho, Wo, s1)
    n = np.arange(N)[:, None, None, None, None]
    for t, (dy, dx) in enumerate(_displacements(T, radius, s2)):
        b, ii2, jj2 = _windows(p2, maxd + dy, maxd + dx, k, Ho, Wo, s1)
        g = (dout[:, t] / norm)[:, :, :, None, None, None]
        if multiply:
            d1, d2 = g * b, g * a
        else:
            d1 = np.where(a >= b, g, -g)
            d2 = -d1
        np.add.at(g1, (n, ii1[None], jj1[None]), d1)
        np.add.at(g2, (n, ii2[None], jj2[None]), d2)
    dp1[...] = g1
    dp2[...] = g2


def pad_nhwc(x, pad, out):
    N, C, H, W = x.shape
    out[...] = 0
    out[:, pad:pad + H, pad:pad + W, :] = x.transpose(0, 2, 3, 1)


def unpad_nhwc(dp, pad, accumulate, dx):
    N, C, H, W = dx.shape
    _store(dx, dp[:, pad:pad + H, pad:pad + W, :].transpose(0, 3, 1, 2), accumulate)
