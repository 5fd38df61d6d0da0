"""Numpy references for ``kernels/cpu/loss.py``: same names, same signatures, written for clarity
rather than speed. The tests run both on the same data."""
from __future__ import annotations

import numpy as np

__all__ = ["softmax_forward", "softmax_backward", "softmax_output_grad"]


def _mask(lengths, n):
    """(pre, n, post) booleans: True where position j < lengths[i, k]."""
    return np.arange(n)[None, :, None] < np.clip(lengths, 0, n)[:, None, :]


def softmax_forward(x, lengths, temperature, use_log, out):
    keep = _mask(lengths, x.shape[1])
    z = x.astype(np.float64)
    top = np.where(keep, z, -np.inf).max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    shifted = (z - top) / temperature
    e = np.where(keep, np.exp(np.where(keep, shifted, 0.0)), 0.0)
    total = e.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = shifted - np.log(total) if use_log else e / total
    out[...] = np.where(keep, y, 0.0)


def softmax_backward(out, ograd, lengths, temperature, use_log, accumulate, igrad):
    keep = _mask(lengths, out.shape[1])
    o = out.astype(np.float64)
    g = np.where(keep, ograd.astype(np.float64), 0.0)
    if use_log:
        v = (g - np.exp(o) * g.sum(axis=1, keepdims=True)) / temperature
    else:
        v = o * (g - (g * o).sum(axis=1, keepdims=True)) / temperature
    v = np.where(keep, v, 0.0)
    if accumulate:
        igrad += v
    else:
        igrad[...] = v


def softmax_output_grad(out, label, ignore_label, use_ignore, smooth_alpha, scale,
                        times_out, accumulate, grad):
    n, classes, d = out.shape
    lab = np.trunc(label).astype(np.int64)                       # (n, d)
    hot = (np.arange(classes)[None, :, None] == lab[:, None, :])  # (n, classes, d)
    if smooth_alpha != 0.0:
        off = smooth_alpha / (classes - 1) if classes > 1 else 0.0
        target = np.where(hot, 1.0 - smooth_alpha, off)
    else:
        target = hot.astype(np.float64)
    v = (out.astype(np.float64) - target) * scale
    if times_out:
        v = v * out
    if use_ignore:
        v = np.where((lab == int(ignore_label))[:, None, :], 0.0, v)
    if accumulate:
        grad += v
    else:
        grad[...] = v
