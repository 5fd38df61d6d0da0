"""``mx.sym``: Symbol, Variable, Group, load/save and every registered operator."""
from .symbol import Symbol
from .frontend import Variable, var, Group, load, load_json, AttrScope
from . import frontend as _frontend

_frontend.install(globals())




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


def zeros(shape, dtype=None, **kwargs):
    """A symbol of zeros; 0 in ``shape`` is inferred from the consumer. See notebook 01."""
    return _frontend.call("_zeros", [], dict(kwargs, shape=shape, dtype=dtype or "float32"))


def ones(shape, dtype=None, **kwargs):
    return _frontend.call("_ones", [], dict(kwargs, shape=shape, dtype=dtype or "float32"))


def full(shape, val, dtype=None, **kwargs):
    return _frontend.call("_full", [], dict(kwargs, shape=shape, value=float(val),
                                            dtype=dtype or "float32"))
