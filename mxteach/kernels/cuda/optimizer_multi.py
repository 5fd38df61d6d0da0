"""CUDA twins of ``kernels/cpu/optimizer_multi.py`` (the aggregated SGD rule, ``multi_sum_sq``,
``multi_lars``, group AdaGrad), same names and signatures on numba device arrays.

Launch strategy: the SGD rule and LARS are elementwise, one grid-stride thread per element.
A sum of squares is one block per array: each thread sums a strided share in float32, then the
block tree-sums the partial sums in shared memory (a different summation order from the CPU's
index-order loop, so the last bits may differ, as MXNet's GPU and CPU sums do). Group AdaGrad
is one thread per row (a row's history entry depends on the whole row). Scalars come cast to
the arrays' dtype from the operator, as on the CPU.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

from . import elemwise
from .launch import grid_1d, check_device_arrays
from .loss import _block_sum     # the shared-memory tree sum of the softmax kernels
# the clip of the single-weight update kernels (for a bound >= 0 the order of its two tests
# does not matter)
from .optim import _clipped

__all__ = ["sgd_rule", "sum_sq_into", "lars", "group_adagrad", "dev_flat", "dev_zeros"]

_V = "{t}[::1]"
_SUM_THREADS = 256            # threads of the one block that sums an array (a power of two)
# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: float32 or float64)
PTX_SIGNATURES = {
    "_sgd_kernel": [f"{_V}, {_V}, {_V}, {{t}}, {{t}}, {{t}}, {{t}}, boolean, {{t}}"],
    "_sum_sq_kernel": [f"{_V}, float32[::1], int64"],
    "_lars_kernel": ["float32[::1], float32[::1], float32[::1], float32[::1], float32[::1], "
                     "float32, float32, float32"],
    "_group_adagrad_kernel": [f"{_V}, {_V}, {_V}, int64, {{t}}, {{t}}, {{t}}, boolean, {{t}}, "
                              "{t}"],
}


@cuda.jit
def _sgd_kernel(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    lrwd = lr * wd
    lrrs = lr * rescale
    for i in range(cuda.grid(1), w.shape[0], cuda.gridsize(1)):
        if use_clip:
            step = momentum * mom[i] - lrwd * w[i] - lr * _clipped(rescale * g[i], bound, True)
        else:
            step = momentum * mom[i] - lrwd * w[i] - lrrs * g[i]
        mom[i] = step
        w[i] = w[i] + step


def sgd_rule(w, g, mom, lr, wd, rescale, bound, use_clip, momentum):
    """The aggregated SGD rule on flat device arrays (``mom`` zeroed when there is none)."""
    check_device_arrays("sgd_rule", w=w, g=g, mom=mom)
    blocks, threads = grid_1d(w.size)
    _sgd_kernel[blocks, threads](w, g, mom, lr, wd, rescale, bound, use_clip, momentum)


@cuda.jit
def _sum_sq_kernel(a, out, k):
    buf = cuda.shared.array(_SUM_THREADS, float32)
    tid = cuda.threadIdx.x
    s = float32(0)
    for j in range(tid, a.shape[0], cuda.blockDim.x):
        s += float32(a[j] * a[j])
    total = _block_sum(buf, s)
    if tid == 0:
        out[k] = total


def sum_sq_into(a, out, k):
    """``out[k] = sum(a * a)`` in float32 for flat device array ``a`` (device ``out``)."""
    check_device_arrays("sum_sq_into", a=a, out=out)
    _sum_sq_kernel[1, _SUM_THREADS](a, out, k)


@cuda.jit
def _lars_kernel(out, lrs, w_sum_sq, g_sum_sq, wds, eta, eps, rescale):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        w_norm = math.sqrt(w_sum_sq[i])
        if w_norm > 0 and g_sum_sq[i] > 0:
            g_norm = math.sqrt(g_sum_sq[i])
            out[i] = lrs[i] * eta * w_norm / (g_norm * rescale + wds[i] * w_norm + eps)
        else:
            out[i] = lrs[i]


def lars(out, lrs, w_sum_sq, g_sum_sq, wds, eta, eps, rescale):
    """LARS learning rates on flat float32 device arrays."""
    check_device_arrays("lars", out=out, lrs=lrs, w_sum_sq=w_sum_sq, g_sum_sq=g_sum_sq, wds=wds)
    blocks, threads = grid_1d(out.size)
    _lars_kernel[blocks, threads](out, lrs, w_sum_sq, g_sum_sq, wds, eta, eps, rescale)


@cuda.jit
def _group_adagrad_kernel(w, g, history, cols, lr, rescale, bound, use_clip, eps, ncols):
    for r in range(cuda.grid(1), history.shape[0], cuda.gridsize(1)):
        ssq = ncols - ncols
        for j in range(cols):
            gr = _clipped(g[r * cols + j] * rescale, bound, use_clip)
            ssq += gr * gr
        history[r] += ssq / ncols
        for j in range(cols):
            gr = _clipped(g[r * cols + j] * rescale, bound, use_clip)
            w[r * cols + j] = w[r * cols + j] - lr * gr / math.sqrt(history[r] + eps)


def group_adagrad(w, g, history, cols, lr, rescale, bound, use_clip, eps, ncols):
    """Group AdaGrad on flat device arrays, one thread per row."""
    check_device_arrays("group_adagrad", w=w, g=g, history=history)
    blocks, threads = grid_1d(history.size)
    _group_adagrad_kernel[blocks, threads](w, g, history, cols, lr, rescale, bound, use_clip,
                                           eps, ncols)


# -- host helpers of the optimizer operators (ops/optimizer_multi.py, ops/optimizer_lamb.py) ---
def dev_flat(a, dtype):
    """A flat ``dtype`` device array of device array ``a`` and the function that writes it
    back: ``a`` itself when it already is contiguous ``dtype``, else a converted copy."""
    if a.dtype == dtype and a.is_c_contiguous():
        return a.reshape(a.size), lambda: None
    tmp = cuda.device_array(a.size, dtype=dtype)
    elemwise.copy(a, tmp)
    return tmp, lambda: elemwise.copy(tmp, a)


def dev_zeros(n, dtype):
    """A zeroed flat device array (the momentum of the rules without one)."""
    return cuda.to_device(np.zeros(n, dtype=dtype))
