"""``mx.sym`` front-end: Variable, Group, load, and one function per registered operator."""
from __future__ import annotations

import json
import os

import numpy as np

from ..base import MXNetError, MXNetTypeError, MXNetValueError, NameManager
from ..ops import registry
from ..ops.frontend import split_call
from ..ops.registry import format_param
from ..ndarray.sparse_storage import stype_code
from .graph import Node, from_json
from .infer import DTYPE_TO_CODE
from .symbol import Symbol

__all__ = ["Variable", "var", "Group", "load", "load_json", "call"]


class AttrScope:
    """``with mx.AttrScope(ctx_group='dev1'):`` adds attributes to every symbol made inside."""
    _current = [{}]

    def __init__(self, **attrs):
        bad = {k: v for k, v in attrs.items() if not isinstance(v, str)}
        if bad:   # MXNet refuses non-string attribute values with ValueError
            raise MXNetValueError(f"AttrScope: attribute values must be strings, got {bad}")
        self._attrs = dict(attrs)

    def __enter__(self):
        merged = dict(AttrScope._current[-1])
        merged.update(self._attrs)
        AttrScope._current.append(merged)
        return self

    def __exit__(self, *exc):
        AttrScope._current.pop()

    @staticmethod
    def get(attr):
        out = dict(AttrScope._current[-1])
        out.update(attr or {})
        return out


def Variable(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
             stype=None, **kwargs):
    """A named input of a graph: data, label or parameter. See notebook 01."""
    if not isinstance(name, str):
        raise MXNetTypeError(f"Variable name must be a string, got {type(name).__name__}")
    a = AttrScope.get(attr)
    if shape is not None:
        a["__shape__"] = format_param(tuple(int(d) for d in shape))
    if lr_mult is not None:
        a["__lr_mult__"] = str(lr_mult)
    if wd_mult is not None:
        a["__wd_mult__"] = str(wd_mult)
    if dtype is not None:
        a["__dtype__"] = str(DTYPE_TO_CODE[np.dtype(dtype).name])
    if init is not None:
        a["__init__"] = init if isinstance(init, str) else init.dumps()
    if stype is not None:
        a["__storage_type__"] = stype_code(stype)      # MXNet's enum: '1' is row_sparse
    for k, v in kwargs.items():
        if not (k.startswith("__") and k.endswith("__")):
            raise MXNetValueError(f"Variable: unknown argument '{k}'; extra attributes must look "
                             f"like __{k}__")
        a[k] = str(v)
    return Symbol([(Node(None, name, attr=a), 0)])


var = Variable


def Group(symbols):
    """One symbol whose outputs are the outputs of ``symbols``, in order."""
    if not symbols or any(not isinstance(s, Symbol) for s in symbols):
        raise MXNetTypeError("Group needs a non-empty list of Symbols")
    return Symbol([o for s in symbols for o in s._outputs])


def load_json(json_str):
    return Symbol(from_json(json_str))


def load(fname):
    """Load a symbol saved by ``Symbol.save`` here or in MXNet."""
    if not os.path.exists(fname):
        raise MXNetError(f"symbol file '{fname}' does not exist")
    try:
        with open(fname, "rb") as f:  # bytes: the validator names invalid UTF-8
            data = f.read()
    except OSError as err:
        raise MXNetError(f"cannot read symbol file '{fname}': {err.strerror or err}") from None
    return Symbol(from_json(data, fname))


def call(opname, args, kwargs, hint=None):
    """Apply operator ``opname`` to symbols; missing inputs become variables ``{name}_{input}``.
    ``hint`` names unnamed nodes (default: the operator name in lower case)."""
    op = registry.get(opname)
    inputs, params, name, node_attr = split_call(op, args, kwargs,
                                                 lambda v: isinstance(v, Symbol))
    name = NameManager.current().get(name, hint or opname.lower())
    p = registry.parse_params(op, params, name)
    op = op.extra["specialise"](p) if "specialise" in op.extra else op   # Custom's loss heads
    raw = dict(params)       # as given: MXNet writes str(value) of what the user passed
    names = op.list_arguments(p) + op.list_aux(p)
    init_attrs = op.extra.get("input_attrs", {})
    entries = []
    for k, input_name in enumerate(names):
        if isinstance(inputs, list):
            sym = inputs[k] if k < len(inputs) else None
        else:
            sym = inputs.get(input_name)
        if sym is None:
            attr = AttrScope.get({key: format_param(v) for key, v in raw.items()})
            attr.update(init_attrs.get(input_name, {}))
            entries.append((Node(None, f"{name}_{input_name}", attr=attr), 0))
            continue
        if len(sym._outputs) != 1:
            raise MXNetError(f"{opname} '{name}': input '{input_name}' is a group of "
                             f"{len(sym._outputs)} outputs; pass one output")
        entries.append(sym._outputs[0])
    node = Node(op, name, p, raw, entries, AttrScope.get(node_attr))
    return Symbol([(node, i) for i in range(len(op.list_outputs(p)))])


def _make(opname):
    def fn(*args, **kwargs):
        return call(opname, args, kwargs)
    fn.__name__ = opname
    fn.__doc__ = registry.get(opname).doc
    return fn


def install(namespace):
    for opname in registry.all_ops():
        if opname not in namespace:
            namespace[opname] = _make(opname)


