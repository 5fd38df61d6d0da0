"""Optimizers: how a gradient becomes a weight change, as ``mx.optimizer`` in MXNet 1.9.

An :class:`Optimizer` owns the hyper-parameters (learning rate or schedule, weight decay ``wd``,
``rescale_grad``, ``clip_gradient``, per-parameter multipliers) and the update rule; the
per-weight state (momentum, running averages ...) lives in an :class:`Updater`, which creates it
on the first update of each index and can pickle it (``get_states`` / ``set_states``), as the
kvstore and ``Module.save_optimizer_states`` do.

The update rules change arrays in place, in float32 when the weights are float32, in the order
MXNet's kernels use; each optimizer's docstring gives its formula. This file holds the base
class, the registry and the Updater. The SGD family (SGD, NAG, Signum, SGLD, DCASGD) is in
:mod:`mxteach.optimizer.sgd`, the adaptive ones (Adam, AdaGrad, RMSProp, AdaDelta, Adamax,
Nadam, Ftrl, FTML, LAMB) in :mod:`mxteach.optimizer.adaptive`; all are importable from here.
"""
from .base import *  # noqa: F401,F403 - the public base API
from .base import __all__ as _base_all
from .base import (_buf, _check_same_shape, _clip, _clip_on)  # noqa: F401
from .sgd import SGD, ccSGD, NAG, Signum, SGLD, DCASGD, Test  # noqa: F401
from .adaptive import (Adam, AdaGrad, RMSProp, AdaDelta, Adamax, Nadam,  # noqa: F401
                                 Ftrl, FTML, LAMB)

__all__ = list(_base_all) + ["SGD", "ccSGD", "NAG", "Signum", "SGLD", "DCASGD", "Test", "Adam",
                             "AdaGrad", "RMSProp", "AdaDelta", "Adamax", "Nadam", "Ftrl",
                             "FTML", "LAMB"]
