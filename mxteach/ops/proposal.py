"""Region proposals of Faster R-CNN's RPN in ``mx.nd.contrib`` / ``mx.sym.contrib``:
``Proposal`` (one image) and ``MultiProposal`` (a batch). Anchors at every feature-map position
are moved by ``bbox_pred``, clipped to the image, ranked by the foreground score and thinned by
NMS, with MXNet 1.9.1's float32 arithmetic. No gradient (0, as in MXNet). Kernels:
``kernels/{cpu,cuda,reference}/proposal.py``. See notebook 01.
"""
from __future__ import annotations

import ast

import numpy as np

from .registry import Op, Param, register
from .common import zero_grads, gpu_zero_grads
from ..base import ShapeError, MXNetError

__all__ = ["PROPOSAL_OPS"]

PROPOSAL_OPS = ("Proposal", "MultiProposal")


def _c(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)


def _need(opname, arg, shape, ok, expected):
    if not ok:
        raise ShapeError(f"{opname}: input '{arg}' has shape {tuple(shape)}; expected {expected}")


# -- Proposal / MultiProposal (kernels: kernels/*/proposal.py) ---------------------------------
def _rpn_anchors(p):
    """MXNet's base anchors (ratios x scales, in that order), float32 like its C++ code."""
    f = np.float32
    side = f(p["feature_stride"])
    ctr = f(0.5 * (side - f(1)))
    rows = []
    for ratio in _floats(p["ratios"]):
        for scale in _floats(p["scales"]):
            r, s = f(ratio), f(scale)
            w = f(np.floor(np.sqrt(f(np.floor(side * side / r))) + f(0.5))) * s
            h = f(np.floor(w / s * r + f(0.5))) * s
            rows.append([ctr - f(0.5) * (w - f(1)), ctr - f(0.5) * (h - f(1)),
                         ctr + f(0.5) * (w - f(1)), ctr + f(0.5) * (h - f(1))])
    return np.array(rows, np.float32).reshape(-1, 4)


def _floats(value):
    """A tuple-of-floats parameter from a number, a sequence or its text ('(0.5, 1, 2)')."""
    if isinstance(value, str):
        value = ast.literal_eval(value.strip() or "()")
    return tuple(float(v) for v in (value if np.ndim(value) else (value,)))


def _rpn_op(name, multi):
    def outputs(p):
        return ["output", "score"] if p["output_score"] else ["output"]

    def infer_shape(p, in_shapes):
        prob = in_shapes[0]
        n_out = len(outputs(p))
        if prob is None:
            return list(in_shapes), [None] * n_out
        a = len(_floats(p["ratios"])) * len(_floats(p["scales"]))
        _need(name, "cls_prob", prob, len(prob) == 4 and prob[1] == 2 * a,
              f"(batch, 2 * {a} anchors, y, x) for {a} = len(ratios) * len(scales)")
        if not multi and prob[0] != 1:
            raise ShapeError(f"{name}: cls_prob has batch {prob[0]}; Proposal takes one image "
                             f"(use MultiProposal for a batch)")
        b = prob[0]
        want = [tuple(prob), (b, 4 * a) + tuple(prob[2:]), (b, 3)]
        for arg, got, exp in zip(("bbox_pred", "im_info"), in_shapes[1:], want[1:]):
            if got is not None:
                _need(name, arg, got, tuple(got) == exp, str(exp))
        rows = p["rpn_post_nms_top_n"] * (b if multi else 1)
        return want, [(rows, 5), (rows, 1)][:n_out]

    def counts(p, prob):
        count = prob.shape[1] // 2 * prob.shape[2] * prob.shape[3]
        pre = p["rpn_pre_nms_top_n"] if p["rpn_pre_nms_top_n"] > 0 else count
        pre = min(pre, count)
        return count, pre, min(p["rpn_post_nms_top_n"], pre)

    def check_info(p, prob, info):
        """MXNet refuses an image (im_info) larger than the feature map covers."""
        stride = p["feature_stride"]
        for b, (h, w, _) in enumerate(np.asarray(info, np.float32)):
            if int(h / stride) > prob.shape[2] or int(w / stride) > prob.shape[3]:
                raise MXNetError(f"{name}: image {b} is {h:g} x {w:g} (im_info), more than the "
                                 f"{prob.shape[2]} x {prob.shape[3]} feature map covers at "
                                 f"feature_stride {stride}")

    def forward(p, ins, outs, is_train, state):
        from ..kernels.cpu import proposal as P
        prob, deltas, info = (_c(a, np.float32) for a in ins)
        check_info(p, prob, info)
        count, pre, keep = counts(p, prob)
        props = np.empty((prob.shape[0], count, 5), np.float32)
        P.proposal_boxes(_c(prob[:, prob.shape[1] // 2:]), deltas, info, _rpn_anchors(p),
                         p["feature_stride"], p["rpn_min_size"], p["iou_loss"], props)
        rows = outs[0].shape[0]
        out, score = np.empty((rows, 5), np.float32), np.empty((rows, 1), np.float32)
        P.proposal_select(props, pre, keep, float(np.float32(p["threshold"])), out, score)
        outs[0][...] = out
        if p["output_score"]:
            outs[1][...] = score

    def gpu_forward(p, ins, outs, is_train, state):
        from numba import cuda
        from ..kernels.cuda import proposal as P
        prob, deltas, info = ins
        check_info(p, prob, info.copy_to_host())     # (batch, 3) numbers: a tiny copy
        count, pre, keep = counts(p, prob)
        props = cuda.device_array((prob.shape[0], count, 5), np.float32)
        P.proposal_boxes(prob[:, prob.shape[1] // 2:], deltas, info,
                         cuda.to_device(_rpn_anchors(p)), p["feature_stride"],
                         p["rpn_min_size"], p["iou_loss"], props)
        rows = outs[0].shape[0]
        score = outs[1] if p["output_score"] else cuda.device_array((rows, 1), outs[0].dtype)
        P.proposal_select(props, pre, keep, float(np.float32(p["threshold"])), outs[0], score)

    register(Op(
        name=name,
        params={"rpn_pre_nms_top_n": Param("int", 6000), "rpn_post_nms_top_n": Param("int", 300),
                "threshold": Param("float", 0.7), "rpn_min_size": Param("int", 16),
                "scales": Param("any", (4.0, 8.0, 16.0, 32.0)),
                "ratios": Param("any", (0.5, 1.0, 2.0)),
                "feature_stride": Param("int", 16), "output_score": Param("bool", False),
                "iou_loss": Param("bool", False)},
        arguments=["cls_prob", "bbox_pred", "im_info"], outputs=outputs,
        infer_shape=infer_shape, forward=forward, backward=zero_grads, gpu_forward=gpu_forward,
        gpu_backward=gpu_zero_grads, backward_uses=(),
        doc=("Region proposals of a Faster R-CNN RPN" + (" for each image of the batch" if multi
             else " for one image") + ": anchors at every feature-map position moved by "
             "bbox_pred, clipped to im_info (height, width, scale), the best "
             "rpn_pre_nms_top_n by the foreground half of cls_prob, NMS at threshold, "
             "rpn_post_nms_top_n rows (batch index, x1, y1, x2, y2); gradient 0 as in MXNet."))
    )


_rpn_op("_contrib_Proposal", False)
_rpn_op("_contrib_MultiProposal", True)
