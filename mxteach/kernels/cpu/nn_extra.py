"""Numba CPU kernels of the extra normalisation layers (``ops/nn_extra.py``): LayerNorm,
InstanceNorm, GroupNorm, L2Normalization and LRN.

The first four normalise *rows*. The data is viewed as 3-D ``(A, R, B)`` and every ``(a, b)``
pair is one row of ``R`` elements (strided by ``B``), so one set of kernels serves them all:

* LayerNorm over ``axis``: ``(before axis, size at axis, after axis)``;
* InstanceNorm: ``(N * C, spatial, 1)``; GroupNorm: ``(N * G, C / G * spatial, 1)``;
* L2Normalization: ``(N, rest, 1)`` (instance), ``(N, C, spatial)`` (channel),
  ``(N * C, spatial, 1)`` (spatial).

Row statistics are float64 arrays of ``A * B`` entries (row ``a * B + b``). The scale/shift
parameters are indexed by ``r`` (``period`` 0, LayerNorm) or by ``a % period`` (InstanceNorm:
period C; GroupNorm: period G, MXNet 1.9.1 keeps one gamma per *group*).

LRN sums squares over a window of channels for data viewed as ``(N, C, S)``.

Every kernel has a numpy twin with the same name and signature in
``kernels/reference/nn_extra.py``. Backward kernels take ``accumulate`` ('add' requests).
"""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["norm_stats", "norm_forward", "norm_backward", "norm_param_grads", "l2_forward",
           "l2_backward", "lrn_forward", "lrn_backward"]


@njit(cache=True, inline="always")
def _param(a, r, period):
    return r if period == 0 else a % period


@njit(cache=True, parallel=True)
def norm_stats(x3, eps, mean, invstd):
    """Per row: mean and ``1 / sqrt(var + eps)`` (biased variance, two float64 passes)."""
    A, R, B = x3.shape
    for row in prange(A * B):
        a, b = row // B, row % B
        s = 0.0
        for r in range(R):
            s += x3[a, r, b]
        m = s / R
        ss = 0.0
        for r in range(R):
            d = x3[a, r, b] - m
            ss += d * d
        mean[row] = m
        invstd[row] = 1.0 / math.sqrt(ss / R + eps)


@njit(cache=True, parallel=True)
def norm_forward(x3, mean, invstd, gamma, beta, period, out3):
    """``out = (x - mean) * invstd * gamma + beta`` per row (parameters by ``period``)."""
    A, R, B = x3.shape
    for row in prange(A * B):
        a, b = row // B, row % B
        for r in range(R):
            k = _param(a, r, period)
            out3[a, r, b] = (x3[a, r, b] - mean[row]) * invstd[row] * gamma[k] + beta[k]


@njit(cache=True, parallel=True)
def norm_backward(x3, dy3, mean, invstd, gamma, period, accumulate, dx3):
    """Data gradient of the row normalisation: with ``g = dy * gamma`` and ``xhat`` the
    normalised input, ``dx = invstd * (g - mean(g) - xhat * mean(g * xhat))``."""
    A, R, B = x3.shape
    for row in prange(A * B):
        a, b = row // B, row % B
        s1 = 0.0
        s2 = 0.0
        for r in range(R):
            g = dy3[a, r, b] * gamma[_param(a, r, period)]
            s1 += g
            s2 += g * (x3[a, r, b] - mean[row]) * invstd[row]
        s1 /= R
        s2 /= R
        for r in range(R):
            xhat = (x3[a, r, b] - mean[row]) * invstd[row]
            v = invstd[row] * (dy3[a, r, b] * gamma[_param(a, r, period)] - s1 - xhat * s2)
            if accumulate:
                dx3[a, r, b] += v
            else:
                dx3[a, r, b] = v


@njit(cache=True)
def norm_param_grads(x3, dy3, mean, invstd, period, dgamma, dbeta):
    """``dgamma[k] = sum dy * xhat`` and ``dbeta[k] = sum dy`` over the elements that use
    parameter ``k`` (float64 outputs, overwritten). Serial: many rows share a parameter."""
    A, R, B = x3.shape
    for k in range(dgamma.size):
        dgamma[k] = 0.0
        dbeta[k] = 0.0
    for a in range(A):
        for b in range(B):
            row = a * B + b
            for r in range(R):
                k = _param(a, r, period)
                dy = dy3[a, r, b]
                dgamma[k] += dy * (x3[a, r, b] - mean[row]) * invstd[row]
                dbeta[k] += dy


@njit(cache=True, parallel=True)
def l2_forward(x3, eps, norm, out3):
    """Per row: ``norm = sqrt(sum x^2 + eps)`` and ``out = x / norm``."""
    A, R, B = x3.shape
    for row in prange(A * B):
        a, b = row // B, row % B
        s = 0.0
        for r in range(R):
            s += x3[a, r, b] * x3[a, r, b]
        n = math.sqrt(s + eps)
        norm[row] = n
        for r in range(R):
            out3[a, r, b] = x3[a, r, b] / n


@njit(cache=True, parallel=True)
def l2_backward(out3, dy3, norm, accumulate, dx3):
    """``dx = (dy - out * sum(dy * out)) / norm`` per row."""
    A, R, B = out3.shape
    for row in prange(A * B):
        a, b = row // B, row % B
        s = 0.0
        for r in range(R):
            s += dy3[a, r, b] * out3[a, r, b]
        for r in range(R):
            v = (dy3[a, r, b] - out3[a, r, b] * s) / norm[row]
            if accumulate:
                dx3[a, r, b] += v
            else:
                dx3[a, r, b] = v


@njit(cache=True, parallel=True)
def lrn_forward(x3, nsize, alpha, beta, knorm, scale3, out3):
    """``scale = knorm + alpha / nsize * sum of x^2 over the channels [c - h, c + h]`` with
    ``h = (nsize - 1) // 2`` (clipped to the valid channels; an even ``nsize`` thus covers
    ``nsize - 1`` channels, as MXNet's) and ``out = x * scale^-beta``; ``x3`` is (N, C, S)."""
    N, C, S = x3.shape
    half = (nsize - 1) // 2
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for s in range(S):
            acc = 0.0
            for j in range(max(0, c - half), min(C, c + half + 1)):
                acc += x3[n, j, s] * x3[n, j, s]
            sc = knorm + alpha / nsize * acc
            scale3[n, c, s] = sc
            out3[n, c, s] = x3[n, c, s] * sc ** (-beta)


@njit(cache=True, parallel=True)
def lrn_backward(x3, dy3, scale3, nsize, alpha, beta, accumulate, dx3):
    """``dx_c = dy_c * scale_c^-beta - 2 alpha beta / nsize * x_c * sum over c's window of
    dy_j * x_j * scale_j^(-beta-1)``: the window is symmetric, so the channels j whose window
    holds c are exactly those in c's own window."""
    N, C, S = x3.shape
    half = (nsize - 1) // 2
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for s in range(S):
            acc = 0.0
            for j in range(max(0, c - half), min(C, c + half + 1)):
                acc += dy3[n, j, s] * x3[n, j, s] * scale3[n, j, s] ** (-beta - 1.0)
            v = (dy3[n, c, s] * scale3[n, c, s] ** (-beta)
                 - 2.0 * alpha * beta / nsize * x3[n, c, s] * acc)
            if accumulate:
                dx3[n, c, s] += v
            else:
                dx3[n, c, s] = v
