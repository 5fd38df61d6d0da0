"""int8 quantization: quantize, quantize_v2, quantize_asym, dequantize, requantize,
calibrate_entropy, and the quantized GEMM layers quantized_fully_connected, quantized_conv and
quantized_rnn (``mx.nd.contrib.*``, registered as ``_contrib_<name>``).

A quantized tensor is an int8/uint8 array plus two float32 scalars (shape ``(1,)``) saying which
real range it stands for. MXNet 1.9.1's pip build (MKL-DNN) maps floats to integers with one
float32 scale, ``q = saturate(round_half_even(float32(x) * scale))`` (kernel ``scale_round`` in
``kernels/cpu/quantization.py``; CUDA twins in ``kernels/cuda/quantization.py``, numpy twins in
``kernels/reference/quantization.py``). Which scale, and which range is written out, is the
per-operator part:

* ``quantize`` (out_type uint8 by default): scale ``127 / max|range|`` (int8, range written as
  ``-r .. r``) or ``255 / max|range|`` (uint8: negative inputs saturate to 0, the given range is
  passed through);
* ``quantize_v2`` / ``dequantize`` use 127.5 and 255.5 (MXNet's kInt8Range/kUint8Range) instead
  of 127/255; quantize_v2 takes the range from ``min/max_calib_range`` or from the data, and
  ``out_type='auto'`` picks uint8 when the calibrated minimum is >= 0; int8/uint8 input is copied
  through with the range ``±127.5`` / ``0 .. 255.5`` (or the calibrated one);
* ``requantize`` (int32 → int8/uint8): the int32 range is ``max|range| / 2**31``; without a
  calibration range the new range is ``max|data| * max|range| / 2**31``, with MXNet's int32
  conversion of ``max|data|`` (a value of 2**31 - 1 rounds to 2**31 in float32 and converts to
  -2**31 on x86, flipping the sign of the result — reproduced, as MXNet outputs it);
* ``quantize_asym``: ``uint8(x * scale + shift + 0.5)``, ``scale = 255 / (max - min)``,
  ``shift = 255 - max * scale`` (MXNet 1.9.1's pip build crashes on it: tests check the formula
  of MXNet's source); ``calibrate_entropy``: the histogram threshold of smallest KL divergence.

None of them has a gradient (MXNet registers none).
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, get as get_op
from .common import flat_in, gpu_flat
from ..base import MXNetError, ShapeError, DTypeError
from ..kernels.cpu import quantization as K

__all__ = ["QUANT_OPS"]

QUANT_OPS = ("_contrib_quantize", "_contrib_quantize_v2", "_contrib_quantize_asym",
             "_contrib_dequantize", "_contrib_requantize", "_contrib_calibrate_entropy")

# (saturation low, high) of the integer types
_LIMITS = {"int8": (-128.0, 127.0), "uint8": (0.0, 255.0)}
_F32 = np.float32


def _max_abs(a, b):
    return _F32(max(abs(_F32(a)), abs(_F32(b))))


def _div(a, b):
    """float32 ``a / b`` as C++ computes it (a zero range gives inf, no warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _F32(_F32(a) / _F32(b))


def _scalar(a):
    """The float32 value of a (1,)-shaped range input, on the host or the device."""
    host = a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)
    return _F32(host.reshape(-1)[0])


def _check_dtype(op, arg, got, allowed):
    if got is not None and np.dtype(got).name not in allowed:
        raise DTypeError(f"{op}: input '{arg}' has dtype {np.dtype(got).name}; expected "
                         f"{' or '.join(allowed)} (Type inconsistent)")


def _range_shapes(op, in_shapes, names):
    """Every range input must be shaped (1,)."""
    for name, s in zip(names, in_shapes):
        if s is not None and tuple(s) != (1,):
            raise ShapeError(f"{op}: input '{name}' has shape {tuple(s)}; expected (1,) "
                             f"(Shape inconsistent)")


def _quantize_shape(op, n_ranges):
    def infer_shape(p, in_shapes):
        _range_shapes(op, in_shapes[1:], ("min_range", "max_range"))
        data = None if in_shapes[0] is None else tuple(in_shapes[0])
        return [data] + [(1,)] * n_ranges, [data, (1,), (1,)]
    return infer_shape


def _out_type(p):
    """MXNet's GetQuantizeOutputType: 'auto' is uint8 only for a calibrated minimum >= 0."""
    if p["out_type"] != "auto":
        return p["out_type"]
    calib = p["min_calib_range"] is not None and p["max_calib_range"] is not None
    return "uint8" if calib and p["min_calib_range"] >= 0 else "int8"


def _run_scale_round(ins0, scale, out_type, out, gpu):
    lo, hi = _LIMITS[out_type]
    if gpu:
        from ..kernels.cuda import quantization as C
        C.scale_round(gpu_flat(ins0), scale, lo, hi, gpu_flat(out))
    else:
        buf = out.reshape(-1)
        K.scale_round(flat_in(ins0), scale, lo, hi, buf)


def _put_range(outs, lo, hi, gpu):
    for o, v in ((outs[1], lo), (outs[2], hi)):
        if gpu:
            o.copy_to_device(np.array([v], np.float32))
        else:
            o[...] = v


# -- quantize ---------------------------------------------------------------------------------
def _quantize_types(p, in_types):
    _check_dtype("quantize", "data", in_types[0], ("float32",))
    for arg, t in zip(("min_range", "max_range"), in_types[1:]):
        _check_dtype("quantize", arg, t, ("float32",))
    return ["float32"] * 3, [p["out_type"], "float32", "float32"]


def _quantize_run(gpu):
    def forward(p, ins, outs, is_train, state):
        lo, hi = _scalar(ins[1]), _scalar(ins[2])
        real = _max_abs(lo, hi)
        if p["out_type"] == "uint8":
            scale = _div(255, real)
            _put_range(outs, lo, hi, gpu)
        else:
            scale = _div(127, real)
            _put_range(outs, -real, real, gpu)
        _run_scale_round(ins[0], scale, p["out_type"], outs[0], gpu)
    return forward


register(Op(
    name="_contrib_quantize",
    params={"out_type": Param("str", "uint8", choices=("int8", "uint8"))},
    arguments=("data", "min_range", "max_range"), outputs=("output0", "output1", "output2"),
    infer_shape=_quantize_shape("quantize", 2), infer_type=_quantize_types,
    forward=_quantize_run(False), gpu_forward=_quantize_run(True), hint="quantize",
    doc="Quantize float32 data to int8/uint8 with the given (1,)-shaped min_range/max_range: "
        "round(x * 127 / max|range|) (int8) or round(x * 255 / max|range|) (uint8, negatives "
        "saturate to 0); also returns the range the result stands for. No gradient."))


# -- quantize_v2 ------------------------------------------------------------------------------
def _calib(p):
    if p["min_calib_range"] is not None and p["max_calib_range"] is not None:
        return _F32(p["min_calib_range"]), _F32(p["max_calib_range"])
    return None


def _v2_types(p, in_types):
    _check_dtype("quantize_v2", "data", in_types[0], ("float32", "int8", "uint8"))
    return list(in_types), [_out_type(p), "float32", "float32"]


def _v2_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        calib = _calib(p)
        if np.dtype(x.dtype).name in ("int8", "uint8"):
            # already quantized: the bytes are copied, the range is the calibrated one or the
            # full range of the input type
            if calib is None:
                calib = (_F32(0), _F32(255.5)) if x.dtype == np.uint8 else (_F32(-127.5),
                                                                              _F32(127.5))
            _put_range(outs, calib[0], calib[1], gpu)
            if gpu:
                outs[0].copy_to_device(x.copy_to_host().view(outs[0].dtype))
            else:
                outs[0][...] = x.view(outs[0].dtype)
            return
        if calib is None:
            if gpu:
                from ..kernels.cuda import quantization as C
                lo, hi = (_F32(v) for v in C.min_max(gpu_flat(x)))
            else:
                lo, hi = _F32(x.min()), _F32(x.max())
        else:
            lo, hi = calib
        real = _max_abs(lo, hi)
        out_type = _out_type(p)
        if out_type == "uint8":
            _put_range(outs, lo, hi, gpu)
            scale = _div(255.5, real)
        else:
            _put_range(outs, -real, real, gpu)
            scale = _div(127.5, real)
        _run_scale_round(x, scale, out_type, outs[0], gpu)
    return forward


_CALIB = {"min_calib_range": Param("float", None, optional=True,
                                   doc="calibrated minimum (float32)"),
          "max_calib_range": Param("float", None, optional=True,
                                   doc="calibrated maximum (float32)")}

register(Op(
    name="_contrib_quantize_v2",
    params={"out_type": Param("str", "int8", choices=("auto", "int8", "uint8")), **_CALIB},
    arguments=("data",), outputs=("output0", "output1", "output2"),
    infer_shape=_quantize_shape("quantize_v2", 0), infer_type=_v2_types,
    forward=_v2_run(False), gpu_forward=_v2_run(True), hint="quantize_v2",
    doc="Quantize float32 data to int8 (scale 127.5 / max|range|) or uint8 (255.5 / "
        "max|range|), the range from min/max_calib_range or else from the data; 'auto' picks "
        "uint8 for a calibrated minimum >= 0. Returns data, min, max. No gradient."))


# -- dequantize -------------------------------------------------------------------------------
def _deq_shape(p, in_shapes):
    _range_shapes("dequantize", in_shapes[1:], ("min_range", "max_range"))
    data = None if in_shapes[0] is None else tuple(in_shapes[0])
    return [data, (1,), (1,)], [data]


def _deq_types(p, in_types):
    if in_types[0] is not None and np.dtype(in_types[0]).name not in ("int8", "uint8"):
        raise DTypeError(f"dequantize: input 'data' has dtype {np.dtype(in_types[0]).name}; the "
                         "input data type of dequantize op must be provided, either uint8 or "
                         "int8")
    for arg, t in zip(("min_range", "max_range"), in_types[1:]):
        _check_dtype("dequantize", arg, t, ("float32",))
    return [in_types[0], "float32", "float32"], ["float32"]


def _deq_run(gpu):
    def forward(p, ins, outs, is_train, state):
        real = _max_abs(_scalar(ins[1]), _scalar(ins[2]))
        factor = _div(real, 255.5 if ins[0].dtype == np.uint8 else 127.5)
        if gpu:
            from ..kernels.cuda import quantization as C
            C.scale(gpu_flat(ins[0]), factor, gpu_flat(outs[0]))
        else:
            # one float32 product per element: numpy is exact here, no kernel needed
            outs[0][...] = ins[0].astype(np.float32) * factor
    return forward


register(Op(
    name="_contrib_dequantize",
    params={"out_type": Param("str", "float32", choices=("float32",))},
    arguments=("data", "min_range", "max_range"), outputs=("output",),
    infer_shape=_deq_shape, infer_type=_deq_types, forward=_deq_run(False),
    gpu_forward=_deq_run(True), hint="dequantize",
    doc="int8/uint8 data back to float32: q * max|range| / 127.5 (int8) or / 255.5 (uint8). "
        "No gradient."))


# -- requantize -------------------------------------------------------------------------------
def _req_types(p, in_types):
    _check_dtype("requantize", "data", in_types[0], ("int32",))
    for arg, t in zip(("min_range", "max_range"), in_types[1:]):
        _check_dtype("requantize", arg, t, ("float32",))
    return ["int32", "float32", "float32"], [_out_type(p), "float32", "float32"]


def _x86_int32(v):
    """C++ ``static_cast<int32_t>(float)`` on x86: out of range (and NaN) gives INT_MIN."""
    v = float(v)
    return int(v) if -2.0 ** 31 <= v < 2.0 ** 31 else -2 ** 31


_INT32_RANGE = _F32(2147483647)       # MinAbs(INT32_MIN, INT32_MAX) as a float: 2**31


def _req_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        min_r, max_r = _scalar(ins[1]), _scalar(ins[2])
        calib = _calib(p)
        if calib is not None:
            real = _max_abs(*calib)
        else:
            if gpu:
                from ..kernels.cuda import quantization as C
                lo, hi = C.min_max(gpu_flat(x))
            else:
                lo, hi = int(x.min()), int(x.max())
            data_range = _x86_int32(_max_abs(lo, hi))
            real = _div(_F32(_F32(data_range) * _max_abs(min_r, max_r)), _INT32_RANGE)
        first = _div(_max_abs(min_r, max_r), _INT32_RANGE)
        out_type = _out_type(p)
        if out_type == "int8":
            second = _div(127, real)
            _put_range(outs, -real, real, gpu)
        else:
            second = _div(255, real)
            _put_range(outs, 0.0, real, gpu)
        _run_scale_round(x, _F32(first * second), out_type, outs[0], gpu)
    return forward


register(Op(
    name="_contrib_requantize",
    params={"out_type": Param("str", "int8", choices=("auto", "int8", "uint8")), **_CALIB},
    arguments=("data", "min_range", "max_range"), outputs=("output0", "output1", "output2"),
    infer_shape=_quantize_shape("requantize", 2), infer_type=_req_types,
    forward=_req_run(False), gpu_forward=_req_run(True), hint="requantize",
    doc="int32 data (with its float range) to int8/uint8 in a new range: the calibrated one, "
        "or the one the data actually spans. No gradient."))


# -- quantize_asym ----------------------------------------------------------------------------
def _asym_types(p, in_types):
    _check_dtype("quantize_asym", "data", in_types[0], ("float32", "int8", "uint8"))
    return list(in_types), ["uint8", "float32", "float32"]


def _asym_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        name = np.dtype(x.dtype).name
        if name == "uint8":
            scale, shift = _F32(1), _F32(0)
        elif name == "int8":
            scale, shift = _F32(1), _F32(128)
        else:
            calib = _calib(p)
            if calib is None:
                if gpu:
                    from ..kernels.cuda import quantization as C
                    calib = tuple(_F32(v) for v in C.min_max(gpu_flat(x)))
                else:
                    calib = (_F32(x.min()), _F32(x.max()))
            lo, hi = calib
            scale = _div(255, _F32(hi - lo))
            shift = _F32(_F32(255) - _F32(hi * scale))
        _put_range(outs, scale, shift, gpu)
        if name == "uint8":
            if gpu:
                outs[0].copy_to_device(x)
            else:
                outs[0][...] = x
        elif gpu:
            from ..kernels.cuda import quantization as C
            C.asym_quantize(gpu_flat(x), scale, shift, gpu_flat(outs[0]))
        else:
            K.asym_quantize(flat_in(x), scale, shift, outs[0].reshape(-1))
    return forward


register(Op(
    name="_contrib_quantize_asym", params=dict(_CALIB),
    arguments=("data",), outputs=("output", "scale", "shift"),
    infer_shape=_quantize_shape("quantize_asym", 0), infer_type=_asym_types,
    forward=_asym_run(False), gpu_forward=_asym_run(True), hint="quantize_asym",
    doc="Asymmetric uint8 quantization: uint8(x * scale + shift + 0.5) with scale = "
        "255 / (max - min), shift = 255 - max * scale (range calibrated or from the data); "
        "int8 input is shifted by 128. Returns data, scale, shift. No gradient."))


# -- calibrate_entropy ------------------------------------------------------------------------
def _cal_shape(p, in_shapes):
    h, e = in_shapes
    if h is not None and e is not None:
        nh, ne = int(np.prod(h)), int(np.prod(e))
        if nh + 1 != ne:
            raise ShapeError(f"calibrate_entropy: 'hist_edges' has {ne} elements; expected "
                             f"len(hist) + 1 = {nh + 1}")
        if nh % 2 == 0:
            # MXNet's search reads hist_edges[len(hist) + 1] for an even count: out of bounds
            raise ShapeError(f"calibrate_entropy: 'hist' has {nh} bins; expected an odd number "
                             "(a histogram symmetric about a zero bin)")
        if p["num_quantized_bins"] // 2 > nh // 2:
            raise ShapeError(f"calibrate_entropy: num_quantized_bins = "
                             f"{p['num_quantized_bins']} needs a histogram of at least that "
                             f"many bins, got {nh}")
    return list(in_shapes), [(1,), (1,)]


def _cal_types(p, in_types):
    for arg, t in zip(("hist", "hist_edges"), in_types):
        _check_dtype("calibrate_entropy", arg, t, ("float32",))
    return ["float32", "float32"], ["float32", "float32"]


def _cal_run(gpu):
    def forward(p, ins, outs, is_train, state):
        nqb = p["num_quantized_bins"]
        n = ins[0].size // 2 + 1 - nqb // 2
        if gpu:
            from numba import cuda
            from ..kernels.cuda import quantization as C
            res = [cuda.device_array(n, np.float32), cuda.device_array(n, np.float32),
                   cuda.device_array(n, np.int64)]
            C.entropy_divergences(gpu_flat(ins[0]), gpu_flat(ins[1]), nqb, *res)
            res = [r.copy_to_host() for r in res]
        else:
            res = [np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.int64)]
            K.entropy_divergences(flat_in(ins[0]), flat_in(ins[1]), nqb, *res)
        thresholds, divergence, status = res
        if status.any():
            raise MXNetError("calibrate_entropy: Check failed: p[i] > 0 && q[i] > 0 (a smoothed "
                             "distribution has a non-positive bin for threshold "
                             f"{thresholds[np.argmax(status)]})")
        best, best_div = 0, _F32(np.finfo(np.float32).max)
        for i, d in enumerate(divergence):       # the first strict minimum, as MXNet scans
            if d < best_div:
                best, best_div = i, d
        _put_range([None] + list(outs), thresholds[best], best_div, gpu)
    return forward


register(Op(
    name="_contrib_calibrate_entropy",
    params={"num_quantized_bins": Param("int", 255, doc="number of quantized bins")},
    arguments=("hist", "hist_edges"), outputs=("threshold", "divergence"),
    infer_shape=_cal_shape, infer_type=_cal_types, forward=_cal_run(False),
    gpu_forward=_cal_run(True),
    hint="calibrate_entropy",
    doc="The threshold of a symmetric histogram (hist, hist_edges) whose clipping to "
        "num_quantized_bins bins has the smallest KL divergence, and that divergence. No "
        "gradient."))


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
        _range_shapes(op, in_shapes[n:], _gemm_args(p)[n:])
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
        _check_dtype(op, "data", in_types[0],
                     ("uint8",) if op == "quantized_conv" else ("int8", "uint8"))
        for arg, t in zip(("weight", "bias"), in_types[1:n]):
            _check_dtype(op, arg, t, ("int8",))
        for arg, t in zip(_gemm_args(p)[n:], in_types[n:]):
            _check_dtype(op, arg, t, ("float32",))
        return list(in_types), ["int32", "float32", "float32"]
    return infer_type


def _mult_range(d_min, d_max, w_min, w_max, signed):
    """MXNet's QuantizationRangeForMultiplication into int32: one quantized level of each
    side (int8 data: both /127; uint8 data: the weight's by /255, as MXNet's template reads)."""
    a = _div(_max_abs(d_min, d_max), 127)
    b = _div(_max_abs(w_min, w_max), 127 if signed else 255)
    hi = _F32(_F32(a * b) * _INT32_RANGE)
    return -hi, hi


def _gemm_run(float_op, op, gpu):
    def forward(p, ins, outs, is_train, state):
        n = 2 if p["no_bias"] else 3
        r = [_scalar(v) for v in ins[n:]]
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
                d_scale = _div(127.5 if signed else 255.5, _max_abs(r[0], r[1]))
                w_scale = _div(127.5, _max_abs(r[2], r[3]))
                resc = _div(_F32(_F32(d_scale * w_scale) * _max_abs(r[4], r[5])), 127.5)
                bias = np.array([_x86_int32(v) for v in (b * resc).astype(np.float32)],
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
        _put_range(outs, lo, hi, gpu)
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
    _range_shapes("quantized_rnn", in_shapes[n:], ("min_data", "max_data"))
    ins, outs = get_op("RNN").infer_shape(p, list(in_shapes[:n]))     # RNN's shape rule
    return list(ins) + [(1,), (1,)], outs


def _qrnn_types(p, in_types):
    if p["mode"] != "lstm":
        raise MXNetError(f"quantized_rnn: mode = '{p['mode']}'; Quantized RNN operator only "
                         "supports LSTM mode.")
    _check_dtype("quantized_rnn", "data", in_types[0], ("uint8",))
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
