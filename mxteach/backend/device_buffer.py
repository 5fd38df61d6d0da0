"""Device memory of ``mx.gpu(i)``: :class:`DeviceBuffer`, a numba device array with the few numpy
idioms the core uses on ``NDArray._data``, each as an explicit transfer.

Data crosses between host and device only where this file says: :func:`to_buffer` (host →
device), ``DeviceBuffer.__setitem__`` (host or device → device), ``DeviceBuffer.__array__``/
``astype``/``copy_to_host`` (device → host). The GPU backend (``backend/gpu.py``) allocates
through :func:`empty_buffer`/:func:`zeros_buffer`; ``GPUNDArray`` (``ndarray/gpu.py``) holds a
DeviceBuffer as its ``_data``.

Without a CUDA device (and without ``NUMBA_ENABLE_CUDASIM=1``) allocating raises MXNetError
(:func:`require`). Importing this file loads no CUDA: numba.cuda is imported inside the
functions that allocate, copy or launch.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from .. import config
from ..base import MXNetError
from .base import Backend

__all__ = ["DeviceBuffer", "require", "device", "synchronize", "to_buffer", "empty_buffer",
           "zeros_buffer"]

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
    if launch.SIMULATOR:
        _simulated_gpus()
    if device_id not in _ready:
        launch.require(device_id)
        _ready.add(device_id)
    return launch


def _simulated_gpus():
    """Numba's simulator shows one gpu; ``MXTEACH_SIM_GPUS=N`` makes it show N, so that
    multi-gpu code (``context=[mx.gpu(0), mx.gpu(1)]``, kvstore 'device') runs without a GPU.
    The simulated devices share host memory, so arrays still move between them only through
    this file's explicit copies."""
    from numba import cuda
    from numba.cuda.simulator.cudadrv.devices import FakeCUDAContext
    want = max(1, config.integer("MXTEACH_SIM_GPUS"))
    have = cuda.gpus.lst
    if len(have) != want:
        cuda.gpus.lst = tuple(have[:want]) + tuple(FakeCUDAContext(i)
                                                   for i in range(len(have), want))
        _ready.difference_update({i for i in _ready if i >= want})


def device(device_id):
    """The context manager that makes ``gpu(device_id)`` current (checked first)."""
    return require(device_id).device(device_id)


def synchronize():
    """Wait for the kernels queued on every gpu used so far (``mx.nd.waitall``)."""
    if not _ready:          # no gpu used: nothing queued, and numba.cuda stays unloaded
        return
    from numba import cuda
    for device_id in sorted(_ready):
        with device(device_id):
            cuda.synchronize()


def _elemwise():
    from ..kernels.cuda import elemwise
    return elemwise


_Flags = namedtuple("_Flags", "c_contiguous")


class _HostOnlyError(MXNetError, AttributeError):
    """A numpy attribute asked of device memory (AttributeError too, so hasattr() works)."""


def _host_only(what, device_id):
    return (f"{what} on memory of gpu({device_id}) would run on the host; copy the data to the "
            "CPU first (asnumpy() or as_in_context(mx.cpu())). On gpu, the NDArray's own methods "
            "and operators, mx.nd operators and the optimizers run (as CUDA kernels)")


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
        with device(self.device_id):
            out.dev.copy_to_device(self.dev)
        return out

    # -- transfers ----------------------------------------------------------------------------
    def copy_to_host(self):
        """A numpy copy (device → host)."""
        with device(self.device_id):
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
        with device(self.device_id):
            if isinstance(value, Backend.array_class):      # an NDArray: its buffer
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
                host = _packed(np.broadcast_to(host, target.shape))
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


def _packed(host):
    """``host`` as a C-contiguous array with ordinary strides: numpy calls an array with a
    zero stride on a length-1 axis contiguous, but numba's copies drop such axes."""
    host = np.ascontiguousarray(host)
    return host.copy() if 0 in host.strides and host.size else host


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
        return DeviceBuffer(cuda.to_device(_packed(host)), device_id)


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
    with device(device_id):
        _elemwise().fill(buf.dev, value)
    return buf
