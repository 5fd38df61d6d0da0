"""CUDA twins of ``kernels/cpu/nn_extra_act.py``: SVMOutput's gradient and the softmax cross
entropy gradient take one thread per element; the cross-entropy loss is one sum over the rows,
done by a single block with the shared-memory tree of ``kernels/cuda/loss.py`` (float64,
deterministic). numpy twins in ``kernels/reference/nn_extra_act.py``."""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from .launch import grid_1d, check_device_arrays
from .loss import _block_sum as tree_sum
from .reduce import block_size, _MAX_BLOCK

__all__ = ["svm_grad", "ce_loss", "ce_grad"]

PTX_SIGNATURES = {
    "_svm_grad_kernel": ["{t}[:, ::1], {t}[::1], float64, float64, boolean, boolean, "
                         "{t}[:, ::1]"],
    "_ce_loss_kernel": ["{t}[:, ::1], {t}[::1], {t}[::1]"],
    "_ce_grad_kernel": ["{t}[:, ::1], {t}[::1], {t}[::1], boolean, {t}[:, ::1]"],
}


# twin of kernels/cpu/nn_extra_act.py:svm_grad (one thread per element)
@cuda.jit
def _svm_grad_kernel(x2, label, margin, coef, linear, accumulate, dx2):
    M, Kc = x2.shape
    for e in range(cuda.grid(1), M * Kc, cuda.gridsize(1)):
        m, j = e // Kc, e % Kc
        v = x2[m, j]
        g = 0.0
        if j == int(label[m]):
            if margin > v:
                g = -coef if linear else -2.0 * coef * (margin - v)
        elif margin > -v:
            g = coef if linear else 2.0 * coef * (margin + v)
        if accumulate:
            dx2[m, j] += g
        else:
            dx2[m, j] = g


@cuda.jit
def _ce_loss_kernel(logp2, label, out):
    buf = cuda.shared.array(_MAX_BLOCK, np.float64)
    M, Kc = logp2.shape
    s = 0.0
    for m in range(cuda.threadIdx.x, M, cuda.blockDim.x):
        k = int(label[m])
        if 0 <= k < Kc:
            s -= logp2[m, k]
    s = tree_sum(buf, s)
    if cuda.threadIdx.x == 0:
        out[0] = s


@cuda.jit
def _ce_grad_kernel(logp2, label, g, accumulate, dx2):
    M, Kc = logp2.shape
    for e in range(cuda.grid(1), M * Kc, cuda.gridsize(1)):
        m, j = e // Kc, e % Kc
        v = math.exp(logp2[m, j])
        if j == int(label[m]):
            v -= 1.0
        if accumulate:
            dx2[m, j] += v * g[0]
        else:
            dx2[m, j] = v * g[0]


def svm_grad(x2, label, margin, coef, linear, accumulate, dx2):
    """SVMOutput's data gradient (see the CPU twin)."""
    check_device_arrays("svm_grad", x2=x2, label=label, dx2=dx2)
    blocks, threads = grid_1d(x2.size)
    _svm_grad_kernel[blocks, threads](x2, label, float(margin), float(coef), bool(linear),
                                      bool(accumulate), dx2)


def ce_loss(logp2, label, out):
    """``out[0] = -sum logp2[m, label[m]]`` by one block."""
    check_device_arrays("ce_loss", logp2=logp2, label=label, out=out)
    _ce_loss_kernel[1, block_size(logp2.shape[0])](logp2, label, out)


def ce_grad(logp2, label, g, accumulate, dx2):
    """``dx = (exp(logp2) - onehot(label)) * g[0]``."""
    check_device_arrays("ce_grad", logp2=logp2, label=label, g=g, dx2=dx2)
    blocks, threads = grid_1d(logp2.size)
    _ce_grad_kernel[blocks, threads](logp2, label, g, bool(accumulate), dx2)
