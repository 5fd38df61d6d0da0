"""Unary math operators: trigonometric and hyperbolic functions and their inverses, degrees /
radians, rounding (ceil, floor, rint, round, trunc, fix), cbrt / rcbrt, expm1, log1p, log2,
log10, erf, softsign, and the two with parameters: smooth_l1 (``scalar`` = sigma) and
hard_sigmoid (``alpha``, ``beta``).

One table drives them all: each name has a code (``kernels/cpu/math.py:CODES``) that picks the
function and its derivative in the CPU kernel (``kernels/cpu/math.py``) and the CUDA kernel
(``kernels/cuda/math.py``); the numpy twins the tests trust are ``kernels/reference/math.py``.
Rounding functions have a zero gradient, as in MXNet. ``round`` takes halves away from zero;
``rint`` takes them down (0.5 -> 0, -0.5 -> -1), as MXNet 1.9.1 computes it. See notebook 01.
"""
from __future__ import annotations

from .registry import Op, Param, register
from .common import identity_shape, table_unary_sides
from ..kernels.cpu import math as K

__all__ = ["MATH_OPS"]

MATH_OPS = tuple(K.CODES)

# parameters of the operators that have some, and how they become the kernels' (s, t)
_PARAMS = {
    "smooth_l1": ({"scalar": Param("float", 1.0, doc="sigma: quadratic below 1/sigma^2")},
                  lambda p: (p["scalar"], 0.0)),
    "hard_sigmoid": ({"alpha": Param("float", 0.2), "beta": Param("float", 0.5)},
                     lambda p: (p["alpha"], p["beta"])),
}
_NONE = ({}, lambda p: (0.0, 0.0))


def _make(name):
    params, st = _PARAMS.get(name, _NONE)
    forward, backward, gpu_forward, gpu_backward = table_unary_sides(
        K, "math", name, lambda p, shape: st(p))

    register(Op(name=name, params=params, arguments=["data"], infer_shape=identity_shape,
                forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward, hint=name,
                doc=f"Elementwise {name}(x), with its gradient. See notebook 01."))


for _name in MATH_OPS:
    _make(_name)
