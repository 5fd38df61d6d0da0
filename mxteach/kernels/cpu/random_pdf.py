"""Numba CPU kernels of the density operators ``random_pdf_*`` (``ops/random_pdf.py``).

Layout. The sample array is viewed flat as ``N * M`` values: ``N`` parameter sets (the
parameter arrays, flat, ``N`` values each) and ``M`` samples per set, so sample ``i`` uses
parameter ``i // M``. The Dirichlet twin views the sample as ``(N * M, k)`` rows of ``k``
components and ``alpha`` as ``(N, k)``.

Every scalar distribution is one *log*-density ``_lpdf(code, x, a, b)`` and its three partial
derivatives ``_dlpdf`` (by ``x``, by the first and by the second parameter). The density's
gradient is the log-density's times the density, which is how MXNet 1.9.1 writes it too: the
backward scales by ``dy`` for ``is_log`` and by ``dy * out`` otherwise.

Codes (``CODES``): 0 uniform(low, high), 1 normal(mu, sigma), 2 gamma(alpha, beta) -- beta is
used as a *rate* (``-beta * x``) exactly as MXNet's kernel, although its doc calls it a scale --,
3 exponential(lam), 4 poisson(lam), 5 negative_binomial(k, p) with ``p`` the probability of a
*failure*, 6 generalized_negative_binomial(mu, alpha) = negative_binomial(1 / alpha,
1 / (mu * alpha + 1)). Uniform checks no support (as MXNet) and its density has no
gradient by the sample; neither do the discrete ones.

Gradient modes (``mode_*``): 0 skip, 1 write, 2 add. Parameter gradients are summed over the
``M`` samples of their set. numpy twins: ``kernels/reference/random_pdf.py``.
"""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["CODES", "digamma", "pdf_forward", "pdf_backward", "dirichlet_forward",
           "dirichlet_backward"]

CODES = {"uniform": 0, "normal": 1, "gamma": 2, "exponential": 3, "poisson": 4,
         "negative_binomial": 5, "generalized_negative_binomial": 6}

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@njit(cache=True)
def digamma(x):
    """psi(x) = d/dx log Gamma(x): reflection below 0, the recurrence psi(x) = psi(x + 1) - 1/x
    up to x >= 10, then the asymptotic series (error < 1e-13 there)."""
    if x <= 0.0 and math.floor(x) == x:
        return math.nan
    shift = 0.0
    if x < 0.0:
        # psi(x) = psi(1 - x) - pi / tan(pi x)
        shift = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))))
    return shift + math.log(x) - 0.5 / x - series


@njit(cache=True)
def _lpdf(code, x, a, b):
    if code == 0:
        return -math.log(b - a)
    if code == 1:
        return -0.5 * (x - a) * (x - a) / (b * b) - math.log(b) - _LOG_SQRT_2PI
    if code == 2:
        return a * math.log(b) + (a - 1.0) * math.log(x) - b * x - math.lgamma(a)
    if code == 3:
        return math.log(a) - a * x
    if code == 4:
        return x * math.log(a) - math.lgamma(x + 1.0) - a
    if code == 6:
        a, b = 1.0 / b, 1.0 / (a * b + 1.0)
    return (math.lgamma(x + a) - math.lgamma(x + 1.0) - math.lgamma(a) + a * math.log(b)
            + x * math.log(1.0 - b))


@njit(cache=True)
def _dlpdf(code, x, a, b):
    """(d/dx, d/da, d/db) of the log-density."""
    if code == 0:
        return 0.0, 1.0 / (b - a), 1.0 / (a - b)
    if code == 1:
        s2 = b * b
        return (a - x) / s2, (x - a) / s2, ((x - a) * (x - a) - s2) / (s2 * b)
    if code == 2:
        return (a - 1.0) / x - b, math.log(b) + math.log(x) - digamma(a), a / b - x
    if code == 3:
        return -a, 1.0 / a - x, 0.0
    if code == 4:
        return 0.0, x / a - 1.0, 0.0
    if code == 5:
        return 0.0, digamma(x + a) - digamma(a) + math.log(b), a / b - x / (1.0 - b)
    # generalized: chain rule through limit = 1 / alpha, prob = 1 / (mu * alpha + 1)
    mu, alpha = a, b
    den = mu * alpha + 1.0
    lim, prob = 1.0 / alpha, 1.0 / den
    g_lim = digamma(x + lim) - digamma(lim) + math.log(prob)
    g_prob = lim / prob - x / (1.0 - prob)
    return (0.0, -g_prob * alpha / (den * den),
            -g_lim / (alpha * alpha) - g_prob * mu / (den * den))


@njit(cache=True, inline="always")
def _put(dst, i, mode, v):
    """Gradient mode (0 skip, 1 write, 2 add) applied to ``dst[i]`` (``i`` an index or a tuple)."""
    if mode == 1:
        dst[i] = v
    elif mode == 2:
        dst[i] += v


@njit(cache=True, parallel=True)
def pdf_forward(code, x, p1, p2, M, is_log, out):
    """out[i] = (log-)density of sample x[i] under parameters (p1, p2)[i // M]."""
    for i in prange(x.size):
        lp = _lpdf(code, x[i], p1[i // M], p2[i // M])
        out[i] = lp if is_log else math.exp(lp)


@njit(cache=True, parallel=True)
def pdf_backward(code, x, p1, p2, out, dy, M, is_log, gx, mode_x, g1, mode_1, g2, mode_2):
    """Gradients by the sample (per element) and by the parameters (summed over each set)."""
    for n in prange(p1.size):
        s1 = 0.0
        s2 = 0.0
        for i in range(n * M, (n + 1) * M):
            scale = dy[i] if is_log else dy[i] * out[i]
            dx, da, db = _dlpdf(code, x[i], p1[n], p2[n])
            s1 += scale * da
            s2 += scale * db
            _put(gx, i, mode_x, scale * dx)
        _put(g1, n, mode_1, s1)
        _put(g2, n, mode_2, s2)


@njit(cache=True, parallel=True)
def dirichlet_forward(x, alpha, M, is_log, out):
    """out[i] = (log-)density of the row x[i, :] under alpha[i // M, :]."""
    k = x.shape[1]
    for i in prange(x.shape[0]):
        n = i // M
        s_alpha = 0.0
        s_lgamma = 0.0
        s_x = 0.0
        for j in range(k):
            s_alpha += alpha[n, j]
            s_lgamma += math.lgamma(alpha[n, j])
            s_x += (alpha[n, j] - 1.0) * math.log(x[i, j])
        lp = s_x + math.lgamma(s_alpha) - s_lgamma
        out[i] = lp if is_log else math.exp(lp)


@njit(cache=True, parallel=True)
def dirichlet_backward(x, alpha, out, dy, M, is_log, gx, mode_x, ga, mode_a):
    """d/dx_j = scale (alpha_j - 1) / x_j; d/dalpha_j = scale (log x_j + psi(sum) - psi(alpha_j))
    summed over the M rows of the set."""
    k = x.shape[1]
    for n in prange(alpha.shape[0]):
        s_alpha = 0.0
        for j in range(k):
            s_alpha += alpha[n, j]
        psi_sum = digamma(s_alpha)
        for j in range(k):
            psi_j = digamma(alpha[n, j])
            acc = 0.0
            for i in range(n * M, (n + 1) * M):
                scale = dy[i] if is_log else dy[i] * out[i]
                acc += scale * (math.log(x[i, j]) + psi_sum - psi_j)
                _put(gx, (i, j), mode_x, scale * (alpha[n, j] - 1.0) / x[i, j])
            _put(ga, (n, j), mode_a, acc)
