"""CUDA twins of ``kernels/cpu/attention.py``: the two batched products (``scores``, ``mix``)
of the interleaved attention operators on the same 5-D ``(S, B, H, C, D)`` views; numpy twins
in ``kernels/reference/attention.py``.

**Launch strategy.** One thread per *output* element (grid-stride): an attention score or one
entry of a mixed projection, each a dot product over ``D`` or over the weights' row computed by
its own thread, so no two threads write one value (no atomics). ``mix`` covers the whole output
array and writes 0 to the components it does not own, as on the CPU.
"""
from __future__ import annotations

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["scores", "mix"]

_A5 = "{t}[:, :, :, :, ::1]"
PTX_SIGNATURES = {
    "_scores_kernel": [f"{_A5}, int64, {_A5}, int64, float64, int64, {{t}}[:, :, ::1]"],
    "_mix_kernel": [f"{_A5}, int64, {{t}}[:, :, ::1], boolean, float64, int64, {_A5}, int64"],
}


@cuda.jit
def _scores_kernel(a5, ia, b5, ib, scale, mode, out):
    Sq, B, H, _, D = a5.shape
    Sk = b5.shape[0]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, B * H * Sq * Sk, stride):
        j = t % Sk
        i = (t // Sk) % Sq
        bh = t // (Sk * Sq)
        b, h = bh // H, bh % H
        s = 0.0
        for d in range(D):
            s += a5[i, b, h, ia, d] * b5[j, b, h, ib, d]
        if mode == 2:
            out[bh, i, j] += scale * s
        else:
            out[bh, i, j] = scale * s


@cuda.jit
def _mix_kernel(b5, ib, w, trans, scale, mode, g5, ic):
    S, B, H, C, D = g5.shape
    J = b5.shape[0]
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, S * B * H * C * D, stride):
        d = t % D
        c = (t // D) % C
        h = (t // (D * C)) % H
        b = (t // (D * C * H)) % B
        i = t // (D * C * H * B)
        bh = b * H + h
        s = 0.0
        if c == ic:
            for j in range(J):
                s += (w[bh, j, i] if trans else w[bh, i, j]) * b5[j, b, h, ib, d]
        if mode == 2:
            g5[i, b, h, c, d] += scale * s
        else:
            g5[i, b, h, c, d] = scale * s


def scores(a5, ia, b5, ib, scale, mode, out):
    check_device_arrays("scores", a5=a5, b5=b5, out=out)
    _scores_kernel[grid_1d(out.size)](a5, ia, b5, ib, scale, mode, out)


def mix(b5, ib, w, trans, scale, mode, g5, ic):
    check_device_arrays("mix", b5=b5, w=w, g5=g5)
    _mix_kernel[grid_1d(g5.size)](b5, ib, w, trans, scale, mode, g5, ic)
