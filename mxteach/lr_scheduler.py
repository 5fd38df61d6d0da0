"""Learning-rate schedules: functions of the update count, as ``mx.lr_scheduler`` in MXNet 1.9.

A scheduler is called with ``num_update`` (the largest number of updates any weight has had)
and returns the learning rate for the next update. Every scheduler may start with a warm-up of
``warmup_steps`` updates.

Two details are easy to miss and are kept on purpose, because MXNet 1.9 behaves this way:

* ``FactorScheduler`` and ``MultiFactorScheduler`` are *stateful*: they lower ``base_lr`` in
  place the first time ``num_update`` passes a boundary and never raise it again, even when
  called later with a smaller ``num_update``. The change happens when ``num_update`` is strictly
  greater than the boundary (update ``step + 1`` is the first one with the lower rate).
* ``PolyScheduler`` and ``CosineScheduler`` remember the starting rate when they are built.
  An optimizer's ``learning_rate=`` argument overwrites ``base_lr`` but not that starting
  rate, so for these two schedules it has no effect on the decay.
"""
from __future__ import annotations

import logging
import math
import numbers

from .base import MXNetError, MXNetNotImplementedError

__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler",
           "CosineScheduler", "LRSchedulerError"]


class LRSchedulerError(MXNetError, ValueError):
    """A scheduler argument out of range (MXNet raises ValueError for these)."""


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


class LRScheduler:
    """Base class: a learning rate as a function of the number of updates.

    Parameters
    ----------
    base_lr : float, default 0.01
        The learning rate once warm-up is over (and before any decay).
    warmup_steps : int, default 0
        Number of updates during which the warm-up rate is used.
    warmup_begin_lr : float, default 0
        The rate at update 0 of the warm-up; must not exceed ``base_lr``.
    warmup_mode : {'linear', 'constant'}, default 'linear'
        ``'linear'`` climbs in equal increments from ``warmup_begin_lr`` towards ``base_lr``;
        ``'constant'`` stays at ``warmup_begin_lr`` for the whole warm-up.

    Notes
    -----
    Subclasses implement ``__call__(num_update)``; the base class alone has no schedule and
    calling it raises MXNetError. See notebook 05.
    """

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        if not _is_int(warmup_steps):
            raise LRSchedulerError(f"warmup_steps must be an int, got {warmup_steps!r}")
        if warmup_steps < 0:
            raise LRSchedulerError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if warmup_begin_lr > base_lr:
            raise LRSchedulerError(f"warmup_begin_lr ({warmup_begin_lr}) must not exceed "
                                   f"base_lr ({base_lr})")
        if warmup_mode not in ("linear", "constant"):
            raise LRSchedulerError(f"warmup_mode must be 'linear' or 'constant', got "
                                   f"{warmup_mode!r}")
        self.base_lr = base_lr
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        """The warm-up rate for ``num_update`` (which must be below ``warmup_steps``).

        Parameters
        ----------
        num_update : int
            Number of updates done so far.

        Returns
        -------
        float
            The learning rate. See notebook 05.
        """
        if num_update >= self.warmup_steps:
            raise MXNetError(f"get_warmup_lr({num_update}) called after the warm-up "
                             f"({self.warmup_steps} steps) is over")
        if self.warmup_mode == "constant":
            return self.warmup_begin_lr
        span = self.warmup_final_lr - self.warmup_begin_lr
        return self.warmup_begin_lr + span * float(num_update) / float(self.warmup_steps)

    def __call__(self, num_update):
        raise MXNetNotImplementedError(f"{type(self).__name__} has no schedule: use "
                                       "FactorScheduler, MultiFactorScheduler, PolyScheduler, "
                                       "CosineScheduler or a subclass that defines "
                                       "__call__(num_update)")

    def __repr__(self):
        return f"{type(self).__name__}(base_lr={self.base_lr})"


class FactorScheduler(LRScheduler):
    """Multiply the rate by ``factor`` every ``step`` updates, never going below a floor.

    After warm-up the rate is ``base_lr * factor ** k`` where ``k`` counts the boundaries
    ``step, 2*step, ...`` that ``num_update`` has passed (strictly), clamped at
    ``stop_factor_lr``.

    Parameters
    ----------
    step : int
        Updates between two reductions (>= 1).
    factor : float, default 1
        Multiplier per reduction (<= 1).
    stop_factor_lr : float, default 1e-8
        Floor for the rate.
    base_lr, warmup_steps, warmup_begin_lr, warmup_mode
        As in :class:`LRScheduler`.

    Examples
    --------
    >>> s = FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    >>> [s(n) for n in range(1, 7)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]

    See notebook 05.
    """

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise LRSchedulerError(f"FactorScheduler step must be >= 1, got {step}")
        if factor > 1.0:
            raise LRSchedulerError(f"FactorScheduler factor must be <= 1 so the rate "
                                   f"decreases, got {factor}")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0  # the last boundary already applied

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info("Update[%d]: learning rate reached its floor %0.5e",
                             num_update, self.base_lr)
            else:
                logging.info("Update[%d]: learning rate is now %0.5e", num_update, self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """Multiply the rate by ``factor`` each time ``num_update`` passes a listed step.

    Parameters
    ----------
    step : list of int
        Increasing boundaries, each >= 1. Passing ``step[k]`` (``num_update > step[k]``)
        applies the ``k+1``-th reduction.
    factor : float, default 1
        Multiplier per reduction (<= 1).
    base_lr, warmup_steps, warmup_begin_lr, warmup_mode
        As in :class:`LRScheduler`.

    Examples
    --------
    >>> s = MultiFactorScheduler(step=[2, 4], factor=0.1, base_lr=1.0)
    >>> [round(s(n), 6) for n in range(1, 6)]
    [1.0, 1.0, 0.1, 0.1, 0.01]

    See notebook 05.
    """

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, list) or not step:
            raise LRSchedulerError(f"MultiFactorScheduler step must be a non-empty list of "
                                   f"ints, got {step!r}")
        for i, s in enumerate(step):
            if s < 1:
                raise LRSchedulerError(f"MultiFactorScheduler step[{i}] must be >= 1, got {s}")
            if i and s <= step[i - 1]:
                raise LRSchedulerError(f"MultiFactorScheduler steps must increase, got {step}")
        if factor > 1.0:
            raise LRSchedulerError(f"MultiFactorScheduler factor must be <= 1 so the rate "
                                   f"decreases, got {factor}")
        self.step = step
        self.cur_step_ind = 0  # next boundary to pass
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind < len(self.step) and num_update > self.step[self.cur_step_ind]:
            self.count = self.step[self.cur_step_ind]
            self.cur_step_ind += 1
            self.base_lr *= self.factor
            logging.info("Update[%d]: learning rate is now %0.5e", num_update, self.base_lr)
        return self.base_lr


class _DecayToFinal(LRScheduler):
    """What PolyScheduler and CosineScheduler share: after warm-up, ``lr = final_lr + (start -
    final_lr) * remaining(done)`` up to ``max_update``, then the last value is kept."""

    def __init__(self, max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                 warmup_mode):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not _is_int(max_update):
            raise LRSchedulerError(f"max_update must be an int, got {max_update!r}")
        if max_update < 1:
            raise LRSchedulerError(f"max_update must be >= 1, got {max_update}")
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = max_update - warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            done = num_update - self.warmup_steps
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                self._remaining(done)
        return self.base_lr


class PolyScheduler(_DecayToFinal):
    """Polynomial decay from the starting rate to ``final_lr`` over ``max_update`` updates.

    After warm-up, for ``num_update <= max_update``::

        frac = (num_update - warmup_steps) / (max_update - warmup_steps)
        lr = final_lr + (start - final_lr) * (1 - frac) ** pwr

    and afterwards the last value computed is kept. ``start`` is the ``base_lr`` given here.

    Parameters
    ----------
    max_update : int
        Update count at which ``final_lr`` is reached (>= 1).
    base_lr : float, default 0.01
        Starting rate.
    pwr : float, default 2
        Power of the decay.
    final_lr : float, default 0
        Rate at and after ``max_update``.
    warmup_steps, warmup_begin_lr, warmup_mode
        As in :class:`LRScheduler`.

    See notebook 05.
    """

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                         warmup_mode)
        self.power = pwr

    def _remaining(self, done):
        return pow(1 - float(done) / float(self.max_steps), self.power)


class CosineScheduler(_DecayToFinal):
    """Half-cosine decay from the starting rate to ``final_lr`` over ``max_update`` updates.

    After warm-up, for ``num_update <= max_update``::

        frac = (num_update - warmup_steps) / (max_update - warmup_steps)
        lr = final_lr + (start - final_lr) * (1 + cos(pi * frac)) / 2

    and afterwards the last value computed is kept. ``start`` is the ``base_lr`` given here.

    Parameters
    ----------
    max_update : int
        Update count at which ``final_lr`` is reached (>= 1).
    base_lr : float, default 0.01
        Starting rate.
    final_lr : float, default 0
        Rate at and after ``max_update``.
    warmup_steps, warmup_begin_lr, warmup_mode
        As in :class:`LRScheduler`.

    See notebook 05.
    """

    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr,
                         warmup_mode)

    def _remaining(self, done):
        # halving is exact, so this equals MXNet's (start - final) * (1 + cos) / 2
        return (1 + math.cos(math.pi * done / self.max_steps)) / 2
