"""Numba CPU kernels of the index_extra family (``ops/index_extra.py``): copying whole rows
through a row index (``rows_gather``, ``rows_scatter``: scatter_nd, index_copy, boolean_mask,
fill_element_0index, onehot_encode), flat <-> multi-indices (``ravel``, ``unravel``),
and ``histogram``.

A *row index* ``rows`` (int64) names, for every row of the compact side, the row of the large
side it belongs to, or -1 for none; a row is ``inner`` consecutive elements. Arrays are flat.
numpy twins with the same names and signatures: ``kernels/reference/index_extra.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["rows_gather", "rows_scatter", "ravel", "unravel", "histogram"]


@njit(cache=True, parallel=True)
def rows_gather(src, rows, inner, out, accumulate):
    """``out[i, :] (+)= src[rows[i], :]`` (0 where ``rows[i] < 0``)."""
    for e in prange(rows.size * inner):
        r = rows[e // inner]
        v = src[r * inner + e % inner] if r >= 0 else 0
        if accumulate:
            out[e] += v
        else:
            out[e] = v


@njit(cache=True)
def rows_scatter(src, rows, inner, mode, out):
    """``out[rows[i], :] = src[i, :]`` (mode 0), ``+=`` (1) or ``-=`` (2), skipping
    ``rows[i] < 0``. Serial, in order: with repeated rows the last one written wins (mode 0) and
    additions never race."""
    for i in range(rows.size):
        r = rows[i]
        if r < 0:
            continue
        for k in range(inner):
            if mode == 0:
                out[r * inner + k] = src[i * inner + k]
            elif mode == 1:
                out[r * inner + k] += src[i * inner + k]
            else:
                out[r * inner + k] -= src[i * inner + k]


@njit(cache=True, parallel=True)
def ravel(idx, shape, out):
    """``out[j] = sum_k idx[k, j] * stride_k`` for ``idx`` of shape ``(len(shape), n)`` (no
    range check, as MXNet)."""
    n = out.size
    m = shape.size
    for j in prange(n):
        acc = 0
        for k in range(m):
            acc = acc * shape[k] + int(idx[k * n + j])
        out[j] = acc


@njit(cache=True, parallel=True)
def unravel(flat, shape, out):
    """``out[:, j]``: the multi-index of ``flat[j]`` in ``shape``; the last axes take C-style
    remainders (truncated towards 0), the first axis what is left, unbounded (as MXNet)."""
    n = flat.size
    m = shape.size
    for j in prange(n):
        v = int(flat[j])
        for k in range(m - 1, 0, -1):
            s = shape[k]
            q = v // s if v >= 0 else -((-v) // s)
            out[k * n + j] = v - q * s
            v = q
        out[j] = v


@njit(cache=True)
def histogram(data, edges, lo, hi, uniform, counts):
    """Count ``data`` into the bins of ``edges`` (``counts.size + 1`` of them); the last bin
    includes its right edge, values outside are skipped. ``uniform``: the bins split [lo, hi]
    evenly and the bin is computed, then corrected against the edges (as MXNet does);
    otherwise the edges are searched."""
    nb = counts.size
    for b in range(nb):
        counts[b] = 0
    for i in range(data.size):
        x = data[i]
        if uniform:
            if x < lo or x > hi:
                continue
            t = min(nb - 1, int((x - lo) * nb / (hi - lo)))
            if x < edges[t]:
                t -= 1
            if t != nb - 1 and x >= edges[t + 1]:
                t += 1
        else:
            if x < edges[0] or x > edges[nb]:
                continue
            t = 0
            while t <= nb and x >= edges[t]:
                t += 1
            t = min(t - 1, nb - 1)
        counts[t] += 1
