"""numpy twins of ``kernels/cpu/box.py`` (box_iou, box_nms, bipartite_matching, box_encode,
box_decode): the same names and signatures, written as plain numpy. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["iou", "nms_forward", "nms_backward", "bipartite", "box_encode", "box_decode",
           "psroi_forward", "psroi_backward"]


def _spans(b, center):
    """(left, right, top, bottom) of boxes ``b[..., :4]`` in either encoding."""
    if center:
        return (b[..., 0] - b[..., 2] / 2, b[..., 0] + b[..., 2] / 2,
                b[..., 1] - b[..., 3] / 2, b[..., 1] + b[..., 3] / 2)
    return b[..., 0], b[..., 2], b[..., 1], b[..., 3]


def _area(b, center):
    w, h = (b[..., 2], b[..., 3]) if center else (b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])
    return np.where((w < 0) | (h < 0), 0, w * h)


def _overlap(a, b, center):
    al, ar, at, ab = _spans(a, center)
    bl, br, bt, bb = _spans(b, center)
    w = np.maximum(np.minimum(ar, br) - np.maximum(al, bl), 0)
    h = np.maximum(np.minimum(ab, bb) - np.maximum(at, bt), 0)
    return w * h


def iou(lhs, rhs, center, out):
    inter = _overlap(lhs[:, None, :], rhs[None, :, :], center)
    union = _area(lhs, center)[:, None] + _area(rhs, center)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out[...] = np.where(inter > 0, inter / np.where(inter > 0, union, 1), 0)


def _convert(rows, conv):
    """Re-encode rows[:, :4] in place (1: corner -> center, 2: center -> corner); MXNet leaves a
    box whose first coordinate is negative as it is."""
    for r in rows:
        if conv == 0 or r[0] < 0:
            continue
        a, b, c, d = r[:4].copy()
        r[:4] = ((a + c) / 2, (b + d) / 2, c - a, d - b) if conv == 1 else \
            (a - c / 2, b - d / 2, a + c / 2, b + d / 2)


def nms_forward(data3, overlap, valid_thr, topk, coord, score, id_index, background, force,
                center, conv, order, out3, record):
    B, N, _ = data3.shape
    if topk == 0:
        out3[...] = data3
        record[...] = np.arange(N)[None, :]
        return
    for b in range(B):
        x = data3[b]
        ok = x[:, score] > valid_thr
        if id_index >= 0:
            ok &= x[:, id_index] != background
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(-x[idx, score], kind="stable")]
        if topk > 0:
            idx = idx[:topk]
        alive = np.ones(len(idx), bool)
        boxes = x[:, coord:coord + 4]
        for r in range(len(idx)):
            if not alive[r]:
                continue
            rest = np.arange(r + 1, len(idx))
            rest = rest[alive[rest]]
            if not force and id_index >= 0:
                rest = rest[x[idx[rest], id_index].astype(int) == int(x[idx[r], id_index])]
            inter = _overlap(boxes[idx[r]], boxes[idx[rest]], center)
            with np.errstate(divide="ignore", invalid="ignore"):
                ious = inter / (_area(boxes[idx[r]], center) + _area(boxes[idx[rest]], center)
                                - inter)
            alive[rest[ious > overlap]] = False
        kept = idx[alive]
        out3[b] = -1
        record[b] = -1
        out3[b, :len(kept)] = x[kept]
        record[b, :len(kept)] = kept
        _convert(out3[b, :len(kept), coord:coord + 4], conv)


def nms_backward(dy3, record, accumulate, dx3):
    grad = np.zeros_like(dx3)
    for b in range(dy3.shape[0]):
        k = record[b] >= 0
        grad[b, record[b][k]] = dy3[b, k]
    if accumulate:
        dx3 += grad
    else:
        dx3[...] = grad


def bipartite(scores3, threshold, is_ascend, topk, order, rowm, colm):
    B, R, C = scores3.shape
    rowm[...] = -1
    colm[...] = -1
    for b in range(B):
        flat = scores3[b].reshape(-1)
        idx = np.argsort(flat if is_ascend else -flat, kind="stable")
        count = 0
        for j in idx:
            r, c = divmod(int(j), C)
            if rowm[b, r] != -1 or colm[b, c] != -1:
                continue
            if (flat[j] < threshold) if is_ascend else (flat[j] > threshold):
                rowm[b, r], colm[b, c] = c, r
                count += 1
                if 0 < topk < count:      # MXNet stops only after the (topk + 1)-th match
                    break
            else:
                break


def _centers(b):
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    return b[..., 0] + w * 0.5, b[..., 1] + h * 0.5, w, h


def box_encode(samples, matches, anchors, refs, means, stds, targets, masks):
    B, N = samples.shape
    valid = samples > 0.5
    m = np.where(valid, matches, 0).astype(np.int64)
    ref = refs[np.arange(B)[:, None], m]
    rx, ry, rw, rh = _centers(ref)
    ax, ay, aw, ah = _centers(anchors)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.stack([((rx - ax) / aw - means[0]) / stds[0], ((ry - ay) / ah - means[1]) / stds[1],
                      (np.log(rw / aw) - means[2]) / stds[2],
                      (np.log(rh / ah) - means[3]) / stds[3]], axis=-1)
    targets[...] = np.where(valid[..., None], t, 0)
    masks[...] = valid[..., None]


def box_decode(data, anchors, stds, clip, corner, out):
    if corner:
        ax, ay, aw, ah = _centers(anchors)
    else:
        ax, ay, aw, ah = anchors[:, 0], anchors[:, 1], anchors[:, 2], anchors[:, 3]
    ox = data[..., 0] * stds[0] * aw + ax
    oy = data[..., 1] * stds[1] * ah + ay
    dw, dh = data[..., 2] * stds[2], data[..., 3] * stds[3]
    if clip > 0:
        dw, dh = np.minimum(dw, clip), np.minimum(dh, clip)
    ow, oh = np.exp(dw) * aw * 0.5, np.exp(dh) * ah * 0.5
    out[...] = np.stack([ox - ow, oy - oh, ox + ow, oy + oh], axis=-1)


def _c_round(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _psroi_bins(rois, n, P, group, scale, H, W, f32):
    """(hs, he, ws, we, gh, gw) per bin (ph, pw), computed in the data's precision."""
    T = np.float32 if f32 else np.float64
    r = rois[n].astype(T)
    x1, y1 = T(_c_round(r[1])) * T(scale), T(_c_round(r[2])) * T(scale)
    x2, y2 = T(_c_round(r[3]) + 1) * T(scale), T(_c_round(r[4]) + 1) * T(scale)
    bh, bw = max(y2 - y1, T(0.1)) / T(P), max(x2 - x1, T(0.1)) / T(P)
    out = {}
    for ph in range(P):
        for pw in range(P):
            lim = [int(np.floor(T(ph) * bh + y1)), int(np.ceil(T(ph + 1) * bh + y1)),
                   int(np.floor(T(pw) * bw + x1)), int(np.ceil(T(pw + 1) * bw + x1))]
            hs, he = (min(max(v, 0), H) for v in lim[:2])
            ws, we = (min(max(v, 0), W) for v in lim[2:])
            gh = min(max(ph * group // P, 0), group - 1)
            gw = min(max(pw * group // P, 0), group - 1)
            out[ph, pw] = hs, he, ws, we, gh, gw
    return out


def psroi_forward(data, rois, scale, group, f32, out):
    R, D, P, _ = out.shape
    H, W = data.shape[2:]
    for n in range(R):
        for (ph, pw), (hs, he, ws, we, gh, gw) in _psroi_bins(rois, n, P, group, scale, H, W,
                                                               f32).items():
            for k in range(D):
                cell = data[int(rois[n, 0]), (k * group + gh) * group + gw, hs:he, ws:we]
                out[n, k, ph, pw] = cell.mean() if cell.size else 0


def psroi_backward(dy, rois, scale, group, f32, accumulate, dx):
    R, D, P, _ = dy.shape
    H, W = dx.shape[2:]
    grad = np.zeros_like(dx)
    for n in range(R):
        for (ph, pw), (hs, he, ws, we, gh, gw) in _psroi_bins(rois, n, P, group, scale, H, W,
                                                               f32).items():
            if he > hs and we > ws:
                for k in range(D):
                    grad[int(rois[n, 0]), (k * group + gh) * group + gw, hs:he, ws:we] += \
                        dy[n, k, ph, pw] / ((he - hs) * (we - ws))
    if accumulate:
        dx += grad
    else:
        dx[...] = grad
