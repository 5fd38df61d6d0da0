"""Sparse storage in graphs and models (issue 15): stype on variables and simple_bind's
stype_dict, csr data and dot(csr, w) gradients, LibSVMIter and NDArrayIter over csr, and the
sparse linear-classification and factorization-machine examples trained as in MXNet 1.9.1."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ndarray.sparse import StorageFallbackWarning

from oracle import run_oracle


# -- storage types of arguments: stype, stype_dict, csr data, dot(csr, w) -------------------------
CSR = np.array([[0, 1, 0, 0, 2, 0], [0, 0, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0]], np.float32)
STYPE_CODE = """
x = mx.sym.Variable('data', stype='csr')
w = mx.sym.Variable('weight', stype='row_sparse', shape=(6, 1))
w2 = mx.sym.Variable('w2', shape=(6, 1))
b = mx.sym.Variable('bias', shape=(1,))
net = mx.sym.broadcast_add(mx.sym.sparse.dot(x, w) + mx.sym.sparse.dot(x, w2), b)
ex = mx.sym.MakeLoss(mx.sym.sum(net * net)).simple_bind(
    mx.cpu(), data=(3, 6), grad_req={'data': 'null', 'weight': 'write', 'w2': 'write',
                                     'bias': 'write'})
out['arg_stypes'] = {k: v.stype for k, v in ex.arg_dict.items()}
out['grad_stypes'] = {k: v.stype for k, v in ex.grad_dict.items() if v is not None}
ex.arg_dict['data'][:] = mx.nd.sparse.csr_matrix(CSR)
ex.arg_dict['weight'][:] = mx.nd.sparse.row_sparse_array(
    (np.array([[1.0], [0.5]], 'f4'), np.array([0, 4])), shape=(6, 1))
ex.arg_dict['w2'][:] = 1
ex.forward(is_train=True)
ex.backward()
out['y'] = ex.outputs[0].asnumpy()
g = ex.grad_dict['weight']
out['g'] = (g.indices.asnumpy(), g.data.asnumpy(), ex.grad_dict['w2'].asnumpy())
ex2 = mx.sym.dot(mx.sym.var('d'), mx.sym.var('ww')).simple_bind(
    mx.cpu(), d=(3, 6), ww=(6, 2), stype_dict={'d': 'csr', 'ww': 'default'},
    grad_req={'d': 'null', 'ww': 'write'})
out['stype_dict'] = (ex2.arg_dict['d'].stype, ex2.grad_dict['ww'].stype)
"""


def test_variable_stypes_csr_data_and_dot_gradients():
    ns = {"mx": mx, "np": np, "out": {}, "CSR": CSR}
    exec(STYPE_CODE, ns)
    out = ns["out"]
    assert out["arg_stypes"] == {"data": "csr", "weight": "row_sparse", "w2": "default",
                                 "bias": "default"}
    assert out["grad_stypes"] == {"weight": "row_sparse", "w2": "row_sparse",
                                  "bias": "default"}
    assert out["stype_dict"] == ("csr", "row_sparse")
    # rows the weight does not store read as 0: 2 * 0.5 + 3 * 1 from weight, 3 + 3 from w2
    y = CSR @ np.array([1, 0, 0, 0, 0.5, 0], np.float32) + CSR.sum(1)
    np.testing.assert_allclose(out["y"], [np.sum(y * y)], rtol=1e-6)
    rows, values, dense_w2 = out["g"]
    np.testing.assert_array_equal(rows, [0, 1, 4])       # the columns the batch stores
    np.testing.assert_allclose(values.ravel(), (CSR.T @ (2 * y))[[0, 1, 4]], rtol=1e-6)
    np.testing.assert_allclose(dense_w2.ravel(), CSR.T @ (2 * y), rtol=1e-6)


@pytest.mark.oracle
def test_variable_stypes_match_mxnet():
    ns = {"mx": mx, "np": np, "out": {}, "CSR": CSR}
    exec(STYPE_CODE, ns)
    ours, theirs = ns["out"], run_oracle(STYPE_CODE, CSR=CSR)
    for key in ("arg_stypes", "grad_stypes", "stype_dict"):
        assert ours[key] == theirs[key], key
    np.testing.assert_allclose(ours["y"], theirs["y"], rtol=1e-6)
    for a, b in zip(ours["g"], theirs["g"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_stype_errors_and_fallback_warnings():
    with pytest.raises(MXNetError, match="stype_dict names 'dat'"):
        mx.sym.var("data").simple_bind(mx.cpu(), data=(2, 3), stype_dict={"dat": "csr"})
    with pytest.raises(MXNetError, match="expected one of"):
        mx.sym.var("data").simple_bind(mx.cpu(), data=(2, 3), stype_dict={"data": "coo"})
    with pytest.warns(StorageFallbackWarning, match="FullyConnected"):
        ex = mx.sym.FullyConnected(mx.sym.var("d", stype="row_sparse"), num_hidden=2,
                                   no_bias=True, name="fc").simple_bind(mx.cpu(), d=(3, 4))
    ex.arg_dict["d"][:] = mx.nd.sparse.row_sparse_array(([[1, 2, 3, 4.0]], [1]), shape=(3, 4))
    ex.arg_dict["fc_weight"][:] = 1
    np.testing.assert_allclose(ex.forward()[0].asnumpy(), [[0, 0], [10, 10], [0, 0]])
    rows = {r.name: r for r in ex.memory_report()}
    assert rows["d"].bytes == 4 * 4 + 8           # one stored row and its index, not 3 rows


# -- data: LibSVMIter, NDArrayIter over csr --------------------------------------------------------
LIBSVM = "1 0:1.5 3:2\n0 1:1\n1 2:0.5 4:1 5:3\n0\n1 5:1\n"
LIBSVM_CODE = """
path = workdir + '/a.libsvm'
with open(path, 'w') as f:
    f.write(text)
res = []
for kw in [dict(batch_size=2), dict(batch_size=3), dict(batch_size=2, num_parts=2, part_index=0),
           dict(batch_size=2, num_parts=2, part_index=1)]:
    it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(6,), **kw)
    epochs = []
    for _ in range(3):
        epochs.append([(b.data[0].stype, b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad)
                       for b in it])
        it.reset()
    res.append((it.provide_data[0].shape, it.provide_label[0].shape, epochs))
out['res'] = res
"""


@pytest.mark.oracle
def test_libsvm_iter_matches_mxnet(tmp_path):
    ns = {"mx": mx, "np": np, "out": {}, "text": LIBSVM, "workdir": str(tmp_path)}
    exec(LIBSVM_CODE, ns)
    ours, theirs = ns["out"]["res"], run_oracle(LIBSVM_CODE, text=LIBSVM)["res"]
    for (pd, pl, eps), (pd2, pl2, eps2) in zip(ours, theirs):
        assert (tuple(pd), tuple(pl)) == (tuple(pd2), tuple(pl2))
        assert len(eps) == len(eps2)
        for ep, ep2 in zip(eps, eps2):
            assert [(s, p) for s, _, _, p in ep] == [(s, p) for s, _, _, p in ep2]
            for (_, d, lb, _), (_, d2, lb2, _) in zip(ep, ep2):
                np.testing.assert_array_equal(d, d2)
                np.testing.assert_array_equal(lb, lb2)


def test_libsvm_iter_refuses_bad_input(tmp_path):
    path = tmp_path / "bad.libsvm"
    path.write_text("1 0:1 7:2\n")
    with pytest.raises(MXNetError, match="feature index 7, outside"):
        mx.io.LibSVMIter(data_libsvm=str(path), data_shape=(4,), batch_size=1)
    path.write_text("1 0:1 x\n")
    with pytest.raises(MXNetError, match="line 1"):
        mx.io.LibSVMIter(data_libsvm=str(path), data_shape=(4,), batch_size=1)
    path.write_text("1 0:1\n")
    with pytest.raises(MXNetError, match="round_batch"):
        mx.io.LibSVMIter(data_libsvm=str(path), data_shape=(4,), batch_size=1,
                         round_batch=False)
    with pytest.raises(MXNetError, match="cannot find"):
        mx.io.LibSVMIter(data_libsvm=str(tmp_path / "nope"), data_shape=(4,), batch_size=1)


def test_ndarray_iter_over_csr_gives_dense_batches_as_mxnet():
    X = mx.nd.sparse.csr_matrix(np.eye(5, 4, dtype=np.float32))
    with pytest.raises(NotImplementedError, match="discard"):
        mx.io.NDArrayIter(X, np.arange(5), batch_size=2)
    it = mx.io.NDArrayIter(X, np.arange(5), batch_size=2, last_batch_handle="discard")
    with pytest.warns(StorageFallbackWarning, match="dense"):
        batches = list(it)
    assert [b.data[0].stype for b in batches] == ["default", "default"]
    np.testing.assert_array_equal(batches[1].data[0].asnumpy(), np.eye(5, 4)[2:4])


# -- sparse linear classification (MXNet's example, small): fit with sparse_row_id_fn ---------------
# both examples write their generated data as a LibSVM file first
WRITE_LIBSVM = """
def write_libsvm(path, label, dense):
    with open(path, 'w') as f:
        for y, row in zip(label, dense):
            cols = np.nonzero(row)[0]
            f.write('%d ' % y + ' '.join('%d:%.4f' % (j, row[j]) for j in cols) + '\\n')
    return path
"""
LINEAR_CODE = WRITE_LIBSVM + """
rng = np.random.RandomState(3)
N, F = 64, 30
dense = ((rng.rand(N, F) < 0.1) * rng.rand(N, F)).astype('f4')
label = (dense @ rng.randn(F) > 0).astype('f4')
path = write_libsvm(workdir + '/lin.libsvm', label, dense)
it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(F,), batch_size=16)
x = mx.sym.Variable('data', stype='csr')
w = mx.sym.Variable('weight', shape=(F, 1), stype='row_sparse')
b = mx.sym.Variable('bias', shape=(1,))
pred = mx.sym.broadcast_add(mx.sym.sparse.dot(x, w), b)
net = mx.sym.LogisticRegressionOutput(pred, mx.sym.reshape(mx.sym.var('softmax_label'),
                                                           shape=(-1, 1)), name='out')
mod = mx.mod.Module(net, data_names=['data'], label_names=['softmax_label'])
mod.bind(it.provide_data, it.provide_label)
mod.init_params(arg_params={'weight': mx.nd.sparse.row_sparse_array(np.full((F, 1), 0.01, 'f4')),
                            'bias': mx.nd.zeros((1,))})
def row_ids(batch):
    return {'weight': batch.data[0].indices}
weights, scores = [], []
def at_epoch_end(epoch, symbol, arg, aux):
    weights.append(arg['weight'].asnumpy())
    scores.append(mod.score(it, 'mse', sparse_row_id_fn=row_ids)[0][1])
mod.fit(it, num_epoch=3, kvstore=mx.kv.create('local'), optimizer='sgd',
        optimizer_params={'learning_rate': 0.5, 'momentum': 0.9, 'wd': 0.001},
        eval_metric='mse', sparse_row_id_fn=row_ids, epoch_end_callback=at_epoch_end)
out['weights'], out['scores'] = weights, scores
"""


def _here_and_in_mxnet(code, tmp_path):
    """``out`` of ``code`` run by mxteach (warnings silenced) and by MXNet 1.9.1."""
    ns = {"mx": mx, "np": np, "out": {}, "workdir": str(tmp_path)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(code, ns)
    return ns["out"], run_oracle(code)


@pytest.mark.oracle
def test_sparse_linear_classification_trains_as_mxnet(tmp_path):
    ours, theirs = _here_and_in_mxnet(LINEAR_CODE, tmp_path)
    assert len(ours["scores"]) == 3
    np.testing.assert_allclose(ours["scores"], theirs["scores"], atol=1e-4)
    for a, b in zip(ours["weights"], theirs["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert ours["scores"][-1] < ours["scores"][0]      # it learns


# -- a factorization machine (MXNet's example, small): row_sparse v and w, _square_sum ---------------
FM_CODE = WRITE_LIBSVM + """
rng = np.random.RandomState(5)
N, F, K = 96, 40, 3
dense = ((rng.rand(N, F) < 0.08) * rng.rand(N, F)).astype('f4')
label = (dense @ rng.randn(F) + ((dense @ rng.randn(F, 2)) ** 2).sum(1) > 0.3).astype('f4')
path = write_libsvm(workdir + '/fm.libsvm', label, dense)
it = mx.io.LibSVMIter(data_libsvm=path, data_shape=(F,), batch_size=32)
x = mx.symbol.Variable("data", stype='csr')
v = mx.symbol.Variable("v", shape=(F, K), stype='row_sparse', init=mx.init.Normal(0.01))
w = mx.symbol.Variable('w', shape=(F, 1), stype='row_sparse', init=mx.init.Normal(0.01))
w0 = mx.symbol.Variable('w0', shape=(1,), init=mx.init.Zero())
w1 = mx.symbol.broadcast_add(mx.symbol.dot(x, w), w0)
v_s = mx.symbol._internal._square_sum(data=v, axis=1, keepdims=True)
x_s = mx.symbol.square(x)
bd_sum = mx.sym.dot(x_s, v_s)
w2 = mx.symbol.dot(x, v)
w2_squared = 0.5 * mx.symbol.square(data=w2)
w_all = mx.symbol.Concat(w1, w2_squared, dim=1)
model = mx.sym.sum(w_all, axis=1, keepdims=True) + (-0.5 * bd_sum)
model = mx.symbol.LogisticRegressionOutput(data=model, label=mx.sym.reshape(mx.symbol.Variable("softmax_label"), shape=(-1, 1)))
mod = mx.mod.Module(model, data_names=['data'], label_names=['softmax_label'])
mod.bind(it.provide_data, it.provide_label)
init = np.random.RandomState(1)
mod.init_params(arg_params={'v': mx.nd.sparse.row_sparse_array((init.normal(0, 0.1, (F, K)).astype('f4'), np.arange(F)), shape=(F, K)),
                            'w': mx.nd.sparse.row_sparse_array((init.normal(0, 0.1, (F, 1)).astype('f4'), np.arange(F)), shape=(F, 1)),
                            'w0': mx.nd.zeros((1,))})
def row_ids(batch):
    idx = batch.data[0].indices
    return {'w': idx, 'v': idx}
mod.init_optimizer(kvstore=mx.kv.create('local'), optimizer='adam',
                   optimizer_params={'learning_rate': 0.05, 'wd': 1e-4})
metric = mx.metric.create('mse')
scores, weights = [], []
for epoch in range(3):
    it.reset()
    metric.reset()
    for batch in it:
        mod.prepare(batch, sparse_row_id_fn=row_ids)
        mod.forward_backward(batch)
        mod.update()
        mod.update_metric(metric, batch.label)
    scores.append(metric.get()[1])
    arg, _ = mod.get_params()
    weights.append((arg['v'].asnumpy(), arg['w'].asnumpy(), arg['w0'].asnumpy()))
out['scores'], out['weights'] = scores, weights
"""


@pytest.mark.oracle
def test_factorization_machine_trains_as_mxnet(tmp_path):
    ours, theirs = _here_and_in_mxnet(FM_CODE, tmp_path)
    np.testing.assert_allclose(ours["scores"], theirs["scores"], atol=1e-4)
    for mine, real in zip(ours["weights"], theirs["weights"]):
        for a, b in zip(mine, real):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert ours["scores"][-1] < ours["scores"][0]


def test_square_sum_of_a_row_sparse_weight():
    v = mx.sym.var("v", stype="row_sparse")
    assert v.attr("__storage_type__") == "1"          # MXNet's enum in the symbol's JSON
    s = mx.sym._internal._square_sum(data=v, axis=1, keepdims=True)
    ex = mx.sym.MakeLoss(mx.sym.sum(s * 3)).simple_bind(mx.cpu(), v=(5, 2))
    ex.arg_dict["v"][:] = mx.nd.sparse.row_sparse_array(
        (np.array([[1, 2], [3, 4]], np.float32), [1, 3]), shape=(5, 2))
    np.testing.assert_allclose(ex.forward(is_train=True)[0].asnumpy(), [3 * (1 + 4 + 9 + 16)])
    ex.backward()
    g = ex.grad_dict["v"]
    assert g.stype == "row_sparse"
    np.testing.assert_array_equal(g.indices.asnumpy(), [1, 3])
    np.testing.assert_allclose(g.data.asnumpy(), [[6, 12], [18, 24]])
