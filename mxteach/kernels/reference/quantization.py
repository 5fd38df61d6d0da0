"""numpy twins of ``kernels/cpu/quantization.py`` (the MKL-DNN style scale-and-round, the
asymmetric uint8 quantization and calibrate_entropy's divergence search): the same names and
signatures, written with numpy. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["scale_round", "asym_quantize", "entropy_divergences", "bias_to_int"]


def scale_round(x, scale, lo, hi, out):
    v = x.astype(np.float32) * np.float32(scale)
    out[...] = np.clip(np.rint(np.clip(v, lo, hi)), lo, hi)   # np.rint rounds half to even


def asym_quantize(x, scale, shift, out):
    v = (x.astype(np.float32) * np.float32(scale) + np.float32(shift)).astype(np.float64) + 0.5
    bad = ~np.isfinite(v) | (v >= 2.0 ** 31) | (v < -2.0 ** 31)
    t = np.where(bad, -2.0 ** 31, np.trunc(np.where(bad, 0.0, v))).astype(np.int64)
    out[...] = t & 255


def bias_to_int(y3, bias, out3):
    out3[...] = y3.astype(np.int64) + np.asarray(bias, np.int64).reshape(1, -1, 1)


def _smooth(p):
    eps = np.float32(0.0001)
    zeros = int((p == 0).sum())
    nonzeros = p.size - zeros
    if nonzeros == 0:
        return None
    eps1 = np.float32(eps * np.float32(zeros) / np.float32(nonzeros))
    if eps1 >= 1.0:
        return None
    z = (p == 0).astype(np.float32)
    return (p + (eps * z - eps1 * (np.float32(1) - z))).astype(np.float32)


def entropy_divergences(hist, edges, nqb, thresholds, divergence, status):
    nb = hist.size
    zero, half = nb // 2, nqb // 2
    for t in range(thresholds.size):
        i = t + half
        start, stop = zero - i, zero + i + 1
        m = stop - start
        thresholds[t] = edges[stop]
        status[t] = 0
        p = np.zeros(m, np.float32)
        for j in range(start + 1):                  # sequential float32 sums, as MXNet
            p[0] += hist[j]
        p[1:m] = hist[start + 1:stop]
        for j in range(stop, nb):
            p[m - 1] += hist[j]
        sliced = np.zeros(m, np.int64)
        sliced[1:] = hist[start + 1:stop].astype(np.int64)
        merged = m // nqb
        qbins = np.array([sliced[j * merged:(j + 1) * merged].sum() for j in range(nqb)],
                         np.float32)
        qbins[-1] += np.float32(sliced[nqb * merged:].sum())
        q = np.zeros(m, np.float32)
        for j in range(nqb):
            lo, hi = j * merged, (m if j == nqb - 1 else (j + 1) * merged)
            norm = int((sliced[lo:hi] != 0).sum())
            if norm:
                keep = p[lo:hi] != 0
                q[lo:hi][keep] = qbins[j] / np.float32(norm)
        ps, qs = _smooth(p), _smooth(q)
        if qs is None:
            divergence[t] = np.inf
            continue
        if ps is None:
            status[t] = 1
            continue
        psum, qsum = np.float32(0), np.float32(0)
        for k in range(m):
            psum += ps[k]
            qsum += qs[k]
        a, b = ps / psum, qs / qsum
        if not ((a > 0) & (b > 0)).all():
            status[t] = 1
            continue
        ret = np.float32(0)
        for k in range(m):
            ret += a[k] * np.float32(np.log(np.float64(np.float32(a[k] / b[k]))))
        divergence[t] = ret
