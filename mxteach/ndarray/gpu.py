"""NDArrays on ``mx.gpu(i)``: device memory (a numba device array), explicit copies, CUDA math.

``NDArray(data, mx.gpu(0))`` builds a :class:`GPUNDArray` (``NDArray.__new__`` asks the
device's backend for its array class); its ``_data`` is a
:class:`~mxteach.backend.device_buffer.DeviceBuffer`, and memory, device scope and
synchronisation come from the GPU backend (``backend/gpu.py``).

Everything runs on the device: creation, copies, views (reshape, row slices), ``a[:] = value``,
``+ - * /`` (the elementwise kernel directly), and every other method or operator
(``a.exp()``, ``a.sum(axis=1)``, ``a.T``, ``a % 2``, ``a == b``, ``a[idx]`` ...) through the
registered operator of the same meaning, that is through its ``gpu_forward``. This file sits
below the operator registry, so it cannot import operators: ``mxteach/ndarray/__init__.py``
(the ``mx.nd`` namespace) installs itself into the slot :attr:`GPUNDArray.nd` when imported.
``prod`` has no registered operator; it launches the CUDA tree reduction of
``kernels/cuda/reduce.py`` directly. Nothing silently computes on the CPU.

Without a CUDA device (and without ``NUMBA_ENABLE_CUDASIM=1``) ``mx.gpu(0)`` is still a valid
Context; allocating on it raises MXNetError. Importing this file loads no CUDA.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..base import MXNetError, DTypeError
from ..backend import GPUBackend, for_context
from ..context import Context
from .ndarray import NDArray, _ctx, _divide

__all__ = ["GPUNDArray"]


def _elemwise():
    from ..kernels.cuda import elemwise
    return elemwise


_MATH_CODES = {np.add: 0, np.subtract: 1, np.multiply: 2, np.divide: 3, _divide: 3}


class GPUNDArray(NDArray):
    """An NDArray on ``mx.gpu(i)``; ``_data`` is a :class:`DeviceBuffer`.

    Build it as any NDArray (``mx.nd.array(x, ctx=mx.gpu(0))``, ``x.copyto(mx.gpu(0))``,
    ``NDArray(data, mx.gpu(0))``). Every method runs on the device: copies, views and ``+ - *
    /`` directly, the others through the registered operators' CUDA sides. See notebook 13.
    """

    def __init__(self, data, ctx=None):
        ctx = _ctx(ctx)
        if not isinstance(for_context(ctx), GPUBackend):
            raise MXNetError(f"GPUNDArray needs a gpu context, got {ctx}")
        self._ctx = ctx
        self._data = for_context(ctx).as_buffer(data)

    @property
    def _backend(self):
        return for_context(self._ctx)

    def _new(self, buf):
        return GPUNDArray(buf, self._ctx)

    def _device(self):
        return self._backend.device()

    # -- conversion and copies ----------------------------------------------------------------
    def asnumpy(self):
        """A numpy copy of the data (device → host)."""
        return self._data.copy_to_host()

    def asscalar(self):
        if self.size != 1:
            raise MXNetError(f"asscalar() needs an array of size 1, got shape {self.shape}")
        return self.asnumpy().reshape(-1)[0]

    def tolist(self):
        return self.asnumpy().tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data.__array__(dtype)

    def __bool__(self):
        if self.size == 1:
            return bool(self.asscalar())
        raise ValueError("The truth value of an NDArray with more than one element is ambiguous.")

    def __repr__(self):
        shape = "x".join(str(s) for s in self.shape)
        return f"\n{self.asnumpy()}\n<NDArray {shape} @{self._ctx}>"

    def __getstate__(self):
        return {"data": self.asnumpy(), "ctx": (self._ctx.device_type, self._ctx.device_id)}

    def __setstate__(self, state):
        self._ctx = Context(*state["ctx"])
        self._data = self._backend.as_buffer(state["data"])

    def astype(self, dtype, copy=True):
        dt = np.dtype(dtype)
        if not copy and dt == self._data.dtype:
            return self
        out = self._backend.empty(self.shape, dt)
        with self._device():
            _elemwise().copy(self._data.dev, out.dev)       # the cast happens in the kernel
        return self._new(out)

    def copy(self):
        return self._new(self._data.copy())

    def copyto(self, other):
        """Copy into an NDArray (any device; shapes must match) or onto a Context."""
        if isinstance(other, NDArray):
            if other is self:
                return other
            if other.shape != self.shape:
                raise MXNetError(f"copyto: shape mismatch, source {self.shape} vs target "
                                 f"{other.shape}")
            other._data[...] = self._data      # device copy, upload or (numpy) download
            return other
        if isinstance(other, Context):
            if other == self._ctx:
                out = self.copy()
                return out
            return NDArray(self.asnumpy(), other)
        raise MXNetError(f"copyto needs an NDArray or a Context, got {type(other).__name__}")

    def wait_to_read(self):
        """Wait for the device's queued kernels (launches are asynchronous on a real GPU)."""
        self._backend.synchronize()

    wait_to_write = wait_to_read

    # -- views --------------------------------------------------------------------------------
    def expand_dims(self, axis):
        nd = self.ndim + 1
        if not -nd <= axis < nd:
            raise MXNetError(f"expand_dims: axis {axis} is out of range for {self.ndim}-d data")
        axis = axis + nd if axis < 0 else axis
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze(self, axis=None):
        shape = np.squeeze(np.broadcast_to(np.int8(0), self.shape), axis).shape
        return self.reshape(shape or (1,))

    def __getitem__(self, key):
        """Row views: ``a[i]`` and ``a[i:j]`` share memory; ``a[i]`` of a 1-D array is a copy of
        shape (1,), as on the CPU. An NDArray of indices gathers rows (``take`` on axis 0)."""
        if isinstance(key, NDArray):
            if key.context != self._ctx:     # a small index array: copied up, as MXNet does
                key = key.as_in_context(self._ctx)
            if key.dtype != self.dtype:
                key = key.astype(self.dtype)
            return self._ops().take(self, key, axis=0)
        out = self._data[key]
        if self.ndim == 1 and isinstance(key, (int, np.integer)):
            return self._new(out).copy()
        return self._new(out)

    # -- operators (the slot) -----------------------------------------------------------------
    #: slot: the ``mx.nd`` namespace (every registered operator as a function, and MXNet's
    #: ``modulo``/``power``/``equal`` ... over them). ``mxteach/ndarray/__init__.py`` installs
    #: itself here when imported; this layer may not import the operators.
    nd = None

    def _ops(self):
        if GPUNDArray.nd is None:     # only when mxteach.ndarray was never imported
            raise MXNetError("gpu NDArray methods need the mx.nd namespace: import mxteach")
        return GPUNDArray.nd

    def _reduce_kernel(self, verb, axis, keepdims):
        """``prod``, which has no registered operator: the CUDA tree reduction of
        ``kernels/cuda/reduce.py``, over ``axis`` (None: every axis)."""
        from ..kernels.cuda import reduce
        nd = self.ndim
        axes = range(nd) if axis is None else (axis if isinstance(axis, (tuple, list))
                                                 else (axis,))
        try:
            axes = {int(a) + nd if int(a) < 0 else int(a) for a in axes}
        except (TypeError, ValueError):
            axes = None
        if axes is None or not all(0 <= a < nd for a in axes):
            raise MXNetError(f"{verb}: axis {axis} is out of range for {nd}-d data")
        kept = tuple(1 if k in axes else d for k, d in enumerate(self.shape))
        out = self._backend.empty(kept, self._data.dtype)
        with self._device():
            reduce.reduce(self._data.dev, kept, verb, out.dev)
        if keepdims:
            return self._new(out)
        shape = tuple(d for k, d in enumerate(self.shape) if k not in axes)
        return self._new(out).reshape(shape or (1,))

    # -- arithmetic ---------------------------------------------------------------------------
    def _operand(self, other):
        if isinstance(other, NDArray):
            if other.context != self._ctx:
                raise MXNetError(f"operands on different devices: {self._ctx} and "
                                 f"{other.context}; copy one with as_in_context() first")
            if other.dtype != self.dtype:
                raise DTypeError(f"operands have different dtypes: {np.dtype(self.dtype)} and "
                                 f"{np.dtype(other.dtype)}; convert one with astype() first")
            return other._data
        if isinstance(other, (numbers.Number, np.generic)):
            # MXNet casts the scalar to the array's dtype first
            return self._backend.as_buffer(np.array([other]).astype(self._data.dtype))
        if isinstance(other, np.ndarray):
            raise MXNetError(f"a numpy array and an NDArray on {self._ctx}: copy the numpy array "
                             f"to the device first (mx.nd.array(x, ctx={self._ctx}))")
        return None

    def _binary(self, other, fn, reverse=False):
        o = self._operand(other)
        if o is None:
            return NotImplemented
        code = _MATH_CODES.get(fn)
        if code is None:           # % ** == < ...: MXNet's mx.nd.modulo ... (their operators)
            lhs, rhs = (other, self) if reverse else (self, other)
            return getattr(self._ops(), _UFUNC_OF[fn])(lhs, rhs)
        a, b = (o, self._data) if reverse else (self._data, o)
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError as err:
            raise MXNetError(f"shapes {a.shape} and {b.shape} do not broadcast: {err}") from None
        out = self._backend.empty(shape, self._data.dtype)
        with self._device():
            _elemwise().binary_forward(a.dev, b.dev, out.dev, code)
        return self._new(out)

    def _inplace(self, other, fn):
        code = _MATH_CODES.get(fn)
        if code is None:
            raise MXNetError(f"in-place {getattr(fn, '__name__', fn)} is not an NDArray "
                             "operation; use + - * /")
        o = self._operand(other)
        if o is None:
            raise MXNetError(f"cannot combine a gpu array with {type(other).__name__}")
        if np.broadcast_shapes(self.shape, o.shape) != self.shape:
            raise MXNetError(f"in-place operand of shape {o.shape} does not broadcast to "
                             f"{self.shape}")
        with self._device():
            _elemwise().binary_forward(self._data.dev, o.dev, self._data.dev, code)
        return self

    def __neg__(self):
        return self._binary(-1, np.multiply)

    def __abs__(self):
        return self._ops().abs(self)

    def _activation(self, name):
        from ..kernels.cuda import nn
        out = self._backend.empty(self.shape, self._data.dtype)
        with self._device():
            nn.unary_forward(self._data.reshape(-1).dev, out.reshape(-1).dev,
                             nn.ACT_CODES[name], 0.0)
        return self._new(out)

    def relu(self): return self._activation("relu")
    def sigmoid(self): return self._activation("sigmoid")
    def tanh(self): return self._activation("tanh")

    def zeros_like(self):
        return self._new(self._backend.zeros(self.shape, self._data.dtype))

    def ones_like(self):
        return self._new(self._backend.zeros(self.shape, self._data.dtype, 1))

    # -- math, reductions and shapes: the operators' CUDA sides -------------------------------
    def exp(self): return self._ops().exp(self)
    def log(self): return self._ops().log(self)
    def sqrt(self): return self._ops().sqrt(self)
    def square(self): return self._ops().square(self)
    def abs(self): return self._ops().abs(self)
    def sign(self): return self._ops().sign(self)

    def clip(self, a_min, a_max):
        return self._ops().clip(self, a_min=a_min, a_max=a_max)

    def softmax(self, axis=-1):
        return self._ops().softmax(self, axis=axis)

    def _reduce_op(self, name, axis, keepdims):
        if isinstance(axis, list):
            axis = tuple(axis)
        return getattr(self._ops(), name)(self, axis=axis, keepdims=keepdims)

    def sum(self, axis=None, keepdims=False, **kw): return self._reduce_op("sum", axis, keepdims)
    def mean(self, axis=None, keepdims=False, **kw):
        return self._reduce_op("mean", axis, keepdims)
    def max(self, axis=None, keepdims=False, **kw): return self._reduce_op("max", axis, keepdims)
    def min(self, axis=None, keepdims=False, **kw): return self._reduce_op("min", axis, keepdims)

    def prod(self, axis=None, keepdims=False, **kw):
        return self._reduce_kernel("prod", axis, keepdims)

    def norm(self, ord=2, axis=None, keepdims=False, **kw):
        return self._ops().norm(self, ord=ord, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        if axis is None:           # the flat index, shape (1,), as on the CPU
            return self.reshape(-1).argmax(axis=0, keepdims=False).reshape((1,))
        return self._ops().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        if axis is None:           # the flat index, shape (1,), as on the CPU
            return self.reshape(-1).argmin(axis=0, keepdims=False).reshape((1,))
        return self._ops().argmin(self, axis=axis, keepdims=keepdims)

    def one_hot(self, depth, on_value=1.0, off_value=0.0, dtype="float32"):
        return self._ops().one_hot(self, depth=depth, on_value=on_value, off_value=off_value,
                                   dtype=dtype)

    @property
    def T(self):
        return self if self.ndim < 2 else self.transpose()

    def transpose(self, axes=None):
        return self._ops().transpose(self, axes=() if axes is None else tuple(axes))

    def broadcast_to(self, shape):
        return self._ops().broadcast_to(self, shape=tuple(shape))

    def slice_axis(self, axis, begin, end):
        return self._ops().slice_axis(self, axis=axis, begin=begin, end=end)

    def tile(self, reps):
        reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(reps)
        return self._ops().tile(self, reps=reps)

    def tostype(self, stype):
        """``'default'`` gives the array itself; ``'csr'``/``'row_sparse'`` a sparse array on
        this gpu, converted by CUDA kernels (``ndarray/sparse_gpu.py``)."""
        return self._storage.tostype(self, stype)


# the operators behind the Python operators that have no elementwise-kernel code:
# mx.nd.<name>(lhs, rhs) picks the array-array or the scalar operator, as in MXNet
_UFUNC_OF = {np.mod: "modulo", np.power: "power", np.equal: "equal",
             np.not_equal: "not_equal", np.less: "lesser", np.less_equal: "lesser_equal",
             np.greater: "greater", np.greater_equal: "greater_equal"}


def _no_kernel(name, call="(...)"):
    def refuse(self, *args, **kwargs):
        raise MXNetError(f"NDArray.{name} has no CUDA side yet, so it cannot run on "
                         f"{self._ctx}; copy to the CPU first: x.as_in_context(mx.cpu())."
                         f"{name}{call}")
    refuse.__name__ = name
    refuse.__doc__ = f"Not available on gpu arrays: ``{name}`` has no CUDA side yet."
    return refuse


# Public NDArray methods that work unchanged on a DeviceBuffer (views and metadata). A public
# NDArray method added later that GPUNDArray does not define is refused, so nothing falls
# through to numpy code on device memory.
_INHERITED = {"shape", "dtype", "context", "ctx", "size", "ndim", "stype", "handle", "reshape",
              "reshape_like", "flatten", "as_in_context"}
for _name, _attr in list(vars(NDArray).items()):
    if _name.startswith("_") or _name in _INHERITED or _name in vars(GPUNDArray):
        continue
    if isinstance(_attr, property):
        setattr(GPUNDArray, _name, property(_no_kernel(_name, "")))
    elif callable(_attr):
        setattr(GPUNDArray, _name, _no_kernel(_name))
