"""NDArray: a buffer on a context. On the CPU the buffer is a numpy array; ``cpu(0)`` and
``cpu(1)`` hold separate buffers, so data moves between them only through explicit copies."""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..backend import Backend, GPUBackend, for_context, synchronize_all
from ..base import MXNetError, MXNetTypeError, DTypeError, ShapeError, mx_real_t
from ..context import Context, current_context

__all__ = ["NDArray", "array", "zeros", "ones", "full", "empty", "arange", "concatenate",
           "zeros_like_nd", "waitall"]


def _ctx(ctx):
    if ctx is None:
        return current_context()
    if isinstance(ctx, str):
        return Context(ctx)
    return ctx


def _dtype(dtype, default=mx_real_t):
    if dtype is None:
        return np.dtype(default)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"unknown dtype {dtype!r}") from None


def _unwrap(x):
    return x._data if isinstance(x, NDArray) else x


class NDArray:
    """An n-dimensional array on a device (``ctx``), with MXNet 1.x's NDArray API.

    Slicing on the first axis (``a[1:3]``, ``a[2]``) gives views that share memory, as in MXNet.
    See notebook 01.
    """

    __array_priority__ = 1000.0

    def __new__(cls, data=None, ctx=None):
        # the device's backend names the class: an NDArray on mx.gpu(i) is a GPUNDArray
        # (device memory; ndarray/gpu.py)
        if cls is NDArray and data is not None:
            # ctx=None means the current context (with mx.gpu(0): ...); None there is cpu(0)
            dev = ctx if ctx is not None else Context._local.__dict__.get("value")
            if dev is not None:
                return object.__new__(for_context(_ctx(dev)).array_class)
        return object.__new__(cls)

    def __init__(self, data, ctx=None):
        self._data = data if isinstance(data, np.ndarray) else np.asarray(data)
        self._ctx = _ctx(ctx)

    # -- properties ---------------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype.type

    @property
    def context(self):
        return self._ctx

    ctx = context

    @property
    def size(self):
        return int(self._data.size)

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def stype(self):
        return "default"

    @property
    def handle(self):
        return id(self._data)

    @property
    def T(self):
        return self if self.ndim < 2 else self.transpose()

    # -- conversion ---------------------------------------------------------------------------
    def asnumpy(self):
        """A numpy copy of the data."""
        return np.array(self._data, copy=True)

    def asscalar(self):
        if self.size != 1:
            raise ShapeError(f"asscalar() needs an array of size 1, got shape {self.shape}")
        return self._data.reshape(-1)[0]

    def astype(self, dtype, copy=True):
        dt = _dtype(dtype)
        if not copy and dt == self._data.dtype:
            return self
        return NDArray(self._data.astype(dt), self._ctx)

    def copy(self):
        return NDArray(self._data.copy(), self._ctx)

    # the slot sparse_storage.py fills when imported (it builds on this class, so this file
    # cannot import it)
    _storage = None

    def tostype(self, stype):
        """This array in storage type ``'default'``, ``'row_sparse'`` or ``'csr'``.

        See notebook 01.
        """
        return self._storage.tostype(self, stype)

    def copyto(self, other):
        """Copy into an NDArray (shapes must match) or onto a Context (a new array)."""
        if isinstance(other, NDArray):
            if other is self:
                warnings.warn("You are attempting to copy an array to itself", RuntimeWarning)
                return False
            if other.shape != self.shape:
                raise MXNetError(f"copyto: shape mismatch, source {self.shape} vs target "
                                 f"{other.shape}")
            if other.stype != "default":     # a sparse target re-stores what it is given
                other[:] = self
                return other
            other._data[...] = self._data
            return other
        if isinstance(other, Context):
            return NDArray(self._data.copy(), other)
        raise DTypeError(f"copyto needs an NDArray or a Context, got {type(other).__name__}")

    def as_in_context(self, context):
        return self if context == self._ctx else self.copyto(context)

    def wait_to_read(self):
        """Operations run eagerly; nothing to wait for."""

    wait_to_write = wait_to_read

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self):
        return self.shape[0]

    def __iter__(self):
        for i in range(self.shape[0]):
            yield self[i]

    def __bool__(self):
        if self.size == 1:
            return bool(self._data.reshape(-1)[0])
        raise ValueError("The truth value of an NDArray with more than one element is ambiguous.")

    def __repr__(self):
        shape = "x".join(str(s) for s in self.shape)
        return f"\n{self._data}\n<NDArray {shape} @{self._ctx}>"

    def __getstate__(self):
        return {"data": self._data, "ctx": (self._ctx.device_type, self._ctx.device_id)}

    def __setstate__(self, state):
        self._data = state["data"]
        self._ctx = Context(*state["ctx"])

    # -- shape manipulation -------------------------------------------------------------------
    def reshape(self, *shape, **kwargs):
        """Reshape, with MXNet's special codes 0, -1, -2, -3, -4; shares memory."""
        from ..shape_codes import infer_reshape
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = kwargs.get("shape", shape)
        new = infer_reshape(self.shape, tuple(shape), kwargs.get("reverse", False))
        return NDArray(self._data.reshape(new), self._ctx)

    def reshape_like(self, other):
        return NDArray(self._data.reshape(other.shape), self._ctx)

    def flatten(self):
        return NDArray(self._data.reshape(self.shape[0], -1) if self.ndim else
                       self._data.reshape(1, 1), self._ctx)

    def expand_dims(self, axis):
        return NDArray(np.expand_dims(self._data, axis), self._ctx)

    def squeeze(self, axis=None):
        return NDArray(np.squeeze(self._data, axis), self._ctx)

    def transpose(self, axes=None):
        return NDArray(np.ascontiguousarray(np.transpose(self._data, axes)), self._ctx)

    def broadcast_to(self, shape):
        return NDArray(np.ascontiguousarray(np.broadcast_to(self._data, shape)), self._ctx)

    def slice_axis(self, axis, begin, end):
        idx = [slice(None)] * self.ndim
        idx[axis] = slice(begin, end)
        return NDArray(self._data[tuple(idx)].copy(), self._ctx)

    # -- indexing -----------------------------------------------------------------------------
    def _key(self, key):
        if isinstance(key, NDArray):
            return key._data.astype(np.int64)
        if isinstance(key, tuple):
            return tuple(self._key(k) for k in key)
        return key

    def __getitem__(self, key):
        """Basic indexing (ints and slices) whose result is contiguous in memory gives a view
        that shares memory, as in MXNet; anything else gives a copy. A scalar result has
        shape (1,)."""
        out = self._data[self._key(key)]
        if not isinstance(out, np.ndarray) or out.ndim == 0:
            idx = key if isinstance(key, tuple) else (key,)
            if all(isinstance(k, (int, np.integer)) for k in idx):
                # all-integer index: MXNet gives a 1-element VIEW, not a copy
                idx = tuple(slice(k % n, k % n + 1) for k, n in zip(idx, self.shape))
                return NDArray(self._data[idx].reshape(1), self._ctx)
            out = np.array(out, dtype=self._data.dtype).reshape(1)
        elif not (_is_basic(key) and out.flags.c_contiguous):
            out = out.copy()
        return NDArray(out, self._ctx)

    def __setitem__(self, key, value):
        self._data[self._key(key)] = _unwrap(value)

    # -- arithmetic (broadcasting, as MXNet's NDArray operators do) ----------------------------
    def _binary(self, other, fn, reverse=False):
        if isinstance(other, NDArray):
            if other._ctx != self._ctx:
                raise MXNetError(f"operands on different devices: {self._ctx} and {other._ctx};"
                                 " copy one with as_in_context() first")
            if other._data.dtype != self._data.dtype:
                raise DTypeError(f"operands have different dtypes: {self._data.dtype} and "
                                 f"{other._data.dtype}; convert one with astype() first")
            o = other._data
        elif isinstance(other, (numbers.Number, np.generic)):
            # MXNet casts the scalar to the array's dtype first (int32 + 0.5 adds 0)
            o = np.array(other).astype(self._data.dtype)
        elif isinstance(other, np.ndarray):
            o = other
        else:
            return NotImplemented
        a, b = (o, self._data) if reverse else (self._data, o)
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                res = fn(a, b)
        except ValueError as err:
            raise MXNetError(f"shapes {np.shape(a)} and {np.shape(b)} do not broadcast: {err}")
        res = np.asarray(res)
        if res.dtype != self._data.dtype:
            res = res.astype(self._data.dtype)
        if res.ndim == 0:
            res = res.reshape(1)
        return NDArray(res, self._ctx)

    def _inplace(self, other, fn):
        fn(self._data, _unwrap(other), out=self._data, casting="unsafe")
        return self

    def __add__(self, o): return self._binary(o, np.add)
    def __radd__(self, o): return self._binary(o, np.add, True)
    def __sub__(self, o): return self._binary(o, np.subtract)
    def __rsub__(self, o): return self._binary(o, np.subtract, True)
    def __mul__(self, o): return self._binary(o, np.multiply)
    def __rmul__(self, o): return self._binary(o, np.multiply, True)
    def __truediv__(self, o): return self._binary(o, _divide)
    def __rtruediv__(self, o): return self._binary(o, _divide, True)
    def __mod__(self, o): return self._binary(o, np.mod)
    def __rmod__(self, o): return self._binary(o, np.mod, True)
    def __pow__(self, o): return self._binary(o, np.power)
    def __rpow__(self, o): return self._binary(o, np.power, True)
    def __eq__(self, o): return self._binary(o, np.equal)
    def __ne__(self, o): return self._binary(o, np.not_equal)
    def __lt__(self, o): return self._binary(o, np.less)
    def __le__(self, o): return self._binary(o, np.less_equal)
    def __gt__(self, o): return self._binary(o, np.greater)
    def __ge__(self, o): return self._binary(o, np.greater_equal)
    def __iadd__(self, o): return self._inplace(o, np.add)
    def __isub__(self, o): return self._inplace(o, np.subtract)
    def __imul__(self, o): return self._inplace(o, np.multiply)
    def __itruediv__(self, o): return self._inplace(o, np.divide)
    __div__, __rdiv__, __idiv__ = __truediv__, __rtruediv__, __itruediv__
    __hash__ = object.__hash__

    def __neg__(self):
        return NDArray(-self._data, self._ctx)

    def __abs__(self):
        return NDArray(np.abs(self._data), self._ctx)

    # -- reductions and math as methods -------------------------------------------------------
    def _reduce(self, fn, axis, keepdims):
        if isinstance(axis, list):
            axis = tuple(axis)
        out = fn(self._data, axis=axis, keepdims=keepdims)
        return NDArray(np.asarray(out, dtype=self._data.dtype).reshape(np.shape(out) or (1,)),
                       self._ctx)

    def sum(self, axis=None, keepdims=False, **kw): return self._reduce(np.sum, axis, keepdims)
    def mean(self, axis=None, keepdims=False, **kw): return self._reduce(np.mean, axis, keepdims)
    def max(self, axis=None, keepdims=False, **kw): return self._reduce(np.max, axis, keepdims)
    def min(self, axis=None, keepdims=False, **kw): return self._reduce(np.min, axis, keepdims)
    def prod(self, axis=None, keepdims=False, **kw): return self._reduce(np.prod, axis, keepdims)

    def norm(self, ord=2, axis=None, keepdims=False, **kw):
        """The L2 (``ord=2``) or L1 (``ord=1``) norm, as MXNet's ``norm`` (no other ord)."""
        if ord not in (1, 2):
            raise MXNetError(f"norm: ord must be 1 or 2 (as MXNet), got {ord!r}")
        x = self._data
        value = np.sum(np.abs(x), axis=axis, keepdims=keepdims) if ord == 1 else \
            np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))
        value = np.asarray(value, dtype=x.dtype)
        return NDArray(value.reshape(-1) if axis is None else value, self._ctx)

    def argmax(self, axis=None, keepdims=False):
        out = np.argmax(self._data, axis=axis, keepdims=keepdims) if axis is not None else \
            np.array([np.argmax(self._data)])
        return NDArray(np.asarray(out, dtype=self._data.dtype), self._ctx)

    def argmin(self, axis=None, keepdims=False):
        out = np.argmin(self._data, axis=axis, keepdims=keepdims) if axis is not None else \
            np.array([np.argmin(self._data)])
        return NDArray(np.asarray(out, dtype=self._data.dtype), self._ctx)

    def _unary(self, fn):
        return NDArray(fn(self._data).astype(self._data.dtype, copy=False), self._ctx)

    def exp(self): return self._unary(np.exp)
    def log(self): return self._unary(np.log)
    def sqrt(self): return self._unary(np.sqrt)
    def square(self): return self._unary(np.square)
    def abs(self): return self._unary(np.abs)
    def sign(self): return self._unary(np.sign)
    def relu(self): return self._unary(lambda x: np.maximum(x, 0))
    def sigmoid(self): return self._unary(lambda x: 1 / (1 + np.exp(-x)))
    def tanh(self): return self._unary(np.tanh)

    def clip(self, a_min, a_max):
        return self._unary(lambda x: np.clip(x, a_min, a_max))

    def softmax(self, axis=-1):
        e = np.exp(self._data - self._data.max(axis=axis, keepdims=True))
        return NDArray((e / e.sum(axis=axis, keepdims=True)).astype(self._data.dtype), self._ctx)

    def one_hot(self, depth, on_value=1.0, off_value=0.0, dtype="float32"):
        out = np.full(self.shape + (depth,), off_value, dtype=_dtype(dtype))
        idx = self._data.astype(np.int64)
        valid = (idx >= 0) & (idx < depth)
        np.put_along_axis(out, np.where(valid, idx, 0)[..., None],
                          np.where(valid, on_value, off_value)[..., None].astype(out.dtype),
                          axis=-1)
        return NDArray(out, self._ctx)

    def tile(self, reps):
        return NDArray(np.tile(self._data, reps), self._ctx)

    def zeros_like(self):
        return NDArray(np.zeros_like(self._data), self._ctx)

    def ones_like(self):
        return NDArray(np.ones_like(self._data), self._ctx)


def _is_basic(key):
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, (int, np.integer, slice)) or k is Ellipsis for k in parts)


def _divide(a, b):
    if np.issubdtype(np.result_type(a, b), np.integer):
        # C-style integer division (truncation toward zero), as MXNet's kernels do
        q = np.true_divide(a, b)
        return np.where(np.asarray(b) == 0, 0, np.fix(np.nan_to_num(q)))
    return np.true_divide(a, b)


# -- creation -------------------------------------------------------------------------------
def array(source_array, ctx=None, dtype=None):
    """An NDArray from a list, numpy array or NDArray: float32 unless ``dtype`` is given or the
    source is an NDArray (as MXNet, a numpy source becomes float32 too)."""
    if isinstance(source_array, NDArray):
        default = source_array._data.dtype
        source_array = source_array._data
    else:
        default = mx_real_t
    dt = _dtype(dtype, default)
    try:
        data = np.array(source_array, dtype=dt, copy=True)
    except ValueError as err:   # ragged lists: MXNet says TypeError (not array-like)
        raise MXNetTypeError(f"mx.nd.array: the source is not array-like: {err}") from None
    return NDArray(data, _ctx(ctx))


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def empty(shape, ctx=None, dtype=None, **kw):
    return NDArray(np.zeros(_shape(shape), dtype=_dtype(dtype)), _ctx(ctx))


def zeros(shape, ctx=None, dtype=None, **kw):
    return NDArray(np.zeros(_shape(shape), dtype=_dtype(dtype)), _ctx(ctx))


def ones(shape, ctx=None, dtype=None, **kw):
    return NDArray(np.ones(_shape(shape), dtype=_dtype(dtype)), _ctx(ctx))


def full(shape, val, ctx=None, dtype=None, out=None, **kw):
    if out is not None:
        out[:] = val
        return out
    return NDArray(np.full(_shape(shape), val, dtype=_dtype(dtype)), _ctx(ctx))


def arange(start, stop=None, step=1.0, repeat=1, infer_range=False, ctx=None, dtype=None):
    if stop is None:
        start, stop = 0, start
    if step == 0 or (step > 0 and start >= stop) or (step < 0 and start <= stop):
        raise MXNetError(f"arange: invalid range (start, stop, step) = ({start}, {stop}, {step})")
    dt = _dtype(dtype)
    n = int(math.ceil((stop - start) / step))
    # as MXNet's kernel: dtype(start) + i * dtype(step), not numpy's accumulated delta
    i = (np.arange(n * int(repeat)) // int(repeat)).astype(dt)
    data = (dt.type(start) + i * dt.type(step)).astype(dt, copy=False)
    return NDArray(data, _ctx(ctx))


def concatenate(arrays, axis=0, always_copy=True):
    return NDArray(np.concatenate([a._data for a in arrays], axis=axis), arrays[0].context)


def zeros_like_nd(a):
    return NDArray(np.zeros_like(a._data), a.context)


def waitall():
    """Wait until queued work is done. CPU operations run eagerly; CUDA kernels (mx.gpu) are
    queued asynchronously on a real GPU, so this waits for every device in use."""
    synchronize_all()


# the slots of backend/base.py and backend/gpu.py: each backend wraps its buffers in its device's
# NDArray class (the backends sit beside NDArray and do not import it)
Backend.array_class = NDArray
from .gpu import GPUNDArray  # noqa: E402  (the one allowed circle; loads no CUDA)
GPUBackend.array_class = GPUNDArray
