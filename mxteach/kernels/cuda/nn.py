"""CUDA kernels of the nn family: the elementwise activations and the matrix multiply that
FullyConnected needs.

**Activations** are the twins of ``kernels/cpu/nn.py``'s: same names, same signatures, same
numpy references (``kernels/reference/nn.py``). The per-element math is not rewritten: the
scalar functions of ``kernels/cpu/nn.py`` (``_relu``, ``_sigmoid_d`` ...) are compiled a second
time, for the GPU, from their Python source. Only the loop differs: one thread per element
instead of a ``for`` over the array, and ``code`` picks the activation inside the thread (every
thread of a launch takes the same branch, so the branch costs nothing on a GPU).

**Matrix multiply**: ``out (+)= op(a) @ op(b)`` with ``op`` an optional transpose.
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
from ..cpu import nn as _cpu
from ..cpu.nn import ACT_CODES
from .launch import TILE, grid_1d, grid_2d, check_device_arrays

__all__ = ["ACT_CODES", "unary_forward", "unary_backward", "matmul", "matmul_naive",
           "matmul_tiled"]


def _device_twin(cpu_fn):
    """Compile a @njit scalar function of kernels/cpu/nn.py again as a CUDA device function
    (under NUMBA_DISABLE_JIT the CPU function is already plain Python)."""
    return cuda.jit(device=True)(getattr(cpu_fn, "py_func", cpu_fn))


_relu, _relu_d = _device_twin(_cpu._relu), _device_twin(_cpu._relu_d)
_sigmoid, _sigmoid_d = _device_twin(_cpu._sigmoid), _device_twin(_cpu._sigmoid_d)
_tanh, _tanh_d = _device_twin(_cpu._tanh), _device_twin(_cpu._tanh_d)
_softrelu, _softrelu_d = _device_twin(_cpu._softrelu), _device_twin(_cpu._softrelu_d)
_softsign, _softsign_d = _device_twin(_cpu._softsign), _device_twin(_cpu._softsign_d)
_leaky, _leaky_d = _device_twin(_cpu._leaky), _device_twin(_cpu._leaky_d)
_elu, _elu_d = _device_twin(_cpu._elu), _device_twin(_cpu._elu_d)
_selu, _selu_d = _device_twin(_cpu._selu), _device_twin(_cpu._selu_d)
_gelu, _gelu_d = _device_twin(_cpu._gelu), _device_twin(_cpu._gelu_d)


@cuda.jit(device=True)
def _act(v, code, s):
    if code == 0:
        return _relu(v, s)
    if code == 1:
        return _sigmoid(v, s)
    if code == 2:
        return _tanh(v, s)
    if code == 3:
        return _softrelu(v, s)
    if code == 4:
        return _softsign(v, s)
    if code == 5:
        return _leaky(v, s)
    if code == 6:
        return _elu(v, s)
    if code == 7:
        return _selu(v, s)
    return _gelu(v, s)


@cuda.jit(device=True)
def _act_d(v, y, code, s):
    if code == 0:
        return _relu_d(v, y, s)
    if code == 1:
        return _sigmoid_d(v, y, s)
    if code == 2:
        return _tanh_d(v, y, s)
    if code == 3:
        return _softrelu_d(v, y, s)
    if code == 4:
        return _softsign_d(v, y, s)
    if code == 5:
        return _leaky_d(v, y, s)
    if code == 6:
        return _elu_d(v, y, s)
    if code == 7:
        return _selu_d(v, y, s)
    return _gelu_d(v, y, s)


@cuda.jit
def _unary_forward_kernel(x, out, code, slope):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        out[i] = _act(x[i], code, slope)


@cuda.jit
def _unary_backward_kernel(x, y, dy, dx, code, slope, accumulate):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        g = dy[i] * _act_d(x[i], y[i], code, slope)
        if accumulate:
            dx[i] += g
        else:
            dx[i] = g


def unary_forward(x, out, code, slope):
    """out[i] = act(x[i]) for the activation ``code`` (flat device arrays)."""
    check_device_arrays("unary_forward", x=x, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _unary_forward_kernel[blocks, threads](x, out, code, float(slope))


def unary_backward(x, y, dy, dx, code, slope, accumulate):
    """dx[i] (+)= dy[i] * act'(x[i]); ``y`` is the forward output (flat device arrays)."""
    check_device_arrays("unary_backward", x=x, y=y, dy=dy, dx=dx)
    blocks, threads = grid_1d(x.shape[0])
    _unary_backward_kernel[blocks, threads](x, y, dy, dx, code, float(slope), bool(accumulate))


# -- matrix multiply (FullyConnected) -------------------------------------------------------------
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
            # tile of op(b): rows k0.., columns col0.. (a deliberate twin of the op(a) load
            # above, with the roles of rows and columns swapped; spelled out so each load
            # reads as the index arithmetic it is)
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
