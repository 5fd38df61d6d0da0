"""GraphView: the symbol graph (graphviz) with the shapes of the bound executor, parameter sizes,
the operator running now and the last statistics a Monitor collected, and why a Monitor is
silent."""
from __future__ import annotations

import logging
import re
from dataclasses import asdict

from mxteach.monitor import Monitor
from mxteach.visualization import Layer, NetworkSummary, network_graph, summarize

from ._base import View, exec_groups, module_kind
from ._svg import render_mode, svg_image
from ._svg import BORDER, DARK_INK, HIGHLIGHT, MUTED, Svg, esc, fmt_value, note, shape_str, table

__all__ = ["GraphView", "TracingMonitor", "explain_monitor", "graph_svg"]

RUNNING_COLOR = HIGHLIGHT
DONE_COLOR = "#ffe0b8"
MAX_NAMES = 8

_svg_cache = {}


def _plain_stat(value):
    """A Monitor statistic (NDArray, numpy value, list of them) as a list of floats."""
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in values:
        if hasattr(v, "asnumpy"):
            v = v.asnumpy()
        try:
            flat = [float(x) for x in (v.ravel() if hasattr(v, "ravel") else [v])]
        except (TypeError, ValueError):
            continue
        out.append(flat[0] if len(flat) == 1 else sum(flat) / max(len(flat), 1))
    return out


def graph_svg(digraph):
    """Inline SVG for a ``graphviz.Digraph`` (runs ``dot``; results cached by source).

    The XML prolog and the comments (graphviz's version stamp among them) are removed, so
    the text is stable and embeds in HTML."""
    source = digraph.source
    if source in _svg_cache:
        return _svg_cache[source]
    svg = digraph.pipe(format="svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    svg = re.sub(r'class="([^"]*)"', lambda m: f'class="{m.group(1).replace("&#45;", "-")}"',
                 svg)
    svg = svg.replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)
    svg = svg.replace("$", "&#36;")
    if len(_svg_cache) > 64:
        _svg_cache.clear()
    _svg_cache[source] = svg
    return svg


def _as_image(svg, name):
    """graphviz's SVG as a data-URI image (the static form; see ``_svg.py``). Its size is in
    points; the image's is in pixels."""
    size = {}
    for key in ("width", "height"):
        found = re.search(rf'{key}="([0-9.]+)pt"', svg)
        size[key] = float(found.group(1)) * 4 / 3 if found else 400
    return svg_image(svg, size["width"], size["height"], f"graph of {name}")


def explain_monitor(diagnosis, info_logged=None, has_queue=False):
    """Plain sentences saying what a Monitor hooked and why it printed nothing.

    ``diagnosis`` is ``Monitor.diagnose()``; ``info_logged`` whether ``logging.info`` reaches
    the output (``toc_print`` logs at INFO level). Returns ``[(level, text)]`` with level
    ``'ok'``, ``'info'`` or ``'warn'``.
    """
    d = diagnosis
    out = []
    seen = len(d["matched"]) + len(d["not_matched"])
    if d["installed_on"] == 0:
        out.append(("warn", "Not installed on any executor: call mod.install_monitor(mon) "
                            "after bind(), or pass monitor=mon to fit(), which installs it."))
    elif seen == 0:
        out.append(("info", f"Installed on {d['installed_on']} executor(s); no forward has "
                            "run since, so no operator output was offered yet."))
    if d["step"] == 0:
        out.append(("warn", "tic() was never called: a Monitor collects only between tic() "
                            "and toc(). fit(monitor=mon) calls them around every batch; in a "
                            "loop of your own call mon.tic() before forward and "
                            "mon.toc_print() after it."))
    else:
        k = d["interval"]
        last = ((d["step"] - 1) // k) * k
        nxt = last + k
        if k > 1:
            out.append(("info", f"interval={k}: statistics are collected only at batches "
                                f"0, {k}, {2 * k}, …; {d['step']} tic() calls so far, last "
                                f"collected batch {last}, next {nxt}."))
    if seen and not d["matched"]:
        sample = ", ".join(d["not_matched"][:MAX_NAMES])
        out.append(("warn", f"pattern {d['pattern']!r} matched none of the {seen} names "
                            f"offered (it is matched at the start of each name, like "
                            f"re.match): {sample}{' …' if seen > MAX_NAMES else ''}. "
                            "Try '.*' or a prefix such as 'fc1'."))
    if info_logged is False:
        out.append(("warn", "toc_print() writes with logging.info, and the root logger "
                            "passes only WARNING and above: nothing appears. Call "
                            "logging.getLogger().setLevel(logging.INFO) (or "
                            "logging.basicConfig(level=logging.INFO)), or use mon.toc() and "
                            "print the list yourself."))
    if d["matched"] and d["step"] > 0 and d["installed_on"] and info_logged is not False:
        out.append(("ok", f"Collecting {len(d['matched'])} name(s) matching "
                          f"{d['pattern']!r}" + (" (values waiting for toc())"
                                                 if has_queue else "") + "."))
    return out


def _plain(value):
    """Tuples to lists, recursively: the model stays JSON data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class TracingMonitor(Monitor):
    """A Monitor that also tells its :class:`GraphView` which operator output it was just
    offered (the operator running), and the statistic when it collects one.

    Create it with ``GraphView.monitor(interval)``; use it like any Monitor
    (``fit(..., monitor=mon)`` or ``mod.install_monitor(mon)``). See notebook 06.
    """

    def __init__(self, view, interval=1, stat_func=None, pattern=".*", sort=False,
                 monitor_all=False):
        super().__init__(interval, stat_func=stat_func, pattern=pattern, sort=sort,
                         monitor_all=monitor_all)
        self.view = view

    def stat_helper(self, name, array):
        before = len(self.queue)
        super().stat_helper(name, array)
        value = self.queue[-1][2] if len(self.queue) > before else None
        self.view._op_output(name, value, self.step)


class GraphView(View):
    """The symbol graph drawn by graphviz, inputs at the bottom: each operator with its
    details (``FullyConnected 128``), its number of parameters (from the bound executor's
    arrays, not guessed), the shapes on every edge after bind, and live state:

    * the operator running now (orange) when a :class:`TracingMonitor` from
      :meth:`monitor` is installed, and the operators already done in this forward pass;
    * the last statistics a Monitor collected (``rms 0.0123`` on each node), read at every
      forward;
    * a panel that explains a silent Monitor from ``Monitor.diagnose()``: not installed,
      ``tic()`` never called, an ``interval`` skipping batches, a ``pattern`` matching
      nothing, or ``toc_print`` logging at INFO to a logger that shows WARNING only.

    Parameters
    ----------
    source : Symbol or module
        A Symbol (drawn once; pass ``shape`` for shapes) or a Module/BucketingModule (the
        current bucket's symbol), watched through its events.
    shape : dict, optional
        Input shapes for a Symbol.
    monitor : Monitor, optional
        A Monitor installed before the view was created (later installs arrive as events).
    hide_weights : bool
        Hide parameter and auxiliary-state nodes (default); their sizes stay on the operators.

    Model: ``symbol``, ``bound``, ``bucket``, ``layers`` (dicts: name, op, kind, label,
    output_shapes, params, param_count …), ``total_params``, ``total_aux``, ``running``,
    ``done`` (operators finished in the current pass), ``forwards``, ``backwards``,
    ``values`` ({layer: {'name', 'values', 'step'}}), ``monitor`` (diagnosis and
    explanation, or None).

    See notebook 06.
    """

    title = "Graph"
    kinds = ("bind", "reshape", "switch_bucket", "init_params", "install_monitor", "forward",
             "backward", "batch_end", "epoch_end")

    def __init__(self, source=None, *, shape=None, monitor=None, hide_weights=True, **kwargs):
        # how the help text names this view (ModuleInspector sets "inspector['Graph']")
        self.reference = "view"
        self._symbol = None
        self._shape = dict(shape or {})
        self._monitor = monitor
        self._hide_weights = hide_weights
        self._out2layer = {}
        is_module = source is not None and hasattr(source, "events")
        super().__init__(source if is_module else None, **kwargs)
        if source is not None and not is_module:
            if not hasattr(source, "list_arguments"):
                raise TypeError(f"GraphView draws a Symbol or an mxteach module; got "
                                f"{type(source).__name__}")
            self._symbol = source
            with self._lock:
                self._read_symbol(source, self._shape, None)
                self._read_monitor()
            self._changed()

    @classmethod
    def applies_to(cls, module):
        return module_kind(module) in ("module", "bucketing")

    def heading(self):
        m = self.model
        name = m["symbol"] or "?"
        where = f" · bucket {m['bucket']!r}" if m["bucket"] is not None else ""
        return f"Graph of '{name}'{where}"

    def empty_model(self):
        return {"symbol": None, "outputs": [], "bound": False, "bucket": None, "layers": [],
                "total_params": None, "total_aux": None, "batch_shapes": {}, "running": None,
                "done": [], "forwards": 0, "backwards": 0, "is_train": None, "values": {},
                "monitor": None}

    # -- the monitor ----------------------------------------------------------------------------
    def monitor(self, interval=1, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        """A :class:`TracingMonitor` reporting to this view (install it, or pass it to fit)."""
        mon = TracingMonitor(self, interval, stat_func=stat_func, pattern=pattern, sort=sort,
                             monitor_all=monitor_all)
        self._monitor = mon
        with self._lock:
            self._read_monitor()
        self._changed()
        return mon

    def _layer_of(self, name):
        if name in self._out2layer:
            return self._out2layer[name]
        best = None
        for layer in self.model["layers"]:
            if layer["kind"] == "op" and name.startswith(layer["name"] + "_") and (
                    best is None or len(layer["name"]) > len(best)):
                best = layer["name"]
        return best

    def _op_output(self, name, value, step):
        """Called by a TracingMonitor as each operator output is produced."""
        with self._lock:
            layer = self._layer_of(name)
            if layer is None:
                return
            m = self.model
            if m["running"] is None and m["done"]:
                m["done"] = []              # a new forward pass begins
            if m["running"] is not None and m["running"] != layer and \
                    m["running"] not in m["done"]:
                m["done"].append(m["running"])
            m["running"] = layer
            if value is not None:
                m["values"][layer] = {"name": name, "values": _plain_stat(value),
                                      "step": step}
        self._changed()

    def _read_monitor(self):
        mon = self._monitor
        if mon is None:
            self.model["monitor"] = None
            return
        diag = mon.diagnose()
        info = logging.getLogger().isEnabledFor(logging.INFO)
        self.model["monitor"] = {
            "type": type(mon).__name__, "traced": isinstance(mon, TracingMonitor),
            "diagnosis": {k: (list(v) if isinstance(v, (list, tuple)) else v)
                          for k, v in diag.items()},
            "info_logged": info,
            "explanation": [list(x) for x in explain_monitor(diag, info, bool(mon.queue))]}

    def _read_queue(self):
        """Statistics the monitor collected during the forward that just ran."""
        mon = self._monitor
        if mon is None or not mon.queue:
            return
        for step, name, value in list(mon.queue):
            layer = self._layer_of(name)
            if layer is not None:
                self.model["values"][layer] = {"name": name, "values": _plain_stat(value),
                                               "step": step}

    # -- reading --------------------------------------------------------------------------------
    def _read_symbol(self, symbol, shape, inputs, bucket=None, bound=False):
        args = set(symbol.list_arguments()) | set(symbol.list_auxiliary_states())
        shape = {k: v for k, v in shape.items() if k in args}
        summary = summarize(symbol, shape=shape or None,
                            inputs=None if inputs is None else [n for n in inputs if n in args])
        m = self.model
        m["symbol"] = symbol.name or ", ".join(symbol.list_outputs())
        m["outputs"] = symbol.list_outputs()
        m["layers"] = [_plain(asdict(layer)) for layer in summary.layers]
        m["total_params"] = summary.total_params
        m["total_aux"] = summary.total_aux
        m["bound"] = bound
        m["bucket"] = bucket
        m["batch_shapes"] = {k: list(v) for k, v in shape.items()
                             if k in summary.data_names + summary.label_names}
        self._out2layer = {o: layer.name for layer in summary.layers if layer.is_op
                           for o in layer.outputs}
        self._out2layer.update({layer.name: layer.name for layer in summary.layers
                                if not layer.is_op})
        names = {layer.name for layer in summary.layers}
        m["values"] = {k: v for k, v in m["values"].items() if k in names}
        if m["running"] not in names:
            m["running"] = None
        m["done"] = [n for n in m["done"] if n in names]

    def read(self, module):
        kind = module_kind(module)
        unit, bucket = module, None
        if kind == "bucketing":
            bucket = module.current_bucket_key if module.binded else module.default_bucket_key
            if module.binded:
                unit = module.buckets[module.current_bucket_key]
        symbol = unit.symbol
        if symbol is None:
            return
        groups = exec_groups(unit, current_only=True) if unit.binded else []
        if groups:
            group = groups[0][1]
            shapes = {}
            for d in list(unit.data_shapes) + list(unit.label_shapes or []):
                shapes[d[0] if isinstance(d, tuple) else d.name] = \
                    tuple(d[1] if isinstance(d, tuple) else d.shape)
            exe = group.execs[0]
            for name in group.param_names:
                shapes[name] = tuple(exe.arg_dict[name].shape)
            inputs = list(group.data_names) + list(group.label_names) + \
                list(group.state_names)
            self._read_symbol(symbol, shapes, inputs, bucket, True)
        else:
            inputs = None
            if hasattr(unit, "label_names"):
                inputs = list(unit.data_names) + list(unit.label_names)
            self._read_symbol(symbol, {}, inputs, bucket, False)
        self._read_monitor()

    def refresh(self):
        if self._symbol is not None:
            with self._lock:
                self._read_symbol(self._symbol, self._shape, None)
                self._read_monitor()
            self._changed()
            return self
        return super().refresh()

    def update(self, event):
        kind, m = event.kind, self.model
        if kind == "install_monitor":
            self._monitor = event.data.get("monitor", self._monitor)
            self._read_monitor()
            return True
        if kind == "forward":
            m["forwards"] += 1
            m["is_train"] = event.data.get("is_train")
            if m["running"] is not None and m["running"] not in m["done"]:
                m["done"].append(m["running"])
            m["running"] = None
            self._read_queue()
            self._read_monitor()
            return True
        if kind == "backward":
            m["backwards"] += 1
            return True
        if kind in ("batch_end", "epoch_end"):
            self._read_monitor()
            return self._monitor is not None
        if kind == "switch_bucket" and not event.data.get("newly_bound") and \
                event.data.get("from_key") == event.data.get("to_key"):
            return False
        self.read(self.module)
        return True

    # -- drawing --------------------------------------------------------------------------------
    def _annotations(self):
        m = self.model
        extra, fill, attrs = {}, {}, {}
        for layer in m["layers"]:
            name = layer["name"]
            # the layer's name under its operator: what a student looks up in the code
            lines = [name] if layer["kind"] == "op" and name not in layer["label"] else []
            if layer["kind"] == "op" and layer["params"]:
                count = layer["param_count"]
                lines.append("params ?" if count is None else f"params {count:,}")
                if layer["shared"]:
                    lines.append("shares " + ", ".join(layer["shared"]))
            if layer["kind"] == "op" and layer["aux"] and layer["aux_count"]:
                lines.append(f"aux {layer['aux_count']:,}")
            if layer["kind"] in ("data", "label") and layer["output_shapes"] and \
                    layer["output_shapes"][0] is not None:
                lines.append(shape_str(layer["output_shapes"][0]))
            value = m["values"].get(name)
            if value and value["values"]:
                lines.append("stat " + ", ".join(fmt_value(v) for v in value["values"][:2]))
            if lines:
                extra[name] = lines
            if name == m["running"]:
                fill[name] = RUNNING_COLOR
                attrs[name] = {"penwidth": "2.5", "class": "mxt-running"}
            elif name in m["done"]:
                attrs[name] = {"penwidth": "1.5", "class": "mxt-done"}
        return extra, fill, attrs

    def digraph(self):
        """The ``graphviz.Digraph`` this view draws (needs the graphviz package)."""
        layers = [Layer(**d) for d in self.model["layers"]]
        summary = NetworkSummary(layers, [], [], {}, {}, None, None, True, {})
        extra, fill, attrs = self._annotations()
        return network_graph(summary, title=self.model["symbol"] or "graph", save_format="svg",
                             node_attrs={"fixedsize": "false", "width": "1.3",
                                         "height": "0.5", "fontsize": "11",
                                         "fontname": "Helvetica"},
                             hide_weights=self._hide_weights,
                             draw_shape=any(l.output_shapes and l.output_shapes[0] is not None
                                            for l in layers if l.is_op),
                             extra_lines=extra, fill=fill, node_extra=attrs,
                             graph_attrs={"ranksep": "0.35", "nodesep": "0.3"},
                             edge_attrs={"fontsize": "10", "fontname": "Helvetica",
                                         "fontcolor": "#555555"})

    def _picture(self):
        try:
            return graph_svg(self.digraph()), True
        except Exception as err:  # no graphviz package or no dot program: draw it ourselves
            if type(err).__name__ not in ("ImportError", "ExecutableNotFound",
                                          "FileNotFoundError", "CalledProcessError"):
                raise
            return self._fallback_svg(), False

    def _fallback_svg(self):
        """A plain stack of the layers (inputs at the bottom), when graphviz is missing."""
        m = self.model
        extra, fill, _ = self._annotations()
        shown = [l for l in m["layers"] if l["kind"] in ("op", "data", "label")]
        box_h, gap, width = 34, 18, 420
        height = len(shown) * (box_h + gap) + 10
        svg = Svg(width, height, label=f"graph of {m['symbol']}")
        ypos = {}
        for i, layer in enumerate(reversed(shown)):
            y = 5 + i * (box_h + gap)
            ypos[layer["name"]] = y
        for layer in shown:
            y = ypos[layer["name"]]
            color = fill.get(layer["name"]) or ("#8dd3c7" if layer["kind"] != "op"
                                                else "#fccde5")
            svg.rect(10, y, 180, box_h, color, stroke="#555555", rx="4",
                     class_="mxt-node" + (" mxt-running" if layer["name"] == m["running"]
                                          else ""))
            svg.text(100, y + 14, layer["label"].replace("\n", " "), size=11, anchor="middle",
                     fill=DARK_INK)
            more = [t for t in extra.get(layer["name"], []) if t != layer["name"]]
            if layer["kind"] == "op":
                more = [layer["name"]] + more
            if more:
                svg.text(100, y + 27, " · ".join(more), size=10, anchor="middle",
                         fill="#444444")
            for name, idx, _ in layer["inputs"]:
                if name not in ypos:
                    continue
                y0 = ypos[name]
                src = next(l for l in shown if l["name"] == name)
                shapes = src["output_shapes"]
                label = "" if idx >= len(shapes) or shapes[idx] is None else \
                    "x".join(str(d) for d in shapes[idx][1:])
                if y0 - y == box_h + gap:
                    svg.line(100, y0, 100, y + box_h + 1, stroke=BORDER)
                    svg.arrow_head(100, y + box_h + 1, 0, -1, color=BORDER)
                    svg.text(106, y0 - 5, label, size=10, fill=MUTED)
                else:
                    x = 190 + 12 + (y0 - y) / (box_h + gap) * 8
                    svg.path(f"M190,{y0 + box_h / 2} L{x},{y0 + box_h / 2} L{x},"
                             f"{y + box_h / 2} L190,{y + box_h / 2}", stroke=BORDER)
                    svg.arrow_head(190, y + box_h / 2, -1, 0, color=BORDER)
                    svg.text(x + 4, (y0 + y + box_h) / 2, label, size=10, fill=MUTED)
        return svg.tostring()

    def render(self):
        m = self.model
        parts = []
        if not m["layers"]:
            return note("No symbol yet.")
        ops = [l for l in m["layers"] if l["kind"] == "op"]
        if m["total_params"] is None:
            params = "parameters: shapes unknown until bind()" if self.module is not None \
                else "parameters: pass shape= to count them"
        else:
            src = "from the bound executor" if m["bound"] else "from inferred shapes"
            params = f"{m['total_params']:,} parameters ({src})"
            if m["total_aux"]:
                params += f", {m['total_aux']:,} auxiliary numbers"
        batch = ", ".join(f"{k} {shape_str(v)}" for k, v in m["batch_shapes"].items())
        status = [f"{len(ops)} operators", params] + ([batch] if batch else [])
        if m["forwards"]:
            status.append(f"forward ×{m['forwards']} (last is_train={m['is_train']}), "
                          f"backward ×{m['backwards']}")
        parts.append(f"<div class='mxt-graph-status' style='margin:2px 0 4px'>"
                     f"{esc(' · '.join(status))}</div>")
        if m["running"]:
            parts.append(f"<div class='mxt-graph-running'>running now: <b>{esc(m['running'])}"
                         f"</b> (orange)</div>")
        picture, real = self._picture()
        if real and render_mode() == "image":
            picture = _as_image(picture, m["symbol"])
        parts.append(f"<div class='mxt-graph-svg' data-operators='{len(ops)}' "
                     f"data-forwards='{m['forwards']}' style='overflow:auto;max-height:720px'>"
                     f"{picture}</div>")
        if not real:
            parts.append(note("graphviz (the Python package and the dot program) is not "
                              "available: a plain layer stack is drawn instead."))
        parts.append(self._monitor_panel())
        return "".join(parts)

    def _monitor_panel(self):
        m = self.model
        mon = m["monitor"]
        if mon is None:
            ref = self.reference
            hint = (f"Monitor: none. To watch every operator run and see its output "
                    f"statistics, pass monitor={ref}.monitor() to fit() (or "
                    f"mod.install_monitor({ref}.monitor()) after bind()), {ref} being "
                    + ("this GraphView." if ref == "view" else "your ModuleInspector's "
                       "Graph tab."))
            return note(hint) if self.module is not None else ""
        d = mon["diagnosis"]
        head = (f"<div style='font-weight:600;margin:6px 0 2px'>Monitor ({esc(mon['type'])}): "
                f"interval {d['interval']}, pattern {esc(repr(d['pattern']))}, installed on "
                f"{d['installed_on']} executor(s), {d['step']} tic() call(s)</div>")
        notes = "".join(note(text, "warn" if level == "warn" else "info")
                        for level, text in mon["explanation"])
        rows = []
        for name in d["matched"][:MAX_NAMES * 3]:
            layer = self._layer_of(name)
            value = m["values"].get(layer) if layer else None
            shown = ", ".join(fmt_value(v) for v in value["values"]) \
                if value and value["name"] == name else ""
            rows.append([name, "matched", shown, value["step"] if shown else ""])
        for name in d["not_matched"][:MAX_NAMES]:
            rows.append([name, "not matched", "", ""])
        hidden = len(d["matched"]) + len(d["not_matched"]) - len(rows)
        head_row = ["name offered", "pattern", "last statistic", "Batch (as toc_print shows it)"]
        body = table(head_row, rows) if rows else ""
        if hidden > 0:
            body += f"<div style='color:{MUTED}'>… and {hidden} more names</div>"
        return f"<div class='mxt-monitor-panel'>{head}{notes}{body}</div>"
