"""Lazy updates: an optimizer step on only the rows a row_sparse gradient stores.

With a row_sparse gradient (``Embedding(sparse_grad=True)``) and ``lazy_update=True`` (the
default of SGD and Adam, as in MXNet 1.9), rows the batch did not touch are left alone: no
weight decay, no momentum decay, no moment update for them. The rule itself is the dense one
of :mod:`~mxteach.optimizer.steps`, run on the gathered rows of the weight and its states,
which are then written back: the touched rows get exactly the numbers of a dense update.

``lazy_update=False`` densifies the gradient and updates every row (MXNet's "standard
update"); optimizers without a lazy rule do the same, with a storage-fallback warning.

A *row_sparse weight* (``opt.update`` on a row_sparse array, as MXNet's kvstore holds one) is
updated in its stored values, never through a dense copy: as in MXNet it must store every
row (the check names the weight), and its row_sparse states start with nothing stored and
get every row, zero, at the first update (MXNet's ``FillDnsZerosRspImpl``).

On a gpu the rows are gathered and scattered back by CUDA kernels around the rule's CUDA twin
(``ndarray/sparse_gpu.py``), for dense and row_sparse gpu weights alike.

See notebook 15.
"""
from __future__ import annotations

import numpy as np

from ..base import MXNetError
from ..ndarray import sparse_gpu
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import IDX, RowSparseNDArray, is_sparse

__all__ = ["is_row_sparse", "weight_is_row_sparse", "sparse_clip", "lazy_apply", "dense_grad",
           "all_rows", "state_stype"]


def is_row_sparse(grad):
    return isinstance(grad, RowSparseNDArray)


def weight_is_row_sparse(weight):
    """Whether MXNet would see ``weight`` as row_sparse: a row_sparse array, or a distributed
    kvstore's dense copy of a row_sparse value (marked with ``_kv_stype``; the local stores
    keep row_sparse keys row_sparse). FTRL updates a
    row_sparse weight lazily but densifies the gradient of a dense one."""
    return weight.stype == "row_sparse" or getattr(weight, "_kv_stype", None) == "row_sparse"


def sparse_clip(clip_gradient):
    """MXNet's Python optimizers pass ``clip_gradient`` to the sparse kernels only when it is
    truthy: ``clip_gradient=0`` clips nothing on this path (the dense AdaGrad clips to 0)."""
    return clip_gradient if clip_gradient else None


def state_stype(weight, lazy=True):
    """The storage type MXNet gives an optimizer state of ``weight``: row_sparse for a
    row_sparse weight updated lazily, else default."""
    return "row_sparse" if lazy and weight.stype == "row_sparse" else "default"


def _full_values(x, what, fill):
    """The ``(N, ...)`` values of a row_sparse ``x`` that stores every row (they *are* its
    rows, in order). A state with nothing stored (``fill``) gets every row, zero, first."""
    n = x.shape[0]
    stored = x._aux[0]
    if stored.size == 0 and fill and n:
        # rebuilt through its class: on a gpu the zeros are written in device memory
        full = type(x)(np.zeros(x.shape, dtype=x._values.dtype), [np.arange(n, dtype=IDX)],
                       x.shape, x.context)
        x._values, x._aux = full._values, full._aux
    elif stored.size != n:
        raise MXNetError(f"{what}: a row_sparse {what.split()[-1]} must store all {n} rows "
                         f"(MXNet: \"only implemented for RowSparse weights with all rows "
                         f"containing non-zeros\"), got {stored.size} stored rows")
    return x._values


def all_rows(x, what="optimizer update of the weight", fill=False):
    """``x`` itself when dense; for a row_sparse ``x`` that stores every row, a dense NDArray
    *sharing* its values, so a standard update writes into the row_sparse array in place
    (no dense copy, no fallback). Scalars and None pass through."""
    if isinstance(x, RowSparseNDArray):
        return NDArray(_full_values(x, what, fill), x.context)
    return x


def lazy_apply(rule, weight, grad, *rest):
    """Run ``rule(weight, grad, *rest)`` (a function of ``steps.py``) on the rows of the
    row_sparse ``grad`` only. ``rest`` holds the states (NDArrays, gathered and written back
    like the weight) and the scalars. A row_sparse weight or state is read and written in its
    stored values (see the module notes). On a gpu: CUDA gathers and scatters of the rows
    around the rule's CUDA twin (``ndarray/sparse_gpu.py``)."""
    if weight.context.device_type == "gpu" and isinstance(grad, RowSparseNDArray):
        what = f"lazy {rule.__name__} update of the"
        return sparse_gpu.lazy_apply(rule, all_rows(weight, f"{what} weight"), grad,
                                     *[all_rows(a, f"{what} state", fill=True) for a in rest])
    if weight.context.device_type == "gpu" or (is_sparse(weight)
                                               and not isinstance(weight, RowSparseNDArray)):
        raise MXNetError(f"lazy {rule.__name__} update: the weight must be a dense or "
                         f"row_sparse host array, got a {weight.stype} array on "
                         f"{weight.context}")
    dense_w = all_rows(weight, f"lazy {rule.__name__} update of the weight")._data
    rest = [all_rows(a, f"lazy {rule.__name__} update of the state", fill=True) for a in rest]
    rows = grad._aux[0]
    if rows.size == 0:          # the batch touched no row: nothing changes
        return
    w_rows = dense_w[rows]
    states = [(a._data, a._data[rows]) if isinstance(a, NDArray) else (None, a) for a in rest]
    rule(w_rows, grad._values, *[part for _, part in states])
    dense_w[rows] = w_rows
    for full, part in states:
        if full is not None:
            full[rows] = part


def dense_grad(grad):
    """``grad`` densified for a standard (non-lazy) update of every row: MXNet has a kernel for
    this case, so it is no storage fallback and says nothing."""
    return grad.tostype("default") if is_row_sparse(grad) else grad
