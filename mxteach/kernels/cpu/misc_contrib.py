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


@njit(cache=True, inline="always")
def _prior_half(sizes, ratios, i, hw):
    """Half width and half height (float32) of anchor i at a position: sizes[i] at ratio 1
    for i < S, else sizes[0] at ratio ``ratios[i - S + 1]``."""
    f32 = np.float32
    S = sizes.shape[0]
    if i < S:
        return sizes[i] * hw / f32(2), sizes[i] / f32(2)
    q = f32(math.sqrt(ratios[i - S + 1]))
    return sizes[0] * hw * q / f32(2), sizes[0] / q / f32(2)


@njit(cache=True)
def _prior_write(out, k, cx, cy, w, h, clip):
    """Row k of the anchors: corners around (cx, cy), clipped to [0, 1] if ``clip``."""
    f32 = np.float32
    box = (cx - w, cy - h, cx + w, cy + h)
    for j in range(4):
        v = box[j]
        if clip:
            v = min(max(v, f32(0)), f32(1))
        out[k, j] = v


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
                w, h = _prior_half(sizes, ratios, i, hw)
                _prior_write(out, k, cx, cy, w, h, clip)
                k += 1


@njit(cache=True, error_model="numpy")
def _match_iou(a, g):
    """IoU of anchor ``a`` and ground-truth box ``g`` (corners), in the data's precision."""
    w = max(min(a[2], g[2]) - max(a[0], g[0]), 0.0)
    h = max(min(a[3], g[3]) - max(a[1], g[1]), 0.0)
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
    return 0.0 if union == 0 else inter / union


@njit(cache=True)
def _background_prob(preds, j):
    """Softmax probability of class 0 (background) of anchor j; ``preds`` is (classes, A)."""
    top = preds[0, j]
    for c in range(1, preds.shape[0]):
        top = max(top, preds[c, j])
    s = 0.0
    for c in range(preds.shape[0]):
        s += math.exp(preds[c, j] - top)
    return math.exp(preds[0, j] - top) / s


@njit(cache=True, error_model="numpy")
def _loc_target(a, g, var):
    """Regression target of anchor ``a`` towards the label row ``g`` (class, corners)."""
    aw, ah = a[2] - a[0], a[3] - a[1]
    ax, ay = (a[0] + a[2]) * 0.5, (a[1] + a[3]) * 0.5
    gw, gh = g[3] - g[1], g[4] - g[2]
    gx, gy = (g[1] + g[3]) * 0.5, (g[2] + g[4]) * 0.5
    return ((gx - ax) / aw / var[0], (gy - ay) / ah / var[1], math.log(gw / aw) / var[2],
            math.log(gh / ah) / var[3])


# Not folded with the CUDA match/mining/assign kernels: those split this greedy walk into three
# launches (ranks instead of an argsort), so only the helpers above are shared.
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
        for k in range(n_gt):
            iou[j, k] = _match_iou(anchors[j], labels[k, 1:5])
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
            for j in range(A):
                if flags[j] == -1 and best_iou[j] < neg_thr:
                    prob[n] = _background_prob(preds, j)
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
            loc[4 * j], loc[4 * j + 1], loc[4 * j + 2], loc[4 * j + 3] = \
                _loc_target(anchors[j], g, var)
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


@njit(cache=True)
def _best_class(prob, b, i, threshold):
    """(class id, score) of anchor i's best non-background class; id 0 when none passes."""
    score = -1.0
    cid = 0
    for c in range(1, prob.shape[1]):
        if prob[b, c, i] > score:
            score, cid = prob[b, c, i], c
    if cid > 0 and score < threshold:
        cid = 0
    return cid, score


@njit(cache=True, error_model="numpy")
def _decode_anchor(loc, b, i, a, var):
    """Corners of the box that ``loc[b, 4i:4i+4]`` predicts on anchor ``a``."""
    aw, ah = a[2] - a[0], a[3] - a[1]
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    ox = loc[b, 4 * i] * var[0] * aw + ax
    oy = loc[b, 4 * i + 1] * var[1] * ah + ay
    ow = math.exp(loc[b, 4 * i + 2] * var[2]) * aw / 2
    oh = math.exp(loc[b, 4 * i + 3] * var[3]) * ah / 2
    return ox - ow, oy - oh, ox + ow, oy + oh


@njit(cache=True, error_model="numpy")
def _suppress_rows(out, b, keep, nms_thr, force):
    """Greedy NMS over the first ``keep`` (score-sorted) rows of image b: a row of class -1
    is out; a live row sets the class of each later one (same class unless ``force``) that
    overlaps it by ``nms_thr`` or more to -1. (The IoU is written inline: the CUDA twin
    compiles this function, and under the simulator it could not hand rows to another.)"""
    for i in range(keep):
        if out[b, i, 0] < 0:
            continue
        for j in range(i + 1, keep):
            if out[b, j, 0] < 0:
                continue
            if force or out[b, i, 0] == out[b, j, 0]:
                w = max(0.0, min(out[b, i, 4], out[b, j, 4]) - max(out[b, i, 2], out[b, j, 2]))
                h = max(0.0, min(out[b, i, 5], out[b, j, 5]) - max(out[b, i, 3], out[b, j, 3]))
                inter = w * h
                u = ((out[b, i, 4] - out[b, i, 2]) * (out[b, i, 5] - out[b, i, 3])
                     + (out[b, j, 4] - out[b, j, 2]) * (out[b, j, 5] - out[b, j, 3]) - inter)
                if (0.0 if u <= 0 else inter / u) >= nms_thr:
                    out[b, j, 0] = -1


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
            cid, score = _best_class(prob, b, i, threshold)
            if cid == 0:
                continue
            box = _decode_anchor(loc, b, i, anchors[i], var)
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
        _suppress_rows(out, b, keep, nms_thr, force)


@njit(cache=True)
def _hawkes_ll(mu, alpha, beta, state, lags, marks, valid_length, max_time, out_state, last, i):
    """Sample i of :func:`hawkes_forward`: returns its log likelihood, leaves its decayed
    states in ``out_state[i]``; ``last`` (K, float64) is scratch for the last event times."""
    K = mu.shape[1]
    for k in range(K):
        out_state[i, k] = state[i, k]
        last[k] = 0.0
    s = 0.0
    t = 0.0
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
    return s


@njit(cache=True, parallel=True)
def hawkes_forward(mu, alpha, beta, state, lags, marks, valid_length, max_time, ll, out_state):
    """Log likelihood per sample of K independent exponential Hawkes processes on (0, max_time]
    (events: ``lags`` between them, ``marks`` which process), and the decayed states at
    max_time. ``state`` is each process' memory at time 0."""
    N, K = mu.shape
    for i in prange(N):
        ll[i] = _hawkes_ll(mu, alpha, beta, state, lags, marks, valid_length, max_time,
                           out_state, np.zeros(K), i)


# walks the events exactly as _hawkes_ll does (the same lines open its loop, on purpose): the
# gradient carries phi's derivative in beta alongside, which the forward does not need
@njit(cache=True)
def _hawkes_grad(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                 dalpha_rows, dbeta_rows, last, work, i):
    """Sample i of :func:`hawkes_backward`. Scratch (float64): ``last`` (K,) the last event
    times, ``work`` (5, K) the state phi, its derivative in beta, and the running sums for
    mu, alpha and beta."""
    K = mu.shape[1]
    for k in range(K):
        last[k] = 0.0
        work[0, k] = state[i, k]
        for r in range(1, 5):
            work[r, k] = 0.0
    t = 0.0
    j = 0
    while j < valid_length[i]:
        c = marks[i, j]
        t += lags[i, j]
        d = t - last[c]
        ed = math.exp(-beta[c] * d)
        phi, dphi = work[0, c], work[1, c]
        lda = mu[i, c] + alpha[c] * beta[c] * phi * ed
        work[2, c] += 1 / lda - d
        work[3, c] += beta[c] * phi * ed / lda - phi * (1 - ed)
        work[4, c] += (alpha[c] * ed * (phi * (1 - beta[c] * d) + beta[c] * dphi) / lda
                       - alpha[c] * (dphi * (1 - ed) + phi * d * ed))
        work[1, c] = ed * (-d * phi + dphi)
        work[0, c] = 1 + phi * ed
        last[c] = t
        j += 1
    for k in range(K):
        d = max_time[i] - last[k]
        ed = math.exp(-beta[k] * d)
        phi, dphi = work[0, k], work[1, k]
        dmu[i, k] = dll[i] * (work[2, k] - d)
        dalpha_rows[i, k] = dll[i] * (work[3, k] - phi * (1 - ed))
        dbeta_rows[i, k] = dll[i] * (work[4, k] - alpha[k] * (dphi * (1 - ed) + phi * d * ed))


@njit(cache=True, parallel=True)
def hawkes_backward(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                    dalpha_rows, dbeta_rows):
    """Gradients of ``sum(dll * ll)``: ``dmu (N, K)`` and per-sample contributions
    ``dalpha_rows``/``dbeta_rows`` (N, K) that the caller sums over samples. The state is
    carried with its derivative in beta, as MXNet does (no gradient for state or the data)."""
    N, K = mu.shape
    for i in prange(N):
        _hawkes_grad(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                     dalpha_rows, dbeta_rows, np.zeros(K), np.zeros((5, K)), i)


@njit(cache=True)
def _kl_column(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2, c):
    """Column c of :func:`kl_sparse_backward`."""
    N = data2.shape[0]
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


@njit(cache=True, parallel=True)
def kl_sparse_backward(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2):
    """Per column: fold the batch mean of ``data2`` into ``moving_avg`` (in place), then
    ``dx = dy + penalty * (-target / avg + (1 - target) / (1 - avg))``."""
    for c in prange(data2.shape[1]):
        _kl_column(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2, c)
