"""Row_sparse *weights* on the host (issue 15): ``opt.update`` on a row_sparse weight runs in
its stored values -- no dense copy, no StorageFallbackWarning -- with MXNet 1.9.1's numbers,
its state storage types, and its refusal of a weight that does not store every row."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ndarray.sparse_storage import RowSparseNDArray, StorageFallbackWarning

from oracle import run_oracle

W = (np.arange(12, dtype=np.float32).reshape(6, 2) / 10 + 0.05).astype(np.float32)
G = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
ROWS = [1, 4]

# two updates of a row_sparse weight, run unchanged by mxteach and by MXNet
CODE = """
res = []
for name, kw in cases:
    opt = mx.optimizer.create(name, **dict(kw))
    w = mx.nd.array(W).tostype('row_sparse')
    st = opt.create_state(0, w)
    flat = [s for s in (st if isinstance(st, (tuple, list)) else [st]) if s is not None]
    stypes = [s.stype for s in flat]
    for _ in range(2):
        g = mx.nd.sparse.row_sparse_array((mx.nd.array(G), mx.nd.array(rows, dtype='int64')),
                                          shape=W.shape)
        opt.update(0, w, g, st)
    res.append((w.stype, w.indices.asnumpy().tolist(), w.asnumpy(), stypes,
                [s.asnumpy() for s in flat]))
out['res'] = res
"""
CASES = [
    ("sgd", (("learning_rate", 0.1), ("momentum", 0.9), ("wd", 0.1))),
    ("sgd", (("learning_rate", 0.1), ("wd", 0.1), ("rescale_grad", 0.5))),
    ("sgd", (("learning_rate", 0.1), ("momentum", 0.9), ("wd", 0.1), ("lazy_update", False))),
    ("adam", (("learning_rate", 0.1), ("wd", 0.1), ("clip_gradient", 0.8))),
    ("adam", (("learning_rate", 0.1), ("wd", 0.1), ("lazy_update", False))),
    ("adagrad", (("learning_rate", 0.1),)),
    ("ftrl", (("learning_rate", 0.1), ("wd", 0.1), ("lamda1", 0.001))),
]
LAZY = [0, 1, 3, 5, 6]


def _ours(cases=CASES):
    ns = {"mx": mx, "np": np, "out": {}, "W": W, "G": G, "rows": ROWS, "cases": cases}
    with warnings.catch_warnings():
        warnings.simplefilter("error", StorageFallbackWarning)   # no dense detour
        exec(CODE, ns)
    return ns["out"]["res"]


def test_row_sparse_weight_is_updated_in_its_stored_rows_without_a_dense_copy(monkeypatch):
    def no_dense(self):
        raise AssertionError("the update densified a row_sparse array")
    monkeypatch.setattr(RowSparseNDArray, "_dense", no_dense)
    opt = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.1)
    w = mx.nd.array(W).tostype("row_sparse")
    values = w._values
    state = opt.create_state(0, w)
    g = mx.nd.sparse.row_sparse_array((G, np.array(ROWS)), shape=W.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StorageFallbackWarning)
        opt.update(0, w, g, state)
    assert w._values is values                  # written in place
    untouched = [r for r in range(6) if r not in ROWS]
    np.testing.assert_array_equal(values[untouched], W[untouched])
    mom = -0.1 * (G + 0.1 * W[ROWS])
    np.testing.assert_allclose(values[ROWS], W[ROWS] + mom, rtol=1e-6)
    assert state._aux[0].tolist() == list(range(6))       # filled at the first update
    np.testing.assert_allclose(state._values[ROWS], mom, rtol=1e-6)


def test_lazy_updates_of_a_row_sparse_weight_equal_the_dense_weight_lazy_update():
    ours = _ours()
    for i in LAZY:
        name, kw = CASES[i]
        opt = mx.optimizer.create(name, **dict(kw))
        w = mx.nd.array(W)
        if name == "ftrl":          # FTRL is lazy only on a (kvstore) row_sparse weight
            w._kv_stype = "row_sparse"
        st = opt.create_state(0, w)
        for _ in range(2):
            opt.update(0, w, mx.nd.sparse.row_sparse_array((G, np.array(ROWS)), shape=W.shape),
                       st)
        stype, rows, got, _, _ = ours[i]
        assert (stype, rows) == ("row_sparse", list(range(6)))
        np.testing.assert_allclose(got, w.asnumpy(), rtol=1e-6, err_msg=name)


def test_row_sparse_weight_must_store_every_row_as_mxnet():
    w = mx.nd.sparse.row_sparse_array((np.ones((2, 2), np.float32), np.array([0, 1])),
                                      shape=(6, 2))
    g = mx.nd.sparse.row_sparse_array((G, np.array(ROWS)), shape=(6, 2))
    for opt in (mx.optimizer.SGD(learning_rate=0.1),
                mx.optimizer.SGD(learning_rate=0.1, lazy_update=False)):
        with pytest.raises(MXNetError, match="must store all 6 rows.*got 2 stored rows"):
            opt.update(0, w, g, opt.create_state(0, w))


@pytest.mark.oracle
def test_row_sparse_weight_updates_match_mxnet():
    ours = _ours()
    theirs = run_oracle(CODE, W=W, G=G, rows=ROWS, cases=CASES)
    for case, a, b in zip(CASES, ours, theirs["res"]):
        assert a[0] == b[0] and a[1] == b[1], case
        np.testing.assert_allclose(a[2], b[2], rtol=1e-5, atol=1e-7, err_msg=str(case))
        assert a[3] == b[3], f"{case}: state storage types {a[3]} vs MXNet {b[3]}"
        for x, y in zip(a[4], b[4]):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7, err_msg=str(case))


def test_fit_with_a_row_sparse_weight_in_a_kvstore_gives_no_storage_fallback(tmp_path):
    rng = np.random.RandomState(3)
    dense = ((rng.rand(64, 30) < 0.1) * rng.rand(64, 30)).astype("f4")
    label = (dense @ rng.randn(30) > 0).astype("f4")
    with open(tmp_path / "train.libsvm", "w") as f:
        for y, row in zip(label, dense):
            f.write(f"{int(y)} " + " ".join(f"{j}:{row[j]:.4f}" for j in np.nonzero(row)[0])
                    + "\n")
    x = mx.sym.Variable("data", stype="csr")
    w = mx.sym.Variable("weight", shape=(30, 1), stype="row_sparse")
    b = mx.sym.Variable("bias", shape=(1,))
    net = mx.sym.LogisticRegressionOutput(
        mx.sym.broadcast_add(mx.sym.sparse.dot(x, w), b),
        mx.sym.reshape(mx.sym.Variable("softmax_label"), shape=(-1, 1)), name="out")
    it = mx.io.LibSVMIter(data_libsvm=str(tmp_path / "train.libsvm"), data_shape=(30,),
                          batch_size=16)
    mod = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod.fit(it, num_epoch=2, kvstore=mx.kv.create("local"), optimizer="sgd",
                initializer=mx.init.Constant(0.01), eval_metric="mse",
                optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "wd": 0.001},
                sparse_row_id_fn=lambda batch: {"weight": batch.data[0].indices})
    # before: "storage fallback: _host ..." (fit's non-finite check densified the weight)
    assert not [str(c.message) for c in caught if issubclass(c.category, StorageFallbackWarning)]
    assert np.isfinite(mod.get_params()[0]["bias"].asnumpy()).all()
