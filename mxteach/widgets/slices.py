"""DeviceSlices: how a batch is cut over the devices (before bind as a preview), what each
device holds and how long it takes, padding in the last batch, BatchNorm statistics drift."""
from __future__ import annotations

import statistics

import numpy as np

from mxteach.base import MXNetError
from mxteach.module.executor_group import split_input_slice

from ._base import View, exec_groups, module_kind
from ._svg import (INK, MUTED, PALETTE, PAPER, Raw, Svg, esc, fmt_bytes, fmt_seconds, fmt_value,
                   note, table)

__all__ = ["DeviceSlices"]

AUX_BUDGET = 0.02     # reading the BatchNorm statistics may take at most 2 % of the time
TIMING_WINDOW = 20    # steps whose median timing is shown
INPUT_BOUND = 0.3     # waiting for data this share of the time or more: say "input-bound"
WAIT_COLOR = "#d98c1f"   # a mid-tone orange: readable on light and dark themes


def _slice_rule(batch_size, work_load_list):
    """The row counts ``split_input_slice`` gives, even when some are empty.

    ``split_input_slice`` is the authority and raises on an empty slice; this mirror of its
    rounding rule exists only to draw *which* device would get nothing (the widget tests check
    that both agree wherever the core succeeds)."""
    total = float(sum(work_load_list))
    counts = [int(round(w * batch_size / total)) for w in work_load_list]
    if sum(counts) < batch_size:
        counts[-1] += batch_size - sum(counts)
    slices, end = [], 0
    for n in counts:
        begin = min(end, batch_size)
        end = min(begin + n, batch_size)
        slices.append((begin, max(begin, end)))
    return slices


def plan_slices(batch_size, work_load_list):
    """``(slices as [start, stop] pairs, error or None)`` for a batch over the devices."""
    try:
        return [[s.start, s.stop] for s in split_input_slice(batch_size, work_load_list)], None
    except MXNetError as err:
        return [list(s) for s in _slice_rule(batch_size, work_load_list)], str(err)


class DeviceSlices(View):
    """A batch drawn as rows coloured by the device that receives them.

    Before bind it previews the slicing from ``batch_size``, the contexts and the
    ``work_load_list`` (taken from an unbound Module, or given), warning when a batch is too
    small and some device would get no rows (bind would fail). Once bound it shows the
    executor group's real slices, each device's executor memory and its last forward/backward
    time (``exec_group.timings``); the padded rows of the last batch (``batch.pad``) are
    hatched; with several devices the BatchNorm moving statistics of each device are compared
    (they drift apart: each device sees other rows; ``get_params()`` averages them).

    Parameters
    ----------
    module : BaseModule, optional
    batch_size : int, optional
        For the preview before bind.
    contexts : list of Context, optional
        For a preview without a module (default: the module's contexts).
    work_load_list : list of float, optional
        As ``Module(work_load_list=…)`` (default: the module's, or equal shares).

    Model: ``batch_size``, ``contexts``, ``work_load_list``, ``slices`` ([start, stop] per
    device), ``error``, ``source`` ('preview' or 'bound'), ``pad``, ``padded_batch``,
    ``devices`` (memory and timings), ``aux`` (BatchNorm drift rows), ``input`` (this
    epoch's ``batches``, ``wait`` for data, iterator ``load`` time and ``elapsed`` seconds,
    from fit's ``batch_end`` events; drawn as a "waiting for data" / compute bar).

    Examples
    --------
    >>> DeviceSlices(batch_size=3, contexts=[mx.cpu(i) for i in range(4)])   # warns
    >>> ds = DeviceSlices(mod, batch_size=32)     # preview, then the real thing after bind

    See notebook 04.
    """

    title = "Batch slices over devices"
    kinds = ("bind", "reshape", "switch_bucket", "forward", "backward", "batch_end",
             "epoch_end", "eval_end")

    def __init__(self, module=None, *, batch_size=None, contexts=None, work_load_list=None,
                 **kwargs):
        self._given = {"batch_size": batch_size, "contexts": contexts,
                       "work_load_list": work_load_list}
        self._last_aux = None
        self._aux_cost = 0.0
        self._peaks = {}
        super().__init__(module, **kwargs)
        if module is None:
            with self._lock:
                self._read_preview(None)

    def empty_model(self):
        return {"source": "preview", "batch_size": None, "contexts": [], "work_load_list": [],
                "slices": [], "error": None, "pad": 0, "padded_batch": None,
                "is_train": None, "devices": [], "aux": [], "aux_epoch": None,
                "bucket": None, "members": 1, "input": None}

    def set_preview(self, batch_size=None, contexts=None, work_load_list=None):
        """Change the previewed batch size / devices / workloads (before bind)."""
        with self._lock:
            for key, value in (("batch_size", batch_size), ("contexts", contexts),
                               ("work_load_list", work_load_list)):
                if value is not None:
                    self._given[key] = value
            if self.module is None or not self.module.binded:
                self._read_preview(self.module)
        self._changed()
        return self

    # -- reading ------------------------------------------------------------------------------
    def read(self, module):
        if module is not None and module.binded and exec_groups(module, current_only=True):
            self._read_bound(module)
        else:
            self._read_preview(module)

    def _read_preview(self, module):
        m = self.model
        contexts = self._given["contexts"]
        if contexts is None and module is not None and module_kind(module) == "module":
            contexts = module.context
        contexts = list(contexts) if contexts is not None else []
        workload = self._given["work_load_list"]
        if workload is None and module is not None and module_kind(module) == "module":
            workload = module.work_load_list
        workload = list(workload) if workload is not None else [1] * len(contexts)
        m.update(source="preview", contexts=[str(c) for c in contexts],
                 work_load_list=[float(w) for w in workload],
                 batch_size=self._given["batch_size"])
        m["devices"] = [{"device": str(c), "memory": None, "forward": None, "step": None,
                         "recent": []} for c in contexts]
        m["error"] = None
        m["slices"] = []
        if len(workload) != len(contexts):
            m["error"] = (f"work_load_list has {len(workload)} entries for {len(contexts)} "
                          "contexts; give one per device")
        elif m["batch_size"] and contexts:
            m["slices"], m["error"] = plan_slices(int(m["batch_size"]), workload)

    def _read_bound(self, module):
        m = self.model
        groups = [g for _, g in exec_groups(module, current_only=True)]
        main = groups[0]
        m.update(source="bound", batch_size=int(main.batch_size),
                 contexts=[str(c) for c in main.contexts],
                 work_load_list=[float(w) for w in main.workload],
                 slices=[[s.start, s.stop] for s in main.slices], error=None,
                 members=len(groups))
        if module_kind(module) == "bucketing":
            m["bucket"] = module.current_bucket_key
        old = {d["device"]: d for d in m["devices"]}
        devices = []
        for k, ctx in enumerate(main.contexts):
            memory = sum(g.execs[k].memory_summary()["total_bytes"] for g in groups
                         if k < len(g.execs))
            prev = old.get(str(ctx), {})
            devices.append({"device": str(ctx), "memory": int(memory),
                            "forward": prev.get("forward"), "step": prev.get("step"),
                            "first": prev.get("first"), "recent": prev.get("recent", [])})
        m["devices"] = devices
        m["memory_after_run"] = False
        self._read_aux(module)

    def _read_memory_once(self, module):
        """Operators allocate their workspace on the first run: re-read memory once then."""
        if self.model.get("memory_after_run"):
            return
        groups = [g for _, g in exec_groups(module, current_only=True)]
        for k, dev in enumerate(self.model["devices"]):
            dev["memory"] = int(sum(g.execs[k].memory_summary()["total_bytes"] for g in groups
                                    if k < len(g.execs)))
        self.model["memory_after_run"] = True

    def _read_timings(self, module, step):
        groups = [g for _, g in exec_groups(module, current_only=True)]
        if not groups:
            return
        for k, dev in enumerate(self.model["devices"]):
            t = float(sum(g.timings[k] for g in groups if k < len(g.timings)))
            if step:
                dev["step"] = t
                if dev.get("first") is None:
                    # the first step of a device includes compiling the kernels it meets
                    # first (device 0 compiles for everyone): kept apart from the median
                    dev["first"] = t
                    continue
                recent = dev["recent"]
                recent.append(t)
                if len(recent) > TIMING_WINDOW:
                    del recent[0]
            else:
                dev["forward"] = t

    def _read_aux(self, module, epoch_end=None):
        """Per auxiliary state: each device's mean and how far the devices are apart now
        (``spread``) and at most since the epoch began (``peak``: fit averages the devices'
        statistics and copies them back at every epoch end, so the spread drops to 0 there)."""
        start = self._throttle.clock()
        rows = []
        for label, group in exec_groups(module, current_only=True):
            for name, arrays in zip(group.aux_names, group.aux_arrays):
                values = np.stack([a.asnumpy().astype(np.float64) for a in arrays])
                mean = values.mean(axis=0)
                spread = float(np.abs(values - mean).max()) if len(arrays) > 1 else 0.0
                key = f"{label}/{name}"
                peak = max(self._peaks.get(key, 0.0), spread)
                self._peaks[key] = peak
                rows.append({"name": name, "group": label,
                             "device_means": [float(v.mean()) for v in values],
                             "spread": spread, "peak": peak})
        if epoch_end is not None:
            self._peaks = {}
            self.model["aux_epoch"] = epoch_end
        self.model["aux"] = rows
        self._last_aux = self._throttle.clock()
        self._aux_cost = self._last_aux - start

    # -- events -------------------------------------------------------------------------------
    def update(self, event):
        kind, m, mod = event.kind, self.model, self.module
        if kind in ("bind", "reshape", "switch_bucket"):
            if mod.binded:
                self.read(mod)
                return True
            return False
        if not mod.binded or m["source"] != "bound":
            return False
        if kind == "forward":
            pad = int(event.data.get("pad") or 0)
            shapes = event.data.get("shapes") or []
            size = int(shapes[0][0]) if shapes and shapes[0] else m["batch_size"]
            m["pad"] = pad
            m["is_train"] = bool(event.data.get("is_train"))
            if pad:
                m["padded_batch"] = {"pad": pad, "batch_size": size, "is_train": m["is_train"]}
            if not m["is_train"]:
                self._read_timings(mod, step=False)
                self._read_memory_once(mod)
            return True
        if kind == "backward":
            self._read_timings(mod, step=True)
            self._read_memory_once(mod)
            return True
        if kind == "batch_end":
            recorded = self._record_input(event.data)
            # sampled: the first batch of every epoch, then as often as the budget allows
            wait = self._aux_cost / AUX_BUDGET
            if self._last_aux is None or event.data.get("nbatch") == 0 or \
                    self._throttle.clock() - self._last_aux >= wait:
                self._read_aux(mod)
                return True
            return recorded
        if kind == "epoch_end":
            self._read_aux(mod, epoch_end=event.data.get("epoch"))
            return True
        return False

    def _record_input(self, d):
        """Add one batch's wait for data (fit's ``data_wait``) and the iterator's own loading
        time (``data_load``) to this epoch's totals; ``elapsed`` is fit's epoch clock."""
        if d.get("data_wait") is None or d.get("elapsed") is None:
            return False
        m = self.model
        if m["input"] is None or m["input"]["epoch"] != d.get("epoch") or d.get("nbatch") == 0:
            m["input"] = {"epoch": d.get("epoch"), "batches": 0, "wait": 0.0, "load": None,
                          "elapsed": 0.0}
        inp = m["input"]
        inp["batches"] += 1
        inp["wait"] += float(d["data_wait"])
        inp["elapsed"] = float(d["elapsed"])
        if d.get("data_load") is not None:
            inp["load"] = (inp["load"] or 0.0) + float(d["data_load"])
        return True

    # -- drawing ------------------------------------------------------------------------------
    def render(self):
        m = self.model
        if m["contexts"] and m["source"] == "preview":
            parts = [note("Preview before bind: the slicing bind() will use"
                          + (f" for a batch of {m['batch_size']}" if m["batch_size"]
                             else "; pass batch_size=… to see the rows") + ".")]
        elif m["contexts"]:
            parts = []
        else:
            return note("Give the devices: DeviceSlices(mod) or DeviceSlices(batch_size=…, "
                        "contexts=[mx.cpu(0), mx.cpu(1)]).")
        if m["error"]:
            empty = [m["contexts"][k] for k, (a, b) in enumerate(m["slices"]) if a >= b]
            text = f"bind() would fail: {m['error']}"
            if empty:
                text = (f"Batch of {m['batch_size']} is too small for "
                        f"{len(m['contexts'])} devices: {', '.join(empty)} would get no rows; "
                        f"bind() fails with: {m['error']}")
            parts.append(note(text, "warn"))
        if m["slices"]:
            parts.append(self._picture())
            parts.extend(self._input_notes())
            parts.extend(self._slice_notes())
        parts.extend(self._pad_notes())
        if m["source"] == "bound" and len(m["devices"]) > 1:
            parts.append(note("Devices run one after another here (one Python thread); the "
                              "times add up. On real GPUs they overlap."))
        if m["aux"]:
            parts.append(self._aux_table())
        return "".join(parts)

    def _picture(self):
        m = self.model
        n = int(m["batch_size"])
        row_h = max(2.0, min(16.0, 260.0 / max(n, 1)))
        batch_h = n * row_h
        box_h, box_gap = (76, 8) if m["source"] == "bound" else (26, 6)
        n_dev = len(m["contexts"])
        height = max(batch_h, n_dev * (box_h + box_gap)) + 34
        share = self.input_share() if m["source"] == "bound" else None
        if share is not None:
            height += 40
        bx, bw, dx, dw = 40, 90, 210, 330
        svg = Svg(dx + dw + 10, height, label="batch rows by device")
        svg.text(bx, 14, f"batch of {n}", weight="600")
        top = 24
        pad = m["pad"] if m["source"] == "bound" else 0
        pad_top = n - pad
        for k, (a, b) in enumerate(m["slices"]):
            color = PALETTE[k % len(PALETTE)]
            if b > a:
                svg.rect(bx, top + a * row_h, bw, (b - a) * row_h, color,
                         class_="mxt-slice", stroke="#ffffff", stroke_width=0.5)
        if n <= 40:
            for i in range(n):
                svg.line(bx, top + i * row_h, bx + bw, top + i * row_h, stroke="#ffffff",
                         width=0.6)
                if row_h >= 11 and (i % max(1, n // 16) == 0):
                    svg.text(bx - 4, top + (i + 0.75) * row_h, str(i), size=9, anchor="end",
                             fill=MUTED)
        if pad:
            svg.rect(bx, top + pad_top * row_h, bw, pad * row_h, svg.hatch("#333333"),
                     class_="mxt-pad")
            svg.text(bx + bw / 2, top + (pad_top + pad / 2) * row_h + 4, f"pad {pad}",
                     anchor="middle", size=11, fill="#ffffff", weight="700")
        for k, ctx in enumerate(m["contexts"]):
            a, b = m["slices"][k]
            color = PALETTE[k % len(PALETTE)]
            y = top + k * (box_h + box_gap)
            empty = b <= a
            svg.rect(dx, y, dw, box_h, PAPER, stroke="#d62728" if empty else color,
                     stroke_width=2.5 if empty else 1.5, rx=4, class_="mxt-device")
            svg.rect(dx, y, 6, box_h, color)
            wl = m["work_load_list"][k] if k < len(m["work_load_list"]) else 1
            svg.text(dx + 12, y + 17, f"{ctx}", weight="700")
            rows = "no rows!" if empty else (f"row {a} (1 row)" if b - a == 1 else
                                             f"rows {a}–{b - 1} ({b - a} rows)")
            svg.text(dx + 70, y + 17, f"{rows} · workload {fmt_value(wl)}",
                     fill="#d62728" if empty else INK, size=11)
            dev = m["devices"][k] if k < len(m["devices"]) else {}
            if dev.get("memory") is not None:
                svg.text(dx + 12, y + 32, f"executor memory {fmt_bytes(dev['memory'])}",
                         size=11)
            timing = []
            if dev.get("recent"):
                timing.append(f"train step {fmt_seconds(dev['step'])} (median of last "
                              f"{len(dev['recent'])}: "
                              f"{fmt_seconds(statistics.median(dev['recent']))})")
            elif dev.get("first") is not None:
                timing.append(f"first train step {fmt_seconds(dev['first'])} (may include "
                              "compiling kernels)")
            if dev.get("forward") is not None:
                timing.append(f"eval forward {fmt_seconds(dev['forward'])}")
            for i, text in enumerate(timing):
                svg.text(dx + 12, y + 48 + 14 * i, text, size=11, class_="mxt-timing")
            if not empty:
                ya = top + (a + b) / 2 * row_h
                svg.path(f"M{bx + bw},{ya} C{bx + bw + 40},{ya} {dx - 40},{y + box_h / 2} "
                         f"{dx},{y + box_h / 2}", stroke=color, width=1.5)
        if share is not None:
            self._input_bar(svg, height - 36, dx + dw - bx, share)
        return svg.tostring()

    def input_share(self):
        """This epoch's share of fit's time spent waiting for data (0..1), or None."""
        inp = self.model["input"]
        if not inp or inp["elapsed"] <= 0:
            return None
        return min(1.0, inp["wait"] / inp["elapsed"])

    def _input_bar(self, svg, y, width, share):
        """Under the devices: the epoch's time so far split into waiting for data and
        compute (fit's clock, from its batch_end events)."""
        inp = self.model["input"]
        svg.text(40, y + 10, f"epoch {inp['epoch']}, {inp['batches']} batches: waiting for "
                 f"data {share:.0%} · compute {1 - share:.0%}", size=11, class_="mxt-input")
        svg.rect(40, y + 16, width * share, 14, WAIT_COLOR, class_="mxt-wait")
        svg.rect(40 + width * share, y + 16, width * (1 - share), 14, PALETTE[0],
                 class_="mxt-compute")

    def _input_notes(self):
        inp, share = self.model["input"], self.input_share()
        if share is None or self.model["source"] != "bound":
            return []
        out = []
        if inp["load"] is not None:
            out.append(note(f"The iterator spent {fmt_seconds(inp['load'])} reading and "
                            f"decoding (in its own threads); fit waited "
                            f"{fmt_seconds(inp['wait'])} of {fmt_seconds(inp['elapsed'])}."))
        if share >= INPUT_BOUND:
            out.append(note(f"Input-bound: {share:.0%} of the time the devices wait for the "
                            "next batch. More preprocess_threads, a larger prefetch_buffer or "
                            "smaller stored images help more than a faster model.", "warn"))
        return out

    def _slice_notes(self):
        m = self.model
        counts = [b - a for a, b in m["slices"]]
        out = []
        wl = m["work_load_list"]
        if len(set(wl)) == 1 and len(set(counts)) > 1 and not m["error"]:
            out.append(note(f"Equal workloads but {counts} rows: rows are split in proportion "
                            "to work_load_list, rounded, and the last device takes what the "
                            "rounding leaves."))
        elif len(set(wl)) > 1 and not m["error"]:
            out.append(note(f"work_load_list [{', '.join(fmt_value(w) for w in wl)}] gives "
                            f"{counts} rows."))
        if m["source"] == "bound" and m["bucket"] is not None:
            out.append(note(f"Current bucket {m['bucket']!r}."))
        return out

    def _pad_notes(self):
        m = self.model
        p = m["padded_batch"]
        if not p:
            return []
        return [note(f"A batch had pad={p['pad']}: its last {p['pad']} of {p['batch_size']} "
                     "rows repeat examples from the start of the data (last_batch_handle="
                     "'pad'). fit() trains on them; score() counts them in the metric (as "
                     "MXNet does); predict() and iter_predict() drop them.", "warn")]

    def _aux_table(self):
        m = self.model
        rows = []
        drifting = False
        several = len(m["contexts"]) > 1
        for r in m["aux"]:
            means = ", ".join(f"{ctx}: {fmt_value(v)}" for ctx, v in
                              zip(m["contexts"], r["device_means"]))
            drifting |= r["peak"] > 0
            rows.append([(r["group"] + " · " if r["group"] else "") + r["name"], Raw(esc(means))]
                        + ([fmt_value(r["spread"]), fmt_value(r["peak"])]
                           if several else ["one device", ""]))
        epoch = m["aux_epoch"]
        when = f"largest seen in epoch {epoch}" if epoch is not None else \
            "largest seen this epoch"
        head = "<div style='margin-top:6px;font-weight:600'>Auxiliary states per device</div>"
        out = head + table(["state", "mean per device", "max |device − average| now",
                            when], rows)
        if drifting:
            out += note("Each device updates its own BatchNorm moving statistics from its own "
                        "rows, so they drift apart during an epoch; at each epoch end fit() "
                        "averages them (get_params) and copies the average back to every "
                        "device (set_params); save_checkpoint() stores the average.")
        return out
