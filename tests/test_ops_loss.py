"""Loss heads and the softmax family (ops/loss.py, kernels/cpu/loss.py) against numpy
references, central finite differences and real MXNet 1.9.1.

``parity_cases``/``ours`` are the shared oracle harness (test_ops_shape.py imports them): a case
binds one operator in MXNet, runs forward(is_train=True) and backward, and returns outputs and
every argument's gradient buffer, which started at ``init`` so "left untouched" is visible."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError, DTypeError
from mxteach.ops import registry
from mxteach.test_utils import run_op, run_op_backward, check_numeric_gradient
from mxteach.kernels.cpu import loss as K
from mxteach.kernels.reference import loss as KR

from oracle import run_oracle

RS = np.random.RandomState(7)


# -- shared oracle harness ---------------------------------------------------------------------
def case(cid, op, inputs, params=None, ograds=None, req="write", init=0.5):
    """One parity case. ``inputs`` is an ordered list of (argument name, array)."""
    return dict(cid=cid, op=op, names=[n for n, _ in inputs], arrays=[a for _, a in inputs],
                params=params or {}, ograds=ograds, req=req, init=init)


_RUNNER = """
res = {}
for c in cases:
    syms = [mx.sym.Variable(n) for n in c['names']]
    s = getattr(mx.sym, c['op'])(*syms, **c['params'])
    args = {n: mx.nd.array(a, dtype=a.dtype) for n, a in zip(c['names'], c['arrays'])}
    grads = {n: mx.nd.array(np.full(a.shape, c['init']), dtype=a.dtype)
             for n, a in zip(c['names'], c['arrays'])}
    ex = s.bind(mx.cpu(), args, args_grad=grads, grad_req=c['req'])
    ex.forward(is_train=True)
    og = c['ograds']
    ex.backward(None if og is None else [mx.nd.array(g, dtype=g.dtype) for g in og])
    res[c['cid']] = dict(outs=[o.asnumpy() for o in ex.outputs],
                         grads=[grads[n].asnumpy() for n in c['names']])
out['res'] = res
"""


def parity_cases(cases):
    """Run every case in one MXNet process; returns {cid: {'outs': [...], 'grads': [...]}}."""
    return run_oracle(_RUNNER, cases=cases)["res"]


def ours(c):
    """The same case through mxteach's registry: (outputs, gradients)."""
    op = registry.get(c["op"])
    params = dict(c["params"])
    if op.num_args_param:
        params[op.num_args_param] = len(c["arrays"])
    names = op.list_arguments(registry.parse_params(op, params))
    req = c["req"]
    reqs = [req.get(n, "write") if isinstance(req, dict) else req for n in c["names"]]
    assert len(names) == len(c["arrays"])
    init = [np.full(a.shape, c["init"]).astype(a.dtype) for a in c["arrays"]]
    outs, grads = run_op_backward(c["op"], c["arrays"], out_grads=c["ograds"], reqs=reqs,
                                  init_grads=init, **params)
    return outs, [g if g is not None else init[i] for i, g in enumerate(grads)]


def assert_parity(c, got, rtol=1e-5, atol=1e-6):
    outs, grads = ours(c)
    assert len(outs) == len(got["outs"])
    for i, (a, b) in enumerate(zip(outs, got["outs"])):
        assert a.dtype == b.dtype, (c["cid"], i, a.dtype, b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{c['cid']} output {i}")
    for name, a, b in zip(c["names"], grads, got["grads"]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                   err_msg=f"{c['cid']} gradient of {name}")


# -- numpy references ------------------------------------------------------------------------
def np_softmax(x, axis=-1, t=1.0):
    z = (x - x.max(axis=axis, keepdims=True)) / t
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1, t=1.0):
    z = (x - x.max(axis=axis, keepdims=True)) / t
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def f32(*shape):
    return RS.randn(*shape).astype(np.float32)


def f64(*shape):
    return RS.randn(*shape)


# -- kernels against their numpy twins --------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_log", [False, True])
def test_softmax_kernels_match_reference(dtype, use_log):
    x = RS.randn(2, 5, 3).astype(dtype)
    g = RS.randn(2, 5, 3).astype(dtype)
    lengths = np.array([[5, 2, 0], [1, 4, 7]], dtype=np.int64)
    outs = []
    for mod in (K, KR):
        out = np.zeros_like(x)
        mod.softmax_forward(x, lengths, 0.7, use_log, out)
        grad = np.full_like(x, 0.25)
        mod.softmax_backward(out, g, lengths, 0.7, use_log, True, grad)
        outs.append((out, grad))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert np.all(outs[0][0][1, :, 0][1:] == 0)            # beyond the length: zero


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_output_grad_kernel_matches_reference(dtype):
    out = np_softmax(RS.randn(4, 3, 2), axis=1).astype(dtype)
    label = np.array([[0, 2], [1.7, -1], [5, 1], [2, 2]], dtype=np.float64)
    for kw in [dict(use_ignore=False, smooth_alpha=0.0, times_out=False, accumulate=False),
               dict(use_ignore=True, smooth_alpha=0.2, times_out=True, accumulate=True)]:
        got = []
        for mod in (K, KR):
            grad = np.full_like(out, 0.5)
            mod.softmax_output_grad(out, label, 2.0, kw["use_ignore"], kw["smooth_alpha"], 0.5,
                                    kw["times_out"], kw["accumulate"], grad)
            got.append(grad)
        np.testing.assert_allclose(got[0], got[1], rtol=1e-6, atol=1e-7)


# -- softmax, log_softmax ---------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_forward_reference(axis):
    x = f64(3, 4, 2)
    out = run_op("softmax", [x], axis=axis, temperature=2.0)[0][0]
    np.testing.assert_allclose(out, np_softmax(x, axis, 2.0), rtol=1e-12)
    out = run_op("log_softmax", [x], axis=axis)[0][0]
    np.testing.assert_allclose(out, np_log_softmax(x, axis), rtol=1e-12)


def test_softmax_use_length_forward():
    x = f64(2, 4)
    length = np.array([2, 0], dtype=np.int32)
    out = run_op("softmax", [x, length], use_length=True)[0][0]
    np.testing.assert_allclose(out[0, :2], np_softmax(x[0, :2]), rtol=1e-12)
    assert np.all(out[0, 2:] == 0) and np.all(out[1] == 0)


@pytest.mark.parametrize("op,params", [("softmax", {}), ("softmax", dict(axis=0, temperature=0.5)),
                                        ("log_softmax", dict(axis=1, temperature=3.0))])
def test_softmax_numeric_gradient(op, params):
    check_numeric_gradient(op, [f64(3, 4)], params)


def test_softmax_use_length_numeric_gradient():
    g = check_numeric_gradient("softmax", [f64(2, 5), np.array([3, 5], dtype=np.int32)],
                               dict(use_length=True))
    assert np.all(g[0][0, 3:] == 0)


def test_softmax_dtype_param_and_float16():
    x = f32(2, 3)
    op = registry.get("softmax")
    p = registry.parse_params(op, dict(dtype="float64"))
    assert op.types(p, ["float32"]) == (["float32"], ["float64"])
    out = run_op("softmax", [x], dtype="float64")[0][0]
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np_softmax(x.astype(np.float64)), rtol=1e-6)
    h = run_op("softmax", [x.astype(np.float16)])[0][0]
    assert h.dtype == np.float16
    np.testing.assert_allclose(h, np_softmax(x), atol=1e-3)


def test_softmax_grad_req_add_accumulates():
    x, g = f64(2, 3), f64(2, 3)
    _, (write,) = run_op_backward("softmax", [x], out_grads=[g])
    _, (added,) = run_op_backward("softmax", [x], out_grads=[g], reqs=["add"],
                                  init_grads=[np.ones((2, 3))])
    np.testing.assert_allclose(added, write + 1, rtol=1e-12)


def test_softmax_errors():
    with pytest.raises(ShapeError, match="axis 2"):
        run_op("softmax", [f32(2, 3)], axis=2)
    with pytest.raises(DTypeError, match="floating"):
        registry.get("softmax").types(registry.parse_params(registry.get("softmax"), {}),
                                      ["int32"])
    with pytest.raises(ShapeError, match="length"):
        run_op("log_softmax", [f32(2, 3)], use_length=True)
    with pytest.raises(MXNetError, match="dtype"):
        run_op("softmax", [f32(2, 3)], dtype="int32")


# -- SoftmaxOutput ------------------------------------------------------------------------------
def _ce(label, axis=1, scale=1.0, ignore=None, denom=1.0, alpha=0.0):
    """Cross-entropy whose gradient SoftmaxOutput defines (classes along ``axis``)."""
    def loss(outs, ins):
        logp = np.moveaxis(np_log_softmax(ins[0], axis), axis, -1)
        k = logp.shape[-1]
        lab = np.trunc(label).astype(int)
        hot = np.arange(k) == lab[..., None]
        target = np.where(hot, 1 - alpha, alpha / (k - 1)) if alpha else hot
        keep = np.ones(lab.shape) if ignore is None else (lab != ignore)
        return -scale * np.sum(keep[..., None] * target * logp) / denom
    return loss


def test_softmax_output_forward_layouts():
    x = f64(2, 3, 4)
    out = run_op("SoftmaxOutput", [x, np.zeros((2, 4))], multi_output=True)[0][0]
    np.testing.assert_allclose(out, np_softmax(x, 1), rtol=1e-12)
    out = run_op("SoftmaxOutput", [x, np.zeros((2, 3))], preserve_shape=True)[0][0]
    np.testing.assert_allclose(out, np_softmax(x, -1), rtol=1e-12)
    out = run_op("SoftmaxOutput", [x, np.zeros((2, 3))])[0][0]
    np.testing.assert_allclose(out, np_softmax(x.reshape(2, -1)).reshape(x.shape), rtol=1e-12)


@pytest.mark.parametrize("params,kw", [
    ({}, {}),
    (dict(grad_scale=2.5, normalization="batch"), dict(scale=2.5, denom=4)),
    (dict(normalization="valid", use_ignore=True, ignore_label=1), dict(ignore=1, denom=3)),
    (dict(smooth_alpha=0.2), dict(alpha=0.2)),
])
def test_softmax_output_numeric_gradient(params, kw):
    label = np.array([0, 2, 1, 3.0])
    x = f64(4, 4)
    g = check_numeric_gradient("SoftmaxOutput", [x, label], params, wrt=[0],
                               loss_fn=_ce(label, **kw))
    assert np.all(g[1] == 0)              # the label's gradient buffer is left alone


def test_softmax_output_multi_output_numeric_gradient():
    label = np.array([[0, 2, 1], [1, 1, 0.0]])
    x = f64(2, 3, 3)
    # 'null' divides by the positions per sample (3), 'batch' also by the batch
    check_numeric_gradient("SoftmaxOutput", [x, label], dict(multi_output=True), wrt=[0],
                           loss_fn=_ce(label, denom=3))
    check_numeric_gradient("SoftmaxOutput", [x, label],
                           dict(multi_output=True, normalization="batch"), wrt=[0],
                           loss_fn=_ce(label, denom=6))
    check_numeric_gradient("SoftmaxOutput", [x, label],
                           dict(multi_output=True, normalization="valid", use_ignore=True,
                                ignore_label=0), wrt=[0], loss_fn=_ce(label, ignore=0, denom=4))


def test_softmax_output_probability_labels_numeric_gradient():
    x, prob = f64(3, 4), np_softmax(f64(3, 4))
    check_numeric_gradient("SoftmaxOutput", [x, prob], dict(normalization="batch"), wrt=[0],
                           loss_fn=lambda o, ins: -np.sum(prob * np_log_softmax(ins[0])))


def test_softmax_output_out_grad_multiplies_by_output():
    x, label = f64(3, 4), np.array([0, 3, 1.0])
    out, (g, _) = run_op_backward("SoftmaxOutput", [x, label], out_grad=True)
    hot = np.eye(4)[[0, 3, 1]]
    np.testing.assert_allclose(g, (out[0] - hot) * out[0], rtol=1e-12)


def test_softmax_output_grad_req_add_accumulates():
    x, label = f64(3, 4), np.array([0, 3, 1.0])
    _, (write, _) = run_op_backward("SoftmaxOutput", [x, label])
    _, (added, lab) = run_op_backward("SoftmaxOutput", [x, label], reqs=["add", "add"],
                                      init_grads=[np.ones((3, 4)), np.full(3, 7.0)])
    np.testing.assert_allclose(added, write + 1, rtol=1e-12)
    np.testing.assert_array_equal(lab, 7.0)


def test_softmax_output_shapes_and_errors():
    op = registry.get("SoftmaxOutput")
    p = registry.parse_params(op, {})
    assert op.infer_shape(p, [(5, 3), None]) == ([(5, 3), (5,)], [(5, 3)])
    pm = registry.parse_params(op, dict(multi_output=True))
    assert op.infer_shape(pm, [(2, 3, 4, 5), None])[0][1] == (2, 20)
    assert op.infer_shape(pm, [(2, 3, 4, 5), (2, 4, 5)])[0][1] == (2, 4, 5)
    with pytest.raises(ShapeError, match="label"):
        op.infer_shape(p, [(5, 3), (4,)])
    with pytest.raises(ShapeError, match="at least 2"):
        op.infer_shape(p, [(5,), None])
    with pytest.raises(MXNetError, match="normalization"):
        run_op("SoftmaxOutput", [f32(2, 3), np.zeros(2, np.float32)], normalization="mean")
    with pytest.raises(MXNetError, match="grad_scale"):
        run_op("SoftmaxOutput", [f32(2, 3), np.zeros(2, np.float32)], grad_scale="big")


# -- regression outputs, MakeLoss, BlockGrad ----------------------------------------------------
_SIG = lambda x: 1 / (1 + np.exp(-x))   # noqa: E731
_REG = {   # name: (forward, loss whose gradient the op defines, before dividing by outputs)
    "LinearRegressionOutput": (lambda x: x, lambda o, y: 0.5 * np.sum((o - y) ** 2)),
    "MAERegressionOutput": (lambda x: x, lambda o, y: np.sum(np.abs(o - y))),
    "LogisticRegressionOutput": (_SIG, lambda o, y: -np.sum(y * np.log(o) +
                                                            (1 - y) * np.log(1 - o))),
}


@pytest.mark.parametrize("name", sorted(_REG))
def test_regression_forward_and_numeric_gradient(name):
    fwd, loss = _REG[name]
    x = f64(4, 3)
    y = RS.uniform(0.1, 0.9, (4, 3))
    np.testing.assert_allclose(run_op(name, [x, y])[0][0], fwd(x), rtol=1e-12)
    g = check_numeric_gradient(name, [x, y], dict(grad_scale=1.5), wrt=[0],
                               loss_fn=lambda o, ins: 1.5 * loss(fwd(ins[0]), y) / 3)
    assert np.all(g[1] == 0)
    # a (n, 1) prediction takes a (n,) label, and then nothing is divided
    check_numeric_gradient(name, [x[:, :1], y[:, 0]], wrt=[0],
                           loss_fn=lambda o, ins: loss(fwd(ins[0][:, 0]), y[:, 0]))


def test_regression_grad_req_add_and_mae_zero_difference():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    _, (g, lab) = run_op_backward("MAERegressionOutput", [x, x.copy()], reqs=["add", "add"],
                                  init_grads=[np.ones((2, 2)), np.full((2, 2), 9.0)])
    np.testing.assert_array_equal(g, 1 - 0.5)   # sign(0) counts as -1, over 2 outputs
    np.testing.assert_array_equal(lab, 9.0)


def test_regression_shape_rules_and_errors():
    op = registry.get("LinearRegressionOutput")
    p = registry.parse_params(op, {})
    assert op.infer_shape(p, [(4, 1), None])[0][1] == (4,)
    assert op.infer_shape(p, [(4, 6), (4, 3, 2)])[0][1] == (4, 3, 2)
    for bad in [(4,), (12,), (2, 6)]:
        with pytest.raises(ShapeError, match="label"):
            op.infer_shape(p, [(4, 3), bad])


@pytest.mark.parametrize("params,denom", [({}, 1), (dict(normalization="batch"), 12),
                                          (dict(normalization="valid", valid_thresh=0.1), None),
                                          (dict(grad_scale=3.0), 1 / 3)])
def test_makeloss_gradient(params, denom):
    x = f64(4, 3, 2)
    x[np.abs(x - 0.1) < 1e-3] = 0.5       # keep away from the threshold
    if denom is None:
        denom = np.count_nonzero(x > 0.1)
    out = run_op("MakeLoss", [x], **params)[0][0]
    np.testing.assert_array_equal(out, x)
    check_numeric_gradient("MakeLoss", [x], params,
                           loss_fn=lambda o, ins: np.sum(ins[0]) / denom)


def test_makeloss_valid_with_nothing_valid_and_add():
    x = -np.ones((2, 2))
    _, (g,) = run_op_backward("MakeLoss", [x], reqs=["add"], init_grads=[np.ones((2, 2))],
                              normalization="valid")
    np.testing.assert_array_equal(g, 2.0)


def test_blockgrad_stops_gradient():
    x = f64(2, 3)
    out, (g,) = run_op_backward("stop_gradient", [x], init_grads=[np.ones((2, 3))])
    np.testing.assert_array_equal(out[0], x)
    np.testing.assert_array_equal(g, 0)
    _, (g,) = run_op_backward("BlockGrad", [x], reqs=["add"], init_grads=[np.ones((2, 3))])
    np.testing.assert_array_equal(g, 1)


def test_loss_heads_names_and_flags():
    for name in ["SoftmaxOutput", "LinearRegressionOutput", "MAERegressionOutput",
                 "LogisticRegressionOutput", "MakeLoss"]:
        assert registry.get(name).loss
    for name in ["softmax", "log_softmax", "BlockGrad"]:
        assert not registry.get(name).loss
    assert registry.get("Softmax") is registry.get("SoftmaxOutput")
    s = mx.sym.SoftmaxOutput(mx.sym.Variable("x"), name="so")
    assert s.list_arguments() == ["x", "so_label"] and s.list_outputs() == ["so_output"]
    p = registry.parse_params(registry.get("softmax"), dict(use_length=True))
    assert registry.get("softmax").list_arguments(p) == ["data", "length"]


# -- parity with MXNet 1.9.1 -------------------------------------------------------------------
def _loss_cases():
    x = f32(4, 3)
    lab = np.array([0, 2, 1, -1], np.float32)
    x3 = f32(2, 3, 4)
    lab3 = np.array([[0, 3, 1, 1], [2, 2, -1, 0]], np.float32)
    y = f32(4, 3)
    cs = []
    for i, kw in enumerate([{}, dict(normalization="batch", grad_scale=2.0),
                            dict(normalization="valid"),
                            dict(normalization="valid", use_ignore=True),
                            dict(smooth_alpha=0.3, use_ignore=True),
                            dict(out_grad=True, normalization="batch", smooth_alpha=0.1)]):
        cs.append(case(f"so{i}", "SoftmaxOutput", [("data", x), ("label", lab)], kw))
    for i, kw in enumerate([dict(multi_output=True),
                            dict(multi_output=True, normalization="batch"),
                            dict(multi_output=True, normalization="valid", use_ignore=True),
                            dict(multi_output=True, smooth_alpha=0.2, out_grad=True)]):
        cs.append(case(f"multi{i}", "SoftmaxOutput", [("data", x3), ("label", lab3)], kw))
    lab23 = lab3[:, :3].copy()
    cs += [case("preserve", "SoftmaxOutput", [("data", x3), ("label", lab23)],
                dict(preserve_shape=True, normalization="valid", use_ignore=True)),
           case("flat3d", "SoftmaxOutput", [("data", x3), ("label", lab23)],
                dict(normalization="batch")),
           case("prob", "SoftmaxOutput", [("data", x), ("label", np_softmax(y).astype(
               np.float32))], dict(normalization="valid", grad_scale=3.0)),
           case("so_add", "SoftmaxOutput", [("data", x), ("label", lab)], req="add")]
    for name in sorted(_REG):
        cs.append(case(name, name, [("data", x), ("label", y)], dict(grad_scale=2.0)))
        cs.append(case(name + "_n1", name, [("data", x[:, :1]), ("label", y[:, 0])]))
    z = f32(4, 3, 2)
    for i, kw in enumerate([{}, dict(normalization="batch"),
                            dict(normalization="valid", valid_thresh=0.2, grad_scale=2.0)]):
        cs.append(case(f"makeloss{i}", "MakeLoss", [("data", z)], kw))
    g = f32(4, 3)
    cs += [case("blockgrad", "BlockGrad", [("data", x)], ograds=[g]),
           case("stop_gradient_add", "stop_gradient", [("data", x)], ograds=[g], req="add"),
           case("softmax", "softmax", [("data", x3)], dict(axis=1, temperature=2.0),
                ograds=[f32(2, 3, 4)]),
           case("softmax_add", "softmax", [("data", x)], ograds=[g], req="add"),
           case("softmax_f64", "softmax", [("data", x)], dict(dtype="float64"),
                ograds=[g.astype(np.float64)]),
           case("softmax_len", "softmax",
                [("data", x3), ("length", np.array([[1, 2, 3, 0], [3, 3, 2, 1]], np.int32))],
                dict(axis=1, use_length=True), ograds=[f32(2, 3, 4)]),
           case("log_softmax", "log_softmax", [("data", x3)], dict(axis=0, temperature=0.5),
                ograds=[f32(2, 3, 4)])]
    return cs


CASES = {c["cid"]: c for c in _loss_cases()}


@pytest.fixture(scope="module")
def oracle_res():
    return parity_cases([c for cid, c in CASES.items() if cid != "so_add"] + [CASES["so_add"]])


@pytest.mark.oracle
@pytest.mark.parametrize("cid", [c for c in CASES if c != "so_add"])
def test_parity_with_mxnet(oracle_res, cid):
    assert_parity(CASES[cid], oracle_res[cid])


@pytest.mark.oracle
def test_softmax_output_add_differs_from_mxnet_on_purpose(oracle_res):
    """MXNet 1.9.1's SoftmaxOutput overwrites under grad_req='add'; mxteach accumulates."""
    c = CASES["so_add"]
    mx_grad = oracle_res["so_add"]["grads"][0]
    np.testing.assert_allclose(mx_grad, oracle_res["so0"]["grads"][0], rtol=1e-6)
    _, grads = ours(c)
    np.testing.assert_allclose(grads[0], mx_grad + 0.5, rtol=1e-5)
    np.testing.assert_array_equal(grads[1], oracle_res["so_add"]["grads"][1])   # label alone


@pytest.mark.oracle
def test_names_match_mxnet():
    code = """
x = mx.sym.Variable('x')
out['names'] = [s.name for s in [mx.sym.SoftmaxOutput(x), mx.sym.Softmax(x), mx.sym.softmax(x),
    mx.sym.log_softmax(x), mx.sym.MakeLoss(x), mx.sym.BlockGrad(x), mx.sym.stop_gradient(x),
    mx.sym.LinearRegressionOutput(x), mx.sym.MAERegressionOutput(x),
    mx.sym.LogisticRegressionOutput(x)]]
out['args'] = [mx.sym.softmax(x, use_length=True, name='s').list_arguments(),
    mx.sym.LogisticRegressionOutput(name='lr').list_arguments(),
    mx.sym.MakeLoss(name='m').list_outputs()]
"""
    want = run_oracle(code)
    x = mx.sym.Variable("x")
    with mx.name.NameManager():
        names = [s.name for s in [mx.sym.SoftmaxOutput(x), mx.sym.Softmax(x), mx.sym.softmax(x),
                                  mx.sym.log_softmax(x), mx.sym.MakeLoss(x), mx.sym.BlockGrad(x),
                                  mx.sym.stop_gradient(x), mx.sym.LinearRegressionOutput(x),
                                  mx.sym.MAERegressionOutput(x),
                                  mx.sym.LogisticRegressionOutput(x)]]
    assert names == want["names"]
    got = [mx.sym.softmax(x, use_length=True, name="s").list_arguments(),
           mx.sym.LogisticRegressionOutput(name="lr").list_arguments(),
           mx.sym.MakeLoss(name="m").list_outputs()]
    assert [list(a) for a in got] == [list(a) for a in want["args"]]
