"""A kvstore holds a row_sparse key as row_sparse (issue 15): only its stored rows cost memory,
a push without an optimizer keeps the summed rows as they are (zero rows included), the
optimizer updates the stored weight, and every pull equals MXNet 1.9.1's."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import mxteach as mx

from oracle import run_oracle

BIG = (100_000, 64)


def _rsp(values, rows, shape, ctx=None):
    ctx = ctx or mx.cpu()
    return mx.nd.sparse.row_sparse_array(
        (mx.nd.array(values, ctx=ctx), mx.nd.array(rows, dtype="int64", ctx=ctx)),
        shape=shape, ctx=ctx)


def _big_rounds(kv):
    """Init a 100k x 64 row_sparse key with 3 rows, push 4+3 rows from two devices, pull 5."""
    rng = np.random.RandomState(0)
    kv.init("emb", _rsp(rng.rand(3, 64).astype("f"), [10, 500, 99_999], BIG))
    kv.push("emb", [_rsp(rng.rand(4, 64).astype("f"), [3, 10, 77, 4000], BIG, mx.cpu(0)),
                    _rsp(rng.rand(3, 64).astype("f"), [10, 4000, 88_000], BIG, mx.cpu(1))])
    out = mx.nd.sparse.zeros("row_sparse", BIG)
    kv.row_sparse_pull("emb", out=out, row_ids=mx.nd.array([88_000, 3, 5], dtype="int64"))
    return out


def test_row_sparse_key_is_held_as_its_stored_rows():
    kv = mx.kv.create("local")
    out = _big_rounds(kv)
    info = kv.storage_info("emb")
    # the push replaced the value by the sum, whose rows are the union of the pushed rows
    assert info == {"stype": "row_sparse", "stored_rows": 5, "num_rows": 100_000,
                    "stored_bytes": 5 * (64 * 4 + 8), "dense_bytes": 100_000 * 64 * 4}
    assert out.indices.asnumpy().tolist() == [3, 5, 88_000]
    assert np.all(out.data.asnumpy()[1] == 0) and np.all(out.data.asnumpy()[0] > 0)
    # a dense key reports every row
    kv.init("dense", mx.nd.ones((4, 2)))
    assert kv.storage_info("dense")["stored_rows"] == 4
    assert kv.storage_info("dense")["stored_bytes"] == 32


def test_row_sparse_key_never_allocates_the_dense_matrix():
    kv = mx.kv.create("local")
    tracemalloc.start()
    try:
        _big_rounds(kv)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the dense matrix is 25.6 MB; the rows in play are a few kB
    assert peak < 1_000_000, f"peak {peak} bytes: the store densified the key"


def test_optimizer_needs_every_row_stored_and_then_keeps_them():
    kv = mx.kv.create("local")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
    kv.init(0, _rsp(np.ones((2, 3), "f"), [1, 4], (6, 3)))
    # as MXNet's lazy kernels (which MXNet reports from its updater callback)
    with pytest.raises(mx.base.MXNetError, match="must store all 6 rows"):
        kv.push(0, _rsp(np.ones((1, 3), "f"), [0], (6, 3)))
    w = np.arange(18, dtype="f").reshape(6, 3) + 1
    kv.init(1, mx.nd.array(w).tostype("row_sparse"))
    kv.push(1, _rsp(np.ones((1, 3), "f"), [2], (6, 3)))
    assert kv.storage_info(1)["stype"] == "row_sparse"
    assert kv.storage_info(1)["stored_rows"] == 6
    out = mx.nd.zeros((6, 3))
    kv.pull(1, out=out)
    w[2] -= 0.1
    np.testing.assert_allclose(out.asnumpy(), w, rtol=1e-6)


# run unchanged by mxteach and by MXNet 1.9.1
CODE = """
res = {}
shape = (8, 3)
def rsp(vals, rows, ctx):
    return mx.nd.sparse.row_sparse_array((mx.nd.array(vals, ctx=ctx),
                                          mx.nd.array(rows, dtype='int64', ctx=ctx)),
                                         shape=shape, ctx=ctx)
def rows_of(kv, key):
    r = mx.nd.sparse.zeros('row_sparse', shape)
    kv.pull(key, out=r, ignore_sparse=False)
    return (r.indices.asnumpy(), r.data.asnumpy())
kv = mx.kv.create('local')
kv.init('a', rsp(np.array([[1, 2, 3], [0, 0, 0]], 'f'), [1, 6], mx.cpu()))
res['init_rows'] = rows_of(kv, 'a')
g = np.arange(9, dtype='f').reshape(3, 3) - 4
kv.push('a', [rsp(g[:2], [0, 5], mx.cpu(0)), rsp(-g[1:], [5, 7], mx.cpu(1))])
d = mx.nd.zeros(shape)
kv.pull('a', out=d)
res['dense'] = d.asnumpy()
res['push_rows'] = rows_of(kv, 'a')
r = mx.nd.sparse.zeros('row_sparse', shape)
kv.row_sparse_pull('a', out=r, row_ids=mx.nd.array([7, 2, 0, 7], dtype='int64'))
res['rsp_pull'] = (r.indices.asnumpy(), r.data.asnumpy())
kv.init('b', mx.nd.ones(shape))
kv.push('b', rsp(g[:2], [2, 3], mx.cpu()))      # a row_sparse sum replaces a dense value
res['dense_key_rows'] = rows_of(kv, 'b')
for i, (name, kw) in enumerate(cases):
    for kvtype in ['local', 'device']:
        kv = mx.kv.create(kvtype)
        kv.set_optimizer(mx.optimizer.create(name, **dict(kw)))
        kv.init(3, mx.nd.array(W).tostype('row_sparse'))
        outs = []
        for step in range(3):
            kv.push(3, [rsp(G[step, :2], [step, 4], mx.cpu(0)),
                        rsp(G[step, 2:], [4, 7 - step], mx.cpu(1))])
            r = mx.nd.sparse.zeros('row_sparse', shape)
            kv.row_sparse_pull(3, out=r, row_ids=mx.nd.array([4, 1, step], dtype='int64'))
            d = mx.nd.zeros(shape)
            kv.pull(3, out=d)
            outs.append((r.indices.asnumpy(), r.data.asnumpy(), d.asnumpy()))
        outs.append(rows_of(kv, 3))
        res[(i, kvtype)] = outs
out['res'] = res
"""
CASES = [("sgd", (("learning_rate", 0.1), ("momentum", 0.9), ("wd", 0.1))),
         ("sgd", (("learning_rate", 0.1), ("momentum", 0.9), ("lazy_update", False))),
         ("adam", (("learning_rate", 0.1), ("wd", 0.1))),
         ("adagrad", (("learning_rate", 0.1),)),
         ("ftrl", (("learning_rate", 0.1), ("lamda1", 0.01)))]


def _compare(ours, theirs, path):
    if isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _compare(a, b, path + (i,))
        return
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.shape == b.shape, (path, a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=str(path))


@pytest.mark.oracle
def test_row_sparse_key_push_pull_and_updates_equal_mxnet():
    rng = np.random.RandomState(0)
    arrays = dict(W=rng.uniform(-1, 1, (8, 3)).astype("f"),
                  G=rng.uniform(-1, 1, (3, 4, 3)).astype("f"))
    ns = {"mx": mx, "np": np, "out": {}, "cases": CASES, **arrays}
    exec(CODE, ns)
    ours = ns["out"]["res"]
    theirs = run_oracle(CODE, cases=CASES, **arrays)["res"]
    assert sorted(ours, key=str) == sorted(theirs, key=str)
    for key in theirs:
        _compare(ours[key], theirs[key], (key,))
    # the stored zero rows are kept, as MXNet keeps them
    assert theirs["init_rows"][0].tolist() == [1, 6]
    assert theirs["push_rows"][0].tolist() == [0, 5, 7]


@pytest.mark.cudasim
def test_row_sparse_sum_held_on_a_gpu_pulls_its_rows_there():
    """'device' keeps a row_sparse sum on the gpu it was made on; row_sparse_pull picks the
    asked rows from it on the device (zeros for rows it does not store)."""
    from mxteach.ndarray.sparse_gpu import GPURowSparseNDArray
    gpu, shape = mx.gpu(0), (9, 4)
    kv = mx.kv.create("device")
    kv.init("w", _rsp(np.ones((1, 4), "f"), [2], shape))
    g = np.arange(8, dtype="f").reshape(2, 4) + 1
    kv.push("w", [_rsp(g, [1, 5], shape, gpu), _rsp(g[:1], [5], shape, gpu)])
    assert kv.storage_info("w")["stored_rows"] == 2
    out = mx.nd.sparse.zeros("row_sparse", shape, ctx=gpu)
    kv.row_sparse_pull("w", out=out, row_ids=mx.nd.array([5, 2, 5, 8], ctx=gpu))
    assert isinstance(out, GPURowSparseNDArray)
    np.testing.assert_array_equal(out.indices.asnumpy(), [2, 5, 8])
    np.testing.assert_array_equal(out.data.asnumpy(), [[0] * 4, g[1] + g[0], [0] * 4])
    dense = mx.nd.zeros(shape, ctx=gpu)
    kv.pull("w", out=dense)
    want = np.zeros(shape, "f")
    want[[1, 5]] = [g[0], g[1] + g[0]]
    np.testing.assert_array_equal(dense.asnumpy(), want)
