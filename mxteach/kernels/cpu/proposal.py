"""Numba CPU kernel of the RPN region proposals (``Proposal`` / ``MultiProposal`` in
``ops/box.py``): anchors shifted over the feature map, moved by the predicted deltas, clipped
to the image, small ones marked, sorted by score, greedy NMS, the kept boxes padded by
repetition.

MXNet 1.9.1 computes all of it in float32 with a few double-precision constants (``0.5 * (w -
1.0)``); ``_f`` rounds every value stored in a C++ ``float`` so the numbers, and therefore the
order and the NMS decisions, are MXNet's. Pixel boxes use the ``+ 1`` width convention. The
numpy twin is ``kernels/reference/proposal.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["proposal_boxes", "proposal_select"]


@njit(cache=True, inline="always")
def _f(x):
    return np.float64(np.float32(x))


@njit(cache=True)
def _one_box(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props, e):
    """Row ``e`` (flat over images and boxes) of :func:`proposal_boxes`."""
    B, A, H, W = scores.shape
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
        p = (_f(x1 + d0), _f(y1 + d1), _f(x2 + d2), _f(y2 + d3))
    else:
        w = _f(x2 - x1 + 1.0)
        h = _f(y2 - y1 + 1.0)
        cx = _f(x1 + 0.5 * (w - 1.0))
        cy = _f(y1 + 0.5 * (h - 1.0))
        pcx, pcy = _f(d0 * w + cx), _f(d1 * h + cy)
        pw, ph = _f(_f(math.exp(d2)) * w), _f(_f(math.exp(d3)) * h)
        p = (_f(pcx - 0.5 * (pw - 1.0)), _f(pcy - 0.5 * (ph - 1.0)),
             _f(pcx + 0.5 * (pw - 1.0)), _f(pcy + 0.5 * (ph - 1.0)))
    lim = (iw - 1.0, ih - 1.0, iw - 1.0, ih - 1.0)
    for q in range(4):
        props[b, idx, q] = max(min(p[q], _f(lim[q])), 0.0)
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


@njit(cache=True, parallel=True)
def proposal_boxes(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props):
    """``props (B, H * W * A, 5)``: per image, position (j, k) and anchor i (index
    ``(j * W + k) * A + i``) the transformed, clipped box and its score; -1 as score for the
    padded area beyond ``im_info`` and for boxes smaller than ``min_scale * im_info[b, 2]``
    (which also grow by half that size on each side, as in MXNet)."""
    for e in prange(props.shape[0] * props.shape[1]):
        _one_box(scores, deltas, im_info, anchors, stride, min_scale, iou_loss, props, e)


@njit(cache=True, inline="always")
def _box_area(r):
    """Area of the pixel box ``r`` (``+ 1`` widths), rounded as MXNet's float."""
    return _f(_f(r[2] - r[0] + 1) * _f(r[3] - r[1] + 1))


@njit(cache=True)
def _pixel_iou(a, c, area_a, area_c):
    """IoU of the pixel boxes ``a`` and ``c`` of the given areas, in MXNet's float steps."""
    w = max(0.0, _f(_f(min(a[2], c[2]) - max(a[0], c[0])) + 1.0))
    h = max(0.0, _f(_f(min(a[3], c[3]) - max(a[1], c[1])) + 1.0))
    inter = _f(w * h)
    return _f(inter / _f(_f(area_a + area_c) - inter))


@njit(cache=True, parallel=True)
def proposal_select(props, pre_n, keep_n, thresh, out, out_score):
    """Per image: the ``pre_n`` best-scored boxes (stable order), greedy NMS (IoU > thresh
    suppresses, ``+ 1`` areas) keeping up to ``keep_n``, written as ``post_n = len(out) / B``
    rows (b, x1, y1, x2, y2) from ``b * post_n``; the kept boxes repeat cyclically to fill."""
    B, n, _ = props.shape
    post_n = out.shape[0] // B
    for b in prange(B):
        keys = np.empty(n)
        for q in range(n):
            keys[q] = -props[b, q, 4]
        order = np.argsort(keys, kind="mergesort")[:pre_n]
        area = np.empty(pre_n)
        for q in range(pre_n):
            area[q] = _box_area(props[b, order[q]])
        gone = np.zeros(pre_n, np.bool_)
        keep = np.empty(keep_n, np.int64)
        kept = 0
        for q in range(pre_n):
            if kept >= keep_n:
                break
            if gone[q]:
                continue
            keep[kept] = q
            kept += 1
            a = props[b, order[q]]
            for s in range(q + 1, pre_n):
                if gone[s]:
                    continue
                if _pixel_iou(a, props[b, order[s]], area[q], area[s]) > thresh:
                    gone[s] = True
        for q in range(post_n):
            r = props[b, order[keep[q % kept]]]
            out[b * post_n + q, 0] = b
            for c in range(4):
                out[b * post_n + q, c + 1] = r[c]
            out_score[b * post_n + q, 0] = r[4]
