"""``mx.nd``: NDArray, creation functions, every registered operator, save/load."""
from __future__ import annotations

from .ndarray import NDArray, array, zeros, ones, full, empty, arange, concatenate, waitall
from .invoke import invoke
from .. import random as _random_mod
from ..backend.gpu import GPUBackend as _GPUBackend
from ..ops import registry as _registry
from ..ops.frontend import split_call as _split_call
from ..ops import frontend as _ufuncs
from ..base import MXNetError as _MXNetError

from .serialization import save, load, load_frombuffer
from . import sparse
from .sparse_ops import cast_storage
from .array_funcs import split_v2, histogram, onehot_encode, from_numpy


class random:  # noqa: N801 - mirrors the mx.nd.random namespace
    """MXNet's ``mx.nd.random``: the samplers of :mod:`mxteach.random`."""


for _sampler in _random_mod.SAMPLERS:
    setattr(random, _sampler, staticmethod(getattr(_random_mod, _sampler)))



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


def _install_later(op):
    """An operator registered after import (``ops/registry.py``'s FRONTENDS slot)."""
    for opname in (op.name,) + tuple(op.aliases):
        globals()[opname] = _make(op)


_registry.FRONTENDS.append(_install_later)


class contrib:  # noqa: N801 - MXNet's contrib namespace
    """Operators registered as ``_contrib_<name>``, under ``<name>`` (``contrib.SparseEmbedding``)."""


for _opname in [k for k in globals() if k.startswith("_contrib_")]:
    _short = _opname[len("_contrib_"):]   # the alias, when registered, names nodes as MXNet
    setattr(contrib, _short, staticmethod(globals().get(_short, globals()[_opname])))
from . import contrib_checks as _checks  # noqa: E402 - contrib's Python functions, as MXNet's
for _short in ("isfinite", "isinf", "isnan"):
    setattr(contrib, _short, staticmethod(getattr(_checks, _short)))
contrib.uniform = staticmethod(random.uniform)   # MXNet's contrib.uniform is random.uniform
from . import contrib_flow as _contrib_flow  # noqa: E402 - foreach, while_loop, cond ...
_contrib_flow.ND = __import__("sys").modules[__name__]
for _name in _contrib_flow.__all__:
    setattr(contrib, _name, staticmethod(getattr(_contrib_flow, _name)))
from . import contrib_optimizer as _contrib_optim  # noqa: E402 - adamw_update, multi_lamb_update
for _name in _contrib_optim.__all__:
    setattr(contrib, _name, staticmethod(getattr(_contrib_optim, _name)))


class linalg:  # noqa: N801 - MXNet's mx.nd.linalg
    """The ``_linalg_<name>`` operators under ``<name>`` (``mx.nd.linalg.gemm2``). See notebook
    01."""


for _opname in [k for k in globals() if k.startswith("_linalg_")]:
    setattr(linalg, _opname[len("_linalg_"):], staticmethod(globals()[_opname]))
# the slot of backend/gpu.py: the GPU backend lists the operators with CUDA kernels in its errors
# but sits below the operator registry, so the registry is handed to it from here
_GPUBackend.operator_table = staticmethod(_registry.all_ops)


def zeros_like(data, **kw):
    return zeros(data.shape, data.context, data.dtype)


def ones_like(data, **kw):
    return ones(data.shape, data.context, data.dtype)


# add, subtract, ..., lesser_equal, true_divide: MXNet's Python-level functions over operators
def _call_op(opname, *inputs, **params):
    return globals()[opname](*inputs, **params)


for _name in _ufuncs.UFUNCS:
    globals()[_name] = _ufuncs.make_ufunc(_name, _call_op, lambda v: isinstance(v, NDArray))
for _alias, _name in _ufuncs.UFUNC_ALIASES.items():
    globals()[_alias] = globals()[_name]


def moveaxis(tensor, source, destination):
    """Move axes of ``tensor`` to new positions (``transpose`` underneath), as in MXNet."""
    return globals()["transpose"](tensor, axes=_ufuncs.moveaxis_axes(tensor.ndim, source,
                                                                       destination))


# the slot of ndarray/gpu.py: gpu NDArray methods (a.exp(), a.sum(), a % 2 ...) run through
# this namespace's operators, which sit above NDArray
from .gpu import GPUNDArray as _GPUNDArray  # noqa: E402
import sys as _sys  # noqa: E402
_GPUNDArray.nd = _sys.modules[__name__]
