"""The interface every backend (CPU, GPU) gives the layers above it.

A backend object stands for one device (``for_context(mx.gpu(0))``). The executor builds its
plan once and asks the backend for memory and kernels; NDArray, the kvstore and the optimizer
reach device memory through the same object. So the code that differs between devices lives
in ``backend/cpu.py`` and ``backend/gpu.py`` and nowhere else.

================================  ===========================================================
memory                            ``empty``, ``zeros``, ``as_buffer``, ``to_host``, ``arena``,
                                  ``view``
arrays                            ``wrap`` (a buffer as the device's NDArray class),
                                  ``raw`` (a buffer as the kernels take it)
kernels                           ``kernels`` (an operator's forward/backward pair),
                                  ``forward_step``/``backward_step`` (a planned call),
                                  ``twin`` (the device version of a host update rule),
                                  ``accumulate`` (``dst += src``)
device                            ``device`` (scope around launches), ``synchronize``
checks                            ``dtypes``, ``check_arrays``, ``check_dtype``,
                                  ``check_operands``
================================  ===========================================================
"""
from __future__ import annotations

import abc
import contextlib

import numpy as np

from ..base import MXNetError

__all__ = ["Backend"]


class Backend(abc.ABC):
    """One device's memory and kernels.

    Parameters
    ----------
    ctx : Context
        The device this object allocates on and launches on.
    """

    #: the kernels' name in messages ("CUDA")
    kind = ""
    #: the ``Context.device_type`` values this backend serves
    serves = ()
    #: dtype names the kernels take; None: every numpy dtype
    dtypes = None
    #: the NDArray class of this device. A slot, not an import: ``ndarray/ndarray.py`` and
    #: ``ndarray/gpu.py`` (the same layer, which import the backends) install their classes
    #: here when they are imported, so ``wrap`` needs no import of ndarray.
    array_class = None

    def __init__(self, ctx):
        self.ctx = ctx

    def __repr__(self):
        return f"<{type(self).__name__} {self.ctx}>"

    # -- memory -------------------------------------------------------------------------------
    @abc.abstractmethod
    def empty(self, shape, dtype):
        """A new buffer of ``shape``/``dtype`` whose contents are unspecified."""

    @abc.abstractmethod
    def zeros(self, shape, dtype, value=0):
        """A new buffer of ``shape``/``dtype`` filled with ``value``."""

    @abc.abstractmethod
    def as_buffer(self, data):
        """``data`` as a buffer of this device: this device's buffers as they are (no copy),
        anything else (numpy, lists, scalars, other devices' buffers) copied here."""

    @abc.abstractmethod
    def to_host(self, buf):
        """The values of ``buf`` as a numpy array (a copy where the device is not the host)."""

    def arena(self, nbytes):
        """Zeroed bytes that planned buffers of non-overlapping lifetimes share."""
        return self.zeros((max(int(nbytes), 1),), np.uint8)

    def view(self, arena, shape, dtype):
        """A typed view of the first bytes of ``arena`` (no copy)."""
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        return arena[:n].view(dtype).reshape(shape)

    # -- arrays -------------------------------------------------------------------------------
    def wrap(self, buf):
        """``buf`` as an NDArray on this device (the device's NDArray class, memory shared)."""
        return self.array_class(buf, self.ctx)

    def raw(self, buf):
        """What a kernel takes for ``buf`` (None stays None)."""
        return buf

    # -- kernels ------------------------------------------------------------------------------
    @abc.abstractmethod
    def kernels(self, op, where):
        """``(forward, backward)`` of operator ``op`` on this device, with the registry's
        signatures; MXNetError naming ``op`` and ``where`` when the device has none."""

    def forward_step(self, fn, ins, outs):
        """``fn`` (a forward kernel) as the executor's plan calls it on these raw buffers."""
        return fn

    def backward_step(self, fn, ograds, ins, outs, igrads):
        """``fn`` (a backward kernel) as the executor's plan calls it on these raw buffers."""
        return fn

    def accumulate(self, dst, src):
        """``dst += src`` for two buffers of this device (a gradient sent from another device
        under ``grad_req='add'``)."""
        dst += src

    def twin(self, host_fn, family):
        """The version of ``host_fn`` (an in-place update rule on host arrays, such as
        ``optimizer.sgd.sgd_step``) that runs on this device; called with buffers."""
        return host_fn

    # -- device -------------------------------------------------------------------------------
    def device(self):
        """A context manager that makes this device current around allocations/launches."""
        return contextlib.nullcontext()

    def synchronize(self):
        """Wait until the kernels queued on this device are done."""

    # -- checks -------------------------------------------------------------------------------
    def check_dtype(self, where, what, dtype):
        """MXNetError unless this device's kernels take ``dtype``."""
        name = np.dtype(dtype).name
        if self.dtypes is not None and name not in self.dtypes:
            raise MXNetError(f"{where} on {self.ctx}: {what} is {name}; the {self.kind} "
                             f"kernels take {' or '.join(self.dtypes)} (use astype)")

    def check_arrays(self, where, arrays):
        """Bind-time check of ``(kind, name, NDArray)`` triples: each lives on a device of this
        backend (and the dtypes are ones its kernels take)."""
        for kind, name, arr in arrays:
            if arr.context.device_type not in self.serves:
                raise MXNetError(f"{where} on {self.ctx}: {kind} '{name}' lives on "
                                 f"{arr.context}; bind on {arr.context} or copy the array to "
                                 f"{self.ctx} first")
            self.check_dtype(where, f"{kind} '{name}'", arr.dtype)

    def check_operands(self, where, ref, others):
        """Check that ``(what, NDArray or None)`` operands of one update may be used with
        ``ref`` on this device; the host accepts any host memory."""
