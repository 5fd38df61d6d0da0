"""``mx.nd``: NDArray, creation functions, every registered operator, save/load."""
from __future__ import annotations

from .ndarray import (NDArray, array, zeros, ones, full, empty, arange, concatenate, waitall,
                      invoke)
from .. import random as _random_mod
from ..ops import registry as _registry
from ..ops.frontend import split_call as _split_call
from ..base import MXNetError as _MXNetError

from .serialization import save, load, load_frombuffer


class random:  # noqa: N801 - mirrors the mx.nd.random namespace
    uniform = staticmethod(_random_mod.uniform)
    normal = staticmethod(_random_mod.normal)
    randint = staticmethod(_random_mod.randint)
    shuffle = staticmethod(_random_mod.shuffle)


random_uniform = _random_mod.uniform
random_normal = _random_mod.normal


def _make(op):
    def fn(*args, out=None, **kwargs):
        inputs, params, name, _ = _split_call(op, args, kwargs, lambda v: isinstance(v, NDArray))
        if isinstance(inputs, dict):
            p = _registry.parse_params(op, params, name or op.name)
            names = op.list_arguments(p) + op.list_aux(p)
            missing = [n for n in names if n not in inputs]
            if missing:
                raise _MXNetError(f"mx.nd.{op.name} needs input(s) {missing}")
            inputs = [inputs[n] for n in names]
        return invoke(op, inputs, params, out=out, name=name)
    fn.__name__ = op.name
    fn.__doc__ = op.doc
    return fn


def _install():
    g = globals()
    for opname, op in _registry.all_ops().items():
        if opname not in g or getattr(g[opname], "__module__", None) == __name__:
            g[opname] = _make(op)


_install()


def zeros_like(data, **kw):
    return zeros(data.shape, data.context, data.dtype)


def ones_like(data, **kw):
    return ones(data.shape, data.context, data.dtype)


def _nd_binary(np_fn):
    def fn(lhs, rhs):
        if isinstance(lhs, NDArray):
            return lhs._binary(rhs, np_fn)
        if isinstance(rhs, NDArray):
            return rhs._binary(lhs, np_fn, reverse=True)
        raise TypeError("at least one argument must be an NDArray")
    return fn


import numpy as _np  # noqa: E402

maximum = _nd_binary(_np.maximum)
minimum = _nd_binary(_np.minimum)
power = _nd_binary(_np.power)
equal = _nd_binary(_np.equal)
not_equal = _nd_binary(_np.not_equal)
greater = _nd_binary(_np.greater)
lesser = _nd_binary(_np.less)
