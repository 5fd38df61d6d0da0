"""numpy twins of ``kernels/cpu/misc_contrib.py`` (MultiBoxPrior, MultiBoxTarget,
MultiBoxDetection, hawkesll and its gradient, IdentityAttachKLSparseReg's backward): the same
names and signatures, written with numpy and plain Python loops. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["multibox_prior", "multibox_target", "multibox_detection", "hawkes_forward",
           "hawkes_backward", "kl_sparse_backward"]


def multibox_prior(height, width, sizes, ratios, steps, offsets, clip, out):
    f = np.float32
    cy = (np.arange(height, dtype=f) + offsets[0]) * steps[0]
    cx = (np.arange(width, dtype=f) + offsets[1]) * steps[1]
    hw = f(height) / f(width)
    half = [(s * hw / f(2), s / f(2)) for s in sizes]
    for r in ratios[1:]:
        q = f(np.sqrt(r))
        half.append((sizes[0] * hw * q / f(2), sizes[0] / q / f(2)))
    half = np.array(half, f)                                   # (anchors per position, 2)
    gy, gx = np.meshgrid(cy, cx, indexing="ij")
    c = np.stack([gx, gy], -1).reshape(-1, 1, 2)
    boxes = np.concatenate([c - half[None], c + half[None]], -1).reshape(-1, 4)
    out[...] = np.clip(boxes, 0, 1) if clip else boxes


def _ious(anchors, gts):
    lo = np.maximum(anchors[:, None, :2], gts[None, :, :2])
    hi = np.minimum(anchors[:, None, 2:], gts[None, :, 2:])
    inter = np.prod(np.maximum(hi - lo, 0), -1)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    union = area(anchors)[:, None] + area(gts)[None, :] - inter
    return np.where(union == 0, 0, inter / np.where(union == 0, 1, union))


def multibox_target(anchors, labels, preds, thr, ignore_label, ratio, neg_thr, var, loc, mask,
                    cls):
    A = anchors.shape[0]
    loc[...] = 0
    mask[...] = 0
    cls[...] = ignore_label
    for b in range(labels.shape[0]):
        lab = labels[b]
        n_gt = int(np.argmax(lab[:, 0] == -1)) if (lab[:, 0] == -1).any() else len(lab)
        if n_gt == 0:
            continue
        iou = _ious(anchors, lab[:n_gt, 1:5])
        flags = np.full(A, -1)
        best = np.full(A, -1.0)
        match = np.full(A, -1)
        free = iou.copy()
        for _ in range(n_gt):                      # best pair first, one anchor per truth
            j, k = np.unravel_index(np.argmax(free), free.shape)
            if free[j, k] <= 1e-6:
                break
            flags[j], best[j], match[j] = 1, free[j, k], k
            free[j, :] = -1
            free[:, k] = -1
        rest = flags != 1
        if thr > 0 or ratio > 0:
            best[rest], match[rest] = iou[rest].max(1), iou[rest].argmax(1)
        if thr > 0:
            flags[rest & (best > thr)] = 1
        pos = int((flags == 1).sum())
        if ratio > 0:
            n_neg = min(int(pos * ratio), A - pos)
            cand = np.flatnonzero((flags == -1) & (best < neg_thr))
            if n_neg > 0 and len(cand):
                p = preds[b][:, cand].astype(np.float64)
                e = np.exp(p - p.max(0))
                prob = e[0] / e.sum(0)
                flags[cand[np.argsort(prob, kind="stable")[:n_neg]]] = 0
        else:
            flags[flags != 1] = 0
        for j in np.flatnonzero(flags == 1):
            g = lab[match[j]]
            a = anchors[j]
            aw, ah = a[2] - a[0], a[3] - a[1]
            gw, gh = g[3] - g[1], g[4] - g[2]
            loc[b, 4 * j:4 * j + 4] = (((g[1] + g[3]) - (a[0] + a[2])) * 0.5 / aw / var[0],
                                       ((g[2] + g[4]) - (a[1] + a[3])) * 0.5 / ah / var[1],
                                       np.log(gw / aw) / var[2], np.log(gh / ah) / var[3])
            mask[b, 4 * j:4 * j + 4] = 1
            cls[b, j] = g[0] + 1
        cls[b, flags == 0] = 0


def _overlap(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return 0.0 if u <= 0 else w * h / u


def multibox_detection(prob, loc, anchors, threshold, clip, var, nms_thr, force, topk, out):
    B, C, A = prob.shape
    out[...] = -1
    for b in range(B):
        rows = []
        for i in range(A):
            fg = prob[b, 1:, i]
            cid = int(np.argmax(fg)) + 1 if C > 1 and fg.max() > -1 else 0
            score = fg[cid - 1] if cid else -1
            if cid == 0 or score < threshold:
                continue
            a = anchors[i]
            aw, ah = a[2] - a[0], a[3] - a[1]
            cx = loc[b, 4 * i] * var[0] * aw + (a[0] + a[2]) / 2
            cy = loc[b, 4 * i + 1] * var[1] * ah + (a[1] + a[3]) / 2
            hw = np.exp(loc[b, 4 * i + 2] * var[2]) * aw / 2
            hh = np.exp(loc[b, 4 * i + 3] * var[3]) * ah / 2
            box = np.array([cx - hw, cy - hh, cx + hw, cy + hh])
            rows.append(np.concatenate([[cid - 1, score], np.clip(box, 0, 1) if clip else box]))
        n = len(rows)
        if n:
            out[b, :n] = rows
        if n < 1 or nms_thr <= 0 or nms_thr > 1:
            continue
        order = np.argsort(-out[b, :n, 1], kind="stable")
        keep = n if topk <= 0 or topk >= n else topk
        out[b, keep:n, 0] = -1
        out[b, :keep] = np.array(rows)[order[:keep]]
        for i in range(keep):
            if out[b, i, 0] < 0:
                continue
            for j in range(i + 1, keep):
                if out[b, j, 0] >= 0 and (force or out[b, i, 0] == out[b, j, 0]) and \
                        _overlap(out[b, i, 2:], out[b, j, 2:]) >= nms_thr:
                    out[b, j, 0] = -1


def _hawkes_events(i, lags, marks, valid_length):
    """(process, time since that process' previous event, absolute time) of sample i."""
    times = np.cumsum(lags[i])
    last = {}
    for j in range(lags.shape[1]):
        if not j < valid_length[i]:
            break
        c = int(marks[i, j])
        yield c, times[j] - last.get(c, 0.0)
        last[c] = times[j]


def _last_times(i, lags, marks, valid_length, K):
    last = np.zeros(K)
    times = np.cumsum(lags[i])
    for j in range(lags.shape[1]):
        if not j < valid_length[i]:
            break
        last[int(marks[i, j])] = times[j]
    return last


def hawkes_forward(mu, alpha, beta, state, lags, marks, valid_length, max_time, ll, out_state):
    N, K = mu.shape
    for i in range(N):
        s = state[i].astype(np.float64)
        total = 0.0
        for c, d in _hawkes_events(i, lags, marks, valid_length):
            ed = np.exp(-beta[c] * d)
            total += np.log(mu[i, c] + alpha[c] * beta[c] * s[c] * ed) \
                - (mu[i, c] * d + alpha[c] * s[c] * (1 - ed))
            s[c] = 1 + s[c] * ed
        d = max_time[i] - _last_times(i, lags, marks, valid_length, K)
        ed = np.exp(-beta * d)
        total -= np.sum(mu[i] * d + alpha * s * (1 - ed))
        ll[i] = total
        out_state[i] = s * ed


def hawkes_backward(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                    dalpha_rows, dbeta_rows):
    N, K = mu.shape
    for i in range(N):
        phi = state[i].astype(np.float64)
        dphi = np.zeros(K)
        gm, ga, gb = np.zeros(K), np.zeros(K), np.zeros(K)
        for c, d in _hawkes_events(i, lags, marks, valid_length):
            ed = np.exp(-beta[c] * d)
            lda = mu[i, c] + alpha[c] * beta[c] * phi[c] * ed
            gm[c] += 1 / lda - d
            ga[c] += beta[c] * phi[c] * ed / lda - phi[c] * (1 - ed)
            gb[c] += alpha[c] * ed * (phi[c] * (1 - beta[c] * d) + beta[c] * dphi[c]) / lda \
                - alpha[c] * (dphi[c] * (1 - ed) + phi[c] * d * ed)
            dphi[c] = ed * (dphi[c] - d * phi[c])
            phi[c] = 1 + phi[c] * ed
        d = max_time[i] - _last_times(i, lags, marks, valid_length, K)
        ed = np.exp(-beta * d)
        dmu[i] = dll[i] * (gm - d)
        dalpha_rows[i] = dll[i] * (ga - phi * (1 - ed))
        dbeta_rows[i] = dll[i] * (gb - alpha * (dphi * (1 - ed) + phi * d * ed))


def kl_sparse_backward(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2):
    moving_avg[...] = momentum * moving_avg + (1 - momentum) * data2.mean(0)
    g = dy2 + penalty * (-target / moving_avg + (1 - target) / (1 - moving_avg))
    if accumulate:
        dx2 += g
    else:
        dx2[...] = g
