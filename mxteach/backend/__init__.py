"""Backends: one object per device that gives memory, kernels and synchronisation.

``for_context(ctx)`` is the backend of a Context (one object per device, made once). The
executor, NDArray, the kvstore and the optimizer go through it instead of testing the device
type themselves; ``base.py`` lists the interface, ``cpu.py`` and ``gpu.py`` implement it.
"""
from __future__ import annotations

from .base import Backend
from .cpu import CPUBackend
from .gpu import GPUBackend, synchronize_all as _synchronize_gpus

__all__ = ["Backend", "CPUBackend", "GPUBackend", "for_context", "synchronize_all"]

_BACKENDS = {}      # Context -> its backend


def for_context(ctx):
    """The backend of device ``ctx`` (a Context)."""
    be = _BACKENDS.get(ctx)
    if be is None:
        kind = GPUBackend if ctx.device_type in GPUBackend.serves else CPUBackend
        be = _BACKENDS[ctx] = kind(ctx)
    return be


def synchronize_all():
    """Wait until the kernels queued on every device are done (``mx.nd.waitall``). The CPU
    runs eagerly; gpus are waited for only if one was used."""
    _synchronize_gpus()
