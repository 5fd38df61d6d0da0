"""What the four int8 family files share (``quantization.py``: quantize, quantize_v2,
quantize_asym, dequantize, requantize, calibrate_entropy; ``quantized_gemm.py``:
quantized_fully_connected, quantized_conv, quantized_rnn; ``quantized_ops.py``: quantized
flatten, act, concat, elemwise_add, elemwise_mul; ``quantized_nn.py``: quantized pooling,
embedding, batch_norm): float32 arithmetic done as MXNet's C++ does it, the checks of the
(1,)-shaped range inputs and of the integer dtypes, writing the range outputs on either device,
and MKL-DNN's requantization of uint8 data to int8. Not a family itself (it registers nothing).
"""
from __future__ import annotations

import numpy as np

from .common import flat_in, gpu_flat
from ..base import ShapeError, DTypeError
from ..kernels.cpu import quantization as KQ
from ..kernels.cpu import quantized_ops as KO

__all__ = ["F32", "LIMITS", "INT32_RANGE", "max_abs", "div", "scalar", "x86_int32",
           "dtype_name", "check_dtype", "int_data", "float_ranges", "range_shapes", "put",
           "put_range", "pass_range", "calibrated", "device_kernels", "to_int8"]

F32 = np.float32
# (saturation low, high) of the integer types; int32's high is the largest float32 below 2**31
LIMITS = {"int8": (-128.0, 127.0), "uint8": (0.0, 255.0),
          "int32": (-2147483648.0, 2147483520.0)}
INT32_RANGE = F32(2147483647)       # MinAbs(INT32_MIN, INT32_MAX) as a float: 2**31


# -- float32 arithmetic -----------------------------------------------------------------------
def max_abs(a, b):
    return F32(max(abs(F32(a)), abs(F32(b))))


def div(a, b):
    """float32 ``a / b`` as C++ computes it (a zero range gives inf, no warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return F32(F32(a) / F32(b))


def scalar(a):
    """The float32 value of a (1,)-shaped range input, on the host or the device."""
    host = a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)
    return F32(host.reshape(-1)[0])


def x86_int32(v):
    """C++ ``static_cast<int32_t>(float)`` on x86: out of range (and NaN) gives INT_MIN."""
    v = float(v)
    return int(v) if -2.0 ** 31 <= v < 2.0 ** 31 else -2 ** 31


# -- type and shape checks --------------------------------------------------------------------
def dtype_name(dtype):
    return np.dtype(dtype).name


def check_dtype(op, arg, got, allowed):
    """The quantize family's dtype check (MXNet's message ends '(Type inconsistent)')."""
    if got is not None and np.dtype(got).name not in allowed:
        raise DTypeError(f"{op}: input '{arg}' has dtype {np.dtype(got).name}; expected "
                         f"{' or '.join(allowed)} (Type inconsistent)")


def int_data(op, arg, t, allowed=("int8", "uint8")):
    """The quantized layers' check of their integer data."""
    if t is not None and dtype_name(t) not in allowed:
        raise DTypeError(f"{op}: input '{arg}' has dtype {dtype_name(t)}; expected "
                         f"{' or '.join(allowed)}")


def float_ranges(op, names, types):
    for arg, t in zip(names, types):
        if t is not None and dtype_name(t) != "float32":
            raise DTypeError(f"{op}: input '{arg}' has dtype {dtype_name(t)}; expected float32 "
                             "(Type inconsistent)")


def range_shapes(op, in_shapes, names):
    """Every range input must be shaped (1,)."""
    for name, s in zip(names, in_shapes):
        if s is not None and tuple(s) != (1,):
            raise ShapeError(f"{op}: input '{name}' has shape {tuple(s)}; expected (1,) "
                             "(Shape inconsistent)")


def calibrated(p):
    return p["min_calib_range"] is not None and p["max_calib_range"] is not None


# -- writing outputs ---------------------------------------------------------------------------
def put(out, value, gpu):
    if gpu:
        out.copy_to_device(np.asarray(value, out.dtype).reshape(out.shape))
    else:
        out[...] = value


def put_range(outs, lo, hi, gpu):
    """Write the two range outputs ``outs[1]``, ``outs[2]``."""
    put(outs[1], lo, gpu)
    put(outs[2], hi, gpu)


def pass_range(ranges, outs, gpu):
    """Copy the (min, max) range inputs to the range outputs."""
    for r, o in zip(ranges, outs[1:3]):
        put(o, scalar(r), gpu)


# -- the quantized layers' kernels ------------------------------------------------------------
def device_kernels(gpu):
    """(kernel module, flat view) of the device for the quantized layers: CUDA launchers on
    device arrays, or the Numba CPU kernels on numpy arrays. The CUDA module is imported only
    when used."""
    if gpu:
        from ..kernels.cuda import quantized_ops as C
        return C, gpu_flat
    return KO, flat_in


def to_int8(x, scale, gpu):
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
