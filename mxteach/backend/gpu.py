"""The GPU backend: ``mx.gpu(i)`` through numba.cuda (a real GPU, or the simulator with
``NUMBA_ENABLE_CUDASIM=1``).

Buffers are :class:`~mxteach.backend.device_buffer.DeviceBuffer` (device memory); kernels are the
operators' ``gpu_forward``/``gpu_backward`` (``ops/nn.py``, ``ops/loss.py`` ...) on numba device
arrays, each launched with ``gpu(i)`` made the current device. An operator without CUDA kernels
is refused when it is bound or called, with an MXNetError naming it, before any memory is
allocated.

Nothing here imports numba.cuda at import time: the first allocation or launch loads it.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from ..base import MXNetError
from .base import Backend
from .device_buffer import (DeviceBuffer, device, empty_buffer, require, synchronize,
                            to_buffer, zeros_buffer)

__all__ = ["GPUBackend"]


# kernel files holding CUDA twins of host update rules (``twin``)
_TWIN_FAMILIES = ("optim", "optim_adaptive")


def _no_operators():
    return {}


@functools.lru_cache(maxsize=None)
def _parameter_names(fn):
    return tuple(inspect.signature(fn).parameters)


class GPUBackend(Backend):
    """Device memory and CUDA kernels of ``gpu(i)`` (see :class:`~mxteach.backend.base.Backend`).

    An executor runs each node on its device (``group2ctx`` places nodes on several gpus;
    ``executor/devices.py`` copies values across), and the kernels take float32 or float64.
    """

    kind = "CUDA"
    serves = ("gpu",)
    dtypes = ("float32", "float64")
    #: slot: a function giving every registered operator (name → Op), for the list of operators
    #: with CUDA kernels in error messages. ``mxteach/ndarray/__init__.py`` (above the operator
    #: registry, which this layer may not import) installs ``ops.registry.all_ops`` here.
    operator_table = staticmethod(_no_operators)

    @property
    def device_id(self):
        return self.ctx.device_id

    # -- memory -------------------------------------------------------------------------------
    def empty(self, shape, dtype):
        return empty_buffer(shape, dtype, self.device_id)

    def zeros(self, shape, dtype, value=0):
        return zeros_buffer(shape, dtype, self.device_id, value)

    def as_buffer(self, data):
        return to_buffer(data, self.device_id)

    def to_host(self, buf):
        return buf.copy_to_host() if isinstance(buf, DeviceBuffer) else np.asarray(buf)

    def raw(self, buf):
        return None if buf is None else buf.dev

    # -- kernels ------------------------------------------------------------------------------
    def kernels(self, op, where):
        if op.gpu_forward is None:
            names = sorted(name for name, o in self.operator_table().items()
                           if name == o.name and o.gpu_forward is not None)
            raise MXNetError(f"{op.name} ({where}) has no CUDA kernel yet, so it cannot run on "
                             f"{self.ctx}; operators with CUDA kernels: {', '.join(names)}. "
                             "Use mx.cpu()")
        return op.gpu_forward, op.gpu_backward

    def _launcher(self, fn):
        """``fn`` with this gpu current, so its launches and allocations go there."""
        device_id = self.device_id
        require(device_id)

        def step(*args):
            with device(device_id):
                fn(*args)
        step.__name__ = step.__qualname__ = getattr(fn, "__name__", "step")
        step.__wrapped__ = fn
        return step

    def forward_step(self, fn, ins, outs):
        return self._launcher(fn)

    def backward_step(self, fn, ograds, ins, outs, igrads):
        return self._launcher(fn)

    def twin(self, host_fn, family):
        """The CUDA kernel named like ``host_fn`` in ``kernels/cuda/<family>.py``; the returned
        function takes buffers (and scalars), checks their dtypes and launches on this gpu."""
        if family not in _TWIN_FAMILIES:
            raise MXNetError(f"no CUDA kernel family '{family}' for {host_fn.__name__}; "
                             f"known: {', '.join(_TWIN_FAMILIES)}")
        from ..kernels.cuda import optim, optim_adaptive  # loads numba.cuda: only when used
        kernels = {"optim": optim, "optim_adaptive": optim_adaptive}[family]
        fn = getattr(kernels, host_fn.__name__, None)
        if fn is None:
            raise MXNetError(f"{host_fn.__name__} has no CUDA kernel yet, so it cannot run on "
                             f"{self.ctx}; use mx.cpu()")
        launch = self._launcher(fn)

        names = _parameter_names(host_fn)

        def on_buffers(*args):
            for name, a in zip(names, args):
                if isinstance(a, DeviceBuffer):
                    self.check_dtype(host_fn.__name__, f"'{name}'", a.dtype)
            launch(*[self.raw(a) if isinstance(a, DeviceBuffer) else a for a in args])
        on_buffers.__name__ = host_fn.__name__
        return on_buffers

    def accumulate(self, dst, src):
        from ..kernels.cuda import elemwise
        with device(self.device_id):
            elemwise.binary_forward(dst.dev, src.dev, dst.dev, 0)     # code 0: add

    # -- device -------------------------------------------------------------------------------
    def device(self):
        return device(self.device_id)

    def synchronize(self):
        from numba import cuda
        with device(self.device_id):
            cuda.synchronize()

    # -- checks -------------------------------------------------------------------------------
    def check_arrays(self, where, arrays):
        arrays = list(arrays)
        for kind, name, arr in arrays:
            if arr.context != self.ctx:
                raise MXNetError(f"{where} on {self.ctx}: {kind} '{name}' lives on "
                                 f"{arr.context}; each array must live on the device of the "
                                 "node that uses it (to spread a graph over devices, give its "
                                 "nodes ctx_group attributes and bind with group2ctx)")
        super().check_arrays(where, arrays)

    def check_operands(self, where, ref, others):
        ref_name, ref_arr = ref
        for what, a in others:
            if a is not None and a.context != ref_arr.context:
                raise MXNetError(f"{where}: the {ref_name} is on {ref_arr.context}, its {what} "
                                 f"on {a.context}; they must share a device")


def synchronize_all():
    """Wait for every gpu used so far (nothing, and no CUDA import, when none was used)."""
    synchronize()
