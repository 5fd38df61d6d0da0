"""Devices. ``cpu(i)`` are distinct logical devices (distinct buffers); ``gpu(i)`` are numba.cuda
devices, real or simulated (``NUMBA_ENABLE_CUDASIM=1``)."""
from __future__ import annotations

import threading

from . import config
from .base import MXNetKeyError

__all__ = ["Context", "cpu", "gpu", "cpu_pinned", "current_context", "num_gpus"]


class Context:
    """A device: ``Context('cpu', 0)``; usable as ``with mx.cpu(1): ...`` to set the default."""

    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    devstr2type = {v: k for k, v in devtype2str.items()}
    _local = threading.local()

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in self.devstr2type:
            raise MXNetKeyError(f"unknown device type '{device_type}'; expected one of "
                                f"{sorted(self.devstr2type)}")
        self.device_type = device_type
        self.device_id = int(device_id)
        self._old = None

    @property
    def device_typeid(self):
        return self.devstr2type[self.device_type]

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self):
        self._old = current_context()
        Context._local.value = self
        return self

    def __exit__(self, *exc):
        Context._local.value = self._old

    def empty_cache(self):
        """Nothing is cached per device here; kept for API compatibility."""


def cpu(device_id=0):
    """The CPU device ``device_id`` (each id is a separate logical device)."""
    return Context("cpu", device_id)


def cpu_pinned(device_id=0):
    return Context("cpu_pinned", device_id)


def gpu(device_id=0):
    """The CUDA device ``device_id`` (a numba.cuda device, or a simulator device)."""
    return Context("gpu", device_id)


def current_context():
    cur = getattr(Context._local, "value", None)
    return cur if cur is not None else Context("cpu", 0)


def num_gpus():
    """How many CUDA devices numba sees (simulator devices count)."""
    try:
        from numba import cuda
        from numba.core import config as numba_config
        if numba_config.ENABLE_CUDASIM:       # MXTEACH_SIM_GPUS sets the simulator's count
            return max(1, config.integer("MXTEACH_SIM_GPUS"))
        return len(cuda.gpus) if cuda.is_available() else 0
    except Exception:  # numba without CUDA support: no GPUs, never an import error
        return 0
