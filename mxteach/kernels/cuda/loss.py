"""CUDA twins of ``kernels/cpu/loss.py``: same names, same signatures, same numpy references
(``kernels/reference/loss.py``), plus ``valid_count`` / ``count_above`` (the 'valid'
normalizations of SoftmaxOutput and MakeLoss) and ``regression_grad`` (the regression heads).

Arrays are seen as 3-D ``(pre, n, post)`` with the softmax axis in the middle, exactly as on the
CPU. The CPU loops over (i, k) rows; here one *block* takes one row at a time: its threads
stride over the row, and the row's max and sum are block-level tree reductions in shared
memory (``_block_max``, ``_block_sum``: ``log2(blockDim)`` synchronised halvings, as in
``kernels/cuda/reduce.py``). The block is as wide as the row (a power of two, at most 256 on a
GPU). The SoftmaxOutput gradient takes one thread per element (every element is independent).
Sums run in float64, as on the CPU.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64

from ...base import MXNetError
from .launch import grid_1d, row_threads, check_device_arrays
from .elemwise import split3, store
from .reduce import block_size, _MAX_BLOCK

__all__ = ["softmax_forward", "softmax_backward", "softmax_output_grad", "valid_count",
           "count_above", "regression_grad"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_softmax_forward_kernel": ["{t}[:, :, ::1], int64[:, ::1], float64, boolean, {t}[:, :, ::1]"],
    "_softmax_backward_kernel": ["{t}[:, :, ::1], {t}[:, :, ::1], int64[:, ::1], float64, "
                                 "boolean, boolean, {t}[:, :, ::1]"],
    "_softmax_output_grad_kernel": ["{t}[:, :, ::1], {t}[:, ::1], float64, boolean, float64, "
                                    "float64, boolean, boolean, {t}[:, :, ::1]"],
    "_regression_grad_kernel": ["{t}[::1], {t}[::1], boolean, {t}, boolean, {t}[::1]"],
    "_count_above_kernel": ["{t}[::1], {t}, int32[::1]"],
    "_valid_count_kernel": ["{t}[::1], float64, int32[::1]"],
}


@cuda.jit(device=True)
def _block_sum(buf, v):
    """Tree-sum ``v`` over the block's threads through the shared ``buf``; every thread gets
    the total. The block size is a power of two."""
    if cuda.blockDim.x == 1:            # one thread per row (simulator policy): no barrier
        return v
    tid = cuda.threadIdx.x
    buf[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            buf[tid] += buf[tid + s]
        cuda.syncthreads()
        s //= 2
    total = buf[0]
    cuda.syncthreads()                  # everyone has read buf[0] before it is reused
    return total


@cuda.jit(device=True)
def _row(p, post, lengths, n):
    """Row ``p`` of the (pre, post) rows as (i, k) and its length, clipped to [0, n]."""
    i, k = p // post, p % post
    return i, k, min(max(lengths[i, k], 0), n)


@cuda.jit(device=True)
def _block_max(buf, v):
    """Tree-max of ``v`` over the block (as :func:`_block_sum`)."""
    if cuda.blockDim.x == 1:
        return v
    tid = cuda.threadIdx.x
    buf[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s and buf[tid + s] > buf[tid]:
            buf[tid] = buf[tid + s]
        cuda.syncthreads()
        s //= 2
    top = buf[0]
    cuda.syncthreads()
    return top


# twin of kernels/cpu/loss.py:softmax_forward: one block per row (tree max and sum) instead of
# a loop over rows; the per-element formulas are the same
@cuda.jit
def _softmax_forward_kernel(x, lengths, temperature, use_log, out):
    buf = cuda.shared.array(_MAX_BLOCK, float64)
    pre, n, post = x.shape
    tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
    for p in range(cuda.blockIdx.x, pre * post, cuda.gridDim.x):
        i, k, m = _row(p, post, lengths, n)
        top = -math.inf
        for j in range(tid, m, nthreads):
            top = max(top, float64(x[i, j, k]))
        top = _block_max(buf, top)
        part = 0.0
        for j in range(tid, m, nthreads):
            part += math.exp((x[i, j, k] - top) / temperature)
        total = _block_sum(buf, part)
        log_total = math.log(total) if m > 0 else 0.0
        for j in range(tid, n, nthreads):
            if j >= m:
                out[i, j, k] = 0.0
            elif use_log:
                out[i, j, k] = (x[i, j, k] - top) / temperature - log_total
            else:
                out[i, j, k] = math.exp((x[i, j, k] - top) / temperature) / total


# twin of kernels/cpu/loss.py:softmax_backward: one block per row, the row's sum is a tree
@cuda.jit
def _softmax_backward_kernel(out, ograd, lengths, temperature, use_log, accumulate, igrad):
    buf = cuda.shared.array(_MAX_BLOCK, float64)
    pre, n, post = out.shape
    tid, nthreads = cuda.threadIdx.x, cuda.blockDim.x
    for p in range(cuda.blockIdx.x, pre * post, cuda.gridDim.x):
        i, k, m = _row(p, post, lengths, n)
        part = 0.0
        for j in range(tid, m, nthreads):
            part += ograd[i, j, k] if use_log else ograd[i, j, k] * out[i, j, k]
        total = _block_sum(buf, part)
        for j in range(tid, n, nthreads):
            if j >= m:
                v = 0.0
            elif use_log:
                v = (ograd[i, j, k] - math.exp(out[i, j, k]) * total) / temperature
            else:
                v = out[i, j, k] * (ograd[i, j, k] - total) / temperature
            store(igrad, (i, j, k), v, accumulate)


# twin of kernels/cpu/loss.py:softmax_output_grad: one thread per element instead of the loops;
# the target and gradient formula are the same lines (a device function would need a CPU twin)
@cuda.jit
def _softmax_output_grad_kernel(out, label, ignore_label, use_ignore, smooth_alpha, scale,
                                times_out, accumulate, grad):
    n, classes, d = out.shape
    ignore = int(ignore_label)
    off = smooth_alpha / (classes - 1) if classes > 1 else 0.0
    for e in range(cuda.grid(1), n * classes * d, cuda.gridsize(1)):
        i, c, s = split3(e, classes, d)
        lab = int(label[i, s])
        if use_ignore and lab == ignore:
            v = 0.0
        else:
            if smooth_alpha != 0.0:
                target = 1.0 - smooth_alpha if c == lab else off
            else:
                target = 1.0 if c == lab else 0.0
            v = (out[i, c, s] - target) * scale
            if times_out:
                v *= out[i, c, s]
        store(grad, (i, c, s), v, accumulate)


# twin of ops/loss.py:_reg_backward (numpy there): the regression heads' gradient
@cuda.jit
def _regression_grad_kernel(out, label, mae, scale, accumulate, grad):
    for i in range(cuda.grid(1), grad.shape[0], cuda.gridsize(1)):
        d = out[i] - label[i]
        if mae:                       # MXNet counts a zero difference as -1
            d = 1.0 if d > 0 else -1.0
        store(grad, i, d * scale, accumulate)


@cuda.jit
def _count_above_kernel(x, thresh, count):
    for e in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        if x[e] > thresh:
            cuda.atomic.add(count, 0, 1)


@cuda.jit
def _valid_count_kernel(label, ignore_label, count):
    ignore = int(ignore_label)
    for e in range(cuda.grid(1), label.shape[0], cuda.gridsize(1)):
        if int(label[e]) != ignore:
            cuda.atomic.add(count, 0, 1)


def _row_grid(shape3):
    """One block per (i, k) row; the block is as wide as the row (a power of two)."""
    rows = shape3[0] * shape3[2]
    threads = block_size(row_threads(shape3[1]))    # launch.py: 1 thread per row simulated
    return max(1, min(rows, grid_1d(rows * threads)[0])), threads


def softmax_forward(x, lengths, temperature, use_log, out):
    """``out[i, :, k] = softmax(x[i, :m, k] / temperature)`` with ``m = lengths[i, k]``; 0 beyond
    ``m``; ``use_log`` gives log_softmax. ``x``/``out`` are (pre, n, post), ``lengths`` an int64
    (pre, post) device array."""
    check_device_arrays("softmax_forward", x=x, lengths=lengths, out=out)
    blocks, threads = _row_grid(x.shape)
    _softmax_forward_kernel[blocks, threads](x, lengths, float(temperature), bool(use_log), out)


def softmax_backward(out, ograd, lengths, temperature, use_log, accumulate, igrad):
    """Gradient of softmax (``out * (g - sum(g * out)) / T``) or log_softmax
    (``(g - exp(out) * sum(g)) / T``) from the forward output; 0 beyond ``lengths``."""
    check_device_arrays("softmax_backward", out=out, ograd=ograd, lengths=lengths, igrad=igrad)
    blocks, threads = _row_grid(out.shape)
    _softmax_backward_kernel[blocks, threads](out, ograd, lengths, float(temperature),
                                              bool(use_log), bool(accumulate), igrad)


def softmax_output_grad(out, label, ignore_label, use_ignore, smooth_alpha, scale,
                        times_out, accumulate, grad):
    """SoftmaxOutput's data gradient ``(out - target) * scale``: ``out``/``grad`` are
    ``(n, classes, d)``, ``label`` is ``(n, d)``. The target is one-hot of ``int(label)`` (label
    smoothing with ``smooth_alpha``); ``use_ignore`` zeroes the columns whose label is
    ``ignore_label``; ``times_out`` multiplies by ``out``."""
    check_device_arrays("softmax_output_grad", out=out, label=label, grad=grad)
    blocks, threads = grid_1d(out.size)
    _softmax_output_grad_kernel[blocks, threads](
        out, label, float(ignore_label), bool(use_ignore), float(smooth_alpha), float(scale),
        bool(times_out), bool(accumulate), grad)


def valid_count(label, ignore_label):
    """How many labels are not ``ignore_label`` (after truncation), counted on the device; the
    one number comes back to the host (a synchronising copy of 4 bytes)."""
    check_device_arrays("valid_count", label=label)
    flat = label.reshape(label.size)
    count = cuda.to_device(np.zeros(1, dtype=np.int32))
    blocks, threads = grid_1d(flat.shape[0])
    _valid_count_kernel[blocks, threads](flat, float(ignore_label), count)
    return int(count.copy_to_host()[0])


def count_above(x, thresh):
    """How many elements of ``x`` exceed ``thresh`` (MakeLoss's 'valid' normalization), counted
    on the device with an atomic; the number comes back to the host."""
    check_device_arrays("count_above", x=x)
    flat = x.reshape(x.size)
    count = cuda.to_device(np.zeros(1, dtype=np.int32))
    blocks, threads = grid_1d(flat.shape[0])
    _count_above_kernel[blocks, threads](flat, flat.dtype.type(thresh), count)
    return int(count.copy_to_host()[0])


def regression_grad(out, label, mae, scale, accumulate, grad):
    """The regression heads' data gradient ``(out - label) * scale`` (``mae``: the sign of the
    difference, -1 at 0); ``label`` holds as many elements as ``out``."""
    check_device_arrays("regression_grad", out=out, label=label, grad=grad)
    if label.size != out.size:
        raise MXNetError(f"regression_grad: label has {label.size} elements, out {out.size}")
    blocks, threads = grid_1d(out.size)
    _regression_grad_kernel[blocks, threads](out.reshape(out.size), label.reshape(label.size),
                                             bool(mae), out.dtype.type(scale), bool(accumulate),
                                             grad.reshape(grad.size))
