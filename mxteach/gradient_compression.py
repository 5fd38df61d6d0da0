"""2-bit gradient compression with error feedback, laid out bit for bit as MXNet 1.9 sends it.

Each value of a gradient is first added to a *residual* kept by the sender (error feedback:
what was not sent last time is sent later). Then

* residual ``>= threshold``  → code ``11``, the receiver reads ``+threshold``, residual ``-= t``;
* residual ``<= -threshold`` → code ``10``, the receiver reads ``-threshold``, residual ``+= t``;
* otherwise                  → code ``00``, the receiver reads ``0``, the residual keeps it.

Four codes fill a byte, the first value in the two highest bits; sixteen values fill the four
bytes of one float32 word, so ``n`` values travel as ``ceil(n / 16)`` float32 words: 1/16 of the
bytes. The arithmetic is float32 throughout, as MXNet's kernels do it, so the residuals and the
packed words are identical to MXNet's. See notebook 16.
"""
from __future__ import annotations

import numpy as np

__all__ = ["compressed_size", "quantize_2bit", "dequantize_2bit"]

# code value -> the two bits at each position of a byte (position 0 = the highest bits)
_SHIFTS = np.array([6, 4, 2, 0], dtype=np.uint8)


def compressed_size(n):
    """Number of float32 words that carry ``n`` 2-bit codes."""
    return (int(n) + 15) // 16


def quantize_2bit(grad, residual, threshold):
    """Add ``grad`` to ``residual`` (in place) and return the packed 2-bit codes.

    Parameters
    ----------
    grad : numpy.ndarray
        The gradient (any shape; read as flat float32).
    residual : numpy.ndarray
        float32, same size; updated in place (error feedback).
    threshold : float

    Returns
    -------
    numpy.ndarray
        float32 array of ``compressed_size(grad.size)`` words holding the codes.
    """
    t = np.float32(threshold)
    res = residual.reshape(-1)
    res += np.asarray(grad, dtype=np.float32).reshape(-1)
    pos = res >= t
    neg = ~pos & (res <= -t)
    res[pos] -= t
    res[neg] += t          # MXNet subtracts the negative threshold: the same float32 result
    words = compressed_size(res.size)
    codes = np.zeros(words * 16, dtype=np.uint8)
    codes[:res.size][pos] = 3
    codes[:res.size][neg] = 2
    packed = np.bitwise_or.reduce(codes.reshape(-1, 4) << _SHIFTS, axis=1).astype(np.uint8)
    return packed.view(np.float32)


def dequantize_2bit(packed, size, threshold):
    """The float32 values that packed codes stand for (``+t``, ``-t`` or 0), ``size`` of them.

    Parameters
    ----------
    packed : numpy.ndarray
        float32 words from :func:`quantize_2bit` (or their raw bytes as uint8).
    size : int
        Number of values.
    threshold : float

    Returns
    -------
    numpy.ndarray
        float32, flat, ``size`` values.
    """
    raw = np.ascontiguousarray(packed).view(np.uint8)
    codes = ((raw[:, None] >> _SHIFTS) & 3).reshape(-1)[:size]
    t = np.float32(threshold)
    out = np.zeros(size, dtype=np.float32)
    out[codes == 3] = t
    out[codes == 2] = -t    # code 01 never occurs; MXNet reads it as 0 too
    return out
