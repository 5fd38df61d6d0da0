"""The optimizer functions of ``mx.nd.contrib`` that wrap operators: ``adamw_update``,
``mp_adamw_update``, ``multi_adamw_update``, ``multi_mp_adamw_update``, ``multi_lamb_update``
and ``multi_mp_lamb_update``.

In MXNet 1.9.1 these are Python functions too: the AdamW forms turn a float ``rescale_grad``
into a (1,) NDArray on the weight's device (so a loss scaler can hand over an NDArray that may
be 0, inf or NaN to skip the step) and call the internal operators ``_adamw_update`` ...
(``ops/optimizer_lamb.py``); the aggregated forms take lists and interleave them into the
operators' ``weight_0, grad_0, mean_0, var_0, ...`` inputs. ``mx.nd`` attaches them to its
``contrib`` namespace. See notebook 05.
"""
from __future__ import annotations

from .invoke import invoke
from .ndarray import NDArray, full
from ..ops import registry

__all__ = ["adamw_update", "mp_adamw_update", "multi_adamw_update", "multi_mp_adamw_update",
           "multi_lamb_update", "multi_mp_lamb_update"]


def _run(opname, inputs, out=None, name=None, **params):
    """Operator ``opname`` on the NDArrays ``inputs`` (what ``mx.nd.<opname>`` does, without
    importing the ``mx.nd`` namespace, which imports this module)."""
    return invoke(registry.get(opname), list(inputs), params, out=out, name=name)


def _scale(rescale_grad, ctx):
    """``rescale_grad`` as a (1,) NDArray on ``ctx``."""
    if isinstance(rescale_grad, NDArray):
        return rescale_grad.as_in_context(ctx)
    return full((1,), rescale_grad, ctx)


def _interleave(*lists):
    """[w0, g0, m0, v0, w1, g1, ...] from per-role lists of one length."""
    sizes = {len(x) for x in lists}
    if len(sizes) != 1:
        from ..base import MXNetError
        raise MXNetError(f"the lists of weights, gradients and states differ in length: "
                         f"{[len(x) for x in lists]}")
    return [a for group in zip(*lists) for a in group]


def adamw_update(weight, grad, mean, var, rescale_grad, lr, eta, beta1=0.9, beta2=0.999,
                 epsilon=1e-8, wd=0, clip_gradient=-1, out=None, name=None, **kwargs):
    """One AdamW step (``_adamw_update``); ``mean``, ``var`` are updated in place and the
    gradient is rescaled and clipped in place, as in MXNet. See notebook 05."""
    return _run("_adamw_update", [weight, grad, mean, var, _scale(rescale_grad, weight.context)],
                lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon, wd=wd,
                clip_gradient=clip_gradient, out=out, name=name, **kwargs)


def mp_adamw_update(weight, grad, mean, var, weight32, rescale_grad, lr, eta, beta1=0.9,
                    beta2=0.999, epsilon=1e-8, wd=0, clip_gradient=-1, out=None, name=None,
                    **kwargs):
    """AdamW on the float32 master copy ``weight32`` (``_mp_adamw_update``). See notebook
    05."""
    return _run("_mp_adamw_update", [weight, grad, mean, var, weight32,
                                     _scale(rescale_grad, weight.context)],
                lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon, wd=wd,
                clip_gradient=clip_gradient, out=out, name=name, **kwargs)


def multi_adamw_update(weights, grads, mean, var, rescale_grad, lrs, wds, etas, out=None,
                       name=None, size=0, **kwargs):
    """AdamW on lists of weights in one call (``_multi_adamw_update``). See notebook 05."""
    inputs = _interleave(weights, grads, mean, var)
    return _run("_multi_adamw_update", inputs + [_scale(rescale_grad, weights[0].context)],
                num_weights=size or len(weights), lrs=lrs, wds=wds, etas=etas, out=out,
                name=name, **kwargs)


def multi_mp_adamw_update(weights, grads, mean, var, weights32, rescale_grad, lrs, wds, etas,
                          out=None, name=None, size=0, **kwargs):
    """Mixed-precision AdamW on lists of weights (``_multi_mp_adamw_update``). See notebook
    05."""
    inputs = _interleave(weights, grads, mean, var, weights32)
    return _run("_multi_mp_adamw_update", inputs + [_scale(rescale_grad, weights[0].context)],
                num_weights=size or len(weights), lrs=lrs, wds=wds, etas=etas, out=out,
                name=name, **kwargs)


def multi_lamb_update(weights, grads, mean, var, step_count, lrs, wds, out=None, num_tensors=0,
                      **kwargs):
    """LAMB on lists of weights in one call (``_multi_lamb_update``); ``step_count`` holds
    each weight's update count. See notebook 05."""
    return _run("_multi_lamb_update", _interleave(weights, grads, mean, var), out=out,
                num_tensors=num_tensors or len(weights), step_count=step_count,
                learning_rates=lrs, wds=wds, **kwargs)


def multi_mp_lamb_update(weights, grads, mean, var, weights32, step_count, lrs, wds, out=None,
                         num_tensors=0, **kwargs):
    """Mixed-precision LAMB on lists of weights (``_multi_mp_lamb_update``). See notebook 05."""
    return _run("_multi_mp_lamb_update", _interleave(weights, grads, mean, var, weights32),
                out=out, num_tensors=num_tensors or len(weights), step_count=step_count,
                learning_rates=lrs, wds=wds, **kwargs)
