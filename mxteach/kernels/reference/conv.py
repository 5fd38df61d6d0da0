"""Numpy references for ``kernels/cpu/conv.py``: same names, same signatures, written for
clarity rather than speed (zero padding with np.pad, windows by slicing). The tests run both on
the same data."""
from __future__ import annotations

import numpy as np

from ..cpu.conv import POOL_CODES

__all__ = ["im2col", "col2im", "conv_output", "pool_forward", "pool_backward"]

_NAMES = {v: k for k, v in POOL_CODES.items()}


def _taps(shape, kh, kw, sh, sw, dh, dw, oh_n, ow_n):
    """For each kernel offset (i, j): the slices of the padded image it sees."""
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh_n - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow_n - 1) + 1, sw)
            yield i, j, rows, cols


def im2col(x, col, kh, kw, sh, sw, ph, pw, dh, dw, ow_n):
    N, C = x.shape[:2]
    oh_n = col.shape[2] // ow_n
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    c6 = col.reshape(C, kh, kw, N, oh_n, ow_n)
    for i, j, rows, cols in _taps(x.shape, kh, kw, sh, sw, dh, dw, oh_n, ow_n):
        c6[:, i, j] = xp[:, :, rows, cols].transpose(1, 0, 2, 3)


def col2im(col, dx, kh, kw, sh, sw, ph, pw, dh, dw, ow_n, accumulate):
    N, C, H, W = dx.shape
    oh_n = col.shape[2] // ow_n
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=np.float64)
    c6 = col.reshape(C, kh, kw, N, oh_n, ow_n)
    for i, j, rows, cols in _taps(dx.shape, kh, kw, sh, sw, dh, dw, oh_n, ow_n):
        xp[:, :, rows, cols] += c6[:, i, j].transpose(1, 0, 2, 3)
    g = xp[:, :, ph:ph + H, pw:pw + W]
    if accumulate:
        dx += g
    else:
        dx[...] = g


def conv_output(tmp, bias, out, has_bias):
    out[...] = tmp.transpose(1, 0, 2) + (bias.reshape(1, -1, 1) if has_bias else 0)


def _windows(H, W, OH, OW, kh, kw, sh, sw, ph, pw, count_include_pad):
    for oh in range(OH):
        hs = oh * sh - ph
        he = min(hs + kh, H + ph)
        for ow in range(OW):
            ws = ow * sw - pw
            we = min(ws + kw, W + pw)
            h0, h1, w0, w1 = max(hs, 0), min(he, H), max(ws, 0), min(we, W)
            size = (he - hs) * (we - ws) if count_include_pad else (h1 - h0) * (w1 - w0)
            yield oh, ow, slice(h0, h1), slice(w0, w1), size


def pool_forward(x, out, kh, kw, sh, sw, ph, pw, mode, count_include_pad, p_value, lowest):
    kind = _NAMES[mode]
    N, C, H, W = x.shape
    x = x.astype(np.float64)
    for oh, ow, hs, ws, size in _windows(H, W, out.shape[2], out.shape[3], kh, kw, sh, sw,
                                         ph, pw, count_include_pad):
        win = x[:, :, hs, ws]
        win = win.reshape(N, C, win.shape[2] * win.shape[3])
        if kind == "max":
            out[:, :, oh, ow] = win.max(axis=2, initial=lowest)
        elif kind == "avg":
            out[:, :, oh, ow] = win.sum(axis=2) / size
        elif kind == "sum":
            out[:, :, oh, ow] = win.sum(axis=2)
        else:
            s = (win ** p_value).sum(axis=2)
            out[:, :, oh, ow] = np.sign(s) * np.abs(s) ** (1.0 / p_value)


def pool_backward(x, y, dy, dx, kh, kw, sh, sw, ph, pw, mode, count_include_pad, p_value,
                  accumulate):
    kind = _NAMES[mode]
    N, C, H, W = x.shape
    g = np.zeros(dx.shape, dtype=np.float64)
    for oh, ow, hs, ws, size in _windows(H, W, y.shape[2], y.shape[3], kh, kw, sh, sw,
                                         ph, pw, count_include_pad):
        win = x[:, :, hs, ws]
        d = dy[:, :, oh, ow][:, :, None, None]
        if kind == "max":
            hit = (win == y[:, :, oh, ow][:, :, None, None]).reshape(N, C, win[0, 0].size)
            first = np.zeros_like(hit)
            has = hit.any(axis=2)
            if hit.shape[2] == 0:
                continue
            first[np.arange(N)[:, None], np.arange(C)[None, :], hit.argmax(axis=2)] = has
            g[:, :, hs, ws] += first.reshape(win.shape) * d
        elif kind == "avg":
            g[:, :, hs, ws] += d / size
        elif kind == "sum":
            g[:, :, hs, ws] += d
        else:
            ratio = win / y[:, :, oh, ow][:, :, None, None]
            g[:, :, hs, ws] += d * ratio ** (p_value - 1)
    if accumulate:
        dx += g
    else:
        dx[...] = g
