"""int8 quantization: quantize, quantize_v2, quantize_asym, dequantize, requantize and
calibrate_entropy (``mx.nd.contrib.*``, registered as ``_contrib_<name>``); the quantized GEMM
layers quantized_fully_connected, quantized_conv and quantized_rnn are in
``quantized_gemm.py``, the float32 helpers all int8 families share in ``quant_common.py``.

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

from .registry import Op, Param, register
from .common import flat_in, gpu_flat
from .quant_common import (F32, LIMITS, INT32_RANGE, max_abs, div, scalar, x86_int32,
                           check_dtype, range_shapes, put_range)
from ..base import MXNetError, ShapeError, DTypeError
from ..kernels.cpu import quantization as K

__all__ = ["QUANT_OPS"]

QUANT_OPS = ("_contrib_quantize", "_contrib_quantize_v2", "_contrib_quantize_asym",
             "_contrib_dequantize", "_contrib_requantize", "_contrib_calibrate_entropy")


def _quantize_shape(op, n_ranges):
    def infer_shape(p, in_shapes):
        range_shapes(op, in_shapes[1:], ("min_range", "max_range"))
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
    lo, hi = LIMITS[out_type]
    if gpu:
        from ..kernels.cuda import quantization as C
        C.scale_round(gpu_flat(ins0), scale, lo, hi, gpu_flat(out))
    else:
        buf = out.reshape(-1)
        K.scale_round(flat_in(ins0), scale, lo, hi, buf)


# -- quantize ---------------------------------------------------------------------------------
def _quantize_types(p, in_types):
    check_dtype("quantize", "data", in_types[0], ("float32",))
    for arg, t in zip(("min_range", "max_range"), in_types[1:]):
        check_dtype("quantize", arg, t, ("float32",))
    return ["float32"] * 3, [p["out_type"], "float32", "float32"]


def _quantize_run(gpu):
    def forward(p, ins, outs, is_train, state):
        lo, hi = scalar(ins[1]), scalar(ins[2])
        real = max_abs(lo, hi)
        if p["out_type"] == "uint8":
            scale = div(255, real)
            put_range(outs, lo, hi, gpu)
        else:
            scale = div(127, real)
            put_range(outs, -real, real, gpu)
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
        return F32(p["min_calib_range"]), F32(p["max_calib_range"])
    return None


def _v2_types(p, in_types):
    check_dtype("quantize_v2", "data", in_types[0], ("float32", "int8", "uint8"))
    return list(in_types), [_out_type(p), "float32", "float32"]


def _v2_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        calib = _calib(p)
        if np.dtype(x.dtype).name in ("int8", "uint8"):
            # already quantized: the bytes are copied, the range is the calibrated one or the
            # full range of the input type
            if calib is None:
                calib = (F32(0), F32(255.5)) if x.dtype == np.uint8 else (F32(-127.5),
                                                                              F32(127.5))
            put_range(outs, calib[0], calib[1], gpu)
            if gpu:
                outs[0].copy_to_device(x.copy_to_host().view(outs[0].dtype))
            else:
                outs[0][...] = x.view(outs[0].dtype)
            return
        if calib is None:
            if gpu:
                from ..kernels.cuda import quantization as C
                lo, hi = (F32(v) for v in C.min_max(gpu_flat(x)))
            else:
                lo, hi = F32(x.min()), F32(x.max())
        else:
            lo, hi = calib
        real = max_abs(lo, hi)
        out_type = _out_type(p)
        if out_type == "uint8":
            put_range(outs, lo, hi, gpu)
            scale = div(255.5, real)
        else:
            put_range(outs, -real, real, gpu)
            scale = div(127.5, real)
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
    range_shapes("dequantize", in_shapes[1:], ("min_range", "max_range"))
    data = None if in_shapes[0] is None else tuple(in_shapes[0])
    return [data, (1,), (1,)], [data]


def _deq_types(p, in_types):
    if in_types[0] is not None and np.dtype(in_types[0]).name not in ("int8", "uint8"):
        raise DTypeError(f"dequantize: input 'data' has dtype {np.dtype(in_types[0]).name}; the "
                         "input data type of dequantize op must be provided, either uint8 or "
                         "int8")
    for arg, t in zip(("min_range", "max_range"), in_types[1:]):
        check_dtype("dequantize", arg, t, ("float32",))
    return [in_types[0], "float32", "float32"], ["float32"]


def _deq_run(gpu):
    def forward(p, ins, outs, is_train, state):
        real = max_abs(scalar(ins[1]), scalar(ins[2]))
        factor = div(real, 255.5 if ins[0].dtype == np.uint8 else 127.5)
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
    check_dtype("requantize", "data", in_types[0], ("int32",))
    for arg, t in zip(("min_range", "max_range"), in_types[1:]):
        check_dtype("requantize", arg, t, ("float32",))
    return ["int32", "float32", "float32"], [_out_type(p), "float32", "float32"]


def _req_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        min_r, max_r = scalar(ins[1]), scalar(ins[2])
        calib = _calib(p)
        if calib is not None:
            real = max_abs(*calib)
        else:
            if gpu:
                from ..kernels.cuda import quantization as C
                lo, hi = C.min_max(gpu_flat(x))
            else:
                lo, hi = int(x.min()), int(x.max())
            data_range = x86_int32(max_abs(lo, hi))
            real = div(F32(F32(data_range) * max_abs(min_r, max_r)), INT32_RANGE)
        first = div(max_abs(min_r, max_r), INT32_RANGE)
        out_type = _out_type(p)
        if out_type == "int8":
            second = div(127, real)
            put_range(outs, -real, real, gpu)
        else:
            second = div(255, real)
            put_range(outs, 0.0, real, gpu)
        _run_scale_round(x, F32(first * second), out_type, outs[0], gpu)
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
    check_dtype("quantize_asym", "data", in_types[0], ("float32", "int8", "uint8"))
    return list(in_types), ["uint8", "float32", "float32"]


def _asym_run(gpu):
    def forward(p, ins, outs, is_train, state):
        x = ins[0]
        name = np.dtype(x.dtype).name
        if name == "uint8":
            scale, shift = F32(1), F32(0)
        elif name == "int8":
            scale, shift = F32(1), F32(128)
        else:
            calib = _calib(p)
            if calib is None:
                if gpu:
                    from ..kernels.cuda import quantization as C
                    calib = tuple(F32(v) for v in C.min_max(gpu_flat(x)))
                else:
                    calib = (F32(x.min()), F32(x.max()))
            lo, hi = calib
            scale = div(255, F32(hi - lo))
            shift = F32(F32(255) - F32(hi * scale))
        put_range(outs, scale, shift, gpu)
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
        check_dtype("calibrate_entropy", arg, t, ("float32",))
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
        best, best_div = 0, F32(np.finfo(np.float32).max)
        for i, d in enumerate(divergence):       # the first strict minimum, as MXNet scans
            if d < best_div:
                best, best_div = i, d
        put_range([None] + list(outs), thresholds[best], best_div, gpu)
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
