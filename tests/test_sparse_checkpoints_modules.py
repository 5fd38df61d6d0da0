"""Checkpoints of row_sparse parameters in a BucketingModule and a SequentialModule (issue
15): ``save_checkpoint`` / ``save_params`` write row_sparse records byte-identical with MXNet
1.9.1's, ``BucketingModule.load`` / ``load_params`` read them back row_sparse, each side reads
the other's files, and training goes on from them with MXNet's numbers -- through a kvstore
and (the weight updated by the module itself) without one."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx

from oracle import run_oracle

# run unchanged by mxteach and by MXNet; ``other`` is the folder of the other side's files
CODE = """
import os
F, K = 10, 2
dense = np.zeros((4, F), 'f4')
dense[0, 1], dense[1, 3], dense[2, 3], dense[3, 5] = 1, 2, 1, 1

def lin(prefix_name, data='data', label='softmax_label'):
    x = mx.sym.Variable(data, stype='csr')
    w = mx.sym.Variable(prefix_name + '_weight', shape=(F, K), stype='row_sparse')
    b = mx.sym.Variable(prefix_name + '_bias', shape=(K,))
    return mx.sym.LinearRegressionOutput(mx.sym.broadcast_add(mx.sym.dot(x, w), b),
                                         label=mx.sym.Variable(label), name=prefix_name + '_out')

def sym_gen(key):
    return lin('w'), ('data',), ('softmax_label',)

def batch(key=F):
    return mx.io.DataBatch([mx.nd.array(dense).tostype('csr')], [mx.nd.ones((4, K))],
                           bucket_key=key, provide_data=[mx.io.DataDesc('data', (4, F))],
                           provide_label=[mx.io.DataDesc('softmax_label', (4, K))])

def records(fname):
    res = {}
    for k, v in sorted(mx.nd.load(fname).items()):
        res[k] = (v.stype, v.indices.asnumpy() if v.stype != 'default' else None, v.asnumpy())
    return res

row_ids = lambda bt: {'w_weight': bt.data[0].indices}

def step(mod, kv):
    bt = batch()
    if kv:
        mod.prepare(bt, sparse_row_id_fn=row_ids)
    mod.forward_backward(bt)
    mod.update()

def params(mod):
    arg, aux = mod.get_params()
    return {k: (v.stype, v.asnumpy()) for k, v in sorted(arg.items())}

# BucketingModule: trained one step through a kvstore and one without, checkpointed
for kv in (True, False):
    tag = 'bkv' if kv else 'bnokv'
    prefix = os.path.join(workdir, tag)
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=F)
    mod.bind(batch().provide_data, batch().provide_label)
    mod.init_params(mx.init.Constant(0.5))
    mod.init_optimizer(kvstore=mx.kv.create('local') if kv else None, optimizer='sgd',
                       optimizer_params={'learning_rate': 0.1, 'momentum': 0.9})
    step(mod, kv)
    mod.save_checkpoint(prefix, 1)
    out[tag] = records(prefix + '-0001.params')
    out[tag + '_params'] = params(mod)
    if other is not None:
        mod2 = mx.mod.BucketingModule.load(os.path.join(other, tag), 1, sym_gen=sym_gen,
                                           default_bucket_key=F)
        mod2.bind(batch().provide_data, batch().provide_label)
        out[tag + '_loaded'] = params(mod2)
        mod2.init_optimizer(kvstore=mx.kv.create('local') if kv else None, optimizer='sgd',
                            optimizer_params={'learning_rate': 0.1})
        step(mod2, kv)
        out[tag + '_loaded_trained'] = params(mod2)

# SequentialModule holding the sparse linear model
prefix = os.path.join(workdir, 'seq')
seq = mx.mod.SequentialModule()
seq.add(mx.mod.Module(lin('s', data='data'), data_names=['data'],
                      label_names=['softmax_label']), take_labels=True)
seq.bind(batch().provide_data, batch().provide_label)
seq.init_params(mx.init.Constant(0.25))
seq.init_optimizer(kvstore=None, optimizer='sgd', optimizer_params={'learning_rate': 0.1})
seq.forward_backward(batch())
seq.update()
seq.save_params(prefix + '-0001.params')
out['seq'] = records(prefix + '-0001.params')
out['seq_params'] = params(seq)
if other is not None:
    seq2 = mx.mod.SequentialModule()
    seq2.add(mx.mod.Module(lin('s', data='data'), data_names=['data'],
                           label_names=['softmax_label']), take_labels=True)
    seq2.bind(batch().provide_data, batch().provide_label)
    seq2.load_params(os.path.join(other, 'seq') + '-0001.params')
    out['seq_loaded'] = params(seq2)
"""


def _ours(workdir, other=None):
    workdir.mkdir(exist_ok=True)
    ns = {"mx": mx, "np": np, "out": {}, "workdir": str(workdir), "other": other}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(CODE, ns)
    return ns["out"]


def _same_params(a, b, what):
    assert sorted(a) == sorted(b), what
    for k in a:
        assert a[k][0] == b[k][0], f"{what} {k}: {a[k][0]} vs {b[k][0]}"
        np.testing.assert_allclose(a[k][1], b[k][1], rtol=1e-5, atol=1e-7, err_msg=f"{what} {k}")


def test_bucketing_and_sequential_checkpoints_keep_row_sparse_and_load_back(tmp_path):
    first = _ours(tmp_path / "a")
    again = _ours(tmp_path / "b", other=str(tmp_path / "a"))
    for tag, weight in (("bkv", "w_weight"), ("bnokv", "w_weight"), ("seq", "s_weight")):
        stype, rows, dense = first[tag]["arg:" + weight]
        assert stype == "row_sparse" and rows.tolist() == list(range(10)), tag
        # one step of SGD on rows 1, 3, 5 (the features of the batch); others keep 0.5/0.25
        start = 0.25 if tag == "seq" else 0.5
        np.testing.assert_array_equal(dense[[0, 2, 4, 6, 7, 8, 9]], start)
        assert np.all(dense[[1, 3, 5]] > start), tag
        loaded = again[tag + "_loaded"]
        _same_params(loaded, first[tag + "_params"], f"{tag} loaded")
    for tag in ("bkv", "bnokv"):       # a second step from the loaded checkpoint
        trained = again[tag + "_loaded_trained"]["w_weight"][1]
        assert np.all(trained[[1, 3, 5]] > first[tag + "_params"]["w_weight"][1][[1, 3, 5]])


@pytest.mark.oracle
def test_bucketing_and_sequential_sparse_checkpoints_match_mxnet(tmp_path):
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    theirs_dir.mkdir()
    ours = _ours(ours_dir)
    theirs = run_oracle(CODE, workdir=str(theirs_dir), other=str(ours_dir))   # MXNet reads ours
    back = _ours(tmp_path / "again", other=str(theirs_dir))                    # we read MXNet's
    for name in ("bkv-0001.params", "bnokv-0001.params", "seq-0001.params", "bkv.buckets"):
        assert (ours_dir / name).read_bytes() == (theirs_dir / name).read_bytes(), name
    for tag in ("bkv", "bnokv", "seq"):
        _same_params(ours[tag + "_params"], theirs[tag + "_params"], f"{tag} trained")
        _same_params(theirs[tag + "_loaded"], ours[tag + "_params"], f"MXNet loads our {tag}")
        _same_params(back[tag + "_loaded"], theirs[tag + "_params"], f"we load MXNet's {tag}")
    for tag in ("bkv", "bnokv"):
        _same_params(back[tag + "_loaded_trained"], theirs[tag + "_loaded_trained"],
                     f"{tag} trained on after loading")
