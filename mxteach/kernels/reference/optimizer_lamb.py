"""numpy twins of ``kernels/cpu/optimizer_lamb.py`` (LAMB's two phases, AdamW): whole-array
numpy with the same float operations in the same order, same names and signatures. The tests
trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["lamb_phase1", "lamb_phase2", "adamw_rule"]


def _clip(x, bound, use_clip):
    if not use_clip:
        return x
    return np.where(x > bound, bound, np.where(x < -bound, -bound, x)).astype(x.dtype)


def lamb_phase1(out, mean, var, w, g, rescale, bound, use_clip, beta1, beta2, keep1, keep2, wd,
                epsilon, c1, c2, bias_correction):
    """LAMB's direction into ``out``; the moments in place (see the CPU kernel)."""
    gr = _clip(g * rescale, bound, use_clip)
    mean[...] = beta1 * mean + keep1 * gr
    var[...] = beta2 * var + keep2 * gr * gr
    if bias_correction:
        # mean / c1 in c1's type, rounded to out's dtype, as the kernel stores it first
        m_hat = (mean / c1).astype(out.dtype)
        out[...] = m_hat / (np.sqrt(var / c2) + epsilon) + wd * w
    else:
        out[...] = mean / (np.sqrt(var) + epsilon) + wd * w


def lamb_phase2(out, w, g, r1, r2, lr, lower_bound, upper_bound, zero, from_sums):
    """``out = w - lr * trust_ratio * g`` (see the CPU kernel)."""
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
    out[...] = w - step * g


def adamw_rule(w, g, mean, var, rescale, bound, use_clip, beta1, beta2, keep1, keep2, eta, lr,
               wd, epsilon, interpolate, write_grad):
    """AdamW in place on ``w``, ``mean``, ``var`` (and ``g`` with ``write_grad``)."""
    gr = _clip(rescale * g, bound, use_clip)
    if write_grad:
        g[...] = gr
    sq = gr * gr
    if interpolate:
        mean[...] = beta1 * (mean - gr) + gr
        var[...] = beta2 * (var - sq) + sq
    else:
        mean[...] = beta1 * mean + keep1 * gr
        var[...] = beta2 * var + keep2 * sq
    w[...] = w - eta * (lr * mean / (np.sqrt(var) + epsilon) + wd * w)
