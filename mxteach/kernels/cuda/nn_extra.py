"""CUDA twins of ``kernels/cpu/nn_extra.py``: the row normalisations (LayerNorm, InstanceNorm,
GroupNorm), L2Normalization and LRN, on data viewed as ``(A, R, B)`` exactly as on the CPU (see
that module for the views and the ``period`` indexing of gamma/beta); numpy twins in
``kernels/reference/nn_extra.py``.

**Launch strategy.** A row statistic is a sum over ``R`` elements: one *block* owns one row at a
time (blocks stride over rows), its threads stride over the row, and the block combines the
partial sums with the shared-memory tree of ``kernels/cuda/loss.py`` (float64, no atomics,
deterministic). Elementwise passes (normalise, LRN) take one thread per element. The parameter
gradients take one thread per parameter, which loops over the elements that use it: no two
threads write the same sum.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from .launch import grid_1d, check_device_arrays
from .loss import _block_sum as tree_sum
from .reduce import block_size, _MAX_BLOCK

__all__ = ["norm_stats", "norm_forward", "norm_backward", "norm_param_grads", "l2_forward",
           "l2_backward", "lrn_forward", "lrn_backward", "stats_outputs"]

_A3 = "{t}[:, :, ::1]"
PTX_SIGNATURES = {
    "_norm_stats_kernel": [f"{_A3}, float64, float64[::1], float64[::1]"],
    "_norm_forward_kernel": [f"{_A3}, float64[::1], float64[::1], {{t}}[::1], {{t}}[::1], "
                             f"int64, {_A3}"],
    "_norm_backward_kernel": [f"{_A3}, {_A3}, float64[::1], float64[::1], {{t}}[::1], int64, "
                              f"boolean, {_A3}"],
    "_norm_param_kernel": [f"{_A3}, {_A3}, float64[::1], float64[::1], int64, int64, int64, "
                           "{t}[::1], {t}[::1]"],
    "_l2_forward_kernel": [f"{_A3}, float64, float64[::1], {_A3}"],
    "_l2_backward_kernel": [f"{_A3}, {_A3}, float64[::1], boolean, {_A3}"],
    "_lrn_forward_kernel": [f"{_A3}, int64, float64, float64, float64, {_A3}, {_A3}"],
    "_lrn_backward_kernel": [f"{_A3}, {_A3}, {_A3}, int64, float64, float64, boolean, {_A3}"],
    "_stats_out_kernel": ["float64[::1], float64[::1], {t}[::1], {t}[::1]"],
}


@cuda.jit(device=True)
def _param(a, r, period):
    return r if period == 0 else a % period


@cuda.jit(device=True)
def _put(dst, a, r, b, v, accumulate):
    if accumulate:
        dst[a, r, b] += v
    else:
        dst[a, r, b] = v


@cuda.jit
def _norm_stats_kernel(x3, eps, mean, invstd):
    buf = cuda.shared.array(_MAX_BLOCK, np.float64)
    A, R, B = x3.shape
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
        a, b = row // B, row % B
        s = 0.0
        for r in range(tid, R, nt):
            s += x3[a, r, b]
        m = tree_sum(buf, s) / R
        ss = 0.0
        for r in range(tid, R, nt):
            d = x3[a, r, b] - m
            ss += d * d
        v = tree_sum(buf, ss) / R
        if tid == 0:
            mean[row] = m
            invstd[row] = 1.0 / math.sqrt(v + eps)


@cuda.jit
def _norm_forward_kernel(x3, mean, invstd, gamma, beta, period, out3):
    A, R, B = x3.shape
    for e in range(cuda.grid(1), A * R * B, cuda.gridsize(1)):
        a, r, b = e // (R * B), (e // B) % R, e % B
        row = a * B + b
        k = _param(a, r, period)
        out3[a, r, b] = (x3[a, r, b] - mean[row]) * invstd[row] * gamma[k] + beta[k]


@cuda.jit
def _norm_backward_kernel(x3, dy3, mean, invstd, gamma, period, accumulate, dx3):
    buf = cuda.shared.array(_MAX_BLOCK, np.float64)
    A, R, B = x3.shape
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
        a, b = row // B, row % B
        m, istd = mean[row], invstd[row]
        p1 = 0.0
        p2 = 0.0
        for r in range(tid, R, nt):
            g = dy3[a, r, b] * gamma[_param(a, r, period)]
            p1 += g
            p2 += g * (x3[a, r, b] - m) * istd
        s1 = tree_sum(buf, p1) / R
        s2 = tree_sum(buf, p2) / R
        for r in range(tid, R, nt):
            xhat = (x3[a, r, b] - m) * istd
            _put(dx3, a, r, b, istd * (dy3[a, r, b] * gamma[_param(a, r, period)] - s1
                                       - xhat * s2), accumulate)


@cuda.jit
def _norm_param_kernel(x3, dy3, mean, invstd, period, gamma_mode, beta_mode, dgamma, dbeta):
    A, R, B = x3.shape
    n_par = R if period == 0 else period
    for k in range(cuda.grid(1), n_par, cuda.gridsize(1)):
        sg = 0.0
        sb = 0.0
        if period == 0:      # LayerNorm: parameter k is position r = k of every row
            for a in range(A):
                for b in range(B):
                    row = a * B + b
                    dy = dy3[a, k, b]
                    sg += dy * (x3[a, k, b] - mean[row]) * invstd[row]
                    sb += dy
        else:                # one parameter per a % period: whole rows a = k, k + period ...
            for a in range(k, A, period):
                for b in range(B):
                    row = a * B + b
                    for r in range(R):
                        dy = dy3[a, r, b]
                        sg += dy * (x3[a, r, b] - mean[row]) * invstd[row]
                        sb += dy
        if gamma_mode == 1:
            dgamma[k] = sg
        elif gamma_mode == 2:
            dgamma[k] += sg
        if beta_mode == 1:
            dbeta[k] = sb
        elif beta_mode == 2:
            dbeta[k] += sb


@cuda.jit
def _l2_forward_kernel(x3, eps, norm, out3):
    buf = cuda.shared.array(_MAX_BLOCK, np.float64)
    A, R, B = x3.shape
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
        a, b = row // B, row % B
        s = 0.0
        for r in range(tid, R, nt):
            s += x3[a, r, b] * x3[a, r, b]
        n = math.sqrt(tree_sum(buf, s) + eps)
        if tid == 0:
            norm[row] = n
        for r in range(tid, R, nt):
            out3[a, r, b] = x3[a, r, b] / n


@cuda.jit
def _l2_backward_kernel(out3, dy3, norm, accumulate, dx3):
    buf = cuda.shared.array(_MAX_BLOCK, np.float64)
    A, R, B = out3.shape
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
        a, b = row // B, row % B
        s = 0.0
        for r in range(tid, R, nt):
            s += dy3[a, r, b] * out3[a, r, b]
        s = tree_sum(buf, s)
        for r in range(tid, R, nt):
            _put(dx3, a, r, b, (dy3[a, r, b] - out3[a, r, b] * s) / norm[row], accumulate)


# twins of kernels/cpu/nn_extra.py:lrn_forward / lrn_backward (one thread per element)
@cuda.jit
def _lrn_forward_kernel(x3, nsize, alpha, beta, knorm, scale3, out3):
    N, C, S = x3.shape
    half = (nsize - 1) // 2
    for e in range(cuda.grid(1), N * C * S, cuda.gridsize(1)):
        n, c, s = e // (C * S), (e // S) % C, e % S
        acc = 0.0
        for j in range(max(0, c - half), min(C, c + half + 1)):
            acc += x3[n, j, s] * x3[n, j, s]
        sc = knorm + alpha / nsize * acc
        scale3[n, c, s] = sc
        out3[n, c, s] = x3[n, c, s] * sc ** (-beta)


@cuda.jit
def _lrn_backward_kernel(x3, dy3, scale3, nsize, alpha, beta, accumulate, dx3):
    N, C, S = x3.shape
    half = (nsize - 1) // 2
    for e in range(cuda.grid(1), N * C * S, cuda.gridsize(1)):
        n, c, s = e // (C * S), (e // S) % C, e % S
        acc = 0.0
        for j in range(max(0, c - half), min(C, c + half + 1)):
            acc += dy3[n, j, s] * x3[n, j, s] * scale3[n, j, s] ** (-beta - 1.0)
        _put(dx3, n, c, s, dy3[n, c, s] * scale3[n, c, s] ** (-beta)
             - 2.0 * alpha * beta / nsize * x3[n, c, s] * acc, accumulate)


# -- host side -------------------------------------------------------------------------------
def _row_grid(shape3):
    """One block per row, as wide as the row (a power of two, capped by the launch policy)."""
    rows = shape3[0] * shape3[2]
    threads = block_size(shape3[1])
    return max(1, min(rows, grid_1d(rows * threads)[0])), threads


def norm_stats(x3, eps, mean, invstd):
    """Per row of ``x3`` (A, R, B): mean and ``1/sqrt(var + eps)`` into float64 (A*B,)."""
    check_device_arrays("norm_stats", x3=x3, mean=mean, invstd=invstd)
    blocks, threads = _row_grid(x3.shape)
    _norm_stats_kernel[blocks, threads](x3, float(eps), mean, invstd)


def norm_forward(x3, mean, invstd, gamma, beta, period, out3):
    """``out = (x - mean) * invstd * gamma + beta`` (parameters by ``period``)."""
    check_device_arrays("norm_forward", x3=x3, mean=mean, invstd=invstd, gamma=gamma,
                        beta=beta, out3=out3)
    blocks, threads = grid_1d(x3.size)
    _norm_forward_kernel[blocks, threads](x3, mean, invstd, gamma, beta, int(period), out3)


def norm_backward(x3, dy3, mean, invstd, gamma, period, accumulate, dx3):
    """The data gradient of the row normalisation (see the CPU twin)."""
    check_device_arrays("norm_backward", x3=x3, dy3=dy3, mean=mean, invstd=invstd,
                        gamma=gamma, dx3=dx3)
    blocks, threads = _row_grid(x3.shape)
    _norm_backward_kernel[blocks, threads](x3, dy3, mean, invstd, gamma, int(period),
                                           bool(accumulate), dx3)


def norm_param_grads(x3, dy3, mean, invstd, period, dgamma, gamma_mode, dbeta, beta_mode):
    """``dgamma = sum dy * xhat``, ``dbeta = sum dy`` per parameter, each stored by its mode
    (0 skip, 1 write, 2 add); a skipped one may be any array of the parameters' length."""
    check_device_arrays("norm_param_grads", x3=x3, dy3=dy3, dgamma=dgamma, dbeta=dbeta)
    blocks, threads = grid_1d(dgamma.shape[0])
    _norm_param_kernel[blocks, threads](x3, dy3, mean, invstd, int(period), int(gamma_mode),
                                        int(beta_mode), dgamma, dbeta)


def l2_forward(x3, eps, norm, out3):
    """Per row: ``norm = sqrt(sum x^2 + eps)``, ``out = x / norm``."""
    check_device_arrays("l2_forward", x3=x3, norm=norm, out3=out3)
    blocks, threads = _row_grid(x3.shape)
    _l2_forward_kernel[blocks, threads](x3, float(eps), norm, out3)


def l2_backward(out3, dy3, norm, accumulate, dx3):
    """``dx = (dy - out * sum(dy * out)) / norm`` per row."""
    check_device_arrays("l2_backward", out3=out3, dy3=dy3, norm=norm, dx3=dx3)
    blocks, threads = _row_grid(out3.shape)
    _l2_backward_kernel[blocks, threads](out3, dy3, norm, bool(accumulate), dx3)


def lrn_forward(x3, nsize, alpha, beta, knorm, scale3, out3):
    """LRN over channels of ``x3`` (N, C, S): the scale and the output (see the CPU twin)."""
    check_device_arrays("lrn_forward", x3=x3, scale3=scale3, out3=out3)
    blocks, threads = grid_1d(x3.size)
    _lrn_forward_kernel[blocks, threads](x3, int(nsize), float(alpha), float(beta),
                                         float(knorm), scale3, out3)


def lrn_backward(x3, dy3, scale3, nsize, alpha, beta, accumulate, dx3):
    """LRN's data gradient from the forward's scale (see the CPU twin)."""
    check_device_arrays("lrn_backward", x3=x3, dy3=dy3, scale3=scale3, dx3=dx3)
    blocks, threads = grid_1d(x3.size)
    _lrn_backward_kernel[blocks, threads](x3, dy3, scale3, int(nsize), float(alpha),
                                          float(beta), bool(accumulate), dx3)


@cuda.jit
def _stats_out_kernel(mean, invstd, out_mean, out_std):
    for i in range(cuda.grid(1), mean.shape[0], cuda.gridsize(1)):
        out_mean[i] = mean[i]
        out_std[i] = 1.0 / invstd[i]


def stats_outputs(mean, invstd, out_mean, out_std):
    """The ``output_mean_var`` outputs: ``mean`` and the standard deviation ``1 / invstd``
    (flat device arrays of the rows)."""
    check_device_arrays("stats_outputs", mean=mean, invstd=invstd, out_mean=out_mean,
                        out_std=out_std)
    blocks, threads = grid_1d(mean.shape[0])
    _stats_out_kernel[blocks, threads](mean, invstd, out_mean, out_std)
