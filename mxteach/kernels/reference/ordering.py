"""numpy twins of ``kernels/cpu/ordering.py`` (ranks along the middle axis of (pre, n, post)
arrays, and what sort/argsort/topk build from them). The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["ranks", "place", "grad_from_ranks", "mask_from_ranks"]


def ranks(x, descending, out):
    """``out[i, q, k]``: the position of ``x[i, q, k]`` in its row sorted stably (ties keep
    their order), ascending or descending."""
    key = -x if descending else x
    order = np.argsort(key, axis=1, kind="stable")
    np.put_along_axis(out, order, np.arange(x.shape[1])[None, :, None], axis=1)


def place(x, rank, kk, vals, idxs):
    """The first ``kk`` of each sorted row: ``vals[i, r, k]`` the value, ``idxs`` its position."""
    pre, n, post = x.shape
    for i in range(pre):
        for q in range(n):
            for k in range(post):
                r = rank[i, q, k]
                if r < kk:
                    vals[i, r, k] = x[i, q, k]
                    idxs[i, r, k] = q


def grad_from_ranks(g, rank, kk, accumulate, dx):
    """``dx[i, q, k] (+)= g[i, rank, k]`` where ``rank < kk``, else 0 (nothing added)."""
    take = np.take_along_axis(g, np.minimum(rank, kk - 1), axis=1)
    value = np.where(rank < kk, take, 0)
    if accumulate:
        dx += value
    else:
        dx[...] = value


def mask_from_ranks(rank, kk, out):
    """1 where ``rank < kk``, else 0."""
    out[...] = (rank < kk).astype(out.dtype)
