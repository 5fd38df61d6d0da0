"""CUDA twins of ``kernels/cpu/optimizer_lamb.py`` (LAMB's two phases, AdamW), same names and
signatures on flat numba device arrays.

Launch strategy: every rule is elementwise, one grid-stride thread per element. Phase 2 reads
its two norms (or, for the aggregated LAMB, the sums of squares ``kernels/cuda/
optimizer_multi.py`` ``sum_sq_into`` left on the device) inside the kernel, so the step never
waits for the host. Scalars come cast by the operator, as on the CPU.
"""
from __future__ import annotations

import math

from numba import cuda

from .launch import grid_1d, check_device_arrays
# the clip of the single-weight update kernels (for a bound >= 0 the order of its two tests
# does not matter)
from .optim import _clipped

__all__ = ["lamb_phase1", "lamb_phase2", "adamw_rule"]

_V = "{t}[::1]"
# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: float32 or float64)
PTX_SIGNATURES = {
    "_lamb_phase1_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_V}, {{t}}, {{t}}, boolean, {{t}}, {{t}}, "
                            "{t}, {t}, {t}, {t}, float64, {t}, boolean"],
    "_lamb_phase2_kernel": [f"{_V}, {_V}, {_V}, {_V}, {_V}, {{t}}, {{t}}, {{t}}, {{t}}, boolean"],
    "_adamw_kernel": [f"{_V}, {_V}, {_V}, {_V}, {{t}}, {{t}}, boolean, {{t}}, {{t}}, {{t}}, "
                      "{t}, {t}, {t}, {t}, {t}, boolean, boolean"],
}


@cuda.jit
def _lamb_phase1_kernel(out, mean, var, w, g, rescale, bound, use_clip, beta1, beta2, keep1,
                        keep2, wd, epsilon, c1, c2, bias_correction):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(g[i] * rescale, bound, use_clip)
        m = beta1 * mean[i] + keep1 * gr
        v = beta2 * var[i] + keep2 * gr * gr
        mean[i] = m
        var[i] = v
        if bias_correction:
            out[i] = m / c1                     # rounded to out's dtype, as on the CPU
            out[i] = out[i] / (math.sqrt(v / c2) + epsilon) + wd * w[i]
        else:
            out[i] = m / (math.sqrt(v) + epsilon) + wd * w[i]


def lamb_phase1(out, mean, var, w, g, rescale, bound, use_clip, beta1, beta2, keep1, keep2, wd,
                epsilon, c1, c2, bias_correction):
    """LAMB's direction into ``out``, the moments in place (see the CPU kernel)."""
    check_device_arrays("lamb_phase1", out=out, mean=mean, var=var, w=w, g=g)
    blocks, threads = grid_1d(w.size)
    _lamb_phase1_kernel[blocks, threads](out, mean, var, w, g, rescale, bound, use_clip, beta1,
                                         beta2, keep1, keep2, wd, epsilon, float(c1), c2,
                                         bias_correction)


@cuda.jit
def _lamb_phase2_kernel(out, w, g, r1, r2, lr, lower_bound, upper_bound, zero, from_sums):
    a, b = r1[0], r2[0]
    if from_sums:
        a, b = math.sqrt(a), math.sqrt(b)
    if lower_bound >= zero and a < lower_bound:
        a = lower_bound
    if upper_bound >= zero and a > upper_bound:
        a = upper_bound
    step = lr
    if not (a == zero or b == zero):
        if from_sums:
            step = lr * (a / b)
        else:
            step = lr * a / b
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        out[i] = w[i] - step * g[i]


def lamb_phase2(out, w, g, r1, r2, lr, lower_bound, upper_bound, zero, from_sums):
    """LAMB's step ``out = w - lr * trust_ratio * g`` (see the CPU kernel); ``r1``, ``r2`` are
    1-element device arrays (each thread reads them)."""
    check_device_arrays("lamb_phase2", out=out, w=w, g=g, r1=r1, r2=r2)
    blocks, threads = grid_1d(w.size)
    _lamb_phase2_kernel[blocks, threads](out, w, g, r1, r2, lr, lower_bound, upper_bound, zero,
                                         from_sums)


@cuda.jit
def _adamw_kernel(w, g, mean, var, rescale, bound, use_clip, beta1, beta2, keep1, keep2, eta,
                  lr, wd, epsilon, interpolate, write_grad):
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        gr = _clipped(rescale * g[i], bound, use_clip)
        if write_grad:
            g[i] = gr
        sq = gr * gr
        if interpolate:
            m = beta1 * (mean[i] - gr) + gr
            v = beta2 * (var[i] - sq) + sq
        else:
            m = beta1 * mean[i] + keep1 * gr
            v = beta2 * var[i] + keep2 * sq
        mean[i] = m
        var[i] = v
        w[i] = w[i] - eta * (lr * m / (math.sqrt(v) + epsilon) + wd * w[i])


def adamw_rule(w, g, mean, var, rescale, bound, use_clip, beta1, beta2, keep1, keep2, eta, lr,
               wd, epsilon, interpolate, write_grad):
    """AdamW in place on device arrays (see the CPU kernel)."""
    check_device_arrays("adamw_rule", w=w, g=g, mean=mean, var=var)
    blocks, threads = grid_1d(w.size)
    _adamw_kernel[blocks, threads](w, g, mean, var, rescale, bound, use_clip, beta1, beta2,
                                   keep1, keep2, eta, lr, wd, epsilon, interpolate, write_grad)
