"""Numba CPU kernels of UpSampling's nearest mode (``ops/nn_extra_conv.py``); Deconvolution and
bilinear UpSampling reuse the convolution kernels of ``kernels/cpu/conv.py``.

Nearest upsampling by an integer ``scale`` copies input pixel ``(i, j)`` into the
``scale x scale`` block of output pixels ``(i*scale + u, j*scale + v)``. Several inputs share
one output: ``c0`` is the first output channel this input fills (concat mode), and
``accumulate`` adds instead of writing (sum mode). The backward sums each block back into its
pixel: every input-gradient element is written by one loop iteration, so it runs in parallel.
numpy twins: ``kernels/reference/nn_extra_conv.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["upsample_forward", "upsample_backward"]


@njit(cache=True, parallel=True)
def upsample_forward(x4, scale, c0, accumulate, out4):
    """``out4[n, c0 + c, i, j] (+)= x4[n, c, i // scale, j // scale]``."""
    N, C, _, _ = x4.shape
    OH, OW = out4.shape[2], out4.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for i in range(OH):
            for j in range(OW):
                v = x4[n, c, i // scale, j // scale]
                if accumulate:
                    out4[n, c0 + c, i, j] += v
                else:
                    out4[n, c0 + c, i, j] = v


@njit(cache=True, parallel=True)
def upsample_backward(dy4, scale, c0, accumulate, dx4):
    """``dx4[n, c, i, j] (+)= sum of dy4[n, c0 + c]`` over pixel (i, j)'s output block."""
    N, C, H, W = dx4.shape
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for i in range(H):
            for j in range(W):
                s = 0.0
                for u in range(scale):
                    for v in range(scale):
                        s += dy4[n, c0 + c, i * scale + u, j * scale + v]
                if accumulate:
                    dx4[n, c, i, j] += s
                else:
                    dx4[n, c, i, j] = s
