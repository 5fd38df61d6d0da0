"""CUDA twins of ``kernels/cpu/shape.py`` (take, one_hot, SequenceMask; numpy twins in
``kernels/reference/shape.py``) plus ``where``. The pure copies of the shape family (transpose,
slices, Concat ...) are strided copies of ``kernels/cuda/elemwise.py``.

Arrays are seen as 3-D ``(pre, n, post)`` with the indexed axis in the middle, as on the CPU.
Index arrays may be float (MXNet's default dtype): a value is truncated toward zero.

* ``take_indices``: one thread per index turns it into a position (clip / wrap / raise); a bad
  index under 'raise' is reported through a one-element device array (``atomic.min`` keeps the
  first).
* ``take_forward``: one thread per output element gathers.
* ``take_backward``: one thread per *output-gradient* element scatter-adds into the input's
  gradient with ``cuda.atomic.add``: repeated indices (a word seen twice in a batch) hit the
  same row from different threads, and the atomic makes their sum exact (in an unspecified
  order). Embedding's gradient is the same scatter.
* ``one_hot``, ``sequence_mask``, ``where``: one thread per output element.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from ...base import MXNetError
from .elemwise import fill, flat as _flat, split3, store
from .launch import grid_1d, check_device_arrays

__all__ = ["TAKE_MODES", "take_indices", "take_forward", "take_backward", "one_hot",
           "sequence_mask", "where", "where_grad"]

TAKE_MODES = {"clip": 0, "wrap": 1, "raise": 2}

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_take_indices_kernel": ["{t}[::1], int64, int64, int64[::1], int64[::1]"],
    "_take_forward_kernel": ["{t}[:, :, ::1], int64[::1], {t}[:, :, ::1]"],
    "_take_backward_kernel": ["{t}[:, :, ::1], int64[::1], {t}[:, :, ::1]"],
    "_one_hot_kernel": ["{t}[::1], {t}, {t}, {t}[:, ::1]"],
    "_sequence_mask_kernel": ["{t}[:, :, ::1], {t}[::1], {t}, boolean, boolean, {t}[:, :, ::1]"],
    "_where_kernel": ["{t}[::1], {t}[::1], {t}[::1], int64, {t}[::1]"],
    "_where_grad_kernel": ["{t}[::1], {t}[::1], int64, int64, boolean, {t}[::1]"],
}


@cuda.jit
def _take_indices_kernel(raw, n, mode, pos, bad):
    for i in range(cuda.grid(1), raw.shape[0], cuda.gridsize(1)):
        j = int(raw[i])
        if mode == 0:
            j = 0 if j < 0 else (n - 1 if j >= n else j)
        elif mode == 1:
            j = j % n
            if j < 0:
                j += n
        elif j < 0 or j >= n:
            cuda.atomic.min(bad, 0, i)
            j = 0
        pos[i] = j


@cuda.jit
def _take_forward_kernel(a, pos, out):
    pre, m, post = out.shape
    for e in range(cuda.grid(1), pre * m * post, cuda.gridsize(1)):
        i, q, k = split3(e, m, post)
        out[i, q, k] = a[i, pos[q], k]


@cuda.jit
def _take_backward_kernel(g, pos, agrad):
    pre, m, post = g.shape
    for e in range(cuda.grid(1), pre * m * post, cuda.gridsize(1)):
        i, q, k = split3(e, m, post)
        cuda.atomic.add(agrad, (i, pos[q], k), g[i, q, k])


@cuda.jit
def _one_hot_kernel(indices, on_value, off_value, out):
    rows, depth = out.shape
    for e in range(cuda.grid(1), rows * depth, cuda.gridsize(1)):
        i, c = e // depth, e % depth
        out[i, c] = on_value if int(indices[i]) == c else off_value


@cuda.jit
def _sequence_mask_kernel(x, lengths, value, batch_major, accumulate, out):
    d0, d1, rest = x.shape
    for e in range(cuda.grid(1), d0 * d1 * rest, cuda.gridsize(1)):
        a, b, k = split3(e, d1, rest)
        t, batch = (b, a) if batch_major else (a, b)
        keep = t < int(lengths[batch])
        if accumulate:
            if keep:
                out[a, b, k] += x[a, b, k]
        else:
            out[a, b, k] = x[a, b, k] if keep else value


@cuda.jit
def _where_kernel(cond, x, y, inner, out):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = x[i] if cond[i // inner] != 0 else y[i]


@cuda.jit
def _where_grad_kernel(cond, g, inner, side, accumulate, out):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        chosen = (cond[i // inner] != 0) == (side == 0)
        store(out, i, g[i] if chosen else 0.0, accumulate)


def take_indices(raw, n, mode):
    """Positions in ``[0, n)`` (an int64 device array) for the ``raw`` indices; ``mode`` is a
    ``TAKE_MODES`` key. Under 'raise' an index outside ``[0, n)`` raises MXNetError (the check
    copies one number back to the host)."""
    check_device_arrays("take", indices=raw)
    flat = _flat(raw)
    pos = cuda.device_array(flat.shape[0], dtype=np.int64)
    bad = cuda.to_device(np.array([flat.shape[0]], dtype=np.int64))
    blocks, threads = grid_1d(flat.shape[0])
    _take_indices_kernel[blocks, threads](flat, int(n), TAKE_MODES[mode], pos, bad)
    if mode == "raise":
        first = int(bad.copy_to_host()[0])
        if first < flat.shape[0]:
            value = flat[first:first + 1].copy_to_host()[0]
            raise MXNetError(f"take: index {value} is out of range [0, {n}) (mode='raise'; use "
                             f"mode='clip' or 'wrap')")
    return pos


def take_forward(a, pos, out):
    """``out[i, q, k] = a[i, pos[q], k]``: ``a`` is (pre, n, post), ``out`` (pre, m, post)."""
    check_device_arrays("take_forward", a=a, pos=pos, out=out)
    blocks, threads = grid_1d(out.size)
    _take_forward_kernel[blocks, threads](a, pos, out)


def take_backward(g, pos, accumulate, agrad):
    """Scatter-add ``agrad[i, pos[q], k] += g[i, q, k]`` with atomics (zeroed first unless
    ``accumulate``)."""
    check_device_arrays("take_backward", g=g, pos=pos, agrad=agrad)
    if not accumulate:
        fill(agrad, 0)
    blocks, threads = grid_1d(g.size)
    _take_backward_kernel[blocks, threads](g, pos, agrad)


def one_hot(indices, on_value, off_value, out):
    """``out`` (len(indices), depth): ``on_value`` at ``int(indices[i])``, else ``off_value``."""
    check_device_arrays("one_hot", indices=indices, out=out)
    blocks, threads = grid_1d(out.size)
    t = out.dtype.type
    _one_hot_kernel[blocks, threads](_flat(indices), t(on_value), t(off_value), out)


def sequence_mask(x, lengths, value, batch_major, accumulate, out):
    """``out = x`` (time, batch, rest) with ``value`` at steps ``t >= lengths[b]``; with
    ``accumulate`` the kept steps are added and the masked ones left alone."""
    check_device_arrays("sequence_mask", x=x, lengths=lengths, out=out)
    blocks, threads = grid_1d(out.size)
    _sequence_mask_kernel[blocks, threads](x, _flat(lengths), out.dtype.type(value),
                                           bool(batch_major), bool(accumulate), out)


def _inner(cond, x):
    if cond.size not in (x.size, x.shape[0] if x.ndim else 1):
        raise MXNetError(f"where: condition of shape {tuple(cond.shape)} fits neither the data "
                         f"{tuple(x.shape)} nor one flag per row")
    return 1 if cond.size == x.size else x.size // max(x.shape[0], 1)


def where(cond, x, y, out):
    """``out = x`` where ``cond`` is nonzero, else ``y``; ``cond`` is shaped like x or holds
    one flag per row."""
    check_device_arrays("where", condition=cond, x=x, y=y, out=out)
    blocks, threads = grid_1d(out.size)
    _where_kernel[blocks, threads](_flat(cond), _flat(x), _flat(y), _inner(cond, x), _flat(out))


def where_grad(cond, g, side, accumulate, out):
    """The gradient of x (``side`` 0: ``g`` where cond) or y (1: ``g`` where not cond)."""
    check_device_arrays("where_grad", condition=cond, g=g, out=out)
    blocks, threads = grid_1d(out.size)
    _where_grad_kernel[blocks, threads](_flat(cond), _flat(g), _inner(cond, g), int(side),
                                        bool(accumulate), _flat(out))
