"""numpy twin of ``kernels/cpu/nn_extra_ctc.py``, written independently: the same
forward-backward recursions in *probability* space (no logarithms; fine for the short test
sequences) with Graves' beta that includes the emission at t, so the gradient is
``y - sum over s of alpha * beta / (y * P)``. The tests trust this."""
from __future__ import annotations

import numpy as np

__all__ = ["ctc_loss"]


def _label_row(labels, n, label_lens, use_label_lens, pad):
    row = np.trunc(labels[n]).astype(np.int64)
    if use_label_lens:
        return row[:int(min(label_lens[n], row.size))]
    hits = np.flatnonzero(row == pad)
    return row[:hits[0]] if hits.size else row


def ctc_loss(x, labels, label_lens, use_label_lens, data_lens, use_data_lens, blank, pad,
             loss, grad, alpha, beta):
    T, N, C = x.shape
    grad[...] = 0
    for n in range(N):
        tn = int(min(max(int(data_lens[n]), 1), T)) if use_data_lens else T
        lab = _label_row(labels, n, label_lens, use_label_lens, pad)
        ext = np.full(2 * lab.size + 1, blank)
        ext[1::2] = lab
        S = ext.size
        e = np.exp(x[:tn, n].astype(np.float64) - x[:tn, n].max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        a = np.zeros((tn, S))
        b = np.zeros((tn, S))
        a[0, 0] = y[0, blank]
        if S > 1:
            a[0, 1] = y[0, ext[1]]
        skip = np.array([s >= 2 and ext[s] != blank and ext[s] != ext[s - 2] for s in range(S)])
        for t in range(1, tn):
            prev = a[t - 1].copy()
            prev[1:] += a[t - 1, :-1]
            prev[skip] += a[t - 1, np.flatnonzero(skip) - 2]
            a[t] = prev * y[t, ext]
        b[tn - 1, S - 1] = y[tn - 1, ext[S - 1]]
        if S > 1:
            b[tn - 1, S - 2] = y[tn - 1, ext[S - 2]]
        for t in range(tn - 2, -1, -1):
            nxt = b[t + 1].copy()
            nxt[:-1] += b[t + 1, 1:]
            into = np.flatnonzero(skip)          # s + 2 reachable from s where skip[s + 2]
            nxt[into - 2] += b[t + 1, into]
            b[t] = nxt * y[t, ext]
        p = a[tn - 1, S - 1] + (a[tn - 1, S - 2] if S > 1 else 0.0)
        loss[n] = -np.log(p) if p > 0 else np.inf
        if p > 0:
            through = np.zeros((tn, C))
            for s in range(S):
                through[:, ext[s]] += a[:, s] * b[:, s]
            grad[:tn, n] = y - through / (y * p)
