"""SoftmaxActivation, softmin, SVMOutput and softmax_cross_entropy: the softmax relatives of
MXNet 1.9.1 that ``ops/loss.py`` does not define.

* ``SoftmaxActivation`` is the old softmax layer: ``mode='instance'`` normalises over the last
  axis (for 2-D data: each sample), ``mode='channel'`` over axis 1 at every position.
* ``softmin(x) = softmax(-x / T)``. Its gradient is the softmax gradient with ``-T`` for ``T``,
  so both run the softmax kernels of ``kernels/cpu/loss.py`` / ``kernels/cuda/loss.py`` (the
  forward on a negated copy: a negative temperature would make ``exp`` overflow).
* ``SVMOutput`` is a loss head: its forward is the identity and its backward the hinge-loss
  gradient (L2-SVM by default, L1-SVM with ``use_linear``), for rows ``data`` viewed as
  ``(prod(shape[:-1]), shape[-1])`` and one label per row.
* ``softmax_cross_entropy(data, label) = -sum_i log softmax(data_i)[label_i]`` of 2-D data, a
  one-element output; asking for the label's gradient is an error, as in MXNet.

Deliberately not copied: MXNet 1.9.1's backward of ``SoftmaxActivation(mode='instance')`` on
data of 3 or more axes sums over axis 1 while its forward normalises over the last axis, so its
gradient is not the forward's; here the backward is the true gradient (as MXNet's is for 2-D
data and for ``mode='channel'``).

Labels are truncated to class indices; one outside ``[0, classes)`` matches no class (MXNet's
SVMOutput does the same; its softmax_cross_entropy reads such a label past the row's end, in
memory it does not own, which is not copied). Kernels:
CPU ``kernels/cpu/nn_extra_act.py``, CUDA ``kernels/cuda/nn_extra_act.py``, numpy twins
``kernels/reference/nn_extra_act.py``.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import (grad_mode, kernel_view, norm_axis, split3, gpu_flat, gpu_copy_forward,
                     identity_shape)
from ..base import MXNetError, ShapeError, DTypeError
from ..kernels.cpu import nn_extra_act as K
from ..kernels.cpu.loss import softmax_forward, softmax_backward

__all__ = ["ACT_OPS"]

ACT_OPS = ("SoftmaxActivation", "softmin", "SVMOutput", "softmax_cross_entropy")


# -- SoftmaxActivation and softmin: the softmax kernels on a (pre, n, post) view ---------------
def _softmax_like(name, view, negate, temperature, arguments, host_lengths, gpu_lengths):
    """forward/backward/gpu pair of a softmax over the middle axis of ``view(p, shape)``."""
    def forward(p, ins, outs, is_train, state):
        shape3 = view(p, ins[0].shape)
        out, commit = kernel_view(outs[0], shape3)
        src = np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(shape3)
        softmax_forward(-src if negate else src, host_lengths(p, ins, shape3),
                        temperature(p), False, out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        if not grad_mode(reqs[0], igrads[0]):
            return
        shape3 = view(p, outs[0].shape)
        dt = np.float32 if outs[0].dtype == np.float16 else outs[0].dtype
        o = np.ascontiguousarray(outs[0], dtype=dt).reshape(shape3)
        dst, commit = kernel_view(igrads[0], shape3, dt)
        t = temperature(p)
        softmax_backward(o, np.ascontiguousarray(ograds[0], dtype=dt).reshape(shape3),
                         host_lengths(p, ins, shape3), -t if negate else t, False,
                         reqs[0] == "add", dst)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import loss, elemwise
        shape3 = view(p, tuple(ins[0].shape))
        out3 = outs[0].reshape(shape3)
        src = ins[0].reshape(shape3)
        if negate:
            elemwise.copy(ins[0], outs[0])
            elemwise.map_forward("negative", outs[0], None, outs[0])
            src = out3       # the kernel reads each element before it overwrites it
        loss.softmax_forward(src, gpu_lengths(p, ins, shape3, state), temperature(p), False,
                             out3)

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import loss
        if not grad_mode(reqs[0], igrads[0]):
            return
        shape3 = view(p, tuple(outs[0].shape))
        t = temperature(p)
        loss.softmax_backward(outs[0].reshape(shape3), ograds[0].reshape(shape3),
                              gpu_lengths(p, ins, shape3, state), -t if negate else t, False,
                              reqs[0] == "add", igrads[0].reshape(shape3))

    return dict(forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward, arguments=arguments)


def _full_lengths(p, ins, shape3):
    pre, n, post = shape3
    return np.full((pre, post), n, dtype=np.int64)


def _gpu_full_lengths(p, ins, shape3, state):
    from numba import cuda
    pre, n, post = shape3
    lengths = state.get("gpu_lengths")
    if lengths is None or tuple(lengths.shape) != (pre, post) or state["gpu_n"] != n:
        # every row uses all n entries: made once per executor, kept on the device
        lengths = state["gpu_lengths"] = cuda.to_device(np.full((pre, post), n, np.int64))
        state["gpu_n"] = n
    return lengths


def _sa_view(p, shape):
    if len(shape) < 2:
        raise ShapeError(f"SoftmaxActivation: input 'data' has shape {tuple(shape)}; it needs "
                         f"at least 2 axes (batch, ...)")
    if p["mode"] == "channel":
        return split3(tuple(shape), 1)
    # MXNet flattens to (everything but the last axis, last axis): 'instance' of N-d data is
    # a softmax over the last axis
    return (int(np.prod(shape[:-1], dtype=np.int64)), int(shape[-1]), 1)


def _sa_shape(p, in_shapes):
    if in_shapes[0] is not None:
        _sa_view(p, in_shapes[0])
    return identity_shape(p, in_shapes)


register(Op(
    name="SoftmaxActivation",
    params={"mode": Param("str", "instance", choices=("channel", "instance"),
                          doc="instance: over the last axis; channel: over axis 1")},
    infer_shape=_sa_shape, backward_uses=("outs",),
    **_softmax_like("SoftmaxActivation", _sa_view, False, lambda p: 1.0, ["data"],
                    _full_lengths, _gpu_full_lengths),
    doc="Softmax over the last axis (mode='instance', per sample for 2-D data) or across "
        "channels at each position (mode='channel'). See notebook 02."))


# -- softmin ---------------------------------------------------------------------------------
def _sm_view(p, shape):
    return split3(tuple(shape), norm_axis("softmin", p["axis"], len(shape)))


def _sm_temperature(p):
    t = 1.0 if p["temperature"] is None else p["temperature"]
    if t == 0:
        raise MXNetError("softmin: temperature = 0; it must be non-zero")
    return t


def _sm_shape(p, in_shapes):
    _sm_temperature(p)
    if p["use_length"]:
        # MXNet 1.9.1 declares the parameter but gives softmin no 'length' input
        raise ShapeError("softmin: use_length=True needs a 'length' input, which softmin does "
                         "not take (mask with softmax(data, length, use_length=True))")
    if in_shapes[0] is not None:
        norm_axis("softmin", p["axis"], len(in_shapes[0]))
    return identity_shape(p, in_shapes)


def _sm_type(p, in_types):
    t = in_types[0]
    if t is not None and not np.issubdtype(np.dtype(t), np.floating):
        raise DTypeError(f"softmin: data has dtype {t}; it needs floating point (Cast it)")
    return [t], [p["dtype"] or t]


register(Op(
    name="softmin",
    params={"axis": Param("int", -1), "temperature": Param("float", None, optional=True),
            "dtype": Param("dtype", None, optional=True,
                           choices=(None, "float16", "float32", "float64")),
            "use_length": Param("bool", False, doc="accepted as in MXNet; True is an error")},
    infer_shape=_sm_shape, infer_type=_sm_type, backward_uses=("ins", "outs"),
    **_softmax_like("softmin", _sm_view, True, _sm_temperature, ["data"], _full_lengths,
                    _gpu_full_lengths),
    doc="softmax(-x / temperature) along `axis`: small values get large weights. "
        "See notebook 02."))


# -- SVMOutput -------------------------------------------------------------------------------
def _svm_shape(p, in_shapes):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    data = tuple(data)
    if len(data) < 2:
        raise ShapeError(f"SVMOutput: input 'data' has shape {data}; it needs at least 2 axes "
                         f"(..., classes)")
    label = in_shapes[1]
    if label is not None and int(np.prod(label, dtype=np.int64)) != int(np.prod(data[:-1])):
        raise ShapeError(f"SVMOutput: input 'label' has shape {tuple(label)}, expected "
                         f"{data[:-1]} (one label per row of data {data})")
    return [data, tuple(label) if label is not None else data[:-1]], [data]


def _svm_rows(shape):
    return int(np.prod(shape[:-1], dtype=np.int64)), int(shape[-1])


def _svm_forward(p, ins, outs, is_train, state):
    outs[0][...] = ins[0]


def _svm_backward(p, ograds, ins, outs, igrads, reqs, state):
    # a loss head: no head gradient; the label's gradient buffer is left alone (as MXNet)
    if not grad_mode(reqs[0], igrads[0]):
        return
    rows = _svm_rows(ins[0].shape)
    dx, commit = kernel_view(igrads[0], rows)
    K.svm_grad(np.ascontiguousarray(ins[0], dtype=dx.dtype).reshape(rows),
               np.asarray(ins[1], np.float64).reshape(-1), p["margin"],
               p["regularization_coefficient"], p["use_linear"], reqs[0] == "add", dx)
    commit()


def _svm_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_extra_act as C
    if grad_mode(reqs[0], igrads[0]):
        rows = _svm_rows(tuple(ins[0].shape))
        C.svm_grad(ins[0].reshape(rows), gpu_flat(ins[1]), p["margin"],
                   p["regularization_coefficient"], p["use_linear"], reqs[0] == "add",
                   igrads[0].reshape(rows))


register(Op(
    name="SVMOutput",
    params={"margin": Param("float", 1.0), "regularization_coefficient": Param("float", 1.0),
            "use_linear": Param("bool", False, doc="L1-SVM instead of L2-SVM")},
    arguments=["data", "label"], infer_shape=_svm_shape, forward=_svm_forward,
    backward=_svm_backward, gpu_forward=gpu_copy_forward, gpu_backward=_svm_gpu_backward,
    loss=True, backward_uses=("ins",),
    doc="A support-vector-machine loss head: the output is the data; the gradient is that of "
        "the (squared, unless use_linear) hinge loss with the given margin. See notebook 02."))


# -- softmax_cross_entropy -------------------------------------------------------------------
def _ce_shape(p, in_shapes):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [(1,)]
    data = tuple(data)
    if len(data) != 2:
        raise ShapeError(f"softmax_cross_entropy: input 'data' has shape {data}; it only "
                         f"accepts 2-D data (batch, classes)")
    if in_shapes[1] is not None and tuple(in_shapes[1]) != data[:1]:
        raise ShapeError(f"softmax_cross_entropy: input 'label' has shape "
                         f"{tuple(in_shapes[1])}, expected {data[:1]}")
    return [data, data[:1]], [(1,)]


def _ce_no_label_grad(reqs, igrads):
    if grad_mode(reqs[1], igrads[1]):
        raise MXNetError("softmax_cross_entropy: cannot take the gradient with respect to "
                         f"'label' (its grad_req is '{reqs[1]}'; expected 'null')")


def _ce_forward(p, ins, outs, is_train, state):
    x = ins[0]
    dt = np.float32 if x.dtype == np.float16 else x.dtype
    logp = np.empty(x.shape, dt)
    softmax_forward(np.ascontiguousarray(x, dtype=dt).reshape(x.shape[0], x.shape[1], 1),
                    _full_lengths(p, ins, (x.shape[0], x.shape[1], 1)), 1.0, True,
                    logp.reshape(x.shape[0], x.shape[1], 1))
    loss = np.empty(1)
    K.ce_loss(logp, np.asarray(ins[1], np.float64).reshape(-1), loss)
    outs[0][...] = loss
    state["logp"] = logp


def _ce_backward(p, ograds, ins, outs, igrads, reqs, state):
    _ce_no_label_grad(reqs, igrads)
    if grad_mode(reqs[0], igrads[0]):
        logp = state["logp"]
        dx, commit = kernel_view(igrads[0], logp.shape, logp.dtype)
        K.ce_grad(logp, np.asarray(ins[1], np.float64).reshape(-1),
                  np.asarray(ograds[0], np.float64).reshape(1), reqs[0] == "add", dx)
        commit()


def _ce_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import loss, nn_extra_act as C
    x = ins[0]
    shape3 = (x.shape[0], x.shape[1], 1)
    logp = state.get("gpu_logp")
    if logp is None or tuple(logp.shape) != tuple(x.shape) or logp.dtype != x.dtype:
        logp = state["gpu_logp"] = cuda.device_array(tuple(x.shape), x.dtype)
    loss.softmax_forward(x.reshape(shape3), _gpu_full_lengths(p, ins, shape3, state), 1.0,
                         True, logp.reshape(shape3))
    C.ce_loss(logp, gpu_flat(ins[1]), outs[0])


def _ce_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_extra_act as C
    _ce_no_label_grad(reqs, igrads)
    if grad_mode(reqs[0], igrads[0]):
        C.ce_grad(state["gpu_logp"], gpu_flat(ins[1]), ograds[0], reqs[0] == "add", igrads[0])


register(Op(
    name="softmax_cross_entropy", params={}, arguments=["data", "label"],
    infer_shape=_ce_shape, forward=_ce_forward, backward=_ce_backward,
    gpu_forward=_ce_gpu_forward, gpu_backward=_ce_gpu_backward, backward_uses=("ins",),
    doc="The summed cross entropy -sum_i log(softmax(data_i)[label_i]) of 2-D data and one "
        "class index per row: a one-element output. See notebook 02."))
