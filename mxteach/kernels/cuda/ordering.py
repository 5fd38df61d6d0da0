"""CUDA twins of ``kernels/cpu/ordering.py``. The ranks are counted, not sorted: one thread per
element counts the elements of its row that come before it (smaller, or equal with a lower
position; reversed for descending). That is O(n) work per thread with no synchronisation, so
every element of every row runs at once — the right shape for the short rows (classes, beams,
top-k of logits) these operators see in Module models. The placements are one thread per element.
"""
from __future__ import annotations

from numba import cuda

from .elemwise import split3, store
from .launch import grid_1d, check_device_arrays

__all__ = ["ranks", "place", "grad_from_ranks", "mask_from_ranks"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_ranks_kernel": ["{t}[:, :, ::1], boolean, int64[:, :, ::1]"],
    "_place_kernel": ["{t}[:, :, ::1], int64[:, :, ::1], int64, {t}[:, :, ::1], {t}[:, :, ::1]"],
    "_grad_kernel": ["{t}[:, :, ::1], int64[:, :, ::1], int64, boolean, {t}[:, :, ::1]"],
    "_mask_kernel": ["int64[:, :, ::1], int64, {t}[:, :, ::1]"],
}


@cuda.jit
def _ranks_kernel(x, descending, out):
    pre, n, post = x.shape
    for e in range(cuda.grid(1), pre * n * post, cuda.gridsize(1)):
        i, q, k = split3(e, n, post)
        v = x[i, q, k]
        r = 0
        for j in range(n):
            w = x[i, j, k]
            before = (w > v) if descending else (w < v)
            if before or (w == v and j < q):
                r += 1
        out[i, q, k] = r


@cuda.jit
def _place_kernel(x, rank, kk, vals, idxs):
    pre, n, post = x.shape
    for e in range(cuda.grid(1), pre * n * post, cuda.gridsize(1)):
        i, q, k = split3(e, n, post)
        r = rank[i, q, k]
        if r < kk:
            vals[i, r, k] = x[i, q, k]
            idxs[i, r, k] = q


@cuda.jit
def _grad_kernel(g, rank, kk, accumulate, dx):
    pre, n, post = dx.shape
    for e in range(cuda.grid(1), pre * n * post, cuda.gridsize(1)):
        i, q, k = split3(e, n, post)
        r = rank[i, q, k]
        store(dx, (i, q, k), g[i, r, k] if r < kk else 0, accumulate)


@cuda.jit
def _mask_kernel(rank, kk, out):
    pre, n, post = out.shape
    for e in range(cuda.grid(1), pre * n * post, cuda.gridsize(1)):
        i, q, k = split3(e, n, post)
        out[i, q, k] = 1 if rank[i, q, k] < kk else 0


def ranks(x, descending, out):
    """Stable rank of every element in its row (x: (pre, n, post), out int64 alike)."""
    check_device_arrays("ranks", x=x, out=out)
    blocks, threads = grid_1d(x.size)
    _ranks_kernel[blocks, threads](x, descending, out)


def place(x, rank, kk, vals, idxs):
    """Values and positions of the first ``kk`` of each sorted row."""
    check_device_arrays("place", x=x, rank=rank, vals=vals, idxs=idxs)
    blocks, threads = grid_1d(x.size)
    _place_kernel[blocks, threads](x, rank, kk, vals, idxs)


def grad_from_ranks(g, rank, kk, accumulate, dx):
    """``dx (+)= g`` gathered by rank (0 past ``kk``)."""
    check_device_arrays("grad_from_ranks", g=g, rank=rank, dx=dx)
    blocks, threads = grid_1d(dx.size)
    _grad_kernel[blocks, threads](g, rank, kk, accumulate, dx)


def mask_from_ranks(rank, kk, out):
    """1 where ``rank < kk``, else 0."""
    check_device_arrays("mask_from_ranks", rank=rank, out=out)
    blocks, threads = grid_1d(out.size)
    _mask_kernel[blocks, threads](rank, kk, out)
