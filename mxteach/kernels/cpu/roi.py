"""Numba CPU kernels of the roi family (``ops/roi.py``): ROIPooling (max over the bins of each
region, remembering where the maximum was), ROIAlign (the mean of bilinear samples per bin)
and AdaptiveAvgPooling2D (the mean over bins that tile the whole image).

A region of interest is a row ``(batch_index, x1, y1, x2, y2)`` in image coordinates, scaled
by ``spatial_scale`` onto the feature map. Backward kernels take ``accumulate``
(``grad_req='add'``); without it they clear the gradient and scatter into it. numpy twins:
``kernels/reference/roi.py``; CUDA twins: ``kernels/cuda/roi.py``.
"""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["roi_pool_forward", "roi_pool_backward", "roi_align_forward", "roi_align_backward",
           "adaptive_avg_forward", "adaptive_avg_backward"]


@njit(cache=True)
def round_half_away(v):
    """C's round(): halves go away from zero (numpy's round goes to even)."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


@njit(cache=True)
def pool_bin(roi, scale, PH, PW, H, W, ph, pw):
    """ROIPooling's bin ``(ph, pw)`` of ``roi``: rows [hs, he) and columns [ws, we) of the
    feature map (empty when he <= hs or we <= ws). The region's corners are rounded; it
    covers at least one pixel; bin edges are floor/ceil of equal fractions."""
    x1, y1 = round_half_away(roi[1] * scale), round_half_away(roi[2] * scale)
    x2, y2 = round_half_away(roi[3] * scale), round_half_away(roi[4] * scale)
    rh, rw = max(y2 - y1 + 1.0, 1.0), max(x2 - x1 + 1.0, 1.0)
    bh, bw = rh / PH, rw / PW
    hs = min(max(int(math.floor(ph * bh)) + int(y1), 0), H)
    he = min(max(int(math.ceil((ph + 1) * bh)) + int(y1), 0), H)
    ws = min(max(int(math.floor(pw * bw)) + int(x1), 0), W)
    we = min(max(int(math.ceil((pw + 1) * bw)) + int(x1), 0), W)
    return hs, he, ws, we


@njit(cache=True)
def pool_max(data, b, c, hs, he, ws, we):
    """(maximum of ``data[b, c]`` over rows [hs, he) and columns [ws, we), its flat index into
    ``data``); (0, -1) for an empty bin, the first maximum wins."""
    C, H, W = data.shape[1], data.shape[2], data.shape[3]
    best = 0.0
    where = -1
    for h in range(hs, he):
        for w in range(ws, we):
            v = data[b, c, h, w]
            if where < 0 or v > best:
                best, where = v, ((b * C + c) * H + h) * W + w
    return best, where


@njit(cache=True, parallel=True)
def roi_pool_forward(data, rois, scale, out, argmax):
    """``out[r, c, ph, pw]``: the maximum of ``data[batch, c]`` over bin (ph, pw) of region
    ``r`` (0 for an empty bin), ``argmax`` its flat index into ``data`` (-1 if empty; the
    first maximum wins)."""
    R, C, PH, PW = out.shape
    N, _, H, W = data.shape
    for r in prange(R):
        b = int(rois[r, 0])
        for ph in range(PH):
            for pw in range(PW):
                hs, he, ws, we = pool_bin(rois[r], scale, PH, PW, H, W, ph, pw)
                for c in range(C):
                    out[r, c, ph, pw], argmax[r, c, ph, pw] = pool_max(data, b, c, hs, he, ws,
                                                                       we)


@njit(cache=True)
def roi_pool_backward(dout, argmax, accumulate, ddata):
    """Each output's gradient goes to the input element that was its maximum (serial: regions
    may share pixels)."""
    flat = ddata.reshape(-1)
    if not accumulate:
        flat[:] = 0.0
    g, a = dout.reshape(-1), argmax.reshape(-1)
    for k in range(a.size):
        if a[k] >= 0:
            flat[a[k]] += g[k]


@njit(cache=True)
def align_geometry(roi, scale, PH, PW, sample_ratio, aligned):
    """ROIAlign's region: (batch, start y, start x, bin height, bin width, samples per bin
    along y, along x). Unaligned regions are at least 1x1; ``aligned`` shifts by half a
    pixel so that pixel centres sit at integer + 0.5."""
    off = 0.5 if aligned else 0.0
    sx, sy = roi[1] * scale - off, roi[2] * scale - off
    rw, rh = roi[3] * scale - off - sx, roi[4] * scale - off - sy
    if not aligned:
        rw, rh = max(rw, 1.0), max(rh, 1.0)
    bh, bw = rh / PH, rw / PW
    gh = sample_ratio if sample_ratio > 0 else int(math.ceil(rh / PH))
    gw = sample_ratio if sample_ratio > 0 else int(math.ceil(rw / PW))
    return int(roi[0]), sy, sx, bh, bw, gh, gw


@njit(cache=True)
def align_weights(H, W, y, x):
    """The four pixels around (y, x) and their bilinear weights, as ROIAlign clamps: points
    more than one pixel outside count nothing (``ok`` False), nearer ones are clamped."""
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return False, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= H - 1:
        y0 = y1 = H - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= W - 1:
        x0 = x1 = W - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return (True, y0, y1, x0, x1, (1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx)


@njit(cache=True, inline="always")
def align_point(s0, p, bin_size, i, grid):
    """Sample i of ``grid`` evenly spaced ones inside bin p (one axis)."""
    return s0 + p * bin_size + (i + 0.5) * bin_size / grid


@njit(cache=True)
def align_read(data, b, cu, y0, y1, x0, x1, w1, w2, w3, w4):
    """The bilinear sample of ``data[b, cu]`` from its four pixels and weights."""
    return (w1 * data[b, cu, y0, x0] + w2 * data[b, cu, y0, x1]
            + w3 * data[b, cu, y1, x0] + w4 * data[b, cu, y1, x1])


@njit(cache=True)
def adaptive_bin(i, size, out_size):
    """[start, end) of adaptive bin i: floor(i * size / out) to ceil((i + 1) * size / out)."""
    return (i * size) // out_size, -((-(i + 1) * size) // out_size)


@njit(cache=True, parallel=True)
def roi_align_forward(data, rois, scale, sample_ratio, position_sensitive, aligned, out):
    """``out[r, c, ph, pw]``: the mean of bilinear samples on a regular grid inside bin
    (ph, pw); position-sensitive pooling reads channel ``(c * PH + ph) * PW + pw``. A region
    with a negative batch index gives zeros."""
    R, C, PH, PW = out.shape
    H, W = data.shape[2], data.shape[3]
    for r in prange(R):
        b, sy, sx, bh, bw, gh, gw = align_geometry(rois[r], scale, PH, PW, sample_ratio,
                                                   aligned)
        count = max(gh * gw, 1)
        for c in range(C):
            for ph in range(PH):
                for pw in range(PW):
                    cu = (c * PH + ph) * PW + pw if position_sensitive else c
                    acc = 0.0
                    for iy in range(gh if b >= 0 else 0):
                        y = align_point(sy, ph, bh, iy, gh)
                        for ix in range(gw):
                            x = align_point(sx, pw, bw, ix, gw)
                            ok, y0, y1, x0, x1, w1, w2, w3, w4 = align_weights(H, W, y, x)
                            if ok:
                                acc += align_read(data, b, cu, y0, y1, x0, x1, w1, w2, w3, w4)
                    out[r, c, ph, pw] = acc / count


@njit(cache=True)
def roi_align_backward(dout, rois, scale, sample_ratio, position_sensitive, aligned,
                       accumulate, ddata):
    """The gradient of :func:`roi_align_forward` with respect to the data: each output's
    gradient spread over the pixels of its samples by their weights (serial: regions may
    share pixels)."""
    R, C, PH, PW = dout.shape
    H, W = ddata.shape[2], ddata.shape[3]
    if not accumulate:
        ddata[...] = 0.0
    for r in range(R):
        b, sy, sx, bh, bw, gh, gw = align_geometry(rois[r], scale, PH, PW, sample_ratio,
                                                   aligned)
        if b < 0:
            continue
        count = max(gh * gw, 1)
        for c in range(C):
            for ph in range(PH):
                for pw in range(PW):
                    cu = (c * PH + ph) * PW + pw if position_sensitive else c
                    g = dout[r, c, ph, pw] / count
                    for iy in range(gh):
                        y = align_point(sy, ph, bh, iy, gh)
                        for ix in range(gw):
                            x = align_point(sx, pw, bw, ix, gw)
                            ok, y0, y1, x0, x1, w1, w2, w3, w4 = align_weights(H, W, y, x)
                            if ok:
                                ddata[b, cu, y0, x0] += g * w1
                                ddata[b, cu, y0, x1] += g * w2
                                ddata[b, cu, y1, x0] += g * w3
                                ddata[b, cu, y1, x1] += g * w4


@njit(cache=True, parallel=True)
def adaptive_avg_forward(x, out):
    """``out[m, i, j]``: the mean of ``x[m]`` over rows [floor(i*H/OH), ceil((i+1)*H/OH)) and
    the columns likewise (``x`` (M, H, W), ``out`` (M, OH, OW))."""
    M, OH, OW = out.shape
    H, W = x.shape[1], x.shape[2]
    for m in prange(M):
        for i in range(OH):
            hs, he = adaptive_bin(i, H, OH)
            for j in range(OW):
                ws, we = adaptive_bin(j, W, OW)
                acc = 0.0
                for h in range(hs, he):
                    for w in range(ws, we):
                        acc += x[m, h, w]
                out[m, i, j] = acc / ((he - hs) * (we - ws))


@njit(cache=True, parallel=True)
def adaptive_avg_backward(dout, accumulate, dx):
    """Each output's gradient shared equally by the pixels of its bin (bins may overlap;
    parallel over the M planes, which do not)."""
    M, OH, OW = dout.shape
    H, W = dx.shape[1], dx.shape[2]
    for m in prange(M):
        if not accumulate:
            dx[m] = 0.0
        for i in range(OH):
            hs, he = adaptive_bin(i, H, OH)
            for j in range(OW):
                ws, we = adaptive_bin(j, W, OW)
                g = dout[m, i, j] / ((he - hs) * (we - ws))
                for h in range(hs, he):
                    for w in range(ws, we):
                        dx[m, h, w] += g
