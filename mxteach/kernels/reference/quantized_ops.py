"""numpy twins of ``kernels/cpu/quantized_ops.py`` (scaled sum, truncating product, int8 ReLU,
round-to-integer, row gather,
per-channel affine): the same names and signatures. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["scaled_sum", "truncating_product", "relu", "round_to_int", "gather_rows",
           "channel_affine"]


def scaled_sum(a, sa, b, sb, lo, hi, out):
    v = (a.astype(np.float32) * np.float32(sa)) + (b.astype(np.float32) * np.float32(sb))
    out[...] = np.clip(np.rint(np.clip(v, lo, hi)), lo, hi)


def truncating_product(a, b, scale, mode, out):
    v = (a.astype(np.int32) * b.astype(np.int32)).astype(np.float32) * np.float32(scale)
    if mode == 0:
        out[...] = v
        return
    v64 = v.astype(np.float64)
    bad = ~np.isfinite(v64) | (v64 >= 2.0 ** 31) | (v64 < -2.0 ** 31)
    t = np.where(bad, -2 ** 31, np.trunc(np.where(bad, 0, v64))).astype(np.int64)
    if mode == 2:
        t = ((t & 255) ^ 128) - 128
    out[...] = t


def relu(x, out):
    out[...] = np.maximum(x, 0)


def round_to_int(x, lo, hi, out):
    out[...] = np.clip(np.rint(np.clip(x.astype(np.float64), lo, hi)), lo, hi)


def gather_rows(idx, weight, out):
    i = np.clip(np.trunc(np.clip(idx.astype(np.float64), -1, weight.shape[0])), 0,
                weight.shape[0] - 1).astype(np.int64)
    out[...] = weight[i]


def channel_affine(x3, inv, w, sh, out3):
    f32 = np.float32
    v = (x3.astype(f32) * f32(inv)) * np.asarray(w, f32).reshape(1, -1, 1)
    v = v + np.asarray(sh, f32).reshape(1, -1, 1)
    out3[...] = np.clip(np.rint(np.clip(v, -128, 127)), -128, 127)
