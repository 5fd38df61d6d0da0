"""Numpy twins of ``kernels/cpu/sparse.py``: the same names, signatures and results, written
for reading. The tests compare each Numba kernel with its twin."""
from __future__ import annotations

import numpy as np

__all__ = ["csr_dot_dense", "csr_t_dot_dense", "merge_rows", "embedding_rows_grad"]


def _rows(indptr):
    return np.repeat(np.arange(indptr.size - 1), np.diff(indptr))


def csr_dot_dense(indptr, cols, values, rhs, out):
    out[:] = 0
    np.add.at(out, _rows(indptr), values[:, None] * rhs[cols])


def csr_t_dot_dense(indptr, cols, values, rhs, out, touched):
    out[:] = 0
    touched[:] = 0
    np.add.at(out, cols, values[:, None] * rhs[_rows(indptr)])
    touched[cols] = 1


def merge_rows(rows_a, rows_b, out_rows, pos_a, pos_b):
    union = np.union1d(rows_a, rows_b)
    out_rows[:union.size] = union
    pos_a[:] = np.searchsorted(union, rows_a)
    pos_b[:] = np.searchsorted(union, rows_b)
    return union.size


def embedding_rows_grad(idx, dy2, n, rows, values):
    hit = np.clip(np.trunc(idx), 0, n - 1).astype(np.int64)
    unique, where = np.unique(hit, return_inverse=True)
    rows[:unique.size] = unique
    values[:unique.size] = 0
    np.add.at(values, where.reshape(-1), dy2)
    return unique.size
