"""``mx.viz``: a symbol's layers as a table (``print_summary``) and as a graph (``plot_network``).

Both read one structured description of the network, :func:`summarize`, which walks the graph
in topological order, infers every shape it can, and sorts each variable into data input,
label, parameter or auxiliary state. Parameter counts are the sizes of the parameters'
inferred shapes, not guesses from operator attributes (see :func:`print_summary` for where that
makes mxteach's numbers differ from MXNet's).

The core never needs graphviz: it is imported inside :func:`plot_network` only.
See notebook 01.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .base import MXNetError
from .symbol.graph import aux_variable_ids, topo_order
from .symbol.infer import check_names, infer_shapes, infer_types

__all__ = ["plot_network", "print_summary", "summarize", "network_graph", "Layer",
           "NetworkSummary"]

# Input roles under which a variable carries data or labels, never a trained parameter.
DATA_ROLES = ("data", "lhs", "rhs", "state", "state_cell", "indices", "a", "b", "x")
LABEL_ROLES = ("label",)
# Roles that always mean "parameter", even when the user passes a shape for them.
PARAM_ROLES = ("weight", "bias", "gamma", "beta", "parameters", "alpha")

# Fill colours by operator family (ColorBrewer Set3, the palette MXNet's plots use).
INPUT_COLOR = "#8dd3c7"
PARAM_COLOR = "#d9d9d9"
FAMILY_COLORS = {
    "FullyConnected": "#fb8072", "Convolution": "#fb8072", "Deconvolution": "#fb8072",
    "Embedding": "#fb8072", "RNN": "#fb8072",
    "Activation": "#ffffb3", "LeakyReLU": "#ffffb3", "relu": "#ffffb3", "sigmoid": "#ffffb3",
    "tanh": "#ffffb3",
    "BatchNorm": "#bebada",
    "Pooling": "#80b1d3",
    "Concat": "#fdb462", "Flatten": "#fdb462", "Reshape": "#fdb462",
    "Softmax": "#b3de69", "softmax": "#b3de69", "log_softmax": "#b3de69",
}
OTHER_COLOR = "#fccde5"


@dataclass
class Layer:
    """One node of the graph, as the summary and the plot show it.

    ``kind`` is ``'op'``, ``'data'``, ``'label'``, ``'param'`` or ``'aux'``. ``outputs`` are
    the output names (``fc1_output``: what a Monitor reports). ``inputs`` lists
    ``(node name, output index, role)``; ``previous`` the inputs that are layers themselves
    (operators and data inputs, not parameters). ``output_shapes`` hold full shapes (batch
    axis included) or None where unknown. ``params``/``aux`` list ``(name, shape or None)`` of
    the variables this operator owns; ``param_count`` counts each parameter once, at its first
    user (None if a shape is unknown); ``shared`` names parameters an earlier layer already
    counted.
    """
    name: str
    op: str
    kind: str
    label: str
    outputs: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    previous: list = field(default_factory=list)
    output_shapes: list = field(default_factory=list)
    output_types: list = field(default_factory=list)
    params: list = field(default_factory=list)
    aux: list = field(default_factory=list)
    param_count: int | None = 0
    aux_count: int | None = 0
    shared: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    @property
    def is_op(self):
        return self.kind == "op"


@dataclass
class NetworkSummary:
    """What :func:`summarize` returns: every layer in topological order, the variables by
    kind, and the totals (None when some parameter shape is unknown)."""
    layers: list
    data_names: list
    label_names: list
    param_shapes: dict
    aux_shapes: dict
    total_params: int | None
    total_aux: int | None
    shapes_known: bool
    given: dict

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named '{name}'; layers: {[l.name for l in self.layers]}")


def _size(shape):
    if shape is None:
        return None
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def _tuple_text(values, default):
    values = tuple(values) if values else tuple(default)
    return "x".join(str(int(v)) for v in values)


def _op_label(node):
    """The text MXNet's plots put on an operator node (with a little more detail)."""
    p, op = node.params, node.op.name
    if op == "Convolution":
        kernel = tuple(p.get("kernel") or ())
        return (f"Convolution\n{_tuple_text(kernel, ())}/"
                f"{_tuple_text(p.get('stride'), (1,) * len(kernel))}, {p['num_filter']}")
    if op == "FullyConnected":
        return f"FullyConnected\n{p['num_hidden']}"
    if op in ("Activation", "LeakyReLU"):
        return f"{op}\n{p.get('act_type', 'leaky')}"
    if op == "Pooling":
        if p.get("global_pool"):
            return f"Pooling\n{p['pool_type']}, global"
        kernel = tuple(p.get("kernel") or ())
        return (f"Pooling\n{p['pool_type']}, {_tuple_text(kernel, ())}/"
                f"{_tuple_text(p.get('stride'), (1,) * len(kernel))}")
    if op == "Embedding":
        return f"Embedding\n{p['input_dim']}x{p['output_dim']}"
    return node.name


def _classify(order, given, inputs):
    """{id(variable node): kind} for every variable: data, label, param or aux."""
    aux = aux_variable_ids(order)
    roles = {}
    for node in order:
        if node.op is None:
            continue
        names = node.input_names()
        for k, (child, _) in enumerate(node.inputs):
            if child.op is None:
                roles.setdefault(id(child), set()).add(names[k] if k < len(names) else "")
    kinds = {}
    for node in order:
        if node.op is not None:
            continue
        r = roles.get(id(node), set())
        if id(node) in aux:
            kind = "aux"
        elif inputs is not None:
            kind = "data" if node.name in inputs else "param"
            if kind == "data" and (r & set(LABEL_ROLES) or node.name.endswith("label")):
                kind = "label"
        elif r & set(LABEL_ROLES) or node.name.endswith("label"):
            kind = "label"
        elif r & set(PARAM_ROLES):
            kind = "param"
        elif r & set(DATA_ROLES) or not r or node.name in given:
            kind = "data"
        else:
            kind = "param"
        kinds[id(node)] = kind
    return kinds


def summarize(symbol, shape=None, dtype=None, inputs=None):
    """The network as data: layers in topological order with shapes and parameter counts.

    Parameters
    ----------
    symbol : Symbol
    shape : dict, optional
        Shapes of inputs (and, if you like, of parameters, e.g. from a bound executor).
        Everything else is inferred; what cannot be inferred stays None.
    dtype : dict, optional
        Dtypes of inputs (``{'data': 'float32'}``); types are inferred like shapes.
    inputs : list of str, optional
        The names that are inputs (data and labels), as a Module's ``data_names`` plus
        ``label_names``; every other argument is then a parameter. Without it, a variable is
        a label if an operator takes it as ``label`` (or its name ends in ``label``), a
        parameter if an operator takes it as weight/bias/gamma/beta, and data otherwise
        (used as ``data``, given in ``shape``, or feeding no operator).

    Returns
    -------
    NetworkSummary

    Examples
    --------
    >>> import mxteach as mx
    >>> net = mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=4, name='fc')
    >>> s = mx.viz.summarize(net, shape={'data': (2, 3)})
    >>> s.layer('fc').param_count, s.total_params
    (16, 16)

    See notebook 01.
    """
    if not hasattr(symbol, "_outputs"):
        raise MXNetError(f"expected a Symbol, got {type(symbol).__name__}; for a module pass "
                         "mod.symbol")
    given = {k: tuple(int(d) for d in v) for k, v in (shape or {}).items() if v is not None}
    heads = symbol._outputs
    order = topo_order(heads)
    check_names(order, given, "summarize")
    _, shapes = infer_shapes(heads, given)
    types = {}
    if dtype:
        check_names(order, dtype, "summarize")
        _, types = infer_types(heads, {k: np.dtype(v).name for k, v in dtype.items()})
    kinds = _classify(order, given, None if inputs is None else set(inputs))
    counted = {}
    layers = []
    for node in order:
        out_shapes = [shapes.get((id(node), j)) for j in range(node.num_outputs())]
        out_types = [types.get((id(node), j)) for j in range(node.num_outputs())]
        if node.op is None:
            kind = kinds[id(node)]
            layers.append(Layer(node.name, "null", kind, node.name,
                                outputs=node.output_names(), output_shapes=out_shapes,
                                output_types=out_types, param_count=0, aux_count=0,
                                attrs=dict(node.attr)))
            continue
        roles = node.input_names()
        layer = Layer(node.name, node.op.name, "op", _op_label(node),
                      outputs=node.output_names(), output_shapes=out_shapes,
                      output_types=out_types, attrs=node.all_attrs())
        count, aux_count = 0, 0
        for k, (child, idx) in enumerate(node.inputs):
            role = roles[k] if k < len(roles) else ""
            layer.inputs.append((child.name, idx, role))
            ckind = kinds.get(id(child), "op")
            if ckind in ("op", "data"):
                if child.name not in layer.previous:
                    layer.previous.append(child.name)
                continue
            if ckind == "label":
                continue
            s = shapes.get((id(child), 0))
            size = _size(s)
            if ckind == "aux":
                layer.aux.append((child.name, s))
                aux_count = None if aux_count is None or size is None else aux_count + size
                continue
            layer.params.append((child.name, s))
            if child.name in counted:
                layer.shared.append(child.name)
                continue
            counted[child.name] = node.name
            count = None if count is None or size is None else count + size
        layer.param_count, layer.aux_count = count, aux_count
        layers.append(layer)
    params = {l.name: l.output_shapes[0] for l in layers if l.kind == "param"}
    auxs = {l.name: l.output_shapes[0] for l in layers if l.kind == "aux"}
    total = None if any(s is None for s in params.values()) else \
        sum(_size(s) for s in params.values())
    total_aux = None if any(s is None for s in auxs.values()) else \
        sum(_size(s) for s in auxs.values())
    known = all(s is not None for l in layers for s in l.output_shapes)
    return NetworkSummary(layers=layers,
                          data_names=[l.name for l in layers if l.kind == "data"],
                          label_names=[l.name for l in layers if l.kind == "label"],
                          param_shapes=params, aux_shapes=auxs, total_params=total,
                          total_aux=total_aux, shapes_known=known, given=given)


# -- print_summary --------------------------------------------------------------------------------
def _shape_text(shapes):
    """Shapes without the batch axis, as MXNet prints them: ``16x8x8`` (several: comma)."""
    if any(s is None for s in shapes):
        return ""
    return ", ".join("x".join(str(d) for d in s[1:]) for s in shapes)


def _row(fields, positions):
    line = ""
    for text, end in zip(fields, positions):
        line += str(text)
        line = line[:end]
        line += " " * (end - len(line))
    return line


def summary_lines(summary, line_length=120, positions=(.44, .64, .74, 1.)):
    """The lines :func:`print_summary` prints, for a :class:`NetworkSummary`."""
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    positions = list(positions)
    lines = ["_" * line_length,
             _row(["Layer (type)", "Output Shape", "Param #", "Previous Layer"], positions),
             "=" * line_length]
    rows = [l for l in summary.layers if l.is_op or l.kind == "data"]
    for i, layer in enumerate(rows):
        count = "?" if layer.param_count is None else layer.param_count
        prev = layer.previous or [""]
        lines.append(_row([f"{layer.name}({layer.op})", _shape_text(layer.output_shapes),
                           count, prev[0]], positions))
        for name in prev[1:]:
            lines.append(_row(["", "", "", name], positions))
        lines.append(("=" if i == len(rows) - 1 else "_") * line_length)
    if summary.total_params is None:
        lines.append("Total params: ?")
        missing = sorted(n for n, s in summary.param_shapes.items() if s is None)
        lines.append(f"(shapes of {missing} unknown: pass shape={{'data': (batch, ...)}} to "
                     "count parameters)")
    else:
        lines.append(f"Total params: {summary.total_params}")
    if summary.aux_shapes:
        total_aux = "?" if summary.total_aux is None else summary.total_aux
        lines.append(f"Auxiliary states: {total_aux} (not trained; updated by forward: "
                     f"{', '.join(summary.aux_shapes)})")
    shared = [(l.name, n) for l in summary.layers for n in l.shared]
    if shared:
        lines.append("Shared parameters, counted once: " +
                     ", ".join(f"{n} (also in {name})" for name, n in shared))
    lines.append("_" * line_length)
    return lines


def print_summary(symbol, shape=None, line_length=120, positions=[.44, .64, .74, 1.]):
    """Print the layers of ``symbol`` as a table: Layer (type), Output Shape (batch axis
    dropped), Param #, Previous Layer, and the total number of parameters.

    Parameters
    ----------
    symbol : Symbol
    shape : dict, optional
        Input shapes, e.g. ``{'data': (32, 784)}``; without them output shapes and parameter
        counts stay unknown (``?``).
    line_length : int
        Width of the table.
    positions : list
        Right edge of each column, as fractions of ``line_length`` (or absolute columns).

    Notes
    -----
    Parameter counts are the sizes of the parameters' inferred shapes. MXNet 1.9.1's
    ``mx.viz.print_summary`` instead recomputes them from operator attributes and the
    previous layer's channel count, which goes wrong in these cases (mxteach is right):

    * a FullyConnected fed a 4-D tensor (``flatten=True`` without a Flatten layer): MXNet
      counts ``channels*num_hidden + num_hidden`` instead of ``C*H*W*num_hidden + num_hidden``
      (conv1 16x16x16 → FC 10: MXNet 170, right 40970);
    * no ``shape``: MXNet prints 0 for every weight and counts only biases (an MLP 784-128-10:
      MXNet 138, which is no count at all); mxteach prints ``?``;
    * shared weights: MXNet counts them at every user; mxteach counts each once and says so;
    * inputs other than the graph's first variable are missed as previous layers by MXNet.

    Like MXNet, BatchNorm's moving mean/variance are not counted as parameters; mxteach adds
    a line with the auxiliary states' total.

    Examples
    --------
    >>> import mxteach as mx
    >>> net = mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=10, name='fc')
    >>> mx.viz.print_summary(net, shape={'data': (1, 784)}, line_length=60)  # doctest: +SKIP

    See notebook 06.
    """
    summary = summarize(symbol, shape=shape)
    print("\n".join(summary_lines(summary, line_length, positions)))


# -- plot_network ---------------------------------------------------------------------------------
def _color(layer):
    if layer.kind in ("data", "label"):
        return INPUT_COLOR
    if layer.kind in ("param", "aux"):
        return PARAM_COLOR
    return FAMILY_COLORS.get(layer.op, OTHER_COLOR)


def _edge_label(source, idx, draw_type):
    shape = source.output_shapes[idx] if idx < len(source.output_shapes) else None
    if shape is None:
        text = ""
    elif source.kind in ("param", "aux"):
        text = "x".join(str(d) for d in shape)      # a weight's full shape (no batch axis)
    else:
        text = "x".join(str(d) for d in shape[1:])
    if draw_type:
        t = source.output_types[idx] if idx < len(source.output_types) else None
        text += f"({t or '?'})"
    return text


def network_graph(summary, title="plot", save_format="pdf", node_attrs=None,
                  hide_weights=True, draw_shape=True, draw_type=False, extra_lines=None,
                  fill=None, node_extra=None, graph_attrs=None, edge_attrs=None):
    """A ``graphviz.Digraph`` of a :class:`NetworkSummary`: what :func:`plot_network` draws,
    with hooks for views (``extra_lines``: {layer: [text]} appended to labels, ``fill``:
    {layer: colour}, ``node_extra``: {layer: {attribute: value}}, graphviz ``graph_attrs``
    and ``edge_attrs``)."""
    try:
        from graphviz import Digraph
    except ImportError:
        raise ImportError("plot_network needs the graphviz Python package (pip install "
                          "graphviz, or mxteach[lab]) and the dot program (apt-get install "
                          "graphviz)") from None
    attrs = {"shape": "box", "fixedsize": "true", "width": "1.3", "height": "0.8034",
             "style": "filled"}
    attrs.update(node_attrs or {})
    extra_lines, fill, node_extra = extra_lines or {}, fill or {}, node_extra or {}
    dot = Digraph(name=title, format=save_format, graph_attr=graph_attrs or {},
                  edge_attr=edge_attrs or {})
    by_name = {l.name: l for l in summary.layers}
    hidden = set()
    for layer in summary.layers:
        if layer.kind in ("param", "aux") and hide_weights:
            hidden.add(layer.name)
            continue
        a = dict(attrs)
        label = layer.label
        if not layer.is_op:
            a["shape"] = "oval"
            if layer.kind in ("param", "aux"):
                a.update(width="1.1", height="0.5")
        a["fillcolor"] = fill.get(layer.name, _color(layer))
        a.update(node_extra.get(layer.name, {}))
        lines = extra_lines.get(layer.name)
        if lines:
            label = label + "\n" + "\n".join(lines)
        dot.node(name=layer.name, label=label, **a)
    for layer in summary.layers:
        if not layer.is_op:
            continue
        for name, idx, _ in layer.inputs:
            if name in hidden:
                continue
            label = _edge_label(by_name[name], idx, draw_type) if draw_shape else ""
            dot.edge(tail_name=layer.name, head_name=name, label=label, dir="back",
                     arrowtail="open")
    return dot


def plot_network(symbol, title="plot", save_format="pdf", shape=None, dtype=None,
                 node_attrs={}, hide_weights=True):
    """The graph of ``symbol`` as a ``graphviz.Digraph`` (display it in a notebook, or
    ``.render()``/``.view()`` it), inputs at the bottom, outputs at the top.

    Parameters
    ----------
    symbol : Symbol
    title : str
        Graph name (and the file name ``render`` uses).
    save_format : str
        ``'pdf'``, ``'png'``, ``'svg'`` … for ``render``.
    shape : dict, optional
        Input shapes; every edge is then labelled with the shape it carries (batch axis
        dropped for data; a weight's full shape when weights are shown).
    dtype : dict, optional
        Input dtypes; edges then carry the inferred dtype too, e.g. ``784(float32)``.
    node_attrs : dict
        Graphviz node attributes that override the defaults (``{'fixedsize': 'false'}``).
    hide_weights : bool
        Hide parameters and auxiliary states (default), as MXNet does.

    Notes
    -----
    Node labels follow MXNet (``FullyConnected\\n128``, ``Convolution\\n3x3/1x1, 16``,
    ``Pooling\\nmax, 2x2/2x2``, ``Activation\\nrelu``; other operators show their name),
    except that the stride is always written per axis and Embedding shows its table size.
    Differences from MXNet 1.9.1, each an MXNet bug: which variables are weights is decided by
    how operators use them, not by name suffixes; ``hide_weights=False`` draws real weight
    nodes (MXNet leaves unstyled ovals) and labels their edges with the full weight shape
    (MXNet drops the first axis, so fc1_weight (128, 784) reads "784"); an edge from an
    operator with several outputs carries the shape of the output actually used (MXNet
    always shows the last output's).

    See notebook 01.
    """
    summary = summarize(symbol, shape=shape, dtype=dtype)
    return network_graph(summary, title=title, save_format=save_format,
                         node_attrs=node_attrs, hide_weights=hide_weights,
                         draw_shape=shape is not None, draw_type=dtype is not None)

