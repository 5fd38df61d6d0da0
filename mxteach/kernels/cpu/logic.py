"""Numba CPU kernels of the logic family (``ops/logic.py``): ``logical_not``,
``broadcast_logical_and/or/xor`` and ``broadcast_hypot``.

Broadcasting is done by index lists made once per pair of shapes: output element i reads
``a[ia[i]]`` and ``b[ib[i]]``. The logical results are 1 or 0 in the operands' dtype; only
hypot has a gradient, ``g * x / hypot`` scattered back through the same list (serially: a
broadcast operand element feeds several outputs). numpy twins: ``kernels/reference/logic.py``.
"""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["AND", "OR", "XOR", "HYPOT", "NOT", "binary", "hypot_grad"]

AND, OR, XOR, HYPOT, NOT = 0, 1, 2, 3, 4


@njit(cache=True, parallel=True)
def binary(a, b, ia, ib, code, out):
    """``out[i] = f(a[ia[i]], b[ib[i]])`` for f picked by ``code``; NOT reads ``a`` only."""
    for i in prange(ia.size):
        x = float(a[ia[i]])
        y = float(b[ib[i]])
        if code == AND:
            r = 1.0 if (x != 0.0 and y != 0.0) else 0.0
        elif code == OR:
            r = 1.0 if (x != 0.0 or y != 0.0) else 0.0
        elif code == XOR:
            r = 1.0 if ((x != 0.0) != (y != 0.0)) else 0.0
        elif code == HYPOT:
            r = math.sqrt(x * x + y * y)
        else:
            r = 1.0 if x == 0.0 else 0.0
        out[i] = r


@njit(cache=True, error_model="numpy")   # 0 / 0 gives NaN, not ZeroDivisionError
def hypot_grad(g, x, o, ix, accumulate, dx):
    """``dx[ix[i]] += g[i] * x[ix[i]] / o[i]``, the gradient of one hypot operand (0/0 gives
    NaN where both legs are 0, as in MXNet); ``dx`` is zeroed first unless ``accumulate``."""
    if not accumulate:
        for j in range(dx.size):
            dx[j] = 0
    for i in range(ix.size):
        j = ix[i]
        dx[j] += g[i] * float(x[j]) / float(o[i])
