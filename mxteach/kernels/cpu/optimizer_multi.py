"""Numba CPU kernels of the aggregated optimizer operators (``ops/optimizer_multi.py``):
``multi_sgd_update`` and its momentum / mixed-precision / preloaded forms, ``multi_sum_sq``,
``multi_lars`` and ``_contrib_group_adagrad_update``.

# twin of kernels/reference/optimizer_multi.py (numpy, the tests' reference) and of
# kernels/cuda/optimizer_multi.py (one thread per element or per row there): same names and
# signatures.

The operators call a kernel once per weight of the group. Arrays are 1-D and contiguous (the
weight and states updated in place); scalars arrive in the arrays' dtype, so float32 weights
are updated in float32 arithmetic. Unlike ``kernels/cpu/optim.py`` (the single-weight
operators), the aggregated SGD rule keeps MXNet's association ``(lr * rescale) * g`` when it
does not clip, and clips for every non-negative bound: these are MXNet's ``MultiSGDKernel``
float operations in its order, so the float32 results are bit-identical.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# MXNet's clip (NaN passes through), shared with the single-weight update kernels
from .optim import _clipped

__all__ = ["sgd_rule", "sum_sq", "lars", "group_adagrad"]


@njit(cache=True)
def sgd_rule(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    """One weight of ``multi_sgd_[mom_]update``, in place on ``w`` and ``mom``::

        mom = momentum * mom - lr * wd * w - lr * clip(rescale * g)     (clipping)
        mom = momentum * mom - lr * wd * w - (lr * rescale) * g         (no clipping)
        w   = w + mom

    Without momentum the caller passes a zeroed ``mom`` and ``momentum = 0``."""
    lrwd = lr * wd
    lrrs = lr * rescale
    for i in range(w.size):
        if use_clip:
            step = momentum * mom[i] - lrwd * w[i] - lr * _clipped(rescale * g[i], bound, True)
        else:
            step = momentum * mom[i] - lrwd * w[i] - lrrs * g[i]
        mom[i] = step
        w[i] = w[i] + step


@njit(cache=True)
def sum_sq(a, squared):
    """The float32 sum of ``a[j] * a[j]`` in index order (MXNet's CPU loop); with ``squared``
    the entries are already squares (float16 inputs: the caller rounds each square to half
    precision, as MXNet's half arithmetic does)."""
    s = np.float32(0)
    for j in range(a.size):
        p = a[j] if squared else a[j] * a[j]
        s = np.float32(s + p)
    return s


@njit(cache=True)
def lars(out, lrs, w_sum_sq, g_sum_sq, wds, eta, eps, rescale):
    """``multi_lars``: each learning rate scaled by its layer's trust ratio (float32)::

        out = lr * eta * ||w|| / (||g|| * rescale + wd * ||w|| + eps)   if ||w|| > 0, ||g|| > 0
        out = lr                                                          otherwise
    """
    zero = np.float32(0)
    for i in range(out.size):
        w_norm = np.sqrt(w_sum_sq[i])
        if w_norm > zero and g_sum_sq[i] > zero:
            out[i] = lrs[i] * eta * w_norm / (np.sqrt(g_sum_sq[i]) * rescale + wds[i] * w_norm
                                              + eps)
        else:
            out[i] = lrs[i]


@njit(cache=True)
def group_adagrad(w, g, history, cols, lr, rescale, bound, use_clip, eps, ncols):
    """Group AdaGrad on a ``(rows, cols)`` weight flattened row-major: one history entry per row,
    increased by the row's mean squared (rescaled, clipped) gradient; every weight of the row
    then moves by ``lr * g / sqrt(history + eps)``. ``ncols`` is ``cols`` in the dtype (MXNet
    divides by the integer count converted to the weight's type)."""
    rows = history.size
    for r in range(rows):
        ssq = ncols - ncols                      # a zero of the weight's dtype
        for j in range(cols):
            gr = _clipped(g[r * cols + j] * rescale, bound, use_clip)
            ssq += gr * gr
        history[r] += ssq / ncols
        for j in range(cols):
            gr = _clipped(g[r * cols + j] * rescale, bound, use_clip)
            w[r * cols + j] = w[r * cols + j] - lr * gr / np.sqrt(history[r] + eps)
