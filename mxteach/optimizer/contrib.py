"""``mx.optimizer.contrib``: GroupAdaGrad, as in MXNet 1.9.1.

AdaGrad with one accumulated squared gradient per *row* of a 2-D weight (an embedding table's
row, say) instead of one per element: the history is ``(rows, 1)``. With a row_sparse gradient
it is one call of the operator ``mx.nd.contrib.group_adagrad_update`` (``ops/optimizer_multi.py``)
on the rows present; with a dense gradient it is the same rule written with NDArray operators,
as MXNet's class does.
"""
from __future__ import annotations

from .. import ndarray as nd
from ..ndarray.ndarray import zeros
from .base import Optimizer, OptimizerError, register

__all__ = ["GroupAdaGrad"]


@register
class GroupAdaGrad(Optimizer):
    """AdaGrad with a single learning-rate scale per row of a 2-D weight::

        g = clip(rescale_grad * grad, clip_gradient)
        history += mean(g * g, axis=1, keepdims=True)
        weight -= lr * g / sqrt(history + eps)

    Parameters
    ----------
    eps : float, default 1e-5
        Added to the history under the square root.
    **kwargs
        Passed to :class:`~mxteach.optimizer.Optimizer`; weight decay must stay 0.

    See notebook 05.
    """

    def __init__(self, eps=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        if len(weight.shape) != 2:
            raise OptimizerError(f"GroupAdaGrad needs 2-D weights (one history entry per row); "
                                 f"weight {index} has shape {weight.shape}")
        return zeros((weight.shape[0], 1), weight.context, dtype=weight.dtype)

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        if wd != 0:
            raise OptimizerError(f"GroupAdaGrad does not support weight decay; weight {index} "
                                 f"has wd={wd}")
        if getattr(grad, "stype", "default") == "row_sparse":
            kwargs = {"epsilon": self.float_stable_eps, "rescale_grad": self.rescale_grad}
            if self.clip_gradient:
                kwargs["clip_gradient"] = self.clip_gradient
            # a row absent from the gradient has a zero gradient, which moves neither its
            # weights nor its history (for eps > 0): the dense update is MXNet's lazy one
            nd.contrib.group_adagrad_update(weight, grad.tostype("default"), state, out=weight,
                                            lr=lr, **kwargs)
            return
        grad = grad * self.rescale_grad
        if self.clip_gradient is not None:
            grad = nd.clip(grad, -self.clip_gradient, self.clip_gradient)
        state[:] += nd.mean(nd.square(grad), axis=1, keepdims=True)
        weight[:] -= lr * grad / nd.sqrt(state + self.float_stable_eps)
