"""CUDA twins of ``kernels/cpu/misc_contrib.py`` (MultiBoxPrior, MultiBoxTarget,
MultiBoxDetection, hawkesll and its gradient, IdentityAttachKLSparseReg's backward); numpy twins
in ``kernels/reference/misc_contrib.py``. The host functions have the CPU signatures and
allocate their own scratch arrays.

**Launch strategy.** MultiBoxPrior is one thread per anchor. MultiBoxTarget runs in three
launches: (1) one thread per image does the greedy matching (sequential by nature) and the
background probability of each negative candidate; (2) one thread per anchor ranks its
candidate among the image's (stable order) to pick the hard negatives; (3) one thread per
anchor writes the targets. MultiBoxDetection likewise: (1) one thread per anchor decodes its
box, (2) one per anchor places it (anchor order, then score order), (3) one per image
suppresses. The Hawkes recursion is one thread per sample; the per-sample alpha/beta gradient
rows are then summed by one thread per process. The KL penalty is one thread per unit. What one
thread computes (an anchor, a row, a sample, a unit) is the CPU module's own function compiled
for the device; the greedy matching differs (three launches here, one loop on the CPU).
"""
from __future__ import annotations

import numpy as np
from numba import cuda, float32

from ..cpu import misc_contrib as _cpu
from .launch import grid_1d, check_device_arrays

__all__ = ["multibox_prior", "multibox_target", "multibox_detection", "hawkes_forward",
           "hawkes_backward", "sum_rows", "kl_sparse_backward"]

_T3 = "{t}[:, :, ::1]"
_T2 = "{t}[:, ::1]"
_H8 = "{t}[:, ::1], {t}[::1], {t}[::1], {t}[:, ::1], {t}[:, ::1], int32[:, ::1], {t}[::1], {t}[::1]"
PTX_SIGNATURES = {
    "_prior_kernel": ["int64, int64, float32[::1], float32[::1], float32[::1], float32[::1], "
                      "boolean, {t}[:, ::1]"],
    "_match_kernel": [f"{_T2}, {_T3}, {_T3}, float64, float64, float64, float32[::1], "
                      f"{_T3}, int64[:, ::1], int64[:, ::1], float64[:, ::1], int8[:, ::1], "
                      "int64[::1], int8[:, ::1]"],
    "_mining_kernel": ["float64[:, ::1], int8[:, ::1], int64[::1], int8[:, ::1]"],
    "_assign_kernel": [f"{_T2}, {_T3}, float64, float64, float32[::1], int64[:, ::1], "
                       f"int64[:, ::1], int8[:, ::1], {_T2}, {_T2}, {_T2}"],
    "_decode_kernel": [f"{_T3}, {_T2}, {_T2}, float64, boolean, float32[::1], {_T3}"],
    "_place_kernel": [f"{_T3}, float64, int64, {_T3}"],
    "_suppress_kernel": [f"{_T3}, float64, boolean, int64, {_T3}"],
    "_hawkes_forward_kernel": [_H8 + ", {t}[::1], {t}[:, ::1], float64[:, ::1]"],
    "_hawkes_backward_kernel": ["{t}[::1], " + _H8 + ", {t}[:, ::1], {t}[:, ::1], {t}[:, ::1], "
                                "float64[:, ::1], float64[:, :, ::1]"],
    "_sum_rows_kernel": [f"{_T2}, boolean, {{t}}[::1]"],
    "_kl_kernel": [f"{_T2}, {_T2}, float64, float64, float64, {{t}}[::1], boolean, {_T2}"],
}


# The per-anchor, per-row and per-sample work is the CPU module's own functions compiled for
# the device; the kernels below only spread it over threads.
_prior_half, _prior_write, _iou, _background_prob, _loc_target, _best_class, _decode_anchor, \
    _suppress_rows, _hawkes_ll, _hawkes_grad, _kl_column = (
        cuda.jit(device=True)(f.py_func) for f in (
            _cpu._prior_half, _cpu._prior_write, _cpu._match_iou, _cpu._background_prob,
            _cpu._loc_target, _cpu._best_class, _cpu._decode_anchor, _cpu._suppress_rows,
            _cpu._hawkes_ll, _cpu._hawkes_grad, _cpu._kl_column))


# -- MultiBoxPrior -----------------------------------------------------------------------------
@cuda.jit
def _prior_kernel(height, width, sizes, ratios, steps, offsets, clip, out):
    per = sizes.shape[0] + ratios.shape[0] - 1
    hw = float32(height) / float32(width)
    for e in range(cuda.grid(1), height * width * per, cuda.gridsize(1)):
        pos, i = e // per, e % per
        cy = (float32(pos // width) + offsets[0]) * steps[0]
        cx = (float32(pos % width) + offsets[1]) * steps[1]
        w, h = _prior_half(sizes, ratios, i, hw)
        _prior_write(out, e, cx, cy, w, h, clip)


# -- MultiBoxTarget ----------------------------------------------------------------------------
@cuda.jit
def _match_kernel(anchors, labels, preds, thr, ratio, neg_thr, var, iou, flags, match, prob,
                  gt_done, n_neg, cand):
    B, L, _ = labels.shape
    A = anchors.shape[0]
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        n_gt = 0
        while n_gt < L and labels[b, n_gt, 0] != -1.0:
            n_gt += 1
        n_neg[b] = 0
        for j in range(A):
            flags[b, j] = -1
            cand[b, j] = 0
            prob[b, j] = -1.0          # best IoU until the candidates' probability replaces it
        if n_gt == 0:
            flags[b, 0] = -2           # "no ground truth": every anchor keeps ignore_label
            continue
        for j in range(A):
            for k in range(n_gt):
                iou[b, j, k] = _iou(anchors[j], labels[b, k, 1:5])
        for k in range(n_gt):
            gt_done[b, k] = 0
        positives = 0
        for _ in range(n_gt):
            bj, bk, top = -1, -1, 1e-6
            for j in range(A):
                if flags[b, j] == 1:
                    continue
                for k in range(n_gt):
                    if gt_done[b, k] == 0 and iou[b, j, k] > top:
                        bj, bk, top = j, k, iou[b, j, k]
            if bj < 0:
                break
            match[b, bj] = bk
            flags[b, bj] = 1
            gt_done[b, bk] = 1
            positives += 1
        for j in range(A):
            if flags[b, j] == 1 or (thr <= 0 and ratio <= 0):
                continue
            kb, vb = -1, -1.0
            for k in range(n_gt):
                if iou[b, j, k] > vb:
                    kb, vb = k, iou[b, j, k]
            prob[b, j] = vb
            match[b, j] = kb
            if thr > 0 and vb > thr:
                flags[b, j] = 1
                positives += 1
        if ratio > 0:
            n_neg[b] = min(int(positives * ratio), A - positives)
            for j in range(A):
                if flags[b, j] == -1 and prob[b, j] < neg_thr:
                    prob[b, j] = _background_prob(preds[b], j)
                    cand[b, j] = 1
        else:
            for j in range(A):
                if flags[b, j] != 1:
                    flags[b, j] = 0


@cuda.jit
def _mining_kernel(prob, cand, n_neg, neg):
    B, A = prob.shape
    for e in range(cuda.grid(1), B * A, cuda.gridsize(1)):
        b, j = e // A, e % A
        neg[b, j] = 0
        if cand[b, j] == 0:
            continue
        v = prob[b, j]
        rank = 0
        for q in range(A):
            if cand[b, q] == 1 and (prob[b, q] < v or (prob[b, q] == v and q < j)):
                rank += 1
        if rank < n_neg[b]:
            neg[b, j] = 1


@cuda.jit
def _assign_kernel(anchors, labels, ignore_label, ratio, var, flags, match, neg, loc, mask, cls):
    B, A = cls.shape
    for e in range(cuda.grid(1), B * A, cuda.gridsize(1)):
        b, j = e // A, e % A
        f = flags[b, j]
        if flags[b, 0] == -2:          # this image has no ground truth
            f = -1
        elif f == -1 and neg[b, j] == 1:
            f = 0
        for q in range(4):
            loc[b, 4 * j + q] = 0
            mask[b, 4 * j + q] = 0
        if f == 1:
            g = labels[b, match[b, j]]
            loc[b, 4 * j], loc[b, 4 * j + 1], loc[b, 4 * j + 2], loc[b, 4 * j + 3] = \
                _loc_target(anchors[j], g, var)
            for q in range(4):
                mask[b, 4 * j + q] = 1
            cls[b, j] = g[0] + 1
        elif f == 0:
            cls[b, j] = 0
        else:
            cls[b, j] = ignore_label


# -- MultiBoxDetection -------------------------------------------------------------------------
@cuda.jit
def _decode_kernel(prob, loc, anchors, threshold, clip, var, rows):
    B, C, A = prob.shape
    for e in range(cuda.grid(1), B * A, cuda.gridsize(1)):
        b, i = e // A, e % A
        cid, score = _best_class(prob, b, i, threshold)
        rows[b, i, 0] = cid - 1
        rows[b, i, 1] = score
        box = _decode_anchor(loc, b, i, anchors[i], var)
        for j in range(4):
            rows[b, i, 2 + j] = min(max(box[j], 0.0), 1.0) if clip else box[j]


@cuda.jit
def _place_kernel(rows, nms_thr, topk, out):
    B, A, _ = rows.shape
    for e in range(cuda.grid(1), B * A, cuda.gridsize(1)):
        b, i = e // A, e % A
        if rows[b, i, 0] < 0:
            continue
        n = 0
        pos = 0
        rank = 0
        v = rows[b, i, 1]
        for q in range(A):
            if rows[b, q, 0] >= 0:
                n += 1
                if q < i:
                    pos += 1
                w = rows[b, q, 1]
                if w > v or (w == v and q < i):
                    rank += 1
        sort = 0 < nms_thr <= 1
        keep = n if topk <= 0 or topk >= n else topk
        if not sort:
            for j in range(6):
                out[b, pos, j] = rows[b, i, j]
            continue
        if rank < keep:
            for j in range(6):
                out[b, rank, j] = rows[b, i, j]
        if pos >= keep:         # past topk: the unsorted row stays, its class set to -1
            for j in range(6):
                out[b, pos, j] = rows[b, i, j]
            out[b, pos, 0] = -1


@cuda.jit
def _suppress_kernel(rows, nms_thr, force, topk, out):
    B, A, _ = rows.shape
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        if not 0 < nms_thr <= 1:
            continue
        n = 0
        for q in range(A):
            if rows[b, q, 0] >= 0:
                n += 1
        _suppress_rows(out, b, n if topk <= 0 or topk >= n else topk, nms_thr, force)


# -- hawkesll ----------------------------------------------------------------------------------
@cuda.jit
def _hawkes_forward_kernel(mu, alpha, beta, state, lags, marks, valid_length, max_time, ll,
                           out_state, last):
    for i in range(cuda.grid(1), mu.shape[0], cuda.gridsize(1)):
        ll[i] = _hawkes_ll(mu, alpha, beta, state, lags, marks, valid_length, max_time,
                           out_state, last[i], i)


@cuda.jit
def _hawkes_backward_kernel(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time,
                            dmu, dalpha_rows, dbeta_rows, last, work):
    for i in range(cuda.grid(1), mu.shape[0], cuda.gridsize(1)):
        _hawkes_grad(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                     dalpha_rows, dbeta_rows, last[i], work[i], i)


@cuda.jit
def _sum_rows_kernel(rows, accumulate, out):
    N, K = rows.shape
    for k in range(cuda.grid(1), K, cuda.gridsize(1)):
        s = 0.0
        for i in range(N):
            s += rows[i, k]
        if accumulate:
            out[k] += s
        else:
            out[k] = s


# -- IdentityAttachKLSparseReg -----------------------------------------------------------------
@cuda.jit
def _kl_kernel(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2):
    for c in range(cuda.grid(1), data2.shape[1], cuda.gridsize(1)):
        _kl_column(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2, c)


# -- host launchers: the signatures of kernels/cpu/misc_contrib.py ----------------------------
def multibox_prior(height, width, sizes, ratios, steps, offsets, clip, out):
    check_device_arrays("MultiBoxPrior", sizes=sizes, ratios=ratios, steps=steps,
                        offsets=offsets, out=out)
    blocks, threads = grid_1d(out.shape[0])
    _prior_kernel[blocks, threads](height, width, sizes, ratios, steps, offsets, bool(clip), out)


def multibox_target(anchors, labels, preds, thr, ignore_label, ratio, neg_thr, var, loc, mask,
                    cls):
    check_device_arrays("MultiBoxTarget", anchors=anchors, labels=labels, preds=preds, var=var,
                        loc=loc, mask=mask, cls=cls)
    B, L, _ = labels.shape
    A = anchors.shape[0]
    dev = cuda.device_array
    iou = dev((B, A, L), labels.dtype)
    flags, match = dev((B, A), np.int64), dev((B, A), np.int64)
    prob, cand, neg = dev((B, A), np.float64), dev((B, A), np.int8), dev((B, A), np.int8)
    gt_done, n_neg = dev((B, L), np.int8), dev(B, np.int64)
    blocks, threads = grid_1d(B)
    _match_kernel[blocks, threads](anchors, labels, preds, float(thr), float(ratio),
                                   float(neg_thr), var, iou, flags, match, prob, gt_done, n_neg,
                                   cand)
    blocks, threads = grid_1d(B * A)
    _mining_kernel[blocks, threads](prob, cand, n_neg, neg)
    _assign_kernel[blocks, threads](anchors, labels, float(ignore_label), float(ratio), var,
                                    flags, match, neg, loc, mask, cls)


def multibox_detection(prob, loc, anchors, threshold, clip, var, nms_thr, force, topk, out):
    from .elemwise import fill
    check_device_arrays("MultiBoxDetection", prob=prob, loc=loc, anchors=anchors, var=var,
                        out=out)
    B, _, A = prob.shape
    rows = cuda.device_array((B, A, 6), out.dtype)      # every anchor decoded
    fill(out, -1)
    blocks, threads = grid_1d(B * A)
    _decode_kernel[blocks, threads](prob, loc, anchors, float(threshold), bool(clip), var, rows)
    _place_kernel[blocks, threads](rows, float(nms_thr), int(topk), out)
    blocks, threads = grid_1d(B)
    _suppress_kernel[blocks, threads](rows, float(nms_thr), bool(force), int(topk), out)


def hawkes_forward(mu, alpha, beta, state, lags, marks, valid_length, max_time, ll, out_state):
    check_device_arrays("hawkesll", mu=mu, alpha=alpha, beta=beta, state=state, lags=lags,
                        marks=marks, valid_length=valid_length, max_time=max_time, ll=ll,
                        out_state=out_state)
    blocks, threads = grid_1d(mu.shape[0])
    _hawkes_forward_kernel[blocks, threads](mu, alpha, beta, state, lags, marks, valid_length,
                                            max_time, ll, out_state,
                                            cuda.device_array(mu.shape, np.float64))


def hawkes_backward(dll, mu, alpha, beta, state, lags, marks, valid_length, max_time, dmu,
                    dalpha_rows, dbeta_rows):
    check_device_arrays("hawkesll backward", dll=dll, mu=mu, alpha=alpha, beta=beta,
                        state=state, lags=lags, marks=marks, valid_length=valid_length,
                        max_time=max_time, dmu=dmu, dalpha_rows=dalpha_rows,
                        dbeta_rows=dbeta_rows)
    N, K = mu.shape
    blocks, threads = grid_1d(N)
    _hawkes_backward_kernel[blocks, threads](dll, mu, alpha, beta, state, lags, marks,
                                             valid_length, max_time, dmu, dalpha_rows,
                                             dbeta_rows, cuda.device_array((N, K), np.float64),
                                             cuda.device_array((N, 5, K), np.float64))


def sum_rows(rows, accumulate, out):
    """``out (+)= rows.sum(0)``: the per-sample alpha/beta gradient rows summed."""
    check_device_arrays("sum_rows", rows=rows, out=out)
    blocks, threads = grid_1d(rows.shape[1])
    _sum_rows_kernel[blocks, threads](rows, bool(accumulate), out)


def kl_sparse_backward(data2, dy2, target, penalty, momentum, moving_avg, accumulate, dx2):
    check_device_arrays("IdentityAttachKLSparseReg", data2=data2, dy2=dy2,
                        moving_avg=moving_avg, dx2=dx2)
    blocks, threads = grid_1d(data2.shape[1])
    _kl_kernel[blocks, threads](data2, dy2, float(target), float(penalty), float(momentum),
                                moving_avg, bool(accumulate), dx2)
