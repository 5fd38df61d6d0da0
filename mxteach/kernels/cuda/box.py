"""CUDA twins of ``kernels/cpu/box.py`` (box_iou, box_nms, bipartite_matching, box_encode,
box_decode); numpy twins in ``kernels/reference/box.py``.

**Launch strategy.** IoU, encode and decode are one thread per output box (or pair). The two
greedy operators are sequential *within* a batch (whether a box survives depends on the boxes
kept before it), so they run in two steps: (1) one thread per candidate counts the candidates
that come before it in the stable score order (as ``kernels/cuda/ordering.py`` ranks) and
writes itself into ``order`` at that rank; (2) one thread per batch walks ``order`` greedily.
The batch is the unit of parallelism, as in MXNet's own kernels. PSROIPooling's forward is one
thread per output bin; its backward one thread per input plane (image, channel), which gathers
the bins that averaged it, so no two threads add into the same cell. The kernel bodies repeat
the CPU kernels' on purpose: the two read side by side.
"""
from __future__ import annotations

import math

from numba import cuda, float32

from .launch import grid_1d, check_device_arrays

__all__ = ["iou", "nms_forward", "nms_backward", "bipartite", "box_encode", "box_decode",
           "psroi_forward", "psroi_backward"]

_A3 = "{t}[:, :, ::1]"
PTX_SIGNATURES = {
    "_iou_kernel": ["{t}[:, ::1], {t}[:, ::1], boolean, {t}[:, ::1]"],
    "_nms_rank_kernel": [f"{_A3}, float64, int64, int64, float64, int64[:, ::1]"],
    "_nms_walk_kernel": [f"{_A3}, float64, float64, int64, int64, int64, int64, float64, "
                         f"boolean, boolean, int64, int64[:, ::1], {_A3}, int64[:, ::1]"],
    "_nms_backward_kernel": [f"{_A3}, int64[:, ::1], boolean, {_A3}"],
    "_match_rank_kernel": [f"{_A3}, boolean, int64[:, ::1]"],
    "_match_walk_kernel": [f"{_A3}, float64, boolean, int64, int64[:, ::1], {{t}}[:, ::1], "
                           "{t}[:, ::1]"],
    "_encode_kernel": ["{t}[:, ::1], {t}[:, ::1], " + _A3 + ", " + _A3 + ", {t}[::1], {t}[::1], "
                       + _A3 + ", " + _A3],
    "_decode_kernel": [f"{_A3}, {{t}}[:, ::1], float64[::1], float64, boolean, {_A3}"],
    "_psroi_forward_kernel": ["{t}[:, :, :, ::1], {t}[:, ::1], float64, int64, boolean, "
                              "{t}[:, :, :, ::1]"],
    "_psroi_backward_kernel": ["{t}[:, :, :, ::1], {t}[:, ::1], float64, int64, boolean, "
                               "boolean, {t}[:, :, :, ::1]"],
}


@cuda.jit(device=True)
def _inter(a, b, center):
    if center:
        w = min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2)
        h = min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2)
    else:
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


@cuda.jit(device=True)
def _area(a, center):
    w = a[2] if center else a[2] - a[0]
    h = a[3] if center else a[3] - a[1]
    if w < 0 or h < 0:
        return 0.0
    return w * h


@cuda.jit(device=True)
def _ratio(inter, union):
    """``inter / union`` with IEEE results for a zero union (the CPU kernels use numpy's)."""
    if union == 0:
        return math.nan if inter == 0 else math.inf
    return inter / union


@cuda.jit
def _iou_kernel(lhs, rhs, center, out):
    L, R = out.shape
    for i in range(cuda.grid(1), L * R, cuda.gridsize(1)):
        l, r = i // R, i % R
        inter = _inter(lhs[l], rhs[r], center)
        if inter <= 0:
            out[l, r] = 0
        else:
            out[l, r] = _ratio(inter, _area(lhs[l], center) + _area(rhs[r], center) - inter)


@cuda.jit(device=True)
def _candidate(data3, b, i, valid_thr, score, id_index, background):
    return data3[b, i, score] > valid_thr and (id_index < 0 or data3[b, i, id_index] != background)


@cuda.jit
def _nms_rank_kernel(data3, valid_thr, score, id_index, background, order):
    B, N, _ = data3.shape
    for e in range(cuda.grid(1), B * N, cuda.gridsize(1)):
        b, i = e // N, e % N
        if not _candidate(data3, b, i, valid_thr, score, id_index, background):
            continue
        v = data3[b, i, score]
        rank = 0
        for j in range(N):
            if _candidate(data3, b, j, valid_thr, score, id_index, background):
                w = data3[b, j, score]
                if w > v or (w == v and j < i):
                    rank += 1
        order[b, rank] = i


@cuda.jit(device=True)
def _convert(out3, b, k, c, conv):
    a, y, w, h = out3[b, k, c], out3[b, k, c + 1], out3[b, k, c + 2], out3[b, k, c + 3]
    if conv == 0 or a < 0:
        return
    if conv == 1:
        out3[b, k, c], out3[b, k, c + 1] = (a + w) / 2, (y + h) / 2
        out3[b, k, c + 2], out3[b, k, c + 3] = w - a, h - y
    else:
        out3[b, k, c], out3[b, k, c + 1] = a - w / 2, y - h / 2
        out3[b, k, c + 2], out3[b, k, c + 3] = a + w / 2, y + h / 2


@cuda.jit
def _nms_walk_kernel(data3, overlap, valid_thr, topk, coord, score, id_index, background, force,
                     center, conv, order, out3, record):
    B, N, W = data3.shape
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        if topk == 0:
            for i in range(N):
                for w in range(W):
                    out3[b, i, w] = data3[b, i, w]
                record[b, i] = i
            continue
        n = 0
        for i in range(N):
            if _candidate(data3, b, i, valid_thr, score, id_index, background):
                n += 1
        k = n if topk < 0 else min(n, topk)
        for r in range(k):
            ir = order[b, r]
            if ir < 0:
                continue
            ref = data3[b, ir, coord:coord + 4]
            for q in range(r + 1, k):
                iq = order[b, q]
                if iq < 0:
                    continue
                if not force and id_index >= 0 and \
                        int(data3[b, ir, id_index]) != int(data3[b, iq, id_index]):
                    continue
                box = data3[b, iq, coord:coord + 4]
                inter = _inter(ref, box, center)
                if _ratio(inter, _area(ref, center) + _area(box, center) - inter) > overlap:
                    order[b, q] = -1
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
                _convert(out3, b, cnt, coord, conv)
                cnt += 1


@cuda.jit
def _nms_backward_kernel(dy3, record, accumulate, dx3):
    B, N, W = dy3.shape
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        if not accumulate:
            for i in range(N):
                for w in range(W):
                    dx3[b, i, w] = 0
        for k in range(N):
            i = record[b, k]
            if i >= 0:
                for w in range(W):
                    dx3[b, i, w] += dy3[b, k, w]


@cuda.jit
def _match_rank_kernel(scores3, is_ascend, order):
    B, R, C = scores3.shape
    n = R * C
    for e in range(cuda.grid(1), B * n, cuda.gridsize(1)):
        b, i = e // n, e % n
        v = scores3[b, i // C, i % C]
        rank = 0
        for j in range(n):
            w = scores3[b, j // C, j % C]
            before = (w < v) if is_ascend else (w > v)
            if before or (w == v and j < i):
                rank += 1
        order[b, rank] = i


@cuda.jit
def _match_walk_kernel(scores3, threshold, is_ascend, topk, order, rowm, colm):
    B, R, C = scores3.shape
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        for r in range(R):
            rowm[b, r] = -1
        for c in range(C):
            colm[b, c] = -1
        count = 0
        for j in range(R * C):
            e = order[b, j]
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


@cuda.jit(device=True)
def _center_of(box):
    w = box[2] - box[0]
    h = box[3] - box[1]
    return box[0] + w * 0.5, box[1] + h * 0.5, w, h


@cuda.jit
def _encode_kernel(samples, matches, anchors, refs, means, stds, targets, masks):
    B, N = samples.shape
    for i in range(cuda.grid(1), B * N, cuda.gridsize(1)):
        b, n = i // N, i % N
        valid = samples[b, n] > 0.5
        for k in range(4):
            masks[b, n, k] = 1.0 if valid else 0.0
            targets[b, n, k] = 0.0
        if valid:
            rx, ry, rw, rh = _center_of(refs[b, int(matches[b, n])])
            ax, ay, aw, ah = _center_of(anchors[b, n])
            targets[b, n, 0] = ((rx - ax) / aw - means[0]) / stds[0]
            targets[b, n, 1] = ((ry - ay) / ah - means[1]) / stds[1]
            targets[b, n, 2] = (math.log(rw / aw) - means[2]) / stds[2]
            targets[b, n, 3] = (math.log(rh / ah) - means[3]) / stds[3]


@cuda.jit
def _decode_kernel(data, anchors, stds, clip, corner, out):
    B, N, _ = data.shape
    for i in range(cuda.grid(1), B * N, cuda.gridsize(1)):
        b, n = i // N, i % N
        a = anchors[n]
        if corner:
            ax, ay, aw, ah = _center_of(a)
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


# -- PSROIPooling: the bins exactly as kernels/cpu/box.py computes them --------------------------
@cuda.jit(device=True)
def _r(x, f32):
    return float(float32(x)) if f32 else x


@cuda.jit(device=True)
def _round(x):
    return math.floor(x + 0.5) if x >= 0 else -math.floor(0.5 - x)


@cuda.jit(device=True)
def _psroi_bin(rois, n, ph, pw, pooled, group, scale, height, width, f32):
    x1 = _r(_r(_round(rois[n, 1]), f32) * scale, f32)
    y1 = _r(_r(_round(rois[n, 2]), f32) * scale, f32)
    x2 = _r(_r(_round(rois[n, 3]) + 1.0, f32) * scale, f32)
    y2 = _r(_r(_round(rois[n, 4]) + 1.0, f32) * scale, f32)
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


@cuda.jit
def _psroi_forward_kernel(data, rois, scale, group, f32, out):
    R, D, P, _ = out.shape
    H, W = data.shape[2], data.shape[3]
    for e in range(cuda.grid(1), R * D * P * P, cuda.gridsize(1)):
        n, k, ph, pw = e // (D * P * P), (e // (P * P)) % D, (e // P) % P, e % P
        hs, he, ws, we, gh, gw = _psroi_bin(rois, n, ph, pw, P, group, scale, H, W, f32)
        b, c = int(rois[n, 0]), (k * group + gh) * group + gw
        s = 0.0
        for h in range(hs, he):
            for w in range(ws, we):
                s += data[b, c, h, w]
        out[n, k, ph, pw] = 0.0 if he <= hs or we <= ws else s / ((he - hs) * (we - ws))


@cuda.jit
def _psroi_backward_kernel(dy, rois, scale, group, f32, accumulate, dx):
    # one thread per input plane (image b, channel c): it gathers every bin that averaged
    # that plane, so no two threads write the same cell (no atomics, deterministic)
    R, D, P, _ = dy.shape
    B, C, H, W = dx.shape
    for e in range(cuda.grid(1), B * C, cuda.gridsize(1)):
        b, c = e // C, e % C
        if not accumulate:
            for h in range(H):
                for w in range(W):
                    dx[b, c, h, w] = 0
        k = c // (group * group)
        if k >= D:
            continue
        for n in range(R):
            if int(rois[n, 0]) != b:
                continue
            for ph in range(P):
                for pw in range(P):
                    hs, he, ws, we, gh, gw = _psroi_bin(rois, n, ph, pw, P, group, scale, H, W,
                                                        f32)
                    if (k * group + gh) * group + gw != c or he <= hs or we <= ws:
                        continue
                    g = dy[n, k, ph, pw] / ((he - hs) * (we - ws))
                    for h in range(hs, he):
                        for w in range(ws, we):
                            dx[b, c, h, w] += g


# -- host launchers: the signatures of kernels/cpu/box.py --------------------------------------
def iou(lhs, rhs, center, out):
    check_device_arrays("box_iou", lhs=lhs, rhs=rhs, out=out)
    blocks, threads = grid_1d(out.size)
    _iou_kernel[blocks, threads](lhs, rhs, bool(center), out)


def nms_forward(data3, overlap, valid_thr, topk, coord, score, id_index, background, force,
                center, conv, order, out3, record):
    check_device_arrays("box_nms", data3=data3, order=order, out3=out3, record=record)
    B, N, _ = data3.shape
    blocks, threads = grid_1d(B * N)
    _nms_rank_kernel[blocks, threads](data3, float(valid_thr), score, id_index,
                                      float(background), order)
    blocks, threads = grid_1d(B)
    _nms_walk_kernel[blocks, threads](data3, float(overlap), float(valid_thr), topk, coord,
                                      score, id_index, float(background), bool(force),
                                      bool(center), conv, order, out3, record)


def nms_backward(dy3, record, accumulate, dx3):
    check_device_arrays("box_nms backward", dy3=dy3, record=record, dx3=dx3)
    blocks, threads = grid_1d(dy3.shape[0])
    _nms_backward_kernel[blocks, threads](dy3, record, bool(accumulate), dx3)


def bipartite(scores3, threshold, is_ascend, topk, order, rowm, colm):
    check_device_arrays("bipartite_matching", scores3=scores3, order=order, rowm=rowm,
                        colm=colm)
    B, R, C = scores3.shape
    blocks, threads = grid_1d(B * R * C)
    _match_rank_kernel[blocks, threads](scores3, bool(is_ascend), order)
    blocks, threads = grid_1d(B)
    _match_walk_kernel[blocks, threads](scores3, float(threshold), bool(is_ascend), topk, order,
                                        rowm, colm)


def box_encode(samples, matches, anchors, refs, means, stds, targets, masks):
    check_device_arrays("box_encode", samples=samples, matches=matches, anchors=anchors,
                        refs=refs, means=means, stds=stds, targets=targets, masks=masks)
    blocks, threads = grid_1d(samples.size)
    _encode_kernel[blocks, threads](samples, matches, anchors, refs, means, stds, targets, masks)


def box_decode(data, anchors, stds, clip, corner, out):
    check_device_arrays("box_decode", data=data, anchors=anchors, stds=stds, out=out)
    blocks, threads = grid_1d(data.shape[0] * data.shape[1])
    _decode_kernel[blocks, threads](data, anchors, stds, float(clip), bool(corner), out)


def psroi_forward(data, rois, scale, group, f32, out):
    check_device_arrays("PSROIPooling", data=data, rois=rois, out=out)
    blocks, threads = grid_1d(out.size)
    _psroi_forward_kernel[blocks, threads](data, rois, float(scale), int(group), bool(f32), out)


def psroi_backward(dy, rois, scale, group, f32, accumulate, dx):
    check_device_arrays("PSROIPooling backward", dy=dy, rois=rois, dx=dx)
    blocks, threads = grid_1d(dx.shape[0] * dx.shape[1])
    _psroi_backward_kernel[blocks, threads](dy, rois, float(scale), int(group), bool(f32),
                                            bool(accumulate), dx)
