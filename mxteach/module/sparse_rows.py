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
from ..context import cpu
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import is_sparse, zeros as sparse_zeros

__all__ = ["pull_sparse_rows", "is_sparse_batch", "load_sparse", "zeros_like_param",
           "assign_param", "pull_all_rows", "sparse_grad_rows"]


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


def zeros_like_param(arr):
    """The module's own CPU copy of a device's parameter array, zero: row_sparse with no row
    stored for a row_sparse parameter (as MXNet's ``zeros(stype=...)`` in bind), so that
    checkpoints write row_sparse records as MXNet does."""
    if arr.stype == "row_sparse":
        return sparse_zeros("row_sparse", arr.shape, dtype=arr.dtype)
    return NDArray(np.zeros(arr.shape, np.dtype(arr.dtype)), cpu())


def assign_param(dst, src):
    """Copy ``src`` into the module's parameter ``dst`` keeping ``dst``'s storage type: into a
    row_sparse ``dst`` a row_sparse ``src`` keeps its rows, a dense one keeps its non-zero
    rows (MXNet's copyto, a cast_storage)."""
    src = src if isinstance(src, NDArray) else NDArray(np.asarray(src))
    if is_sparse(dst):
        src.copyto(dst)
    elif src is not dst:
        dst._data[...] = src.asnumpy() if is_sparse(src) else src._data


def pull_all_rows(kv, name, arr):
    """Every row of the row_sparse parameter ``name`` from the kvstore that updates it into
    the module's copy ``arr`` (what MXNet does before get_params and checkpoints)."""
    rows = NDArray(np.arange(arr.shape[0], dtype=np.int64), cpu())
    kv.row_sparse_pull(name, arr, row_ids=rows)


def sparse_grad_rows(group):
    """``{parameter: {"rows": [...], "num_rows": N, "stored_bytes": b, "dense_bytes": d}}``
    for the row_sparse gradients of ``group``'s executors after a backward: the rows the batch
    touched (union over devices, sorted) and what storing them costs against a dense
    gradient. Plain data, carried by the module's ``backward`` event for views (ParamTable's
    row heat strip). See notebook 15."""
    out = {}
    for name in group.param_names:
        grads = [exe.grad_dict.get(name) for exe in group.execs]
        if not grads or any(g is None or g.stype != "row_sparse" for g in grads):
            continue
        rows = np.unique(np.concatenate([g._aux[0] for g in grads]))
        out[name] = {"rows": rows.tolist(), "num_rows": int(grads[0].shape[0]),
                     "stored_bytes": int(sum(g._values.nbytes + g._aux[0].nbytes
                                             for g in grads)),
                     "dense_bytes": int(len(grads) * np.prod(grads[0].shape) *
                                        np.dtype(grads[0].dtype).itemsize)}
    return out
