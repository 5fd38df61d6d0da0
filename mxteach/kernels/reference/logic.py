"""numpy twins of ``kernels/cpu/logic.py``: binary maps through index lists and the scatter of
hypot's gradient. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["AND", "OR", "XOR", "HYPOT", "NOT", "binary", "hypot_grad"]

AND, OR, XOR, HYPOT, NOT = 0, 1, 2, 3, 4


def binary(a, b, ia, ib, code, out):
    """``out[i] = f(a[ia[i]], b[ib[i]])``; NOT ignores ``b``."""
    x, y = a[ia].astype(np.float64), b[ib].astype(np.float64)
    if code == AND:
        r = (x != 0) & (y != 0)
    elif code == OR:
        r = (x != 0) | (y != 0)
    elif code == XOR:
        r = (x != 0) ^ (y != 0)
    elif code == HYPOT:
        r = np.hypot(x, y)
    else:
        r = x == 0
    out[...] = r.astype(out.dtype)


def hypot_grad(g, x, o, ix, accumulate, dx):
    """``dx[ix[i]] += g[i] * x[ix[i]] / o[i]`` (``dx`` zeroed first unless ``accumulate``)."""
    if not accumulate:
        dx[...] = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        val = g.astype(np.float64) * x[ix].astype(np.float64) / o.astype(np.float64)
    np.add.at(dx, ix, val.astype(dx.dtype))
