"""CUDA kernels of the nn family: the elementwise activations, PReLU and rrelu, the random
masks of Dropout (and of the RNN operator's dropout), Embedding, and the matrix multiply that
FullyConnected, Convolution and RNN use. (BatchNorm's per-channel reductions are in
``nn_norm.py``.)

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

Three kernels, chosen by :func:`matmul` (and a fourth, :func:`batch_matmul`, for batch_dot):

* ``naive``: one thread per output element reads a row of ``op(a)`` and a column of ``op(b)``
  from global memory. Simple, and right for outputs smaller than a tile.
* ``blocked``: each thread computes a ``RB x RB`` (4 x 4) block of ``out`` in registers, with
  no shared memory and no ``syncthreads``: per step of the inner sum it reads 4 values of
  ``op(a)`` and 4 of ``op(b)`` and does 16 multiply-adds, so global reads fall by 4 (the tiled
  kernel's cut is 16, with coalesced loads). A correct GPU kernel (``test_cuda_ptx.py``
  compiles it), and the one the simulator's launch policy picks: there every thread is a
  Python thread, every ``syncthreads`` a round of thread switches and every array read a
  Python call: one forward and backward of a 784-128-64-10 MLP on 100 images took ~230 s
  of CPU with the tiled kernel, ~9 s with this one (``test_io_sequential_example.py`` trains
  MXNet's sequential_module.py on four simulated gpus with it). Edge blocks clamp their row
  and column indices into the matrix, so the inner loop tests no bounds; the duplicate
  results are not stored.
* ``tiled``: a ``TILE x TILE`` block stages one tile of each operand in shared memory, then every
  thread reuses it ``TILE`` times, cutting global reads by ``TILE``. Loads are coalesced even for
  transposed operands (neighbouring threads read neighbouring addresses; the tile is written
  transposed into shared memory instead), and the tiles have one padding column so those
  transposed writes do not collide on a shared-memory bank.
* ``batched``: ``tiled`` over a stack of matrices, the batch entry on the grid's z axis, so
  batch_dot is one launch however many entries it has (not one launch per entry).

Both accumulate in the operands' dtype (float32 or float64), as a BLAS does; the order of the
sums differs from numpy's, so results agree to rounding.

**Random masks** come from ``numba.cuda.random`` (xoroshiro128+, one generator state per
thread of the launch). The states are created from a seed drawn from mxteach's host generator
(``mxteach.random_state``) and kept by the operator node; they are created again whenever
``mx.random.seed`` has replaced that generator, so a seed reproduces the masks on each device.

**Embedding**: the forward gathers one thread per output element; the backward scatters each
row of the output gradient into the weight row it came from with ``cuda.atomic.add`` (several
indices may name the same row).
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import cuda
from numba.cuda.random import create_xoroshiro128p_states, xoroshiro128p_uniform_float64

from ... import random_state
from ...base import MXNetError
from ..cpu import nn as _cpu
from ..cpu.nn import ACT_CODES
from . import launch
from .launch import TILE, grid_1d, grid_2d, check_device_arrays

__all__ = ["ACT_CODES", "unary_forward", "unary_backward", "matmul", "matmul_naive",
           "matmul_tiled", "matmul_blocked", "batch_matmul", "prelu_forward", "prelu_backward",
           "slope_forward", "slope_backward", "random_fill", "embedding_forward",
           "embedding_backward"]

_M2 = "{t}[:, ::1], {t}[:, ::1], {t}[:, ::1], boolean, boolean, boolean"
_A3 = "{t}[:, :, ::1]"
_STATES = 'Array(Record.make_c_struct([("s0", uint64), ("s1", uint64)]), 1, "C")'
PTX_SIGNATURES = {
    "_unary_forward_kernel": ["{t}[::1], {t}[::1], int64, float64"],
    "_unary_backward_kernel": ["{t}[::1], {t}[::1], {t}[::1], {t}[::1], int64, float64, "
                               "boolean"],
    "naive": [_M2],
    "tiled": [_M2],
    "blocked": [_M2],
    "batched": [f"{_A3}, {_A3}, {_A3}, boolean, boolean, boolean"],
    "_prelu_forward_kernel": [f"{_A3}, {{t}}[::1], {_A3}"],
    "_prelu_dx_kernel": [f"{_A3}, {{t}}[::1], {_A3}, boolean, {_A3}"],
    "_slope_kernel": ["{t}[::1], {t}[::1], {t}[::1], {t}[::1], boolean"],
    "_random_kernel": [f"{_STATES}, {{t}}[::1], float64, {{t}}, boolean"],
    "_embedding_forward_kernel": ["{t}[::1], {t}[:, ::1], {t}[:, ::1]"],
    "_embedding_backward_kernel": ["{t}[::1], {t}[:, ::1], {t}[:, ::1]"],
}


def _device_twin(cpu_fn):
    """Compile a @njit scalar function of kernels/cpu/nn.py again as a CUDA device function
    (under NUMBA_DISABLE_JIT the CPU function is already plain Python)."""
    return cuda.jit(device=True)(getattr(cpu_fn, "py_func", cpu_fn))


_relu, _relu_d = _device_twin(_cpu._relu), _device_twin(_cpu._relu_d)
_sigmoid_d, _tanh_d = _device_twin(_cpu._sigmoid_d), _device_twin(_cpu._tanh_d)
_softrelu, _softrelu_d = _device_twin(_cpu._softrelu), _device_twin(_cpu._softrelu_d)
_softsign, _softsign_d = _device_twin(_cpu._softsign), _device_twin(_cpu._softsign_d)
_leaky, _leaky_d = _device_twin(_cpu._leaky), _device_twin(_cpu._leaky_d)
_elu, _elu_d = _device_twin(_cpu._elu), _device_twin(_cpu._elu_d)
_selu, _selu_d = _device_twin(_cpu._selu), _device_twin(_cpu._selu_d)
_gelu, _gelu_d = _device_twin(_cpu._gelu), _device_twin(_cpu._gelu_d)


@cuda.jit(device=True)
def _sigmoid(v, s):
    # the CPU computes sigmoid and tanh with numpy ufuncs, so these two have no scalar twin
    return 1.0 / (1.0 + math.exp(-v))


@cuda.jit(device=True)
def _tanh(v, s):
    return math.tanh(v)


@cuda.jit(device=True)
def _act(v, y, code, s, deriv):
    """act(v) for the activation ``code``, or with ``deriv`` its derivative at input v with
    output y: one table for both directions, so a new activation is one line here."""
    # twin rows on purpose (one per code): a kernel cannot index a tuple of device functions
    # with a run-time code, so the choice is this chain of tests
    if code == 0:
        return _relu_d(v, y, s) if deriv else _relu(v, s)
    if code == 1:
        return _sigmoid_d(v, y, s) if deriv else _sigmoid(v, s)
    if code == 2:
        return _tanh_d(v, y, s) if deriv else _tanh(v, s)
    if code == 3:
        return _softrelu_d(v, y, s) if deriv else _softrelu(v, s)
    if code == 4:
        return _softsign_d(v, y, s) if deriv else _softsign(v, s)
    if code == 5:
        return _leaky_d(v, y, s) if deriv else _leaky(v, s)
    if code == 6:
        return _elu_d(v, y, s) if deriv else _elu(v, s)
    if code == 7:
        return _selu_d(v, y, s) if deriv else _selu(v, s)
    return _gelu_d(v, y, s) if deriv else _gelu(v, s)


@cuda.jit
def _unary_forward_kernel(x, out, code, slope):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        out[i] = _act(x[i], x[i], code, slope, False)


@cuda.jit
def _unary_backward_kernel(x, y, dy, dx, code, slope, accumulate):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        g = dy[i] * _act(x[i], y[i], code, slope, True)
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
RB = 4                 # blocked matmul: each thread computes an RB x RB block of out (unrolled)


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

    @cuda.jit(device=True)
    def tile_product(a, b, out, trans_a, trans_b, accumulate, sa, sb):
        """This block's ``TILE x TILE`` tile of ``out (+)= op(a) @ op(b)`` (2-D arrays), staged
        through the shared tiles ``sa``/``sb``; every thread of the block must call it."""
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

    @cuda.jit
    def tiled(a, b, out, trans_a, trans_b, accumulate):
        sa = cuda.shared.array((TILE, _PADDED), t)    # sa[i_local, k_local]
        sb = cuda.shared.array((TILE, _PADDED), t)    # sb[k_local, j_local]
        tile_product(a, b, out, trans_a, trans_b, accumulate, sa, sb)

    @cuda.jit
    def batched(a, b, out, trans_a, trans_b, accumulate):
        # the same tile, with the batch entry on the grid's z axis (blocks stride over the
        # batch when it is larger than the grid): one launch covers every entry
        sa = cuda.shared.array((TILE, _PADDED), t)
        sb = cuda.shared.array((TILE, _PADDED), t)
        for z in range(cuda.blockIdx.z, out.shape[0], cuda.gridDim.z):
            tile_product(a[z], b[z], out[z], trans_a, trans_b, accumulate, sa, sb)

    @cuda.jit(device=True)
    def put_row(out, i, j, v0, v1, v2, v3, accumulate):
        """Store one row of a register block at ``out[i, j:j + 4]``, only what lies inside."""
        if i < out.shape[0]:
            n = out.shape[1]
            c = j
            for v in (v0, v1, v2, v3):
                if c < n:
                    if accumulate:
                        out[i, c] += v
                    else:
                        out[i, c] = v
                c += 1

    @cuda.jit
    def blocked(a, b, out, trans_a, trans_b, accumulate):
        # A thread owns RB x RB = 4 x 4 results (grid-stride over such blocks); the sixteen
        # sums are spelled out because they must live in registers, not in an array
        m, n = out.shape
        k_len = a.shape[0] if trans_a else a.shape[1]
        x0, y0 = cuda.grid(2)
        sx, sy = cuda.gridsize(2)
        for i0 in range(RB * y0, m, RB * sy):
            # clamped: a block on the bottom edge re-reads the last row (results not stored)
            i1, i2, i3 = min(i0 + 1, m - 1), min(i0 + 2, m - 1), min(i0 + 3, m - 1)
            for j0 in range(RB * x0, n, RB * sx):
                j1, j2, j3 = min(j0 + 1, n - 1), min(j0 + 2, n - 1), min(j0 + 3, n - 1)
                c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = t(0)
                c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = t(0)
                for k in range(k_len):
                    # one test per operand and step (the same branch for every thread)
                    a0, a1, a2, a3 = ((a[k, i0], a[k, i1], a[k, i2], a[k, i3]) if trans_a
                                      else (a[i0, k], a[i1, k], a[i2, k], a[i3, k]))
                    b0, b1, b2, b3 = ((b[j0, k], b[j1, k], b[j2, k], b[j3, k]) if trans_b
                                      else (b[k, j0], b[k, j1], b[k, j2], b[k, j3]))
                    c00 += a0 * b0
                    c01 += a0 * b1
                    c02 += a0 * b2
                    c03 += a0 * b3
                    c10 += a1 * b0
                    c11 += a1 * b1
                    c12 += a1 * b2
                    c13 += a1 * b3
                    c20 += a2 * b0
                    c21 += a2 * b1
                    c22 += a2 * b2
                    c23 += a2 * b3
                    c30 += a3 * b0
                    c31 += a3 * b1
                    c32 += a3 * b2
                    c33 += a3 * b3
                # the unclamped indices decide what is stored
                put_row(out, i0, j0, c00, c01, c02, c03, accumulate)
                put_row(out, i0 + 1, j0, c10, c11, c12, c13, accumulate)
                put_row(out, i0 + 2, j0, c20, c21, c22, c23, accumulate)
                put_row(out, i0 + 3, j0, c30, c31, c32, c33, accumulate)

    return naive, tiled, batched, blocked


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


def matmul_blocked(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out (+)= op(a) @ op(b)``, each thread a ``RB x RB`` block of ``out`` in registers (the
    launch policy's 2-D grid over those blocks; no shared memory, no synchronisation)."""
    m, n = _check(a, b, out, trans_a, trans_b)
    blocks, threads = grid_2d(-(-m // RB), -(-n // RB))
    _KERNELS[np.dtype(a.dtype)][3][blocks, threads](a, b, out, bool(trans_a), bool(trans_b),
                                                    bool(accumulate))


def matmul(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out (+)= op(a) @ op(b)``. The launch policy's ``"gemm"`` picks the kernel: on a GPU,
    tiled when ``out`` covers at least one tile each way, naive otherwise (a tile that is
    mostly padding only adds synchronisation); on the simulator, blocked (no synchronisation,
    a quarter of the naive kernel's reads: see the module docstring)."""
    m, n = _check(a, b, out, trans_a, trans_b)
    if launch.gemm_kernel() == "blocked":
        fn = matmul_blocked
    else:
        fn = matmul_tiled if m >= TILE and n >= TILE else matmul_naive
    fn(a, b, out, trans_a, trans_b, accumulate)


_MAX_GRID_Z = 65535     # CUDA's limit on gridDim.z; larger batches loop inside the kernel


def batch_matmul(a, b, out, trans_a=False, trans_b=False, accumulate=False):
    """``out[z] (+)= op(a[z]) @ op(b[z])`` for every ``z`` of the leading (batch) axis, in ONE
    launch of the batched tiled kernel: grid ``(n / TILE, m / TILE, batch)``, a ``TILE x TILE``
    block per output tile of one batch entry (batch_dot)."""
    check_device_arrays("batch_matmul", a=a, b=b, out=out)
    if a.ndim != 3 or b.ndim != 3 or out.ndim != 3:
        raise MXNetError(f"batch_matmul: needs 3-D arrays (batch, rows, cols), got "
                         f"a{tuple(a.shape)}, b{tuple(b.shape)}, out{tuple(out.shape)}")
    if not a.shape[0] == b.shape[0] == out.shape[0]:
        raise MXNetError(f"batch_matmul: batch sizes differ: a {a.shape[0]}, b {b.shape[0]}, "
                         f"out {out.shape[0]}")
    _check(a[0], b[0], out[0], trans_a, trans_b)      # dtypes and the matrix shapes
    n_batch, m, n = (int(v) for v in out.shape)
    if n_batch == 0:
        return
    blocks = (-(-n // TILE), -(-m // TILE), min(n_batch, _MAX_GRID_Z))
    _KERNELS[np.dtype(a.dtype)][2][blocks, (TILE, TILE)](a, b, out, bool(trans_a),
                                                         bool(trans_b), bool(accumulate))


# -- PReLU and rrelu ------------------------------------------------------------------------------
@cuda.jit
def _prelu_forward_kernel(x3, gamma, out3):
    A, C, B = x3.shape
    shared = gamma.shape[0] == 1
    for e in range(cuda.grid(1), A * C * B, cuda.gridsize(1)):
        a, c, b = e // (C * B), (e // B) % C, e % B
        v = x3[a, c, b]
        out3[a, c, b] = v if v > 0 else (gamma[0] if shared else gamma[c]) * v


@cuda.jit
def _prelu_dx_kernel(x3, gamma, dy3, accumulate, dx3):
    A, C, B = x3.shape
    shared = gamma.shape[0] == 1
    for e in range(cuda.grid(1), A * C * B, cuda.gridsize(1)):
        a, c, b = e // (C * B), (e // B) % C, e % B
        d = dy3[a, c, b]
        g = d if x3[a, c, b] > 0 else (gamma[0] if shared else gamma[c]) * d
        if accumulate:
            dx3[a, c, b] += g
        else:
            dx3[a, c, b] = g


@cuda.jit
def _slope_kernel(x, slope, g, out, accumulate):
    # out (+)= g * (1 if x > 0 else slope): rrelu's forward (g = x) and backward (g = dy)
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        v = g[i] if x[i] > 0 else slope[i] * g[i]
        if accumulate:
            out[i] += v
        else:
            out[i] = v


def prelu_forward(x3, gamma, out3):
    """PReLU on (outer, C, inner) data; ``gamma`` has C slopes or one shared slope."""
    check_device_arrays("prelu_forward", x3=x3, gamma=gamma, out3=out3)
    blocks, threads = grid_1d(x3.size)
    _prelu_forward_kernel[blocks, threads](x3, gamma, out3)


def prelu_backward(x3, gamma, dy3, dx3, dx_mode, dgamma, gamma_mode):
    """PReLU gradients: ``dx3`` by ``dx_mode`` (0 skip, 1 write, 2 add) and ``dgamma`` by
    ``gamma_mode``: per channel the sum of dy * x where x <= 0 (a per-channel tree reduction),
    summed over every element for a shared slope."""
    from .nn_norm import channel_reduce
    check_device_arrays("prelu_backward", x3=x3, gamma=gamma, dy3=dy3, dx3=dx3, dgamma=dgamma)
    if dx_mode:
        blocks, threads = grid_1d(x3.size)
        _prelu_dx_kernel[blocks, threads](x3, gamma, dy3, dx_mode == 2, dx3)
    if gamma_mode:
        if gamma.shape[0] == 1:       # one slope: the whole array is one "channel"
            x3, dy3 = x3.reshape(1, 1, x3.size), dy3.reshape(1, 1, dy3.size)
        channel_reduce(x3, dgamma, "sum_neg_xy", dy3, gamma_mode == 2)


def slope_forward(x, slope, out):
    """``out = x if x > 0 else slope * x`` with one slope per element (rrelu; flat arrays)."""
    check_device_arrays("slope_forward", x=x, slope=slope, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _slope_kernel[blocks, threads](x, slope, x, out, False)


def slope_backward(x, slope, dy, dx, accumulate):
    """``dx (+)= dy if x > 0 else slope * dy`` (flat arrays)."""
    check_device_arrays("slope_backward", x=x, slope=slope, dy=dy, dx=dx)
    blocks, threads = grid_1d(x.shape[0])
    _slope_kernel[blocks, threads](x, slope, dy, dx, bool(accumulate))


# -- random masks ---------------------------------------------------------------------------------
@cuda.jit
def _random_kernel(states, out, a, b, bernoulli):
    tid = cuda.grid(1)
    for i in range(tid, out.shape[0], cuda.gridsize(1)):
        u = xoroshiro128p_uniform_float64(states, tid)
        if bernoulli:        # kept (u < a) times the scale b; a dropped entry is 0 * b
            out[i] = (1.0 if u < a else 0.0) * b
        else:                # uniform in [a, b)
            out[i] = a + (b - a) * u


def _states(cache, threads):
    """The node's generator states for ``threads`` threads, created again from a seed of the
    host generator when ``mx.random.seed`` replaced it (or more threads are needed)."""
    gen = random_state.rng()
    states = cache.get("cuda_rng_states")
    if cache.get("cuda_rng_source") is not gen or states is None or states.shape[0] < threads:
        seed = int(gen.randint(0, 2 ** 31 - 1))
        states = cache["cuda_rng_states"] = create_xoroshiro128p_states(threads, seed=seed)
        cache["cuda_rng_source"] = gen
    return states


def random_fill(out, cache, low=0.0, high=1.0, keep=None, scale=1.0):
    """Fill the flat device array ``out`` with uniform draws in [low, high), or, given
    ``keep``, with a dropout mask: ``scale`` where a draw falls below ``keep``, else 0 * scale.
    ``cache`` is the node's state dict (it keeps the generator states)."""
    check_device_arrays("random_fill", out=out)
    blocks, threads = grid_1d(out.shape[0])
    t = out.dtype.type
    args = (float(low), t(high), False) if keep is None else (float(keep), t(scale), True)
    _random_kernel[blocks, threads](_states(cache, blocks * threads), out, *args)


# -- Embedding ------------------------------------------------------------------------------------
@cuda.jit(device=True)
def _row(v, n):
    """Embedding index: truncate toward zero, then clip into [0, n) (as the CPU kernel)."""
    k = int(v)
    return 0 if k < 0 else (n - 1 if k >= n else k)


@cuda.jit
def _embedding_forward_kernel(idx, weight, out2):
    rows, dim = out2.shape
    for e in range(cuda.grid(1), rows * dim, cuda.gridsize(1)):
        i, j = e // dim, e % dim
        out2[i, j] = weight[_row(idx[i], weight.shape[0]), j]


@cuda.jit
def _embedding_backward_kernel(idx, dy2, dweight):
    rows, dim = dy2.shape
    for e in range(cuda.grid(1), rows * dim, cuda.gridsize(1)):
        i, j = e // dim, e % dim
        cuda.atomic.add(dweight, (_row(idx[i], dweight.shape[0]), j), dy2[i, j])


def embedding_forward(idx, weight, out2):
    """``out2[i] = weight[clip(int(idx[i]))]`` (``idx`` flat, ``out2`` (len(idx), dim))."""
    check_device_arrays("embedding_forward", idx=idx, weight=weight, out2=out2)
    blocks, threads = grid_1d(out2.size)
    _embedding_forward_kernel[blocks, threads](idx, weight, out2)


def embedding_backward(idx, dy2, dweight, accumulate):
    """``dweight[row(idx[i])] += dy2[i]`` with atomic adds (rows may repeat); without
    ``accumulate`` dweight is zeroed first."""
    from .elemwise import fill
    check_device_arrays("embedding_backward", idx=idx, dy2=dy2, dweight=dweight)
    if not accumulate:
        fill(dweight, 0)
    blocks, threads = grid_1d(dy2.size)
    _embedding_backward_kernel[blocks, threads](idx, dy2, dweight)
