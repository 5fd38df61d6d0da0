"""BucketView and ChainView driven headless by real modules: a BucketingModule over lengths
3/5/8 of an Embedding + FullyConnected net (default bucket the largest, and not), and a
SequentialModule of two Modules and a PythonLossModule trained with fit. Each test checks the
model against the module's own introspection (bucket_info, switch_history, junctions,
get_params) and the rendered HTML."""
import json

import numpy as np
import pytest

import mxteach as mx
from mxteach.io import DataBatch, DataDesc
from mxteach.widgets.buckets import BucketView
from mxteach.widgets.chain import ChainView
from test_widgets_core import expand, svgs_parse, text_of

B = 4
VOCAB, EMBED, HIDDEN = 20, 4, 6


def flat(html):
    return " ".join(text_of(html).split())


def sym_gen(length):
    """Embedding → FullyConnected (per position); length 8 has one more layer ('long')."""
    data = mx.sym.var("data")
    h = mx.sym.Embedding(data, input_dim=VOCAB, output_dim=EMBED, name="embed")
    h = mx.sym.FullyConnected(h, num_hidden=HIDDEN, flatten=False, name="fc")
    if length >= 8:
        h = mx.sym.FullyConnected(h, num_hidden=HIDDEN, flatten=False, name="long")
    return mx.sym.SoftmaxOutput(h, preserve_shape=True, name="softmax"), ("data",), \
        ("softmax_label",)


def batch(length, seed=0):
    rng = np.random.RandomState(seed + length)
    return DataBatch([mx.nd.array(rng.randint(0, VOCAB, (B, length)))],
                     [mx.nd.array(rng.randint(0, HIDDEN, (B, length)))], bucket_key=length,
                     provide_data=[DataDesc("data", (B, length))],
                     provide_label=[DataDesc("softmax_label", (B, length))])


def bucketing(default, lengths):
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=default)
    view = BucketView(mod)
    before = json.loads(json.dumps(view.model))
    first = batch(default)
    mod.bind(first.provide_data, first.provide_label)
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer_params=(("learning_rate", 0.1),))
    for length in lengths:
        mod.forward(batch(length), is_train=True)
        mod.backward()
        mod.update()
    return mod, view, before


# -- BucketView -----------------------------------------------------------------------------------
def test_buckets_before_bind():
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=8)
    view = BucketView(mod)
    assert view.model["bound"] is False and view.model["buckets"] == []
    assert view.model["default_key"] == 8 and view.model["current_key"] is None
    assert "Not bound yet" in flat(view.to_html())
    assert BucketView.applies_to(mod) and not BucketView.applies_to(mx.mod.Module(sym_gen(3)[0]))
    with pytest.raises(TypeError, match="BucketingModule"):
        BucketView(mx.mod.Module(sym_gen(3)[0]))


def test_buckets_bound_so_far_with_shapes_memory_and_switches():
    mod, view, _ = bucketing(8, [3, 5, 8, 3, 3])
    m = view.model
    assert json.loads(json.dumps(m)) == m
    info = mod.bucket_info()
    assert [b["key"] for b in m["buckets"]] == [8, 3, 5]            # bind order
    for b in m["buckets"]:
        i = info[b["key"]]
        assert b["data_shapes"] == [["data", [B, b["key"]]]]
        assert b["label_shapes"] == [["softmax_label", [B, b["key"]]]]
        assert (b["own_bytes"], b["shared_bytes"]) == (i["own_bytes"], i["shared_bytes"])
        assert b["param_names"] == i["param_names"]
    assert {b["key"]: b["forwards"] for b in m["buckets"]} == {8: 1, 3: 3, 5: 1}
    assert m["current_key"] == mod.current_bucket_key == 3
    assert [b["key"] for b in m["buckets"] if b["current"]] == [3]
    history = [(f, t, n) for _, f, t, n in mod.switch_history]
    assert history == [(8, 3, True), (3, 5, True), (5, 8, False), (8, 3, False)]
    assert [(s["from_key"], s["to_key"], s["newly_bound"]) for s in m["switches"]] == history
    assert m["n_switches"] == 4
    times = [s["t"] for s in m["switches"]]
    assert times[0] == 0.0 and times == sorted(times)
    assert m["largest_key"] == 8 and m["warnings"] == []
    html = expand(view.to_html())
    assert svgs_parse(html) == 2 and "$" not in html
    assert html.count('class="mxt-switch') == 4 + 1                 # 4 markers + the path
    assert html.count("mxt-new-bucket") == 2
    text = flat(html)
    assert "current bucket 3 · default 8 · 3 bucket(s) bound · 4 switch(es)" in text
    total = sum(b["own_bytes"] for b in m["buckets"])
    assert f"{total / 1024:.1f} KiB executor memory of their own" in text


def test_per_bucket_parameter_diff_and_symbol_now():
    mod, view, _ = bucketing(8, [3, 5, 3])
    m = view.model
    assert m["param_diff"] == {"long_weight": [8], "long_bias": [8]}
    assert m["common_params"] == ["embed_weight", "fc_weight", "fc_bias"]
    s = m["symbol_now"]
    assert s["bucket"] == 3 and s["arguments"] == mod.symbol.list_arguments()
    assert s["differs_from_default"] is True
    assert s["missing_here"] == ["long_weight", "long_bias"] and s["only_here"] == []
    text = flat(view.to_html())
    assert "mod.symbol is now bucket 3's symbol" in text
    assert "mx.callback.do_checkpoint" in text
    assert "missing here: ['long_weight', 'long_bias']" in text
    assert "long_weight ✓ — —" in text                              # bucket 8 / 3 / 5 columns


def test_default_bucket_not_the_largest_warns_and_lone_params_start_at_zero():
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=5)
    view = BucketView(mod)
    first = batch(5)
    mod.bind(first.provide_data, first.provide_label)
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer()
    mod.forward(batch(8), is_train=True)                 # binds bucket 8, which has 'long'
    long_w = mod.buckets[8].exec_group.execs[0].arg_dict["long_weight"].asnumpy()
    assert long_w.shape == (HIDDEN, HIDDEN) and not long_w.any()    # never initialized
    m = view.model
    assert m["largest_key"] == 8
    assert len(m["warnings"]) == 2
    assert "The default bucket 5 is not the largest: bucket 8 takes 32 input numbers" \
        in m["warnings"][0]
    assert "against the default's 20" in m["warnings"][0]
    assert "['long_weight', 'long_bias'] exist in bucket(s) 8 but not in the default bucket 5" \
        in m["warnings"][1] and "start as zeros" in m["warnings"][1]
    html = expand(view.to_html())
    assert html.count("mxt-warn") == 3          # the two above + mod.symbol is bucket 8's
    assert "only here: ['long_weight', 'long_bias']" in flat(html)
    assert [b["key"] for b in m["buckets"] if b["key"] == m["largest_key"]] == [8]


def test_checkpoint_event_lists_the_bucket_symbols_written(tmp_path):
    mod, view, _ = bucketing(8, [5])
    mod.save_checkpoint(str(tmp_path / "lm"), 3)
    cp = view.model["checkpoints"]
    assert cp == [{"prefix": str(tmp_path / "lm"), "epoch": 3, "buckets": [8, 5],
                   "bucket_now": 5}]
    assert (tmp_path / "lm-5-symbol.json").exists() and (tmp_path / "lm-8-symbol.json").exists()
    text = flat(view.to_html())
    assert "checkpoint prefix epoch current bucket then bucket symbols written" in text


# -- ChainView ------------------------------------------------------------------------------------
N, FEAT = 20, 5


def softmax_grad(scores, labels):
    s = scores.asnumpy()
    e = np.exp(s - s.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(p)), labels.asnumpy().astype(int)] -= 1
    return p


def chain(take_labels=True):
    d = mx.sym.var("data")
    net1 = mx.sym.Activation(mx.sym.FullyConnected(d, num_hidden=8, name="fc1"),
                             act_type="relu", name="relu1")
    m1 = mx.mod.Module(net1, label_names=None)
    m2 = mx.mod.Module(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc2"),
                       label_names=None)
    loss = mx.mod.PythonLossModule(grad_func=softmax_grad)
    seq = mx.mod.SequentialModule()
    seq.add(m1).add(m2, auto_wiring=True)
    if take_labels:
        seq.add(loss, take_labels=True, auto_wiring=True)
    else:
        seq.add(loss, auto_wiring=True)
    return seq


def data_iter():
    rng = np.random.RandomState(0)
    x = rng.randn(N, FEAT).astype("float32")
    y = (np.arange(N) % 3).astype("float32")
    return mx.io.NDArrayIter(x, y, batch_size=5)


def test_chain_before_bind():
    seq = chain()
    view = ChainView(seq)
    m = view.model
    assert [r["type"] for r in m["members"]] == ["Module", "Module", "PythonLossModule"]
    assert [r["stage"] for r in m["members"]] == ["initial"] * 3
    assert [r["take_labels"] for r in m["members"]] == [False, False, True]
    assert [r["auto_wiring"] for r in m["members"]] == [False, True, True]
    assert [r["params"] for r in m["members"]] == [None, None, 0]
    assert m["members"][2]["label_names"] == ["softmax_label"]
    assert "Not bound yet" in flat(view.to_html())
    assert ChainView.applies_to(seq) and not ChainView.applies_to(mx.mod.Module(sym_gen(3)[0]))


def test_chain_after_fit_junctions_labels_gradients_and_counts():
    seq = chain()
    view = ChainView(seq)
    seq.fit(data_iter(), num_epoch=2, optimizer_params=(("learning_rate", 0.1),))
    m = view.model
    assert json.loads(json.dumps(m)) == m
    rows = m["members"]
    junctions = seq.junctions()
    for r, (i, mod, data_in, out, takes) in zip(rows, junctions):
        assert r["index"] == i and r["take_labels"] == takes
        assert r["in_shapes"] == [[n, list(s)] for n, s in data_in]
        assert r["out_shapes"] == [[n, list(s)] for n, s in out]
    assert [r["in_shapes"] for r in rows] == [[["data", [5, 5]]], [["data", [5, 8]]],
                                              [["data", [5, 3]]]]
    assert rows[0]["out_shapes"] == [["relu1_output", [5, 8]]]
    assert [r["inputs_need_grad"] for r in rows] == [False, True, True]
    assert [j["gradient"] for j in m["junctions"]] == [False, True, True]
    assert m["junctions"][1]["renamed"] == {"relu1_output": "data"}
    arg1, _ = seq.modules[0].get_params()
    arg2, _ = seq.modules[1].get_params()
    assert [r["params"] for r in rows] == [sum(v.size for v in arg1.values()),
                                           sum(v.size for v in arg2.values()), 0] == [48, 27, 0]
    assert [r["stage"] for r in rows] == ["optimizer_installed"] * 3
    batches = 2 * (N // 5)
    # the PythonLossModule reports its steps too
    assert [(r["forwards"], r["backwards"], r["updates"]) for r in rows] == \
        [(batches, batches, batches)] * 3
    assert m["active"] == {"kind": "backward", "index": 0}        # backward ends at member 0
    assert m["label_shapes"] == [["softmax_label", [5]]] and m["warnings"] == []
    html = expand(view.to_html())
    assert svgs_parse(html) == 1 and "$" not in html
    assert html.count('class="mxt-grad-flow"') == 2 and html.count('class="mxt-no-grad"') == 1
    assert html.count("mxt-member mxt-active") == 1
    text = flat(html)
    assert "labels (5,)" in text and "relu1_output→data" in text
    assert "The first member's inputs get no gradient" in text
    assert "2 junction(s) carry gradient" in text


def test_chain_input_gradient_when_asked():
    seq = chain()
    view = ChainView(seq)
    it = data_iter()
    seq.bind(it.provide_data, it.provide_label, inputs_need_grad=True)
    assert [j["gradient"] for j in view.model["junctions"]] == [True, True, True]
    assert "Gradient reaches the chain's input" in flat(view.to_html())


def test_chain_warnings_no_labels_and_mixed_stages():
    seq = chain(take_labels=False)
    view = ChainView(seq)
    it = data_iter()
    seq.bind(it.provide_data, it.provide_label)
    seq.modules[0].init_params()                   # one member ahead of the others
    warnings = view.model["warnings"]
    assert any("No member was added with take_labels=True" in w for w in warnings)
    mixed = next(w for w in warnings if w.startswith("Members are at different stages"))
    assert "0: params_initialized, 1: bound, 2: bound" in mixed
    assert view.model["label_shapes"] == []
    assert flat(view.to_html()).count("⚠") == 2


def test_inspector_gets_a_chain_tab():
    from mxteach.widgets.inspector import ModuleInspector
    seq = chain()
    insp = ModuleInspector(seq)
    assert isinstance(insp.views["Chain"], ChainView)
    assert "Graph" not in insp.views                   # GraphView is for symbol modules
    assert [r["type"] for r in insp.views["Chain"].model["members"]] == \
        ["Module", "Module", "PythonLossModule"]
