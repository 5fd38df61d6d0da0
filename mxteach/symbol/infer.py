"""Shape and dtype inference over a graph: repeated passes in topological order until nothing
changes, so shapes flow forward (data → outputs) and into parameters (data → weight)."""
from __future__ import annotations

import ast

import numpy as np

from ..base import MXNetError, ShapeError, DTypeError
from .graph import topo_order

# MXNet's dtype codes, as stored in the __dtype__ attribute.
DTYPE_CODES = {0: "float32", 1: "float64", 2: "float16", 3: "uint8", 4: "int32", 5: "int8",
               6: "int64", 7: "bool"}
DTYPE_TO_CODE = {v: k for k, v in DTYPE_CODES.items()}


def _known(shape):
    return shape is not None and len(shape) > 0 and all(d > 0 for d in shape) or shape == ()


def _attr_shape(node):
    text = node.attr.get("__shape__")
    if text is None:
        return None
    shape = tuple(int(d) for d in ast.literal_eval(text))
    return shape if all(d > 0 for d in shape) and shape else None


_CREATORS = ("_zeros", "_ones", "_full")


def _zero_pattern(node):
    """The shape a creation op or a Variable (``__shape__`` attribute) declares, where 0 marks
    a dimension to infer (RNN begin states: ``(0, num_hidden)``); None when it declares none."""
    if node.op is None:
        text = node.attr.get("__shape__")
        return tuple(int(d) for d in ast.literal_eval(text)) if text else None
    if node.op.name in _CREATORS:
        return tuple(node.params["shape"])
    return None


def infer_shapes(heads, given):
    """Return {(id(node), idx): shape or None} for every entry; ``given`` maps variable names
    to shapes. Conflicts raise ShapeError naming the node and the input.

    Creation ops (``mx.sym.zeros((0, H))``) and Variables declared with such a shape (RNN
    states fed as inputs) may leave dimensions at 0 for "infer me"; when
    consumers alone cannot fill them, the 0s are tried as each given input's batch size and
    the first choice that makes the whole graph consistent is kept (RNN begin states).
    """
    order = topo_order(heads)
    shapes = {}
    for node in order:
        if node.op is None:
            s = given.get(node.name)
            shapes[(id(node), 0)] = tuple(int(d) for d in s) if s is not None else _attr_shape(node)
    _fixpoint(order, shapes)
    partial = [n for n in order if shapes.get((id(n), 0)) is None and
               0 in (_zero_pattern(n) or ())]
    if partial:
        # candidates: every given leading dimension first, then the other dimensions
        # (layout TNC puts the batch second)
        batches = []
        for pos in (0, 1, 2):
            for s in given.values():
                if s is not None and len(s) > pos and int(s[pos]) not in batches:
                    batches.append(int(s[pos]))
        for b in batches:
            trial = dict(shapes)
            for n in partial:
                trial[(id(n), 0)] = tuple(b if d == 0 else d for d in _zero_pattern(n))
            try:
                _fixpoint(order, trial)
            except ShapeError:
                continue
            shapes = trial
            break
    return order, shapes


def _fixpoint(order, shapes):
    for _ in range(len(order) + 1):
        changed = False
        for node in order:
            if node.op is None:
                continue
            ins = [shapes.get((id(c), i)) for c, i in node.inputs]
            n_out = node.num_outputs()
            try:
                new_ins, outs = node.op.infer_shape(node.params, list(ins))
            except ShapeError as err:
                feeds = ", ".join(f"{n}<-{c.name}" for n, (c, _) in
                                  zip(node.input_names(), node.inputs))
                raise ShapeError(f"Error in operator {node.name} ({node.op.name}): {err} "
                                 f"[inputs: {feeds}]") from None
            except (ValueError, IndexError, TypeError) as err:
                raise ShapeError(f"Error in operator {node.name} ({node.op.name}): shapes "
                                 f"{ins} do not fit: {err}") from None
            names = node.input_names()
            for k, ((child, i), old, new) in enumerate(zip(node.inputs, ins, new_ins)):
                if new is None:
                    continue
                new = tuple(int(d) for d in new)
                if old is None:
                    shapes[(id(child), i)] = new
                    changed = True
                elif tuple(old) != new:
                    raise ShapeError(
                        f"Error in operator {node.name} ({node.op.name}): input "
                        f"'{names[k] if k < len(names) else k}' ({child.name}) has shape "
                        f"{tuple(old)}, but the operator expects {new}")
            for j in range(n_out):
                o = outs[j] if j < len(outs) else None
                if o is None:
                    continue
                o = tuple(int(d) for d in o)
                known = shapes.get((id(node), j))
                if known is None:
                    shapes[(id(node), j)] = o
                    changed = True
                elif known != o:
                    raise ShapeError(f"Error in operator {node.name} ({node.op.name}): output "
                                     f"{j} has shape {o}, but its consumers need {known}")
        if not changed:
            break


def infer_types(heads, given):
    """Like infer_shapes, for dtype names ('float32' ...)."""
    order = topo_order(heads)
    types = {}
    for node in order:
        if node.op is None:
            t = given.get(node.name)
            if t is None and "__dtype__" in node.attr:
                t = DTYPE_CODES.get(int(node.attr["__dtype__"]))
            types[(id(node), 0)] = None if t is None else np.dtype(t).name
    for _ in range(len(order) + 1):
        changed = False
        for node in order:
            if node.op is None:
                continue
            ins = [types.get((id(c), i)) for c, i in node.inputs]
            new_ins, outs = node.op.types(node.params, list(ins))
            names = node.input_names()
            for k, ((child, i), old, new) in enumerate(zip(node.inputs, ins, new_ins)):
                if new is None:
                    continue
                if old is None:
                    types[(id(child), i)] = new
                    changed = True
                elif old != new:
                    raise DTypeError(f"Error in operator {node.name} ({node.op.name}): input "
                                     f"'{names[k] if k < len(names) else k}' ({child.name}) has "
                                     f"dtype {old}, but the operator expects {new}")
            for j, o in enumerate(outs):
                if o is not None and types.get((id(node), j)) is None:
                    types[(id(node), j)] = o
                    changed = True
        if not changed:
            break
    return order, types


def check_names(order, given, what):
    names = {n.name for n in order if n.op is None}
    for key in given:
        if key not in names:
            from ..base import did_you_mean
            raise MXNetError(f"{what}: '{key}' is not an input of this symbol; inputs are "
                             f"{sorted(names)}.{did_you_mean(key, names)}")
