"""CUDA twin of ``kernels/cpu/nn_extra_ctc.py`` (the CTC loss and its gradient, log-space
forward-backward; see that module for the recursions); numpy twin in
``kernels/reference/nn_extra_ctc.py``.

**Launch strategy.** The recursions are sequential in time and each step needs the whole
previous column, so one *thread* runs one sample from start to end (threads stride over the
batch). This is the simple, readable mapping: parallel across the batch only. A faster kernel
would give each sample a block and synchronise the block per time step. The per-class
accumulator is a scratch row of ``acc`` per sample, since a kernel cannot allocate.
"""
from __future__ import annotations

import math

from numba import cuda

from .launch import grid_1d, check_device_arrays

__all__ = ["ctc_loss", "ctc_grad"]

PTX_SIGNATURES = {
    "_ctc_kernel": ["{t}[:, :, ::1], {t}[:, ::1], {t}[::1], boolean, {t}[::1], boolean, int64, "
                    "int64, {t}[::1], float64[:, :, ::1], float64[:, :, ::1], "
                    "float64[:, :, ::1], float64[:, ::1]"],
    "_ctc_grad_kernel": ["float64[:, :, ::1], {t}[::1], boolean, {t}[:, :, ::1]"],
}

_NEG_INF = -math.inf


@cuda.jit(device=True)
def _lse(a, b):
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@cuda.jit(device=True)
def _sym(labels, n, s, blank):
    return blank if s % 2 == 0 else int(labels[n, (s - 1) // 2])


# twin of kernels/cpu/nn_extra_ctc.py:ctc_loss, line for line (a thread per sample instead of a
# prange task; the per-class accumulator is a scratch row): keep the two in step
@cuda.jit
def _ctc_kernel(x, labels, label_lens, use_label_lens, data_lens, use_data_lens, blank, pad,
                loss, grad, alpha, beta, acc):
    T, N, C = x.shape
    for n in range(cuda.grid(1), N, cuda.gridsize(1)):
        tn = min(max(int(data_lens[n]), 1), T) if use_data_lens else T
        L = labels.shape[1]
        if use_label_lens:
            L = min(int(label_lens[n]), labels.shape[1])
        else:
            for j in range(labels.shape[1]):
                if int(labels[n, j]) == pad and L == labels.shape[1]:
                    L = j
        S = 2 * L + 1
        for t in range(T):
            if t >= tn:
                for c in range(C):
                    grad[t, n, c] = 0.0
                continue
            m = x[t, n, 0]
            for c in range(1, C):
                m = max(m, x[t, n, c])
            z = 0.0
            for c in range(C):
                z += math.exp(x[t, n, c] - m)
            lz = m + math.log(z)
            for c in range(C):
                grad[t, n, c] = x[t, n, c] - lz
        for t in range(tn):
            for s in range(S):
                alpha[n, t, s] = _NEG_INF
                beta[n, t, s] = _NEG_INF
        alpha[n, 0, 0] = grad[0, n, blank]
        if S > 1:
            alpha[n, 0, 1] = grad[0, n, _sym(labels, n, 1, blank)]
        for t in range(1, tn):
            for s in range(S):
                k = _sym(labels, n, s, blank)
                a = alpha[n, t - 1, s]
                if s >= 1:
                    a = _lse(a, alpha[n, t - 1, s - 1])
                if s >= 2 and k != blank and k != _sym(labels, n, s - 2, blank):
                    a = _lse(a, alpha[n, t - 1, s - 2])
                alpha[n, t, s] = a + grad[t, n, k]
        log_p = alpha[n, tn - 1, S - 1]
        if S > 1:
            log_p = _lse(log_p, alpha[n, tn - 1, S - 2])
        beta[n, tn - 1, S - 1] = 0.0
        if S > 1:
            beta[n, tn - 1, S - 2] = 0.0
        for t in range(tn - 2, -1, -1):
            for s in range(S):
                b = beta[n, t + 1, s] + grad[t + 1, n, _sym(labels, n, s, blank)]
                if s + 1 < S:
                    b = _lse(b, beta[n, t + 1, s + 1]
                             + grad[t + 1, n, _sym(labels, n, s + 1, blank)])
                if s + 2 < S:
                    k2 = _sym(labels, n, s + 2, blank)
                    if k2 != blank and k2 != _sym(labels, n, s, blank):
                        b = _lse(b, beta[n, t + 1, s + 2] + grad[t + 1, n, k2])
                beta[n, t, s] = b
        loss[n] = -log_p
        for t in range(tn):
            if log_p == _NEG_INF:
                for c in range(C):
                    grad[t, n, c] = 0.0
                continue
            for c in range(C):
                acc[n, c] = _NEG_INF
            for s in range(S):
                k = _sym(labels, n, s, blank)
                acc[n, k] = _lse(acc[n, k], alpha[n, t, s] + beta[n, t, s])
            for c in range(C):
                grad[t, n, c] = math.exp(grad[t, n, c]) - math.exp(acc[n, c] - log_p)


@cuda.jit
def _ctc_grad_kernel(grad, head, accumulate, dx):
    T, N, C = grad.shape
    for e in range(cuda.grid(1), T * N * C, cuda.gridsize(1)):
        t, n, c = e // (N * C), (e // C) % N, e % C
        v = grad[t, n, c] * head[n]
        if accumulate:
            dx[t, n, c] += v
        else:
            dx[t, n, c] = v


def ctc_loss(x, labels, label_lens, use_label_lens, data_lens, use_data_lens, blank, pad,
             loss, grad, alpha, beta, acc):
    """The CTC loss per sample and its activation gradient (see the CPU twin, which has the
    same arguments but ``acc``: a float64 (N, C) device scratch here)."""
    check_device_arrays("ctc_loss", x=x, labels=labels, label_lens=label_lens,
                        data_lens=data_lens, loss=loss, grad=grad, alpha=alpha, beta=beta,
                        acc=acc)
    blocks, threads = grid_1d(x.shape[1])
    _ctc_kernel[blocks, threads](x, labels, label_lens, bool(use_label_lens), data_lens,
                                 bool(use_data_lens), int(blank), int(pad), loss, grad, alpha,
                                 beta, acc)


def ctc_grad(grad, head, accumulate, dx):
    """``dx[t, n, c] (+)= grad[t, n, c] * head[n]``: the loss gradient times the head's."""
    check_device_arrays("ctc_grad", grad=grad, head=head, dx=dx)
    blocks, threads = grid_1d(grad.size)
    _ctc_grad_kernel[blocks, threads](grad, head, bool(accumulate), dx)
