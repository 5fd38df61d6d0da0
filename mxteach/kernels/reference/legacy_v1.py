"""numpy twins of ``kernels/cpu/legacy_v1.py`` (Pooling_v1's zero padding and gradient crop):
the same names and signatures. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["pad2d", "crop2d", "scale"]


def pad2d(x, ph, pw, out):
    out[...] = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def crop2d(gp, ph, pw, factor, accumulate, dx):
    H, W = dx.shape[2:]
    middle = factor * gp[:, :, ph:ph + H, pw:pw + W]
    if accumulate:
        dx += middle
    else:
        dx[...] = middle


def scale(a, factor):
    a *= factor
