"""``SwapAxis`` (alias ``swapaxes``) of the shape family: exchange two axes.

Kept apart from ``shape.py`` so the fused RNN work could add it without touching that file;
``mx.rnn.FusedRNNCell`` uses it to turn 'NTC' sequences into the 'TNC' the ``RNN`` operator
reads, with the same node names as MXNet. Kernels: numpy ``swapaxes`` on the CPU (no kernel
files); on the GPU the strided copy ``kernels/cuda/elemwise.py:permute``. See notebook 08.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from ..base import ShapeError


def _axes(p, ndim):
    out = []
    for key in ("dim1", "dim2"):
        ax = p[key]
        if not -ndim <= ax < ndim:
            raise ShapeError(f"SwapAxis: {key} = {ax} is out of bounds for an array of "
                             f"{ndim} dimensions")
        out.append(ax % ndim)
    return out


def _shape(p, in_shapes):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    shape = list(data)
    a, b = _axes(p, len(shape))
    shape[a], shape[b] = shape[b], shape[a]
    return [tuple(data)], [tuple(shape)]


def _forward(p, ins, outs, is_train, state):
    outs[0][...] = np.swapaxes(ins[0], *_axes(p, ins[0].ndim))


def _backward(p, ograds, ins, outs, igrads, reqs, state):
    # swapping the same two axes again is the inverse
    assign(igrads[0], reqs[0], np.swapaxes(ograds[0], *_axes(p, ograds[0].ndim)))


def _gpu_swap(ins_or_g, out, p, accumulate):
    from ..kernels.cuda import elemwise
    a, b = _axes(p, ins_or_g.ndim)
    perm = list(range(ins_or_g.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    elemwise.permute(ins_or_g, out, perm, accumulate)


def _gpu_forward(p, ins, outs, is_train, state):
    _gpu_swap(ins[0], outs[0], p, False)


def _gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    if igrads[0] is not None and reqs[0] != "null":
        _gpu_swap(ograds[0], igrads[0], p, reqs[0] == "add")


register(Op(
    name="SwapAxis", aliases=("swapaxes",),
    params={"dim1": Param("int", 0, doc="the first axis"),
            "dim2": Param("int", 0, doc="the second axis")},
    arguments=("data",), infer_shape=_shape, forward=_forward, backward=_backward,
    gpu_forward=_gpu_forward, gpu_backward=_gpu_backward, backward_uses=(),
    doc="Exchange axes dim1 and dim2 (negative axes count from the end). See notebook 08."))
