"""The ``Custom`` operator: a layer written in Python (``mx.operator.CustomOp``) run as a node.

``mx.operator.register("name")`` (``mxteach/operator.py``) stores a ``CustomOpProp`` class in
:data:`PROPS`; ``mx.sym.Custom(data, op_type="name", **kwargs)`` builds a node of the operator
below, whose every rule asks the property object: argument/output/aux names, shapes, dtypes, and
``create_operator`` for the object whose ``forward``/``backward`` fill NDArrays.

Parameters other than ``op_type`` are free-form: they reach the property's constructor as
strings, as MXNet passes them. A property whose ``need_top_grad()`` is False makes its node a
loss head (the executor then asks no head gradient), which is why each node gets its own ``Op``
copy from :func:`specialise`.

On a GPU the Python code runs on host copies: inputs are copied to the host, the operator
runs, the outputs (and gradients) are copied back. Simple, and the same code runs everywhere.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .registry import Op, Param, register
from ..base import MXNetError
from ..context import cpu
from ..registry import Registry

__all__ = ["PROPS", "prop_of", "specialise"]

PROPS = Registry("custom operator", case_insensitive=False, on_replace="silent")


class _AnyParams(dict):
    """``op_type`` plus any other keyword: MXNet hands them to the property as strings."""

    def get(self, key, default=None):
        if key in self.keys():
            return dict.get(self, key)
        return Param("str", doc="passed to the CustomOpProp constructor")

    def __contains__(self, key):
        return not (key.startswith("__") and key.endswith("__"))


def _kwargs(p):
    return {k: v for k, v in sorted(p.items()) if k != "op_type"}


_CACHE = {}


def prop_of(p):
    """The ``CustomOpProp`` instance for parsed parameters ``p`` (one per parameter set)."""
    key = tuple(sorted(p.items()))
    prop = _CACHE.get(key)
    if prop is None:
        if p["op_type"] not in PROPS:
            raise MXNetError(f"Custom: op_type '{p['op_type']}' is not registered; registered "
                             f"custom operators are {sorted(PROPS.as_dict())} "
                             "(decorate a CustomOpProp with mx.operator.register)")
        prop = PROPS.get(p["op_type"])(**_kwargs(p))
        _CACHE[key] = prop
    return prop


def _shape(p, in_shapes):
    prop = prop_of(p)
    n_arg, n_out = len(prop.list_arguments()), len(prop.list_outputs())
    n_aux = len(prop.list_auxiliary_states())
    if in_shapes[0] is None:
        return list(in_shapes), [None] * n_out
    given = [list(s) if s is not None else [] for s in in_shapes[:n_arg]]
    try:
        res = prop.infer_shape(given)
    except Exception:    # noqa: BLE001 - a rule that needs every input waits for them
        if any(s is None for s in in_shapes):
            return list(in_shapes), [None] * n_out
        raise
    args, outs = res[0], res[1]
    aux = res[2] if len(res) > 2 else []
    if len(args) != n_arg or len(outs) != n_out or len(aux) != n_aux:
        raise MXNetError(f"Custom '{p['op_type']}': infer_shape returned {len(args)} argument, "
                         f"{len(outs)} output and {len(aux)} aux shapes; expected {n_arg}, "
                         f"{n_out} and {n_aux}")
    return ([tuple(int(d) for d in s) for s in list(args) + list(aux)],
            [tuple(int(d) for d in s) for s in outs])


def _types(p, in_types):
    prop = prop_of(p)
    n_arg = len(prop.list_arguments())
    if in_types[0] is None:
        return list(in_types), [None] * len(prop.list_outputs())
    first = np.dtype(in_types[0]).type
    given = [first if t is None else np.dtype(t).type for t in in_types[:n_arg]]
    res = prop.infer_type(given)
    args, outs = res[0], res[1]
    aux = res[2] if len(res) > 2 else []
    names = [np.dtype(t).name for t in list(args) + list(aux)]
    return names, [np.dtype(t).name for t in outs]


def _operator(p, state, ins):
    """The CustomOp object of one node, made once (create_operator) and kept in its state."""
    if "op" not in state:
        prop = prop_of(p)
        n_arg = len(prop.list_arguments())
        shapes = [list(a.shape) for a in ins]
        dtypes = [np.dtype(a.dtype).type for a in ins]
        state["op"] = prop.create_operator(cpu(), shapes[:n_arg], dtypes[:n_arg])
        state["n_arg"] = n_arg
    return state["op"]


def _wrap(arrays):
    # imported here: importing mxteach.ndarray at registration time would install mx.nd's
    # functions before this operator is registered
    from ..ndarray.ndarray import NDArray
    return [None if a is None else NDArray(a, cpu()) for a in arrays]


def _forward(p, ins, outs, is_train, state):
    op = _operator(p, state, ins)
    k = state["n_arg"]
    op.forward(is_train=is_train, req=["write"] * len(outs), in_data=_wrap(ins[:k]),
               out_data=_wrap(outs), aux=_wrap(ins[k:]))


def _backward(p, ograds, ins, outs, igrads, reqs, state):
    op = _operator(p, state, ins)
    k = state["n_arg"]
    if ograds is None:       # a loss head: MXNet hands the operator zero head gradients
        ograds = [np.zeros_like(o) for o in outs]
    grads = [g if g is not None else np.zeros_like(ins[i]) for i, g in enumerate(igrads)]
    op.backward(req=list(reqs), out_grad=_wrap(ograds), in_data=_wrap(ins[:k]),
                out_data=_wrap(outs), in_grad=_wrap(grads), aux=_wrap(ins[k:]))


# -- GPU: the same Python code on host copies --------------------------------------------------
def _host(arrays):
    return [None if a is None else a.copy_to_host() for a in arrays]


def _gpu_forward(p, ins, outs, is_train, state):
    h_ins, h_outs = _host(ins), _host(outs)
    _forward(p, h_ins, h_outs, is_train, state)
    for dev, host in zip(outs, h_outs):
        dev.copy_to_device(np.ascontiguousarray(host))
    # aux states may be updated in place by the operator
    for dev, host in zip(ins[state["n_arg"]:], h_ins[state["n_arg"]:]):
        dev.copy_to_device(np.ascontiguousarray(host))


def _gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    h_grads = _host(igrads)
    _backward(p, None if ograds is None else _host(ograds), _host(ins), _host(outs), h_grads,
              reqs, state)
    for dev, host in zip(igrads, h_grads):
        if dev is not None:
            dev.copy_to_device(np.ascontiguousarray(host))


_BASE = register(Op(
    name="Custom",
    params=_AnyParams({"op_type": Param("str", doc="the name given to mx.operator.register")}),
    arguments=lambda p: prop_of(p).list_arguments(),
    aux=lambda p: prop_of(p).list_auxiliary_states(),
    outputs=lambda p: prop_of(p).list_outputs(),
    infer_shape=_shape, infer_type=_types, forward=_forward, backward=_backward,
    gpu_forward=_gpu_forward, gpu_backward=_gpu_backward,
    doc="A Python operator registered with mx.operator.register (op_type=its name); "
        "mxteach/operator.py has CustomOp and CustomOpProp. See notebook 11."))

_LOSS_COPIES = {}


def specialise(p):
    """The ``Op`` a node of parameters ``p`` runs: the registered one, or a copy marked as a
    loss head when the property's ``need_top_grad()`` is False."""
    prop = prop_of(p)
    if prop.need_top_grad():
        return _BASE
    op = _LOSS_COPIES.get(p["op_type"])
    if op is None:
        op = dataclasses.replace(_BASE, loss=True)
        _LOSS_COPIES[p["op_type"]] = op
    return op


_BASE.extra["specialise"] = specialise
