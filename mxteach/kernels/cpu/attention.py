"""Numba CPU kernels of the interleaved multi-head attention products (``ops/attention.py``).

Layout. Projections are ``(S, B, H * C * D)`` arrays viewed 5-D as ``(S, B, H, C, D)``: sequence
position, batch, head, *component* and head dimension. Self-attention interleaves C = 3
components (query, key, value), encoder-decoder ``keys_values`` C = 2 (key, value); plain
``queries``, output values and their gradients are viewed with C = 1. Attention maps are
``(B * H, Sq, Sk)`` with batch-major rows ``b * H + h``.

Two batched products serve all four operators, forward and backward:

* ``scores``: ``out[bh, i, j] = scale * sum_d a[i, b, h, ia, d] * b[j, b, h, ib, d]`` (q k^T;
  also the attention gradient ``dy v^T``);
* ``mix``: ``g[i, b, h, ic, d] = scale * sum_j W[bh, i, j] * b[j, b, h, ib, d]`` with ``W`` the
  weights ``w`` or, with ``trans``, their transpose (attention @ v; also the gradients of q, k
  and v). It writes the *whole* ``g``: the components other than ``ic`` get 0 (self-attention
  gradients fill one interleaved array by a 'write' and then an 'add').

``mode``: 1 write, 2 add. Sums are float64. numpy twins: ``kernels/reference/attention.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["scores", "mix"]


@njit(cache=True, parallel=True)
def scores(a5, ia, b5, ib, scale, mode, out):
    Sq, B, H, _, D = a5.shape
    Sk = b5.shape[0]
    for bh in prange(B * H):
        b, h = bh // H, bh % H
        for i in range(Sq):
            for j in range(Sk):
                s = 0.0
                for d in range(D):
                    s += a5[i, b, h, ia, d] * b5[j, b, h, ib, d]
                if mode == 2:
                    out[bh, i, j] += scale * s
                else:
                    out[bh, i, j] = scale * s


@njit(cache=True, parallel=True)
def mix(b5, ib, w, trans, scale, mode, g5, ic):
    S, B, H, C, D = g5.shape
    J = b5.shape[0]
    for bh in prange(B * H):
        b, h = bh // H, bh % H
        for i in range(S):
            for c in range(C):
                for d in range(D):
                    s = 0.0
                    if c == ic:
                        for j in range(J):
                            s += (w[bh, j, i] if trans else w[bh, i, j]) * b5[j, b, h, ib, d]
                    if mode == 2:
                        g5[i, b, h, c, d] += scale * s
                    else:
                        g5[i, b, h, c, d] = scale * s
