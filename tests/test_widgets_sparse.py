"""ParamTable and MemoryMap on sparse storage (issue 15, item 5): storage types, stored rows
against full size, and the per-batch row heat strip of row_sparse gradients — all read from
the module's event stream (the ``backward`` event carries the rows a batch touched)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.widgets import MemoryMap, ParamTable
from mxteach.widgets.row_heat import MAX_BINS, RowHeat

from test_widgets_core import FakeClock, FakeScheduler, svgs_parse, text_of

VOCAB, DIM, BATCH = 1000, 4, 8
RNG = np.random.RandomState(0)
IDS = RNG.randint(0, 300, size=(32, 3)).astype(np.float32)      # rows 300.. never touched
LABELS = RNG.randint(0, 2, size=32).astype(np.float32)


def _embedding_module():
    d = mx.sym.var("data")
    e = mx.sym.Embedding(d, input_dim=VOCAB, output_dim=DIM, sparse_grad=True, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.flatten(e), num_hidden=2, name="fc")
    return mx.mod.Module(mx.sym.SoftmaxOutput(fc, name="softmax"))


def _views(mod):
    clock = FakeClock()
    kw = dict(clock=clock, schedule=FakeScheduler(clock))
    return ParamTable(mod, **kw), MemoryMap(mod, **kw)


def _train(mod, batches):
    it = mx.io.NDArrayIter(IDS, LABELS, batch_size=BATCH)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params()
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1})
    seen = []
    for i, batch in enumerate(it):
        if i == batches:
            break
        mod.forward_backward(batch)
        mod.update()
        seen.append(np.unique(batch.data[0].asnumpy().astype(int)))
    return seen


def test_backward_event_carries_the_rows_a_batch_touched():
    mod = _embedding_module()
    got = []
    mod.events.subscribe(lambda ev: got.append(ev.data["sparse_grads"]), kinds=["backward"])
    seen = _train(mod, 2)
    assert len(got) == 2
    for data, rows in zip(got, seen):
        assert list(data) == ["emb_weight"]                 # fc's gradients are dense
        info = data["emb_weight"]
        assert info["rows"] == rows.tolist()
        assert info["num_rows"] == VOCAB
        assert info["stored_bytes"] == rows.size * (DIM * 4 + 8)     # values + int64 ids
        assert info["dense_bytes"] == VOCAB * DIM * 4


def test_param_table_shows_storage_and_a_row_heat_strip():
    mod = _embedding_module()
    pt, _ = _views(mod)
    seen = _train(mod, 3)
    rows = {p["name"]: p for p in pt.model["params"]}
    assert (rows["emb_weight"]["stype"], rows["emb_weight"]["grad_stype"]) == \
        ("default", "row_sparse")
    assert (rows["fc_weight"]["stype"], rows["fc_weight"]["grad_stype"]) == \
        ("default", "default")
    heat = pt.model["row_heat"]["emb_weight"]
    per_bin = -(-VOCAB // MAX_BINS)
    assert heat["bins"] == MAX_BINS and heat["rows_per_bin"] == per_bin
    assert heat["batches"] == 3
    expected_total = np.zeros(MAX_BINS, int)
    for rows_seen in seen:
        expected_total += np.bincount(rows_seen // per_bin, minlength=MAX_BINS)
    assert heat["total"] == expected_total.tolist()
    assert heat["last"] == np.bincount(seen[-1] // per_bin, minlength=MAX_BINS).tolist()
    assert heat["last_touched"] == seen[-1].size
    assert heat["ever_touched"] == np.unique(np.concatenate(seen)).size
    assert sum(heat["total"][300 // per_bin + 1:]) == 0          # rows never looked up
    html = pt.to_html()
    assert svgs_parse(html) >= 1
    text = text_of(html)
    assert "storage (weight / gradient)" in text and "default / row_sparse" in text
    assert f"the last batch touched {seen[-1].size:,} of {VOCAB:,} rows" in text
    assert "$" not in html


def test_row_heat_bins_small_tables_row_by_row():
    heat = RowHeat()
    assert heat.observe({"w": {"rows": [0, 2, 2], "num_rows": 3}})
    assert heat.observe({"w": {"rows": [2], "num_rows": 3}})
    entry = heat.model["w"]
    assert (entry["bins"], entry["rows_per_bin"]) == (3, 1)
    assert entry["total"] == [1, 0, 3] and entry["last"] == [0, 0, 1]
    assert entry["ever_touched"] == 2
    assert not heat.observe({})


def test_dense_modules_show_no_storage_columns():
    mod = _embedding_module()
    pt, _ = _views(mod)
    d = mx.sym.var("data")
    dense = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(d, num_hidden=2,
                                                                     name="fc"), name="softmax"))
    pt = ParamTable(dense)
    dense.bind([("data", (4, 3))], [("softmax_label", (4,))])
    dense.init_params()
    assert "storage (weight / gradient)" not in text_of(pt.to_html())
    assert pt.model["row_heat"] == {}


def test_memory_map_shows_stored_rows_of_sparse_arrays():
    x = mx.sym.Variable("data", stype="csr")
    w = mx.sym.Variable("w_weight", shape=(50, 1), stype="row_sparse")
    net = mx.sym.LinearRegressionOutput(mx.sym.dot(x, w), label=mx.sym.var("softmax_label"))
    mod = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
    _, mm = _views(mod)
    dense = np.zeros((4, 50), np.float32)
    dense[0, 3], dense[1, 7], dense[3, 7] = 1, 2, 3
    batch = mx.io.DataBatch([mx.nd.array(dense).tostype("csr")], [mx.nd.ones((4, 1))])
    mod.bind([("data", (4, 50))], [("softmax_label", (4, 1))])
    mod.init_params()
    mod.init_optimizer(kvstore=mx.kv.create("local"), optimizer="sgd")
    mod.prepare(batch, sparse_row_id_fn=lambda b: {"w_weight": b.data[0].indices})
    mod.forward_backward(batch)
    rows = {r["name"]: r for r in mm.model["groups"][0]["rows"]}
    assert rows["w_weight"]["stype"] == "row_sparse"
    assert (rows["w_weight"]["stored_rows"], rows["w_weight"]["num_rows"]) == (2, 50)
    grad = rows["w_weight_grad"]
    assert grad["stype"] == "row_sparse" and grad["stored_rows"] == 2
    assert grad["bytes"] == 2 * 4 + 2 * 8                        # 2 rows of 1 float + ids
    assert rows["data"]["stype"] == "csr"
    html = mm.to_html()
    assert svgs_parse(html) >= 1
    from mxteach.widgets._svg import rendering
    with rendering("inline"):
        inline = mm.render()
    assert "row_sparse: 2 of 50 rows stored" in text_of(inline)


def test_views_only_subscribe():
    """The core never imports widgets and views leave the module's methods alone."""
    mod = _embedding_module()
    before = {k: getattr(mod, k) for k in ("forward", "backward", "update", "prepare")}
    _views(mod)
    for k, fn in before.items():
        assert getattr(mod, k) == fn
    import subprocess
    import sys
    code = ("import sys, mxteach as mx; mx.mod.Module; "
            "print(any(m.startswith('mxteach.widgets') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("batches", [1, 4])
def test_heat_follows_every_backward(batches):
    mod = _embedding_module()
    pt, _ = _views(mod)
    _train(mod, batches)
    assert pt.model["row_heat"]["emb_weight"]["batches"] == batches
