"""Operators that create arrays from nothing: _zeros, _ones, _full (``mx.sym.zeros`` ...).

A 0 in ``shape`` means "unknown": the dimension is inferred from the operator that consumes
the result (``x + mx.sym.zeros((0, 4))`` takes x's batch size), as MXNet does. Kernels: numpy
``fill`` on the CPU, ``kernels/cuda/elemwise.py:fill`` on the GPU (no kernel files of their
own). They have no inputs, so no backward."""
from __future__ import annotations

from .registry import Op, Param, register
from ..base import ShapeError


def _shape_rule(p, in_shapes):
    shape = tuple(p["shape"])
    return [], [shape if shape and all(d > 0 for d in shape) else None]


def _check_partial(p, out):
    want = tuple(p["shape"])
    if len(want) != len(out) or any(w not in (0, o) for w, o in zip(want, out)):
        raise ShapeError(f"shape {want} does not fit the inferred shape {out}")


def _types(p, in_types):
    return [], [p["dtype"]]


def _filler(value_of):
    def forward(p, ins, outs, is_train, state):
        _check_partial(p, outs[0].shape)
        outs[0][...] = value_of(p)
    return forward


def _gpu_filler(value_of):
    def forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import elemwise
        _check_partial(p, outs[0].shape)
        elemwise.fill(outs[0], value_of(p))
    return forward


def _params(**extra):
    base = {"shape": Param("shape", ()), "ctx": Param("str", ""),
            "dtype": Param("dtype", "float32")}
    base.update(extra)
    return base


for _name, _value, _extra in (("_zeros", lambda p: 0, {}), ("_ones", lambda p: 1, {}),
                              ("_full", lambda p: p["value"], {"value": Param("float")})):
    register(Op(name=_name, params=_params(**_extra), arguments=(), infer_shape=_shape_rule,
                infer_type=_types, forward=_filler(_value), backward=None,
                gpu_forward=_gpu_filler(_value),
                backward_uses=(), doc=f"An array filled by {_name}. See notebook 01."))
