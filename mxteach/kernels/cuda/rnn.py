"""CUDA kernels for the fused ``RNN`` operator (``ops/rnn.py``): one time step of one layer in one
direction, for the four modes — the GPU twins of ``kernels/cpu/rnn.py``'s ``cell_forward`` and
``cell_backward`` (numpy twins in ``kernels/reference/rnn.py``).

The operator runs the matrix products with the tiled GEMM of ``kernels/cuda/nn.py`` (the input
projection of all steps at once, the hidden projection once per step) and launches these
kernels between them, **one thread per (sample, hidden unit)**: each thread reads its G gate
pre-activations, applies the gates and writes h_t (and c_t). Three things differ from the CPU
kernels, to save launches and copies on a GPU:

* the biases ``b_x`` and ``b_h`` are added here instead of into the GEMM results;
* the forward also writes h_t into the layer's output ``y[t]`` at column offset ``y_off``
  (direction ``d`` owns columns ``d*H .. d*H+H`` of the (T, N, D*H) output);
* the backward reads the output gradient from ``dy[t]`` at the same offset and adds the
  gradient ``dh`` arriving from step t+1 itself.

``saved`` holds what backward needs, as on the CPU: LSTM ``[i, f, g, o]``; GRU
``[r, z, n, gh_n]`` (``gh_n`` with its bias); nothing for the plain RNNs.
"""
from __future__ import annotations

import math

from numba import cuda

from ..cpu.rnn import MODE_CODES, NUM_GATES, saved_width
from .launch import grid_1d, check_device_arrays

__all__ = ["MODE_CODES", "NUM_GATES", "saved_width", "cell_forward", "cell_backward"]

_M = "{t}[:, ::1]"
PTX_SIGNATURES = {
    "_cell_forward_kernel": [", ".join([_M, _M, "{t}[::1]", "{t}[::1]"] + [_M] * 6
                                       + ["int64", "int64"])],
    "_cell_backward_kernel": [", ".join([_M, "int64"] + [_M] * 11 + ["int64"])],
}


@cuda.jit(device=True)
def _sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


# twin of kernels/cpu/rnn.py:cell_forward: one thread per (n, k) here (biases added, y written)
@cuda.jit
def _cell_forward_kernel(gx, gh, bx, bh, h_prev, c_prev, h, c, saved, y, y_off, mode):
    N, H = h.shape
    for e in range(cuda.grid(1), N * H, cuda.gridsize(1)):
        n, k = e // H, e % H
        if mode <= 1:
            a = gx[n, k] + bx[k] + gh[n, k] + bh[k]
            v = (a if a > 0 else 0.0) if mode == 0 else math.tanh(a)
        elif mode == 2:
            i = _sigmoid(gx[n, k] + bx[k] + gh[n, k] + bh[k])
            f = _sigmoid(gx[n, H + k] + bx[H + k] + gh[n, H + k] + bh[H + k])
            g = math.tanh(gx[n, 2 * H + k] + bx[2 * H + k] + gh[n, 2 * H + k] + bh[2 * H + k])
            o = _sigmoid(gx[n, 3 * H + k] + bx[3 * H + k] + gh[n, 3 * H + k] + bh[3 * H + k])
            cn = f * c_prev[n, k] + i * g
            c[n, k] = cn
            v = o * math.tanh(cn)
            saved[n, k] = i
            saved[n, H + k] = f
            saved[n, 2 * H + k] = g
            saved[n, 3 * H + k] = o
        else:
            r = _sigmoid(gx[n, k] + bx[k] + gh[n, k] + bh[k])
            z = _sigmoid(gx[n, H + k] + bx[H + k] + gh[n, H + k] + bh[H + k])
            hn = gh[n, 2 * H + k] + bh[2 * H + k]
            cand = math.tanh(gx[n, 2 * H + k] + bx[2 * H + k] + r * hn)
            v = (1.0 - z) * cand + z * h_prev[n, k]
            saved[n, k] = r
            saved[n, H + k] = z
            saved[n, 2 * H + k] = cand
            saved[n, 3 * H + k] = hn
        h[n, k] = v
        y[n, y_off + k] = v


# twin of kernels/cpu/rnn.py:cell_backward: one thread per (n, k) here (dy read at its offset)
@cuda.jit
def _cell_backward_kernel(dy, y_off, dh_next, dc, h_prev, c_prev, c, h, saved, dgx, dgh,
                          dh_prev, dc_prev, mode):
    N, H = h.shape
    for e in range(cuda.grid(1), N * H, cuda.gridsize(1)):
        n, k = e // H, e % H
        dh = dy[n, y_off + k] + dh_next[n, k]
        if mode <= 1:
            v = h[n, k]
            if mode == 0:
                d = dh if v > 0 else 0.0
            else:
                d = dh * (1.0 - v * v)
            dgx[n, k] = d
            dgh[n, k] = d
            dh_prev[n, k] = 0.0
        elif mode == 2:
            i = saved[n, k]
            f = saved[n, H + k]
            g = saved[n, 2 * H + k]
            o = saved[n, 3 * H + k]
            tc = math.tanh(c[n, k])
            dct = dc[n, k] + dh * o * (1.0 - tc * tc)
            di = dct * g * i * (1.0 - i)
            df = dct * c_prev[n, k] * f * (1.0 - f)
            dg = dct * i * (1.0 - g * g)
            do = dh * tc * o * (1.0 - o)
            for j, v in ((0, di), (1, df), (2, dg), (3, do)):
                dgx[n, j * H + k] = v
                dgh[n, j * H + k] = v
            dc_prev[n, k] = dct * f
            dh_prev[n, k] = 0.0
        else:
            r = saved[n, k]
            z = saved[n, H + k]
            cand = saved[n, 2 * H + k]
            hn = saved[n, 3 * H + k]
            dn = dh * (1.0 - z) * (1.0 - cand * cand)
            dr = dn * hn * r * (1.0 - r)
            dz = dh * (h_prev[n, k] - cand) * z * (1.0 - z)
            dgx[n, k] = dr
            dgx[n, H + k] = dz
            dgx[n, 2 * H + k] = dn
            dgh[n, k] = dr
            dgh[n, H + k] = dz
            dgh[n, 2 * H + k] = dn * r
            dh_prev[n, k] = dh * z


def cell_forward(gx, gh, bx, bh, h_prev, c_prev, h, c, saved, y, y_off, mode):
    """One step from the bias-free pre-activations ``gx = x_t W_x^T`` and ``gh = h_{t-1}
    W_h^T`` (N, G*H) and the biases: writes ``h`` (N, H), ``c`` (LSTM), ``saved`` and
    ``y[:, y_off:y_off+H]``. Arrays unused by ``mode`` (``c`` outside LSTM) may be any
    placeholder of the right dtype."""
    check_device_arrays("rnn cell_forward", gx=gx, gh=gh, bx=bx, bh=bh, h_prev=h_prev,
                        c_prev=c_prev, h=h, c=c, saved=saved, y=y)
    blocks, threads = grid_1d(h.size)
    _cell_forward_kernel[blocks, threads](gx, gh, bx, bh, h_prev, c_prev, h, c, saved, y,
                                          int(y_off), int(mode))


def cell_backward(dy, y_off, dh_next, dc, h_prev, c_prev, c, h, saved, dgx, dgh, dh_prev,
                  dc_prev, mode):
    """Gradients of one step: the gradient of h_t is ``dy[:, y_off:y_off+H] + dh_next``,
    that of c_t ``dc`` (LSTM). Writes ``dgx``/``dgh`` (N, G*H), ``dh_prev`` (the part of
    dh_{t-1} that skips W_h) and ``dc_prev`` (LSTM)."""
    check_device_arrays("rnn cell_backward", dy=dy, dh_next=dh_next, dc=dc, h_prev=h_prev,
                        c_prev=c_prev, c=c, h=h, saved=saved, dgx=dgx, dgh=dgh,
                        dh_prev=dh_prev, dc_prev=dc_prev)
    blocks, threads = grid_1d(h.size)
    _cell_backward_kernel[blocks, threads](dy, int(y_off), dh_next, dc, h_prev, c_prev, c, h,
                                           saved, dgx, dgh, dh_prev, dc_prev, int(mode))
