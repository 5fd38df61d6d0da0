"""Numba CPU kernels of the bounding-box operators (``ops/box.py``): box_iou, box_nms and its
backward, bipartite_matching, box_encode and box_decode.

Boxes are 4 numbers, in one of two encodings: *corner* ``(xmin, ymin, xmax, ymax)`` or
*center* ``(x, y, width, height)`` (the ``center`` flag). The overlap along one axis is clamped
at 0, and a box with a negative width or height has area 0, as in MXNet 1.9.1.

box_nms and bipartite_matching visit candidates in score order. The order is a **stable** sort
(ties keep their input order), which MXNet's CPU sort also guarantees; ``order`` is an int64
scratch array of the caller (the CUDA twins sort into it, here numpy's mergesort is used).
Every kernel has a numpy twin of the same name and signature in ``kernels/reference/box.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .roi import round_half_away as _round

__all__ = ["iou", "nms_forward", "nms_backward", "bipartite", "box_encode", "box_decode",
           "psroi_forward", "psroi_backward"]


@njit(cache=True, inline="always")
def _span(a0, a2, center):
    """(low, high) of one axis: ``a0``/``a2`` are (min, max) or (center, size)."""
    if center:
        return a0 - a2 / 2, a0 + a2 / 2
    return a0, a2


@njit(cache=True, inline="always")
def _area(x0, y0, x1, y1, center):
    """Area of one box (0 if its width or height is negative)."""
    w = x1 if center else x1 - x0
    h = y1 if center else y1 - y0
    if w < 0 or h < 0:
        return 0.0
    return w * h


@njit(cache=True, error_model="numpy")
def _overlap(a0, a1, a2, a3, b0, b1, b2, b3, center):
    """(intersection, union) of boxes ``a`` and ``b``, passed as numbers: the helpers shared
    with the CUDA twin hand each other scalars only, since the simulator runs the outer one
    as Python, which cannot pass its arrays into a compiled function."""
    al, ar = _span(a0, a2, center)
    bl, br = _span(b0, b2, center)
    w = min(ar, br) - max(al, bl)
    at, ab = _span(a1, a3, center)
    bt, bb = _span(b1, b3, center)
    h = min(ab, bb) - max(at, bt)
    inter = max(w, 0.0) * max(h, 0.0)
    return inter, _area(a0, a1, a2, a3, center) + _area(b0, b1, b2, b3, center) - inter


@njit(cache=True, inline="always")
def _ratio(inter, union):
    """``inter / union`` with IEEE results for a zero union, spelt out so that the CUDA twin,
    which compiles this function too, gives numpy's nan/inf as well."""
    if union == 0:
        return math.nan if inter == 0 else math.inf
    return inter / union


@njit(cache=True)
def _iou_at(lhs, l, rhs, r, center):
    """IoU of ``lhs[l]`` and ``rhs[r]`` (0 if disjoint)."""
    inter, union = _overlap(lhs[l, 0], lhs[l, 1], lhs[l, 2], lhs[l, 3],
                            rhs[r, 0], rhs[r, 1], rhs[r, 2], rhs[r, 3], center)
    return 0.0 if inter <= 0 else _ratio(inter, union)


@njit(cache=True, parallel=True, error_model="numpy")
def iou(lhs, rhs, center, out):
    """``out[l, r]`` = intersection over union of ``lhs[l]`` and ``rhs[r]`` (0 if disjoint)."""
    L, R = out.shape
    for i in prange(L * R):
        out[i // R, i % R] = _iou_at(lhs, i // R, rhs, i % R, center)


@njit(cache=True, error_model="numpy")
def _convert(a, b, w, h, conv):
    """The box ``(a, b, w, h)`` re-encoded (1: corner -> center, 2: center -> corner); MXNet
    leaves a box whose first coordinate is negative unchanged (it takes it for padding)."""
    if conv == 0 or a < 0:
        return a, b, w, h
    if conv == 1:
        return (a + w) / 2, (b + h) / 2, w - a, h - b
    return a - w / 2, b - h / 2, a + w / 2, b + h / 2


@njit(cache=True, inline="always")
def _candidate(data3, b, i, valid_thr, score, id_index, background):
    """Row i of batch b takes part in NMS: its score passes and it is not background."""
    return data3[b, i, score] > valid_thr and (id_index < 0 or data3[b, i, id_index] != background)


@njit(cache=True)
def _suppress(data3, b, order, k, overlap, coord, id_index, force, center):
    """The greedy walk over the first ``k`` entries of ``order[b]`` (input rows, best first):
    a kept row marks -1 every later row (of its class unless ``force``) it overlaps too much."""
    for r in range(k):
        ir = order[b, r]
        if ir < 0:
            continue
        for q in range(r + 1, k):
            iq = order[b, q]
            if iq < 0:
                continue
            if not force and id_index >= 0 and \
                    int(data3[b, ir, id_index]) != int(data3[b, iq, id_index]):
                continue
            inter, union = _overlap(data3[b, ir, coord], data3[b, ir, coord + 1],
                                    data3[b, ir, coord + 2], data3[b, ir, coord + 3],
                                    data3[b, iq, coord], data3[b, iq, coord + 1],
                                    data3[b, iq, coord + 2], data3[b, iq, coord + 3], center)
            if _ratio(inter, union) > overlap:
                order[b, q] = -1


@njit(cache=True)
def _write_kept(data3, b, order, k, coord, conv, out3, record):
    """The surviving rows of ``order[b, :k]`` first (re-encoded by ``conv``), -1 rows after."""
    N, W = data3.shape[1], data3.shape[2]
    for i in range(N):
        record[b, i] = -1
        for w in range(W):
            out3[b, i, w] = -1
    cnt = 0
    for j in range(k):
        src = order[b, j]
        if src >= 0:
            for w in range(W):
                out3[b, cnt, w] = data3[b, src, w]
            record[b, cnt] = src
            c = coord
            out3[b, cnt, c], out3[b, cnt, c + 1], out3[b, cnt, c + 2], out3[b, cnt, c + 3] = \
                _convert(out3[b, cnt, c], out3[b, cnt, c + 1], out3[b, cnt, c + 2],
                         out3[b, cnt, c + 3], conv)
            cnt += 1


@njit(cache=True)
def _copy_batch(data3, b, out3, record):
    """``topk == 0``: batch b passes through unchanged."""
    for i in range(data3.shape[1]):
        for w in range(data3.shape[2]):
            out3[b, i, w] = data3[b, i, w]
        record[b, i] = i


@njit(cache=True, parallel=True, error_model="numpy")
def nms_forward(data3, overlap, valid_thr, topk, coord, score, id_index, background, force,
                center, conv, order, out3, record):
    """Per batch ``b``: keep the candidates (score > valid_thr, class != background when
    id_index >= 0) in descending score order, the first ``topk`` of them (all if < 0), drop
    every box whose IoU with a kept higher-scored box (of the same class unless ``force``)
    exceeds ``overlap``; write the kept rows first and -1 rows after. ``record[b, k]`` is the
    input row of output row k (-1: none). ``topk == 0`` copies the input unchanged."""
    B, N, W = data3.shape
    for b in prange(B):
        if topk == 0:
            _copy_batch(data3, b, out3, record)
            continue
        n = 0
        keys = np.empty(N, np.float64)
        cand = np.empty(N, np.int64)
        for i in range(N):
            if _candidate(data3, b, i, valid_thr, score, id_index, background):
                keys[n] = -data3[b, i, score]
                cand[n] = i
                n += 1
        perm = np.argsort(keys[:n], kind="mergesort")
        k = n if topk < 0 else min(n, topk)
        for j in range(k):
            order[b, j] = cand[perm[j]]
        _suppress(data3, b, order, k, overlap, coord, id_index, force, center)
        _write_kept(data3, b, order, k, coord, conv, out3, record)


@njit(cache=True)
def _nms_grad_batch(dy3, record, accumulate, dx3, b):
    """The gradient of output row k goes to input row ``record[b, k]``; other rows get 0."""
    N, W = dy3.shape[1], dy3.shape[2]
    if not accumulate:
        for i in range(N):
            for w in range(W):
                dx3[b, i, w] = 0
    for k in range(N):
        i = record[b, k]
        if i >= 0:
            for w in range(W):
                dx3[b, i, w] += dy3[b, k, w]


@njit(cache=True, parallel=True, error_model="numpy")
def nms_backward(dy3, record, accumulate, dx3):
    """The gradient of output row k goes to input row ``record[b, k]``; other rows get 0."""
    for b in prange(dy3.shape[0]):
        _nms_grad_batch(dy3, record, accumulate, dx3, b)


@njit(cache=True)
def _greedy_match(scores3, b, visit, threshold, is_ascend, topk, rowm, colm):
    """Batch b's greedy matching, visiting the flat (row, col) indices in ``visit`` order."""
    R, C = scores3.shape[1], scores3.shape[2]
    for r in range(R):
        rowm[b, r] = -1
    for c in range(C):
        colm[b, c] = -1
    count = 0
    for j in range(R * C):
        e = visit[j]
        r, c = e // C, e % C
        if rowm[b, r] != -1 or colm[b, c] != -1:
            continue
        s = scores3[b, r, c]
        good = s < threshold if is_ascend else s > threshold
        if not good:
            break
        rowm[b, r] = c
        colm[b, c] = r
        count += 1
        if topk > 0 and count > topk:
            break


@njit(cache=True, parallel=True, error_model="numpy")
def bipartite(scores3, threshold, is_ascend, topk, order, rowm, colm):
    """Greedy matching per batch: visit (row, col) pairs best score first, match a pair whose
    row and col are both free; the first free pair failing ``threshold`` ends the batch. As in
    MXNet 1.9.1, ``topk > 0`` stops after the (topk + 1)-th match."""
    B, R, C = scores3.shape
    for b in prange(B):
        flat = scores3[b].reshape(R * C)
        keys = np.empty(R * C, np.float64)
        for j in range(R * C):
            keys[j] = flat[j] if is_ascend else -flat[j]
        _greedy_match(scores3, b, np.argsort(keys, kind="mergesort"), threshold, is_ascend,
                      topk, rowm, colm)


@njit(cache=True, inline="always")
def _center_of(x0, y0, x1, y1):
    """(center x, center y, width, height) of a corner box."""
    w = x1 - x0
    h = y1 - y0
    return x0 + w * 0.5, y0 + h * 0.5, w, h


@njit(cache=True, error_model="numpy")
def _encode_one(samples, matches, anchors, refs, means, stds, targets, masks, i):
    """Anchor ``i`` (flat over batch and anchors) of :func:`box_encode`. math.log here is
    numpy's log bit for bit (numba lowers both to the same call)."""
    N = samples.shape[1]
    b, n = i // N, i % N
    valid = samples[b, n] > 0.5
    for k in range(4):
        masks[b, n, k] = 1.0 if valid else 0.0
        targets[b, n, k] = 0.0
    if valid:
        r, a = refs[b, int(matches[b, n])], anchors[b, n]
        rx, ry, rw, rh = _center_of(r[0], r[1], r[2], r[3])
        ax, ay, aw, ah = _center_of(a[0], a[1], a[2], a[3])
        targets[b, n, 0] = ((rx - ax) / aw - means[0]) / stds[0]
        targets[b, n, 1] = ((ry - ay) / ah - means[1]) / stds[1]
        targets[b, n, 2] = (math.log(rw / aw) - means[2]) / stds[2]
        targets[b, n, 3] = (math.log(rh / ah) - means[3]) / stds[3]


@njit(cache=True, parallel=True, error_model="numpy")
def box_encode(samples, matches, anchors, refs, means, stds, targets, masks):
    """Regression targets of anchors ``(B, N, 4)`` towards their matched refs ``(B, M, 4)``
    (both corner): ``((dx / w_a) - mean) / std``, ``(log(w_r / w_a) - mean) / std`` ...; only
    where ``samples > 0.5``, elsewhere 0 (``masks`` is 1 there, 0 elsewhere)."""
    for i in prange(samples.size):
        _encode_one(samples, matches, anchors, refs, means, stds, targets, masks, i)


@njit(cache=True, error_model="numpy")
def _decode_one(data, anchors, stds, clip, corner, out, i):
    """Box ``i`` (flat over batch and anchors) of :func:`box_decode`."""
    N = data.shape[1]
    b, n = i // N, i % N
    a = anchors[n]
    if corner:
        ax, ay, aw, ah = _center_of(a[0], a[1], a[2], a[3])
    else:
        ax, ay, aw, ah = a[0], a[1], a[2], a[3]
    ox = data[b, n, 0] * stds[0] * aw + ax
    oy = data[b, n, 1] * stds[1] * ah + ay
    dw = data[b, n, 2] * stds[2]
    dh = data[b, n, 3] * stds[3]
    if clip > 0:
        dw = min(dw, clip)
        dh = min(dh, clip)
    ow = math.exp(dw) * aw * 0.5
    oh = math.exp(dh) * ah * 0.5
    out[b, n, 0] = ox - ow
    out[b, n, 1] = oy - oh
    out[b, n, 2] = ox + ow
    out[b, n, 3] = oy + oh


@njit(cache=True, parallel=True, error_model="numpy")
def box_decode(data, anchors, stds, clip, corner, out):
    """Corner boxes from offsets ``data (B, N, 4)`` on anchors ``(N, 4)``: the center moves by
    ``d * std * size``, the size scales by ``exp(min(d * std, clip))`` (no clip if clip <= 0)."""
    for i in prange(data.shape[0] * data.shape[1]):
        _decode_one(data, anchors, stds, clip, corner, out, i)


@njit(cache=True, inline="always")
def _r(x, f32):
    """``x`` rounded to float32 when the data is float32: each step then gives MXNet's float32
    result exactly, so the bins' integer limits (floor/ceil) agree with MXNet's."""
    return np.float64(np.float32(x)) if f32 else x


@njit(cache=True)
def _psroi_bin(rx1, ry1, rx2, ry2, ph, pw, pooled, group, scale, height, width, f32):
    """(hstart, hend, wstart, wend, group row, group col) of output bin (ph, pw) of the roi
    with corners (rx1, ry1, rx2, ry2)."""
    x1 = _r(_r(_round(rx1), f32) * scale, f32)
    y1 = _r(_r(_round(ry1), f32) * scale, f32)
    x2 = _r(_r(_round(rx2) + 1.0, f32) * scale, f32)
    y2 = _r(_r(_round(ry2) + 1.0, f32) * scale, f32)
    low = _r(0.1, f32)
    bin_h = _r(max(_r(y2 - y1, f32), low) / pooled, f32)
    bin_w = _r(max(_r(x2 - x1, f32), low) / pooled, f32)
    hs = min(max(int(math.floor(_r(_r(ph * bin_h, f32) + y1, f32))), 0), height)
    he = min(max(int(math.ceil(_r(_r((ph + 1) * bin_h, f32) + y1, f32))), 0), height)
    ws = min(max(int(math.floor(_r(_r(pw * bin_w, f32) + x1, f32))), 0), width)
    we = min(max(int(math.ceil(_r(_r((pw + 1) * bin_w, f32) + x1, f32))), 0), width)
    gh = min(max(int(math.floor(_r(ph * group, f32) / pooled)), 0), group - 1)
    gw = min(max(int(math.floor(_r(pw * group, f32) / pooled)), 0), group - 1)
    return hs, he, ws, we, gh, gw


@njit(cache=True)
def _psroi_bin_mean(data, rois, scale, group, f32, out, e):
    """Output element ``e`` (flat) of :func:`psroi_forward`."""
    R, D, P, _ = out.shape
    H, W = data.shape[2], data.shape[3]
    n, k, ph, pw = e // (D * P * P), (e // (P * P)) % D, (e // P) % P, e % P
    hs, he, ws, we, gh, gw = _psroi_bin(rois[n, 1], rois[n, 2], rois[n, 3], rois[n, 4], ph, pw,
                                        P, group, scale, H, W, f32)
    b, c = int(rois[n, 0]), (k * group + gh) * group + gw
    s = 0.0
    for h in range(hs, he):
        for w in range(ws, we):
            s += data[b, c, h, w]
    out[n, k, ph, pw] = 0.0 if he <= hs or we <= ws else s / ((he - hs) * (we - ws))


@njit(cache=True, parallel=True)
def psroi_forward(data, rois, scale, group, f32, out):
    """Position-sensitive ROI average pooling: bin (ph, pw) of output channel k of roi n
    averages channel ``(k * group + gh) * group + gw`` of its image over the bin (0 if
    empty), (gh, gw) being the bin's cell in a group x group grid."""
    for e in prange(out.size):
        _psroi_bin_mean(data, rois, scale, group, f32, out, e)


@njit(cache=True)
def psroi_backward(dy, rois, scale, group, f32, accumulate, dx):
    """Each output bin's gradient spread evenly over the input cells it averaged."""
    R, D, P, _ = dy.shape
    H, W = dx.shape[2], dx.shape[3]
    if not accumulate:
        dx[...] = 0
    for e in range(R * D * P * P):
        n, k, ph, pw = e // (D * P * P), (e // (P * P)) % D, (e // P) % P, e % P
        hs, he, ws, we, gh, gw = _psroi_bin(rois[n, 1], rois[n, 2], rois[n, 3], rois[n, 4], ph, pw,
                                        P, group, scale, H, W, f32)
        if he <= hs or we <= ws:
            continue
        b, c = int(rois[n, 0]), (k * group + gh) * group + gw
        g = dy[n, k, ph, pw] / ((he - hs) * (we - ws))
        for h in range(hs, he):
            for w in range(ws, we):
                dx[b, c, h, w] += g
