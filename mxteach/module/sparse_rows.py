"""Sparse storage in a Module: csr batches into the executors, and
``Module.prepare(batch, sparse_row_id_fn)``, which pulls, before a batch, the rows of
row_sparse parameters that the batch needs from the kvstore that updates them.

A row_sparse parameter (``mx.sym.Variable(..., stype='row_sparse')``) lives in the kvstore;
each device holds only the rows its batches touch. ``sparse_row_id_fn(batch)`` says which:
``{param name: row ids}``. ``fit``, ``score`` and ``predict`` call ``prepare`` with it before
every batch. Without a kvstore that updates the weights there is nothing to pull, and MXNet
1.9 says so with a warning; so do we. See notebook 15.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..base import MXNetAssertionError, MXNetValueError, ShapeError, did_you_mean
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import is_sparse

__all__ = ["pull_sparse_rows", "is_sparse_batch", "load_sparse", "dense_zeros_like"]


def pull_sparse_rows(module, data_batch, sparse_row_id_fn):
    """Run ``sparse_row_id_fn`` on ``data_batch`` and ``row_sparse_pull`` those rows of each
    named parameter into ``module``'s executors."""
    kv = module._kvstore
    if kv is None or not module._update_on_kvstore:
        warnings.warn("Parameters are not updated in the KVStore. No need to call "
                      "sparse_row_id_fn.", UserWarning, stacklevel=3)
        return
    row_ids = sparse_row_id_fn(data_batch)
    if not isinstance(row_ids, dict):
        raise MXNetAssertionError(f"sparse_row_id_fn must return a dict {{param name: row ids}}, "
                                  f"got {type(row_ids).__name__}")
    group = module._exec_group
    names = group.param_names
    for name, rows in row_ids.items():
        if name not in names:
            raise MXNetValueError(f"sparse_row_id_fn names '{name}', which is not a parameter."
                                  f"{did_you_mean(name, names)}")
        idx = names.index(name)
        arrays = group.param_arrays[idx]
        if arrays[0].stype != "row_sparse":
            warnings.warn(f"{name}.stype is not 'row_sparse'. No need to perform "
                          f"row_sparse_pull.", UserWarning, stacklevel=3)
            continue
        kv.row_sparse_pull(name, arrays, row_ids=rows, priority=-idx)


def is_sparse_batch(src, dst_list):
    """True when a batch array or the executors' arrays for it are sparse."""
    return is_sparse(src) or any(is_sparse(dst) for _, dst in dst_list)


def load_sparse(src, dst_list, what):
    """Copy the rows ``sl`` of batch array ``src`` into each device's ``dst``, keeping each
    ``dst``'s storage type: a csr batch into a csr ``data`` argument stays csr (rows of a csr
    array are sliced without densifying)."""
    for sl, dst in dst_list:
        if is_sparse(src):
            part = src[sl] if src.shape[0] != sl.stop - sl.start else src
        else:
            part = NDArray(src.asnumpy()[sl]) if isinstance(src, NDArray) else \
                NDArray(np.asarray(src)[sl])
        if part.shape != dst.shape:
            raise ShapeError(f"{what} slice {sl.start}:{sl.stop} has shape {part.shape}, the "
                             f"executor expects {dst.shape}")
        dst[:] = part


def dense_zeros_like(arr):
    """Host zeros shaped like a device's parameter array, dense even for a row_sparse one
    (the module's own parameter copy; MXNet's would be row_sparse with the same values)."""
    if is_sparse(arr):
        return np.zeros(arr.shape, np.dtype(arr.dtype))
    return np.zeros_like(arr._data)
