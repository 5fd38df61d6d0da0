"""``mx.sym``: Symbol, Variable, Group, load/save and every registered operator."""
from .symbol import Symbol
from .frontend import Variable, var, Group, load, load_json, AttrScope
from . import frontend as _frontend
from . import random
from .array_funcs import split_v2, histogram

_frontend.install(globals())


def _install_later(op):
    """An operator registered after import (``ops/registry.py``'s FRONTENDS slot)."""
    for opname in (op.name,) + tuple(op.aliases):
        globals()[opname] = _frontend._make(opname)


_frontend.registry.FRONTENDS.append(_install_later)


class contrib:  # noqa: N801 - MXNet's contrib namespace
    """Operators registered as ``_contrib_<name>``, under ``<name>`` (``contrib.SparseEmbedding``)."""


def _contrib_function(opname, short):
    # unnamed nodes are named as MXNet names them: by the short name in lower case
    def fn(*args, **kwargs):
        return _frontend.call(opname, args, kwargs, hint=short.lower())
    fn.__name__, fn.__doc__ = short, globals()[opname].__doc__
    return fn


for _opname in [k for k in globals() if k.startswith("_contrib_")]:
    _short = _opname[len("_contrib_"):]   # the alias, when registered, names nodes as MXNet
    setattr(contrib, _short, staticmethod(globals().get(_short) or
                                          _contrib_function(_opname, _short)))
contrib.uniform = staticmethod(random.uniform)   # MXNet's contrib.uniform is random.uniform
from . import contrib_optimizer as _contrib_optim  # noqa: E402 - adamw_update, mp_adamw_update
for _name in _contrib_optim.__all__:
    setattr(contrib, _name, staticmethod(getattr(_contrib_optim, _name)))


class linalg:  # noqa: N801 - MXNet's mx.sym.linalg
    """The ``_linalg_<name>`` operators under ``<name>`` (``linalg.gemm2``); unnamed nodes are
    named by the short name (``gemm20``), as MXNet names them. See notebook 01."""


def _linalg_function(opname, short):
    def fn(*args, **kwargs):
        return _frontend.call(opname, args, kwargs, hint=short)
    fn.__name__, fn.__doc__ = short, globals()[opname].__doc__
    return fn


for _opname in [k for k in globals() if k.startswith("_linalg_")]:
    _short = _opname[len("_linalg_"):]
    setattr(linalg, _short, staticmethod(_linalg_function(_opname, _short)))


class sparse:  # noqa: N801 - MXNet's mx.sym.sparse
    """Every operator again, as MXNet's ``mx.sym.sparse`` lists them for graphs that carry
    sparse storage (``mx.sym.sparse.dot(csr_data, weight)``). See notebook 15."""


for _opname in _frontend.registry.all_ops():
    if _opname in globals():
        setattr(sparse, _opname, staticmethod(globals()[_opname]))


class _internal:  # noqa: N801 - MXNet's mx.sym._internal
    """The operators whose names start with ``_`` (``_internal._square_sum``)."""


for _opname in _frontend.registry.all_ops():
    if _opname.startswith("_") and _opname in globals():
        setattr(_internal, _opname, staticmethod(globals()[_opname]))




def _binary_or_scalar(name_sym, name_scalar, name_rscalar):
    def fn(left, right, **kwargs):
        if isinstance(left, Symbol) and isinstance(right, Symbol):
            return _frontend.call(name_sym, [left, right], kwargs)
        if isinstance(left, Symbol):
            return _frontend.call(name_scalar, [left], dict(kwargs, scalar=right))
        if isinstance(right, Symbol):
            return _frontend.call(name_rscalar, [right], dict(kwargs, scalar=left))
        raise TypeError("at least one argument must be a Symbol")
    return fn


maximum = _binary_or_scalar("_Maximum", "_MaximumScalar", "_MaximumScalar")
minimum = _binary_or_scalar("_Minimum", "_MinimumScalar", "_MinimumScalar")
pow = _binary_or_scalar("_Power", "_PowerScalar", "_RPowerScalar")  # noqa: A001 - MXNet's name
power = pow
hypot = _binary_or_scalar("_Hypot", "_HypotScalar", "_HypotScalar")


def zeros(shape, dtype=None, **kwargs):
    """A symbol of zeros; 0 in ``shape`` is inferred from the consumer. See notebook 01."""
    return _frontend.call("_zeros", [], dict(kwargs, shape=shape, dtype=dtype or "float32"))


def ones(shape, dtype=None, **kwargs):
    return _frontend.call("_ones", [], dict(kwargs, shape=shape, dtype=dtype or "float32"))


def full(shape, val, dtype=None, **kwargs):
    return _frontend.call("_full", [], dict(kwargs, shape=shape, value=float(val),
                                            dtype=dtype or "float32"))
