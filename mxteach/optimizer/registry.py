"""The names optimizers are created by (``mx.optimizer.create('adam')``), in one
:class:`mxteach.registry.Registry`.

It sits below :mod:`mxteach.optimizer.base` (which registers and creates through it and exposes
it as ``Optimizer.opt_registry``) and :mod:`mxteach.optimizer.states` (which lets a states pickle
name only registered optimizer classes), so neither of those two imports the other.
"""
from __future__ import annotations

from ..base import MXNetError
from ..registry import Registry

__all__ = ["OPTIMIZERS", "OptimizerError"]


class OptimizerError(MXNetError, ValueError):
    """A bad optimizer name or argument (MXNet raises ValueError for these)."""


def _check_class(klass):
    # MXNet asserts only that a class is registered, not that it subclasses Optimizer
    if not isinstance(klass, type):
        raise OptimizerError(f"register expects a class, got {klass!r}")


OPTIMIZERS = Registry("optimizer", error=OptimizerError, check=_check_class,
                      unknown="Cannot find optimizer '{name}'.",
                      hint="Add your own with @mx.optimizer.register.")
