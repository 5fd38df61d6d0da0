"""The roi family: pooling of regions and of adaptive bins — ``ROIPooling``,
``_contrib_ROIAlign`` and ``_contrib_AdaptiveAvgPooling2D``.

A region of interest is a row ``(batch_index, x1, y1, x2, y2)`` of the ``rois`` input, in
image coordinates; ``spatial_scale`` maps it onto the feature map (1/16 for a stride-16
backbone). ROIPooling (Fast R-CNN) rounds the region to pixels, cuts it into
``pooled_size`` bins and keeps each bin's maximum; ROIAlign (Mask R-CNN) does not round: it
averages bilinear samples inside each bin. AdaptiveAvgPooling2D cuts the whole image into
``output_size`` bins of (nearly) equal size and averages each.

Kernels: ``kernels/cpu/roi.py`` (numpy twins ``kernels/reference/roi.py``, CUDA twins
``kernels/cuda/roi.py``). Gradients flow to the data only; the regions get zero, as in
MXNet 1.9.1. Deliberate differences from MXNet: a region whose batch index is outside the
batch raises MXNetError (MXNet's ROIPooling aborts on an assertion and ROIAlign reads memory
it does not own); ROIAlign with a negative batch index gives an all-zero region (MXNet zeros
only its first element). See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, kernel_view
from ..base import MXNetError, ShapeError
from ..kernels.cpu import roi as K

__all__ = ["ROI_OPS"]

ROI_OPS = ("ROIPooling", "_contrib_ROIAlign", "_contrib_AdaptiveAvgPooling2D")


def _host(a):
    return a.copy_to_host() if hasattr(a, "copy_to_host") else np.asarray(a)


def _dtype(a):
    return np.float32 if a.dtype == np.float16 else a.dtype


def _data_in(a):
    return np.ascontiguousarray(a, dtype=_dtype(a))


def _gpu_zero(g):
    from ..kernels.cuda.elemwise import fill
    fill(g, 0)


def _check_batches(op, rois, n, allow_negative):
    b = np.trunc(_host(rois)[:, 0]).astype(np.int64)
    bad = (b >= n) | ((b < 0) & (not allow_negative))
    if bad.any():
        k = int(np.argmax(bad))
        raise MXNetError(f"{op}: region {k} has batch index {b[k]}; expected 0 <= index < {n}"
                         " (the batch size of 'data')")


def _roi_shape(op, out_channels):
    """Shape rule of the region poolings: data (N, C, H, W), rois (R, 5) -> (R, C', PH, PW)."""
    def infer(p, in_shapes):
        if len(p["pooled_size"]) != 2 or min(p["pooled_size"]) < 1:
            raise MXNetError(f"{op}: pooled_size = {p['pooled_size']}; expected two positive "
                             f"sizes (height, width)")
        d, r = in_shapes
        if d is not None and len(d) != 4:
            raise ShapeError(f"{op}: input 'data' has shape {tuple(d)}; expected (batch, "
                             f"channel, height, width)")
        if r is not None and (len(r) != 2 or r[1] != 5):
            raise ShapeError(f"{op}: input 'rois' has shape {tuple(r)}; expected (regions, 5)"
                             f" rows of (batch_index, x1, y1, x2, y2)")
        if d is None or r is None:
            return list(in_shapes), [None]
        return [tuple(d), tuple(r)], [(r[0], out_channels(p, d)) + tuple(p["pooled_size"])]
    return infer


def _zero_rois_grad(igrads, reqs, gpu=False):
    if grad_mode(reqs[1], igrads[1]) == 1:
        _gpu_zero(igrads[1]) if gpu else assign(igrads[1], reqs[1], 0)


# -- ROIPooling ------------------------------------------------------------------------------
def _pool_forward(p, ins, outs, is_train, state):
    data, rois = _data_in(ins[0]), _data_in(ins[1])
    _check_batches("ROIPooling", rois, data.shape[0], False)
    out, commit = kernel_view(outs[0], outs[0].shape)
    state["argmax"] = np.empty(out.shape, np.int64)
    K.roi_pool_forward(data, rois, p["spatial_scale"], out, state["argmax"])
    commit()


def _pool_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        dx, commit = kernel_view(igrads[0], igrads[0].shape)
        K.roi_pool_backward(np.ascontiguousarray(ograds[0], dtype=dx.dtype), state["argmax"],
                            mode == 2, dx)
        commit()
    _zero_rois_grad(igrads, reqs)


def _pool_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import roi as C
    _check_batches("ROIPooling", ins[1], ins[0].shape[0], False)
    if state.get("gpu_argmax") is None or state["gpu_argmax"].shape != outs[0].shape:
        state["gpu_argmax"] = cuda.device_array(outs[0].shape, np.int64)
    C.roi_pool_forward(ins[0], ins[1], p["spatial_scale"], outs[0], state["gpu_argmax"])


def _pool_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import roi as C
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        C.roi_pool_backward(ograds[0], state["gpu_argmax"], mode == 2, igrads[0])
    _zero_rois_grad(igrads, reqs, gpu=True)


register(Op(
    name="ROIPooling",
    params={"pooled_size": Param("shape", doc="(height, width) of each pooled region"),
            "spatial_scale": Param("float", doc="image to feature-map scale, e.g. 1/16")},
    arguments=["data", "rois"], infer_shape=_roi_shape("ROIPooling", lambda p, d: d[1]),
    forward=_pool_forward, backward=_pool_backward, gpu_forward=_pool_gpu_forward,
    gpu_backward=_pool_gpu_backward, backward_uses=(),
    doc="Fast R-CNN's region pooling: each region (batch_index, x1, y1, x2, y2) of `rois`, "
        "scaled by spatial_scale and rounded to pixels, is cut into pooled_size bins and each "
        "bin keeps its maximum (0 for an empty bin). Output (regions, C, PH, PW); the gradient "
        "goes to each maximum's pixel. See notebook 01."))


# -- ROIAlign --------------------------------------------------------------------------------
def _align_channels(p, d):
    if not p["position_sensitive"]:
        return d[1]
    bins = p["pooled_size"][0] * p["pooled_size"][1]
    if d[1] % bins:
        raise ShapeError(f"_contrib_ROIAlign: position_sensitive pooling needs the channels "
                         f"({d[1]}) to be a multiple of the bins per region ({bins})")
    return d[1] // bins


def _align_check(p, rois, n):
    _check_batches("_contrib_ROIAlign", rois, n, True)
    if p["aligned"]:
        r = _host(rois).astype(np.float64) * p["spatial_scale"]
        tiny = (r[:, 3] - r[:, 1] <= 0) | (r[:, 4] - r[:, 2] <= 0)
        if tiny.any():
            k = int(np.argmax(tiny))
            raise MXNetError(f"_contrib_ROIAlign: region {k} = {_host(rois)[k].tolist()} has "
                             f"no area; aligned=True needs x2 > x1 and y2 > y1")


def _align_args(p):
    return p["spatial_scale"], p["sample_ratio"], p["position_sensitive"], p["aligned"]


def _align_forward(p, ins, outs, is_train, state):
    data, rois = _data_in(ins[0]), _data_in(ins[1])
    _align_check(p, rois, data.shape[0])
    out, commit = kernel_view(outs[0], outs[0].shape)
    K.roi_align_forward(data, rois, *_align_args(p), out)
    commit()


def _align_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        dx, commit = kernel_view(igrads[0], igrads[0].shape)
        K.roi_align_backward(np.ascontiguousarray(ograds[0], dtype=dx.dtype),
                             _data_in(ins[1]), *_align_args(p), mode == 2, dx)
        commit()
    _zero_rois_grad(igrads, reqs)


def _align_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import roi as C
    _align_check(p, ins[1], ins[0].shape[0])
    C.roi_align_forward(ins[0], ins[1], *_align_args(p), outs[0])


def _align_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import roi as C
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        C.roi_align_backward(ograds[0], ins[1], *_align_args(p), mode == 2, igrads[0])
    _zero_rois_grad(igrads, reqs, gpu=True)


register(Op(
    name="_contrib_ROIAlign",
    params={"pooled_size": Param("shape", doc="(height, width) of each pooled region"),
            "spatial_scale": Param("float", doc="image to feature-map scale, e.g. 1/16"),
            "sample_ratio": Param("int", -1, doc="samples per bin side (<= 0: adaptive, "
                                                 "ceil(bin size))"),
            "position_sensitive": Param("bool", False, doc="bin (ph, pw) reads its own "
                                                           "channel group (R-FCN)"),
            "aligned": Param("bool", False, doc="shift by half a pixel (Detectron2)")},
    arguments=["data", "rois"],
    infer_shape=_roi_shape("_contrib_ROIAlign", _align_channels),
    forward=_align_forward, backward=_align_backward, gpu_forward=_align_gpu_forward,
    gpu_backward=_align_gpu_backward, backward_uses=("ins",),
    doc="Mask R-CNN's region pooling without rounding: each bin of each region averages "
        "bilinear samples on a regular sample_ratio x sample_ratio grid. Output (regions, C, "
        "PH, PW), or C / (PH * PW) channels when position_sensitive. See notebook 01."))


# -- AdaptiveAvgPooling2D --------------------------------------------------------------------
def _adaptive_size(p):
    size = tuple(p["output_size"])
    if len(size) == 1:
        return size * 2
    # MXNet 1.9.1: an empty output_size, or one of more than two values, means 1x1
    return size if len(size) == 2 else (1, 1)


def _adaptive_shape(p, in_shapes):
    d = in_shapes[0]
    if d is None:
        return list(in_shapes), [None]
    d = tuple(d)
    if len(d) != 4:
        raise ShapeError(f"_contrib_AdaptiveAvgPooling2D: input 'data' has shape {d}; "
                         f"expected (batch, channel, height, width)")
    oh, ow = _adaptive_size(p)
    if oh < 1 or ow < 1:
        raise MXNetError(f"_contrib_AdaptiveAvgPooling2D: output_size = {p['output_size']}; "
                         f"expected positive sizes")
    return [d], [(d[0], d[1], oh, ow)]


def _planes(a):
    n, c, h, w = a.shape
    return a.reshape(n * c, h, w)


def _adaptive_forward(p, ins, outs, is_train, state):
    out, commit = kernel_view(outs[0], outs[0].shape)
    K.adaptive_avg_forward(_planes(_data_in(ins[0])), _planes(out))
    commit()


def _adaptive_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        dx, commit = kernel_view(igrads[0], igrads[0].shape)
        K.adaptive_avg_backward(_planes(np.ascontiguousarray(ograds[0], dtype=dx.dtype)),
                                mode == 2, _planes(dx))
        commit()


def _adaptive_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import roi as C
    C.adaptive_avg_forward(_planes(ins[0]), _planes(outs[0]))


def _adaptive_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import roi as C
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        C.adaptive_avg_backward(_planes(ograds[0]), mode == 2, _planes(igrads[0]))


register(Op(
    name="_contrib_AdaptiveAvgPooling2D",
    params={"output_size": Param("shape", (), doc="(height, width), one size for both, or "
                                                  "empty for 1x1")},
    arguments=["data"], infer_shape=_adaptive_shape, forward=_adaptive_forward,
    backward=_adaptive_backward, gpu_forward=_adaptive_gpu_forward,
    gpu_backward=_adaptive_gpu_backward, backward_uses=(),
    doc="Average pooling to a fixed output size: output row i averages input rows "
        "[floor(i * H / OH), ceil((i + 1) * H / OH)), the columns likewise. See notebook 01."))
