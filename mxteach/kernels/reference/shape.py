"""Numpy references for ``kernels/cpu/shape.py``: same names, same signatures, written for
clarity rather than speed. The tests run both on the same data."""
from __future__ import annotations

import numpy as np

from ..cpu.shape import TAKE_MODES

__all__ = ["TAKE_MODES", "take_indices", "take_forward", "take_backward", "one_hot_fill",
           "sequence_mask"]


def take_indices(raw, n, mode, out):
    j = np.trunc(np.asarray(raw, dtype=np.float64)).astype(np.int64).reshape(-1)
    if mode == 0:
        out[...] = np.clip(j, 0, n - 1)
        return -1
    if mode == 1:
        out[...] = np.mod(j, n)
        return -1
    out[...] = j
    bad = np.flatnonzero((j < 0) | (j >= n))
    return int(bad[0]) if bad.size else -1


def take_forward(a, idx, out):
    out[...] = a[:, idx, :]


def take_backward(ograd, idx, accumulate, agrad):
    if not accumulate:
        agrad[...] = 0
    np.add.at(agrad, (slice(None), idx, slice(None)), ograd)


def one_hot_fill(indices, on_value, off_value, out):
    hot = np.trunc(np.asarray(indices, dtype=np.float64)).astype(np.int64).reshape(-1, 1)
    out[...] = np.where(np.arange(out.shape[1])[None, :] == hot, on_value, off_value)


def sequence_mask(x, lengths, value, batch_major, accumulate, out):
    d0, d1, _ = x.shape
    steps = np.arange(d1 if batch_major else d0)
    lens = np.trunc(np.asarray(lengths, dtype=np.float64)).astype(np.int64)
    keep = steps[None, :] < lens[:, None]            # (batch, time)
    keep = (keep if batch_major else keep.T)[:, :, None]
    if accumulate:
        out += np.where(keep, x, 0)
    else:
        out[...] = np.where(keep, x, value)
