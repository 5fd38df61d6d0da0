"""CUDA twin of ``kernels/cpu/proposal.py`` (RPN proposals); numpy twin in
``kernels/reference/proposal.py``. The host functions have the CPU signatures.

**Launch strategy.** One thread per (image, anchor position) transforms its box; one thread per
box ranks it among its image's boxes by score (stable order, as ``kernels/cuda/ordering.py``
ranks) and writes itself at its rank; one thread per image runs the greedy NMS, which is
sequential by nature, and writes the image's rows. The bodies repeat the CPU kernel's on
purpose, rounding to float32 where MXNet stores a C++ float.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

from .launch import grid_1d, check_device_arrays

__all__ = ["proposal_boxes", "proposal_select"]

PTX_SIGNATURES = {
    "_boxes_kernel": ["{t}[:, :, :, ::1], {t}[:, :, :, ::1], {t}[:, ::1], float32[:, ::1], "
                      "int64, int64, boolean, float32[:, :, ::1]"],
    "_rank_kernel": ["float32[:, :, ::1], int64[:, ::1]"],
    "_select_kernel": ["float32[:, :, ::1], int64[:, ::1], int64, int64, float64, "
                       "int8[:, ::1], int64[:, ::1], {t}[:, ::1], {t}[:, ::1]"],
}


@cuda.jit(device=True)
def _f(x):
    return float(float32(x))


@cuda.jit
def _boxes_kernel(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props):
    B, A, H, W = scores.shape
    for e in range(cuda.grid(1), B * H * W * A, cuda.gridsize(1)):
        b, idx = e // (H * W * A), e % (H * W * A)
        i, k, j = idx % A, (idx // A) % W, idx // (A * W)
        x1 = _f(anchors[i, 0] + k * stride)
        y1 = _f(anchors[i, 1] + j * stride)
        x2 = _f(anchors[i, 2] + k * stride)
        y2 = _f(anchors[i, 3] + j * stride)
        ih, iw = _f(im_info[b, 0]), _f(im_info[b, 1])
        d0, d1 = deltas[b, 4 * i, j, k], deltas[b, 4 * i + 1, j, k]
        d2, d3 = deltas[b, 4 * i + 2, j, k], deltas[b, 4 * i + 3, j, k]
        if iou_loss:
            p0, p1, p2, p3 = _f(x1 + d0), _f(y1 + d1), _f(x2 + d2), _f(y2 + d3)
        else:
            w = _f(x2 - x1 + 1.0)
            h = _f(y2 - y1 + 1.0)
            cx = _f(x1 + 0.5 * (w - 1.0))
            cy = _f(y1 + 0.5 * (h - 1.0))
            pcx, pcy = _f(d0 * w + cx), _f(d1 * h + cy)
            pw, ph = _f(_f(math.exp(d2)) * w), _f(_f(math.exp(d3)) * h)
            p0, p1 = _f(pcx - 0.5 * (pw - 1.0)), _f(pcy - 0.5 * (ph - 1.0))
            p2, p3 = _f(pcx + 0.5 * (pw - 1.0)), _f(pcy + 0.5 * (ph - 1.0))
        props[b, idx, 0] = max(min(p0, _f(iw - 1.0)), 0.0)
        props[b, idx, 1] = max(min(p1, _f(ih - 1.0)), 0.0)
        props[b, idx, 2] = max(min(p2, _f(iw - 1.0)), 0.0)
        props[b, idx, 3] = max(min(p3, _f(ih - 1.0)), 0.0)
        props[b, idx, 4] = scores[b, i, j, k]
        if j >= int(im_info[b, 0] / stride) or k >= int(im_info[b, 1] / stride):
            props[b, idx, 4] = -1.0
        m = _f(min_scale * im_info[b, 2])
        if _f(props[b, idx, 2] - props[b, idx, 0] + 1.0) < m or \
                _f(props[b, idx, 3] - props[b, idx, 1] + 1.0) < m:
            half = _f(m / 2)
            props[b, idx, 0] = _f(props[b, idx, 0] - half)
            props[b, idx, 1] = _f(props[b, idx, 1] - half)
            props[b, idx, 2] = _f(props[b, idx, 2] + half)
            props[b, idx, 3] = _f(props[b, idx, 3] + half)
            props[b, idx, 4] = -1.0


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
            area_a = _f(_f(a[2] - a[0] + 1) * _f(a[3] - a[1] + 1))
            for s in range(q + 1, pre_n):
                if gone[b, s]:
                    continue
                c = props[b, order[b, s]]
                area_c = _f(_f(c[2] - c[0] + 1) * _f(c[3] - c[1] + 1))
                w = max(0.0, _f(_f(min(a[2], c[2]) - max(a[0], c[0])) + 1.0))
                h = max(0.0, _f(_f(min(a[3], c[3]) - max(a[1], c[1])) + 1.0))
                inter = _f(w * h)
                if _f(inter / _f(_f(area_a + area_c) - inter)) > thresh:
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
