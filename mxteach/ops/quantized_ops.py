"""The quantized layers that pass data through or combine it elementwise: quantized_flatten,
quantized_act, quantized_concat, quantized_elemwise_add and quantized_elemwise_mul
(``mx.nd.contrib.*``, registered as ``_contrib_<name>``).

Each takes int8/uint8 data with its float32 range inputs (shape ``(1,)``, after the data) and
returns the result with its range. They reproduce MXNet 1.9.1's CPU build, which runs them
through MKL-DNN (float32 scales, round half to even, saturation). Kernels:
``kernels/cpu/quantized_ops.py`` (CUDA twins ``kernels/cuda/quantized_ops.py``, numpy twins
``kernels/reference/quantized_ops.py``).

The MXNet 1.9.1 behaviours reproduced (refusals, type quirks, rounding) are stated at each
operator. quantized_pooling, quantized_embedding and quantized_batch_norm live in
``quantized_nn.py``, quantized_fully_connected and quantized_conv in ``quantized_gemm.py``, the
helpers all int8 families share in ``quant_common.py``. None has a gradient.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, get as get_op
from .common import flat_in, gpu_flat
from .quant_common import (F32, LIMITS, max_abs, div, scalar, dtype_name, put, put_range,
                           pass_range, range_shapes, int_data, float_ranges, calibrated,
                           device_kernels, to_int8)
from ..base import MXNetError, ShapeError
from ..kernels.cpu import quantization as KQ

__all__ = ["QUANTIZED_OPS"]

QUANTIZED_OPS = ("_contrib_quantized_flatten", "_contrib_quantized_act",
                 "_contrib_quantized_concat", "_contrib_quantized_elemwise_add",
                 "_contrib_quantized_elemwise_mul")

# the float32 range MKL-DNN gives each integer type
_RANGE = {"int8": F32(127.5), "uint8": F32(255.5), "int32": F32(2147483647)}


# -- quantized_flatten ------------------------------------------------------------------------
def _flatten_shape(p, in_shapes):
    range_shapes("quantized_flatten", in_shapes[1:], ("min_data", "max_data"))
    (d,), (out,) = get_op("Flatten").infer_shape({}, in_shapes[:1])
    return [d, (1,), (1,)], [out, (1,), (1,)]


def _pass_types(op):
    def infer_type(p, in_types):
        float_ranges(op, ("min_data", "max_data"), in_types[1:3])
        return [in_types[0], "float32", "float32"], [in_types[0], "float32", "float32"]
    return infer_type


def _flatten_run(gpu):
    def forward(p, ins, outs, is_train, state):
        if gpu:
            outs[0].copy_to_device(ins[0].reshape(outs[0].shape))
        else:
            outs[0][...] = ins[0].reshape(outs[0].shape)
        pass_range(ins[1:3], outs, gpu)
    return forward


register(Op(
    name="_contrib_quantized_flatten", params={},
    arguments=("data", "min_data", "max_data"), outputs=("output", "min_output", "max_output"),
    infer_shape=_flatten_shape, infer_type=_pass_types("quantized_flatten"),
    forward=_flatten_run(False), gpu_forward=_flatten_run(True), hint="quantized_flatten",
    doc="Flatten quantized data to (N, rest), passing its range through. No gradient."))


# -- quantized_act ----------------------------------------------------------------------------
def _same_shape(op):
    def infer_shape(p, in_shapes):
        range_shapes(op, in_shapes[1:], ("min_data", "max_data"))
        d = None if in_shapes[0] is None else tuple(in_shapes[0])
        return [d, (1,), (1,)], [d, (1,), (1,)]
    return infer_shape


def _act_types(p, in_types):
    if p["act_type"] != "relu":
        raise MXNetError(f"quantized_act: act_type = '{p['act_type']}'; "
                         "_contrib_quantized_act only supports act_type=relu for now")
    int_data("quantized_act", "data", in_types[0])
    float_ranges("quantized_act", ("min_data", "max_data"), in_types[1:3])
    return [in_types[0], "float32", "float32"], ["int8", "float32", "float32"]


def _act_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        if x.dtype == np.uint8:        # ReLU leaves uint8 alone; the bytes are read as int8
            put(outs[0], (x.copy_to_host() if gpu else x).view(np.int8), gpu)
        else:
            M, fl = device_kernels(gpu)
            M.relu(fl(x), fl(outs[0]))
        pass_range(ins[1:3], outs, gpu)
    return forward


register(Op(
    name="_contrib_quantized_act",
    params={"act_type": Param("str", choices=("relu", "sigmoid", "softrelu", "softsign",
                                              "tanh"))},
    arguments=("data", "min_data", "max_data"), outputs=("output", "min_output", "max_output"),
    infer_shape=_same_shape("quantized_act"), infer_type=_act_types,
    forward=_act_run(False), gpu_forward=_act_run(True), hint="quantized_act",
    doc="ReLU of quantized data (int8 output, range passed through); MXNet supports only "
        "act_type='relu'. No gradient."))


# -- quantized_concat -------------------------------------------------------------------------
def _cat_args(p):
    n = p["num_args"]
    return [f"arg{i}" for i in range(n)] + [f"arg{i}_{m}" for i in range(n)
                                            for m in ("min", "max")]


def _cat_axis(p, ndim):
    ax = p["dim"]
    if ax < 0:
        # MXNet 1.9.1's MKL-DNN concat takes dim as given and crashes on a negative one
        raise MXNetError(f"quantized_concat: dim = {ax}; MXNet 1.9.1's quantized concat needs "
                         "a non-negative dim (it crashes on a negative one)")
    if not -ndim <= ax < ndim:
        raise ShapeError(f"quantized_concat: dim {ax} is out of range for {ndim}-d inputs")
    return ax % ndim


def _cat_shape(p, in_shapes):
    n = p["num_args"]
    if len(in_shapes) != 3 * n:
        raise ShapeError(f"quantized_concat: num_args={n} needs {3 * n} inputs (data, then a "
                         f"min/max pair per data), got {len(in_shapes)}")
    range_shapes("quantized_concat", in_shapes[n:], _cat_args(p)[n:])
    if in_shapes[0] is not None:
        _cat_axis(p, len(in_shapes[0]))
    ins, outs = get_op("Concat").infer_shape(p, list(in_shapes[:n]))   # Concat's shape rule
    return list(ins) + [(1,)] * (2 * n), [outs[0], (1,), (1,)]


def _cat_types(p, in_types):
    n = p["num_args"]
    for i, t in enumerate(in_types[:n]):
        int_data("quantized_concat", f"arg{i}", t)
    float_ranges("quantized_concat", _cat_args(p)[n:], in_types[n:])
    dtype = "int8" if any(t is not None and dtype_name(t) == "int8" for t in in_types[:n]) \
        else "uint8"
    return list(in_types), [dtype, "float32", "float32"]


def _cat_run(gpu):
    def forward(p, ins, outs, is_train, state):
        n = p["num_args"]
        mins = [scalar(ins[n + 2 * i]) for i in range(n)]
        maxs = [scalar(ins[n + 2 * i + 1]) for i in range(n)]
        lo, hi = F32(min([0.0] + mins)), F32(max([0.0] + maxs))
        out_t = dtype_name(outs[0].dtype)
        out_scale = div(_RANGE[out_t], max_abs(lo, hi))
        parts = []
        for i in range(n):
            x = ins[i]
            i_scale = div(_RANGE[dtype_name(x.dtype)], max_abs(mins[i], maxs[i]))
            if i_scale == out_scale and dtype_name(x.dtype) != out_t:
                raise MXNetError(f"quantized_concat: Check failed: input 'arg{i}' "
                                 f"({dtype_name(x.dtype)}) has the output's scale but not its type "
                                 f"{out_t}")
            if i_scale != out_scale:
                # MKL-DNN reorders the input into the output's scale: round half even, saturate
                lo_t, hi_t = LIMITS[out_t]
                if gpu:
                    from numba import cuda
                    from ..kernels.cuda import quantization as CQ
                    y = cuda.device_array(x.shape, out_t)
                    CQ.scale_round(gpu_flat(x), div(out_scale, i_scale), lo_t, hi_t,
                                   gpu_flat(y))
                else:
                    y = np.empty(x.shape, out_t)
                    KQ.scale_round(flat_in(x), div(out_scale, i_scale), lo_t, hi_t,
                                   y.reshape(-1))
                x = y
            parts.append(x)
        cat = get_op("Concat")
        (cat.gpu_forward if gpu else cat.forward)(p, parts, outs[:1], False, {})
        put_range(outs, lo, hi, gpu)
    return forward


register(Op(
    name="_contrib_quantized_concat",
    params={"num_args": Param("int", low=1), "dim": Param("int", 1)},
    arguments=_cat_args, num_args_param="num_args", outputs=("output", "min_output",
                                                              "max_output"),
    infer_shape=_cat_shape, infer_type=_cat_types, forward=_cat_run(False),
    gpu_forward=_cat_run(True), hint="quantized_concat",
    doc="Concatenate quantized arrays along dim, each rescaled to the widest range (int8 "
        "output if any input is int8). Inputs: the arrays, then a min/max pair per array. "
        "No gradient."))


# -- quantized_elemwise_add / quantized_elemwise_mul ------------------------------------------
_BIN_ARGS = ("lhs", "rhs", "lhs_min", "lhs_max", "rhs_min", "rhs_max")


def _binary_shape(op, float_output=lambda p: False):
    def infer_shape(p, in_shapes):
        range_shapes(op, in_shapes[2:], _BIN_ARGS[2:])
        a, b = (None if s is None else tuple(s) for s in in_shapes[:2])
        if a is not None and b is not None and a != b:
            raise ShapeError(f"{op}: input 'lhs' has shape {a} but 'rhs' has {b}; the quantized "
                             "elementwise operators do not broadcast")
        d = a if a is not None else b
        outs = [d] if float_output(p) else [d, (1,), (1,)]
        return [d, d] + [(1,)] * 4, outs
    return infer_shape


def _add_types(p, in_types):
    for arg, t in zip(_BIN_ARGS[:2], in_types[:2]):
        int_data("quantized_elemwise_add", arg, t)
    float_ranges("quantized_elemwise_add", _BIN_ARGS[2:], in_types[2:])
    out = "int32"
    if calibrated(p):
        a_t, b_t = dtype_name(in_types[0]), dtype_name(in_types[1])
        out = a_t if a_t == b_t else "int8"
    return list(in_types), [out, "float32", "float32"]


def _add_scales(p, a_t, b_t, rng, out_t):
    """(scale of lhs, scale of rhs, scale of the uint8 side's requantization to int8 or None,
    output min, output max), in float32 as MXNet's MKL-DNN path computes them."""
    a_min, a_max, b_min, b_max = rng
    a_abs, b_abs = max_abs(a_min, a_max), max_abs(b_min, b_max)
    a_scale = div(_RANGE[a_t], a_abs)
    b_scale = div(_RANGE[b_t], b_abs)
    out_range = _RANGE[out_t]
    a_range = _RANGE[a_t]
    total = F32(a_abs + b_abs)
    if calibrated(p):
        lo, hi = F32(p["min_calib_range"]), F32(p["max_calib_range"])
        out_scale = div(out_range, max_abs(lo, hi))
    else:
        hi = total
        lo = -hi
    sa = sb = F32(1)
    u8 = None
    if a_t != b_t:
        a_int8 = a_t == "int8"
        if calibrated(p):
            if a_int8:
                u8, sa = div(out_scale, b_scale), div(out_scale, a_scale)
            else:
                u8, sb = div(out_scale, a_scale), div(out_scale, b_scale)
        elif a_int8:
            u8 = div(F32(b_abs * out_range), F32(total * _RANGE["uint8"]))
            sa = div(F32(a_abs * out_range), F32(total * a_range))
        else:
            u8 = div(F32(a_abs * out_range), F32(total * a_range))
            sb = div(F32(b_abs * out_range), F32(total * _RANGE["int8"]))
    elif calibrated(p):
        sa, sb = div(out_scale, a_scale), div(out_scale, b_scale)
    else:
        # MXNet divides both by lhs's type range (the same type here)
        sa = div(F32(a_abs * out_range), F32(total * a_range))
        sb = div(F32(b_abs * out_range), F32(total * a_range))
    return sa, sb, u8, lo, hi


def _add_run(gpu):
    def forward(p, ins, outs, is_train, state):
        a, b = ins[0], ins[1]
        a_t, b_t, out_t = dtype_name(a.dtype), dtype_name(b.dtype), dtype_name(outs[0].dtype)
        sa, sb, u8, lo, hi = _add_scales(p, a_t, b_t, [scalar(v) for v in ins[2:6]], out_t)
        fa, fb = (gpu_flat if gpu else flat_in)(a), (gpu_flat if gpu else flat_in)(b)
        if u8 is not None:       # the uint8 side becomes int8 first
            fa, fb = (fa, to_int8(b, u8, gpu)) if a_t == "int8" else (to_int8(a, u8, gpu), fb)
        M, fl = device_kernels(gpu)
        M.scaled_sum(fa, sa, fb, sb, *LIMITS[out_t], fl(outs[0]))
        put_range(outs, lo, hi, gpu)
    return forward


_CALIB = {k: get_op("BatchNorm").params[k] for k in ("min_calib_range", "max_calib_range")}

register(Op(
    name="_contrib_quantized_elemwise_add", params=dict(_CALIB),
    arguments=_BIN_ARGS, outputs=("output", "min_output", "max_output"),
    infer_shape=_binary_shape("quantized_elemwise_add"), infer_type=_add_types,
    forward=_add_run(False), gpu_forward=_add_run(True), hint="quantized_elemwise_add",
    doc="Sum of two quantized arrays: int32 in the range ±(max|A| + max|B|), or int8/uint8 in "
        "a calibrated range. No gradient."))


def _mul_outputs(p):
    return ["output"] if p["enable_float_output"] else ["output", "min_output", "max_output"]


def _mul_types(p, in_types):
    for arg, t in zip(_BIN_ARGS[:2], in_types[:2]):
        int_data("quantized_elemwise_mul", arg, t, ("int8",))
    float_ranges("quantized_elemwise_mul", _BIN_ARGS[2:], in_types[2:])
    if p["enable_float_output"]:
        return list(in_types), ["float32"]
    return list(in_types), ["int8" if calibrated(p) else "int32", "float32", "float32"]


# MXNet 1.9.1 refuses this operator imperatively (its shape function clears the outputs) and
# runs it through mx.sym: mxteach runs it both ways, with the formula of MXNet's loop.
def _mul_run(gpu):
    def forward(p, ins, outs, is_train, state):
        l_min, l_max, r_min, r_max = (scalar(v) for v in ins[2:6])
        l_scale = div(127.5, max_abs(l_min, l_max))
        r_scale = div(127.5, max_abs(r_min, r_max))
        lo = hi = F32(0)
        if p["enable_float_output"]:
            # MXNet: 1.0 / lhs_scale / rhs_scale, a double divided by floats
            scale, mode = F32(1.0 / np.float64(l_scale) / np.float64(r_scale)), 0
        elif calibrated(p):
            lo, hi = F32(p["min_calib_range"]), F32(p["max_calib_range"])
            out_scale = div(127.5, max_abs(lo, hi))
            scale, mode = div(div(out_scale, l_scale), r_scale), 2
        else:
            # QuantizationRangeForMultiplication: one int8 level of each side, times 2**31 - 1
            step = F32(div(max_abs(l_min, l_max), 127) * div(max_abs(r_min, r_max), 127))
            hi = F32(step * F32(2147483647))
            lo = -hi
            scale, mode = F32(1), 1
        M, fl = device_kernels(gpu)
        M.truncating_product(fl(ins[0]), fl(ins[1]), scale, mode, fl(outs[0]))
        if not p["enable_float_output"]:
            put_range(outs, lo, hi, gpu)
    return forward


register(Op(
    name="_contrib_quantized_elemwise_mul",
    params={**_CALIB, "enable_float_output": Param("bool", False,
                                                   doc="return float32 (and no range)")},
    arguments=_BIN_ARGS, outputs=_mul_outputs,
    infer_shape=_binary_shape("quantized_elemwise_mul", lambda p: p["enable_float_output"]),
    infer_type=_mul_types, forward=_mul_run(False), gpu_forward=_mul_run(True),
    hint="quantized_elemwise_mul",
    doc="Product of two int8 arrays: int32 (range from the inputs'), int8 in a calibrated "
        "range, or float32 with enable_float_output. No gradient."))
