"""Row_sparse values in a key-value store (used by ``mxteach/kvstore.py``), as MXNet 1.9
handles them.

* ``push`` of row_sparse gradients sums them row-wise and keeps the sum row_sparse, so the
  store's updater can run a *lazy* update (only the pushed rows change);
* ``row_sparse_pull(key, out, row_ids)`` fills a row_sparse ``out`` with the stored rows
  ``row_ids`` (sorted, repeats removed) and nothing else; a dense ``out``, or a key whose
  value is dense, is refused, as in MXNet;
* ``pull`` into a row_sparse ``out`` is skipped with a warning (MXNet's ``ignore_sparse``);
  with ``ignore_sparse=False`` it gets the stored rows, as they are stored.

A key initialised with a row_sparse value is *held* row_sparse: the store keeps only its stored
rows (a 100k-row embedding with a few rows pushed costs those rows, not the full matrix), a push
without an optimizer replaces them by the summed rows, and the optimizer updates the stored
weight in place (MXNet then needs every row stored: its lazy kernels refuse others).
:func:`storage_info` tells what a stored value costs. The distributed stores, whose wire and
servers carry dense arrays, keep a dense copy that remembers its storage type instead.
See notebook 15.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..base import MXNetError
from . import sparse_gpu
from .ndarray import NDArray
from .sparse_storage import IDX, RowSparseNDArray, elemwise, is_sparse, retain

__all__ = ["all_row_sparse", "sum_row_sparse", "pull_rows", "skip_sparse_pull",
           "check_init_value", "storage_info"]


def all_row_sparse(vals):
    """True when every pushed value is row_sparse (a mix is summed densely)."""
    return all(isinstance(v, RowSparseNDArray) for v in vals)


def sum_row_sparse(vals, dtype):
    """The row-wise sum of row_sparse values, still row_sparse (stored rows: the union)."""
    total = vals[0].astype(dtype)
    for v in vals[1:]:
        total = elemwise("add", total, v.astype(dtype))
    return total


def _check_pull(key, stype, out, row_ids, num_rows, error):
    """The sorted, unique rows ``row_ids`` asks for, after MXNet's checks of the output and of
    the key's storage type."""
    if not isinstance(out, RowSparseNDArray):
        raise error(f"row_sparse_pull: the output for key {key!r} must be row_sparse (MXNet: "
                    f"\"Expected row_sparse storage type for row_sparse_pull\"), got "
                    f"{out.stype}; create it with mx.nd.sparse.zeros('row_sparse', shape)")
    if stype != "row_sparse":
        raise error(f"row_sparse_pull: key {key!r} holds a {stype} value (MXNet: "
                    f"\"PullRowSparse expects row_sparse src NDArray\"); initialise it with a "
                    f"row_sparse array, e.g. kv.init(key, value.tostype('row_sparse'))")
    ids = row_ids.asnumpy() if isinstance(row_ids, NDArray) else np.asarray(row_ids)
    rows = np.unique(ids.astype(np.int64).reshape(-1))
    if rows.size and (rows[0] < 0 or rows[-1] >= num_rows):
        raise error(f"row_sparse_pull: row_ids for key {key!r} must lie in "
                    f"[0, {num_rows}), got {rows[0]}..{rows[-1]}")
    return rows


def _rows_of_row_sparse(stored, rows, dtype):
    """The row_sparse array storing exactly ``rows`` (sorted) of the row_sparse ``stored``:
    its values where ``stored`` has the row, zeros where it has not (as MXNet's
    row_sparse_pull fills rows the store never got)."""
    if sparse_gpu.on_gpu(stored):
        # on the device: the stored rows kept by retain, added to zero rows at every wanted
        # index, so the sum stores exactly ``rows`` (the union of the two)
        zero = type(stored)(np.zeros((rows.size,) + stored.shape[1:], np.dtype(dtype)),
                            [rows], stored.shape, stored.context)
        return elemwise("add", zero, retain(stored, rows).astype(dtype, copy=False))
    have = stored._aux[0]
    pos = np.minimum(np.searchsorted(have, rows), max(have.size - 1, 0))
    found = (have[pos] == rows) if have.size else np.zeros(rows.size, bool)
    values = np.zeros((rows.size,) + stored.shape[1:], dtype=np.dtype(dtype))
    values[found] = stored._values[pos[found]]
    return RowSparseNDArray(values, [rows], stored.shape, stored.context)


def pull_rows(key, stored, stype, out, row_ids, error):
    """Copy rows ``row_ids`` of the stored value (row_sparse, or the dense copy of a value of
    storage type ``stype``) into the row_sparse ``out``."""
    rows = _check_pull(key, stype if not isinstance(stored, RowSparseNDArray) else "row_sparse",
                       out, row_ids, stored.shape[0], error)
    if isinstance(stored, RowSparseNDArray):    # only the stored rows are read
        part = _rows_of_row_sparse(stored, rows, out._values.dtype)
        part = part.copyto(out.context) if part.context != out.context else part
        out._values, out._aux = part._values, part._aux
        return
    if sparse_gpu.on_gpu(stored):       # a value on a gpu: its rows gathered there
        part = sparse_gpu.gather(stored, rows, out.dtype).copyto(out.context)
        out._values, out._aux = part._values, part._aux
        return
    # only the pulled rows are copied (a host value is read in place, not copied whole)
    src = stored._data
    # rebuilt through its class, so a row_sparse output on a gpu gets the rows in device memory
    part = type(out)(np.array(src[rows], dtype=out._values.dtype), [rows], out.shape, out.context)
    out._values, out._aux = part._values, part._aux


def skip_sparse_pull(key, out):
    """``pull`` leaves a sparse output alone, saying so (MXNet logs the same warning)."""
    if is_sparse(out):
        warnings.warn(f"pull: the output for key {key!r} is {out.stype}; it was left unchanged "
                      f"(use kv.row_sparse_pull() or module.prepare() with row ids)",
                      UserWarning, stacklevel=3)
        return True
    return False


def check_init_value(key, value):
    """``value`` and its storage type, when a store can keep it (default or row_sparse)."""
    if isinstance(value, RowSparseNDArray) or not is_sparse(value):
        return value, value.stype
    raise MXNetError(f"init: key {key!r} has a {value.stype} value; a kvstore keeps default "
                     f"or row_sparse values")


def storage_info(value):
    """What a stored value costs: ``{"stype", "stored_rows", "num_rows", "stored_bytes",
    "dense_bytes"}`` (plain data; a row_sparse value's bytes are its rows and their indices,
    a dense value stores every row)."""
    num_rows = int(value.shape[0]) if value.shape else 1
    dense_bytes = int(np.prod(value.shape, dtype=np.int64)) * np.dtype(value.dtype).itemsize
    if isinstance(value, RowSparseNDArray):
        stored_rows = int(value._aux[0].shape[0])
        # counted from the shapes, so a value in device memory is measured alike
        stored_bytes = (dense_bytes // max(num_rows, 1) + np.dtype(IDX).itemsize) * stored_rows
    else:
        stored_rows, stored_bytes = num_rows, dense_bytes
    return {"stype": value.stype, "stored_rows": stored_rows, "num_rows": num_rows,
            "stored_bytes": stored_bytes, "dense_bytes": dense_bytes}
