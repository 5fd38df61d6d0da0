"""Widget base: throttling under a fake clock, failing listeners, display bundles, import
isolation of the core; shared helpers (a tiny MLP on cpu(0)/cpu(1), fake clock/scheduler) used
by the other test_widgets_* files."""
import re
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import mxteach as mx
from mxteach.events import Event

N_SAMPLES, BATCH, FEATURES = 50, 8, 6      # 7 batches per epoch, the last padded with 6 rows


def mlp(batchnorm=True, lr_mult=None):
    data = mx.sym.Variable("data")
    weight = mx.sym.Variable("fc1_weight", lr_mult=lr_mult) if lr_mult else None
    net = mx.sym.FullyConnected(data, weight=weight, num_hidden=12, name="fc1") if weight \
        is not None else mx.sym.FullyConnected(data, num_hidden=12, name="fc1")
    if batchnorm:
        # explicit init rules for the moving statistics (see the report: BatchNorm does not
        # give its auxiliary states an __init__ attribute yet)
        net = mx.sym.BatchNorm(net, name="bn1",
                               moving_mean=mx.sym.Variable("bn1_moving_mean",
                                                           init=mx.init.Zero()),
                               moving_var=mx.sym.Variable("bn1_moving_var", init=mx.init.One()))
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def data_iter(batch_size=BATCH, n=N_SAMPLES, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, FEATURES).astype("float32")
    y = ((x[:, 0] > 0).astype("float32") + (x[:, 1] > 0)).astype("float32")
    return mx.io.NDArrayIter(x, y, batch_size=batch_size)


def two_cpus():
    return [mx.cpu(0), mx.cpu(1)]


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


class FakeScheduler:
    """Records schedule(delay, fn) calls; run_due() runs those whose time has come."""

    def __init__(self, clock):
        self.clock = clock
        self.calls = []          # [delay, fn, due, cancelled]

    def __call__(self, delay, fn):
        entry = [delay, fn, self.clock() + delay, False]
        self.calls.append(entry)
        scheduler = self

        class Handle:
            def cancel(self):
                entry[3] = True
                scheduler.cancelled = getattr(scheduler, "cancelled", 0) + 1
        return Handle()

    def pending(self):
        return [c for c in self.calls if not c[3] and c[1] is not None]

    def run_due(self):
        ran = 0
        for c in list(self.calls):
            if not c[3] and c[1] is not None and c[2] <= self.clock() + 1e-12:
                fn, c[1] = c[1], None
                fn()
                ran += 1
        return ran


def expand(html):
    """A static form with its drawing images (data URIs) replaced by their SVG text."""
    from mxteach.widgets._svg import expand_images
    return expand_images(html)


def ids_normalized(html):
    """``html`` with the per-drawing id prefixes of inline SVG (``mxt17-``) made equal."""
    return re.sub(r"\bmxt\d+-", "mxtN-", html)


def svgs_parse(html):
    """Parse every <svg>…</svg> in ``html`` (drawing images decoded) as XML (raises if one
    is malformed); returns how many are drawings (legend squares and table bars, class
    ``mxt-glyph``, are parsed but not counted)."""
    html = expand(html)
    found = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    for s in found:
        ET.fromstring(s.replace("&nbsp;", " "))
    return sum(1 for s in found if not s.startswith('<svg xmlns="http://www.w3.org/2000/svg" '
                                                     'class="mxt-glyph"'))


def text_of(html):
    """The visible text of ``html`` (tags dropped, entities for < > & ' " decoded)."""
    import html as _html
    return _html.unescape(re.sub(r"<[^>]+>", " ", expand(html)))


def counting_view(**kwargs):
    from mxteach.widgets import View

    class Counting(View):
        title = "counting"
        kinds = ("forward", "batch_end")

        def empty_model(self):
            return {"n": 0}

        def update(self, event):
            if event.kind != "forward":
                return False
            self.model["n"] += 1

        def render(self):
            return f"<p>n={self.model['n']}</p>"
    return Counting(**kwargs)


def fake_event(kind, source=None, **data):
    return Event(kind, source, "optimizer_installed", "optimizer_installed", data)


# -- the core stays free of UI libraries -------------------------------------------------------
def test_core_import_loads_no_ui_library():
    code = (
        "import sys\n"
        "import mxteach as mx\n"
        "import mxteach.module, mxteach.executor, mxteach.metric, mxteach.events\n"
        "mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable('data'), "
        "num_hidden=2, name='fc'), name='softmax')).bind([('data', (2, 3))], "
        "[('softmax_label', (2,))])\n"
        "ui = ('ipywidgets', 'matplotlib', 'IPython', 'graphviz')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ui))\n"
        "import mxteach.widgets as w\n"
        "html = w.StateTimeline().to_html() + w.DeviceSlices(batch_size=4, "
        "contexts=[mx.cpu(0), mx.cpu(1)]).to_html()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ui))\n"
        "print(len(html) > 100)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-3] == "[]"          # after the core: nothing
    assert lines[-2] == "[]"          # static HTML of views: still no ipywidgets
    assert lines[-1] == "True"


# -- Throttle ----------------------------------------------------------------------------------
def test_throttle_draws_first_change_at_once_and_trails_the_rest():
    from mxteach.widgets import Throttle
    clock = FakeClock()
    sched = FakeScheduler(clock)
    th = Throttle(interval=0.25, clock=clock, schedule=sched)
    drawn = []

    def draw():
        drawn.append(clock())
    assert th.request(draw) is True
    assert drawn == [100.0]
    clock.advance(0.1)
    assert th.request(draw) is False           # too early: deferred …
    assert th.request(draw) is False           # … and only one trailing call is scheduled
    assert len(sched.pending()) == 1
    assert sched.pending()[0][0] == pytest.approx(0.15)   # due 0.25 after the first draw
    assert th.deferred == 2
    clock.advance(0.15)
    assert sched.run_due() == 1
    assert drawn == [100.0, 100.25]            # the last state drawn, on time
    assert th.pending is False
    clock.advance(0.3)
    assert th.request(draw) is True            # quiet long enough: immediate again
    assert th.draws == 3


def test_throttle_spaces_out_expensive_draws():
    from mxteach.widgets import Throttle
    clock = FakeClock()
    sched = FakeScheduler(clock)
    th = Throttle(interval=0.25, budget=0.02, clock=clock, schedule=sched)

    def slow_draw():
        clock.advance(0.05)                    # a 50 ms drawing
    th.request(slow_draw)
    assert th.last_cost == pytest.approx(0.05)
    assert th.gap == pytest.approx(2.5)        # 0.05 / 2 %: drawing stays under 2 % of time
    clock.advance(1.0)
    assert th.request(slow_draw) is False      # 1.0 s later is still too early
    assert sched.pending()[0][0] == pytest.approx(2.5 - 1.05)


def test_throttle_flush_cancels_the_trailing_call():
    from mxteach.widgets import Throttle
    clock = FakeClock()
    sched = FakeScheduler(clock)
    th = Throttle(interval=0.25, clock=clock, schedule=sched)
    drawn = []
    th.request(lambda: drawn.append(1))
    th.request(lambda: drawn.append(2))
    th.flush(lambda: drawn.append(3))
    assert drawn == [1, 3]
    assert getattr(sched, "cancelled", 0) == 1
    clock.advance(1)
    assert sched.run_due() == 0


def test_view_redraws_at_most_every_interval_and_ends_with_last_state():
    clock = FakeClock()
    sched = FakeScheduler(clock)
    view = counting_view(clock=clock, schedule=sched)
    widget = view.widget                        # a live form now exists
    for i in range(100):                        # 100 events within 0.99 s
        view._on_event(fake_event("forward"))
        clock.advance(0.0099)
        sched.run_due()
    clock.advance(0.3)
    sched.run_due()
    assert view.model["n"] == 100
    # at most one draw per 0.25 s over ~1 s, plus the first: never one per event
    assert 2 <= view.draws <= 5
    assert view._output.value == view.live_html()   # the last state is what is shown
    assert "n=100" in view._output.value


def test_view_without_widget_never_draws():
    clock = FakeClock()
    sched = FakeScheduler(clock)
    view = counting_view(clock=clock, schedule=sched)
    for _ in range(10):
        view._on_event(fake_event("forward"))
    assert view.draws == 0 and sched.calls == []
    assert "n=10" in view.to_html()


def test_trailing_redraw_with_real_timer_thread():
    view = counting_view(interval=0.05)
    widget = view.widget
    for _ in range(50):
        view._on_event(fake_event("forward"))
    deadline = time.time() + 3
    while "n=50" not in view._output.value and time.time() < deadline:
        time.sleep(0.02)
    assert "n=50" in view._output.value
    assert view.draws < 50


def test_inactive_view_waits_until_shown():
    clock = FakeClock()
    sched = FakeScheduler(clock)
    view = counting_view(clock=clock, schedule=sched)
    widget = view.widget
    view.set_active(False)
    clock.advance(1)
    view._on_event(fake_event("forward"))
    assert "n=0" in view._output.value
    view.set_active(True)
    assert "n=1" in view._output.value


# -- events from a real fit ----------------------------------------------------------------------
def test_failing_listener_never_breaks_fit():
    from mxteach.widgets import View

    class Broken(View):
        kinds = ("batch_end", "epoch_end")

        def update(self, event):
            raise ValueError("boom in a view")

        def render(self):
            return ""
    mod = mx.mod.Module(mlp(batchnorm=False), context=two_cpus())
    Broken(mod)
    from mxteach.widgets import LiveMetrics
    lm = LiveMetrics(mod)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod.fit(data_iter(), num_epoch=1, optimizer_params=(("learning_rate", 0.1),))
    kinds = [k for k, _, _ in mod.events.errors]
    assert kinds.count("batch_end") == 7 and kinds.count("epoch_end") == 1
    assert all(isinstance(err, ValueError) for _, err, _ in mod.events.errors)
    assert any("Broken.update" in str(w.message) for w in caught)
    # the other listener saw every batch, and training went on
    assert lm.model["step"] == 7
    assert mod.optimizer_initialized


def test_failing_metric_in_callback_is_reported_not_raised():
    from mxteach.callback import BatchEndParam
    from mxteach.widgets import LiveMetrics

    class BadMetric:
        def get_name_value(self):
            raise RuntimeError("metric exploded")
    lm = LiveMetrics()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lm(BatchEndParam(epoch=0, nbatch=0, eval_metric=BadMetric(), locals={}))
    assert len(lm.errors) == 1 and "metric exploded" in str(lm.errors[0][1])
    assert any("LiveMetrics callback failed" in str(w.message) for w in caught)
    assert lm.model["step"] == 0


# -- display ---------------------------------------------------------------------------------------
class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, bundle, raw=False):
        self.updates.append((bundle, raw))


def test_mimebundle_has_widget_and_static_html():
    view = counting_view()
    bundle = view._mimebundle()
    assert bundle["text/html"] == view.to_html()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == \
        view.widget._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert bundle["text/plain"] == "<Counting of no module>"


def test_fit_end_event_finishes_view_and_refreshes_static_copy():
    clock = FakeClock()
    sched = FakeScheduler(clock)
    mod = mx.mod.Module(mlp(batchnorm=False))
    view = counting_view(clock=clock, schedule=sched)
    view.attach(mod)
    view.widget
    view._handle = FakeHandle()
    view._on_event(fake_event("forward", mod))
    view._on_event(fake_event("forward", mod))       # deferred by the throttle
    assert "n=1" in view._output.value
    view._on_event(fake_event("fit_end", mod))
    assert "n=2" in view._output.value                # drawn at once, not after a timer
    assert len(view._handle.updates) == 1
    bundle, raw = view._handle.updates[0]
    assert raw and "n=2" in bundle["text/html"]
    assert getattr(sched, "cancelled", 0) == 1


def test_snapshot_and_svg_are_wellformed_and_dollar_free():
    from mxteach.widgets import DeviceSlices
    ds = DeviceSlices(batch_size=10, contexts=[mx.cpu(0), mx.cpu(1), mx.cpu(2)],
                      work_load_list=[1, 1, 3])
    html = ds.snapshot()._repr_html_()
    assert html == ds.to_html()
    assert svgs_parse(html) == 1
    assert "$" not in html


def test_attach_rejects_objects_without_events():
    view = counting_view()
    with pytest.raises(TypeError, match="mxteach module"):
        view.attach(object())


def test_source_labels_for_members():
    from mxteach.widgets._base import source_label
    m1 = mx.mod.Module(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2,
                                             name="a"), label_names=None)
    m2 = mx.mod.Module(mlp(batchnorm=False))
    seq = mx.mod.SequentialModule().add(m1).add(m2, take_labels=True)
    assert source_label(seq, seq) == ""
    assert source_label(m1, seq) == "module 0"
    assert source_label(m2, seq) == "module 1"
    assert source_label(mx.mod.Module(mlp(False)), seq) == "Module"


def test_axis_ticks_for_nearly_equal_values_terminate():
    # cross-entropy after one batch can differ from the next by one ulp: this once looped
    # forever while computing axis ticks
    from mxteach.widgets._svg import line_chart, nice_ticks
    y = 1.0986122886681098
    assert nice_ticks(y, np.nextafter(y, 2)) == [y]
    assert nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(1e6, 1e6 + 3) == [1e6, 1e6 + 1, 1e6 + 2, 1e6 + 3]
    svg = expand(line_chart([{"points": [(1, y), (2, np.nextafter(y, 2))], "color": "#000",
                              "style": "raw"}], title="ce"))
    assert svgs_parse(svg) == 1 and svg.count("h0") == 2


def test_a_failing_drawing_is_reported_and_drawing_goes_on():
    from mxteach.widgets import View

    class Fragile(View):
        def empty_model(self):
            return {"n": 0}

        def update(self, event):
            self.model["n"] += 1

        def render(self):
            if self.model["n"] == 1:
                raise ZeroDivisionError("bad frame")
            return f"<p>n={self.model['n']}</p>"
    clock = FakeClock()
    view = Fragile(clock=clock, schedule=FakeScheduler(clock))
    widget = view.widget
    with pytest.warns(RuntimeWarning, match="Fragile could not draw"):
        view._on_event(fake_event("forward"))
    assert view.errors[0][0] == "draw" and isinstance(view.errors[0][1], ZeroDivisionError)
    clock.advance(1)
    view._on_event(fake_event("forward"))
    assert "n=2" in view._output.value


def test_capped_axis_keeps_outliers_on_the_top_edge():
    from mxteach.widgets._svg import line_chart
    pts = [(i, 100.0 + (i % 3)) for i in range(30)] + [(30, 1e6)]
    svg = expand(line_chart([{"points": pts, "color": "#000", "style": "line"}],
                            title="speed", y_cap=150.0, height=200))
    assert "speed (capped at 150)" in svg
    ys = [float(p.split(",")[1]) for p in
          re.search(r'<polyline points="([^"]+)"', svg).group(1).split()]
    assert min(ys) >= 22 - 1e-9 and max(ys) <= 200 - 32 + 1e-9      # inside the plot area
    assert ys[-1] == min(ys)                                         # the outlier at the top
    uncapped = line_chart([{"points": pts[:30], "color": "#000"}], title="speed", y_cap=150.0)
    assert "capped" not in uncapped
