"""CUDA twins of ``kernels/cpu/nn_extra_conv.py``: nearest upsampling (one thread per output
element of this input's channels) and its gradient (one thread per input pixel, summing its
``scale x scale`` block: no two threads write the same element, no atomics)."""
from __future__ import annotations

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["upsample_forward", "upsample_backward"]

_A4 = "{t}[:, :, :, ::1]"
PTX_SIGNATURES = {
    "_upsample_forward_kernel": [f"{_A4}, int64, int64, boolean, {_A4}"],
    "_upsample_backward_kernel": [f"{_A4}, int64, int64, boolean, {_A4}"],
}


# twin of kernels/cpu/nn_extra_conv.py:upsample_forward (one thread per output element)
@cuda.jit
def _upsample_forward_kernel(x4, scale, c0, accumulate, out4):
    N, C, _, _ = x4.shape
    OH, OW = out4.shape[2], out4.shape[3]
    for e in range(cuda.grid(1), N * C * OH * OW, cuda.gridsize(1)):
        n, c = e // (C * OH * OW), (e // (OH * OW)) % C
        i, j = (e // OW) % OH, e % OW
        v = x4[n, c, i // scale, j // scale]
        if accumulate:
            out4[n, c0 + c, i, j] += v
        else:
            out4[n, c0 + c, i, j] = v


# twin of kernels/cpu/nn_extra_conv.py:upsample_backward (one thread per input pixel)
@cuda.jit
def _upsample_backward_kernel(dy4, scale, c0, accumulate, dx4):
    N, C, H, W = dx4.shape
    for e in range(cuda.grid(1), N * C * H * W, cuda.gridsize(1)):
        n, c = e // (C * H * W), (e // (H * W)) % C
        i, j = (e // W) % H, e % W
        s = 0.0
        for u in range(scale):
            for v in range(scale):
                s += dy4[n, c0 + c, i * scale + u, j * scale + v]
        if accumulate:
            dx4[n, c, i, j] += s
        else:
            dx4[n, c, i, j] = s


def upsample_forward(x4, scale, c0, accumulate, out4):
    """``out4[n, c0 + c, i, j] (+)= x4[n, c, i // scale, j // scale]``."""
    check_device_arrays("upsample_forward", x4=x4, out4=out4)
    n, c = x4.shape[0], x4.shape[1]
    blocks, threads = grid_1d(n * c * out4.shape[2] * out4.shape[3])
    _upsample_forward_kernel[blocks, threads](x4, int(scale), int(c0), bool(accumulate), out4)


def upsample_backward(dy4, scale, c0, accumulate, dx4):
    """``dx4[n, c, i, j] (+)= the sum of dy4[n, c0 + c]`` over the pixel's output block."""
    check_device_arrays("upsample_backward", dy4=dy4, dx4=dx4)
    blocks, threads = grid_1d(dx4.size)
    _upsample_backward_kernel[blocks, threads](dy4, int(scale), int(c0), bool(accumulate), dx4)
