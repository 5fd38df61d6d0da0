"""Numba CPU kernels of the unary math operators (``ops/math.py``): one forward and one
backward loop, the function picked by its code in ``CODES`` (numpy twins in
``kernels/reference/math.py``)."""
from __future__ import annotations

import math

from numba import njit

__all__ = ["CODES", "scalar_f", "scalar_df", "unary_forward", "unary_backward"]

CODES = {name: i for i, name in enumerate((
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh",
    "arctanh", "degrees", "radians", "ceil", "floor", "rint", "round", "trunc", "fix", "cbrt",
    "rcbrt", "expm1", "log1p", "log2", "log10", "erf", "softsign", "smooth_l1", "hard_sigmoid"))}


# The formulas are written once, as plain Python on floats: this module compiles them with
# @njit, kernels/cuda/math.py with @cuda.jit(device=True).
def scalar_f(x, s, t, code):
    """f(x) of the function with code ``code``; ``s``, ``t`` are its parameters (smooth_l1's
    sigma, hard_sigmoid's alpha and beta)."""
    if code == 0:
        return math.sin(x)
    if code == 1:
        return math.cos(x)
    if code == 2:
        return math.tan(x)
    if code == 3:
        return math.asin(x)
    if code == 4:
        return math.acos(x)
    if code == 5:
        return math.atan(x)
    if code == 6:
        return math.sinh(x)
    if code == 7:
        return math.cosh(x)
    if code == 8:
        return math.asinh(x)
    if code == 9:
        return math.acosh(x)
    if code == 10:
        return math.atanh(x)
    if code == 11:
        return x * (180.0 / math.pi)
    if code == 12:
        return x * (math.pi / 180.0)
    if code == 13:
        return math.ceil(x)
    if code == 14:
        return math.floor(x)
    if code == 15:                       # rint as MXNet computes it: halves go down
        lo = math.floor(x)
        return lo if x - lo <= 0.5 else lo + 1.0
    if code == 16:                       # round: halves go away from zero
        return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)
    if code == 17 or code == 18:         # trunc, fix
        return math.trunc(x)
    if code == 19:
        return math.copysign(abs(x) ** (1.0 / 3.0), x)
    if code == 20:
        return 1.0 / math.copysign(abs(x) ** (1.0 / 3.0), x)
    if code == 21:
        return math.expm1(x)
    if code == 22:
        return math.log1p(x)
    if code == 23:
        return math.log(x) / math.log(2.0)
    if code == 24:
        return math.log10(x)
    if code == 25:
        return math.erf(x)
    if code == 26:
        return x / (1.0 + abs(x))
    if code == 27:                       # smooth_l1, sigma = s
        if abs(x) < 1.0 / (s * s):
            return 0.5 * (s * x) * (s * x)
        return abs(x) - 0.5 / (s * s)
    v = s * x + t                        # 28 hard_sigmoid, alpha = s, beta = t
    return 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)


def scalar_df(x, y, s, t, code):
    """f'(x) of the function with code ``code`` (``y = f(x)``)."""
    if code == 0:
        return math.cos(x)
    if code == 1:
        return -math.sin(x)
    if code == 2:
        return 1.0 + y * y
    if code == 3:
        return 1.0 / math.sqrt(1.0 - x * x)
    if code == 4:
        return -1.0 / math.sqrt(1.0 - x * x)
    if code == 5:
        return 1.0 / (1.0 + x * x)
    if code == 6:
        return math.cosh(x)
    if code == 7:
        return math.sinh(x)
    if code == 8:
        return 1.0 / math.sqrt(x * x + 1.0)
    if code == 9:
        return 1.0 / math.sqrt(x * x - 1.0)
    if code == 10:
        return 1.0 / (1.0 - x * x)
    if code == 11:
        return 180.0 / math.pi
    if code == 12:
        return math.pi / 180.0
    if code <= 18:
        return 0.0
    if code == 19:
        return 1.0 / (3.0 * y * y)
    if code == 20:
        return -y / (3.0 * x)
    if code == 21:
        return y + 1.0
    if code == 22:
        return 1.0 / (1.0 + x)
    if code == 23:
        return 1.0 / (x * math.log(2.0))
    if code == 24:
        return 1.0 / (x * math.log(10.0))
    if code == 25:
        return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)
    if code == 26:
        return 1.0 / ((1.0 + abs(x)) * (1.0 + abs(x)))
    if code == 27:
        if abs(x) < 1.0 / (s * s):
            return s * s * x
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    v = s * x + t
    return s if (v > 0.0 and v < 1.0) else 0.0


_f = njit(cache=True)(scalar_f)
_df = njit(cache=True)(scalar_df)


@njit(cache=True)
def unary_forward(x, out, s, t, code):
    """``out[i] = f(x[i])`` on flat arrays."""
    for i in range(x.size):
        out[i] = _f(x[i], s, t, code)


@njit(cache=True)
def unary_backward(x, y, g, out, s, t, code, accumulate):
    """``out[i] (+)= g[i] * f'(x[i])`` on flat arrays (``y = f(x)``)."""
    for i in range(x.size):
        d = g[i] * _df(x[i], y[i], s, t, code)
        out[i] = out[i] + d if accumulate else d
