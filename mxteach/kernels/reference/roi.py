"""numpy twins of ``kernels/cpu/roi.py`` (ROIPooling, ROIAlign, AdaptiveAvgPooling2D), written
per region and bin with numpy slices and index arrays. The tests trust these."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["roi_pool_forward", "roi_pool_backward", "roi_align_forward", "roi_align_backward",
           "adaptive_avg_forward", "adaptive_avg_backward"]


def _store(dst, value, accumulate):
    if accumulate:
        dst += value
    else:
        dst[...] = value


def _c_round(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _pool_bins(roi, scale, PH, PW, H, W):
    x1, y1, x2, y2 = (float(_c_round(v * scale)) for v in roi[1:5])
    bh, bw = max(y2 - y1 + 1, 1) / PH, max(x2 - x1 + 1, 1) / PW
    clip = lambda v, n: int(min(max(v, 0), n))      # noqa: E731
    rows = [(clip(math.floor(k * bh) + y1, H), clip(math.ceil((k + 1) * bh) + y1, H))
            for k in range(PH)]
    cols = [(clip(math.floor(k * bw) + x1, W), clip(math.ceil((k + 1) * bw) + x1, W))
            for k in range(PW)]
    return rows, cols


def roi_pool_forward(data, rois, scale, out, argmax):
    R, C, PH, PW = out.shape
    N, _, H, W = data.shape
    flat_index = np.arange(data.size).reshape(data.shape)
    for r in range(R):
        b = int(rois[r, 0])
        rows, cols = _pool_bins(rois[r], scale, PH, PW, H, W)
        for ph, (hs, he) in enumerate(rows):
            for pw, (ws, we) in enumerate(cols):
                if he <= hs or we <= ws:
                    out[r, :, ph, pw], argmax[r, :, ph, pw] = 0, -1
                    continue
                block = data[b, :, hs:he, ws:we].reshape(C, -1)
                k = block.argmax(axis=1)                  # numpy: the first maximum
                out[r, :, ph, pw] = block[np.arange(C), k]
                argmax[r, :, ph, pw] = flat_index[b, :, hs:he, ws:we].reshape(C, -1)[
                    np.arange(C), k]


def roi_pool_backward(dout, argmax, accumulate, ddata):
    g = np.zeros(ddata.size)
    keep = argmax.reshape(-1) >= 0
    np.add.at(g, argmax.reshape(-1)[keep], dout.reshape(-1)[keep])
    _store(ddata, g.reshape(ddata.shape), accumulate)


def _align_samples(roi, scale, PH, PW, ratio, aligned, H, W):
    """Per bin: the flat (y, x) pixel indices and weights of all its samples, and the count."""
    off = 0.5 if aligned else 0.0
    sx, sy, ex, ey = (v * scale - off for v in roi[1:5])
    rw, rh = ex - sx, ey - sy
    if not aligned:
        rw, rh = max(rw, 1.0), max(rh, 1.0)
    bh, bw = rh / PH, rw / PW
    gh = ratio if ratio > 0 else int(math.ceil(rh / PH))
    gw = ratio if ratio > 0 else int(math.ceil(rw / PW))
    bins = {}
    for ph in range(PH):
        for pw in range(PW):
            ys = sy + ph * bh + (np.arange(gh) + 0.5) * bh / gh
            xs = sx + pw * bw + (np.arange(gw) + 0.5) * bw / gw
            y, x = (a.reshape(-1) for a in np.meshgrid(ys, xs, indexing="ij"))
            ok = ~((y < -1) | (y > H) | (x < -1) | (x > W))
            y, x = np.maximum(y, 0), np.maximum(x, 0)
            y0, x0 = y.astype(np.int64), x.astype(np.int64)
            top_y, top_x = y0 >= H - 1, x0 >= W - 1
            y0, x0 = np.where(top_y, H - 1, y0), np.where(top_x, W - 1, x0)
            y = np.where(top_y, y0, y)
            x = np.where(top_x, x0, x)
            y1, x1 = np.where(top_y, y0, y0 + 1), np.where(top_x, x0, x0 + 1)
            ly, lx = y - y0, x - x0
            taps = [(y0, x0, (1 - ly) * (1 - lx)), (y0, x1, (1 - ly) * lx),
                    (y1, x0, ly * (1 - lx)), (y1, x1, ly * lx)]
            bins[ph, pw] = [(yy[ok], xx[ok], ww[ok]) for yy, xx, ww in taps]
    return int(roi[0]), bins, max(gh * gw, 1)


def _channel(c, ph, pw, PH, PW, sensitive):
    return (c * PH + ph) * PW + pw if sensitive else c


def roi_align_forward(data, rois, scale, sample_ratio, position_sensitive, aligned, out):
    R, C, PH, PW = out.shape
    H, W = data.shape[2:]
    out[...] = 0
    for r in range(R):
        b, bins, count = _align_samples(rois[r], scale, PH, PW, sample_ratio, aligned, H, W)
        if b < 0:
            continue
        for (ph, pw), taps in bins.items():
            for c in range(C):
                plane = data[b, _channel(c, ph, pw, PH, PW, position_sensitive)]
                out[r, c, ph, pw] = sum((plane[y, x] * w).sum() for y, x, w in taps) / count


def roi_align_backward(dout, rois, scale, sample_ratio, position_sensitive, aligned,
                       accumulate, ddata):
    R, C, PH, PW = dout.shape
    H, W = ddata.shape[2:]
    g = np.zeros(ddata.shape)
    for r in range(R):
        b, bins, count = _align_samples(rois[r], scale, PH, PW, sample_ratio, aligned, H, W)
        if b < 0:
            continue
        for (ph, pw), taps in bins.items():
            for c in range(C):
                cu = _channel(c, ph, pw, PH, PW, position_sensitive)
                for y, x, w in taps:
                    np.add.at(g[b, cu], (y, x), w * dout[r, c, ph, pw] / count)
    _store(ddata, g, accumulate)


def _adaptive_matrix(n_in, n_out):
    """(n_out, n_in): row i averages input positions [floor(i*n/o), ceil((i+1)*n/o))."""
    a = np.zeros((n_out, n_in))
    for i in range(n_out):
        s, e = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        a[i, s:e] = 1.0 / (e - s)
    return a


def adaptive_avg_forward(x, out):
    ah = _adaptive_matrix(x.shape[1], out.shape[1])
    aw = _adaptive_matrix(x.shape[2], out.shape[2])
    out[...] = ah @ x @ aw.T


def adaptive_avg_backward(dout, accumulate, dx):
    ah = _adaptive_matrix(dx.shape[1], dout.shape[1])
    aw = _adaptive_matrix(dx.shape[2], dout.shape[2])
    _store(dx, ah.T @ dout @ aw, accumulate)
