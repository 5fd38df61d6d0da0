"""Numba CPU kernels for the convolution family (``ops/conv.py``): im2col/col2im around a BLAS
GEMM for Convolution, and direct loops for Pooling.

Everything is written for 2-D (N, C, H, W) data; 1-D operators pass a view with H = 1 and a
1-row kernel. The column buffer has shape (C*KH*KW, N, OH*OW): one row per (channel, kernel
offset), so the convolution of the whole batch is one GEMM ``W (F, C*KH*KW) @ col`` per group,
and the weight gradient is one GEMM ``dY (F, N*OH*OW) @ col.T``.

Every kernel works on contiguous float32 or float64 arrays and has a numpy twin with the same
name and signature in ``kernels/reference/conv.py``. Set ``NUMBA_DISABLE_JIT=1`` to step
through them as plain Python.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import gemm_threads

__all__ = ["POOL_CODES", "gemm", "gemm_per_sample", "im2col", "col2im", "conv_output", "pool_forward",
           "pool_backward", "pool_max_forward_argmax", "pool_max_backward_argmax"]

POOL_CODES = {"max": 0, "avg": 1, "sum": 2, "lp": 3}


def gemm(a, b, out):
    """``out = a @ b`` through numpy's BLAS, on the threads ``gemm_threads`` gives its size
    (``kernels/cpu/__init__.py``: the thread policy per GEMM)."""
    gemm_threads(2 * a.shape[0] * a.shape[1] * b.shape[1])
    np.matmul(a, b, out=out)


def gemm_per_sample(a, b, out):
    """``out[n] = a[n] @ b[n]`` (either of ``a``/``b`` may be one shared 2-D matrix) through
    numpy's stacked matmul, which calls BLAS once per sample on strided views without copying
    them (the column buffer seen as (N, K, L) is such a view). The thread policy is set for one
    sample's GEMM: these are small, so they run on one BLAS thread."""
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    gemm_threads(2 * m * k * n)
    np.matmul(a, b, out=out)


@njit(cache=True, parallel=True)
def im2col(x, col, kh, kw, sh, sw, ph, pw, dh, dw, ow_n):
    """col[(c*kh + i)*kw + j, n, oh*ow_n + ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]
    (zero where that falls in the padding). ``ow_n`` is the output width."""
    N, C, H, W = x.shape
    K = col.shape[0]
    oh_n = col.shape[2] // ow_n
    for r in prange(K):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for n in range(N):
            for oh in range(oh_n):
                h = oh * sh - ph + i * dh
                base = oh * ow_n
                if h < 0 or h >= H:
                    for ow in range(ow_n):
                        col[r, n, base + ow] = 0
                    continue
                for ow in range(ow_n):
                    w = ow * sw - pw + j * dw
                    if 0 <= w < W:
                        col[r, n, base + ow] = x[n, c, h, w]
                    else:
                        col[r, n, base + ow] = 0


@njit(cache=True, parallel=True)
def col2im(col, dx, kh, kw, sh, sw, ph, pw, dh, dw, ow_n, accumulate):
    """The adjoint of im2col: every column entry is added back to the pixel it was copied from.
    One (n, c) plane per parallel task, so no two tasks write the same pixel."""
    N, C, H, W = dx.shape
    oh_n = col.shape[2] // ow_n
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        if not accumulate:
            dx[n, c, :, :] = 0
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                for oh in range(oh_n):
                    h = oh * sh - ph + i * dh
                    if h < 0 or h >= H:
                        continue
                    base = oh * ow_n
                    for ow in range(ow_n):
                        w = ow * sw - pw + j * dw
                        if 0 <= w < W:
                            dx[n, c, h, w] += col[r, n, base + ow]


@njit(cache=True, parallel=True)
def conv_output(tmp, bias, out, has_bias):
    """out[n, f, :] = tmp[f, n, :] (+ bias[f]): the GEMM result (F, N, L) back to (N, F, L).
    Without a bias it swaps the first two axes of any (I, J, L) array, so the backward also
    uses it to lay dY (N, F, L) out as (F, N, L)."""
    F, N, L = tmp.shape
    for nf in prange(N * F):
        n = nf // F
        f = nf % F
        b = bias[f] if has_bias else 0.0
        for k in range(L):
            out[n, f, k] = tmp[f, n, k] + b


@njit(cache=True, inline="always")
def _window(o, s, p, k, size):
    """Window of output index ``o``: (start, end) clipped to the data, and the padded extent
    (end clipped only to size + pad) that count_include_pad divides by."""
    start = o * s - p
    end = min(start + k, size + p)
    span = end - start
    return max(start, 0), min(end, size), span


@njit(cache=True, parallel=True)
def pool_forward(x, out, kh, kw, sh, sw, ph, pw, mode, count_include_pad, p_value, lowest):
    """Pooling of (N, C, H, W) into (N, C, OH, OW). ``mode`` from POOL_CODES; max starts from
    ``lowest`` (so a window entirely in the padding gives it, as MXNet's does)."""
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    if mode == 0 and kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0:
        _pool_max2(x, out, lowest)      # the common case, unrolled
        return
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(OH):
            h0, h1, hspan = _window(oh, sh, ph, kh, H)
            for ow in range(OW):
                w0, w1, wspan = _window(ow, sw, pw, kw, W)
                if mode == 0:
                    m = lowest
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            v = x[n, c, h, w]
                            if v > m:
                                m = v
                    out[n, c, oh, ow] = m
                else:
                    s = 0.0
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            v = x[n, c, h, w]
                            if mode == 3:
                                s += v ** p_value
                            else:
                                s += v
                    if mode == 1:
                        size = hspan * wspan if count_include_pad else (h1 - h0) * (w1 - w0)
                        out[n, c, oh, ow] = s / size
                    elif mode == 2:
                        out[n, c, oh, ow] = s
                    elif p_value == 1:
                        out[n, c, oh, ow] = s
                    elif p_value == 2:
                        out[n, c, oh, ow] = math.sqrt(s)
                    else:
                        out[n, c, oh, ow] = math.copysign(abs(s) ** (1.0 / p_value), s)


# twin of _pool_max2_argmax below without the positions (inference forwards): kept separate,
# as pool_max_forward_argmax is from pool_forward, so neither loop carries the other's stores
@njit(cache=True, parallel=True)
def _pool_max2(x, out, lowest):
    """pool_forward's max for 2x2 windows, stride 2, no padding (all inside the data): the same
    running maximum from ``lowest`` in row-major order, without the bounds arithmetic."""
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(OH):
            r0 = x[n, c, 2 * oh]
            r1 = x[n, c, 2 * oh + 1]
            o = out[n, c, oh]
            for ow in range(OW):
                j = 2 * ow
                m = lowest
                for v in (r0[j], r0[j + 1], r1[j], r1[j + 1]):
                    if v > m:
                        m = v
                o[ow] = m


@njit(cache=True, parallel=True)
def pool_backward(x, y, dy, dx, kh, kw, sh, sw, ph, pw, mode, count_include_pad, p_value,
                  accumulate):
    """Gradient of pool_forward. Max sends each output's gradient to the first input in its
    window (row-major) equal to the output, as MXNet's CPU kernel does on ties."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        if not accumulate:
            dx[n, c, :, :] = 0
        for oh in range(OH):
            h0, h1, hspan = _window(oh, sh, ph, kh, H)
            for ow in range(OW):
                w0, w1, wspan = _window(ow, sw, pw, kw, W)
                g = dy[n, c, oh, ow]
                if mode == 0:
                    target = y[n, c, oh, ow]
                    found = False
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if x[n, c, h, w] == target:
                                dx[n, c, h, w] += g
                                found = True
                                break
                        if found:
                            break
                elif mode == 1 or mode == 2:
                    if mode == 1:
                        size = hspan * wspan if count_include_pad else (h1 - h0) * (w1 - w0)
                        g = g / size
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            dx[n, c, h, w] += g
                else:
                    yv = y[n, c, oh, ow]
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            v = x[n, c, h, w]
                            dx[n, c, h, w] += g * (v / yv) ** (p_value - 1)


# twin of pool_forward's window walk: kept separate so the general pooling loop carries no
# argmax store (Numba compiles one specialised loop per kernel; a flag would slow both)
@njit(cache=True, parallel=True)
def pool_max_forward_argmax(x, out, argmax, kh, kw, sh, sw, ph, pw, lowest):
    """Max pooling as pool_forward (mode 0), also recording in ``argmax[n, c, oh, ow]`` the flat
    position ``h * W + w`` of each output's input: the first maximum in row-major order (strict
    ``>``), the one pool_backward's search finds, or -1 when the window holds no value >= lowest
    (pool_backward then sends nothing either). Training forwards call this so the backward can
    scatter with pool_max_backward_argmax instead of searching every window again."""
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    if kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0:
        _pool_max2_argmax(x, out, argmax, lowest)      # the common case, unrolled
        return
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(OH):
            h0, h1, hspan = _window(oh, sh, ph, kh, H)
            for ow in range(OW):
                w0, w1, wspan = _window(ow, sw, pw, kw, W)
                m = lowest
                best = -1
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = x[n, c, h, w]
                        # selects, not a branch per element (which mispredicts on real data)
                        take = v > m
                        m = v if take else m
                        best = h * W + w if take else best
                if best < 0:        # nothing above lowest: the first value equal to it, if any
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if best < 0 and x[n, c, h, w] == lowest:
                                best = h * W + w
                out[n, c, oh, ow] = m
                argmax[n, c, oh, ow] = best


@njit(cache=True, inline="always")
def _take(v, pos, m, best):
    """One step of the window walk: (max, position) after value ``v`` at ``pos`` (strict >)."""
    if v > m:
        return v, pos
    return m, best


@njit(cache=True, parallel=True)
def _pool_max2_argmax(x, out, argmax, lowest):
    """pool_max_forward_argmax for 2x2 windows, stride 2, no padding: every window lies inside
    the data, so the bounds arithmetic and the inner loops go, and the four values are walked
    in the same row-major order with the same strict ``>`` (identical outputs and positions).
    Twice as many rows as output rows are read as two contiguous lines, which vectorises."""
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(OH):
            r0 = x[n, c, 2 * oh]
            r1 = x[n, c, 2 * oh + 1]
            o = out[n, c, oh]
            a = argmax[n, c, oh]
            top = 2 * oh * W
            for ow in range(OW):
                j = 2 * ow
                m, best = _take(r0[j], top + j, lowest, -1)
                m, best = _take(r0[j + 1], top + j + 1, m, best)
                m, best = _take(r1[j], top + W + j, m, best)
                m, best = _take(r1[j + 1], top + W + j + 1, m, best)
                if best < 0:        # nothing above lowest: the first value equal to it, if any
                    if r0[j] == lowest:
                        best = top + j
                    elif r0[j + 1] == lowest:
                        best = top + j + 1
                    elif r1[j] == lowest:
                        best = top + W + j
                    elif r1[j + 1] == lowest:
                        best = top + W + j + 1
                o[ow] = m
                a[ow] = best


@njit(cache=True, parallel=True)
def pool_max_backward_argmax(argmax, dy, dx, accumulate):
    """Max-pooling gradient from the positions pool_max_forward_argmax recorded:
    ``dx[n, c].flat[argmax[n, c, oh, ow]] += dy[n, c, oh, ow]`` (nothing for -1)."""
    N, C, H, W = dx.shape
    OH, OW = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        plane = dx[n, c].reshape(H * W)      # flat positions index it without a division
        if not accumulate:
            plane[:] = 0
        for oh in range(OH):
            for ow in range(OW):
                k = argmax[n, c, oh, ow]
                if k >= 0:
                    plane[k] += dy[n, c, oh, ow]
