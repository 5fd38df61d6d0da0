"""SoftmaxActivation, softmin, SVMOutput and softmax_cross_entropy (ops/nn_extra_act.py,
issue 17): numpy formulas, the kernels against their numpy twins, finite differences (of the
loss the heads define), grad_req add, MXNet 1.9.1 parity of forward and backward, CPU vs GPU
under the simulator, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import nn_extra_act as K
from mxteach.kernels.reference import nn_extra_act as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-2, 2, shape)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


LABELS = np.array([[0.0, 3.0, 1.0], [2.0, 2.0, 0.0]])
# name, inputs, params, numpy formula of the output, which inputs get a gradient
CASES = [
    ("SoftmaxActivation", [_x(2, 3, 4)], {},
     lambda x: _softmax(x, -1), [0]),          # MXNet's 'instance' is the last axis
    ("SoftmaxActivation", [_x(3, 5)], {}, lambda x: _softmax(x, 1), [0]),
    ("SoftmaxActivation", [_x(2, 3, 2, 2)], {"mode": "channel"}, lambda x: _softmax(x, 1), [0]),
    ("softmin", [_x(2, 3, 4)], {}, lambda x: _softmax(-x, -1), [0]),
    ("softmin", [_x(3, 4, 2)], {"axis": 1, "temperature": 2.5},
     lambda x: _softmax(-x / 2.5, 1), [0]),
    ("SVMOutput", [_x(2, 3, 4), LABELS], {}, lambda x, y: x, [0]),
    ("SVMOutput", [_x(6, 4), LABELS.reshape(-1)],
     {"use_linear": True, "margin": 0.5, "regularization_coefficient": 0.3},
     lambda x, y: x, [0]),
    ("softmax_cross_entropy", [_x(5, 4), np.array([0.0, 3.0, 1.0, 2.0, 2.0])], {},
     lambda x, y: -np.log(_softmax(x, 1)[np.arange(5), y.astype(int)]).sum(keepdims=True), [0]),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _reqs(case):
    return ["write" if i in case[4] else "null" for i in range(len(case[1]))]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula, _ = case
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        out = run_op(name, [a.astype(dtype) for a in inputs], **params)[0][0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, formula(*inputs), rtol=tol, atol=tol)


def _svm_loss(x, label, margin, coef, linear):
    rows = x.reshape(-1, x.shape[-1])
    hot = np.arange(rows.shape[1])[None, :] == label.reshape(-1, 1).astype(int)
    viol = np.where(hot, np.maximum(margin - rows, 0), np.maximum(margin + rows, 0))
    return coef * (viol.sum() if linear else (viol ** 2).sum())


@pytest.mark.parametrize("case", CASES[:5], ids=IDS[:5])
def test_finite_differences_of_the_softmaxes(case):
    name, inputs, params, _, wrt = case
    check_op_gradient(name, inputs, params, wrt=wrt, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", CASES[5:7], ids=IDS[5:7])
def test_finite_differences_of_the_svm_loss(case):
    name, (x, label), params, _, _ = case
    linear = params.get("use_linear", False)

    def loss(outs, ins):
        return _svm_loss(ins[0], ins[1], params.get("margin", 1.0),
                         params.get("regularization_coefficient", 1.0), linear)
    check_op_gradient(name, [x, label], params, loss_fn=loss, wrt=[0], rtol=1e-5, atol=1e-7)


def test_finite_differences_of_the_cross_entropy():
    x, label = CASES[7][1]
    _, (dx, _) = run_op_backward("softmax_cross_entropy", [x, label], reqs=["write", "null"],
                                 out_grads=[np.array([1.5])])
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += 1e-6
        lo[idx] -= 1e-6
        num[idx] = 1.5 * (run_op("softmax_cross_entropy", [hi, label])[0][0][0]
                          - run_op("softmax_cross_entropy", [lo, label])[0][0][0]) / 2e-6
    np.testing.assert_allclose(dx, num, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", [CASES[2], CASES[4], CASES[5], CASES[7]], ids=lambda c: c[0])
def test_grad_req_add(case):
    name, inputs, params, _, wrt = case
    reqs = _reqs(case)
    heads = [np.full(run_op(name, inputs, **params)[0][0].shape, 0.7)]
    _, once = run_op_backward(name, inputs, reqs=reqs, out_grads=heads, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, out_grads=heads, init_grads=init,
                               reqs=["add" if r == "write" else r for r in reqs], **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    rs = np.random.RandomState(4)
    x2 = rs.uniform(-2, 2, (6, 5)).astype(dtype)
    label = np.array([0.0, 4.0, 2.7, 7.0, -1.0, 1.0])       # 7 and -1 match no class
    logp = np.log(_softmax(x2.astype(np.float64), 1)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
    for accumulate in (False, True):
        for linear in (False, True):
            got, want = np.full_like(x2, 0.5), np.full_like(x2, 0.5)
            K.svm_grad(x2, label, 0.8, 0.6, linear, accumulate, got)
            R.svm_grad(x2, label, 0.8, 0.6, linear, accumulate, want)
            np.testing.assert_allclose(got, want, **tol)
        got, want = np.full_like(x2, 0.5), np.full_like(x2, 0.5)
        K.ce_grad(logp, label, np.array([1.5]), accumulate, got)
        R.ce_grad(logp, label, np.array([1.5]), accumulate, want)
        np.testing.assert_allclose(got, want, **tol)
    got, want = np.empty(1), np.empty(1)
    K.ce_loss(logp, label, got)
    R.ce_loss(logp, label, want)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params, wrt)
             for name, inputs, params, _, wrt in CASES]
    heads = [np.random.RandomState(9).uniform(-1, 1, run_op(n, i, **p)[0][0].shape)
             .astype(np.float32) for n, i, p, _ in cases]
    ref = run_oracle("""
for k, (name, inputs, params, wrt) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for i in wrt:
        args[i].attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(*args, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [args[i].grad.asnumpy() for i in wrt])
""", cases=cases, heads=heads)
    for k, (name, inputs, params, wrt) in enumerate(cases):
        reqs = ["write" if i in wrt else "null" for i in range(len(inputs))]
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], reqs=reqs, **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-5, atol=1e-6, err_msg=IDS[k])
        if k == 0:
            # MXNet 1.9.1's SoftmaxActivation(mode='instance') of 3-D+ data normalises over the
            # last axis but its backward sums over axis 1: not the gradient of its forward.
            # mxteach keeps the true gradient (finite differences above); MXNet's is pinned:
            o, h = ref[k][0], heads[k]
            np.testing.assert_allclose(ref[k][1][0], o * (h - (h * o).sum(1, keepdims=True)),
                                       rtol=1e-5, atol=1e-6)
            continue
        for i, want in zip(wrt, ref[k][1]):
            np.testing.assert_allclose(grads[i], want, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{IDS[k]} gradient {i}")


@pytest.mark.oracle
def test_mxnet_parity_of_fractional_and_out_of_range_labels():
    """Labels are truncated (2.7 is class 2). SVMOutput: a label outside [0, classes) matches
    no class, in MXNet as here. softmax_cross_entropy: MXNet reads such a label at the flat
    position row * classes + label, past its row (memory it does not own); mxteach matches no
    class instead, so only in-range labels are compared."""
    x = _x(4, 3).astype(np.float32)
    svm_label = np.array([5.0, -1.0, 2.7, 1.0], np.float32)
    ce_label = np.array([0.0, 1.9, 2.7, 1.0], np.float32)
    ref = run_oracle("""
d = mx.nd.array(x)
d.attach_grad()
with mx.autograd.record():
    y = mx.nd.softmax_cross_entropy(d, mx.nd.array(ce_label))
y.backward(mx.nd.array([1.0]))
out['ce'] = (y.asnumpy(), d.grad.asnumpy())
with mx.autograd.record():
    y = mx.nd.SVMOutput(d, mx.nd.array(svm_label))
y.backward()
out['svm'] = d.grad.asnumpy()
""", x=x, svm_label=svm_label, ce_label=ce_label)
    (y,), (dx, _) = run_op_backward("softmax_cross_entropy", [x, ce_label],
                                    reqs=["write", "null"], out_grads=[np.ones(1, np.float32)])
    np.testing.assert_allclose(y, ref["ce"][0], rtol=1e-5)
    np.testing.assert_allclose(dx, ref["ce"][1], rtol=1e-5, atol=1e-6)
    _, (dx, _) = run_op_backward("SVMOutput", [x, svm_label], reqs=["write", "null"])
    np.testing.assert_allclose(dx, ref["svm"], rtol=1e-5, atol=1e-6)


def test_symbols_infer_shapes_and_create_the_label():
    data, label = mx.sym.Variable("data"), mx.sym.Variable("label")
    net = mx.sym.SVMOutput(mx.sym.FullyConnected(data, num_hidden=3, name="fc"), name="svm")
    assert net.list_arguments() == ["data", "fc_weight", "fc_bias", "svm_label"]
    args, outs, _ = net.infer_shape(data=(4, 5))
    assert outs == [(4, 3)] and args[-1] == (4,)
    ce = mx.sym.softmax_cross_entropy(data, label)
    assert ce.infer_shape(data=(4, 5))[1] == [(1,)]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.softmax_cross_entropy(mx.nd.ones((2, 3, 4)), mx.nd.ones((2,))),
     "only accepts 2-D data"),
    (lambda: mx.nd.SVMOutput(mx.nd.ones((2, 3)), mx.nd.ones((3,))),
     "'label' has shape (3,), expected (2,)"),
    (lambda: mx.nd.SoftmaxActivation(mx.nd.ones((2, 3)), mode="spatial"), "expected one of"),
    (lambda: mx.nd.softmin(mx.nd.ones((2, 3)), axis=2), "axis 2 is out of range"),
    (lambda: mx.nd.softmin(mx.nd.ones((2, 3)), use_length=True), "needs a 'length' input"),
    (lambda: run_op_backward("softmax_cross_entropy", [np.ones((2, 3)), np.zeros(2)]),
     "cannot take the gradient with respect to 'label'"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _, wrt = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=wrt)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import nn_extra_act as C
    rs = np.random.RandomState(4)
    x2 = rs.uniform(-2, 2, (6, 5))
    label = np.array([0.0, 4.0, 2.7, 7.0, -1.0, 1.0])
    logp = np.log(_softmax(x2, 1))
    got, want = cuda.to_device(np.full_like(x2, 0.5)), np.full_like(x2, 0.5)
    C.svm_grad(cuda.to_device(x2), cuda.to_device(label), 0.8, 0.6, False, True, got)
    R.svm_grad(x2, label, 0.8, 0.6, False, True, want)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12)
    got, want = cuda.to_device(np.empty(1)), np.empty(1)
    C.ce_loss(cuda.to_device(logp), cuda.to_device(label), got)
    R.ce_loss(logp, label, want)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12)
