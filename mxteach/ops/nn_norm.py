"""BatchNorm, the normalisation layer of the nn family (its other layers are in ``ops/nn.py``).
Kernels: CPU ``kernels/cpu/nn.py`` (bn_*); CUDA ``kernels/cuda/nn_norm.py`` (block-level tree
reductions for the statistics); numpy twins ``kernels/reference/nn.py``.

Three MXNet 1.9.1 behaviours are easy to miss and are reproduced here:

* the moving statistics are updated in **backward**, not forward (a training forward alone leaves
  them untouched): ``moving = moving * momentum + batch * (1 - momentum)`` with the *biased*
  batch variance;
* with ``fix_gamma=True`` the forward pass writes 1 into gamma itself, and gamma's gradient is 0;
* with ``output_mean_var=True`` the third output, named ``var``, holds ``1/sqrt(var + eps)``.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register, assign
from ..base import MXNetError, ShapeError
from ..kernels.cpu import nn as K
from .common import grad_mode, inplace_view

_NAMES = ("data", "gamma", "beta", "moving_mean", "moving_var")


def _axis(p, ndim):
    ax = p["axis"] + ndim if p["axis"] < 0 else p["axis"]
    if not 0 <= ax < ndim:
        raise ShapeError(f"BatchNorm: axis = {p['axis']} is out of range for data with {ndim} "
                         f"dimensions")
    return ax


def _bn_outputs(p):
    return ["output", "mean", "var"] if p["output_mean_var"] else ["output"]


def _bn_shape(p, in_shapes):
    if p["eps"] <= 0:
        raise MXNetError(f"BatchNorm: eps = {p['eps']} must be positive")
    n_out = len(_bn_outputs(p))
    data = in_shapes[0]
    if data is None:
        return in_shapes, [None] * n_out
    data = tuple(data)
    if len(data) < 1:
        raise ShapeError("BatchNorm: input data is a scalar; it needs a channel axis")
    chan = (data[_axis(p, len(data))],)
    for name, got in zip(_NAMES[1:], in_shapes[1:]):
        if got is not None and tuple(got) != chan:
            raise ShapeError(f"BatchNorm: input {name} has shape {tuple(got)}, expected {chan} "
                             f"(one value per channel on axis {p['axis']} of data {data})")
    return [data] + [chan] * 4, [data, chan, chan][:n_out]


def _as3(x, ax):
    """(outer, C, inner) view with the channel axis in the middle."""
    s = x.shape
    return x.reshape(math.prod(s[:ax]), s[ax], -1)      # math.prod: no numpy call per step


def _bn_forward(p, ins, outs, is_train, state):
    x, gamma, beta, moving_mean, moving_var = ins
    ax = _axis(p, x.ndim)
    if p["fix_gamma"]:
        gamma[...] = 1          # MXNet overwrites gamma in place: it is observable afterwards
    x3 = _as3(np.ascontiguousarray(x), ax)
    batch = is_train and not p["use_global_stats"]
    if batch:
        mean = np.empty(x3.shape[1], np.float64)
        var = np.empty(x3.shape[1], np.float64)
        K.bn_batch_stats(x3, mean, var)
    else:
        mean = moving_mean.astype(np.float64)
        var = moving_var.astype(np.float64)
    invstd = 1.0 / np.sqrt(var + p["eps"])
    K.bn_forward(x3, mean, invstd, np.ascontiguousarray(gamma), np.ascontiguousarray(beta),
                 _as3(inplace_view(outs[0], x.shape, "BatchNorm"), ax))
    if p["output_mean_var"]:
        outs[1][...] = mean
        outs[2][...] = invstd    # sic: MXNet's 'var' output is the inverse std
    state.update(mean=mean, var=var, invstd=invstd, batch=batch)


def _backward_setup(p, ins, state):
    """(channel axis, channel count) for a backward (CPU or GPU), which needs a forward first."""
    if "invstd" not in state:
        raise MXNetError("BatchNorm: backward needs a forward pass first")
    ax = _axis(p, ins[0].ndim)
    return ax, ins[0].shape[ax]


def _bn_backward(p, ograds, ins, outs, igrads, reqs, state):
    x, gamma, beta, moving_mean, moving_var = ins
    ax, n_chan = _backward_setup(p, ins, state)
    gamma_eff = np.ones(n_chan, x.dtype) if p["fix_gamma"] else np.ascontiguousarray(gamma)
    mode = grad_mode(reqs[0], igrads[0])
    x3 = _as3(np.ascontiguousarray(x), ax)
    dx3 = _as3(inplace_view(igrads[0], x.shape, "BatchNorm"), ax) if mode else x3
    sum_dy = np.empty(n_chan, np.float64)
    sum_dy_xhat = np.empty(n_chan, np.float64)
    K.bn_backward(x3, _as3(np.ascontiguousarray(ograds[0]), ax), state["mean"],
                  state["invstd"], gamma_eff, dx3, sum_dy, sum_dy_xhat, state["batch"], mode)
    assign(igrads[1], reqs[1], 0 if p["fix_gamma"] else sum_dy_xhat.astype(gamma.dtype))
    assign(igrads[2], reqs[2], sum_dy.astype(beta.dtype))
    if state["batch"]:
        m = float(np.float32(p["momentum"]))     # MXNet keeps momentum as a float32
        moving_mean[...] = moving_mean * m + state["mean"] * (1 - m)
        moving_var[...] = moving_var * m + state["var"] * (1 - m)


def _gpu_scratch(state, key, n):
    """A float64 per-channel device array kept in the node state."""
    from numba import cuda
    buf = state.get(key)
    if buf is None or buf.shape[0] != n:
        buf = state[key] = cuda.device_array(n, np.float64)
    return buf


def _gpu_as3(a, ax):
    s = tuple(a.shape)
    return a.reshape(int(np.prod(s[:ax], dtype=np.int64)), s[ax],
                     int(np.prod(s[ax + 1:], dtype=np.int64)))


def _bn_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise, nn_norm
    x, gamma, beta, moving_mean, moving_var = ins
    ax = _axis(p, x.ndim)
    if p["fix_gamma"]:
        elemwise.fill(gamma, 1)
    n_chan = x.shape[ax]
    mean, var, invstd = (_gpu_scratch(state, k, n_chan) for k in ("mean", "var", "invstd"))
    batch = is_train and not p["use_global_stats"]
    x3 = _gpu_as3(x, ax)
    if batch:
        nn_norm.bn_batch_stats(x3, p["eps"], mean, var, invstd)
    else:
        nn_norm.bn_global_stats(moving_mean, moving_var, p["eps"], mean, var, invstd)
    extra = outs[1:3] if p["output_mean_var"] else (None, None)
    nn_norm.bn_forward(x3, mean, invstd, gamma, beta, p["fix_gamma"],
                       _gpu_as3(outs[0], ax), *extra)
    state["batch"] = batch


def _bn_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_norm
    x, gamma, beta, moving_mean, moving_var = ins
    ax, n_chan = _backward_setup(p, ins, state)
    modes = [grad_mode(r, g) for r, g in zip(reqs, igrads)]
    x3 = _gpu_as3(x, ax)
    nn_norm.bn_backward(x3, _gpu_as3(ograds[0], ax), state["mean"], state["invstd"], gamma,
                        p["fix_gamma"], state["batch"],
                        _gpu_as3(igrads[0], ax) if modes[0] else None, modes[0],
                        igrads[1], modes[1], igrads[2], modes[2],
                        _gpu_scratch(state, "sum_dy", n_chan),
                        _gpu_scratch(state, "sum_dy_xhat", n_chan))
    if state["batch"]:
        nn_norm.bn_moving_update(moving_mean, moving_var, state["mean"], state["var"],
                                 float(np.float32(p["momentum"])))


register(Op(
    name="BatchNorm",
    params={"eps": Param("float", 1e-3), "momentum": Param("float", 0.9),
            "fix_gamma": Param("bool", True, doc="use gamma = 1 (and write 1 into gamma)"),
            "use_global_stats": Param("bool", False,
                                      doc="normalise with the moving statistics in training too"),
            "output_mean_var": Param("bool", False, doc="also output mean and 1/sqrt(var+eps)"),
            "axis": Param("int", 1, doc="the channel axis"),
            "cudnn_off": Param("bool", False, doc="accepted, no effect on CPU"),
            "min_calib_range": Param("float", None, optional=True, doc="quantisation; unused"),
            "max_calib_range": Param("float", None, optional=True, doc="quantisation; unused")},
    arguments=["data", "gamma", "beta"], aux=["moving_mean", "moving_var"],
    # as in MXNet, the running statistics carry their own initializers
    extra={"input_attrs": {"moving_mean": {"__init__": '["zero", {}]'},
                           "moving_var": {"__init__": '["one", {}]'}}},
    outputs=_bn_outputs, infer_shape=_bn_shape, forward=_bn_forward, backward=_bn_backward,
    gpu_forward=_bn_gpu_forward, gpu_backward=_bn_gpu_backward, backward_uses=("ins",),
    doc="y = (x - mean) / sqrt(var + eps) * gamma + beta per channel: batch statistics while "
        "training, moving averages otherwise. See notebook 05."))
