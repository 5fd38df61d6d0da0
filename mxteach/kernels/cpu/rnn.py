"""Numba CPU kernels for the fused ``RNN`` operator (``ops/rnn.py``): one time step of one layer
in one direction, for the four modes.

The operator does the matrix products with numpy's BLAS (the input projection of all steps at
once, the hidden projection once per step) and hands these kernels the two pre-activations of
step t, both shaped (N, G*H) with the G gate blocks side by side in MXNet's packing order::

    gx = x_t W_x^T + b_x          gh = h_{t-1} W_h^T + b_h

``cell_forward`` applies the gates and writes h_t (and c_t for LSTM), keeping what backward
needs in ``saved``; ``cell_backward`` turns the gradient of h_t (and c_t) into the gradients of
``gx`` and ``gh`` and the part of dh_{t-1} that does not go through W_h. They are the same for
GRU only because the reset gate multiplies ``gh``'s candidate block *after* the matrix product
(MXNet's and cuDNN's GRU, not the original paper's): ``n = tanh(gx_n + r * gh_n)``.

``saved`` holds, per row: LSTM ``[i, f, g, o]`` (activated); GRU ``[r, z, n, gh_n]``; the plain
RNNs nothing (their derivative comes from h_t). Arrays are contiguous float32 or float64;
unused arguments (``c`` outside LSTM) may be 0-size. The numpy twins with the same names and
signatures are in ``kernels/reference/rnn.py``. Set ``NUMBA_DISABLE_JIT=1`` to step through.
"""
from __future__ import annotations

import math

from numba import njit

__all__ = ["MODE_CODES", "NUM_GATES", "saved_width", "cell_forward", "cell_backward"]

MODE_CODES = {"rnn_relu": 0, "rnn_tanh": 1, "lstm": 2, "gru": 3}
NUM_GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def saved_width(mode, hidden):
    """Columns of ``saved`` per row for ``mode`` (a name) and ``hidden`` units."""
    return 4 * hidden if mode in ("lstm", "gru") else 0


@njit(cache=True, inline="always")
def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


# twin of kernels/cuda/rnn.py:_cell_forward_kernel: a loop over (n, k) here, a thread there
@njit(cache=True)
def cell_forward(gx, gh, h_prev, c_prev, h, c, saved, mode):
    """One step: gates from the pre-activations ``gx``/``gh`` (N, G*H), writes ``h`` (N, H),
    ``c`` (LSTM) and ``saved``. ``mode`` is a :data:`MODE_CODES` value."""
    N, H = h.shape
    for n in range(N):
        if mode <= 1:
            for k in range(H):
                a = gx[n, k] + gh[n, k]
                if mode == 0:
                    h[n, k] = a if a > 0 else 0.0
                else:
                    h[n, k] = math.tanh(a)
        elif mode == 2:
            for k in range(H):
                i = _sigmoid(gx[n, k] + gh[n, k])
                f = _sigmoid(gx[n, H + k] + gh[n, H + k])
                g = math.tanh(gx[n, 2 * H + k] + gh[n, 2 * H + k])
                o = _sigmoid(gx[n, 3 * H + k] + gh[n, 3 * H + k])
                cn = f * c_prev[n, k] + i * g
                c[n, k] = cn
                h[n, k] = o * math.tanh(cn)
                saved[n, k] = i
                saved[n, H + k] = f
                saved[n, 2 * H + k] = g
                saved[n, 3 * H + k] = o
        else:
            for k in range(H):
                r = _sigmoid(gx[n, k] + gh[n, k])
                z = _sigmoid(gx[n, H + k] + gh[n, H + k])
                hn = gh[n, 2 * H + k]
                cand = math.tanh(gx[n, 2 * H + k] + r * hn)
                h[n, k] = (1.0 - z) * cand + z * h_prev[n, k]
                saved[n, k] = r
                saved[n, H + k] = z
                saved[n, 2 * H + k] = cand
                saved[n, 3 * H + k] = hn


# twin of kernels/cuda/rnn.py:_cell_backward_kernel: a loop over (n, k) here, a thread there
@njit(cache=True)
def cell_backward(dh, dc, h_prev, c_prev, c, h, saved, dgx, dgh, dh_prev, dc_prev, mode):
    """Gradients of one step. ``dh`` is the whole gradient of h_t, ``dc`` that of c_t coming
    from step t+1 (LSTM). Writes ``dgx``/``dgh`` (N, G*H), ``dh_prev`` (N, H: only the path
    that skips W_h, i.e. GRU's ``z * dh``; the operator adds ``dgh @ W_h``) and ``dc_prev``."""
    N, H = dh.shape
    for n in range(N):
        if mode <= 1:
            for k in range(H):
                y = h[n, k]
                if mode == 0:
                    d = dh[n, k] if y > 0 else 0.0
                else:
                    d = dh[n, k] * (1.0 - y * y)
                dgx[n, k] = d
                dgh[n, k] = d
                dh_prev[n, k] = 0.0
        elif mode == 2:
            for k in range(H):
                i = saved[n, k]
                f = saved[n, H + k]
                g = saved[n, 2 * H + k]
                o = saved[n, 3 * H + k]
                tc = math.tanh(c[n, k])
                dct = dc[n, k] + dh[n, k] * o * (1.0 - tc * tc)
                di = dct * g * i * (1.0 - i)
                df = dct * c_prev[n, k] * f * (1.0 - f)
                dg = dct * i * (1.0 - g * g)
                do = dh[n, k] * tc * o * (1.0 - o)
                dgx[n, k] = di
                dgx[n, H + k] = df
                dgx[n, 2 * H + k] = dg
                dgx[n, 3 * H + k] = do
                dgh[n, k] = di
                dgh[n, H + k] = df
                dgh[n, 2 * H + k] = dg
                dgh[n, 3 * H + k] = do
                dc_prev[n, k] = dct * f
                dh_prev[n, k] = 0.0
        else:
            for k in range(H):
                r = saved[n, k]
                z = saved[n, H + k]
                cand = saved[n, 2 * H + k]
                hn = saved[n, 3 * H + k]
                dn = dh[n, k] * (1.0 - z) * (1.0 - cand * cand)
                dr = dn * hn * r * (1.0 - r)
                dz = dh[n, k] * (h_prev[n, k] - cand) * z * (1.0 - z)
                dgx[n, k] = dr
                dgx[n, H + k] = dz
                dgx[n, 2 * H + k] = dn
                dgh[n, k] = dr
                dgh[n, H + k] = dz
                dgh[n, 2 * H + k] = dn * r
                dh_prev[n, k] = dh[n, k] * z
