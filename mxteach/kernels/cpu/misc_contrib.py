"""Numba CPU kernels of ``ops/misc_contrib.py``: the SSD operators (MultiBoxPrior,
MultiBoxTarget, MultiBoxDetection), the Hawkes-process log likelihood (hawkesll) and its
gradient, and IdentityAttachKLSparseReg's backward.

MultiBoxTarget and MultiBoxDetection are greedy per image: whether an anchor is matched (or a
detection kept) depends on the ones decided before it, so the batch is the parallel unit. The
Hawkes recursion is sequential in time, so the sample is. Numbers follow MXNet 1.9.1's CPU
code: MultiBoxPrior computes in float32 whatever the output dtype; ties in a score order keep
the input order (stable sorts). Every kernel has a numpy twin with the same name and signature
in ``kernels/reference/misc_contrib.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["multibox_prior", "multibox_target", "multibox_detection", "hawkes_forward",
           "hawkes_backward", "kl_sparse_backward"]


@njit(cache=True)
def multibox_prior(height, width, sizes, ratios, steps, offsets, clip, out):
    """Anchors ``out (H * W * (S + R - 1), 4)`` (corner, relative units): per position
    (row-major), first every size at ratio 1, then sizes[0] at every other ratio.
    ``sizes``, ``ratios``, ``steps (y, x)`` and ``offsets (y, x)`` are float32 arrays."""
    f32 = np.float32
    k = 0
    hw = f32(height) / f32(width)
    for r in range(height):
        cy = (f32(r) + offsets[0]) * steps[0]
        for c in range(width):
            cx = (f32(c) + offsets[1]) * steps[1]
            for i in range(sizes.shape[0] + ratios.shape[0] - 1):
                if i < sizes.shape[0]:
                    w = sizes[i] * hw / f32(2)
                    h = sizes[i] / f32(2)
                else:
                    q = f32(math.sqrt(ratios[i - sizes.shape[0] + 1]))
                    w = sizes[0] * hw * q / f32(2)
                    h = sizes[0] / q / f32(2)
                box = (cx - w, cy - h, cx + w, cy + h)
                for j in range(4):
                    v = box[j]
                    if clip:
                        v = min(max(v, f32(0)), f32(1))
                    out[k, j] = v
                k += 1


@njit(cache=True, error_model="numpy")
def _target_one(anchors, labels, preds, thr, ignore_label, ratio, neg_thr, var, loc, mask, cls):
    A = anchors.shape[0]
    L, Wl = labels.shape
    n_gt = 0
    while n_gt < L and labels[n_gt, 0] != -1.0:
        n_gt += 1
    loc[:] = 0
    mask[:] = 0
    cls[:] = ignore_label
    if n_gt == 0:
        return
    # IoU of every anchor with every real ground truth, in the data's precision
    iou = np.empty((A, n_gt), anchors.dtype)
    for j in range(A):
        a = anchors[j]
        for k in range(n_gt):
            g = labels[k, 1:5]
            w = max(min(a[2], g[2]) - max(a[0], g[0]), 0)
            h = max(min(a[3], g[3]) - max(a[1], g[1]), 0)
            inter = w * h
            union = (a[2] - a[0]) * (a[3] - a[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            iou[j, k] = 0 if union == 0 else inter / union
    flags = np.full(A, -1, np.int64)          # -1 ignore, 0 negative, 1 positive
    best_iou = np.full(A, -1.0)
    best_gt = np.full(A, -1, np.int64)
    gt_done = np.zeros(n_gt, np.bool_)
    positives = 0
    # 1) each ground truth takes its best free anchor, best pairs first
    for _ in range(n_gt):
        bj, bk, top = -1, -1, 1e-6
        for j in range(A):
            if flags[j] == 1:
                continue
            for k in range(n_gt):
                if not gt_done[k] and iou[j, k] > top:
                    bj, bk, top = j, k, iou[j, k]
        if bj < 0:
            break
        best_iou[bj], best_gt[bj] = top, bk
        flags[bj] = 1
        gt_done[bk] = True
        positives += 1
    # 2) then every other anchor above the threshold with its best ground truth
    for j in range(A):
        if flags[j] == 1 or (thr <= 0 and ratio <= 0):
            continue
        k_best, v_best = -1, -1.0
        for k in range(n_gt):
            if iou[j, k] > v_best:
                k_best, v_best = k, iou[j, k]
        best_iou[j], best_gt[j] = v_best, k_best
        if thr > 0 and v_best > thr:
            flags[j] = 1
            positives += 1
    # 3) negatives: all the rest, or the hardest (least background-like) ones
    if ratio > 0:
        n_neg = min(int(positives * ratio), A - positives)
        if n_neg > 0:
            cand = np.empty(A, np.int64)
            prob = np.empty(A)
            n = 0
            C = preds.shape[0]
            for j in range(A):
                if flags[j] == -1 and best_iou[j] < neg_thr:
                    top = preds[0, j]
                    for c in range(1, C):
                        top = max(top, preds[c, j])
                    s = 0.0
                    for c in range(C):
                        s += math.exp(preds[c, j] - top)
                    prob[n] = math.exp(preds[0, j] - top) / s
                    cand[n] = j
                    n += 1
            order = np.argsort(prob[:n], kind="mergesort")
            for i in range(min(n_neg, n)):
                flags[cand[order[i]]] = 0
    else:
        for j in range(A):
            if flags[j] != 1:
                flags[j] = 0
    for j in range(A):
        if flags[j] == 1:
            g = labels[best_gt[j]]
            cls[j] = g[0] + 1
            aw, ah = anchors[j, 2] - anchors[j, 0], anchors[j, 3] - anchors[j, 1]
            ax, ay = (anchors[j, 0] + anchors[j, 2]) * 0.5, (anchors[j, 1] + anchors[j, 3]) * 0.5
            gw, gh = g[3] - g[1], g[4] - g[2]
            gx, gy = (g[1] + g[3]) * 0.5, (g[2] + g[4]) * 0.5
            loc[4 * j] = (gx - ax) / aw / var[0]
            loc[4 * j + 1] = (gy - ay) / ah / var[1]
            loc[4 * j + 2] = math.log(gw / aw) / var[2]
            loc[4 * j + 3] = math.log(gh / ah) / var[3]
            for q in range(4):
                mask[4 * j + q] = 1
        elif flags[j] == 0:
            cls[j] = 0


@njit(cache=True, parallel=True)
def multibox_target(anchors, labels, preds, thr, ignore_label, ratio, neg_thr, var, loc, mask,
                    cls):
    """SSD training targets per image ``b``: ``loc (B, A * 4)`` regression targets and ``mask``
    (1 on positive anchors), ``cls (B, A)`` the class + 1 of positives, 0 of negatives,
    ``ignore_label`` elsewhere. Labels rows are (class, xmin, ymin, xmax, ymax, ...); the first
    row of class -1 ends an image's ground truths. ``preds`` (B, classes, A) ranks negatives."""
    for b in prange(labels.shape[0]):
        _target_one(anchors, labels[b], preds[b], thr, ignore_label, ratio, neg_thr, var, loc[b],
                    mask[b], cls[b])


@njit(cache=True, error_model="numpy")
def _overlap(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    i = w * h
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return 0.0 if u <= 0 else i / u


@njit(cache=True, parallel=True, error_model="numpy")
def multibox_detection(prob, loc, anchors, threshold, clip, var, nms_thr, force, topk, out):
    """SSD detections per image: each anchor's best non-background class (scores under
    ``threshold`` drop it), its box decoded from ``loc`` (B, A * 4); kept rows
    (class - 1, score, xmin, ymin, xmax, ymax) in anchor order. With 0 < nms_thr <= 1 they are
    sorted by score (the first ``topk``), and NMS sets the class of suppressed rows to -1 (rows
    past topk keep their unsorted content with class -1, as MXNet leaves them)."""
    B, C, A = prob.shape
    for b in prange(B):
        out[b] = -1
        rows = np.empty((A, 6), out.dtype)
        n = 0
        for i in range(A):
            score = -1.0
            cid = 0
            for c in range(1, C):
                if prob[b, c, i] > score:
                    score, cid = prob[b, c, i], c
            if cid > 0 and score < threshold:
                cid = 0
            if cid == 0:
                continue
            a = anchors[i]
            aw, ah = a[2] - a[0], a[3] - a[1]
            ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
            ox = loc[b, 4 * i] * var[0] * aw + ax
            oy = loc[b, 4 * i + 1] * var[1] * ah + ay
            ow = math.exp(loc[b, 4 * i + 2] * var[2]) * aw / 2
            oh = math.exp(loc[b, 4 * i + 3] * var[3]) * ah / 2
            box = (ox - ow, oy - oh, ox + ow, oy + oh)
            rows[n, 0], rows[n, 1] = cid - 1, score
            for j in range(4):
                rows[n, 2 + j] = min(max(box[j], 0.0), 1.0) if clip else box[j]
            n += 1
        out[b, :n] = rows[:n]
        if n < 1 or nms_thr <= 0 or nms_thr > 1:
            continue
        keys = np.empty(n)
        for i in range(n):
            keys[i] = -rows[i, 1]
        order = np.argsort(keys, kind="mergesort")
        keep = n if topk <= 0 or topk >= n else topk
        for i in range(keep, n):
            out[b, i, 0] = -1
        for i in range(keep):
            out[b, i] = rows[order[i]]
        for i in range(keep):
            if out[b, i, 0] < 0:
                continue
            for j in range(i + 1, keep):
                if out[b, j, 0] < 0:
                    continue
                if force or out[b, i, 0] == out[b, j, 0]:
                    if _overlap(out[b, i, 2:], out[b, j, 2:]) >= nms_thr:
                        out[b, j, 0] = -1


@njit(cache=True, parallel=True)
def hawkes_forward(mu, alpha, beta, state, lags, marks, valid_length, max_time, ll, out_state):
    """Log likelihood per sample of K independent exponential Hawkes processes on (0, max_time]
    (events: ``lags`` between them, ``marks`` which process), and the decayed states at
    max_time. ``state`` is each process' memory at time 0."""
    N, K = mu.shape
    for i in prange(N):
        last = np.zeros(K)
        s = 0.0
        t = 0.0
        for k in range(K):
            out_state[i, k] = state[i, k]
        j = 0
        while j < valid_length[i]:
            c = marks[i, j]
            t += lags[i, j]
            d = t - last[c]
            ed = math.exp(-beta[c] * d)
            lda = mu[i, c] + alpha[c] * beta[c] * out_state[i, c] * ed
            s += math.log(lda) - (mu[i, c] * d + alpha[c] * out_state[i, c] * (1 - ed))
            out_state[i, c] = 1 + out_state[i, c] * ed
            last[c] = t
            j += 1
        for k in range(K):     # the compensator from each process' last event to max_time
            d = max_time[i] - last[k]
            ed = math.exp(-beta[k] * d)
            s -= mu[i, k] * d + alpha[k] * out_state[i, k] * (1 - ed)
            out_state[i, k] = ed * out_state[i, k]
        ll[i] = s


@njit(cache=True, parallel=True)
def hawkes_backward(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                    dalpha_rows, dbeta_rows):
    """Gradients of ``sum(dll * ll)``: ``dmu (N, K)`` and per-sample contributions
    ``dalpha_rows``/``dbeta_rows`` (N, K) that the caller sums over samples. The state is
    carried with its derivative in beta, as MXNet does (no gradient for state or the data)."""
    N, K = mu.shape
    for i in prange(N):
        last = np.zeros(K)
        phi = np.empty(K)
        dphi = np.zeros(K)
        gm = np.zeros(K)
        ga = np.zeros(K)
        gb = np.zeros(K)
        for k in range(K):
            phi[k] = state[i, k]
        t = 0.0
        j = 0
        while j < valid_length[i]:
            c = marks[i, j]
            t += lags[i, j]
            d = t - last[c]
            ed = math.exp(-beta[c] * d)
            lda = mu[i, c] + alpha[c] * beta[c] * phi[c] * ed
            gm[c] += 1 / lda - d
            ga[c] += beta[c] * phi[c] * ed / lda - phi[c] * (1 - ed)
            gb[c] += (alpha[c] * ed * (phi[c] * (1 - beta[c] * d) + beta[c] * dphi[c]) / lda
                      - alpha[c] * (dphi[c] * (1 - ed) + phi[c] * d * ed))
            dphi[c] = ed * (-d * phi[c] + dphi[c])
            phi[c] = 1 + phi[c] * ed
            last[c] = t
            j += 1
        for k in range(K):
            d = max_time[i] - last[k]
            ed = math.exp(-beta[k] * d)
            dmu[i, k] = dll[i] * (gm[k] - d)
            dalpha_rows[i, k] = dll[i] * (ga[k] - phi[k] * (1 - ed))
            dbeta_rows[i, k] = dll[i] * (gb[k] - alpha[k] * (dphi[k] * (1 - ed)
                                                             + phi[k] * d * ed))


@njit(cache=True, parallel=True)
def kl_sparse_backward(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2):
    """Per column: fold the batch mean of ``data2`` into ``moving_avg`` (in place), then
    ``dx = dy + penalty * (-target / avg + (1 - target) / (1 - avg))``."""
    N, D = data2.shape
    for c in prange(D):
        s = 0.0
        for n in range(N):
            s += data2[n, c]
        m = momentum * moving_avg[c] + (1 - momentum) * (s / N)
        moving_avg[c] = m
        g = penalty * (-target / m + (1 - target) / (1 - m))
        for n in range(N):
            if accumulate:
                dx2[n, c] += dy2[n, c] + g
            else:
                dx2[n, c] = dy2[n, c] + g
