"""The optimizers MXNet builds on the aggregated update operators (issue 17): ``mx.optimizer.LARS``
(multi_sum_sq + multi_lars + preloaded_multi_*sgd*) and ``mx.optimizer.contrib.GroupAdaGrad``
(group_adagrad_update), each stepped through an Updater against a numpy rule written here and
against MXNet 1.9.1 (weights and states after several steps)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from oracle import run_oracle

NAMES = {0: "fc1_weight", 1: "fc1_bias", 2: "bn_gamma", 3: "fc2_weight"}
SHAPES = [(4, 3), (4,), (4,), (2, 4)]
LARS_KW = {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01, "eta": 0.05, "eps": 1e-6,
           "rescale_grad": 0.5}


def _params(seed):
    rs = np.random.RandomState(seed)
    return ([rs.uniform(-1, 1, s).astype(np.float32) for s in SHAPES],
            [[rs.uniform(-1, 1, s).astype(np.float32) for s in SHAPES] for _ in range(3)])


def _lars_numpy(weights, grad_steps, lr, momentum, wd, eta, eps, rescale_grad):
    """LARS from its formula in float64: wd only for *_weight, no ratio for bias/beta/gamma."""
    ws = [w.astype(np.float64) for w in weights]
    moms = [np.zeros_like(w) for w in ws]
    for grads in grad_steps:
        for k, g in enumerate(grads):
            name, g = NAMES[k], g.astype(np.float64) * rescale_grad
            wd_k = wd if name.endswith("_weight") else 0.0
            lr_k = lr
            if not name.endswith(("bias", "beta", "gamma")):
                wn, gn = np.linalg.norm(ws[k]), np.linalg.norm(g)
                lr_k = lr * eta * wn / (gn + wd_k * wn + eps)
            moms[k] = momentum * moms[k] - lr_k * wd_k * ws[k] - lr_k * g
            ws[k] = ws[k] + moms[k]
    return ws, moms


def _run_lars(weights, grad_steps, dtype="float32", **extra):
    opt = mx.optimizer.create("lars", param_idx2name=NAMES, **LARS_KW, **extra)
    updater = mx.optimizer.get_updater(opt)
    ws = [mx.nd.array(w).astype(dtype) for w in weights]
    for grads in grad_steps:
        updater(list(range(len(ws))), [mx.nd.array(g).astype(dtype) for g in grads], ws)
    return [w.asnumpy() for w in ws], updater


def test_lars_equals_the_formula():
    weights, grad_steps = _params(0)
    got, updater = _run_lars(weights, grad_steps)
    want, moms = _lars_numpy(weights, grad_steps, lr=0.1, momentum=0.9, wd=0.01, eta=0.05,
                             eps=1e-6, rescale_grad=0.5)
    for k in range(4):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=NAMES[k])
        np.testing.assert_allclose(updater.states[k].asnumpy(), moms[k], rtol=1e-4, atol=1e-6)


def test_group_adagrad_equals_the_formula_and_rejects_weight_decay():
    rs = np.random.RandomState(1)
    w = rs.uniform(-1, 1, (5, 3)).astype(np.float32)
    grads = [rs.uniform(-1, 1, (5, 3)).astype(np.float32) for _ in range(3)]
    opt = mx.optimizer.contrib.GroupAdaGrad(learning_rate=0.1, eps=1e-4, rescale_grad=0.5,
                                            clip_gradient=0.2)
    updater = mx.optimizer.get_updater(opt)
    nw = mx.nd.array(w)
    hist, ww = np.zeros((5, 1)), w.astype(np.float64)
    for g in grads:
        updater(0, mx.nd.array(g), nw)
        gr = np.clip(0.5 * g.astype(np.float64), -0.2, 0.2)
        hist += np.mean(gr * gr, axis=1, keepdims=True)
        ww -= 0.1 * gr / np.sqrt(hist + 1e-4)
    np.testing.assert_allclose(nw.asnumpy(), ww, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(updater.states[0].asnumpy(), hist, rtol=1e-5)
    with pytest.raises(MXNetError, match="weight decay"):
        mx.optimizer.get_updater(mx.optimizer.contrib.GroupAdaGrad(wd=0.1))(0, mx.nd.ones((2, 2)),
                                                                            mx.nd.ones((2, 2)))


@pytest.mark.oracle
def test_lars_and_group_adagrad_match_mxnet():
    weights, grad_steps = _params(2)
    ref = run_oracle("""
for dtype, mp in (('float32', False), ('float16', True)):
    opt = mx.optimizer.create('lars', param_idx2name=names, multi_precision=mp, **kw)
    upd = mx.optimizer.get_updater(opt)
    ws = [mx.nd.array(w).astype(dtype) for w in weights]
    for grads in grad_steps:
        upd(list(range(len(ws))), [mx.nd.array(g).astype(dtype) for g in grads], ws)
    out[dtype] = [w.asnumpy() for w in ws]
opt = mx.optimizer.contrib.GroupAdaGrad(learning_rate=0.1, rescale_grad=0.5, clip_gradient=0.3)
upd = mx.optimizer.get_updater(opt)
w0, w1 = mx.nd.array(weights[0]), mx.nd.array(weights[0])
for grads in grad_steps:
    upd(0, mx.nd.array(grads[0]), w0)
    upd(1, mx.nd.array(grads[0]).tostype('row_sparse'), w1)
out['group'] = [w0.asnumpy(), w1.asnumpy(), upd.states[0].asnumpy(), upd.states[1].asnumpy()]
""", weights=weights, grad_steps=grad_steps, names=NAMES, kw=LARS_KW)
    got, _ = _run_lars(weights, grad_steps)
    for k in range(4):
        np.testing.assert_allclose(got[k], ref["float32"][k], rtol=1e-5, atol=1e-6)
    got16, _ = _run_lars(weights, grad_steps, "float16", multi_precision=True)
    for k in range(4):
        assert got16[k].dtype == np.float16
        np.testing.assert_allclose(got16[k].astype(np.float32),
                                   ref["float16"][k].astype(np.float32), rtol=2e-3, atol=2e-3)
    opt = mx.optimizer.contrib.GroupAdaGrad(learning_rate=0.1, rescale_grad=0.5,
                                            clip_gradient=0.3)
    upd = mx.optimizer.get_updater(opt)
    w0, w1 = mx.nd.array(weights[0]), mx.nd.array(weights[0])
    for grads in grad_steps:
        upd(0, mx.nd.array(grads[0]), w0)
        upd(1, mx.nd.array(grads[0]).tostype("row_sparse"), w1)
    for a, b in zip([w0, w1, upd.states[0], upd.states[1]], ref["group"]):
        np.testing.assert_allclose(a.asnumpy(), b, rtol=1e-5, atol=1e-6)
