"""numpy twins of ``kernels/cpu/nn_extra_act.py`` (SVMOutput's gradient, softmax cross
entropy). The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["svm_grad", "ce_loss", "ce_grad"]


def _onehot(label, shape):
    k = np.trunc(label).astype(np.int64)
    return (np.arange(shape[1])[None, :] == k[:, None]).astype(np.float64)


def svm_grad(x2, label, margin, coef, linear, accumulate, dx2):
    hot = _onehot(label, x2.shape).astype(bool)
    if linear:
        g = np.where(hot, -coef * (margin > x2), coef * (margin > -x2))
    else:
        g = np.where(hot, -2.0 * coef * np.maximum(margin - x2, 0),
                     2.0 * coef * np.maximum(margin + x2, 0))
    if accumulate:
        dx2 += g
    else:
        dx2[...] = g


def ce_loss(logp2, label, out):
    out[0] = -(logp2 * _onehot(label, logp2.shape)).sum()


def ce_grad(logp2, label, g, accumulate, dx2):
    v = (np.exp(logp2) - _onehot(label, logp2.shape)) * g[0]
    if accumulate:
        dx2 += v
    else:
        dx2[...] = v
