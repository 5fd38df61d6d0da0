"""Numba CPU kernels of the LAMB and AdamW operators (``ops/optimizer_lamb.py``):
``lamb_update_phase1/2`` and their ``mp_`` forms, ``_multi_[mp_]lamb_update``, and
``_[mp_]adamw_update`` / ``_multi_[mp_]adamw_update``.

# twin of kernels/reference/optimizer_lamb.py (numpy, the tests' reference) and of
# kernels/cuda/optimizer_lamb.py (one thread per element there): same names and signatures.

Arrays are 1-D and contiguous; scalars arrive in the arrays' dtype (the caller casts), so a
float32 weight is updated in float32 arithmetic with MXNet's operations in MXNet's order. Two
places where MXNet mixes precisions are left to the caller, which passes the constant in the
type MXNet computes it in: LAMB phase 1 divides the mean by ``1. - beta1**t`` in double
(``c1``), the variance by ``1 - beta2**t`` in the weight's type (``c2``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

# MXNet's clip (NaN passes through), shared with the single-weight update kernels
from .optim import _clipped

__all__ = ["lamb_phase1", "lamb_phase2", "adamw_rule"]


@njit(cache=True)
def lamb_phase1(out, mean, var, w, g, rescale, bound, use_clip, beta1, beta2, keep1, keep2, wd,
                epsilon, c1, c2, bias_correction):
    """LAMB's direction ``out`` (and the moments, in place)::

        gr   = clip(g * rescale);  mean = beta1 * mean + keep1 * gr
        var  = beta2 * var + keep2 * gr * gr
        out  = mean_hat / (sqrt(var_hat) + epsilon) + wd * w

    with ``keep = 1 - beta``; the hats are ``mean / c1`` and ``var / c2`` under bias
    correction, else the moments themselves. ``mean / c1`` is rounded to ``out``'s dtype (it is
    stored there first), whatever type ``c1`` has."""
    for i in range(w.size):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        m = beta1 * mean[i] + keep1 * gr
        v = beta2 * var[i] + keep2 * gr * gr
        mean[i] = m
        var[i] = v
        if bias_correction:
            out[i] = m / c1
            out[i] = out[i] / (np.sqrt(v / c2) + epsilon) + wd * w[i]
        else:
            out[i] = m / (np.sqrt(v) + epsilon) + wd * w[i]


@njit(cache=True)
def lamb_phase2(out, w, g, r1, r2, lr, lower_bound, upper_bound, zero, from_sums):
    """LAMB's step ``out = w - lr * (r1 / r2) * g``: ``r1 = ||w||`` clamped to the bounds that
    are non-negative, the ratio 1 when either norm is zero. ``r1``, ``r2`` are 1-element.
    ``lamb_update_phase2`` gets the norms and scales as ``(lr * r1) / r2``; the aggregated
    LAMB (``from_sums``) gets the sums of squares and scales as ``lr * (r1 / r2)``."""
    a, b = r1[0], r2[0]
    if from_sums:
        a, b = np.sqrt(a), np.sqrt(b)
    if lower_bound >= zero:
        a = max(a, lower_bound)
    if upper_bound >= zero:
        a = min(a, upper_bound)
    step = lr
    if not (a == zero or b == zero):
        step = lr * (a / b) if from_sums else lr * a / b
    for i in range(w.size):
        out[i] = w[i] - step * g[i]


@njit(cache=True)
def adamw_rule(w, g, mean, var, rescale, bound, use_clip, beta1, beta2, keep1, keep2, eta, lr,
               wd, epsilon, interpolate, write_grad):
    """AdamW with decoupled weight decay, in place on ``w``, ``mean``, ``var``::

        gr   = clip(rescale * g)
        mean = beta1 * mean + keep1 * gr;  var = beta2 * var + keep2 * (gr * gr)
        w    = w - eta * (lr * mean / (sqrt(var) + epsilon) + wd * w)

    ``interpolate`` uses the aggregated operators' form ``beta * (m - x) + x`` of the moment
    updates (same value, other roundings); ``write_grad`` stores ``gr`` into ``g``, as MXNet's
    single-precision ``_adamw_update`` rescales and clips its gradient input in place."""
    for i in range(w.size):
        gr = _clipped(rescale * g[i], bound, use_clip)
        if write_grad:
            g[i] = gr
        sq = gr * gr
        if interpolate:
            m = beta1 * (mean[i] - gr) + gr
            v = beta2 * (var[i] - sq) + sq
        else:
            m = beta1 * mean[i] + keep1 * gr
            v = beta2 * var[i] + keep2 * sq
        mean[i] = m
        var[i] = v
        w[i] = w[i] - eta * (lr * m / (np.sqrt(v) + epsilon) + wd * w[i])
