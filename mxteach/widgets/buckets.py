"""BucketView: a BucketingModule's buckets, its switches over time, the memory they share, the
parameters only some buckets have, and which symbol ``mod.symbol`` is right now."""
from __future__ import annotations

from ._base import View, module_kind
from ._svg import (GRID, HIGHLIGHT, MUTED, PALETTE, PAPER, Raw, Svg, esc, fmt_bytes, hbar, note,
                   shape_str, swatch, table)

__all__ = ["BucketView"]

MAX_SWITCHES = 400          # switches kept in the model (the count keeps going)
DRAWN_SWITCHES = 80         # switches drawn one by one; more are drawn binned
BINS = 40                   # columns of the binned switch chart


def _size(shapes):
    total = 0
    for _, shape in shapes:
        n = 1
        for d in shape:
            n *= int(d)
        total += n
    return total


def _key_sort(keys):
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=repr)


class BucketView(View):
    """What a BucketingModule holds and does.

    * every bucket bound so far, in bind order, with its data/label shapes, how many forward
      passes it ran, and its executor bytes: its own versus borrowed from the shared pool
      (``bucket_info()``); a bar chart of memory growing as buckets bind;
    * the current bucket, and a timeline of every switch (first use of a bucket binds it);
    * a warning when the default bucket is not the largest: MXNet sizes the shared memory
      by the default bucket, so a larger bucket allocates its own;
    * the per-bucket parameter diff: parameters that exist only in some buckets (a bucket
      with a parameter the default bucket lacks gets it as zeros, not from init_params);
    * which symbol ``mod.symbol`` is right now: the current bucket's, which is what an
      epoch_end_callback such as ``mx.callback.do_checkpoint`` saves.

    Model: ``default_key``, ``current_key``, ``buckets`` (dicts: key, order, data_shapes,
    label_shapes, own_bytes, shared_bytes, param_names, forwards, size), ``switches``
    (dicts: t, from_key, to_key, newly_bound), ``n_switches``, ``largest_key``,
    ``warnings``, ``param_diff`` ({param: [keys having it]}), ``symbol_now``.

    See notebook 08.
    """

    title = "Buckets"
    kinds = ("bind", "switch_bucket", "init_params", "init_optimizer", "forward", "checkpoint")

    def empty_model(self):
        return {"default_key": None, "current_key": None, "bound": False, "buckets": [],
                "switches": [], "n_switches": 0, "largest_key": None, "warnings": [],
                "param_diff": {}, "common_params": [], "symbol_now": None, "forwards": {},
                "t0": None, "checkpoints": []}

    @classmethod
    def applies_to(cls, module):
        return module_kind(module) == "bucketing"

    def attach(self, module):
        if module_kind(module) != "bucketing":
            raise TypeError(f"BucketView watches a BucketingModule; got {type(module).__name__}")
        return super().attach(module)

    def heading(self):
        m = self.model
        if m["current_key"] is None:
            return f"Buckets (default {m['default_key']!r}, none bound yet)"
        return (f"Buckets: current {m['current_key']!r}, default {m['default_key']!r}, "
                f"{len(m['buckets'])} bound")

    # -- reading --------------------------------------------------------------------------------
    def read(self, module):
        m = self.model
        m["default_key"] = module.default_bucket_key
        m["current_key"] = module.current_bucket_key
        m["bound"] = bool(module.binded)
        info = module.bucket_info() if module.binded else {}
        history = list(module.switch_history)
        if history and m["t0"] is None:
            m["t0"] = history[0][0]
        order = {}
        if module.binded:
            order[module.default_bucket_key] = 0
        for _, _, to_key, new in history:
            if new and to_key not in order:
                order[to_key] = len(order)
        for key in info:
            order.setdefault(key, len(order))
        buckets = []
        for key, b in info.items():
            buckets.append({
                "key": key, "order": order[key],
                "data_shapes": [[n, list(s)] for n, s in b["data_shapes"]],
                "label_shapes": [[n, list(s)] for n, s in b["label_shapes"]],
                "own_bytes": int(b["own_bytes"]), "shared_bytes": int(b["shared_bytes"]),
                "param_names": list(b["param_names"]), "current": bool(b["current"]),
                "default": bool(b["default"]), "size": _size(b["data_shapes"]),
                "forwards": m["forwards"].get(repr(key), 0)})
        buckets.sort(key=lambda b: b["order"])
        m["buckets"] = buckets
        t0 = m["t0"] or 0.0
        m["n_switches"] = len(history)
        m["switches"] = [{"t": t - t0, "from_key": f, "to_key": k, "newly_bound": bool(new)}
                         for t, f, k, new in history[-MAX_SWITCHES:]]
        self._read_params()
        self._read_largest()
        self._read_symbol(module)

    def _read_params(self):
        m = self.model
        if not m["buckets"]:
            m["param_diff"], m["common_params"] = {}, []
            return
        keys = [b["key"] for b in m["buckets"]]
        having = {}
        for b in m["buckets"]:
            for name in b["param_names"]:
                having.setdefault(name, []).append(b["key"])
        m["param_diff"] = {n: ks for n, ks in having.items() if len(ks) < len(keys)}
        m["common_params"] = [n for n, ks in having.items() if len(ks) == len(keys)]

    def _read_largest(self):
        m = self.model
        warnings = []
        buckets = m["buckets"]
        default = next((b for b in buckets if b["default"]), None)
        largest = max(buckets, key=lambda b: b["size"], default=None)
        m["largest_key"] = largest["key"] if largest else None
        if default is not None and largest is not None and largest["size"] > default["size"]:
            bigger = [b for b in buckets if b["size"] > default["size"]]
            extra = sum(b["own_bytes"] for b in bigger)
            warnings.append(
                f"The default bucket {default['key']!r} is not the largest: bucket "
                f"{largest['key']!r} takes {largest['size']:,} input numbers per batch "
                f"({_shapes_text(largest['data_shapes'])}) against the default's "
                f"{default['size']:,}. Buckets borrow their input buffers from a pool the "
                f"default bucket sized; larger bucket(s) "
                f"({', '.join(repr(b['key']) for b in bigger)}) do not fit it and allocate "
                f"new ones (their own executor memory: {fmt_bytes(extra)}). Use the largest "
                "key as default_bucket_key (BucketSentenceIter.default_bucket_key is "
                "max(buckets)).")
        else:
            keys = [b["key"] for b in buckets]
            try:
                numeric_bigger = [k for k in keys if m["default_key"] is not None and
                                  k > m["default_key"]]
            except TypeError:
                numeric_bigger = []
            if numeric_bigger:
                warnings.append(f"Bucket key(s) {numeric_bigger} exceed the default "
                                f"{m['default_key']!r}; MXNet expects the default bucket to be "
                                "the largest.")
        missing_in_default = [n for n, ks in m["param_diff"].items()
                              if m["default_key"] not in ks]
        if missing_in_default:
            where = sorted({repr(k) for n in missing_in_default for k in m["param_diff"][n]})
            warnings.append(
                f"Parameters {missing_in_default} exist in bucket(s) {', '.join(where)} but "
                f"not in the default bucket {m['default_key']!r}: init_params() never sees "
                "them (it runs on the default bucket), so they start as zeros in the bucket "
                "that binds them. Give every bucket the same parameters, or make the default "
                "bucket the one that has them all.")
        m["warnings"] = warnings

    def _read_symbol(self, module):
        m = self.model
        sym = module.symbol
        if sym is None:
            m["symbol_now"] = None
            return
        default_args = None
        for b in m["buckets"]:
            if b["default"]:
                default_args = module.buckets[b["key"]].symbol.list_arguments()
        args = sym.list_arguments()
        m["symbol_now"] = {
            "bucket": module.current_bucket_key if module.binded else module.default_bucket_key,
            "name": sym.name, "outputs": sym.list_outputs(), "arguments": args,
            "differs_from_default": default_args is not None and args != default_args,
            "only_here": [a for a in args if default_args is not None and
                          a not in default_args],
            "missing_here": [a for a in (default_args or []) if a not in args]}

    def update(self, event):
        m = self.model
        if event.kind == "forward":
            key = getattr(event.source, "bucket_key", None)
            if key is None:
                return False
            m["forwards"][repr(key)] = m["forwards"].get(repr(key), 0) + 1
            for b in m["buckets"]:
                if b["key"] == key:
                    b["forwards"] = m["forwards"][repr(key)]
            return True
        if event.kind == "checkpoint":
            m["checkpoints"].append({"prefix": event.data.get("prefix"),
                                     "epoch": event.data.get("epoch"),
                                     "buckets": list(event.data.get("buckets") or []),
                                     "bucket_now": m["current_key"]})
            return True
        if event.kind in ("init_params", "init_optimizer") and event.source is not self.module:
            return False
        if event.kind == "switch_bucket" and not event.data.get("newly_bound") and \
                event.source is self.module:
            # a switch between bound buckets: no memory changed, so skip bucket_info()
            to_key = event.data.get("to_key")
            history = self.module.switch_history
            if m["t0"] is None and history:
                m["t0"] = history[0][0]
            m["current_key"] = to_key
            for b in m["buckets"]:
                b["current"] = b["key"] == to_key
            m["switches"].append({"t": event.time - (m["t0"] or event.time),
                                  "from_key": event.data.get("from_key"), "to_key": to_key,
                                  "newly_bound": False})
            del m["switches"][:-MAX_SWITCHES]
            m["n_switches"] = len(history)
            self._read_symbol(self.module)
            return True
        self.read(self.module)
        return True

    # -- drawing --------------------------------------------------------------------------------
    def render(self):
        m = self.model
        if not m["bound"]:
            return note(f"Not bound yet. bind() binds the default bucket {m['default_key']!r}; "
                        "every other bucket binds the first time a batch of its key arrives "
                        "(forward or prepare), sharing the default bucket's parameters.")
        parts = [f"<div class='mxt-bucket-status'>{esc(self._status())}</div>"]
        parts += [note(w, "warn") for w in m["warnings"]]
        parts.append(self._bucket_table())
        parts.append(f"<div style='display:flex;flex-wrap:wrap;gap:12px'>"
                     f"<div>{self._memory_svg()}</div><div>{self._timeline_svg()}</div></div>")
        parts.append(self._param_diff_html())
        parts.append(self._symbol_html())
        return "".join(parts)

    def _status(self):
        m = self.model
        total_own = sum(b["own_bytes"] for b in m["buckets"])
        return (f"current bucket {m['current_key']!r} · default {m['default_key']!r} · "
                f"{len(m['buckets'])} bucket(s) bound · {m['n_switches']} switch(es) · "
                f"{fmt_bytes(total_own)} executor memory of their own")

    def _bucket_table(self):
        m = self.model
        top = max((b["own_bytes"] + b["shared_bytes"] for b in m["buckets"]), default=1) or 1
        rows = []
        for b in m["buckets"]:
            marks = []
            if b["current"]:
                marks.append("current")
            if b["default"]:
                marks.append("default")
            if b["key"] == m["largest_key"] and len(m["buckets"]) > 1:
                marks.append("largest")
            own_w = int(140 * b["own_bytes"] / top)
            sh_w = int(140 * b["shared_bytes"] / top)
            bar = hbar([(own_w, PALETTE[0], False), (sh_w, PALETTE[2], True)], width=142,
                       label=f"own {fmt_bytes(b['own_bytes'])}, shared "
                             f"{fmt_bytes(b['shared_bytes'])}")
            style = f"font-weight:600;color:{HIGHLIGHT}" if b["current"] else ""
            rows.append([Raw(f"<span class='mxt-bucket-key' style='{style}'>"
                             f"{esc(repr(b['key']))}</span>"),
                         ", ".join(marks), b["order"] + 1, _shapes_text(b["data_shapes"]),
                         _shapes_text(b["label_shapes"]), b["forwards"],
                         fmt_bytes(b["own_bytes"]), fmt_bytes(b["shared_bytes"]), bar])
        legend = (f"<div style='color:{MUTED}'>{swatch(PALETTE[0])}own executor memory "
                  f"{swatch(PALETTE[2], hatched=True)}shared (parameters and gradients "
                  "borrowed from the default bucket, inputs from the shared pool; for the "
                  "default bucket: the pool it lends)</div>")
        return table(["bucket", "", "bound #", "data shapes", "label shapes", "forwards",
                      "own", "shared", "memory"], rows, cls="mxt-table mxt-buckets") + legend

    def _memory_svg(self):
        m = self.model
        buckets = m["buckets"]
        width, left, top_pad, bar_h = 360, 70, 24, 18
        height = top_pad + len(buckets) * (bar_h + 6) + 30
        svg = Svg(width, height, label="executor memory as buckets bind")
        svg.text(0, 14, "Memory as buckets bind (cumulative)", size=12, weight="600")
        cumulative, total = [], 0
        for b in buckets:
            total += b["own_bytes"]
            cumulative.append(total)
        scale = max([c + b["shared_bytes"] for c, b in zip(cumulative, buckets)] + [1])
        pw = width - left - 90
        for i, (b, cum) in enumerate(zip(buckets, cumulative)):
            y = top_pad + i * (bar_h + 6)
            before = cum - b["own_bytes"]
            svg.text(left - 6, y + 13, f"+ {b['key']!r}", size=11, anchor="end")
            svg.rect(left, y, pw * before / scale, bar_h, PALETTE[0], fill_opacity="0.35")
            svg.rect(left + pw * before / scale, y, pw * b["own_bytes"] / scale, bar_h,
                     PALETTE[0], class_="mxt-mem-own")
            svg.text(left + pw * cum / scale + 4, y + 13, fmt_bytes(cum), size=10,
                     fill=MUTED)
        svg.text(left, height - 8, "darker: the bucket's own bytes; light: buckets bound "
                 "before it", size=10, fill=MUTED)
        return svg.tostring()

    def _timeline_svg(self):
        m = self.model
        switches = m["switches"][-DRAWN_SWITCHES:]
        keys = _key_sort({b["key"] for b in m["buckets"]} |
                         {s["to_key"] for s in m["switches"]} |
                         {s["from_key"] for s in m["switches"] if s["from_key"] is not None})
        width, left, top_pad, lane = 380, 60, 24, 20
        height = top_pad + max(len(keys), 1) * lane + 34
        svg = Svg(width, height, label="bucket switches over time")
        first = m["n_switches"] - len(switches)
        svg.text(0, 14, f"Switches {first + 1}–{m['n_switches']} of {m['n_switches']}"
                 if switches else "Switches: none yet", size=12, weight="600")
        ys = {k: top_pad + i * lane + lane / 2 for i, k in enumerate(keys)}
        for k in keys:
            svg.text(left - 8, ys[k] + 4, repr(k), size=11, anchor="end",
                     weight="600" if k == m["current_key"] else None)
            svg.line(left, ys[k], width - 10, ys[k], stroke=GRID)
        if len(m["switches"]) > DRAWN_SWITCHES:
            return self._binned_switches(svg, keys, ys, left, width, height)
        if switches:
            pw = width - left - 20
            step = pw / max(len(switches), 1)
            pts = []
            for i, s in enumerate(switches):
                x = left + (i + 0.5) * step
                if s["from_key"] in ys:
                    pts.append((x - step / 2, ys[s["from_key"]]))
                pts.append((x, ys[s["to_key"]]))
            svg.polyline(pts, PALETTE[0], width=1.2, class_="mxt-switch-path")
            for i, s in enumerate(switches):
                x = left + (i + 0.5) * step
                if s["newly_bound"]:
                    svg.circle(x, ys[s["to_key"]], 5, PAPER, stroke=HIGHLIGHT,
                               stroke_width="2", class_="mxt-switch mxt-new-bucket")
                else:
                    svg.circle(x, ys[s["to_key"]], 2.5, PALETTE[0], class_="mxt-switch")
        svg.text(left, height - 8, "ring: the switch that bound a new bucket", size=10,
                 fill=MUTED)
        return svg.tostring()

    def _binned_switches(self, svg, keys, ys, left, width, height):
        """Many switches: per column (a bin of consecutive switches) and bucket, a cell whose
        darkness is the share of the bin's switches that went to that bucket — a zigzag of
        hundreds of switches shows nothing, shares per bin show how the buckets alternate."""
        m = self.model
        switches = m["switches"]
        n = len(switches)
        bins = min(BINS, n)
        pw = width - left - 50
        col = pw / bins
        first = m["n_switches"] - n
        # replace the title written by _timeline_svg
        svg.parts = [p for p in svg.parts if "Switches " not in p]
        svg.text(0, 14, f"Switches {first + 1}–{m['n_switches']}: share per bucket in "
                 f"{bins} bins of ~{n / bins:.0f}", size=12, weight="600")
        totals = {k: 0 for k in keys}
        for b in range(bins):
            chunk = switches[b * n // bins:(b + 1) * n // bins]
            counts = {}
            for s in chunk:
                counts[s["to_key"]] = counts.get(s["to_key"], 0) + 1
            for k, c in counts.items():
                if k not in ys:
                    continue
                totals[k] += c
                svg.rect(left + b * col + 0.5, ys[k] - 7, col - 1, 14, PALETTE[0],
                         fill_opacity=f"{0.15 + 0.85 * c / len(chunk):.2f}",
                         class_="mxt-switch-bin")
            for s in chunk:
                if s["newly_bound"] and s["to_key"] in ys:
                    svg.circle(left + (b + 0.5) * col, ys[s["to_key"]], 4, PAPER,
                               stroke=HIGHLIGHT, stroke_width="2",
                               class_="mxt-switch mxt-new-bucket")
        for k in keys:
            svg.text(width - 8, ys[k] + 4, f"×{totals.get(k, 0)}", size=10, anchor="end",
                     fill=MUTED, class_="mxt-switch-total")
        svg.text(left, height - 8, "darker: more of the bin's switches went there · ring: "
                 "a new bucket bound", size=10, fill=MUTED)
        return svg.tostring()

    def _param_diff_html(self):
        m = self.model
        if not m["param_diff"]:
            return (f"<div style='margin-top:4px'>Parameters: all {len(m['common_params'])} "
                    "are in every bound bucket (one shared set).</div>")
        keys = [b["key"] for b in m["buckets"]]
        rows = [[name] + ["✓" if k in having else "—" for k in keys]
                for name, having in m["param_diff"].items()]
        return ("<div style='font-weight:600;margin:6px 0 2px'>Parameters only some buckets "
                f"have ({len(m['common_params'])} others are in all)</div>" +
                table(["parameter"] + [f"bucket {k!r}" for k in keys], rows,
                      cls="mxt-table mxt-param-diff"))

    def _symbol_html(self):
        m = self.model
        s = m["symbol_now"]
        if s is None:
            return ""
        lines = [f"mod.symbol is now bucket {s['bucket']!r}'s symbol (outputs "
                 f"{s['outputs']}, {len(s['arguments'])} arguments). An epoch_end_callback "
                 f"such as mx.callback.do_checkpoint receives mod.symbol, so it saves this "
                 f"bucket's graph; BucketingModule.save_checkpoint writes one symbol file per "
                 f"bound bucket ({', '.join(repr(b['key']) for b in m['buckets'])}) and the "
                 "shared parameters."]
        level = "info"
        if s["differs_from_default"]:
            level = "warn"
            diff = []
            if s["only_here"]:
                diff.append(f"only here: {s['only_here']}")
            if s["missing_here"]:
                diff.append(f"missing here: {s['missing_here']}")
            lines.append(f"This symbol's arguments differ from the default bucket's "
                         f"({'; '.join(diff) or 'same names, another order'}). A checkpoint "
                         "of mod.symbol taken now does not describe the default bucket.")
        html = "".join(note(t, level if i else "info") for i, t in enumerate(lines))
        if m["checkpoints"]:
            rows = [[c["prefix"], c["epoch"], repr(c["bucket_now"]),
                     ", ".join(repr(k) for k in c["buckets"])] for c in m["checkpoints"]]
            html += table(["checkpoint prefix", "epoch", "current bucket then",
                           "bucket symbols written"], rows)
        return f"<div class='mxt-symbol-now'>{html}</div>"


def _shapes_text(shapes):
    return ", ".join(f"{n} {shape_str(s)}" for n, s in shapes)
