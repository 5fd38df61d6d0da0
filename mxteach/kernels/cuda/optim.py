"""CUDA twin of ``optimizer.sgd.sgd_step``: SGD with optional momentum, weight decay,
``rescale_grad`` and ``clip_gradient``, in place on device arrays, with the same signature and
the same order of operations (the numpy function is the tests' reference)::

    gr   = clip(rescale_grad * g, clip_gradient)
    step = momentum * mom - lr * wd * w - lr * gr
    mom  = step              (only with a momentum buffer)
    w    = w + step

The hyper-parameters are cast to the weight's dtype before the launch, so the arithmetic runs in
float32 for float32 weights, as numpy's does.

``optimizer/sgd.py`` runs this function through the gpu backend where the CPU runs
``sgd_step`` (the backend finds the kernel by that name in this file).
"""
from __future__ import annotations

from numba import cuda

from ...base import MXNetError
from .launch import grid_1d, check_device_arrays

__all__ = ["sgd_step"]


@cuda.jit(device=True)
def _clipped(gr, bound, use_clip):
    if use_clip:
        if gr > bound:
            return bound
        if gr < -bound:
            return -bound
    return gr


@cuda.jit
def _sgd_kernel(w, g, lr, wd, rescale, bound, use_clip):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(rescale * g[i], bound, use_clip)
        w[i] += -(lr * wd) * w[i] - lr * gr


@cuda.jit
def _sgd_momentum_kernel(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(rescale * g[i], bound, use_clip)
        step = momentum * mom[i] - (lr * wd) * w[i] - lr * gr
        mom[i] = step
        w[i] += step


def sgd_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """SGD update of device array ``w`` in place (and ``mom``, unless it is None)."""
    check_device_arrays("sgd_step", w=w, g=g, mom=mom)
    for name, a in (("gradient", g), ("momentum", mom)):
        if a is not None and (tuple(a.shape) != tuple(w.shape) or a.dtype != w.dtype):
            raise MXNetError(f"sgd_step: the {name} is {a.dtype}{tuple(a.shape)}, the weight "
                             f"{w.dtype}{tuple(w.shape)}; they must match")
    t = w.dtype.type
    # clip only for a truthy, non-negative bound: the rule of optimizer._clip_on
    use_clip = bool(clip_gradient) and clip_gradient >= 0
    bound = t(clip_gradient if use_clip else 0)
    flat = [None if a is None else a.reshape(a.size) for a in (w, g, mom)]
    blocks, threads = grid_1d(w.size)
    if mom is None:
        _sgd_kernel[blocks, threads](flat[0], flat[1], t(lr), t(wd), t(rescale_grad), bound,
                                     use_clip)
    else:
        _sgd_momentum_kernel[blocks, threads](flat[0], flat[1], flat[2], t(lr), t(wd),
                                              t(rescale_grad), bound, use_clip, t(momentum))

