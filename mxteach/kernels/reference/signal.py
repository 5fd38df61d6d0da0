"""numpy twins of ``kernels/cpu/signal.py`` (the DFT of fft/ifft, the count sketch): the same
names and signatures. ``dft`` here multiplies by the d x d matrix of ``exp(sign 2 pi i j k / d)``
(the definition), not by an FFT. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["dft", "sketch_forward", "sketch_backward"]


def dft(src, is_complex, sign, take_real, accumulate, dst):
    z = src[:, 0::2] + 1j * src[:, 1::2] if is_complex else src.astype(np.complex128)
    d = z.shape[1]
    jk = np.outer(np.arange(d), np.arange(d))
    out = z @ np.exp(sign * 2j * np.pi * jk / d)
    value = out.real if take_real else np.stack([out.real, out.imag], -1).reshape(len(z), -1)
    if accumulate:
        dst += value.astype(dst.dtype)
    else:
        dst[...] = value


def sketch_forward(x, h, s, out):
    out[...] = 0
    rows = np.repeat(np.arange(x.shape[0]), x.shape[1])
    np.add.at(out, (rows, np.tile(h.astype(np.int64), x.shape[0])), (x * s).reshape(-1))


def sketch_backward(dy, h, s, accumulate, dx):
    value = dy[:, h.astype(np.int64)] * s
    if accumulate:
        dx += value
    else:
        dx[...] = value
