"""Numba CPU kernels for sparse storage (``ndarray/sparse_ops.py``): products of a CSR matrix
with a dense one, the row merge of two row_sparse arrays, and the row_sparse gradient of an
embedding (only the rows a batch looked up).

Every kernel has a numpy twin with the same name and signature in
``kernels/reference/sparse.py``. Set ``NUMBA_DISABLE_JIT=1`` to step through them as plain
Python.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["csr_dot_dense", "csr_t_dot_dense", "merge_rows", "embedding_rows_grad"]


@njit(cache=True, parallel=True)
def csr_dot_dense(indptr, cols, values, rhs, out):
    """``out = A @ rhs`` for CSR ``A`` (rows of ``out`` in parallel: no write conflicts)."""
    for i in prange(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = 0
        for k in range(indptr[i], indptr[i + 1]):
            c = cols[k]
            v = values[k]
            for j in range(out.shape[1]):
                out[i, j] += v * rhs[c, j]


@njit(cache=True)
def csr_t_dot_dense(indptr, cols, values, rhs, out, touched):
    """``out = A.T @ rhs`` for CSR ``A``; ``touched[c]`` becomes 1 for every column of ``A``
    that holds a value (the rows of the row_sparse result). Serial: rows of ``A`` scatter into
    shared rows of ``out``."""
    out[:] = 0
    touched[:] = 0
    for i in range(indptr.size - 1):
        for k in range(indptr[i], indptr[i + 1]):
            c = cols[k]
            v = values[k]
            touched[c] = 1
            for j in range(out.shape[1]):
                out[c, j] += v * rhs[i, j]


@njit(cache=True)
def merge_rows(rows_a, rows_b, out_rows, pos_a, pos_b):
    """Merge two sorted row lists into their sorted union ``out_rows``; ``pos_a[i]`` /
    ``pos_b[i]`` is where row ``i`` of each input lands. Returns the union's length."""
    i = j = n = 0
    while i < rows_a.size or j < rows_b.size:
        if j == rows_b.size or (i < rows_a.size and rows_a[i] < rows_b[j]):
            out_rows[n] = rows_a[i]
            pos_a[i] = n
            i += 1
        elif i == rows_a.size or rows_b[j] < rows_a[i]:
            out_rows[n] = rows_b[j]
            pos_b[j] = n
            j += 1
        else:
            out_rows[n] = rows_a[i]
            pos_a[i] = n
            pos_b[j] = n
            i += 1
            j += 1
        n += 1
    return n


@njit(cache=True)
def embedding_rows_grad(idx, dy2, n, rows, values):
    """The row_sparse gradient of an embedding of ``n`` rows: ``rows`` (sorted, distinct) are
    the rows that ``idx`` looks up (truncated toward zero, clipped into ``[0, n)``) and
    ``values[k]`` sums the output gradients ``dy2[i]`` of every ``i`` that looked up
    ``rows[k]``. ``rows``/``values`` are allocated for ``idx.size`` entries; returns how many
    are used. Serial: lookups of one row collide."""
    hit = np.empty(idx.shape[0], np.int64)
    for i in range(idx.shape[0]):
        k = int(idx[i])
        hit[i] = 0 if k < 0 else (n - 1 if k >= n else k)
    order = np.argsort(hit, kind="mergesort")
    used = -1
    for t in range(order.shape[0]):
        i = order[t]
        if used < 0 or rows[used] != hit[i]:
            used += 1
            rows[used] = hit[i]
            values[used, :] = 0
        values[used, :] += dy2[i, :]
    return used + 1
