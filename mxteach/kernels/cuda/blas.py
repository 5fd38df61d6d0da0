"""CUDA matrix multiply: ``out (+)= op(a) @ op(b)`` with ``op`` an optional transpose.

FullyConnected needs three products: ``x @ W.T`` forward, ``g @ W`` and ``g.T @ x`` backward.
The transpose flags read the stored arrays in the other order, so no transposed copy is made.
On the CPU the operator calls numpy's BLAS (``np.matmul``), which is also the tests' reference.

Two kernels, chosen by :func:`matmul`:

* ``naive``: one thread per output element reads a row of ``op(a)`` and a column of ``op(b)``
  from global memory. Simple, and right for outputs smaller than a tile.
* ``tiled``: a ``TILE x TILE`` block stages one tile of each operand in shared memory, then every
  thread reuses it ``TILE`` times, cutting global reads by ``TILE``. Loads are coalesced even for
  transposed operands (neighbouring threads read neighbouring addresses; the tile is written
  transposed into shared memory instead), and the tiles have one padding column so those
  transposed writes do not collide on a shared-memory bank.

Both accumulate in the operands' dtype (float32 or float64), as a BLAS does; the order of the
sums differs from numpy's, so results agree to rounding.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from ...base import MXNetError
from .launch import TILE, grid_2d, check_device_arrays

__all__ = ["matmul", "matmul_naive", "matmul_tiled"]


_PADDED = TILE + 1     # a constant, as cuda.shared.array needs


def _make_kernels(dtype):
    t = numba.from_dtype(np.dtype(dtype))

    @cuda.jit
    def naive(a, b, out, trans_a, trans_b, accumulate):
        m, n = out.shape
        k_len = a.shape[0] if trans_a else a.shape[1]
        x0, y0 = cuda.grid(2)
        sx, sy = cuda.gridsize(2)
        for i in range(y0, m, sy):
            for j in range(x0, n, sx):
                acc = t(0)
                for k in range(k_len):
                    av = a[k, i] if trans_a else a[i, k]
                    bv = b[j, k] if trans_b else b[k, j]
                    acc += av * bv
                if accumulate:
                    out[i, j] += acc
                else:
                    out[i, j] = acc

    @cuda.jit
    def tiled(a, b, out, trans_a, trans_b, accumulate):
        sa = cuda.shared.array((TILE, _PADDED), t)    # sa[i_local, k_local]
        sb = cuda.shared.array((TILE, _PADDED), t)    # sb[k_local, j_local]
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE
        m, n = out.shape
        k_len = a.shape[0] if trans_a else a.shape[1]
        acc = t(0)
        for k0 in range(0, k_len, TILE):
            # tile of op(a): rows row0.., columns k0..; threadIdx.x walks the stored row
            if trans_a:                              # a is (K, M): read a[k0+ty, row0+tx]
                k, i = k0 + ty, row0 + tx
                sa[tx, ty] = a[k, i] if (k < k_len and i < m) else t(0)
            else:                                    # a is (M, K): read a[row0+ty, k0+tx]
                i, k = row0 + ty, k0 + tx
                sa[ty, tx] = a[i, k] if (i < m and k < k_len) else t(0)
            # tile of op(b): rows k0.., columns col0..
            if trans_b:                              # b is (N, K): read b[col0+ty, k0+tx]
                j, k = col0 + ty, k0 + tx
                sb[tx, ty] = b[j, k] if (j < n and k < k_len) else t(0)
            else:                                    # b is (K, N): read b[k0+ty, col0+tx]
                k, j = k0 + ty, col0 + tx
                sb[ty, tx] = b[k, j] if (k < k_len and j < n) else t(0)
            cuda.syncthreads()
            for kk in range(TILE):
                acc += sa[ty, kk] * sb[kk, tx]
            cuda.syncthreads()
        i, j = row0 + ty, col0 + tx
        if i < m and j < n:
            if accumulate:
                out[i, j] += acc
            else:
                out[i, j] = acc

    return naive, tiled


_KERNELS = {np.dtype(d): _make_kernels(d) for d in (np.float32, np.float64)}


def _check(a, b, out, trans_a, trans_b):
    check_device_arrays("matmul", a=a, b=b, out=out)
    if a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        raise MXNetError(f"matmul: needs 2-D arrays, got a{tuple(a.shape)}, b{tuple(b.shape)}, "
                         f"out{tuple(out.shape)}")
    if not a.dtype == b.dtype == out.dtype or np.dtype(a.dtype) not in _KERNELS:
        raise MXNetError(f"matmul: a, b and out must share dtype float32 or float64, got "
                         f"{a.dtype}, {b.dtype}, {out.dtype}")
    m, k = (a.shape[1], a.shape[0]) if trans_a else tuple(a.shape)
    k2, n = (b.shape[1], b.shape[0]) if trans_b else tuple(b.shape)
    if k != k2 or tuple(out.shape) != (m, n):
        raise MXNetError(f"matmul: op(a) is {m}x{k}, op(b) is {k2}x{n}, out is "
                         f"{tuple(out.shape)}; expected inner sizes to match and out {(m, n)}")
    return m, n


def matmul_naive(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out (+)= op(a) @ op(b)``, one thread per output element."""
    m, n = _check(a, b, out, trans_a, trans_b)
    blocks, threads = grid_2d(m, n)
    _KERNELS[np.dtype(a.dtype)][0][blocks, threads](a, b, out, bool(trans_a), bool(trans_b),
                                                    bool(accumulate))


def matmul_tiled(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out (+)= op(a) @ op(b)`` with shared-memory tiles (one ``TILE x TILE`` block per tile
    of ``out``)."""
    m, n = _check(a, b, out, trans_a, trans_b)
    blocks = (-(-n // TILE), -(-m // TILE))
    _KERNELS[np.dtype(a.dtype)][1][blocks, (TILE, TILE)](a, b, out, bool(trans_a),
                                                         bool(trans_b), bool(accumulate))


def matmul(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out (+)= op(a) @ op(b)``: tiled when ``out`` covers at least one tile each way, naive
    otherwise (a tile that is mostly padding only adds synchronisation)."""
    m, n = _check(a, b, out, trans_a, trans_b)
    (matmul_tiled if m >= TILE and n >= TILE else matmul_naive)(a, b, out, trans_a, trans_b,
                                                                accumulate)
