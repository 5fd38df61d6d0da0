"""CUDA kernels for every elementwise operator: ONE generic map kernel and ONE generic gradient
kernel, driven by a table of codes, plus the launchers that move data (fill, copy, strided
copies for transpose, slices, Concat ...).

On the CPU, ``ops/elemwise.py`` runs numpy ufuncs (``np.add(a, b, out=o)``); numpy is the
reference these kernels are held to.

**The map kernel** computes ``out = f(x, y)`` where ``code`` (``CODES``) picks ``f``: a binary
verb (``add``, ``pow``, ``greater`` ...), a unary function (``exp``, ``sign`` ...; ``y`` is
ignored) or ``clip`` (``y`` and ``z`` are the bounds). ``x`` is read from ``a``, ``y`` from ``b``
or, with ``use_s``, is the scalar ``s``; ``swap`` exchanges them (``scalar - data`` is ``sub``
with ``swap``). Every operand, the output included, is read through *element strides* along the
iteration shape plus an offset, so the same kernel broadcasts (stride 0 on a broadcast axis,
``kernels/cpu/elemwise.py:broadcast_strides``), transposes (permuted strides), slices and
concatenates (an offset into the larger array) without a copy. A thread turns its flat index
into a multi-index and each operand's offset in one pass. Every thread of a launch takes the
same ``code`` branch, so the branch costs nothing on a GPU.

**The gradient kernel** writes ``d f / d x`` (``side`` 0) or ``d f / d y`` (``side`` 1) times the
output gradient into the gradient of one operand, summed over the axes along which that operand
was broadcast. One thread per element of the operand loops over the output elements it fed, so
no atomics are needed and the summation order is fixed. It reads ``o`` (the forward output)
where the formula is cheaper from it (``exp``, ``sqrt``, ``pow``'s exponent side), exactly the
values the CPU backward reads (``backward_uses``).

Both accumulate into the output with ``accumulate`` (grad_req='add') instead of a temporary.
Integers are refused: CUDA arithmetic here is float32/float64, as on MXNet's GPU path.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ...base import MXNetError
from ..cpu.elemwise import broadcast_strides, BINARY_CODES
from .launch import grid_1d, check_device_arrays

__all__ = ["CODES", "BINARY_CODES", "map_forward", "map_grad", "strided_copy", "contiguous",
           "permute", "store", "flat", "split3",
           "binary_forward", "binary_grad", "col_sum", "fill", "copy"]

# f(x, y, z): binary verbs share their numbers with BINARY_CODES (add 0, sub 1, mul 2, div 3)
CODES = {"add": 0, "sub": 1, "mul": 2, "div": 3, "maximum": 4, "minimum": 5, "power": 6,
         "mod": 7, "equal": 8, "not_equal": 9, "greater": 10, "greater_equal": 11,
         "lesser": 12, "lesser_equal": 13,
         # unary: f(x)
         "negative": 20, "copy": 21, "exp": 22, "log": 23, "sqrt": 24, "rsqrt": 25,
         "square": 26, "reciprocal": 27, "abs": 28, "sign": 29, "sigmoid": 30,
         # clip(x, lo=y, hi=z)
         "clip": 40}
assert all(CODES[k] == v for k, v in BINARY_CODES.items())

# Argument types each kernel is compiled with for a real GPU by tests/test_cuda_ptx.py ({t}:
# float32 and float64; N-d tuples shown for 3 axes); numba compiles the same source for any
# other combination on first launch.
_T3 = "UniTuple(int64, 3)"
PTX_SIGNATURES = {
    "_map_kernel": [f"{{t}}[::1], {{t}}[::1], {{t}}[::1], {_T3}, {_T3}, {_T3}, {_T3}, {_T3}, "
                    "{t}, {t}, int64, boolean, boolean, boolean",
                    f"{{t}}[::1], {{t}}[::1], int32[::1], {_T3}, {_T3}, {_T3}, {_T3}, {_T3}, "
                    "{t}, {t}, int64, boolean, boolean, boolean"],          # Cast to int32
    "_grad_kernel": [f"{{t}}[::1], {{t}}[::1], {{t}}[::1], {{t}}[::1], {_T3}, {_T3}, {_T3}, "
                     f"{_T3}, {{t}}, {{t}}, int64, int64, boolean, boolean, boolean, {{t}}[::1]"],
    "_col_sum_kernel": ["{t}[:, ::1], {t}[::1], boolean"],
}


@cuda.jit(device=True)
def store(out, i, v, accumulate):
    """``out[i] = v``, or ``out[i] += v`` for grad_req 'add' (``i`` may be a tuple)."""
    if accumulate:
        out[i] += v
    else:
        out[i] = v


@cuda.jit(device=True)
def split3(e, m, post):
    """Flat index ``e`` of a C-ordered (pre, m, post) array as (i, q, k)."""
    return e // (m * post), (e // post) % m, e % post


@cuda.jit(device=True)
def _operands(a, b, ia, ib, s, use_s, swap):
    """(x, y): x from ``a``, y from ``b`` or the scalar ``s``; exchanged with ``swap``."""
    x = a[ia]
    y = s if use_s else b[ib]
    if swap:
        return y, x
    return x, y


@cuda.jit(device=True)
def _f(x, y, z, code):
    if code == 0:
        return x + y
    if code == 1:
        return x - y
    if code == 2:
        return x * y
    if code == 3:
        return x / y
    if code == 4:
        return x if x >= y else y
    if code == 5:
        return x if x <= y else y
    if code == 6:
        return x ** y
    if code == 7:                      # Python-style remainder; 0 where the divisor is 0
        if y == 0:
            return 0.0
        r = math.fmod(x, y)
        if r != 0 and ((r < 0) != (y < 0)):
            r += y
        return r
    if code == 8:
        return 1.0 if x == y else 0.0
    if code == 9:
        return 1.0 if x != y else 0.0
    if code == 10:
        return 1.0 if x > y else 0.0
    if code == 11:
        return 1.0 if x >= y else 0.0
    if code == 12:
        return 1.0 if x < y else 0.0
    if code == 13:
        return 1.0 if x <= y else 0.0
    if code == 20:
        return -x
    if code == 21:
        return x
    if code == 22:
        return math.exp(x)
    if code == 23:
        return math.log(x)
    if code == 24:
        return math.sqrt(x)
    if code == 25:
        return 1.0 / math.sqrt(x)
    if code == 26:
        return x * x
    if code == 27:
        return 1.0 / x
    if code == 28:
        return abs(x)
    if code == 29:
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    if code == 30:
        return 1.0 / (1.0 + math.exp(-x))
    # clip: MXNet tests the upper bound first
    if x > z:
        return z
    if x < y:
        return y
    return x


@cuda.jit(device=True)
def _df(x, y, z, o, code, side):
    """d f(x, y) / dx (side 0) or / dy (side 1); ``o`` is f(x, y) as the forward stored it."""
    if code == 0:
        return 1.0
    if code == 1:
        return 1.0 if side == 0 else -1.0
    if code == 2:
        return y if side == 0 else x
    if code == 3:
        return 1.0 / y if side == 0 else -x / (y * y)
    if code == 4:                      # ties go to the left operand, as in MXNet
        return (1.0 if x >= y else 0.0) if side == 0 else (0.0 if x >= y else 1.0)
    if code == 5:
        return (1.0 if x <= y else 0.0) if side == 0 else (0.0 if x <= y else 1.0)
    if code == 6:
        return y * x ** (y - 1) if side == 0 else o * math.log(x)
    if code == 7:
        return 1.0 if side == 0 else -math.floor(x / y)
    if code <= 13:                     # comparisons: no gradient
        return 0.0
    if code == 20:
        return -1.0
    if code == 21:
        return 1.0
    if code == 22:
        return o
    if code == 23:
        return 1.0 / x
    if code == 24:
        return 0.5 / o
    if code == 25:
        return -0.5 / (x * math.sqrt(x))
    if code == 26:
        return 2.0 * x
    if code == 27:
        return -1.0 / (x * x)
    if code == 28:
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
    if code == 29:
        return 0.0
    if code == 30:
        return o * (1.0 - o)
    return 1.0 if (x >= y and x <= z) else 0.0


@cuda.jit
def _map_kernel(a, b, out, shape, a_str, b_str, o_str, offs, s, z, code, use_s, swap,
                accumulate):
    nd = len(shape)
    n = 1
    for k in range(nd):
        n *= shape[k]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        rem, ia, ib, io = i, offs[0], offs[1], offs[2]
        for k in range(nd - 1, -1, -1):
            ik = rem % shape[k]
            rem //= shape[k]
            ia += ik * a_str[k]
            ib += ik * b_str[k]
            io += ik * o_str[k]
        x, y = _operands(a, b, ia, ib, s, use_s, swap)
        store(out, io, _f(x, y, z, code), accumulate)


@cuda.jit
def _grad_kernel(g, a, b, o, shape, a_str, b_str, t_str, s, z, code, side, use_s, swap,
                 accumulate, out):
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
            x, y = _operands(a, b, ia, ib, s, use_s, swap)
            acc += g[ig] * _df(x, y, z, o[ig], code, side)
        store(out, j, acc, accumulate)


@cuda.jit
def _col_sum_kernel(g, out, accumulate):
    rows, cols = g.shape
    for j in range(cuda.grid(1), cols, cuda.gridsize(1)):
        acc = 0.0
        for i in range(rows):
            acc += g[i, j]
        store(out, j, acc, accumulate)


# -- host side -------------------------------------------------------------------------------
def flat(a):
    """A 1-D view of a device array (numba's reshape takes no -1)."""
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


def contiguous(shape):
    """Row-major element strides of ``shape``."""
    out, step = [], 1
    for d in reversed(shape):
        out.append(step)
        step *= int(d)
    return tuple(reversed(out))


def _shape(a):
    return tuple(int(v) for v in a.shape) or (1,)


def _code(verb):
    if verb not in CODES:
        raise MXNetError(f"elementwise CUDA kernel: unknown function '{verb}'; known: "
                         f"{sorted(CODES)}")
    return CODES[verb]


def _operand_setup(verb, a, b, out, shape_of, **more):
    """What both generic launchers check and derive: device arrays of one float dtype, the
    iteration shape (that of ``shape_of``), whether y is the scalar (``b`` None; ``a`` then
    stands in for the unused array), out's scalar type and the launch grid."""
    check_device_arrays(verb, a=a, b=b, out=out, **more)
    _float_dtype(verb, *[x for x in (a, b, out, *more.values()) if x is not None])
    use_s = b is None
    return (_shape(shape_of), use_s, a if use_s else b, out.dtype.type) + grid_1d(out.size)


def map_forward(verb, a, b, out, s=0.0, z=0.0, swap=False, accumulate=False):
    """``out (+)= f(x, y)`` with ``f = CODES[verb]``, ``x`` from ``a`` and ``y`` from ``b``, both
    broadcast to ``out.shape`` (numpy rules); ``b=None`` uses the scalar ``s`` instead, ``swap``
    exchanges ``x`` and ``y``; ``z`` is clip's upper bound. ``out`` may be ``a`` (in place)."""
    shape, use_s, b, t, blocks, threads = _operand_setup(verb, a, b, out, out)
    _map_kernel[blocks, threads](
        flat(a), flat(b), flat(out), shape, _strides(shape, a.shape), _strides(shape, b.shape),
        contiguous(shape), (0, 0, 0), t(s), t(z), _code(verb), use_s, bool(swap),
        bool(accumulate))


def map_grad(verb, g, a, b, o, side, accumulate, out, s=0.0, z=0.0, swap=False):
    """Gradient of ``f(x, y)`` (see :func:`map_forward`) with respect to ``x`` (``side`` 0) or
    ``y`` (``side`` 1), times the output gradient ``g``, summed to the shape of ``out`` (the
    operand's gradient); ``o`` is the forward output; ``accumulate`` adds to ``out``."""
    shape, use_s, b, t, blocks, threads = _operand_setup(verb, a, b, out, g, g=g, o=o)
    _grad_kernel[blocks, threads](
        flat(g), flat(a), flat(b), flat(o), shape, _strides(shape, a.shape),
        _strides(shape, b.shape), _strides(shape, out.shape), t(s), t(z), _code(verb),
        int(side), use_s, bool(swap), bool(accumulate), flat(out))


def strided_copy(src, dst, shape, src_str, src_off, dst_str, dst_off, accumulate=False,
                 verb="copy", s=0.0):
    """For every multi-index ``m`` of ``shape``: ``dst[dst_off + m.dst_str] (+)=
    f(src[src_off + m.src_str])`` on the flat arrays (``f`` is ``verb``, a copy by default;
    ``verb`` may also take the scalar ``s``, e.g. ``mul``). Transpose, SwapAxis, slices, Concat,
    stack and SliceChannel are this one launch with different strides; the value is cast to
    dst's dtype (Cast)."""
    check_device_arrays("strided_copy", src=src, dst=dst)
    shape = tuple(int(v) for v in shape) or (1,)
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return
    sf, df = flat(src), flat(dst)
    blocks, threads = grid_1d(n)
    _map_kernel[blocks, threads](
        sf, sf, df, shape, tuple(int(v) for v in src_str), tuple(int(v) for v in src_str),
        tuple(int(v) for v in dst_str), (int(src_off), int(src_off), int(dst_off)),
        sf.dtype.type(s), sf.dtype.type(0), _code(verb), True, False, bool(accumulate))


def permute(src, dst, perm, accumulate=False):
    """``dst (+)= src.transpose(perm)``: one strided copy (transpose, SwapAxis and their
    gradients); ``dst`` has the permuted shape."""
    shape = tuple(int(src.shape[k]) for k in perm)
    if tuple(dst.shape) != shape:
        raise MXNetError(f"permute: dst has shape {tuple(dst.shape)}, src {tuple(src.shape)} "
                         f"permuted by {tuple(perm)} is {shape}")
    src_str = contiguous(src.shape)
    strided_copy(src, dst, shape, [src_str[k] for k in perm], 0, contiguous(shape), 0,
                 accumulate)


# -- the names the nn family and the copies use ---------------------------------------------
def binary_forward(a, b, out, code):
    """``out = a (op) b`` with numpy broadcasting of ``a`` and ``b`` to ``out.shape``
    (``code`` from ``BINARY_CODES``); ``out`` may be ``a`` (in place, e.g. ``out += bias``)."""
    map_forward({v: k for k, v in CODES.items()}[code], a, b, out)


def binary_grad(g, a, b, code, side, accumulate, out):
    """Gradient of operand ``side`` (0: a, 1: b) of ``a (op) b`` given the output gradient
    ``g``, summed to that operand's shape (``out``); ``accumulate`` adds to ``out``."""
    target = a if side == 0 else b
    if tuple(out.shape) != tuple(target.shape):
        raise MXNetError(f"binary_grad: out has shape {tuple(out.shape)}, the operand has "
                         f"{tuple(target.shape)}")
    map_grad({v: k for k, v in CODES.items()}[code], g, a, b, g, side, accumulate, out)


def col_sum(g, out, accumulate):
    """``out[j] (+)= sum_i g[i, j]`` for a 2-D ``g``: the bias gradient of FullyConnected."""
    check_device_arrays("col_sum", g=g, out=out)
    blocks, threads = grid_1d(g.shape[1])
    _col_sum_kernel[blocks, threads](g, out, bool(accumulate))


def fill(out, value, accumulate=False):
    """Every element of ``out`` becomes ``value`` (cast to out's dtype); ``accumulate`` adds
    it instead."""
    check_device_arrays("fill", out=out)
    shape = _shape(out)
    blocks, threads = grid_1d(out.size)
    o = flat(out)
    t = out.dtype.type
    _map_kernel[blocks, threads](o, o, o, shape, (0,) * len(shape), (0,) * len(shape),
                                 contiguous(shape), (0, 0, 0), t(value), t(0), CODES["copy"],
                                 True, True, bool(accumulate))


def copy(src, dst, accumulate=False):
    """``dst (+)= src`` element by element in row-major order (equal sizes, any shapes; the
    value is cast to dst's dtype)."""
    check_device_arrays("copy", src=src, dst=dst)
    if src.size != dst.size:
        raise MXNetError(f"copy: source has {src.size} elements, destination {dst.size}")
    strided_copy(src, dst, (dst.size,), (1,), 0, (1,), 0, accumulate)
