"""The :class:`Updater`: one optimizer applied to keyed weights, with each weight's state
(momentum, running averages ...), as the kvstore and ``Module`` use it.

It creates a state on the first update of an index, pickles the states for ``*.states`` files
through :mod:`mxteach.optimizer.states` (``get_states`` / ``set_states``) and, with
:func:`check_states`, refuses a loaded file that does not fit the optimizer and weights in
use before it replaces anything. See notebook 05.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..base import MXNetError
from ..ndarray.ndarray import NDArray
from .base import Optimizer, check_hyper_parameters
from .states import dumps as _states_dumps, loads as _states_loads

__all__ = ["Updater", "get_updater", "check_states"]


class Updater:
    """Applies an optimizer to keyed weights and keeps each weight's state.

    ``updater(index, grad, weight)`` (lists allowed) creates the state of a new index on first
    use, then calls the optimizer. Optimizers with ``aggregate_num > 0`` (SGD, LAMB) receive
    lists of up to ``aggregate_num`` weights of one dtype per call, as in MXNet.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer to apply.

    Attributes
    ----------
    states : dict
        Index → state, as returned by ``optimizer.create_state_multi_precision``.

    See notebook 05.
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise MXNetError(f"Updater needs an Optimizer, got {type(optimizer).__name__}")
        check_hyper_parameters(optimizer, "init_optimizer")
        self.optimizer = optimizer
        self.states = {}
        self.states_synced = {}
        self.aggregate_updates = optimizer.aggregate_num > 0

    def __call__(self, index, grad, weight):
        if isinstance(index, (list, tuple)):
            indices, grads, weights = list(index), list(grad), list(weight)
        else:
            indices, grads, weights = [index], [grad], [weight]
        if not (len(indices) == len(grads) == len(weights)):
            raise MXNetError(f"Updater got {len(indices)} indices, {len(grads)} gradients and "
                             f"{len(weights)} weights; they must pair up")
        if weights:
            self.optimizer._set_current_context(weights[0].context.device_id)
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                indices[i] = idx = idx.decode()
            if idx not in self.states:
                self.states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
            elif not self.states_synced[idx]:
                self.states[idx] = self.sync_state_context(self.states[idx], weights[i].context)
                self.states_synced[idx] = True
        if not self.aggregate_updates:
            for idx, w, g in zip(indices, weights, grads):
                self.optimizer.update_multi_precision(idx, w, g, self.states[idx])
            return
        groups = {}
        for idx, w, g in zip(indices, weights, grads):
            groups.setdefault(np.dtype(w.dtype), []).append((idx, w, g))
        size = self.optimizer.aggregate_num
        for members in groups.values():
            for start in range(0, len(members), size):
                chunk = members[start:start + size]
                idxs = [m[0] for m in chunk]
                self.optimizer.update_multi_precision(
                    idxs, [m[1] for m in chunk], [m[2] for m in chunk],
                    [self.states[i] for i in idxs])

    def sync_state_context(self, state, context):
        """Move a state (NDArray, or tuple/list of them) to ``context``.

        Parameters
        ----------
        state : NDArray, tuple, list or None
        context : Context

        Returns
        -------
        The same structure on ``context``. See notebook 05.
        """
        if isinstance(state, NDArray):
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            moved = [self.sync_state_context(s, context) for s in state]
            return tuple(moved) if isinstance(state, tuple) else moved
        return state

    def set_states(self, states):
        """Load states (and possibly the optimizer) from :meth:`get_states` bytes.

        Parameters
        ----------
        states : bytes
            A pickle of the states dict, or of ``(states, optimizer)``, written here or by
            MXNet 1.9 (see :mod:`mxteach.optimizer.states`). Corrupt data raises MXNetError.

        Notes
        -----
        States move to their weights' devices on the next update. See notebook 05.
        """
        loaded = _states_loads(states, "set_states")
        if isinstance(loaded, tuple) and len(loaded) == 2:
            self.states, self.optimizer = loaded
            self.aggregate_updates = self.optimizer.aggregate_num > 0
        elif isinstance(loaded, dict):
            self.states = loaded
        else:
            raise MXNetError(f"set_states: expected a pickled dict of states or (states, "
                             f"optimizer), got {type(loaded).__name__}")
        self.states_synced = dict.fromkeys(self.states, False)

    def load_states(self, states, weights, source="optimizer states"):
        """Like :meth:`set_states`, but validated first: nothing changes unless every state
        matches the optimizer in use and the weight it belongs to.

        Parameters
        ----------
        states : bytes
            What :meth:`get_states` (here or in MXNet) wrote.
        weights : dict
            ``index -> NDArray``: every index this updater serves, with its weight.
        source : str
            Names the data in error messages.

        Raises
        ------
        MXNetError
            Corrupt data, a refused pickle global, an unknown index, a state of the wrong
            structure, shape or dtype, or a pickled optimizer of another kind. See notebook 05.
        """
        loaded, optimizer = check_states(_states_loads(states, source), self.optimizer,
                                         weights, source)
        self.states = loaded
        if optimizer is not None:
            self.optimizer = optimizer
            self.aggregate_updates = optimizer.aggregate_num > 0
        self.states_synced = dict.fromkeys(self.states, False)

    def get_states(self, dump_optimizer=False):
        """Pickle the states dict (with the optimizer when ``dump_optimizer``).

        Parameters
        ----------
        dump_optimizer : bool, default False
            Also save the optimizer, with its counters and schedule.

        Returns
        -------
        bytes
            A pickle real MXNet 1.9 can load (NDArrays in MXNet's pickled form; see
            :mod:`mxteach.optimizer.states`). See notebook 05.
        """
        return _states_dumps((self.states, self.optimizer) if dump_optimizer else self.states)


def get_updater(optimizer):
    """An :class:`Updater` for ``optimizer`` (what kvstores and Module use).

    Parameters
    ----------
    optimizer : Optimizer

    Returns
    -------
    Updater
        See notebook 05.
    """
    return Updater(optimizer)


# -- validating loaded states ----------------------------------------------------------------
def _describe(x):
    if isinstance(x, NDArray):
        import numpy as np
        return f"array {tuple(x.shape)} {np.dtype(x.dtype).name}"
    if isinstance(x, (tuple, list)):
        return f"{type(x).__name__} of {len(x)}"
    return type(x).__name__


def _match(got, want, where):
    """Raise MXNetError unless ``got`` has the structure, shapes and dtypes of ``want``."""
    if want is None:
        if got is not None:
            raise MXNetError(f"{where}: expected no state, got {_describe(got)}")
        return
    if isinstance(want, NDArray):
        if not isinstance(got, NDArray) or tuple(got.shape) != tuple(want.shape) or \
                got.dtype != want.dtype:
            raise MXNetError(f"{where}: expected {_describe(want)}, got {_describe(got)}")
        return
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            raise MXNetError(f"{where}: expected {_describe(want)}, got {_describe(got)}")
        for k, (g, w) in enumerate(zip(got, want)):
            _match(g, w, f"{where}[{k}]")
        return
    if type(got) is not type(want):  # e.g. a scalar state of some custom optimizer
        raise MXNetError(f"{where}: expected {_describe(want)}, got {_describe(got)}")


def _check_optimizer_fields(loaded, current, source):
    """A pickled optimizer has every attribute the current one has, of a compatible kind
    (its ``__setstate__`` takes any dict; a missing ``momentum`` would fail at the next
    update, long after the load)."""
    import numbers
    got = vars(loaded)
    for name, value in vars(current).items():
        if name == "param_dict":
            continue
        if name not in got:
            raise MXNetError(f"{source}: the saved {type(loaded).__name__} has no attribute "
                             f"'{name}'")
        other = got[name]
        kinds = ((numbers.Number,), (dict,), (list, tuple), (str,))
        for kind in kinds:
            if isinstance(value, kind) and not isinstance(value, bool) and \
                    not isinstance(other, kind):
                raise MXNetError(f"{source}: the saved optimizer's '{name}' is a "
                                 f"{type(other).__name__}, expected a {type(value).__name__}")


def check_states(loaded, optimizer, weights, source="optimizer states"):
    """Validate unpickled states against the optimizer in use and its weights.

    Parameters
    ----------
    loaded : object
        What :func:`loads` returned: a dict ``index -> state`` or ``(states, optimizer)``.
    optimizer : Optimizer
        The optimizer the states are for; a pickled optimizer must be of the same class.
    weights : dict
        ``index -> NDArray``, every index the updater may see, with its weight.
    source : str
        Names the data in error messages.

    Returns
    -------
    (dict, Optimizer or None)
        The states and the pickled optimizer (None when the file holds none). Each state has
        the structure, shapes and dtypes ``optimizer.create_state_multi_precision`` gives
        for its weight; anything else raises MXNetError and nothing is changed.
    """
    new_opt = None
    if isinstance(loaded, tuple) and len(loaded) == 2 and isinstance(loaded[1], Optimizer):
        loaded, new_opt = loaded
        if type(new_opt) is not type(optimizer):
            raise MXNetError(f"{source}: saved for optimizer {type(new_opt).__name__}, but the "
                             f"module uses {type(optimizer).__name__}")
        _check_optimizer_fields(new_opt, optimizer, source)
        check_hyper_parameters(new_opt, source)
    if not isinstance(loaded, dict):
        raise MXNetError(f"{source}: expected a dict of states (or (states, optimizer)), got "
                         f"{_describe(loaded)}")
    unknown = [k for k in loaded if k not in weights]
    if unknown:
        raise MXNetError(f"{source}: holds states for {unknown[:5]!r}, which are not indices "
                         f"of this module's parameters ({sorted(weights, key=str)[:10]!r}...)")
    with warnings.catch_warnings():  # create_state may warn about float16; not news here
        warnings.simplefilter("ignore")
        for key, state in loaded.items():
            want = optimizer.create_state_multi_precision(key, weights[key])
            _match(state, want, f"{source}: state of index {key!r}")
    return loaded, new_opt
