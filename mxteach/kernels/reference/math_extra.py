"""numpy twins of ``kernels/cpu/math_extra.py``: the values the tests trust (scipy-free: the
special functions come from Python's ``math`` and an independent series for digamma)."""
from __future__ import annotations

import math

import numpy as np

from .math import unary_drivers

__all__ = ["FORWARD", "DERIVATIVE", "unary_forward", "unary_backward", "arange_like",
           "index_array", "allclose"]


def _gamma(v):
    # C's tgamma: inf at 0, NaN at the negative integers, inf past float64's range
    try:
        return math.gamma(v)
    except ValueError:
        return math.inf if v == 0 else math.nan
    except OverflowError:
        return math.inf


def _lgamma(v):
    try:
        return math.lgamma(v)
    except ValueError:                  # the poles: log|gamma| is +inf there
        return math.inf


def _erfinv_bisect(y):
    # bisection on math.erf: slow and sure, independent of the kernel's Newton iteration
    if abs(y) >= 1:
        return math.copysign(math.inf, y) if abs(y) == 1 else math.nan
    lo, hi = -7.0, 7.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.erf(mid) < y:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _digamma(x):
    # d/dx lgamma(x) by a Richardson-extrapolated central difference of math.lgamma
    h = 1e-3
    d = lambda k: (math.lgamma(x + k) - math.lgamma(x - k)) / (2 * k)  # noqa: E731
    return (4 * d(h / 2) - d(h)) / 3


_erfinv = np.vectorize(_erfinv_bisect, otypes=[np.float64])
_psi = np.vectorize(_digamma, otypes=[np.float64])

# name -> f(x, s, t, u); name -> f'(x, y, s, t, u)
FORWARD = {
    "erfinv": lambda x, *p: _erfinv(x),
    "gamma": lambda x, *p: np.vectorize(_gamma, otypes=[np.float64])(x),
    "gammaln": lambda x, *p: np.vectorize(_lgamma, otypes=[np.float64])(x),
    "quadratic": lambda x, a, b, c: a * x * x + b * x + c,
    "gradientmultiplier": lambda x, *p: x.copy(),
    "round_ste": lambda x, *p: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "sign_ste": lambda x, *p: np.sign(x),
    "div_sqrt_dim": lambda x, *p: x / np.sqrt(x.shape[-1]),
    "backward_gradientmultiplier": lambda x, s, *p: x * s,
}
DERIVATIVE = {
    "erfinv": lambda x, y, *p: np.sqrt(np.pi) / 2 * np.exp(y * y),
    "gamma": lambda x, y, *p: y * _psi(x),
    "gammaln": lambda x, y, *p: _psi(x),
    "quadratic": lambda x, y, a, b, c: 2 * a * x + b,
    "gradientmultiplier": lambda x, y, s, *p: np.full_like(x, s),
    "round_ste": lambda x, y, *p: np.ones_like(x),
    "sign_ste": lambda x, y, *p: np.ones_like(x),
    "div_sqrt_dim": lambda x, y, *p: np.full_like(x, 1 / np.sqrt(x.shape[-1])),
}


# kernels/reference/math.py's two drivers, over this family's tables
unary_forward, unary_backward = unary_drivers(FORWARD, DERIVATIVE)


def arange_like(shape, start, step, repeat):
    return start + step * (np.arange(int(np.prod(shape))) // repeat)


def index_array(shape, axes):
    grids = np.indices(shape)
    return np.stack([grids[a] for a in axes], axis=-1).astype(np.int64)


def allclose(a, b, rtol, atol, equal_nan):
    return int(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
