"""The SSD operators (MultiBoxPrior, MultiBoxTarget, MultiBoxDetection of ``mx.*.contrib``), the
Hawkes-process likelihood ``hawkesll`` with the gradient operator MXNet exposes
(``backward_hawkesll``), and ``IdentityAttachKLSparseReg``.

Kernels: CPU ``kernels/cpu/misc_contrib.py``, CUDA ``kernels/cuda/misc_contrib.py``, numpy
twins ``kernels/reference/misc_contrib.py``.

MXNet 1.9.1 behaviours reproduced here:

* the three MultiBox operators have a gradient in MXNet, and it is 0 for every input;
* MultiBoxTarget's ``minimum_negative_samples`` is accepted and unused, MultiBoxDetection's
  ``background_id`` too (class 0 is always the background), as in MXNet's CPU code;
* MultiBoxDetection marks suppressed rows by class -1 and leaves the rest of the row;
* hawkesll's gradient reaches ``lda``, ``alpha`` and ``beta`` only (``state`` gets 0); the head
  gradient of its second output (``out_state``) is not used;
* IdentityAttachKLSparseReg is the identity forward; its backward first folds the batch mean
  of the input into the aux state ``moving_avg`` (momentum ``momentum``), then adds
  ``penalty * (-rho / avg + (1 - rho) / (1 - avg))`` to the head gradient.
"""
from __future__ import annotations

import ast

import numpy as np

from .registry import Op, Param, register, assign
from .common import (grad_mode, zero_grads, gpu_zero_grads, kernel_view, gpu_copy_forward,
                     identity_shape)
from ..base import ShapeError, MXNetError
from ..kernels.cpu import misc_contrib as K

__all__ = ["MISC_CONTRIB_OPS"]

MISC_CONTRIB_OPS = ("MultiBoxPrior", "MultiBoxTarget", "MultiBoxDetection", "hawkesll",
                    "backward_hawkesll", "IdentityAttachKLSparseReg")


def _floats(value):
    """A tuple-of-floats parameter: a number, a sequence, or its text ('(0.1, 0.2)', '[1]')."""
    if isinstance(value, str):
        value = ast.literal_eval(value.strip() or "()")
    if np.ndim(value) == 0:
        value = (value,)
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise MXNetError(f"expected a tuple of floats, got {value!r}") from None


def _f32(values):
    """MXNet keeps these parameters as C++ floats: round as it does, then compute."""
    return np.asarray(_floats(values), np.float32)


def _c(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)


def _need(opname, arg, shape, ok, expected):
    if not ok:
        raise ShapeError(f"{opname}: input '{arg}' has shape {tuple(shape)}; expected {expected}")


# -- MultiBoxPrior -----------------------------------------------------------------------------
def _prior_shape(p, in_shapes):
    steps, offsets = _floats(p["steps"]), _floats(p["offsets"])
    if len(steps) != 2 or len(offsets) != 2:
        raise MXNetError(f"MultiBoxPrior: steps {steps} and offsets {offsets} must "
                         f"have 2 values (y, x)")
    if not _floats(p["sizes"]) or not _floats(p["ratios"]):
        raise MXNetError("MultiBoxPrior: sizes and ratios need at least one value")
    if not all(0 <= o <= 1 for o in offsets):
        raise MXNetError(f"MultiBoxPrior: offsets {p['offsets']} must lie in [0, 1]")
    d = in_shapes[0]
    if d is None:
        return list(in_shapes), [None]
    _need("MultiBoxPrior", "data", d, len(d) >= 4, "4-D (batch, channel, y, x)")
    n = d[2] * d[3] * (len(_floats(p["sizes"])) + len(_floats(p["ratios"])) - 1)
    return [tuple(d)], [(1, n, 4)]


def _prior_args(p, shape):
    h, w = int(shape[2]), int(shape[3])
    steps = _f32(p["steps"])
    if steps[0] * steps[1] < 0:
        raise MXNetError(f"MultiBoxPrior: steps {p['steps']}: give both step_y and step_x")
    if steps[0] <= 0 or steps[1] <= 0:
        steps = _f32([1.0 / h, 1.0 / w])        # one cell per feature-map position
    return h, w, _f32(p["sizes"]), _f32(p["ratios"]), steps, _f32(p["offsets"]), p["clip"]


def _prior_forward(p, ins, outs, is_train, state):
    out = np.empty((outs[0].shape[1], 4), np.float32)
    K.multibox_prior(*_prior_args(p, ins[0].shape), out)
    outs[0][0] = out


def _prior_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import misc_contrib as C
    h, w, sizes, ratios, steps, offsets, clip = _prior_args(p, ins[0].shape)
    dev = cuda.to_device
    C.multibox_prior(h, w, dev(sizes), dev(ratios), dev(steps), dev(offsets), clip,
                     outs[0].reshape(outs[0].shape[1], 4))


register(Op(
    name="_contrib_MultiBoxPrior",
    params={"sizes": Param("any", (1.0,)), "ratios": Param("any", (1.0,)),
            "clip": Param("bool", False), "steps": Param("any", (-1.0, -1.0)),
            "offsets": Param("any", (0.5, 0.5))},
    arguments=["data"], infer_shape=_prior_shape, forward=_prior_forward,
    backward=zero_grads, gpu_forward=_prior_gpu_forward, gpu_backward=gpu_zero_grads,
    backward_uses=(),
    doc="SSD anchor boxes (1, H * W * (len(sizes) + len(ratios) - 1), 4) for the feature map "
        "`data` (N, C, H, W): at every position every size at ratio 1, then sizes[0] at the "
        "other ratios; corner encoding in relative units."))


# -- MultiBoxTarget ----------------------------------------------------------------------------
def _target_shape(p, in_shapes):
    if len(_floats(p["variances"])) != 4:
        raise MXNetError(f"MultiBoxTarget: variances {p['variances']} must have 4 values")
    anchor, label, pred = in_shapes
    if anchor is not None:
        _need("MultiBoxTarget", "anchor", anchor,
              len(anchor) == 3 and anchor[0] == 1 and anchor[2] == 4, "(1, num_anchors, 4)")
    if label is not None:
        _need("MultiBoxTarget", "label", label, len(label) == 3 and label[2] >= 5,
              "(batch, num_labels, >= 5)")
    if pred is not None:
        _need("MultiBoxTarget", "cls_pred", pred, len(pred) == 3 and
              (anchor is None or pred[2] == anchor[1]), "(batch, num_classes, num_anchors)")
    if anchor is None or label is None:
        return list(in_shapes), [None] * 3
    b, a = label[0], anchor[1]
    return list(in_shapes), [(b, a * 4), (b, a * 4), (b, a)]


def _target_args(p):
    ratio = float(np.float32(p["negative_mining_ratio"]))
    if ratio > 0 and p["negative_mining_thresh"] <= 0:
        raise MXNetError(f"MultiBoxTarget: negative_mining_thresh = "
                         f"{p['negative_mining_thresh']} must be > 0 when mining negatives")
    return (float(np.float32(p["overlap_threshold"])), float(np.float32(p["ignore_label"])),
            ratio, float(np.float32(p["negative_mining_thresh"])), _f32(p["variances"]))


def _target_forward(p, ins, outs, is_train, state):
    anchor, label, pred = ins
    views = [kernel_view(o, o.shape) for o in outs]
    dt = views[0][0].dtype
    K.multibox_target(_c(anchor, dt)[0], _c(label, dt), _c(pred, dt), *_target_args(p),
                      *(v for v, _ in views))
    for _, commit in views:
        commit()


def _target_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import misc_contrib as C
    anchor, label, pred = ins
    thr, ignore, ratio, neg_thr, var = _target_args(p)
    C.multibox_target(anchor.reshape(anchor.shape[1], 4), label, pred, thr, ignore, ratio,
                      neg_thr, cuda.to_device(var), *outs)


_VAR = Param("any", (0.1, 0.1, 0.2, 0.2), doc="(x, y, w, h) scales of the box regression")
register(Op(
    name="_contrib_MultiBoxTarget",
    params={"overlap_threshold": Param("float", 0.5), "ignore_label": Param("float", -1.0),
            "negative_mining_ratio": Param("float", -1.0),
            "negative_mining_thresh": Param("float", 0.5),
            "minimum_negative_samples": Param("int", 0, doc="accepted, unused (as in MXNet)"),
            "variances": _VAR},
    arguments=["anchor", "label", "cls_pred"], outputs=["loc_target", "loc_mask", "cls_target"],
    infer_shape=_target_shape, forward=_target_forward, backward=zero_grads,
    gpu_forward=_target_gpu_forward, gpu_backward=gpu_zero_grads, backward_uses=(),
    doc="SSD training targets: every ground truth takes its best anchor, then every anchor "
        "over overlap_threshold its best ground truth (positives: class + 1, box offsets and "
        "mask); negatives (class 0) are all others, or with negative_mining_ratio > 0 the "
        "ones cls_pred finds least background-like; the rest get ignore_label."))


# -- MultiBoxDetection -------------------------------------------------------------------------
def _detect_shape(p, in_shapes):
    if len(_floats(p["variances"])) != 4:
        raise MXNetError(f"MultiBoxDetection: variances {p['variances']} must have 4 values")
    prob, loc, anchor = in_shapes
    if prob is not None:
        _need("MultiBoxDetection", "cls_prob", prob, len(prob) == 3,
              "(batch, num_classes, num_anchors)")
    if anchor is not None:
        _need("MultiBoxDetection", "anchor", anchor, len(anchor) == 3 and anchor[2] == 4 and
              (prob is None or anchor[1] == prob[2]), "(1, num_anchors, 4)")
    if loc is not None and prob is not None:
        _need("MultiBoxDetection", "loc_pred", loc, len(loc) == 2 and loc[1] == prob[2] * 4,
              f"(batch, {prob[2] * 4})")
    if prob is None:
        return list(in_shapes), [None]
    return list(in_shapes), [(prob[0], prob[2], 6)]


def _detect_args(p):
    return (float(np.float32(p["threshold"])), p["clip"], _f32(p["variances"]),
            float(np.float32(p["nms_threshold"])), p["force_suppress"], p["nms_topk"])


def _detect_forward(p, ins, outs, is_train, state):
    prob, loc, anchor = ins
    out, commit = kernel_view(outs[0], outs[0].shape)
    thr, clip, var, nms, force, topk = _detect_args(p)
    dt = out.dtype
    K.multibox_detection(_c(prob, dt), _c(loc, dt), _c(anchor, dt).reshape(-1, 4)[:prob.shape[2]],
                         thr, clip, var, nms, force, topk, out)
    commit()


def _detect_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import misc_contrib as C
    prob, loc, anchor = ins
    thr, clip, var, nms, force, topk = _detect_args(p)
    A = prob.shape[2]
    C.multibox_detection(prob, loc, anchor.reshape(anchor.size // 4, 4)[:A], thr, clip,
                         cuda.to_device(var), nms, force, topk, outs[0])


register(Op(
    name="_contrib_MultiBoxDetection",
    params={"clip": Param("bool", True), "threshold": Param("float", 0.01),
            "background_id": Param("int", 0, doc="accepted, unused (as in MXNet's kernels)"),
            "nms_threshold": Param("float", 0.5), "force_suppress": Param("bool", False),
            "variances": _VAR, "nms_topk": Param("int", -1)},
    arguments=["cls_prob", "loc_pred", "anchor"], infer_shape=_detect_shape,
    forward=_detect_forward, backward=zero_grads, gpu_forward=_detect_gpu_forward,
    gpu_backward=gpu_zero_grads, backward_uses=(),
    doc="SSD detections (batch, num_anchors, 6) rows (class, score, xmin, ymin, xmax, ymax): "
        "each anchor's best foreground class over threshold with its decoded box, sorted by "
        "score (nms_topk first) and non-maximum suppressed (class -1)."))


# -- hawkesll and backward_hawkesll ------------------------------------------------------------
_HAWKES_ARGS = ["lda", "alpha", "beta", "state", "lags", "marks", "valid_length", "max_time"]


def _hawkes_check(opname, shapes):
    """(N, T, K) from the eight input shapes, each checked."""
    n, t = shapes[4][0], shapes[4][1] if len(shapes[4]) == 2 else None
    k = shapes[0][1] if len(shapes[0]) == 2 else None
    want = [(n, k), (k,), (k,), (n, k), (n, t), (n, t), (n,), (n,)]
    for name, got, exp in zip(_HAWKES_ARGS, shapes, want):
        if tuple(got) != exp:
            raise ShapeError(f"{opname}: input '{name}' has shape {tuple(got)}; expected {exp} "
                             f"(N samples, T events, K processes)")
    return n, t, k


def _hawkes_shape(p, in_shapes):
    if any(s is None for s in in_shapes):
        return list(in_shapes), [None, None]
    n, _, k = _hawkes_check("hawkesll", in_shapes)
    return [tuple(s) for s in in_shapes], [(n,), (n, k)]


def _hawkes_types(p, in_types):
    known = next((t for i, t in enumerate(in_types) if t is not None and i != 5), None)
    types = [known] * 8
    types[5] = "int32"      # marks are process ids
    return types, [known, known]


def _hawkes_inputs(ins, dtype):
    return [_c(a, np.int32 if i == 5 else dtype) for i, a in enumerate(ins)]


def _hawkes_forward(p, ins, outs, is_train, state):
    ll, c1 = kernel_view(outs[0], outs[0].shape)
    st, c2 = kernel_view(outs[1], outs[1].shape)
    K.hawkes_forward(*_hawkes_inputs(ins, ll.dtype), ll, st)
    c1()
    c2()


def _hawkes_grads(dll, ins, dtype):
    """(dlda, dalpha, dbeta) of sum(dll * ll) on the CPU."""
    n, k = ins[0].shape
    rows = [np.empty((n, k), dtype) for _ in range(3)]
    K.hawkes_backward(_c(dll, dtype), *_hawkes_inputs(ins, dtype), *rows)
    return rows[0], rows[1].sum(0), rows[2].sum(0)


def _no_data_grads(reqs, igrads):
    for i in range(4, 8):
        if grad_mode(reqs[i], igrads[i]):
            raise MXNetError(f"hawkesll: input '{_HAWKES_ARGS[i]}' has no gradient; bind it "
                             f"with grad_req 'null' (MXNet fails the same way)")


def _hawkes_backward(p, ograds, ins, outs, igrads, reqs, state):
    _no_data_grads(reqs, igrads)
    dlda, dalpha, dbeta = _hawkes_grads(ograds[0], ins, outs[0].dtype)
    for i, g in enumerate((dlda, dalpha, dbeta, 0)):
        assign(igrads[i], reqs[i], g)


def _hawkes_gpu_grads(dll, ins, dsts, modes):
    """GPU gradients into ``dsts`` (lda, alpha, beta) where ``modes`` asks (1 write, 2 add)."""
    from numba import cuda
    from ..kernels.cuda import elemwise, misc_contrib as C
    rows = [cuda.device_array(ins[0].shape, ins[0].dtype) for _ in range(3)]
    C.hawkes_backward(dll, *ins, *rows)
    if modes[0]:
        elemwise.copy(rows[0], dsts[0], modes[0] == 2)
    for i in (1, 2):
        if modes[i]:
            C.sum_rows(rows[i], modes[i] == 2, dsts[i])


def _hawkes_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import misc_contrib as C
    C.hawkes_forward(*ins, outs[0], outs[1])


def _hawkes_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise
    _no_data_grads(reqs, igrads)
    modes = [grad_mode(r, g) for r, g in zip(reqs[:4], igrads[:4])]
    if any(modes[:3]):
        _hawkes_gpu_grads(ograds[0], ins, igrads[:3], modes[:3])
    if modes[3] == 1:
        elemwise.fill(igrads[3], 0)


register(Op(
    name="_contrib_hawkesll", arguments=_HAWKES_ARGS, outputs=["output", "out_state"],
    params={}, infer_shape=_hawkes_shape, infer_type=_hawkes_types, forward=_hawkes_forward,
    backward=_hawkes_backward, gpu_forward=_hawkes_gpu_forward,
    gpu_backward=_hawkes_gpu_backward, backward_uses=("ins",),
    doc="Log likelihood (N,) of K independent exponential Hawkes processes per sample, "
        "intensity lda_k + alpha_k * beta_k * sum exp(-beta_k (t - t_i)) over the events "
        "(lags, marks) in (0, max_time], starting from the memory `state`; also the memory "
        "at max_time (N, K). Differentiable in lda, alpha and beta."))


_BACK_ARGS = ["ograd_output", "ograd_out_state"] + _HAWKES_ARGS


def _back_shape(p, in_shapes):
    if any(s is None for s in in_shapes):
        return list(in_shapes), [None] * 8
    n, _, k = _hawkes_check("backward_hawkesll", in_shapes[2:])
    _need("backward_hawkesll", "ograd_output", in_shapes[0], tuple(in_shapes[0]) == (n,),
          f"({n},)")
    _need("backward_hawkesll", "ograd_out_state", in_shapes[1],
          tuple(in_shapes[1]) == (n, k), f"({n}, {k})")
    return [tuple(s) for s in in_shapes], [tuple(s) for s in in_shapes[2:]]


def _back_types(p, in_types):
    types, _ = _hawkes_types(p, in_types[2:])
    return [types[0], types[0]] + types, types


def _back_forward(p, ins, outs, is_train, state):
    dlda, dalpha, dbeta = _hawkes_grads(ins[0], ins[2:], outs[0].dtype)
    for o, g in zip(outs, (dlda, dalpha, dbeta)):
        o[...] = g
    for o in outs[3:]:
        o[...] = 0


def _back_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise
    _hawkes_gpu_grads(ins[0], ins[2:], outs[:3], (1, 1, 1))
    for o in outs[3:]:
        elemwise.fill(o, 0)


register(Op(
    name="_contrib_backward_hawkesll", arguments=_BACK_ARGS,
    outputs=[f"{a}_grad" for a in _HAWKES_ARGS], params={}, infer_shape=_back_shape,
    infer_type=_back_types, forward=_back_forward, gpu_forward=_back_gpu_forward,
    doc="hawkesll's gradient as an operator (MXNet exposes it): from the head gradients and "
        "hawkesll's eight inputs, the gradients of those inputs — lda, alpha and beta, zeros "
        "for the others (the head gradient of out_state is not used)."))


# -- IdentityAttachKLSparseReg -----------------------------------------------------------------
def _kl_shape(p, in_shapes):
    for name in ("sparseness_target", "momentum"):
        if not 0 <= p[name] <= 1:
            raise MXNetError(f"IdentityAttachKLSparseReg: {name} = {p[name]} must lie in [0, 1]")
    d = in_shapes[0]
    if d is None:
        return list(in_shapes), [None]
    d = tuple(d)
    _need("IdentityAttachKLSparseReg", "data", d,
          len(d) >= 2 and int(np.prod(d[1:], dtype=np.int64)) == d[1],
          "(batch, units) (MXNet averages each unit over the batch)")
    _, outs = identity_shape(p, [d])
    return [d, (d[1],)], outs


def _kl_forward(p, ins, outs, is_train, state):
    outs[0][...] = ins[0]


def _kl_args(p):
    return (float(np.float32(p["sparseness_target"])), float(np.float32(p["penalty"])),
            float(np.float32(p["momentum"])))


def _kl_backward(p, ograds, ins, outs, igrads, reqs, state):
    data, avg = ins
    n = data.shape[0]
    shape2 = (n, data.size // n)
    dt = avg.dtype
    if grad_mode(reqs[0], igrads[0]):
        dx, commit = kernel_view(igrads[0], shape2)
    else:       # MXNet still updates the moving average
        dx, commit = np.empty(shape2, dt), (lambda: None)
    mavg = _c(avg, np.float64)
    K.kl_sparse_backward(_c(data, dx.dtype).reshape(shape2), _c(ograds[0], dx.dtype).reshape(
        shape2), *_kl_args(p), mavg, reqs[0] == "add", dx)
    avg[...] = mavg
    commit()


def _kl_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from numba import cuda
    from ..kernels.cuda import misc_contrib as C
    data, avg = ins
    n = data.shape[0]
    shape2 = (n, data.size // n)
    mode = grad_mode(reqs[0], igrads[0])
    dx = igrads[0].reshape(shape2) if mode else cuda.device_array(shape2, data.dtype)
    C.kl_sparse_backward(data.reshape(shape2), ograds[0].reshape(shape2), *_kl_args(p), avg,
                         mode == 2, dx)


register(Op(
    name="IdentityAttachKLSparseReg",
    params={"sparseness_target": Param("float", 0.1), "penalty": Param("float", 0.001),
            "momentum": Param("float", 0.9)},
    arguments=["data"], aux=["moving_avg"], infer_shape=_kl_shape, forward=_kl_forward,
    backward=_kl_backward, gpu_forward=gpu_copy_forward, gpu_backward=_kl_gpu_backward,
    backward_uses=("ins",),
    doc="Identity forward; backward adds the gradient of a KL sparsity penalty on the mean "
        "activation of each unit (a sigmoid output), tracked by the aux state moving_avg, "
        "to the head gradient."))
