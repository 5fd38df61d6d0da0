"""The quantized layers: quantized_flatten, quantized_act, quantized_concat,
quantized_elemwise_add, quantized_elemwise_mul, quantized_pooling, quantized_embedding and
quantized_batch_norm (``mx.nd.contrib.*``, registered as ``_contrib_<name>``).

Each takes int8/uint8 data with its float32 range inputs (shape ``(1,)``, after the data) and
returns the result with its range. They reproduce MXNet 1.9.1's CPU build, which runs them
through MKL-DNN (float32 scales, round half to even, saturation). Kernels:
``kernels/cpu/quantized_ops.py`` (CUDA twins ``kernels/cuda/quantized_ops.py``, numpy twins
``kernels/reference/quantized_ops.py``).

The MXNet 1.9.1 behaviours reproduced (refusals, type quirks, rounding) are stated at each
operator. quantized_fully_connected and quantized_conv live in ``ops/quantization.py``.
None has a gradient.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, get as get_op
from .common import flat_in, gpu_flat
from ..base import MXNetError, ShapeError, DTypeError
from ..kernels.cpu import quantized_ops as K
from ..kernels.cpu import quantization as KQ

__all__ = ["QUANTIZED_OPS"]

QUANTIZED_OPS = ("_contrib_quantized_flatten", "_contrib_quantized_act",
                 "_contrib_quantized_concat", "_contrib_quantized_elemwise_add",
                 "_contrib_quantized_elemwise_mul", "_contrib_quantized_pooling",
                 "_contrib_quantized_embedding", "_contrib_quantized_batch_norm")

_F32 = np.float32
_RANGE = {"int8": _F32(127.5), "uint8": _F32(255.5), "int32": _F32(2147483647)}
_LIMITS = {"int8": (-128.0, 127.0), "uint8": (0.0, 255.0),
           "int32": (-2147483648.0, 2147483520.0)}   # the largest float32 below 2**31


# float32 helpers, twins of those in ops/quantization.py (family files do not import each other)
def _max_abs(a, b):
    return _F32(max(abs(_F32(a)), abs(_F32(b))))


def _div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _F32(_F32(a) / _F32(b))


def _scalar(a):
    host = a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)
    return _F32(host.reshape(-1)[0])


def _name(dtype):
    return np.dtype(dtype).name


def _put(out, value, gpu):
    if gpu:
        out.copy_to_device(np.asarray(value, out.dtype).reshape(out.shape))
    else:
        out[...] = value


def _kernels(gpu):
    """(kernel module, flat view) of the device: CUDA launchers on device arrays, or the Numba
    CPU kernels on numpy arrays. The CUDA module is imported only when used."""
    if gpu:
        from ..kernels.cuda import quantized_ops as C
        return C, gpu_flat
    return K, flat_in


def _put_pair(outs, lo, hi, gpu):
    _put(outs[1], lo, gpu)
    _put(outs[2], hi, gpu)


def _pass_range(ranges, outs, gpu):
    """Copy the (min, max) range inputs to the range outputs."""
    for r, o in zip(ranges, outs[1:3]):
        _put(o, _scalar(r), gpu)


def _to_int8(x, scale, gpu):
    """Flat int8 copy of uint8 data requantized by ``scale`` (round half even, saturate), as
    MKL-DNN does before mixing it with int8 data."""
    if gpu:
        from numba import cuda
        from ..kernels.cuda import quantization as CQ
        tmp = cuda.device_array(x.size, np.int8)
        CQ.scale_round(gpu_flat(x), scale, -128.0, 127.0, tmp)
    else:
        tmp = np.empty(x.size, np.int8)
        KQ.scale_round(flat_in(x), scale, -128.0, 127.0, tmp)
    return tmp


def _ranges(op, in_shapes, names):
    for name, s in zip(names, in_shapes):
        if s is not None and tuple(s) != (1,):
            raise ShapeError(f"{op}: input '{name}' has shape {tuple(s)}; expected (1,) "
                             "(Shape inconsistent)")


def _int_data(op, arg, t, allowed=("int8", "uint8")):
    if t is not None and _name(t) not in allowed:
        raise DTypeError(f"{op}: input '{arg}' has dtype {_name(t)}; expected "
                         f"{' or '.join(allowed)}")


def _float_ranges(op, names, types):
    for arg, t in zip(names, types):
        if t is not None and _name(t) != "float32":
            raise DTypeError(f"{op}: input '{arg}' has dtype {_name(t)}; expected float32 "
                             "(Type inconsistent)")


# -- quantized_flatten ------------------------------------------------------------------------
def _flatten_shape(p, in_shapes):
    _ranges("quantized_flatten", in_shapes[1:], ("min_data", "max_data"))
    (d,), (out,) = get_op("Flatten").infer_shape({}, in_shapes[:1])
    return [d, (1,), (1,)], [out, (1,), (1,)]


def _pass_types(op):
    def infer_type(p, in_types):
        _float_ranges(op, ("min_data", "max_data"), in_types[1:3])
        return [in_types[0], "float32", "float32"], [in_types[0], "float32", "float32"]
    return infer_type


def _flatten_run(gpu):
    def forward(p, ins, outs, is_train, state):
        if gpu:
            outs[0].copy_to_device(ins[0].reshape(outs[0].shape))
        else:
            outs[0][...] = ins[0].reshape(outs[0].shape)
        _pass_range(ins[1:3], outs, gpu)
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
        _ranges(op, in_shapes[1:], ("min_data", "max_data"))
        d = None if in_shapes[0] is None else tuple(in_shapes[0])
        return [d, (1,), (1,)], [d, (1,), (1,)]
    return infer_shape


def _act_types(p, in_types):
    if p["act_type"] != "relu":
        raise MXNetError(f"quantized_act: act_type = '{p['act_type']}'; "
                         "_contrib_quantized_act only supports act_type=relu for now")
    _int_data("quantized_act", "data", in_types[0])
    _float_ranges("quantized_act", ("min_data", "max_data"), in_types[1:3])
    return [in_types[0], "float32", "float32"], ["int8", "float32", "float32"]


def _act_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        if x.dtype == np.uint8:        # ReLU leaves uint8 alone; the bytes are read as int8
            _put(outs[0], (x.copy_to_host() if gpu else x).view(np.int8), gpu)
        else:
            M, fl = _kernels(gpu)
            M.relu(fl(x), fl(outs[0]))
        _pass_range(ins[1:3], outs, gpu)
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
    _ranges("quantized_concat", in_shapes[n:], _cat_args(p)[n:])
    if in_shapes[0] is not None:
        _cat_axis(p, len(in_shapes[0]))
    ins, outs = get_op("Concat").infer_shape(p, list(in_shapes[:n]))   # Concat's shape rule
    return list(ins) + [(1,)] * (2 * n), [outs[0], (1,), (1,)]


def _cat_types(p, in_types):
    n = p["num_args"]
    for i, t in enumerate(in_types[:n]):
        _int_data("quantized_concat", f"arg{i}", t)
    _float_ranges("quantized_concat", _cat_args(p)[n:], in_types[n:])
    dtype = "int8" if any(t is not None and _name(t) == "int8" for t in in_types[:n]) \
        else "uint8"
    return list(in_types), [dtype, "float32", "float32"]


def _cat_run(gpu):
    def forward(p, ins, outs, is_train, state):
        n = p["num_args"]
        mins = [_scalar(ins[n + 2 * i]) for i in range(n)]
        maxs = [_scalar(ins[n + 2 * i + 1]) for i in range(n)]
        lo, hi = _F32(min([0.0] + mins)), _F32(max([0.0] + maxs))
        out_t = _name(outs[0].dtype)
        out_scale = _div(_RANGE[out_t], _max_abs(lo, hi))
        parts = []
        for i in range(n):
            x = ins[i]
            i_scale = _div(_RANGE[_name(x.dtype)], _max_abs(mins[i], maxs[i]))
            if i_scale == out_scale and _name(x.dtype) != out_t:
                raise MXNetError(f"quantized_concat: Check failed: input 'arg{i}' "
                                 f"({_name(x.dtype)}) has the output's scale but not its type "
                                 f"{out_t}")
            if i_scale != out_scale:
                # MKL-DNN reorders the input into the output's scale: round half even, saturate
                lo_t, hi_t = _LIMITS[out_t]
                if gpu:
                    from numba import cuda
                    from ..kernels.cuda import quantization as CQ
                    y = cuda.device_array(x.shape, out_t)
                    CQ.scale_round(gpu_flat(x), _div(out_scale, i_scale), lo_t, hi_t,
                                   gpu_flat(y))
                else:
                    y = np.empty(x.shape, out_t)
                    KQ.scale_round(flat_in(x), _div(out_scale, i_scale), lo_t, hi_t,
                                   y.reshape(-1))
                x = y
            parts.append(x)
        cat = get_op("Concat")
        (cat.gpu_forward if gpu else cat.forward)(p, parts, outs[:1], False, {})
        _put_pair(outs, lo, hi, gpu)
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
        _ranges(op, in_shapes[2:], _BIN_ARGS[2:])
        a, b = (None if s is None else tuple(s) for s in in_shapes[:2])
        if a is not None and b is not None and a != b:
            raise ShapeError(f"{op}: input 'lhs' has shape {a} but 'rhs' has {b}; the quantized "
                             "elementwise operators do not broadcast")
        d = a if a is not None else b
        outs = [d] if float_output(p) else [d, (1,), (1,)]
        return [d, d] + [(1,)] * 4, outs
    return infer_shape


def _calibrated(p):
    return p["min_calib_range"] is not None and p["max_calib_range"] is not None


def _add_types(p, in_types):
    for arg, t in zip(_BIN_ARGS[:2], in_types[:2]):
        _int_data("quantized_elemwise_add", arg, t)
    _float_ranges("quantized_elemwise_add", _BIN_ARGS[2:], in_types[2:])
    out = "int32"
    if _calibrated(p):
        out = _name(in_types[0]) if _name(in_types[0]) == _name(in_types[1]) else "int8"
    return list(in_types), [out, "float32", "float32"]


def _add_scales(p, a_t, b_t, rng, out_t):
    """(scale of lhs, scale of rhs, scale of the uint8 side's requantization to int8 or None,
    output min, output max), in float32 as MXNet's MKL-DNN path computes them."""
    a_min, a_max, b_min, b_max = rng
    a_abs, b_abs = _max_abs(a_min, a_max), _max_abs(b_min, b_max)
    a_scale = _div(_RANGE[a_t], a_abs)
    b_scale = _div(_RANGE[b_t], b_abs)
    out_range = _RANGE[out_t]
    a_range = _RANGE[a_t]
    total = _F32(a_abs + b_abs)
    if _calibrated(p):
        lo, hi = _F32(p["min_calib_range"]), _F32(p["max_calib_range"])
        out_scale = _div(out_range, _max_abs(lo, hi))
    else:
        hi = total
        lo = -hi
    sa = sb = _F32(1)
    u8 = None
    if a_t != b_t:
        a_int8 = a_t == "int8"
        if _calibrated(p):
            if a_int8:
                u8, sa = _div(out_scale, b_scale), _div(out_scale, a_scale)
            else:
                u8, sb = _div(out_scale, a_scale), _div(out_scale, b_scale)
        elif a_int8:
            u8 = _div(_F32(b_abs * out_range), _F32(total * _RANGE["uint8"]))
            sa = _div(_F32(a_abs * out_range), _F32(total * a_range))
        else:
            u8 = _div(_F32(a_abs * out_range), _F32(total * a_range))
            sb = _div(_F32(b_abs * out_range), _F32(total * _RANGE["int8"]))
    elif _calibrated(p):
        sa, sb = _div(out_scale, a_scale), _div(out_scale, b_scale)
    else:
        # MXNet divides both by lhs's type range (the same type here)
        sa = _div(_F32(a_abs * out_range), _F32(total * a_range))
        sb = _div(_F32(b_abs * out_range), _F32(total * a_range))
    return sa, sb, u8, lo, hi


def _add_run(gpu):
    def forward(p, ins, outs, is_train, state):
        a, b = ins[0], ins[1]
        a_t, b_t, out_t = _name(a.dtype), _name(b.dtype), _name(outs[0].dtype)
        sa, sb, u8, lo, hi = _add_scales(p, a_t, b_t, [_scalar(v) for v in ins[2:6]], out_t)
        fa, fb = (gpu_flat if gpu else flat_in)(a), (gpu_flat if gpu else flat_in)(b)
        if u8 is not None:       # the uint8 side becomes int8 first
            fa, fb = (fa, _to_int8(b, u8, gpu)) if a_t == "int8" else (_to_int8(a, u8, gpu), fb)
        M, fl = _kernels(gpu)
        M.scaled_sum(fa, sa, fb, sb, *_LIMITS[out_t], fl(outs[0]))
        _put_pair(outs, lo, hi, gpu)
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
        _int_data("quantized_elemwise_mul", arg, t, ("int8",))
    _float_ranges("quantized_elemwise_mul", _BIN_ARGS[2:], in_types[2:])
    if p["enable_float_output"]:
        return list(in_types), ["float32"]
    return list(in_types), ["int8" if _calibrated(p) else "int32", "float32", "float32"]


# MXNet 1.9.1 refuses this operator imperatively (its shape function clears the outputs) and
# runs it through mx.sym: mxteach runs it both ways, with the formula of MXNet's loop.
def _mul_run(gpu):
    def forward(p, ins, outs, is_train, state):
        l_min, l_max, r_min, r_max = (_scalar(v) for v in ins[2:6])
        l_scale = _div(127.5, _max_abs(l_min, l_max))
        r_scale = _div(127.5, _max_abs(r_min, r_max))
        lo = hi = _F32(0)
        if p["enable_float_output"]:
            # MXNet: 1.0 / lhs_scale / rhs_scale, a double divided by floats
            scale, mode = _F32(1.0 / np.float64(l_scale) / np.float64(r_scale)), 0
        elif _calibrated(p):
            lo, hi = _F32(p["min_calib_range"]), _F32(p["max_calib_range"])
            out_scale = _div(127.5, _max_abs(lo, hi))
            scale, mode = _div(_div(out_scale, l_scale), r_scale), 2
        else:
            # QuantizationRangeForMultiplication: one int8 level of each side, times 2**31 - 1
            step = _F32(_div(_max_abs(l_min, l_max), 127) * _div(_max_abs(r_min, r_max), 127))
            hi = _F32(step * _F32(2147483647))
            lo = -hi
            scale, mode = _F32(1), 1
        M, fl = _kernels(gpu)
        M.truncating_product(fl(ins[0]), fl(ins[1]), scale, mode, fl(outs[0]))
        if not p["enable_float_output"]:
            _put_pair(outs, lo, hi, gpu)
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
    _ranges("quantized_pooling", in_shapes[1:], ("min_data", "max_data"))
    data = in_shapes[0]
    _pool_check(p, data)
    if data is None:
        return list(in_shapes), [None, (1,), (1,)]
    _, (out,) = get_op("Pooling").infer_shape(dict(p), [tuple(data)])
    return [tuple(data), (1,), (1,)], [out, (1,), (1,)]


def _pool_types(p, in_types):
    _pool_check(p, None)
    _int_data("quantized_pooling", "data", in_types[0])
    _float_ranges("quantized_pooling", ("min_data", "max_data"), in_types[1:3])
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
        M, fl = _kernels(gpu)
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
        M.round_to_int(fl(yf), *_LIMITS[_name(x.dtype)], fl(outs[0]))
        _pass_range(ins[1:3], outs, gpu)
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
    _ranges("quantized_embedding", in_shapes[2:], ("min_weight", "max_weight"))
    (d, w), (out,) = get_op("Embedding").infer_shape(p, list(in_shapes[:2]))
    return [d, w, (1,), (1,)], [out, (1,), (1,)]


def _emb_types(p, in_types):
    _int_data("quantized_embedding", "weight", in_types[1], ("int8",))
    _float_ranges("quantized_embedding", ("min_weight", "max_weight"), in_types[2:])
    return list(in_types), ["int8", "float32", "float32"]


def _emb_run(gpu):
    def forward(p, ins, outs, is_train, state):
        n = int(np.prod(ins[0].shape, dtype=np.int64))
        M, fl = _kernels(gpu)
        M.gather_rows(fl(ins[0]), ins[1], outs[0].reshape((n, p["output_dim"])))
        _pass_range(ins[2:4], outs, gpu)
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
    _ranges("quantized_batch_norm", in_shapes[3:5], ("min_data", "max_data"))
    # BatchNorm's rule on (data, gamma, beta, moving_mean, moving_var)
    (d, g, b, m, v), (out,) = get_op("BatchNorm").infer_shape(
        p, [in_shapes[i] for i in (0, 1, 2, 5, 6)])
    return [d, g, b, (1,), (1,), m, v], [out, (1,), (1,)]


def _bn_types(p, in_types):
    _int_data("quantized_batch_norm", "data", in_types[0])
    _float_ranges("quantized_batch_norm", ("gamma", "beta", "min_data", "max_data",
                                           "moving_mean", "moving_var"), in_types[1:])
    return list(in_types), ["int8", "float32", "float32"]


def _bn_run(gpu):
    def forward(p, ins, outs, is_train, state):
        if not _calibrated(p):
            raise MXNetError("quantized_batch_norm: min_calib_range or max_calib_range is not "
                             "available. Quantized BN currently don't support calib_mode=None")
        x = ins[0]
        gamma, beta, mean, var = (a.copy_to_host() if gpu else a for a in ins[1:3] + ins[5:7])
        lo, hi = _F32(p["min_calib_range"]), _F32(p["max_calib_range"])
        mad, mao = _max_abs(_scalar(ins[3]), _scalar(ins[4])), _max_abs(lo, hi)
        # MXNet folds the statistics into a scale and shift (fix_gamma is not applied)
        inv = (1.0 / np.sqrt(var.astype(np.float64) + p["eps"])).astype(_F32)
        w = (gamma * inv * mad) / mao
        sh = ((beta - mean * gamma * inv) * _F32(127.5)) / mao
        inv1 = _F32(1) / np.sqrt(_F32(1) + _F32(p["eps"]))
        shape3 = _bn_split(p, x.shape)
        if x.dtype == np.uint8:          # MKL-DNN first requantizes uint8 data to int8
            x = _to_int8(x, _div(127.5, 255.5), gpu)
        M, _ = _kernels(gpu)
        if gpu:
            from numba import cuda
            w, sh = cuda.to_device(w), cuda.to_device(sh)
        M.channel_affine(x.reshape(shape3), inv1, w, sh, outs[0].reshape(shape3))
        _put_pair(outs, lo, hi, gpu)
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
