"""Numba CPU kernels of the math_extra operators (``ops/math_extra.py``): erfinv, gamma,
gammaln and the contrib elementwise functions (quadratic, gradientmultiplier, round_ste,
sign_ste, div_sqrt_dim), plus arange_like, index_array and allclose.

The elementwise functions share one forward and one backward loop, the function picked by its
code in ``CODES``; ``s``, ``t``, ``u`` carry the parameters (quadratic's a, b, c; the multiplier's
scalar; div_sqrt_dim's sqrt of the last axis). numpy twins: ``kernels/reference/math_extra.py``.
"""
from __future__ import annotations

import math

from numba import njit

# psi, the derivative of log|gamma|, is the random_pdf family's (its gamma pdf needs it too)
from .random_pdf import digamma

__all__ = ["CODES", "scalar_f", "scalar_df", "erfinv", "unary_forward",
           "unary_backward", "arange_like", "index_array", "allclose"]

CODES = {name: i for i, name in enumerate((
    "erfinv", "gamma", "gammaln", "quadratic", "gradientmultiplier", "round_ste", "sign_ste",
    "div_sqrt_dim", "backward_gradientmultiplier"))}


# The formulas are plain Python on floats: compiled here with @njit and in kernels/cuda with
# @cuda.jit(device=True), so both devices compute the same thing. The two special functions
# (erfinv here, digamma from kernels/cpu/random_pdf.py) are @njit functions, which CUDA device
# code may call as well.
@njit(cache=True)
def erfinv(y):
    """The inverse error function: a polynomial first guess (Giles' single-precision fit in
    w = -log(1 - y^2)), then two Newton steps on erf(x) - y to reach double precision."""
    if y != y or y > 1.0 or y < -1.0:
        return math.nan
    if y == 1.0 or y == -1.0:
        return y * math.inf
    w = -math.log((1.0 - y) * (1.0 + y))
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = math.sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    x = p * y
    for _ in range(2):
        slope = 2.0 / math.sqrt(math.pi) * math.exp(-x * x)
        if slope > 0.0:
            x = x - (math.erf(x) - y) / slope
    return x


def scalar_f(x, s, t, u, code):
    """f(x) of the function with code ``code``."""
    if code == 0:
        return erfinv(x)
    if code == 1:
        return math.gamma(x)
    if code == 2:
        return math.lgamma(x)
    if code == 3:                      # quadratic: s x^2 + t x + u
        return (s * x + t) * x + u
    if code == 4:                      # gradientmultiplier: the identity
        return x
    if code == 5:                      # round_ste: halves away from zero, as round
        return math.floor(x + 0.5) if x >= 0.0 else -math.floor(-x + 0.5)
    if code == 6:
        return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)
    if code == 7:                      # div_sqrt_dim: s = sqrt(last axis)
        return x / s
    return x * s                       # 8 backward_gradientmultiplier: the gradient times s


def scalar_df(x, y, s, t, u, code):
    """f'(x) of the function with code ``code`` (``y = f(x)``); the _ste functions pass the
    gradient straight through (1)."""
    if code == 0:
        return math.sqrt(math.pi) / 2.0 * math.exp(y * y)
    if code == 1 or code == 2:         # gamma' = gamma * digamma; gammaln' = digamma
        psi = digamma(x)
        return y * psi if code == 1 else psi
    if code == 3:
        return 2.0 * s * x + t
    if code == 4 or code == 8:
        return s
    if code == 5 or code == 6:
        return 1.0
    return 1.0 / s


_f = njit(cache=True)(scalar_f)
_df = njit(cache=True)(scalar_df)


@njit(cache=True)
def unary_forward(x, out, s, t, u, code):
    """``out[i] = f(x[i])`` on flat arrays."""
    for i in range(x.size):
        out[i] = _f(x[i], s, t, u, code)


@njit(cache=True)
def unary_backward(x, y, g, out, s, t, u, code, accumulate):
    """``out[i] (+)= g[i] * f'(x[i])`` on flat arrays (``y = f(x)``)."""
    for i in range(x.size):
        d = g[i] * _df(x[i], y[i], s, t, u, code)
        out[i] = out[i] + d if accumulate else d


@njit(cache=True)
def arange_like(out, start, step, repeat):
    """``out[i] = start + step * (i // repeat)`` on a flat array."""
    for i in range(out.size):
        out[i] = start + step * (i // repeat)


@njit(cache=True)
def index_array(shape, axes, out2):
    """Row i of ``out2`` (one row per element of a C-ordered array of ``shape``) holds the
    element's index along each axis in ``axes``."""
    n = out2.shape[0]
    for i in range(n):
        for k in range(axes.size):
            inner = 1
            for d in range(axes[k] + 1, shape.size):
                inner *= shape[d]
            out2[i, k] = (i // inner) % shape[axes[k]]


@njit(cache=True)
def allclose(a, b, rtol, atol, equal_nan):
    """1 if every ``|a - b| <= atol + rtol * |b|`` (NaNs equal when ``equal_nan``), else 0."""
    for i in range(a.size):
        x, y = a[i], b[i]
        if x != x or y != y:
            if equal_nan and x != x and y != y:
                continue
            return 0
        if x == y:                      # also equal infinities
            continue
        if not abs(x - y) <= atol + rtol * abs(y):
            return 0
    return 1
