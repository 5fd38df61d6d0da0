"""Graph nodes, topological order and MXNet's JSON graph format."""
from __future__ import annotations

import json

from ..base import MXNetError
from ..ops import registry
from ..ops.registry import format_param

MXNET_VERSION = 10901


class Node:
    """One graph node: an operator application, or a variable when ``op is None``.

    ``params`` are the parsed operator parameters, ``raw`` the ones the user gave (as MXNet
    writes only those into JSON), ``inputs`` a list of (node, output index), ``attr`` user
    attributes such as ``__shape__`` or ``__lr_mult__``.
    """
    __slots__ = ("op", "name", "params", "raw", "inputs", "attr", "__weakref__")

    def __init__(self, op, name, params=None, raw=None, inputs=(), attr=None):
        self.op = op
        self.name = name
        self.params = params or {}
        self.raw = raw or {}
        self.inputs = list(inputs)
        self.attr = dict(attr or {})

    @property
    def is_variable(self):
        return self.op is None

    def num_outputs(self):
        return 1 if self.op is None else len(self.op.list_outputs(self.params))

    def output_names(self):
        if self.op is None:
            return [self.name]
        return [f"{self.name}_{o}" for o in self.op.list_outputs(self.params)]

    def input_names(self):
        return self.op.list_arguments(self.params) + self.op.list_aux(self.params)

    def num_args(self):
        return len(self.op.list_arguments(self.params))

    def all_attrs(self):
        """Parameters and attributes as strings, the way MXNet lists them."""
        out = {k: v if isinstance(v, str) else format_param(v) for k, v in self.raw.items()}
        out.update(self.attr)
        return dict(sorted(out.items()))

    def __repr__(self):
        return f"<Node {self.op.name if self.op else 'null'} {self.name}>"


def topo_order(heads):
    """Nodes reachable from ``heads`` (list of (node, idx)), inputs before users, in MXNet's
    depth-first post-order (this fixes the order of list_arguments)."""
    order, seen = [], set()
    for head, _ in heads:
        stack = [(head, iter(head.inputs))]
        if id(head) in seen:
            continue
        seen.add(id(head))
        while stack:
            node, it = stack[-1]
            for child, _ in it:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def aux_variable_ids(order):
    """ids of variable nodes used as auxiliary states (moving_mean, ...)."""
    aux = set()
    for node in order:
        if node.op is None:
            continue
        n_args = node.num_args()
        for i, (child, _) in enumerate(node.inputs):
            if i >= n_args and child.op is None:
                aux.add(id(child))
    return aux


def to_json(heads):
    order = topo_order(heads)
    index = {id(n): i for i, n in enumerate(order)}
    aux = aux_variable_ids(order)
    nodes, row_ptr = [], [0]
    for node in order:
        entry = {"op": "null" if node.op is None else node.op.name, "name": node.name}
        attrs = node.all_attrs()
        if attrs:
            entry["attrs"] = attrs
        n_args = 0 if node.op is None else node.num_args()
        entry["inputs"] = [[index[id(c)], i, 1 if (k >= n_args and id(c) in aux) else 0]
                           for k, (c, i) in enumerate(node.inputs)]
        nodes.append(entry)
        row_ptr.append(row_ptr[-1] + node.num_outputs())
    graph = {
        "nodes": nodes,
        "arg_nodes": [i for i, n in enumerate(order) if n.op is None],
        "node_row_ptr": row_ptr,
        "heads": [[index[id(n)], i, 0] for n, i in heads],
        "attrs": {"mxnet_version": ["int", MXNET_VERSION]},
    }
    return json.dumps(graph, indent=2)


def from_json(text, source="<json>"):
    """Parse MXNet symbol JSON (1.x ``attrs``, and the older ``param``/``attr`` keys)."""
    from .validate import check_graph, parse_json
    # every malformed input fails in the validator, before a node is built (issue 9)
    graph = check_graph(parse_json(text, source), source)
    raw_nodes, heads = graph["nodes"], graph["heads"]
    nodes = []
    for k, entry in enumerate(raw_nodes):
        try:
            opname, name = entry["op"], entry["name"]
            attrs = dict(entry.get("attrs") or {})
            attrs.update(entry.get("param") or {})
            attrs.update(entry.get("attr") or {})
            inputs = [(nodes[e[0]], e[1]) for e in entry.get("inputs", [])]
        except (KeyError, IndexError, TypeError) as err:
            raise MXNetError(f"{source}: node {k} is malformed ({err})") from None
        if opname == "null":
            nodes.append(Node(None, name, attr=attrs))
            continue
        op = registry.get(opname)
        raw = {key: v for key, v in attrs.items() if key in op.params}
        user = {key: v for key, v in attrs.items() if key not in op.params}
        params = registry.parse_params(op, raw, name)
        op = op.extra["specialise"](params) if "specialise" in op.extra else op  # Custom losses
        nodes.append(Node(op, name, params, raw, inputs, user))
    try:
        return [(nodes[h[0]], h[1]) for h in heads]
    except (IndexError, TypeError) as err:
        raise MXNetError(f"{source}: bad heads entry ({err})") from None
