"""CPU kernels of the signal operators (``ops/signal.py``): the discrete Fourier transforms of
``fft`` / ``ifft`` and the count sketch of ``count_sketch``.

``dft(src, is_complex, sign, take_real, accumulate, dst)`` transforms every row of ``src``:
``z_k = sum_j x_j exp(sign * 2 pi i j k / d)``, **unnormalised** in both directions (MXNet's
cuFFT calls divide by nothing). Complex rows are interleaved ``(re, im)`` pairs (``(N, 2 d)``),
real rows ``(N, d)``; ``take_real`` keeps ``Re z`` (``(N, d)``) instead of the interleaved
pairs. The four uses: fft forward (real, sign -1), its backward (complex, +1, real part), ifft
forward (complex, +1, real part), its backward (real, -1). Numba has no FFT, so this one is
numpy's ``fft`` (O(d log d)); the CUDA twin sums directly.

``sketch_forward``: ``out[n, h[i]] += s[i] * x[n, i]`` (out zeroed first); ``sketch_backward``:
``dx[n, i] = s[i] * dy[n, h[i]]``. numpy twins: ``kernels/reference/signal.py``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["dft", "sketch_forward", "sketch_backward"]


def dft(src, is_complex, sign, take_real, accumulate, dst):
    z = src[:, 0::2] + 1j * src[:, 1::2] if is_complex else src.astype(np.complex128)
    d = z.shape[1]
    # numpy's inverse divides by d: undo it, MXNet's transforms are unnormalised
    out = np.fft.fft(z, axis=1) if sign < 0 else np.fft.ifft(z, axis=1) * d
    if take_real:
        value = out.real
    else:
        value = np.empty((z.shape[0], 2 * d))
        value[:, 0::2], value[:, 1::2] = out.real, out.imag
    if accumulate:
        dst += value.astype(dst.dtype)
    else:
        dst[...] = value


@njit(cache=True, parallel=True)
def sketch_forward(x, h, s, out):
    N, D = x.shape
    for n in prange(N):
        out[n, :] = 0
        for i in range(D):
            out[n, int(h[i])] += s[i] * x[n, i]


@njit(cache=True, parallel=True)
def sketch_backward(dy, h, s, accumulate, dx):
    N, D = dx.shape
    for n in prange(N):
        for i in range(D):
            v = s[i] * dy[n, int(h[i])]
            if accumulate:
                dx[n, i] += v
            else:
                dx[n, i] = v
