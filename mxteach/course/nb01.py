"""Exercise checks of notebook 01 (NDArray and Symbol).

Each check computes the truth by running mxteach (or reads MXNet 1.9.1's recorded output) and
compares the student's answer with it. See notebook 01.
"""
from __future__ import annotations

import json

import numpy as np

from .checking import Wrong, close, exercise


def _answered(fn, *args, what):
    """Call the student's function; an empty body (``...`` or no ``return``) is not answered yet."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None or out is Ellipsis:
        raise Wrong(f"not answered yet: {what} returned {out!r}; write its body (with a "
                    "`return`) and run its cell again.")
    return out
from .mxnet_says import recorded

# The expressions of exercise 01.1, each applied to a fresh ``arange(12).reshape((3, 4))``.
VIEW_EXPRESSIONS = ("a[2]", "a[0:2]", "a[1, 1:4]", "a[:, 0]", "a[1:3, 0:2]", "a.reshape((2, 6))")


def _fresh():
    from .. import nd
    return nd.arange(12).reshape((3, 4))


def view_or_copy(expr):
    """'view' if writing into ``expr`` of a fresh 3 x 4 array changes the array, else 'copy'."""
    a = _fresh()
    part = eval(expr, {"a": a})  # noqa: S307 -- the expressions are the course's own
    part[:] = -1
    return "view" if (a.asnumpy() == -1).any() else "copy"


@exercise("01.1", "view or copy?")
def check_views(answer):
    """``answer``: ``{expression: 'view' or 'copy'}`` for every expression of the exercise."""
    if not isinstance(answer, dict):
        raise Wrong(f"expected a dict {{expression: 'view' or 'copy'}}, got {type(answer).__name__}")
    missing = [e for e in VIEW_EXPRESSIONS if e not in answer]
    if missing:
        raise Wrong(f"no answer for {missing}; answer every expression")
    for expr in VIEW_EXPRESSIONS:
        said = str(answer[expr]).strip().lower()
        if said not in ("view", "copy"):
            raise Wrong(f"{expr}: answer 'view' or 'copy', not {answer[expr]!r}")
        truth = view_or_copy(expr)
        if said != truth:
            why = ("its elements lie next to each other in memory (contiguous), so it is a "
                   "view" if truth == "view" else
                   "its elements are not contiguous in memory (they skip over other elements), "
                   "so MXNet must copy them")
            raise Wrong(f"{expr} is a {truth}, not a {said}: {why}. Hint: picture the 3 x 4 "
                        "array as 12 numbers in a row.")
    return "Right: a result is a view exactly when its elements are one contiguous run of memory."


def _exercise_net():
    from .. import sym
    data = sym.Variable("data")
    h = sym.FullyConnected(data, num_hidden=8, name="fc1")
    h = sym.Activation(h, act_type="relu", name="relu1")
    h = sym.FullyConnected(h, num_hidden=3, name="fc2")
    return sym.SoftmaxOutput(h, name="softmax")


@exercise("01.3", "predict every argument shape")
def check_shapes(answer):
    """``answer``: ``{argument name: shape tuple}`` of the notebook's ``net`` for data (16, 20)."""
    net = _exercise_net()
    arg_shapes, _, _ = net.infer_shape(data=(16, 20))
    truth = dict(zip(net.list_arguments(), arg_shapes))
    if not isinstance(answer, dict):
        raise Wrong(f"expected a dict {{argument name: shape}}, got {type(answer).__name__}")
    missing = [n for n in truth if n not in answer]
    if missing:
        raise Wrong(f"no shape for {missing}: list_arguments() has {list(truth)}")
    extra = [n for n in answer if n not in truth]
    if extra:
        raise Wrong(f"{extra} are not arguments of net; its arguments are {list(truth)}")
    for name, shape in truth.items():
        got = tuple(answer[name]) if isinstance(answer[name], (tuple, list)) else answer[name]
        if got != tuple(shape):
            hint = ""
            if name.endswith("_weight") and isinstance(got, tuple) and got == tuple(shape)[::-1]:
                hint = (" FullyConnected stores its weight as (num_hidden, input features): "
                        "y = x · Wᵀ + b.")
            elif name.endswith("_label"):
                hint = " SoftmaxOutput's label holds one class index per example."
            raise Wrong(f"{name} has shape {tuple(shape)}, you said {got}.{hint}")
    return "Right: every shape follows from the data shape alone."


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@exercise("01.4", "run a graph's JSON in order")
def check_run_graph(run_graph):
    """``run_graph(graph, values)`` walks ``json.loads(sym.tojson())`` node by node and returns
    the head outputs; it is compared with mxteach's ``eval`` on two graphs."""
    from .. import nd, sym
    rng = np.random.RandomState(7)
    net = _exercise_net()
    shapes = dict(zip(net.list_arguments(), net.infer_shape(data=(4, 5))[0]))
    values = {n: rng.randn(*s).astype("float32") for n, s in shapes.items()}
    values["softmax_label"] = np.array([0, 1, 2, 1], dtype="float32")
    # a second graph whose variables do not come first: a node's inputs are indices, not order
    a, b = sym.Variable("a"), sym.Variable("b")
    other = sym.Activation(sym.FullyConnected(a, num_hidden=2, name="f"), act_type="relu",
                           name="r")
    other = sym.FullyConnected(other, sym.Variable("w2"), b, num_hidden=3, name="g")
    oshapes = dict(zip(other.list_arguments(), other.infer_shape(a=(3, 4))[0]))
    ovalues = {n: rng.randn(*s).astype("float32") for n, s in oshapes.items()}
    for graph_sym, vals in ((net, values), (other, ovalues)):
        graph = json.loads(graph_sym.tojson())
        outs = _answered(run_graph, graph, {k: v.copy() for k, v in vals.items()},
                        what="run_graph")
        if not isinstance(outs, (list, tuple)):
            raise Wrong(f"run_graph should return a list with one array per head, got "
                        f"{type(outs).__name__}")
        want = graph_sym.eval(**{k: nd.array(v) for k, v in vals.items()})
        if len(outs) != len(want):
            raise Wrong(f"the graph has {len(want)} head(s) (graph['heads']); you returned "
                        f"{len(outs)} array(s)")
        for got, ref in zip(outs, want):
            close(np.asarray(got, dtype="float32"), ref, f"the output of {graph_sym.name}",
                  atol=1e-4)
    return "Right: this is what an executor does, with memory planned ahead (notebook 02)."


ASYNC_LINES = {1: "c = mx.nd.take(a, idx, mode='raise')", 2: "print(c.shape)",
               3: "d = c * 2", 4: "d.asnumpy()"}


def _mxteach_failing_line():
    from .. import nd
    from ..base import MXNetError
    a, idx = nd.ones((3, 2)), nd.array([5])
    steps = [lambda s: s.update(c=nd.take(a, idx, mode="raise")),
             lambda s: s["c"].shape,
             lambda s: s.update(d=s["c"] * 2),
             lambda s: s["d"].asnumpy()]
    state = {}
    for line, step in enumerate(steps, 1):
        try:
            step(state)
        except MXNetError:
            return line
    return None


def _mxnet_failing_line():
    out = recorded("01")["01.async_error"]["output"]
    for line, marker in ((4, "asnumpy() raised"), (3, "c * 2 raised"), (1, "take raised")):
        if marker in out:
            return line
    return None


@exercise("01.2", "where does the error surface?")
def check_async(answer):
    """``answer``: ``{"mxteach": line, "mxnet": line}``, the line (1-4) that raises in each."""
    if not isinstance(answer, dict) or set(answer) != {"mxteach", "mxnet"}:
        raise Wrong('expected {"mxteach": line number, "mxnet": line number}')
    truth = {"mxteach": _mxteach_failing_line(), "mxnet": _mxnet_failing_line()}
    for who in ("mxteach", "mxnet"):
        if answer[who] != truth[who]:
            said = ASYNC_LINES.get(answer[who], answer[who])
            why = ("mxteach computes every operation at once, so the operator itself raises"
                   if who == "mxteach" else
                   "MXNet's engine only queues the operation and returns; the error waits in the "
                   "result until something waits for the value (asnumpy(), wait_to_read(), "
                   "waitall())")
            raise Wrong(f"in {who} the error surfaces at line {truth[who]} "
                        f"({ASYNC_LINES[truth[who]]}), not at {said!r}: {why}")
    return ("Right: in real MXNet, a line number in a traceback can be far from the operation "
            "that failed; mx.nd.waitall() after a suspect line pins it down.")
