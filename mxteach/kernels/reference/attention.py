"""numpy twins of ``kernels/cpu/attention.py`` (the two batched products of the interleaved
attention operators), written with ``einsum`` on the same 5-D views and with the same names and
signatures. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["scores", "mix"]


def _put(dst, value, mode):
    if mode == 2:
        dst += value
    else:
        dst[...] = value


def scores(a5, ia, b5, ib, scale, mode, out):
    s = np.einsum("ibhd,jbhd->bhij", a5[:, :, :, ia], b5[:, :, :, ib])
    _put(out, scale * s.reshape(-1, *s.shape[2:]), mode)


def mix(b5, ib, w, trans, scale, mode, g5, ic):
    B, H = g5.shape[1:3]
    w4 = (w.transpose(0, 2, 1) if trans else w).reshape(B, H, g5.shape[0], b5.shape[0])
    full = np.zeros(g5.shape)
    full[:, :, :, ic] = scale * np.einsum("bhij,jbhd->ibhd", w4, b5[:, :, :, ib])
    _put(g5, full, mode)
