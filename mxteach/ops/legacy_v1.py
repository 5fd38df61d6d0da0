"""The legacy 2-D layers ``Convolution_v1`` and ``Pooling_v1`` that MXNet 1.9.1 still ships
for old model files.

``Convolution_v1`` computes exactly what ``Convolution`` computes on 4-D ``(N, C, H, W)`` data
(the same parameters; 1-D and 3-D kernels are refused, as MXNet's v1 does): it runs the
registered ``Convolution`` operator's own CPU and GPU functions (``ops/conv.py``), looked up in
the registry, so there is one convolution to read.

``Pooling_v1`` differs from ``Pooling`` in two ways MXNet 1.9.1 keeps:

* the padding is **zeros** for every pool type: a max window that covers padding returns at
  least 0 (``Pooling`` ignores the padding of max windows);
* ``avg`` always divides by the full window ``kh * kw`` (or ``H * W`` with ``global_pool``),
  also for the windows ``pooling_convention='full'`` lets run past the padded edge.

So it zero-pads the data (``kernels/cpu/legacy_v1.py`` and its CUDA twin), pools the padded copy
without padding with the max/sum kernels of ``kernels/{cpu,cuda}/conv.py`` (avg as a sum scaled
by ``1 / (kh * kw)``), and crops the padded gradient back. ``global_pool`` ignores ``pad``.
Ties in a max window: the gradient goes to the first maximum (row-major); MXNet's v1 gives it
to every element equal to the maximum (identical unless a window holds equal values).
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register, get, parse_params
from .common import grad_mode
from ..base import MXNetError, ShapeError
from ..kernels.cpu import conv as KC
from ..kernels.cpu import legacy_v1 as K

__all__ = ["LEGACY_V1_OPS"]

LEGACY_V1_OPS = ("Convolution_v1", "Pooling_v1")


# -- Convolution_v1 ---------------------------------------------------------------------------
_CONV_KEYS = ("kernel", "stride", "dilate", "pad", "num_filter", "num_group", "workspace",
              "no_bias", "cudnn_tune", "cudnn_off")


def _conv(p):
    """(the registered Convolution operator, its parsed parameters for this v1 node)."""
    op = get("Convolution")
    return op, parse_params(op, {k: p[k] for k in _CONV_KEYS}, "Convolution_v1")


def _conv_v1_check(p, data=None):
    nd = len(p["kernel"])
    if nd == 3:
        raise MXNetError("Convolution_v1: volume (3-D) convolution is not implemented in "
                         "MXNet 1.9.1's v1 operator; use Convolution")
    if nd != 2:
        raise MXNetError(f"Convolution_v1: kernel {p['kernel']} must have 2 entries (kh, kw); "
                         f"got {nd}D")
    if p["layout"] not in (None, "NCHW"):
        raise MXNetError(f"Convolution_v1: layout '{p['layout']}' is not supported; use NCHW")
    if data is not None and len(data) != 4:
        raise ShapeError(f"Convolution_v1: input 'data' has shape {tuple(data)}; it needs 4-D "
                         f"(batch, channel, y, x)")


def _conv_v1_shape(p, in_shapes):
    _conv_v1_check(p, in_shapes[0])
    op, cp = _conv(p)
    return op.infer_shape(cp, in_shapes)


# Convolution's own CPU and GPU functions, called with its parameters for this node
def _conv_v1_forward(p, ins, outs, is_train, state):
    op, cp = _conv(p)
    op.forward(cp, ins, outs, is_train, state)


def _conv_v1_backward(p, ograds, ins, outs, igrads, reqs, state):
    op, cp = _conv(p)
    op.backward(cp, ograds, ins, outs, igrads, reqs, state)


def _conv_v1_gpu_forward(p, ins, outs, is_train, state):
    op, cp = _conv(p)
    op.gpu_forward(cp, ins, outs, is_train, state)


def _conv_v1_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    op, cp = _conv(p)
    op.gpu_backward(cp, ograds, ins, outs, igrads, reqs, state)


register(Op(
    name="Convolution_v1",
    params={"kernel": Param("shape", doc="(kh, kw)"), "stride": Param("shape", ()),
            "dilate": Param("shape", ()), "pad": Param("shape", ()),
            "num_filter": Param("int", low=1), "num_group": Param("int", 1, low=1),
            "workspace": Param("int", 1024, low=0), "no_bias": Param("bool", False),
            "cudnn_tune": Param("str", None, optional=True,
                                choices=(None, "fastest", "limited_workspace", "off")),
            "cudnn_off": Param("bool", False),
            "layout": Param("str", None, optional=True,
                            choices=(None, "NCDHW", "NCHW", "NDHWC", "NHWC"))},
    arguments=lambda p: ["data", "weight"] + ([] if p["no_bias"] else ["bias"]),
    infer_shape=_conv_v1_shape, forward=_conv_v1_forward, backward=_conv_v1_backward,
    gpu_forward=_conv_v1_gpu_forward, gpu_backward=_conv_v1_gpu_backward,
    backward_uses=("ins",), hint="convolution_v1",
    doc="The legacy 2-D convolution: the same result as Convolution on (N, C, H, W) data."))


# -- Pooling_v1 -------------------------------------------------------------------------------
def _pool_v1_geometry(p, data):
    """(kh, kw, sh, sw, ph, pw) with global_pool resolved (it ignores pad, as MXNet)."""
    if len(data) != 4:
        raise ShapeError(f"Pooling_v1: input 'data' has shape {tuple(data)}; it needs 4-D "
                         f"(batch, channel, y, x)")
    if p["global_pool"]:
        return data[2], data[3], 1, 1, 0, 0
    if len(p["kernel"]) != 2:
        raise MXNetError(f"Pooling_v1: kernel {p['kernel']} must be (ky, kx) (3-D pooling is "
                         f"not implemented in the v1 operator), or set global_pool=True")
    stride = p["stride"] or (1, 1)
    pad = p["pad"] or (0, 0)
    if len(stride) != 2 or len(pad) != 2:
        raise MXNetError(f"Pooling_v1: stride {p['stride']} and pad {p['pad']} must have 2 "
                         f"entries like kernel {p['kernel']}")
    return (*p["kernel"], *stride, *pad)


def _pool_v1_shape(p, in_shapes):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    kh, kw, sh, sw, ph, pw = _pool_v1_geometry(p, data)
    spatial = []
    for x, k, s, pd in ((data[2], kh, sh, ph), (data[3], kw, sw, pw)):
        if k > x + 2 * pd:
            raise ShapeError(f"Pooling_v1: kernel size {k} exceeds input size {x} padded by "
                             f"{pd} (data {tuple(data)})")
        steps = (x + 2 * pd - k) / s
        spatial.append(1 + (math.ceil(steps) if p["pooling_convention"] == "full"
                            else int(steps)))
    return [tuple(data)], [tuple(data[:2]) + tuple(spatial)]


def _pool_v1_plan(p, shape):
    """Geometry, padded shape, the pooling kernels' mode and the output factor."""
    kh, kw, sh, sw, ph, pw = _pool_v1_geometry(p, shape)
    n, c, h, w = shape
    mode = KC.POOL_CODES["max" if p["pool_type"] == "max" else "sum"]
    factor = 1.0 / (kh * kw) if p["pool_type"] == "avg" else 1.0
    return (kh, kw, sh, sw, ph, pw), (n, c, h + 2 * ph, w + 2 * pw), mode, factor


def _pool_v1_forward(p, ins, outs, is_train, state):
    x = ins[0]
    (kh, kw, sh, sw, ph, pw), padded, mode, factor = _pool_v1_plan(p, x.shape)
    dt = np.float32 if x.dtype == np.float16 else x.dtype
    xp = np.empty(padded, dt)
    K.pad2d(np.ascontiguousarray(x, dtype=dt), ph, pw, xp)
    y = np.empty(outs[0].shape, dt)
    KC.pool_forward(xp, y, kh, kw, sh, sw, 0, 0, mode, True, 1, np.finfo(dt).min)
    K.scale(y.reshape(-1), factor)
    outs[0][...] = y


def _pool_v1_backward(p, ograds, ins, outs, igrads, reqs, state):
    if not grad_mode(reqs[0], igrads[0]):
        return
    x = ins[0]
    (kh, kw, sh, sw, ph, pw), padded, mode, factor = _pool_v1_plan(p, x.shape)
    dt = np.float32 if x.dtype == np.float16 else x.dtype
    xp = np.empty(padded, dt)
    K.pad2d(np.ascontiguousarray(x, dtype=dt), ph, pw, xp)
    y = np.ascontiguousarray(outs[0], dtype=dt)
    gp = np.zeros(padded, dt)
    KC.pool_backward(xp, y, np.ascontiguousarray(ograds[0], dtype=dt), gp, kh, kw, sh, sw, 0,
                     0, mode, True, 1, False)
    dx = igrads[0] if igrads[0].dtype == dt and igrads[0].flags.c_contiguous else \
        np.ascontiguousarray(igrads[0], dtype=dt)
    K.crop2d(gp, ph, pw, factor, reqs[0] == "add", dx)
    if dx is not igrads[0]:
        igrads[0][...] = dx


def _pool_v1_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import conv as CC
    from ..kernels.cuda import legacy_v1 as C
    x = ins[0]
    (kh, kw, sh, sw, ph, pw), padded, mode, factor = _pool_v1_plan(p, tuple(x.shape))
    xp = cuda.device_array(padded, x.dtype)
    C.pad2d(x, ph, pw, xp)
    argmax = cuda.device_array(tuple(outs[0].shape), np.int32)
    CC.pool_forward(xp, outs[0], argmax, kh, kw, sh, sw, 0, 0, mode, True, 1,
                    np.finfo(x.dtype).min)
    if factor != 1.0:
        C.scale(outs[0].reshape(outs[0].size), factor)
    state.update(gpu_padded=xp, gpu_argmax=argmax)


def _pool_v1_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from numba import cuda
    from ..kernels.cuda import conv as CC
    from ..kernels.cuda import legacy_v1 as C
    if not grad_mode(reqs[0], igrads[0]):
        return
    if "gpu_padded" not in state:
        raise MXNetError("Pooling_v1: backward needs a forward pass first")
    x = ins[0]
    (kh, kw, sh, sw, ph, pw), padded, mode, factor = _pool_v1_plan(p, tuple(x.shape))
    gp = cuda.device_array(padded, x.dtype)
    CC.pool_backward(state["gpu_padded"], outs[0], ograds[0], state["gpu_argmax"], gp, kh, kw,
                     sh, sw, 0, 0, mode, True, 1, False)
    C.crop2d(gp, ph, pw, factor, reqs[0] == "add", igrads[0])


register(Op(
    name="Pooling_v1",
    params={"kernel": Param("shape", ()),
            "pool_type": Param("str", "max", choices=("avg", "max", "sum")),
            "global_pool": Param("bool", False),
            "pooling_convention": Param("str", "valid", choices=("full", "valid"),
                                        doc="'valid' floors the output size, 'full' ceils it"),
            "stride": Param("shape", ()), "pad": Param("shape", ())},
    arguments=["data"], infer_shape=_pool_v1_shape, forward=_pool_v1_forward,
    backward=_pool_v1_backward, gpu_forward=_pool_v1_gpu_forward,
    gpu_backward=_pool_v1_gpu_backward, hint="pooling_v1",
    doc="The legacy 2-D pooling: zero padding for every pool type, and avg divides by the "
        "whole window kh * kw."))
