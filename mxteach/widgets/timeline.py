"""StateTimeline: a module's lifecycle as a diagram and a list of the calls that moved it."""
from __future__ import annotations

from ._base import View, exec_groups, module_kind, source_label
from ._svg import (BORDER, DARK_INK, GRID, HIGHLIGHT, INK, MUTED, PAPER, Raw, Svg, esc, note,
                   shape_str, table)

__all__ = ["StateTimeline"]

STAGES = ("initial", "bound", "params_initialized", "optimizer_installed")
STAGE_TEXT = {"initial": ("initial",), "bound": ("bound",),
              "params_initialized": ("params", "initialized"),
              "optimizer_installed": ("optimizer", "installed")}
FORWARD_CALLS = {("initial", "bound"): "bind()", ("bound", "params_initialized"): "init_params()",
                 ("params_initialized", "optimizer_installed"): "init_optimizer()"}
TRANSITION_KINDS = ("bind", "reshape", "init_params", "set_params", "init_optimizer",
                    "borrow_optimizer", "add", "install_monitor", "checkpoint", "switch_bucket",
                    "fit_end")
COUNTED_KINDS = ("forward", "backward", "update", "batch_end", "epoch_end", "eval_end",
                 "switch_bucket")
MAX_ROWS = 40
MERGE_WINDOW = 8          # a call equal to one of the last rows is counted there (see update)
NEXT_STEP = {
    "initial": "next is bind(data_shapes=…, label_shapes=…).",
    "bound": "next is init_params() (or set_params()).",
    "params_initialized": "next is init_optimizer() — or forward() for inference.",
    "optimizer_installed": "ready to train: forward_backward() and update(), or fit().",
}


def _devices(module):
    """How many devices the module's (current) executor group runs on; None if unknown."""
    try:
        groups = exec_groups(module, current_only=True)
    except Exception:   # a half-built module: the note just stays general
        return None
    return len(groups[0][1].contexts) if groups else None


def _descs(descs):
    parts = []
    for d in descs or []:
        name, shape = (d.name, d.shape) if hasattr(d, "name") else (d[0], d[1])
        parts.append(f"{name} {shape_str(shape)}")
    return "[" + ", ".join(parts) + "]"


def describe(event):
    """(call, notes) for a lifecycle event: the call that caused it, in the words a student
    would type, and what it means."""
    d, kind = event.data, event.kind
    notes = []
    if kind == "bind":
        args = [f"data_shapes={_descs(d.get('data_shapes'))}"]
        if d.get("label_shapes"):
            args.append(f"label_shapes={_descs(d['label_shapes'])}")
        if d.get("for_training") is False:
            args.append("for_training=False")
            notes.append("for_training=False: no gradient buffers (inference only)")
        if d.get("inputs_need_grad"):
            args.append("inputs_need_grad=True")
            notes.append("inputs_need_grad=True: the data inputs get gradient buffers "
                         "(read them with get_input_grads())")
        if d.get("force_rebind"):
            args.append("force_rebind=True")
            notes.append("force_rebind: executors rebuilt from scratch; parameters kept")
        if d.get("grad_req", "write") != "write":
            args.append(f"grad_req={d['grad_req']!r}")
            notes.append(f"grad_req={d['grad_req']!r} for every trained parameter")
        if d.get("shared"):
            args.append("shared_module=…")
            notes.append("shared_module: parameter and gradient arrays are the shared "
                         "module's (bucketing)")
        if "bucket_key" in d:
            notes.append(f"binds the default bucket {d['bucket_key']!r}; other buckets bind "
                         "on first use")
        return f"bind({', '.join(args)})", notes
    if kind == "reshape":
        notes.append("executors re-created for new shapes; parameters and optimizer kept "
                     "(forward() does this by itself when a batch has another shape)")
        return f"reshape(data_shapes={_descs(d.get('data_shapes'))})", notes
    if kind == "init_params":
        if d.get("from_arrays"):
            call = "init_params(arg_params=…, aux_params=…" + \
                (", force_init=True)" if d.get("force_init") else ")")
            if d.get("force_init"):
                devices = _devices(event.source)
                if devices == 1:
                    notes.append("what set_params() calls: fit() does this after every epoch "
                                 "(get_params() then set_params(); with one device it copies "
                                 "the same values back)")
                elif devices:
                    notes.append(f"what set_params() calls: fit() does this after every epoch "
                                 f"to copy the parameters averaged over the {devices} devices "
                                 "back to each of them")
                else:
                    notes.append("what set_params() calls: fit() does this after every epoch "
                                 "(get_params() then set_params())")
            return call, notes
        if "initializer" not in d:
            return "init_params()", notes
        call = f"init_params(initializer={d['initializer']}" + \
            (", force_init=True)" if d.get("force_init") else ")")
        if d.get("force_init") and event.before in ("params_initialized", "optimizer_installed"):
            notes.append("force_init=True: the parameters were overwritten")
        return call, notes
    if kind == "set_params":
        return "set_params(…, allow_missing=True)", \
            [f"parameters given: {', '.join(d.get('names', [])) or 'none'}"]
    if kind == "init_optimizer":
        args = []
        if "kvstore" in d:
            args.append(f"kvstore={d['kvstore']!r}")
        if "optimizer" in d:
            args.append(f"optimizer={d['optimizer']!r}")
        if "rescale_grad" in d:
            notes.append(f"rescale_grad={d['rescale_grad']:.4g} (1 / batch size)")
        if d.get("kvstore") is None and "kvstore" in d:
            notes.append("one device: no kvstore, the module updates in place")
        elif d.get("update_on_kvstore"):
            notes.append("update_on_kvstore: the kvstore sums the device gradients and "
                         "applies the optimizer")
        if d.get("buckets"):
            notes.append(f"buckets {list(d['buckets'])} share this optimizer")
        return f"init_optimizer({', '.join(args)})", notes
    if kind == "borrow_optimizer":
        return "borrow_optimizer(shared_module)", \
            ["uses the default bucket's optimizer, kvstore and updater"]
    if kind == "switch_bucket":
        notes.append(f"bucket {d.get('to_key')!r} bound on first use with data "
                     f"{_descs(d.get('data_shapes'))}, sharing the default bucket's "
                     "parameters")
        return f"switch_bucket({d.get('to_key')!r})", notes
    if kind == "add":
        meta = d.get("meta") or {}
        args = "".join(f", {k}={v!r}" for k, v in meta.items())
        module = d.get("module")
        return f"add({type(module).__name__ if module is not None else 'module'}{args})", \
            [f"member {d.get('index')} of the chain"]
    if kind == "install_monitor":
        return "install_monitor(monitor)", \
            ["forward now offers every operator output to the monitor"]
    if kind == "checkpoint":
        call = f"save_checkpoint({d.get('prefix')!r}, {d.get('epoch')})"
        if d.get("buckets"):
            notes.append(f"one symbol file per bucket {list(d['buckets'])}")
        else:
            notes.append("writes mod.symbol as it is now, and the parameters")
        return call, notes
    if kind == "fit_end":
        return "fit() returned", notes
    return f"{kind}()", notes


class StateTimeline(View):
    """The module lifecycle: initial → bound → params initialized → optimizer installed.

    The current stage is highlighted; every call that changed (or re-did) a stage is listed
    with its arguments, including rebinds, reshapes and force_init; forward/backward/update
    are counted. Works for Module, BucketingModule (shows its buckets) and SequentialModule
    (shows its members) because members report through their container.

    Repeated calls (forward, backward, update …) are counted per source: a SequentialModule's
    members each ran ``forward ×800``, not 1600 together. A call equal to one of the last few
    rows (fit's set_params after every epoch, on every member) adds to that row's count
    instead of adding a row per epoch. Attached late (after fit, say), it says which stage
    the module is at and that earlier calls were not seen.

    Model (``view.model``): ``stage``, ``flags``, ``transitions`` (dicts with ``seq``, ``kind``,
    ``source``, ``before``, ``after``, ``call``, ``notes``, ``count``), ``counts`` (per event
    kind: the module's own calls — for a SequentialModule, chain calls, the most any member
    ran), ``counts_by`` ({source label: {kind: count}}, '' the module itself),
    ``forward_modes``, ``members``, ``symbol_outputs``, ``attached_at`` (stage when
    attached).

    Examples
    --------
    >>> tl = StateTimeline(mod)          # any stage, before bind included
    >>> mod.fit(train_iter, num_epoch=2)
    >>> tl                               # diagram + list of calls
    >>> [t["call"] for t in tl.model["transitions"]][:3]
    ['bind(...)', 'init_params(initializer=Uniform(scale=0.01))', "init_optimizer(...)"]

    See notebook 02.
    """

    title = "Module lifecycle"
    kinds = TRANSITION_KINDS + COUNTED_KINDS

    def empty_model(self):
        return {"module": None, "kind": None, "stage": "initial", "flags": {},
                "transitions": [], "counts": {}, "counts_by": {},
                "forward_modes": {"train": 0, "eval": 0}, "members": [], "symbol_outputs": [],
                "seq": 0, "attached_at": None}

    def heading(self):
        name = self.model["module"]
        return f"Lifecycle of {name}" if name else self.title

    # -- reading ------------------------------------------------------------------------------
    def read(self, module):
        m = self.model
        m["module"] = type(module).__name__
        m["kind"] = module_kind(module)
        if m["attached_at"] is None:
            m["attached_at"] = module.stage
        self._read_state(module)

    def _read_state(self, module):
        m = self.model
        m["stage"] = module.stage
        m["flags"] = {f: bool(getattr(module, f, False)) for f in
                      ("binded", "for_training", "inputs_need_grad", "params_initialized",
                       "optimizer_initialized")}
        symbol = module.symbol
        m["symbol_outputs"] = list(symbol.list_outputs()) if symbol is not None else []
        if m["kind"] == "sequential":
            metas = module.metas
            m["members"] = [{"label": f"module {i}", "source": f"module {i}",
                             "type": type(mod).__name__,
                             "stage": mod.stage,
                             "detail": ("takes labels" if metas[i].get("take_labels")
                                        else "")} for i, mod in enumerate(module.modules)]
        elif m["kind"] == "bucketing":
            members = []
            for key, mod in module.buckets.items():
                shapes = _descs(mod.data_shapes) if mod.binded else "not bound"
                tags = [t for t, on in (("default", key == module.default_bucket_key),
                                        ("current", key == module.current_bucket_key)) if on]
                members.append({"label": f"bucket {key!r}", "source": f"bucket {key}",
                                "type": type(mod).__name__,
                                "stage": mod.stage,
                                "detail": f"data {shapes}" + (f" ({', '.join(tags)})"
                                                              if tags else "")})
            m["members"] = members

    # -- events -------------------------------------------------------------------------------
    def update(self, event):
        m = self.model
        kind = event.kind
        if kind in COUNTED_KINDS and not (kind == "switch_bucket" and
                                          event.data.get("newly_bound")):
            source = source_label(event.source, self.module)
            mine = m["counts_by"].setdefault(source, {})
            mine[kind] = mine.get(kind, 0) + 1
            if kind == "forward":
                mode = "train" if event.data.get("is_train") else "eval"
                mine["forward_" + mode] = mine.get("forward_" + mode, 0) + 1
            self._recount()
            if kind == "switch_bucket":
                self._read_state(self.module)
            return True
        call, notes = describe(event)
        source = source_label(event.source, self.module)
        rows = m["transitions"]
        m["seq"] += 1
        key = (kind, source, event.before, event.after, call)
        same = next((r for r in reversed(rows[-MERGE_WINDOW:])
                     if (r["kind"], r["source"], r["before"], r["after"], r["call"]) == key),
                    None)
        if same is not None and event.before == event.after:
            # a call that re-did a stage again (set_params after every epoch, on every
            # member of a chain): one row with a count, not one row per epoch and member
            same["count"] += 1
            same["seq_last"] = m["seq"]
        elif same is not None and same is rows[-1]:
            same["count"] += 1
            same["seq_last"] = m["seq"]
        else:
            row = {"seq": m["seq"], "seq_last": m["seq"], "kind": kind, "source": source,
                   "before": event.before, "after": event.after, "call": call,
                   "notes": notes, "count": 1}
            prev = rows[-1] if rows else None
            if kind == "bind" and prev is not None and prev["kind"] == "borrow_optimizer" \
                    and prev["source"] == source:
                # Module.bind(shared_module=…) borrows the optimizer while binding, so that
                # event comes first; list the bind first, as it happened from the user's side
                row["after"], prev["before"] = "params_initialized", "params_initialized"
                row["seq"], row["seq_last"], prev["seq"], prev["seq_last"] = \
                    prev["seq"], prev["seq"], m["seq"], m["seq"]
                rows.insert(len(rows) - 1, row)
            else:
                rows.append(row)
        self._read_state(self.module)
        return True

    def _recount(self):
        """``counts`` and ``forward_modes`` from ``counts_by``: a chain's call runs every
        member once, so it counts as the most any member ran; buckets add up (each batch
        goes through one bucket)."""
        m = self.model
        by = m["counts_by"]
        combine = max if m["kind"] == "sequential" else sum
        keys = {k for c in by.values() for k in c}
        total = {k: combine([c.get(k, 0) for c in by.values()]) for k in keys}
        m["forward_modes"] = {"train": total.pop("forward_train", 0),
                              "eval": total.pop("forward_eval", 0)}
        m["counts"] = total

    # -- drawing ------------------------------------------------------------------------------
    def _edges(self):
        """{(before, after): {call-kind: count}} for the watched module's own transitions."""
        edges = {}
        for t in self.model["transitions"]:
            if t["source"] or t["before"] not in STAGES or t["after"] not in STAGES:
                continue
            label = t["kind"]
            if t["kind"] == "init_params" and "force_init=True" in t["call"]:
                label = "set_params" if "arg_params" in t["call"] else "init_params(force)"
            if t["kind"] == "bind" and "force_rebind=True" in t["call"]:
                label = "bind(force_rebind)"
            slot = edges.setdefault((t["before"], t["after"]), {})
            slot[label] = slot.get(label, 0) + t["count"]
        return edges

    def _diagram(self):
        m = self.model
        bw, bh, gap, x0, y0 = 112, 42, 78, 16, 58
        width = x0 * 2 + 4 * bw + 3 * gap
        height = y0 + bh + 62
        svg = Svg(width, height, label="lifecycle stages")
        pos = {s: x0 + i * (bw + gap) for i, s in enumerate(STAGES)}
        current = m["stage"]
        reached = STAGES.index(current) if current in STAGES else 0
        edges = self._edges()
        for i, s in enumerate(STAGES):
            x = pos[s]
            fill, ink, opacity = PAPER, INK, None
            if s == current:
                fill, ink = HIGHLIGHT, DARK_INK       # fixed light fill: fixed dark ink
            elif i < reached:
                fill, opacity = HIGHLIGHT, "0.28"     # a tint reads on light and dark pages
            svg.rect(x, y0, bw, bh, fill, stroke=INK if s == current else BORDER,
                     stroke_width=2 if s == current else 1, rx=6, fill_opacity=opacity,
                     class_=f"mxt-stage-{s}")
            lines = STAGE_TEXT[s]
            for k, line in enumerate(lines):
                svg.text(x + bw / 2, y0 + bh / 2 + 4 + (k - (len(lines) - 1) / 2) * 14, line,
                         anchor="middle", fill=ink, weight="600" if s == current else None)
            if s == current:
                svg.text(x + bw / 2, y0 + bh + 14, "▲ now", anchor="middle", fill=INK,
                         size=11, weight="700")
        # the usual forward path
        for (a, b), call in FORWARD_CALLS.items():
            taken = edges.get((a, b))
            color = INK if taken else BORDER
            xa, xb, y = pos[a] + bw, pos[b], y0 + bh / 2
            svg.line(xa + 2, y, xb - 6, y, stroke=color, width=1.5)
            svg.arrow_head(xb - 1, y, 1, 0, color=color)
            label = call if not taken else ", ".join(
                f"{k}" + (f" ×{n}" if n > 1 else "") for k, n in taken.items())
            svg.text((xa + xb) / 2, y - 7, label, anchor="middle", size=10,
                     fill=INK if taken else MUTED, class_="mxt-arrow-label")
        # loops (a call that kept the stage), skips (forward over a stage) and returns
        for (a, b), calls in edges.items():
            if (a, b) in FORWARD_CALLS:
                continue
            label = ", ".join(f"{k}" + (f" ×{n}" if n > 1 else "") for k, n in calls.items())
            if a == b:
                x = pos[a]
                svg.path(f"M{x + bw * 0.3},{y0} C{x + bw * 0.25},{y0 - 26} {x + bw * 0.75},"
                         f"{y0 - 26} {x + bw * 0.7},{y0}", stroke=MUTED, width=1.2)
                svg.arrow_head(x + bw * 0.7, y0, 0.2, 1, color=MUTED, size=5)
                for k, part in enumerate(reversed(_wrap(label, 24))):
                    svg.text(x + bw / 2, y0 - 30 - 11 * k, part, anchor="middle", size=10,
                             fill=INK, class_="mxt-loop")
                continue
            xa, xb = pos[a] + bw / 2, pos[b] + bw / 2
            below = STAGES.index(b) < STAGES.index(a)
            yb = y0 + bh if below else y0
            bend = 44 if below else -44
            svg.path(f"M{xa},{yb} Q{(xa + xb) / 2},{yb + bend * 1.6} {xb},{yb}",
                     stroke=MUTED, width=1.2, stroke_dasharray="4,3")
            svg.arrow_head(xb, yb, (xb - xa) * 0.2, -bend, color=MUTED, size=5)
            svg.text((xa + xb) / 2, yb + bend * 0.85 + (4 if below else 0), label,
                     anchor="middle", size=10, fill=INK, class_="mxt-skip")
        return svg.tostring()

    def render(self):
        m = self.model
        if m["module"] is None:
            return note("attach a module: StateTimeline(mod)")
        parts = [self._diagram()]
        flags = m["flags"]
        parts.append(f'<div style="color:{MUTED};margin:2px 0">MXNet flags: ' + ", ".join(
            f"{k}={v}" for k, v in flags.items()) + "</div>")
        if m["symbol_outputs"]:
            what = "the current bucket's symbol; " if m["kind"] == "bucketing" else ""
            parts.append(f"<div>mod.symbol now: outputs {esc(m['symbol_outputs'])} "
                         f"({esc(what)}what save_checkpoint() writes)</div>")
        by = m["counts_by"]
        if m["counts"]:
            own = {k: v for k, v in m["counts"].items()}
            own["forward_train"], own["forward_eval"] = (m["forward_modes"]["train"],
                                                         m["forward_modes"]["eval"])
            if m["kind"] == "sequential":
                intro = "Repeated calls (no stage change), per member below; the chain ran "
            elif len(by) > 1:
                intro = "Repeated calls (no stage change), all buckets together: "
            else:
                intro = "Repeated calls (no stage change): "
            parts.append(f'<div class="mxt-counts">{esc(intro + _count_text(own))}</div>')
        if m["members"]:
            what = "Buckets" if m["kind"] == "bucketing" else "Members"
            rows = [[mem["label"], mem["type"], Raw(_mini_stage(mem["stage"])),
                     mem["stage"], mem["detail"],
                     _count_text(by.get(mem["source"], {})) or "–"]
                    for mem in m["members"]]
            parts.append(f"<div style='margin-top:6px;font-weight:600'>{what}</div>" +
                         table(["member" if what == "Members" else "bucket", "type", "stage",
                                "stage name", "detail", "its own calls"], rows,
                               cls="mxt-table mxt-members"))
        rows = m["transitions"]
        if rows:
            shown = rows[-MAX_ROWS:]
            body = []
            for t in shown:
                seq = str(t["seq"]) if t["count"] == 1 else f"{t['seq']}–{t['seq_last']}"
                count = f" ×{t['count']}" if t["count"] > 1 else ""
                body.append([seq, Raw(f"<code>{esc(t['call'])}</code>{esc(count)}"),
                             t["source"] or "this module",
                             f"{t['before']} → {t['after']}", "; ".join(t["notes"])])
            more = len(rows) - len(shown)
            parts.append("<div style='margin-top:6px;font-weight:600'>Calls that changed or "
                         "re-did a stage" + (f" (last {len(shown)}; {more} earlier)"
                                            if more else "") + "</div>")
            parts.append(table(["#", "call", "on", "stage", "what it means"], body))
        elif m["stage"] == "initial":
            parts.append(note("No lifecycle call yet: " + NEXT_STEP["initial"]))
        else:
            parts.append(note(f"Attached at stage '{m['attached_at']}': the calls before that "
                              f"were not seen (attach before bind to list them). Now at "
                              f"'{m['stage']}': {NEXT_STEP.get(m['stage'], '')}"))
        return "".join(parts)


def _count_text(counts):
    """``forward ×800 (train 600, eval 200) · backward ×600`` from a counts dict."""
    text = []
    for k in COUNTED_KINDS:
        if counts.get(k):
            extra = ""
            if k == "forward" and (counts.get("forward_train") or counts.get("forward_eval")):
                extra = (f" (train {counts.get('forward_train', 0)}, "
                         f"eval {counts.get('forward_eval', 0)})")
            text.append(f"{k} ×{counts[k]}{extra}")
    return " · ".join(text)



def _mini_stage(stage):
    reached = STAGES.index(stage) if stage in STAGES else 0
    svg = Svg(4 * 12, 10, label=stage)
    for i in range(4):
        done = 0 < i <= reached
        svg.rect(i * 12, 1, 10, 8, HIGHLIGHT if done or i == 0 else GRID, rx=1,
                 fill_opacity=None if done else ("0.35" if i == 0 else None))
    return svg.tostring()


def _wrap(text, width):
    lines, cur = [], ""
    for word in text.split(", "):
        if cur and len(cur) + len(word) + 2 > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur}, {word}" if cur else word
    if cur:
        lines.append(cur)
    return lines
