"""Checkpoints of row_sparse parameters (issue 15): the module keeps its own copy of a
row_sparse parameter row_sparse, as MXNet 1.9.1 does, so save_params / save_checkpoint write
row_sparse records (byte-identical with MXNet's) and load / load_params read them back, in
both directions between mxteach and MXNet."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError

from oracle import run_oracle

# a sparse linear model (csr data . row_sparse weight) trained one step through the kvstore;
# run unchanged by mxteach and by MXNet. ``other`` is the folder of the other side's files.
CODE = """
import os
F, K = 10, 2
x = mx.sym.Variable('data', stype='csr')
w = mx.sym.Variable('w_weight', shape=(F, K), stype='row_sparse')
b = mx.sym.Variable('w_bias', shape=(K,))
net = mx.sym.LinearRegressionOutput(mx.sym.broadcast_add(mx.sym.dot(x, w), b),
                                    label=mx.sym.Variable('softmax_label'))
dense = np.zeros((4, F), 'f4')
dense[0, 1], dense[1, 3], dense[2, 3], dense[3, 5] = 1, 2, 1, 1
batch = mx.io.DataBatch([mx.nd.array(dense).tostype('csr')], [mx.nd.ones((4, K))],
                        provide_data=[mx.io.DataDesc('data', (4, F))],
                        provide_label=[mx.io.DataDesc('softmax_label', (4, K))])
names = dict(data_names=['data'], label_names=['softmax_label'])
row_ids = lambda bt: {'w_weight': bt.data[0].indices}

def records(fname):
    res = {}
    for k, v in sorted(mx.nd.load(fname).items()):
        res[k] = (v.stype, v.indices.asnumpy() if v.stype != 'default' else None, v.asnumpy())
    return res

def step(mod):
    mod.prepare(batch, sparse_row_id_fn=row_ids)
    mod.forward_backward(batch)
    mod.update()

prefix = os.path.join(workdir, 'lin')
mod = mx.mod.Module(net, **names)
mod.bind(batch.provide_data, batch.provide_label)
mod.init_params(arg_params={'w_weight': mx.nd.sparse.row_sparse_array(
    (np.array([[1, 2], [3, 4]], 'f4'), [2, 4]), shape=(F, K)), 'w_bias': mx.nd.zeros((K,))})
mod.save_params(prefix + '-given.params')
out['given'] = records(prefix + '-given.params')
mod.init_params(mx.init.Zero(), force_init=True)          # _set_value: every row stored
mod.save_checkpoint(prefix, 0)
out['zero'] = records(prefix + '-0000.params')
mod.init_params(mx.init.Constant(0.5), force_init=True)
mod.init_optimizer(kvstore=mx.kv.create('local'), optimizer='sgd',
                   optimizer_params={'learning_rate': 0.1, 'momentum': 0.9})
step(mod)
mod.save_checkpoint(prefix, 1)
out['trained'] = records(prefix + '-0001.params')
arg, _ = mod.get_params()
out['get_params'] = (arg['w_weight'].stype, arg['w_weight'].indices.asnumpy())
if other is not None:                 # the other side's checkpoint, loaded and trained on
    theirs = os.path.join(other, 'lin')
    mod2 = mx.mod.Module.load(theirs, 1, **names)
    mod2.bind(batch.provide_data, batch.provide_label)
    arg, _ = mod2.get_params()
    out['loaded'] = (arg['w_weight'].stype, arg['w_weight'].indices.asnumpy(),
                     arg['w_weight'].asnumpy())
    mod2.init_optimizer(kvstore=mx.kv.create('local'), optimizer='sgd',
                        optimizer_params={'learning_rate': 0.1})
    step(mod2)
    out['loaded_trained'] = mod2.get_params()[0]['w_weight'].asnumpy()
    mod.load_params(theirs + '-given.params')            # load_params onto a bound module
    arg, _ = mod.get_params()
    out['load_params'] = (arg['w_weight'].stype, arg['w_weight'].indices.asnumpy())
"""


def _ours(workdir, other=None):
    ns = {"mx": mx, "np": np, "out": {}, "workdir": str(workdir), "other": other}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(CODE, ns)
    return ns["out"]


def _same_records(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key][0] == b[key][0], key
        if a[key][1] is not None:
            np.testing.assert_array_equal(a[key][1], b[key][1], err_msg=key)
        np.testing.assert_allclose(a[key][2], b[key][2], rtol=1e-6, err_msg=key)


def test_row_sparse_parameters_are_saved_row_sparse(tmp_path):
    out = _ours(tmp_path)
    stype, rows, values = out["given"]["arg:w_weight"]
    assert stype == "row_sparse"
    np.testing.assert_array_equal(rows, [2, 4])
    np.testing.assert_array_equal(values[[2, 4]], [[1, 2], [3, 4]])
    assert out["given"]["arg:w_bias"][0] == "default"
    np.testing.assert_array_equal(out["zero"]["arg:w_weight"][1], np.arange(10))
    stype, rows, values = out["trained"]["arg:w_weight"]
    assert stype == "row_sparse" and out["get_params"][0] == "row_sparse"
    np.testing.assert_array_equal(rows, np.arange(10))    # pulled whole from the kvstore
    np.testing.assert_array_equal(values[[0, 2, 4]], 0.5)        # untouched rows: lazy
    assert not np.allclose(values[[1, 3, 5]], 0.5)


def test_row_sparse_checkpoints_reload_here(tmp_path):
    _ours(tmp_path)
    mod = mx.mod.Module.load(str(tmp_path / "lin"), 1, data_names=["data"],
                             label_names=["softmax_label"])
    assert mod._arg_params["w_weight"].stype == "row_sparse"
    arg, _ = mx.model.load_params(str(tmp_path / "lin"), 1)
    np.testing.assert_array_equal(arg["w_weight"].indices.asnumpy(), np.arange(10))


def test_scalar_assignment_to_sparse_arrays_as_mxnet():
    r = mx.nd.sparse.zeros("row_sparse", (3, 2))
    r[:] = 2
    np.testing.assert_array_equal(r.indices.asnumpy(), [0, 1, 2])
    np.testing.assert_array_equal(r.asnumpy(), np.full((3, 2), 2))
    r[:] = 0                                        # MXNet stores every row, zero or not
    np.testing.assert_array_equal(r.indices.asnumpy(), [0, 1, 2])
    c = mx.nd.sparse.zeros("csr", (3, 2))
    with pytest.raises(MXNetError, match="scalar to a csr"):
        c[:] = 1
    with pytest.raises(ValueError):
        c[:] = 0


@pytest.mark.oracle
def test_row_sparse_checkpoints_match_mxnet_both_ways(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "mx").mkdir()
    _ours(tmp_path / "ours")
    theirs = run_oracle(CODE, workdir=str(tmp_path / "mx"), other=str(tmp_path / "ours"))
    ours = _ours(tmp_path / "ours", other=str(tmp_path / "mx"))
    for key in ("given", "zero", "trained"):
        _same_records(ours[key], theirs[key])
    # the same values give the same bytes (MXNet's sparse records)
    for name in ("lin-given.params", "lin-0000.params"):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "mx" / name).read_bytes()
    for key in ("get_params", "loaded", "load_params"):
        (stype, *mine), (real_stype, *real) = ours[key], theirs[key]
        assert stype == real_stype == "row_sparse", key
        for a, b in zip(mine, real):
            np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=key)
    np.testing.assert_allclose(ours["loaded_trained"], theirs["loaded_trained"], rtol=1e-6)
