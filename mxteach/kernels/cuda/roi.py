"""CUDA twins of ``kernels/cpu/roi.py``: one thread per output element (region, channel, bin);
the backward kernels scatter into the data gradient with ``cuda.atomic.add`` (regions and
adaptive bins overlap), after the host clears it unless ``accumulate``. The device functions
are deliberate twins of the CPU helpers (``pool_bin``, ``align_geometry``,
``align_weights``): numba cannot call an ``@njit`` function from a CUDA kernel. numpy twins
in ``kernels/reference/roi.py``."""
from __future__ import annotations

import math

from numba import cuda

from .launch import grid_1d, check_device_arrays
from .elemwise import fill

__all__ = ["roi_pool_forward", "roi_pool_backward", "roi_align_forward", "roi_align_backward",
           "adaptive_avg_forward", "adaptive_avg_backward"]

_A4 = "{t}[:, :, :, ::1]"
_A3 = "{t}[:, :, ::1]"
PTX_SIGNATURES = {
    "_roi_pool_kernel": [f"{_A4}, {{t}}[:, ::1], float64, {_A4}, int64[:, :, :, ::1]"],
    "_roi_pool_backward_kernel": ["{t}[::1], int64[::1], {t}[::1]"],
    "_roi_align_kernel": [f"{_A4}, {{t}}[:, ::1], float64, int64, boolean, boolean, {_A4}, "
                          "boolean"],
    "_adaptive_kernel": [f"{_A3}, {_A3}, boolean"],
}


@cuda.jit(device=True)
def _round(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


@cuda.jit(device=True)
def _pool_bin(rois, r, scale, PH, PW, H, W, ph, pw):
    x1, y1 = _round(rois[r, 1] * scale), _round(rois[r, 2] * scale)
    x2, y2 = _round(rois[r, 3] * scale), _round(rois[r, 4] * scale)
    rh, rw = max(y2 - y1 + 1.0, 1.0), max(x2 - x1 + 1.0, 1.0)
    bh, bw = rh / PH, rw / PW
    hs = min(max(int(math.floor(ph * bh)) + int(y1), 0), H)
    he = min(max(int(math.ceil((ph + 1) * bh)) + int(y1), 0), H)
    ws = min(max(int(math.floor(pw * bw)) + int(x1), 0), W)
    we = min(max(int(math.ceil((pw + 1) * bw)) + int(x1), 0), W)
    return hs, he, ws, we


@cuda.jit
def _roi_pool_kernel(data, rois, scale, out, argmax):
    R, C, PH, PW = out.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        pw, ph, c, r = e % PW, (e // PW) % PH, (e // (PW * PH)) % C, e // (PW * PH * C)
        b = int(rois[r, 0])
        hs, he, ws, we = _pool_bin(rois, r, scale, PH, PW, H, W, ph, pw)
        best = 0.0
        where = -1
        for h in range(hs, he):
            for w in range(ws, we):
                v = data[b, c, h, w]
                if where < 0 or v > best:
                    best, where = v, ((b * C + c) * H + h) * W + w
        out[r, c, ph, pw] = best
        argmax[r, c, ph, pw] = where


@cuda.jit
def _roi_pool_backward_kernel(dout, argmax, ddata):
    for k in range(cuda.grid(1), dout.size, cuda.gridsize(1)):
        if argmax[k] >= 0:
            cuda.atomic.add(ddata, argmax[k], dout[k])


@cuda.jit(device=True)
def _weights(H, W, y, x):
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


# forward (backward=False): out = mean of samples; backward: data <- atomics of out's gradient
@cuda.jit
def _roi_align_kernel(data, rois, scale, ratio, sensitive, aligned, out, backward):
    R, C, PH, PW = out.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        pw, ph, c, r = e % PW, (e // PW) % PH, (e // (PW * PH)) % C, e // (PW * PH * C)
        off = 0.5 if aligned else 0.0
        sx, sy = rois[r, 1] * scale - off, rois[r, 2] * scale - off
        rw, rh = rois[r, 3] * scale - off - sx, rois[r, 4] * scale - off - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / PH, rw / PW
        gh = ratio if ratio > 0 else int(math.ceil(rh / PH))
        gw = ratio if ratio > 0 else int(math.ceil(rw / PW))
        b = int(rois[r, 0])
        count = max(gh * gw, 1)
        cu = (c * PH + ph) * PW + pw if sensitive else c
        g = out[r, c, ph, pw] / count
        acc = 0.0
        for iy in range(gh if b >= 0 else 0):
            y = sy + ph * bh + (iy + 0.5) * bh / gh
            for ix in range(gw):
                x = sx + pw * bw + (ix + 0.5) * bw / gw
                ok, y0, y1, x0, x1, w1, w2, w3, w4 = _weights(H, W, y, x)
                if not ok:
                    continue
                if backward:
                    cuda.atomic.add(data, (b, cu, y0, x0), g * w1)
                    cuda.atomic.add(data, (b, cu, y0, x1), g * w2)
                    cuda.atomic.add(data, (b, cu, y1, x0), g * w3)
                    cuda.atomic.add(data, (b, cu, y1, x1), g * w4)
                else:
                    acc += (w1 * data[b, cu, y0, x0] + w2 * data[b, cu, y0, x1]
                            + w3 * data[b, cu, y1, x0] + w4 * data[b, cu, y1, x1])
        if not backward:
            out[r, c, ph, pw] = acc / count


# forward: x -> out (one thread per output); backward: out's gradient -> x by atomics
@cuda.jit
def _adaptive_kernel(x, out, backward):
    M, OH, OW = out.shape
    H, W = x.shape[1], x.shape[2]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        m, i, j = e // (OH * OW), (e // OW) % OH, e % OW
        hs, he = (i * H) // OH, -((-(i + 1) * H) // OH)
        ws, we = (j * W) // OW, -((-(j + 1) * W) // OW)
        n = (he - hs) * (we - ws)
        acc = 0.0
        g = out[m, i, j] / n
        for h in range(hs, he):
            for w in range(ws, we):
                if backward:
                    cuda.atomic.add(x, (m, h, w), g)
                else:
                    acc += x[m, h, w]
        if not backward:
            out[m, i, j] = acc / n


def roi_pool_forward(data, rois, scale, out, argmax):
    """ROIPooling's maxima and their flat indices (see the CPU twin)."""
    check_device_arrays("roi_pool_forward", data=data, rois=rois, out=out, argmax=argmax)
    blocks, threads = grid_1d(out.size)
    _roi_pool_kernel[blocks, threads](data, rois, float(scale), out, argmax)


def roi_pool_backward(dout, argmax, accumulate, ddata):
    check_device_arrays("roi_pool_backward", dout=dout, argmax=argmax, ddata=ddata)
    if not accumulate:
        fill(ddata, 0)
    blocks, threads = grid_1d(dout.size)
    _roi_pool_backward_kernel[blocks, threads](dout.reshape(dout.size),
                                               argmax.reshape(argmax.size),
                                               ddata.reshape(ddata.size))


def roi_align_forward(data, rois, scale, sample_ratio, position_sensitive, aligned, out):
    check_device_arrays("roi_align_forward", data=data, rois=rois, out=out)
    blocks, threads = grid_1d(out.size)
    _roi_align_kernel[blocks, threads](data, rois, float(scale), int(sample_ratio),
                                       bool(position_sensitive), bool(aligned), out, False)


def roi_align_backward(dout, rois, scale, sample_ratio, position_sensitive, aligned,
                       accumulate, ddata):
    check_device_arrays("roi_align_backward", dout=dout, rois=rois, ddata=ddata)
    if not accumulate:
        fill(ddata, 0)
    blocks, threads = grid_1d(dout.size)
    _roi_align_kernel[blocks, threads](ddata, rois, float(scale), int(sample_ratio),
                                       bool(position_sensitive), bool(aligned), dout, True)


def adaptive_avg_forward(x, out):
    check_device_arrays("adaptive_avg_forward", x=x, out=out)
    blocks, threads = grid_1d(out.size)
    _adaptive_kernel[blocks, threads](x, out, False)


def adaptive_avg_backward(dout, accumulate, dx):
    check_device_arrays("adaptive_avg_backward", dout=dout, dx=dx)
    if not accumulate:
        fill(dx, 0)
    blocks, threads = grid_1d(dout.size)
    _adaptive_kernel[blocks, threads](dx, dout, True)
