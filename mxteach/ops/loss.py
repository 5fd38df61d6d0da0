"""Loss heads and the softmax family: softmax, log_softmax, SoftmaxOutput, the regression outputs,
MakeLoss and BlockGrad.

A loss head (``loss=True``) defines the gradient of a loss it never computes: its forward is the
prediction (softmax probabilities, the identity, a sigmoid) and its backward writes
d loss / d data without reading a head gradient. Labels get no gradient: MXNet leaves their
gradient buffers untouched, and so do we.

Kernels: CPU ``kernels/cpu/loss.py``; CUDA ``kernels/cuda/loss.py`` (softmax family with
block-level tree reductions, the SoftmaxOutput and regression gradients, device-side counts for
'valid' normalization; copies and fills with ``kernels/cuda/elemwise.py``); numpy twins
``kernels/reference/loss.py``.

Known difference from MXNet 1.9.1: with grad_req='add' the loss heads here accumulate; MXNet's
SoftmaxOutput overwrites instead, and its regression outputs return garbled sums.
See notebook 02.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import (norm_axis, split3, kernel_view, identity_shape, grad_mode, gpu_flat,
                     gpu_copy_forward, data_shape)
from ..base import MXNetError, ShapeError, DTypeError
from ..kernels.cpu.loss import softmax_forward, softmax_backward, softmax_output_grad

_NORMALIZATIONS = ("null", "batch", "valid")


def _float(x):
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _check(opname, name, got, want):
    if got is not None and tuple(got) != tuple(want):
        raise ShapeError(f"{opname}: input '{name}' has shape {tuple(got)}, expected "
                         f"{tuple(want)}")


# -- softmax, log_softmax ------------------------------------------------------------------
def _softmax_family(opname, use_log):
    def args(p):
        return ["data", "length"] if p["use_length"] else ["data"]

    def infer_shape(p, in_shapes):
        if use_log and p["use_length"]:
            raise ShapeError(f"{opname}: use_length=True needs a 'length' input, which "
                             f"{opname} does not take (use softmax)")
        data = in_shapes[0]
        if data is None:
            return list(in_shapes), [None]
        data = tuple(data)
        ax = norm_axis(opname, p["axis"], len(data))
        shapes = [data]
        if p["use_length"]:
            want = data[:ax] + data[ax + 1:]
            _check(opname, "length", in_shapes[1], want)
            shapes.append(want)
        return shapes, [data]

    def infer_type(p, in_types):
        t = in_types[0]
        if t is not None and not np.issubdtype(np.dtype(t), np.floating):
            raise DTypeError(f"{opname}: data has dtype {t}; softmax needs floating point "
                             f"(Cast it first)")
        out = p["dtype"] or t
        types = [t] + ([in_types[1] or "int32"] if p["use_length"] else [])
        return types, [out]

    def _lengths(p, ins, pre, n, post):
        if p["use_length"]:
            return np.trunc(ins[1]).astype(np.int64).reshape(pre, post)
        return np.full((pre, post), n, dtype=np.int64)

    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        ax = norm_axis(opname, p["axis"], x.ndim)
        shape3 = split3(x.shape, ax)
        out, commit = kernel_view(outs[0], shape3)
        t = 1.0 if p["temperature"] is None else p["temperature"]
        softmax_forward(np.ascontiguousarray(x, dtype=out.dtype).reshape(shape3),
                        _lengths(p, ins, *shape3), t, use_log, out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        if p["use_length"]:
            assign(igrads[1], reqs[1], 0)
        if igrads[0] is None or reqs[0] == "null":
            return
        ax = norm_axis(opname, p["axis"], outs[0].ndim)
        shape3 = split3(outs[0].shape, ax)
        o = _float(outs[0]).reshape(shape3)
        g = np.ascontiguousarray(ograds[0], dtype=o.dtype).reshape(shape3)
        t = 1.0 if p["temperature"] is None else p["temperature"]
        add = reqs[0] == "add"
        dst, commit = kernel_view(igrads[0], shape3, o.dtype)
        softmax_backward(np.ascontiguousarray(o), g, _lengths(p, ins, *shape3), t, use_log,
                         add, dst)
        commit()

    def gpu_lengths(p, ins, shape3, state):
        from numba import cuda
        from ..kernels.cuda import elemwise
        pre, n, post = shape3
        if p["use_length"]:       # truncated to int64 on the device by the casting copy
            lengths = cuda.device_array((pre, post), dtype=np.int64)
            elemwise.copy(ins[1], lengths)
            return lengths
        lengths = state.get("lengths")
        if lengths is None or tuple(lengths.shape) != (pre, post):
            # every row uses all n entries: made once per executor, kept on the device
            lengths = state["lengths"] = cuda.to_device(np.full((pre, post), n, np.int64))
        return lengths

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import loss
        shape3 = split3(ins[0].shape, norm_axis(opname, p["axis"], ins[0].ndim))
        t = 1.0 if p["temperature"] is None else p["temperature"]
        loss.softmax_forward(ins[0].reshape(shape3), gpu_lengths(p, ins, shape3, state), t,
                             use_log, outs[0].reshape(shape3))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import elemwise, loss
        if p["use_length"] and grad_mode(reqs[1], igrads[1]) == 1:
            elemwise.fill(igrads[1], 0)
        if not grad_mode(reqs[0], igrads[0]):
            return
        shape3 = split3(outs[0].shape, norm_axis(opname, p["axis"], outs[0].ndim))
        t = 1.0 if p["temperature"] is None else p["temperature"]
        loss.softmax_backward(outs[0].reshape(shape3), ograds[0].reshape(shape3),
                              gpu_lengths(p, ins, shape3, state), t, use_log,
                              reqs[0] == "add", igrads[0].reshape(shape3))

    return Op(name=opname,
              params={"axis": Param("int", -1), "temperature": Param("float", None, optional=True),
                      "dtype": Param("dtype", None, optional=True,
                                     choices=(None, "float16", "float32", "float64")),
                      "use_length": Param("bool", False)},
              arguments=args, infer_shape=infer_shape, infer_type=infer_type, forward=forward,
              backward=backward, gpu_forward=gpu_forward, gpu_backward=gpu_backward,
              backward_uses=("ins", "outs"),
              doc=(f"{'log(softmax)' if use_log else 'exp(x / T) / sum(exp(x / T))'} along "
                   f"`axis`. See notebook 02."))


register(_softmax_family("softmax", use_log=False))
register(_softmax_family("log_softmax", use_log=True))


# -- SoftmaxOutput --------------------------------------------------------------------------
def _so_layout(p, shape):
    """(rows, classes, positions) the softmax sees: classes are axis 1 with multi_output, the
    last axis with preserve_shape, otherwise everything after the batch axis."""
    if p["multi_output"]:
        return split3(shape, 1)
    if p["preserve_shape"]:
        return split3(shape, len(shape) - 1)
    return shape[0], int(np.prod(shape[1:], dtype=np.int64)), 1


def _so_shape(p, in_shapes):
    data = data_shape("SoftmaxOutput", in_shapes, 2, "at least 2 dimensions (batch, classes)")
    if data is None:
        return list(in_shapes), [None]
    label = in_shapes[1]
    if p["multi_output"]:
        accepted = [(data[0], int(np.prod(data[2:], dtype=np.int64)))]
        if len(data) != 3:
            accepted.append(data[:1] + data[2:])
    else:
        accepted = [data[:-1]]
    accepted.append(data)      # a probability distribution per row, same shape as data
    if label is not None and tuple(label) not in accepted:
        raise ShapeError(f"SoftmaxOutput: input 'label' has shape {tuple(label)}, expected "
                         f"one of {accepted} for data {data}"
                         f"{' (multi_output=True)' if p['multi_output'] else ''}")
    return [data, tuple(label) if label is not None else accepted[0]], [data]


def _so_forward(p, ins, outs, is_train, state):
    shape3 = _so_layout(p, ins[0].shape)
    out, commit = kernel_view(outs[0], shape3)
    rows, classes, pos = shape3
    softmax_forward(np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(shape3),
                    np.full((rows, pos), classes, dtype=np.int64), 1.0, False, out)
    commit()


def _so_scale(p, label, pos):
    """grad_scale divided as MXNet does: 'valid' by the non-ignored labels, 'batch' by the
    label count (times positions with multi_output), 'null' by positions with multi_output."""
    flat = label.reshape(-1)
    if p["normalization"] == "valid":
        count = int(np.count_nonzero(np.trunc(flat).astype(np.int64) != int(p["ignore_label"])))
        return p["grad_scale"] / max(count, 1)
    if not p["multi_output"]:
        return p["grad_scale"] / (flat.size if p["normalization"] == "batch" else 1)
    return p["grad_scale"] / (pos * (label.shape[0] if p["normalization"] == "batch" else 1))


def _so_backward(p, ograds, ins, outs, igrads, reqs, state):
    # ograds is None (a loss head). MXNet 1.9.1 hands the output itself to out_grad=True, so
    # the gradient is multiplied by the softmax output, never by a head gradient.
    if igrads[0] is None or reqs[0] == "null":
        return
    out, label = outs[0], ins[1]
    if label.shape == out.shape:     # probability labels: no ignore, no normalization
        g = (out - label) * p["grad_scale"]
        assign(igrads[0], reqs[0], g * out if p["out_grad"] else g)
        return
    rows, classes, pos = shape3 = _so_layout(p, out.shape)
    lab = label.reshape(-1)[:rows * pos].reshape(rows, pos)
    dst, commit = kernel_view(igrads[0], shape3)
    alpha = 0.0 if p["multi_output"] else p["smooth_alpha"]   # multi_output ignores smoothing
    softmax_output_grad(np.ascontiguousarray(out, dtype=dst.dtype).reshape(shape3),
                        np.ascontiguousarray(lab, dtype=np.float64), p["ignore_label"],
                        p["use_ignore"], alpha, _so_scale(p, label, pos), p["out_grad"],
                        reqs[0] == "add", dst)
    commit()


def _so_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import loss
    rows, classes, pos = shape3 = _so_layout(p, ins[0].shape)
    lengths = state.get("lengths")
    if lengths is None or tuple(lengths.shape) != (rows, pos):
        # every row uses all classes; made once per executor, kept on the device
        lengths = state["lengths"] = cuda.to_device(np.full((rows, pos), classes, np.int64))
    loss.softmax_forward(ins[0].reshape(shape3), lengths, 1.0, False, outs[0].reshape(shape3))


def _so_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import loss
    if not grad_mode(reqs[0], igrads[0]):
        return
    out, label = outs[0], ins[1]
    if tuple(label.shape) == tuple(out.shape):
        raise MXNetError("SoftmaxOutput with probability labels (label shaped like data) has no "
                         "CUDA kernel yet; give class indices, or run on mx.cpu()")
    rows, classes, pos = shape3 = _so_layout(p, out.shape)
    lab = gpu_flat(label)[:rows * pos].reshape(rows, pos)
    if p["normalization"] == "valid":     # count on the device: _so_scale would read the labels
        scale = p["grad_scale"] / max(loss.valid_count(label, p["ignore_label"]), 1)
    else:
        scale = _so_scale(p, label, pos)          # only reads the label's shape
    alpha = 0.0 if p["multi_output"] else p["smooth_alpha"]   # multi_output ignores smoothing
    loss.softmax_output_grad(out.reshape(shape3), lab, p["ignore_label"], p["use_ignore"],
                             alpha, scale, p["out_grad"], reqs[0] == "add",
                             igrads[0].reshape(shape3))


register(Op(
    name="SoftmaxOutput",
    params={"grad_scale": Param("float", 1.0), "ignore_label": Param("float", -1.0),
            "multi_output": Param("bool", False), "use_ignore": Param("bool", False),
            "preserve_shape": Param("bool", False),
            "normalization": Param("str", "null", choices=_NORMALIZATIONS),
            "out_grad": Param("bool", False), "smooth_alpha": Param("float", 0.0)},
    arguments=("data", "label"), infer_shape=_so_shape, forward=_so_forward,
    backward=_so_backward, gpu_forward=_so_gpu_forward, gpu_backward=_so_gpu_backward,
    loss=True, aliases=("Softmax",), backward_uses=("ins", "outs"),
    doc="Softmax forward; backward (softmax - onehot(label)) * grad_scale, normalized as "
        "`normalization` says. See notebook 02."))


# -- LinearRegressionOutput, MAERegressionOutput, LogisticRegressionOutput -------------------
def _regression_shape(opname):
    def rule(p, in_shapes):
        data, label = in_shapes
        if data is None:
            return list(in_shapes), [None]
        data = tuple(data)
        if label is None:
            label = (data[0],) if len(data) == 2 and data[1] == 1 else data
        label = tuple(label)
        if not label or label[0] != data[0] or np.prod(label) != np.prod(data):
            raise ShapeError(f"{opname}: input 'label' has shape {label}; it needs the batch "
                             f"size {data[0]} first and {int(np.prod(data))} elements, as data "
                             f"{data}")
        return [data, label], [data]
    return rule


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _minus_sign(diff):
    return np.where(diff > 0, 1.0, -1.0)   # MXNet counts a zero difference as -1


for _name, _fwd, _grad, _doc in (
        ("LinearRegressionOutput", None, lambda d: d, "out = data; gradient (out - label)"),
        ("MAERegressionOutput", None, _minus_sign, "out = data; gradient sign(out - label)"),
        ("LogisticRegressionOutput", _sigmoid, lambda d: d,
         "out = sigmoid(data); gradient (out - label)")):
    def _reg_forward(p, ins, outs, is_train, state, _fwd=_fwd):
        outs[0][...] = ins[0] if _fwd is None else _fwd(ins[0])

    def _reg_backward(p, ograds, ins, outs, igrads, reqs, state, _grad=_grad):
        out, label = outs[0], ins[1]
        per_sample = label.size // label.shape[0]   # MXNet divides by outputs per sample
        g = _grad(out - label.reshape(out.shape)) * (p["grad_scale"] / per_sample)
        assign(igrads[0], reqs[0], g.astype(out.dtype, copy=False))

    def _reg_gpu_forward(p, ins, outs, is_train, state, _fwd=_fwd):
        from ..kernels.cuda import elemwise
        elemwise.map_forward("copy" if _fwd is None else "sigmoid", ins[0], None, outs[0])

    def _reg_gpu_backward(p, ograds, ins, outs, igrads, reqs, state, _name=_name):
        from ..kernels.cuda import loss
        if grad_mode(reqs[0], igrads[0]):
            label = ins[1]
            loss.regression_grad(outs[0], label, _name == "MAERegressionOutput",
                                 p["grad_scale"] / (label.size // label.shape[0]),
                                 reqs[0] == "add", igrads[0])

    register(Op(name=_name, params={"grad_scale": Param("float", 1.0)},
                arguments=("data", "label"), infer_shape=_regression_shape(_name),
                forward=_reg_forward, backward=_reg_backward, loss=True,
                gpu_forward=_reg_gpu_forward, gpu_backward=_reg_gpu_backward,
                doc=f"{_doc} * grad_scale / (outputs per sample). See notebook 02."))


# -- MakeLoss, BlockGrad --------------------------------------------------------------------
def _copy_forward(p, ins, outs, is_train, state):
    outs[0][...] = ins[0]


def _makeloss_count(p, out, count_above):
    if p["normalization"] == "valid":
        return max(count_above(out, p["valid_thresh"]), 1)
    if p["normalization"] == "batch":
        return int(np.prod(out.shape[:-1], dtype=np.int64))   # all but the last axis
    return 1


def _makeloss_backward(p, ograds, ins, outs, igrads, reqs, state):
    count = _makeloss_count(p, outs[0], lambda o, t: int(np.count_nonzero(o > t)))
    assign(igrads[0], reqs[0], p["grad_scale"] / count)


def _gpu_constant_grad(value_of):
    """GPU backward of the heads whose gradient is one number (MakeLoss, make_loss)."""
    def backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import elemwise
        mode = grad_mode(reqs[0], igrads[0])
        if mode:
            elemwise.fill(igrads[0], value_of(p, outs[0]), accumulate=mode == 2)
    return backward


def _makeloss_gpu_value(p, out):
    from ..kernels.cuda import loss
    return p["grad_scale"] / _makeloss_count(p, out, loss.count_above)


register(Op(
    name="MakeLoss",
    params={"grad_scale": Param("float", 1.0), "valid_thresh": Param("float", 0.0),
            "normalization": Param("str", "null", choices=_NORMALIZATIONS)},
    arguments=("data",), infer_shape=identity_shape, forward=_copy_forward,
    backward=_makeloss_backward, gpu_forward=gpu_copy_forward,
    gpu_backward=_gpu_constant_grad(_makeloss_gpu_value), loss=True, backward_uses=("outs",),
    doc="Turns any symbol into a loss: out = data, gradient grad_scale (divided by the batch "
        "or by the count of outputs above valid_thresh). See notebook 02."))


def _ones_backward(p, ograds, ins, outs, igrads, reqs, state):
    assign(igrads[0], reqs[0], 1.0)


# MXNet keeps the lower-case make_loss as an operator of its own (not an alias of MakeLoss): no
# parameters, gradient ones_like(data) whatever the head gradient, output named "..._loss".
register(Op(
    name="make_loss", params={}, arguments=("data",), outputs=("loss",),
    infer_shape=identity_shape, forward=_copy_forward, backward=_ones_backward, loss=True,
    gpu_forward=gpu_copy_forward, gpu_backward=_gpu_constant_grad(lambda p, out: 1.0),
    backward_uses=(), doc="Turns any symbol into a loss: out = data, gradient 1 everywhere "
    "(MakeLoss without its options)."))


def _blockgrad_backward(p, ograds, ins, outs, igrads, reqs, state):
    assign(igrads[0], reqs[0], 0)


def _blockgrad_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise
    if grad_mode(reqs[0], igrads[0]) == 1:      # 'add' adds nothing
        elemwise.fill(igrads[0], 0)


register(Op(
    name="BlockGrad", params={}, arguments=("data",), infer_shape=identity_shape,
    forward=_copy_forward, backward=_blockgrad_backward, aliases=("stop_gradient",),
    gpu_forward=gpu_copy_forward, gpu_backward=_blockgrad_gpu_backward,
    backward_uses=(), doc="Identity forward; stops gradients (writes zeros). See notebook 02."))
