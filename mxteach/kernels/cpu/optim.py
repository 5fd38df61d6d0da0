"""Numba CPU kernels of MXNet's optimizer update operators (``ops/optimizer_ops.py``:
``sgd_update``, ``adam_update`` ...): one element loop per rule, updating the weight and its
states in place.

# twin of kernels/cuda/optim.py and kernels/cuda/optim_adaptive.py (one thread per element
# there) and of optimizer/steps.py (numpy there, the tests' reference): the same rules, same
# names and signatures, so ``for_context(ctx).twin`` and the operators can pick by device.

Arrays are 1-D and contiguous; scalars arrive in the weight's dtype (the caller casts), so the
arithmetic stays in float32 for float32 weights, as MXNet's kernels compute. Gradient clipping
follows the optimizers' convention: a bound clips when it is truthy and non-negative.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["sgd_step", "sgd_mom_step", "nag_step", "signsgd_step", "signum_step",
           "adam_step", "rmsprop_step", "rmspropalex_step", "ftrl_step", "ftml_step"]


@njit(cache=True, inline="always")
def _clipped(x, bound, use_clip):
    if use_clip:
        if x > bound:
            return bound
        if x < -bound:
            return -bound
    return x


@njit(cache=True, inline="always")
def _sign(x):
    return (x > 0) - (x < 0)


@njit(cache=True, parallel=True)
def sgd_step(w, g, lr, wd, rescale, bound, use_clip):
    for i in prange(w.size):
        w[i] = w[i] - lr * wd * w[i] - lr * _clipped(g[i] * rescale, bound, use_clip)


@njit(cache=True, parallel=True)
def sgd_mom_step(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    for i in prange(w.size):
        step = momentum * mom[i] - lr * wd * w[i] - lr * _clipped(g[i] * rescale, bound, use_clip)
        mom[i] = step
        w[i] += step


@njit(cache=True, parallel=True)
def nag_step(w, g, mom, lr, wd, rescale, bound, use_clip, momentum, one):
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        m = mom[i] * momentum
        w[i] = w[i] - m + (momentum + one) * (m - lr * (gr + wd * w[i]))
        mom[i] = m - lr * (gr + wd * w[i])      # reads the new weight, as MXNet's kernel


@njit(cache=True, parallel=True)
def signsgd_step(w, g, lr, wd, one):
    for i in prange(w.size):
        w[i] = (one - lr * wd) * w[i] - lr * _sign(g[i])


@njit(cache=True, parallel=True)
def signum_step(w, g, mom, lr, wd, rescale, bound, use_clip, momentum, wd_lh, one):
    keep = one - momentum
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        mom[i] = momentum * mom[i] - keep * wd * w[i] - keep * gr
        w[i] = (one - lr * wd_lh) * w[i] + lr * _sign(mom[i])


@njit(cache=True, parallel=True)
def adam_step(w, g, mean, var, lr, wd, rescale, bound, use_clip, beta1, beta2, epsilon, one):
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        mean[i] = beta1 * mean[i] + (one - beta1) * gr
        var[i] = beta2 * var[i] + (one - beta2) * gr * gr
        w[i] -= lr * mean[i] / (np.sqrt(var[i]) + epsilon)


@njit(cache=True, parallel=True)
def rmsprop_step(w, g, n, lr, wd, rescale, bound, use_clip, gamma1, epsilon, wbound, clip_w,
                 one):
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        n[i] = (one - gamma1) * gr * gr + gamma1 * n[i]
        w[i] = _clipped(w[i] - lr * (gr / np.sqrt(n[i] + epsilon)), wbound, clip_w)


@njit(cache=True, parallel=True)
def rmspropalex_step(w, g, n, m, delta, lr, wd, rescale, bound, use_clip, gamma1, gamma2,
                     epsilon, wbound, clip_w, one):
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        n[i] = (one - gamma1) * gr * gr + gamma1 * n[i]
        m[i] = (one - gamma1) * gr + gamma1 * m[i]
        delta[i] = gamma2 * delta[i] - lr * (gr / np.sqrt(n[i] - m[i] * m[i] + epsilon))
        w[i] = _clipped(w[i] + delta[i], wbound, clip_w)


@njit(cache=True, parallel=True)
def ftrl_step(w, g, z, n, lr, wd, rescale, bound, use_clip, lamda1, beta):
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        z[i] += gr - (np.sqrt(n[i] + gr * gr) - np.sqrt(n[i])) * w[i] / lr
        n[i] += gr * gr
        if abs(z[i]) > lamda1:
            w[i] = (_sign(z[i]) * lamda1 - z[i]) / ((beta + np.sqrt(n[i])) / lr + wd)
        else:
            w[i] = 0


@njit(cache=True, parallel=True)
def ftml_step(w, g, d, v, z, lr, wd, rescale, bound, use_clip, beta1, beta2, epsilon,
              bias1, bias2, one):
    """``bias1 = 1 - beta1**t`` and ``bias2 = 1 - beta2**t`` come from the caller."""
    for i in prange(w.size):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        v[i] = beta2 * v[i] + (one - beta2) * gr * gr
        d_t = bias1 / lr * (np.sqrt(v[i] / bias2) + epsilon)
        z[i] = beta1 * z[i] + (one - beta1) * gr - (d_t - beta1 * d[i]) * w[i]
        d[i] = d_t
        w[i] = -z[i] / d_t
