"""Sparse NDArrays on ``mx.gpu(i)``: ``row_sparse`` and ``csr`` storage in device memory, and
the operations that keep it sparse, as CUDA kernels (``kernels/cuda/sparse.py``).

A :class:`GPURowSparseNDArray` / :class:`GPUCSRNDArray` is the same storage as its CPU class
(``sparse_storage.py``: stored values plus int64 index arrays), but each part is a
:class:`~mxteach.backend.device_buffer.DeviceBuffer`. The CPU classes build these when given
a gpu context (``mx.nd.sparse.zeros('csr', shape, ctx=mx.gpu(0))``, ``row_sparse_array(...,
ctx=gpu)``, ``x.copyto(mx.gpu(0))``): ``sparse_storage.py`` asks this module through its
``GPU`` slot, which this module fills when imported (``mx.nd.sparse`` imports it).

On the device, without a host round trip: ``tostype``/``cast_storage`` both ways, ``asnumpy``
(a device densify, then one copy), ``retain``, ``copyto``/``as_in_context`` between gpus,
``astype``, ``+ - *`` of two arrays of one sparse type, scalar ``* / -``, zero-preserving
unary operators on the stored values, ``dot``, ``square_sum`` and lazy optimizer updates
(:func:`lazy_apply`). Any other use reads a dense device copy with a
:class:`StorageFallbackWarning`, as on the CPU. Importing this file loads no CUDA.

See notebook 15.
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

from ..backend import GPUBackend, for_context
from ..backend.device_buffer import DeviceBuffer
from ..base import DTypeError, MXNetError, MXNetValueError, ShapeError
from ..context import Context
from . import sparse_storage as S
from .ndarray import NDArray, _ctx
from .sparse_storage import IDX, CSRNDArray, RowSparseNDArray, fallback

__all__ = ["GPURowSparseNDArray", "GPUCSRNDArray", "on_gpu", "tostype", "elemwise", "retain",
           "dot", "square_sum", "unary", "lazy_apply", "from_device_parts"]


def _K():
    from ..kernels.cuda import sparse
    return sparse


def on_gpu(x):
    """Whether ``x`` is an NDArray (dense or sparse) on a gpu."""
    return isinstance(x, NDArray) and x.context.device_type == "gpu"


def _backend(ctx):
    be = for_context(ctx)
    if not isinstance(be, GPUBackend):
        raise MXNetError(f"a gpu sparse array needs a gpu context, got {ctx}")
    return be


def _buffer(be, x, dtype=None):
    """``x`` (host data, a DeviceBuffer, a numba device array or an NDArray) as a DeviceBuffer
    on ``be``'s gpu, in ``dtype`` when given (cast on the device)."""
    if isinstance(x, NDArray):
        x = x._data
    if isinstance(x, DeviceBuffer) or getattr(x, "__cuda_ndarray__", False):
        buf = be.as_buffer(x)
        if dtype is not None and buf.dtype != np.dtype(dtype):
            buf = NDArray(buf, be.ctx).astype(dtype)._data
        return buf
    host = np.ascontiguousarray(x, dtype=dtype)
    if host.size == 0:       # numba cannot copy empty host arrays: allocate them
        return be.empty(host.shape, host.dtype) if host.ndim else be.empty((0,), host.dtype)
    return be.as_buffer(host)


def _dev(buf, shape=None):
    """The numba device array of ``buf`` (reshaped)."""
    return (buf if shape is None else buf.reshape(shape)).dev


def _copy(buf):
    """A device copy of ``buf`` (numba refuses to copy an empty array: allocate it)."""
    if buf.size == 0:
        return DeviceBuffer(for_context(Context("gpu", buf.device_id)).empty(
            buf.shape, buf.dtype).dev, buf.device_id)
    return buf.copy()


def _width(shape):
    return int(np.prod(shape[1:], dtype=np.int64))


class _OnDevice:
    """What both gpu storage classes add to their CPU class: device parts, device copies."""

    def __init__(self, values, aux, shape, ctx=None):
        ctx = _ctx(ctx)
        be = _backend(ctx)
        self._ctx = ctx
        self._shape = tuple(int(s) for s in shape)
        self._values = _buffer(be, values)
        self._aux = [_buffer(be, a, IDX) for a in aux]

    @property
    def _be(self):
        return for_context(self._ctx)

    @property
    def dev(self):
        """The executor hands kernels ``buffer.dev``; a sparse argument read as it is (no
        dense mirror, ``executor/sparse.py``) reaches its operator's gpu_sparse_forward as
        itself."""
        return self

    def _like(self, values, aux, ctx=None):
        return type(self)(values, aux, self._shape, ctx or self._ctx)

    # -- dense forms ------------------------------------------------------------------------
    def _dense_buffer(self):
        """A new dense DeviceBuffer holding this array (a kernel on the device)."""
        be = self._be
        out = be.empty(self._shape, self._values.dtype)
        with be.device():
            self._densify(out)
        return out

    def _dense(self):
        return self._dense_buffer().copy_to_host()

    @property
    def _data(self):
        fallback("a gpu operation", [self.stype_name])
        return self._dense_buffer()

    def wait_to_read(self):
        self._be.synchronize()

    # -- copies -----------------------------------------------------------------------------
    def astype(self, dtype, copy=True):
        dtype = np.dtype(dtype)
        if not copy and dtype == self._values.dtype:
            return self
        values = NDArray(self._values, self._ctx).astype(dtype)._data
        return self._like(values, [_copy(a) for a in self._aux])

    def copy(self):
        return self._like(_copy(self._values), [_copy(a) for a in self._aux])

    def copyto(self, other):
        if isinstance(other, Context):
            if other.device_type == "gpu":      # to_buffer copies across gpus via the host
                return self._like(self._values, self._aux, other) if other != self._ctx \
                    else self.copy()
            cpu_class = RowSparseNDArray if isinstance(self, RowSparseNDArray) else CSRNDArray
            return cpu_class(self._values.copy_to_host(),
                             [a.copy_to_host() for a in self._aux], self._shape, other)
        if not isinstance(other, NDArray):
            raise DTypeError(f"copyto expects an NDArray or a Context, got "
                             f"{type(other).__name__}")
        if other.shape != self.shape:
            raise ShapeError(f"copyto: shape {self.shape} into shape {other.shape}")
        if S.is_sparse(other):
            src = S.tostype(self, other.stype).astype(other.dtype)
            if src.context != other.context:
                src = src.copyto(other.context)
            other._values, other._aux = src._values, src._aux
        elif other.context == self._ctx:
            other._data[...] = self._dense_buffer()       # device copy
        else:
            other._data[...] = self._dense()
        return other

    def __reduce__(self):
        return (_rebuild, (self.stype_name, self._values.copy_to_host(),
                           [a.copy_to_host() for a in self._aux], self._shape,
                           (self._ctx.device_type, self._ctx.device_id)))

    def __setitem__(self, key, value):
        if not (isinstance(key, slice) and key == slice(None)):
            raise MXNetError(f"{type(self).__name__} supports assignment only to [:] "
                             f"(got index {key!r}); convert with tostype('default') first")
        be = self._be
        if np.isscalar(value):
            if self.stype_name == "csr":
                raise MXNetValueError(f"CSRNDArray[:] = {value}: assigning a scalar to a csr "
                                      f"array is not supported (as in MXNet); assign an array")
            # every row stored, as on the CPU (initializers write arr[:] = 0)
            with be.device():
                self._values = be.zeros(self._shape, self._values.dtype, value)
                self._aux = [DeviceBuffer(_K().arange(self._shape[0]), be.device_id)]
            return
        src = value if isinstance(value, NDArray) else NDArray(np.asarray(value))
        if src.shape != self._shape:
            raise ShapeError(f"{type(self).__name__}[:] = array of shape {src.shape}; "
                             f"expected {self._shape}")
        if src.context != self._ctx:
            src = src.copyto(self._ctx)
        new = S.tostype(src, self.stype_name).astype(self._values.dtype)
        self._values, self._aux = new._values, new._aux

    # -- arithmetic -------------------------------------------------------------------------
    def _scaled(self, scalar, fn):
        values = NDArray(self._values, self._ctx)._binary(scalar, fn)._data
        return self._like(values, self._aux)

    def __mul__(self, other):
        if isinstance(other, (numbers.Number, np.generic)):
            return self._scaled(other, np.multiply)
        if self._same(other):
            return elemwise("mul", self, other)
        return self._binary(other, np.multiply)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, (numbers.Number, np.generic)):
            return self._scaled(other, np.divide)
        return self._binary(other, np.divide)

    def __neg__(self):
        return self._scaled(-1, np.multiply)

    def _binary(self, other, fn, reverse=False):
        """Arithmetic without a sparse kernel: on a dense device copy (a storage fallback)."""
        fallback(f"NDArray {getattr(fn, '__name__', fn)}", [self.stype_name])
        return NDArray(self._dense_buffer(), self._ctx)._binary(other, fn, reverse)

    def _inplace(self, other, fn):
        raise MXNetError(f"in-place arithmetic on a gpu {self.stype_name} array; use "
                         f"x = x + y (elemwise keeps the storage type)")


class GPURowSparseNDArray(_OnDevice, RowSparseNDArray):
    """A row_sparse array on a gpu: ``data`` (k, ...) and sorted ``indices`` (k,) in device
    memory. See notebook 15."""

    def _densify(self, out):
        k = self._aux[0].shape[0]
        w = _width(self._shape)
        _K().rsp_to_dense(_dev(self._aux[0]), _dev(self._values, (k, w)),
                          _dev(out, (self._shape[0], w)))


class GPUCSRNDArray(_OnDevice, CSRNDArray):
    """A csr array on a gpu: ``data``, column ``indices`` and row offsets ``indptr`` in device
    memory. See notebook 15."""

    def _densify(self, out):
        _K().csr_to_dense(_dev(self._aux[0]), _dev(self._aux[1]), _dev(self._values), out.dev)

    def _rows(self):
        return np.repeat(np.arange(self._shape[0], dtype=IDX),
                         np.diff(self._aux[0].copy_to_host()))

    def asscipy(self):
        return CSRNDArray.asscipy(self.copyto(Context("cpu", 0)))

    def __getitem__(self, key):
        """Rows as a GPUCSRNDArray: ``a[i]`` (kept 2-d) or ``a[i:j]``; the two row offsets
        that bound the slice are read back, the rest stays on the device."""
        start, stop = S.csr_row_range(key, self._shape[0])
        indptr = self._aux[0]
        lo, hi = (int(v) for v in indptr[start:stop + 1].copy_to_host()[[0, -1]])
        be = self._be
        with be.device():
            offsets = DeviceBuffer(_K().shift(indptr[start:stop + 1].dev, lo), be.device_id)
        return GPUCSRNDArray(_copy(self._values[lo:hi]), [offsets, _copy(self._aux[1][lo:hi])],
                             (stop - start, self._shape[1]), self._ctx)


_GPU_CLASSES = {RowSparseNDArray: GPURowSparseNDArray, CSRNDArray: GPUCSRNDArray}


def gpu_class(cls):
    """The gpu class of CPU storage class ``cls`` (the ``__new__`` of sparse_storage.py)."""
    return _GPU_CLASSES.get(cls, cls)


def _rebuild(stype, values, aux, shape, ctx):
    return S._CLASSES[stype](values, aux, shape, Context(*ctx))


# -- conversions --------------------------------------------------------------------------------
def from_device_parts(stype, values, aux, shape, ctx):
    """A gpu sparse array from numba device arrays (kernel results)."""
    device_id = ctx.device_id
    wrap = [DeviceBuffer(a, device_id) for a in aux]
    cls = GPURowSparseNDArray if stype == "row_sparse" else GPUCSRNDArray
    return cls(DeviceBuffer(values, device_id), wrap, shape, ctx)


def tostype(arr, stype):
    """``arr`` (on a gpu) in storage type ``stype``, converted by CUDA kernels."""
    S._check_stype(stype)
    current = getattr(arr, "stype", "default")
    if current == stype:
        return arr
    if stype == "default":
        return NDArray(arr._dense_buffer(), arr.context)
    if current != "default":
        raise MXNetError(f"cast_storage from {current} to {stype} is not supported (as in "
                         f"MXNet); go through tostype('default')")
    be = _backend(arr.context)
    shape = arr.shape
    if stype == "csr" and len(shape) != 2:
        raise ShapeError(f"a csr array must be 2-d, got shape {shape}")
    if len(shape) < 1:
        raise ShapeError("a row_sparse array needs at least one dimension")
    dense = arr._data.reshape(shape[0], _width(shape)).dev
    with be.device():
        if stype == "csr":
            indptr, cols, values = _K().dense_to_csr(dense)
            return from_device_parts("csr", values, [indptr, cols], shape, arr.context)
        rows, values = _K().dense_to_rsp(dense)
        values = values.reshape((rows.shape[0],) + tuple(shape[1:]))
        return from_device_parts("row_sparse", values, [rows], shape, arr.context)


def from_dense(source, stype, ctx, dtype):
    """``csr_matrix(gpu_array)`` / ``row_sparse_array(gpu_array)``: converted on the device."""
    out = tostype(source, stype)
    if ctx is not None and _ctx(ctx) != source.context:
        out = out.copyto(_ctx(ctx))
    return out.astype(dtype, copy=False) if dtype is not None else out


# -- arithmetic that keeps the storage type ---------------------------------------------------
def elemwise(kind, a, b):
    """``a + b``, ``a - b`` or ``a * b`` of two gpu arrays of one sparse type and shape."""
    if type(a) is not type(b) or a.shape != b.shape or a.context != b.context:
        raise MXNetError(f"elemwise {kind}: both inputs must have one sparse storage type, "
                         f"shape and device, got {a.stype} {a.shape} on {a.context} and "
                         f"{b.stype} {b.shape} on {b.context}")
    dtype = np.result_type(a._values.dtype, b._values.dtype)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    be = a._be
    with be.device():
        if isinstance(a, RowSparseNDArray):
            w = _width(a.shape)
            rows, values = _K().rsp_elemwise(
                kind, _dev(a._aux[0]), _dev(a._values, (a._aux[0].shape[0], w)),
                _dev(b._aux[0]), _dev(b._values, (b._aux[0].shape[0], w)), a.shape[0])
            values = values.reshape((rows.shape[0],) + tuple(a.shape[1:]))
            return from_device_parts("row_sparse", values, [rows], a.shape, a.context)
        indptr, cols, values = _K().csr_elemwise(kind, *[_dev(x) for x in (
            a._aux[0], a._aux[1], a._values, b._aux[0], b._aux[1], b._values)])
        return from_device_parts("csr", values, [indptr, cols], a.shape, a.context)


def retain(data, indices):
    """The stored rows of the gpu row_sparse ``data`` whose numbers are in ``indices``."""
    if not isinstance(data, RowSparseNDArray):
        raise MXNetError(f"retain takes a row_sparse array, got storage type "
                         f"{getattr(data, 'stype', 'default')}")
    be = data._be
    wanted = _buffer(be, indices.as_in_context(data.context) if isinstance(indices, NDArray)
                     else np.asarray(indices).reshape(-1), IDX).reshape(-1)
    k, w = data._aux[0].shape[0], _width(data.shape)
    with be.device():
        rows, values = _K().retain_rows(_dev(data._aux[0]), _dev(data._values, (k, w)),
                                        _dev(wanted))
    values = values.reshape((rows.shape[0],) + tuple(data.shape[1:]))
    return from_device_parts("row_sparse", values, [rows], data.shape, data.context)


def unary(op, p, x):
    """A zero-preserving operator (``op.gpu_forward``) on the stored values of ``x`` only."""
    be = x._be
    out = be.empty(x._values.shape, x._values.dtype)
    with be.device():
        op.gpu_forward(p, [x._values.dev], [out.dev], False, {})
    return x._like(out, x._aux)


# -- products and reductions ------------------------------------------------------------------
def _dense_operand(x, ctx, what):
    if not isinstance(x, NDArray):
        raise MXNetError(f"dot on {ctx}: the {what} must be an NDArray on that gpu, got "
                         f"{type(x).__name__}")
    if x.context != ctx:
        raise MXNetError(f"dot: operands on different devices: {ctx} and {x.context}")
    return x.tostype("default") if S.is_sparse(x) else x


def dot(lhs, rhs, transpose_a=False, transpose_b=False):
    """``dot`` with a csr operand on a gpu, as MXNet dispatches it: csr·dense → dense,
    csr.T·dense → row_sparse, dense·csr → dense; None for other storage types."""
    if isinstance(lhs, CSRNDArray) and not S.is_sparse(rhs):
        ctx = lhs.context
        b = _dense_operand(rhs, ctx, "right operand")
        b = b.T if transpose_b else b
        k = lhs.shape[0] if transpose_a else lhs.shape[1]
        if b.ndim != 2 or b.shape[0] != k:
            raise ShapeError(f"dot: csr {lhs.shape}{'.T' if transpose_a else ''} times "
                             f"{b.shape}: inner sizes differ")
        dtype = np.result_type(lhs._values.dtype, np.dtype(b.dtype))
        a, b = lhs.astype(dtype, copy=False), b.astype(dtype, copy=False)
        be = lhs._be
        indptr, cols, values = (_dev(x) for x in (a._aux[0], a._aux[1], a._values))
        with be.device():
            if not transpose_a:
                out = be.empty((lhs.shape[0], b.shape[1]), dtype)
                _K().csr_dot_dense(indptr, cols, values, b._data.dev, out.dev)
                return NDArray(out, ctx)
            rows, out = _K().csr_t_dot_dense(indptr, cols, values, b._data.dev, lhs.shape[1])
        return from_device_parts("row_sparse", out, [rows], (lhs.shape[1], b.shape[1]), ctx)
    if isinstance(rhs, CSRNDArray) and not S.is_sparse(lhs) and not transpose_b:
        # dense @ csr = (csr.T @ dense.T).T: one scatter pass over the stored values
        a = _dense_operand(lhs, rhs.context, "left operand")
        a = a.T if transpose_a else a
        t = dot(rhs, a.T, transpose_a=True)
        return t.tostype("default").T
    return None


def square_sum(data, axis=None, keepdims=False):
    """``_square_sum`` of a gpu row_sparse array (see ``sparse_ops.square_sum``)."""
    be = data._be
    k, w = data._aux[0].shape[0], _width(data.shape)
    values = _dev(data._values, (k, w))
    dtype = data._values.dtype
    with be.device():
        if axis in (1, (1,)) and data.ndim == 2:
            sums = be.empty((k,), dtype)
            _K().square_sum_rows(values, sums.dev)
            if keepdims:
                return GPURowSparseNDArray(sums.reshape(k, 1), [data._aux[0]],
                                           (data.shape[0], 1), data.context)
            out = be.empty((data.shape[0],), dtype)
            _K().rsp_to_dense(_dev(data._aux[0]), sums.reshape(k, 1).dev,
                              out.reshape(data.shape[0], 1).dev)
            return NDArray(out, data.context)
        if axis in (0, (0,)) and data.ndim == 2:
            out = be.empty((w,), dtype)
            _K().square_sum_cols(values, out.dev)
            return NDArray(out.reshape((1, w) if keepdims else (w,)), data.context)
    fallback("square_sum", [data.stype])
    return NDArray(data._dense_buffer(), data.context).square().sum(axis=axis,
                                                                    keepdims=keepdims)


def gather(dense, rows, dtype):
    """The row_sparse array of rows ``rows`` (sorted, host int64) of the dense gpu array
    ``dense``, gathered on the device (a kvstore's ``row_sparse_pull`` from a gpu value)."""
    be = _backend(dense.context)
    w = _width(dense.shape)
    idx = _buffer(be, np.asarray(rows, IDX))
    out = be.empty((idx.shape[0], w), dense._data.dtype)
    with be.device():
        _K().gather_rows(_dev(dense._data, (dense.shape[0], w)), idx.dev, out.dev)
    values = out.reshape((idx.shape[0],) + tuple(dense.shape[1:]))
    return GPURowSparseNDArray(values, [idx], dense.shape, dense.context).astype(dtype,
                                                                                copy=False)


# -- lazy optimizer updates -------------------------------------------------------------------
def _family(rule):
    from ..kernels.cuda import optim
    return "optim" if hasattr(optim, rule.__name__) else "optim_adaptive"


def lazy_apply(rule, weight, grad, *rest):
    """``rule`` (a function of ``optimizer/steps.py``) on the rows of the gpu row_sparse
    ``grad`` only: the rows of the weight and of each state are gathered on the device, the
    rule's CUDA twin updates them, and they are scattered back (untouched rows stay as they
    are, as MXNet's lazy kernels leave them)."""
    if not on_gpu(weight) or S.is_sparse(weight):
        raise MXNetError(f"lazy {rule.__name__} update on a gpu: the weight must be a dense "
                         f"array on the gradient's gpu, got a {weight.stype} array on "
                         f"{weight.context}")
    if grad.context != weight.context:
        raise MXNetError(f"lazy {rule.__name__} update: the weight is on {weight.context}, "
                         f"its gradient on {grad.context}")
    be = _backend(weight.context)
    rows = grad._aux[0]
    k = rows.shape[0]
    if k == 0:              # the batch touched no row: nothing changes
        return
    n, w = weight.shape[0], _width(weight.shape)
    g = grad.astype(weight.dtype, copy=False)._values.reshape(k, w)
    full = [weight] + [a for a in rest if isinstance(a, NDArray)]
    for a in full[1:]:
        if S.is_sparse(a) or a.context != weight.context:
            raise MXNetError(f"lazy {rule.__name__} update: a state is a {a.stype} array on "
                             f"{a.context}; states of a gpu weight are dense on its gpu")
    parts = {}
    with be.device():
        for a in full:
            part = be.empty((k, w), a._data.dtype)
            _K().gather_rows(_dev(a._data, (n, w)), rows.dev, part.dev)
            parts[id(a)] = part
    args = [parts[id(weight)], g] + [parts[id(a)] if isinstance(a, NDArray) else a
                                     for a in rest]
    be.twin(rule, _family(rule))(*[a.reshape(-1) if isinstance(a, DeviceBuffer) else a
                                   for a in args])
    with be.device():
        for a in full:
            _K().scatter_rows(rows.dev, parts[id(a)].dev, _dev(a._data, (n, w)))


# -- the executor's steps on a gpu ---------------------------------------------------------------
def on_device(fn, ctx):
    """``fn`` (an operator's gpu_sparse_forward) run with ``ctx``'s gpu current."""
    be = _backend(ctx)

    def step(*args):
        with be.device():
            fn(*args)
    step.__name__ = getattr(fn, "__name__", "step")
    return step


def sparse_grad_step(node, backward, targets, dense_targets, first, originals, row_form):
    """The backward step of ``executor/sparse.py``'s ``make_step`` on a gpu: the operator's
    ``gpu_sparse_backward`` gives the stored rows of each row_sparse gradient in ``targets``
    as device arrays; a later consumer of the same weight adds its rows (row-wise union)."""
    what = f"{node.op.name} '{node.name}' on a gpu"
    if backward is None or dense_targets or set(targets) - row_form:
        raise MXNetError(f"{what}: only the row_sparse gradients the operator itself writes "
                         f"(its weight) run on a gpu; bind the other inputs with grad_req "
                         f"'null', or bind on mx.cpu()")
    for target in targets.values():
        if not isinstance(target, RowSparseNDArray):
            raise MXNetError(f"{what}: a {target.stype} gradient array is bound; on a gpu bind "
                             f"a row_sparse (or dense) gradient")
    ctx = next(iter(targets.values())).context
    be = _backend(ctx)

    def step(p, ograds, ins, outs, igrads, step_reqs, state):
        ins = [originals.get(pos, x) for pos, x in enumerate(ins)]
        with be.device():
            parts = backward(p, ograds, ins)
        for pos, target in targets.items():
            rows, values = parts[pos]
            values = values.reshape((rows.shape[0],) + tuple(target.shape[1:]))
            part = from_device_parts("row_sparse", values, [rows], target.shape, ctx)
            part = part.astype(target.dtype, copy=False)
            if not first[pos]:
                part = elemwise("add", target, part)
            target._values, target._aux = part._values, part._aux
    return step


S.GPU = sys.modules[__name__]      # sparse_storage.py reaches this module here (its slot)
