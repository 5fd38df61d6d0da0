"""CUDA twins of ``kernels/cpu/quantization.py``: the scale-and-round of quantize, quantize_v2 and
requantize, dequantize's scaling, quantize_asym's truncating uint8 map, and the data min/max that
quantize_v2 and requantize read when no calibration range is given. numpy twins in
``kernels/reference/quantization.py``.

**Bit parity with the CPU.** The product ``float32(x) * scale`` is formed in float64 (exact for
two float32 factors) and rounded once to float32, and the asymmetric map rounds after each
step: the compiler cannot fuse a multiply and an add into one FMA, which would round
differently from MXNet's CPU. One thread per element; the min/max is one block that strides
over the data and combines its threads' partial results in thread 0 (deterministic: min and
max do not depend on the order). calibrate_entropy (CPU only in MXNet 1.9.1) runs one thread per candidate
threshold, each with its own rows of workspace, in the float32 order of the CPU kernel.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32, float64, int32

from .launch import grid_1d, check_device_arrays
from ..cpu import quantization as _cpu

__all__ = ["scale_round", "scale", "asym_quantize", "min_max", "to_float64", "bias_to_int",
           "entropy_divergences"]

PTX_SIGNATURES = {
    "_scale_round_kernel": ["{t}[::1], float32, float64, float64, int8[::1]",
                            "{t}[::1], float32, float64, float64, uint8[::1]",
                            "int32[::1], float32, float64, float64, int8[::1]",
                            "int32[::1], float32, float64, float64, uint8[::1]"],
    "_scale_kernel": ["int8[::1], float32, float32[::1]", "uint8[::1], float32, float32[::1]"],
    "_asym_kernel": ["{t}[::1], float32, float32, uint8[::1]",
                     "int8[::1], float32, float32, uint8[::1]"],
    "_min_max_kernel": ["{t}[::1], float64[::1]", "int32[::1], float64[::1]"],
    "_to_float64_kernel": ["int8[::1], float64[::1]", "uint8[::1], float64[::1]"],
    "_bias_int_kernel": ["float64[:, :, ::1], int32[::1], int32[:, :, ::1]"],
    "_entropy_kernel": ["float32[::1], float32[::1], int64, float32[::1], float32[::1], "
                        "int64[::1], int64[:, ::1], float32[:, ::1], float32[:, ::1], "
                        "float32[:, ::1]"],
}

_THREADS = 32


# the CPU helper's one body (half to even, saturating), compiled for the device
_round_saturate = cuda.jit(device=True)(_cpu._round_saturate.py_func)


@cuda.jit
def _scale_round_kernel(x, scale, lo, hi, out):
    start = cuda.grid(1)
    for i in range(start, x.shape[0], cuda.gridsize(1)):
        v = float32(float64(float32(x[i])) * float64(scale))
        out[i] = _round_saturate(float64(v), lo, hi)


@cuda.jit
def _scale_kernel(x, scale, out):
    start = cuda.grid(1)
    for i in range(start, x.shape[0], cuda.gridsize(1)):
        out[i] = float32(float64(x[i]) * float64(scale))


@cuda.jit
def _asym_kernel(x, scale, shift, out):
    start = cuda.grid(1)
    for i in range(start, x.shape[0], cuda.gridsize(1)):
        v = float32(float64(float32(x[i])) * float64(scale))
        v = float64(float32(float64(v) + float64(shift))) + 0.5
        t = -2147483648
        if v == v and -2147483648.0 <= v < 2147483648.0:
            t = int(v)
        out[i] = t & 255


@cuda.jit
def _min_max_kernel(x, out):
    lo_buf = cuda.shared.array(_THREADS, np.float64)
    hi_buf = cuda.shared.array(_THREADS, np.float64)
    tid = cuda.threadIdx.x
    lo, hi = math.inf, -math.inf
    for i in range(tid, x.shape[0], _THREADS):
        v = float64(x[i])
        lo = min(lo, v)
        hi = max(hi, v)
    lo_buf[tid] = lo
    hi_buf[tid] = hi
    cuda.syncthreads()
    if tid == 0:
        for k in range(1, _THREADS):
            lo = min(lo, lo_buf[k])
            hi = max(hi, hi_buf[k])
        out[0] = lo
        out[1] = hi


@cuda.jit
def _to_float64_kernel(x, out):
    start = cuda.grid(1)
    for i in range(start, x.shape[0], cuda.gridsize(1)):
        out[i] = float64(x[i])


@cuda.jit
def _bias_int_kernel(y3, bias, out3):
    A, Cn, B = y3.shape
    start = cuda.grid(1)
    for i in range(start, A * Cn * B, cuda.gridsize(1)):
        b = i % B
        c = (i // B) % Cn
        a = i // (B * Cn)
        out3[a, c, b] = int32(y3[a, c, b]) + bias[c]


def to_float64(x, out):
    """float64 copy of flat int8/uint8 data (the quantized GEMM layers compute exact integer
    sums in float64 with the float layers' kernels)."""
    check_device_arrays("to_float64", x=x, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _to_float64_kernel[blocks, threads](x, out)


def bias_to_int(y3, bias, out3):
    """``out[a, c, b] = int(y[a, c, b]) + bias[c]`` (int32)."""
    check_device_arrays("bias_to_int", y3=y3, bias=bias, out3=out3)
    blocks, threads = grid_1d(y3.size)
    _bias_int_kernel[blocks, threads](y3, bias, out3)


def scale_round(x, scale, lo, hi, out):
    """Launch ``_scale_round_kernel`` on flat device arrays (``scale``: a float32)."""
    check_device_arrays("scale_round", x=x, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _scale_round_kernel[blocks, threads](x, np.float32(scale), float(lo), float(hi), out)


def scale(x, factor, out):
    """dequantize: ``out = float32(x) * factor`` (one float32 rounding, as on the CPU)."""
    check_device_arrays("scale", x=x, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _scale_kernel[blocks, threads](x, np.float32(factor), out)


def asym_quantize(x, scale, shift, out):
    """Launch ``_asym_kernel`` on flat device arrays."""
    check_device_arrays("asym_quantize", x=x, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _asym_kernel[blocks, threads](x, np.float32(scale), np.float32(shift), out)


def min_max(x):
    """(min, max) of a flat device array, as host floats (exact for float32 and int32)."""
    check_device_arrays("min_max", x=x)
    res = cuda.device_array(2, np.float64)
    _min_max_kernel[1, _THREADS](x, res)
    lo, hi = res.copy_to_host()
    return lo, hi


@cuda.jit(device=True)
def _add32(a, b):
    """float32(a + b) without FMA contraction."""
    return float32(float64(a) + float64(b))


@cuda.jit(device=True)
def _smooth_row(p, out, m):
    eps = float32(0.0001)
    zeros = 0
    for k in range(m):
        if p[k] == 0:
            zeros += 1
    nonzeros = m - zeros
    if nonzeros == 0:
        return False
    eps1 = float32(float32(float64(eps) * float64(float32(zeros))) / float32(nonzeros))
    if eps1 >= 1.0:
        return False
    for k in range(m):
        d = eps if p[k] == 0 else -eps1
        out[k] = _add32(p[k], d)
    return True


@cuda.jit
def _entropy_kernel(hist, edges, nqb, thresholds, divergence, status, sliced, p, q, tmp):
    """One thread per candidate threshold ``t``; row ``t`` of the workspaces is its own."""
    t = cuda.grid(1)
    if t >= thresholds.shape[0]:
        return
    nb = hist.shape[0]
    zero = nb // 2
    i = t + nqb // 2
    start, stop = zero - i, zero + i + 1
    m = stop - start
    thresholds[t] = edges[stop]
    status[t] = 0
    sl, pp, qq, sm = sliced[t], p[t], q[t], tmp[t]
    for k in range(m):
        sl[k] = 0
        pp[k] = 0
        qq[k] = 0
    for j in range(nb):
        if j <= start:
            pp[0] = _add32(pp[0], hist[j])
        elif j >= stop:
            pp[m - 1] = _add32(pp[m - 1], hist[j])
        else:
            sl[j - start] = int(hist[j])
            pp[j - start] = hist[j]
    merged = m // nqb
    for j in range(nqb):
        lo = j * merged
        hi = m if j == nqb - 1 else (j + 1) * merged
        s = 0
        for k in range(lo, (j + 1) * merged):
            s += sl[k]
        qbin = float32(s)
        if j == nqb - 1:
            s = 0
            for k in range(nqb * merged, m):
                s += sl[k]
            qbin = _add32(qbin, float32(s))
        norm = 0
        for k in range(lo, hi):
            if sl[k] != 0:
                norm += 1
        if norm:
            for k in range(lo, hi):
                if pp[k] != 0:
                    qq[k] = qbin / float32(norm)
    if not _smooth_row(qq, sm, m):
        divergence[t] = math.inf
        return
    for k in range(m):
        qq[k] = sm[k]
    if not _smooth_row(pp, sm, m):
        status[t] = 1
        return
    psum = float32(0.0)
    qsum = float32(0.0)
    for k in range(m):
        psum = _add32(psum, sm[k])
        qsum = _add32(qsum, qq[k])
    ret = float32(0.0)
    for k in range(m):
        a = sm[k] / psum
        b = qq[k] / qsum
        if not (a > 0 and b > 0):
            status[t] = 1
            return
        lg = float32(math.log(float64(float32(a / b))))
        ret = _add32(ret, float32(float64(a) * float64(lg)))
    divergence[t] = ret


def entropy_divergences(hist, edges, nqb, thresholds, divergence, status):
    """Launch ``_entropy_kernel`` (device arrays; workspace rows allocated here)."""
    check_device_arrays("entropy_divergences", hist=hist, edges=edges, thresholds=thresholds,
                        divergence=divergence, status=status)
    n, nb = thresholds.shape[0], hist.shape[0]
    sliced = cuda.device_array((n, nb), np.int64)
    p, q, tmp = (cuda.device_array((n, nb), np.float32) for _ in range(3))
    blocks, threads = grid_1d(n)
    _entropy_kernel[-(-n // threads), threads](hist, edges, int(nqb), thresholds, divergence,
                                                status, sliced, p, q, tmp)
