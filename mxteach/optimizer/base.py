"""The optimizer base class: hyper-parameters (learning rate or schedule, ``wd``,
``rescale_grad``, ``clip_gradient``), per-parameter multipliers, update counting, and
``register`` / ``create`` by name (through :mod:`mxteach.optimizer.registry`).

The update rules live in :mod:`mxteach.optimizer.sgd` and :mod:`mxteach.optimizer.adaptive`,
the per-weight states in :mod:`mxteach.optimizer.updater`. See notebook 05.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings

import numpy as np

from ..backend import for_context
from ..base import MXNetAttributeError, MXNetError, MXNetNotImplementedError
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import fallback
from .registry import OPTIMIZERS, OptimizerError
from .sparse import all_rows

__all__ = ["Optimizer", "register", "create", "OptimizerError", "LearningRateLockedError",
           "check_hyper_parameters"]


class LearningRateLockedError(MXNetError, UserWarning):
    """``set_learning_rate`` on an optimizer driven by an ``lr_scheduler`` (MXNet raises
    UserWarning as an exception here)."""


# ------------------------------------------------------------------------------------------
# small helpers shared by the update rules
# ------------------------------------------------------------------------------------------
def _buf(x):
    """The numpy buffer behind an NDArray (updates write into it in place)."""
    if not isinstance(x, NDArray):
        raise MXNetError(f"optimizer update expects NDArrays, got {type(x).__name__}")
    if x.stype != "default":      # no lazy rule here: MXNet's storage fallback, said aloud
        fallback("optimizer update", [x.stype])
        return x.asnumpy()
    return x._data


@functools.lru_cache(maxsize=None)
def _operand_names(rule):
    names = tuple(inspect.signature(rule).parameters)
    return tuple({"w": "weight", "g": "gradient"}.get(n, f"{n} state") for n in names)


def _apply(rule, family, *args):
    """Run the update rule ``rule`` (a function of :mod:`~mxteach.optimizer.steps`) on the
    device of its first argument, the weight: the numpy function itself on the CPU, its CUDA
    twin in ``kernels/cuda/<family>.py`` on a gpu. ``args`` are the rule's arguments with
    NDArrays (or None) for arrays; every NDArray must share the weight's device."""
    # a row_sparse weight (or state) storing every row is updated in its values, in place
    # (the gradient, args[1], keeps its own path: densified with a fallback warning)
    args = [a if i == 1 else all_rows(a, f"{rule.__name__} update of the weight" if i == 0
                                      else f"{rule.__name__} update of the state", fill=i > 1)
            for i, a in enumerate(args)]
    weight = args[0]
    if weight.stype != "default":
        raise MXNetError(f"{rule.__name__} update: the weight is {weight.stype}; mxteach "
                         f"updates dense and row_sparse weights (and sparse gradients)")
    dev = for_context(weight.context)
    names = _operand_names(rule)
    dev.check_operands(f"{rule.__name__} update", (names[0], weight),
                       [(n, a) for n, a in zip(names[1:], args[1:]) if isinstance(a, NDArray)])
    dev.twin(rule, family)(*[_buf(a) if isinstance(a, NDArray) else a for a in args])


def _store(weight, master):
    """Copy the float32 master copy into the (float16) weight on their device."""
    _buf(weight)[...] = _buf(master.astype(weight.dtype))


# hyper-parameters that must be finite real numbers when set (None means "not used")
_REAL_HYPER = ("lr", "wd", "rescale_grad", "clip_gradient", "momentum", "beta", "beta1",
               "beta2", "epsilon", "float_stable_eps", "gamma1", "gamma2", "lamda", "lamda1",
               "rho", "schedule_decay", "wd_lh", "lower_bound", "upper_bound", "clip_weights")
# ... and those that must not be negative either
_NON_NEGATIVE = ("lr", "epsilon", "float_stable_eps")


def check_hyper_parameters(optimizer, where="optimizer"):
    """Raise OptimizerError for a NaN, infinite, non-numeric or negative-where-nonsense
    hyper-parameter of ``optimizer``.

    MXNet accepts ``learning_rate=nan`` and trains every weight into NaN without a word; this
    check runs at construction and again when an Updater (``init_optimizer``) takes the
    optimizer, so attributes changed in between are caught too.
    """
    for name in _REAL_HYPER:
        value = getattr(optimizer, name, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise OptimizerError(f"{where}: {type(optimizer).__name__}.{name} must be a real "
                                 f"number, got {type(value).__name__} {value!r}")
        if not math.isfinite(float(value)):
            raise OptimizerError(f"{where}: {type(optimizer).__name__}.{name} is {value}; "
                                 f"hyper-parameters must be finite numbers")
        if name in _NON_NEGATIVE and value < 0:
            raise OptimizerError(f"{where}: {type(optimizer).__name__}.{name} is {value}; it "
                                 f"must be >= 0")
    sched = getattr(optimizer, "lr_scheduler", None)
    base = getattr(sched, "base_lr", None)
    if base is not None and (isinstance(base, bool) or not isinstance(base, numbers.Real)
                             or not math.isfinite(float(base)) or base < 0):
        raise OptimizerError(f"{where}: the lr_scheduler's base_lr is {base!r}; it must be a "
                             f"finite number >= 0")


def _check_same_shape(weight, grad, index):
    if weight.shape != grad.shape:
        raise MXNetError(f"optimizer update of index {index!r}: weight shape {weight.shape} and "
                         f"gradient shape {grad.shape} differ")


class Optimizer:
    """Base class of all optimizers: hyper-parameters, multipliers and update counting.

    Parameters
    ----------
    rescale_grad : float, default 1.0
        Gradients are multiplied by this before use (Module sets ``1/batch_size``).
    param_idx2name : dict of int to str, optional
        Index → parameter name. With it, every name not ending in ``_weight`` or ``_gamma``
        gets weight-decay multiplier 0 (biases, BatchNorm beta, ...).
    wd : float, default 0.0
        Weight decay (L2) coefficient.
    clip_gradient : float, optional
        Clip the (rescaled) gradient into ``[-clip_gradient, clip_gradient]``.
    learning_rate : float, optional
        Initial rate; default 0.01 without a scheduler. With a scheduler it overwrites the
        scheduler's ``base_lr`` (warning when they differ).
    lr_scheduler : LRScheduler, optional
        Called with ``num_update`` to give the rate of every update.
    sym : Symbol, optional
        Graph whose variables' ``__lr_mult__`` / ``__wd_mult__`` attributes set multipliers
        (read through ``sym.attr_dict()`` and ``sym.list_arguments()``).
    begin_num_update : int, default 0
        Starting value of the update counters.
    multi_precision : bool, default False
        Keep a float32 master copy of float16 weights and update that.
    param_dict : dict of int to Parameter, optional
        Objects with ``lr_mult`` / ``wd_mult`` attributes, looked up before anything else.

    Notes
    -----
    The rate and decay of index ``i`` are ``lr * mult`` and ``wd * mult``, where the multiplier is
    found, in this order, in ``param_dict[i]``, ``lr_mult[i]`` / ``wd_mult[i]``, then under the
    name ``param_idx2name[i]``, else 1. ``num_update`` is the largest per-index update count
    and is what the scheduler sees. See notebook 05.
    """

    opt_registry = OPTIMIZERS.live  # MXNet's public dict: name -> class

    def __init__(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None \
                and lr_scheduler.base_lr != learning_rate:
            warnings.warn(f"learning_rate={learning_rate} overwrites the lr_scheduler's base_lr "
                          f"({lr_scheduler.base_lr})", UserWarning, stacklevel=2)
            lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        # one count table per device id: Module updates each device's copy separately
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise OptimizerError("param_idx2name must be a dict of parameter index to name, got "
                                 f"{type(param_idx2name).__name__}")
        self.idx2name = dict(param_idx2name)
        self.sym_info = (sym.attr_dict(), sym.list_arguments()) if sym is not None else ()
        self.param_dict = param_dict if param_dict else {}
        self.set_lr_mult({})
        self.set_wd_mult({})
        if isinstance(begin_num_update, bool) or not isinstance(begin_num_update,
                                                                  numbers.Integral) \
                or begin_num_update < 0:
            raise OptimizerError(f"begin_num_update must be an int >= 0, got "
                                 f"{begin_num_update!r}")
        # the base hyper-parameters now; create() and Updater check the subclass's too
        check_hyper_parameters(self, type(self).__name__)

    # -- registry -----------------------------------------------------------------------------
    @staticmethod
    def register(klass):
        """Register an Optimizer subclass under its lower-cased class name.

        Parameters
        ----------
        klass : type
            The class; returned unchanged, so this works as a decorator.

        Returns
        -------
        type
            ``klass``. See notebook 05.
        """
        return OPTIMIZERS.register(klass)

    @staticmethod
    def create_optimizer(name, **kwargs):
        """Build a registered optimizer by (case-insensitive) name.

        Parameters
        ----------
        name : str or Optimizer
            Registered name such as ``'sgd'`` or ``'Adam'``. An Optimizer instance is returned
            as it is (no keyword arguments allowed then).
        **kwargs
            Constructor arguments.

        Returns
        -------
        Optimizer
            The new optimizer. See notebook 05.
        """
        if isinstance(name, Optimizer):
            if kwargs:
                raise OptimizerError(f"create() got an Optimizer instance and keyword arguments "
                                     f"{sorted(kwargs)}; set them on the instance instead")
            return name
        if not isinstance(name, str):
            raise MXNetAttributeError(f"optimizer must be a name or an Optimizer, got "
                                      f"{type(name).__name__}")
        optimizer = OPTIMIZERS.get(name)(**kwargs)
        check_hyper_parameters(optimizer, f"create('{name}')")
        return optimizer

    # -- learning rate ------------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The current rate: the scheduler's value at ``num_update``, else ``lr``."""
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        """Set the rate of an optimizer that has no scheduler.

        Parameters
        ----------
        lr : float
            The new rate.

        Raises
        ------
        LearningRateLockedError
            When an ``lr_scheduler`` is set (it owns the rate). See notebook 05.
        """
        if self.lr_scheduler is not None:
            raise LearningRateLockedError(
                "set_learning_rate: this optimizer has an lr_scheduler, which decides the "
                "rate; change the scheduler (or build the optimizer without one) instead")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) \
                or lr < 0:
            raise OptimizerError(f"set_learning_rate: the rate must be a finite number >= 0, "
                                 f"got {lr!r}")
        self.lr = lr

    def set_lr_scale(self, args_lrscale):
        """Removed in MXNet; use :meth:`set_lr_mult`."""
        raise MXNetError("set_lr_scale is deprecated; use set_lr_mult({name: mult}) instead")

    def set_lr_mult(self, args_lr_mult):
        """Set per-parameter learning-rate multipliers (replacing earlier ones).

        Parameters
        ----------
        args_lr_mult : dict of str or int to float
            Name (or index) → multiplier. Variables' ``__lr_mult__`` attributes from ``sym``
            come first and are overridden by these. See notebook 05.
        """
        self.lr_mult = {}
        if self.sym_info:
            attrs, arg_names = self.sym_info
            for name in arg_names:
                if "__lr_mult__" in attrs.get(name, {}):
                    self.lr_mult[name] = float(attrs[name]["__lr_mult__"])
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Set per-parameter weight-decay multipliers (replacing earlier ones).

        Parameters
        ----------
        args_wd_mult : dict of str or int to float
            Name (or index) → multiplier. Defaults first: every name in ``param_idx2name``
            that does not end in ``_weight`` or ``_gamma`` gets 0; then ``__wd_mult__``
            attributes from ``sym``; then these. See notebook 05.
        """
        self.wd_mult = {}
        for name in self.idx2name.values():
            if not (name.endswith("_weight") or name.endswith("_gamma")):
                self.wd_mult[name] = 0.0
        if self.sym_info:
            attrs, arg_names = self.sym_info
            for name in arg_names:
                if "__wd_mult__" in attrs.get(name, {}):
                    self.wd_mult[name] = float(attrs[name]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    # -- counting and per-index hyper-parameters ----------------------------------------------
    def _set_current_context(self, device_id):
        """Switch to the update-count table of device ``device_id``."""
        self._index_update_count = self._all_index_update_counts.setdefault(device_id, {})

    def _update_count(self, index):
        """Count one more update of ``index`` (or of each index in a list)."""
        for idx in index if isinstance(index, (list, tuple)) else [index]:
            count = self._index_update_count.get(idx, self.begin_num_update) + 1
            self._index_update_count[idx] = count
            self.num_update = max(count, self.num_update)

    def _mult(self, index, table, attr):
        if index in self.param_dict:
            return getattr(self.param_dict[index], attr)
        if index in table:
            return table[index]
        if index in self.idx2name:
            return table.get(self.idx2name[index], 1.0)
        return 1.0

    def _get_lrs(self, indices):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        return [lr * self._mult(i, self.lr_mult, "lr_mult") for i in indices]

    def _get_lr(self, index):
        """Learning rate of ``index``: current rate times its multiplier."""
        return self._get_lrs([index])[0]

    def _get_wds(self, indices):
        return [self.wd * self._mult(i, self.wd_mult, "wd_mult") for i in indices]

    def _get_wd(self, index):
        """Weight decay of ``index``: ``wd`` times its multiplier."""
        return self._get_wds([index])[0]

    # -- state and update ---------------------------------------------------------------------
    def create_state(self, index, weight):
        """The auxiliary state for one weight (None when the rule needs none).

        Parameters
        ----------
        index : int or str
            The weight's key.
        weight : NDArray
            The weight (states take its shape and context).

        Returns
        -------
        NDArray, tuple of NDArray or None
            See notebook 05.
        """
        return None

    def create_state_multi_precision(self, index, weight):
        """Like :meth:`create_state`, plus a float32 master copy for float16 weights when
        ``multi_precision`` is on: then the state is ``(master_copy, state)``. See notebook 05."""
        if self.multi_precision and weight.dtype == np.float16:
            master = weight.astype(np.float32)
            return (master, self.create_state(index, master))
        if weight.dtype == np.float16:
            warnings.warn("updating float16 weights in float16 can converge poorly; consider "
                          "multi_precision=True")
        return self.create_state(index, weight)

    def update(self, index, weight, grad, state):
        """Apply one update to ``weight`` in place.

        Parameters
        ----------
        index : int or str
            The weight's key (selects multipliers and the update count).
        weight : NDArray
            Changed in place.
        grad : NDArray
            Gradient of the loss with respect to ``weight``.
        state : object
            What :meth:`create_state` returned for this weight (changed in place).

        Notes
        -----
        The base class has no rule; calling it raises MXNetError. See notebook 05.
        """
        raise MXNetNotImplementedError(f"{type(self).__name__} does not define update(); "
                                       "subclass Optimizer and implement update(index, weight, "
                                       "grad, state)")

    def update_multi_precision(self, index, weight, grad, state):
        """:meth:`update`, through the float32 master copy for float16 weights when
        ``multi_precision`` is on. See notebook 05."""
        if self.multi_precision and weight.dtype == np.float16:
            master, inner = state
            self.update(index, master, grad.astype(np.float32), inner)
            _store(weight, master)
        else:
            self.update(index, weight, grad, state)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("param_dict", None)  # parameters belong to the trainer, not the checkpoint
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.param_dict = {}

    def __repr__(self):
        return (f"{type(self).__name__}(learning_rate={self.lr}, wd={self.wd}, "
                f"rescale_grad={self.rescale_grad}, clip_gradient={self.clip_gradient})")


register = Optimizer.register
create = Optimizer.create_optimizer
