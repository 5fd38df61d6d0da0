"""The index_contrib family: the contrib row-index operators ``boolean_mask``, ``index_copy``
and ``backward_index_copy`` (``mx.nd.contrib.*``, registered as ``_contrib_<name>``).

Like the index_extra family (``index_extra.py``) they move whole *rows*: a row index built on
the host from the index values names, for every row of the compact array, its row of the large
one (-1 for none), and the row kernels of ``kernels/cpu/index_extra.py`` (through
``rows_gather``/``rows_scatter`` of ``common.py``; CUDA twins in ``kernels/cuda/``) gather or
scatter them. The index inputs get zero gradients, as in MXNet. See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import (grad_mode, gpu_flat, gpu_zero_grads, to_host, to_device, inner_size,
                     rows_gather, rows_scatter)
from ..base import MXNetError, ShapeError

__all__ = ["INDEX_CONTRIB_OPS"]

INDEX_CONTRIB_OPS = ["_contrib_boolean_mask", "_contrib_index_copy",
                     "_contrib_backward_index_copy"]


# -- contrib: boolean_mask, index_copy and its backward -------------------------------------------
def _mask_rows(p, ins):
    if p["axis"] != 0:
        raise MXNetError(f"boolean_mask: axis = {p['axis']} is not supported (MXNet 1.9.1 masks "
                         "axis 0 only)")
    data, index = ins[0], to_host(ins[1])
    if index.ndim != 1 or index.shape[0] != data.shape[0]:
        raise ShapeError(f"boolean_mask: index must be a vector with one entry per row of data "
                         f"{tuple(data.shape)}; got shape {tuple(index.shape)}")
    return np.flatnonzero(index).astype(np.int64)


def _mask_shape(p, in_shapes):
    """The output's length is the number of non-zero index values: unknown from shapes alone
    (MXNet's infer_shape says None too); ``value_shapes`` gives it from the values."""
    return list(in_shapes), [None]


def _mask_value_shapes(p, ins):
    return [(len(_mask_rows(p, ins)),) + tuple(ins[0].shape[1:])]


def _mask_forward(p, ins, outs, is_train, state):
    state["rows"] = rows = _mask_rows(p, ins)
    rows_gather(ins[0], rows, inner_size(ins[0].shape), outs[0], False)


def _mask_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        if mode == 1:
            igrads[0][...] = 0
        rows_scatter(ograds[0], state["rows"], inner_size(ins[0].shape), 1, igrads[0])
    assign(igrads[1], reqs[1], 0)


def _mask_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import index_extra as C
    state["gpu_rows"] = to_device(_mask_rows(p, ins))
    C.rows_gather(gpu_flat(ins[0]), state["gpu_rows"], inner_size(ins[0].shape), gpu_flat(outs[0]),
                  False)


def _mask_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import index_extra as C, elemwise
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        if mode == 1:
            elemwise.fill(igrads[0], 0)
        C.rows_scatter(gpu_flat(ograds[0]), state["gpu_rows"], inner_size(ins[0].shape), 1,
                       gpu_flat(igrads[0]))
    gpu_zero_grads(p, None, ins, outs, igrads[1:], reqs[1:], state)


register(Op(name="_contrib_boolean_mask", params={"axis": Param("int", 0)},
            arguments=("data", "index"), infer_shape=_mask_shape, forward=_mask_forward,
            backward=_mask_backward, gpu_forward=_mask_gpu_forward,
            gpu_backward=_mask_gpu_backward, backward_uses=(), hint="boolean_mask",
            extra={"value_shapes": _mask_value_shapes},
            doc="The rows of data whose index entry is non-zero (axis 0). The output's length "
                "depends on the index values, so it runs in mx.nd only (a bound graph cannot "
                "size it, as in MXNet's executor). See notebook 01."))


def _copy_rows(ins, index_pos):
    """Row index of index_copy: the old_tensor row of every new_tensor row (-1 when out of
    range: MXNet writes nothing for those)."""
    n = ins[0].shape[0]
    idx = to_host(ins[index_pos]).reshape(-1).astype(np.int64)
    return np.where((idx >= 0) & (idx < n), idx, -1)


def _copy_shape(p, in_shapes):
    old, index, new = in_shapes
    if old is None or new is None:
        return list(in_shapes), [None if old is None else tuple(old)]
    if tuple(old[1:]) != tuple(new[1:]) or (index is not None and
                                            (len(index) != 1 or index[0] != new[0])):
        raise ShapeError(f"index_copy: new_tensor {tuple(new)} must match old_tensor "
                         f"{tuple(old)} after the first axis and have one row per entry of "
                         f"the index vector (shape {index})")
    return [tuple(old), (new[0],), tuple(new)], [tuple(old)]


def _copy_forward(p, ins, outs, is_train, state):
    state["rows"] = rows = _copy_rows(ins, 1)
    outs[0][...] = ins[0]
    rows_scatter(ins[2], rows, inner_size(ins[0].shape), 0, outs[0])


def _copy_grads(ograd, rows, inner, g_old, req_old, g_new, req_new):
    """index_copy's gradients as MXNet computes them: old_tensor gets the head gradient with the
    copied rows removed ('add' subtracts each copied row once per time it is named), every
    new_tensor row the head gradient of the row it was copied to."""
    mode = grad_mode(req_new, g_new)
    if mode:
        rows_gather(ograd, rows, inner, g_new, mode == 2)
    mode = grad_mode(req_old, g_old)
    if mode == 1:
        g_old[...] = ograd
        rows_scatter(np.zeros((rows.size, inner), g_old.dtype), rows, inner, 0, g_old)
    elif mode == 2:
        g_old += ograd
        rows_scatter(_rows_of(ograd, rows, inner), rows, inner, 2, g_old)


def _rows_of(a, rows, inner):
    out = np.empty(rows.size * inner, a.dtype)
    rows_gather(a, rows, inner, out, False)
    return out


def _copy_backward(p, ograds, ins, outs, igrads, reqs, state):
    _copy_grads(ograds[0], state["rows"], inner_size(ins[0].shape), igrads[0], reqs[0], igrads[2],
                reqs[2])
    assign(igrads[1], reqs[1], 0)


def _copy_gpu_grads(ograd, rows, inner, g_old, req_old, g_new, req_new):
    from ..kernels.cuda import index_extra as C, elemwise
    from numba import cuda
    if grad_mode(req_new, g_new):
        C.rows_gather(gpu_flat(ograd), rows, inner, gpu_flat(g_new), req_new == "add")
    mode = grad_mode(req_old, g_old)
    if mode:
        picked = cuda.device_array(rows.size * inner, g_old.dtype)
        C.rows_gather(gpu_flat(ograd), rows, inner, picked, False)
        elemwise.copy(ograd, g_old, mode == 2)
        if mode == 1:
            elemwise.fill(picked, 0)
        C.rows_scatter(picked, rows, inner, 0 if mode == 1 else 2, gpu_flat(g_old))


def _copy_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import index_extra as C, elemwise
    state["gpu_rows"] = to_device(_copy_rows(ins, 1))
    elemwise.copy(ins[0], outs[0])
    C.rows_scatter(gpu_flat(ins[2]), state["gpu_rows"], inner_size(ins[0].shape), 0,
                   gpu_flat(outs[0]))


def _copy_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    _copy_gpu_grads(ograds[0], state["gpu_rows"], inner_size(ins[0].shape), igrads[0], reqs[0],
                    igrads[2], reqs[2])
    gpu_zero_grads(p, None, ins, outs, igrads[1:2], reqs[1:2], state)


register(Op(name="_contrib_index_copy", params={},
            arguments=("old_tensor", "index_vector", "new_tensor"), infer_shape=_copy_shape,
            forward=_copy_forward, backward=_copy_backward, gpu_forward=_copy_gpu_forward,
            gpu_backward=_copy_gpu_backward, backward_uses=(), hint="index_copy",
            doc="old_tensor with row index_vector[i] replaced by row i of new_tensor (out-of-"
                "range indices are skipped; a repeated index keeps the last row). See "
                "notebook 01."))


def _bcopy_shape(p, in_shapes):
    og, old, index, new = in_shapes
    return list(in_shapes), [None if old is None else tuple(old),
                             None if index is None else tuple(index),
                             None if new is None else tuple(new)]


def _bcopy_forward(p, ins, outs, is_train, state):
    rows = _copy_rows(ins[1:], 1)
    _copy_grads(ins[0], rows, inner_size(ins[1].shape), outs[0], "write", outs[2], "write")
    outs[1][...] = 0


def _bcopy_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise
    rows = to_device(_copy_rows(ins[1:], 1))
    _copy_gpu_grads(ins[0], rows, inner_size(ins[1].shape), outs[0], "write", outs[2], "write")
    elemwise.fill(outs[1], 0)


register(Op(name="_contrib_backward_index_copy", params={},
            arguments=("out_grad", "old_tensor", "index_vector", "new_tensor"),
            outputs=("old_tensor_grad", "index_vector_grad", "new_tensor_grad"),
            infer_shape=_bcopy_shape, forward=_bcopy_forward, gpu_forward=_bcopy_gpu_forward,
            hint="backward_index_copy",
            doc="The gradients of index_copy from its head gradient out_grad: old_tensor's "
                "(out_grad with the copied rows zeroed), index_vector's (zero) and "
                "new_tensor's (the rows of out_grad they were copied to). See notebook 01."))
