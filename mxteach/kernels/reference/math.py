"""numpy twins of ``kernels/cpu/math.py``: the unary math functions and their derivatives,
the values the tests trust."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["FORWARD", "DERIVATIVE", "unary_forward", "unary_backward", "unary_drivers"]

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _rint_half_down(x):
    # MXNet's rint picks the floor on a tie (0.5 -> 0, 1.5 -> 1, -0.5 -> -1), unlike C's rint
    lo = np.floor(x)
    return np.where(x - lo <= 0.5, lo, lo + 1)


# name -> f(x); name -> f'(x, y) with y = f(x)
FORWARD = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "arcsinh": np.arcsinh,
    "arccosh": np.arccosh, "arctanh": np.arctanh, "degrees": np.degrees, "radians": np.radians,
    "ceil": np.ceil, "floor": np.floor, "rint": _rint_half_down, "round": _round_half_away,
    "trunc": np.trunc, "fix": np.trunc, "cbrt": np.cbrt, "rcbrt": lambda x: 1.0 / np.cbrt(x),
    "expm1": np.expm1, "log1p": np.log1p, "log2": np.log2, "log10": np.log10, "erf": _erf,
    "softsign": lambda x: x / (1 + np.abs(x)),
    "smooth_l1": lambda x, s=1.0: np.where(np.abs(x) < 1 / s ** 2, 0.5 * (s * x) ** 2,
                                           np.abs(x) - 0.5 / s ** 2),
    "hard_sigmoid": lambda x, s=0.2, t=0.5: np.clip(s * x + t, 0, 1),
}
_ZERO = lambda x, y: np.zeros_like(x)  # noqa: E731 - rounding functions are flat
DERIVATIVE = {
    "sin": lambda x, y: np.cos(x), "cos": lambda x, y: -np.sin(x), "tan": lambda x, y: 1 + y * y,
    "arcsin": lambda x, y: 1 / np.sqrt(1 - x * x), "arccos": lambda x, y: -1 / np.sqrt(1 - x * x),
    "arctan": lambda x, y: 1 / (1 + x * x), "sinh": lambda x, y: np.cosh(x),
    "cosh": lambda x, y: np.sinh(x), "arcsinh": lambda x, y: 1 / np.sqrt(x * x + 1),
    "arccosh": lambda x, y: 1 / np.sqrt(x * x - 1), "arctanh": lambda x, y: 1 / (1 - x * x),
    "degrees": lambda x, y: np.full_like(x, 180 / np.pi),
    "radians": lambda x, y: np.full_like(x, np.pi / 180),
    "ceil": _ZERO, "floor": _ZERO, "rint": _ZERO, "round": _ZERO, "trunc": _ZERO, "fix": _ZERO,
    "cbrt": lambda x, y: 1 / (3 * y * y), "rcbrt": lambda x, y: -y / (3 * x),
    "expm1": lambda x, y: y + 1, "log1p": lambda x, y: 1 / (1 + x),
    "log2": lambda x, y: 1 / (x * np.log(2)), "log10": lambda x, y: 1 / (x * np.log(10)),
    "erf": lambda x, y: 2 / np.sqrt(np.pi) * np.exp(-x * x),
    "softsign": lambda x, y: 1 / (1 + np.abs(x)) ** 2,
    "smooth_l1": lambda x, y, s=1.0: np.where(np.abs(x) < 1 / s ** 2, s * s * x, np.sign(x)),
    "hard_sigmoid": lambda x, y, s=0.2, t=0.5: np.where((s * x + t > 0) & (s * x + t < 1), s,
                                                        0.0),
}


def unary_drivers(forward, derivative):
    """``unary_forward, unary_backward`` over the tables ``forward``/``derivative`` (name ->
    numpy function): this family's and kernels/reference/math_extra.py's."""
    def unary_forward(x, out, name, *params):
        out[...] = forward[name](x, *params)

    def unary_backward(x, y, g, out, name, accumulate, *params):
        d = g * derivative[name](x, y, *params)
        if accumulate:
            out += d
        else:
            out[...] = d
    return unary_forward, unary_backward


unary_forward, unary_backward = unary_drivers(FORWARD, DERIVATIVE)
