"""Helpers shared by the operator families: gradient requests, kernel views, axis arithmetic,
the shape and type rules several families use, and the GPU forward/backward pairs of the
operators that are plain copies or activations.

The family files (``nn.py``, ``loss.py``, ``shape.py`` ...) import from here and never from each
other, so one operator's file can be read, and changed, alone. The GPU helpers import
``kernels/cuda`` inside the functions: importing the operators never loads numba.cuda.
"""
from __future__ import annotations

import numpy as np

from .registry import assign
from ..base import MXNetError, ShapeError, DTypeError
from ..kernels.cpu.elemwise import sum_to_shape, broadcast_strides

__all__ = ["CAST_DTYPES", "grad_mode", "inplace_view", "flat_in", "norm_axis", "split3",
           "kernel_view", "identity_shape", "shape_from_input", "same_dtype", "grad_to_shape",
           "zero_grads", "gpu_flat", "gpu_copy_forward", "gpu_copy_backward", "gpu_activation",
           "gpu_zero_grads", "data_shape", "tuple_param", "mx_clip_args"]

CAST_DTYPES = ("bool", "float16", "float32", "float64", "int32", "int64", "int8", "uint8")


# -- gradient requests and kernel views ------------------------------------------------------
def grad_mode(req, buf):
    """Kernel code for a gradient request: 0 skip, 1 write, 2 add."""
    if buf is None or req == "null":
        return 0
    return 2 if req == "add" else 1


def inplace_view(a, shape, op="operator"):
    """``a`` reshaped without copying: kernels write through it into the caller's buffer."""
    if not a.flags.c_contiguous:
        raise MXNetError(f"{op}: output/gradient buffers must be C-contiguous (got strides "
                         f"{a.strides} for shape {a.shape})")
    return a.reshape(shape)


def flat_in(a):
    """A contiguous 1-D copy-or-view of a kernel input."""
    return np.ascontiguousarray(a).reshape(-1)


def kernel_view(arr, shape, dtype=None):
    """A contiguous ``shape``-view of ``arr`` a kernel can write, in a dtype Numba handles.

    Returns (view, commit): call ``commit()`` after the kernel; it copies back when the view had
    to be a temporary (non-contiguous buffer, float16, or a requested ``dtype``).
    """
    want = np.dtype(dtype or (np.float32 if arr.dtype == np.float16 else arr.dtype))
    if arr.flags.c_contiguous and arr.dtype == want:
        return arr.reshape(shape), lambda: None
    tmp = np.ascontiguousarray(arr, dtype=want).reshape(shape)

    def commit():
        arr[...] = tmp.reshape(arr.shape)
    return tmp, commit


# -- axes ------------------------------------------------------------------------------------
def norm_axis(opname, axis, ndim, extra=0):
    """``axis`` made non-negative for ``ndim`` dimensions (``extra=1`` allows ``ndim``)."""
    lim = ndim + extra
    if not -lim <= axis < lim:
        raise ShapeError(f"{opname}: axis {axis} is out of range for a {ndim}-d input "
                         f"(expected {-lim} <= axis < {lim})")
    return axis + lim if axis < 0 else axis


def split3(shape, axis):
    """``shape`` as (product before ``axis``, size at ``axis``, product after)."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), int(shape[axis]),
            int(np.prod(shape[axis + 1:], dtype=np.int64)))


# -- shape and type rules --------------------------------------------------------------------
def identity_shape(p, in_shapes):
    """Shape rule: the output is shaped like the first input (the others are left as given)."""
    return list(in_shapes), [None if in_shapes[0] is None else tuple(in_shapes[0])]


def data_shape(opname, in_shapes, min_ndim, needs):
    """The first input's shape as a tuple (None while unknown); fewer than ``min_ndim`` axes
    raise ShapeError saying what the operator ``needs``."""
    if in_shapes[0] is None:
        return None
    data = tuple(in_shapes[0])
    if len(data) < min_ndim:
        raise ShapeError(f"{opname}: input 'data' has shape {data}; it needs {needs}")
    return data


def shape_from_input(rule):
    """A shape rule for one-input operators: ``rule(p, shape)`` gives the output shape."""
    def infer(p, in_shapes):
        if in_shapes[0] is None:
            return list(in_shapes), [None]
        return [tuple(in_shapes[0])] + list(in_shapes[1:]), [rule(p, tuple(in_shapes[0]))]
    return infer


def same_dtype(opname, names=None):
    """A type rule: every input and output has one dtype; two different known dtypes fail."""
    def rule(p, in_types):
        known = [(i, np.dtype(t).name) for i, t in enumerate(in_types) if t is not None]
        if not known:
            return list(in_types), [None]
        for i, t in known:
            if t != known[0][1]:
                label = names or [f"input{k}" for k in range(len(in_types))]
                raise DTypeError(f"{opname}: input '{label[i]}' has dtype {t} but "
                                 f"'{label[known[0][0]]}' has {known[0][1]}; cast one with "
                                 f"astype() or Cast")
        return [known[0][1]] * len(in_types), [known[0][1]]
    return rule


# -- backward helpers ------------------------------------------------------------------------
def grad_to_shape(dst, req, full):
    """Store the gradient ``full`` (shaped like the broadcast output) into ``dst``, summing over
    the axes along which ``dst``'s input was broadcast; honours 'write'/'add'/'null'."""
    if dst is None or req == "null":
        return
    if np.ndim(full) == 0 or full.shape == dst.shape:
        assign(dst, req, full)
        return
    target = dst if dst.flags.c_contiguous else np.zeros(dst.shape, dst.dtype)
    if req != "add" or target is not dst:
        target[...] = 0
    shape, strides = broadcast_strides(full.shape, dst.shape)
    flat = np.ascontiguousarray(full, dtype=dst.dtype).reshape(-1)
    sum_to_shape(flat, shape, strides, target.reshape(-1))
    if target is not dst:
        assign(dst, req, target)


def zero_grads(p, ograds, ins, outs, igrads, reqs, state):
    """Backward of operators whose output does not depend smoothly on any input (comparisons,
    argmax, one_hot ...): every requested gradient is 0."""
    for g, r in zip(igrads, reqs):
        assign(g, r, 0)


# -- GPU pairs shared by several families (numba device arrays) ------------------------------
def gpu_flat(a):
    """A 1-D view of a device array (numba's reshape takes no -1)."""
    return a.reshape(a.size)


def gpu_copy_forward(p, ins, outs, is_train, state):
    """GPU forward of the copies: Flatten, Reshape, expand_dims, identity, BlockGrad."""
    from ..kernels.cuda import elemwise
    elemwise.copy(ins[0], outs[0])


def gpu_copy_backward(p, ograds, ins, outs, igrads, reqs, state):
    """GPU backward of the copies: the head gradient, reshaped by the flat copy."""
    from ..kernels.cuda import elemwise
    if grad_mode(reqs[0], igrads[0]):
        elemwise.copy(ograds[0], igrads[0], reqs[0] == "add")


def gpu_zero_grads(p, ograds, ins, outs, igrads, reqs, state):
    """GPU twin of :func:`zero_grads`: 'write' fills zeros, 'add' adds nothing."""
    from ..kernels.cuda import elemwise
    for g, r in zip(igrads, reqs):
        if grad_mode(r, g) == 1:
            elemwise.fill(g, 0)


def gpu_activation(code_of):
    """GPU (forward, backward) of an activation; ``code_of(p)`` is its ``ACT_CODES`` entry
    (Activation reads act_type; relu, sigmoid and tanh have a fixed code)."""
    def forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import nn
        nn.unary_forward(gpu_flat(ins[0]), gpu_flat(outs[0]), code_of(p), 0.0)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import nn
        if grad_mode(reqs[0], igrads[0]):
            nn.unary_backward(gpu_flat(ins[0]), gpu_flat(outs[0]), gpu_flat(ograds[0]),
                              gpu_flat(igrads[0]), code_of(p), 0.0, reqs[0] == "add")
    return forward, backward


# -- optimizer operators (optimizer_multi.py, optimizer_lamb.py) -----------------------------
def tuple_param(p, key, opname, count, cast=float):
    """Parameter ``key`` (a tuple, or its string form from symbol JSON) as a tuple of ``cast``
    holding one entry per weight (``count``), as MXNet's ``Tuple<float>``/``Tuple<int>``."""
    import ast
    value = p[key]
    if isinstance(value, str):
        value = ast.literal_eval(value.strip() or "()")
    if isinstance(value, (int, float, np.number)):
        value = (value,)
    try:
        value = tuple(cast(v) for v in value)
    except (TypeError, ValueError):
        raise MXNetError(f"{opname}: '{key}' must be a tuple of {cast.__name__}s, got "
                         f"{p[key]!r}") from None
    if len(value) != count:
        raise MXNetError(f"{opname}: '{key}' has {len(value)} entries; expected one per weight "
                         f"({count})")
    return value


def mx_clip_args(t, clip):
    """(bound, use) in dtype ``t`` for MXNet's multi-weight kernels, which clip whenever the
    bound is >= 0 (so 0 clips to zero)."""
    use = clip >= 0
    return t(np.float32(clip) if use else 0), bool(use)


# -- moving whole rows through a row index (index_extra.py, index_contrib.py) ----------------
def to_host(a):
    """A numpy view or copy of a host or device array (index values are read on the host)."""
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def to_device(a):
    """A contiguous device copy of a host array."""
    from numba import cuda
    return cuda.to_device(np.ascontiguousarray(a))


def inner_size(shape, start=1):
    """Elements in one row: the product of the axes from ``start`` on."""
    return int(np.prod(shape[start:], dtype=np.int64))


def rows_gather(src, rows, inner, dst, accumulate):
    """CPU: ``dst (+)= src[rows]`` row by row (``dst`` any float buffer)."""
    from ..kernels.cpu import index_extra as KI
    out, commit = kernel_view(dst, -1)
    KI.rows_gather(flat_in(src).astype(out.dtype, copy=False), rows, inner, out, accumulate)
    commit()


def rows_scatter(src, rows, inner, mode, dst):
    """CPU: row ``i`` of ``src`` written (``mode`` 0), added (1) or subtracted (2) into row
    ``rows[i]`` of ``dst``; a row of -1 is skipped."""
    from ..kernels.cpu import index_extra as KI
    out, commit = kernel_view(dst, -1)
    KI.rows_scatter(flat_in(src).astype(out.dtype, copy=False), rows, inner, mode, out)
    commit()


__all__ += ["to_host", "to_device", "inner_size", "rows_gather", "rows_scatter"]


def table_unary_sides(K, cuda_module, name, st):
    """``forward, backward, gpu_forward, gpu_backward`` of the unary operator ``name`` whose
    kernels run a table of functions (``kernels/cpu/<module>.py``'s ``unary_forward`` /
    ``unary_backward`` with ``K.CODES``; the CUDA twins in ``kernels/cuda/<cuda_module>.py``).
    ``st(p, shape)`` gives the kernels' extra scalar parameters (ops/math.py, ops/math_extra.py)."""
    import importlib
    code = K.CODES[name]

    def forward(p, ins, outs, is_train, state):
        out, commit = kernel_view(outs[0], -1)
        K.unary_forward(flat_in(ins[0]).astype(out.dtype, copy=False), out,
                        *st(p, ins[0].shape), code)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        mode = grad_mode(reqs[0], igrads[0])
        if mode == 0:
            return
        dx, commit = kernel_view(igrads[0], -1)
        t = dx.dtype
        K.unary_backward(flat_in(ins[0]).astype(t, copy=False),
                         flat_in(outs[0]).astype(t, copy=False),
                         flat_in(ograds[0]).astype(t, copy=False), dx, *st(p, ins[0].shape),
                         code, mode == 2)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        C = importlib.import_module(f"..kernels.cuda.{cuda_module}", __package__)
        C.unary_forward(gpu_flat(ins[0]), gpu_flat(outs[0]), name, *st(p, ins[0].shape))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        if grad_mode(reqs[0], igrads[0]):
            C = importlib.import_module(f"..kernels.cuda.{cuda_module}", __package__)
            C.unary_backward(gpu_flat(ins[0]), gpu_flat(outs[0]), gpu_flat(ograds[0]),
                             gpu_flat(igrads[0]), name, reqs[0] == "add", *st(p, ins[0].shape))
    return forward, backward, gpu_forward, gpu_backward


__all__ += ["table_unary_sides"]
