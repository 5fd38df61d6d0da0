"""Turn a registered operator into a front-end function (shared by ``mx.nd`` and ``mx.sym``):
split a call's arguments into inputs (by position or by input name) and parameters."""
from __future__ import annotations

import operator

from numpy.lib.array_utils import normalize_axis_tuple

from ..base import MXNetError, MXNetTypeError, MXNetValueError, numeric_types
from .registry import Op, parse_params


def split_call(op: Op, args, kwargs, is_input):
    """Return (inputs-by-name dict or ordered list, raw params, name, attr).

    Positional inputs fill the operator's inputs in order; a variable-arity operator takes them
    all and gets its count parameter set.
    """
    kwargs = dict(kwargs)
    name = kwargs.pop("name", None)
    attr = kwargs.pop("attr", None)
    params = {k: v for k, v in kwargs.items() if not is_input(v)}
    named = {k: v for k, v in kwargs.items() if is_input(v)}
    positional = list(args)
    # positional values after the inputs are parameters in declaration order (clip(x, 0, 1))
    n_in = next((i for i, a in enumerate(positional) if not _is_input_like(a, is_input)),
                len(positional))
    extra, positional = positional[n_in:], positional[:n_in]
    for key, value in zip([k for k in op.params if k not in params], extra):
        params[key] = value
    if len(extra) > len(op.params):
        raise MXNetError(f"{op.name}: too many positional arguments {extra}")
    if op.num_args_param:
        if len(positional) == 1 and isinstance(positional[0], (list, tuple)):
            positional = list(positional[0])
        positional += [named.pop(k) for k in sorted(named, key=str) if k.startswith("arg")]
        if named.get("data") is not None and not positional:
            d = named.pop("data")
            positional = list(d) if isinstance(d, (list, tuple)) else [d]
        params.setdefault(op.num_args_param, len(positional))
    # __lr_mult__-style keys are node attributes, not parameters
    node_attr = {k: str(v) for k, v in params.items() if k.startswith("__") and k.endswith("__")}
    for k in node_attr:
        params.pop(k)
    if attr:
        node_attr.update({k: str(v) for k, v in attr.items()})
    p = parse_params(op, params, name or op.name)
    names = op.extra["input_order"](p) if "input_order" in op.extra else (   # MXNet's order
        op.list_arguments(p) + op.list_aux(p))
    if op.num_args_param:
        if named:
            raise MXNetError(f"{op.name} takes its inputs by position; got named {sorted(named)}")
        return positional, params, name, node_attr
    if len(positional) > len(names):
        raise MXNetError(f"{op.name} takes at most {len(names)} inputs ({names}), "
                         f"got {len(positional)}")
    inputs = dict(zip(names, positional))
    for k, v in named.items():
        if k not in names:
            raise MXNetError(f"{op.name} has no input '{k}'; its inputs are {names}")
        if k in inputs:
            raise MXNetError(f"{op.name}: input '{k}' given twice")
        inputs[k] = v
    return inputs, params, name, node_attr


def _is_input_like(value, is_input):
    if isinstance(value, (list, tuple)) and value and all(is_input(v) for v in value):
        return True
    return is_input(value) or value is None


# -- MXNet's Python-level arithmetic of mx.nd (add, subtract, ..., lesser_equal) ----------------
# Each is one registered operator chosen by the kinds of its two arguments:
# name: (array-array operator, array-scalar operator, scalar-array operator, two numbers).
# The scalar-array operator answers ``scalar OP array``: ``greater(2, a)`` is ``a < 2``.
UFUNCS = {
    "add": ("broadcast_add", "_plus_scalar", "_plus_scalar", operator.add),
    "subtract": ("broadcast_sub", "_minus_scalar", "_rminus_scalar", operator.sub),
    "multiply": ("broadcast_mul", "_mul_scalar", "_mul_scalar", operator.mul),
    "divide": ("broadcast_div", "_div_scalar", "_rdiv_scalar", operator.truediv),
    "modulo": ("broadcast_mod", "_mod_scalar", "_rmod_scalar", operator.mod),
    "power": ("broadcast_power", "_power_scalar", "_rpower_scalar", operator.pow),
    "maximum": ("broadcast_maximum", "_maximum_scalar", "_maximum_scalar",
                lambda x, y: x if x > y else y),
    "minimum": ("broadcast_minimum", "_minimum_scalar", "_minimum_scalar",
                lambda x, y: x if x < y else y),
    "equal": ("broadcast_equal", "_equal_scalar", "_equal_scalar",
              lambda x, y: 1 if x == y else 0),
    "not_equal": ("broadcast_not_equal", "_not_equal_scalar", "_not_equal_scalar",
                  lambda x, y: 1 if x != y else 0),
    "greater": ("broadcast_greater", "_greater_scalar", "_lesser_scalar",
                lambda x, y: 1 if x > y else 0),
    "greater_equal": ("broadcast_greater_equal", "_greater_equal_scalar",
                      "_lesser_equal_scalar", lambda x, y: 1 if x >= y else 0),
    "lesser": ("broadcast_lesser", "_lesser_scalar", "_greater_scalar",
               lambda x, y: 1 if x < y else 0),
    "lesser_equal": ("broadcast_lesser_equal", "_lesser_equal_scalar", "_greater_equal_scalar",
                     lambda x, y: 1 if x <= y else 0),
    "logical_and": ("broadcast_logical_and", "_logical_and_scalar", "_logical_and_scalar",
                    lambda x, y: 1 if x and y else 0),
    "logical_or": ("broadcast_logical_or", "_logical_or_scalar", "_logical_or_scalar",
                   lambda x, y: 1 if x or y else 0),
    "logical_xor": ("broadcast_logical_xor", "_logical_xor_scalar", "_logical_xor_scalar",
                    lambda x, y: 1 if bool(x) != bool(y) else 0),
}
UFUNC_ALIASES = {"true_divide": "divide"}


def make_ufunc(name, call, is_array):
    """Build ``mx.nd.<name>(lhs, rhs)``; ``call(opname, *inputs, **params)`` runs an operator.

    As in MXNet: two arrays broadcast, an array and a number use the scalar operator, two
    numbers give a plain Python number.
    """
    both, left_scalar, right_scalar, numbers = UFUNCS[name]

    def ufunc(lhs, rhs):
        if is_array(lhs) and is_array(rhs):
            return call(both, lhs, rhs)
        if is_array(lhs) and isinstance(rhs, numeric_types):
            return call(left_scalar, lhs, scalar=float(rhs))
        if is_array(rhs) and isinstance(lhs, numeric_types):
            return call(right_scalar, rhs, scalar=float(lhs))
        if isinstance(lhs, numeric_types) and isinstance(rhs, numeric_types):
            return numbers(lhs, rhs)
        bad = rhs if is_array(lhs) or isinstance(lhs, numeric_types) else lhs
        raise MXNetTypeError(f"{name}: type {type(bad).__name__} not supported; pass NDArrays "
                             "or numbers")
    ufunc.__name__ = name
    ufunc.__doc__ = (f"``{name}(lhs, rhs)`` of NDArrays (broadcast, ``{both}``) or an NDArray "
                     f"and a number (``{left_scalar}``/``{right_scalar}``); two numbers give a "
                     "number, as in MXNet.")
    return ufunc


def moveaxis_axes(ndim, source, destination):
    """The ``transpose`` order that moves axes ``source`` to positions ``destination`` (ints or
    sequences, negative allowed), as ``numpy.moveaxis`` and MXNet's ``mx.nd.moveaxis`` do.

    Out-of-range axes raise a ValueError, as in MXNet."""
    try:
        source = normalize_axis_tuple(source, ndim, "source")
        destination = normalize_axis_tuple(destination, ndim, "destination")
    except IndexError as err:   # numpy's AxisError; MXNet re-raises it as a plain ValueError
        raise MXNetValueError(f"moveaxis: {err} (the tensor has {ndim} axes)") from None
    if len(source) != len(destination):
        raise MXNetValueError(f"moveaxis: source {source} and destination {destination} must "
                              "name the same number of axes")
    order = [a for a in range(ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return tuple(order)
