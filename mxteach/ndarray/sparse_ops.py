"""Operators on sparse arrays, dispatched as MXNet 1.9 dispatches them by storage type.

=====================================  ===================================================
call                                   storage types in → out
=====================================  ===================================================
``dot(csr, dense)``                    csr, default → default
``dot(csr, dense, transpose_a=True)``  csr, default → row_sparse
``dot(dense, csr)``                    default, csr → default
``elemwise_add/sub/mul(a, b)``         csr, csr → csr; row_sparse, row_sparse → row_sparse
``abs, sqrt, square, relu, sin ...``   csr → csr; row_sparse → row_sparse (zero stays zero)
``cast_storage(x, stype)``             any → ``stype``
``retain(rsp, indices)``               row_sparse → row_sparse
``square_sum(rsp, axis=1, keepdims)``  row_sparse → row_sparse (axis 1, keepdims) else default
everything else                        dense copies, with a ``StorageFallbackWarning``
=====================================  ===================================================

Sparse arrays on a gpu dispatch the same way, to the CUDA kernels of ``sparse_gpu.py``.

See notebook 15.
"""
from __future__ import annotations

import numpy as np

from ..base import MXNetError, ShapeError
from ..kernels.cpu import sparse as K
from ..ops import registry as _registry
from . import sparse_gpu as _gpu
from .ndarray import NDArray
from .sparse_storage import (IDX, BaseSparseNDArray, CSRNDArray, RowSparseNDArray, elemwise,
                             fallback, is_sparse, retain, tostype)

__all__ = ["dot", "cast_storage", "square_sum", "retain", "elemwise", "dispatch",
           "ZERO_PRESERVING"]

# unary operators with f(0) == 0: they may run on the stored values alone
ZERO_PRESERVING = ("abs", "sign", "relu", "square", "sqrt", "cbrt", "sin", "sinh", "tan",
                   "tanh", "arcsin", "arcsinh", "arctan", "arctanh", "ceil", "floor", "rint",
                   "round", "trunc", "fix", "expm1", "log1p", "degrees", "radians", "negative")


def _dense(x):
    return x.asnumpy() if isinstance(x, NDArray) else np.asarray(x)


def dot(lhs, rhs, transpose_a=False, transpose_b=False, **kwargs):
    """Matrix product with MXNet's storage dispatch (see the module table). See notebook 15."""
    on_gpu = _gpu.on_gpu(lhs) or _gpu.on_gpu(rhs)
    result = _gpu.dot(lhs, rhs, transpose_a, transpose_b) if on_gpu else None
    if result is not None:           # CUDA kernels (ndarray/sparse_gpu.py)
        return result
    if isinstance(lhs, CSRNDArray) and not is_sparse(rhs):
        b = _dense(rhs)
        b = np.ascontiguousarray(b.T if transpose_b else b)
        indptr, cols = lhs._aux
        k = lhs.shape[0] if transpose_a else lhs.shape[1]
        if b.ndim != 2 or b.shape[0] != k:
            raise ShapeError(f"dot: csr {lhs.shape}{'.T' if transpose_a else ''} times "
                             f"{b.shape}: inner sizes differ")
        dtype = np.result_type(lhs._values, b)
        values, b = lhs._values.astype(dtype), b.astype(dtype)
        if not transpose_a:
            out = np.empty((lhs.shape[0], b.shape[1]), dtype)
            K.csr_dot_dense(indptr, cols, values, b, out)
            return NDArray(out, lhs.context)
        out = np.empty((lhs.shape[1], b.shape[1]), dtype)
        touched = np.empty(lhs.shape[1], np.int8)
        K.csr_t_dot_dense(indptr, cols, values, b, out, touched)
        rows = np.nonzero(touched)[0].astype(IDX)
        return RowSparseNDArray(out[rows], [rows], out.shape, lhs.context)
    if isinstance(rhs, CSRNDArray) and not is_sparse(lhs) and not transpose_b:
        # dense @ csr = (csr.T @ dense.T).T, one scatter pass over the stored values
        a = _dense(lhs)
        a = a.T if transpose_a else a
        t = dot(rhs, np.ascontiguousarray(a.T), transpose_a=True)
        return NDArray(np.ascontiguousarray(t.asnumpy().T), rhs.context)
    fallback("dot", [getattr(lhs, "stype", "default"), getattr(rhs, "stype", "default")])
    a, b = _dense(lhs), _dense(rhs)
    a = a.T if transpose_a else a
    b = b.T if transpose_b else b
    ctx = lhs.context if isinstance(lhs, NDArray) else rhs.context
    return NDArray(np.ascontiguousarray(a @ b), ctx)


def cast_storage(data, stype):
    """``data`` in storage type ``stype``. See notebook 15."""
    return tostype(data, stype)


def square_sum(data, axis=None, keepdims=False):
    """Sum of squares of a row_sparse array (MXNet's ``_square_sum``): by row with
    ``axis=1, keepdims=True`` the result stays row_sparse. See notebook 15."""
    if not isinstance(data, RowSparseNDArray):
        raise MXNetError(f"square_sum takes a row_sparse array, got {getattr(data, 'stype', '?')}")
    if _gpu.on_gpu(data):
        return _gpu.square_sum(data, axis, keepdims)
    sq = data._values.astype(data._values.dtype) ** 2
    if axis in (1, (1,)) and data.ndim == 2 and keepdims:
        return RowSparseNDArray(sq.sum(axis=1, keepdims=True), [data._aux[0]],
                                (data.shape[0], 1), data.context)
    dense = np.zeros(data.shape, sq.dtype)
    dense[data._aux[0]] = sq
    return NDArray(np.asarray(dense.sum(axis=axis, keepdims=keepdims)), data.context)


def _unary(opname, x, params):
    op = _registry.get(opname)
    p = _registry.parse_params(op, params, opname)
    if _gpu.on_gpu(x):
        return _gpu.unary(op, p, x)
    out = np.empty_like(x._values)
    op.forward(p, [x._values], [out], False, {})
    return type(x)(out, x._aux, x.shape, x.context)


_ELEMWISE = {"elemwise_add": "add", "_plus": "add", "elemwise_sub": "sub", "_minus": "sub",
             "elemwise_mul": "mul", "_mul": "mul"}


def dispatch(op, inputs, params):
    """The sparse implementation of ``op`` on ``inputs``, or None when there is none (the
    caller then falls back to dense copies and warns)."""
    name = op.name
    stypes = [getattr(x, "stype", "default") for x in inputs]
    if name == "dot":
        return dot(*inputs, transpose_a=_flag(params, "transpose_a"),
                   transpose_b=_flag(params, "transpose_b"))
    if name == "cast_storage":
        return cast_storage(inputs[0], params["stype"])
    if "csr_forward" in op.extra and stypes == ["csr"]:    # e.g. contrib.getnnz
        p = _registry.parse_params(op, params, name)
        return NDArray(op.extra["csr_forward"](p, inputs[0]._aux[0], inputs[0].shape),
                       inputs[0].context)
    if name in _ELEMWISE and len(inputs) == 2 and stypes[0] == stypes[1] and \
            inputs[0].shape == inputs[1].shape:
        return elemwise(_ELEMWISE[name], *inputs)
    if name in ZERO_PRESERVING and len(inputs) == 1 and isinstance(inputs[0], BaseSparseNDArray):
        return _unary(name, inputs[0], params)
    return None


def _flag(params, key):
    value = params.get(key, False)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")

