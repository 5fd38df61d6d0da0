"""Building an executor's plan at bind time: the steps to run, which gradients are needed and
when every buffer lives. Executor (executor.py) only runs what this file decides."""
from __future__ import annotations

from ..base import MXNetError
from ..symbol.graph import aux_variable_ids, topo_order
from .memory import Request


class GraphPlan:
    """Static facts about a bound graph: nodes, entries, gradient flow and buffer lifetimes."""

    def __init__(self, heads, shapes, types, grad_reqs):
        self.heads = heads
        self.order = topo_order(heads)
        aux = aux_variable_ids(self.order)
        self.arg_nodes = [n for n in self.order if n.op is None and id(n) not in aux]
        self.aux_nodes = [n for n in self.order if n.op is None and id(n) in aux]
        self.op_nodes = [n for n in self.order if n.op is not None]
        self.shapes, self.types = shapes, types
        self.grad_reqs = grad_reqs      # arg name -> write/add/null
        self._gradient_flow()

    def entry_shape(self, node, i):
        if (id(node), i) not in self.shapes:    # e.g. contrib.boolean_mask: sized by values
            raise MXNetError(f"bind: cannot infer the shape of output {i} of {node.op.name} "
                             f"'{node.name}' from the argument shapes (MXNet: \"InferShape pass "
                             "cannot decide shapes\")")
        return self.shapes[(id(node), i)]

    def entry_type(self, node, i):
        return self.types.get((id(node), i)) or "float32"

    def _gradient_flow(self):
        """Which entries need a gradient: those on a path to an argument with req != null."""
        need = {}
        for n in self.arg_nodes:
            need[(id(n), 0)] = self.grad_reqs.get(n.name, "null") != "null"
        for n in self.aux_nodes:
            need[(id(n), 0)] = False
        for n in self.op_nodes:
            k = n.num_args()
            flows = any(need.get((id(c), i), False) for c, i in n.inputs[:k])
            for j in range(n.num_outputs()):
                need[(id(n), j)] = flows
        self.needs_grad = need
        self.backward_nodes = [n for n in reversed(self.op_nodes)
                               if need[(id(n), 0)] and n.op.backward is not None]
        self.has_backward = bool(self.backward_nodes)
        missing = [n for n in self.op_nodes if need[(id(n), 0)] and n.op.backward is None]
        if missing:
            raise MXNetError(f"operator {missing[0].op.name} ('{missing[0].name}') has no "
                             "gradient; set grad_req='null' for the arguments below it")

    def buffer_requests(self):
        """One Request per op output and per intermediate gradient, with its lifetime."""
        fwd_step = {id(n): t for t, n in enumerate(self.op_nodes)}
        n_fwd = len(self.op_nodes)
        bwd_step = {id(n): n_fwd + t for t, n in enumerate(self.backward_nodes)}
        head_keys = {(id(n), i) for n, i in self.heads}
        last_use = {}
        grad_first = {}
        for n in self.op_nodes:
            for c, i in n.inputs:
                key = (id(c), i)
                last_use[key] = max(last_use.get(key, -1), fwd_step[id(n)])
                if "ins" in n.op.backward_uses and id(n) in bwd_step:
                    last_use[key] = max(last_use[key], bwd_step[id(n)])
                if id(n) in bwd_step and self.needs_grad.get(key):
                    grad_first[key] = min(grad_first.get(key, 1 << 30), bwd_step[id(n)])
        reqs = []
        for n in self.op_nodes:
            names = n.output_names()
            for j in range(n.num_outputs()):
                key = (id(n), j)
                end = last_use.get(key, fwd_step[id(n)])
                if "outs" in n.op.backward_uses and id(n) in bwd_step:
                    end = max(end, bwd_step[id(n)])
                is_head = key in head_keys
                reqs.append(Request(key, names[j], "output" if is_head else "intermediate",
                                    self.entry_shape(n, j), self.entry_type(n, j),
                                    fwd_step[id(n)], end, planned=not is_head))
                if id(n) in bwd_step and not n.op.loss:
                    gkey = ("grad",) + key
                    if is_head:
                        reqs.append(Request(gkey, names[j] + "_head_grad", "head_grad",
                                            self.entry_shape(n, j), self.entry_type(n, j),
                                            0, bwd_step[id(n)], planned=False))
                    else:
                        # an output nobody differentiates keeps a dedicated zero gradient
                        unused = key not in grad_first
                        start = grad_first.get(key, bwd_step[id(n)])
                        reqs.append(Request(gkey, names[j] + "_grad", "intermediate_grad",
                                            self.entry_shape(n, j), self.entry_type(n, j),
                                            start, bwd_step[id(n)], planned=not unused))
        return reqs
