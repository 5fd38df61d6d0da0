"""CUDA kernels of the convolution family (``ops/conv.py``): im2col/col2im around the tiled GEMM
of ``kernels/cuda/nn.py`` for Convolution, and direct kernels for Pooling.

The same layout as the CPU kernels (``kernels/cpu/conv.py``, numpy twins
``kernels/reference/conv.py``): data (N, C, H, W) with 1-D data seen as H = 1, the column buffer
(C*KH*KW, N, OH*OW), so a convolution is one GEMM ``W (F, C*KH*KW) @ col`` per group.

**Launch strategy** (grids from the shapes, grid-stride loops, ``launch.grid_1d``):

* ``im2col``: one thread per column entry — neighbouring threads read neighbouring pixels of
  one row and write neighbouring entries of one column row (both coalesced).
* ``col2im``: one thread per *pixel* of the data gradient *gathers* every column entry copied
  from it (at most KH*KW), instead of every column entry scattering into its pixel: no atomics,
  a fixed summation order, and 'add' is a plain ``+=``.
* ``conv_output`` / ``conv_grad_rows``: one thread per element moves the GEMM result between
  (F, N, L) and the operator's (N, F, L); the bias gradient is a per-channel tree reduction
  (``nn_norm.channel_reduce``).
* Pooling: one thread per output window; max pooling records the position of each window's
  maximum (``argmax``, the first maximum in row-major order as the CPU kernel), and every
  backward is again a per-pixel *gather* over the windows that contain the pixel.
"""
from __future__ import annotations

import math

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["im2col", "col2im", "conv_output", "conv_grad_rows", "pool_forward",
           "pool_backward"]

_A4 = "{t}[:, :, :, ::1]"
PTX_SIGNATURES = {
    "_im2col_kernel": [f"{_A4}, {{t}}[:, :, ::1], " + ", ".join(["int64"] * 9)],
    "_col2im_kernel": [f"{{t}}[:, :, ::1], {_A4}, " + ", ".join(["int64"] * 9) + ", boolean"],
    "_conv_output_kernel": ["{t}[:, :, ::1], {t}[::1], {t}[:, :, ::1], boolean"],
    "_conv_rows_kernel": ["{t}[:, :, ::1], {t}[:, :, ::1]"],
    "_pool_forward_kernel": [f"{_A4}, {_A4}, int32[:, :, :, ::1], " + ", ".join(["int64"] * 7)
                             + ", boolean, int64, {t}, boolean"],
    "_pool_backward_kernel": [f"{_A4}, {_A4}, {_A4}, int32[:, :, :, ::1], {_A4}, "
                              + ", ".join(["int64"] * 7) + ", boolean, int64, boolean"],
}


@cuda.jit
def _im2col_kernel(x, col, kh, kw, sh, sw, ph, pw, dh, dw, ow_n):
    N, C, H, W = x.shape
    K, _, L = col.shape
    for e in range(cuda.grid(1), K * N * L, cuda.gridsize(1)):
        r, n, q = e // (N * L), (e // L) % N, e % L
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        h = (q // ow_n) * sh - ph + i * dh
        w = (q % ow_n) * sw - pw + j * dw
        if 0 <= h < H and 0 <= w < W:
            col[r, n, q] = x[n, c, h, w]
        else:
            col[r, n, q] = 0


@cuda.jit(device=True)
def _first_out(pos, k, s, d):
    """Smallest output index o >= 0 whose kernel tap ``k`` (dilation ``d``, stride ``s``) reads
    padded position ``pos``: o * s + k * d == pos; -1 if none."""
    v = pos - k * d
    if v < 0 or v % s != 0:
        return -1
    return v // s


@cuda.jit
def _col2im_kernel(col, dx, kh, kw, sh, sw, ph, pw, dh, dw, ow_n, accumulate):
    N, C, H, W = dx.shape
    oh_n = col.shape[2] // ow_n
    for e in range(cuda.grid(1), N * C * H * W, cuda.gridsize(1)):
        n, c, h, w = e // (C * H * W), (e // (H * W)) % C, (e // W) % H, e % W
        acc = col[0, 0, 0] * 0
        for i in range(kh):
            oh = _first_out(h + ph, i, sh, dh)
            if oh < 0 or oh >= oh_n:
                continue
            for j in range(kw):
                ow = _first_out(w + pw, j, sw, dw)
                if 0 <= ow < ow_n:
                    acc += col[(c * kh + i) * kw + j, n, oh * ow_n + ow]
        if accumulate:
            dx[n, c, h, w] += acc
        else:
            dx[n, c, h, w] = acc


@cuda.jit
def _conv_output_kernel(tmp, bias, out, has_bias):
    F, N, L = tmp.shape
    for e in range(cuda.grid(1), N * F * L, cuda.gridsize(1)):
        n, f, q = e // (F * L), (e // L) % F, e % L
        v = tmp[f, n, q]
        out[n, f, q] = v + bias[f] if has_bias else v


@cuda.jit
def _conv_rows_kernel(dy, rows):
    N, F, L = dy.shape
    for e in range(cuda.grid(1), N * F * L, cuda.gridsize(1)):
        f, n, q = e // (N * L), (e // L) % N, e % L
        rows[f, n, q] = dy[n, f, q]


@cuda.jit(device=True)
def _window(o, s, p, k, size):
    """(start, end) of output ``o``'s window clipped to the data, and its padded extent."""
    start = o * s - p
    end = min(start + k, size + p)
    return max(start, 0), min(end, size), end - start


@cuda.jit
def _pool_forward_kernel(x, out, argmax, kh, kw, sh, sw, ph, pw, mode, count_include_pad,
                         p_value, lowest, record):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for e in range(cuda.grid(1), N * C * OH * OW, cuda.gridsize(1)):
        n, c, oh, ow = e // (C * OH * OW), (e // (OH * OW)) % C, (e // OW) % OH, e % OW
        h0, h1, hspan = _window(oh, sh, ph, kh, H)
        w0, w1, wspan = _window(ow, sw, pw, kw, W)
        if mode == 0:
            m = lowest
            best = -1
            for h in range(h0, h1):
                for w in range(w0, w1):
                    v = x[n, c, h, w]
                    if v > m or (best < 0 and v == lowest):
                        m = v
                        best = h * W + w
            out[n, c, oh, ow] = m
            if record:
                argmax[n, c, oh, ow] = best
        else:
            s = x[n, c, 0, 0] * 0
            for h in range(h0, h1):
                for w in range(w0, w1):
                    v = x[n, c, h, w]
                    s += v ** p_value if mode == 3 else v
            if mode == 1:
                size = hspan * wspan if count_include_pad else (h1 - h0) * (w1 - w0)
                out[n, c, oh, ow] = s / size
            elif mode == 2 or p_value == 1:
                out[n, c, oh, ow] = s
            elif p_value == 2:
                out[n, c, oh, ow] = math.sqrt(s)
            else:
                out[n, c, oh, ow] = math.copysign(abs(s) ** (1.0 / p_value), s)


@cuda.jit(device=True)
def _covering(pos, s, p, k, n_out):
    """The outputs [lo, hi) whose window (start o*s - p, k wide) contains ``pos``."""
    lo = pos + p - k + 1
    lo = 0 if lo <= 0 else (lo + s - 1) // s
    hi = min((pos + p) // s + 1, n_out)
    return lo, hi


@cuda.jit
def _pool_backward_kernel(x, y, dy, argmax, dx, kh, kw, sh, sw, ph, pw, mode,
                          count_include_pad, p_value, accumulate):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for e in range(cuda.grid(1), N * C * H * W, cuda.gridsize(1)):
        n, c, h, w = e // (C * H * W), (e // (H * W)) % C, (e // W) % H, e % W
        oh0, oh1 = _covering(h, sh, ph, kh, OH)
        ow0, ow1 = _covering(w, sw, pw, kw, OW)
        acc = x[n, c, h, w] * 0
        for oh in range(oh0, oh1):
            for ow in range(ow0, ow1):
                g = dy[n, c, oh, ow]
                if mode == 0:
                    if argmax[n, c, oh, ow] == h * W + w:
                        acc += g
                elif mode == 1:
                    h0, h1, hspan = _window(oh, sh, ph, kh, H)
                    w0, w1, wspan = _window(ow, sw, pw, kw, W)
                    size = hspan * wspan if count_include_pad else (h1 - h0) * (w1 - w0)
                    acc += g / size
                elif mode == 2:
                    acc += g
                else:
                    acc += g * (x[n, c, h, w] / y[n, c, oh, ow]) ** (p_value - 1)
        if accumulate:
            dx[n, c, h, w] += acc
        else:
            dx[n, c, h, w] = acc


# -- host side -------------------------------------------------------------------------------
def im2col(x, col, kh, kw, sh, sw, ph, pw, dh, dw, ow_n):
    """``col[(c*kh + i)*kw + j, n, oh*ow_n + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw +
    j*dw]``, zero in the padding (the CPU twin's signature)."""
    check_device_arrays("im2col", x=x, col=col)
    blocks, threads = grid_1d(col.size)
    _im2col_kernel[blocks, threads](x, col, kh, kw, sh, sw, ph, pw, dh, dw, ow_n)


def col2im(col, dx, kh, kw, sh, sw, ph, pw, dh, dw, ow_n, accumulate):
    """The adjoint of :func:`im2col` into ``dx`` (write, or add with ``accumulate``)."""
    check_device_arrays("col2im", col=col, dx=dx)
    blocks, threads = grid_1d(dx.size)
    _col2im_kernel[blocks, threads](col, dx, kh, kw, sh, sw, ph, pw, dh, dw, ow_n,
                                    bool(accumulate))


def conv_output(tmp, bias, out, has_bias):
    """``out[n, f, :] = tmp[f, n, :] (+ bias[f])``: the GEMM result (F, N, L) to (N, F, L)."""
    check_device_arrays("conv_output", tmp=tmp, bias=bias, out=out)
    blocks, threads = grid_1d(out.size)
    _conv_output_kernel[blocks, threads](tmp, bias, out, bool(has_bias))


def conv_grad_rows(dy, rows):
    """``rows[f, n, :] = dy[n, f, :]``: the output gradient as the GEMMs' (F, N*L) operand."""
    check_device_arrays("conv_grad_rows", dy=dy, rows=rows)
    blocks, threads = grid_1d(dy.size)
    _conv_rows_kernel[blocks, threads](dy, rows)


def pool_forward(x, out, argmax, kh, kw, sh, sw, ph, pw, mode, count_include_pad, p_value,
                 lowest):
    """Pooling of (N, C, H, W) into (N, C, OH, OW) (``mode`` from ``POOL_CODES``); max pooling
    also records each window's maximum position ``h * W + w`` in ``argmax`` (int32, -1 for a
    window holding nothing >= ``lowest``)."""
    check_device_arrays("pool_forward", x=x, out=out, argmax=argmax)
    blocks, threads = grid_1d(out.size)
    _pool_forward_kernel[blocks, threads](x, out, argmax, kh, kw, sh, sw, ph, pw, mode,
                                          bool(count_include_pad), int(p_value),
                                          x.dtype.type(lowest), mode == 0)


def pool_backward(x, y, dy, argmax, dx, kh, kw, sh, sw, ph, pw, mode, count_include_pad,
                  p_value, accumulate):
    """Gradient of :func:`pool_forward`; max pooling reads the recorded ``argmax``."""
    check_device_arrays("pool_backward", x=x, y=y, dy=dy, argmax=argmax, dx=dx)
    blocks, threads = grid_1d(dx.size)
    _pool_backward_kernel[blocks, threads](x, y, dy, argmax, dx, kh, kw, sh, sw, ph, pw, mode,
                                           bool(count_include_pad), int(p_value),
                                           bool(accumulate))
