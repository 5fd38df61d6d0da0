"""The GPU column of the operator table: forward and backward of each operator that has CUDA
kernels, on numba device arrays, with the registry's contract (``ops/registry.py``)::

    forward(p, ins, outs, is_train, state)
    backward(p, ograds, ins, outs, igrads, reqs, state)

Shape and type rules are not repeated: they are the operator's own (``ops/nn.py`` ...), and the
executor has already applied them. Each section names its CPU twin; the tests run both on the
same data. Gradient requests become the kernels' ``accumulate`` flag ('add'), or no launch
('null'), so 'add' needs no temporary.

:data:`CUDA_OPS` maps canonical operator names to ``(forward, backward)``; :func:`kernels_for`
is the lookup the executor and ``mx.nd`` use, and its error is the one a student sees for an
operator that has no CUDA kernel yet. The optimizer's GPU step (:func:`sgd_update`) is at the
end.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from ...base import MXNetError
from ...ops.loss import _so_layout, _so_scale
from . import blas, elemwise, loss, nn
from .elemwise import BINARY_CODES

__all__ = ["CUDA_OPS", "kernels_for", "sgd_update"]


def _mode(req, buf):
    """0: no gradient wanted; 1: write; 2: add."""
    if buf is None or req == "null":
        return 0
    return 2 if req == "add" else 1


def _flat(a):
    return a.reshape(a.size)


# -- FullyConnected (CPU: ops/nn.py _fc_forward/_fc_backward, numpy BLAS) ---------------------
def _fc_2d(p, x):
    return x.reshape(x.shape[0], x.size // x.shape[0]) if p["flatten"] else \
        x.reshape(x.size // x.shape[-1], x.shape[-1])


def fc_forward(p, ins, outs, is_train, state):
    x = _fc_2d(p, ins[0])
    out = outs[0].reshape(x.shape[0], p["num_hidden"])
    blas.matmul(x, ins[1], out, False, True, False)                 # x @ W.T
    if not p["no_bias"]:
        elemwise.binary_forward(out, ins[2], out, BINARY_CODES["add"])   # + b, each row


def fc_backward(p, ograds, ins, outs, igrads, reqs, state):
    x = _fc_2d(p, ins[0])
    g = ograds[0].reshape(x.shape[0], p["num_hidden"])
    if _mode(reqs[0], igrads[0]):
        blas.matmul(g, ins[1], igrads[0].reshape(x.shape), False, False, reqs[0] == "add")
    if _mode(reqs[1], igrads[1]):
        blas.matmul(g, x, igrads[1], True, False, reqs[1] == "add")         # g.T @ x
    if not p["no_bias"] and _mode(reqs[2], igrads[2]):
        elemwise.col_sum(g, igrads[2], reqs[2] == "add")


# -- Activation, and the unary relu/sigmoid/tanh (CPU: ops/nn.py, ops/elemwise.py) ------------
def _activation(code_of):
    def forward(p, ins, outs, is_train, state):
        nn.unary_forward(_flat(ins[0]), _flat(outs[0]), code_of(p), 0.0)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        if _mode(reqs[0], igrads[0]):
            nn.unary_backward(_flat(ins[0]), _flat(outs[0]), _flat(ograds[0]), _flat(igrads[0]),
                              code_of(p), 0.0, reqs[0] == "add")
    return forward, backward


# -- SoftmaxOutput (CPU: ops/loss.py _so_forward/_so_backward) --------------------------------
def so_forward(p, ins, outs, is_train, state):
    rows, classes, pos = shape3 = _so_layout(p, ins[0].shape)
    lengths = state.get("lengths")
    if lengths is None or tuple(lengths.shape) != (rows, pos):
        # every row uses all classes; made once per executor, kept on the device
        lengths = state["lengths"] = cuda.to_device(np.full((rows, pos), classes, np.int64))
    loss.softmax_forward(ins[0].reshape(shape3), lengths, 1.0, False, outs[0].reshape(shape3))


def so_backward(p, ograds, ins, outs, igrads, reqs, state):
    if not _mode(reqs[0], igrads[0]):
        return
    out, label = outs[0], ins[1]
    if tuple(label.shape) == tuple(out.shape):
        raise MXNetError("SoftmaxOutput with probability labels (label shaped like data) has no "
                         "CUDA kernel yet; give class indices, or run on mx.cpu()")
    rows, classes, pos = shape3 = _so_layout(p, out.shape)
    lab = _flat(label)[:rows * pos].reshape(rows, pos)
    if p["normalization"] == "valid":
        scale = p["grad_scale"] / max(loss.valid_count(label, p["ignore_label"]), 1)
    else:
        scale = _so_scale(p, label, pos)          # only reads the label's shape
    alpha = 0.0 if p["multi_output"] else p["smooth_alpha"]   # multi_output ignores smoothing
    loss.softmax_output_grad(out.reshape(shape3), lab, p["ignore_label"], p["use_ignore"],
                             alpha, scale, p["out_grad"], reqs[0] == "add",
                             igrads[0].reshape(shape3))


# -- elemwise_* and broadcast_* add/sub/mul/div (CPU: ops/elemwise.py numpy ufuncs) -----------
def _binary(code):
    def forward(p, ins, outs, is_train, state):
        elemwise.binary_forward(ins[0], ins[1], outs[0], code)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        # add/sub declare backward_uses=(): the planner may have reused their inputs' memory,
        # and the kernel then reads stale values it does not use (d(a+b)/da is 1 for any a, b)
        for side in (0, 1):
            if _mode(reqs[side], igrads[side]):
                elemwise.binary_grad(ograds[0], ins[0], ins[1], code, side, reqs[side] == "add",
                                     igrads[side])
    return forward, backward


# -- Flatten, Reshape, expand_dims, identity, BlockGrad: copies (CPU: ops/shape.py ...) -------
def copy_forward(p, ins, outs, is_train, state):
    elemwise.copy(ins[0], outs[0])


def copy_backward(p, ograds, ins, outs, igrads, reqs, state):
    if _mode(reqs[0], igrads[0]):
        elemwise.copy(ograds[0], igrads[0], reqs[0] == "add")


def blockgrad_backward(p, ograds, ins, outs, igrads, reqs, state):
    if _mode(reqs[0], igrads[0]) == 1:      # 'add' adds nothing
        elemwise.fill(igrads[0], 0)


CUDA_OPS = {
    "FullyConnected": (fc_forward, fc_backward),
    "Activation": _activation(lambda p: nn.ACT_CODES[p["act_type"]]),
    "relu": _activation(lambda p: nn.ACT_CODES["relu"]),
    "sigmoid": _activation(lambda p: nn.ACT_CODES["sigmoid"]),
    "tanh": _activation(lambda p: nn.ACT_CODES["tanh"]),
    "SoftmaxOutput": (so_forward, so_backward),
    "Flatten": (copy_forward, copy_backward),
    "Reshape": (copy_forward, copy_backward),
    "expand_dims": (copy_forward, copy_backward),
    "_copy": (copy_forward, copy_backward),
    "BlockGrad": (copy_forward, blockgrad_backward),
}
for _verb, _code in BINARY_CODES.items():
    CUDA_OPS[f"elemwise_{_verb}"] = CUDA_OPS[f"broadcast_{_verb}"] = _binary(_code)


def kernels_for(op, where, ctx):
    """``(forward, backward)`` of ``op`` on the GPU, or an MXNetError naming the operator."""
    pair = CUDA_OPS.get(op.name)
    if pair is None:
        raise MXNetError(f"{op.name} ({where}) has no CUDA kernel yet, so it cannot run on "
                         f"{ctx}; operators with CUDA kernels: {', '.join(sorted(CUDA_OPS))}. "
                         "Use mx.cpu()")
    return pair


# -- the optimizer's step (CPU: optimizer.sgd.SGD._update_impl with sgd_step) -----------------
def sgd_update(weight, grad, state, lr, wd, rescale_grad, clip_gradient, momentum,
               multi_precision=False):
    """SGD on NDArrays that live on one gpu: ``weight`` (and the momentum ``state``) change in
    place on the device."""
    from . import optim
    from .launch import device
    if multi_precision:
        raise MXNetError("SGD with multi_precision (float16 weights, float32 master copy) has no "
                         "CUDA kernel yet; use float32 weights on gpu, or mx.cpu()")
    for what, a in (("gradient", grad), ("momentum state", state)):
        if a is not None and a.context != weight.context:
            raise MXNetError(f"SGD update: the weight is on {weight.context}, its {what} on "
                             f"{a.context}; they must share a device")
    with device(weight.context.device_id):
        optim.sgd_step(weight._data.dev, grad._data.dev,
                       None if state is None else state._data.dev, lr, wd, rescale_grad,
                       clip_gradient, momentum)
