"""CUDA kernels for elementwise arithmetic with broadcasting, and the small data movers.

On the CPU, ``ops/elemwise.py`` runs these as numpy ufuncs (``np.add(a, b, out=o)``) and sums
broadcast gradients with ``kernels/cpu/elemwise.py:sum_to_shape``; numpy is the reference the
tests hold these kernels to.

Broadcasting without copies: each operand is read through *element strides* along the output's
axes, 0 on an axis where the operand has size 1 (``kernels/cpu/elemwise.py:broadcast_strides``).
A thread turns its output index into a multi-index and each operand's offset in one pass.

* ``binary_forward(a, b, out, code)``: ``out = a (op) b`` for op ``+ - * /`` (``BINARY_CODES``).
* ``binary_grad(g, a, b, code, side, accumulate, out)``: the gradient of one operand, summed
  over the axes along which that operand was broadcast. One thread per element of the operand,
  looping over the output elements it fed, so no atomics and a fixed summation order.
* ``col_sum(g, out, accumulate)``: column sums of a 2-D array (a bias gradient).
* ``fill(out, value)`` and ``copy(src, dst, accumulate)``: flat arrays.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from ...base import MXNetError
from ..cpu.elemwise import broadcast_strides, BINARY_CODES
from .launch import grid_1d, check_device_arrays

__all__ = ["BINARY_CODES", "binary_forward", "binary_grad", "col_sum", "fill", "copy"]


@cuda.jit(device=True)
def _apply(x, y, code):
    if code == 0:
        return x + y
    if code == 1:
        return x - y
    if code == 2:
        return x * y
    return x / y


@cuda.jit(device=True)
def _partial(x, y, code, side):
    """d(x op y)/dx (side 0) or d(x op y)/dy (side 1)."""
    if code == 0:
        return 1.0
    if code == 1:
        return 1.0 if side == 0 else -1.0
    if code == 2:
        return y if side == 0 else x
    return 1.0 / y if side == 0 else -x / (y * y)


@cuda.jit
def _binary_forward_kernel(a, b, out, shape, a_str, b_str, code):
    nd = len(shape)
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        rem, ia, ib = i, 0, 0
        for k in range(nd - 1, -1, -1):
            ik = rem % shape[k]
            rem //= shape[k]
            ia += ik * a_str[k]
            ib += ik * b_str[k]
        out[i] = _apply(a[ia], b[ib], code)


@cuda.jit
def _binary_grad_kernel(g, a, b, shape, a_str, b_str, t_str, code, side, accumulate, out):
    nd = len(shape)
    fan_in = g.shape[0] // out.shape[0]        # output elements each target element fed
    for j in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        acc = 0.0
        for r in range(fan_in):
            rem, gmul, ig, ia, ib = r, 1, 0, 0, 0
            for k in range(nd - 1, -1, -1):
                n = shape[k]
                if t_str[k] != 0:              # an axis the target has: from j
                    ik = (j // t_str[k]) % n
                else:                          # an axis it was broadcast along: from r
                    ik = rem % n
                    rem //= n
                ig += ik * gmul
                gmul *= n
                ia += ik * a_str[k]
                ib += ik * b_str[k]
            acc += g[ig] * _partial(a[ia], b[ib], code, side)
        if accumulate:
            out[j] += acc
        else:
            out[j] = acc


@cuda.jit
def _col_sum_kernel(g, out, accumulate):
    rows, cols = g.shape
    for j in range(cuda.grid(1), cols, cuda.gridsize(1)):
        acc = 0.0
        for i in range(rows):
            acc += g[i, j]
        if accumulate:
            out[j] += acc
        else:
            out[j] = acc


@cuda.jit
def _fill_kernel(out, value):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = value


@cuda.jit
def _copy_kernel(src, dst, accumulate):
    for i in range(cuda.grid(1), dst.shape[0], cuda.gridsize(1)):
        if accumulate:
            dst[i] += src[i]
        else:
            dst[i] = src[i]


def _flat(a):
    return a.reshape(a.size) if a.ndim != 1 else a


def _float_dtype(kernel, *arrays):
    dt = arrays[0].dtype
    for a in arrays:
        if a.dtype != dt or dt not in (np.float32, np.float64):
            raise MXNetError(f"{kernel}: CUDA arithmetic here takes float32 or float64 arrays of "
                             f"one dtype, got {[str(x.dtype) for x in arrays]}")


def _strides(out_shape, shape):
    _, s = broadcast_strides(out_shape, shape)
    return tuple(int(v) for v in s)


def _out_shape(out):
    return tuple(int(v) for v in out.shape) or (1,)


def binary_forward(a, b, out, code):
    """``out = a (op) b`` with numpy broadcasting of ``a`` and ``b`` to ``out.shape``;
    ``out`` may be ``a`` (in place, e.g. ``out += bias``)."""
    check_device_arrays("binary_forward", a=a, b=b, out=out)
    _float_dtype("binary_forward", a, b, out)
    shape = _out_shape(out)
    blocks, threads = grid_1d(out.size)
    _binary_forward_kernel[blocks, threads](
        _flat(a), _flat(b), _flat(out), shape, _strides(shape, a.shape), _strides(shape, b.shape),
        code)


def binary_grad(g, a, b, code, side, accumulate, out):
    """Gradient of operand ``side`` (0: a, 1: b) of ``a (op) b`` given the output gradient
    ``g``, summed to that operand's shape (``out``); ``accumulate`` adds to ``out``."""
    check_device_arrays("binary_grad", g=g, a=a, b=b, out=out)
    _float_dtype("binary_grad", g, a, b, out)
    shape = _out_shape(g)
    target = a if side == 0 else b
    if tuple(out.shape) != tuple(target.shape):
        raise MXNetError(f"binary_grad: out has shape {tuple(out.shape)}, the operand has "
                         f"{tuple(target.shape)}")
    blocks, threads = grid_1d(out.size)
    _binary_grad_kernel[blocks, threads](
        _flat(g), _flat(a), _flat(b), shape, _strides(shape, a.shape), _strides(shape, b.shape),
        _strides(shape, target.shape), code, side, bool(accumulate), _flat(out))


def col_sum(g, out, accumulate):
    """``out[j] (+)= sum_i g[i, j]`` for a 2-D ``g``: the bias gradient of FullyConnected."""
    check_device_arrays("col_sum", g=g, out=out)
    blocks, threads = grid_1d(g.shape[1])
    _col_sum_kernel[blocks, threads](g, out, bool(accumulate))


def fill(out, value):
    """Every element of ``out`` becomes ``value`` (cast to out's dtype)."""
    check_device_arrays("fill", out=out)
    flat = _flat(out)
    blocks, threads = grid_1d(flat.shape[0])
    _fill_kernel[blocks, threads](flat, out.dtype.type(value))


def copy(src, dst, accumulate=False):
    """``dst (+)= src`` element by element in row-major order (equal sizes, any shapes; the
    value is cast to dst's dtype)."""
    check_device_arrays("copy", src=src, dst=dst)
    if src.size != dst.size:
        raise MXNetError(f"copy: source has {src.size} elements, destination {dst.size}")
    blocks, threads = grid_1d(dst.size)
    _copy_kernel[blocks, threads](_flat(src), _flat(dst), bool(accumulate))
