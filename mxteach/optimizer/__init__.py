"""Optimizers: how a gradient becomes a weight change, as ``mx.optimizer`` in MXNet 1.9.

An :class:`Optimizer` owns the hyper-parameters (learning rate or schedule, weight decay ``wd``,
``rescale_grad``, ``clip_gradient``, per-parameter multipliers) and the update rule; the
per-weight state (momentum, running averages ...) lives in an :class:`Updater`, which creates it
on the first update of each index and can pickle it (``get_states`` / ``set_states``), as the
kvstore and ``Module.save_optimizer_states`` do.

The update rules change arrays in place, in float32 when the weights are float32, in the order
MXNet's kernels use; each optimizer's docstring gives its formula. The package, bottom to top:
:mod:`~mxteach.optimizer.registry` (the names), :mod:`~mxteach.optimizer.base` (the base
class, ``register`` / ``create``), :mod:`~mxteach.optimizer.states` (the ``*.states`` pickle
format), :mod:`~mxteach.optimizer.updater` (the Updater), and the rules: the SGD family (SGD,
NAG, Signum, SGLD, DCASGD) in :mod:`~mxteach.optimizer.sgd`, the adaptive ones (Adam, AdaGrad,
RMSProp, AdaDelta, Adamax, Nadam, Ftrl, FTML, LAMB) in :mod:`~mxteach.optimizer.adaptive`; all
are importable from here.
"""
from .base import (Optimizer, register, create, OptimizerError, LearningRateLockedError,
                   check_hyper_parameters)
from .updater import Updater, get_updater
from .sgd import SGD, ccSGD, NAG, Signum, SGLD, DCASGD, Test
from .adaptive import Adam, AdaGrad, RMSProp, AdaDelta, Adamax, Nadam, Ftrl, FTML, LAMB
from .lars import LARS
from . import contrib

__all__ = ["Optimizer", "register", "create", "Updater", "get_updater", "OptimizerError",
           "LearningRateLockedError", "check_hyper_parameters", "SGD", "ccSGD", "NAG", "Signum",
           "SGLD", "DCASGD", "Test", "Adam", "AdaGrad", "RMSProp", "AdaDelta", "Adamax", "Nadam",
           "Ftrl", "FTML", "LAMB", "LARS", "contrib"]
