"""Row_sparse weights updated on the executor's device, with no kvstore (issue 15).

``init_optimizer(kvstore=None)`` -- and ``fit`` on one device, where MXNet 1.9.1 drops the
'local' kvstore -- leaves the update to the module's own Updater: the executor's row_sparse
weight (every row stored) is updated lazily in place, the states row_sparse as MXNet makes
them. The numbers must equal MXNet's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.ndarray.sparse_storage import StorageFallbackWarning

from oracle import run_oracle

CODE = """
rng = np.random.RandomState(0)
F = 30
dense = ((rng.rand(64, F) < 0.1) * rng.rand(64, F)).astype('f4')
dense[:, 25:] = 0                     # features 25.. never appear: lazy rows stay put
label = (dense @ rng.randn(F) > 0.2).astype('f4')
W0 = rng.normal(0, 0.1, (F, 1)).astype('f4')
x = mx.sym.Variable('data', stype='csr')
w = mx.sym.Variable('lin_weight', shape=(F, 1), stype='row_sparse')
b = mx.sym.Variable('bias', shape=(1,))
net = mx.sym.LogisticRegressionOutput(mx.sym.broadcast_add(mx.sym.dot(x, w), b),
                                      label=mx.sym.reshape(mx.sym.var('softmax_label'), (-1, 1)))
batches = [mx.io.DataBatch([mx.nd.array(dense[i:i + 16]).tostype('csr')],
                           [mx.nd.array(label[i:i + 16])]) for i in range(0, 64, 16)]
res = []
for name, kw in cases:
    mod = mx.mod.Module(net, data_names=['data'], label_names=['softmax_label'])
    mod.bind([('data', (16, F))], [('softmax_label', (16,))])
    mod.init_params(arg_params={'lin_weight': mx.nd.array(W0).tostype('row_sparse'),
                                'bias': mx.nd.zeros((1,))})
    mod.init_optimizer(kvstore=None, optimizer=name, optimizer_params=dict(kw))
    for epoch in range(2):
        for bt in batches:
            mod.forward_backward(bt)
            mod.update()
    exe = mod._exec_group.execs[0]
    state = mod._updater.states[0]
    state = state if isinstance(state, (tuple, list)) else [state]
    args = mod.get_params()[0]
    # ('lin_weight': a name ending in _weight, so Module's wd_mult keeps weight decay)
    res.append((exe.arg_dict['lin_weight'].stype, [s.stype for s in state if s is not None],
                args['lin_weight'].stype, args['lin_weight'].asnumpy(), args['bias'].asnumpy()))
out['res'] = res
out['W0'] = W0

# the default kvstore='local' on one device: MXNet drops it, the module updates the weight
it = mx.io.NDArrayIter(dense, label, batch_size=16)
mod = mx.mod.Module(net, data_names=['data'], label_names=['softmax_label'])
mod.bind(it.provide_data, it.provide_label)
mod.init_params(arg_params={'lin_weight': mx.nd.array(W0).tostype('row_sparse'),
                            'bias': mx.nd.zeros((1,))})
seen = []
def to_csr(batch):
    return mx.io.DataBatch([batch.data[0].tostype('csr')], batch.label)
mod.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.5, 'momentum': 0.9,
                                                      'wd': 0.01})
metric = mx.metric.create('mse')
for epoch in range(2):
    it.reset()
    metric.reset()
    for bt in it:
        bt = to_csr(bt)
        mod.forward_backward(bt)
        mod.update()
        mod.update_metric(metric, bt.label)
    seen.append(metric.get()[1])
out['fit_kv'] = mod._kvstore is None
out['fit'] = (seen, mod.get_params()[0]['lin_weight'].asnumpy())
"""
CASES = [
    ("sgd", (("learning_rate", 0.5), ("momentum", 0.9), ("wd", 0.01))),
    ("sgd", (("learning_rate", 0.5), ("wd", 0.01), ("lazy_update", False))),
    ("adam", (("learning_rate", 0.05), ("wd", 0.01))),
    ("adagrad", (("learning_rate", 0.5),)),
    ("ftrl", (("learning_rate", 0.5), ("lamda1", 0.001))),
]


def _ours():
    ns = {"mx": mx, "np": np, "out": {}, "cases": CASES}
    with warnings.catch_warnings():
        warnings.simplefilter("error", StorageFallbackWarning)
        warnings.filterwarnings("ignore", "optimizer.rescale_grad")
        exec(CODE, ns)
    return ns["out"]


def test_row_sparse_weight_updated_by_the_module_without_a_kvstore():
    out = _ours()
    w0 = out["W0"]
    for (name, kw), (dev_stype, state_stypes, stype, weight, bias) in zip(CASES, out["res"]):
        assert dev_stype == "row_sparse" and stype == "row_sparse", name
        lazy = dict(kw).get("lazy_update", True)
        if lazy:        # features 25.. never appear: their rows keep the start values
            np.testing.assert_array_equal(weight[25:], w0[25:], err_msg=name)
        else:           # a standard update decays every row
            assert np.all(weight[25:] != w0[25:]), name
        assert np.all(weight[:25] != w0[:25]) and np.isfinite(weight).all(), name
    assert out["fit_kv"] is True
    assert out["fit"][0][1] < out["fit"][0][0]          # the mse falls


@pytest.mark.oracle
def test_row_sparse_weight_updated_without_a_kvstore_matches_mxnet():
    ours = _ours()
    theirs = run_oracle(CODE, cases=CASES)
    for case, a, b in zip(CASES, ours["res"], theirs["res"]):
        assert a[:3] == b[:3], f"{case}: storage types {a[:3]} vs MXNet {b[:3]}"
        np.testing.assert_allclose(a[3], b[3], rtol=1e-4, atol=1e-6, err_msg=str(case))
        np.testing.assert_allclose(a[4], b[4], rtol=1e-4, atol=1e-6, err_msg=str(case))
    assert ours["fit_kv"] == theirs["fit_kv"]
    np.testing.assert_allclose(ours["fit"][0], theirs["fit"][0], rtol=1e-4)
    np.testing.assert_allclose(ours["fit"][1], theirs["fit"][1], rtol=1e-4, atol=1e-6)
