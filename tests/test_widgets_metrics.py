"""LiveMetrics (through events, as a batch_end_callback, both at once) and ModuleInspector,
driven by real fits of a tiny MLP on cpu(0)/cpu(1). Curves are checked point by point against
the batch_end/epoch_end/eval_end events recorded independently."""
import re
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest

import mxteach as mx
from mxteach.callback import BatchEndParam
from mxteach.widgets import LiveMetrics, ModuleInspector, View
from mxteach.widgets.metrics import _thin, ema
from test_widgets_core import (expand, ids_normalized, FakeClock, FakeScheduler, data_iter, mlp, svgs_parse, text_of,
                               two_cpus)

FIT = dict(num_epoch=2, eval_metric=["acc", "ce"], optimizer_params=(("learning_rate", 0.1),))


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, bundle, raw=False):
        self.updates.append(bundle)


def record(mod):
    events = []
    mod.events.subscribe(events.append, kinds=("batch_end", "epoch_end", "eval_end"))
    return events


@pytest.fixture(scope="module")
def by_events():
    mod = mx.mod.Module(mlp(), context=two_cpus())
    lm = LiveMetrics(mod)
    events = record(mod)
    mod.fit(data_iter(), eval_data=data_iter(seed=1), **FIT)
    return SimpleNamespace(mod=mod, lm=lm, events=events)


def test_batch_curves_are_the_metric_values_of_each_batch(by_events):
    m, events = by_events.lm.model, by_events.events
    batches = [e for e in events if e.kind == "batch_end"]
    assert m["step"] == len(batches) == 14 and m["runs"] == 1
    assert list(m["train"]) == ["accuracy", "cross-entropy"]
    for name in m["train"]:
        want = [dict(e.data["metrics"])[name] for e in batches]
        assert [v for _, v in m["train"][name]] == pytest.approx(want)
        assert [s for s, _ in m["train"][name]] == list(range(1, 15))
    assert m["epoch_ends"] == [7, 14]
    assert m["last"] == {"epoch": 1, "nbatch": 6,
                         "metrics": [list(p) for p in batches[-1].data["metrics"]]}


def test_epoch_and_validation_points(by_events):
    m, events = by_events.lm.model, by_events.events
    ends = [e for e in events if e.kind == "epoch_end"]
    evals = [e for e in events if e.kind == "eval_end"]
    assert [e["epoch"] for e in m["epochs"]] == [0, 1]
    for row, end, ev in zip(m["epochs"], ends, evals):
        assert row["train"] == pytest.approx(dict(end.data["metrics"]))
        assert row["eval"] == pytest.approx(dict(ev.data["metrics"]))
        assert row["time"] == end.data["time"] and row["samples"] == 50
    assert m["eval"]["accuracy"] == [[7, pytest.approx(dict(evals[0].data["metrics"])
                                                       ["accuracy"])],
                                     [14, pytest.approx(dict(evals[1].data["metrics"])
                                                        ["accuracy"])]]


def test_throughput_from_samples_and_elapsed(by_events):
    batches = [e.data for e in by_events.events if e.kind == "batch_end"]
    want = []
    for i, d in enumerate(batches):
        prev = batches[i - 1] if i and batches[i - 1]["epoch"] == d["epoch"] else None
        want.append(d["samples"] / d["elapsed"] if prev is None else
                    (d["samples"] - prev["samples"]) / (d["elapsed"] - prev["elapsed"]))
    got = by_events.lm.model["throughput"]
    assert [s for s, _ in got] == list(range(1, 15))
    assert [v for _, v in got] == pytest.approx(want)
    # the last batch of an epoch counts its 2 real rows, not the 6 of padding
    assert batches[6]["samples"] - batches[5]["samples"] == 2


def test_html_draws_every_curve(by_events):
    lm = by_events.lm
    html = expand(lm.to_html())
    assert svgs_parse(html) == 3                   # accuracy, cross-entropy, throughput
    assert html.count('class="mxt-line"') == 3     # one smoothed line per chart
    # raw points stay under the smoothing: 14 per chart
    assert html.count('class="mxt-raw-pts"') == 3
    dots = re.findall(r'<path d="([^"]*)"[^>]*class="mxt-raw-pts"', html)
    assert [d.count("h0") for d in dots] == [14, 14, 14]
    # per metric: 2 epoch squares and 2 validation diamonds
    assert html.count('class="mxt-marker"') == 2 * (2 + 2)
    text = text_of(html)
    assert "running average since the epoch began" in text
    assert "validation accuracy" in text and "train cross-entropy" in text
    assert text.count("epoch 1, batch 6") == 1


def test_smoothing_off_and_figure(by_events):
    lm = by_events.lm
    old = lm.smoothing
    try:
        lm.smoothing = 0
        assert 'class="mxt-line"' not in expand(lm.to_html())
    finally:
        lm.smoothing = old
    fig = lm.figure()
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["accuracy", "cross-entropy",
                                             "throughput (samples/s)"]
    raw = axes[0].lines[0]
    assert list(raw.get_ydata()) == pytest.approx([v for _, v in lm.model["train"]["accuracy"]])


def test_callback_attaches_itself_and_ends_static():
    mod = mx.mod.Module(mlp(), context=two_cpus())
    events = record(mod)
    lm = LiveMetrics()
    lm.widget                                  # as if displayed in a notebook
    lm._handle = FakeHandle()
    mod.fit(data_iter(), eval_data=data_iter(seed=1), batch_end_callback=lm, **FIT)
    assert lm.module is mod
    m = lm.model
    assert m["step"] == 14 and len(m["throughput"]) == 14        # no batch counted twice
    assert [v for _, v in m["train"]["accuracy"]] == pytest.approx(
        [dict(e.data["metrics"])["accuracy"] for e in events if e.kind == "batch_end"])
    assert len(m["epochs"]) == 2 and len(m["eval"]["cross-entropy"]) == 2
    # fit ended after the last validation: final drawing and the static copy refreshed once
    assert m["finished"] is True
    assert len(lm._handle.updates) == 1
    final = lm._handle.updates[0]["text/html"]
    assert "finished" in text_of(final) and final == lm.to_html()
    assert ids_normalized(lm._output.value) == ids_normalized(lm.live_html())  # same state


def test_callback_and_events_together_count_each_batch_once():
    mod = mx.mod.Module(mlp(), context=two_cpus())
    lm = LiveMetrics(mod)
    mod.fit(data_iter(), batch_end_callback=[mx.callback.Speedometer(8, 100), lm], **FIT)
    assert lm.model["step"] == 14 and lm.model["runs"] == 1
    # a second fit continues the x axis as a new run
    with pytest.warns(UserWarning, match="init_params call ignored"):
        mod.fit(data_iter(), batch_end_callback=lm, num_epoch=1, eval_metric="acc")
    assert lm.model["step"] == 21 and lm.model["runs"] == 2
    assert [s for s, _ in lm.model["train"]["accuracy"]] == list(range(1, 22))


def test_composite_metric_gets_one_chart_per_child():
    mod = mx.mod.Module(mlp(batchnorm=False), context=two_cpus())
    lm = LiveMetrics(mod)
    metric = mx.metric.CompositeEvalMetric([mx.metric.Accuracy(), mx.metric.MSE()])
    mod.fit(data_iter(), num_epoch=1, eval_metric=metric)
    assert list(lm.model["train"]) == ["accuracy", "mse"]
    assert [t for t, _ in lm.charts()] == ["accuracy", "mse", "throughput (samples/s)"]
    assert lm.model["epochs"][0]["train"] == pytest.approx(dict(zip(*metric.get_global())))


def test_callback_throughput_with_a_fake_clock():
    clock = FakeClock()
    lm = LiveMetrics(clock=clock, schedule=FakeScheduler(clock))
    metric = mx.metric.Accuracy()
    batch = mx.io.DataBatch([mx.nd.zeros((8, 3))], [mx.nd.zeros((8,))], pad=3)
    for nbatch in range(3):
        metric.update([mx.nd.array([0, 1])], [mx.nd.array([[1, 0], [0, 1]])])
        lm(BatchEndParam(0, nbatch, metric, {"data_batch": batch}))
        clock.advance(0.5)
    # 5 real rows every 0.5 s; the first batch has no previous time
    assert lm.model["throughput"] == [[2, 10.0], [3, 10.0]]
    assert lm.model["train"]["accuracy"] == [[1, 1.0], [2, 1.0], [3, 1.0]]


def test_ema_and_thinning():
    assert ema([1.0, 2.0, 3.0], 0) == [1.0, 2.0, 3.0]
    w = 0.5
    # debiased EMA: (1-w)·Σ w^k·x / (1 - w^n)
    assert ema([2.0, 4.0], w) == pytest.approx([2.0, (0.5 * 2 * 0.5 + 0.5 * 4) / 0.75])
    pts = [(i, float(np.sin(i))) for i in range(1000)]
    style, band, line = _thin(pts, [y for _, y in pts], 100)
    assert style == "band" and len(band) == 100 and len(line) == 50
    ys = [y for _, y in pts]
    assert min(y for _, y in band) == min(ys) and max(y for _, y in band) == max(ys)
    assert _thin(pts[:10], ys[:10], 100)[0] == "raw"


# -- ModuleInspector -----------------------------------------------------------------------------
def test_inspector_before_bind_through_fit():
    mod = mx.mod.Module(mlp(), context=two_cpus())
    insp = ModuleInspector(mod, batch_size=8)
    assert list(insp.views)[:5] == ["State", "Metrics", "Memory", "Devices", "Parameters"]
    assert insp.slices.model["source"] == "preview"
    tab = insp.widget
    assert tuple(tab.titles) == tuple(insp.views)
    assert [v._active for v in insp.views.values()] == [True] + [False] * (len(insp.views) - 1)
    insp._handle = FakeHandle()
    mod.fit(data_iter(), eval_data=data_iter(seed=1), batch_end_callback=insp, **FIT)
    assert insp.metrics.model["step"] == 14
    assert insp.timeline.model["stage"] == "optimizer_installed"
    assert insp.slices.model["source"] == "bound" and len(insp.memory.model["groups"]) == 2
    # the end of fit finished every view: each widget shows its final state
    assert len(insp._handle.updates) == 1
    for view in insp.views.values():       # (inline pattern ids are unique per drawing)
        assert ids_normalized(view._output.value) == ids_normalized(view.live_html())
    tab.selected_index = 3
    assert insp.slices._active and not insp.timeline._active
    html = expand(insp.to_html())
    assert html.count('<details open class="mxt-section">') == len(insp.views)
    assert "Lifecycle of Module" in html and "Batch slices over devices" in html


def test_inspector_fills_slots_from_installed_views(monkeypatch):
    class GraphView(View):
        title = "graph"

        def render(self):
            return "<p>the graph</p>"

    class ChainView(View):
        @classmethod
        def applies_to(cls, module):
            return isinstance(module, mx.mod.SequentialModule)

        def render(self):
            return "<p>chain</p>"
    graph = types.ModuleType("mxteach.widgets.graph")
    graph.GraphView = GraphView
    chain = types.ModuleType("mxteach.widgets.chain")
    chain.ChainView = ChainView
    monkeypatch.setitem(sys.modules, "mxteach.widgets.graph", graph)
    monkeypatch.setitem(sys.modules, "mxteach.widgets.chain", chain)
    insp = ModuleInspector(mx.mod.Module(mlp()))
    assert "Graph" in insp.views and insp["Graph"].module is insp.module
    assert "Chain" not in insp.views                 # not a SequentialModule
    assert "GraphView" not in insp.missing and "ChainView" not in insp.missing
    assert "the graph" in insp.to_html()


def test_inline_callback_displays_itself_once_in_a_notebook(monkeypatch):
    import IPython.display
    import mxteach.widgets.metrics as metrics_module
    shown = []

    def fake_display(bundle, raw=False, display_id=False):
        shown.append(bundle)
        return FakeHandle()
    monkeypatch.setattr(metrics_module, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    mod = mx.mod.Module(mlp(batchnorm=False), context=two_cpus())
    lm = LiveMetrics()
    mod.fit(data_iter(), num_epoch=1, batch_end_callback=lm)
    assert len(shown) == 1                          # displayed at the first batch only
    assert "application/vnd.jupyter.widget-view+json" in shown[0]
    assert "Waiting for the first batch" in text_of(shown[0]["text/html"])
    final = lm._handle.updates                       # ended static: the final picture
    assert len(final) == 1 and "epoch 0, batch 6" in text_of(final[0]["text/html"])
    # inside an inspector the metrics never display on their own
    insp = ModuleInspector(mx.mod.Module(mlp(batchnorm=False)))
    assert insp.metrics.auto_display is False
