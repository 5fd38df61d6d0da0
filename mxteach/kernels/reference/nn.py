"""Numpy references for ``kernels/cpu/nn.py``: same names, same signatures, written for clarity
rather than speed. The tests run both on the same data."""
from __future__ import annotations

from math import erf

import numpy as np

from ..cpu.nn import ACT_CODES, SOFTRELU_THRESHOLD, SELU_ALPHA, SELU_LAMBDA

__all__ = ["unary_forward", "unary_backward", "prelu_forward", "prelu_backward",
           "bn_batch_stats", "bn_forward", "bn_backward", "embedding_forward",
           "embedding_backward"]

_NAMES = {v: k for k, v in ACT_CODES.items()}
_erf = np.vectorize(erf, otypes=[np.float64])


def _act(x, name, slope):
    x = x.astype(np.float64)
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    if name == "softrelu":
        return np.where(x > SOFTRELU_THRESHOLD, x,
                        np.log1p(np.exp(np.minimum(x, SOFTRELU_THRESHOLD))))
    if name == "softsign":
        return x / (1 + np.abs(x))
    if name == "leaky":
        return np.where(x > 0, x, slope * x)
    if name == "elu":
        return np.where(x > 0, x, slope * np.expm1(np.minimum(x, 0)))
    if name == "selu":
        return SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if name == "gelu":
        return 0.5 * x * (1 + _erf(x / np.sqrt(2)))
    raise ValueError(name)


def _act_grad(x, name, slope):
    """Derivative written from the input (the Numba kernel uses the output where MXNet does)."""
    x = x.astype(np.float64)
    if name == "relu":
        return (x > 0).astype(np.float64)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(x) ** 2
    if name == "softrelu":
        return np.where(x > SOFTRELU_THRESHOLD, -np.expm1(-x), 1 / (1 + np.exp(-x)))
    if name == "softsign":
        return 1 / (1 + np.abs(x)) ** 2
    if name == "leaky":
        return np.where(x > 0, 1.0, slope)
    if name == "elu":
        return np.where(x > 0, 1.0, slope * np.exp(np.minimum(x, 0)))
    if name == "selu":
        # MXNet 1.9.1's formula lambda * (y + alpha), not the true lambda * alpha * e^x
        y = _act(x, "selu", slope)
        return np.where(x > 0, SELU_LAMBDA, SELU_LAMBDA * (y + SELU_ALPHA))
    if name == "gelu":
        return 0.5 * (1 + _erf(x / np.sqrt(2))) + x * np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
    raise ValueError(name)


def unary_forward(x, out, code, slope):
    out[:] = _act(x, _NAMES[code], slope)


def unary_backward(x, y, dy, dx, code, slope, accumulate):
    g = dy * _act_grad(x, _NAMES[code], slope)
    if accumulate:
        dx += g
    else:
        dx[:] = g


def prelu_forward(x3, gamma, out3):
    g = gamma.reshape(1, -1, 1)
    out3[...] = np.where(x3 > 0, x3, g * x3)


def prelu_backward(x3, gamma, dy3, dx3, dgamma_c, dx_mode):
    g = gamma.reshape(1, -1, 1)
    dgamma_c[:] = np.where(x3 > 0, 0, dy3 * x3).sum(axis=(0, 2))
    gx = np.where(x3 > 0, dy3, g * dy3)
    if dx_mode == 1:
        dx3[...] = gx
    elif dx_mode == 2:
        dx3 += gx


def bn_batch_stats(x3, mean, var):
    mean[:] = x3.mean(axis=(0, 2), dtype=np.float64)
    var[:] = x3.var(axis=(0, 2), dtype=np.float64)


def bn_forward(x3, mean, invstd, gamma, beta, out3):
    c = (1, -1, 1)
    out3[...] = ((x3 - mean.reshape(c)) * invstd.reshape(c) * gamma.reshape(c)
                 + beta.reshape(c))


def bn_backward(x3, dy3, mean, invstd, gamma, dx3, sum_dy, sum_dy_xhat, batch_stats, dx_mode):
    c = (1, -1, 1)
    n = x3.shape[0] * x3.shape[2]
    xhat = (x3 - mean.reshape(c)) * invstd.reshape(c)
    sum_dy[:] = dy3.sum(axis=(0, 2))
    sum_dy_xhat[:] = (dy3 * xhat).sum(axis=(0, 2))
    if dx_mode == 0:
        return
    if batch_stats:
        g = dy3 - sum_dy.reshape(c) / n - xhat * sum_dy_xhat.reshape(c) / n
    else:
        g = dy3
    g = g * (gamma * invstd).reshape(c)
    if dx_mode == 1:
        dx3[...] = g
    else:
        dx3 += g


def _rows(idx, n):
    return np.clip(np.trunc(idx).astype(np.int64), 0, n - 1)


def embedding_forward(idx, weight, out2):
    out2[...] = weight[_rows(idx, weight.shape[0])]


def embedding_backward(idx, dy2, dweight, accumulate):
    if not accumulate:
        dweight[...] = 0
    np.add.at(dweight, _rows(idx, dweight.shape[0]), dy2)


def matmul(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    prod = (a.T if trans_a else a) @ (b.T if trans_b else b)
    if accumulate:
        out += prod
    else:
        out[...] = prod
