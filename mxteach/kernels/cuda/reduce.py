"""CUDA kernels for the reductions (sum, mean, max, min, norm, argmax, argmin; prod for the
NDArray method) and their gradients, and for summing a broadcast gradient back to its input's
shape (broadcast_to's backward).

On the CPU, ``ops/reduce.py`` calls numpy (``np.sum(x, axis=axes, keepdims=True)``); numpy is
the reference these kernels are held to.

**Block-level tree reduction.** The input is seen as ``M`` output elements, each reducing ``K``
input elements (``K = x.size / M``, the product of the reduced axes). One block takes one output
element at a time (blocks stride over the outputs): each thread folds every ``blockDim``-th of
the ``K`` inputs into a private partial, writes it to shared memory, and the block halves the
active threads at each step (``s = blockDim/2, blockDim/4 ...``), each surviving thread combining
its slot with the one ``s`` away, until slot 0 holds the result. ``log2(blockDim)`` synchronised
steps instead of ``K`` sequential adds, and neighbouring threads read neighbouring elements when
the reduced axes are the last ones. The block size is the next power of two >= ``K`` (at most
256 and at least a warp, 32, on a GPU; at most 32 on the simulator): launch configurations
follow the shapes.

The reduced axes need not be contiguous: as in ``kernels/cuda/elemwise.py``, the output's
element strides along the input's axes (0 on a reduced axis) turn (output ``j``, reduced index
``r``) into an input offset. Sums run in float64, as MXNet's GPU reductions accumulate in a
wider type; argmax keeps the first index on ties (``r`` runs in row-major order).

**Gradients** are one thread per input element: ``dx = g[j] * d`` with ``d`` 1/K (mean), 1
(sum), ``x == out`` (max/min: ties all get it), ``sign(x)`` (L1) or ``x / out`` (L2).
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float64

from ...base import MXNetError
from ..cpu.elemwise import broadcast_strides
from .elemwise import flat as _flat, store
from .launch import grid_1d, check_device_arrays

__all__ = ["REDUCE_CODES", "reduce", "reduce_grad", "sum_to", "block_size"]

REDUCE_CODES = {"sum": 0, "max": 1, "min": 2, "asum": 3, "sumsq": 4, "argmax": 5, "argmin": 6,
                "prod": 7}
_MAX_BLOCK = 256                       # the shared arrays' size: the largest block

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_reduce_kernel": ["{t}[::1], UniTuple(int64, 3), UniTuple(int64, 3), int64, float64, "
                       "boolean, boolean, {t}[::1]"],
    "_reduce_grad_kernel": ["{t}[::1], {t}[::1], {t}[::1], UniTuple(int64, 3), "
                            "UniTuple(int64, 3), int64, float64, boolean, {t}[::1]"],
}


def block_size(k):
    """Threads per block for reducing ``k`` elements: a power of two (the tree halves it)."""
    cap = min(grid_1d(1)[1], _MAX_BLOCK)    # the launch policy's block: 256 GPU, 32 simulator
    t = 32 if cap >= _MAX_BLOCK else 1      # on a GPU at least a warp: smaller wastes lanes
    while t < k and t < cap:
        t *= 2
    return t


@cuda.jit(device=True)
def _better(v, i, w, j, code):
    """Does (w, j) win over (v, i) for argmax (code 5) / argmin (6)? Lower index on ties."""
    if code == 5:
        return w > v or (w == v and j < i)
    return w < v or (w == v and j < i)


@cuda.jit
def _reduce_kernel(x, shape, t_str, code, scale, root, accumulate, out):
    vals = cuda.shared.array(_MAX_BLOCK, float64)
    idxs = cuda.shared.array(_MAX_BLOCK, float64)
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    nd = len(shape)
    m = out.shape[0]
    k_total = x.shape[0] // m
    for j in range(cuda.blockIdx.x, m, cuda.gridDim.x):
        if code == 1 or code == 5:
            acc = -math.inf
        elif code == 2 or code == 6:
            acc = math.inf
        elif code == 7:
            acc = 1.0
        else:
            acc = 0.0
        best = float(k_total)
        for r in range(tid, k_total, nthreads):
            rem, ix, step = r, 0, 1
            for k in range(nd - 1, -1, -1):
                n = shape[k]
                if t_str[k] != 0:
                    ik = (j // t_str[k]) % n
                else:
                    ik = rem % n
                    rem //= n
                ix += ik * step
                step *= n
            v = float64(x[ix])
            if code == 1:
                acc = max(acc, v)
            elif code == 2:
                acc = min(acc, v)
            elif code == 3:
                acc += abs(v)
            elif code == 4:
                acc += v * v
            elif code == 7:
                acc *= v
            elif code >= 5:
                if _better(acc, best, v, float(r), code):
                    acc = v
                    best = float(r)
            else:
                acc += v
        vals[tid] = acc
        idxs[tid] = best
        cuda.syncthreads()
        s = nthreads // 2
        while s > 0:                    # the tree: half the threads combine pairs each step
            if tid < s:
                w = vals[tid + s]
                if code == 1:
                    vals[tid] = max(vals[tid], w)
                elif code == 2:
                    vals[tid] = min(vals[tid], w)
                elif code == 7:
                    vals[tid] *= w
                elif code >= 5:
                    if _better(vals[tid], idxs[tid], w, idxs[tid + s], code):
                        vals[tid] = w
                        idxs[tid] = idxs[tid + s]
                else:
                    vals[tid] += w
            cuda.syncthreads()
            s //= 2
        if tid == 0:
            res = idxs[0] if (code == 5 or code == 6) else vals[0] * scale
            if root:
                res = math.sqrt(res)
            store(out, j, res, accumulate)
        cuda.syncthreads()              # slot 0 is read before the next output reuses it


@cuda.jit
def _reduce_grad_kernel(g, x, o, shape, t_str, code, scale, accumulate, dx):
    nd = len(shape)
    for i in range(cuda.grid(1), dx.shape[0], cuda.gridsize(1)):
        rem, jo = i, 0
        for k in range(nd - 1, -1, -1):
            ik = rem % shape[k]
            rem //= shape[k]
            jo += ik * t_str[k]
        if code == 1 or code == 2:
            d = g[jo] if x[i] == o[jo] else 0.0
        elif code == 3:
            d = g[jo] * (1.0 if x[i] > 0 else (-1.0 if x[i] < 0 else 0.0))
        elif code == 4:
            d = g[jo] * x[i] / o[jo]
        else:
            d = g[jo] * scale
        store(dx, i, d, accumulate)


def _kept_strides(shape, kept):
    _, s = broadcast_strides(shape, kept)
    return tuple(int(v) for v in s)


def _check(name, x, kept):
    if len(kept) != len(x.shape) or any(k not in (1, d) for k, d in zip(kept, x.shape)):
        raise MXNetError(f"{name}: kept shape {tuple(kept)} does not match the input "
                         f"{tuple(x.shape)} (each axis must be kept or reduced to 1)")


def reduce(x, kept, verb, out, scale=1.0, root=False, accumulate=False):
    """``out (+)= reduce(x)`` over the axes where ``kept`` (x's shape with reduced axes set to
    1) is 1; ``verb`` is a ``REDUCE_CODES`` key. The result is multiplied by ``scale`` (mean:
    1/K), square-rooted with ``root`` (L2 norm); argmax/argmin store the index."""
    check_device_arrays(verb, x=x, out=out)
    shape = tuple(int(v) for v in x.shape) or (1,)
    kept = tuple(int(v) for v in kept) or (1,)
    _check(verb, x if x.ndim else x.reshape(1), kept)
    m = int(np.prod(kept, dtype=np.int64))
    if out.size != m:
        raise MXNetError(f"{verb}: out has {out.size} elements, the reduction gives {m}")
    if m == 0:
        return
    threads = block_size(x.size // m)
    blocks = max(1, min(m, grid_1d(m * threads)[0]))
    _reduce_kernel[blocks, threads](_flat(x), shape, _kept_strides(shape, kept),
                                    REDUCE_CODES[verb], float(scale), bool(root),
                                    bool(accumulate), _flat(out))


def reduce_grad(g, x, o, kept, verb, accumulate, dx, scale=1.0):
    """The gradient of :func:`reduce` for ``verb`` in sum (times ``scale``), max, min, asum
    (L1) and sumsq with root (L2: ``x / out``): ``g`` and ``o`` have the kept shape."""
    check_device_arrays(verb, g=g, x=x, o=o, dx=dx)
    shape = tuple(int(v) for v in x.shape) or (1,)
    blocks, threads = grid_1d(dx.size)
    _reduce_grad_kernel[blocks, threads](_flat(g), _flat(x), _flat(o), shape,
                                         _kept_strides(shape, kept), REDUCE_CODES[verb],
                                         float(scale), bool(accumulate), _flat(dx))


def sum_to(g, out, accumulate=False):
    """``out (+)=`` the sum of ``g`` over the axes along which ``out``'s shape was broadcast to
    ``g``'s (numpy rules): the gradient of a broadcast."""
    nd = g.ndim
    kept = (1,) * (nd - out.ndim) + tuple(int(v) for v in out.shape)
    reduce(g, kept, "sum", out, accumulate=accumulate)
