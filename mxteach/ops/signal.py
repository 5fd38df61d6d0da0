"""The signal operators of ``mx.nd.contrib``: ``fft``, ``ifft`` and ``count_sketch``
(registered as ``_contrib_fft`` ...).

MXNet 1.9.1 builds these on the GPU only (cuFFT and CUDA kernels; on a CPU they fail). mxteach
runs them on both, with the layout and scaling of MXNet's GPU code:

* ``fft``: real ``(..., d)`` rows (2-D or 4-D data) to their DFT, ``(..., 2 d)`` with real and
  imaginary parts interleaved; the gradient is the real part of the unnormalised inverse DFT of
  the head gradient (exactly the derivative of the forward);
* ``ifft``: interleaved complex ``(..., 2 d)`` rows to the real part of their **unnormalised**
  inverse DFT, ``(..., d)`` -- ``mx.nd.contrib.ifft(mx.nd.contrib.fft(x))`` is ``d * x``;
* ``count_sketch``: ``out[n, h[i]] += s[i] * data[n, i]`` with ``h``, ``s`` of shape
  ``(1, in_dim)`` (bucket indices and +-1 signs); the gradient flows to ``data`` only
  (``h`` and ``s`` get zeros, MXNet computes none for them).

``compute_size`` and ``processing_batch_size`` only split MXNet's GPU launches into sub-batches;
they are accepted and checked, the results do not depend on them. Kernels:
``kernels/cpu/signal.py`` (numpy's FFT; Numba count sketch), ``kernels/cuda/signal.py`` (a
direct DFT per output value), numpy twins ``kernels/reference/signal.py``.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, kernel_view
from ..base import ShapeError
from ..kernels.cpu import signal as K

__all__ = ["SIGNAL_OPS"]

SIGNAL_OPS = ("fft", "ifft", "count_sketch")


def _rows(name, shape):
    if len(shape) not in (2, 4):
        raise ShapeError(f"{name}: input 'data' has shape {tuple(shape)}; it needs 2-D "
                         f"(batch, d) or 4-D (..., d) data")
    return int(np.prod(shape[:-1], dtype=np.int64)), int(shape[-1])


# -- fft / ifft -------------------------------------------------------------------------------
def _transform_op(name, inverse):
    """fft (inverse=False): real -> interleaved; ifft: interleaved -> real part."""
    def last(shape):
        n, width = _rows(name, shape)
        if inverse and width % 2:
            raise ShapeError(f"{name}: the last axis of 'data' {tuple(shape)} holds interleaved "
                             f"(real, imag) pairs, so it must be even; got {width}")
        return n, width

    def infer_shape(p, in_shapes):
        if in_shapes[0] is None:
            return list(in_shapes), [None]
        data = tuple(in_shapes[0])
        _, width = last(data)
        return [data], [data[:-1] + ((width // 2) if inverse else (width * 2),)]

    # forward: (src complex?, sign, take real part); backward: the transposed transform
    fwd = (True, 1, True) if inverse else (False, -1, False)
    bwd = (False, -1, False) if inverse else (True, 1, True)

    def forward(p, ins, outs, is_train, state):
        n, width = last(ins[0].shape)
        out, commit = kernel_view(outs[0], (n, outs[0].size // max(n, 1)))
        K.dft(np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(n, width), *fwd, False, out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        if not grad_mode(reqs[0], igrads[0]):
            return
        n, width = last(ins[0].shape)
        dx, commit = kernel_view(igrads[0], (n, width))
        dy = np.ascontiguousarray(ograds[0], dtype=dx.dtype)
        K.dft(dy.reshape(n, dy.size // max(n, 1)), *bwd, reqs[0] == "add", dx)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import signal as C
        n, width = last(tuple(ins[0].shape))
        C.dft(ins[0].reshape(n, width), *fwd, False, outs[0].reshape(n, outs[0].size // n))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import signal as C
        if grad_mode(reqs[0], igrads[0]):
            n, width = last(tuple(ins[0].shape))
            C.dft(ograds[0].reshape(n, ograds[0].size // n), *bwd, reqs[0] == "add",
                  igrads[0].reshape(n, width))

    return infer_shape, forward, backward, gpu_forward, gpu_backward


for _name, _inverse, _doc in (
        ("fft", False, "Unnormalised DFT of each real row of the last axis; the output "
                       "interleaves real and imaginary parts (last axis doubled)"),
        ("ifft", True, "Real part of the unnormalised inverse DFT of each interleaved complex "
                       "row (last axis halved); ifft(fft(x)) = d * x")):
    _fns = _transform_op("_contrib_" + _name, _inverse)
    register(Op(
        name="_contrib_" + _name,
        params={"compute_size": Param("int", 128, low=1,
                                      doc="rows per GPU sub-batch in MXNet; no effect on "
                                          "results")},
        arguments=["data"], infer_shape=_fns[0], forward=_fns[1], backward=_fns[2],
        gpu_forward=_fns[3], gpu_backward=_fns[4], backward_uses=("ins",), hint=_name,
        doc=_doc + "."))


# -- count_sketch -----------------------------------------------------------------------------
def _sketch_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    data = tuple(in_shapes[0])
    _, in_dim = _rows("count_sketch", data)
    for arg, got in zip(("h", "s"), in_shapes[1:]):
        if got is not None and tuple(got) != (1, in_dim):
            raise ShapeError(f"count_sketch: input '{arg}' has shape {tuple(got)}, expected "
                             f"(1, {in_dim}) for data {data}")
    return [data, (1, in_dim), (1, in_dim)], [data[:-1] + (p["out_dim"],)]


def _check_buckets(h, out_dim):
    h = np.asarray(h)
    if h.size and (h.min() < 0 or h.max() >= out_dim):
        raise ShapeError(f"count_sketch: hash indices 'h' must lie in [0, out_dim = {out_dim}); "
                         f"got values from {h.min()} to {h.max()}")


def _sketch_forward(p, ins, outs, is_train, state):
    x, h, s = ins
    n, in_dim = _rows("count_sketch", x.shape)
    _check_buckets(h, p["out_dim"])
    out, commit = kernel_view(outs[0], (n, p["out_dim"]))
    K.sketch_forward(np.ascontiguousarray(x, dtype=out.dtype).reshape(n, in_dim),
                     np.ascontiguousarray(h, dtype=out.dtype).reshape(-1),
                     np.ascontiguousarray(s, dtype=out.dtype).reshape(-1), out)
    commit()


def _sketch_backward(p, ograds, ins, outs, igrads, reqs, state):
    x, h, s = ins
    n, in_dim = _rows("count_sketch", x.shape)
    if grad_mode(reqs[0], igrads[0]):
        dx, commit = kernel_view(igrads[0], (n, in_dim))
        K.sketch_backward(np.ascontiguousarray(ograds[0], dtype=dx.dtype).reshape(n, -1),
                          np.ascontiguousarray(h, dtype=dx.dtype).reshape(-1),
                          np.ascontiguousarray(s, dtype=dx.dtype).reshape(-1),
                          reqs[0] == "add", dx)
        commit()
    for g, r in zip(igrads[1:], reqs[1:]):      # no gradient for the hash and the signs
        assign(g, r, 0)


def _sketch_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import signal as C
    x, h, s = ins
    n, in_dim = _rows("count_sketch", tuple(x.shape))
    _check_buckets(h.copy_to_host(), p["out_dim"])
    C.sketch_forward(x.reshape(n, in_dim), h.reshape(in_dim), s.reshape(in_dim),
                     outs[0].reshape(n, p["out_dim"]))


def _sketch_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import signal as C
    from ..kernels.cuda import elemwise
    x, h, s = ins
    n, in_dim = _rows("count_sketch", tuple(x.shape))
    if grad_mode(reqs[0], igrads[0]):
        C.sketch_backward(ograds[0].reshape(n, p["out_dim"]), h.reshape(in_dim),
                          s.reshape(in_dim), reqs[0] == "add", igrads[0].reshape(n, in_dim))
    for g, r in zip(igrads[1:], reqs[1:]):
        if grad_mode(r, g) == 1:
            elemwise.fill(g, 0)


register(Op(
    name="_contrib_count_sketch",
    params={"out_dim": Param("int", low=1, doc="the sketch length"),
            "processing_batch_size": Param("int", 32, low=1,
                                           doc="rows per GPU launch in MXNet; no effect on "
                                               "results")},
    arguments=["data", "h", "s"], infer_shape=_sketch_shape, forward=_sketch_forward,
    backward=_sketch_backward, gpu_forward=_sketch_gpu_forward,
    gpu_backward=_sketch_gpu_backward, backward_uses=("ins",), hint="count_sketch",
    doc="Count sketch of the last axis: out[..., h[i]] += s[i] * data[..., i], the random "
        "projection of compact bilinear pooling."))
