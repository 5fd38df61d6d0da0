"""Numba CPU kernel of the CTC loss (``ops/nn_extra_ctc.py``): the forward-backward algorithm of
Graves et al. (2006) in log space, one sample per parallel task.

For a label sequence ``l`` of length ``L`` the *extended* sequence ``l'`` puts a blank before,
between and after the labels (``S = 2L + 1`` states: even states are blanks, state ``2i + 1`` is
``l[i]``). With ``log y[t, c]`` the log-softmax of the activations:

* ``alpha[t, s]``: log probability of all prefixes of length ``t + 1`` ending in state ``s``
  (emission at t included); a state is entered from ``s``, ``s - 1``, or ``s - 2`` when ``l'_s``
  is a label different from ``l'_{s-2}``;
* ``beta[t, s]``: log probability of all suffixes after time ``t`` from state ``s`` (emission
  at t *excluded*), so ``alpha[t, s] + beta[t, s]`` is the log mass of the paths through
  state ``s`` at time ``t``;
* ``loss = -log P`` with ``P`` the sum over the two final states; the gradient with respect to
  the activations is ``y[t, c] - sum over states s with l'_s = c of exp(alpha + beta - log P)``.

Labels arrive as floats (truncated); without explicit lengths a label row ends at its first
``pad`` value, and every sample uses all ``T`` steps (a data length is clipped to [1, T]). An impossible alignment (a label longer
than its data allows) gives an infinite loss and a zero gradient. numpy twin:
``kernels/reference/nn_extra_ctc.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["ctc_loss"]

_NEG_INF = -np.inf


@njit(cache=True, inline="always")
def _lse(a, b):
    """log(exp(a) + exp(b)) without overflow; -inf stays -inf."""
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@njit(cache=True, inline="always")
def _sym(labels, n, s, blank):
    return blank if s % 2 == 0 else int(labels[n, (s - 1) // 2])


@njit(cache=True, parallel=True)
def ctc_loss(x, labels, label_lens, use_label_lens, data_lens, use_data_lens, blank, pad,
             loss, grad, alpha, beta):
    """CTC loss per sample into ``loss`` (N,) and its gradient with respect to the activations
    ``x`` (T, N, C) into ``grad`` (T, N, C, float64; zero beyond a sample's data length).
    ``alpha``/``beta`` are float64 scratch (N, T, 2 * labels.shape[1] + 1)."""
    T, N, C = x.shape
    for n in prange(N):
        tn = min(max(int(data_lens[n]), 1), T) if use_data_lens else T
        if use_label_lens:
            L = int(labels.shape[1] if label_lens[n] > labels.shape[1] else label_lens[n])
        else:
            L = labels.shape[1]
            for j in range(labels.shape[1]):
                if int(labels[n, j]) == pad:
                    L = j
                    break
        S = 2 * L + 1
        # log-softmax of every step into grad (overwritten by the gradient at the end)
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
                    b = _lse(b, beta[n, t + 1, s + 1] + grad[t + 1, n, _sym(labels, n, s + 1,
                                                                              blank)])
                if s + 2 < S:
                    k2 = _sym(labels, n, s + 2, blank)
                    if k2 != blank and k2 != _sym(labels, n, s, blank):
                        b = _lse(b, beta[n, t + 1, s + 2] + grad[t + 1, n, k2])
                beta[n, t, s] = b
        loss[n] = -log_p
        acc = np.empty(C)
        for t in range(tn):
            if log_p == _NEG_INF:
                for c in range(C):
                    grad[t, n, c] = 0.0
                continue
            for c in range(C):
                acc[c] = _NEG_INF
            for s in range(S):
                k = _sym(labels, n, s, blank)
                acc[k] = _lse(acc[k], alpha[n, t, s] + beta[n, t, s])
            for c in range(C):
                grad[t, n, c] = math.exp(grad[t, n, c]) - math.exp(acc[c] - log_p)
