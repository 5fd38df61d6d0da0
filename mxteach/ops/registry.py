"""The operator registry: one definition per operator serves ``mx.sym.X`` and ``mx.nd.X``.

An operator is data: its parameters, the names of its inputs/aux states/outputs, a shape rule, a
type rule, a CPU forward and backward, and (where CUDA kernels exist) a GPU forward and backward.
Family files (``nn.py``, ``loss.py`` ...) build ``Op`` objects and call :func:`register`; the
table is a :class:`mxteach.registry.Registry` (case-sensitive names; a second operator under a
taken name is an error).

Kernel contract (what the executor calls):

``forward(p, ins, outs, is_train, state)``
    ``p`` is the parsed parameter dict, ``ins`` the input arrays (arguments then aux states),
    ``outs`` preallocated output arrays to fill (``outs[i][...] = ...``). Aux states are updated in
    place in ``ins``. ``state`` is a per-node dict that lives as long as the executor (masks,
    saved batch statistics).
``backward(p, ograds, ins, outs, igrads, reqs, state)``
    ``ograds`` are the gradients of the outputs (``None`` for ops with ``loss=True``), ``igrads``
    the gradient arrays of the arguments (``None`` where ``reqs[i] == 'null'``); write them with
    :func:`assign`, which honours ``'write'`` and ``'add'``.
``gpu_forward`` / ``gpu_backward``
    The same two signatures on numba device arrays (``None`` while the operator has no CUDA
    kernel). They import ``kernels/cuda`` lazily inside, so importing the operators never loads
    numba.cuda; gradient requests become the kernels' ``accumulate`` flag.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..base import MXNetError, did_you_mean
from ..registry import Registry

__all__ = ["Param", "Op", "register", "get", "all_ops", "assign", "parse_params", "format_param"]

_REQUIRED = object()


@dataclass
class Param:
    """One operator parameter. ``kind`` is one of int, float, bool, shape, str, dtype, any;
    ``optional`` means the value may be None."""
    kind: str
    default: Any = _REQUIRED
    choices: tuple | None = None
    optional: bool = False
    doc: str = ""
    low: Any = None  # smallest allowed value (MXNet's set_lower_bound), None for no bound

    @property
    def required(self):
        return self.default is _REQUIRED


def _parse(kind, value, optional):
    if value is None or (isinstance(value, str) and value in ("None", "none", "")):
        if optional or kind in ("any",):
            return None
        raise ValueError("None is not allowed")
    if kind == "int":
        if isinstance(value, str):
            value = ast.literal_eval(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value} is not an integer")
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("true", "1"):
                return True
            if low in ("false", "0"):
                return False
            raise ValueError(f"'{value}' is not a boolean")
        return bool(value)
    if kind == "shape":
        if isinstance(value, str):
            value = ast.literal_eval(value.strip() or "()")
        if isinstance(value, (int, np.integer)):
            return (int(value),)
        return tuple(int(v) for v in value)
    if kind == "dtype":
        return np.dtype(value).name
    if kind == "str":
        return str(value)
    return value


def format_param(value):
    """Format a parameter value as MXNet writes it in symbol JSON (``(3, 3)``, ``True``)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(str(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


@dataclass
class Op:
    """An operator. ``arguments``/``aux``/``outputs`` are lists of names or callables of the
    parsed parameters (for variable-arity operators such as Concat)."""
    name: str
    params: dict
    arguments: Any
    infer_shape: Callable
    forward: Callable
    backward: Callable | None = None
    aux: Any = ()
    outputs: Any = ("output",)
    infer_type: Callable | None = None
    aliases: tuple = ()
    loss: bool = False               # a loss head: backward() needs no head gradient
    num_args_param: str | None = None  # variable arity: the parameter holding the input count
    hint: str | None = None          # auto-name prefix (defaults to name.lower())
    doc: str = ""
    # Which kinds of values backward reads; the memory planner frees the rest early.
    backward_uses: tuple = ("ins", "outs")
    extra: dict = field(default_factory=dict)
    # the CUDA twins of forward/backward, on numba device arrays (None: no CUDA kernel yet)
    gpu_forward: Callable | None = None
    gpu_backward: Callable | None = None

    def _names(self, spec, p):
        return list(spec(p) if callable(spec) else spec)

    def list_arguments(self, p):
        return self._names(self.arguments, p)

    def list_aux(self, p):
        return self._names(self.aux, p)

    def list_outputs(self, p):
        return self._names(self.outputs, p)

    def parse(self, kwargs, node_name="?"):
        return parse_params(self, kwargs, node_name)

    def types(self, p, in_types):
        """Infer dtypes: by default every input and output shares the first known dtype."""
        if self.infer_type is not None:
            return self.infer_type(p, in_types)
        known = next((t for t in in_types if t is not None), None)
        n_out = len(self.list_outputs(p))
        if known is None:
            return list(in_types), [None] * n_out
        return [known] * len(in_types), [known] * n_out


_OPS = Registry("operator", case_insensitive=False, on_replace="error")

# The slot of the front-ends: ``mx.sym`` and ``mx.nd`` sit above this layer and append a
# function ``install(op)`` here when imported, so an operator registered later (from a notebook)
# gets its ``mx.sym.X`` / ``mx.nd.X`` at once.
FRONTENDS: list = []


def register(op: Op, replace=False) -> Op:
    """Add ``op`` under its name and aliases; a different operator under a taken name fails.

    ``replace=True`` lets a notebook cell that defines an operator run again: the new
    definition takes the name. Registered after ``import mxteach``, the operator appears as
    ``mx.sym.<name>`` and ``mx.nd.<name>`` at once. See notebook 12.
    """
    for n in (op.name,) + tuple(op.aliases):
        if replace:
            _OPS.live[_OPS.key(n)] = op
        else:
            _OPS.register(op, n)
    for install in FRONTENDS:
        install(op)
    return op


def get(name) -> Op:
    """The operator registered as ``name`` (canonical name or alias)."""
    return _OPS.get(name)


def all_ops() -> dict:
    """Every registered name (canonical names and aliases) → Op."""
    return _OPS.as_dict()


def parse_params(op: Op, kwargs: dict, node_name="?") -> dict:
    """Check and convert raw parameters (Python values or JSON strings) for ``op``."""
    out = {}
    for key, value in kwargs.items():
        spec = op.params.get(key)
        if spec is None:
            raise MXNetError(
                f"operator {op.name} (node '{node_name}') has no argument '{key}'; expected one "
                f"of {sorted(op.params)}.{did_you_mean(key, op.params)}")
        try:
            v = _parse(spec.kind, value, spec.optional)
        except (ValueError, SyntaxError, TypeError) as err:
            raise MXNetError(f"operator {op.name} (node '{node_name}'): argument '{key}' = "
                             f"{value!r} is not a valid {spec.kind}: {err}") from None
        if spec.choices is not None and v not in spec.choices:
            raise MXNetError(f"operator {op.name} (node '{node_name}'): argument '{key}' = {v!r};"
                             f" expected one of {list(spec.choices)}")
        if spec.low is not None and v is not None and v < spec.low:
            raise MXNetError(f"operator {op.name} (node '{node_name}'): argument '{key}' = {v!r};"
                             f" expected a value >= {spec.low}")
        out[key] = v
    for key, spec in op.params.items():
        if key not in out:
            if spec.required:
                raise MXNetError(f"operator {op.name} (node '{node_name}') needs argument '{key}'"
                                 f" ({spec.kind}{': ' + spec.doc if spec.doc else ''})")
            out[key] = spec.default
    return out


def assign(dst, req, value):
    """Store ``value`` into ``dst`` as the gradient request says ('write', 'add', 'null')."""
    if dst is None or req == "null":
        return
    if req == "add":
        dst += value
    else:
        dst[...] = value
