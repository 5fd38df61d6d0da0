"""Numba CPU kernels of the creation family (``ops/creation.py``): the ramps behind
``linspace`` and ``arange``, the band of ``eye``, and the finiteness flag of ``all_finite`` /
``multi_all_finite``. numpy twins: ``kernels/reference/creation.py``."""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["ramp", "eye", "all_finite"]


@njit(cache=True, parallel=True)
def ramp(start, step, repeat, out):
    """``out[i] = start + (i // repeat) * step``: computed in float64 and then stored, so an
    integer output truncates toward zero as MXNet's does (linspace(2, 1, 4) -> 2, 1, 1, 1)."""
    for i in prange(out.size):
        out[i] = start + (i // repeat) * step


@njit(cache=True, parallel=True)
def eye(k, out):
    """Ones where ``column - row == k`` in the 2-D ``out``, zeros elsewhere."""
    for r in prange(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = 1 if c - r == k else 0


@njit(cache=True)
def all_finite(x, out):
    """``out[0] = 0`` when the flat ``x`` holds an inf or a NaN; otherwise ``out`` keeps its
    value (1 when the operator initialised it), so one flag can gather several arrays."""
    for i in range(x.size):
        if not math.isfinite(x[i]):
            out[0] = 0
            return
