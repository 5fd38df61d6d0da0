"""ChainView: a SequentialModule's members in order, the shapes at every junction, which members
take the labels, and where gradients flow."""
from __future__ import annotations

from ._base import View, exec_groups, module_kind
from ._svg import BORDER, DARK_INK, HIGHLIGHT, INK, MUTED, PAPER, Raw, Svg, note, shape_str, table

__all__ = ["ChainView"]

STAGE_COLORS = {"initial": "#bab0ac", "bound": "#76b7b2", "params_initialized": "#4e79a7",
                "optimizer_installed": "#59a14f"}
STAGE_SHORT = {"initial": "initial", "bound": "bound", "params_initialized": "params ready",
               "optimizer_installed": "optimizer ready"}
GRAD_COLOR = "#e15759"


def _pairs(descs):
    out = []
    for d in descs or []:
        if hasattr(d, "name"):
            out.append([d.name, [int(x) for x in d.shape]])
        else:
            out.append([d[0], [int(x) for x in d[1]]])
    return out


def _param_count(module):
    """Numbers in the member's parameters, from its bound executor (None if unknown)."""
    kind = module_kind(module)
    if kind == "other":
        params = module.get_params() if module.binded and hasattr(module, "get_params") and \
            module.params_initialized else None
        if params is None:
            return 0 if hasattr(module, "_compute_output_shapes") else None
        return sum(int(v.size) for v in params[0].values())
    groups = exec_groups(module, current_only=True)
    if not groups:
        return None
    group = groups[0][1]
    exe = group.execs[0]
    return sum(int(exe.arg_dict[n].size) for n in group.param_names)


class ChainView(View):
    """A SequentialModule as a chain of boxes: each member with its type, data and label
    names, stage and parameter count; the shapes carried across every junction (after bind);
    an arrow from the labels into each member added with ``take_labels=True``; and the
    gradient path back through the members that get input gradients (``inputs_need_grad``,
    which the chain turns on for every member after the first when training).

    Pitfalls made visible: no member taking labels (the metric never updates), a member
    whose inputs get no gradient (backward stops there), members at different stages.

    Model: ``bound``, ``for_training``, ``inputs_need_grad``, ``label_shapes``, ``members``
    (dicts: index, type, symbol, data_names, label_names, output_names, take_labels,
    auto_wiring, stage, bound, for_training, inputs_need_grad, params, in_shapes,
    out_shapes, forwards, backwards, updates), ``junctions`` (dicts: to, shapes, renamed,
    gradient), ``active`` (last forward/backward: {'kind', 'index'}), ``warnings``.

    See notebook 09.
    """

    title = "Chain"
    kinds = ("add", "bind", "reshape", "init_params", "set_params", "init_optimizer",
             "forward", "backward", "update")

    def empty_model(self):
        return {"bound": False, "for_training": None, "inputs_need_grad": False,
                "label_shapes": [], "members": [], "junctions": [], "active": None,
                "warnings": [], "stage": "initial"}

    @classmethod
    def applies_to(cls, module):
        return module_kind(module) == "sequential"

    def attach(self, module):
        if module_kind(module) != "sequential":
            raise TypeError(f"ChainView watches a SequentialModule; got {type(module).__name__}")
        return super().attach(module)

    def heading(self):
        m = self.model
        return f"Chain of {len(m['members'])} module(s) · {m['stage']}"

    # -- reading --------------------------------------------------------------------------------
    def read(self, module):
        m = self.model
        members = module.modules
        metas = module.metas
        old = {mm["index"]: mm for mm in m["members"]}
        m["bound"] = bool(module.binded)
        m["stage"] = module.stage
        m["for_training"] = bool(module.for_training) if module.binded else None
        m["inputs_need_grad"] = bool(module.inputs_need_grad)
        m["label_shapes"] = _pairs(module.label_shapes) if module.binded else []
        junctions = {j[0]: j for j in module.junctions()} if module.binded else {}
        rows = []
        for i, (mod, meta) in enumerate(zip(members, metas)):
            j = junctions.get(i)
            symbol = getattr(mod, "symbol", None)
            label_names = getattr(mod, "label_names", None)
            if label_names is None:
                label_names = getattr(mod, "_label_names", None) or []
            prev = old.get(i, {})
            rows.append({
                "index": i, "type": type(mod).__name__,
                "symbol": symbol.name if symbol is not None and hasattr(symbol, "name")
                else None,
                "data_names": list(mod.data_names), "label_names": list(label_names),
                "output_names": list(mod.output_names),
                "take_labels": bool(meta.get("take_labels", False)),
                "auto_wiring": bool(meta.get("auto_wiring", False)),
                "stage": mod.stage, "bound": bool(mod.binded),
                "for_training": bool(mod.for_training) if mod.binded else None,
                "inputs_need_grad": bool(mod.inputs_need_grad) if mod.binded else None,
                "params": _param_count(mod),
                "in_shapes": [[n, list(s)] for n, s in j[2]] if j else [],
                "out_shapes": _pairs(j[3]) if j else [],
                "forwards": prev.get("forwards", 0), "backwards": prev.get("backwards", 0),
                "updates": prev.get("updates", 0)})
        m["members"] = rows
        self._index = {id(mod): i for i, mod in enumerate(members)}
        m["junctions"] = self._junctions(rows)
        m["warnings"] = self._warnings(rows)

    def _junctions(self, rows):
        m = self.model
        out = []
        for r in rows:
            i = r["index"]
            if i == 0:
                grad = bool(m["for_training"]) and bool(r["inputs_need_grad"])
                out.append({"to": 0, "shapes": r["in_shapes"], "renamed": {},
                            "gradient": grad})
                continue
            before = rows[i - 1]
            renamed = {}
            if r["auto_wiring"] and before["out_shapes"]:
                renamed = {o: n for (o, _), n in zip(before["out_shapes"], r["data_names"])
                           if o != n}
            out.append({"to": i, "shapes": r["in_shapes"], "renamed": renamed,
                        "gradient": bool(r["for_training"]) and bool(r["inputs_need_grad"])})
        return out

    def _warnings(self, rows):
        m = self.model
        out = []
        if rows and not any(r["take_labels"] for r in rows):
            out.append("No member was added with take_labels=True: no module sees the "
                       "labels, so update_metric() updates nothing and fit() reports an "
                       "empty metric. Add the loss module with take_labels=True.")
        if m["bound"] and m["for_training"]:
            stopped = [j["to"] for j in m["junctions"] if j["to"] > 0 and not j["gradient"]]
            if stopped:
                out.append(f"No input gradient in member(s) {stopped}: backward stops there "
                           "and the members before them are not trained.")
        stages = {r["stage"] for r in rows}
        if len(stages) > 1:
            out.append("Members are at different stages (" +
                       ", ".join(f"{r['index']}: {r['stage']}" for r in rows) +
                       "); the chain's own calls (init_params, init_optimizer) bring them "
                       "together.")
        return out

    def update(self, event):
        m = self.model
        idx = getattr(self, "_index", {}).get(id(event.source))
        if event.kind in ("forward", "backward", "update") and idx is not None:
            member = m["members"][idx]
            key = {"forward": "forwards", "backward": "backwards", "update": "updates"}[
                event.kind]
            member[key] += 1
            if event.kind != "update":
                m["active"] = {"kind": event.kind, "index": idx}
            return True
        if event.kind in ("forward", "backward", "update"):
            return False
        self.read(self.module)
        return True

    # -- drawing --------------------------------------------------------------------------------
    def render(self):
        m = self.model
        if not m["members"]:
            return note("The chain is empty: add modules with seq.add(module, "
                        "take_labels=..., auto_wiring=...).")
        parts = []
        if not m["bound"]:
            parts.append(note("Not bound yet: bind() binds the members in order, feeding each "
                              "one's output shapes to the next; the shapes at every junction "
                              "appear then."))
        parts.append(f"<div class='mxt-chain-svg' style='overflow-x:auto'>{self._svg()}</div>")
        parts += [note(w, "warn") for w in m["warnings"]]
        parts.append(self._table())
        flow = [j for j in m["junctions"] if j["gradient"]]
        if m["bound"] and m["for_training"]:
            parts.append(note(
                "Backward runs from the last member to the first: each member's "
                "get_input_grads() becomes the previous member's out_grads. " +
                ("Gradient reaches the chain's input (inputs_need_grad=True)."
                 if m["junctions"] and m["junctions"][0]["gradient"] else
                 "The first member's inputs get no gradient (bind the chain with "
                 "inputs_need_grad=True to read it).") +
                f" {len(flow)} junction(s) carry gradient."))
        return "".join(parts)

    def _svg(self):
        m = self.model
        rows = m["members"]
        box_w, box_h, gap, in_r = 150, 64, 110, 22
        top = 46
        x_in = 8 + 2 * in_r                      # right edge of the input circle

        def box_x(i):
            return x_in + gap + i * (box_w + gap)

        out_len = 0.7 * gap
        width = box_x(len(rows) - 1) + box_w + out_len + 20
        height = top + box_h + 46
        svg = Svg(width, height, label="sequential chain")
        cy = top + box_h / 2
        svg.circle(8 + in_r, cy, in_r, "#8dd3c7", class_="mxt-chain-input")
        svg.text(8 + in_r, cy + 4, "data", size=11, anchor="middle", fill=DARK_INK)
        active = m["active"]
        for r in rows:
            i = r["index"]
            x = box_x(i)
            is_active = active is not None and active["index"] == i
            stroke = HIGHLIGHT if is_active else BORDER
            svg.rect(x, top, box_w, box_h, PAPER, stroke=stroke,
                     stroke_width="3" if is_active else "1", rx="5",
                     class_="mxt-member" + (" mxt-active" if is_active else ""))
            svg.rect(x, top, 6, box_h, STAGE_COLORS.get(r["stage"], MUTED))
            svg.text(x + 12, top + 15, f"{i} · {r['type']}", size=11, weight="600")
            svg.text(x + 12, top + 30, r["symbol"] or ", ".join(r["output_names"]), size=10,
                     fill=MUTED)
            params = "params ?" if r["params"] is None else f"params {r['params']:,}"
            svg.text(x + 12, top + 44, params, size=10)
            svg.text(x + 12, top + 58, STAGE_SHORT.get(r["stage"], r["stage"]), size=10,
                     fill=INK)      # the coloured bar on the left carries the stage colour
            x0 = x_in if i == 0 else box_x(i - 1) + box_w
            svg.line(x0 + 2, cy - 8, x - 2, cy - 8, stroke=INK, width=1.3)
            svg.arrow_head(x - 1, cy - 8, 1, 0)
            j = m["junctions"][i] if i < len(m["junctions"]) else None
            if j and j["shapes"]:
                text = ", ".join(shape_str(s) for _, s in j["shapes"])
                svg.text((x0 + x) / 2, cy - 13, text, size=10, anchor="middle",
                         class_="mxt-junction-shape")
                names = ", ".join(n for n, _ in j["shapes"])
                if j["renamed"]:
                    names = ", ".join(f"{a}→{b}" for a, b in j["renamed"].items())
                svg.text((x0 + x) / 2, cy + 6, names, size=9, anchor="middle", fill=MUTED)
            if m["bound"] and m["for_training"]:
                if j and j["gradient"]:
                    svg.line(x - 2, cy + 16, x0 + 3, cy + 16, stroke=GRAD_COLOR, width=1.3,
                             stroke_dasharray="4,3", class_="mxt-grad-flow")
                    svg.arrow_head(x0 + 2, cy + 16, -1, 0, color=GRAD_COLOR)
                    svg.text((x0 + x) / 2, cy + 28, "gradient", size=9, anchor="middle",
                             fill=GRAD_COLOR)
                else:
                    svg.text((x0 + x) / 2, cy + 28, "no gradient", size=9, anchor="middle",
                             fill=MUTED, class_="mxt-no-grad")
            if r["take_labels"]:
                lx = x + box_w / 2
                label_text = ", ".join(shape_str(s) for _, s in m["label_shapes"]) or \
                    ", ".join(r["label_names"]) or "labels"
                svg.rect(lx - 60, 4, 120, 18, "#e8a33d", fill_opacity="0.2", stroke="#e8a33d",
                         rx="3",
                         class_="mxt-labels")
                svg.text(lx, 17, f"labels {label_text}", size=9, anchor="middle")
                svg.line(lx, 22, lx, top - 2, stroke="#e8a33d", width=1.3)
                svg.arrow_head(lx, top - 1, 0, 1, color="#e8a33d")
        x_last = box_x(len(rows) - 1) + box_w
        svg.line(x_last + 2, cy - 8, x_last + out_len, cy - 8, stroke=INK, width=1.3)
        svg.arrow_head(x_last + out_len + 1, cy - 8, 1, 0)
        if rows[-1]["out_shapes"]:
            svg.text(x_last + out_len / 2, cy - 13,
                     ", ".join(shape_str(s) for _, s in rows[-1]["out_shapes"]), size=10,
                     anchor="middle")
        svg.text(x_last + out_len / 2, cy + 6, "outputs", size=9, anchor="middle",
                 fill=MUTED)
        legend_y = height - 8
        svg.text(4, legend_y, "stage:", size=9, fill=MUTED)
        lx = 40
        for stage, color in STAGE_COLORS.items():
            svg.rect(lx, legend_y - 8, 8, 8, color)
            svg.text(lx + 11, legend_y, STAGE_SHORT[stage], size=9, fill=MUTED)
            lx += 18 + 5 * len(STAGE_SHORT[stage])
        return svg.tostring()

    def _table(self):
        rows = []
        for r in self.model["members"]:
            ing = "—" if r["inputs_need_grad"] is None else ("yes" if r["inputs_need_grad"]
                                                             else "no")
            rows.append([r["index"], r["type"], ", ".join(r["data_names"]),
                         ", ".join(r["label_names"]) or "—",
                         ", ".join(r["output_names"]),
                         Raw("<b>yes</b>") if r["take_labels"] else "no",
                         "yes" if r["auto_wiring"] else "no",
                         ", ".join(f"{n} {shape_str(s)}" for n, s in r["in_shapes"]) or "?",
                         ", ".join(f"{n} {shape_str(s)}" for n, s in r["out_shapes"]) or "?",
                         ing, r["stage"],
                         "?" if r["params"] is None else f"{r['params']:,}",
                         f"{r['forwards']}/{r['backwards']}/{r['updates']}"])
        return table(["#", "type", "data_names", "label_names", "outputs", "takes labels",
                      "auto_wiring", "data in", "out", "inputs_need_grad", "stage", "params",
                      "fwd/bwd/upd"], rows, cls="mxt-table mxt-chain")
