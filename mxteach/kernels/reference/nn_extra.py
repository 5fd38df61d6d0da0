"""numpy twins of ``kernels/cpu/nn_extra.py`` (row normalisations, L2Normalization, LRN): the
same names and signatures, written as whole-array numpy. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["norm_stats", "norm_forward", "norm_backward", "norm_param_grads", "l2_forward",
           "l2_backward", "lrn_forward", "lrn_backward"]


def _rows(v, shape3):
    """A per-row vector (A * B entries) broadcast against (A, R, B)."""
    A, _, B = shape3
    return np.asarray(v, np.float64).reshape(A, 1, B)


def _params(vec, shape3, period):
    """A parameter vector expanded to (A, R, B) broadcastable form by ``period``."""
    A, R, _ = shape3
    vec = np.asarray(vec, np.float64)
    if period == 0:
        return vec.reshape(1, R, 1)
    return vec[np.arange(A) % period].reshape(A, 1, 1)


def norm_stats(x3, eps, mean, invstd):
    x = x3.astype(np.float64)
    mean[...] = x.mean(axis=1).reshape(-1)
    invstd[...] = (1.0 / np.sqrt(x.var(axis=1) + eps)).reshape(-1)


def norm_forward(x3, mean, invstd, gamma, beta, period, out3):
    xhat = (x3 - _rows(mean, x3.shape)) * _rows(invstd, x3.shape)
    out3[...] = xhat * _params(gamma, x3.shape, period) + _params(beta, x3.shape, period)


def norm_backward(x3, dy3, mean, invstd, gamma, period, accumulate, dx3):
    istd = _rows(invstd, x3.shape)
    xhat = (x3 - _rows(mean, x3.shape)) * istd
    g = dy3 * _params(gamma, x3.shape, period)
    v = istd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    if accumulate:
        dx3 += v
    else:
        dx3[...] = v


def norm_param_grads(x3, dy3, mean, invstd, period, dgamma, dbeta):
    A, R, B = x3.shape
    xhat = (x3 - _rows(mean, x3.shape)) * _rows(invstd, x3.shape)
    if period == 0:
        dgamma[...] = (dy3 * xhat).sum(axis=(0, 2))
        dbeta[...] = dy3.sum(axis=(0, 2))
    else:
        per_a = (dy3 * xhat).sum(axis=(1, 2)), dy3.sum(axis=(1, 2))
        owner = np.arange(A) % period
        dgamma[...] = np.bincount(owner, per_a[0], period)
        dbeta[...] = np.bincount(owner, per_a[1], period)


def l2_forward(x3, eps, norm, out3):
    n = np.sqrt((x3.astype(np.float64) ** 2).sum(axis=1) + eps)
    norm[...] = n.reshape(-1)
    out3[...] = x3 / _rows(n, x3.shape)


def l2_backward(out3, dy3, norm, accumulate, dx3):
    s = (dy3 * out3).sum(axis=1, keepdims=True)
    v = (dy3 - out3 * s) / _rows(norm, out3.shape)
    if accumulate:
        dx3 += v
    else:
        dx3[...] = v


def _window_sum(v3, nsize):
    """Sum over channels [c - h, c + h] (h = (nsize - 1) // 2) clipped, for (N, C, S)."""
    C = v3.shape[1]
    half = (nsize - 1) // 2
    width = 2 * half + 1
    pad = np.zeros((v3.shape[0], C + width, v3.shape[2]), np.float64)
    pad[:, half:half + C] = v3
    csum = np.concatenate([np.zeros_like(pad[:, :1]), np.cumsum(pad, axis=1)], axis=1)
    return csum[:, width:width + C] - csum[:, :C]


def lrn_forward(x3, nsize, alpha, beta, knorm, scale3, out3):
    sc = knorm + alpha / nsize * _window_sum(x3.astype(np.float64) ** 2, nsize)
    scale3[...] = sc
    out3[...] = x3 * sc ** (-beta)


def lrn_backward(x3, dy3, scale3, nsize, alpha, beta, accumulate, dx3):
    sc = scale3.astype(np.float64)
    acc = _window_sum(dy3 * x3 * sc ** (-beta - 1.0), nsize)
    v = dy3 * sc ** (-beta) - 2.0 * alpha * beta / nsize * x3 * acc
    if accumulate:
        dx3 += v
    else:
        dx3[...] = v
