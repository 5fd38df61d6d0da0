"""Numba CPU kernels of the int8 quantization operators (``ops/quantization.py``).

MXNet 1.9.1's CPU build runs quantize, quantize_v2 and requantize through MKL-DNN *reorders*
with one output scale: each element becomes ``saturate(round(float32(x) * scale))`` with the
product in float32 and round-half-to-even (the CPU's default rounding mode), so ``scale_round``
is the one kernel behind all three (dequantize's single float32 product needs no kernel).
``asym_quantize`` is quantize_asym's own loop (``uint8(x * scale + shift + 0.5)``, truncating),
``bias_to_int`` adds the int32 bias of quantized_fully_connected/quantized_conv, and
``entropy_divergences`` is calibrate_entropy's search for the histogram threshold with the
smallest KL divergence.

Every kernel has a numpy twin with the same name and signature in
``kernels/reference/quantization.py``; the CUDA twins are in ``kernels/cuda/quantization.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["scale_round", "asym_quantize", "entropy_divergences", "bias_to_int"]


@njit(cache=True, inline="always")
def _round_saturate(v, lo, hi):
    """``v`` rounded half to even and clamped to [lo, hi] (saturation before rounding also
    keeps infinities out of ``floor``)."""
    if v >= hi:
        return hi
    if v <= lo:
        return lo
    r = math.floor(v)
    d = v - r
    if d > 0.5 or (d == 0.5 and r % 2 != 0):
        r += 1
    return r


@njit(cache=True, parallel=True)
def scale_round(x, scale, lo, hi, out):
    """``out[i] = saturate(round_half_even(float32(x[i]) * scale), lo, hi)`` on flat arrays;
    ``scale`` is a float32 scalar, so the product is rounded to float32 as in MKL-DNN."""
    for i in prange(x.shape[0]):
        out[i] = _round_saturate(np.float32(x[i]) * scale, lo, hi)


@njit(cache=True, parallel=True)
def asym_quantize(x, scale, shift, out):
    """quantize_asym: ``float32(x * scale + shift)`` plus the double 0.5, truncated to an int32
    and stored as its low byte (what the x86 conversion to uint8 does out of range too)."""
    for i in prange(x.shape[0]):
        v = np.float64(np.float32(np.float32(x[i]) * scale) + shift) + 0.5
        if v != v or v >= 2147483648.0 or v < -2147483648.0:
            t = -2147483648
        else:
            t = int(v)
        out[i] = t & 255


@njit(cache=True, inline="always")
def _smooth(p, out):
    """MXNet's SmoothDistribution: zeros get eps, the others lose eps * zeros / nonzeros.
    Returns False where MXNet returns an empty distribution."""
    eps = np.float32(0.0001)
    zeros = 0
    for v in p:
        if v == 0:
            zeros += 1
    nonzeros = p.shape[0] - zeros
    if nonzeros == 0:
        return False
    eps1 = np.float32(eps * np.float32(zeros) / np.float32(nonzeros))
    if eps1 >= 1.0:
        return False
    for k in range(p.shape[0]):
        z = np.float32(1.0) if p[k] == 0 else np.float32(0.0)
        out[k] = p[k] + (eps * z - eps1 * (np.float32(1.0) - z))
    return True


@njit(cache=True)
def entropy_divergences(hist, edges, nqb, thresholds, divergence, status):
    """For every candidate half-width ``i`` (``nqb // 2 .. len(hist) // 2``): the threshold
    ``edges[zero + i + 1]`` and the KL divergence of the clipped histogram from its ``nqb``-bin
    quantization, all in float32 as MXNet computes them. ``status[t]`` is 1 where MXNet's
    ``CHECK(p > 0 && q > 0)`` would fail (the operator raises), else 0."""
    nb = hist.shape[0]
    zero = nb // 2
    half = nqb // 2
    for t in range(thresholds.shape[0]):
        i = t + half
        start, stop = zero - i, zero + i + 1
        m = stop - start
        thresholds[t] = edges[stop]
        status[t] = 0
        sliced = np.zeros(m, np.int64)      # MXNet keeps the bins as integers (size_t)
        p = np.zeros(m, np.float32)
        for j in range(nb):
            if j <= start:
                p[0] += hist[j]
            elif j >= stop:
                p[m - 1] += hist[j]
            else:
                sliced[j - start] = np.int64(hist[j])
                p[j - start] = hist[j]
        merged = m // nqb
        qbins = np.zeros(nqb, np.float32)
        for j in range(nqb):
            s = 0
            for k in range(j * merged, (j + 1) * merged):
                s += sliced[k]
            qbins[j] = np.float32(s)
        s = 0
        for k in range(nqb * merged, m):
            s += sliced[k]
        qbins[nqb - 1] += np.float32(s)
        q = np.zeros(m, np.float32)
        for j in range(nqb):
            lo = j * merged
            hi = m if j == nqb - 1 else (j + 1) * merged
            norm = 0
            for k in range(lo, hi):
                if sliced[k] != 0:
                    norm += 1
            if norm:
                for k in range(lo, hi):
                    if p[k] != 0:
                        q[k] = qbins[j] / np.float32(norm)
        ps = np.empty(m, np.float32)
        qs = np.empty(m, np.float32)
        okp = _smooth(p, ps)
        okq = _smooth(q, qs)
        if not okq:
            divergence[t] = np.inf
            continue
        if not okp:
            status[t] = 1
            continue
        psum = np.float32(0.0)
        qsum = np.float32(0.0)
        for k in range(m):
            psum += ps[k]
            qsum += qs[k]
        ret = np.float32(0.0)
        for k in range(m):
            a = ps[k] / psum
            b = qs[k] / qsum
            if not (a > 0 and b > 0):
                status[t] = 1
                break
            # float32 log, correctly rounded (glibc's logf, which MXNet calls, is)
            ret += a * np.float32(math.log(np.float64(np.float32(a / b))))
        divergence[t] = ret


@njit(cache=True, parallel=True)
def bias_to_int(y3, bias, out3):
    """The quantized GEMM layers' int32 result: ``out[a, c, b] = int(y[a, c, b]) + bias[c]``,
    ``y`` being the exact integer sums computed in float64."""
    A, Cn, B = y3.shape
    for a in prange(A):
        for c in range(Cn):
            for b in range(B):
                out3[a, c, b] = np.int64(y3[a, c, b]) + bias[c]
