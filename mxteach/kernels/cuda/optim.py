"""CUDA twins of the SGD family's update rules (``optimizer/steps.py``; the adaptive rules are in
``kernels/cuda/optim_adaptive.py``): each host function here
has the name and signature of its numpy twin, takes numba device arrays (the weight, its
gradient and its states) and scalars, and updates the arrays in place on the device.

Launch strategy: every rule is elementwise, so each is one grid-stride kernel over the
flattened arrays (``launch.grid_1d`` sizes the grid from the element count), one thread per
element with its states in registers. LAMB also needs two norms: its first kernel writes the
direction ``u`` and adds per-thread partial sums of ``w**2`` and ``u**2`` into a two-element
float32 array with atomics; the host reads those two numbers, computes the trust ratio with the
CPU's own function, and a second kernel applies the step.

The scalars are cast to the weight's dtype on the host, and every constant such as
``1 - beta1`` is computed there exactly as the numpy rule computes it, so float32 weights are
updated in float32 arithmetic as on the CPU. A state kept in float32 for float64 weights
(AdaGrad, RMSProp, AdaDelta, Ftrl) is re-read after it is stored, as numpy re-reads its array.
The tests compare every function here with its numpy twin under ``NUMBA_ENABLE_CUDASIM=1``.
"""
from __future__ import annotations

from numba import cuda

from ...base import MXNetError
from .launch import grid_1d, check_device_arrays

__all__ = ["sgd_step", "nag_step", "signum_step", "sgld_step", "dcasgd_step", "test_step"]

# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: the weight's dtype,
# float32 or float64; every scalar is cast to it on the host, the clip switches are booleans)
_V = "{t}[::1]"
PTX_SIGNATURES = {
    "_sgd_kernel": [f"{_V}, {_V}, {{t}}, {{t}}, {{t}}, {{t}}, boolean"],
    "_sgd_momentum_kernel": [f"{_V}, {_V}, {_V}, {{t}}, {{t}}, {{t}}, {{t}}, boolean, {{t}}"],
    "_nag_kernel": [f"{_V}, {_V}, {_V}, {{t}}, {{t}}, {{t}}, {{t}}, boolean, {{t}}, {{t}}"],
    "_signsgd_kernel": [f"{_V}, {_V}, {{t}}, {{t}}"],
    "_signum_kernel": [f"{_V}, {_V}, {_V}, {{t}}, {{t}}, {{t}}, boolean, {{t}}, {{t}}, {{t}}, "
                       "{t}"],
    "_sgld_kernel": [f"{_V}, {_V}, {_V}, {{t}}, {{t}}, {{t}}, {{t}}, boolean"],
    "_dcasgd_kernel": [f"{_V}, {_V}, {_V}, {_V}, boolean, {{t}}, {{t}}, {{t}}, {{t}}, boolean, "
                       "{t}, {t}"],
    "_test_kernel": [f"{_V}, {_V}, {_V}, {{t}}"],
}


# -- host helpers ----------------------------------------------------------------------------
def _clip_on(bound):          # twin of optimizer/steps.py:clip_on (kernels may not import it)
    return bool(bound) and bound >= 0


def _clip_set(bound):         # twin of optimizer/steps.py:clip_set (kernels may not import it)
    return bound is not None


def _flat(rule, w, **arrays):
    """Check that every array lives on the device and has the weight's shape; return the
    weight and the arrays flattened (the kernels index them 1-D)."""
    check_device_arrays(rule, w=w, **arrays)
    for name, a in arrays.items():
        if a is not None and tuple(a.shape) != tuple(w.shape):
            name = "gradient" if name == "g" else name      # the rules' short name for it
            raise MXNetError(f"{rule}: the {name} has shape {tuple(a.shape)}, the weight "
                             f"{tuple(w.shape)}; they must match")
    g = arrays.get("g")
    if g is not None and g.dtype != w.dtype:
        raise MXNetError(f"{rule}: the gradient is {g.dtype}, the weight {w.dtype}; they must "
                         "match")
    flat = [w.reshape(w.size)] + [None if a is None else a.reshape(a.size)
                                  for a in arrays.values()]
    return grid_1d(w.size), flat


def _clip_args(t, bound, use):
    return t(bound if use else 0), bool(use)


# -- device helpers --------------------------------------------------------------------------
@cuda.jit(device=True)
def _clipped(x, bound, use_clip):
    """np.clip(x, -bound, bound): the maximum first, then the minimum."""
    if use_clip:
        if x < -bound:
            x = -bound
        if x > bound:
            x = bound
    return x


# -- the SGD family --------------------------------------------------------------------------
@cuda.jit
def _sgd_kernel(w, g, lr, wd, rescale, bound, use_clip):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        w[i] += -(lr * wd) * w[i] - lr * gr


@cuda.jit
def _sgd_momentum_kernel(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        step = momentum * mom[i] - (lr * wd) * w[i] - lr * gr
        mom[i] = step
        w[i] += step


def sgd_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """SGD update of device array ``w`` in place (and ``mom``, unless it is None)."""
    (blocks, threads), (fw, fg, fm) = _flat("sgd_step", w, g=g, mom=mom)
    t = w.dtype.type
    bound, use = _clip_args(t, clip_gradient, _clip_on(clip_gradient))
    if mom is None:
        _sgd_kernel[blocks, threads](fw, fg, t(lr), t(wd), t(rescale_grad), bound, use)
    else:
        _sgd_momentum_kernel[blocks, threads](fw, fg, fm, t(lr), t(wd), t(rescale_grad), bound,
                                              use, t(momentum))


@cuda.jit
def _nag_kernel(w, g, mom, lr, wd, rescale, bound, use_clip, momentum, one_plus_momentum):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        m = mom[i] * momentum
        w[i] = w[i] - m + one_plus_momentum * (m - lr * (gr + wd * w[i]))
        mom[i] = m - lr * (gr + wd * w[i])


def nag_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum):
    """Nesterov momentum on the device (the momentum's decay term reads the new weight)."""
    (blocks, threads), (fw, fg, fm) = _flat("nag_step", w, g=g, mom=mom)
    t = w.dtype.type
    bound, use = _clip_args(t, clip_gradient, _clip_on(clip_gradient))
    _nag_kernel[blocks, threads](fw, fg, fm, t(lr), t(wd), t(rescale_grad), bound, use,
                                 t(momentum), t(momentum) + t(1))


@cuda.jit
def _signsgd_kernel(w, g, lr, decay):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        x = decay * w[i]
        if g[i] > 0:
            x = x - lr
        elif g[i] < 0:
            x = x + lr
        w[i] = x


@cuda.jit
def _signum_kernel(w, g, mom, lr, rescale, bound, use_clip, momentum, keep_wd, keep, decay):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        mom[i] = momentum * mom[i] - keep_wd * w[i] - keep * gr
        x = decay * w[i]
        if mom[i] > 0:
            x = x + lr
        elif mom[i] < 0:
            x = x - lr
        w[i] = x


def signum_step(w, g, mom, lr, wd, rescale_grad, clip_gradient, momentum, wd_lh):
    """signSGD (``mom`` None) or Signum on the device."""
    (blocks, threads), (fw, fg, fm) = _flat("signum_step", w, g=g, mom=mom)
    t = w.dtype.type
    if mom is None:
        _signsgd_kernel[blocks, threads](fw, fg, t(lr), t(1) - t(lr) * t(wd))
        return
    bound, use = _clip_args(t, clip_gradient, _clip_on(clip_gradient))
    keep = t(1) - t(momentum)
    _signum_kernel[blocks, threads](fw, fg, fm, t(lr), t(rescale_grad), bound, use,
                                    t(momentum), keep * t(wd), keep,
                                    t(1) - t(lr) * t(wd_lh))


@cuda.jit
def _sgld_kernel(w, g, noise, half_lr, wd, rescale, bound, use_clip):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        w[i] = w[i] + half_lr * (gr + wd * w[i])
        w[i] = w[i] + noise[i]


def sgld_step(w, g, noise, lr, wd, rescale_grad, clip_gradient):
    """SGLD on the device; ``noise`` (a device array) was drawn by the optimizer."""
    (blocks, threads), (fw, fg, fn) = _flat("sgld_step", w, g=g, noise=noise)
    t = w.dtype.type
    bound, use = _clip_args(t, clip_gradient, _clip_set(clip_gradient))
    _sgld_kernel[blocks, threads](fw, fg, fn, t(-lr / 2), t(wd), t(rescale_grad), bound, use)


@cuda.jit
def _dcasgd_kernel(w, g, mom, prev, has_mom, neg_lr, wd, rescale, bound, use_clip, momentum,
                   lamda):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        step = neg_lr * (gr + wd * w[i] + lamda * gr * gr * (w[i] - prev[i]))
        if has_mom:
            mom[i] = mom[i] * momentum
            mom[i] = mom[i] + step
            step = mom[i]
        prev[i] = w[i]
        w[i] = w[i] + step


def dcasgd_step(w, g, mom, prev, lr, wd, rescale_grad, clip_gradient, momentum, lamda):
    """Delay-compensated SGD on the device (``mom`` may be None)."""
    (blocks, threads), (fw, fg, fm, fp) = _flat("dcasgd_step", w, g=g, mom=mom, prev=prev)
    t = w.dtype.type
    bound, use = _clip_args(t, clip_gradient, _clip_set(clip_gradient))
    # without momentum the kernel gets the weight in the momentum's place and never reads it
    _dcasgd_kernel[blocks, threads](fw, fg, fw if fm is None else fm, fp, fm is not None,
                                    t(-lr), t(wd), t(rescale_grad), bound, use, t(momentum),
                                    t(lamda))


@cuda.jit
def _test_kernel(w, g, state, rescale):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        w[i] += g[i] * rescale
        state[i] = w[i]


def test_step(w, g, state, rescale_grad):
    """MXNet's test optimizer on the device."""
    (blocks, threads), (fw, fg, fs) = _flat("test_step", w, g=g, state=state)
    _test_kernel[blocks, threads](fw, fg, fs, w.dtype.type(rescale_grad))


test_step.__test__ = False      # not a pytest test, whatever its name
