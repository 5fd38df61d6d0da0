"""CUDA twins of ``kernels/cpu/loss.py``: same names, same signatures, same numpy references
(``kernels/reference/loss.py``), plus ``valid_count`` for SoftmaxOutput's 'valid' normalization.

Arrays are seen as 3-D ``(pre, n, post)`` with the softmax axis in the middle, exactly as on the
CPU. The CPU loops over (i, k) pairs; here one thread takes one pair (softmax: the pair's
max, sum and outputs depend on each other) or one element (the SoftmaxOutput gradient: every
element is independent). Sums run in float64, as on the CPU.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["softmax_forward", "softmax_backward", "softmax_output_grad", "valid_count"]


@cuda.jit
def _softmax_forward_kernel(x, lengths, temperature, use_log, out):
    pre, n, post = x.shape
    for p in range(cuda.grid(1), pre * post, cuda.gridsize(1)):
        i, k = p // post, p % post
        m = min(max(lengths[i, k], 0), n)
        if m == 0:
            for j in range(n):
                out[i, j, k] = 0.0
            continue
        top = x[i, 0, k]
        for j in range(1, m):
            if x[i, j, k] > top:
                top = x[i, j, k]
        total = 0.0
        for j in range(m):
            total += math.exp((x[i, j, k] - top) / temperature)
        if use_log:
            log_total = math.log(total)
            for j in range(m):
                out[i, j, k] = (x[i, j, k] - top) / temperature - log_total
        else:
            for j in range(m):
                out[i, j, k] = math.exp((x[i, j, k] - top) / temperature) / total
        for j in range(m, n):
            out[i, j, k] = 0.0


@cuda.jit
def _softmax_backward_kernel(out, ograd, lengths, temperature, use_log, accumulate, igrad):
    pre, n, post = out.shape
    for p in range(cuda.grid(1), pre * post, cuda.gridsize(1)):
        i, k = p // post, p % post
        m = min(max(lengths[i, k], 0), n)
        total = 0.0
        for j in range(m):
            total += ograd[i, j, k] if use_log else ograd[i, j, k] * out[i, j, k]
        for j in range(n):
            if j >= m:
                v = 0.0
            elif use_log:
                v = (ograd[i, j, k] - math.exp(out[i, j, k]) * total) / temperature
            else:
                v = out[i, j, k] * (ograd[i, j, k] - total) / temperature
            if accumulate:
                igrad[i, j, k] += v
            else:
                igrad[i, j, k] = v


@cuda.jit
def _softmax_output_grad_kernel(out, label, ignore_label, use_ignore, smooth_alpha, scale,
                                times_out, accumulate, grad):
    n, classes, d = out.shape
    ignore = int(ignore_label)
    off = smooth_alpha / (classes - 1) if classes > 1 else 0.0
    for e in range(cuda.grid(1), n * classes * d, cuda.gridsize(1)):
        i = e // (classes * d)
        c = (e // d) % classes
        s = e % d
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
        if accumulate:
            grad[i, c, s] += v
        else:
            grad[i, c, s] = v


@cuda.jit
def _valid_count_kernel(label, ignore_label, count):
    ignore = int(ignore_label)
    for e in range(cuda.grid(1), label.shape[0], cuda.gridsize(1)):
        if int(label[e]) != ignore:
            cuda.atomic.add(count, 0, 1)


def softmax_forward(x, lengths, temperature, use_log, out):
    """``out[i, :, k] = softmax(x[i, :m, k] / temperature)`` with ``m = lengths[i, k]``; 0 beyond
    ``m``; ``use_log`` gives log_softmax. ``x``/``out`` are (pre, n, post), ``lengths`` an int64
    (pre, post) device array."""
    check_device_arrays("softmax_forward", x=x, lengths=lengths, out=out)
    blocks, threads = grid_1d(x.shape[0] * x.shape[2])
    _softmax_forward_kernel[blocks, threads](x, lengths, float(temperature), bool(use_log), out)


def softmax_backward(out, ograd, lengths, temperature, use_log, accumulate, igrad):
    """Gradient of softmax (``out * (g - sum(g * out)) / T``) or log_softmax
    (``(g - exp(out) * sum(g)) / T``) from the forward output; 0 beyond ``lengths``."""
    check_device_arrays("softmax_backward", out=out, ograd=ograd, lengths=lengths, igrad=igrad)
    blocks, threads = grid_1d(out.shape[0] * out.shape[2])
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
