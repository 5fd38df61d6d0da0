"""The update rules of every optimizer as in-place functions on host arrays: one function per
rule, arrays first (weight, gradient, states), then the scalars, in the weight's dtype and in
the order MXNet's kernels use.

The optimizer classes (:mod:`~mxteach.optimizer.sgd`, :mod:`~mxteach.optimizer.adaptive`)
compute the per-index scalars (learning rate, weight decay, bias corrections) and run a rule on
the weight's device through ``for_context(ctx).twin(rule, "optim")``: on the CPU the function
below itself, on ``mx.gpu(i)`` its CUDA twin of the same name and signature in
``kernels/cuda/optim.py``. These functions are the tests' reference for those kernels.

Two clipping conventions exist in MXNet 1.9 and both are kept: most rules clip only for a
truthy, non-negative bound (:func:`clip_on`); AdaGrad, AdaDelta, Adamax, Nadam, SGLD and DCASGD
clip whenever a bound is given (:func:`clip_set`). See notebook 05.
"""
from __future__ import annotations

import numpy as np

__all__ = ["clip_on", "clip_set", "sgd_step", "nag_step", "signum_step", "sgld_step",
           "dcasgd_step", "test_step", "adam_step", "adagrad_step", "rmsprop_step",
           "rmspropalex_step", "adadelta_step", "adamax_step", "nadam_step", "ftrl_step",
           "ftml_step", "lamb_step"]


# twin of kernels/cuda/optim.py:_clip_on (kernels may not import the optimizer layer)
def clip_on(bound):
    """Kernel-based rules clip only for a truthy, non-negative bound (as MXNet's kernels)."""
    return bool(bound) and bound >= 0


# twin of kernels/cuda/optim.py:_clip_set (kernels may not import the optimizer layer)
def clip_set(bound):
    """Python-level rules of MXNet clip whenever a bound is given (0 clips to 0)."""
    return bound is not None


def _rescaled(g, t, rescale_grad, bound, use_clip, w=None, wd=0.0):
    """``clip(rescale_grad * g [+ wd * w])`` in dtype ``t`` (np.clip's min-then-max order)."""
    gr = g.astype(t, copy=False) * t(rescale_grad)
    if w is not None:
        gr = gr + t(wd) * w
    return np.clip(gr, -t(bound), t(bound)) if use_clip else gr


# -- the SGD family ---------------------------------------------------------------------------
def sgd_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """SGD with optional momentum, in place on ``w`` (and ``mom``)::

        step = momentum * mom - lr * wd * w - lr * clip(rescale_grad * g)
        mom  = step              (only when there is a momentum buffer)
        w    = w + step
    """
    t = w.dtype.type
    lr, wd = t(lr), t(wd)
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient))
    if mom is None:
        step = -(lr * wd) * w - lr * gr
    else:
        step = t(momentum) * mom - (lr * wd) * w - lr * gr
        mom[...] = step
    w += step


def nag_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """Nesterov momentum, in place; ``mom`` holds lr-scaled steps, as MXNet's kernel::

        gr  = clip(rescale_grad * g)
        mom = momentum * mom
        w   = w - mom + (1 + momentum) * (mom - lr * (gr + wd * w))
        mom = mom - lr * (gr + wd * w)        # w here is already the *new* weight

    The last line reads the updated weight because MXNet's kernel writes the weight in place
    before it updates the momentum; with ``wd = 0`` this is the textbook rule
    ``v = momentum * v + gr; w -= lr * (gr + momentum * v)`` with ``mom = -lr * v``.
    """
    t = w.dtype.type
    lr, wd, momentum = t(lr), t(wd), t(momentum)
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient))
    mom *= momentum
    w[...] = w - mom + (momentum + t(1)) * (mom - lr * (gr + wd * w))
    mom -= lr * (gr + wd * w)


def signum_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum, wd_lh):
    """signSGD (``mom`` None: ``w = (1 - lr * wd) * w - lr * sign(g)``, raw gradient) or
    Signum::

        mom = momentum * mom - (1 - momentum) * wd * w - (1 - momentum) * clip(rescale * g)
        w   = (1 - lr * wd_lh) * w + lr * sign(mom)
    """
    t = w.dtype.type
    if mom is None:
        w[...] = (t(1) - t(lr) * t(wd)) * w - t(lr) * np.sign(g)
        return
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient))
    keep = t(1) - t(momentum)
    mom[...] = t(momentum) * mom - keep * t(wd) * w - keep * gr
    w[...] = (t(1) - t(lr) * t(wd_lh)) * w + t(lr) * np.sign(mom)


def sgld_step(w, g, noise, lr, wd, rescale_grad, clip_gradient):
    """Langevin step: ``w = w - lr/2 * (clip(rescale * g) + wd * w) + noise`` (the noise,
    ``normal(0, sqrt(lr))``, is drawn by the caller)."""
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_set(clip_gradient))
    w += t(-lr / 2) * (gr + t(wd) * w)
    w += noise


def dcasgd_step(w, g, mom, prev, lr, wd, rescale_grad, clip_gradient, momentum, lamda):
    """Delay-compensated SGD::

        step = -lr * (gr + wd * w + lamda * gr * gr * (w - prev))
        mom  = momentum * mom + step   (when there is a momentum buffer; the step is mom)
        prev = w;  w = w + step
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_set(clip_gradient))
    step = t(-lr) * (gr + t(wd) * w + t(lamda) * gr * gr * (w - prev))
    if mom is not None:
        mom *= t(momentum)
        mom += step
        step = mom
    prev[...] = w
    w += step


def test_step(w, g, state, rescale_grad):
    """MXNet's test optimizer: ``w += rescale_grad * g``; the state mirrors ``w``."""
    w += g * w.dtype.type(rescale_grad)
    state[...] = w


test_step.__test__ = False      # not a pytest test, whatever its name


# -- the adaptive family ----------------------------------------------------------------------
def adam_step(w, g, mean, var, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon):
    """Adam with ``lr`` already bias-corrected::

        gr = clip(rescale * g + wd * w);  m = b1 m + (1-b1) gr;  v = b2 v + (1-b2) gr^2
        w  = w - lr * m / (sqrt(v) + epsilon)
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient), w, wd)
    b1, b2 = t(beta1), t(beta2)
    mean[...] = b1 * mean + (t(1) - b1) * gr
    var[...] = b2 * var + (t(1) - b2) * gr * gr
    w -= t(lr) * mean / (np.sqrt(var) + t(epsilon))


def adagrad_step(w, g, hist, lr, wd, rescale_grad, clip_gradient, eps):
    """AdaGrad: ``h += gr^2;  w = w - lr * (gr / sqrt(h + eps) + wd * w)``."""
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_set(clip_gradient))
    hist += np.square(gr)
    div = gr / np.sqrt(hist + t(eps))
    w += (div + w * t(wd)) * t(-lr)


def _clip_weights(w, t, clip_weights):
    if clip_on(clip_weights):
        np.clip(w, -t(clip_weights), t(clip_weights), out=w)


def rmsprop_step(w, g, n, lr, wd, rescale_grad, clip_gradient, gamma1, epsilon, clip_weights):
    """RMSProp (Tieleman & Hinton): ``n = (1-g1) gr^2 + g1 n;  w -= lr * gr / sqrt(n + eps)``,
    then ``w`` clipped to ``clip_weights``."""
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient), w, wd)
    g1 = t(gamma1)
    n[...] = (t(1) - g1) * np.square(gr) + g1 * n
    w -= t(lr) * (gr / np.sqrt(n + t(epsilon)))
    _clip_weights(w, t, clip_weights)


def rmspropalex_step(w, g, n, m, delta, lr, wd, rescale_grad, clip_gradient, gamma1, gamma2,
                     epsilon, clip_weights):
    """Centered RMSProp (Graves)::

        n = (1-g1) gr^2 + g1 n;  m = (1-g1) gr + g1 m
        delta = g2 delta - lr * gr / sqrt(n - m^2 + eps);  w = w + delta
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient), w, wd)
    g1 = t(gamma1)
    n[...] = (t(1) - g1) * np.square(gr) + g1 * n
    m[...] = (t(1) - g1) * gr + g1 * m
    delta[...] = t(gamma2) * delta - t(lr) * (gr / np.sqrt(n - np.square(m) + t(epsilon)))
    w += delta
    _clip_weights(w, t, clip_weights)


def adadelta_step(w, g, acc_g, acc_delta, wd, rescale_grad, clip_gradient, rho, epsilon):
    """AdaDelta; as in MXNet 1.9 the gradient array ``g`` is multiplied by ``rescale_grad`` in
    place (the caller sees the rescaled gradient), then clipped into a temporary::

        acc_g = rho acc_g + (1-rho) gr^2
        delta = sqrt(acc_delta + eps) / sqrt(acc_g + eps) * gr
        acc_delta = rho acc_delta + (1-rho) delta^2;  w = w - (delta + wd * w)
    """
    t = w.dtype.type
    g *= t(rescale_grad)
    gr = np.clip(g, -t(clip_gradient), t(clip_gradient)) if clip_set(clip_gradient) else g
    keep = t(1.0 - rho)
    acc_g *= t(rho)
    acc_g += keep * gr * gr
    delta = np.sqrt(acc_delta + t(epsilon)) / np.sqrt(acc_g + t(epsilon)) * gr
    acc_delta *= t(rho)
    acc_delta += keep * delta * delta
    w -= delta + t(wd) * w


def adamax_step(w, g, m, u, lr, wd, rescale_grad, clip_gradient, beta1, beta2):
    """AdaMax with ``lr`` already divided by ``1 - beta1**t``::

        m = b1 m + (1-b1) gr;  u = max(b2 u, |gr|);  w = w - lr * m / u
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_set(clip_gradient), w, wd)
    m *= t(beta1)
    m += t(1.0 - beta1) * gr
    u[...] = np.maximum(t(beta2) * u, np.abs(gr))
    w -= t(lr) * m / u


def nadam_step(w, g, m, v, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon, mu_t,
               mu_next, m_schedule, schedule_next, v_correction):
    """Nadam with the host-side schedule (``mu_t``, ``mu_next``, ``m_schedule``,
    ``schedule_next``, ``v_correction = 1 - beta2**t``) computed by the optimizer::

        m = b1 m + (1-b1) gr;  v = b2 v + (1-b2) gr^2
        m_bar = (1-mu_t) gr / (1-m_schedule) + mu_next m / (1-schedule_next)
        w = w - lr * m_bar / (sqrt(v / v_correction) + epsilon)
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_set(clip_gradient), w, wd)
    m *= t(beta1)
    m += t(1.0 - beta1) * gr
    v *= t(beta2)
    v += t(1.0 - beta2) * gr * gr
    m_bar = t(1.0 - mu_t) * (gr / t(1.0 - m_schedule)) + t(mu_next) * (m / t(1.0 - schedule_next))
    w -= t(lr) * m_bar / (np.sqrt(v / t(v_correction)) + t(epsilon))


def ftrl_step(w, g, z, n, lr, wd, rescale_grad, clip_gradient, lamda1, beta):
    """FTRL-Proximal::

        z = z + gr - (sqrt(n + gr^2) - sqrt(n)) * w / lr;  n = n + gr^2
        w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient))
    lr_t = t(lr)
    z += gr - (np.sqrt(n + gr * gr) - np.sqrt(n)) * w / lr_t
    n += gr * gr
    lam = t(lamda1)
    w[...] = (np.sign(z) * lam - z) / ((t(beta) + np.sqrt(n)) / lr_t + t(wd)) * (np.abs(z) > lam)


def ftml_step(w, g, d, v, z, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon, step):
    """FTML at step ``step``::

        v = b2 v + (1-b2) gr^2;  d_t = (1 - b1^t) / lr * (sqrt(v / (1 - b2^t)) + eps)
        z = b1 z + (1-b1) gr - (d_t - b1 d) w;  d = d_t;  w = -z / d_t
    """
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient), w, wd)
    b1, b2 = t(beta1), t(beta2)
    v[...] = b2 * v + (t(1) - b2) * np.square(gr)
    d_t = (t(1) - b1 ** t(step)) / t(lr) * (np.sqrt(v / (t(1) - b2 ** t(step))) + t(epsilon))
    z[...] = b1 * z + (t(1) - b1) * gr - (d_t - b1 * d) * w
    d[...] = d_t
    w[...] = -z / d_t


# twin of kernels/cuda/optim_adaptive.py:_lamb_ratio (kernels may not import this layer)
def lamb_ratio(t, r1, r2, lower_bound, upper_bound):
    """LAMB's trust ratio from the norms ``r1 = ||w||`` and ``r2 = ||u||`` (shared by the CPU
    rule and its CUDA twin, which reduces the norms on the device)."""
    r1, r2 = t(r1), t(r2)
    if lower_bound:
        r1 = max(r1, t(lower_bound))
    if upper_bound:
        r1 = min(r1, t(upper_bound))
    return r1 / r2 if (r1 > 0 and r2 > 0) else t(1)


def lamb_step(w, g, mean, var, lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon,
              lower_bound, upper_bound, bias_correction, step):
    """LAMB: Adam directions ``u`` (plus ``wd * w``) scaled by the trust ratio
    ``||w|| / ||u||`` (norms summed in float32, ``||w||`` clamped to the bounds)."""
    t = w.dtype.type
    gr = _rescaled(g, t, rescale_grad, clip_gradient, clip_on(clip_gradient))
    b1, b2 = t(beta1), t(beta2)
    mean[...] = b1 * mean + (t(1) - b1) * gr
    var[...] = b2 * var + (t(1) - b2) * np.square(gr)
    m_hat, v_hat = mean, var
    if bias_correction:
        m_hat = mean / (t(1) - b1 ** t(step))
        v_hat = var / (t(1) - b2 ** t(step))
    u = m_hat / (np.sqrt(v_hat) + t(epsilon)) + t(wd) * w
    ratio = lamb_ratio(t, np.sqrt(np.sum(np.square(w, dtype=np.float32))),
                       np.sqrt(np.sum(np.square(u, dtype=np.float32))), lower_bound,
                       upper_bound)
    w -= t(lr) * ratio * u
