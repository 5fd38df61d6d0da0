"""The CPU backend: buffers are numpy arrays, kernels are the operators' ``forward``/``backward``
(numpy and the Numba CPU kernels), launches run eagerly, so there is nothing to wait for.

``cpu(i)``, ``cpu_pinned`` and ``cpu_shared`` are all host memory; they are distinct devices
only in that arrays move between them through explicit copies.
"""
from __future__ import annotations

import numpy as np

from . import half
from .base import Backend

__all__ = ["CPUBackend"]


class CPUBackend(Backend):
    """Host memory and the operators' CPU kernels (see :class:`~mxteach.backend.base.Backend`)."""

    kind = "CPU"
    serves = ("cpu", "cpu_pinned", "cpu_shared")

    def empty(self, shape, dtype):
        # zeroed all the same: uninitialised host memory would make results depend on garbage
        return np.zeros(shape, dtype=dtype)

    def zeros(self, shape, dtype, value=0):
        return np.full(shape, value, dtype=dtype) if value else np.zeros(shape, dtype=dtype)

    def as_buffer(self, data):
        return data if isinstance(data, np.ndarray) else np.asarray(data)

    def to_host(self, buf):
        return np.asarray(buf)

    def kernels(self, op, where):
        return op.forward, op.backward

    def forward_step(self, fn, ins, outs):
        # Numba compiles no float16 kernels: such steps run on float32 copies
        return half.widen_forward(fn) if half.needs_widening(ins, outs) else fn

    def backward_step(self, fn, ograds, ins, outs, igrads):
        if half.needs_widening(ins, outs, igrads, ograds or []):
            return half.widen_backward(fn)
        return fn

    def twin(self, host_fn, family):
        """``host_fn`` itself, or where ``kernels/cpu/optim.py`` has a one-pass Numba twin of
        it (``RULE_TWINS``, same arguments and bit-identical results), that twin, which runs
        the numpy ``host_fn`` for operands it does not take (float16, mixed dtypes)."""
        fast = _rule_twins().get(host_fn.__name__) if family == "optim" else None
        if fast is None:
            return host_fn

        def on_buffers(*args):
            if not fast(*args):
                host_fn(*args)
        on_buffers.__name__ = host_fn.__name__
        return on_buffers


def _rule_twins():
    # imported on first use: the Numba kernels load (or compile) only when an optimizer runs
    from ..kernels.cpu.optim import RULE_TWINS
    return RULE_TWINS
