"""numpy twins of ``kernels/cpu/optimizer_multi.py`` (the aggregated SGD rule, ``multi_sum_sq``,
``multi_lars``, group AdaGrad): whole-array numpy with the same float operations in the same
order, same names and signatures. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["sgd_rule", "sum_sq", "lars", "group_adagrad"]


def _clip(x, bound, use_clip):
    # MXNet's clip (above the bound, then below its negative); NaN passes as in the kernels
    if not use_clip:
        return x
    return np.where(x > bound, bound, np.where(x < -bound, -bound, x)).astype(x.dtype)


def sgd_rule(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    """``mom = momentum*mom - (lr*wd)*w - lr*clip(rescale*g)`` (or ``- (lr*rescale)*g``
    without clipping); ``w += mom``; in place."""
    if use_clip:
        step = momentum * mom - (lr * wd) * w - lr * _clip(rescale * g, bound, True)
    else:
        step = momentum * mom - (lr * wd) * w - (lr * rescale) * g
    mom[...] = step
    w[...] = w + step


def sum_sq(a, squared):
    """float32 running sum of the squares in index order (``squared``: entries are squares)."""
    s = np.float32(0)
    for x in (a if squared else a * a):
        s = np.float32(s + x)
    return s


def lars(out, lrs, w_sum_sq, g_sum_sq, wds, eta, eps, rescale):
    """The LARS-scaled learning rates (``kernels/cpu/optimizer_multi.py`` ``lars``)."""
    w_norm = np.sqrt(w_sum_sq)
    valid = (w_norm > 0) & (g_sum_sq > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = lrs * eta * w_norm / (np.sqrt(g_sum_sq) * rescale + wds * w_norm + eps)
    out[...] = np.where(valid, scaled, lrs)


def group_adagrad(w, g, history, cols, lr, rescale, bound, use_clip, eps, ncols):
    """Group AdaGrad on the row-major ``(rows, cols)`` weight ``w`` (flat), one history entry
    per row; the row's squares are summed in column order, as the kernel."""
    rows = history.size
    gr = _clip(g.reshape(rows, cols) * rescale, bound, use_clip)
    sq = gr * gr
    ssq = sq[:, 0].copy()
    for j in range(1, cols):
        ssq = ssq + sq[:, j]
    history[...] = history + ssq / ncols
    w2 = w.reshape(rows, cols)
    w2[...] = w2 - lr * gr / np.sqrt(history[:, None] + eps)
