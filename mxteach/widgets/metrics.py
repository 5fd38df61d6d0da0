"""LiveMetrics: training curves that grow while fit runs (as a batch_end_callback or through
module events), redrawn a few times a second, ending as a static figure."""
from __future__ import annotations

import math
import time
import traceback
import warnings

import numpy as np

from ._base import View, in_notebook
from ._svg import MUTED, PALETTE, fmt_seconds, fmt_value, line_chart, note, table

__all__ = ["LiveMetrics", "ema"]

BATCH = PALETTE[0]
EPOCH = "#8c6bb1"          # a mid-tone: epoch markers read on light and dark themes
EVAL = PALETTE[1]
SPEED = PALETTE[2]


def ema(values, weight):
    """TensorBoard's debiased exponential moving average (``weight`` 0 returns the values)."""
    if weight <= 0:
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n))
    return out


def _thin(points, smoothed, limit):
    """At most ``limit`` drawn points: raw points become a min/max band per bin, the smoothed
    line is sampled at the end of each bin."""
    if len(points) <= limit:
        return "raw", points, list(zip([p[0] for p in points], smoothed))
    arr = np.asarray(points, dtype=float)
    n, bins = len(arr), max(limit // 2, 1)
    starts = (np.arange(bins) * n) // bins
    ends = np.append(starts[1:], n) - 1
    lows = np.minimum.reduceat(arr[:, 1], starts)
    highs = np.maximum.reduceat(arr[:, 1], starts)
    xs = arr[ends, 0]
    band = [p for x, lo, hi in zip(xs.tolist(), lows.tolist(), highs.tolist())
            for p in ((x, lo), (x, hi))]
    return "band", band, [(x, smoothed[e]) for x, e in zip(xs.tolist(), ends.tolist())]


class LiveMetrics(View):
    """Curves of the training metrics per batch and per epoch, the validation metrics and
    the throughput, while ``fit`` runs.

    Use it either way (or both: a batch seen twice is counted once). Created inline as the
    callback in a notebook, it displays itself under the running cell (``auto_display``)::

        mod.fit(train, eval_data=val, num_epoch=5, batch_end_callback=LiveMetrics())
        lm = LiveMetrics(mod); mod.fit(...)          # through the module's events

    As a callback it attaches itself to the module it is called from, so epoch and
    validation points arrive too, and it knows when fit ends (last epoch, after validation):
    then it draws the final state and leaves a static figure in the notebook. Every metric of
    a list or a ``CompositeEvalMetric`` gets its own chart. Raw per-batch points stay visible
    under the smoothed line (``smoothing``, TensorBoard's debiased EMA; 0 turns it off).
    Per-batch values are what fit's metric reports after each batch: running averages since
    the start of the epoch (fit resets the metric every epoch). Redraws happen at most every
    ``interval`` seconds; a failing callback is reported, never raised into fit.

    Model: ``train`` {name: [[step, value]]}, ``epochs`` [{epoch, step, train, eval, time,
    samples}], ``eval`` {name: [[step, value]]}, ``throughput`` [[step, samples/s]],
    ``epoch_ends`` [step], ``step``, ``runs``, ``finished``.

    See notebook 05.
    """

    title = "Training metrics"
    kinds = ("batch_end", "epoch_end", "eval_end")

    def __init__(self, module=None, *, smoothing=0.6, max_drawn=400, auto_display=True,
                 **kwargs):
        self.smoothing = float(smoothing)
        self.auto_display = bool(auto_display)
        self.max_drawn = int(max_drawn)
        self._last_key = None
        self._key_source = None
        self._prev = None             # (epoch, samples, elapsed) of the last batch_end event
        self._prev_call = None        # (epoch, clock) of the last callback call
        self._fit = None              # {'num_epoch', 'eval'} learnt from the callback's locals
        super().__init__(module, **kwargs)

    def empty_model(self):
        return {"step": 0, "train": {}, "eval": {}, "epochs": [], "throughput": [],
                "epoch_ends": [], "last": None, "runs": 0, "finished": False}

    # -- input: the callback ------------------------------------------------------------------
    def __call__(self, param):
        """``batch_end_callback`` entry point: never raises into fit."""
        try:
            self._from_callback(param)
        except Exception as err:  # a view must never break training
            self.errors.append(("callback", err, traceback.format_exc()))
            warnings.warn(f"LiveMetrics callback failed: {err!r}", RuntimeWarning,
                          stacklevel=2)

    def _from_callback(self, param):
        self._adopt_cell()
        if self.auto_display and self._handle is None and self._widget is None and \
                in_notebook():
            # fit(batch_end_callback=LiveMetrics()) in a notebook: show it under the cell
            self._ipython_display_()
        loc = param.locals if isinstance(param.locals, dict) else {}
        mod = loc.get("self")
        if "num_epoch" in loc:
            self._fit = {"num_epoch": loc["num_epoch"], "eval": bool(loc.get("eval_data"))}
        if self.module is None and hasattr(getattr(mod, "events", None), "subscribe"):
            self.attach(mod)
        if mod is not None and mod is self.module:
            # fit emits this batch's batch_end event right after its callbacks, with the
            # exact sample count and time: the event records it, once
            return
        batch = loc.get("data_batch")
        rows = None
        if batch is not None and not isinstance(batch, list) and batch.data:
            rows = int(batch.data[0].shape[0]) - int(batch.pad or 0)
        metric = param.eval_metric
        start = time.perf_counter()
        metrics = metric.get_name_value() if metric is not None else []
        with self._lock:
            changed = self._record(param.epoch, param.nbatch, metrics, rows=rows,
                                   source="callback")
        self.cost["events"] += time.perf_counter() - start
        if changed:
            self._changed()

    # -- input: events ------------------------------------------------------------------------
    def update(self, event):
        d = event.data
        if event.kind == "batch_end":
            return self._record(d["epoch"], d["nbatch"], d.get("metrics") or [],
                                samples=d.get("samples"), elapsed=d.get("elapsed"),
                                source="event")
        m = self.model
        if event.kind == "epoch_end":
            m["epochs"].append({"epoch": d["epoch"], "step": m["step"],
                                "train": {n: _num(v) for n, v in d.get("metrics") or []},
                                "eval": {}, "time": d.get("time"),
                                "samples": self._prev[1] if self._prev else None})
            m["epoch_ends"].append(m["step"])
            if self._fit and d["epoch"] == self._fit["num_epoch"] - 1 and not self._fit["eval"]:
                self._finish_requested = True
            return True
        if event.kind == "eval_end":
            values = {n: _num(v) for n, v in d.get("metrics") or []}
            epochs = m["epochs"]
            if epochs and epochs[-1]["epoch"] == d.get("epoch") and not epochs[-1]["eval"]:
                epochs[-1]["eval"] = values
            for name, v in values.items():
                m["eval"].setdefault(name, []).append([m["step"], v])
            if self._fit and d.get("epoch") == self._fit["num_epoch"] - 1 and self._fit["eval"]:
                self._finish_requested = True
            return True
        return False

    def _record(self, epoch, nbatch, metrics, samples=None, elapsed=None, rows=None,
                source="event"):
        m = self.model
        key = (m["runs"], int(epoch), int(nbatch))
        if self._last_key is not None and key[1:] == self._last_key[1:] and \
                source != self._key_source:
            # the same batch through the other channel: only the event knows the exact speed
            if source == "event":
                self._speed_from_event(epoch, nbatch, samples, elapsed, replace=True)
                self._key_source = "both"
                return True
            return False
        if self._last_key is None or key[1:] <= self._last_key[1:]:
            m["runs"] += 1              # a new fit (or the first)
            self._prev = self._prev_call = None
            key = (m["runs"],) + key[1:]
        self._last_key, self._key_source = key, source
        m["step"] += 1
        m["finished"] = False
        step = m["step"]
        for name, value in metrics:
            m["train"].setdefault(name, []).append([step, _num(value)])
        m["last"] = {"epoch": int(epoch), "nbatch": int(nbatch),
                     "metrics": [[n, _num(v)] for n, v in metrics]}
        if source == "event":
            self._speed_from_event(epoch, nbatch, samples, elapsed)
        else:
            now = self._throttle.clock()
            if self._prev_call is not None and self._prev_call[0] == epoch and rows and \
                    now > self._prev_call[1]:
                m["throughput"].append([step, rows / (now - self._prev_call[1])])
            self._prev_call = (epoch, now)
        return True

    def _speed_from_event(self, epoch, nbatch, samples, elapsed, replace=False):
        if samples is None or elapsed is None:
            return
        m = self.model
        prev = self._prev
        if prev is not None and prev[0] == epoch and elapsed > prev[2]:
            speed = (samples - prev[1]) / (elapsed - prev[2])
        elif elapsed > 0:
            speed = samples / elapsed
        else:
            speed = None
        self._prev = (epoch, samples, elapsed)
        if speed is None:
            return
        point = [m["step"], float(speed)]
        if replace and m["throughput"] and m["throughput"][-1][0] == m["step"]:
            m["throughput"][-1] = point
        else:
            m["throughput"].append(point)

    # -- output -------------------------------------------------------------------------------
    def finish(self):
        with self._lock:
            self.model["finished"] = True
        self._dirty = True
        return super().finish()

    def _controls(self, ipywidgets):
        slider = ipywidgets.FloatSlider(value=self.smoothing, min=0.0, max=0.99, step=0.01,
                                        description="smoothing", continuous_update=False)

        def on_change(change):
            self.smoothing = float(change["new"])
            self._changed()
        slider.observe(on_change, names="value")
        return [slider]

    def heading(self):
        last = self.model["last"]
        if not last:
            return self.title
        parts = [f"{self.title}: epoch {last['epoch']}, batch {last['nbatch']}"]
        parts += [f"{n} {fmt_value(v)}" for n, v in last["metrics"]]
        if self.model["throughput"]:
            parts.append(f"{self.model['throughput'][-1][1]:,.0f} samples/s")
        if self.model["finished"]:
            parts.append("finished")
        return " · ".join(parts)

    def charts(self):
        """``[(title, series)]`` as drawn: per metric the raw batch points, the smoothed line,
        the epoch values and the validation values; then the throughput."""
        m = self.model
        names = list(m["train"]) + [n for n in m["eval"] if n not in m["train"]]
        out = []
        for name in names:
            series = []
            points = [(s, v) for s, v in m["train"].get(name, []) if _finite(v)]
            if points:
                style, raw, smooth = _thin(points, ema([v for _, v in points], self.smoothing),
                                           self.max_drawn)
                series.append({"points": raw, "color": BATCH, "style": style,
                               "label": "every batch"})
                if self.smoothing > 0:
                    series.append({"points": smooth, "color": BATCH, "style": "line",
                                   "label": f"smoothed ({self.smoothing:g})"})
            ends = [(e["step"], e["train"][name]) for e in m["epochs"] if name in e["train"]]
            if ends:
                series.append({"points": ends, "color": EPOCH, "style": "markers",
                               "marker": "square", "label": "epoch (train)"})
            evals = m["eval"].get(name, [])
            if evals:
                series.append({"points": [tuple(p) for p in evals], "color": EVAL,
                               "style": "markers", "marker": "diamond",
                               "label": "validation"})
            out.append((name, series))
        if m["throughput"]:
            pts = [tuple(p) for p in m["throughput"]]
            style, raw, smooth = _thin(pts, ema([v for _, v in pts], self.smoothing),
                                       self.max_drawn)
            series = [{"points": raw, "color": SPEED, "style": style, "label": "every batch"}]
            if self.smoothing > 0:
                series.append({"points": smooth, "color": SPEED, "style": "line",
                               "label": "smoothed"})
            out.append(("throughput (samples/s)", series))
        return out

    def render(self):
        m = self.model
        if not m["step"] and not m["eval"]:
            return note("Waiting for the first batch: pass this object as "
                        "fit(batch_end_callback=…) or create it with LiveMetrics(mod).")
        speeds = [v for _, v in m["throughput"] if _finite(v)]
        cap = 1.5 * float(np.percentile(speeds, 95)) if len(speeds) >= 20 else None
        drawn = []
        for title, series in self.charts():
            chart = line_chart(series, title=title, x_label="batches", vlines=m["epoch_ends"],
                               y_cap=cap if title.startswith("throughput") else None)
            drawn.append(f'<div style="display:inline-block;margin:0 8px 6px 0">{chart}</div>')
        charts = "".join(drawn)
        legend = (f'<div style="color:{MUTED};font-size:11px">dots/band: every batch (running '
                  f'average since the epoch began; fit resets the metric each epoch) · line: '
                  f'smoothed, EMA {self.smoothing:g} · <span style="color:{EPOCH}">■</span> '
                  f'end of epoch (train) · <span style="color:{EVAL}">◆</span> validation · '
                  f'dotted: epoch boundaries</div>')
        return f"<div>{charts}</div>{legend}{self._epoch_table()}"

    def _epoch_table(self):
        m = self.model
        if not m["epochs"]:
            return ""
        train_names = list(m["train"]) or sorted({n for e in m["epochs"] for n in e["train"]})
        eval_names = list(m["eval"])
        rows = []
        for e in m["epochs"]:
            speed = (e["samples"] / e["time"]) if e.get("samples") and e.get("time") else None
            rows.append([e["epoch"]] + [fmt_value(e["train"].get(n)) for n in train_names] +
                        [fmt_value(e["eval"].get(n)) for n in eval_names] +
                        [fmt_seconds(e["time"]) if e.get("time") is not None else "–",
                         f"{speed:,.0f}" if speed else "–"])
        head = ["epoch"] + [f"train {n}" for n in train_names] + \
            [f"validation {n}" for n in eval_names] + ["time", "samples/s"]
        return "<div style='margin-top:4px'>" + table(head, rows) + "</div>"

    def figure(self):
        """The curves as a matplotlib Figure (for savefig); needs matplotlib."""
        from matplotlib.figure import Figure
        charts = self.charts()
        fig = Figure(figsize=(4.2 * max(len(charts), 1), 3.2), layout="constrained")
        axes = fig.subplots(1, max(len(charts), 1), squeeze=False)[0]
        for ax, (title, series) in zip(axes, charts):
            for s in series:
                xs = [p[0] for p in s["points"]]
                ys = [p[1] for p in s["points"]]
                if s["style"] == "raw":
                    ax.plot(xs, ys, ".", color=s["color"], alpha=0.35, ms=3, label=s["label"])
                elif s["style"] == "band":
                    ax.vlines(xs[0::2], ys[0::2], ys[1::2], color=s["color"], alpha=0.35,
                              label=s["label"])
                elif s["style"] == "markers":
                    ax.plot(xs, ys, "--" + ("s" if s.get("marker") == "square" else "D"),
                            color=s["color"], ms=5, lw=1, label=s["label"])
                else:
                    ax.plot(xs, ys, "-", color=s["color"], lw=2, label=s["label"])
            for v in self.model["epoch_ends"]:
                ax.axvline(v, color="#bbbbbb", ls=":", lw=1)
            ax.set_title(title)
            ax.set_xlabel("batches")
            ax.legend(fontsize=7)
        return fig


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _finite(v):
    return v is not None and math.isfinite(v)
