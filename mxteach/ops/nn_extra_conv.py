"""Deconvolution (the transposed convolution) and UpSampling, 1-D (N, C, W) and 2-D (N, C, H, W).

A deconvolution is the *data gradient of a convolution* run forwards: the convolution that maps
the deconvolution's output ``Y`` (F channels) to its input ``X`` (C channels) with the same
weight ``(C, F / group, kh, kw)``, stride, pad and dilation. So the forward is one GEMM per
group ``col = W.T @ X`` followed by col2im into ``Y``, and the backward is im2col of ``dY``
followed by the GEMMs ``dX = W @ col`` and ``dW = X @ col.T``: the kernels of
``kernels/cpu/conv.py`` / ``kernels/cuda/conv.py`` (and the tiled GEMM of
``kernels/cuda/nn.py``) with the roles of input and output swapped.

Output size per axis: ``stride * (in - 1) + dilate * (kernel - 1) + 1 - 2 * pad + adj``. With
``target_shape`` MXNet derives pad and adj instead: ``total = stride * (in - 1) + dilated kernel
- target``, ``pad = (total + 1) // 2``, ``adj = total % 2``. MXNet's ``no_bias`` defaults to
True here, unlike Convolution.

UpSampling ``nearest`` repeats each pixel ``scale x scale`` times (any number of inputs, each
scaled to the first's size times ``scale``, then concatenated along channels or summed; kernels
``kernels/cpu/nn_extra_conv.py``, ``kernels/cuda/nn_extra_conv.py``, numpy twins in
``kernels/reference/nn_extra_conv.py``). ``bilinear`` is, as in MXNet, a depthwise
Deconvolution with a learnable ``weight`` of shape ``(num_filter, 1, k, k)``,
``k = 2 * scale - scale % 2``, stride ``scale``, pad ``ceil((scale - 1) / 2)``: initialise it
with ``mx.init.Bilinear()`` to get bilinear interpolation.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, inplace_view
from ..base import MXNetError, ShapeError
from ..kernels.cpu import conv as KCONV
from ..kernels.cpu import nn_extra_conv as K

__all__ = ["deconv_geometry"]

_LAYOUTS = (None, "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC")


def _full(op, p, key, nd, default):
    v = tuple(p.get(key) or ()) or (default,) * nd
    if len(v) != nd:
        raise MXNetError(f"{op}: {key} = {v} must have as many entries as kernel {p['kernel']}")
    return v


def deconv_geometry(p, data, op="Deconvolution"):
    """Check ``data`` against the parameters. Returns (geo, out_spatial): ``geo`` is the 2-D
    ``(kh, kw, sh, sw, ph, pw, dh, dw, W)`` the conv kernels take (1-D as H = 1)."""
    kernel = tuple(p["kernel"])
    nd = len(kernel)
    if nd not in (1, 2):
        raise MXNetError(f"{op}: kernel {kernel} has {nd} dimensions; mxteach supports 1-D and "
                         f"2-D deconvolution (kernel=(k,) or (kh, kw))")
    if p["layout"] not in (None, ("NCW", "NCHW")[nd - 1]):
        raise MXNetError(f"{op}: layout '{p['layout']}' is not supported; use "
                         f"{('NCW', 'NCHW')[nd - 1]} and transpose the data")
    if len(data) != nd + 2:
        raise ShapeError(f"{op}: input data has shape {tuple(data)}, expected {nd + 2}-D "
                         f"(batch, channel, {'x' if nd == 1 else 'y, x'}) for kernel {kernel}")
    stride, dilate = _full(op, p, "stride", nd, 1), _full(op, p, "dilate", nd, 1)
    pad, adj = _full(op, p, "pad", nd, 0), _full(op, p, "adj", nd, 0)
    if min(stride) < 1 or min(dilate) < 1:
        raise MXNetError(f"{op}: stride {stride} and dilate {dilate} must be positive")
    target = tuple(p.get("target_shape") or ())
    if target and any(target):
        if len(target) != nd:
            raise MXNetError(f"{op}: target_shape {target} must have {nd} entries")
        pad, adj = [], []
        for x, k, s, d, t in zip(data[2:], kernel, stride, dilate, target):
            total = s * (x - 1) + d * (k - 1) + 1 - t
            if total < 0:
                raise ShapeError(f"{op}: target_shape {target} is larger than the largest "
                                 f"output this kernel/stride reach from data {tuple(data)}")
            pad.append((total + 1) // 2)
            adj.append(total % 2)
    spatial = []
    for x, k, s, d, pd, a in zip(data[2:], kernel, stride, dilate, pad, adj):
        if a >= s:
            raise MXNetError(f"{op}: adj {tuple(adj)} must be smaller than stride {stride}")
        size = s * (x - 1) + d * (k - 1) + 1 - 2 * pd + a
        if size < 1:
            raise ShapeError(f"{op}: pad {tuple(pad)} leaves no output for data {tuple(data)}")
        spatial.append(size)
    two = (lambda v, fill: (fill,) + tuple(v) if nd == 1 else tuple(v))
    (kh, kw), (sh, sw), (dh, dw), (ph, pw) = (two(kernel, 1), two(stride, 1), two(dilate, 1),
                                              two(pad, 0))
    return (kh, kw, sh, sw, ph, pw, dh, dw, int(data[-1])), tuple(spatial)


# -- Deconvolution ----------------------------------------------------------------------------
def _deconv_args(p):
    return ["data", "weight"] + ([] if p["no_bias"] else ["bias"])


def _deconv_shape(p, in_shapes):
    f, g = p["num_filter"], p["num_group"]
    bias = [] if p["no_bias"] else [(f,)]
    data = in_shapes[0]
    if data is None:
        return list(in_shapes[:2]) + bias, [None]
    data = tuple(data)
    _, spatial = deconv_geometry(p, data)
    if data[1] % g or f % g:
        raise ShapeError(f"Deconvolution: data has {data[1]} channels and num_filter = {f}; "
                         f"both must be divisible by num_group = {g}")
    want = [data, (data[1], f // g) + tuple(p["kernel"])] + bias
    for name, got, exp in zip(_deconv_args(p), in_shapes, want):
        if got is not None and tuple(got) != exp:
            raise ShapeError(f"Deconvolution: input '{name}' has shape {tuple(got)}, expected "
                             f"{exp}")
    return want, [(data[0], f) + spatial]


def _dims(p, x_shape):
    """(geo, n, c, h*w, (n, f, oh, ow), columns per group, channels per group)."""
    geo, spatial = deconv_geometry(p, x_shape)
    n, c = x_shape[:2]
    hw = int(np.prod(x_shape[2:], dtype=np.int64))
    oh, ow = (1,) + spatial if len(spatial) == 1 else spatial
    f, g = p["num_filter"], p["num_group"]
    return geo, n, c, hw, (n, f, oh, ow), (f // g) * geo[0] * geo[1], c // g


def _buffer(state, key, shape, dtype):
    buf = state.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = state[key] = np.empty(shape, dtype)
    return buf


def _rows_of(x, n, c, hw):
    """The data as (C, N*HW): the GEMMs' operand."""
    return np.ascontiguousarray(x.reshape(n, c, hw).transpose(1, 0, 2)).reshape(c, n * hw)


def _deconv_forward(p, ins, outs, is_train, state):
    x, wgt = ins[0], ins[1]
    geo, n, c, hw, out4, kg, cg = _dims(p, x.shape)
    xt = _rows_of(x, n, c, hw)
    w2 = np.ascontiguousarray(wgt).reshape(c, kg)
    col = _buffer(state, "col", (kg * p["num_group"], n, hw), x.dtype)
    cols = col.reshape(col.shape[0], n * hw)
    for i in range(p["num_group"]):      # col = W.T @ X per group
        np.matmul(w2[i * cg:(i + 1) * cg].T, xt[i * cg:(i + 1) * cg],
                  out=cols[i * kg:(i + 1) * kg])
    y = inplace_view(outs[0], out4, "Deconvolution")
    KCONV.col2im(col, y, *geo, False)
    if not p["no_bias"]:
        y += ins[2].reshape(1, -1, 1, 1)


def _deconv_backward(p, ograds, ins, outs, igrads, reqs, state):
    x, wgt = ins[0], ins[1]
    geo, n, c, hw, out4, kg, cg = _dims(p, x.shape)
    dy = np.ascontiguousarray(ograds[0], dtype=x.dtype).reshape(out4)
    col = _buffer(state, "col", (kg * p["num_group"], n, hw), x.dtype)
    KCONV.im2col(dy, col, *geo)
    cols = col.reshape(col.shape[0], n * hw)
    if not p["no_bias"]:
        assign(igrads[2], reqs[2], dy.sum(axis=(0, 2, 3)))
    w2 = np.ascontiguousarray(wgt).reshape(c, kg)
    if grad_mode(reqs[1], igrads[1]):
        xt = _rows_of(x, n, c, hw)
        dw = np.empty((c, kg), x.dtype)
        for i in range(p["num_group"]):       # dW = X @ col.T per group
            np.matmul(xt[i * cg:(i + 1) * cg], cols[i * kg:(i + 1) * kg].T,
                      out=dw[i * cg:(i + 1) * cg])
        assign(igrads[1], reqs[1], dw.reshape(wgt.shape))
    if grad_mode(reqs[0], igrads[0]):
        dxt = np.empty((c, n * hw), x.dtype)
        for i in range(p["num_group"]):       # dX = W @ col per group (a convolution of dY)
            np.matmul(w2[i * cg:(i + 1) * cg], cols[i * kg:(i + 1) * kg],
                      out=dxt[i * cg:(i + 1) * cg])
        assign(igrads[0], reqs[0], dxt.reshape(c, n, hw).transpose(1, 0, 2).reshape(x.shape))


def _gpu_buffer(state, key, shape, dtype):
    from numba import cuda
    buf = state.get(key)
    if buf is None or tuple(buf.shape) != shape or buf.dtype != dtype:
        buf = state[key] = cuda.device_array(shape, dtype)
    return buf


def _gpu_rows_of(x, n, c, hw, state):
    from ..kernels.cuda import conv as KC
    xt = _gpu_buffer(state, "gpu_xt", (c, n, hw), x.dtype)
    KC.conv_grad_rows(x.reshape(n, c, hw), xt)       # (N, C, L) -> (C, N, L)
    return xt.reshape(c, n * hw)


def _deconv_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import conv as KC, nn, elemwise
    x, wgt = ins[0], ins[1]
    geo, n, c, hw, out4, kg, cg = _dims(p, tuple(x.shape))
    xt = _gpu_rows_of(x, n, c, hw, state)
    w2 = wgt.reshape(c, kg)
    col = _gpu_buffer(state, "gpu_col", (kg * p["num_group"], n, hw), x.dtype)
    cols = col.reshape(col.shape[0], n * hw)
    for i in range(p["num_group"]):
        nn.matmul(w2[i * cg:(i + 1) * cg], xt[i * cg:(i + 1) * cg],
                  cols[i * kg:(i + 1) * kg], True, False, False)
    y = outs[0].reshape(*out4)
    KC.col2im(col, y, *geo, False)
    if not p["no_bias"]:
        y3 = outs[0].reshape(out4[0], out4[1], out4[2] * out4[3])
        elemwise.map_forward("add", y3, ins[2].reshape(1, out4[1], 1), y3)


def _deconv_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import conv as KC, nn, nn_norm, elemwise
    x, wgt = ins[0], ins[1]
    geo, n, c, hw, out4, kg, cg = _dims(p, tuple(x.shape))
    col = _gpu_buffer(state, "gpu_col", (kg * p["num_group"], n, hw), x.dtype)
    KC.im2col(ograds[0].reshape(*out4), col, *geo)
    cols = col.reshape(col.shape[0], n * hw)
    if not p["no_bias"] and grad_mode(reqs[2], igrads[2]):
        nn_norm.channel_reduce(ograds[0].reshape(out4[0], out4[1], out4[2] * out4[3]),
                               igrads[2], accumulate=reqs[2] == "add")
    w2 = wgt.reshape(c, kg)
    if grad_mode(reqs[1], igrads[1]):
        xt = _gpu_rows_of(x, n, c, hw, state)
        dw = igrads[1].reshape(c, kg)
        for i in range(p["num_group"]):
            nn.matmul(xt[i * cg:(i + 1) * cg], cols[i * kg:(i + 1) * kg],
                      dw[i * cg:(i + 1) * cg], False, True, reqs[1] == "add")
    if grad_mode(reqs[0], igrads[0]):
        dxt = _gpu_buffer(state, "gpu_dxt", (c, n * hw), x.dtype)
        for i in range(p["num_group"]):
            nn.matmul(w2[i * cg:(i + 1) * cg], cols[i * kg:(i + 1) * kg],
                      dxt[i * cg:(i + 1) * cg], False, False, False)
        rows = _gpu_buffer(state, "gpu_dx", (n, c, hw), x.dtype)    # (C, N, L) -> (N, C, L)
        KC.conv_grad_rows(dxt.reshape(c, n, hw), rows)
        elemwise.copy(rows, igrads[0], reqs[0] == "add")


register(Op(
    name="Deconvolution",
    params={"kernel": Param("shape", doc="(k,) or (kh, kw)"), "stride": Param("shape", ()),
            "dilate": Param("shape", ()), "pad": Param("shape", ()), "adj": Param("shape", ()),
            "target_shape": Param("shape", (), doc="output size; sets pad and adj"),
            "num_filter": Param("int", low=1), "num_group": Param("int", 1, low=1),
            "workspace": Param("int", 512, doc="accepted; the column buffer is not split"),
            "no_bias": Param("bool", True),
            "cudnn_tune": Param("str", None, optional=True,
                                choices=(None, "fastest", "limited_workspace", "off")),
            "cudnn_off": Param("bool", False),
            "layout": Param("str", None, optional=True, choices=_LAYOUTS)},
    arguments=_deconv_args, infer_shape=_deconv_shape, forward=_deconv_forward,
    backward=_deconv_backward, gpu_forward=_deconv_gpu_forward,
    gpu_backward=_deconv_gpu_backward, backward_uses=("ins",),
    doc="1-D/2-D transposed convolution: the data gradient of the Convolution with the same "
        "weight, run forwards (GEMM per group, then col2im). See notebook 14."))


# -- UpSampling -------------------------------------------------------------------------------
def _bilinear_params(p):
    """The Deconvolution MXNet runs for sample_type='bilinear'."""
    s = p["scale"]
    k = 2 * s - s % 2
    pad = int(math.ceil((s - 1) / 2.0))
    return {"kernel": (k, k), "stride": (s, s), "pad": (pad, pad), "dilate": (), "adj": (),
            "target_shape": (), "num_filter": p["num_filter"], "num_group": p["num_filter"],
            "no_bias": True, "layout": None}


def _up_args(p):
    if p["sample_type"] == "bilinear":
        return ["data", "weight"]
    return [f"arg{i}" for i in range(p["num_args"])]


def _up_check(p, in_shapes):
    if p["sample_type"] == "bilinear" and p["num_filter"] < 1:
        raise MXNetError(f"UpSampling: sample_type='bilinear' needs num_filter >= 1 (the "
                         f"channels of data), got {p['num_filter']}")
    if p["sample_type"] == "nearest" and len(in_shapes) != p["num_args"]:
        raise ShapeError(f"UpSampling: num_args = {p['num_args']} but {len(in_shapes)} inputs")


def _nearest_plan(p, shapes):
    """Per input (scale, first output channel), and the output shape."""
    first = tuple(shapes[0])
    oh, ow = first[2] * p["scale"], first[3] * p["scale"]
    plan, c0 = [], 0
    for i, s in enumerate(shapes):
        s = tuple(s)
        if len(s) != 4:
            raise ShapeError(f"UpSampling: input {i} has shape {s}; it needs 4-D (batch, "
                             f"channel, y, x)")
        if s[0] != first[0] or oh % s[2] or ow % s[3] or oh // s[2] != ow // s[3]:
            raise ShapeError(f"UpSampling: input {i} has shape {s}; it cannot be scaled by a "
                             f"whole factor to the output size ({oh}, {ow}) set by input 0 "
                             f"{first} and scale {p['scale']}")
        if p["multi_input_mode"] == "sum" and s[1] != first[1]:
            raise ShapeError(f"UpSampling: multi_input_mode='sum' needs equal channels; input "
                             f"{i} has {s[1]}, input 0 has {first[1]}")
        plan.append((oh // s[2], c0))
        if p["multi_input_mode"] == "concat":
            c0 += s[1]
    channels = c0 if p["multi_input_mode"] == "concat" else first[1]
    return plan, (first[0], channels, oh, ow)


def _up_shape(p, in_shapes):
    _up_check(p, in_shapes)
    if p["sample_type"] == "bilinear":
        q = _bilinear_params(p)
        shapes, outs = _deconv_shape(q, list(in_shapes) + [None] * (2 - len(in_shapes)))
        return shapes[:2], outs
    if any(s is None for s in in_shapes):
        return list(in_shapes), [None]
    return [tuple(s) for s in in_shapes], [_nearest_plan(p, in_shapes)[1]]


def _up_forward(p, ins, outs, is_train, state):
    if p["sample_type"] == "bilinear":
        return _deconv_forward(_bilinear_params(p), ins, outs, is_train, state)
    plan, _ = _nearest_plan(p, [a.shape for a in ins])
    out = inplace_view(outs[0], outs[0].shape, "UpSampling")
    for k, (x, (scale, c0)) in enumerate(zip(ins, plan)):
        add = p["multi_input_mode"] == "sum" and k > 0
        K.upsample_forward(np.ascontiguousarray(x, dtype=out.dtype), scale, c0, add, out)


def _up_backward(p, ograds, ins, outs, igrads, reqs, state):
    if p["sample_type"] == "bilinear":
        return _deconv_backward(_bilinear_params(p), ograds, ins, outs, igrads, reqs, state)
    plan, _ = _nearest_plan(p, [a.shape for a in ins])
    dy = np.ascontiguousarray(ograds[0])
    for g, r, (scale, c0) in zip(igrads, reqs, plan):
        if grad_mode(r, g):
            K.upsample_backward(dy.astype(g.dtype, copy=False), scale, c0, r == "add",
                                inplace_view(g, g.shape, "UpSampling"))


def _up_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import nn_extra_conv as C
    if p["sample_type"] == "bilinear":
        return _deconv_gpu_forward(_bilinear_params(p), ins, outs, is_train, state)
    plan, _ = _nearest_plan(p, [tuple(a.shape) for a in ins])
    for k, (x, (scale, c0)) in enumerate(zip(ins, plan)):
        C.upsample_forward(x, scale, c0, p["multi_input_mode"] == "sum" and k > 0, outs[0])


def _up_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_extra_conv as C
    if p["sample_type"] == "bilinear":
        return _deconv_gpu_backward(_bilinear_params(p), ograds, ins, outs, igrads, reqs, state)
    plan, _ = _nearest_plan(p, [tuple(a.shape) for a in ins])
    for g, r, (scale, c0) in zip(igrads, reqs, plan):
        if grad_mode(r, g):
            C.upsample_backward(ograds[0], scale, c0, r == "add", g)


register(Op(
    name="UpSampling",
    params={"scale": Param("int", low=1, doc="the upsampling factor"),
            "num_filter": Param("int", 0, doc="bilinear: the channels of data"),
            "sample_type": Param("str", choices=("bilinear", "nearest")),
            "multi_input_mode": Param("str", "concat", choices=("concat", "sum"),
                                      doc="nearest with several inputs: join or add them"),
            "num_args": Param("int", 1, low=1, doc="nearest: the number of inputs"),
            "workspace": Param("int", 512, doc="accepted; no effect")},
    arguments=_up_args, num_args_param="num_args", infer_shape=_up_shape,
    forward=_up_forward, backward=_up_backward, gpu_forward=_up_gpu_forward,
    gpu_backward=_up_gpu_backward, backward_uses=("ins",),
    doc="Upsample (N, C, H, W) data by an integer scale: 'nearest' repeats pixels, "
        "'bilinear' is a depthwise Deconvolution with a learnable weight (initialise it with "
        "mx.init.Bilinear()). See notebook 14."))
