"""LARS (You, Gitman and Ginsburg, 2017, "Large Batch Training of Convolutional Networks"), as
``mx.optimizer.LARS`` in MXNet 1.9.1: SGD with momentum whose learning rate is scaled per layer
by the trust ratio ``eta * ||w|| / (||g|| + wd * ||w|| + eps)``.

Like MXNet's, it is built on the operators a student can call by hand: with dense weights it
updates up to ``aggregate_num`` weights per call, first ``multi_sum_sq`` (the squared norms of
the weights and of the gradients), then ``multi_lars`` (the scaled learning rates, left in an
NDArray on the device), then ``preloaded_multi_[mp_]sgd_[mom_]update`` reading those rates;
otherwise it computes each ratio on the host and calls ``sgd_[mom_]update`` /
``mp_sgd_[mom_]update``. See ``ops/optimizer_multi.py``.
"""
from __future__ import annotations

import numpy as np

from .. import config
from .. import ndarray as nd
from ..ndarray.ndarray import zeros
from .base import Optimizer, register
from .sgd import _MasterCopyMixin

__all__ = ["LARS"]

_NO_LARS = ("gamma", "beta", "bias")      # names that keep the plain learning rate


def _lars_layer(name):
    return not name.endswith(_NO_LARS)


@register
class LARS(_MasterCopyMixin, Optimizer):
    """SGD with momentum and a layer-wise (LARS) learning rate.

    For each weight whose name does not end in ``gamma``, ``beta`` or ``bias``::

        w_norm, g_norm = ||w||, ||rescale_grad * g||
        lr_layer = lr * eta * w_norm / (g_norm + wd * w_norm + eps)   if both norms > 0
        lr_layer = lr                                                  otherwise

    then the SGD step of :class:`~mxteach.optimizer.SGD` with ``lr_layer``.

    Parameters
    ----------
    momentum : float, default 0.0
    lazy_update : bool, default True
        Passed to ``sgd_[mom_]update`` on the per-weight path.
    eta : float, default 0.001
        The LARS coefficient.
    eps : float, default 0
        Added to the ratio's denominator.
    momentum_correction : bool, default True
        Scale the momentum by ``lr / previous lr`` when a scheduler changes the rate (Goyal et
        al., 2017).
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`.

    Notes
    -----
    Only names ending in ``_weight`` get weight decay by default (MXNet's LARS also exempts
    ``_gamma``). See notebook 05.
    """

    def __init__(self, momentum=0.0, lazy_update=True, eta=0.001, eps=0,
                 momentum_correction=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.momentum_correction = momentum_correction
        self.lazy_update = lazy_update
        self.aggregate_num = config.integer("MXNET_OPTIMIZER_AGGREGATION_SIZE")
        self.eta = eta
        self.eps = eps
        self.skip = 0
        self.last_lr = None
        self.cur_lr = None

    def _get_lrs(self, indices):
        # remembers the previous rate for the momentum correction, as MXNet's LARS
        if self.cur_lr is not None:
            self.last_lr = self.cur_lr
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        if self.cur_lr is None:
            self.last_lr = lr
        self.cur_lr = lr
        return [lr * self._mult(i, self.lr_mult, "lr_mult") for i in indices]

    def set_wd_mult(self, args_wd_mult):
        """Weight-decay multipliers: 0 for every parameter not named ``*_weight``, then the
        symbol's ``__wd_mult__`` attributes, then ``args_wd_mult``. See notebook 05."""
        # the base class's rule exempts names not ending in _weight or _gamma; LARS also
        # exempts _gamma (unless the symbol sets its __wd_mult__)
        attrs = self.sym_info[0] if self.sym_info else {}
        gammas = {n: 0.0 for n in self.idx2name.values()
                  if n.endswith("_gamma") and "__wd_mult__" not in attrs.get(n, {})}
        super().set_wd_mult({**gammas, **args_wd_mult})

    def create_state(self, index, weight):
        if self.momentum == 0.0:
            return None
        return zeros(weight.shape, weight.context, dtype=weight.dtype)

    def _name(self, index):
        return self.idx2name.get(index, str(index))

    def _l2norm(self, v, rescale=False):
        v = v.astype("float32")
        if rescale:
            v *= self.rescale_grad
        return nd.norm(v).asnumpy()[0]

    def _get_lars(self, index, weight, grad, lr, wd):
        """The layer's learning rate computed on the host (the per-weight path)."""
        if not _lars_layer(self._name(index)):
            return lr
        w_norm, g_norm = self._l2norm(weight), self._l2norm(grad, rescale=True)
        if w_norm > 0.0 and g_norm > 0.0:
            return self.eta * w_norm / (g_norm + wd * w_norm + self.eps) * lr
        return lr

    def _kwargs(self):
        kwargs = {"rescale_grad": self.rescale_grad}
        if self.momentum > 0:
            correct = self.momentum_correction and self.last_lr != 0
            kwargs["momentum"] = (self.momentum * (self.cur_lr / self.last_lr) if correct
                                  else self.momentum)
        if self.clip_gradient:
            kwargs["clip_gradient"] = self.clip_gradient
        return kwargs

    def _update_impl(self, indices, weights, grads, states, multi_precision=False):
        if not isinstance(indices, (tuple, list)):
            indices, weights, grads, states = [indices], [weights], [grads], [states]
        aggregate = all(getattr(a, "stype", "default") == "default" for a in weights + grads)
        self._update_count(indices)
        lrs, wds = self._get_lrs(indices), self._get_wds(indices)
        kwargs = self._kwargs()
        if aggregate:
            self._aggregated(indices, weights, grads, states, lrs, wds, kwargs, multi_precision)
            return
        lrs = [self._get_lars(*args) for args in zip(indices, weights, grads, lrs, wds)]
        for w, g, s, lr, wd in zip(weights, grads, states, lrs, wds):
            if not multi_precision:
                if s is not None:
                    nd.sgd_mom_update(w, g, s, out=w, lazy_update=self.lazy_update, lr=lr,
                                      wd=wd, **kwargs)
                else:
                    nd.sgd_update(w, g, out=w, lazy_update=self.lazy_update, lr=lr, wd=wd,
                                  **kwargs)
            elif s[0] is not None:
                nd.mp_sgd_mom_update(w, g, s[0], s[1], out=w, lr=lr, wd=wd, **kwargs)
            else:
                nd.mp_sgd_update(w, g, s[1], out=w, lr=lr, wd=wd, **kwargs)

    def _aggregated(self, indices, weights, grads, states, lrs, wds, kwargs, multi_precision):
        """LARS layers first: their rates are rescaled on the device by multi_lars, then every
        weight goes through the preloaded SGD operators in groups of aggregate_num."""
        names = [self._name(i) for i in indices]
        order = ([k for k, n in enumerate(names) if _lars_layer(n)]
                 + [k for k, n in enumerate(names) if not _lars_layer(n)])
        n_lars = sum(_lars_layer(n) for n in names)
        ctx = weights[0].context
        new_lrs = nd.array([lrs[k] for k in order], ctx=ctx, dtype="float32")
        new_wds = nd.array([wds[k] for k in order], ctx=ctx, dtype="float32")
        weights = [weights[k] for k in order]
        grads = [grads[k] for k in order]
        states = [states[k] for k in order]
        if n_lars > 0:
            w_sum_sq = nd.multi_sum_sq(*weights[:n_lars], num_arrays=n_lars)
            g_sum_sq = nd.multi_sum_sq(*grads[:n_lars], num_arrays=n_lars)
            nd.multi_lars(new_lrs[:n_lars], w_sum_sq, g_sum_sq, new_wds[:n_lars], eta=self.eta,
                          eps=self.eps, rescale_grad=self.rescale_grad, out=new_lrs[:n_lars])
        mom = self.momentum > 0
        op = getattr(nd, "preloaded_multi_" + ("mp_" if multi_precision else "") + "sgd_"
                     + ("mom_" if mom else "") + "update")
        size = self.aggregate_num
        for start in range(0, len(indices), size):
            stop = min(start + size, len(indices))
            inputs = []
            for w, g, s in zip(weights[start:stop], grads[start:stop], states[start:stop]):
                inputs += [w, g]
                if multi_precision:
                    inputs += ([s[0]] if mom else []) + [s[1]]
                elif mom:
                    inputs.append(s)
            op(*inputs, new_lrs[start:stop], new_wds[start:stop], out=weights[start:stop],
               num_weights=stop - start, **kwargs)

    def update(self, index, weight, grad, state):
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        first = weight[0] if isinstance(weight, (list, tuple)) else weight
        self._update_impl(index, weight, grad, state,
                          multi_precision=self.multi_precision and first.dtype == np.float16)
