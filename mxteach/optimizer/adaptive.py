"""Adaptive optimizers (per-coordinate step sizes): Adam, AdaGrad, RMSProp, AdaDelta, Adamax,
Nadam, Ftrl, FTML and LAMB, as in MXNet 1.9.

Import them from :mod:`mxteach.optimizer` (``mx.optimizer.Adam``); the base class, registry and
Updater are there. Each rule's docstring gives its formula with ``g`` the raw gradient and
``lr``/``wd`` the per-index values after multipliers. Where a rule clips matters and differs
between optimizers, so each docstring says where.

The classes compute the per-index scalars (rates, bias corrections, schedules); the rules are
the functions of :mod:`~mxteach.optimizer.steps`, run on the weight's device (CUDA twins in
``kernels/cuda/optim_adaptive.py``), so the states live and are updated in device memory.
"""
from __future__ import annotations

import math

import numpy as np

from ..base import MXNetError
from .base import Optimizer, register, _apply, _check_same_shape
from . import steps
from .lamb_ops import lamb_update
from ..ndarray.sparse_storage import zeros as sparse_zeros
from .sparse import (dense_grad, is_row_sparse, lazy_apply, sparse_clip, state_stype,
                     weight_is_row_sparse)

__all__ = ["Adam", "AdaGrad", "RMSProp", "AdaDelta", "Adamax", "Nadam", "Ftrl", "FTML", "LAMB"]


def _zeros_like(weight, same_dtype=True, stype="default"):
    return sparse_zeros(stype, weight.shape, weight.context,
                        dtype=weight.dtype if same_dtype else None)


def _two_moments(self, index, weight):
    """``create_state`` of the rules with two moments of the weight's dtype (m and v); as
    MXNet, row_sparse for a row_sparse weight updated lazily."""
    stype = state_stype(weight, getattr(self, "lazy_update", False))
    return (_zeros_like(weight, stype=stype), _zeros_like(weight, stype=stype))


def _begin(opt, index, weight, grad):
    """Count the update and return (lr, wd, step count of ``index``)."""
    _check_same_shape(weight, grad, index)
    opt._update_count(index)
    return opt._get_lr(index), opt._get_wd(index), opt._index_update_count[index]


def _run(rule, *args):
    _apply(rule, "optim_adaptive", *args)


@register
class Adam(Optimizer):
    """Adam (Kingma & Ba), with the bias correction folded into the rate.

    At step ``t`` of this index::

        g = clip(rescale_grad * g + wd * w, clip_gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        w = w - lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + epsilon)

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    epsilon : float, default 1e-8
    lazy_update : bool, default True
        With a row_sparse gradient, update only the rows it stores (their moments too);
        False updates every row (``optimizer/sparse.py``).
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    Notes
    -----
    Weight decay is added to the gradient *before* clipping (unlike SGD). See notebook 05.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    create_state = _two_moments

    def update(self, index, weight, grad, state):
        lr, wd, step = _begin(self, index, weight, grad)
        lr *= math.sqrt(1.0 - self.beta2 ** step) / (1.0 - self.beta1 ** step)
        if self.lazy_update and is_row_sparse(grad):
            lazy_apply(steps.adam_step, weight, grad, state[0], state[1], lr, wd,
                       self.rescale_grad, self.clip_gradient, self.beta1, self.beta2,
                       self.epsilon)
            return
        _run(steps.adam_step, weight, dense_grad(grad), state[0], state[1], lr, wd,
             self.rescale_grad, self.clip_gradient, self.beta1, self.beta2, self.epsilon)


@register
class AdaGrad(Optimizer):
    """AdaGrad (Duchi et al.): divide by the root of the summed squared gradients.

    Each update::

        g = clip(rescale_grad * g, clip_gradient)
        h = h + g**2
        w = w - lr * (g / sqrt(h + eps) + wd * w)

    Parameters
    ----------
    eps : float, default 1e-7
        Added inside the square root.
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer` (learning_rate default 0.01).

    Notes
    -----
    The history is float32 whatever the weight's dtype. ``clip_gradient=0`` clips every
    gradient to 0 here (only ``None`` turns clipping off).

    A row_sparse gradient updates only its rows and their history (MXNet's
    ``_sparse_adagrad_update``; with ``wd=0`` the other rows would not move anyway). As in
    MXNet it needs ``wd=0``, and ``clip_gradient=0`` clips nothing there (notebook 15).
    See notebook 05.
    """

    def __init__(self, eps=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        return _zeros_like(weight, same_dtype=False, stype=state_stype(weight))

    def update(self, index, weight, grad, state):
        lr, wd, _ = _begin(self, index, weight, grad)
        if is_row_sparse(grad):
            if wd != 0:
                raise MXNetError(f"AdaGrad with a row_sparse gradient needs wd=0, got wd={wd} "
                                 f"for parameter {index!r} (MXNet: Operator not implemented: "
                                 f"_sparse_adagrad_update); set wd=0 or bind the gradient dense")
            lazy_apply(steps.adagrad_step, weight, grad, state, lr, 0.0, self.rescale_grad,
                       sparse_clip(self.clip_gradient), self.float_stable_eps)
            return
        _run(steps.adagrad_step, weight, grad, state, lr, wd, self.rescale_grad,
             self.clip_gradient, self.float_stable_eps)


@register
class RMSProp(Optimizer):
    """RMSProp: Tieleman & Hinton's (``centered=False``) or Graves's (``centered=True``).

    Both start from ``g = clip(rescale_grad * g + wd * w, clip_gradient)``.
    Not centered::

        n = (1 - gamma1) * g**2 + gamma1 * n
        w = w - lr * g / sqrt(n + epsilon)

    Centered::

        n = (1 - gamma1) * g**2 + gamma1 * n
        m = (1 - gamma1) * g + gamma1 * m
        delta = gamma2 * delta - lr * g / sqrt(n - m**2 + epsilon)
        w = w + delta

    then ``w`` is clipped into ``[-clip_weights, clip_weights]`` when ``clip_weights`` is set.

    Parameters
    ----------
    learning_rate : float, default 0.001
    gamma1 : float, default 0.9
        Decay of the squared-gradient average.
    gamma2 : float, default 0.9
        Momentum of ``delta`` (centered only).
    epsilon : float, default 1e-8
        Added inside the square root.
    centered : bool, default False
    clip_weights : float, optional
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    See notebook 05.
    """

    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def create_state(self, index, weight):
        count = 3 if self.centered else 1
        return tuple(_zeros_like(weight, same_dtype=False) for _ in range(count))

    def update(self, index, weight, grad, state):
        lr, wd, _ = _begin(self, index, weight, grad)
        common = (lr, wd, self.rescale_grad, self.clip_gradient, self.gamma1)
        if not self.centered:
            _run(steps.rmsprop_step, weight, grad, state[0], *common, self.epsilon,
                 self.clip_weights)
        else:
            _run(steps.rmspropalex_step, weight, grad, *state, *common, self.gamma2,
                 self.epsilon, self.clip_weights)


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler): a step size from the ratio of two running averages; no learning rate.

    Each update::

        g = clip(rescale_grad * g, clip_gradient)
        acc_g = rho * acc_g + (1 - rho) * g**2
        delta = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta**2
        w = w - (delta + wd * w)

    Parameters
    ----------
    rho : float, default 0.9
    epsilon : float, default 1e-5
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`; the learning rate is not used.

    Notes
    -----
    As in MXNet 1.9, the caller's gradient array is multiplied by ``rescale_grad`` in place.
    See notebook 05.
    """

    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight, same_dtype=False), _zeros_like(weight, same_dtype=False))

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        wd = self._get_wd(index)
        self._update_count(index)
        _run(steps.adadelta_step, weight, grad, state[0], state[1], wd, self.rescale_grad,
             self.clip_gradient, self.rho, self.epsilon)


@register
class Adamax(Optimizer):
    """AdaMax (Kingma & Ba, section 7): Adam with an infinity-norm second moment.

    At step ``t``::

        g = clip(rescale_grad * g + wd * w, clip_gradient)
        m = beta1 * m + (1 - beta1) * g
        u = maximum(beta2 * u, |g|)
        w = w - lr / (1 - beta1**t) * m / u

    Parameters
    ----------
    learning_rate : float, default 0.002
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    See notebook 05.
    """

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    create_state = _two_moments

    def update(self, index, weight, grad, state):
        lr, wd, step = _begin(self, index, weight, grad)
        lr /= 1.0 - self.beta1 ** step
        _run(steps.adamax_step, weight, grad, state[0], state[1], lr, wd, self.rescale_grad,
             self.clip_gradient, self.beta1, self.beta2)


@register
class Nadam(Optimizer):
    """Nadam (Dozat): Adam with Nesterov momentum and a warming momentum schedule.

    At step ``t``, with ``mu(t) = beta1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))``::

        g = clip(rescale_grad * g + wd * w, clip_gradient)
        S = S * mu(t)                      (S starts at 1)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_bar = (1 - mu(t)) * g / (1 - S) + mu(t+1) * m / (1 - S * mu(t+1))
        w = w - lr * m_bar / (sqrt(v / (1 - beta2**t)) + epsilon)

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    epsilon : float, default 1e-8
    schedule_decay : float, default 0.004
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    Notes
    -----
    The product ``S`` (``m_schedule``) is one number for the whole optimizer, as in MXNet: it
    advances at every update of *any* weight, so a model with k weights moves it k times per
    batch. See notebook 05.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.0

    create_state = _two_moments

    def update(self, index, weight, grad, state):
        lr, wd, step = _begin(self, index, weight, grad)
        mu_t = self.beta1 * (1.0 - 0.5 * pow(0.96, step * self.schedule_decay))
        mu_next = self.beta1 * (1.0 - 0.5 * pow(0.96, (step + 1) * self.schedule_decay))
        self.m_schedule = self.m_schedule * mu_t
        schedule_next = self.m_schedule * mu_next
        _run(steps.nadam_step, weight, grad, state[0], state[1], lr, wd, self.rescale_grad,
             self.clip_gradient, self.beta1, self.beta2, self.epsilon, mu_t, mu_next,
             self.m_schedule, schedule_next, 1.0 - pow(self.beta2, step))


@register
class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al.), with L1 (``lamda1``) and L2 (``wd``) regularisation.

    Each update::

        g = clip(rescale_grad * g, clip_gradient)
        z = z + g - (sqrt(n + g**2) - sqrt(n)) * w / lr
        n = n + g**2
        w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (|z| > lamda1)

    Parameters
    ----------
    lamda1 : float, default 0.01
    learning_rate : float, default 0.1
        Used as the rate when there is no scheduler (a scheduler's own ``base_lr`` wins).
    beta : float, default 1
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    Notes
    -----
    With a row_sparse gradient, a row_sparse weight (a row_sparse parameter in the kvstore)
    is updated lazily, only the gradient's rows and their ``z``, ``n``; a dense weight takes
    the dense update of every row, as MXNet (a storage fallback; notebook 15).
    See notebook 05.
    """

    def __init__(self, lamda1=0.01, learning_rate=0.1, beta=1, **kwargs):
        super().__init__(**kwargs)
        self.lamda1 = lamda1
        self.beta = beta
        self.lr = learning_rate

    def create_state(self, index, weight):
        stype = state_stype(weight)
        return (_zeros_like(weight, same_dtype=False, stype=stype),
                _zeros_like(weight, same_dtype=False, stype=stype))

    def update(self, index, weight, grad, state):
        lr, wd, _ = _begin(self, index, weight, grad)
        if is_row_sparse(grad) and weight_is_row_sparse(weight):
            lazy_apply(steps.ftrl_step, weight, grad, state[0], state[1], lr, wd,
                       self.rescale_grad, sparse_clip(self.clip_gradient), self.lamda1,
                       self.beta)
            return
        _run(steps.ftrl_step, weight, grad, state[0], state[1], lr, wd, self.rescale_grad,
             self.clip_gradient, self.lamda1, self.beta)


@register
class FTML(Optimizer):
    """FTML, follow the moving leader (Zheng & Kwok, 2017).

    At step ``t``::

        g = clip(rescale_grad * g + wd * w, clip_gradient)
        v = beta2 * v + (1 - beta2) * g**2
        d_t = (1 - beta1**t) / lr * (sqrt(v / (1 - beta2**t)) + epsilon)
        z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * w
        d = d_t;  w = -z / d_t

    Parameters
    ----------
    beta1 : float, default 0.6
    beta2 : float, default 0.999
    epsilon : float, default 1e-8
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    See notebook 05.
    """

    def __init__(self, beta1=0.6, beta2=0.999, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))

    def update(self, index, weight, grad, state):
        lr, wd, step = _begin(self, index, weight, grad)
        _run(steps.ftml_step, weight, grad, *state, lr, wd, self.rescale_grad,
             self.clip_gradient, self.beta1, self.beta2, self.epsilon, step)


@register
class LAMB(Optimizer):
    """LAMB (You et al., 2019): Adam directions scaled by a layer-wise trust ratio.

    At step ``t``::

        g = clip(rescale_grad * g, clip_gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        u = m_hat / (sqrt(v_hat) + epsilon) + wd * w     (hats: bias-corrected if asked)
        r1 = ||w|| (clamped to [lower_bound, upper_bound] when given);  r2 = ||u||
        w = w - lr * (r1 / r2 if r1 > 0 and r2 > 0 else 1) * u

    Parameters
    ----------
    learning_rate : float, default 0.001
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    epsilon : float, default 1e-6
    lower_bound, upper_bound : float, optional
        Clamp of the weight norm ``r1``.
    bias_correction : bool, default True
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    See notebook 05.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction
        self.aggregate_num = 45

    create_state = _two_moments

    # through MXNet's LAMB operators (lamb_update_phase1/2, multi_lamb_update), as MXNet's
    # optimizer: optimizer/lamb_ops.py
    def update(self, index, weight, grad, state):
        lamb_update(self, index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        first = weight[0] if isinstance(weight, (list, tuple)) else weight
        lamb_update(self, index, weight, grad, state,
                    multi_precision=self.multi_precision and first.dtype == np.float16)
