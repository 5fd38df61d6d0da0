"""Numba CPU kernels of the legacy operators ``Pooling_v1`` (``ops/legacy_v1.py``).

MXNet 1.9.1's ``Pooling_v1`` pads the data with **zeros** before pooling (its max pooling can
return 0 from the padding; the newer ``Pooling`` pads max windows with the lowest value), then
pools the padded array without padding. So the operator pads explicitly (``pad2d``), runs the
ordinary pooling kernels of ``kernels/cpu/conv.py`` on the padded copy, and crops the padded
gradient back (``crop2d``), scaling it for average pooling, which ``Pooling_v1`` always divides
by the full window ``kh * kw``. numpy twins: ``kernels/reference/legacy_v1.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["pad2d", "crop2d", "scale"]


@njit(cache=True, parallel=True)
def pad2d(x, ph, pw, out):
    """out (N, C, H + 2 ph, W + 2 pw) = x in the middle, zeros around."""
    N, C, H, W = x.shape
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        out[n, c, :, :] = 0
        for h in range(H):
            for w in range(W):
                out[n, c, h + ph, w + pw] = x[n, c, h, w]


@njit(cache=True, parallel=True)
def crop2d(gp, ph, pw, factor, accumulate, dx):
    """dx (N, C, H, W) = (or +=) factor * the middle of the padded gradient gp."""
    N, C, H, W = dx.shape
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for h in range(H):
            for w in range(W):
                v = factor * gp[n, c, h + ph, w + pw]
                if accumulate:
                    dx[n, c, h, w] += v
                else:
                    dx[n, c, h, w] = v


@njit(cache=True)
def scale(a, factor):
    """a *= factor (flat)."""
    for i in range(a.size):
        a[i] *= factor
