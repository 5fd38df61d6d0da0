"""Sparse storage types, as MXNet 1.9 has them: ``row_sparse`` and ``csr``.

A :class:`RowSparseNDArray` of shape ``(N, ...)`` stores only some rows: ``data`` holds them
(shape ``(k, ...)``) and ``indices`` their sorted row numbers (int64). A :class:`CSRNDArray`
(2-d only) stores the non-zeros row by row: ``data`` the values, ``indices`` their column
numbers, ``indptr`` where each row starts (``N + 1`` offsets). Everything else is zero.

Operators that keep sparsity have sparse implementations (``sparse_ops.py``); every other use
sees a *dense copy* and, like MXNet's "storage fallback", says so with a
:class:`StorageFallbackWarning`. That copy is read-only, so a write through a dense-only path
fails loudly instead of being lost. On a gpu context these classes build their gpu twins,
stored in device memory and converted by CUDA kernels (``sparse_gpu.py``, through ``GPU``).

See notebook 15.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

from ..base import DTypeError, MXNetError, MXNetValueError, ShapeError, mx_real_t
from ..context import Context
from ..kernels.cpu import sparse as K
from .ndarray import NDArray, _ctx

__all__ = ["BaseSparseNDArray", "CSRNDArray", "RowSparseNDArray", "StorageFallbackWarning",
           "STYPES", "csr_matrix", "row_sparse_array", "zeros", "empty", "array", "tostype",
           "to_stype", "is_sparse", "elemwise", "retain", "STYPE_CODES", "stype_code",
           "rows_to_csr"]

STYPES = ("default", "row_sparse", "csr")
# MXNet's storage-type enum, as a symbol's JSON writes it in a variable's __storage_type__
STYPE_CODES = {"default": 0, "row_sparse": 1, "csr": 2}
IDX = np.int64            # MXNet's index type for indices and indptr
GPU = None    # slot: ndarray/sparse_gpu.py (a higher layer) installs itself here when imported


class StorageFallbackWarning(UserWarning):
    """A sparse array was densified because the operation has no sparse implementation."""


def fallback(what, stypes):
    """Warn that ``what`` runs densely on inputs of storage types ``stypes``."""
    warnings.warn(f"storage fallback: {what} has no implementation for storage types "
                  f"{list(stypes)}; it runs on dense copies (results are dense)",
                  StorageFallbackWarning, stacklevel=3)


def is_sparse(x):
    return isinstance(x, BaseSparseNDArray)


def stype_code(stype):
    """The ``__storage_type__`` attribute MXNet writes for ``stype`` ('1' for row_sparse)."""
    return str(STYPE_CODES[_check_stype(stype)])


def _check_stype(stype):
    if stype not in STYPES:
        raise MXNetError(f"unknown storage type {stype!r}; expected one of {list(STYPES)}")
    return stype


def _cpu_only(ctx, what):
    if ctx.device_type == "gpu":
        raise MXNetError(f"{what} on {ctx}: gpu sparse storage comes with mx.nd.sparse "
                         f"(ndarray/sparse_gpu.py); import mxteach first")
    return ctx


class BaseSparseNDArray(NDArray):
    """What both sparse storage types share: a shape, stored values, auxiliary index arrays."""

    stype_name = None
    _aux_names = ()

    def __new__(cls, *args, **kwargs):
        ctx = kwargs.get("ctx", args[3] if len(args) > 3 else None)
        if GPU is not None and _ctx(ctx).device_type == "gpu":    # device memory
            return object.__new__(GPU.gpu_class(cls))
        return object.__new__(cls)

    def __init__(self, values, aux, shape, ctx=None):
        self._values = values
        self._aux = [np.ascontiguousarray(a, dtype=IDX) for a in aux]
        self._shape = tuple(int(s) for s in shape)
        self._ctx = _cpu_only(_ctx(ctx), f"a {self.stype_name} array")

    # -- what NDArray code reads ---------------------------------------------------------------
    @property
    def _data(self):
        caller = sys._getframe(1).f_code.co_name
        fallback(caller, [self.stype_name])
        dense = self._dense()
        dense.flags.writeable = False      # a write here would be lost: make it fail
        return dense

    @property
    def shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._values.dtype.type

    @property
    def size(self):
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def stype(self):
        return self.stype_name

    @property
    def data(self):
        """The stored values (an NDArray sharing memory with this array)."""
        return NDArray(self._values, self._ctx)

    @property
    def indices(self):
        return NDArray(self._aux[self._aux_names.index("indices")], self._ctx)

    def _aux_types(self):
        return [a.dtype for a in self._aux]

    # -- conversions -------------------------------------------------------------------------
    def asnumpy(self):
        return self._dense()

    def __array__(self, dtype=None, copy=None):
        d = self._dense()
        return d if dtype is None else d.astype(dtype)

    def tostype(self, stype):
        """This array in storage type ``stype`` (a copy; itself when the type is the same)."""
        return tostype(self, stype)

    def astype(self, dtype, copy=True):
        dtype = np.dtype(dtype)
        if not copy and dtype == self._values.dtype:
            return self
        return type(self)(self._values.astype(dtype), self._aux, self._shape, self._ctx)

    def copy(self):
        return type(self)(self._values.copy(), [a.copy() for a in self._aux], self._shape,
                          self._ctx)

    def copyto(self, other):
        if isinstance(other, Context):
            return type(self)(self._values.copy(), [a.copy() for a in self._aux],
                              self._shape, other)
        if not isinstance(other, NDArray):
            raise DTypeError(f"copyto expects an NDArray or a Context, got "
                             f"{type(other).__name__}")
        if other.shape != self.shape:
            raise ShapeError(f"copyto: shape {self.shape} into shape {other.shape}")
        if isinstance(other, BaseSparseNDArray):
            converted = tostype(self, other.stype).astype(other.dtype)
            converted = converted.copyto(other.context) if other.context != self._ctx else \
                converted
            other._values, other._aux = converted._values, converted._aux
        else:
            other[:] = self._dense()
        return other

    def as_in_context(self, context):
        return self if context == self._ctx else self.copyto(context)

    def wait_to_read(self):
        return None

    def __repr__(self):
        dims = "x".join(str(s) for s in self._shape)
        return f"\n<{type(self).__name__} {dims} @{self._ctx}>"

    def __reduce__(self):
        return (_rebuild, (self.stype_name, self._values, self._aux, self._shape))

    def __setitem__(self, key, value):
        if not (isinstance(key, slice) and key == slice(None)):
            raise MXNetError(f"{type(self).__name__} supports assignment only to [:] "
                             f"(got index {key!r}); convert with tostype('default') first")
        if np.isscalar(value):
            if self.stype_name == "csr":
                raise MXNetValueError(f"CSRNDArray[:] = {value}: assigning a scalar to a csr "
                                      f"array is not supported (as in MXNet); assign an array")
            # MXNet's _set_value stores every row, even for 0: initializers such as Zero()
            # write `arr[:] = 0`, and a zero-initialised row_sparse parameter holds all rows
            values = np.full(self._shape, value, dtype=self._values.dtype)
            new = RowSparseNDArray(values, [np.arange(self._shape[0], dtype=IDX)],
                                   self._shape, self._ctx)
        else:
            src = value if isinstance(value, NDArray) else NDArray(np.asarray(value))
            if src.shape != self._shape:
                raise ShapeError(f"{type(self).__name__}[:] = array of shape {src.shape}; "
                                 f"expected {self._shape}")
            new = tostype(src, self.stype_name).astype(self._values.dtype)
        self._values, self._aux = new._values, new._aux

    # -- arithmetic that keeps sparsity (the rest falls back to dense) --------------------------
    def _same(self, other):
        return isinstance(other, type(self)) and other.shape == self.shape

    def __add__(self, other):
        if self._same(other):
            return elemwise("add", self, other)
        return super().__add__(other)

    def __sub__(self, other):
        if self._same(other):
            return elemwise("sub", self, other)
        return super().__sub__(other)

    def __mul__(self, other):
        if np.isscalar(other):
            return type(self)(self._values * np.asarray(other, self._values.dtype), self._aux,
                              self._shape, self._ctx)
        if self._same(other):
            return elemwise("mul", self, other)
        return super().__mul__(other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if np.isscalar(other):
            return type(self)(self._values / np.asarray(other, self._values.dtype), self._aux,
                              self._shape, self._ctx)
        return super().__truediv__(other)

    def __neg__(self):
        return type(self)(-self._values, self._aux, self._shape, self._ctx)


class RowSparseNDArray(BaseSparseNDArray):
    """Some rows stored: ``data`` (k, ...) and sorted ``indices`` (k,). See notebook 15."""

    stype_name = "row_sparse"
    _aux_names = ("indices",)

    def _dense(self):
        out = np.zeros(self._shape, dtype=self._values.dtype)
        out[self._aux[0]] = self._values
        return out

    def __getitem__(self, key):
        if isinstance(key, slice) and key == slice(None):
            return self
        raise MXNetError(f"RowSparseNDArray supports only [:] indexing (got {key!r}); use "
                         f"mx.nd.sparse.retain to keep rows, or tostype('default')")

    def retain(self, indices):
        return retain(self, indices)


class CSRNDArray(BaseSparseNDArray):
    """Compressed sparse rows (2-d): ``data``, column ``indices`` and row offsets ``indptr``.

    See notebook 15.
    """

    stype_name = "csr"
    _aux_names = ("indptr", "indices")

    @property
    def indptr(self):
        return NDArray(self._aux[0], self._ctx)

    def _rows(self):
        return np.repeat(np.arange(self._shape[0], dtype=IDX), np.diff(self._aux[0]))

    def _dense(self):
        out = np.zeros(self._shape, dtype=self._values.dtype)
        out[self._rows(), self._aux[1]] = self._values
        return out

    def asscipy(self):
        """A ``scipy.sparse.csr_matrix`` sharing no memory with this array."""
        try:
            import scipy.sparse as sp
        except ImportError:
            raise MXNetError("asscipy() needs scipy (pip install scipy)") from None
        return sp.csr_matrix((self._values.copy(), self._aux[1].copy(), self._aux[0].copy()),
                             shape=self._shape)

    def __getitem__(self, key):
        """Rows as a CSRNDArray: ``a[i]`` (one row, kept 2-d as MXNet does) or ``a[i:j]``."""
        start, stop = csr_row_range(key, self._shape[0])
        indptr = self._aux[0]
        lo, hi = indptr[start], indptr[stop]
        return CSRNDArray(self._values[lo:hi].copy(),
                          [indptr[start:stop + 1] - lo, self._aux[1][lo:hi].copy()],
                          (stop - start, self._shape[1]), self._ctx)


def csr_row_range(key, n):
    """``(start, stop)`` of the rows a CSRNDArray index names: an int (one row, kept 2-d as
    MXNet does) or a slice of step 1, over ``n`` rows."""
    if isinstance(key, (int, np.integer)):
        i = int(key) + (n if key < 0 else 0)
        if not 0 <= i < n:
            raise IndexError(f"row {key} out of range for a CSRNDArray of {n} rows")
        key = slice(i, i + 1)
    if not isinstance(key, slice):
        raise MXNetError(f"CSRNDArray supports row indexing by an int or a slice, got "
                         f"{key!r}")
    start, stop, step = key.indices(n)
    if step != 1:
        raise MXNetError(f"CSRNDArray row slices take step 1, got {step}")
    return start, max(stop, start)


def _rebuild(stype, values, aux, shape):
    return _CLASSES[stype](values, aux, shape)


_CLASSES = {"row_sparse": RowSparseNDArray, "csr": CSRNDArray}


# -- construction -------------------------------------------------------------------------------
def _dtype_of(source, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    if hasattr(source, "dtype"):
        return np.dtype(source.dtype)
    return np.dtype(mx_real_t)


def _shape_only(arg):
    return isinstance(arg, tuple) and len(arg) > 0 and all(
        isinstance(s, (int, np.integer)) for s in arg)


def _dense_numpy(source):
    if isinstance(source, NDArray):
        return source.asnumpy()
    if hasattr(source, "toarray"):           # a scipy sparse matrix
        return source.toarray()
    return np.asarray(source)


def _csr_from_dense(d, dtype, ctx):
    if d.ndim != 2:
        raise ShapeError(f"a csr array must be 2-d, got shape {d.shape}")
    rows, cols = np.nonzero(d)
    indptr = np.zeros(d.shape[0] + 1, dtype=IDX)
    np.cumsum(np.bincount(rows, minlength=d.shape[0]), out=indptr[1:])
    return CSRNDArray(d[rows, cols].astype(dtype), [indptr, cols.astype(IDX)], d.shape, ctx)


def _rsp_from_dense(d, dtype, ctx):
    if d.ndim < 1:
        raise ShapeError("a row_sparse array needs at least one dimension")
    keep = np.nonzero(d.reshape(d.shape[0], -1).any(axis=1))[0].astype(IDX)
    return RowSparseNDArray(d[keep].astype(dtype), [keep], d.shape, ctx)


def _validate_csr(values, indptr, cols, shape):
    if len(shape) != 2:
        raise ShapeError(f"a csr array must be 2-d, got shape {tuple(shape)}")
    nnz = values.size
    if indptr.ndim != 1:
        raise ShapeError(f"csr indptr must be 1-d, got shape {indptr.shape}")
    if values.ndim != 1 or cols.ndim != 1 or cols.size != nnz:
        raise ShapeError(f"csr data ({values.shape}) and indices ({cols.shape}) must be 1-d "
                         f"of the same length")
    if indptr.shape != (shape[0] + 1,) or indptr[0] != 0 or indptr[-1] != nnz or \
            np.any(np.diff(indptr) < 0):
        raise MXNetError(f"csr indptr must be {shape[0] + 1} non-decreasing offsets from 0 to "
                         f"{nnz}, got {indptr[:10].tolist()}")
    if nnz and (cols.min() < 0 or cols.max() >= shape[1]):
        raise MXNetError(f"csr column indices must lie in [0, {shape[1]})")


def _validate_rsp(values, rows, shape):
    if len(shape) < 1:
        raise ShapeError("a row_sparse array needs at least one dimension")
    if rows.ndim != 1 or values.shape != (rows.size,) + tuple(shape[1:]):
        raise ShapeError(f"row_sparse data has shape {values.shape}; with {rows.size} row "
                         f"indices and shape {tuple(shape)} it must be "
                         f"{(rows.size,) + tuple(shape[1:])}")
    if rows.size and (rows.min() < 0 or rows.max() >= shape[0] or np.any(np.diff(rows) <= 0)):
        raise MXNetError(f"row_sparse indices must be strictly increasing row numbers in "
                         f"[0, {shape[0]}), got {rows[:10].tolist()}")


def csr_matrix(arg1, shape=None, ctx=None, dtype=None):
    """A CSRNDArray from ``(data, indices, indptr)``, ``(data, (row, col))``, a dense array,
    a scipy sparse matrix, another CSRNDArray, or a shape (all zeros), as MXNet's.

    See notebook 15.
    """
    if _shape_only(arg1):
        return zeros("csr", arg1, ctx, dtype)
    if isinstance(arg1, tuple) and len(arg1) == 3:
        values = np.array(_dense_numpy(arg1[0]), dtype=_dtype_of(arg1[0], dtype))
        indptr = np.asarray(_dense_numpy(arg1[2])).astype(IDX)
        cols = np.asarray(_dense_numpy(arg1[1])).astype(IDX)
        if shape is None:
            shape = (indptr.size - 1, int(cols.max()) + 1 if cols.size else 0)
        _validate_csr(values, indptr, cols, shape)
        return CSRNDArray(values, [indptr, cols], shape, ctx)
    if isinstance(arg1, tuple) and len(arg1) == 2:          # COO: (data, (row, col))
        values = np.asarray(_dense_numpy(arg1[0]))
        rows, cols = (np.asarray(_dense_numpy(a)).astype(IDX) for a in arg1[1])
        if shape is None:
            shape = (int(rows.max()) + 1, int(cols.max()) + 1)
        dense = np.zeros(shape, dtype=_dtype_of(arg1[0], dtype))
        np.add.at(dense, (rows, cols), values)
        return _csr_from_dense(dense, dense.dtype, ctx)
    if isinstance(arg1, CSRNDArray):
        return arg1.astype(_dtype_of(arg1, dtype)).copyto(_ctx(ctx) if ctx else arg1.context)
    if GPU is not None and GPU.on_gpu(arg1) and shape in (None, arg1.shape):   # on the device
        return GPU.from_dense(arg1, "csr", ctx, dtype)
    d = _dense_numpy(arg1)
    if shape is not None and tuple(shape) != d.shape:
        raise ShapeError(f"csr_matrix: source has shape {d.shape}, shape={tuple(shape)} given")
    return _csr_from_dense(d, _dtype_of(d, dtype), ctx)


def row_sparse_array(arg1, shape=None, ctx=None, dtype=None):
    """A RowSparseNDArray from ``(data, indices)``, a dense array, another RowSparseNDArray, or
    a shape (all zeros), as MXNet's.

    See notebook 15.
    """
    if _shape_only(arg1):
        return zeros("row_sparse", arg1, ctx, dtype)
    if isinstance(arg1, tuple) and len(arg1) == 2:
        values = np.array(_dense_numpy(arg1[0]), dtype=_dtype_of(arg1[0], dtype))
        rows = np.asarray(_dense_numpy(arg1[1])).astype(IDX).reshape(-1)
        if shape is None:
            shape = (int(rows.max()) + 1 if rows.size else 0,) + values.shape[1:]
        _validate_rsp(values, rows, shape)
        return RowSparseNDArray(values, [rows], shape, ctx)
    if isinstance(arg1, RowSparseNDArray):
        return arg1.astype(_dtype_of(arg1, dtype)).copyto(_ctx(ctx) if ctx else arg1.context)
    if GPU is not None and GPU.on_gpu(arg1) and shape in (None, arg1.shape):
        return GPU.from_dense(arg1, "row_sparse", ctx, dtype)
    d = _dense_numpy(arg1)
    if shape is not None and tuple(shape) != d.shape:
        raise ShapeError(f"row_sparse_array: source has shape {d.shape}, shape={tuple(shape)} "
                         f"given")
    return _rsp_from_dense(d, _dtype_of(d, dtype), ctx)


def zeros(stype, shape, ctx=None, dtype=None, **kwargs):
    """An all-zero array of storage type ``stype`` (nothing stored). See notebook 15."""
    _check_stype(stype)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = np.dtype(dtype or mx_real_t)
    if stype == "default":
        from .ndarray import zeros as dense_zeros
        return dense_zeros(shape, ctx, dtype)
    if stype == "csr":
        if len(shape) != 2:
            raise ShapeError(f"a csr array must be 2-d, got shape {shape}")
        return CSRNDArray(np.zeros(0, dtype), [np.zeros(shape[0] + 1, IDX), np.zeros(0, IDX)],
                          shape, ctx)
    return RowSparseNDArray(np.zeros((0,) + shape[1:], dtype), [np.zeros(0, IDX)], shape, ctx)


def empty(stype, shape, ctx=None, dtype=None):
    """As :func:`zeros` (a sparse array with nothing stored is empty). See notebook 15."""
    return zeros(stype, shape, ctx, dtype)


def array(source_array, ctx=None, dtype=None):
    """A sparse array from a sparse NDArray or a scipy sparse matrix (CSR), as MXNet's
    ``mx.nd.sparse.array``; dense sources belong to ``mx.nd.array``. See notebook 15."""
    if isinstance(source_array, BaseSparseNDArray):
        out = source_array.astype(_dtype_of(source_array, dtype))
        return out.copyto(_ctx(ctx)) if ctx is not None else out.copy()
    if hasattr(source_array, "tocsr"):
        m = source_array.tocsr()
        m.sort_indices()
        return csr_matrix((m.data, m.indices, m.indptr), shape=m.shape, ctx=ctx,
                          dtype=_dtype_of(m, dtype))
    raise MXNetError(f"mx.nd.sparse.array takes a sparse NDArray or a scipy sparse matrix, got "
                     f"{type(source_array).__name__}; use mx.nd.array for dense data")


def tostype(arr, stype):
    """``arr`` converted to storage type ``stype`` (``cast_storage``). See notebook 15."""
    _check_stype(stype)
    if getattr(arr, "stype", "default") == stype:
        return arr
    if GPU is not None and GPU.on_gpu(arr):     # CUDA kernels, no host round trip
        return GPU.tostype(arr, stype)
    if stype == "default":
        return NDArray(arr.asnumpy(), arr.context)
    if isinstance(arr, CSRNDArray) and stype == "row_sparse" or \
            isinstance(arr, RowSparseNDArray) and stype == "csr":
        # MXNet has no direct csr <-> row_sparse cast (it fails); going through dense is clear
        raise MXNetError(f"cast_storage from {arr.stype} to {stype} is not supported (as in "
                         f"MXNet); go through tostype('default')")
    d = arr.asnumpy()
    ctx = arr.context
    return _csr_from_dense(d, d.dtype, ctx) if stype == "csr" else _rsp_from_dense(d, d.dtype,
                                                                                   ctx)


to_stype = tostype


NDArray._storage = sys.modules[__name__]      # NDArray.tostype reaches this module here


def from_parts(stype, values, aux, shape):
    """A sparse array from loaded parts, validated (indices are never trusted)."""
    if stype == "csr":
        _validate_csr(values, aux[0], aux[1], shape)
    else:
        _validate_rsp(values, aux[0], shape)
    return _CLASSES[stype](values, aux, shape)


# -- arithmetic that keeps the storage type ------------------------------------------------------
def _combine(kind, keys, ka, va, kb, vb, dtype, intersect_product):
    """``a (kind) b`` on the sorted union ``keys`` of stored positions ``ka`` and ``kb``, and
    which of those positions the result keeps: all, but for a product with
    ``intersect_product`` only those stored in both (MXNet's csr product; its row_sparse
    product keeps the union)."""
    full_a = np.zeros((keys.size,) + va.shape[1:], dtype)
    full_b = np.zeros((keys.size,) + vb.shape[1:], dtype)
    np.add.at(full_a, np.searchsorted(keys, ka), va)
    np.add.at(full_b, np.searchsorted(keys, kb), vb)
    if kind == "mul":
        keep = np.isin(keys, ka) & np.isin(keys, kb) if intersect_product else slice(None)
        return full_a * full_b, keep
    return (full_a + full_b if kind == "add" else full_a - full_b), slice(None)


def elemwise(kind, a, b):
    """``a + b``, ``a - b`` or ``a * b`` of two arrays of one sparse storage type and shape,
    in that storage type (MXNet's elemwise_add/sub/mul keep it). See notebook 15."""
    if type(a) is not type(b) or a.shape != b.shape:
        raise MXNetError(f"elemwise {kind}: both inputs must have one sparse storage type and "
                         f"shape, got {a.stype} {a.shape} and {b.stype} {b.shape}")
    if GPU is not None and GPU.on_gpu(a):
        return GPU.elemwise(kind, a, b)
    dtype = np.result_type(a._values, b._values)
    if isinstance(a, RowSparseNDArray):
        ra, rb = a._aux[0], b._aux[0]
        rows = np.empty(ra.size + rb.size, IDX)
        n = K.merge_rows(ra, rb, rows, np.empty(ra.size, IDX), np.empty(rb.size, IDX))
        values, keep = _combine(kind, rows[:n], ra, a._values, rb, b._values, dtype, False)
        return RowSparseNDArray(values[keep], [rows[:n][keep]], a.shape, a.context)
    # csr: a position is the flat key row * ncols + col
    ncols = a.shape[1]
    ka = a._rows() * ncols + a._aux[1]
    kb = b._rows() * ncols + b._aux[1]
    keys = np.union1d(ka, kb)
    values, keep = _combine(kind, keys, ka, a._values, kb, b._values, dtype, True)
    rows, cols = np.divmod(keys[keep], ncols)
    indptr = np.zeros(a.shape[0] + 1, IDX)
    np.cumsum(np.bincount(rows, minlength=a.shape[0]), out=indptr[1:])
    return CSRNDArray(values[keep], [indptr, cols.astype(IDX)], a.shape, a.context)


def retain(data, indices):
    """The rows of row_sparse ``data`` whose numbers are in ``indices`` (others dropped), as
    MXNet's ``sparse.retain``. See notebook 15."""
    if not isinstance(data, RowSparseNDArray):
        raise MXNetError(f"retain takes a row_sparse array, got storage type "
                         f"{getattr(data, 'stype', 'default')}")
    if GPU is not None and GPU.on_gpu(data):
        return GPU.retain(data, indices)
    wanted = np.asarray(indices.asnumpy() if isinstance(indices, NDArray) else indices)
    keep = np.isin(data._aux[0], wanted.astype(IDX))
    return RowSparseNDArray(data._values[keep], [data._aux[0][keep]], data.shape, data.context)


def rows_to_csr(rows, values, shape, ctx=None):
    """The csr array of a matrix given as sorted stored ``rows`` and their dense ``values``
    (everything else zero): the non-zeros of each row, as casting it to csr would store them
    (MXNet writes a csr gradient this way). Only the stored rows are read."""
    values = np.asarray(values)
    rows = np.asarray(rows, IDX)
    keep = values != 0
    indptr = np.zeros(shape[0] + 1, IDX)
    indptr[rows + 1] = keep.sum(axis=1)
    np.cumsum(indptr, out=indptr)
    cols = np.nonzero(keep)[1].astype(IDX)
    return CSRNDArray(values[keep], [indptr, cols], shape, ctx)
