"""numpy twins of ``kernels/cpu/random_pdf.py`` (the ``random_pdf_*`` densities): the same
names and signatures, written as whole-array numpy with the textbook formulas of each
distribution. The tests trust these."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["CODES", "digamma", "pdf_forward", "pdf_backward", "dirichlet_forward",
           "dirichlet_backward"]

CODES = {"uniform": 0, "normal": 1, "gamma": 2, "exponential": 3, "poisson": 4,
         "negative_binomial": 5, "generalized_negative_binomial": 6}

_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _psi1(x):
    # psi(x) = psi(x + 40) - sum_{k<40} 1 / (x + k), psi(z) by its asymptotic series at z >= 40:
    # a longer recurrence than the CPU kernel's, so the two agree only if both are right.
    if x <= 0 and x == math.floor(x):
        return math.nan
    if x < 0:
        return _psi1(1.0 - x) - math.pi / math.tan(math.pi * x)
    z = x + 40.0
    head = sum(1.0 / (x + k) for k in range(40))
    return (math.log(z) - 0.5 / z - 1 / (12 * z ** 2) + 1 / (120 * z ** 4) - 1 / (252 * z ** 6)
            - head)


digamma = np.vectorize(_psi1, otypes=[np.float64])


def _log_density(code, x, a, b):
    if code == 0:
        return -np.log(b - a) + 0 * x
    if code == 1:
        return -0.5 * ((x - a) / b) ** 2 - np.log(b * np.sqrt(2 * np.pi))
    if code == 2:
        return a * np.log(b) + (a - 1) * np.log(x) - b * x - _lgamma(a)
    if code == 3:
        return np.log(a) - a * x
    if code == 4:
        return x * np.log(a) - _lgamma(x + 1) - a
    if code == 6:
        a, b = 1 / b, 1 / (a * b + 1)
    return _lgamma(x + a) - _lgamma(x + 1) - _lgamma(a) + a * np.log(b) + x * np.log1p(-b)


def _grads(code, x, a, b):
    zero = np.zeros_like(x)
    if code == 0:
        return zero, 1 / (b - a) + zero, -1 / (b - a) + zero
    if code == 1:
        return (a - x) / b ** 2, (x - a) / b ** 2, ((x - a) ** 2 - b ** 2) / b ** 3
    if code == 2:
        return (a - 1) / x - b, np.log(b * x) - digamma(a), a / b - x
    if code == 3:
        return -a + zero, 1 / a - x, zero
    if code == 4:
        return zero, x / a - 1, zero
    if code == 5:
        return zero, digamma(x + a) - digamma(a) + np.log(b), a / b - x / (1 - b)
    mu, alpha = a, b
    lim, prob = 1 / alpha, 1 / (mu * alpha + 1)
    g_lim = digamma(x + lim) - digamma(lim) + np.log(prob)
    g_prob = lim / prob - x / (1 - prob)
    # d prob / d mu = -alpha prob^2, d prob / d alpha = -mu prob^2, d lim / d alpha = -lim^2
    return zero, -g_prob * alpha * prob ** 2, -g_lim * lim ** 2 - g_prob * mu * prob ** 2


def _sets(v, M):
    return np.repeat(np.asarray(v, np.float64), M)


def _put(dst, mode, value):
    if mode == 1:
        dst[...] = value
    elif mode == 2:
        dst += value.astype(dst.dtype)


def pdf_forward(code, x, p1, p2, M, is_log, out):
    lp = _log_density(code, x.astype(np.float64), _sets(p1, M), _sets(p2, M))
    out[...] = lp if is_log else np.exp(lp)


def pdf_backward(code, x, p1, p2, out, dy, M, is_log, gx, mode_x, g1, mode_1, g2, mode_2):
    scale = dy.astype(np.float64) * (1.0 if is_log else out.astype(np.float64))
    dx, da, db = _grads(code, x.astype(np.float64), _sets(p1, M), _sets(p2, M))
    _put(gx, mode_x, scale * dx)
    _put(g1, mode_1, (scale * da).reshape(-1, M).sum(axis=1))
    _put(g2, mode_2, (scale * db).reshape(-1, M).sum(axis=1))


def dirichlet_forward(x, alpha, M, is_log, out):
    a = np.repeat(np.asarray(alpha, np.float64), M, axis=0)
    lp = ((a - 1) * np.log(x)).sum(1) + _lgamma(a.sum(1)) - _lgamma(a).sum(1)
    out[...] = lp if is_log else np.exp(lp)


def dirichlet_backward(x, alpha, out, dy, M, is_log, gx, mode_x, ga, mode_a):
    a = np.repeat(np.asarray(alpha, np.float64), M, axis=0)
    scale = (dy.astype(np.float64) * (1.0 if is_log else out.astype(np.float64)))[:, None]
    _put(gx, mode_x, scale * (a - 1) / x)
    per_row = scale * (np.log(x) + digamma(a.sum(1))[:, None] - digamma(a))
    _put(ga, mode_a, per_row.reshape(alpha.shape[0], M, -1).sum(axis=1))
