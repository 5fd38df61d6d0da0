"""Numpy references for ``kernels/cpu/rnn.py``: same names, same signatures, written for clarity
rather than speed (whole-array gate arithmetic in float64). The tests run both on the same data
and also run the whole ``RNN`` operator with these functions in place of the Numba ones."""
from __future__ import annotations

import numpy as np

from ..cpu.rnn import MODE_CODES, NUM_GATES, saved_width

__all__ = ["MODE_CODES", "NUM_GATES", "saved_width", "cell_forward", "cell_backward"]

_RELU, _TANH, _LSTM, _GRU = (MODE_CODES[m] for m in ("rnn_relu", "rnn_tanh", "lstm", "gru"))


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _split(a, k):
    """The ``k`` gate blocks of a (N, k*H) array, each (N, H)."""
    return np.split(np.asarray(a, dtype=np.float64), k, axis=1)


def cell_forward(gx, gh, h_prev, c_prev, h, c, saved, mode):
    pre_x, pre_h = np.asarray(gx, np.float64), np.asarray(gh, np.float64)
    if mode in (_RELU, _TANH):
        a = pre_x + pre_h
        h[...] = np.maximum(a, 0) if mode == _RELU else np.tanh(a)
        return
    if mode == _LSTM:
        xi, xf, xg, xo = _split(pre_x + pre_h, 4)
        i, f, g, o = _sigmoid(xi), _sigmoid(xf), np.tanh(xg), _sigmoid(xo)
        c_new = f * c_prev + i * g
        c[...] = c_new
        h[...] = o * np.tanh(c_new)
        saved[...] = np.concatenate([i, f, g, o], axis=1)
        return
    xr, xz, xn = _split(pre_x, 3)
    hr, hz, hn = _split(pre_h, 3)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)          # reset applied after the hidden matmul (cuDNN's GRU)
    h[...] = (1 - z) * n + z * h_prev
    saved[...] = np.concatenate([r, z, n, hn], axis=1)


def cell_backward(dh, dc, h_prev, c_prev, c, h, saved, dgx, dgh, dh_prev, dc_prev, mode):
    dh = np.asarray(dh, np.float64)
    if mode in (_RELU, _TANH):
        hv = np.asarray(h, np.float64)
        da = dh * ((hv > 0) if mode == _RELU else (1 - hv * hv))
        dgx[...] = da
        dgh[...] = da
        dh_prev[...] = 0
        return
    if mode == _LSTM:
        i, f, g, o = _split(saved, 4)
        tc = np.tanh(np.asarray(c, np.float64))
        dct = np.asarray(dc, np.float64) + dh * o * (1 - tc * tc)
        d = np.concatenate([dct * g * i * (1 - i), dct * c_prev * f * (1 - f),
                            dct * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
        dgx[...] = d
        dgh[...] = d
        dc_prev[...] = dct * f
        dh_prev[...] = 0
        return
    r, z, n, hn = _split(saved, 4)
    dn = dh * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = dh * (np.asarray(h_prev, np.float64) - n) * z * (1 - z)
    dgx[...] = np.concatenate([dr, dz, dn], axis=1)
    dgh[...] = np.concatenate([dr, dz, dn * r], axis=1)
    dh_prev[...] = dh * z
