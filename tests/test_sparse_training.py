"""Sparse storage through training (issue 15): row_sparse gradients of Embedding(sparse_grad)
and contrib.SparseEmbedding, lazy optimizer updates, row_sparse values in the kvstore and
Module.prepare(sparse_row_id_fn) — against numpy, the dense path and real MXNet 1.9.1."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import sparse as K
from mxteach.kernels.reference import sparse as R
from mxteach.ndarray.sparse import StorageFallbackWarning

from oracle import run_oracle

IDX = np.array([1, 3, 3, 7, -2, 12.7, 0.9], np.float64)   # repeats, clipped, truncated


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_rows_grad_kernel_equals_reference(dtype):
    rng = np.random.default_rng(0)
    dy = rng.standard_normal((IDX.size, 3)).astype(dtype)
    got_r, got_v = np.empty(IDX.size, np.int64), np.empty((IDX.size, 3), dtype)
    ref_r, ref_v = np.empty(IDX.size, np.int64), np.empty((IDX.size, 3), dtype)
    n = K.embedding_rows_grad(IDX, dy, 10, got_r, got_v)
    assert R.embedding_rows_grad(IDX, dy, 10, ref_r, ref_v) == n == 5
    np.testing.assert_array_equal(got_r[:n], [0, 1, 3, 7, 9])
    np.testing.assert_array_equal(got_r[:n], ref_r[:n])
    np.testing.assert_allclose(got_v[:n], ref_v[:n], rtol=1e-6)
    np.testing.assert_allclose(got_v[2], dy[1] + dy[2], rtol=1e-6)
    np.testing.assert_allclose(got_v[0], dy[4] + dy[6], rtol=1e-6)


def _emb_exec(kind, req="write"):
    data = mx.sym.Variable("data")
    if kind == "contrib":
        emb = mx.sym.contrib.SparseEmbedding(data, input_dim=10, output_dim=3, name="e")
    else:
        emb = mx.sym.Embedding(data, input_dim=10, output_dim=3, sparse_grad=kind == "sparse",
                               name="e")
    loss = mx.sym.MakeLoss(mx.sym.sum(emb * emb))
    ex = loss.simple_bind(mx.cpu(), data=(4,), grad_req={"data": "null", "e_weight": req})
    ex.arg_dict["e_weight"][:] = mx.nd.array(np.arange(30).reshape(10, 3) / 10)
    return ex


@pytest.mark.parametrize("kind", ["sparse", "contrib"])
def test_embedding_weight_gradient_is_row_sparse_and_equals_dense(kind):
    ex, dense = _emb_exec(kind), _emb_exec("dense")
    assert ex.grad_dict["e_weight"].stype == "row_sparse"
    assert ex.arg_dict["e_weight"].stype == "default"     # the weight stays dense, as MXNet
    for e in (ex, dense):
        e.forward(is_train=True, data=mx.nd.array([1, 3, 3, 7]))
        e.backward()
    g = ex.grad_dict["e_weight"]
    np.testing.assert_array_equal(g.indices.asnumpy(), [1, 3, 7])
    np.testing.assert_allclose(g.asnumpy(), dense.grad_dict["e_weight"].asnumpy(), rtol=1e-6)
    ex.forward(is_train=True, data=mx.nd.array([2, 2, 2, 2]))     # 'write': last batch only
    ex.backward()
    np.testing.assert_array_equal(g.indices.asnumpy(), [2])


def test_sparse_embedding_refuses_what_mxnet_refuses():
    with pytest.raises(MXNetError, match="req != write"):
        _emb_exec("sparse", req="add")
    data = mx.sym.Variable("data")
    emb = mx.sym.Embedding(data, input_dim=5, output_dim=2, sparse_grad=True, name="e")
    with pytest.raises(MXNetError, match="data gradient"):
        mx.sym.MakeLoss(mx.sym.sum(emb)).simple_bind(mx.cpu(), data=(3,))


def test_weight_shared_with_a_dense_consumer_falls_back_with_a_warning():
    data, w = mx.sym.Variable("data"), mx.sym.Variable("w", shape=(5, 2))
    emb = mx.sym.Embedding(data, w, input_dim=5, output_dim=2, sparse_grad=True)
    out = mx.sym.MakeLoss(mx.sym.sum(emb) + mx.sym.sum(w))
    with pytest.warns(StorageFallbackWarning, match="dense gradient"):
        ex = out.simple_bind(mx.cpu(), data=(3,), grad_req={"data": "null", "w": "write"})
    assert ex.grad_dict["w"].stype == "default"


@pytest.mark.oracle
def test_sparse_embedding_gradient_matches_mxnet():
    ex = _emb_exec("contrib")
    ex.forward(is_train=True, data=mx.nd.array([4, 0, 4, 9]))
    ex.backward()
    out = run_oracle("""
data = mx.sym.Variable('data')
for kind in ('sparse', 'contrib'):
    if kind == 'contrib':
        emb = mx.sym.contrib.SparseEmbedding(data, input_dim=10, output_dim=3, name='e')
    else:
        emb = mx.sym.Embedding(data, input_dim=10, output_dim=3, sparse_grad=True, name='e')
    ex = mx.sym.MakeLoss(mx.sym.sum(emb * emb)).simple_bind(
        mx.cpu(), data=(4,), grad_req={'data': 'null', 'e_weight': 'write'})
    ex.arg_dict['e_weight'][:] = mx.nd.array(np.arange(30).reshape(10, 3) / 10)
    ex.forward(is_train=True, data=mx.nd.array([4, 0, 4, 9]))
    ex.backward()
    g = ex.grad_dict['e_weight']
    out[kind] = (g.stype, g.indices.asnumpy(), g.data.asnumpy())
""")
    g = ex.grad_dict["e_weight"]
    for kind in ("sparse", "contrib"):
        stype, rows, values = out[kind]
        assert stype == g.stype
        np.testing.assert_array_equal(g.indices.asnumpy(), rows)
        np.testing.assert_allclose(g.data.asnumpy(), values, rtol=1e-6)


# -- lazy updates -------------------------------------------------------------------------------
W = np.random.default_rng(1).random((5, 2)).astype(np.float32)
G = np.random.default_rng(2).random((2, 2)).astype(np.float32)
CASES = [("sgd", {"momentum": 0.0, "lazy_update": True}),
         ("sgd", {"momentum": 0.0, "lazy_update": False}),
         ("sgd", {"momentum": 0.9, "lazy_update": True}),
         ("sgd", {"momentum": 0.9, "lazy_update": False}),
         ("adam", {"lazy_update": True}), ("adam", {"lazy_update": False}),
         ("ftrl", {}), ("nag", {"momentum": 0.9}), ("rmsprop", {})]


def _two_updates(name, kw):
    opt = mx.optimizer.create(name, learning_rate=0.1, wd=0.1, rescale_grad=0.5, **kw)
    w = mx.nd.array(W)
    state = opt.create_state_multi_precision(0, w)
    for _ in range(2):
        g = mx.nd.sparse.row_sparse_array((G, np.array([1, 3])), shape=(5, 2))
        opt.update_multi_precision(0, w, g, state)
    return w.asnumpy()


def test_lazy_update_touches_only_the_gradient_rows():
    lazy = _two_updates("sgd", {"momentum": 0.9, "lazy_update": True})
    full = _two_updates("sgd", {"momentum": 0.9, "lazy_update": False})
    np.testing.assert_array_equal(lazy[[0, 2, 4]], W[[0, 2, 4]])
    np.testing.assert_allclose(lazy[[1, 3]], full[[1, 3]], rtol=1e-6)
    assert np.all(full[[0, 2, 4]] < W[[0, 2, 4]])          # weight decay reached every row
    g = mx.nd.sparse.row_sparse_array((G, np.array([1, 3])), shape=(5, 2))
    opt = mx.optimizer.create("sgd", learning_rate=0.1)
    w_dense, w_sparse = mx.nd.array(W), mx.nd.array(W)
    opt.update(0, w_dense, g.tostype("default"), None)
    opt.update(1, w_sparse, g, None)           # no momentum, no wd: lazy == dense
    np.testing.assert_allclose(w_sparse.asnumpy(), w_dense.asnumpy(), rtol=1e-6)


def test_optimizers_without_a_sparse_rule():
    with pytest.warns(StorageFallbackWarning, match="optimizer update"):
        _two_updates("ftrl", {})
    with pytest.raises(MXNetError, match="AdaGrad"):
        _two_updates("adagrad", {})


@pytest.mark.oracle
def test_lazy_and_standard_updates_match_mxnet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StorageFallbackWarning)
        ours = [_two_updates(n, kw) for n, kw in CASES]
    out = run_oracle("""
res = []
for name, kw in cases:
    opt = mx.optimizer.create(name, learning_rate=0.1, wd=0.1, rescale_grad=0.5, **kw)
    w = mx.nd.array(W)
    st = opt.create_state_multi_precision(0, w)
    for _ in range(2):
        g = mx.nd.sparse.row_sparse_array((mx.nd.array(G), mx.nd.array([1, 3], dtype='int64')),
                                          shape=(5, 2))
        opt.update_multi_precision(0, w, g, st)
    res.append(w.asnumpy())
out['w'] = res
""", W=W, G=G, cases=CASES)
    for (name, kw), a, b in zip(CASES, ours, out["w"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{name} {kw}")


# -- kvstore ------------------------------------------------------------------------------------
KV_CODE = """
kv = mx.kv.create('local')
kv.init('w', mx.nd.array(np.arange(10).reshape(5, 2)))
g = mx.nd.sparse.row_sparse_array((mx.nd.ones((2, 2)), mx.nd.array([1, 3], dtype='int64')),
                                  shape=(5, 2))
kv.push('w', [g, g])
o = mx.nd.zeros((5, 2))
kv.pull('w', out=o)
out['pushed'] = o.asnumpy()
r = mx.nd.sparse.zeros('row_sparse', (5, 2))
kv.row_sparse_pull('w', out=r, row_ids=mx.nd.array([3, 0, 3], dtype='int64'))
out['pulled'] = (r.indices.asnumpy(), r.data.asnumpy())
kv.init('r', mx.nd.sparse.row_sparse_array(np.arange(10).reshape(5, 2).astype('f4')))
kv.set_optimizer(mx.optimizer.SGD(learning_rate=1.0, wd=0.5))
kv.push('r', g)
r4 = mx.nd.sparse.zeros('row_sparse', (5, 2))
kv.row_sparse_pull('r', out=r4, row_ids=mx.nd.arange(0, 5, dtype='int64'))
out['updated'] = r4.asnumpy()
"""


def _run_kv_code():
    ns = {"mx": mx, "np": np, "out": {}}
    exec(KV_CODE, ns)
    return ns["out"]


@pytest.mark.oracle
def test_kvstore_row_sparse_push_and_pull_match_mxnet():
    ours, theirs = _run_kv_code(), run_oracle(KV_CODE)
    np.testing.assert_array_equal(ours["pushed"], theirs["pushed"])
    np.testing.assert_array_equal(ours["pulled"][0], theirs["pulled"][0])
    np.testing.assert_array_equal(ours["pulled"][1], theirs["pulled"][1])
    np.testing.assert_allclose(ours["updated"], theirs["updated"], rtol=1e-6)


def test_kvstore_sparse_outputs_are_refused_or_skipped_as_in_mxnet():
    kv = mx.kv.create("local")
    kv.init(0, mx.nd.ones((3, 2)))
    with pytest.raises(MXNetError, match="must be row_sparse"):
        kv.row_sparse_pull(0, out=mx.nd.zeros((3, 2)), row_ids=mx.nd.array([1]))
    r = mx.nd.sparse.zeros("row_sparse", (3, 2))
    with pytest.raises(MXNetError, match="PullRowSparse expects row_sparse src"):
        kv.row_sparse_pull(0, out=r, row_ids=mx.nd.array([1]))
    with pytest.warns(UserWarning, match="left unchanged"):
        kv.pull(0, out=r)
    assert r.indices.shape == (0,)
    kv.init(1, mx.nd.ones((3, 2)).tostype("row_sparse"))
    with pytest.raises(MXNetError, match=r"lie in \[0, 3\)"):
        kv.row_sparse_pull(1, out=r, row_ids=mx.nd.array([5]))


# -- Module ---------------------------------------------------------------------------------------
RNG = np.random.RandomState(0)
X = RNG.randint(0, 50, size=(40, 3)).astype(np.float32)
Y = RNG.randint(0, 4, size=40).astype(np.float32)
W0 = (RNG.randn(50, 4) * 0.1).astype(np.float32)
F0 = (RNG.randn(4, 12) * 0.1).astype(np.float32)

MODULE_CODE = """
def train(sparse, opt, kw, kvstore):
    d = mx.sym.var('data')
    e = mx.sym.Embedding(d, input_dim=50, output_dim=4, sparse_grad=sparse, name='emb')
    fc = mx.sym.FullyConnected(mx.sym.flatten(e), num_hidden=4, name='fc')
    net = mx.sym.SoftmaxOutput(fc, name='softmax')
    it = mx.io.NDArrayIter(X, Y, batch_size=10)
    mod = mx.mod.Module(net, context=mx.cpu())
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(arg_params={'emb_weight': mx.nd.array(W0), 'fc_weight': mx.nd.array(F0),
                                'fc_bias': mx.nd.zeros((4,))})
    kv = mx.kv.create('local') if kvstore else None
    mod.fit(it, num_epoch=2, kvstore=kv, optimizer=opt, optimizer_params=kw,
            eval_metric='ce', begin_epoch=0)
    score = mod.score(it, 'ce')[0][1]
    return mod.get_params()[0]['emb_weight'].asnumpy(), score

runs = {}
for key, (sparse, opt, kw, kvstore) in cases.items():
    runs[key] = train(sparse, opt, dict(kw), kvstore)
out['runs'] = runs
"""
MODULE_CASES = {
    "sgd_lazy": (True, "sgd", (("learning_rate", 0.5), ("momentum", 0.9), ("wd", 0.01)), False),
    "sgd_full": (True, "sgd", (("learning_rate", 0.5), ("momentum", 0.9), ("wd", 0.01),
                               ("lazy_update", False)), False),
    "sgd_dense": (False, "sgd", (("learning_rate", 0.5), ("momentum", 0.9), ("wd", 0.01)),
                  False),
    "adam_lazy_kv": (True, "adam", (("learning_rate", 0.05), ("wd", 0.01)), True),
}


def _run_module_code():
    ns = {"mx": mx, "np": np, "out": {}, "X": X, "Y": Y, "W0": W0, "F0": F0,
          "cases": MODULE_CASES}
    exec(MODULE_CODE, ns)
    return ns["out"]["runs"]


@pytest.fixture(scope="module")
def module_runs():
    return _run_module_code()


def test_module_lazy_training_equals_dense_where_it_must(module_runs):
    full, dense, lazy = (module_runs[k][0] for k in ("sgd_full", "sgd_dense", "sgd_lazy"))
    np.testing.assert_allclose(full, dense, rtol=1e-5, atol=1e-7)
    untouched = sorted(set(range(50)) - set(X.astype(int).ravel().tolist()))
    assert untouched, "the data must leave some rows untouched"
    np.testing.assert_array_equal(lazy[untouched], W0[untouched])     # no decay there
    assert not np.allclose(dense[untouched], W0[untouched])


@pytest.mark.oracle
def test_module_sparse_embedding_training_matches_mxnet(module_runs):
    theirs = run_oracle(MODULE_CODE, X=X, Y=Y, W0=W0, F0=F0, cases=MODULE_CASES)["runs"]
    for key, (weight, score) in module_runs.items():
        np.testing.assert_allclose(weight, theirs[key][0], rtol=1e-4, atol=1e-5, err_msg=key)
        assert abs(score - theirs[key][1]) <= 1e-4, key


def test_prepare_with_sparse_row_id_fn_warns_where_mxnet_warns():
    d = mx.sym.var("data")
    net = mx.sym.MakeLoss(mx.sym.sum(mx.sym.Embedding(d, input_dim=6, output_dim=2,
                                                      sparse_grad=True, name="emb")))
    mod = mx.mod.Module(net, label_names=None)
    mod.bind([("data", (2,))])
    mod.init_params()
    batch = mx.io.DataBatch([mx.nd.array([1, 4])])
    with pytest.warns(UserWarning, match="not updated in the KVStore"):
        mod.prepare(batch, sparse_row_id_fn=lambda b: {"emb_weight": b.data[0]})
    mod.init_optimizer(kvstore=mx.kv.create("local"))
    with pytest.warns(UserWarning, match="emb_weight.stype is not 'row_sparse'"):
        mod.prepare(batch, sparse_row_id_fn=lambda b: {"emb_weight": b.data[0]})
    with pytest.raises(MXNetError, match="not a parameter"):
        mod.prepare(batch, sparse_row_id_fn=lambda b: {"emb_weights": b.data[0]})
    with pytest.raises(MXNetError, match="must return a dict"):
        mod.prepare(batch, sparse_row_id_fn=lambda b: [b.data[0]])



@pytest.mark.parametrize("kvstore", ["local", "device"])
def test_sparse_gradients_over_two_devices_equal_one(kvstore):
    def train(ctx):
        d = mx.sym.var("data")
        e = mx.sym.Embedding(d, input_dim=50, output_dim=4, sparse_grad=True, name="emb")
        fc = mx.sym.FullyConnected(mx.sym.flatten(e), num_hidden=4, name="fc")
        mod = mx.mod.Module(mx.sym.SoftmaxOutput(fc, name="softmax"), context=ctx)
        mod.fit(mx.io.NDArrayIter(X, Y, batch_size=10), num_epoch=2, kvstore=kvstore,
                optimizer="sgd", arg_params={"emb_weight": mx.nd.array(W0),
                                             "fc_weight": mx.nd.array(F0),
                                             "fc_bias": mx.nd.zeros((4,))},
                optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "wd": 0.01})
        return mod.get_params()[0]["emb_weight"].asnumpy()
    one, two = train(mx.cpu()), train([mx.cpu(0), mx.cpu(1)])
    np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
    assert not np.allclose(one, W0)
