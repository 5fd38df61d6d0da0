"""numpy twins of ``kernels/cpu/nn_extra_conv.py`` (nearest upsampling and its gradient)."""
from __future__ import annotations

__all__ = ["upsample_forward", "upsample_backward"]


def upsample_forward(x4, scale, c0, accumulate, out4):
    up = x4.repeat(scale, axis=2).repeat(scale, axis=3)
    dst = out4[:, c0:c0 + x4.shape[1]]
    if accumulate:
        dst += up
    else:
        dst[...] = up


def upsample_backward(dy4, scale, c0, accumulate, dx4):
    N, C, H, W = dx4.shape
    s = dy4[:, c0:c0 + C].reshape(N, C, H, scale, W, scale).sum(axis=(3, 5))
    if accumulate:
        dx4 += s
    else:
        dx4[...] = s
