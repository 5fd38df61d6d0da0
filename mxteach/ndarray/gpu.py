"""NDArrays on ``mx.gpu(i)``: device memory (a numba device array), explicit copies, CUDA math.

``NDArray(data, mx.gpu(0))`` builds a :class:`GPUNDArray` (``NDArray.__new__`` routes it here);
its ``_data`` is a :class:`DeviceBuffer`. Data crosses between host and device only in the
places this file names: :func:`to_buffer` (host → device), ``DeviceBuffer.__setitem__`` (host or
device → device), ``DeviceBuffer.__array__``/``astype``/``copy_to_host`` (device → host).

What runs on the device: creation, copies, views (reshape, row slices), ``a[:] = value``, ``+ - *
/`` (with broadcasting), ``relu``/``sigmoid``/``tanh``, and the operators with CUDA kernels
(``kernels/cuda/operators.py``). Every other NDArray method raises an MXNetError that says so;
none silently computes on the CPU.

Without a CUDA device (and without ``NUMBA_ENABLE_CUDASIM=1``) ``mx.gpu(0)`` is still a valid
Context; allocating on it raises MXNetError. Importing this file loads no CUDA.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from ..base import MXNetError, DTypeError
from ..context import Context
from .ndarray import NDArray, _ctx, _divide

__all__ = ["DeviceBuffer", "GPUNDArray", "require", "synchronize", "to_buffer", "empty_buffer",
           "zeros_buffer", "invoke"]

_ready = set()     # device ids already checked


def require(device_id):
    """The ``kernels.cuda.launch`` module, once ``gpu(device_id)`` is known to be usable;
    MXNetError otherwise (no numba-cuda, no device, or no such device)."""
    try:
        from ..kernels.cuda import launch
    except ImportError as err:
        raise MXNetError(f"gpu({device_id}): numba's CUDA support is missing ({err}); install "
                         "numba-cuda (pip install 'mxteach[cuda]'), and without a GPU set "
                         "NUMBA_ENABLE_CUDASIM=1 to use the simulator") from None
    if device_id not in _ready:
        launch.require(device_id)
        _ready.add(device_id)
    return launch


def _device(device_id):
    return require(device_id).device(device_id)


def synchronize():
    """Wait for the kernels queued on every gpu used so far (``mx.nd.waitall``)."""
    from numba import cuda
    for device_id in sorted(_ready):
        with _device(device_id):
            cuda.synchronize()


def _elemwise():
    from ..kernels.cuda import elemwise
    return elemwise


_Flags = namedtuple("_Flags", "c_contiguous")


class _HostOnlyError(MXNetError, AttributeError):
    """A numpy attribute asked of device memory (AttributeError too, so hasattr() works)."""


def _host_only(what, device_id):
    return (f"{what} on memory of gpu({device_id}) would run on the host; copy the data to the "
            "CPU first (asnumpy() or as_in_context(mx.cpu())). On gpu, only the operators with "
            "CUDA kernels, the SGD optimizer and NDArray copies, views and + - * / run")


class DeviceBuffer:
    """The memory behind an NDArray on ``gpu(device_id)``: a numba device array ``dev``.

    The core's host code reads and writes ``NDArray._data`` with a few numpy idioms; this class
    gives each of them as an explicit transfer, and refuses numpy arithmetic (which would
    compute on the host)::

        np.asarray(buf) / buf.astype(t)   device → host copy
        buf[...] = host_or_device_value   host → device copy (or a device copy / fill kernel)
        buf.copy()                        device → device copy
        buf.reshape(...), buf[i:j]        device views (no copy)
        buf + 1, np.add(buf, 1)           MXNetError
    """

    __slots__ = ("dev", "device_id")

    def __init__(self, dev, device_id):
        self.dev = dev
        self.device_id = int(device_id)

    # -- metadata -----------------------------------------------------------------------------
    @property
    def shape(self):
        return tuple(int(s) for s in self.dev.shape)

    @property
    def dtype(self):
        return np.dtype(self.dev.dtype)

    @property
    def ndim(self):
        return len(self.dev.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def flags(self):
        return _Flags(bool(self.dev.is_c_contiguous()))

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"DeviceBuffer(shape={self.shape}, dtype={self.dtype}, gpu({self.device_id}))"

    # -- views --------------------------------------------------------------------------------
    def reshape(self, *shape, **kwargs):
        if kwargs.get("order", "C") != "C":
            raise MXNetError("DeviceBuffer.reshape: only C order")
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = tuple(int(s) for s in shape)
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
            shape = tuple(self.size // max(known, 1) if s == -1 else s for s in shape)
        if int(np.prod(shape, dtype=np.int64)) != self.size:
            raise MXNetError(f"cannot reshape a gpu array of shape {self.shape} into {shape}")
        if shape == self.shape:
            return self
        return DeviceBuffer(self.dev.reshape(shape), self.device_id)

    def view(self, dtype):
        return DeviceBuffer(self.dev.view(np.dtype(dtype)), self.device_id)

    def __getitem__(self, key):
        """Row views: ``buf[i]``, ``buf[i:j]`` (step 1), ``buf[...]``, ``buf[:]``."""
        if isinstance(key, tuple) and len(key) == 1:
            key = key[0]
        if key is Ellipsis or (isinstance(key, tuple) and not key) or \
                (isinstance(key, slice) and key == slice(None)):
            return self
        n = self.shape[0] if self.ndim else 1
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"index {int(key)} is out of bounds for axis 0 with size {n}")
            rows = self.dev[i:i + 1]
            return DeviceBuffer(rows.reshape(self.shape[1:]) if self.ndim > 1 else rows,
                                self.device_id)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return DeviceBuffer(self.dev[start:max(start, stop)], self.device_id)
        raise MXNetError(f"gpu arrays support basic row indexing (a[i], a[i:j], a[:]); got "
                         f"{key!r}. For other indexing copy to the CPU first")

    def copy(self):
        """A new device array holding the same values (device → device, as ndarray.copy)."""
        out = empty_buffer(self.shape, self.dtype, self.device_id)
        with _device(self.device_id):
            out.dev.copy_to_device(self.dev)
        return out

    # -- transfers ----------------------------------------------------------------------------
    def copy_to_host(self):
        """A numpy copy (device → host)."""
        with _device(self.device_id):
            return self.dev.copy_to_host()

    def __array__(self, dtype=None, copy=None):
        host = self.copy_to_host()
        return host if dtype is None else host.astype(dtype, copy=False)

    def astype(self, dtype, copy=True):
        """A *host* copy in ``dtype`` (as ``np.asarray(buf).astype(dtype)``): host code such as
        the 'local' kvstore reduces gradients on the CPU."""
        return self.copy_to_host().astype(dtype, copy=False)

    def __setitem__(self, key, value):
        target = self[key]
        with _device(self.device_id):
            if isinstance(value, NDArray):
                value = value._data
            if getattr(value, "__cuda_ndarray__", False):
                value = DeviceBuffer(value, self.device_id)
            if isinstance(value, DeviceBuffer):
                if value.size != target.size:
                    raise MXNetError(f"cannot assign a gpu array of shape {value.shape} to one "
                                     f"of shape {target.shape}")
                if value.device_id == self.device_id:
                    if value.dev is not target.dev:
                        _elemwise().copy(value.dev, target.dev)
                    return
                value = value.copy_to_host()      # another device: through the host
            if isinstance(value, (numbers.Number, np.generic)) or np.ndim(value) == 0:
                _elemwise().fill(target.dev, np.asarray(value).item())
                return
            host = np.asarray(value, dtype=target.dtype)
            try:
                host = np.ascontiguousarray(np.broadcast_to(host, target.shape))
            except ValueError:
                raise MXNetError(f"cannot assign an array of shape {np.shape(value)} to a gpu "
                                 f"array of shape {target.shape}") from None
            target.dev.copy_to_device(host)

    def __reduce__(self):
        return (_buffer_from_host, (self.copy_to_host(), self.device_id))

    # -- what device memory refuses -----------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise MXNetError(_host_only(f"numpy.{ufunc.__name__}", self.device_id))

    def __getattr__(self, name):
        if name.startswith("__") or name in DeviceBuffer.__slots__:
            raise AttributeError(name)
        raise _HostOnlyError(_host_only(f"numpy's ndarray.{name}", self.device_id))

    def _refuse(self, *args, **kwargs):
        raise MXNetError(_host_only("numpy arithmetic", self.device_id))

    __add__ = __radd__ = __iadd__ = __sub__ = __rsub__ = __isub__ = _refuse
    __mul__ = __rmul__ = __imul__ = __truediv__ = __rtruediv__ = __itruediv__ = _refuse
    __floordiv__ = __mod__ = __pow__ = __matmul__ = __neg__ = __abs__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = __bool__ = _refuse
    __hash__ = object.__hash__


def _buffer_from_host(host, device_id):
    return to_buffer(host, device_id)


# -- allocation -----------------------------------------------------------------------------
def to_buffer(data, device_id):
    """``data`` as a DeviceBuffer on ``device_id``: a DeviceBuffer there or a numba device array
    is wrapped as is (no copy); host data (numpy, lists, scalars) and buffers on other devices
    are copied."""
    launch = require(device_id)
    if isinstance(data, DeviceBuffer):
        if data.device_id == device_id:
            return data
        data = data.copy_to_host()
    elif getattr(data, "__cuda_ndarray__", False):
        return DeviceBuffer(data, device_id)
    host = np.asarray(data)
    if host.ndim == 0:
        host = host.reshape(1)
    from numba import cuda
    with launch.device(device_id):
        return DeviceBuffer(cuda.to_device(np.ascontiguousarray(host)), device_id)


def empty_buffer(shape, dtype, device_id):
    """Uninitialised device memory."""
    launch = require(device_id)
    from numba import cuda
    shape = tuple(int(s) for s in shape) or (1,)
    with launch.device(device_id):
        return DeviceBuffer(cuda.device_array(shape, dtype=np.dtype(dtype)), device_id)


def zeros_buffer(shape, dtype, device_id, value=0):
    """Device memory filled with ``value`` by a kernel (nothing is copied from the host)."""
    buf = empty_buffer(shape, dtype, device_id)
    with _device(device_id):
        _elemwise().fill(buf.dev, value)
    return buf


# -- the NDArray ----------------------------------------------------------------------------
_MATH_CODES = {np.add: 0, np.subtract: 1, np.multiply: 2, np.divide: 3, _divide: 3}


class GPUNDArray(NDArray):
    """An NDArray on ``mx.gpu(i)``; ``_data`` is a :class:`DeviceBuffer`.

    Build it as any NDArray (``mx.nd.array(x, ctx=mx.gpu(0))``, ``x.copyto(mx.gpu(0))``,
    ``NDArray(data, mx.gpu(0))``). Copies, views, ``a[:] = v``, ``+ - * /`` and
    relu/sigmoid/tanh run on the device; methods without a CUDA kernel raise MXNetError.
    """

    def __init__(self, data, ctx=None):
        ctx = _ctx(ctx)
        if ctx.device_type != "gpu":
            raise MXNetError(f"GPUNDArray needs a gpu context, got {ctx}")
        self._ctx = ctx
        self._data = to_buffer(data, ctx.device_id)

    def _new(self, buf):
        return GPUNDArray(buf, self._ctx)

    def _device(self):
        return _device(self._ctx.device_id)

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
        self._data = to_buffer(state["data"], self._ctx.device_id)

    def astype(self, dtype, copy=True):
        dt = np.dtype(dtype)
        if not copy and dt == self._data.dtype:
            return self
        out = empty_buffer(self.shape, dt, self._ctx.device_id)
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
        from numba import cuda
        with self._device():
            cuda.synchronize()

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
        shape (1,), as on the CPU."""
        if isinstance(key, NDArray):
            raise MXNetError("indexing a gpu array with an NDArray has no CUDA kernel yet; copy "
                             "to the CPU first")
        out = self._data[key]
        if self.ndim == 1 and isinstance(key, (int, np.integer)):
            return self._new(out).copy()
        return self._new(out)

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
            return to_buffer(np.array([other]).astype(self._data.dtype), self._ctx.device_id)
        if isinstance(other, np.ndarray):
            raise MXNetError(f"a numpy array and an NDArray on {self._ctx}: copy the numpy array "
                             f"to the device first (mx.nd.array(x, ctx={self._ctx}))")
        return None

    def _binary(self, other, fn, reverse=False):
        code = _MATH_CODES.get(fn)
        if code is None:
            raise MXNetError(f"{getattr(fn, '__name__', fn)} on {self._ctx} arrays has no CUDA "
                             "kernel yet (+ - * / do); copy to the CPU first")
        o = self._operand(other)
        if o is None:
            return NotImplemented
        a, b = (o, self._data) if reverse else (self._data, o)
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError as err:
            raise MXNetError(f"shapes {a.shape} and {b.shape} do not broadcast: {err}") from None
        out = empty_buffer(shape, self._data.dtype, self._ctx.device_id)
        with self._device():
            _elemwise().binary_forward(a.dev, b.dev, out.dev, code)
        return self._new(out)

    def _inplace(self, other, fn):
        code = _MATH_CODES.get(fn)
        if code is None:
            raise MXNetError(f"in-place {getattr(fn, '__name__', fn)} on {self._ctx} arrays has "
                             "no CUDA kernel yet")
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

    def _activation(self, name):
        from ..kernels.cuda import nn
        out = empty_buffer(self.shape, self._data.dtype, self._ctx.device_id)
        with self._device():
            nn.unary_forward(self._data.reshape(-1).dev, out.reshape(-1).dev,
                             nn.ACT_CODES[name], 0.0)
        return self._new(out)

    def relu(self): return self._activation("relu")
    def sigmoid(self): return self._activation("sigmoid")
    def tanh(self): return self._activation("tanh")

    def zeros_like(self):
        return self._new(zeros_buffer(self.shape, self._data.dtype, self._ctx.device_id))

    def ones_like(self):
        return self._new(zeros_buffer(self.shape, self._data.dtype, self._ctx.device_id, 1))


def _no_kernel(name, call="(...)"):
    def refuse(self, *args, **kwargs):
        raise MXNetError(f"NDArray.{name} has no CUDA kernel yet, so it cannot run on "
                         f"{self._ctx}; copy to the CPU first: x.as_in_context(mx.cpu())."
                         f"{name}{call}")
    refuse.__name__ = name
    refuse.__doc__ = f"Not available on gpu arrays: ``{name}`` has no CUDA kernel yet."
    return refuse


# Public NDArray methods that work unchanged on a DeviceBuffer (views and metadata). Every other
# public NDArray method that GPUNDArray does not define is refused, including methods added to
# NDArray later, so nothing falls through to numpy code.
_INHERITED = {"shape", "dtype", "context", "ctx", "size", "ndim", "stype", "handle", "reshape",
              "reshape_like", "flatten", "as_in_context"}
for _name, _attr in list(vars(NDArray).items()):
    if _name.startswith("_") or _name in _INHERITED or _name in vars(GPUNDArray):
        continue
    if isinstance(_attr, property):
        setattr(GPUNDArray, _name, property(_no_kernel(_name, "")))
    elif callable(_attr):
        setattr(GPUNDArray, _name, _no_kernel(_name))
GPUNDArray.__abs__ = _no_kernel("__abs__")


# -- imperative operators (mx.nd.FullyConnected(...) on gpu arrays) ---------------------------
def invoke(op, p, inputs, out_shapes, out_types, ctx):
    """Run ``op``'s CUDA forward once on GPUNDArrays; returns the output NDArrays."""
    from ..kernels.cuda.operators import kernels_for
    forward, _ = kernels_for(op, f"mx.nd.{op.name}", ctx)
    for k, x in enumerate(inputs):
        if x.context != ctx:
            raise MXNetError(f"mx.nd.{op.name}: input {k} is on {x.context}, input 0 on {ctx}; "
                             "copy them to one device first")
    outs = [zeros_buffer(s, t or np.float32, ctx.device_id) for s, t in zip(out_shapes, out_types)]
    with _device(ctx.device_id):
        forward(p, [x._data.dev for x in inputs], [o.dev for o in outs], False, {})
    return [GPUNDArray(o, ctx) for o in outs]
