"""The quantized forms of three nn layers: quantized_pooling, quantized_embedding and
quantized_batch_norm (``mx.nd.contrib.*``, registered as ``_contrib_<name>``). Each takes
the float layer's parameters (Pooling, Embedding, BatchNorm) and its shape rule.

Each takes int8/uint8 data (quantized_embedding: an int8 weight) with its float32 range inputs
(shape ``(1,)``) and returns the result with its range, as MXNet 1.9.1's CPU build computes it
through MKL-DNN (float32 scales, round half to even, saturation). Kernels:
``kernels/cpu/quantized_ops.py`` (CUDA twins ``kernels/cuda/quantized_ops.py``, numpy twins
``kernels/reference/quantized_ops.py``); the helpers all int8 families share are in
``quant_common.py``. The MXNet 1.9.1 behaviours reproduced are stated at each operator.
None has a gradient.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, get as get_op
from .quant_common import (F32, LIMITS, max_abs, div, scalar, dtype_name, put_range,
                           pass_range, range_shapes, int_data, float_ranges, calibrated,
                           device_kernels, to_int8)
from ..base import MXNetError, ShapeError

__all__ = ["QUANTIZED_NN_OPS"]

QUANTIZED_NN_OPS = ("_contrib_quantized_pooling", "_contrib_quantized_embedding",
                    "_contrib_quantized_batch_norm")


# -- quantized_pooling ------------------------------------------------------------------------
def _pool_check(p, data):
    bad = (f"pool_type = '{p['pool_type']}' (max/avg only)" if p["pool_type"] not in
           ("max", "avg") else f"layout '{p['layout']}' (NCHW only)" if p["layout"] not in
           (None, "NCHW") else f"kernel {p['kernel']} (2-D only)" if not p["global_pool"] and
           len(p["kernel"]) != 2 else None)
    if bad:
        raise MXNetError(f"quantized_pooling: {bad}: QuantizedPoolingOp does not support it")
    if data is not None and len(data) != 4:
        raise ShapeError(f"quantized_pooling: input 'data' has shape {tuple(data)}; it pools "
                         "4-D (batch, channel, y, x) data (MXNet's 5-D form is not in mxteach)")


def _pool_shape(p, in_shapes):
    range_shapes("quantized_pooling", in_shapes[1:], ("min_data", "max_data"))
    data = in_shapes[0]
    _pool_check(p, data)
    if data is None:
        return list(in_shapes), [None, (1,), (1,)]
    _, (out,) = get_op("Pooling").infer_shape(dict(p), [tuple(data)])
    return [tuple(data), (1,), (1,)], [out, (1,), (1,)]


def _pool_types(p, in_types):
    _pool_check(p, None)
    int_data("quantized_pooling", "data", in_types[0])
    float_ranges("quantized_pooling", ("min_data", "max_data"), in_types[1:3])
    return [in_types[0], "float32", "float32"], [in_types[0], "float32", "float32"]


def _pool_extension(p, data, out):
    """Rows and columns of zeros MKL-DNN adds below/right of the data for an average over
    pooling_convention='full' windows that count padding: it divides an edge window by the
    whole kernel, where MXNet's float Pooling divides by the clipped window."""
    if (p["pool_type"] != "avg" or p["pooling_convention"] != "full" or p["global_pool"]
            or p["count_include_pad"] is False):
        return 0, 0
    stride = p["stride"] or (1, 1)
    pad = p["pad"] or (0, 0)
    return tuple(max(0, (o - 1) * s + k - (x + 2 * q))
                 for o, s, k, x, q in zip(out[2:], stride, p["kernel"], data[2:], pad))


def _pool_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x, pool = ins[0], get_op("Pooling")
        eh, ew = _pool_extension(p, x.shape, outs[0].shape)
        pp = dict(p, pooling_convention="valid") if eh or ew else p
        n, c, h, w = x.shape
        # the float pooling of the integer data: sums of integers are exact in float32, so
        # rounding its mean half to even gives MKL-DNN's integer average
        M, fl = device_kernels(gpu)
        if gpu:
            from numba import cuda
            xf = cuda.to_device(np.zeros((n, c, h + eh, w + ew), np.float32))
            M.to_float(x, xf)
            yf = cuda.device_array(outs[0].shape, np.float32)
        else:
            xf = np.zeros((n, c, h + eh, w + ew), np.float32)
            xf[:, :, :h, :w] = x
            yf = np.empty(outs[0].shape, np.float32)
        (pool.gpu_forward if gpu else pool.forward)(pp, [xf], [yf], False, {})
        M.round_to_int(fl(yf), *LIMITS[dtype_name(x.dtype)], fl(outs[0]))
        pass_range(ins[1:3], outs, gpu)
    return forward


register(Op(
    name="_contrib_quantized_pooling", params=dict(get_op("Pooling").params),   # the same
    arguments=("data", "min_data", "max_data"), outputs=("output", "min_output", "max_output"),
    infer_shape=_pool_shape, infer_type=_pool_types, forward=_pool_run(False),
    gpu_forward=_pool_run(True), hint="quantized_pooling",
    doc="Max or average pooling of 4-D int8/uint8 data (the average rounded half to even), "
        "range passed through. No gradient."))


# -- quantized_embedding ----------------------------------------------------------------------
def _emb_shape(p, in_shapes):
    range_shapes("quantized_embedding", in_shapes[2:], ("min_weight", "max_weight"))
    (d, w), (out,) = get_op("Embedding").infer_shape(p, list(in_shapes[:2]))
    return [d, w, (1,), (1,)], [out, (1,), (1,)]


def _emb_types(p, in_types):
    int_data("quantized_embedding", "weight", in_types[1], ("int8",))
    float_ranges("quantized_embedding", ("min_weight", "max_weight"), in_types[2:])
    return list(in_types), ["int8", "float32", "float32"]


def _emb_run(gpu):
    def forward(p, ins, outs, is_train, state):
        n = int(np.prod(ins[0].shape, dtype=np.int64))
        M, fl = device_kernels(gpu)
        M.gather_rows(fl(ins[0]), ins[1], outs[0].reshape((n, p["output_dim"])))
        pass_range(ins[2:4], outs, gpu)
    return forward


register(Op(
    name="_contrib_quantized_embedding", params=dict(get_op("Embedding").params),
    arguments=("data", "weight", "min_weight", "max_weight"),
    outputs=("output", "min_output", "max_output"), infer_shape=_emb_shape,
    infer_type=_emb_types, forward=_emb_run(False), gpu_forward=_emb_run(True),
    hint="quantized_embedding",
    doc="Embedding lookup in an int8 weight (indices truncated and clipped to the rows), the "
        "weight's range passed through. No gradient."))


# -- quantized_batch_norm ---------------------------------------------------------------------
def _bn_split(p, shape):
    ax = p["axis"] % len(shape)
    return (int(np.prod(shape[:ax], dtype=np.int64)), shape[ax],
            int(np.prod(shape[ax + 1:], dtype=np.int64)))


def _bn_shape(p, in_shapes):
    range_shapes("quantized_batch_norm", in_shapes[3:5], ("min_data", "max_data"))
    # BatchNorm's rule on (data, gamma, beta, moving_mean, moving_var)
    (d, g, b, m, v), (out,) = get_op("BatchNorm").infer_shape(
        p, [in_shapes[i] for i in (0, 1, 2, 5, 6)])
    return [d, g, b, (1,), (1,), m, v], [out, (1,), (1,)]


def _bn_types(p, in_types):
    int_data("quantized_batch_norm", "data", in_types[0])
    float_ranges("quantized_batch_norm", ("gamma", "beta", "min_data", "max_data",
                                           "moving_mean", "moving_var"), in_types[1:])
    return list(in_types), ["int8", "float32", "float32"]


def _bn_run(gpu):
    def forward(p, ins, outs, is_train, state):
        if not calibrated(p):
            raise MXNetError("quantized_batch_norm: min_calib_range or max_calib_range is not "
                             "available. Quantized BN currently don't support calib_mode=None")
        x = ins[0]
        gamma, beta, mean, var = (a.copy_to_host() if gpu else a for a in ins[1:3] + ins[5:7])
        lo, hi = F32(p["min_calib_range"]), F32(p["max_calib_range"])
        mad, mao = max_abs(scalar(ins[3]), scalar(ins[4])), max_abs(lo, hi)
        # MXNet folds the statistics into a scale and shift (fix_gamma is not applied)
        inv = (1.0 / np.sqrt(var.astype(np.float64) + p["eps"])).astype(F32)
        w = (gamma * inv * mad) / mao
        sh = ((beta - mean * gamma * inv) * F32(127.5)) / mao
        inv1 = F32(1) / np.sqrt(F32(1) + F32(p["eps"]))
        shape3 = _bn_split(p, x.shape)
        if x.dtype == np.uint8:          # MKL-DNN first requantizes uint8 data to int8
            x = to_int8(x, div(127.5, 255.5), gpu)
        M, _ = device_kernels(gpu)
        if gpu:
            from numba import cuda
            w, sh = cuda.to_device(w), cuda.to_device(sh)
        M.channel_affine(x.reshape(shape3), inv1, w, sh, outs[0].reshape(shape3))
        put_range(outs, lo, hi, gpu)
    return forward


register(Op(
    name="_contrib_quantized_batch_norm",
    # BatchNorm's parameters (with the calibration range), eps as MXNet stores 1e-3f
    params={**get_op("BatchNorm").params, "eps": Param("float", 0.0010000000474974513)},
    arguments=("data", "gamma", "beta", "min_data", "max_data"),
    aux=("moving_mean", "moving_var"), outputs=("output", "min_output", "max_output"),
    infer_shape=_bn_shape, infer_type=_bn_types, forward=_bn_run(False),
    gpu_forward=_bn_run(True), hint="quantized_batch_norm",
    extra={"input_order": lambda p: ["data", "gamma", "beta", "moving_mean", "moving_var",
                                     "min_data", "max_data"]},
    doc="Inference batch norm of int8/uint8 data with the moving statistics, into int8 in the "
        "calibrated range (required). No gradient."))
