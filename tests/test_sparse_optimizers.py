"""Lazy AdaGrad and FTRL for row_sparse gradients (issue 15), as MXNet 1.9.1 runs them:
AdaGrad updates only the gradient's rows (``_sparse_adagrad_update``, wd must be 0), FTRL
goes lazy on a row_sparse weight (a row_sparse parameter in the kvstore) and densifies the
gradient of a dense one."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError

from oracle import run_oracle

W = np.random.default_rng(3).random((6, 2)).astype(np.float32) + 0.1
G = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
ROWS = [1, 4]

# optimizer steps on a dense weight and through a kvstore holding a row_sparse value;
# run unchanged by mxteach and by MXNet
CODE = """
def grad():
    return mx.nd.sparse.row_sparse_array((mx.nd.array(G), mx.nd.array(rows, dtype='int64')),
                                         shape=W.shape)

def local(name, kw):
    opt = mx.optimizer.create(name, **kw)
    w = mx.nd.array(W)
    st = opt.create_state_multi_precision(0, w)
    for _ in range(3):
        opt.update_multi_precision(0, w, grad(), st)
    return w.asnumpy()

def in_kvstore(name, kw):
    kv = mx.kv.create('local')
    kv.init('w', mx.nd.array(W).tostype('row_sparse'))
    kv.set_optimizer(mx.optimizer.create(name, **kw))
    for _ in range(3):
        kv.push('w', [grad(), grad()])
    o = mx.nd.sparse.zeros('row_sparse', W.shape)
    kv.row_sparse_pull('w', out=o, row_ids=mx.nd.arange(0, W.shape[0], dtype='int64'))
    return o.asnumpy()

out['local'] = [local(name, dict(kw)) for name, kw in local_cases]
out['kv'] = [in_kvstore(name, dict(kw)) for name, kw in kv_cases]
"""
LOCAL_CASES = [
    ("adagrad", (("learning_rate", 0.1), ("rescale_grad", 0.5))),
    ("adagrad", (("learning_rate", 0.3), ("eps", 0.5), ("clip_gradient", 0.4))),
    ("adagrad", (("learning_rate", 0.3), ("clip_gradient", 0.0))),      # 0: no clipping
    ("ftrl", (("learning_rate", 0.1), ("wd", 0.1), ("lamda1", 0.001))),   # dense weight
]
KV_CASES = [
    ("ftrl", (("learning_rate", 0.1), ("wd", 0.1), ("lamda1", 0.001), ("rescale_grad", 0.5))),
    ("ftrl", (("learning_rate", 0.2), ("beta", 0.5), ("clip_gradient", 0.7))),
    ("adagrad", (("learning_rate", 0.1),)),
]


def _ours():
    ns = {"mx": mx, "np": np, "out": {}, "W": W, "G": G, "rows": ROWS,
          "local_cases": LOCAL_CASES, "kv_cases": KV_CASES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(CODE, ns)
    return ns["out"]


def _untouched():
    return [r for r in range(W.shape[0]) if r not in ROWS]


def test_adagrad_updates_only_the_gradient_rows():
    out = _ours()
    for w in out["local"][:3] + [out["kv"][2]]:
        np.testing.assert_array_equal(w[_untouched()], W[_untouched()])
        assert np.all(w[ROWS] != W[ROWS])
    # one row by hand: three steps of h += g^2; w -= lr g / sqrt(h + eps)
    w, h = W[1].astype(np.float64), np.zeros(2)
    for _ in range(3):
        g = 0.5 * G[0]
        h += g * g
        w -= 0.1 * g / np.sqrt(h + 1e-7)
    np.testing.assert_allclose(out["local"][0][1], w, rtol=1e-5)
    # clip_gradient=0 clips nothing on the sparse path (the dense path would freeze w)
    assert np.all(out["local"][2][ROWS] != W[ROWS])


def test_ftrl_is_lazy_on_a_row_sparse_weight_and_dense_on_a_dense_one():
    out = _ours()
    for w in out["kv"][:2]:
        np.testing.assert_array_equal(w[_untouched()], W[_untouched()])
    # the dense weight: every row takes the dense rule (z = n = 0 there makes them 0)
    np.testing.assert_array_equal(out["local"][3][_untouched()], 0)


def test_sparse_adagrad_refuses_weight_decay_as_mxnet():
    opt = mx.optimizer.create("adagrad", learning_rate=0.1, wd=0.01)
    w = mx.nd.array(W)
    g = mx.nd.sparse.row_sparse_array((G, np.array(ROWS)), shape=W.shape)
    with pytest.raises(MXNetError, match="needs wd=0, got wd=0.01"):
        opt.update(0, w, g, opt.create_state(0, w))


@pytest.mark.oracle
def test_sparse_adagrad_and_ftrl_match_mxnet():
    ours = _ours()
    theirs = run_oracle(CODE, W=W, G=G, rows=ROWS, local_cases=LOCAL_CASES, kv_cases=KV_CASES)
    for kind, cases in (("local", LOCAL_CASES), ("kv", KV_CASES)):
        for case, a, b in zip(cases, ours[kind], theirs[kind]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=f"{kind} {case}")


# a sparse linear model trained by a Module with a row_sparse weight in the kvstore
MODULE_CODE = """
rng = np.random.RandomState(0)
F = 30
dense = ((rng.rand(64, F) < 0.1) * rng.rand(64, F)).astype('f4')
label = (dense @ rng.randn(F) > 0.2).astype('f4')
x = mx.sym.Variable('data', stype='csr')
w = mx.sym.Variable('weight', shape=(F, 1), stype='row_sparse', init=mx.init.Normal(0.1))
b = mx.sym.Variable('bias', shape=(1,), init=mx.init.Zero())
net = mx.sym.LogisticRegressionOutput(mx.sym.broadcast_add(mx.sym.dot(x, w), b),
                                      label=mx.sym.reshape(mx.sym.var('softmax_label'), (-1, 1)))
res = {}
for name, kw in cases:
    mod = mx.mod.Module(net, data_names=['data'], label_names=['softmax_label'])
    batches = [mx.io.DataBatch([mx.nd.array(dense[i:i + 16]).tostype('csr')],
                               [mx.nd.array(label[i:i + 16])]) for i in range(0, 64, 16)]
    mod.bind([('data', (16, F))], [('softmax_label', (16,))])
    mod.init_params(arg_params={'weight': mx.nd.array(W0).tostype('row_sparse'),
                                'bias': mx.nd.zeros((1,))})
    mod.init_optimizer(kvstore=mx.kv.create('local'), optimizer=name, optimizer_params=dict(kw))
    metric = mx.metric.create('mse')
    for epoch in range(2):
        for bt in batches:
            mod.prepare(bt, sparse_row_id_fn=lambda bt: {'weight': bt.data[0].indices})
            mod.forward_backward(bt)
            mod.update()
            mod.update_metric(metric, bt.label)
    res[name] = (mod.get_params()[0]['weight'].asnumpy(), metric.get()[1])
out['res'] = res
"""
W0 = np.random.default_rng(4).normal(0, 0.1, (30, 1)).astype(np.float32)
MODULE_CASES = [("ftrl", (("learning_rate", 0.2), ("lamda1", 0.001), ("wd", 0.001))),
                ("adagrad", (("learning_rate", 0.2),))]


@pytest.mark.oracle
def test_module_trains_with_sparse_ftrl_and_adagrad_as_mxnet():
    ns = {"mx": mx, "np": np, "out": {}, "W0": W0, "cases": MODULE_CASES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(MODULE_CODE, ns)
    theirs = run_oracle(MODULE_CODE, W0=W0, cases=MODULE_CASES)["res"]
    for name, _ in MODULE_CASES:
        (w, score), (w_mx, score_mx) = ns["out"]["res"][name], theirs[name]
        np.testing.assert_allclose(w, w_mx, rtol=1e-4, atol=1e-6, err_msg=name)
        assert abs(score - score_mx) <= 1e-4, name
        assert not np.allclose(w, W0), name
