"""CUDA twins of ``kernels/cpu/box.py`` (box_iou, box_nms, bipartite_matching, box_encode,
box_decode); numpy twins in ``kernels/reference/box.py``.

**Launch strategy.** IoU, encode and decode are one thread per output box (or pair). The two
greedy operators are sequential *within* a batch (whether a box survives depends on the boxes
kept before it), so they run in two steps: (1) one thread per candidate counts the candidates
that come before it in the stable score order (as ``kernels/cuda/ordering.py`` ranks) and
writes itself into ``order`` at that rank; (2) one thread per batch walks ``order`` greedily.
The batch is the unit of parallelism, as in MXNet's own kernels. PSROIPooling's forward is one
thread per output bin; its backward one thread per input plane (image, channel), which gathers
the bins that averaged it, so no two threads add into the same cell. What a thread does (one IoU,
one batch's greedy walk, one bin) is the CPU module's own function compiled for the device.
"""
from __future__ import annotations

from numba import cuda

from ..cpu import box as _cpu
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


# The scalar helpers and the per-batch walks are the CPU kernels' own functions compiled for
# the device (numba compiles the @njit helpers they call along with them). Those nested calls
# pass numbers only: under NUMBA_ENABLE_CUDASIM a device function runs as Python, and a
# simulated array cannot be handed to a compiled @njit function.
_iou_at, _candidate, _suppress, _write_kept, _copy_batch, _nms_grad_batch, _greedy_match, \
    _encode_one, _decode_one, _psroi_bin, _psroi_bin_mean = (
        cuda.jit(device=True)(f.py_func) for f in (
            _cpu._iou_at, _cpu._candidate, _cpu._suppress, _cpu._write_kept, _cpu._copy_batch,
            _cpu._nms_grad_batch, _cpu._greedy_match, _cpu._encode_one, _cpu._decode_one,
            _cpu._psroi_bin, _cpu._psroi_bin_mean))


@cuda.jit
def _iou_kernel(lhs, rhs, center, out):
    R = out.shape[1]
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i // R, i % R] = _iou_at(lhs, i // R, rhs, i % R, center)


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


@cuda.jit
def _nms_walk_kernel(data3, overlap, valid_thr, topk, coord, score, id_index, background, force,
                     center, conv, order, out3, record):
    B, N, W = data3.shape
    for b in range(cuda.grid(1), B, cuda.gridsize(1)):
        if topk == 0:
            _copy_batch(data3, b, out3, record)
            continue
        n = 0
        for i in range(N):
            if _candidate(data3, b, i, valid_thr, score, id_index, background):
                n += 1
        k = n if topk < 0 else min(n, topk)
        _suppress(data3, b, order, k, overlap, coord, id_index, force, center)
        _write_kept(data3, b, order, k, coord, conv, out3, record)


@cuda.jit
def _nms_backward_kernel(dy3, record, accumulate, dx3):
    for b in range(cuda.grid(1), dy3.shape[0], cuda.gridsize(1)):
        _nms_grad_batch(dy3, record, accumulate, dx3, b)


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
    for b in range(cuda.grid(1), scores3.shape[0], cuda.gridsize(1)):
        _greedy_match(scores3, b, order[b], threshold, is_ascend, topk, rowm, colm)


@cuda.jit
def _encode_kernel(samples, matches, anchors, refs, means, stds, targets, masks):
    for i in range(cuda.grid(1), samples.size, cuda.gridsize(1)):
        _encode_one(samples, matches, anchors, refs, means, stds, targets, masks, i)


@cuda.jit
def _decode_kernel(data, anchors, stds, clip, corner, out):
    for i in range(cuda.grid(1), data.shape[0] * data.shape[1], cuda.gridsize(1)):
        _decode_one(data, anchors, stds, clip, corner, out, i)


@cuda.jit
def _psroi_forward_kernel(data, rois, scale, group, f32, out):
    for e in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        _psroi_bin_mean(data, rois, scale, group, f32, out, e)


@cuda.jit
def _psroi_backward_kernel(dy, rois, scale, group, f32, accumulate, dx):
    # Not folded with the CPU backward: that one scatters bin by bin; here one thread per input
    # plane (image b, channel c) gathers every bin that averaged that plane, so no two threads
    # write the same cell (no atomics, deterministic).
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
                    hs, he, ws, we, gh, gw = _psroi_bin(rois[n, 1], rois[n, 2], rois[n, 3],
                                                        rois[n, 4], ph, pw, P, group, scale, H,
                                                        W, f32)
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
