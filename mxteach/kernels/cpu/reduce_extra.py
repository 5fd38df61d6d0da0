"""Numba CPU kernels of the reduce_extra family (``ops/reduce_extra.py``): ``prod``,
``nansum``, ``nanprod`` and ``moments`` with their gradients.

Any set of reduced axes becomes two integer lists made once per shape: ``base[m]``, the flat
position in the input of output element m's first input, and ``offs[k]``, the distance to its
k-th input. Output element m reduces ``x[base[m] + offs[k]]`` over k; every input belongs to
exactly one output, so the rows run in parallel and the gradients need no atomics. Sums and
products accumulate in float64. numpy twins: ``kernels/reference/reduce_extra.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["PROD", "NANSUM", "NANPROD", "reduce_rows", "reduce_grad", "moments", "moments_grad"]

PROD, NANSUM, NANPROD = 0, 1, 2


@njit(cache=True, parallel=True)
def reduce_rows(x, base, offs, kind, out):
    """``out[m]``: product (PROD), sum without NaNs (NANSUM) or product without NaNs (NANPROD)
    of ``x[base[m] + offs[:]]``."""
    for m in prange(base.size):
        acc = 0.0 if kind == NANSUM else 1.0
        for k in range(offs.size):
            v = float(x[base[m] + offs[k]])
            if kind == PROD:
                acc *= v
            elif v == v:                      # NaN is the one value unequal to itself
                if kind == NANSUM:
                    acc += v
                else:
                    acc *= v
        out[m] = acc


@njit(cache=True, parallel=True, error_model="numpy")   # x / 0 gives inf/NaN
def reduce_grad(g, x, out, base, offs, kind, accumulate, dx):
    """Gradient of :func:`reduce_rows`: ``g[m]`` times 1 (NANSUM) or ``out[m] / x`` (the
    products, as MXNet: a zero input gives inf/NaN), 0 at NaN inputs of the NaN-skipping
    kinds. ``accumulate`` adds to ``dx`` (grad_req='add')."""
    for m in prange(base.size):
        for k in range(offs.size):
            j = base[m] + offs[k]
            v = float(x[j])
            if kind != PROD and v != v:
                d = 0.0
            elif kind == NANSUM:
                d = 1.0
            else:
                d = float(out[m]) / v
            val = g[m] * d
            if accumulate:
                dx[j] += val
            else:
                dx[j] = val


@njit(cache=True, parallel=True)
def moments(x, base, offs, mean, var):
    """Mean and population variance (divided by K) of each row, in two passes."""
    n = offs.size
    for m in prange(base.size):
        s = 0.0
        for k in range(n):
            s += x[base[m] + offs[k]]
        mu = s / n
        s2 = 0.0
        for k in range(n):
            d = x[base[m] + offs[k]] - mu
            s2 += d * d
        mean[m] = mu
        var[m] = s2 / n


@njit(cache=True, parallel=True)
def moments_grad(gmean, gvar, x, mean, base, offs, accumulate, dx):
    """``dx = gmean / K + gvar * 2 (x - mean) / K`` (the variance's mean depends on x too, but
    its term sums to zero over the row)."""
    n = offs.size
    for m in prange(base.size):
        for k in range(n):
            j = base[m] + offs[k]
            val = gmean[m] / n + gvar[m] * 2.0 * (x[j] - mean[m]) / n
            if accumulate:
                dx[j] += val
            else:
                dx[j] = val
