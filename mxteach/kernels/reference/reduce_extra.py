"""numpy twins of ``kernels/cpu/reduce_extra.py``: products and NaN-skipping reductions and
``moments``, each output element reading the inputs ``x[base[m] + offs[k]]``. The tests trust
these."""
from __future__ import annotations

import numpy as np

__all__ = ["PROD", "NANSUM", "NANPROD", "reduce_rows", "reduce_grad", "moments", "moments_grad"]

PROD, NANSUM, NANPROD = 0, 1, 2


def _rows(x, base, offs):
    """(M, K) float64 matrix: row m holds the inputs output element m reduces."""
    return x[base[:, None] + offs[None, :]].astype(np.float64)


def reduce_rows(x, base, offs, kind, out):
    """``out[m]``: product (PROD), sum without NaNs (NANSUM) or product without NaNs (NANPROD)
    of row m."""
    v = _rows(x, base, offs)
    if kind == PROD:
        r = np.prod(v, axis=1)
    elif kind == NANSUM:
        r = np.nansum(v, axis=1)
    else:
        r = np.nanprod(v, axis=1)
    out[...] = r.astype(out.dtype)


def reduce_grad(g, x, out, base, offs, kind, accumulate, dx):
    """``dx`` of :func:`reduce_rows`: ``g[m]`` times 1 (NANSUM) or ``out[m] / x`` (the
    products), 0 at NaN inputs of the NaN-skipping kinds."""
    v = _rows(x, base, offs)
    nan = np.isnan(v)
    if kind == NANSUM:
        d = np.where(nan, 0.0, 1.0)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = out.astype(np.float64)[:, None] / v
        if kind == NANPROD:
            d = np.where(nan, 0.0, d)
    val = g.astype(np.float64)[:, None] * d
    idx = base[:, None] + offs[None, :]
    if accumulate:
        dx[idx] += val.astype(dx.dtype)
    else:
        dx[idx] = val.astype(dx.dtype)


def moments(x, base, offs, mean, var):
    """Mean and (population) variance of each row."""
    v = _rows(x, base, offs)
    mu = v.mean(axis=1)
    mean[...] = mu.astype(mean.dtype)
    var[...] = ((v - mu[:, None]) ** 2).mean(axis=1).astype(var.dtype)


def moments_grad(gmean, gvar, x, mean, base, offs, accumulate, dx):
    """``dx = gmean / K + gvar * 2 (x - mean) / K`` for rows of K inputs."""
    v = _rows(x, base, offs)
    n = offs.size
    val = (gmean.astype(np.float64)[:, None] / n
           + gvar.astype(np.float64)[:, None] * 2.0 * (v - mean.astype(np.float64)[:, None]) / n)
    idx = base[:, None] + offs[None, :]
    if accumulate:
        dx[idx] += val.astype(dx.dtype)
    else:
        dx[idx] = val.astype(dx.dtype)
