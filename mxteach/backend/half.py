"""float16 graphs on the CPU: Numba compiles no float16 kernels, so an operator whose arrays
are float16 runs on float32 copies and its results are stored back as float16.

The bound arrays (arguments, gradients, outputs) stay float16 — what the student asked for and
what ``dtype`` reports — while the arithmetic of each step is done in float32, as mixed
precision hardware does. Only steps that touch a float16 array pay for the copies.
"""
from __future__ import annotations

import numpy as np

__all__ = ["needs_widening", "widen_forward", "widen_backward"]

_HALF = np.dtype(np.float16)


def needs_widening(*groups):
    """True when any array of the given lists is float16."""
    return any(a is not None and a.dtype == _HALF for g in groups for a in g)


def _wide(a):
    return a.astype(np.float32) if a is not None and a.dtype == _HALF else a


def _store(dst, src):
    if dst is not None and src is not dst:
        dst[...] = src


def widen_forward(fn):
    """``fn(p, ins, outs, is_train, state)`` computed on float32 copies of float16 arrays."""
    def step(p, ins, outs, is_train, state):
        wide_outs = [_wide(o) for o in outs]
        fn(p, [_wide(a) for a in ins], wide_outs, is_train, state)
        for dst, src in zip(outs, wide_outs):
            _store(dst, src)
    return step


def widen_backward(fn):
    """``fn(p, ograds, ins, outs, igrads, reqs, state)`` likewise; input gradients start
    from their current values so ``grad_req='add'`` keeps accumulating."""
    def step(p, ograds, ins, outs, igrads, reqs, state):
        wide_ig = [_wide(g) for g in igrads]
        fn(p, None if ograds is None else [_wide(g) for g in ograds],
           [_wide(a) for a in ins], [_wide(o) for o in outs], wide_ig, reqs, state)
        for dst, src in zip(igrads, wide_ig):
            _store(dst, src)
    return step
