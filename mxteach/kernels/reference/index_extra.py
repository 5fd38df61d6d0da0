"""numpy twins of ``kernels/cpu/index_extra.py`` (same names and signatures): the tests trust
these."""
from __future__ import annotations

import numpy as np

__all__ = ["rows_gather", "rows_scatter", "ravel", "unravel", "histogram"]


def rows_gather(src, rows, inner, out, accumulate):
    s = src.reshape(-1, inner)
    v = np.where((rows >= 0)[:, None], s[np.maximum(rows, 0)], 0).reshape(-1).astype(out.dtype)
    out[...] = out + v if accumulate else v


def rows_scatter(src, rows, inner, mode, out):
    o, s = out.reshape(-1, inner), src.reshape(-1, inner)
    for i, r in enumerate(rows):
        if r >= 0:
            o[r] = s[i] if mode == 0 else (o[r] + s[i] if mode == 1 else o[r] - s[i])


def ravel(idx, shape, out):
    strides = np.cumprod((list(shape[1:]) + [1])[::-1])[::-1]
    out[...] = (idx.reshape(len(shape), -1).astype(np.int64) * strides[:, None]).sum(0)


def unravel(flat, shape, out):
    v = flat.astype(np.int64)
    o = out.reshape(len(shape), -1)
    for k in range(len(shape) - 1, 0, -1):
        q = np.trunc(v / shape[k]).astype(np.int64)
        o[k] = v - q * shape[k]
        v = q
    o[0] = v


def histogram(data, edges, lo, hi, uniform, counts):
    nb = counts.size
    keep = (data >= edges[0]) & (data <= edges[nb]) if not uniform else \
        (data >= lo) & (data <= hi)
    x = data[keep]
    t = np.searchsorted(edges, x, side="right") - 1
    counts[...] = np.bincount(np.minimum(t, nb - 1), minlength=nb)[:nb]
