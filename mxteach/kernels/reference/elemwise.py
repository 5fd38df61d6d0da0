"""Numpy references for ``kernels/cpu/elemwise.py``: same names, same signatures, written for
clarity rather than speed. The tests run both on the same data."""
from __future__ import annotations

import numpy as np

__all__ = ["sum_to_shape", "clip_forward", "clip_backward", "maxmin_backward"]


def sum_to_shape(g, g_shape, t_strides, out):
    big = g.reshape(tuple(g_shape))
    axes = tuple(k for k, s in enumerate(t_strides) if s == 0 and g_shape[k] != 1)
    small = big.sum(axis=axes, keepdims=True)
    out += small.reshape(-1)


def clip_forward(x, a_min, a_max, out):
    out[:] = np.where(x > a_max, a_max, np.where(x < a_min, a_min, x))


def clip_backward(x, g, a_min, a_max, gx, accumulate):
    d = np.where((x >= a_min) & (x <= a_max), g, 0)
    if accumulate:
        gx += d
    else:
        gx[:] = d


def maxmin_backward(a, b, g, ga, gb, is_max):
    left = (a >= b) if is_max else (a <= b)
    ga[:] = np.where(left, g, 0)
    gb[:] = np.where(left, 0, g)
