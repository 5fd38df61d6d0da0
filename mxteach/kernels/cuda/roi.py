"""CUDA twins of ``kernels/cpu/roi.py``: one thread per output element (region, channel, bin);
the backward kernels scatter into the data gradient with ``cuda.atomic.add`` (regions and
adaptive bins overlap), after the host clears it unless ``accumulate``. The device functions
are the CPU helpers themselves (``pool_bin``, ``align_geometry``, ``align_weights`` ...)
compiled for the device; the loops differ (one thread per output, atomics). numpy twins in
``kernels/reference/roi.py``."""
from __future__ import annotations

from numba import cuda

from ..cpu import roi as _cpu
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


# the bins, the sample points and their weights are the CPU module's functions, compiled for
# the device
_pool_bin, _pool_max, _align_geometry, _align_point, _align_weights, _align_read, _adaptive_bin = (
        cuda.jit(device=True)(f.py_func) for f in (
            _cpu.pool_bin, _cpu.pool_max, _cpu.align_geometry, _cpu.align_point, _cpu.align_weights,
            _cpu.align_read, _cpu.adaptive_bin))


@cuda.jit
def _roi_pool_kernel(data, rois, scale, out, argmax):
    R, C, PH, PW = out.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        pw, ph, c, r = e % PW, (e // PW) % PH, (e // (PW * PH)) % C, e // (PW * PH * C)
        hs, he, ws, we = _pool_bin(rois[r], scale, PH, PW, H, W, ph, pw)
        out[r, c, ph, pw], argmax[r, c, ph, pw] = _pool_max(data, int(rois[r, 0]), c, hs, he, ws,
                                                            we)


@cuda.jit
def _roi_pool_backward_kernel(dout, argmax, ddata):
    for k in range(cuda.grid(1), dout.size, cuda.gridsize(1)):
        if argmax[k] >= 0:
            cuda.atomic.add(ddata, argmax[k], dout[k])


# forward (backward=False): out = mean of samples; backward: data <- atomics of out's gradient
@cuda.jit
def _roi_align_kernel(data, rois, scale, ratio, sensitive, aligned, out, backward):
    R, C, PH, PW = out.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        pw, ph, c, r = e % PW, (e // PW) % PH, (e // (PW * PH)) % C, e // (PW * PH * C)
        b, sy, sx, bh, bw, gh, gw = _align_geometry(rois[r], scale, PH, PW, ratio, aligned)
        count = max(gh * gw, 1)
        cu = (c * PH + ph) * PW + pw if sensitive else c
        g = out[r, c, ph, pw] / count
        acc = 0.0
        for iy in range(gh if b >= 0 else 0):
            y = _align_point(sy, ph, bh, iy, gh)
            for ix in range(gw):
                x = _align_point(sx, pw, bw, ix, gw)
                ok, y0, y1, x0, x1, w1, w2, w3, w4 = _align_weights(H, W, y, x)
                if not ok:
                    continue
                if backward:
                    cuda.atomic.add(data, (b, cu, y0, x0), g * w1)
                    cuda.atomic.add(data, (b, cu, y0, x1), g * w2)
                    cuda.atomic.add(data, (b, cu, y1, x0), g * w3)
                    cuda.atomic.add(data, (b, cu, y1, x1), g * w4)
                else:
                    acc += _align_read(data, b, cu, y0, y1, x0, x1, w1, w2, w3, w4)
        if not backward:
            out[r, c, ph, pw] = acc / count


# forward: x -> out (one thread per output); backward: out's gradient -> x by atomics
@cuda.jit
def _adaptive_kernel(x, out, backward):
    M, OH, OW = out.shape
    H, W = x.shape[1], x.shape[2]
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        m, i, j = e // (OH * OW), (e // OW) % OH, e % OW
        hs, he = _adaptive_bin(i, H, OH)
        ws, we = _adaptive_bin(j, W, OW)
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
