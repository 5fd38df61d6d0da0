"""Numba CPU kernels of the ordering family (``ops/ordering.py``: sort, argsort, topk, argmin,
argmax_channel). Everything starts from the **rank** of each element in its row: its position
after a stable sort (ties keep their order, in both directions, as MXNet's sort does). Values,
indices, masks and gradients are then placements by rank. Arrays are (pre, n, post) with the
sorted axis in the middle. numpy twins: ``kernels/reference/ordering.py``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["ranks", "place", "grad_from_ranks", "mask_from_ranks"]


@njit(cache=True, parallel=True)
def ranks(x, descending, out):
    """``out[i, q, k]``: position of ``x[i, q, k]`` in its stably sorted row."""
    pre, n, post = x.shape
    for row in prange(pre * post):
        i, k = row // post, row % post
        key = np.empty(n, dtype=np.float64)
        for q in range(n):
            key[q] = -x[i, q, k] if descending else x[i, q, k]
        order = np.argsort(key, kind="mergesort")
        for r in range(n):
            out[i, order[r], k] = r


@njit(cache=True, parallel=True)
def place(x, rank, kk, vals, idxs):
    """The first ``kk`` of each sorted row: ``vals[i, r, k]`` its value, ``idxs`` its position."""
    pre, n, post = x.shape
    for i in prange(pre):
        for q in range(n):
            for k in range(post):
                r = rank[i, q, k]
                if r < kk:
                    vals[i, r, k] = x[i, q, k]
                    idxs[i, r, k] = q


@njit(cache=True, parallel=True)
def grad_from_ranks(g, rank, kk, accumulate, dx):
    """``dx[i, q, k] (+)= g[i, rank, k]`` where ``rank < kk``; other elements get 0."""
    pre, n, post = dx.shape
    for i in prange(pre):
        for q in range(n):
            for k in range(post):
                r = rank[i, q, k]
                v = g[i, r, k] if r < kk else 0.0
                if accumulate:
                    dx[i, q, k] += v
                else:
                    dx[i, q, k] = v


@njit(cache=True)
def mask_from_ranks(rank, kk, out):
    """1 where ``rank < kk``, else 0."""
    flat_r, flat_o = rank.reshape(-1), out.reshape(-1)
    for j in range(flat_r.size):
        flat_o[j] = 1 if flat_r[j] < kk else 0
