"""CUDA twin of ``kernels/cpu/proposal.py`` (RPN proposals); numpy twin in
``kernels/reference/proposal.py``. The host functions have the CPU signatures.

**Launch strategy.** One thread per (image, anchor position) transforms its box; one thread per
box ranks it among its image's boxes by score (stable order, as ``kernels/cuda/ordering.py``
ranks) and writes itself at its rank; one thread per image runs the greedy NMS, which is
sequential by nature, and writes the image's rows. One box's transform and the IoU are the CPU
module's own functions compiled for the device (rounding to float32 where MXNet stores a C++
float); the ordering differs (ranks here, a stable argsort on the CPU).
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from ..cpu import proposal as _cpu
from .launch import grid_1d, check_device_arrays

__all__ = ["proposal_boxes", "proposal_select"]

PTX_SIGNATURES = {
    "_boxes_kernel": ["{t}[:, :, :, ::1], {t}[:, :, :, ::1], {t}[:, ::1], float32[:, ::1], "
                      "int64, int64, boolean, float32[:, :, ::1]"],
    "_rank_kernel": ["float32[:, :, ::1], int64[:, ::1]"],
    "_select_kernel": ["float32[:, :, ::1], int64[:, ::1], int64, int64, float64, "
                       "int8[:, ::1], int64[:, ::1], {t}[:, ::1], {t}[:, ::1]"],
}


# one box's transform and the pixel IoU are the CPU module's functions, compiled for the device
_one_box = cuda.jit(device=True)(_cpu._one_box.py_func)
_box_area = cuda.jit(device=True)(_cpu._box_area.py_func)
_pixel_iou = cuda.jit(device=True)(_cpu._pixel_iou.py_func)


@cuda.jit
def _boxes_kernel(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props):
    for e in range(cuda.grid(1), props.shape[0] * props.shape[1], cuda.gridsize(1)):
        _one_box(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props, e)


@cuda.jit
def _rank_kernel(props, order):
    B, n, _ = props.shape
    for e in range(cuda.grid(1), B * n, cuda.gridsize(1)):
        b, q = e // n, e % n
        v = props[b, q, 4]
        rank = 0
        for s in range(n):
            w = props[b, s, 4]
            if w > v or (w == v and s < q):
                rank += 1
        order[b, rank] = q


@cuda.jit
def _select_kernel(props, order, pre_n, keep_n, thresh, gone, keep, out, out_score):
    B = props.shape[0]
    post_n = out.shape[0] // B
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        for q in range(pre_n):
            gone[b, q] = 0
        kept = 0
        for q in range(pre_n):
            if kept >= keep_n:
                break
            if gone[b, q]:
                continue
            keep[b, kept] = q
            kept += 1
            a = props[b, order[b, q]]
            area_a = _box_area(a)
            for s in range(q + 1, pre_n):
                if gone[b, s]:
                    continue
                c = props[b, order[b, s]]
                if _pixel_iou(a, c, area_a, _box_area(c)) > thresh:
                    gone[b, s] = 1
        for q in range(post_n):
            src = order[b, keep[b, q % kept]]
            out[b * post_n + q, 0] = b
            for c in range(4):
                out[b * post_n + q, c + 1] = props[b, src, c]
            out_score[b * post_n + q, 0] = props[b, src, 4]


def proposal_boxes(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props):
    check_device_arrays("Proposal", scores=scores, deltas=deltas, im_info=im_info,
                        anchors=anchors, props=props)
    blocks, threads = grid_1d(props.shape[0] * props.shape[1])
    _boxes_kernel[blocks, threads](scores, deltas, im_info, anchors, int(stride),
                                   int(min_scale), bool(iou_loss), props)


def proposal_select(props, pre_n, keep_n, thresh, out, out_score):
    check_device_arrays("Proposal", props=props, out=out, out_score=out_score)
    B, n, _ = props.shape
    order = cuda.device_array((B, n), np.int64)
    blocks, threads = grid_1d(B * n)
    _rank_kernel[blocks, threads](props, order)
    blocks, threads = grid_1d(B)
    _select_kernel[blocks, threads](props, order, int(pre_n), int(keep_n), float(thresh),
                                    cuda.device_array((B, pre_n), np.int8),
                                    cuda.device_array((B, keep_n), np.int64), out, out_score)
