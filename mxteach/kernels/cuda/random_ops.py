"""CUDA samplers of the random family (``ops/random_ops.py``): uniform, normal, gamma,
exponential, Poisson, negative binomial, generalized negative binomial and randint draws, the
multinomial draw, and the row gather behind ``shuffle``.

Every thread owns one xoroshiro128+ generator (``numba.cuda.random``). The states are made from
a seed drawn from mxteach's host generator (``mxteach.random_state``) and kept by the operator
node; ``mx.random.seed`` replaces that generator, and the next launch makes new states from
it, so a seed reproduces the GPU draws as it does the CPU ones (the two streams differ, as
MXNet's CPU and GPU streams do).

The draws: uniform ``a + (b - a) u``; normal ``a + b n``; exponential ``-log(1 - u) / lam``;
gamma by Marsaglia and Tsang's squeeze-and-reject (shape < 1 boosted by ``u ** (1 / shape)``);
Poisson by multiplying uniforms while ``lam < 10`` and by Hormann's transformed rejection
(PTRS) above; the negative binomials as Poisson draws with a gamma-distributed rate, as MXNet
defines them. The CPU side draws the same distributions with numpy's generator.
"""
from __future__ import annotations

import math

from numba import cuda
from numba.cuda.random import (create_xoroshiro128p_states, xoroshiro128p_normal_float64,
                               xoroshiro128p_uniform_float64)

from ... import random_state
from .launch import grid_1d, check_device_arrays

__all__ = ["CODES", "sample", "multinomial", "multinomial_grad", "gather_rows"]

CODES = {"uniform": 0, "normal": 1, "gamma": 2, "exponential": 3, "poisson": 4,
         "negative_binomial": 5, "generalized_negative_binomial": 6, "randint": 7}
_STATES = 'Array(Record.make_c_struct([("s0", uint64), ("s1", uint64)]), 1, "C")'
# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_sample_kernel": [f"{_STATES}, {{t}}[::1], {{t}}[::1], int64, int64, {{t}}[::1]",
                      f"{_STATES}, float64[::1], float64[::1], int64, int64, int32[::1]"],
    "_multinomial_kernel": [f"{_STATES}, {{t}}[::1], int64, int64, int32[::1], {{t}}[::1], "
                            "boolean"],
    "_gather_rows_kernel": ["{t}[::1], int64[::1], int64, {t}[::1]"],
    "_multinomial_grad_kernel": ["{t}[::1], int32[::1], {t}[::1], int64, int64, {t}[::1]"],
}


@cuda.jit(device=True)
def _uniform_open(states, tid):
    """A uniform draw in (0, 1]: safe under log (the simulator raises on log(0))."""
    return 1.0 - xoroshiro128p_uniform_float64(states, tid)


@cuda.jit(device=True)
def _gamma(states, tid, shape, scale):
    boost = 1.0
    if shape <= 0.0:
        return 0.0
    if shape < 1.0:
        boost = _uniform_open(states, tid) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = xoroshiro128p_normal_float64(states, tid)
        v = 1.0 + c * x
        if v > 0.0:
            v = v * v * v
            u = _uniform_open(states, tid)
            if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
                return d * v * scale * boost


@cuda.jit(device=True)
def _poisson(states, tid, lam):
    if lam <= 0.0:
        return 0.0
    if lam < 10.0:
        limit = math.exp(-lam)
        p = _uniform_open(states, tid)
        k = 0.0
        while p > limit:
            p *= _uniform_open(states, tid)
            k += 1.0
        return k
    slam = math.sqrt(lam)
    loglam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = xoroshiro128p_uniform_float64(states, tid) - 0.5
        v = _uniform_open(states, tid)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k >= 0.0 and not (us < 0.013 and v > us):
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                    <= -lam + k * loglam - math.lgamma(k + 1.0)):
                return k


@cuda.jit(device=True)
def _draw(states, tid, code, a, b):
    if code == 0:
        return a + (b - a) * xoroshiro128p_uniform_float64(states, tid)
    if code == 1:
        return a + b * xoroshiro128p_normal_float64(states, tid)
    if code == 2:
        return _gamma(states, tid, a, b)
    if code == 3:
        return -math.log(_uniform_open(states, tid)) / a
    if code == 4:
        return _poisson(states, tid, a)
    if code == 5:                              # k = a failures' shape, p = b
        if b >= 1.0:
            return 0.0
        return _poisson(states, tid, _gamma(states, tid, a, (1.0 - b) / b))
    if code == 6:                              # mu = a, alpha = b
        if b <= 0.0:
            return _poisson(states, tid, a)
        return _poisson(states, tid, _gamma(states, tid, 1.0 / b, a * b))
    return math.floor(a + (b - a) * xoroshiro128p_uniform_float64(states, tid))


@cuda.jit
def _sample_kernel(states, a, b, per, code, out):
    tid = cuda.grid(1)
    for i in range(tid, out.size, cuda.gridsize(1)):
        j = i // per                            # the parameter set of this output element
        out[i] = _draw(states, tid, code, a[j], b[j])


@cuda.jit
def _multinomial_kernel(states, prob, n_cat, draws, samples, logp, get_prob):
    tid = cuda.grid(1)
    for i in range(tid, samples.size, cuda.gridsize(1)):
        row = (i // draws) * n_cat
        u = xoroshiro128p_uniform_float64(states, tid)
        acc = 0.0
        k = n_cat - 1                            # probabilities summing below u: the last one
        for c in range(n_cat):
            acc += prob[row + c]
            if u < acc:
                k = c
                break
        samples[i] = k
        if get_prob:
            p = prob[row + k]
            logp[i] = math.log(p) if p > 0 else -math.inf


@cuda.jit
def _gather_rows_kernel(x, perm, row, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        r = i // row
        out[i] = x[perm[r] * row + (i - r * row)]


def _states(cache, threads):
    """The node's generator states, made again from a seed of the host generator when
    ``mx.random.seed`` has replaced it (or more threads are needed)."""
    gen = random_state.rng()
    states = cache.get("sampler_states")
    if cache.get("sampler_source") is not gen or states is None or states.shape[0] < threads:
        seed = int(gen.randint(0, 2 ** 31 - 1))
        states = cache["sampler_states"] = create_xoroshiro128p_states(threads, seed=seed)
        cache["sampler_source"] = gen
    return states


def sample(code, a, b, out, cache):
    """Fill the flat device array ``out`` with draws of distribution ``code`` (``CODES``):
    output element i uses parameters ``a[j], b[j]`` (device arrays) with
    ``j = i // (out.size // a.size)``. ``cache`` is the node's state dict."""
    check_device_arrays("sample", a=a, b=b, out=out)
    blocks, threads = grid_1d(out.size)
    per = max(1, out.size // max(1, a.size))
    _sample_kernel[blocks, threads](_states(cache, blocks * threads), a, b, per, code, out)


def multinomial(prob, n_cat, draws, samples, logp, get_prob, cache):
    """``draws`` category draws per row of the flat (rows * n_cat) ``prob`` into ``samples``
    (rows * draws), and their log-probabilities into ``logp`` when ``get_prob``."""
    check_device_arrays("multinomial", prob=prob, samples=samples, logp=logp)
    blocks, threads = grid_1d(samples.size)
    _multinomial_kernel[blocks, threads](_states(cache, blocks * threads), prob, n_cat, draws,
                                         samples, logp, get_prob)


def gather_rows(x, perm, row, out):
    """``out``'s row r is ``x``'s row ``perm[r]`` (flat arrays, rows of ``row`` elements)."""
    check_device_arrays("gather_rows", x=x, perm=perm, out=out)
    blocks, threads = grid_1d(out.size)
    _gather_rows_kernel[blocks, threads](x, perm, row, out)


@cuda.jit
def _multinomial_grad_kernel(prob, samples, glogp, n_cat, draws, dx):
    for i in range(cuda.grid(1), samples.size, cuda.gridsize(1)):
        j = (i // draws) * n_cat + samples[i]
        cuda.atomic.add(dx, j, glogp[i] / prob[j])


def multinomial_grad(prob, samples, glogp, n_cat, draws, accumulate, dx):
    """Gradient of the multinomial log-probabilities: ``dx[row, k] += g / prob[row, k]`` for
    each draw k of the row (``cuda.atomic.add``: a category may be drawn several times)."""
    from .elemwise import fill
    check_device_arrays("multinomial_grad", prob=prob, samples=samples, glogp=glogp, dx=dx)
    if not accumulate:
        fill(dx, 0)
    blocks, threads = grid_1d(samples.size)
    _multinomial_grad_kernel[blocks, threads](prob, samples, glogp, n_cat, draws, dx)
