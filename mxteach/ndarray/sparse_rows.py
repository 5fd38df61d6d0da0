"""Row_sparse values in a key-value store (used by ``mxteach/kvstore.py``), as MXNet 1.9
handles them.

* ``push`` of row_sparse gradients sums them row-wise and keeps the sum row_sparse, so the
  store's updater can run a *lazy* update (only the pushed rows change);
* ``row_sparse_pull(key, out, row_ids)`` fills a row_sparse ``out`` with the stored rows
  ``row_ids`` (sorted, repeats removed) and nothing else; a dense ``out``, or a key whose
  value is dense, is refused, as in MXNet;
* ``pull`` into a row_sparse ``out`` is skipped with a warning (MXNet's ``ignore_sparse``).

The store keeps every value densely; a key initialised with a row_sparse value remembers that
storage type for ``row_sparse_pull``. See notebook 15.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..base import MXNetError
from . import sparse_gpu
from .ndarray import NDArray
from .sparse_storage import RowSparseNDArray, elemwise, is_sparse

__all__ = ["all_row_sparse", "sum_row_sparse", "pull_rows", "skip_sparse_pull",
           "check_init_value"]


def all_row_sparse(vals):
    """True when every pushed value is row_sparse (a mix is summed densely)."""
    return all(isinstance(v, RowSparseNDArray) for v in vals)


def sum_row_sparse(vals, dtype):
    """The row-wise sum of row_sparse values, still row_sparse (stored rows: the union)."""
    total = vals[0].astype(dtype)
    for v in vals[1:]:
        total = elemwise("add", total, v.astype(dtype))
    return total


def pull_rows(key, stored, stype, out, row_ids, error):
    """Copy rows ``row_ids`` of the dense ``stored`` array (a value of storage type ``stype``)
    into the row_sparse ``out``."""
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
    if rows.size and (rows[0] < 0 or rows[-1] >= stored.shape[0]):
        raise error(f"row_sparse_pull: row_ids for key {key!r} must lie in "
                    f"[0, {stored.shape[0]}), got {rows[0]}..{rows[-1]}")
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
    """The dense copy a store keeps of an init value, and its storage type."""
    if isinstance(value, RowSparseNDArray) or not is_sparse(value):
        return value.tostype("default") if is_sparse(value) else value, value.stype
    raise MXNetError(f"init: key {key!r} has a {value.stype} value; a kvstore keeps default "
                     f"or row_sparse values")
