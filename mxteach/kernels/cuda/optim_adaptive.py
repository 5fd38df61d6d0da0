"""CUDA twins of the adaptive optimizers' update rules (Adam, AdaGrad, RMSProp, AdaDelta,
Adamax, Nadam, Ftrl, FTML, LAMB; numpy twins in ``optimizer/steps.py``). Same conventions as
``kernels/cuda/optim.py``: one grid-stride kernel per rule over the flattened arrays, the
scalars and constants such as ``1 - beta1`` computed on the host in the weight's dtype, and
states that numpy stores in float32 re-read after each store. LAMB reduces its two norms with
per-thread partial sums and atomics, then the host computes the trust ratio and a second
kernel applies the step.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

from .launch import grid_1d
from .optim import _clip_args, _clip_on, _clip_set, _clipped, _flat

__all__ = ["adam_step", "adagrad_step", "rmsprop_step", "rmspropalex_step", "adadelta_step",
           "adamax_step", "nadam_step", "ftrl_step", "ftml_step", "lamb_step"]

# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: the weight's dtype,
# float32 or float64). AdaGrad's, RMSProp's, AdaDelta's and Ftrl's states are float32 whatever
# the weight's dtype (optimizer/adaptive.py), and so are LAMB's two norm sums.
_V, _S = "{t}[::1]", "float32[::1]"
_SCAL = "{t}, {t}, {t}, {t}, boolean"         # lr, wd, rescale, bound, use_clip
PTX_SIGNATURES = {
    "_adam_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_SCAL}, {{t}}, {{t}}, {{t}}, {{t}}, {{t}}"],
    "_adagrad_kernel": [f"{_V}, {_V}, {_S}, {_SCAL}, {{t}}"],
    "_rmsprop_kernel": [f"{_V}, {_V}, {_S}, {_SCAL}, {{t}}, {{t}}, {{t}}, {{t}}, boolean"],
    "_rmspropalex_kernel": [f"{_V}, {_V}, {_S}, {_S}, {_S}, {_SCAL}, {{t}}, {{t}}, {{t}}, "
                            "{t}, {t}, boolean"],
    "_adadelta_kernel": [f"{_V}, {_V}, {_S}, {_S}, {{t}}, {{t}}, {{t}}, boolean, {{t}}, {{t}}, "
                         "{t}"],
    "_adamax_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_SCAL}, {{t}}, {{t}}, {{t}}"],
    "_nadam_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_SCAL}, " + ", ".join(["{t}"] * 10)],
    "_ftrl_kernel": [f"{_V}, {_V}, {_S}, {_S}, {_SCAL}, {{t}}, {{t}}"],
    "_ftml_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_V}, {_SCAL}, " + ", ".join(["{t}"] * 7)],
    "_lamb_direction_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_V}, {_S}, {{t}}, {{t}}, boolean, "
                               "{t}, {t}, {t}, {t}, {t}, {t}, boolean, {t}, {t}"],
    "_lamb_apply_kernel": [f"{_V}, {_V}, {{t}}"],
}


def _prologue(rule, t, w, rescale_grad, clip_gradient, use, **arrays):
    """Grid, flattened arrays and the ``(rescale, bound, use_clip)`` scalars of a rule."""
    grid, flat = _flat(rule, w, **arrays)
    bound, use = _clip_args(t, clip_gradient, use)
    return grid, flat, (t(rescale_grad), bound, use)


@cuda.jit
def _adam_kernel(w, g, mean, var, lr, wd, rescale, bound, use_clip, b1, omb1, b2, omb2, eps):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        mean[i] = b1 * mean[i] + omb1 * gr
        var[i] = b2 * var[i] + omb2 * gr * gr
        w[i] = w[i] - lr * mean[i] / (math.sqrt(var[i]) + eps)


def adam_step(w, g, mean, var, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon):
    """Adam on the device (``lr`` already bias-corrected)."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("adam_step", t, w, rescale_grad, clip_gradient,
                                              _clip_on(clip_gradient), g=g, mean=mean, var=var)
    _adam_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, t(beta1), t(1) - t(beta1),
                                  t(beta2), t(1) - t(beta2), t(epsilon))


@cuda.jit
def _adagrad_kernel(w, g, hist, neg_lr, wd, rescale, bound, use_clip, eps):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        hist[i] = hist[i] + gr * gr
        w[i] = w[i] + (gr / math.sqrt(hist[i] + eps) + w[i] * wd) * neg_lr


def adagrad_step(w, g, hist, lr, wd, rescale_grad, clip_gradient, eps):
    """AdaGrad on the device (the history may be float32 for float64 weights)."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("adagrad_step", t, w, rescale_grad,
                                              clip_gradient, _clip_set(clip_gradient), g=g,
                                              hist=hist)
    _adagrad_kernel[blocks, threads](*flat, t(-lr), t(wd), *clip, t(eps))


@cuda.jit(device=True)
def _clip_weight(x, bound, use):
    return _clipped(x, bound, use)


@cuda.jit
def _rmsprop_kernel(w, g, n, lr, wd, rescale, bound, use_clip, g1, omg1, eps, cw, use_cw):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        n[i] = omg1 * (gr * gr) + g1 * n[i]
        w[i] = _clip_weight(w[i] - lr * (gr / math.sqrt(n[i] + eps)), cw, use_cw)


def rmsprop_step(w, g, n, lr, wd, rescale_grad, clip_gradient, gamma1, epsilon, clip_weights):
    """RMSProp (not centered) on the device."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("rmsprop_step", t, w, rescale_grad,
                                              clip_gradient, _clip_on(clip_gradient), g=g, n=n)
    _rmsprop_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, t(gamma1), t(1) - t(gamma1),
                                     t(epsilon), *_clip_args(t, clip_weights,
                                                             _clip_on(clip_weights)))


@cuda.jit
def _rmspropalex_kernel(w, g, n, m, delta, lr, wd, rescale, bound, use_clip, g1, omg1, g2, eps,
                        cw, use_cw):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        n[i] = omg1 * (gr * gr) + g1 * n[i]
        m[i] = omg1 * gr + g1 * m[i]
        delta[i] = g2 * delta[i] - lr * (gr / math.sqrt(n[i] - m[i] * m[i] + eps))
        w[i] = _clip_weight(w[i] + delta[i], cw, use_cw)


def rmspropalex_step(w, g, n, m, delta, lr, wd, rescale_grad, clip_gradient, gamma1, gamma2,
                     epsilon, clip_weights):
    """Centered RMSProp on the device."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("rmspropalex_step", t, w, rescale_grad,
                                              clip_gradient, _clip_on(clip_gradient), g=g, n=n,
                                              m=m, delta=delta)
    _rmspropalex_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, t(gamma1),
                                         t(1) - t(gamma1), t(gamma2), t(epsilon),
                                         *_clip_args(t, clip_weights, _clip_on(clip_weights)))


@cuda.jit
def _adadelta_kernel(w, g, acc_g, acc_d, wd, rescale, bound, use_clip, rho, keep, eps):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        g[i] = g[i] * rescale            # in place, as MXNet: the caller sees it rescaled
        gr = _clipped(g[i], bound, use_clip)
        acc_g[i] = acc_g[i] * rho
        acc_g[i] = acc_g[i] + keep * gr * gr
        delta = math.sqrt(acc_d[i] + eps) / math.sqrt(acc_g[i] + eps) * gr
        acc_d[i] = acc_d[i] * rho
        acc_d[i] = acc_d[i] + keep * delta * delta
        w[i] = w[i] - (delta + wd * w[i])


def adadelta_step(w, g, acc_g, acc_delta, wd, rescale_grad, clip_gradient, rho, epsilon):
    """AdaDelta on the device (``g`` is rescaled in place, as on the CPU)."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("adadelta_step", t, w, rescale_grad,
                                              clip_gradient, _clip_set(clip_gradient), g=g,
                                              acc_g=acc_g, acc_delta=acc_delta)
    _adadelta_kernel[blocks, threads](*flat, t(wd), *clip, t(rho), t(1.0 - rho), t(epsilon))


@cuda.jit
def _adamax_kernel(w, g, m, u, lr, wd, rescale, bound, use_clip, b1, omb1, b2):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        m[i] = m[i] * b1
        m[i] = m[i] + omb1 * gr
        u[i] = max(b2 * u[i], abs(gr))
        w[i] = w[i] - lr * m[i] / u[i]


def adamax_step(w, g, m, u, lr, wd, rescale_grad, clip_gradient, beta1, beta2):
    """AdaMax on the device (``lr`` already divided by ``1 - beta1**t``)."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("adamax_step", t, w, rescale_grad, clip_gradient,
                                              _clip_set(clip_gradient), g=g, m=m, u=u)
    _adamax_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, t(beta1), t(1.0 - beta1),
                                    t(beta2))


@cuda.jit
def _nadam_kernel(w, g, m, v, lr, wd, rescale, bound, use_clip, b1, omb1, b2, omb2, eps,
                  c_g, d_g, c_m, d_m, v_corr):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        m[i] = m[i] * b1
        m[i] = m[i] + omb1 * gr
        v[i] = v[i] * b2
        v[i] = v[i] + omb2 * gr * gr
        m_bar = c_g * (gr / d_g) + c_m * (m[i] / d_m)
        w[i] = w[i] - lr * m_bar / (math.sqrt(v[i] / v_corr) + eps)


def nadam_step(w, g, m, v, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon, mu_t,
               mu_next, m_schedule, schedule_next, v_correction):
    """Nadam on the device (the momentum schedule comes from the optimizer)."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("nadam_step", t, w, rescale_grad, clip_gradient,
                                              _clip_set(clip_gradient), g=g, m=m, v=v)
    _nadam_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, t(beta1), t(1.0 - beta1),
                                   t(beta2), t(1.0 - beta2), t(epsilon), t(1.0 - mu_t),
                                   t(1.0 - m_schedule), t(mu_next), t(1.0 - schedule_next),
                                   t(v_correction))


@cuda.jit
def _ftrl_kernel(w, g, z, n, lr, wd, rescale, bound, use_clip, lam, beta):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        z[i] = z[i] + (gr - (math.sqrt(n[i] + gr * gr) - math.sqrt(n[i])) * w[i] / lr)
        n[i] = n[i] + gr * gr
        zi = z[i]
        signed = lam - lam              # zero in the weight's dtype
        if zi > 0:
            signed = lam
        elif zi < 0:
            signed = -lam
        value = (signed - zi) / ((beta + math.sqrt(n[i])) / lr + wd)
        w[i] = value if abs(zi) > lam else value - value


def ftrl_step(w, g, z, n, lr, wd, rescale_grad, clip_gradient, lamda1, beta):
    """FTRL-Proximal on the device."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("ftrl_step", t, w, rescale_grad, clip_gradient,
                                              _clip_on(clip_gradient), g=g, z=z, n=n)
    _ftrl_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, t(lamda1), t(beta))


@cuda.jit
def _ftml_kernel(w, g, d, v, z, lr, wd, rescale, bound, use_clip, b1, omb1, b2, omb2, c1, c2,
                 eps):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale + wd * w[i], bound, use_clip)
        v[i] = b2 * v[i] + omb2 * (gr * gr)
        d_t = c1 / lr * (math.sqrt(v[i] / c2) + eps)
        z[i] = b1 * z[i] + omb1 * gr - (d_t - b1 * d[i]) * w[i]
        d[i] = d_t
        w[i] = -z[i] / d_t


def ftml_step(w, g, d, v, z, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon, step):
    """FTML on the device at update ``step``."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("ftml_step", t, w, rescale_grad, clip_gradient,
                                              _clip_on(clip_gradient), g=g, d=d, v=v, z=z)
    b1, b2 = t(beta1), t(beta2)
    _ftml_kernel[blocks, threads](*flat, t(lr), t(wd), *clip, b1, t(1) - b1, b2, t(1) - b2,
                                  t(1) - b1 ** t(step), t(1) - b2 ** t(step), t(epsilon))


@cuda.jit
def _lamb_direction_kernel(w, g, mean, var, u, sums, rescale, bound, use_clip, b1, omb1, b2,
                           omb2, c1, c2, bias_correction, eps, wd):
    sw = float32(0)
    su = float32(0)
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        mean[i] = b1 * mean[i] + omb1 * gr
        var[i] = b2 * var[i] + omb2 * (gr * gr)
        m_hat = mean[i]
        v_hat = var[i]
        if bias_correction:
            m_hat = m_hat / c1
            v_hat = v_hat / c2
        u[i] = m_hat / (math.sqrt(v_hat) + eps) + wd * w[i]
        w32 = float32(w[i])
        u32 = float32(u[i])
        sw += w32 * w32
        su += u32 * u32
    cuda.atomic.add(sums, 0, sw)        # one atomic per thread, after its grid-stride sums
    cuda.atomic.add(sums, 1, su)


@cuda.jit
def _lamb_apply_kernel(w, u, scale):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        w[i] = w[i] - scale * u[i]


def lamb_step(w, g, mean, var, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon,
              lower_bound, upper_bound, bias_correction, step):
    """LAMB on the device: direction and norms, the trust ratio on the host, then the step."""
    t = w.dtype.type
    (blocks, threads), flat, clip = _prologue("lamb_step", t, w, rescale_grad, clip_gradient,
                                              _clip_on(clip_gradient), g=g, mean=mean, var=var)
    b1, b2 = t(beta1), t(beta2)
    u = cuda.device_array(flat[0].shape, dtype=w.dtype)
    sums = cuda.to_device(np.zeros(2, np.float32))
    _lamb_direction_kernel[blocks, threads](*flat, u, sums, *clip, b1, t(1) - b1, b2,
                                            t(1) - b2, t(1) - b1 ** t(step),
                                            t(1) - b2 ** t(step), bool(bias_correction),
                                            t(epsilon), t(wd))
    sq = sums.copy_to_host()
    ratio = _lamb_ratio(t, np.sqrt(sq[0]), np.sqrt(sq[1]), lower_bound, upper_bound)
    _lamb_apply_kernel[grid_1d(w.size)](flat[0], u, t(lr) * ratio)


def _lamb_ratio(t, r1, r2, lower_bound, upper_bound):
    # twin of optimizer/steps.py:lamb_ratio (kernels may not import the optimizer layer)
    r1, r2 = t(r1), t(r2)
    if lower_bound:
        r1 = max(r1, t(lower_bound))
    if upper_bound:
        r1 = min(r1, t(upper_bound))
    return r1 / r2 if (r1 > 0 and r2 > 0) else t(1)
