"""The SGD family of optimizers: SGD (and its alias ccSGD), NAG, Signum, SGLD, DCASGD and
MXNet's Test optimizer, as in MXNet 1.9.

Import them from :mod:`mxteach.optimizer` (``mx.optimizer.SGD``); the base class, registry and
Updater are there. The update rules are numpy functions that change arrays in place, in the
weight's dtype and in the order MXNet's kernels use.
"""
from __future__ import annotations

import math
from .. import config
import warnings

import numpy as np

from ..backend import for_context
from ..ndarray.ndarray import zeros
from .. import random_state as _random
from .base import Optimizer, register, _buf, _clip, _clip_on, _check_same_shape

__all__ = ["SGD", "ccSGD", "NAG", "Signum", "SGLD", "DCASGD", "Test", "sgd_step", "nag_step"]


def sgd_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """SGD with optional momentum, in place on ``w`` (and ``mom``)::

        step = momentum * mom - lr * wd * w - lr * clip(rescale_grad * g)
        mom  = step              (only when there is a momentum buffer)
        w    = w + step
    """
    t = w.dtype.type
    lr, wd, rescale = t(lr), t(wd), t(rescale_grad)
    gr = rescale * g.astype(t, copy=False)
    if _clip_on(clip_gradient):
        gr = _clip(gr, t(clip_gradient))
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
    gr = t(rescale_grad) * g.astype(t, copy=False)
    if _clip_on(clip_gradient):
        gr = _clip(gr, t(clip_gradient))
    mom *= momentum
    w[...] = w - mom + (momentum + t(1)) * (mom - lr * (gr + wd * w))
    mom -= lr * (gr + wd * w)


class _MasterCopyMixin:
    """float16 weights with ``multi_precision``: state is ``(state, float32 master copy)``."""

    def create_state_multi_precision(self, index, weight):
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            return (self.create_state(index, master), master)
        if weight.dtype == np.float16:
            warnings.warn("updating float16 weights in float16 can converge poorly; consider "
                          "multi_precision=True")
        return self.create_state(index, weight)

    def _uses_master(self, weight, state):
        return (self.multi_precision and weight.dtype == np.float16
                and isinstance(state, (tuple, list)))


@register
class SGD(_MasterCopyMixin, Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay.

    Each update (``g`` the raw gradient, ``lr``/``wd`` after multipliers)::

        step = momentum * mom - lr * wd * w - lr * clip(rescale_grad * g, clip_gradient)
        mom = step;  w = w + step

    With ``momentum=0`` there is no state and ``w -= lr * (wd * w + clip(rescale_grad * g))``.

    Parameters
    ----------
    momentum : float, default 0.0
        Momentum factor.
    lazy_update : bool, default True
        Accepted for compatibility; all arrays here are dense, so updates are always full.
    **kwargs
        Passed to :class:`Optimizer` (learning_rate default 0.01).

    Notes
    -----
    The clip applies to the rescaled gradient, before weight decay is added. SGD updates
    several weights per call when the Updater hands it lists (``aggregate_num``, from the
    environment variable ``MXNET_OPTIMIZER_AGGREGATION_SIZE``, default 4), as MXNet does; the
    numbers are the same as one call per weight. See notebook 04.
    """

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = config.integer("MXNET_OPTIMIZER_AGGREGATION_SIZE")

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def _update_impl(self, indices, weights, grads, states, multi_precision):
        if not isinstance(indices, (list, tuple)):
            indices, weights, grads, states = [indices], [weights], [grads], [states]
        for i, w, g in zip(indices, weights, grads):
            _check_same_shape(w, g, i)
        self._update_count(indices)
        lrs, wds = self._get_lrs(indices), self._get_wds(indices)
        momentum = self.momentum if self.momentum > 0 else 0.0
        for w, g, s, lr, wd in zip(weights, grads, states, lrs, wds):
            # the weight's device gives the step: sgd_step itself on the CPU, its CUDA twin
            # (kernels/cuda/optim.py, on device buffers) on a gpu
            dev = for_context(w.context)
            mom, target = s if multi_precision else (s, w)
            dev.check_operands("SGD update", ("weight", w),
                               (("gradient", g), ("momentum state", mom)))
            dev.twin(sgd_step, "optim")(_buf(target), _buf(g),
                                        None if mom is None else _buf(mom), lr, wd,
                                        self.rescale_grad, self.clip_gradient, momentum)
            if multi_precision:
                _buf(w)[...] = _buf(target).astype(w.dtype)

    def update(self, index, weight, grad, state):
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        first = weight[0] if isinstance(weight, (list, tuple)) else weight
        self._update_impl(index, weight, grad, state,
                          multi_precision=self.multi_precision and first.dtype == np.float16)


@register
class ccSGD(SGD):  # noqa: N801 - MXNet's name
    """Old alias of :class:`SGD`, kept because MXNet still registers it. See notebook 04."""


@register
class NAG(_MasterCopyMixin, Optimizer):
    """Nesterov accelerated gradient.

    Each update (``mom`` stores learning-rate-scaled steps, as in MXNet)::

        gr = clip(rescale_grad * g, clip_gradient)
        mom = momentum * mom
        w = w - mom + (1 + momentum) * (mom - lr * (gr + wd * w))
        mom = mom - lr * (gr + wd * w_new)

    With a constant rate and no weight decay this is the textbook ``v = momentum * v + gr``,
    ``w -= lr * (gr + momentum * v)`` with ``mom = -lr * v``. Without momentum it is plain SGD.

    Notes
    -----
    The momentum's weight-decay term uses the weight *after* this update: MXNet 1.9's kernel
    overwrites the weight in place before it updates the momentum, and we keep its numbers.

    Parameters
    ----------
    momentum : float, default 0.0
        Momentum factor.
    **kwargs
        Passed to :class:`Optimizer`.

    See notebook 04.
    """

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def _step(self, index, w, g, mom, lr, wd):
        if mom is None:
            sgd_step(w, g, None, lr, wd, self.rescale_grad, self.clip_gradient, 0.0)
        else:
            nag_step(w, g, mom, lr, wd, self.rescale_grad, self.clip_gradient, self.momentum)

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        self._step(index, _buf(weight), _buf(grad), None if state is None else _buf(state),
                   lr, wd)

    def update_multi_precision(self, index, weight, grad, state):
        if not self._uses_master(weight, state):
            return self.update(index, weight, grad, state)
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        mom, master = state
        self._step(index, _buf(master), _buf(grad).astype(np.float32),
                   None if mom is None else _buf(mom), lr, wd)
        _buf(weight)[...] = _buf(master).astype(weight.dtype)


@register
class Signum(Optimizer):
    """signSGD / Signum: step by the sign of the gradient or of its momentum.

    With momentum (Signum)::

        mom = momentum * mom - (1 - momentum) * (wd * w + clip(rescale_grad * g))
        w = (1 - lr * wd_lh) * w + lr * sign(mom)

    Without momentum (signSGD): ``w = (1 - lr * wd) * w - lr * sign(g)``.

    Parameters
    ----------
    learning_rate : float, default 0.01
    momentum : float, default 0.9
    wd_lh : float, default 0.0
        Decoupled weight decay (Loshchilov & Hutter).
    **kwargs
        Passed to :class:`Optimizer`.

    See notebook 04.
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        w, g = _buf(weight), _buf(grad)
        t = w.dtype.type
        if state is None:
            w[...] = (t(1) - t(lr) * t(wd)) * w - t(lr) * np.sign(g)
            return
        mom = _buf(state)
        gr = t(self.rescale_grad) * g
        if _clip_on(self.clip_gradient):
            gr = _clip(gr, t(self.clip_gradient))
        keep = t(1) - t(self.momentum)
        mom[...] = t(self.momentum) * mom - keep * t(wd) * w - keep * gr
        wd_lh = self.wd_lh if self.wd_lh else 0.0
        w[...] = (t(1) - t(lr) * t(wd_lh)) * w + t(lr) * np.sign(mom)


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics: half a gradient step plus Gaussian noise.

    Each update::

        g = clip(rescale_grad * g)
        w = w - lr / 2 * (g + wd * w) + normal(0, sqrt(lr))

    The noise comes from ``mxteach.random_state`` (seed it with ``mx.random.seed``), so runs are
    reproducible here but do not reproduce MXNet's random stream.

    Parameters
    ----------
    **kwargs
        Passed to :class:`Optimizer`.

    See notebook 04.
    """

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        w, t = _buf(weight), _buf(weight).dtype.type
        g = _buf(grad) * t(self.rescale_grad)
        if self.clip_gradient is not None:
            g = _clip(g, t(self.clip_gradient))
        w += t(-lr / 2) * (g + t(wd) * w)
        w += _random.rng().normal(0.0, math.sqrt(lr), size=w.shape).astype(w.dtype)


@register
class DCASGD(Optimizer):
    """Delay-compensated asynchronous SGD (Zheng et al., 2016).

    Each update, with ``w_prev`` the weight before the previous update::

        g = clip(rescale_grad * g)
        step = -lr * (g + wd * w + lamda * g * g * (w - w_prev))
        mom = momentum * mom + step          (when momentum > 0, else mom = step)
        w_prev = w;  w = w + mom

    Parameters
    ----------
    momentum : float, default 0.0
    lamda : float, default 0.04
        Scale of the delay compensation.
    **kwargs
        Passed to :class:`Optimizer`.

    Notes
    -----
    MXNet 1.9's version fails whenever ``momentum > 0`` (it tests an NDArray's truth value);
    here momentum works as written above, and ``momentum=0`` gives MXNet's numbers.
    See notebook 04.
    """

    def __init__(self, momentum=0.0, lamda=0.04, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lamda = lamda

    def create_state(self, index, weight):
        mom = None if self.momentum == 0.0 else zeros(weight.shape, weight.context,
                                                       dtype=weight.dtype)
        return (mom, weight.copy())

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        w, t = _buf(weight), _buf(weight).dtype.type
        g = _buf(grad) * t(self.rescale_grad)
        if self.clip_gradient is not None:
            g = _clip(g, t(self.clip_gradient))
        mom, prev = state
        step = t(-lr) * (g + t(wd) * w + t(self.lamda) * g * g * (w - _buf(prev)))
        if mom is not None:
            m = _buf(mom)
            m *= t(self.momentum)
            m += step
            step = m
        _buf(prev)[...] = w
        w += step


@register
class Test(Optimizer):
    """MXNet's test optimizer: ``w += rescale_grad * g`` and the state mirrors ``w``.
    See notebook 04."""

    def create_state(self, index, weight):
        return zeros(weight.shape, weight.context)

    def update(self, index, weight, grad, state):
        w = _buf(weight)
        w += _buf(grad) * w.dtype.type(self.rescale_grad)
        _buf(state)[...] = w
