"""What the two linalg family files (``linalg.py``: gemm, gemm2, trmm, trsm, syrk, potrf,
potri; ``linalg_factor.py``: sumlogdiag, inverse, det, slogdet, gelqf and the diagonal/triangle
packers) share: one algorithm per operator for both devices, the dtype rule and the shape
helpers. Not a family itself (it registers nothing).

**One algorithm, two sides.** The CPU kernels (``kernels/cpu/linalg.py``) and the CUDA
launchers (``kernels/cuda/linalg.py``) have the same names and signatures, so each operator's
forward and backward is written once against a :class:`Side` — the kernels module plus how to
allocate, view and store arrays on that device. ``forward(side, p, ins) -> results`` and
``backward(side, p, ograds, ins, outs) -> input gradients`` return fresh arrays; the wrappers
built by :func:`register_linalg` store them into the executor's buffers honouring
'write'/'add'/'null' (the ``axpy`` kernel), on the CPU and on ``mx.gpu(i)`` alike.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, register
from ..base import MXNetError, ShapeError, DTypeError

__all__ = ["Side", "CPU", "gpu_side", "register_linalg", "float_types", "matrix_batch",
           "square_batch", "batch_shape", "check_info", "LINALG_OPS"]

LINALG_OPS = []


class Side:
    """The arrays and kernels of one device kind (CPU: numpy + Numba; GPU: numba device
    arrays + CUDA launchers)."""

    def __init__(self, gpu):
        self.gpu = gpu
        self._k = None

    @property
    def K(self):  # noqa: N802 - the kernels module, as the family files call it
        if self._k is None:
            if self.gpu:
                from ..kernels.cuda import linalg
            else:
                from ..kernels.cpu import linalg
            self._k = linalg
        return self._k

    def empty(self, shape, dtype):
        if self.gpu:
            from numba import cuda
            return cuda.device_array(tuple(int(s) for s in shape), dtype=np.dtype(dtype))
        return np.empty(shape, dtype=dtype)

    def zeros(self, shape, dtype):
        if not self.gpu:
            return np.zeros(shape, dtype=dtype)
        from ..kernels.cuda import elemwise
        out = self.empty(shape, dtype)
        elemwise.fill(out, 0)
        return out

    def view(self, a, shape):
        """``a`` (an input) as a C-contiguous array of ``shape``."""
        if self.gpu:
            return a.reshape(tuple(int(s) for s in shape))
        return np.ascontiguousarray(a).reshape(shape)

    def flat(self, a):
        return a.reshape(a.size) if self.gpu else a.reshape(-1)

    def to_side(self, host_array):
        if self.gpu:
            from numba import cuda
            return cuda.to_device(np.ascontiguousarray(host_array))
        return host_array

    def host(self, a):
        return a.copy_to_host() if self.gpu else np.asarray(a)

    def put(self, dst, req, src, alpha=1.0):
        """``dst (+)= alpha * src`` as ``req`` says ('write', 'add', 'null'); ``src`` may be
        an ``(array, alpha)`` pair (a gradient that is a scaled intermediate)."""
        if isinstance(src, tuple):
            src, alpha = src
        if dst is None or req == "null" or src is None:
            return
        if self.gpu:
            self.K.axpy(self.flat(src), alpha, req == "add", self.flat(dst))
            return
        value = np.asarray(src).reshape(dst.shape)
        if alpha != 1.0:
            value = alpha * value
        if req == "add":
            dst += value
        else:
            dst[...] = value


CPU = Side(False)
_GPU = Side(True)


def gpu_side():
    return _GPU


def float_types(opname):
    """Type rule: every input and output has one dtype, float32 or float64 (as MXNet's
    LAPACK-backed operators)."""
    def rule(p, in_types):
        known = [np.dtype(t).name for t in in_types if t is not None]
        if not known:
            return list(in_types), None
        t = known[0]
        for other in known:
            if other not in ("float32", "float64"):
                raise DTypeError(f"{opname}: this operation only supports 32-bit and 64-bit "
                                 f"floating point; got an input of dtype {other}")
            if other != t:
                raise DTypeError(f"{opname}: inputs have dtypes {known}; expected one dtype")
        return [t] * len(in_types), t
    return rule


def batch_shape(shape, nmat=2):
    """The leading (batch) axes of a stack of matrices (``nmat`` = 2) or vectors (1)."""
    return tuple(shape[:len(shape) - nmat])


def matrix_batch(opname, name, shape, square=False):
    """(batch, rows, cols) of a stack of matrices; ShapeError when ``shape`` is not one."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ShapeError(f"{opname}: input '{name}' has shape {shape}; its dimension must be "
                         f">= 2 (a matrix or a stack of matrices)")
    if square and shape[-1] != shape[-2]:
        raise ShapeError(f"{opname}: input '{name}' has shape {shape}; its last two "
                         f"dimensions must be equal (square matrices)")
    return int(np.prod(shape[:-2], dtype=np.int64)), int(shape[-2]), int(shape[-1])


def square_batch(opname, shape):
    return matrix_batch(opname, "A", shape, square=True)


def register_linalg(name, params, arguments, outputs, infer_shape, forward, backward, doc,
                    backward_uses=("ins", "outs"), alias=True):
    """Register ``_linalg_<name>`` (with ``alias``: also ``linalg_<name>``, as MXNet has for all
    but syevd; ``mx.nd.linalg.<name>`` always) from side-generic ``forward(side, p, ins) ->
    [results]`` and ``backward(side, p, ograds, ins, outs) -> [gradients]``."""
    full = f"_linalg_{name}"
    rule = float_types(full)

    def types(p, in_types):
        ins, t = rule(p, in_types)
        n_out = len(outputs) if not callable(outputs) else len(outputs(p))
        return ins, [t] * n_out

    def shapes(p, in_shapes):
        n_out = len(outputs) if not callable(outputs) else len(outputs(p))
        if any(s is None for s in in_shapes):
            return list(in_shapes), [None] * n_out
        return infer_shape(p, [tuple(s) for s in in_shapes])

    def make(side_of):
        def fwd(p, ins, outs, is_train, state):
            side = side_of()
            for out, res in zip(outs, forward(side, p, list(ins))):
                side.put(out, "write", res)

        def bwd(p, ograds, ins, outs, igrads, reqs, state):
            if all(r == "null" or g is None for g, r in zip(igrads, reqs)):
                return
            side = side_of()
            for g, r, res in zip(igrads, reqs, backward(side, p, list(ograds), list(ins),
                                                         list(outs))):
                side.put(g, r, res)
        return fwd, bwd

    cpu_f, cpu_b = make(lambda: CPU)
    gpu_f, gpu_b = make(gpu_side)
    register(Op(name=full, aliases=(f"linalg_{name}",) if alias else (), params=params,
                arguments=arguments, outputs=outputs, infer_shape=shapes, infer_type=types,
                forward=cpu_f, backward=cpu_b, gpu_forward=gpu_f, gpu_backward=gpu_b,
                backward_uses=backward_uses, doc=doc))
    LINALG_OPS.append(full)


def check_info(opname, side, info, what):
    """Raise MXNetError naming the first matrix whose factorisation failed (``info`` > 0)."""
    host = side.host(info)
    bad = np.nonzero(host)[0]
    if bad.size:
        k = int(bad[0])
        raise MXNetError(f"{opname}: {what} (matrix {k} of the batch, column "
                         f"{int(host[k]) - 1})")

