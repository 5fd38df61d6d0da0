"""ParamTable: per parameter grad_req, fixed or trained, lr_mult/wd_mult; per input whether it
gets a gradient buffer and where it sits in get_input_grads()."""
from __future__ import annotations

import json

from mxteach import optimizer as _opt

from ._base import View, exec_groups, module_kind
from ._svg import MUTED, esc, fmt_value, note, shape_str, table
from .row_heat import RowHeat, heat_strip

__all__ = ["ParamTable"]

# operators whose input at the given position takes integer indices (no gradient flows there)
INDEX_INPUTS = {"Embedding": 0}


def _consumers(symbol):
    """{variable name: [(op, node name, input position)]} from the symbol's JSON graph."""
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    out = {}
    for node in nodes:
        if node["op"] == "null":
            continue
        for pos, (src, _, *_rest) in enumerate(node["inputs"]):
            if nodes[src]["op"] == "null":
                out.setdefault(nodes[src]["name"], []).append((node["op"], node["name"], pos))
    return out


def _units(module):
    """``[(label, module-like)]``: the plain Modules whose parameters the table lists."""
    kind = module_kind(module)
    if kind == "sequential":
        out = []
        for i, member in enumerate(module.modules):
            for label, unit in _units(member):
                out.append((f"module {i}" + (f" · {label}" if label else ""), unit))
        return out
    if kind == "bucketing":
        if module.binded:
            key = module.current_bucket_key
            return [(f"bucket {key!r}", module.buckets[key])]
        return [(f"bucket {module.default_bucket_key!r} (default)", module)]
    return [("", module)] if getattr(module, "symbol", None) is not None else []


def _storage(p):
    return f"{p['stype'] or '?'} / {p['grad_stype'] or 'none'}"


class ParamTable(View):
    """Every parameter with its shape, ``grad_req``, fixed or trained, and its learning-rate
    and weight-decay multipliers; auxiliary states; and every input with its gradient buffer
    and its position in ``get_input_grads()`` (labelled by name).

    Pitfalls made visible: ``fixed_param_names`` (no gradient buffer, never updated), the
    default ``wd_mult`` of 0 for names not ending in ``_weight``/``_gamma`` (biases, BatchNorm
    beta), ``__lr_mult__``/``__wd_mult__`` symbol attributes, ``inputs_need_grad`` (which data
    inputs get gradient buffers; labels never do), Embedding's data input (indices: its
    gradient is all zeros).

    Sparse storage (notebook 15): each parameter's storage type and its gradient's, the rows
    a row_sparse weight stores on the device against its full row count, and for row_sparse
    gradients a heat strip of the rows each batch touched (from the ``backward`` events).

    Parameters
    ----------
    module : BaseModule
    optimizer : Optimizer, optional
        The optimizer object you gave ``fit``/``init_optimizer``: its multipliers (including
        ``set_lr_mult``/``set_wd_mult`` calls) and rates are shown. Without it the multipliers
        are those a fresh optimizer of the installed kind reads from the symbol (the core does
        not expose the installed optimizer object).

    Model: ``params`` (name, module, shape, size, grad_req, fixed, lr_mult, wd_mult, lr, wd,
    stype, grad_stype, stored_rows, num_rows), ``aux``, ``inputs`` (name, kind, shape,
    grad_req, buffer, position, note), ``optimizer``, ``row_heat`` (see
    ``mxteach/widgets/row_heat.py``).

    See notebook 05.
    """

    title = "Parameters and inputs"
    kinds = ("bind", "reshape", "init_params", "init_optimizer", "borrow_optimizer",
             "switch_bucket", "add", "backward")

    def __init__(self, module=None, *, optimizer=None, **kwargs):
        self._optimizer = optimizer
        self._opt_name = None
        self._heat = RowHeat()
        super().__init__(module, **kwargs)

    def empty_model(self):
        return {"params": [], "aux": [], "inputs": [], "optimizer": None, "bound": False,
                "inputs_need_grad": False, "for_training": None, "row_heat": {}}

    def update(self, event):
        if event.kind == "backward":
            if not self._heat.observe(event.data.get("sparse_grads")):
                return False
            self.model["row_heat"] = self._heat.model
            self._refresh_stored_rows()        # prepare() pulled this batch's rows
            return True
        if event.kind == "bind":
            self._heat.reset()
        if event.kind == "init_optimizer" and "optimizer" in event.data:
            self._opt_name = event.data["optimizer"]
        if event.kind == "switch_bucket" and not event.data.get("newly_bound") and \
                module_kind(self.module) != "bucketing":
            return False
        self.read(self.module)
        return True

    def read(self, module):
        m = self.model
        params, aux, inputs = [], [], []
        m["bound"] = bool(module.binded)
        m["inputs_need_grad"] = bool(module.inputs_need_grad)
        m["for_training"] = bool(module.for_training) if module.binded else None
        opt_info = None
        for label, unit in _units(module):
            p, a, i, opt_info = self._read_unit(label, unit)
            params += p
            aux += a
            inputs += i
        m.update(params=params, aux=aux, inputs=inputs, optimizer=opt_info)

    def _refresh_stored_rows(self):
        arrays = {}
        for _, unit in _units(self.module):
            for _, group in (exec_groups(unit, current_only=True) if unit.binded else []):
                arrays.update(group.execs[0].arg_dict)
        for p in self.model["params"]:
            arr = arrays.get(p["name"])
            if arr is not None and arr.stype == "row_sparse":
                p["stored_rows"] = int(arr.indices.shape[0])

    def _optimizer_for(self, unit, param_names):
        if self._optimizer is not None:
            opt = self._optimizer
            return opt, {"name": type(opt).__name__, "source": "the optimizer you gave",
                         "lr": opt.lr, "wd": opt.wd, "rescale_grad": opt.rescale_grad}
        name = self._opt_name or "sgd"
        opt = _opt.create(name, sym=unit.symbol,
                          param_idx2name=dict(enumerate(param_names)))
        source = (f"multipliers of a fresh {name!r} optimizer for this symbol"
                  + ("" if self._opt_name else " (none installed yet; sgd assumed)"))
        return opt, {"name": name, "source": source, "lr": None, "wd": None,
                     "rescale_grad": None}

    def _read_unit(self, label, unit):
        symbol = unit.symbol
        args = symbol.list_arguments()
        data_names = list(unit.data_names)
        label_names = [n for n in getattr(unit, "label_names", []) if n in args]
        groups = [g for _, g in exec_groups(unit, current_only=True)] if unit.binded else []
        group = groups[0] if groups else None
        state_names = list(group.state_names) if group is not None else []
        inputs_set = set(data_names) | set(label_names) | set(state_names)
        param_names = [n for n in args if n not in inputs_set]
        exe = group.execs[0] if group is not None else None
        opt, opt_info = self._optimizer_for(unit, param_names)
        params = []
        for idx, name in enumerate(param_names):
            shape = list(exe.arg_dict[name].shape) if exe is not None else None
            req = group.grad_req.get(name) if group is not None else None
            fixed = group is not None and name in group.fixed_param_names
            lr_mult = float(opt.lr_mult.get(idx, opt.lr_mult.get(name, 1.0)))
            wd_mult = float(opt.wd_mult.get(idx, opt.wd_mult.get(name, 1.0)))
            size = 1
            for d in shape or []:
                size *= int(d)
            arr = exe.arg_dict[name] if exe is not None else None
            grad = exe.grad_dict.get(name) if exe is not None else None
            params.append({"name": name, "module": label, "shape": shape,
                           "stype": arr.stype if arr is not None else None,
                           "grad_stype": grad.stype if grad is not None else None,
                           "stored_rows": (int(arr.indices.shape[0]) if arr is not None and
                                           arr.stype == "row_sparse" else None),
                           "num_rows": int(shape[0]) if shape else None,
                           "size": size if shape is not None else None, "grad_req": req,
                           "fixed": fixed, "lr_mult": lr_mult, "wd_mult": wd_mult,
                           "lr": (opt_info["lr"] * lr_mult if opt_info["lr"] is not None
                                  else None),
                           "wd": (opt_info["wd"] * wd_mult if opt_info["wd"] is not None
                                  else None)})
        aux = [{"name": n, "module": label,
                "shape": list(exe.aux_dict[n].shape) if exe is not None else None}
               for n in symbol.list_auxiliary_states()]
        consumers = _consumers(symbol)
        shapes = {}
        if unit.binded:
            for d in list(unit.data_shapes) + list(unit.label_shapes or []):
                shapes[d[0]] = list(d[1])
        with_grad = [n for n in data_names if exe is not None and n in exe.grad_dict] \
            if unit.inputs_need_grad else []
        inputs = []
        for name in data_names + label_names + state_names:
            kind = "data" if name in data_names else ("label" if name in label_names
                                                      else "state")
            req = group.grad_req.get(name) if group is not None else None
            notes = []
            for op, node, pos in consumers.get(name, []):
                if INDEX_INPUTS.get(op) == pos:
                    notes.append(f"{op} '{node}' takes indices here: no gradient flows, "
                                 "its gradient buffer stays all zeros")
            if kind == "label":
                notes.append("labels never get a gradient")
            inputs.append({"name": name, "module": label, "kind": kind,
                           "shape": shapes.get(name), "grad_req": req,
                           "buffer": name in with_grad,
                           "position": with_grad.index(name) if name in with_grad else None,
                           "consumers": [f"{op} '{node}'" for op, node, _ in
                                         consumers.get(name, [])],
                           "note": "; ".join(notes)})
        return params, aux, inputs, opt_info

    # -- drawing ------------------------------------------------------------------------------
    def render(self):
        m = self.model
        parts = []
        if not m["bound"]:
            parts.append(note("Not bound yet: names come from the symbol; shapes, grad_req and "
                              "fixed parameters are decided by bind()."))
        multi = len({p["module"] for p in m["params"]}) > 1
        sparse = any(p.get("stype") not in (None, "default") or
                     p.get("grad_stype") not in (None, "default") for p in m["params"])
        rows = []
        for p in m["params"]:
            trained = "—" if p["grad_req"] is None else (
                "fixed" if p["fixed"] else ("no" if p["grad_req"] == "null" else "trained"))
            row = [p["name"], shape_str(p["shape"]) if p["shape"] is not None else "?",
                   f"{p['size']:,}" if p["size"] is not None else "?",
                   p["grad_req"] or "—", trained, fmt_value(p["lr_mult"]),
                   fmt_value(p["wd_mult"])]
            if m["optimizer"] and m["optimizer"]["lr"] is not None:
                row += [fmt_value(p["lr"]), fmt_value(p["wd"])]
            if sparse:
                row += [_storage(p), "—" if p["stored_rows"] is None else
                        f"{p['stored_rows']:,} of {p['num_rows']:,}"]
            rows.append(([p["module"]] if multi else []) + row)
        head = (["module"] if multi else []) + ["parameter", "shape", "size", "grad_req",
                                                "trained", "lr_mult", "wd_mult"]
        if m["optimizer"] and m["optimizer"]["lr"] is not None:
            head += ["lr", "wd"]
        if sparse:
            head += ["storage (weight / gradient)", "rows stored"]
        total = sum(p["size"] or 0 for p in m["params"])
        trained_total = sum(p["size"] or 0 for p in m["params"]
                            if p["grad_req"] not in (None, "null"))
        caption = f"{len(m['params'])} parameters"
        if m["bound"]:
            caption += f": {total:,} numbers, {trained_total:,} trained (from the bound executor)"
        parts.append(f"<div style='font-weight:600;margin:4px 0'>{esc(caption)}</div>")
        parts.append(table(head, rows))
        fixed = [p["name"] for p in m["params"] if p["fixed"]]
        if fixed:
            parts.append(note(f"fixed_param_names {fixed}: no gradient buffer; the optimizer "
                              "never changes them.", "warn"))
        no_wd = [p["name"] for p in m["params"] if p["wd_mult"] == 0]
        if no_wd:
            parts.append(note(f"wd_mult 0 for {no_wd}: by default only names ending in "
                              "_weight or _gamma get weight decay (biases and BatchNorm beta "
                              "do not)."))
        special = [p["name"] for p in m["params"] if p["lr_mult"] != 1]
        if special:
            parts.append(note(f"lr_mult ≠ 1 for {special} (symbol attribute __lr_mult__ or "
                              "set_lr_mult)."))
        if m["optimizer"]:
            parts.append(f"<div style='color:{MUTED}'>Multipliers: {esc(m['optimizer']['source'])}"
                         "</div>")
        if m["aux"]:
            parts.append("<div style='font-weight:600;margin:6px 0 2px'>Auxiliary states</div>"
                         + table((["module"] if multi else []) + ["state", "shape", "updated by"],
                                 [([a["module"]] if multi else []) +
                                  [a["name"], shape_str(a["shape"]) if a["shape"] else "?",
                                   "the operator while training (BatchNorm: in backward), "
                                   "not the optimizer"]
                                  for a in m["aux"]]))
        if m["row_heat"]:
            parts.append("<div style='font-weight:600;margin:6px 0 2px'>Rows touched by "
                         "row_sparse gradients</div>")
            parts.extend(heat_strip(name, entry) for name, entry in m["row_heat"].items())
        parts.append(self._inputs_html(multi))
        return "".join(parts)

    def _inputs_html(self, multi):
        m = self.model
        rows = []
        first = m["inputs"][0]["module"] if m["inputs"] else ""
        for i in m["inputs"]:
            pos = ""
            if i["position"] is not None:
                owner = "" if i["module"] == first else f"{i['module']}."
                pos = f"{owner}get_input_grads()[{i['position']}]"
            rows.append(([i["module"]] if multi else []) +
                        [i["name"], i["kind"], shape_str(i["shape"]) if i["shape"] else "?",
                         i["grad_req"] or "—", "yes" if i["buffer"] else "no", pos,
                         ", ".join(i["consumers"]), i["note"]])
        html = ("<div style='font-weight:600;margin:6px 0 2px'>Inputs</div>" +
                table((["module"] if multi else []) +
                      ["input", "kind", "shape", "grad_req", "gradient buffer",
                       "position", "used by", "note"], rows))
        if m["bound"] and not m["inputs_need_grad"]:
            html += note("bind(inputs_need_grad=False): no input gets a gradient buffer; "
                         "get_input_grads() raises.")
        elif m["inputs_need_grad"]:
            order = [i["name"] for i in m["inputs"]
                     if i["position"] is not None and i["module"] == first]
            html += note(f"get_input_grads() returns {len(order)} array(s), in data_names "
                         f"order: {order}. Label each by name: "
                         "dict(zip(names, mod.get_input_grads())).")
        return html
