"""MemoryMap: where every byte of an executor goes, and how that changes with batch size and
grad_req (MemoryComparison)."""
from __future__ import annotations

from ._base import View, exec_groups
from ._svg import (INK, MUTED, PAPER, ROLE_COLORS, ROLE_ORDER, ROLE_TITLES, PALETTE,
                   Raw, Svg, esc, fmt_bytes, hbar, note, shape_str, swatch, table)

__all__ = ["MemoryMap", "MemoryComparison", "executor_rows"]

BORROWED = ("shared_exec",)          # the very arrays of another executor (bucketing)
FROM_ELSEWHERE = ("shared_exec", "shared_buffer", "reshaped_from")
# what memory_report()'s shared_with codes mean, in a student's words
ELSEWHERE_TEXT = {"shared_exec": "the shared module's array (bucketing)",
                  "shared_buffer": "from the shared pool of the default bucket",
                  "reshaped_from": "reuses the executor's memory from before the reshape"}
MAX_PER_ROLE = 12          # buffers drawn per role in one panel; the rest are summed up
SMALL = 2                  # up to this many executors, every panel is drawn open


def executor_rows(exe):
    """``memory_report()`` as plain dicts (name, role, shape, dtype, bytes, shared_with)."""
    return [{"name": r.name, "role": r.role, "shape": list(r.shape), "dtype": r.dtype,
             "bytes": int(r.bytes), "device": r.device, "shared_with": r.shared_with}
            for r in exe.memory_report()]


def _arena(shared_with):
    """``'arena3'`` from ``'arena3: a, b'`` (planner sharing), else None."""
    if shared_with.startswith("arena"):
        return shared_with.split(":")[0]
    return None


def _sparse_rows(exe, rows):
    """Storage type of each argument / gradient row; stored vs all rows of sparse ones (their
    bytes are already what they store)."""
    for r in rows:
        arrays = exe.grad_dict if r["role"] == "gradient" else exe.arg_dict
        name = r["name"][:-5] if r["role"] == "gradient" and r["name"].endswith("_grad") \
            else r["name"]
        arr = arrays.get(name) if r["role"] in ("argument", "gradient") else None
        if arr is None or arr.stype == "default":
            continue            # dense rows stay exactly memory_report()'s
        r["stype"] = arr.stype
        if r["stype"] == "row_sparse":
            r["stored_rows"], r["num_rows"] = int(arr.indices.shape[0]), int(arr.shape[0])


def _group_model(label, exe, group=None):
    rows = executor_rows(exe)
    _sparse_rows(exe, rows)
    summary = {k: int(v) for k, v in exe.memory_summary().items()}
    reqs = dict(exe.grad_req)
    why = {}
    if group is not None:
        for n in reqs:
            if reqs[n] != "null":
                continue
            if not group.for_training:
                why[n] = "for_training=False"
            elif n in group.data_names:
                why[n] = "a data input, and inputs_need_grad=False"
            elif n in group.label_names:
                why[n] = "label"
            elif n in group.fixed_param_names:
                why[n] = "fixed_param_names"
            elif n in group.state_names:
                why[n] = "state"
            else:
                why[n] = "grad_req='null'"
    arenas = {}
    for r in rows:
        a = _arena(r["shared_with"])
        if a:
            arenas.setdefault(a, []).append(r["name"])
    borrowed = sum(r["bytes"] for r in rows if r["shared_with"] in BORROWED)
    return {"label": label, "device": str(exe.context), "rows": rows, "summary": summary,
            "grad_req": reqs, "no_grad": why, "borrowed": borrowed,
            "data_names": list(group.data_names) if group is not None else [],
            "arenas": {a: users for a, users in arenas.items() if len(users) > 1}}


def _role_bytes(group):
    out = {}
    for r in group["rows"]:
        out[r["role"]] = out.get(r["role"], 0) + r["bytes"]
    return out


class MemoryMap(View):
    """An executor's ``memory_report()`` as a picture: one bar per buffer, grouped by role
    (arguments, gradients, auxiliary states, outputs, intermediates), bar length ∝ bytes.

    Buffers that the memory planner placed in one arena are hatched and tied together by a
    line on the right; arrays taken from another executor (``shared_exec`` in bucketing,
    ``shared_buffer``, ``reshaped_from``) have a dashed outline. Each device (executor) has
    its totals; arguments without a gradient buffer are listed with the reason
    (``inputs_need_grad``, labels, ``fixed_param_names``, ``for_training``). After every
    bind, reshape or new bucket the reports are re-read and the totals are added to
    ``model['history']``, so a reshape to another batch size shows how memory follows it.
    :meth:`compare` and :meth:`sweep` bind variants side by side (batch size, grad_req).

    Parameters
    ----------
    target : BaseModule or Executor
        A module (watched through its events; attach before bind if you like) or an executor
        (drawn once).

    Sparse arrays (notebook 15) count the bytes they store; their rows say their storage
    type and, for row_sparse ones, how many rows they store of how many (re-read after each
    backward that wrote a row_sparse gradient).

    Model: ``groups`` (one per executor: ``label``, ``device``, ``rows``, ``summary``,
    ``grad_req``, ``no_grad``, ``arenas``, ``borrowed``) and ``history``.

    Examples
    --------
    >>> mm = MemoryMap(mod)
    >>> mod.bind(data_shapes=[("data", (32, 784))], label_shapes=[("softmax_label", (32,))])
    >>> mod.reshape(data_shapes=[("data", (128, 784))], label_shapes=[("softmax_label", (128,))])
    >>> [h["total"] for h in mm.model["history"]]      # bytes after bind, after reshape
    >>> MemoryMap.sweep(sym, [("data", (1, 784))], [("softmax_label", (1,))],
    ...                 batch_sizes=(1, 32, 256), grad_reqs=("write", "null"))

    See notebook 14.
    """

    title = "Executor memory"
    kinds = ("bind", "reshape", "switch_bucket", "forward", "backward")

    def __init__(self, target=None, **kwargs):
        self._executor = None
        self._after_bind = True
        if target is not None and hasattr(target, "memory_report") and \
                not hasattr(target, "events"):
            self._executor = target
            target = None
        super().__init__(target, **kwargs)
        if self._executor is not None:
            with self._lock:
                self.model["groups"] = [_group_model("", self._executor)]
                self.model["bound"] = True
                self._note_history("executor", "")

    def empty_model(self):
        return {"groups": [], "history": [], "bound": False}

    def read(self, module):
        groups = []
        for label, group in exec_groups(module):
            for exe in group.execs:
                groups.append(_group_model(label, exe, group))
        self.model["groups"] = groups
        self.model["bound"] = bool(groups)
        current = exec_groups(module, current_only=True)
        self.model["current"] = current[0][0] if current else ""

    def update(self, event):
        if event.kind == "backward":
            # row_sparse gradients (and weights pulled by prepare) store other rows each batch
            if not event.data.get("sparse_grads"):
                return False
            self.read(self.module)
            return True
        if event.kind == "forward":
            # operators allocate their workspace on the first forward after a (re)bind
            if not self._after_bind:
                return False
            self._after_bind = False
            self.read(self.module)
            return True
        if event.kind == "switch_bucket" and not event.data.get("newly_bound"):
            return False
        if not getattr(self.module, "binded", False):
            return False      # a member bound inside a container that is still binding
        self.read(self.module)
        self._after_bind = True
        shapes = event.data.get("data_shapes") or []
        text = ", ".join(f"{d[0]} {shape_str(d[1])}" for d in shapes)
        if event.kind == "switch_bucket":
            text = f"bucket {event.data.get('to_key')!r}: {text}"
        self._note_history(event.kind, text)
        return True

    def _note_history(self, kind, text):
        groups = self.model["groups"]
        totals = {_glabel(g): g["summary"]["total_bytes"] for g in groups}
        total = sum(totals.values()) - sum(g["borrowed"] for g in groups)
        history = self.model["history"]
        if history and history[-1]["totals"] == totals:
            return
        history.append({"event": kind, "shapes": text, "totals": totals, "total": total,
                        "grad_bytes": sum(_role_bytes(g).get("gradient", 0) for g in groups)})

    # -- drawing ------------------------------------------------------------------------------
    def render(self):
        m = self.model
        if not m["groups"]:
            return note("Not bound yet: memory is allocated by bind(). Attach now and the map "
                        "appears when the module binds.")
        scale = max((r["bytes"] for g in m["groups"] for r in g["rows"]), default=1) or 1
        groups = m["groups"]
        if len(groups) <= SMALL:
            parts = [_legend()]
            panels = [f'<div style="display:inline-block;vertical-align:top;margin:0 18px '
                      f'10px 0">{self._panel(g, scale)}</div>' for g in groups]
            parts.append("<div>" + "".join(panels) + "</div>")
            parts.append(self._totals_table(groups))
        else:
            # many executors (buckets × devices): the totals first, every executor's map on
            # demand (the current bucket's first device open), in a box of bounded height
            parts = [self._totals_table(groups), _legend()]
            current = m.get("current", "")
            first = next((i for i, g in enumerate(groups) if g["label"] == current), 0)
            panels = []
            for i, g in enumerate(groups):
                rows = len(g["rows"])
                head = (f"{_glabel(g)}: {fmt_bytes(g['summary']['total_bytes'])} in {rows} "
                        f"buffer{'s' if rows != 1 else ''}" +
                        (" (current bucket)" if current and g["label"] == current else ""))
                panels.append(f'<details class="mxt-panel"{" open" if i == first else ""}>'
                              f'<summary style="cursor:pointer">{esc(head)}</summary>'
                              f'{self._panel(g, scale)}</details>')
            parts.append('<div class="mxt-panels" style="max-height:640px;overflow:auto">' +
                         "".join(panels) + "</div>")
        parts.extend(self._grad_notes(groups))
        if len(m["history"]) > 1:
            parts.append(self._history())
        return "".join(parts)

    def _panel(self, g, scale):
        rows = sorted(g["rows"], key=lambda r: (ROLE_ORDER.index(r["role"])
                                                if r["role"] in ROLE_ORDER else 99))
        arenas = sorted(g["arenas"])
        lane_w = 10
        # name | bar | arena lanes | text: the lanes sit between bars and text, never over it
        name_w, bar_w, lanes_w, info_w = 150, 190, lane_w * len(arenas) + 6, 300
        width = name_w + bar_w + lanes_w + info_w
        rh, head = 15, 18
        ghosts = [{"name": n + "_grad", "why": why} for n, why in g["no_grad"].items()]
        extra = sorted({x["role"] for x in rows} - set(ROLE_ORDER))
        roles = [r for r in ROLE_ORDER if any(x["role"] == r for x in rows) or
                 (r == "gradient" and ghosts)] + extra
        shown = {}
        for role in roles:
            members = [r for r in rows if r["role"] == role]
            if len(members) > MAX_PER_ROLE:
                # the largest buffers, and arena partners of those, stay; the rest are summed
                keep = sorted(members, key=lambda r: -r["bytes"])[:MAX_PER_ROLE - 1]
                members = [r for r in members if r in keep]
            shown[role] = members
        n_lines = sum(len(v) for v in shown.values()) + len(ghosts) + sum(
            1 for role in roles if len(shown[role]) < sum(1 for r in rows if r["role"] == role))
        height = 24 + n_lines * rh + len(roles) * head + 8
        title = g["label"] + (" · " if g["label"] else "") + g["device"]
        svg = Svg(width, height, label=f"memory of {title}")
        svg.text(0, 14, f"{title}: {fmt_bytes(g['summary']['total_bytes'])}", weight="600")
        y = 24
        ypos = {}
        x_info = name_w + bar_w + lanes_w
        for role in roles:
            all_members = [r for r in rows if r["role"] == role]
            subtotal = sum(r["bytes"] for r in all_members)
            color = ROLE_COLORS.get(role, PALETTE[-1])
            svg.rect(0, y + 3, 9, 9, color)
            svg.text(13, y + 12, f"{ROLE_TITLES.get(role, role)} — {len(all_members)} "
                     f"buffer{'s' if len(all_members) != 1 else ''}, {fmt_bytes(subtotal)}",
                     size=11, weight="600", class_="mxt-role")
            y += head
            for r in shown[role]:
                w = max(1.5, bar_w * r["bytes"] / scale)
                svg.text(name_w - 6, y + 11, r["name"], size=11, anchor="end",
                         class_="mxt-buffer")
                shared = r["shared_with"]
                if shared in FROM_ELSEWHERE:
                    svg.rect(name_w, y + 2, w, rh - 4, PAPER, stroke=color,
                             stroke_dasharray="3,2", class_="mxt-bar mxt-from-elsewhere")
                elif _arena(shared) in g["arenas"]:
                    svg.rect(name_w, y + 2, w, rh - 4, svg.hatch(color), stroke=color,
                             class_="mxt-bar mxt-shared")
                else:
                    svg.rect(name_w, y + 2, w, rh - 4, color, class_="mxt-bar")
                info = f"{shape_str(r['shape'])} {r['dtype']} · {fmt_bytes(r['bytes'])}"
                if r.get("stype", "default") != "default":
                    info += f" · {r['stype']}" + (
                        f": {r['stored_rows']:,} of {r['num_rows']:,} rows stored"
                        if "stored_rows" in r else "")
                if r["device"] != g["device"]:
                    info += f" · on {r['device']}"
                if shared in FROM_ELSEWHERE:
                    info += f" · {ELSEWHERE_TEXT[shared]}"
                elif _arena(shared) in g["arenas"]:
                    others = shared.split(":", 1)[1].strip() if ":" in shared else ""
                    info += f" · {_arena(shared)} with {others}"
                svg.text(x_info, y + 11, info, size=10, fill=MUTED)
                ypos[r["name"]] = y + rh / 2
                y += rh
            hidden = [r for r in all_members if r not in shown[role]]
            if hidden:
                svg.text(name_w - 6, y + 11, f"… {len(hidden)} more", size=11, anchor="end",
                         fill=MUTED, class_="mxt-more")
                svg.text(name_w + 4, y + 11, f"{fmt_bytes(sum(r['bytes'] for r in hidden))} "
                         f"in smaller buffers ({', '.join(r['name'] for r in hidden[:3])}"
                         f"{', …' if len(hidden) > 3 else ''})", size=10, fill=MUTED)
                y += rh
            if role == "gradient":
                for ghost in ghosts:
                    svg.text(name_w - 6, y + 11, ghost["name"], size=11, anchor="end",
                             fill=MUTED, font_style="italic", class_="mxt-no-grad")
                    svg.text(name_w + 4, y + 11, f"no buffer: {ghost['why']}", size=10,
                             fill=MUTED, font_style="italic")
                    y += rh
        x_lane = name_w + bar_w + 4
        for i, a in enumerate(arenas):
            ys = [ypos[n] for n in g["arenas"][a] if n in ypos]
            if len(ys) < 2:
                continue
            x = x_lane + i * lane_w + 2
            svg.line(x, min(ys), x, max(ys), stroke=INK, width=1.2, class_="mxt-arena-link")
            for yy in ys:
                svg.circle(x, yy, 2.2, INK)
        return svg.tostring()

    def _totals_table(self, groups):
        rows = []
        by_device = {}
        for g in groups:
            s = g["summary"]
            roles = _role_bytes(g)
            rows.append([g["label"] or "this module", g["device"], fmt_bytes(s["total_bytes"]),
                         fmt_bytes(roles.get("argument", 0)),
                         fmt_bytes(roles.get("gradient", 0)),
                         fmt_bytes(roles.get("auxiliary", 0)),
                         fmt_bytes(s["dedicated_bytes"]),
                         f"{fmt_bytes(s['intermediate_planned_bytes'])} "
                         f"(naive {fmt_bytes(s['intermediate_naive_bytes'])}, saved "
                         f"{fmt_bytes(s['saved_bytes'])})",
                         fmt_bytes(roles.get("workspace", 0)),
                         fmt_bytes(g["borrowed"])])
            by_device[g["device"]] = by_device.get(g["device"], 0) + \
                s["total_bytes"] - g["borrowed"]
        html = ("<div style='margin-top:4px;font-weight:600'>Totals per executor</div>" +
                table(["executor", "device", "total", "arguments", "gradients", "aux",
                       "outputs", "intermediates planned", "workspace (after 1st forward)",
                       "from another executor"], rows))
        if len(by_device) > 1 or len(groups) > 1:
            html += "<div class='mxt-per-device'>Per device (arrays shared with another " \
                "executor counted once): " + \
                esc(", ".join(f"{d}: {fmt_bytes(b)}" for d, b in by_device.items())) + "</div>"
        return html

    def _grad_notes(self, groups):
        g = groups[0]
        reqs = g["grad_req"]
        with_grad = [n for n, r in reqs.items() if r != "null"]
        out = []
        if g["no_grad"]:
            items = "; ".join(f"{n}: {why}" for n, why in g["no_grad"].items())
            out.append(note(f"No gradient buffer for {items}."))
        adds = [n for n in with_grad if reqs[n] == "add"]
        if adds:
            out.append(note(f"grad_req='add' for {', '.join(adds)}: gradients accumulate "
                            "over backward() calls until you zero them.", "warn"))
        data_grads = [n for n in g["data_names"] if reqs.get(n, "null") != "null"]
        if data_grads:
            out.append(note("inputs_need_grad=True: " + ", ".join(data_grads) +
                            " get gradient buffers (get_input_grads() returns them in "
                            "data_names order)."))
        return out

    def _history(self):
        history = self.model["history"]
        top = max(h["total"] for h in history) or 1
        rows = []
        prev = None
        for h in history:
            bar = hbar([(max(1, int(160 * h["total"] / top)), PALETTE[0], False)],
                       label=f"total {fmt_bytes(h['total'])}")
            delta = "" if prev is None else f"{h['total'] - prev:+,} B"
            rows.append([h["event"], h["shapes"], Raw(bar + " " + esc(fmt_bytes(h["total"]))),
                         delta, fmt_bytes(h["grad_bytes"])])
            prev = h["total"]
        return ("<div style='margin-top:6px;font-weight:600'>How the totals changed "
                "(bind, reshape, new buckets)</div>" +
                table(["after", "data shapes", "total (all executors)", "change",
                       "gradients"], rows))

    # -- variants -----------------------------------------------------------------------------
    @staticmethod
    def compare(symbol, variants, *, data_names=("data",), label_names=("softmax_label",),
                context=None, **module_kwargs):
        """Bind ``symbol`` once per variant and compare executor memory.

        Parameters
        ----------
        symbol : Symbol
        variants : dict
            ``{label: bind keyword arguments}``, e.g.
            ``{"batch 8": dict(data_shapes=[("data", (8, 20))],
            label_shapes=[("softmax_label", (8,))], grad_req="write")}``.
        data_names, label_names, context, **module_kwargs
            Passed to ``mx.mod.Module`` for every variant.

        Returns
        -------
        MemoryComparison

        See notebook 14.
        """
        from mxteach.module import Module
        results = []
        for label, bind_kwargs in variants.items():
            mod = Module(symbol, data_names=data_names, label_names=label_names,
                         context=context, **module_kwargs)
            mod.bind(**bind_kwargs)
            groups = [_group_model(glabel, exe, group)
                      for glabel, group in exec_groups(mod) for exe in group.execs]
            results.append(_variant(label, bind_kwargs, groups))
        return MemoryComparison(results)

    @staticmethod
    def sweep(symbol, data_shapes, label_shapes=None, batch_sizes=(1, 8, 64),
              grad_reqs=("write",), inputs_need_grad=False, **kwargs):
        """:meth:`compare` over batch sizes × grad_reqs: the batch axis (0) of every given
        shape is replaced by each batch size.

        Examples
        --------
        >>> MemoryMap.sweep(sym, [("data", (1, 20))], [("softmax_label", (1,))],
        ...                 batch_sizes=(1, 16, 128), grad_reqs=("write", "null"))

        See notebook 14.
        """
        def resized(descs, b):
            if not descs:
                return descs
            return [(d[0], (b,) + tuple(d[1])[1:]) for d in descs]
        variants = {}
        for req in grad_reqs:
            for b in batch_sizes:
                variants[f"batch {b} · grad_req={req!r}"] = dict(
                    data_shapes=resized(data_shapes, b), label_shapes=resized(label_shapes, b),
                    grad_req=req, inputs_need_grad=inputs_need_grad)
        return MemoryMap.compare(symbol, variants, **kwargs)


def _glabel(g):
    return (g["label"] + " · " if g["label"] else "") + g["device"]


def _variant(label, bind_kwargs, groups):
    roles, planned, naive, dedicated, total = {}, 0, 0, 0, 0
    for g in groups:
        for role, b in _role_bytes(g).items():
            if role in ("argument", "gradient", "auxiliary"):
                roles[role] = roles.get(role, 0) + b
        s = g["summary"]
        planned += s["intermediate_planned_bytes"]
        naive += s["intermediate_naive_bytes"]
        dedicated += s["dedicated_bytes"]
        total += s["total_bytes"]
    settings = {k: (v if isinstance(v, (str, bool, int, float)) else repr(v))
                for k, v in bind_kwargs.items() if k not in ("data_shapes", "label_shapes")}
    shapes = ", ".join(f"{d[0]} {shape_str(d[1])}" for d in bind_kwargs.get("data_shapes") or [])
    return {"label": label, "shapes": shapes, "settings": settings,
            "bytes": {"argument": roles.get("argument", 0),
                      "gradient": roles.get("gradient", 0),
                      "auxiliary": roles.get("auxiliary", 0),
                      "output": dedicated, "intermediate": planned},
            "intermediate_naive": naive, "total": total,
            "devices": {_glabel(g): g["summary"]["total_bytes"] for g in groups}}


class MemoryComparison(View):
    """Executor memory of several bindings of one symbol, as stacked bars (arguments,
    gradients, aux, outputs, planned intermediates) — built by :meth:`MemoryMap.compare` or
    :meth:`MemoryMap.sweep`. ``model['variants']`` holds the numbers.

    See notebook 14.
    """

    title = "Executor memory by variant"

    def __init__(self, variants, **kwargs):
        super().__init__(None, **kwargs)
        self.model["variants"] = list(variants)

    def empty_model(self):
        return {"variants": []}

    def total(self, label):
        """Total bytes of the variant called ``label``."""
        for v in self.model["variants"]:
            if v["label"] == label:
                return v["total"]
        raise KeyError(f"no variant {label!r}; variants: "
                       f"{[v['label'] for v in self.model['variants']]}")

    def render(self):
        variants = self.model["variants"]
        if not variants:
            return note("no variants")
        stack = ("argument", "gradient", "auxiliary", "output", "intermediate")
        label_w, bar_w, rh = 230, 380, 20
        top = max(v["total"] for v in variants) or 1
        svg = Svg(label_w + bar_w + 110, 10 + rh * len(variants), label="memory by variant")
        for i, v in enumerate(variants):
            y = 6 + i * rh
            svg.text(label_w - 6, y + 13, v["label"], anchor="end", size=11)
            x = label_w
            for role in stack:
                w = bar_w * v["bytes"][role] / top
                if w > 0:
                    svg.rect(x, y + 2, w, rh - 6, ROLE_COLORS[role], class_=f"mxt-{role}")
                x += w
            svg.text(x + 6, y + 13, fmt_bytes(v["total"]), size=11, class_="mxt-total")
        legend = " ".join(f"{swatch(ROLE_COLORS[r])}{esc(r)}" for r in stack)
        rows = [[v["label"], v["shapes"], fmt_bytes(v["total"])] +
                [fmt_bytes(v["bytes"][r]) for r in stack] +
                [fmt_bytes(v["intermediate_naive"])] for v in variants]
        return (f"<div>{legend}</div>" + svg.tostring() +
                table(["variant", "data", "total", "arguments", "gradients", "aux", "outputs",
                       "intermediates (planned)", "intermediates without sharing"], rows))


def _legend():
    items = [f"{swatch(ROLE_COLORS[r])}{esc(r)}" for r in ROLE_ORDER]
    items.append(f"{swatch('#777777', hatched=True)}hatched: shares an arena (planner); a "
                 "line joins the buffers of one arena")
    items.append("dashed outline: array of another executor / the shared pool")
    return (f'<div style="color:{MUTED};font-size:11px;margin-bottom:4px">bar length ∝ bytes · '
            + " · ".join(items) + "</div>")
