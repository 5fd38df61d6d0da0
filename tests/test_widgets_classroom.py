"""Views a classroom can rely on (issue 10): the static form renders in an untrusted notebook,
colours follow the theme, hatching never borrows another drawing's pattern, views describe
the moment they show (attached late, displayed in an earlier cell, composite counts, event
order, one device), large models stay readable, and the small confusions are gone.

The browser half of these checks (what JupyterLab really shows) is tests/test_browser.py."""
import base64
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import mxteach as mx
from mxteach.io import DataBatch, DataDesc
from test_widgets_core import (FakeClock, FakeScheduler, data_iter, expand, mlp, text_of,
                               two_cpus)

SVG_NS = "{http://www.w3.org/2000/svg}"
FIT = dict(num_epoch=2, initializer=mx.init.Xavier(), optimizer_params=(("learning_rate", 0.1),))


def flat(html):
    return " ".join(text_of(html).split())


def images(html):
    """The SVG documents of the drawing images in a static form, parsed."""
    return [ET.fromstring(base64.b64decode(m).decode()) for m in
            re.findall(r'<img class="mxt-svg[^"]*"[^>]*src="data:image/svg\+xml;base64,([^"]+)"',
                       html)]


def trained_module(context=None, epochs=2):
    mod = mx.mod.Module(mlp(batchnorm=False), context=context or [mx.cpu(0)])
    return mod, lambda **kw: mod.fit(data_iter(), **{**FIT, "num_epoch": epochs, **kw})


# -- 1. untrusted notebooks: drawings as images ----------------------------------------------------
def test_static_form_has_images_not_inline_svg_and_live_form_inline():
    from mxteach.widgets import ModuleInspector
    mod, fit = trained_module(two_cpus())
    insp = ModuleInspector(mod)
    fit()
    html = insp.to_html()
    assert "<svg" not in html             # JupyterLab strips inline SVG in untrusted outputs
    docs = images(html)
    assert len(docs) >= 6 and all(d.tag == SVG_NS + "svg" for d in docs)
    titles = {d.find(SVG_NS + "title").text for d in docs if d.find(SVG_NS + "title") is not None}
    assert {"lifecycle stages", "accuracy", "batch rows by device"} <= titles
    live = insp.timeline.live_html()
    assert "<img" not in live and live.count("<svg") == 1


# -- 2. theme: text follows JupyterLab's colours; fixed fills get fixed ink ------------------------
def test_text_colours_follow_the_theme_with_light_fallbacks():
    from mxteach.widgets import StateTimeline
    mod, fit = trained_module()
    tl = StateTimeline(mod)
    fit()
    (doc,) = images(tl.to_html())
    texts = doc.iter(SVG_NS + "text")
    for t in texts:
        style, fill = t.get("style", ""), t.get("fill")
        if "var(" in style:
            # theme colour with a fallback: both the page's variable and a readable default
            assert re.fullmatch(r"fill:var\(--jp-[a-z0-9-]+, #[0-9a-f]{6}\)", style), style
        else:
            # fixed ink only on the fixed orange of the current stage
            assert fill == "#222222", (t.text, fill)
    from mxteach.widgets._svg import note
    assert "rgba(78,121,167,0.14)" in note("x") and "color:" not in note("x")  # tint, own ink


# -- 3. hatching: pattern ids unique per inline drawing, defined in the drawing -------------------
def test_inline_pattern_ids_are_unique_per_drawing_and_defined_there():
    from mxteach.widgets import MemoryMap
    mod, fit = trained_module()
    mm = MemoryMap(mod)
    fit()
    a, b = mm.live_html(), mm.live_html()
    ids_a = set(re.findall(r'<pattern id="([^"]+)"', a))
    ids_b = set(re.findall(r'<pattern id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b        # two drawings on one page never share an id
    for html in (a, b):
        for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
            used = set(re.findall(r'url\(#([^)]+)\)', svg))
            defined = set(re.findall(r'<pattern id="([^"]+)"', svg))
            assert used <= defined, used - defined
    assert 'class="mxt-bar mxt-shared"' in a


# -- 4. views that state the right thing ----------------------------------------------------------
def test_inspector_attached_after_fit_describes_the_real_stage():
    from mxteach.widgets import ModuleInspector
    mod, fit = trained_module()
    fit()
    insp = ModuleInspector(mod)
    text = flat(insp.timeline.to_html())
    assert "No lifecycle call yet" not in text and "next is bind" not in text
    assert "Attached at stage 'optimizer_installed'" in text and "ready to train" in text
    assert insp.timeline.model["stage"] == "optimizer_installed"


class Cell:
    """Stands for the kernel's execution count (which cell is running)."""

    def __init__(self, n):
        self.n = n

    def __call__(self):
        return self.n


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, bundle, raw=False):
        self.updates.append(bundle)


def test_live_view_keeps_its_cells_picture_and_says_now(monkeypatch):
    pytest.importorskip("ipywidgets")
    import mxteach.widgets._base as base
    from mxteach.widgets import StateTimeline
    cell = Cell(3)
    monkeypatch.setattr(base, "current_cell", cell)
    clock = FakeClock()
    sched = FakeScheduler(clock)
    mod = mx.mod.Module(mlp(batchnorm=False))
    tl = StateTimeline(mod, clock=clock, schedule=sched)
    tl.widget
    tl._pin(3)                              # displayed in cell 3 …
    tl._handle = FakeHandle()
    it = data_iter()
    mod.bind(it.provide_data, it.provide_label)        # … which also binds
    clock.advance(1)
    sched.run_due()
    assert "mxt-stage-bound" in tl._output.value and tl._banner.layout.display == "none"
    cell.n = 4                              # a later cell initializes the parameters
    mod.init_params()
    clock.advance(1)
    sched.run_due()
    shown = tl._output.value
    assert tl.model["stage"] == "params_initialized"
    # the widget still shows the module as cell 3 left it (bound), and says what it is now
    current = re.findall(r'<rect[^>]*stroke-width="2"[^>]*class="(mxt-stage-[a-z_]+)"', shown)
    assert current == ["mxt-stage-bound"]
    assert "<code>init_params(" not in shown
    assert tl._banner.layout.display == "flex"
    banner = flat(tl._banner_text.value)
    assert "now: Module at stage 'params_initialized'" in banner
    # its static copy was refreshed once, to cell 3's final state, and never after
    assert len(tl._handle.updates) == 1
    assert "<code>init_params(" not in tl._handle.updates[0]["text/html"]
    tl.finish()
    assert len(tl._handle.updates) == 1
    # the user asks to follow: the latest state is drawn
    tl.follow(True)
    assert "<code>init_params(" in tl._output.value


def test_a_view_passed_to_a_later_fit_follows_that_fit(monkeypatch):
    pytest.importorskip("ipywidgets")
    import mxteach.widgets._base as base
    from mxteach.widgets import ModuleInspector
    cell = Cell(2)
    monkeypatch.setattr(base, "current_cell", cell)
    mod, fit = trained_module()
    insp = ModuleInspector(mod)
    insp.widget
    insp._pin(2)                            # display in one cell …
    cell.n = 3
    fit(batch_end_callback=insp)            # … fit with it as the callback in the next
    for view in insp.views.values():
        assert view._frozen is None, type(view).__name__
    assert insp.timeline._banner.layout.display == "none"
    assert "init_optimizer" in flat(insp.timeline._output.value)


def sequential():
    d = mx.sym.var("data")
    m1 = mx.mod.Module(mx.sym.Activation(mx.sym.FullyConnected(d, num_hidden=8, name="fc1"),
                                         act_type="relu", name="relu1"), label_names=None)
    m2 = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(
        mx.sym.var("data"), num_hidden=3, name="fc2"), name="softmax"))
    seq = mx.mod.SequentialModule()
    seq.add(m1).add(m2, take_labels=True, auto_wiring=True)
    return seq


def test_sequential_state_counts_per_member_and_collapses_epoch_rows():
    from mxteach.widgets import StateTimeline
    rows = {}
    for epochs in (2, 5):
        seq = sequential()
        tl = StateTimeline(seq)
        seq.fit(data_iter(), **{**FIT, "num_epoch": epochs})
        batches = 7 * epochs
        by = tl.model["counts_by"]
        assert by["module 0"]["forward"] == by["module 1"]["forward"] == batches
        assert by["module 0"]["backward"] == by["module 1"]["backward"] == batches
        assert tl.model["counts"]["forward"] == batches          # not 2 × batches
        text = flat(tl.to_html())
        assert f"forward ×{batches}" in text and f"forward ×{2 * batches}" not in text
        rows[epochs] = len(tl.model["transitions"])
        per_epoch = [t for t in tl.model["transitions"] if "force_init=True" in t["call"]]
        assert per_epoch and sum(t["count"] for t in per_epoch) >= epochs
    assert rows[5] == rows[2]               # more epochs: counts grow, rows do not


VOCAB, B = 12, 4


def bucket_sym(length):
    data = mx.sym.var("data")
    h = mx.sym.Embedding(data, input_dim=VOCAB, output_dim=4, name="embed")
    h = mx.sym.FullyConnected(h, num_hidden=VOCAB, flatten=False, name="fc")
    return mx.sym.SoftmaxOutput(h, preserve_shape=True, name="softmax"), ("data",), \
        ("softmax_label",)


def bucket_batch(length, seed=0):
    rng = np.random.RandomState(seed + length)
    return DataBatch([mx.nd.array(rng.randint(0, VOCAB, (B, length)))],
                     [mx.nd.array(rng.randint(0, VOCAB, (B, length)))], bucket_key=length,
                     provide_data=[DataDesc("data", (B, length))],
                     provide_label=[DataDesc("softmax_label", (B, length))])


def test_bucketing_state_lists_a_buckets_bind_before_its_borrowed_optimizer():
    from mxteach.widgets import StateTimeline
    mod = mx.mod.BucketingModule(bucket_sym, default_bucket_key=6)
    tl = StateTimeline(mod)
    first = bucket_batch(6)
    mod.bind(first.provide_data, first.provide_label)
    mod.init_params()
    mod.init_optimizer()
    mod.forward(bucket_batch(3), is_train=True)
    rows = [(t["kind"], t["source"]) for t in tl.model["transitions"]]
    mine = [k for k, s in rows if s == "bucket 3"]
    assert mine[:2] == ["bind", "borrow_optimizer"], rows
    seqs = [t["seq"] for t in tl.model["transitions"]]
    assert seqs == sorted(seqs)
    by_kind = {t["kind"]: t for t in tl.model["transitions"] if t["source"] == "bucket 3"}
    assert (by_kind["bind"]["before"], by_kind["bind"]["after"]) == ("initial",
                                                                     "params_initialized")
    assert by_kind["borrow_optimizer"]["after"] == "optimizer_installed"


@pytest.mark.parametrize("devices", [1, 2])
def test_set_params_rows_say_averaged_only_with_several_devices(devices):
    from mxteach.widgets import StateTimeline
    mod, fit = trained_module([mx.cpu(i) for i in range(devices)])
    tl = StateTimeline(mod)
    fit()
    (row,) = [t for t in tl.model["transitions"] if "force_init=True" in t["call"]]
    notes = " ".join(row["notes"])
    if devices == 1:
        assert "averaged" not in notes and "one device" in notes
    else:
        assert "averaged over the 2 devices" in notes


# -- 5. scale --------------------------------------------------------------------------------------
def lstm_gen(seq_len):
    stack = mx.rnn.SequentialRNNCell()
    for i in range(2):
        stack.add(mx.rnn.LSTMCell(num_hidden=8, prefix=f"lstm_l{i}_"))
    data = mx.sym.var("data")
    embed = mx.sym.Embedding(data, input_dim=VOCAB, output_dim=6, name="embed")
    outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
    pred = mx.sym.FullyConnected(mx.sym.Reshape(outputs, shape=(-1, 8)), num_hidden=VOCAB,
                                 name="pred")
    label = mx.sym.Reshape(mx.sym.var("softmax_label"), shape=(-1,))
    return mx.sym.SoftmaxOutput(pred, label=label, name="softmax"), ("data",), \
        ("softmax_label",)


def test_lstm_buckets_on_two_devices_keep_the_memory_tab_small():
    from mxteach.widgets import MemoryMap
    mod = mx.mod.BucketingModule(lstm_gen, default_bucket_key=20, context=two_cpus())
    mm = MemoryMap(mod)
    shapes = lambda n: ([DataDesc("data", (B, n))], [DataDesc("softmax_label", (B, n))])
    mod.bind(*shapes(20))
    mod.init_params()
    for n in (5, 10, 15):
        mod.switch_bucket(n, *shapes(n))
    html = mm.to_html()
    groups = mm.model["groups"]
    assert len(groups) == 8 and max(len(g["rows"]) for g in groups) > 100
    # per-device totals first, then one <details> per executor, only the current one open
    assert html.index("Totals per executor") < html.index("<details")
    assert html.count('<details class="mxt-panel"') == 8
    assert html.count('<details class="mxt-panel" open>') == 1
    assert "(current bucket)" in html
    heights = [float(d.get("height")) for d in images(html) if d.get("class") != "mxt-glyph"]
    assert max(heights) < 1000, heights       # every buffer listed: several thousand px
    assert "max-height:640px;overflow:auto" in html
    assert "more" in flat(html) and "in smaller buffers" in flat(html)


def test_hundreds_of_bucket_switches_are_drawn_binned():
    from mxteach.widgets import BucketView
    mod = mx.mod.BucketingModule(bucket_sym, default_bucket_key=6)
    view = BucketView(mod)
    first = bucket_batch(6)
    mod.bind(first.provide_data, first.provide_label)
    mod.init_params()
    for i in range(300):
        mod.forward(bucket_batch((3, 4, 6)[i % 3]), is_train=False)
    assert view.model["n_switches"] == 300
    html = expand(view.to_html())
    (chart,) = [s for s in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
                if "bucket switches over time" in s]
    assert "mxt-switch-path" not in chart             # no zigzag line of 300 segments
    assert 3 * 20 <= chart.count('class="mxt-switch-bin"') <= 3 * 40
    totals = re.findall(r'class="mxt-switch-total"[^>]*>×(\d+)<', chart)
    assert sum(map(int, totals)) == len(view.model["switches"])


# -- 6. small confusions ---------------------------------------------------------------------------
def test_static_tables_are_left_aligned_like_live_ones():
    from mxteach.widgets._svg import table
    html = table(["a", "b"], [[1, 2]])
    assert html.count('<td style="text-align:left') == 2


def test_memory_map_words_totals_and_arena_lanes():
    from mxteach.widgets import MemoryMap
    mod = mx.mod.Module(mlp(), context=[mx.cpu(0)])
    mm = MemoryMap(mod)
    it = data_iter()
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params()
    mod.reshape([("data", (4, 6))], [("softmax_label", (4,))])
    html = mm.to_html()
    text = flat(html)
    assert "reshaped_from" not in text and "(data (" not in text
    assert "data: a data input, and inputs_need_grad=False" in text
    header = re.search(r"Totals per executor.*?</thead>", html, flags=re.S).group(0)
    assert ">executor</th>" in header and "<th style=\"text-align:left;padding:2px 8px;" \
        "border-bottom:1px solid var(--jp-border-color1, #9e9e9e)\"></th>" not in header
    body = re.search(r"Totals per executor.*?</tbody>", html, flags=re.S).group(0)
    assert "></td>" not in body and ">—<" not in body          # no empty or unlabelled cells
    (panel,) = [d for d in images(html) if (d.find(SVG_NS + "title").text or "")
                .startswith("memory of")]
    lanes = [float(line.get("x1")) for line in panel.iter(SVG_NS + "line")
             if "mxt-arena-link" in (line.get("class") or "")]
    infos = [float(t.get("x")) for t in panel.iter(SVG_NS + "text")
             if t.text and " · " in t.text and "float32" in t.text]
    assert lanes and infos and max(lanes) < min(infos)        # brackets never over the text


def test_graph_boxes_name_their_layers_and_the_inspector_hint_names_itself():
    pytest.importorskip("graphviz")
    from mxteach.widgets import GraphView, ModuleInspector
    mod, fit = trained_module()
    gv = GraphView(mod)
    fit()
    svg = expand(gv.to_html())
    nodes = re.findall(r'<g id="node\d+" class="node[^"]*">\s*<title>([^<]+)</title>(.*?)</g>',
                       svg, flags=re.S)
    ops = {title: body for title, body in nodes if title in ("fc1", "relu1", "fc2", "softmax")}
    assert len(ops) == 4
    for name, body in ops.items():
        assert f">{name}</text>" in body, name
    assert "monitor=view.monitor()" in flat(gv.to_html())
    insp = ModuleInspector(mod)
    hint = flat(insp["Graph"].to_html())
    assert "view.monitor()" not in hint and "inspector['Graph'].monitor()" in hint


def test_the_package_docstring_lists_every_view():
    import mxteach.widgets as w
    doc = w.__doc__
    for name in ("StateTimeline", "MemoryMap", "DeviceSlices", "LiveMetrics", "ParamTable",
                 "GraphView", "BucketView", "ChainView", "ModuleInspector"):
        assert re.search(rf"^{name}\s{{2,}}\S", doc, flags=re.M), name


def test_epoch_times_in_readable_units_and_first_step_kept_apart():
    from mxteach.widgets import DeviceSlices, LiveMetrics
    mod, fit = trained_module(two_cpus())
    lm = LiveMetrics(mod, auto_display=False)
    ds = DeviceSlices(mod)
    fit()
    text = flat(lm.to_html())
    assert "0.00 s" not in text and re.search(r"\d ms|\d µs|\d\.\d\d s", text)
    for dev in ds.model["devices"]:
        assert dev["first"] is not None and len(dev["recent"]) == 13
