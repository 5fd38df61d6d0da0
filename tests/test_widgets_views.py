"""StateTimeline, MemoryMap, DeviceSlices and ParamTable driven headless by real modules: a
tiny MLP with BatchNorm fit on cpu(0)/cpu(1), plus bucketing and sequential modules. Each test
checks the view's model against numbers computed independently (event counts, array shapes,
split rules, get_params) and the HTML it renders."""
import json
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.module.executor_group import split_input_slice
from mxteach.widgets import DeviceSlices, MemoryMap, ParamTable, StateTimeline
from mxteach.widgets.memory import executor_rows
from mxteach.widgets.slices import _slice_rule
from test_widgets_core import (expand, BATCH, FEATURES, data_iter, mlp, svgs_parse, text_of,
                               two_cpus)


@pytest.fixture(scope="module")
def trained():
    mod = mx.mod.Module(mlp(), context=two_cpus(), fixed_param_names=["fc1_bias"])
    views = dict(tl=StateTimeline(mod), mm=MemoryMap(mod), ds=DeviceSlices(mod, batch_size=BATCH),
                 pt=ParamTable(mod))
    preview = json.loads(json.dumps(views["ds"].model))
    params_preview = json.loads(json.dumps(views["pt"].model))
    events = []
    mod.events.subscribe(events.append)
    mod.fit(data_iter(), eval_data=data_iter(seed=1), num_epoch=2, eval_metric=["acc", "ce"],
            optimizer_params=(("learning_rate", 0.1),))
    return SimpleNamespace(mod=mod, events=events, preview=preview,
                           params_preview=params_preview, **views)


def test_models_are_plain_data(trained):
    for view, n_svg in ((trained.tl, 1), (trained.mm, 2), (trained.ds, 1), (trained.pt, 0)):
        assert json.loads(json.dumps(view.model)) == view.model
        html = expand(view.to_html())
        assert svgs_parse(html) == n_svg and "$" not in html


# -- StateTimeline -------------------------------------------------------------------------------
def test_timeline_lists_the_calls_of_fit(trained):
    rows = trained.tl.model["transitions"]
    assert [(r["kind"], r["before"], r["after"], r["count"]) for r in rows] == [
        ("bind", "initial", "bound", 1),
        ("init_params", "bound", "params_initialized", 1),
        ("init_optimizer", "params_initialized", "optimizer_installed", 1),
        ("init_params", "optimizer_installed", "optimizer_installed", 2),   # set_params/epoch
        ("fit_end", "optimizer_installed", "optimizer_installed", 1)]
    assert rows[0]["call"] == "bind(data_shapes=[data (8, 6)], label_shapes=[softmax_label (8,)])"
    assert rows[2]["call"] == "init_optimizer(kvstore='local', optimizer='sgd')"
    assert "rescale_grad=0.125 (1 / batch size)" in rows[2]["notes"]
    assert trained.tl.model["stage"] == trained.mod.stage == "optimizer_installed"


def test_timeline_counts_match_the_event_stream(trained):
    seen = Counter(e.kind for e in trained.events)
    counts = trained.tl.model["counts"]
    for kind in ("forward", "backward", "update", "batch_end", "epoch_end", "eval_end"):
        assert counts[kind] == seen[kind]
    assert counts["backward"] == 14 and counts["eval_end"] == 2
    modes = trained.tl.model["forward_modes"]
    assert modes == {"train": 14, "eval": 14}


def test_timeline_html_highlights_the_current_stage(trained):
    html = expand(trained.tl.to_html())
    assert 'class="mxt-stage-optimizer_installed"' in html
    current = html.split('class="mxt-stage-optimizer_installed"')[0].rsplit("<rect", 1)[1]
    assert 'fill="#f28e2b"' in current
    text = text_of(html)
    assert "set_params ×2" in text                  # the loop on the last stage
    assert "bind(data_shapes=[data (8, 6)], label_shapes=[softmax_label (8,)])" in text
    assert "forward ×28 (train 14, eval 14)" in text
    assert "mod.symbol now: outputs ['softmax_output']" in text


def test_timeline_shows_rebind_reshape_and_force_init():
    mod = mx.mod.Module(mlp(batchnorm=False))
    tl = StateTimeline(mod)
    assert tl.model["stage"] == "initial" and tl.model["transitions"] == []
    assert "next is bind(" in text_of(tl.to_html())
    shapes = dict(data_shapes=[("data", (4, FEATURES))], label_shapes=[("softmax_label", (4,))])
    mod.bind(**shapes)
    mod.init_params()
    mod.init_params(initializer=mx.init.One(), force_init=True)
    mod.bind(force_rebind=True, **shapes)
    mod.reshape([("data", (16, FEATURES))], [("softmax_label", (16,))])
    calls = [(r["call"], r["before"], r["after"]) for r in tl.model["transitions"]]
    assert calls[2] == ("init_params(initializer=One(), force_init=True)",
                        "params_initialized", "params_initialized")
    assert calls[3][0].endswith("force_rebind=True)") and calls[3][1:] == \
        ("params_initialized", "params_initialized")
    assert calls[4] == ("reshape(data_shapes=[data (16, 6)])", "params_initialized",
                        "params_initialized")
    notes = " ".join(n for r in tl.model["transitions"] for n in r["notes"])
    assert "the parameters were overwritten" in notes and "executors rebuilt" in notes
    loops = text_of(tl.to_html())
    assert "init_params(force)" in loops and "bind(force_rebind)" in loops and "reshape" in loops


def test_timeline_draws_a_skip_after_module_load(tmp_path):
    mod = mx.mod.Module(mlp(batchnorm=False))
    mod.bind([("data", (4, FEATURES))], [("softmax_label", (4,))])
    mod.init_params()
    prefix = str(tmp_path / "net")
    mod.save_checkpoint(prefix, 1)
    loaded = mx.mod.Module.load(prefix, 1)
    tl = StateTimeline(loaded)
    assert tl.model["flags"]["params_initialized"] and tl.model["stage"] == "initial"
    loaded.bind([("data", (4, FEATURES))], [("softmax_label", (4,))])
    row = tl.model["transitions"][0]
    assert (row["before"], row["after"]) == ("initial", "params_initialized")
    assert 'class="mxt-skip"' in expand(tl.to_html())


def bucketing_module():
    def sym_gen(key):
        data = mx.sym.Variable("data")
        net = mx.sym.FullyConnected(mx.sym.sum(data, axis=1), num_hidden=3, name="fc")
        return mx.sym.SoftmaxOutput(net, name="softmax"), ("data",), ("softmax_label",)
    return mx.mod.BucketingModule(sym_gen, default_bucket_key=10, context=two_cpus())


def bucket_batch(key, batch=4, width=5):
    return mx.io.DataBatch([mx.nd.array(np.ones((batch, key, width)))],
                           [mx.nd.array(np.zeros(batch))], bucket_key=key,
                           provide_data=[mx.io.DataDesc("data", (batch, key, width))],
                           provide_label=[mx.io.DataDesc("softmax_label", (batch,))])


def test_views_follow_a_bucketing_module():
    mod = bucketing_module()
    tl, mm, ds, pt = StateTimeline(mod), MemoryMap(mod), DeviceSlices(mod), ParamTable(mod)
    mod.bind([("data", (4, 10, 5))], [("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer()
    mod.forward(bucket_batch(6), is_train=True)
    mod.backward()
    mod.update()
    labels = {(r["source"], r["kind"]) for r in tl.model["transitions"]}
    assert {("bucket 10", "bind"), ("", "bind"), ("bucket 6", "bind"),
            ("bucket 6", "borrow_optimizer"), ("", "switch_bucket")} <= labels
    assert [(m["label"], m["stage"]) for m in tl.model["members"]] == \
        [("bucket 10", "optimizer_installed"), ("bucket 6", "optimizer_installed")]
    assert "(current)" in tl.model["members"][1]["detail"]
    # memory: bucket 6 takes fc_weight/fc_bias (and their gradients) from bucket 10
    groups = {(g["label"], g["device"]): g for g in mm.model["groups"]}
    assert set(groups) == {(f"bucket {k}", f"cpu({i})") for k in (10, 6) for i in (0, 1)}
    shared = {r["name"] for r in groups[("bucket 6", "cpu(0)")]["rows"]
              if r["shared_with"] == "shared_exec"}
    assert shared == {"fc_weight", "fc_bias", "fc_weight_grad", "fc_bias_grad"}
    own = mod.buckets[6].exec_group.execs[0].arg_dict
    assert groups[("bucket 6", "cpu(0)")]["borrowed"] == \
        2 * sum(own[n].size * 4 for n in ("fc_weight", "fc_bias"))
    events = [h["event"] for h in mm.model["history"]]
    assert events == ["bind", "switch_bucket"]
    assert mm.model["history"][1]["total"] > mm.model["history"][0]["total"]
    assert ds.model["bucket"] == 6 and ds.model["slices"] == [[0, 2], [2, 4]]
    assert pt.model["inputs"][0]["shape"] == [4, 6, 5]          # the current bucket's data
    assert "bucket 6" in text_of(tl.to_html())


def test_views_follow_a_sequential_module():
    m1 = mx.mod.Module(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=6,
                                             name="f1"), label_names=None)
    d2 = mx.sym.Variable("data")
    m2 = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(d2, num_hidden=3, name="f2"),
                                            name="softmax"))
    seq = mx.mod.SequentialModule()
    tl, mm, pt = StateTimeline(seq), MemoryMap(seq), ParamTable(seq)
    seq.add(m1).add(m2, take_labels=True, auto_wiring=True)
    seq.bind([("data", (4, 5))], [("softmax_label", (4,))], inputs_need_grad=True)
    seq.init_params()
    seq.init_optimizer()
    assert [(m["label"], m["detail"]) for m in tl.model["members"]] == \
        [("module 0", ""), ("module 1", "takes labels")]
    binds = [r["source"] for r in tl.model["transitions"] if r["kind"] == "bind"]
    assert binds == ["module 0", "module 1", ""]
    assert [g["label"] for g in mm.model["groups"]] == ["module 0", "module 1"]
    assert [(p["module"], p["name"], p["shape"]) for p in pt.model["params"]] == [
        ("module 0", "f1_weight", [6, 5]), ("module 0", "f1_bias", [6]),
        ("module 1", "f2_weight", [3, 6]), ("module 1", "f2_bias", [3])]
    firsts = [(i["module"], i["name"], i["position"]) for i in pt.model["inputs"]]
    assert firsts == [("module 0", "data", 0), ("module 1", "data", 0),
                      ("module 1", "softmax_label", None)]
    text = text_of(pt.to_html())
    assert "get_input_grads() returns 1 array(s), in data_names order: ['data']" in text
    assert "module 1.get_input_grads()[0]" in text


# -- MemoryMap ---------------------------------------------------------------------------------
def test_memory_rows_are_the_executors_buffers(trained):
    groups = trained.mm.model["groups"]
    execs = trained.mod.exec_group.execs
    assert [g["device"] for g in groups] == ["cpu(0)", "cpu(1)"]
    for g, exe in zip(groups, execs):
        assert g["rows"] == executor_rows(exe)
        assert g["summary"]["total_bytes"] == exe.memory_summary()["total_bytes"]
        for r in g["rows"]:
            assert r["bytes"] == int(np.prod(r["shape"])) * np.dtype(r["dtype"]).itemsize
    # gradient buffers: every parameter except the fixed one, full size on each device
    arg_params, _ = trained.mod.get_params()
    want = {n + "_grad": v.size * 4 for n, v in arg_params.items() if n != "fc1_bias"}
    got = {r["name"]: r["bytes"] for r in groups[0]["rows"] if r["role"] == "gradient"}
    assert got == want
    # data and label rows hold half a batch each (two devices)
    data = next(r for r in groups[1]["rows"] if r["name"] == "data")
    assert data["shape"] == [BATCH // 2, FEATURES]


def test_memory_explains_missing_gradients_and_shared_arenas(trained):
    g = trained.mm.model["groups"][0]
    assert g["no_grad"] == {"data": "a data input, and inputs_need_grad=False",
                            "softmax_label": "label",
                            "fc1_bias": "fixed_param_names"}
    assert g["arenas"], "the planner shares at least one arena in this MLP"
    for arena, users in g["arenas"].items():
        assert len(users) >= 2
        for r in g["rows"]:
            if r["name"] in users:
                assert r["shared_with"].startswith(arena + ":")
    html = expand(trained.mm.to_html())
    text = text_of(html)
    assert "fc1_bias_grad" in text and "no buffer: fixed_param_names" in text
    n_rows = sum(len(x["rows"]) for x in trained.mm.model["groups"])
    assert html.count('class="mxt-bar') == n_rows
    assert html.count('class="mxt-bar mxt-shared"') == \
        2 * sum(len(u) for u in g["arenas"].values())


def test_memory_follows_reshape():
    mod = mx.mod.Module(mlp(), context=two_cpus())
    mm = MemoryMap(mod)
    assert mm.model["groups"] == [] and "Not bound yet" in mm.to_html()
    mod.bind([("data", (8, FEATURES))], [("softmax_label", (8,))])
    mod.reshape([("data", (32, FEATURES))], [("softmax_label", (32,))])
    hist = mm.model["history"]
    assert [h["event"] for h in hist] == ["bind", "reshape"]
    assert [h["shapes"] for h in hist] == ["data (8, 6)", "data (32, 6)"]
    assert hist[1]["total"] > hist[0]["total"]
    # per device the data argument grew from 4 to 16 rows
    data = [r for r in mm.model["groups"][0]["rows"] if r["name"] == "data"][0]
    assert data["bytes"] == 16 * FEATURES * 4
    # parameters and their gradients do not depend on the batch size
    assert hist[1]["grad_bytes"] == hist[0]["grad_bytes"]
    assert "How the totals changed" in mm.to_html()


def test_memory_sweep_over_batch_size_and_grad_req():
    sym = mlp(batchnorm=False)
    cmp = MemoryMap.sweep(sym, [("data", (1, FEATURES))], [("softmax_label", (1,))],
                          batch_sizes=(1, 16), grad_reqs=("write", "null"))
    v = {x["label"]: x for x in cmp.model["variants"]}
    assert list(v) == ["batch 1 · grad_req='write'", "batch 16 · grad_req='write'",
                       "batch 1 · grad_req='null'", "batch 16 · grad_req='null'"]
    param_bytes = (12 * FEATURES + 12 + 3 * 12 + 3) * 4
    for b in (1, 16):
        assert v[f"batch {b} · grad_req='write'"]["bytes"]["gradient"] == param_bytes
        assert v[f"batch {b} · grad_req='null'"]["bytes"]["gradient"] == 0
        assert v[f"batch {b} · grad_req='write'"]["total"] >= \
            v[f"batch {b} · grad_req='null'"]["total"] + param_bytes
    # arguments grow by the data and label rows only
    grow = v["batch 16 · grad_req='write'"]["bytes"]["argument"] - \
        v["batch 1 · grad_req='write'"]["bytes"]["argument"]
    assert grow == 15 * (FEATURES + 1) * 4
    assert cmp.total("batch 16 · grad_req='null'") == v["batch 16 · grad_req='null'"]["total"]
    html = expand(cmp.to_html())
    assert svgs_parse(html) == 1 and html.count('class="mxt-total"') == 4


def test_memory_compare_inference_binding():
    sym = mlp(batchnorm=False)
    shapes = dict(data_shapes=[("data", (4, FEATURES))], label_shapes=[("softmax_label", (4,))])
    cmp = MemoryMap.compare(sym, {"train": dict(shapes), "inference": dict(
        shapes, for_training=False), "input grads": dict(shapes, inputs_need_grad=True)})
    v = {x["label"]: x for x in cmp.model["variants"]}
    assert v["inference"]["bytes"]["gradient"] == 0
    assert v["input grads"]["bytes"]["gradient"] - v["train"]["bytes"]["gradient"] == \
        4 * FEATURES * 4                                  # the data_grad buffer
    assert v["inference"]["settings"] == {"for_training": False}


def test_memory_map_of_a_lone_executor(trained):
    exe = trained.mod.exec_group.execs[1]
    mm = MemoryMap(exe)
    assert mm.module is None and mm.model["groups"][0]["rows"] == executor_rows(exe)
    assert "cpu(1): " in text_of(mm.to_html())


# -- DeviceSlices ---------------------------------------------------------------------------------
def test_slices_preview_before_bind(trained):
    p = trained.preview
    assert p["source"] == "preview" and p["contexts"] == ["cpu(0)", "cpu(1)"]
    assert p["slices"] == [[0, 4], [4, 8]] and p["error"] is None


def test_slices_warn_when_the_batch_is_too_small():
    ctxs = [mx.cpu(i) for i in range(4)]
    ds = DeviceSlices(batch_size=3, contexts=ctxs)
    assert ds.model["slices"] == [[0, 1], [1, 2], [2, 3], [3, 3]]
    mod = mx.mod.Module(mlp(batchnorm=False), context=ctxs)
    with pytest.raises(MXNetError) as err:
        mod.bind([("data", (3, FEATURES))], [("softmax_label", (3,))])
    assert ds.model["error"] == str(err.value)            # the same message bind() gives
    text = text_of(ds.to_html())
    assert "Batch of 3 is too small for 4 devices: cpu(3) would get no rows" in text
    assert "no rows!" in text
    ds.set_preview(batch_size=8)
    assert ds.model["error"] is None and ds.model["slices"][-1] == [6, 8]


def test_slice_rule_agrees_with_the_core():
    workloads = ([1], [1, 1], [1, 3], [3, 1], [1, 1, 1], [2, 1, 1], [1, 1, 1, 1],
                 [0.5, 1.5, 1], [1, 2, 3, 4, 5])
    checked = failed = 0
    for wl in workloads:
        for b in range(1, 25):
            mirror = _slice_rule(b, wl)
            try:
                core = [(s.start, s.stop) for s in split_input_slice(b, wl)]
            except MXNetError:
                assert any(a >= e for a, e in mirror)
                failed += 1
                continue
            assert mirror == core
            checked += 1
    assert checked > 150 and failed > 5


def test_slices_follow_work_load_list():
    mod = mx.mod.Module(mlp(batchnorm=False), context=two_cpus(), work_load_list=[1, 3])
    ds = DeviceSlices(mod, batch_size=8)
    assert ds.model["slices"] == [[0, 2], [2, 8]] and ds.model["work_load_list"] == [1.0, 3.0]
    mod.bind([("data", (8, FEATURES))], [("softmax_label", (8,))])
    assert ds.model["source"] == "bound"
    assert ds.model["slices"] == [[s.start, s.stop] for s in mod.exec_group.slices]
    assert "gives [2, 6] rows" in text_of(ds.to_html())


def test_slices_after_fit_memory_timing_and_padding(trained):
    m = trained.ds.model
    group = trained.mod.exec_group
    assert m["source"] == "bound" and m["slices"] == [[0, 4], [4, 8]]
    for k, dev in enumerate(m["devices"]):
        assert dev["memory"] == group.execs[k].memory_summary()["total_bytes"]
        assert dev["step"] > 0 and dev["forward"] > 0
        # the first step (kernels compiled on first use) is kept apart from the median
        assert dev["first"] > 0 and len(dev["recent"]) == 13 and dev["recent"][-1] == dev["step"]
    # 50 samples in batches of 8: the last batch carries 2 real rows and 6 of padding
    assert m["padded_batch"] == {"pad": 6, "batch_size": 8, "is_train": False}
    html = expand(trained.ds.to_html())
    assert 'class="mxt-pad"' in html and "pad 6" in text_of(html)
    assert "predict() and iter_predict() drop them" in text_of(html)


def test_batchnorm_statistics_drift_between_devices(trained):
    rows = {r["name"]: r for r in trained.ds.model["aux"]}
    _, aux = trained.mod.get_params()
    for name in ("bn1_moving_mean", "bn1_moving_var"):
        r = rows[name]
        assert r["peak"] > 0                   # apart during the epoch …
        assert r["spread"] == 0                # … equal again after fit's epoch-end sync
        expect = float(aux[name].asnumpy().astype(np.float64).mean())
        assert r["device_means"] == pytest.approx([expect, expect], rel=1e-6)
    assert trained.ds.model["aux_epoch"] == 1
    assert "largest seen in epoch 1" in text_of(trained.ds.to_html())


# -- ParamTable ----------------------------------------------------------------------------------
def test_params_grad_req_fixed_and_multipliers(trained):
    rows = {p["name"]: p for p in trained.pt.model["params"]}
    arg_params, _ = trained.mod.get_params()
    assert set(rows) == set(arg_params)
    for name, p in rows.items():
        assert p["shape"] == list(arg_params[name].shape)
        assert p["size"] == arg_params[name].size
        assert p["fixed"] == (name == "fc1_bias")
        assert p["grad_req"] == ("null" if name == "fc1_bias" else "write")
        assert p["lr_mult"] == 1.0
        assert p["wd_mult"] == (1.0 if name.endswith(("_weight", "_gamma")) else 0.0)
    assert [a["name"] for a in trained.pt.model["aux"]] == ["bn1_moving_mean", "bn1_moving_var"]
    text = text_of(trained.pt.to_html())
    total = sum(v.size for v in arg_params.values())
    assert f"{total:,} numbers, {total - 12:,} trained" in text
    assert "fixed_param_names ['fc1_bias']" in text
    assert "wd_mult 0 for ['fc1_bias', 'bn1_beta', 'fc2_bias']" in text


def test_params_before_bind(trained):
    p = trained.params_preview
    assert p["bound"] is False
    assert [x["name"] for x in p["params"]][:2] == ["fc1_weight", "fc1_bias"]
    assert all(x["shape"] is None and x["grad_req"] is None for x in p["params"])


def test_params_lr_mult_attribute_and_a_given_optimizer():
    mod = mx.mod.Module(mlp(batchnorm=False, lr_mult=0.5))
    pt = ParamTable(mod)
    assert {p["name"]: p["lr_mult"] for p in pt.model["params"]}["fc1_weight"] == 0.5
    opt = mx.optimizer.SGD(learning_rate=0.2, wd=0.01, rescale_grad=0.25)
    opt.set_lr_mult({"fc2_weight": 2.0})
    pt2 = ParamTable(mod, optimizer=opt)
    mod.bind([("data", (4, FEATURES))], [("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer(optimizer=opt)
    rows = {p["name"]: p for p in pt2.model["params"]}
    assert rows["fc2_weight"]["lr_mult"] == 2.0
    assert rows["fc2_weight"]["lr"] == pytest.approx(0.4)
    assert rows["fc2_weight"]["wd"] == pytest.approx(0.01)
    assert "the optimizer you gave" in text_of(pt2.to_html())


def test_params_input_gradients_are_labelled_by_name():
    x, idx = mx.sym.Variable("x"), mx.sym.Variable("idx")
    net = mx.sym.Concat(mx.sym.FullyConnected(x, num_hidden=3, name="fx"),
                        mx.sym.Embedding(idx, input_dim=5, output_dim=3, name="emb"), dim=1)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=2, name="fo"),
                               name="softmax")
    mod = mx.mod.Module(net, data_names=("x", "idx"))
    pt = ParamTable(mod)
    mod.bind([("x", (4, 3)), ("idx", (4,))], [("softmax_label", (4,))], inputs_need_grad=True)
    mod.init_params()
    inputs = {i["name"]: i for i in pt.model["inputs"]}
    assert (inputs["x"]["position"], inputs["idx"]["position"]) == (0, 1)
    assert inputs["softmax_label"]["buffer"] is False
    assert "Embedding 'emb' takes indices" in inputs["idx"]["note"]
    # what the table says is what the module does
    mod.forward(mx.io.DataBatch([mx.nd.array(np.ones((4, 3))), mx.nd.array(np.arange(4))],
                                [mx.nd.array(np.zeros(4))]), is_train=True)
    mod.backward()
    grads = mod.get_input_grads()
    assert [g.shape for g in grads] == [(4, 3), (4,)]
    assert not np.any(grads[1].asnumpy()) and np.any(grads[0].asnumpy())
    assert "in data_names order: ['x', 'idx']" in text_of(pt.to_html())
