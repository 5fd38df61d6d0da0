"""Exercise checks of notebook 13 (GPUs: contexts, device memory, mixed device lists,
group2ctx). See notebook 13.

The checks need no GPU: the truth comes from running mxteach itself. Device rules of NDArrays
are the same for every Context, so 13.1 runs its expressions with ``cpu(1)``/``cpu(2)``
standing in for ``gpu(0)``/``gpu(1)``; 13.3 and 13.4 run mxteach's placement
(``mxteach/executor/devices.py``) on graphs built with ``mx.sym``; 13.2 runs a ``'device'``
kvstore whose values come from two stand-in devices.
"""
from __future__ import annotations

from .checking import Wrong, blank_is_unanswered, exercise, returned

__all__ = ["EXPRESSIONS", "check_devices", "check_placement", "check_copies",
           "check_sum_devices", "three_stage_mlp", "describe", "count_copies", "MLP_SHAPES"]

# -- 13.1 -------------------------------------------------------------------------------------
# the expressions of the exercise, over a (gpu(0)), b (gpu(1)), c (cpu(0)) and the two gpus
EXPRESSIONS = {
    "A": ("(a * 2).exp()", lambda a, b, c, g0, g1: (a * 2).exp()),
    "B": ("a + b", lambda a, b, c, g0, g1: a + b),
    "C": ("a.copyto(mx.gpu(1)) + b", lambda a, b, c, g0, g1: a.copyto(g1) + b),
    "D": ("a + c", lambda a, b, c, g0, g1: a + c),
    "E": ("a.sum(axis=1).as_in_context(mx.cpu())",
          lambda a, b, c, g0, g1: a.sum(axis=1).as_in_context(c.context)),
    "F": ("b.T.as_in_context(mx.gpu(0)) * a.T",
          lambda a, b, c, g0, g1: b.T.as_in_context(g0) * a.T),
}


def _truth_13_1():
    """{label: 'gpu(0)' | 'gpu(1)' | 'cpu(0)' | 'error'}, run on stand-in devices."""
    from .. import ndarray as nd
    from ..base import MXNetError
    from ..context import Context, cpu
    g0, g1 = cpu(1), cpu(2)                   # stand-ins for gpu(0), gpu(1)
    names = {str(g0): "gpu(0)", str(g1): "gpu(1)", "cpu(0)": "cpu(0)"}
    a, b = nd.ones((2, 3), ctx=g0), nd.ones((2, 3), ctx=g1)
    c = nd.ones((2, 3), ctx=Context("cpu", 0))
    truth = {}
    for label, (_, fn) in EXPRESSIONS.items():
        try:
            truth[label] = names[str(fn(a, b, c, g0, g1).context)]
        except MXNetError:
            truth[label] = "error"
    return truth


@exercise("13.1", "which device each result lives on, or whether it fails")
def check_devices(answer):
    if not isinstance(answer, dict):
        raise Wrong(f"answer with a dict {{'A': 'gpu(0)', ...}}, got {type(answer).__name__}")
    truth = _truth_13_1()
    missing = sorted(set(truth) - set(answer))
    if missing:
        raise Wrong(f"give a device (or 'error') for every expression; missing {missing}")
    got = {k: str(answer[k]).strip().lower().replace(" ", "") for k in truth}
    for k, want in truth.items():
        if got[k] == want:
            continue
        expr = EXPRESSIONS[k][0]
        if want == "error":
            raise Wrong(f"{k} ({expr}) fails: mxteach, like MXNet, never moves data "
                        "implicitly; both operands must live on one device (copy one with "
                        "copyto/as_in_context first)")
        if got[k] == "error":
            raise Wrong(f"{k} ({expr}) works: after the explicit copy both operands share a "
                        f"device, and the result lives there: {want}")
        raise Wrong(f"{k} ({expr}) lives on {want}, not {answer[k]}: a result lives where its "
                    "operands are; only copyto/as_in_context move data")
    return "results live where their operands live; mixing devices is an error."


# -- 13.3 -------------------------------------------------------------------------------------
def _graphs():
    """(description builder input, group2ctx, default) triples: each a symbol built with
    ctx_group attributes, in the shapes the exercise describes."""
    from .. import symbol as sym
    from ..context import cpu, gpu
    graphs = []
    # the notebook's model: everything grouped
    graphs.append((three_stage_mlp(), {"dev1": gpu(0), "dev2": gpu(1)}, gpu(0)))
    # fc2 has no group: it follows its first placed input; its weight follows fc2
    with sym.AttrScope(ctx_group="a"):
        x = sym.Variable("x")
        h = sym.FullyConnected(x, num_hidden=2, name="fc1")
    h2 = sym.FullyConnected(h, num_hidden=2, name="fc2")
    with sym.AttrScope(ctx_group="b"):
        out = sym.relu(h2, name="act")
    graphs.append((out, {"a": gpu(1), "b": gpu(0)}, cpu(0)))
    # a weight shared by layers on two devices, and a group nobody maps
    w = sym.Variable("shared_weight")
    with sym.AttrScope(ctx_group="a"):
        left = sym.FullyConnected(sym.Variable("x"), weight=w, num_hidden=3, no_bias=True,
                                  name="left")
    with sym.AttrScope(ctx_group="b"):
        right = sym.FullyConnected(sym.Variable("y"), weight=w, num_hidden=3, no_bias=True,
                                   name="right")
    with sym.AttrScope(ctx_group="c"):
        both = sym.elemwise_add(left, right, name="sum")
    graphs.append((both, {"a": gpu(0), "b": gpu(1)}, cpu(0)))
    return graphs


def describe(symbol):
    """The exercise's view of a graph: ``[(name, ctx_group or None, [input names]), ...]`` in
    topological order (variables have no inputs)."""
    return [(n.name, n.attr.get("ctx_group"), [c.name for c, _ in n.inputs])
            for n in symbol._order()]


def _placement_truth(symbol, group2ctx, default):
    from ..executor.devices import place_nodes
    order = symbol._order()
    dev = place_nodes(order, group2ctx)
    return {n.name: dev.get(id(n), default) for n in order}


@exercise("13.3", "MXNet's placement rule for group2ctx")
def check_placement(place):
    for symbol, group2ctx, default in _graphs():
        nodes = describe(symbol)
        got = returned(place, nodes, dict(group2ctx), default, what="place")
        want = _placement_truth(symbol, group2ctx, default)
        if not isinstance(got, dict):
            raise Wrong(f"place returned a {type(got).__name__}; return {{name: device}}")
        missing = sorted(set(want) - set(got))
        if missing:
            raise Wrong(f"give a device for every node (variables too); missing {missing}")
        # operators first: a variable's device follows from its consumers'
        for name, _, inputs in sorted(nodes, key=lambda node: not node[2]):
            if got[name] == want[name]:
                continue
            groups = dict((n, g) for n, g, _ in nodes)
            where = f"for the graph {[n for n, _, _ in nodes]} with group2ctx {group2ctx}"
            if groups[name] in group2ctx:
                hint = (f"its ctx_group '{groups[name]}' is in group2ctx: it goes to "
                        f"{group2ctx[groups[name]]}")
            elif inputs:
                hint = ("an operator without a mapped group goes where its first placed input "
                        "is (the forward sweep)")
            else:
                hint = ("a variable without a mapped group goes where a consumer runs (a "
                        "backward sweep over the nodes in reverse order: the last consumer in "
                        "topological order wins), else to the default device")
            raise Wrong(f"'{name}' should be on {want[name]}, you said {got[name]} {where}: "
                        f"{hint}")
    return "nodes go where their group says, else follow their inputs, else their consumers."


check_placement = blank_is_unanswered(check_placement)


# -- 13.4 -------------------------------------------------------------------------------------
MLP_SHAPES = {"data": (8, 64), "softmax_label": (8,)}


def three_stage_mlp():
    """fc1 on group 'dev1', fc2 on 'dev2', fc3 and the loss on 'dev1' again (notebook 13)."""
    from .. import symbol as sym
    with sym.AttrScope(ctx_group="dev1"):
        data = sym.Variable("data")
        h = sym.Activation(sym.FullyConnected(data, num_hidden=12, name="fc1"),
                           act_type="relu", name="relu1")
    with sym.AttrScope(ctx_group="dev2"):
        h = sym.Activation(sym.FullyConnected(h, num_hidden=12, name="fc2"),
                           act_type="relu", name="relu2")
    with sym.AttrScope(ctx_group="dev1"):
        out = sym.SoftmaxOutput(sym.FullyConnected(h, num_hidden=10, name="fc3"),
                                name="softmax")
    return out


def count_copies(symbol, group2ctx, ctx, no_grad=("data", "softmax_label")):
    """(forward copies, gradient transfers) the executor makes: one copy per value and device
    that reads it elsewhere; one transfer per operator input whose gradient crosses back."""
    from ..executor.devices import crosses, place_nodes
    order = symbol._order()
    dev = place_nodes(order, group2ctx)
    where = {id(n): dev.get(id(n), ctx) for n in order}
    copies, transfers = set(), 0
    for n in order:
        if n.op is None:
            continue
        for slot, (c, i) in enumerate(n.inputs[:n.num_args()]):
            if crosses(where[id(c)], where[id(n)]):
                copies.add((id(c), i, where[id(n)]))
                transfers += c.op is not None or c.name not in no_grad
        for c, i in n.inputs[n.num_args():]:        # aux states read on another device
            if crosses(where[id(c)], where[id(n)]):
                copies.add((id(c), i, where[id(n)]))
    return len(copies), transfers


@exercise("13.4", "how many copies cross between the gpus")
def check_copies(answer):
    from ..context import gpu
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Wrong(f"answer with a pair (forward copies, gradient transfers), got {answer!r}")
    want = count_copies(three_stage_mlp(), {"dev1": gpu(0), "dev2": gpu(1)}, gpu(0))
    fwd, bwd = (int(v) for v in answer)
    if fwd != want[0]:
        if fwd == 1:
            raise Wrong("forward: the value crosses twice, gpu(0) -> gpu(1) into fc2 and back "
                        "gpu(1) -> gpu(0) into fc3: count every edge whose two ends are on "
                        "different devices")
        raise Wrong(f"forward copies: {fwd} is off; count the edges whose producer and consumer "
                    "are on different devices (the data, the label and the weights live with "
                    "their layer)")
    if bwd != want[1]:
        raise Wrong(f"gradient transfers: {bwd} is off; each forward copy of an activation "
                    "has a gradient that travels back the other way (the data and the label "
                    "need no gradient)")
    return "one copy per crossing edge, and its gradient back: nothing else moves."


# -- 13.2 -------------------------------------------------------------------------------------
_PARAMS = {"fc1_weight": (12, 64), "fc1_bias": (12,), "fc2_weight": (12, 12),
           "fc2_bias": (12,), "fc3_weight": (10, 12), "fc3_bias": (10,)}


def _sum_devices_truth():
    """{param: gpu id} from a 'device' kvstore fed by two stand-in devices (cpu(1), cpu(2))."""
    from .. import kvstore, ndarray as nd
    from ..context import cpu
    kv = kvstore.create("device")
    names = list(_PARAMS)
    for key, name in enumerate(names):
        kv.init(key, nd.zeros(_PARAMS[name]))
    devices = [cpu(1), cpu(2)]
    for key, name in enumerate(names):
        kv.push(key, [nd.ones(_PARAMS[name], ctx=d) for d in devices])
    return {name: devices.index(kv._merge_ctx[key]) for key, name in enumerate(names)}


@exercise("13.2", "which gpu the 'device' kvstore sums each parameter on")
def check_sum_devices(answer):
    if not isinstance(answer, dict):
        raise Wrong(f"answer with a dict {{parameter name: gpu id}}, got "
                    f"{type(answer).__name__}")
    want = _sum_devices_truth()
    missing = sorted(set(want) - set(answer))
    if missing:
        raise Wrong(f"give a gpu id for every parameter; missing {missing}")
    got = {k: int(answer[k]) for k in want}
    if set(got.values()) == {0}:
        raise Wrong("not everything is summed on gpu(0): the store spreads its sum buffers "
                    "over the pushing gpus by size (largest key first, each to the gpu holding "
                    "the fewest elements so far)")
    order = sorted(_PARAMS, key=lambda k: -_size(_PARAMS[k]))
    for name in order:
        if got[name] != want[name]:
            raise Wrong(f"{name} ({_size(_PARAMS[name])} elements) goes to gpu({want[name]}): "
                        f"walk the keys largest first ({', '.join(order)}), adding each one's "
                        "size to the gpu holding fewer elements so far (a tie goes to gpu(0))")
    return "largest first, each to the least loaded gpu: every gpu does part of the summing."


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n
