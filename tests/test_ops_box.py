"""The bounding-box operators (ops/box.py, issue 17): box_iou, box_nms (and its alias
box_non_maximum_suppression), bipartite_matching, box_encode, box_decode. The CPU kernels
against their numpy twins, numpy formulas, box_nms's gradient by finite differences and
grad_req add, MXNet 1.9.1 parity of forward and backward (one oracle call), CPU vs GPU under
the simulator, the CUDA kernels against the twins, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import box as K
from mxteach.kernels.reference import box as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _boxes(n, seed, lead=(), center=False):
    rs = np.random.RandomState(seed)
    xy = rs.uniform(0, 1, lead + (n, 2))
    wh = rs.uniform(0.1, 0.6, lead + (n, 2))
    return np.concatenate([xy, wh] if center else [xy, xy + wh], axis=-1)


def _nms_data(batch, n, seed, classes=3):
    """Rows (class id, score, xmin, ymin, xmax, ymax) with distinct scores and heavy overlap."""
    rs = np.random.RandomState(seed)
    ids = rs.randint(0, classes, (batch, n, 1)).astype(np.float64)
    scores = rs.permutation(batch * n).reshape(batch, n, 1) / (batch * n) + 0.01
    return np.concatenate([ids, scores, _boxes(n, seed + 1, (batch,)) * 0.5], axis=-1)


def _anchors(n, seed):
    return _boxes(n, seed, (1,))


NMS = _nms_data(2, 8, 3)
NMS_TIES = np.array([[[0, .5, .1, .1, .2, .2], [1, .4, .1, .1, .2, .2], [0, .7, .5, .5, .9, .9],
                      [0, .5, .11, .1, .2, .2], [1, .05, -.3, .1, .2, .2],
                      [2, .9, -.1, .1, .2, .3]]])
SCORES = np.random.RandomState(4).uniform(0, 1, (2, 3, 4))

# name, inputs (float64), params
CASES = [
    ("box_iou", [_boxes(3, 0), _boxes(4, 1)], {}),
    ("box_iou", [_boxes(3, 0, (2,), True), _boxes(2, 1, (), True)], {"format": "center"}),
    ("box_nms", [NMS], {}),
    ("box_nms", [NMS], {"overlap_thresh": 0.1, "valid_thresh": 0.3, "topk": 5}),
    ("box_nms", [NMS], {"id_index": 0, "overlap_thresh": 0.2, "out_format": "center"}),
    ("box_nms", [NMS], {"id_index": 0, "background_id": 1, "force_suppress": True,
                        "overlap_thresh": 0.2}),
    ("box_nms", [NMS.reshape(2, 1, 8, 6)], {"topk": 0}),
    ("box_nms", [NMS[..., [2, 3, 4, 5, 1, 0]]], {"coord_start": 0, "score_index": 4,
                                                 "in_format": "center", "overlap_thresh": 0.3}),
    ("box_non_maximum_suppression", [NMS_TIES], {"overlap_thresh": 0.4}),
    ("box_non_maximum_suppression", [NMS_TIES], {"id_index": 0, "out_format": "center"}),
    ("bipartite_matching", [SCORES], {"threshold": 0.2}),
    ("bipartite_matching", [SCORES], {"threshold": 0.6, "is_ascend": True}),
    ("bipartite_matching", [SCORES[0]], {"threshold": 0.1, "topk": 1}),
    ("box_encode", [np.array([[1., -1, 0, 1, 1]]), np.array([[0., 1, 1, 2, 0]]),
                    _anchors(5, 6), _boxes(3, 7, (1,)), np.array([0, .1, 0, .2]),
                    np.array([.1, .1, .2, .3])], {}),
    ("box_decode", [np.random.RandomState(8).normal(0, .3, (2, 4, 4)), _anchors(4, 9)], {}),
    ("box_decode", [np.random.RandomState(8).normal(0, .3, (2, 4, 4)), _anchors(4, 9)],
     {"format": "corner", "clip": 0.1, "std0": 0.1, "std2": 0.3}),
]
PS_DATA = np.random.RandomState(10).uniform(-1, 1, (2, 18, 7, 6))
PS_ROIS = np.array([[0, 1.5, 0.4, 9.6, 11.2], [1, 0, 0, 5, 5], [1, 3.5, 2.5, 12, 13],
                    [0, 10, 10, 9, 9]])
CASES += [
    ("PSROIPooling", [PS_DATA, PS_ROIS], {"spatial_scale": 0.5, "output_dim": 2,
                                          "pooled_size": 3}),
    ("PSROIPooling", [PS_DATA[:, :8], PS_ROIS[:3] * 1.7], {"spatial_scale": 0.3,
                                                           "output_dim": 2, "pooled_size": 3,
                                                           "group_size": 2}),
]
_RS = np.random.RandomState(3)
RPN_PROB = _RS.uniform(0, 1, (2, 12, 5, 6))
RPN_DELTAS = _RS.normal(0, 0.3, (2, 24, 5, 6))
RPN_INFO = np.array([[70, 90, 1.0], [80, 60, 0.5]])
RPN = {"scales": (2, 4), "ratios": (0.5, 1, 2), "rpn_pre_nms_top_n": 40,
       "rpn_post_nms_top_n": 20, "threshold": 0.6, "rpn_min_size": 8, "output_score": True}
CASES += [
    ("Proposal", [RPN_PROB[:1], RPN_DELTAS[:1], RPN_INFO[:1]], RPN),
    ("Proposal", [RPN_PROB[:1], RPN_DELTAS[:1], RPN_INFO[:1]],
     dict(RPN, output_score=False, threshold=0.9, rpn_min_size=4)),
    ("MultiProposal", [RPN_PROB, RPN_DELTAS, RPN_INFO], RPN),
    ("MultiProposal", [RPN_PROB, RPN_DELTAS, RPN_INFO],
     dict(RPN, iou_loss=True, rpn_pre_nms_top_n=-1, rpn_post_nms_top_n=100)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _iou_numpy(a, b, center):
    """IoU written out directly (corner form), independent of the kernels' helpers."""
    if center:
        a = np.concatenate([a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2], -1)
        b = np.concatenate([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], -1)
    a, b = a[..., :, None, :], b[None, ...] if b.ndim == 2 else b
    lo = np.maximum(a[..., :2], b[..., :2])
    hi = np.minimum(a[..., 2:], b[..., 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), -1)
    area = lambda x: np.prod(x[..., 2:] - x[..., :2], -1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_box_iou_equals_numpy():
    for k in (0, 1):
        _, (lhs, rhs), params = CASES[k]
        for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
            out = run_op("_contrib_box_iou", [lhs.astype(dtype), rhs.astype(dtype)],
                         **params)[0][0]
            want = _iou_numpy(lhs, rhs, params.get("format") == "center")
            assert out.shape == lhs.shape[:-1] + rhs.shape[:-1] and out.dtype == dtype
            np.testing.assert_allclose(out, want.reshape(out.shape), rtol=tol, atol=tol)


def _nms_numpy(x, thresh):
    """Plain greedy NMS of one batch (no classes): indices kept, best score first."""
    order = sorted(range(len(x)), key=lambda i: -x[i, 1])
    kept = []
    for i in order:
        if all(_iou_numpy(x[i, 2:][None], x[j, 2:][None], False)[0, 0] <= thresh for j in kept):
            kept.append(i)
    return kept


def test_box_nms_equals_greedy_numpy():
    out = run_op("_contrib_box_nms", [NMS], overlap_thresh=0.3)[0][0]
    for b in range(2):
        kept = _nms_numpy(NMS[b], 0.3)
        np.testing.assert_array_equal(out[b, :len(kept)], NMS[b, kept])
        assert (out[b, len(kept):] == -1).all()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cpu_operator_equals_the_numpy_twins(case):
    """The operator (CPU kernels) equals the numpy twins in float32 and float64."""
    name, inputs, params = case
    for dtype in (np.float32, np.float64):
        ins = [a.astype(dtype) for a in inputs]
        outs = run_op("_contrib_" + name, ins, **params)[0]
        want = [np.zeros_like(o) for o in outs]
        p = mx.ops.registry.parse_params(mx.ops.registry.get("_contrib_" + name), params)
        if name == "box_iou":
            R.iou(ins[0].reshape(-1, 4), ins[1].reshape(-1, 4), p["format"] == "center",
                  want[0].reshape(ins[0].size // 4, -1))
        elif name.startswith("box_n"):
            from mxteach.ops.box import _nms_args, _nms_check
            shape3 = _nms_check(p, ins[0].shape)
            R.nms_forward(ins[0].reshape(shape3), *_nms_args(p, ins[0]), None,
                          want[0].reshape(shape3), np.empty(shape3[:2], np.int64))
        elif name == "bipartite_matching":
            B, r, c = (-1,) + ins[0].shape[-2:]
            R.bipartite(ins[0].reshape(B, r, c), p["threshold"], p["is_ascend"], p["topk"],
                        None, want[0].reshape(-1, r), want[1].reshape(-1, c))
        elif name == "box_encode":
            R.box_encode(*ins, *want)
        elif name.endswith("Proposal"):
            from mxteach.kernels.reference import proposal as RP
            from mxteach.ops.proposal import _rpn_anchors
            prob = ins[0]
            count = prob.shape[1] // 2 * prob.shape[2] * prob.shape[3]
            props = np.empty((prob.shape[0], count, 5), np.float32)
            RP.proposal_boxes(prob[:, prob.shape[1] // 2:], ins[1], ins[2], _rpn_anchors(p),
                              p["feature_stride"], p["rpn_min_size"], p["iou_loss"], props)
            pre = min(p["rpn_pre_nms_top_n"] if p["rpn_pre_nms_top_n"] > 0 else count, count)
            score = want[1] if len(want) > 1 else np.empty((len(want[0]), 1))
            RP.proposal_select(props, pre, min(pre, p["rpn_post_nms_top_n"]),
                               np.float32(p["threshold"]), want[0], score)
        elif name == "PSROIPooling":
            from mxteach.ops.box import _psroi_args
            R.psroi_forward(ins[0], ins[1], *_psroi_args(p, dtype), want[0])
        else:
            # the stds and clip are C++ floats in MXNet, hence float32-rounded here
            R.box_decode(ins[0], ins[1][0], np.float32([p[f"std{i}"] for i in range(4)]),
                         np.float32(p["clip"]), p["format"] == "corner", want[0])
        tol = 2e-5 if dtype == np.float32 or name.endswith("Proposal") else 1e-12
        for o, w in zip(outs, want):
            assert o.dtype == dtype
            np.testing.assert_allclose(o, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_box_nms_finite_differences(k):
    """Without re-encoding (in_format == out_format): MXNet's gradient copies each output row's
    gradient to its input row, which ignores the corner/center conversion, so only these cases
    are the true derivative (and class ids, being integers, are left alone)."""
    name, inputs, params = CASES[k]
    check_op_gradient("_contrib_" + name, inputs, params, rtol=1e-5, atol=1e-7)


def test_box_nms_grad_req_add_and_the_zero_gradients():
    name, inputs, params = CASES[3]
    _, once = run_op_backward("_contrib_box_nms", inputs, **params)
    _, added = run_op_backward("_contrib_box_nms", inputs, reqs=["add"],
                               init_grads=[np.full_like(inputs[0], 0.25)], **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12)
    assert np.count_nonzero(once[0].any(-1)) == np.count_nonzero(
        run_op("_contrib_box_nms", inputs, **params)[0][0][..., 1] != -1)
    for name, inputs, params in (CASES[0], CASES[10], CASES[13], CASES[14]):
        init = [np.full_like(a, 0.5) for a in inputs]
        _, grads = run_op_backward("_contrib_" + name, inputs, **params)
        _, added = run_op_backward("_contrib_" + name, inputs, reqs=["add"] * len(inputs),
                                   init_grads=init, **params)
        for g, a in zip(grads, added):
            assert not g.any() and (a == 0.5).all(), name


def _psroi_numpy(data, rois, scale, dim, size):
    """R-FCN pooling written out for group_size == pooled_size, in float64."""
    out = np.zeros((len(rois), dim, size, size))
    H, W = data.shape[2:]
    for n, (b, x1, y1, x2, y2) in enumerate(rois):
        x1, y1 = np.floor(x1 + .5) * scale, np.floor(y1 + .5) * scale
        x2, y2 = (np.floor(x2 + .5) + 1) * scale, (np.floor(y2 + .5) + 1) * scale
        bh, bw = max(y2 - y1, .1) / size, max(x2 - x1, .1) / size
        for i in range(size):
            for j in range(size):
                hs, he = np.clip([np.floor(i * bh + y1), np.ceil((i + 1) * bh + y1)], 0, H)
                ws, we = np.clip([np.floor(j * bw + x1), np.ceil((j + 1) * bw + x1)], 0, W)
                for k in range(dim):
                    cell = data[int(b), (k * size + i) * size + j, int(hs):int(he),
                                int(ws):int(we)]
                    out[n, k, i, j] = cell.mean() if cell.size else 0
    return out


def test_psroi_pooling_equals_numpy_finite_differences_and_add():
    name, (data, rois), params = CASES[16]
    out = run_op("_contrib_PSROIPooling", [data, rois], **params)[0][0]
    np.testing.assert_allclose(out, _psroi_numpy(data, rois, 0.5, 2, 3), rtol=1e-12)
    for _, inputs, params in CASES[16:18]:
        check_op_gradient("_contrib_PSROIPooling", inputs, params, wrt=[0])
        _, once = run_op_backward("_contrib_PSROIPooling", inputs, **params)
        _, added = run_op_backward("_contrib_PSROIPooling", inputs, reqs=["add", "add"],
                                   init_grads=[np.full_like(a, 0.5) for a in inputs], **params)
        np.testing.assert_allclose(added[0], once[0] + 0.5, rtol=1e-12)
        assert (added[1] == 0.5).all() and not once[1].any()


def test_rpn_anchors_are_faster_rcnns():
    """The nine base anchors of stride 16, ratios (0.5, 1, 2), scales (8, 16, 32), as
    py-faster-rcnn's generate_anchors() publishes them."""
    from mxteach.ops.proposal import _rpn_anchors
    want = [[-84, -40, 99, 55], [-176, -88, 191, 103], [-360, -184, 375, 199],
            [-56, -56, 71, 71], [-120, -120, 135, 135], [-248, -248, 263, 263],
            [-36, -80, 51, 95], [-80, -168, 95, 183], [-168, -344, 183, 359]]
    p = {"feature_stride": 16, "ratios": (0.5, 1, 2), "scales": (8, 16, 32)}
    np.testing.assert_array_equal(_rpn_anchors(p), want)


def test_proposals_are_clipped_sorted_and_suppressed():
    out, score = run_op("_contrib_MultiProposal", CASES[20][1], **CASES[20][2])[0]
    for b, (h, w, _) in enumerate(RPN_INFO):
        rows, s = out[b * 20:(b + 1) * 20], score[b * 20:(b + 1) * 20, 0]
        assert (rows[:, 0] == b).all()
        assert (rows[:, 1:] >= -8).all() and (rows[:, [1, 3]] <= w - 1 + 8).all()
        distinct = np.unique(rows[:, 1:], axis=0, return_index=True)[1]
        kept = rows[np.sort(distinct)]
        assert (np.diff(s[np.sort(distinct)]) <= 0).all()
        for i in range(len(kept)):
            for j in range(i + 1, len(kept)):
                a, c = kept[i, 1:], kept[j, 1:]
                iw = max(0, min(a[2], c[2]) - max(a[0], c[0]) + 1)
                ih = max(0, min(a[3], c[3]) - max(a[1], c[1]) + 1)
                area = lambda x: (x[2] - x[0] + 1) * (x[3] - x[1] + 1)  # noqa: E731
                assert iw * ih / (area(a) + area(c) - iw * ih) <= 0.6 + 1e-6


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params in CASES]
    heads = [[np.random.RandomState(9 + j).uniform(-1, 1, o.shape).astype(np.float32)
              for j, o in enumerate(run_op("_contrib_" + n, i, **p)[0])] for n, i, p in cases]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for a in args:
        a.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd.contrib, name)(*args, **params)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
    mx.autograd.backward(ys, [mx.nd.array(h) for h in heads[k]])
    out[k] = ([v.asnumpy() for v in ys], [a.grad.asnumpy() for a in args])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        outs, grads = run_op_backward("_contrib_" + name, inputs, out_grads=heads[k], **params)
        for o, want in zip(outs, ref[k][0]):
            np.testing.assert_allclose(o, want, rtol=1e-5, atol=1e-6, err_msg=IDS[k])
        for i, (g, want) in enumerate(zip(grads, ref[k][1])):
            np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7,
                                       err_msg=f"{IDS[k]} gradient {i}")


@pytest.mark.oracle
def test_float64_thresholds_are_cpp_floats_as_in_mxnet():
    """MXNet keeps thresholds as C++ floats: on float64 data valid_thresh=0.3 means
    float32(0.3) = 0.30000001192..., which scores of 0.3 and of exactly that value fail and a
    score of 0.30000002 passes; the same for bipartite_matching and box_decode's std/clip."""
    d = np.array([[[0, 0.3, .1, .1, .2, .2], [0, 0.30000001192092896, .5, .5, .6, .6],
                   [1, .9, .1, .1, .5, .5], [1, 0.30000002, .6, .6, .7, .7]]])
    code = """
x = mx.nd.array(d, dtype='float64')
out['nms'] = mx.nd.contrib.box_nms(x, valid_thresh=0.3).asnumpy()
out['match'] = mx.nd.contrib.bipartite_matching(x[0, :, :2], threshold=0.3)[0].asnumpy()
out['dec'] = mx.nd.contrib.box_decode(x[:, :, 2:], x[:, :, 2:], std0=0.1, clip=0.3).asnumpy()
"""
    ref = run_oracle(code, d=d)
    local = {"mx": mx, "d": d, "out": {}}
    exec(code, local)
    for key in ("nms", "match", "dec"):
        np.testing.assert_allclose(local["out"][key], ref[key], rtol=1e-15, err_msg=key)


@pytest.mark.oracle
def test_mxnet_parity_of_the_symbols():
    code = """
d, e = mx.sym.Variable('data'), mx.sym.Variable('e')
for k, (s, shapes) in enumerate([
        (mx.sym.contrib.box_iou(d, e), {'data': (2, 3, 4), 'e': (5, 4)}),
        (mx.sym.contrib.box_nms(d), {'data': (2, 3, 7)}),
        (mx.sym.contrib.bipartite_matching(d, threshold=0.1), {'data': (2, 3, 5)}),
        (mx.sym.contrib.box_decode(d, e), {'data': (2, 3, 4), 'e': (1, 3, 4)})]):
    a, o, _ = s.infer_shape(**shapes)
    out[k] = (s.list_arguments(), len(s.list_outputs()), [list(t) for t in o])
"""
    ref = run_oracle(code)
    local = {"mx": mx, "out": {}}
    exec(code, local)
    for k in range(4):
        assert tuple(local["out"][k]) == tuple(ref[k]), (k, local["out"][k], ref[k])


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.contrib.box_iou(mx.nd.ones((2, 3)), mx.nd.ones((2, 4))), "expected at least"),
    (lambda: mx.nd.contrib.box_nms(mx.nd.ones((2, 4))), "at least 5"),
    (lambda: mx.nd.contrib.box_nms(mx.nd.ones((2, 6)), score_index=3), "overlaps"),
    (lambda: mx.nd.contrib.box_nms(mx.nd.ones((2, 6)), id_index=1), "id_index = 1"),
    (lambda: mx.nd.contrib.box_nms(mx.nd.ones((2, 6)), in_format="xywh"), "expected one of"),
    (lambda: mx.nd.contrib.bipartite_matching(mx.nd.ones((3, 4))), "threshold"),
    (lambda: mx.nd.contrib.box_decode(mx.nd.ones((2, 4)), mx.nd.ones((1, 2, 4))), "(B, N, 4)"),
    (lambda: mx.nd.contrib.Proposal(*[mx.nd.array(a) for a in CASES[18][1]], scales=(2, 4),
                                    feature_stride=12), "more than the 5 x 6 feature map"),
    (lambda: mx.nd.contrib.Proposal(*[mx.nd.array(a) for a in CASES[20][1]], scales=(2, 4)),
     "use MultiProposal"),
    (lambda: mx.nd.contrib.PSROIPooling(mx.nd.ones((1, 8, 4, 4)), mx.nd.ones((1, 5)),
                                        spatial_scale=1, output_dim=2, pooled_size=3),
     "output_dim * group_size^2 = 18"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


def test_cpu_kernels_equal_their_numpy_twins_with_ties():
    """Equal scores keep their input order (stable sort) in both kernels."""
    for conv in (0, 1):
        got, want = np.empty_like(NMS_TIES), np.empty_like(NMS_TIES)
        rec_k, rec_r = np.empty((1, 6), np.int64), np.empty((1, 6), np.int64)
        args = (0.3, 0.0, -1, 2, 1, 0, -1.0, False, False, conv)
        K.nms_forward(NMS_TIES, *args, np.empty((1, 6), np.int64), got, rec_k)
        R.nms_forward(NMS_TIES, *args, None, want, rec_r)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(rec_k, rec_r)
        assert rec_k[0, 2] == 0 and 3 not in rec_k   # the first of the two 0.5 scores wins


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params = case
    check("_contrib_" + name, [a.astype(np.float32) for a in inputs], params)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import box as C
    dev = cuda.to_device
    for conv in (0, 2):
        out, rec = dev(np.empty_like(NMS_TIES)), dev(np.empty((1, 6), np.int64))
        args = (0.3, 0.0, -1, 2, 1, 0, -1.0, False, conv == 2, conv)
        C.nms_forward(dev(NMS_TIES), *args, dev(np.empty((1, 6), np.int64)), out, rec)
        want, want_rec = np.empty_like(NMS_TIES), np.empty((1, 6), np.int64)
        R.nms_forward(NMS_TIES, *args, None, want, want_rec)
        np.testing.assert_array_equal(out.copy_to_host(), want)
        np.testing.assert_array_equal(rec.copy_to_host(), want_rec)
    rowm, colm = dev(np.empty((2, 3))), dev(np.empty((2, 4)))
    C.bipartite(dev(SCORES), 0.3, False, 1, dev(np.empty((2, 12), np.int64)), rowm, colm)
    want_r, want_c = np.empty((2, 3)), np.empty((2, 4))
    R.bipartite(SCORES, 0.3, False, 1, None, want_r, want_c)
    np.testing.assert_array_equal(rowm.copy_to_host(), want_r)
    np.testing.assert_array_equal(colm.copy_to_host(), want_c)
