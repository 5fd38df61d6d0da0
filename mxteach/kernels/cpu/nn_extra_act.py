"""Numba CPU kernels of SVMOutput and softmax_cross_entropy (``ops/nn_extra_act.py``);
SoftmaxActivation and softmin reuse the softmax kernels of ``kernels/cpu/loss.py``.

Labels are float arrays truncated to a class index, as MXNet casts them; an index outside
``[0, classes)`` matches no class (its one-hot row is all zero). numpy twins with the same
names and signatures: ``kernels/reference/nn_extra_act.py``.
"""
from __future__ import annotations

import math

from numba import njit, prange

__all__ = ["svm_grad", "ce_loss", "ce_grad"]


@njit(cache=True, parallel=True)
def svm_grad(x2, label, margin, coef, linear, accumulate, dx2):
    """SVMOutput's data gradient for rows ``x2`` (M, K): with ``k`` the row's label, the
    label's score is pushed up while ``x_k < margin`` and every other score down while
    ``x_j > -margin``; ``linear`` (L1-SVM) pushes by ``coef``, else (L2-SVM) by
    ``2 * coef * (margin - x_k)`` and ``2 * coef * (margin + x_j)``."""
    M, Kc = x2.shape
    for m in prange(M):
        k = int(label[m])
        for j in range(Kc):
            v = x2[m, j]
            if j == k:
                g = 0.0
                if margin > v:
                    g = -coef if linear else -2.0 * coef * (margin - v)
            else:
                g = 0.0
                if margin > -v:
                    g = coef if linear else 2.0 * coef * (margin + v)
            if accumulate:
                dx2[m, j] += g
            else:
                dx2[m, j] = g


@njit(cache=True)
def ce_loss(logp2, label, out):
    """``out[0] = -sum over rows of logp2[m, label[m]]`` (rows with an out-of-range label add
    nothing); float64 sum."""
    M, Kc = logp2.shape
    s = 0.0
    for m in range(M):
        k = int(label[m])
        if 0 <= k < Kc:
            s -= logp2[m, k]
    out[0] = s


@njit(cache=True, parallel=True)
def ce_grad(logp2, label, g, accumulate, dx2):
    """``dx = (softmax - onehot(label)) * g[0]`` with ``softmax = exp(logp2)``."""
    M, Kc = logp2.shape
    scale = g[0]
    for m in prange(M):
        k = int(label[m])
        for j in range(Kc):
            v = math.exp(logp2[m, j])
            if j == k:
                v -= 1.0
            if accumulate:
                dx2[m, j] += v * scale
            else:
                dx2[m, j] = v * scale
