"""Symbol: a handle on one or more outputs of a graph, with MXNet 1.x's Symbol API."""
from __future__ import annotations

import numbers

import numpy as np

from ..base import MXNetError, MXNetValueError, did_you_mean
from . import graph as _graph
from .infer import infer_shapes, infer_types, check_names

__all__ = ["Symbol"]


class Symbol:
    """A symbolic value: the outputs ``[(node, index), ...]`` of a graph. See notebook 01."""

    __array_priority__ = 1000.0

    def __init__(self, outputs):
        self._outputs = list(outputs)

    # -- structure ----------------------------------------------------------------------------
    def _order(self):
        return _graph.topo_order(self._outputs)

    @property
    def name(self):
        """The node's name when every output comes from one node, else None (a group)."""
        nodes = {id(n) for n, _ in self._outputs}
        if len(nodes) != 1:
            return None
        return self._outputs[0][0].name

    def list_arguments(self):
        order = self._order()
        aux = _graph.aux_variable_ids(order)
        return [n.name for n in order if n.op is None and id(n) not in aux]

    def list_auxiliary_states(self):
        order = self._order()
        aux = _graph.aux_variable_ids(order)
        return [n.name for n in order if n.op is None and id(n) in aux]

    def list_inputs(self):
        return [n.name for n in self._order() if n.op is None]

    def list_outputs(self):
        return [node.output_names()[i] for node, i in self._outputs]

    def __len__(self):
        return len(self._outputs)

    def __iter__(self):
        return (Symbol([o]) for o in self._outputs)

    def __getitem__(self, index):
        if isinstance(index, str):
            names = self.list_outputs()
            matches = [i for i, n in enumerate(names) if n == index]
            if not matches:
                raise MXNetValueError(f"no output named '{index}'; outputs are {names}."
                                      f"{did_you_mean(index, names)}")
            if len(matches) > 1:
                raise MXNetValueError(f"more than one output is named '{index}'")
            index = matches[0]
        if isinstance(index, slice):
            return Symbol(self._outputs[index])
        if not -len(self._outputs) <= index < len(self._outputs):
            raise IndexError(f"output index {index} out of range ({len(self._outputs)} outputs)")
        return Symbol([self._outputs[index]])

    def get_internals(self):
        """Every output of every node, in topological order."""
        return Symbol([(n, i) for n in self._order() for i in range(n.num_outputs())])

    def get_children(self):
        kids = [entry for node, _ in self._outputs for entry in node.inputs]
        return Symbol(kids) if kids else None

    def __copy__(self):
        return Symbol(self._outputs)

    def __deepcopy__(self, memo):
        return Symbol.__from_json(self.tojson())

    def __repr__(self):
        if len(self._outputs) == 1:
            return f"<Symbol {self.name}>"
        return f"<Symbol group [{', '.join(self.list_outputs())}]>"

    def __getstate__(self):
        return {"handle": self.tojson()}

    def __setstate__(self, state):
        self._outputs = _graph.from_json(state["handle"])

    # -- attributes ---------------------------------------------------------------------------
    def attr(self, key):
        if len(self._outputs) != 1:
            return None
        return self._outputs[0][0].all_attrs().get(key)

    def list_attr(self, recursive=False):
        if recursive:
            raise MXNetError("list_attr(recursive=True) was removed in MXNet 1.x; use attr_dict()")
        if len(self._outputs) != 1:
            return {}
        return self._outputs[0][0].all_attrs()

    def attr_dict(self):
        return {n.name: n.all_attrs() for n in self._order() if n.all_attrs()}

    def _set_attr(self, **kwargs):
        for node, _ in self._outputs:
            node.attr.update({k: str(v) for k, v in kwargs.items()})

    # -- composition --------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        """Copy this graph with variables replaced by symbols (by position or by name)."""
        s = self.__deepcopy__(None)
        s._compose(*args, **kwargs)
        return s

    def _compose(self, *args, **kwargs):
        kwargs.pop("name", None)
        order = self._order()
        variables = [n for n in order if n.op is None]
        aux = _graph.aux_variable_ids(order)
        args_vars = [n for n in variables if id(n) not in aux]
        repl = {}
        if args:
            for var, sym in zip(args_vars, args):
                repl[id(var)] = sym._outputs[0]
        by_name = {n.name: n for n in variables}
        for key, sym in kwargs.items():
            if key not in by_name:
                raise MXNetError(f"compose: '{key}' is not an input of this symbol; inputs are "
                                 f"{sorted(by_name)}.{did_you_mean(key, by_name)}")
            repl[id(by_name[key])] = sym._outputs[0]
        for node in order:
            node.inputs = [repl.get(id(c), (c, i)) if c.op is None else (c, i)
                           for c, i in node.inputs]
        self._outputs = [repl.get(id(n), (n, i)) if n.op is None else (n, i)
                         for n, i in self._outputs]

    # -- inference ----------------------------------------------------------------------------
    def _given(self, args, kwargs, what):
        if args and kwargs:
            raise MXNetValueError(f"{what}: give the known shapes/types either by position or "
                                  f"by name, not both (got {len(args)} positional and "
                                  f"{sorted(kwargs)})")
        if args:
            names = self.list_arguments()
            given = {n: s for n, s in zip(names, args) if s is not None}
        else:
            given = {k: v for k, v in kwargs.items() if v is not None}
        check_names(self._order(), given, what)
        return given

    def _collect(self, table, order):
        aux = _graph.aux_variable_ids(order)
        args = [table.get((id(n), 0)) for n in order if n.op is None and id(n) not in aux]
        auxs = [table.get((id(n), 0)) for n in order if n.op is None and id(n) in aux]
        outs = [table.get((id(n), i)) for n, i in self._outputs]
        return args, outs, auxs

    def infer_shape(self, *args, **kwargs):
        """(arg_shapes, out_shapes, aux_shapes), or (None, None, None) if some stay unknown."""
        given = self._given(args, kwargs, "infer_shape")
        order, shapes = infer_shapes(self._outputs, given)
        res = self._collect(shapes, order)
        if any(s is None for part in res for s in part):
            return None, None, None
        return res

    def infer_shape_partial(self, *args, **kwargs):
        """Like infer_shape, with ``()`` for shapes that stay unknown."""
        given = self._given(args, kwargs, "infer_shape_partial")
        order, shapes = infer_shapes(self._outputs, given)
        return tuple([() if s is None else s for s in part]
                     for part in self._collect(shapes, order))

    def infer_type(self, *args, **kwargs):
        """(arg_types, out_types, aux_types) as numpy types, or Nones if some stay unknown."""
        given = self._given(args, kwargs, "infer_type")
        order, types = infer_types(self._outputs, given)
        res = self._collect(types, order)
        if any(t is None for part in res for t in part):
            return None, None, None
        return tuple([np.dtype(t).type for t in part] for part in res)

    def infer_type_partial(self, *args, **kwargs):
        given = self._given(args, kwargs, "infer_type_partial")
        order, types = infer_types(self._outputs, given)
        return tuple([None if t is None else np.dtype(t).type for t in part]
                     for part in self._collect(types, order))

    # -- serialization ------------------------------------------------------------------------
    def tojson(self):
        return _graph.to_json(self._outputs)

    @staticmethod
    def __from_json(text, source="<json>"):
        return Symbol(_graph.from_json(text, source))

    def save(self, fname, remove_amp_cast=True):
        """Write MXNet symbol JSON atomically (temp file in the same folder, then rename)."""
        from ..fileio import atomic_write
        atomic_write(fname, self.tojson().encode("utf-8"))

    def debug_str(self):
        lines = []
        for n in self._order():
            kind = "Variable" if n.op is None else f"Op:{n.op.name}"
            lines.append(f"{kind}, Name={n.name}")
            if n.op is not None:
                lines.append("Inputs:")
                lines += [f"\targ[{k}]={c.name}({i})" for k, (c, i) in enumerate(n.inputs)]
                if n.raw:
                    lines.append("Attrs:")
                    lines += [f"\t{k}={v}" for k, v in n.all_attrs().items()]
        return "\n".join(lines)

    # -- binding (the executor lives in mxteach.executor) -------------------------------------
    # The Executor class, installed by mxteach/executor/__init__.py when it is imported (and
    # ``import mxteach`` imports it): the executor sits above symbols, so symbols never import
    # it; the dependency is inverted through this slot.
    executor_class = None

    @classmethod
    def _executor(cls):
        if cls.executor_class is None:
            raise MXNetError("binding needs mxteach.executor, which installs itself into "
                             "Symbol.executor_class when imported; import mxteach (or "
                             "mxteach.executor) first")
        return cls.executor_class

    def simple_bind(self, ctx, grad_req="write", type_dict=None, stype_dict=None, group2ctx=None,
                    shared_arg_names=None, shared_exec=None, shared_buffer=None, **kwargs):
        return self._executor().simple_bind(self, ctx, grad_req=grad_req, type_dict=type_dict,
                                    group2ctx=group2ctx, shared_arg_names=shared_arg_names,
                                    shared_exec=shared_exec, shared_buffer=shared_buffer,
                                    shapes=kwargs, stype_dict=stype_dict)

    def bind(self, ctx, args, args_grad=None, grad_req="write", aux_states=None, group2ctx=None,
             shared_exec=None):
        return self._executor().bind(self, ctx, args, args_grad=args_grad, grad_req=grad_req,
                             aux_states=aux_states, group2ctx=group2ctx, shared_exec=shared_exec)

    def eval(self, ctx=None, **kwargs):
        from ..context import current_context
        exe = self.bind(ctx or current_context(), kwargs)
        exe.forward(is_train=False)
        return exe.outputs

    # -- arithmetic: operators map onto the same registered ops MXNet's Symbol uses --------
    def _arith(self, other, op_sym, op_scalar, reverse=False):
        from . import frontend
        if isinstance(other, Symbol):
            args = [other, self] if reverse else [self, other]
            return frontend.call(op_sym, args, {})
        if isinstance(other, (numbers.Number, np.generic)):
            return frontend.call(op_scalar, [self], {"scalar": other})
        return NotImplemented

    def __add__(self, o): return self._arith(o, "_Plus", "_PlusScalar")
    def __radd__(self, o): return self._arith(o, "_Plus", "_PlusScalar", True)
    def __sub__(self, o): return self._arith(o, "_Minus", "_MinusScalar")
    def __rsub__(self, o): return self._arith(o, "_Minus", "_RMinusScalar", True)
    def __mul__(self, o): return self._arith(o, "_Mul", "_MulScalar")
    def __rmul__(self, o): return self._arith(o, "_Mul", "_MulScalar", True)
    def __truediv__(self, o): return self._arith(o, "_Div", "_DivScalar")
    def __rtruediv__(self, o): return self._arith(o, "_Div", "_RDivScalar", True)
    def __mod__(self, o): return self._arith(o, "_Mod", "_ModScalar")
    def __rmod__(self, o): return self._arith(o, "_Mod", "_RModScalar", True)
    def __pow__(self, o): return self._arith(o, "_Power", "_PowerScalar")
    def __rpow__(self, o): return self._arith(o, "_Power", "_rpower_scalar", True)
    def __eq__(self, o): return self._arith(o, "_equal", "_equal_scalar")
    def __ne__(self, o): return self._arith(o, "_not_equal", "_not_equal_scalar")
    def __lt__(self, o): return self._arith(o, "_lesser", "_lesser_scalar")
    def __le__(self, o): return self._arith(o, "_lesser_equal", "_lesser_equal_scalar")
    def __gt__(self, o): return self._arith(o, "_greater", "_greater_scalar")
    def __ge__(self, o): return self._arith(o, "_greater_equal", "_greater_equal_scalar")
    def __neg__(self): return self.__mul__(-1.0)
    __div__, __rdiv__ = __truediv__, __rtruediv__
    __hash__ = object.__hash__

    def __abs__(self):
        from . import frontend
        return frontend.call("abs", [self], {})
