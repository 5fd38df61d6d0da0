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
           "adam_step", "rmsprop_step", "rmspropalex_step", "ftrl_step", "ftml_step",
           "RULE_TWINS", "sgd_rule", "adam_rule"]


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


# -- twins of the optimizer classes' rules (optimizer/steps.py) --------------------------------
# ``optimizer/steps.py`` ``sgd_step`` is a chain of numpy temporaries (rescale, clip, scale,
# subtract, add: six passes over the weight's size, a quarter of an MLP's fit in the profile of
# benchmarks/RESULTS.md). The loops below make one pass with the *same* float operations in the
# same order, so the weights come out bit-identical to the numpy rule (tests/test_cpu_twins.py).
# They differ from ``sgd_step``/``sgd_mom_step`` above, which follow MXNet's operator
# (``w - lr*wd*w - lr*g``, another association), so they have their own names.
_PARALLEL_FROM = 1 << 16      # below this size waking Numba's pool costs more than it saves


@njit(cache=True, inline="always")
def _sgd_elem(w, g, i, lrwd, lr, rescale, bound, use_clip):
    # steps.py: step = -(lr*wd) * w - lr * clip(g * rescale); w = w + step
    return -lrwd * w[i] - lr * _clipped(g[i] * rescale, bound, use_clip)


@njit(cache=True, inline="always")
def _sgd_mom_elem(w, g, mom, i, lrwd, lr, rescale, bound, use_clip, momentum):
    # steps.py: step = momentum * mom - (lr*wd) * w - lr * clip(g * rescale); mom = step
    return momentum * mom[i] - lrwd * w[i] - lr * _clipped(g[i] * rescale, bound, use_clip)


@njit(cache=True)
def _sgd_rule_serial(w, g, lrwd, lr, rescale, bound, use_clip):
    for i in range(w.size):
        w[i] = w[i] + _sgd_elem(w, g, i, lrwd, lr, rescale, bound, use_clip)


@njit(cache=True, parallel=True)
def _sgd_rule_parallel(w, g, lrwd, lr, rescale, bound, use_clip):
    for i in prange(w.size):
        w[i] = w[i] + _sgd_elem(w, g, i, lrwd, lr, rescale, bound, use_clip)


@njit(cache=True)
def _sgd_mom_rule_serial(w, g, mom, lrwd, lr, rescale, bound, use_clip, momentum):
    for i in range(w.size):
        step = _sgd_mom_elem(w, g, mom, i, lrwd, lr, rescale, bound, use_clip, momentum)
        mom[i] = step
        w[i] = w[i] + step


@njit(cache=True, parallel=True)
def _sgd_mom_rule_parallel(w, g, mom, lrwd, lr, rescale, bound, use_clip, momentum):
    for i in prange(w.size):
        step = _sgd_mom_elem(w, g, mom, i, lrwd, lr, rescale, bound, use_clip, momentum)
        mom[i] = step
        w[i] = w[i] + step


def _flat_operands(w, *others):
    """The 1-D views of ``w`` and ``others`` (None stays None) when every one is a contiguous
    float32/float64 array of ``w``'s shape and dtype; else None (the caller runs numpy)."""
    if not (isinstance(w, np.ndarray) and w.dtype.name in ("float32", "float64")
            and w.flags.c_contiguous and w.flags.writeable):
        return None
    flat = [w.reshape(-1)]
    for a in others:
        if a is None:
            flat.append(None)
            continue
        if not (isinstance(a, np.ndarray) and a.dtype == w.dtype and a.shape == w.shape
                and a.flags.c_contiguous):
            return None
        flat.append(a.reshape(-1))
    return flat


def sgd_rule(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """``optimizer/steps.py`` ``sgd_step`` in one Numba pass (same arguments, same results).

    Returns False, touching nothing, when the operands are not contiguous float32/float64
    arrays of one shape and dtype (float16, a cast gradient ...): the caller then runs the
    numpy rule."""
    flat = _flat_operands(w, g, mom)
    if flat is None or (mom is not None and not mom.flags.writeable):
        return False
    t = w.dtype.type
    # the scalars exactly as steps.py forms them (in the weight's dtype)
    lr_t, wd_t = t(lr), t(wd)
    use_clip = bool(clip_gradient) and clip_gradient >= 0
    bound = t(clip_gradient) if use_clip else t(0)
    args = (lr_t * wd_t, lr_t, t(rescale_grad), bound, use_clip)
    big = w.size >= _PARALLEL_FROM
    if mom is None:
        (_sgd_rule_parallel if big else _sgd_rule_serial)(flat[0], flat[1], *args)
    else:
        (_sgd_mom_rule_parallel if big else _sgd_mom_rule_serial)(
            flat[0], flat[1], flat[2], *args, t(momentum))
    return True


@njit(cache=True, inline="always")
def _adam_elem(w, g, mean, var, i, lr, wd, rescale, bound, use_clip, b1, b2, keep1, keep2,
               epsilon):
    # steps.py: gr = clip(g * rescale + wd * w); m = b1 m + (1-b1) gr;
    # v = b2 v + (1-b2) gr gr; w = w - lr * m / (sqrt(v) + eps), in this order
    gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
    m = b1 * mean[i] + keep1 * gr
    v = b2 * var[i] + keep2 * gr * gr
    mean[i] = m
    var[i] = v
    w[i] = w[i] - lr * m / (np.sqrt(v) + epsilon)


@njit(cache=True)
def _adam_rule_serial(w, g, mean, var, lr, wd, rescale, bound, use_clip, b1, b2, keep1,
                      keep2, epsilon):
    for i in range(w.size):
        _adam_elem(w, g, mean, var, i, lr, wd, rescale, bound, use_clip, b1, b2, keep1, keep2,
                   epsilon)


@njit(cache=True, parallel=True)
def _adam_rule_parallel(w, g, mean, var, lr, wd, rescale, bound, use_clip, b1, b2, keep1,
                       keep2, epsilon):
    for i in prange(w.size):
        _adam_elem(w, g, mean, var, i, lr, wd, rescale, bound, use_clip, b1, b2, keep1, keep2,
                   epsilon)


def adam_rule(w, g, mean, var, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon):
    """``optimizer/steps.py`` ``adam_step`` in one Numba pass (same arguments, same results);
    False, touching nothing, for operands it does not take (see :func:`sgd_rule`)."""
    flat = _flat_operands(w, g, mean, var)
    if flat is None or not (mean.flags.writeable and var.flags.writeable):
        return False
    t = w.dtype.type
    use_clip = bool(clip_gradient) and clip_gradient >= 0
    b1, b2 = t(beta1), t(beta2)
    loop = _adam_rule_parallel if w.size >= _PARALLEL_FROM else _adam_rule_serial
    loop(*flat, t(lr), t(wd), t(rescale_grad),
                    t(clip_gradient) if use_clip else t(0), use_clip, b1, b2, t(1) - b1,
                    t(1) - b2, t(epsilon))
    return True


#: rule name in ``optimizer/steps.py`` -> its one-pass twin here (``backend/cpu.py`` ``twin``)
RULE_TWINS = {"sgd_step": sgd_rule, "adam_step": adam_rule}
