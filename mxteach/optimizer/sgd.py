"""The SGD family of optimizers: SGD (and its alias ccSGD), NAG, Signum, SGLD, DCASGD and
MXNet's Test optimizer, as in MXNet 1.9.

Import them from :mod:`mxteach.optimizer` (``mx.optimizer.SGD``); the base class, registry and
Updater are there. The classes compute the per-index scalars; the update rules themselves are
the functions of :mod:`~mxteach.optimizer.steps`, run on the weight's device (their CUDA twins
are in ``kernels/cuda/optim.py``), so every optimizer here also updates weights on ``mx.gpu(i)``
with its states in device memory.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import config
from .. import random_state as _random
from ..ndarray.ndarray import NDArray, zeros
from .base import Optimizer, register, _apply, _check_same_shape, _store
from ..ndarray.sparse_storage import zeros as sparse_zeros
from .sparse import dense_grad, is_row_sparse, lazy_apply, state_stype
from .steps import (sgd_step, nag_step, signum_step, sgld_step, dcasgd_step, test_step)

__all__ = ["SGD", "ccSGD", "NAG", "Signum", "SGLD", "DCASGD", "Test", "sgd_step", "nag_step"]


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
        With a row_sparse gradient, update only the rows it stores (no weight decay or
        momentum decay elsewhere); False updates every row (``optimizer/sparse.py``).
    **kwargs
        Passed to :class:`Optimizer` (learning_rate default 0.01).

    Notes
    -----
    The clip applies to the rescaled gradient, before weight decay is added. SGD updates
    several weights per call when the Updater hands it lists (``aggregate_num``, from the
    environment variable ``MXNET_OPTIMIZER_AGGREGATION_SIZE``, default 4), as MXNet does; the
    numbers are the same as one call per weight. See notebook 05.
    """

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update
        self.aggregate_num = config.integer("MXNET_OPTIMIZER_AGGREGATION_SIZE")

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        # as MXNet: a row_sparse weight updated lazily gets a row_sparse momentum
        return sparse_zeros(state_stype(weight, self.lazy_update), weight.shape,
                            weight.context, dtype=weight.dtype)

    def _update_impl(self, indices, weights, grads, states, multi_precision):
        if not isinstance(indices, (list, tuple)):
            indices, weights, grads, states = [indices], [weights], [grads], [states]
        for i, w, g in zip(indices, weights, grads):
            _check_same_shape(w, g, i)
        self._update_count(indices)
        lrs, wds = self._get_lrs(indices), self._get_wds(indices)
        momentum = self.momentum if self.momentum > 0 else 0.0
        for w, g, s, lr, wd in zip(weights, grads, states, lrs, wds):
            mom, target = s if multi_precision else (s, w)
            if multi_precision:
                g = g.astype(np.float32)
            if self.lazy_update and is_row_sparse(g):     # only the rows the batch touched
                lazy_apply(sgd_step, target, g, mom, lr, wd, self.rescale_grad,
                           self.clip_gradient, momentum)
            else:       # MXNet's "standard update": every row, the gradient densified
                _apply(sgd_step, "optim", target, dense_grad(g), mom, lr, wd,
                       self.rescale_grad, self.clip_gradient, momentum)
            if multi_precision:
                _store(w, target)

    def update(self, index, weight, grad, state):
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        first = weight[0] if isinstance(weight, (list, tuple)) else weight
        self._update_impl(index, weight, grad, state,
                          multi_precision=self.multi_precision and first.dtype == np.float16)


@register
class ccSGD(SGD):  # noqa: N801 - MXNet's name
    """Old alias of :class:`SGD`, kept because MXNet still registers it. See notebook 05."""


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

    See notebook 05.
    """

    def __init__(self, momentum=0.0, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def _step(self, w, g, mom, lr, wd):
        if mom is None:
            _apply(sgd_step, "optim", w, g, None, lr, wd, self.rescale_grad,
                   self.clip_gradient, 0.0)
        else:
            _apply(nag_step, "optim", w, g, mom, lr, wd, self.rescale_grad,
                   self.clip_gradient, self.momentum)

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        self._step(weight, grad, state, self._get_lr(index), self._get_wd(index))

    def update_multi_precision(self, index, weight, grad, state):
        if not self._uses_master(weight, state):
            return self.update(index, weight, grad, state)
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        mom, master = state
        self._step(master, grad.astype(np.float32), mom, self._get_lr(index),
                   self._get_wd(index))
        _store(weight, master)


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

    See notebook 05.
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
        _apply(signum_step, "optim", weight, grad, state, self._get_lr(index),
               self._get_wd(index), self.rescale_grad, self.clip_gradient, self.momentum,
               self.wd_lh if self.wd_lh else 0.0)


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

    See notebook 05.
    """

    def update(self, index, weight, grad, state):
        _check_same_shape(weight, grad, index)
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        # drawn on the host from mxteach's stream, then moved to the weight's device: the
        # same seed gives the same numbers on every device
        noise = _random.rng().normal(0.0, math.sqrt(lr), size=weight.shape)
        _apply(sgld_step, "optim", weight, grad,
               NDArray(noise.astype(weight.dtype), weight.context), lr, wd, self.rescale_grad,
               self.clip_gradient)


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
    See notebook 05.
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
        mom, prev = state
        _apply(dcasgd_step, "optim", weight, grad, mom, prev, self._get_lr(index),
               self._get_wd(index), self.rescale_grad, self.clip_gradient, self.momentum,
               self.lamda)


@register
class Test(Optimizer):
    """MXNet's test optimizer: ``w += rescale_grad * g`` and the state mirrors ``w``.
    See notebook 05."""

    def create_state(self, index, weight):
        return zeros(weight.shape, weight.context)

    def update(self, index, weight, grad, state):
        _apply(test_step, "optim", weight, grad, state, self.rescale_grad)
