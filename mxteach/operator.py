"""``mx.operator``: write a layer in Python.

Subclass :class:`CustomOpProp` to describe the layer (its inputs, outputs, shapes and dtypes),
subclass :class:`CustomOp` for the computation (``forward``/``backward`` on NDArrays, results
stored with ``self.assign``), decorate the property with ``register("name")`` and use it as
``mx.sym.Custom(data, op_type="name")`` or ``mx.nd.Custom(x, op_type="name")``. The node runs
like a built-in operator (``mxteach/ops/custom.py``): it shows in graph views, the memory plan
and Monitor, and on a GPU it runs on host copies of its arrays. See notebook 11.
"""
from __future__ import annotations

from .base import MXNetError
from .ops.custom import PROPS

__all__ = ["CustomOp", "CustomOpProp", "register", "get_all_registered_operators"]


class CustomOp:
    """The computation of a custom layer; override :meth:`forward` and :meth:`backward`.
    See notebook 11."""

    def forward(self, is_train, req, in_data, out_data, aux):
        """Fill ``out_data`` (NDArrays) from ``in_data``; use ``self.assign`` with ``req``."""
        raise NotImplementedError("CustomOp.forward must be overridden")

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        """Fill ``in_grad`` from ``out_grad``; use ``self.assign`` with ``req``."""
        raise NotImplementedError("CustomOp.backward must be overridden")

    def assign(self, dst, req, src):
        """Store ``src`` into ``dst`` as ``req`` says: 'write'/'inplace' copy, 'add' adds,
        'null' does nothing."""
        if req == "null":
            return
        if req in ("write", "inplace"):
            dst[:] = src
        elif req == "add":
            dst[:] = dst + src
        else:
            raise MXNetError(f"CustomOp.assign: req must be 'write', 'inplace', 'add' or "
                             f"'null', got {req!r}")


class CustomOpProp:
    """The description of a custom layer; the defaults are MXNet's: one input ``data``, one
    output ``output`` shaped like it, no aux states, every dtype equal to the first input's.

    Parameters
    ----------
    need_top_grad : bool
        False for a loss layer: backward then needs no gradient from above.

    See notebook 11.
    """

    def __init__(self, need_top_grad=True):
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape):
        """(argument shapes, output shapes, aux shapes) from the argument shapes."""
        return in_shape, (in_shape[0],) * len(self.list_outputs()), ()

    def infer_type(self, in_type):
        """(argument dtypes, output dtypes, aux dtypes) from the argument dtypes."""
        t = in_type[0]
        return ([t] * len(in_type), [t] * len(self.list_outputs()),
                [t] * len(self.list_auxiliary_states()))

    def infer_storage_type(self, in_stype):
        """Storage types: mxteach stores every array dense."""
        return (["default"] * len(in_stype), ["default"] * len(self.list_outputs()),
                ["default"] * len(self.list_auxiliary_states()))

    def list_arguments(self):
        return ["data"]

    def list_outputs(self):
        return ["output"]

    def list_auxiliary_states(self):
        return []

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        """The arrays backward reads (MXNet frees the others early); mxteach keeps all."""
        deps = []
        if self.need_top_grad():
            deps.extend(out_grad)
        deps.extend(in_data)
        deps.extend(out_data)
        return deps

    def need_top_grad(self):
        return self.need_top_grad_

    def create_operator(self, ctx, in_shapes, in_dtypes):
        """The :class:`CustomOp` that computes this layer."""
        raise NotImplementedError("CustomOpProp.create_operator must be overridden")


def register(reg_name):
    """Decorator: register a :class:`CustomOpProp` subclass as ``op_type=reg_name``.
    See notebook 11."""
    def decorate(prop_cls):
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise MXNetError(f"mx.operator.register('{reg_name}'): expected a CustomOpProp "
                             f"subclass, got {prop_cls!r}")
        PROPS.register(prop_cls, reg_name)
        return prop_cls
    return decorate


def get_all_registered_operators():
    """The names of every registered custom operator."""
    return sorted(PROPS.as_dict())

