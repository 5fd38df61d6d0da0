"""``mx.nd.sparse``: sparse NDArrays (``row_sparse``, ``csr``) and the operators that keep them
sparse. The storage classes are in ``sparse_storage.py``, the operators in ``sparse_ops.py``.

See notebook 15.
"""
from __future__ import annotations

from .sparse_storage import (BaseSparseNDArray, CSRNDArray, RowSparseNDArray,  # noqa: F401
                             StorageFallbackWarning, array, csr_matrix, empty,
                             row_sparse_array, zeros)
from .sparse_ops import cast_storage, dot, retain, square_sum  # noqa: F401
from .sparse_storage import elemwise as _elemwise


def elemwise_add(lhs, rhs):
    """``lhs + rhs`` in their common sparse storage type. See notebook 15."""
    return _elemwise("add", lhs, rhs)


def elemwise_sub(lhs, rhs):
    """``lhs - rhs`` in their common sparse storage type. See notebook 15."""
    return _elemwise("sub", lhs, rhs)


def elemwise_mul(lhs, rhs):
    """``lhs * rhs`` in their common sparse storage type. See notebook 15."""
    return _elemwise("mul", lhs, rhs)


add, subtract, multiply = elemwise_add, elemwise_sub, elemwise_mul

__all__ = ["BaseSparseNDArray", "CSRNDArray", "RowSparseNDArray", "StorageFallbackWarning",
           "array", "csr_matrix", "empty", "row_sparse_array", "zeros", "cast_storage", "dot",
           "retain", "square_sum", "elemwise_add", "elemwise_sub", "elemwise_mul", "add",
           "subtract", "multiply"]
