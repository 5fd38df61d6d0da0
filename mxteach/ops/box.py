"""Bounding-box operators of ``mx.nd.contrib`` / ``mx.sym.contrib``: box_iou, box_nms (alias
box_non_maximum_suppression), bipartite_matching, box_encode, box_decode, the R-FCN region
pooling PSROIPooling (the Faster R-CNN region proposals are in ``ops/proposal.py``).

Boxes are the last axis of 4 numbers, *corner* ``(xmin, ymin, xmax, ymax)`` or *center*
``(x, y, width, height)``. Kernels: CPU ``kernels/cpu/box.py``, CUDA ``kernels/cuda/box.py``,
numpy twins ``kernels/reference/box.py``.

MXNet 1.9.1 behaviours reproduced here:

* box_nms keeps the kept boxes first, in descending score order (ties in input order), then
  rows of -1; its gradient sends each output row's gradient back to the input row it came from.
  With ``id_index >= 0``, boxes whose class equals ``background_id`` are dropped (also for the
  default -1). ``topk=0`` returns the input unchanged (no re-encoding). Re-encoding skips boxes
  whose first coordinate is negative;
* bipartite_matching with ``topk = k > 0`` makes up to ``k + 1`` matches (MXNet counts after it
  assigns);
* box_iou, bipartite_matching, box_encode and box_decode have a gradient in MXNet, and it is 0
  for every input (their backward writes zeros).
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import grad_mode, zero_grads, gpu_zero_grads, kernel_view
from ..base import ShapeError, MXNetError
from ..kernels.cpu import box as K

__all__ = ["BOX_OPS"]

BOX_OPS = ("box_iou", "box_nms", "box_non_maximum_suppression", "bipartite_matching",
           "box_encode", "box_decode", "PSROIPooling")
_FORMAT = ("center", "corner")


def _f32(value):
    """A float parameter as MXNet holds it (a C++ float), widened back to a Python float."""
    return float(np.float32(value))


def _c(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)


def _need(opname, arg, shape, ok, expected):
    if not ok:
        raise ShapeError(f"{opname}: input '{arg}' has shape {tuple(shape)}; expected {expected}")


# -- box_iou -----------------------------------------------------------------------------------
def _iou_shape(p, in_shapes):
    lhs, rhs = in_shapes
    for arg, s in (("lhs", lhs), ("rhs", rhs)):
        if s is not None:
            _need("box_iou", arg, s, len(s) >= 2 and s[-1] == 4, "at least 2 axes, the last 4")
    if lhs is None or rhs is None:
        return list(in_shapes), [None]
    return [tuple(lhs), tuple(rhs)], [tuple(lhs[:-1]) + tuple(rhs[:-1])]


def _iou_forward(p, ins, outs, is_train, state):
    lhs, rhs = ins
    out, commit = kernel_view(outs[0], (lhs.size // 4, rhs.size // 4))
    K.iou(_c(lhs, out.dtype).reshape(-1, 4), _c(rhs, out.dtype).reshape(-1, 4),
          p["format"] == "center", out)
    commit()


def _iou_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import box as C
    lhs, rhs = ins
    C.iou(lhs.reshape(lhs.size // 4, 4), rhs.reshape(rhs.size // 4, 4), p["format"] == "center",
          outs[0].reshape(lhs.size // 4, rhs.size // 4))


register(Op(
    name="_contrib_box_iou", params={"format": Param("str", "corner", choices=_FORMAT)},
    arguments=["lhs", "rhs"], infer_shape=_iou_shape, forward=_iou_forward,
    backward=zero_grads, gpu_forward=_iou_gpu_forward, gpu_backward=gpu_zero_grads,
    backward_uses=(),
    doc="Intersection over union of every box of `lhs` (..., 4) with every box of `rhs` "
        "(..., 4): the output has shape lhs.shape[:-1] + rhs.shape[:-1]; its gradient is 0 "
        "as in MXNet."))


# -- box_nms -----------------------------------------------------------------------------------
def _nms_check(p, shape):
    shape = tuple(shape)
    _need("box_nms", "data", shape, len(shape) >= 2, "at least 2 axes (..., num_box, box_width)")
    width = shape[-1]
    need = 6 if p["id_index"] > 0 else 5
    if width < need:
        raise ShapeError(f"box_nms: the last axis of 'data' {shape} has {width} elements; "
                         f"expected at least {need} (score and 4 coordinates"
                         f"{', class id' if need == 6 else ''})")
    c, s, i = p["coord_start"], p["score_index"], p["id_index"]
    if not 0 <= s < width:
        raise MXNetError(f"box_nms: score_index = {s} is out of range [0, {width})")
    if c <= s <= c + 3:
        raise MXNetError(f"box_nms: score_index = {s} overlaps the coordinates [{c}, {c + 3}]")
    if not (0 <= c and c + 3 < width):
        raise MXNetError(f"box_nms: coordinates [{c}, {c + 3}] are out of range [0, {width})")
    if i >= 0:
        if i >= width or c <= i <= c + 3 or i == s:
            raise MXNetError(f"box_nms: id_index = {i} is out of range [0, {width}) or "
                             f"overlaps the score ({s}) or coordinates [{c}, {c + 3}]")
    batch = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    return batch, shape[-2], width


def _nms_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    _nms_check(p, in_shapes[0])
    return [tuple(in_shapes[0])], [tuple(in_shapes[0])]


def _nms_args(p, data):
    """The kernel arguments after ``data3``: thresholds as the C++ floats MXNet keeps them,
    indices, and the re-encoding code."""
    conv = 0 if p["in_format"] == p["out_format"] else (1 if p["out_format"] == "center" else 2)
    return (_f32(p["overlap_thresh"]), _f32(p["valid_thresh"]), p["topk"],
            p["coord_start"], p["score_index"], p["id_index"],
            float(p["background_id"]), p["force_suppress"], p["in_format"] == "center", conv)


def _nms_forward(p, ins, outs, is_train, state):
    shape3 = _nms_check(p, ins[0].shape)
    out, commit = kernel_view(outs[0], shape3)
    record = np.empty(shape3[:2], np.int64)
    K.nms_forward(_c(ins[0], out.dtype).reshape(shape3), *_nms_args(p, ins[0]),
                  np.empty(shape3[:2], np.int64), out, record)
    commit()
    state["record"] = record


def _nms_backward(p, ograds, ins, outs, igrads, reqs, state):
    if not grad_mode(reqs[0], igrads[0]):
        return
    if "record" not in state:
        raise MXNetError("box_nms: backward needs a forward pass first")
    shape3 = _nms_check(p, igrads[0].shape)
    dx, commit = kernel_view(igrads[0], shape3)
    K.nms_backward(_c(ograds[0], dx.dtype).reshape(shape3), state["record"], reqs[0] == "add",
                   dx)
    commit()


def _nms_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import box as C
    shape3 = _nms_check(p, ins[0].shape)
    record = cuda.device_array(shape3[:2], np.int64)
    C.nms_forward(ins[0].reshape(shape3), *_nms_args(p, ins[0]),
                  cuda.device_array(shape3[:2], np.int64), outs[0].reshape(shape3), record)
    state["gpu_record"] = record


def _nms_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import box as C
    if grad_mode(reqs[0], igrads[0]):
        if "gpu_record" not in state:
            raise MXNetError("box_nms: backward needs a forward pass first")
        shape3 = _nms_check(p, igrads[0].shape)
        C.nms_backward(ograds[0].reshape(shape3), state["gpu_record"], reqs[0] == "add",
                       igrads[0].reshape(shape3))


register(Op(
    name="_contrib_box_nms", aliases=("_contrib_box_non_maximum_suppression",),
    params={"overlap_thresh": Param("float", 0.5), "valid_thresh": Param("float", 0.0),
            "topk": Param("int", -1), "coord_start": Param("int", 2),
            "score_index": Param("int", 1), "id_index": Param("int", -1),
            "background_id": Param("int", -1), "force_suppress": Param("bool", False),
            "in_format": Param("str", "corner", choices=_FORMAT),
            "out_format": Param("str", "corner", choices=_FORMAT)},
    arguments=["data"], infer_shape=_nms_shape, forward=_nms_forward, backward=_nms_backward,
    gpu_forward=_nms_gpu_forward, gpu_backward=_nms_gpu_backward, backward_uses=(),
    doc="Non-maximum suppression over the boxes (..., num_box, width): per batch, the boxes "
        "scoring above valid_thresh in descending score order (the first topk), each dropped "
        "when its IoU with a kept higher-scored box (same class unless force_suppress) exceeds "
        "overlap_thresh; kept rows first, then rows of -1."))


# -- bipartite_matching ------------------------------------------------------------------------
def _match_shape(p, in_shapes):
    s = in_shapes[0]
    if s is None:
        return list(in_shapes), [None, None]
    s = tuple(s)
    _need("bipartite_matching", "data", s, len(s) >= 2, "at least 2 axes (..., rows, cols)")
    return [s], [s[:-1], s[:-2] + (s[-1],)]


def _match_view(shape):
    shape = tuple(shape)
    return int(np.prod(shape[:-2], dtype=np.int64)), shape[-2], shape[-1]


def _match_forward(p, ins, outs, is_train, state):
    B, R, C = _match_view(ins[0].shape)
    rowm, c1 = kernel_view(outs[0], (B, R))
    colm, c2 = kernel_view(outs[1], (B, C))
    K.bipartite(_c(ins[0], rowm.dtype).reshape(B, R, C), _f32(p["threshold"]), p["is_ascend"],
                p["topk"], np.empty((B, R * C), np.int64), rowm, colm)
    c1()
    c2()


def _match_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import box as C
    B, R, Cn = _match_view(ins[0].shape)
    C.bipartite(ins[0].reshape(B, R, Cn), _f32(p["threshold"]), p["is_ascend"], p["topk"],
                cuda.device_array((B, R * Cn), np.int64), outs[0].reshape(B, R),
                outs[1].reshape(B, Cn))


register(Op(
    name="_contrib_bipartite_matching",
    params={"is_ascend": Param("bool", False), "threshold": Param("float"),
            "topk": Param("int", -1)},
    arguments=["data"], outputs=["output0", "output1"], infer_shape=_match_shape,
    forward=_match_forward, backward=zero_grads, gpu_forward=_match_gpu_forward,
    gpu_backward=gpu_zero_grads, backward_uses=(),
    doc="Greedy bipartite matching of a score matrix (..., rows, cols): pairs are taken best "
        "score first while both row and column are free and the score passes threshold. "
        "Outputs the column of each row and the row of each column (-1: unmatched)."))


# -- box_encode / box_decode -------------------------------------------------------------------
def _encode_shape(p, in_shapes):
    samples, matches, anchors, refs = in_shapes[:4]
    if samples is not None:
        _need("box_encode", "samples", samples, len(samples) == 2, "2 axes (B, N)")
    if matches is not None:
        _need("box_encode", "matches", matches, len(matches) >= 2, "2 axes (B, N)")
    for arg, s in (("anchors", anchors), ("refs", refs)):
        if s is not None:
            _need("box_encode", arg, s, len(s) >= 3 and s[-1] == 4, "3 axes (B, N, 4)")
    for arg, s in (("means", in_shapes[4]), ("stds", in_shapes[5])):
        if s is not None:
            _need("box_encode", arg, s, tuple(s) == (4,), "(4,)")
    if anchors is None:
        return list(in_shapes[:4]) + [(4,), (4,)], [None, None]
    return list(in_shapes[:4]) + [(4,), (4,)], [tuple(anchors)] * 2


def _encode_forward(p, ins, outs, is_train, state):
    samples, matches, anchors, refs, means, stds = ins
    B, N = samples.shape
    t, c1 = kernel_view(outs[0], (B, N, 4))
    m, c2 = kernel_view(outs[1], (B, N, 4))
    dt = t.dtype
    K.box_encode(_c(samples, dt), _c(matches, dt).reshape(B, N), _c(anchors, dt).reshape(B, N, 4),
                 _c(refs, dt).reshape(B, -1, 4), _c(means, dt), _c(stds, dt), t, m)
    c1()
    c2()


def _encode_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import box as C
    samples, matches, anchors, refs, means, stds = ins
    B, N = samples.shape
    C.box_encode(samples, matches.reshape(B, N), anchors.reshape(B, N, 4),
                 refs.reshape(B, refs.size // (4 * B), 4), means, stds,
                 outs[0].reshape(B, N, 4), outs[1].reshape(B, N, 4))


register(Op(
    name="_contrib_box_encode", params={},
    arguments=["samples", "matches", "anchors", "refs", "means", "stds"],
    outputs=["output0", "output1"], infer_shape=_encode_shape, forward=_encode_forward,
    backward=zero_grads, gpu_forward=_encode_gpu_forward, gpu_backward=gpu_zero_grads,
    backward_uses=(),
    doc="Regression targets of anchors (B, N, 4) towards their matched refs (B, M, 4), both "
        "corner: ((dx / w_a) - means) / stds and (log(w_r / w_a) - means) / stds for samples "
        "> 0.5 (0 elsewhere); the second output is the mask of those anchors."))


def _decode_shape(p, in_shapes):
    data, anchors = in_shapes
    if data is not None:
        _need("box_decode", "data", data, len(data) == 3 and data[-1] == 4, "(B, N, 4)")
    if anchors is not None:
        _need("box_decode", "anchors", anchors, len(anchors) >= 3 and anchors[-1] == 4,
              "(1, N, 4)")
    return list(in_shapes), [None if data is None else tuple(data)]


def _decode_stds(p):
    return np.array([p["std0"], p["std1"], p["std2"], p["std3"]], np.float32).astype(np.float64)


def _decode_forward(p, ins, outs, is_train, state):
    data, anchors = ins
    out, commit = kernel_view(outs[0], data.shape)
    n = data.shape[1]
    K.box_decode(_c(data, out.dtype), _c(anchors, out.dtype).reshape(-1, 4)[:n], _decode_stds(p),
                 _f32(p["clip"]), p["format"] == "corner", out)
    commit()


def _decode_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import box as C
    data, anchors = ins
    n = data.shape[1]
    C.box_decode(data, anchors.reshape(anchors.size // 4, 4)[:n],
                 cuda.to_device(_decode_stds(p)), _f32(p["clip"]), p["format"] == "corner",
                 outs[0])


register(Op(
    name="_contrib_box_decode",
    params={"std0": Param("float", 1.0), "std1": Param("float", 1.0),
            "std2": Param("float", 1.0), "std3": Param("float", 1.0),
            "clip": Param("float", -1.0), "format": Param("str", "center", choices=_FORMAT)},
    arguments=["data", "anchors"], infer_shape=_decode_shape, forward=_decode_forward,
    backward=zero_grads, gpu_forward=_decode_gpu_forward, gpu_backward=gpu_zero_grads,
    backward_uses=(),
    doc="Corner boxes from predicted offsets (B, N, 4) on anchors (1, N, 4) in `format`: "
        "center + d * std * size, size * exp(min(d * std, clip))."))


# -- PSROIPooling ------------------------------------------------------------------------------
def _psroi_group(p):
    return p["group_size"] or p["pooled_size"]      # 0: one group cell per output bin


def _psroi_shape(p, in_shapes):
    if not 0 <= p["spatial_scale"] <= 1:
        raise MXNetError(f"PSROIPooling: spatial_scale = {p['spatial_scale']} must lie in [0, 1]")
    data, rois = in_shapes
    g, k = _psroi_group(p), p["output_dim"]
    if data is not None:
        _need("PSROIPooling", "data", data, len(data) == 4 and data[1] >= k * g * g,
              f"4-D (batch, >= output_dim * group_size^2 = {k * g * g} channels, y, x)")
    if rois is not None:
        _need("PSROIPooling", "rois", rois, len(rois) == 2 and rois[1] == 5,
              "(num_rois, 5) rows [batch_index, x1, y1, x2, y2]")
    if rois is None:
        return list(in_shapes), [None]
    return list(in_shapes), [(rois[0], k, p["pooled_size"], p["pooled_size"])]


def _psroi_args(p, dtype):
    return float(np.float32(p["spatial_scale"])), _psroi_group(p), np.dtype(dtype) != np.float64


def _psroi_forward(p, ins, outs, is_train, state):
    data, rois = ins
    out, commit = kernel_view(outs[0], outs[0].shape)
    if rois.size and not (0 <= rois[:, 0].min() and rois[:, 0].max() < data.shape[0]):
        raise MXNetError(f"PSROIPooling: roi batch indices {rois[:, 0].tolist()} must lie in "
                         f"[0, {data.shape[0]})")
    K.psroi_forward(_c(data, out.dtype), _c(rois, out.dtype), *_psroi_args(p, out.dtype), out)
    commit()


def _psroi_backward(p, ograds, ins, outs, igrads, reqs, state):
    data, rois = ins
    if grad_mode(reqs[0], igrads[0]):
        dx, commit = kernel_view(igrads[0], data.shape)
        K.psroi_backward(_c(ograds[0], dx.dtype), _c(rois, dx.dtype), *_psroi_args(p, dx.dtype),
                         reqs[0] == "add", dx)
        commit()
    zero_grads(p, None, None, None, igrads[1:], reqs[1:], state)


def _psroi_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import box as C
    C.psroi_forward(ins[0], ins[1], *_psroi_args(p, ins[0].dtype), outs[0])


def _psroi_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import box as C
    if grad_mode(reqs[0], igrads[0]):
        C.psroi_backward(ograds[0], ins[1], *_psroi_args(p, ins[0].dtype), reqs[0] == "add",
                         igrads[0])
    gpu_zero_grads(p, None, None, None, igrads[1:], reqs[1:], state)


register(Op(
    name="_contrib_PSROIPooling",
    params={"spatial_scale": Param("float", doc="feature map size / image size"),
            "output_dim": Param("int", doc="output channels"),
            "pooled_size": Param("int", doc="bins per side"),
            "group_size": Param("int", 0, doc="position cells per side (0: pooled_size)")},
    arguments=["data", "rois"], infer_shape=_psroi_shape, forward=_psroi_forward,
    backward=_psroi_backward, gpu_forward=_psroi_gpu_forward, gpu_backward=_psroi_gpu_backward,
    backward_uses=("ins",),
    doc="Position-sensitive ROI pooling (R-FCN): bin (i, j) of output channel k of each roi "
        "averages, over the bin, the input channel that holds position cell (i, j) of k. "
        "Output (num_rois, output_dim, pooled_size, pooled_size); no gradient for rois."))
