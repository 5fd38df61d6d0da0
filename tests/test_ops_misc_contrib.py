"""ops/misc_contrib.py (issue 17): MultiBoxPrior, MultiBoxTarget, MultiBoxDetection, hawkesll
with backward_hawkesll, IdentityAttachKLSparseReg. The CPU kernels against their numpy twins,
numpy formulas, finite differences (hawkesll, the KL penalty), grad_req add, MXNet 1.9.1 parity
of forward and backward (the KL regulariser through a bound executor, as Module runs it), CPU
vs GPU under the simulator, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import misc_contrib as K
from mxteach.kernels.reference import misc_contrib as R
from mxteach.test_utils import run_op, run_op_backward
from oracle import run_oracle

RS = np.random.RandomState(0)
FMAP = RS.uniform(0, 1, (1, 2, 4, 4))
PRIOR = {"sizes": (0.3, 0.5), "ratios": (1, 2)}
ANCHORS = run_op("_contrib_MultiBoxPrior", [FMAP], **PRIOR)[0][0]        # (1, 48, 4)
LABELS = np.array([[[1, .1, .1, .45, .5], [0, .5, .4, .9, .95], [-1, -1, -1, -1, -1]],
                   [[2, .3, .2, .7, .6], [-1, -1, -1, -1, -1], [-1, -1, -1, -1, -1]]])
PREDS = RS.normal(0, 1, (2, 4, 48))
_E = np.exp(PREDS - PREDS.max(1, keepdims=True))
PROBS = _E / _E.sum(1, keepdims=True)
LOCS = RS.normal(0, 0.2, (2, 48 * 4))

# name, inputs (float64), params
CASES = [
    ("MultiBoxPrior", [FMAP], PRIOR),
    ("MultiBoxPrior", [RS.uniform(0, 1, (2, 1, 3, 2))],
     {"sizes": (0.4,), "ratios": (1, 2, 0.5), "clip": True, "steps": (0.3, 0.4),
      "offsets": (0.2, 0.7)}),
    ("MultiBoxTarget", [ANCHORS, LABELS, PREDS], {}),
    ("MultiBoxTarget", [ANCHORS, LABELS, PREDS],
     {"overlap_threshold": 0.3, "negative_mining_ratio": 3, "negative_mining_thresh": 0.4,
      "variances": (0.1, 0.2, 0.3, 0.4), "ignore_label": -2}),
    ("MultiBoxTarget", [ANCHORS, LABELS, PREDS],
     {"overlap_threshold": 0, "negative_mining_ratio": 2}),
    ("MultiBoxDetection", [PROBS, LOCS, ANCHORS], {}),
    ("MultiBoxDetection", [PROBS, LOCS, ANCHORS],
     {"threshold": 0.3, "nms_threshold": 0.3, "force_suppress": True, "clip": False}),
    ("MultiBoxDetection", [PROBS, LOCS, ANCHORS], {"nms_topk": 5, "threshold": 0.2}),
    ("MultiBoxDetection", [PROBS, LOCS, ANCHORS], {"nms_threshold": 0, "variances": (1, 1, 1, 1)}),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]

N, T, KP = 3, 5, 2
HAWKES = [RS.uniform(0.5, 2, (N, KP)), np.array([0.2, 0.4]), np.array([1.0, 2.0]),
          RS.uniform(0, 1, (N, KP)), RS.uniform(0.1, 1, (N, T)),
          RS.randint(0, KP, (N, T)).astype(np.int32), np.array([1, 5, 2.5]),
          np.array([5.0, 6.0, 7.0])]
HAWKES_REQS = ["write"] * 4 + ["null"] * 4


def _run_twin(name, ins, params):
    """The operator's outputs computed by the numpy twins."""
    op = mx.ops.registry.get("_contrib_" + name)
    p = mx.ops.registry.parse_params(op, params)
    outs = [np.zeros(s) for s in op.infer_shape(p, [a.shape for a in ins])[1]]
    from mxteach.ops.misc_contrib import _prior_args, _target_args, _detect_args
    if name == "MultiBoxPrior":
        out = np.zeros((outs[0].shape[1], 4), np.float32)
        R.multibox_prior(*_prior_args(p, ins[0].shape), out)
        outs[0][0] = out
    elif name == "MultiBoxTarget":
        R.multibox_target(ins[0][0], ins[1], ins[2], *_target_args(p), *outs)
    else:
        R.multibox_detection(ins[0], ins[1], ins[2][0], *_detect_args(p), outs[0])
    return outs


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_operator_equals_the_numpy_twins(case):
    name, inputs, params = case
    for dtype in (np.float32, np.float64):
        ins = [a.astype(dtype) for a in inputs]
        outs = run_op("_contrib_" + name, ins, **params)[0]
        want = _run_twin(name, [a.astype(np.float64) for a in inputs], params)
        tol = 1e-5 if dtype == np.float32 else 1e-7    # MultiBoxPrior computes in float32
        for o, w in zip(outs, want):
            assert o.dtype == dtype
            np.testing.assert_allclose(o, w, rtol=tol, atol=tol, err_msg=name)


def test_multibox_prior_equals_a_formula():
    out = CASES[0] and run_op("_contrib_MultiBoxPrior", [FMAP], **PRIOR)[0][0][0]
    # position (row 1, col 2) of the 4 x 4 map, its second size (0.5) at ratio 1
    cx, cy = (2 + 0.5) / 4, (1 + 0.5) / 4
    np.testing.assert_allclose(out[(1 * 4 + 2) * 3 + 1], [cx - .25, cy - .25, cx + .25, cy + .25],
                               rtol=1e-6)
    w, h = 0.3 * np.sqrt(2) / 2, 0.3 / np.sqrt(2) / 2          # sizes[0] at ratio 2
    np.testing.assert_allclose(out[(1 * 4 + 2) * 3 + 2], [cx - w, cy - h, cx + w, cy + h],
                               rtol=1e-6)


def test_multibox_target_matches_each_truth_to_its_best_anchor():
    loc, mask, cls = run_op("_contrib_MultiBoxTarget", [ANCHORS, LABELS, PREDS])[0]
    for b, gts in ((0, LABELS[0, :2]), (1, LABELS[1, :1])):
        for g in gts:
            a = ANCHORS[0]
            lo, hi = np.maximum(a[:, :2], g[1:3]), np.minimum(a[:, 2:], g[3:5])
            inter = np.prod(np.clip(hi - lo, 0, None), 1)
            iou = inter / (np.prod(a[:, 2:] - a[:, :2], 1) + np.prod(g[3:5] - g[1:3]) - inter)
            assert cls[b, np.argmax(iou)] == g[0] + 1
    assert set(np.unique(cls)) <= {0, 1, 2, 3} and (mask.reshape(2, -1, 4).any(2) ==
                                                    (cls > 0)).all()


def test_multibox_detection_nms_keeps_the_best_per_class():
    out = run_op("_contrib_MultiBoxDetection", [PROBS, LOCS, ANCHORS], threshold=0.3)[0][0]
    for b in range(2):
        kept = out[b][out[b, :, 0] >= 0]
        assert (np.diff(kept[:, 1]) <= 0).all()        # sorted by score
        best = PROBS[b, 1:].max(0)
        assert kept[0, 1] == pytest.approx(best.max())


def _hawkes_numpy(lda, alpha, beta, state, lags, marks, vl, tmax):
    """The likelihood written from its definition: log intensities at the events minus the
    integral of the intensity over (0, tmax]."""
    out = []
    for i in range(len(lda)):
        n = int(np.ceil(vl[i]))
        times = np.cumsum(lags[i, :n])
        ll = 0.0
        for k in range(len(alpha)):
            tk = times[marks[i, :n] == k]
            for j, t in enumerate(tk):
                ll += np.log(lda[i, k] + alpha[k] * beta[k] * (
                    state[i, k] * np.exp(-beta[k] * t) + np.exp(-beta[k] * (t - tk[:j])).sum()))
            ll -= lda[i, k] * tmax[i] + alpha[k] * (
                state[i, k] * (1 - np.exp(-beta[k] * tmax[i]))
                + (1 - np.exp(-beta[k] * (tmax[i] - tk))).sum())
        out.append(ll)
    return np.array(out)


def test_hawkesll_equals_its_definition():
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        ins = [a if a.dtype == np.int32 else a.astype(dtype) for a in HAWKES]
        ll, st = run_op("_contrib_hawkesll", ins)[0]
        np.testing.assert_allclose(ll, _hawkes_numpy(*HAWKES), rtol=tol)
        assert st.shape == (N, KP) and (st > 0).all()


def _numeric(name, inputs, heads, wrt, eps=1e-6):
    out = []
    for i in wrt:
        num = np.zeros_like(inputs[i])
        for k in range(inputs[i].size):
            vals = []
            for s in (eps, -eps):
                x = [a.copy() for a in inputs]
                x[i].reshape(-1)[k] += s
                outs = run_op(name, x)[0]
                vals.append(sum(float(np.sum(o * h)) for o, h in zip(outs, heads)))
            num.reshape(-1)[k] = (vals[0] - vals[1]) / (2 * eps)
        out.append(num)
    return out


def test_hawkesll_finite_differences_and_grad_req_add():
    heads = [RS.uniform(-1, 1, N), np.zeros((N, KP))]   # out_state's head gradient is unused
    _, grads = run_op_backward("_contrib_hawkesll", HAWKES, out_grads=heads, reqs=HAWKES_REQS)
    for g, num in zip(grads, _numeric("_contrib_hawkesll", HAWKES, heads, [0, 1, 2])):
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)
    assert not grads[3].any()
    init = [np.full_like(a, 0.5) for a in HAWKES[:4]] + [None] * 4
    _, added = run_op_backward("_contrib_hawkesll", HAWKES, out_grads=heads, reqs=["add"] * 4 +
                               ["null"] * 4, init_grads=init)
    for g, a in zip(grads[:4], added[:4]):
        np.testing.assert_allclose(a, g + 0.5, rtol=1e-12)
    back = run_op("_contrib_backward_hawkesll", heads + HAWKES)[0]
    for g, b in zip(grads[:3], back[:3]):
        np.testing.assert_allclose(b, g, rtol=1e-12)
    assert not any(b.any() for b in back[3:])


def test_cpu_kernels_equal_their_numpy_twins_for_hawkes_and_kl():
    ll, st, ll_r, st_r = np.empty(N), np.empty((N, KP)), np.empty(N), np.empty((N, KP))
    K.hawkes_forward(*HAWKES, ll, st)
    R.hawkes_forward(*HAWKES, ll_r, st_r)
    np.testing.assert_allclose(ll, ll_r, rtol=1e-12)
    np.testing.assert_allclose(st, st_r, rtol=1e-12)
    dll = RS.uniform(-1, 1, N)
    got = [np.empty((N, KP)) for _ in range(3)]
    want = [np.empty((N, KP)) for _ in range(3)]
    K.hawkes_backward(dll, *HAWKES, *got)
    R.hawkes_backward(dll, *HAWKES, *want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    x, dy = RS.uniform(0.1, 0.9, (4, 3)), RS.uniform(-1, 1, (4, 3))
    res = []
    for mod in (K, R):
        avg, dx = np.full(3, 0.3), np.full((4, 3), 0.5)
        mod.kl_sparse_backward(x, dy, 0.1, 0.01, 0.8, avg, True, dx)
        res.append((avg, dx))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-12)


def test_kl_sparse_reg_gradient_and_moving_average():
    x, dy = RS.uniform(0.1, 0.9, (4, 3)), RS.uniform(-1, 1, (4, 3))
    avg0 = np.array([0.2, 0.5, 0.7])
    outs, grads = run_op_backward("IdentityAttachKLSparseReg", [x, avg0], out_grads=[dy],
                                  reqs=["write"], penalty=0.01, momentum=0.8)
    np.testing.assert_array_equal(outs[0], x)
    pen, mom, rho = (float(np.float32(v)) for v in (0.01, 0.8, 0.1))   # C++ floats in MXNet
    m = mom * avg0 + (1 - mom) * x.mean(0)
    # the penalty is the derivative of penalty * KL(rho || m) in m, spread over the batch
    np.testing.assert_allclose(grads[0], dy + pen * (-rho / m + (1 - rho) / (1 - m)),
                               rtol=1e-12)
    _, added = run_op_backward("IdentityAttachKLSparseReg", [x, avg0], out_grads=[dy],
                               reqs=["add"], init_grads=[np.full_like(x, 0.5)], penalty=0.01,
                               momentum=0.8)
    np.testing.assert_allclose(added[0], grads[0] + 0.5, rtol=1e-12)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params in CASES]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for a in args:
        a.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd.contrib, name)(*args, **params)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
    mx.autograd.backward(ys, [mx.nd.ones_like(v) for v in ys])
    out[k] = ([v.asnumpy() for v in ys], [a.grad.asnumpy() for a in args])
h = [mx.nd.array(a) if a.dtype != np.int32 else mx.nd.array(a, dtype='int32') for a in hawkes]
for a in h[:4]:
    a.attach_grad()
with mx.autograd.record():
    ll, st = mx.nd.contrib.hawkesll(*h)
mx.autograd.backward([ll, st], [mx.nd.array(heads[0]), mx.nd.array(heads[1])])
out['hawkes'] = (ll.asnumpy(), st.asnumpy(), [a.grad.asnumpy() for a in h[:4]])
""", cases=cases, hawkes=[a if a.dtype == np.int32 else a.astype(np.float32) for a in HAWKES],
        heads=[np.linspace(-1, 1, N).astype(np.float32), np.ones((N, KP), np.float32)])
    for k, (name, inputs, params) in enumerate(cases):
        outs, grads = run_op_backward("_contrib_" + name, inputs, **params)
        for o, want in zip(outs, ref[k][0]):
            np.testing.assert_allclose(o, want, rtol=1e-5, atol=1e-5, err_msg=IDS[k])
        for g, want in zip(grads, ref[k][1]):
            np.testing.assert_array_equal(g, want, err_msg=IDS[k])
    hw = [a if a.dtype == np.int32 else a.astype(np.float32) for a in HAWKES]
    heads = [np.linspace(-1, 1, N).astype(np.float32), np.ones((N, KP), np.float32)]
    (ll, st), grads = run_op_backward("_contrib_hawkesll", hw, out_grads=heads,
                                      reqs=HAWKES_REQS)
    np.testing.assert_allclose(ll, ref["hawkes"][0], rtol=1e-5)
    np.testing.assert_allclose(st, ref["hawkes"][1], rtol=1e-5, atol=1e-7)
    for g, want in zip(grads, ref["hawkes"][2]):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)


@pytest.mark.oracle
def test_mxnet_parity_of_the_kl_regulariser_in_an_executor():
    """Module-style: simple_bind, two training steps; moving_avg starts at 0.5 (after one
    step at 0, MXNet's initial value, the penalty divides by a tiny average)."""
    code = """
s = mx.sym.IdentityAttachKLSparseReg(mx.sym.Variable('data'), name='kl', penalty=0.01,
                                     momentum=0.7, sparseness_target=0.2)
ex = s.simple_bind(mx.cpu(), data=x.shape)
out['init'] = ex.aux_dict['kl_moving_avg'].asnumpy()
ex.aux_dict['kl_moving_avg'][:] = 0.5
for step in range(2):
    ex.arg_dict['data'][:] = x + step * 0.1
    y = ex.forward(is_train=True)[0]
    ex.backward(mx.nd.array(dy))
    out[step] = (y.asnumpy(), ex.grad_dict['data'].asnumpy(),
                 ex.aux_dict['kl_moving_avg'].asnumpy())
out['names'] = (s.list_arguments(), s.list_auxiliary_states(), s.list_outputs())
"""
    x = RS.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    dy = RS.uniform(-1, 1, (4, 3)).astype(np.float32)
    ref = run_oracle(code, x=x, dy=dy)
    local = {"mx": mx, "np": np, "x": x, "dy": dy, "out": {}}
    exec(code, local)
    got = local["out"]
    np.testing.assert_array_equal(got["init"], ref["init"])
    assert tuple(map(list, got["names"])) == tuple(map(list, ref["names"]))
    for step in range(2):
        for a, b in zip(got[step], ref[step]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


SSD_GRAPH = """
data, lab = mx.sym.Variable('data'), mx.sym.Variable('label')
feat = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), pad=(1, 1), stride=(2, 2),
                          name='conv')
anchors = mx.sym.contrib.MultiBoxPrior(feat, sizes=(0.3, 0.6), ratios=(1, 2), name='prior')
cls = mx.sym.Convolution(feat, num_filter=12, kernel=(3, 3), pad=(1, 1), name='cls')
cls = mx.sym.transpose(mx.sym.reshape(mx.sym.transpose(cls, axes=(0, 2, 3, 1)),
                                      shape=(0, -1, 4)), axes=(0, 2, 1))
loc = mx.sym.Flatten(mx.sym.transpose(mx.sym.Convolution(feat, num_filter=12, kernel=(3, 3),
                                                         pad=(1, 1), name='loc'),
                                      axes=(0, 2, 3, 1)))
tgt = mx.sym.contrib.MultiBoxTarget(anchors, lab, cls, negative_mining_ratio=3, name='tgt')
prob = mx.sym.SoftmaxOutput(cls, tgt[2], ignore_label=-1, use_ignore=True, multi_output=True,
                            normalization='valid', name='prob')
l1 = mx.sym.MakeLoss(mx.sym.smooth_l1(tgt[1] * (loc - tgt[0]), scalar=1.0),
                     normalization='valid', name='locloss')
det = mx.sym.contrib.MultiBoxDetection(prob, loc, anchors, name='det', nms_threshold=0.45)
net = mx.sym.Group([prob, l1, mx.sym.BlockGrad(det), mx.sym.BlockGrad(tgt[2])])
ex = net.simple_bind(mx.cpu(), data=x.shape, label=label.shape)
for k in sorted(ex.arg_dict):
    if k not in ('data', 'label'):
        ex.arg_dict[k][:] = params[k]
ex.arg_dict['data'][:] = x
ex.arg_dict['label'][:] = label
out['outs'] = [o.asnumpy() for o in ex.forward(is_train=True)]
ex.backward(out_grads=[mx.nd.zeros(o.shape) for o in ex.outputs])
out['grads'] = [ex.grad_dict[k].asnumpy() for k in ('conv_weight', 'cls_weight', 'loc_weight')]
out['names'] = net.list_outputs()
"""


@pytest.mark.oracle
def test_mxnet_parity_of_an_ssd_training_graph():
    """The SSD head as the MXNet example builds it: anchors, targets with hard-negative mining,
    the two losses and the detections, bound and run forward/backward in an executor."""
    rs = np.random.RandomState(5)
    x = rs.uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    label = LABELS[:, :2].astype(np.float32)
    shapes = {"conv_weight": (4, 3, 3, 3), "conv_bias": (4,), "cls_weight": (12, 4, 3, 3),
              "cls_bias": (12,), "loc_weight": (12, 4, 3, 3), "loc_bias": (12,)}
    params = {k: rs.normal(0, 0.1, s).astype(np.float32) for k, s in shapes.items()}
    ref = run_oracle(SSD_GRAPH, x=x, label=label, params=params)
    local = {"mx": mx, "np": np, "x": x, "label": label, "params": params, "out": {}}
    exec(SSD_GRAPH, local)
    got = local["out"]
    assert list(got["names"]) == list(ref["names"])
    for a, b in zip(got["outs"] + got["grads"], ref["outs"] + ref["grads"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.contrib.MultiBoxPrior(mx.nd.ones((2, 3, 4))), "4-D"),
    (lambda: mx.nd.contrib.MultiBoxPrior(mx.nd.ones((1, 1, 2, 2)), steps=(0.1,)), "2 values"),
    (lambda: mx.nd.contrib.MultiBoxTarget(mx.nd.ones((1, 5, 4)), mx.nd.ones((2, 3, 4)),
                                          mx.nd.ones((2, 3, 5))), "(batch, num_labels, >= 5)"),
    (lambda: mx.nd.contrib.MultiBoxDetection(mx.nd.ones((2, 3, 5)), mx.nd.ones((2, 16)),
                                             mx.nd.ones((1, 5, 4))), "(batch, 20)"),
    (lambda: mx.nd.contrib.hawkesll(*[mx.nd.array(a) for a in HAWKES[:3]],
                                    mx.nd.ones((N, 3)), *[mx.nd.array(a) for a in HAWKES[4:]]),
     "'state' has shape"),
    (lambda: mx.nd.IdentityAttachKLSparseReg(mx.nd.ones((2, 3)), mx.nd.ones(3), momentum=2),
     "momentum"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


def test_hawkesll_refuses_gradients_of_the_data():
    with pytest.raises(MXNetError, match="'lags' has no gradient"):
        run_op_backward("_contrib_hawkesll", HAWKES, reqs=["write"] * 8)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params = case
    check("_contrib_" + name, [a.astype(np.float32) for a in inputs], params)


@pytest.mark.cudasim
def test_gpu_equals_cpu_hawkes_and_kl():
    from cuda_compare import check
    hw = [a if a.dtype == np.int32 else a.astype(np.float32) for a in HAWKES]
    check("_contrib_hawkesll", hw, grads=[0, 1, 2, 3])
    heads = [np.linspace(-1, 1, N).astype(np.float32), np.ones((N, KP), np.float32)]
    check("_contrib_backward_hawkesll", heads + hw)
    x = RS.uniform(0.1, 0.9, (4, 3)).astype(np.float32)
    check("IdentityAttachKLSparseReg", [x, np.full(3, 0.4, np.float32)], {"penalty": 0.01})
