"""Numba CPU kernels for the neural-network layer family (``ops/nn.py``, ``ops/nn_norm.py``).

Activation and LeakyReLU share one pair of elementwise kernels chosen by an integer code
(``ACT_CODES``); PReLU, BatchNorm and Embedding have their own. Every kernel works on
contiguous float32 or float64 arrays and has a numpy twin with the same name and signature in
``kernels/reference/nn.py``; the tests run both on the same data.

BatchNorm's per-channel loops run in parallel (prange); the elementwise, PReLU and Embedding
loops stay serial (memory-bound one-pass loops; a parallel kernel also compiles far slower).

Backward kernels take ``accumulate``: False overwrites the gradient ('write'), True adds to it
('add'), so the operators never need a temporary for grad_req='add'.

Set ``NUMBA_DISABLE_JIT=1`` to step through these functions in a debugger as plain Python.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import gemm_threads

__all__ = ["ACT_CODES", "SOFTRELU_THRESHOLD", "SELU_ALPHA", "SELU_LAMBDA",
           "unary_forward", "unary_backward", "prelu_forward", "prelu_backward",
           "bn_batch_stats", "bn_forward", "bn_backward", "embedding_forward",
           "embedding_backward", "matmul"]

# Activation act_types and the elementwise LeakyReLU act_types, one code each.
ACT_CODES = {"relu": 0, "sigmoid": 1, "tanh": 2, "softrelu": 3, "softsign": 4,
             "leaky": 5, "elu": 6, "selu": 7, "gelu": 8}
SOFTRELU_THRESHOLD = 20.0        # above it softrelu(x) is x (as MXNet, avoids exp overflow)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
_SQRT_HALF = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


# One pair of scalar functions per act_type: the value, and the derivative at input v with
# output y (MXNet takes most derivatives from the output). They are inlined into the loops.
@njit(cache=True, inline="always")
def _relu(v, s):
    return v if v > 0 else 0.0


@njit(cache=True, inline="always")
def _relu_d(v, y, s):
    return 1.0 if y > 0 else 0.0


@njit(cache=True, inline="always")
def _sigmoid_d(v, y, s):
    return y * (1.0 - y)


@njit(cache=True, inline="always")
def _tanh_d(v, y, s):
    return 1.0 - y * y


@njit(cache=True, inline="always")
def _softrelu(v, s):
    return v if v > SOFTRELU_THRESHOLD else math.log1p(math.exp(v))


@njit(cache=True, inline="always")
def _softrelu_d(v, y, s):
    return -math.expm1(-y)


@njit(cache=True, inline="always")
def _softsign(v, s):
    return v / (1.0 + abs(v))


@njit(cache=True, inline="always")
def _softsign_d(v, y, s):
    d = 1.0 + abs(v)
    return 1.0 / (d * d)


@njit(cache=True, inline="always")
def _leaky(v, s):
    return v if v > 0 else s * v


@njit(cache=True, inline="always")
def _leaky_d(v, y, s):
    return 1.0 if v > 0 else s


@njit(cache=True, inline="always")
def _elu(v, s):
    return v if v > 0 else s * math.expm1(v)


@njit(cache=True, inline="always")
def _elu_d(v, y, s):
    return 1.0 if v > 0 else y + s


@njit(cache=True, inline="always")
def _selu(v, s):
    return SELU_LAMBDA * (v if v > 0 else SELU_ALPHA * math.expm1(v))


@njit(cache=True, inline="always")
def _selu_d(v, y, s):
    # MXNet 1.9.1 uses lambda * (y + alpha) for x <= 0, where the true derivative is
    # y + lambda * alpha. We give MXNet's numbers (tests: test_selu_gradient_is_mxnets).
    return SELU_LAMBDA if v > 0 else SELU_LAMBDA * (y + SELU_ALPHA)


@njit(cache=True, inline="always")
def _gelu(v, s):
    return 0.5 * v * (1.0 + math.erf(v * _SQRT_HALF))    # the exact (erf) form, as MXNet 1.9


@njit(cache=True, inline="always")
def _gelu_d(v, y, s):
    return 0.5 * (1.0 + math.erf(v * _SQRT_HALF)) + v * _INV_SQRT_2PI * math.exp(-0.5 * v * v)


def unary_forward(x, out, code, slope):
    """out[i] = act(x[i]) for the activation ``code`` (flat arrays).

    tanh and sigmoid go through numpy's ufuncs, which evaluate tanh and exp with SIMD
    polynomials: 45x (tanh) and 5x (sigmoid) faster than the scalar libm call per element
    Numba makes without SVML (a 737k-element LeNet activation: 10.8 ms -> 0.24 ms), and the
    same float32/float64 arithmetic as the numpy twin. The others run the Numba loops below.
    """
    if code == 2:
        np.tanh(x, out=out)
    elif code == 1:                       # 1 / (1 + exp(-x)), in place in ``out``
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1, out=out)
        np.reciprocal(out, out=out)
    else:
        _unary_loop(x, out, code, slope)


# One loop per act_type, not one loop that branches per element: LLVM vectorises and
# unswitches the small loops, while a nine-way branch inside one loop ran ~100x slower.
# Serial on purpose: these are memory-bound or libm-bound one-pass loops where threads gave
# little on 2 shared cores, and a parallel version compiles six times slower.
@njit(cache=True)
def _unary_loop(x, out, code, slope):
    """unary_forward for the act_types without a numpy ufunc path (codes 0 and 3..8)."""
    n = x.shape[0]
    if code == 0:
        for i in range(n):
            out[i] = _relu(x[i], slope)
    elif code == 3:
        for i in range(n):
            out[i] = _softrelu(x[i], slope)
    elif code == 4:
        for i in range(n):
            out[i] = _softsign(x[i], slope)
    elif code == 5:
        for i in range(n):
            out[i] = _leaky(x[i], slope)
    elif code == 6:
        for i in range(n):
            out[i] = _elu(x[i], slope)
    elif code == 7:
        for i in range(n):
            out[i] = _selu(x[i], slope)
    else:
        for i in range(n):
            out[i] = _gelu(x[i], slope)


@njit(cache=True, inline="always")
def _store(dx, i, g, accumulate):
    if accumulate:
        dx[i] += g
    else:
        dx[i] = g


@njit(cache=True)
def unary_backward(x, y, dy, dx, code, slope, accumulate):
    """dx[i] (+)= dy[i] * act'(x[i]); ``y`` is the forward output (flat arrays)."""
    n = x.shape[0]
    if code == 0:
        for i in range(n):
            _store(dx, i, dy[i] * _relu_d(x[i], y[i], slope), accumulate)
    elif code == 1:
        for i in range(n):
            _store(dx, i, dy[i] * _sigmoid_d(x[i], y[i], slope), accumulate)
    elif code == 2:
        for i in range(n):
            _store(dx, i, dy[i] * _tanh_d(x[i], y[i], slope), accumulate)
    elif code == 3:
        for i in range(n):
            _store(dx, i, dy[i] * _softrelu_d(x[i], y[i], slope), accumulate)
    elif code == 4:
        for i in range(n):
            _store(dx, i, dy[i] * _softsign_d(x[i], y[i], slope), accumulate)
    elif code == 5:
        for i in range(n):
            _store(dx, i, dy[i] * _leaky_d(x[i], y[i], slope), accumulate)
    elif code == 6:
        for i in range(n):
            _store(dx, i, dy[i] * _elu_d(x[i], y[i], slope), accumulate)
    elif code == 7:
        for i in range(n):
            _store(dx, i, dy[i] * _selu_d(x[i], y[i], slope), accumulate)
    else:
        for i in range(n):
            _store(dx, i, dy[i] * _gelu_d(x[i], y[i], slope), accumulate)


@njit(cache=True)
def prelu_forward(x3, gamma, out3):
    """PReLU on data viewed as (outer, C, inner); ``gamma`` has C entries or one shared one."""
    A, C, B = x3.shape
    shared = gamma.shape[0] == 1
    for ac in range(A * C):
        a = ac // C
        c = ac % C
        g = gamma[0] if shared else gamma[c]
        for b in range(B):
            v = x3[a, c, b]
            out3[a, c, b] = v if v > 0 else g * v


@njit(cache=True)
def prelu_backward(x3, gamma, dy3, dx3, dgamma_c, dx_mode):
    """Gradients of PReLU. ``dgamma_c`` (float64, C) receives the per-channel sums of dy * x
    over x <= 0 (sum them for a shared gamma). ``dx_mode``: 0 skip, 1 write, 2 add."""
    A, C, B = x3.shape
    shared = gamma.shape[0] == 1
    for c in range(C):
        g = gamma[0] if shared else gamma[c]
        s = 0.0
        for a in range(A):
            for b in range(B):
                v = x3[a, c, b]
                d = dy3[a, c, b]
                if v > 0:
                    gx = d
                else:
                    gx = g * d
                    s += d * v
                if dx_mode == 1:
                    dx3[a, c, b] = gx
                elif dx_mode == 2:
                    dx3[a, c, b] += gx
        dgamma_c[c] = s


# BatchNorm's channel sums may be reassociated: LLVM then keeps several float64 partial sums
# in vector registers instead of one serial chain of dependent adds (~4x faster; the sums
# differ from the serial order by a few float64 ulps). Nothing else is relaxed (no FMA
# contraction, no finite-math assumptions: NaN and inf still propagate).
_SUMS = {"reassoc"}


@njit(cache=True, parallel=True, fastmath=_SUMS)
def bn_batch_stats(x3, mean, var):
    """Per-channel mean and biased variance of data viewed as (outer, C, inner), two passes
    with float64 sums (``mean``/``var`` are float64 arrays of length C)."""
    A, C, B = x3.shape
    n = A * B
    for c in prange(C):
        s = 0.0
        for a in range(A):
            for b in range(B):
                s += x3[a, c, b]
        m = s / n
        ss = 0.0
        for a in range(A):
            for b in range(B):
                d = x3[a, c, b] - m
                ss += d * d
        mean[c] = m
        var[c] = ss / n


@njit(cache=True, parallel=True)
def bn_forward(x3, mean, invstd, gamma, beta, out3):
    """out = (x - mean) * invstd * gamma + beta per channel (all per-channel arrays length C)."""
    A, C, B = x3.shape
    for ac in prange(A * C):
        a = ac // C
        c = ac % C
        m = mean[c]
        k = invstd[c] * gamma[c]
        sh = beta[c]
        for b in range(B):
            out3[a, c, b] = (x3[a, c, b] - m) * k + sh


@njit(cache=True, parallel=True, fastmath=_SUMS)
def bn_backward(x3, dy3, mean, invstd, gamma, dx3, sum_dy, sum_dy_xhat, batch_stats, dx_mode):
    """BatchNorm gradients. Fills ``sum_dy`` (= dbeta) and ``sum_dy_xhat`` (= dgamma / gamma
    factor) per channel and, by ``dx_mode`` (0 skip, 1 write, 2 add), the data gradient.

    With batch statistics the mean and variance depend on x, which adds the two correction terms
    ``- mean(dy) - xhat * mean(dy * xhat)``; with global statistics they are constants.
    """
    A, C, B = x3.shape
    n = A * B
    for c in prange(C):
        m = mean[c]
        istd = invstd[c]
        s1 = 0.0
        s2 = 0.0
        for a in range(A):
            for b in range(B):
                d = dy3[a, c, b]
                s1 += d
                s2 += d * (x3[a, c, b] - m)
        s2 *= istd
        sum_dy[c] = s1
        sum_dy_xhat[c] = s2
        if dx_mode == 0:
            continue
        k = gamma[c] * istd
        # dx = k * (dy - mdy - xhat * mdyx), xhat = (x - m) * istd; with global statistics
        # dx = k * dy. The write/add choice sits outside the inner loops so they vectorise.
        mdy = s1 / n
        mdyx = s2 / n
        for a in range(A):
            if batch_stats and dx_mode == 1:
                for b in range(B):
                    dx3[a, c, b] = k * (dy3[a, c, b] - mdy - (x3[a, c, b] - m) * istd * mdyx)
            elif batch_stats:
                for b in range(B):
                    dx3[a, c, b] += k * (dy3[a, c, b] - mdy - (x3[a, c, b] - m) * istd * mdyx)
            elif dx_mode == 1:
                for b in range(B):
                    dx3[a, c, b] = k * dy3[a, c, b]
            else:
                for b in range(B):
                    dx3[a, c, b] += k * dy3[a, c, b]


# -- matrix product (FullyConnected, Convolution) ----------------------------------------------
_NO_TRANS, _TRANS, _ROW_MAJOR = 111, 112, 101          # CBLAS enum values


def matmul(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out (+)= op(a) @ op(b)``, op = transpose where asked (the CPU twin of
    ``kernels/cuda/nn.py`` ``matmul``).

    The BLAS threads it runs on follow ``kernels/cpu/__init__.py`` ``gemm_threads``. Writing
    goes through numpy (its GEMM straight into ``out``); accumulating calls OpenBLAS's
    GEMM with beta = 1, so ``grad_req='add'`` (a weight shared by every step of an unrolled
    LSTM) costs no temporary and no extra pass over ``out``. Without a callable BLAS, or for
    operands whose rows are not contiguous, it is ``out += op(a) @ op(b)``.
    """
    A = a.T if trans_a else a
    B = b.T if trans_b else b
    gemm_threads(2 * A.shape[0] * A.shape[1] * B.shape[-1])     # the thread policy per GEMM
    if not accumulate:
        np.matmul(A, B, out=out)
        return
    gemm, itype = (None, None)
    if (a.dtype == b.dtype == out.dtype and a.dtype.name in ("float32", "float64")
            and out.flags.c_contiguous and a.strides[-1] == b.strides[-1] == a.itemsize):
        from . import cblas_gemm
        gemm, itype = cblas_gemm(a.dtype.name)
    if gemm is None:
        out += A @ B
        return
    m, k = A.shape
    n = B.shape[1]
    if m == 0 or n == 0 or k == 0:       # nothing to add
        return
    size = a.itemsize
    gemm(_ROW_MAJOR, _TRANS if trans_a else _NO_TRANS, _TRANS if trans_b else _NO_TRANS,
         m, n, k, 1.0, a.ctypes.data, max(1, a.strides[0] // size), b.ctypes.data,
         max(1, b.strides[0] // size), 1.0, out.ctypes.data, max(1, n))


@njit(cache=True, inline="always")
def _row(v, n):
    """Embedding index: truncate toward zero, then clip into [0, n)."""
    k = int(v)
    if k < 0:
        return 0
    if k >= n:
        return n - 1
    return k


@njit(cache=True)
def embedding_forward(idx, weight, out2):
    """out2[i] = weight[clip(int(idx[i]))] (``idx`` flat, out2 (len(idx), output_dim))."""
    n = weight.shape[0]
    for i in range(idx.shape[0]):
        out2[i, :] = weight[_row(idx[i], n), :]


@njit(cache=True)
def embedding_backward(idx, dy2, dweight, accumulate):
    """dweight[row(idx[i])] += dy2[i]; rows hit twice accumulate. Serial: rows may collide."""
    if not accumulate:
        dweight[:, :] = 0
    n = dweight.shape[0]
    for i in range(idx.shape[0]):
        dweight[_row(idx[i], n), :] += dy2[i, :]
