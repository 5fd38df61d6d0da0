"""CUDA kernels for per-channel statistics: BatchNorm (``ops/nn_norm.py``) and the channel sums
other layers need (Convolution's bias gradient, PReLU's slope gradient).

Data is viewed as ``(outer, C, inner)`` with the channel axis in the middle, as the CPU kernels
``kernels/cpu/nn.py`` (``bn_*``) view it; the numpy twins are in ``kernels/reference/nn.py``.

**Launch strategy.** A statistic of one channel is a sum over ``outer * inner`` elements that
are not contiguous. One *block* owns one channel (blocks stride over the channels): each thread
adds up a strided share of the channel's elements, then the block combines the partial sums
with a shared-memory *tree reduction* (``log2(threads)`` halving steps with a barrier each), so
the sum needs no atomics and is deterministic. Sums are kept in float64 whatever the data's
dtype, as the CPU kernels keep them. Elementwise passes (normalise, data gradient) run one
thread per element.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ...base import MXNetError
from .launch import grid_1d, check_device_arrays
# the block tree sum: each thread stores its value in a shared array, then half of the remaining
# threads add the other half's values until slot 0 holds the total (every thread gets it)
from .loss import _block_sum as tree_sum

__all__ = ["REDUCE_CODES", "channel_threads", "channel_reduce", "bn_batch_stats",
           "bn_global_stats", "bn_forward", "bn_backward", "bn_moving_update"]

MAX_THREADS = 256          # the shared arrays' size: the largest block a reduction launches
REDUCE_CODES = {"sum": 0, "sum_neg_xy": 1}

_A3 = "{t}[:, :, ::1]"
PTX_SIGNATURES = {
    "_channel_reduce_kernel": [f"{_A3}, {_A3}, int64, boolean, {{t}}[::1]"],
    "_bn_stats_kernel": [f"{_A3}, float64, float64[::1], float64[::1], float64[::1]"],
    "_bn_global_kernel": ["{t}[::1], {t}[::1], float64, float64[::1], float64[::1], "
                          "float64[::1]"],
    "_bn_forward_kernel": [f"{_A3}, float64[::1], float64[::1], {{t}}[::1], {{t}}[::1], "
                           "boolean, " + _A3],
    "_bn_sums_kernel": [f"{_A3}, {_A3}, float64[::1], float64[::1], float64[::1], "
                        "float64[::1]"],
    "_bn_dx_kernel": [f"{_A3}, {_A3}, float64[::1], float64[::1], {{t}}[::1], boolean, "
                      f"float64[::1], float64[::1], boolean, boolean, {_A3}"],
    "_bn_param_grads_kernel": ["float64[::1], float64[::1], boolean, int64, int64, {t}[::1], "
                               "{t}[::1]"],
    "_bn_moving_kernel": ["{t}[::1], {t}[::1], float64[::1], float64[::1], float64"],
    "_bn_outputs_kernel": ["float64[::1], float64[::1], {t}[::1], {t}[::1]"],
}


@cuda.jit(device=True)
def _partial(a3, b3, c, m, code):
    """This thread's share of a channel-``c`` sum over the (outer, inner) positions it visits
    (strided by the block size): ``code`` 0 sums a; 1 sums b * a where a <= 0 (PReLU's slope
    gradient); 2 sums (a - m)^2 (variance); 3 sums b * (a - m) (BatchNorm's dgamma)."""
    A, _, B = a3.shape
    s = 0.0
    for e in range(cuda.threadIdx.x, A * B, cuda.blockDim.x):
        v = a3[e // B, c, e % B]
        if code == 0:
            s += v
        elif code == 1:
            if v <= 0:
                s += b3[e // B, c, e % B] * v
        elif code == 2:
            s += (v - m) * (v - m)
        else:
            s += b3[e // B, c, e % B] * (v - m)
    return s


@cuda.jit(device=True)
def _store_channel(out, c, v, accumulate):
    if cuda.threadIdx.x == 0:
        if accumulate:
            out[c] += v
        else:
            out[c] = v


@cuda.jit
def _channel_reduce_kernel(a3, b3, code, accumulate, out):
    buf = cuda.shared.array(MAX_THREADS, np.float64)
    for c in range(cuda.blockIdx.x, a3.shape[1], cuda.gridDim.x):
        _store_channel(out, c, tree_sum(buf, _partial(a3, b3, c, 0.0, code)), accumulate)


@cuda.jit
def _bn_stats_kernel(x3, eps, mean, var, invstd):
    buf = cuda.shared.array(MAX_THREADS, np.float64)
    n = x3.shape[0] * x3.shape[2]
    for c in range(cuda.blockIdx.x, x3.shape[1], cuda.gridDim.x):
        m = tree_sum(buf, _partial(x3, x3, c, 0.0, 0)) / n
        # second pass over the squared deviations: no cancellation as in E[x^2] - E[x]^2
        v = tree_sum(buf, _partial(x3, x3, c, m, 2)) / n
        _store_channel(mean, c, m, False)
        _store_channel(var, c, v, False)
        _store_channel(invstd, c, 1.0 / math.sqrt(v + eps), False)


@cuda.jit
def _bn_global_kernel(moving_mean, moving_var, eps, mean, var, invstd):
    for c in range(cuda.grid(1), mean.shape[0], cuda.gridsize(1)):
        mean[c] = moving_mean[c]
        var[c] = moving_var[c]
        invstd[c] = 1.0 / math.sqrt(var[c] + eps)


@cuda.jit
def _bn_forward_kernel(x3, mean, invstd, gamma, beta, fix_gamma, out3):
    A, C, B = x3.shape
    for e in range(cuda.grid(1), A * C * B, cuda.gridsize(1)):
        a, c, b = e // (C * B), (e // B) % C, e % B
        g = 1.0 if fix_gamma else gamma[c]
        out3[a, c, b] = (x3[a, c, b] - mean[c]) * (invstd[c] * g) + beta[c]


@cuda.jit
def _bn_sums_kernel(x3, dy3, mean, invstd, sum_dy, sum_dy_xhat):
    buf = cuda.shared.array(MAX_THREADS, np.float64)
    for c in range(cuda.blockIdx.x, x3.shape[1], cuda.gridDim.x):
        _store_channel(sum_dy, c, tree_sum(buf, _partial(dy3, dy3, c, 0.0, 0)), False)
        t = tree_sum(buf, _partial(x3, dy3, c, mean[c], 3))
        _store_channel(sum_dy_xhat, c, t * invstd[c], False)


@cuda.jit
def _bn_dx_kernel(x3, dy3, mean, invstd, gamma, fix_gamma, sum_dy, sum_dy_xhat, batch,
                  accumulate, dx3):
    A, C, B = x3.shape
    n = A * B
    for e in range(cuda.grid(1), A * C * B, cuda.gridsize(1)):
        a, c, b = e // (C * B), (e // B) % C, e % B
        istd = invstd[c]
        k = istd if fix_gamma else gamma[c] * istd
        if batch:     # mean and variance depend on x: two correction terms
            g = k * (dy3[a, c, b] - sum_dy[c] / n
                     - (x3[a, c, b] - mean[c]) * istd * (sum_dy_xhat[c] / n))
        else:
            g = k * dy3[a, c, b]
        if accumulate:
            dx3[a, c, b] += g
        else:
            dx3[a, c, b] = g


@cuda.jit
def _bn_param_grads_kernel(sum_dy, sum_dy_xhat, fix_gamma, gamma_mode, beta_mode, dgamma,
                           dbeta):
    for c in range(cuda.grid(1), sum_dy.shape[0], cuda.gridsize(1)):
        g = 0.0 if fix_gamma else sum_dy_xhat[c]
        if gamma_mode == 1:
            dgamma[c] = g
        elif gamma_mode == 2:
            dgamma[c] += g
        if beta_mode == 1:
            dbeta[c] = sum_dy[c]
        elif beta_mode == 2:
            dbeta[c] += sum_dy[c]


@cuda.jit
def _bn_moving_kernel(moving_mean, moving_var, mean, var, momentum):
    for c in range(cuda.grid(1), mean.shape[0], cuda.gridsize(1)):
        moving_mean[c] = moving_mean[c] * momentum + mean[c] * (1.0 - momentum)
        moving_var[c] = moving_var[c] * momentum + var[c] * (1.0 - momentum)


@cuda.jit
def _bn_outputs_kernel(mean, invstd, out_mean, out_var):
    for c in range(cuda.grid(1), mean.shape[0], cuda.gridsize(1)):
        out_mean[c] = mean[c]
        out_var[c] = invstd[c]


# -- host side -------------------------------------------------------------------------------
def channel_threads(n):
    """Threads of a reduction block for ``n`` elements per channel: the launch policy's block
    size (a power of two, at most MAX_THREADS), smaller for short channels so few threads idle."""
    threads = min(MAX_THREADS, grid_1d(n)[1])
    while threads > 32 and threads // 2 >= n:
        threads //= 2
    if threads & (threads - 1):
        raise MXNetError(f"channel reductions need a power-of-two block, got {threads} threads")
    return threads


def _channel_grid(channels, per_channel):
    threads = channel_threads(per_channel)
    blocks = grid_1d(channels * threads)[0]     # one block per channel, capped by the policy
    return max(1, min(blocks, channels)), threads


def channel_reduce(a3, out, verb="sum", b3=None, accumulate=False):
    """``out[c] (+)= sum over (outer, inner) of f(a3, b3)[:, c, :]``: ``'sum'`` sums ``a3``;
    ``'sum_neg_xy'`` sums ``b3 * a3`` where ``a3 <= 0`` (PReLU's slope gradient)."""
    check_device_arrays("channel_reduce", a3=a3, b3=b3, out=out)
    A, C, B = a3.shape
    blocks, threads = _channel_grid(C, A * B)
    _channel_reduce_kernel[blocks, threads](a3, a3 if b3 is None else b3, REDUCE_CODES[verb],
                                            bool(accumulate), out)


def bn_batch_stats(x3, eps, mean, var, invstd):
    """Per-channel mean, biased variance and ``1/sqrt(var + eps)`` of ``x3`` (outer, C, inner)
    into float64 device arrays of length C (two passes, float64 tree sums)."""
    check_device_arrays("bn_batch_stats", x3=x3, mean=mean, var=var, invstd=invstd)
    A, C, B = x3.shape
    blocks, threads = _channel_grid(C, A * B)
    _bn_stats_kernel[blocks, threads](x3, float(eps), mean, var, invstd)


def bn_global_stats(moving_mean, moving_var, eps, mean, var, invstd):
    """The moving statistics as float64 ``mean``/``var`` and their ``invstd``."""
    check_device_arrays("bn_global_stats", moving_mean=moving_mean, moving_var=moving_var,
                        mean=mean, var=var, invstd=invstd)
    blocks, threads = grid_1d(mean.shape[0])
    _bn_global_kernel[blocks, threads](moving_mean, moving_var, float(eps), mean, var, invstd)


def bn_forward(x3, mean, invstd, gamma, beta, fix_gamma, out3, out_mean=None, out_var=None):
    """``out = (x - mean) * invstd * gamma + beta`` per channel (gamma taken as 1 with
    ``fix_gamma``); also writes ``out_mean``/``out_var`` (MXNet's mean and inverse-std outputs)
    when given."""
    check_device_arrays("bn_forward", x3=x3, mean=mean, invstd=invstd, gamma=gamma, beta=beta,
                        out3=out3)
    blocks, threads = grid_1d(x3.size)
    _bn_forward_kernel[blocks, threads](x3, mean, invstd, gamma, beta, bool(fix_gamma), out3)
    if out_mean is not None:
        blocks, threads = grid_1d(mean.shape[0])
        _bn_outputs_kernel[blocks, threads](mean, invstd, out_mean, out_var)


def bn_backward(x3, dy3, mean, invstd, gamma, fix_gamma, batch, dx3, dx_mode, dgamma,
                gamma_mode, dbeta, beta_mode, sum_dy, sum_dy_xhat):
    """BatchNorm gradients: the channel sums of ``dy`` and ``dy * xhat`` (float64 scratch
    ``sum_dy``/``sum_dy_xhat``), then ``dx`` (``dx_mode`` 0 skip, 1 write, 2 add; with
    ``batch`` statistics the mean/variance correction terms are included), ``dgamma`` (0 with
    ``fix_gamma``) and ``dbeta`` by their modes."""
    check_device_arrays("bn_backward", x3=x3, dy3=dy3, mean=mean, invstd=invstd, gamma=gamma,
                        dx3=dx3, dgamma=dgamma, dbeta=dbeta)
    A, C, B = x3.shape
    blocks, threads = _channel_grid(C, A * B)
    _bn_sums_kernel[blocks, threads](x3, dy3, mean, invstd, sum_dy, sum_dy_xhat)
    if dx_mode:
        blocks, threads = grid_1d(x3.size)
        _bn_dx_kernel[blocks, threads](x3, dy3, mean, invstd, gamma, bool(fix_gamma), sum_dy,
                                       sum_dy_xhat, bool(batch), dx_mode == 2, dx3)
    if gamma_mode or beta_mode:
        blocks, threads = grid_1d(C)
        _bn_param_grads_kernel[blocks, threads](
            sum_dy, sum_dy_xhat, bool(fix_gamma), int(gamma_mode), int(beta_mode),
            gamma if dgamma is None else dgamma, gamma if dbeta is None else dbeta)


def bn_moving_update(moving_mean, moving_var, mean, var, momentum):
    """``moving = moving * momentum + batch * (1 - momentum)`` for mean and variance."""
    check_device_arrays("bn_moving_update", moving_mean=moving_mean, moving_var=moving_var)
    blocks, threads = grid_1d(mean.shape[0])
    _bn_moving_kernel[blocks, threads](moving_mean, moving_var, mean, var, float(momentum))
