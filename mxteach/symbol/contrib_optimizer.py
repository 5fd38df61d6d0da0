"""``mx.sym.contrib.adamw_update`` and ``mp_adamw_update``: as in MXNet 1.9.1, Python functions
that turn a float ``rescale_grad`` into a ``(1,)`` symbol (``full``) and apply the internal
operators ``_adamw_update`` / ``_mp_adamw_update`` (``ops/optimizer_lamb.py``), whose
``rescale_grad`` is an input so a graph can skip the step when it is 0, inf or NaN. ``mx.sym``
attaches them to its ``contrib`` namespace. See notebook 05.
"""
from __future__ import annotations

from .frontend import call
from .symbol import Symbol

__all__ = ["adamw_update", "mp_adamw_update"]


def _scale(rescale_grad):
    if isinstance(rescale_grad, Symbol):
        return rescale_grad
    return call("_full", [], {"shape": (1,), "value": float(rescale_grad), "dtype": "float32"})


def adamw_update(weight, grad, mean, var, rescale_grad, lr, eta, beta1=0.9, beta2=0.999,
                 epsilon=1e-8, wd=0, clip_gradient=-1, name=None, **kwargs):
    """The AdamW step as a graph node (``_adamw_update``). See notebook 05."""
    return call("_adamw_update", [weight, grad, mean, var, _scale(rescale_grad)],
                dict(kwargs, lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon, wd=wd,
                     clip_gradient=clip_gradient, name=name))


def mp_adamw_update(weight, grad, mean, var, weight32, rescale_grad, lr, eta, beta1=0.9,
                    beta2=0.999, epsilon=1e-8, wd=0, clip_gradient=-1, name=None, **kwargs):
    """The mixed-precision AdamW step as a graph node (``_mp_adamw_update``). See notebook
    05."""
    return call("_mp_adamw_update", [weight, grad, mean, var, weight32, _scale(rescale_grad)],
                dict(kwargs, lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon, wd=wd,
                     clip_gradient=clip_gradient, name=name))
