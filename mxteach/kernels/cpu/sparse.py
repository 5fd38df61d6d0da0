"""Numba CPU kernels for sparse storage (``ndarray/sparse_ops.py``): products of a CSR matrix
with a dense one, and the row merge of two row_sparse arrays.

Every kernel has a numpy twin with the same name and signature in
``kernels/reference/sparse.py``. Set ``NUMBA_DISABLE_JIT=1`` to step through them as plain
Python.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["csr_dot_dense", "csr_t_dot_dense", "merge_rows"]


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
