"""Lazy updates: an optimizer step on only the rows a row_sparse gradient stores.

With a row_sparse gradient (``Embedding(sparse_grad=True)``) and ``lazy_update=True`` (the
default of SGD and Adam, as in MXNet 1.9), rows the batch did not touch are left alone: no
weight decay, no momentum decay, no moment update for them. The rule itself is the dense one
of :mod:`~mxteach.optimizer.steps`, run on the gathered rows of the weight and its states,
which are then written back: the touched rows get exactly the numbers of a dense update.

``lazy_update=False`` densifies the gradient and updates every row (MXNet's "standard
update"); optimizers without a lazy rule do the same, with a storage-fallback warning.

See notebook 15.
"""
from __future__ import annotations

from ..base import MXNetError
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import RowSparseNDArray, is_sparse

__all__ = ["is_row_sparse", "weight_is_row_sparse", "sparse_clip", "lazy_apply", "dense_grad"]


def is_row_sparse(grad):
    return isinstance(grad, RowSparseNDArray)


def weight_is_row_sparse(weight):
    """Whether MXNet would see ``weight`` as row_sparse: a row_sparse array, or the kvstore's
    dense copy of a row_sparse value (the store marks it with ``_kv_stype``). FTRL updates a
    row_sparse weight lazily but densifies the gradient of a dense one."""
    return weight.stype == "row_sparse" or getattr(weight, "_kv_stype", None) == "row_sparse"


def sparse_clip(clip_gradient):
    """MXNet's Python optimizers pass ``clip_gradient`` to the sparse kernels only when it is
    truthy: ``clip_gradient=0`` clips nothing on this path (the dense AdaGrad clips to 0)."""
    return clip_gradient if clip_gradient else None


def lazy_apply(rule, weight, grad, *rest):
    """Run ``rule(weight, grad, *rest)`` (a function of ``steps.py``) on the rows of the
    row_sparse ``grad`` only. ``rest`` holds the states (NDArrays, gathered and written back
    like the weight) and the scalars."""
    if weight.context.device_type == "gpu" or is_sparse(weight):
        raise MXNetError(f"lazy {rule.__name__} update: the weight must be a dense host array, "
                         f"got a {weight.stype} array on {weight.context}")
    rows = grad._aux[0]
    if rows.size == 0:          # the batch touched no row: nothing changes
        return
    dense_w = weight._data
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
