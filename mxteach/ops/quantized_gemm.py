"""The quantized GEMM layers: quantized_fully_connected, quantized_conv and quantized_rnn
(``mx.nd.contrib.*``, registered as ``_contrib_<name>``), each the quantized form of a float
layer whose parameters, and shape rule, it takes over (FullyConnected, Convolution, RNN).

int8/uint8 data times int8 weights is summed exactly into int32, with the int32 range MXNet's
QuantizationRangeForMultiplication gives (one quantized level of each side times 2**31 - 1).
The bias is the per-operator part: quantized_fully_connected rescales its int8 bias to the
output's scale (truncating), quantized_conv adds it as it is (as MKL-DNN does).
quantized_rnn has MXNet's shape and type rules but refuses to run, as MXNet 1.9.1's CPU build
does. The kernel ``bias_to_int`` is in ``kernels/cpu/quantization.py`` (CUDA twin in
``kernels/cuda/quantization.py``); the float32 helpers come from ``quant_common.py``.
None of them has a gradient (MXNet registers none).
"""
from __future__ import annotations

import numpy as np

from .registry import Op, register, get as get_op
from .common import gpu_flat
from .quant_common import (F32, INT32_RANGE, max_abs, div, scalar, x86_int32, check_dtype,
                           range_shapes, put_range)
from ..base import MXNetError, ShapeError
from ..kernels.cpu import quantization as K

__all__ = ["QUANTIZED_GEMM_OPS"]

QUANTIZED_GEMM_OPS = ("_contrib_quantized_fully_connected", "_contrib_quantized_conv",
                      "_contrib_quantized_rnn")


# -- the quantized GEMM layers: quantized_fully_connected, quantized_conv ---------------------
# int8/uint8 data times int8 weights, summed exactly in int32 (MKL-DNN with VNNI): mxteach
# forms the sums in float64 with the float FullyConnected/Convolution operators (exact for
# these integer sizes) and adds the int32 bias with ``bias_to_int``.
def _gemm_args(p):
    names = ["data", "weight"] + ([] if p["no_bias"] else ["bias"])
    return names + [f"{m}_{n}" for n in names for m in ("min", "max")]


def _gemm_shape(float_op, op):
    def infer_shape(p, in_shapes):
        n = 2 if p["no_bias"] else 3
        if len(in_shapes) != 3 * n:
            raise ShapeError(f"{op}: expected {3 * n} inputs {_gemm_args(p)}, got "
                             f"{len(in_shapes)}")
        range_shapes(op, in_shapes[n:], _gemm_args(p)[n:])
        if op == "quantized_conv" and in_shapes[0] is not None and len(in_shapes[0]) != 4:
            raise ShapeError(f"{op}: input 'data' has shape {tuple(in_shapes[0])}; mkldnn "
                             "quantized_conv needs 4-D (N, C, H, W) data here (5-D is not in "
                             "mxteach)")
        ins, (out,) = get_op(float_op).infer_shape(p, list(in_shapes[:n]))
        return list(ins) + [(1,)] * (2 * n), [out, (1,), (1,)]
    return infer_shape


def _gemm_types(op):
    def infer_type(p, in_types):
        n = 2 if p["no_bias"] else 3
        check_dtype(op, "data", in_types[0],
                     ("uint8",) if op == "quantized_conv" else ("int8", "uint8"))
        for arg, t in zip(("weight", "bias"), in_types[1:n]):
            check_dtype(op, arg, t, ("int8",))
        for arg, t in zip(_gemm_args(p)[n:], in_types[n:]):
            check_dtype(op, arg, t, ("float32",))
        return list(in_types), ["int32", "float32", "float32"]
    return infer_type


def _mult_range(d_min, d_max, w_min, w_max, signed):
    """MXNet's QuantizationRangeForMultiplication into int32: one quantized level of each
    side (int8 data: both /127; uint8 data: the weight's by /255, as MXNet's template reads)."""
    a = div(max_abs(d_min, d_max), 127)
    b = div(max_abs(w_min, w_max), 127 if signed else 255)
    hi = F32(F32(a * b) * INT32_RANGE)
    return -hi, hi


def _gemm_run(float_op, op, gpu):
    def forward(p, ins, outs, is_train, state):
        n = 2 if p["no_bias"] else 3
        r = [scalar(v) for v in ins[n:]]
        signed = np.dtype(ins[0].dtype) == np.int8
        # MXNet's conv always takes the int8 x int8 range, even for its uint8 data
        lo, hi = _mult_range(r[0], r[1], r[2], r[3], signed or op == "quantized_conv")
        shp = tuple(outs[0].shape)
        nh = shp[1] if op == "quantized_conv" else shp[len(shp) - 1]
        bias = np.zeros(nh, np.int32)
        if not p["no_bias"]:
            b = (ins[2].copy_to_host() if gpu else np.asarray(ins[2])).astype(np.float32)
            if op == "quantized_conv":
                bias = b.astype(np.int32)          # MKL-DNN adds the int8 bias as it is
            else:
                # MXNet rescales the int8 bias to the int32 output's scale, truncating
                d_scale = div(127.5 if signed else 255.5, max_abs(r[0], r[1]))
                w_scale = div(127.5, max_abs(r[2], r[3]))
                resc = div(F32(F32(d_scale * w_scale) * max_abs(r[4], r[5])), 127.5)
                bias = np.array([x86_int32(v) for v in (b * resc).astype(np.float32)],
                                np.int32)
        fp = dict(p, no_bias=True)
        shape3 = ((outs[0].shape[0], nh, -1) if op == "quantized_conv"
                  else (-1, nh, 1))
        fl = get_op(float_op)
        if gpu:
            from numba import cuda
            from ..kernels.cuda import quantization as C
            xs = []
            for a in ins[:2]:
                d = cuda.device_array(a.shape, np.float64)
                C.to_float64(gpu_flat(a), gpu_flat(d))
                xs.append(d)
            y_shape = shp
            if op != "quantized_conv":      # give the float layer 2-D data
                rows = ins[0].shape[0] if p["flatten"] else ins[0].size // ins[1].shape[1]
                xs[0] = xs[0].reshape((rows, ins[0].size // rows))
                fp["flatten"], y_shape = True, (rows, nh)
            y = cuda.device_array(y_shape, np.float64)
            fl.gpu_forward(fp, xs, [y], False, {})
            y3 = y.reshape(_fix(shape3, y.size))
            C.bias_to_int(y3, cuda.to_device(bias), outs[0].reshape(y3.shape))
        else:
            y = np.empty(outs[0].shape, np.float64)
            fl.forward(fp, [np.asarray(a, np.float64) for a in ins[:2]], [y], False, {})
            out3 = outs[0].reshape(_fix(shape3, y.size))
            K.bias_to_int(y.reshape(out3.shape), bias, out3)
        put_range(outs, lo, hi, gpu)
    return forward


def _fix(shape3, size):
    """``shape3`` with its one -1 resolved (numba's device reshape takes none)."""
    known = int(np.prod([s for s in shape3 if s != -1]))
    return tuple(size // known if s == -1 else s for s in shape3)


register(Op(
    name="_contrib_quantized_fully_connected", params=dict(get_op("FullyConnected").params),
    arguments=_gemm_args, outputs=("output", "min_output", "max_output"),
    infer_shape=_gemm_shape("FullyConnected", "quantized_fully_connected"),
    infer_type=_gemm_types("quantized_fully_connected"),
    forward=_gemm_run("FullyConnected", "quantized_fully_connected", False),
    gpu_forward=_gemm_run("FullyConnected", "quantized_fully_connected", True),
    hint="quantized_fully_connected",
    doc="FullyConnected of int8/uint8 data and int8 weights into int32 (the int8 bias "
        "rescaled to the output's scale), with the int32 range. No gradient."))


def _conv_checked(shape_rule):
    def infer_shape(p, in_shapes):
        if p["num_group"] != 1:
            raise MXNetError(f"quantized_conv: num_group = {p['num_group']}; quantized_conv "
                             "only supports num_group=1 for now")
        if p["layout"] not in (None, "NCHW"):
            raise MXNetError(f"quantized_conv: layout '{p['layout']}'; mkldnn quantized_conv "
                             "supports NCHW (NCDHW is not in mxteach)")
        if len(p["kernel"]) != 2:
            raise ShapeError(f"quantized_conv: kernel {p['kernel']}; mkldnn quantized_conv "
                             "only supports 2d or 3d kernel for now (3d is not in mxteach)")
        return shape_rule(p, in_shapes)
    return infer_shape


register(Op(
    name="_contrib_quantized_conv", params=dict(get_op("Convolution").params),   # the same
    arguments=_gemm_args, outputs=("output", "min_output", "max_output"),
    infer_shape=_conv_checked(_gemm_shape("Convolution", "quantized_conv")),
    infer_type=_gemm_types("quantized_conv"),
    forward=_gemm_run("Convolution", "quantized_conv", False),
    gpu_forward=_gemm_run("Convolution", "quantized_conv", True), hint="quantized_conv",
    doc="2-D convolution of uint8 data with int8 weights into int32 (the int8 bias added as "
        "it is, as MKL-DNN does), with the int32 range. No gradient."))


# -- quantized_rnn: refused, as MXNet 1.9.1's CPU build refuses it ----------------------------
def _qrnn_shape(p, in_shapes):
    n = len(get_op("RNN").list_arguments(p))
    range_shapes("quantized_rnn", in_shapes[n:], ("min_data", "max_data"))
    ins, outs = get_op("RNN").infer_shape(p, list(in_shapes[:n]))     # RNN's shape rule
    return list(ins) + [(1,), (1,)], outs


def _qrnn_types(p, in_types):
    if p["mode"] != "lstm":
        raise MXNetError(f"quantized_rnn: mode = '{p['mode']}'; Quantized RNN operator only "
                         "supports LSTM mode.")
    check_dtype("quantized_rnn", "data", in_types[0], ("uint8",))
    n_out = len(get_op("RNN").list_outputs(p))
    return ["uint8"] + ["float32"] * (len(in_types) - 1), ["float32"] * n_out


def _qrnn_refuse(p, ins, outs, is_train, state):
    # MXNet 1.9.1's pip build fails for every input in MKL-DNN's weight reorder; only its
    # graph-level quantization pass (outside the Module API) prepares what the kernel needs
    raise MXNetError("quantized_rnn: could not create a primitive descriptor for a reorder "
                     "primitive (MXNet 1.9.1's CPU build cannot run this operator directly)")


register(Op(
    name="_contrib_quantized_rnn", params=dict(get_op("RNN").params),     # RNN's parameters
    arguments=lambda p: get_op("RNN").list_arguments(p) + ["min_data", "max_data"],
    # MXNet's own spelling of the cell-state output: 'statecell_ouput'
    outputs=lambda p: [n.replace("_output", "_ouput") if n.startswith("statecell") else n
                       for n in get_op("RNN").list_outputs(p)], infer_shape=_qrnn_shape,
    infer_type=_qrnn_types, forward=_qrnn_refuse, gpu_forward=_qrnn_refuse,
    hint="quantized_rnn",
    doc="The uint8 LSTM of MXNet's int8 graphs: its shape and type rules are RNN's; running it "
        "fails as in MXNet 1.9.1's CPU build, which cannot run it outside its quantization "
        "pass. No gradient."))
