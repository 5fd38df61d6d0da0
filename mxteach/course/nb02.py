"""Exercise checks of notebook 02 (the executor and the Module lifecycle).

Each check binds executors or walks a Module through its lifecycle to find the truth, then
compares the student's answer with it. See notebook 02.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, exercise


def _answered(fn, *args, what):
    """Call the student's function; an empty body (``...`` or no ``return``) is not answered yet."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None or out is Ellipsis:
        raise Wrong(f"not answered yet: {what} returned {out!r}; write its body (with a "
                    "`return`) and run its cell again.")
    return out


def mlp(hidden=16, classes=3):
    """The notebook's two-layer network (fc1 → relu1 → fc2 → softmax)."""
    from .. import sym
    data = sym.Variable("data")
    h = sym.FullyConnected(data, num_hidden=hidden, name="fc1")
    h = sym.Activation(h, act_type="relu", name="relu1")
    h = sym.FullyConnected(h, num_hidden=classes, name="fc2")
    return sym.SoftmaxOutput(h, name="softmax")


def deep_mlp(widths=(64, 64, 64, 64), classes=10):
    """The notebook's deeper network: one FullyConnected + relu per width, then the classes."""
    from .. import sym
    h = sym.Variable("data")
    for i, w in enumerate(widths):
        h = sym.FullyConnected(h, num_hidden=w, name=f"fc{i}")
        h = sym.Activation(h, act_type="relu", name=f"relu{i}")
    out = sym.FullyConnected(h, num_hidden=classes, name="out")
    return sym.SoftmaxOutput(out, name="softmax")


GRAD_REQS = {"fc1_weight": "add", "fc1_bias": "write", "fc2_weight": "null"}


def _grad_req_truth():
    from .. import cpu
    rng = np.random.RandomState(3)
    exe = mlp().simple_bind(cpu(), data=(4, 5), grad_req=GRAD_REQS)
    for name, arr in exe.arg_dict.items():
        arr[:] = rng.uniform(-0.5, 0.5, arr.shape).astype("float32")
    exe.arg_dict["softmax_label"][:] = np.array([0, 1, 2, 1], "float32")
    exe.forward(is_train=True)
    exe.backward()
    first = {n: g.asnumpy().copy() for n, g in exe.grad_dict.items()}
    exe.backward()
    exe.backward()
    ratio = {n: float(np.round(np.abs(g.asnumpy()).sum() / np.abs(first[n]).sum(), 4))
             for n, g in exe.grad_dict.items()}
    return sorted(exe.grad_dict), ratio


@exercise("02.1", "gradient requests")
def check_grad_req(answer):
    """``answer``: ``{"buffers": [names], "fc1_weight_ratio": x, "fc1_bias_ratio": y}``."""
    if not isinstance(answer, dict) or not {"buffers", "fc1_weight_ratio",
                                            "fc1_bias_ratio"} <= set(answer):
        raise Wrong('expected {"buffers": [...], "fc1_weight_ratio": ..., "fc1_bias_ratio": ...}')
    buffers, ratio = _grad_req_truth()
    said = sorted(answer["buffers"])
    if said != buffers:
        extra = sorted(set(said) - set(buffers))
        raise Wrong(f"the gradient buffers are {buffers}, you said {said}"
                    + (f": {extra} get none — 'null', and arguments a grad_req dict leaves out, "
                       "get no buffer" if extra else ""))
    for name, req in (("fc1_weight", "add"), ("fc1_bias", "write")):
        got = answer[f"{name}_ratio"]
        if not isinstance(got, (int, float)) or abs(got - ratio[name]) > 1e-3:
            why = ("'add' adds each backward's gradient to the buffer: three backward calls "
                   "after one forward hold three times the first" if req == "add" else
                   "'write' overwrites the buffer with the same gradient each time")
            raise Wrong(f"{name} ({req!r}) ends at {ratio[name]:g} times its first gradient, "
                        f"not {got!r}: {why}")
    return "Right: 'add' accumulates (zero it yourself), 'write' overwrites, 'null' costs nothing."


def _inference_chain(widths, batch=32, features=20):
    from .. import cpu
    exe = deep_mlp(widths).simple_bind(cpu(), data=(batch, features), grad_req="null")
    rows = [r for r in exe.memory_report() if r.role == "intermediate"]
    return [r.bytes for r in rows], exe.memory_summary()["intermediate_planned_bytes"]


@exercise("02.2", "a ping-pong memory planner")
def check_plan(plan):
    """``plan(sizes)`` gives each value of an inference chain (value i is read only by value
    i+1) an arena number; it must never put two values alive together in one arena, and on
    the notebook's deep network its arenas must cost what mxteach's planner spends."""
    for widths in ((64, 64, 64, 64), (32, 128, 16, 64, 8)):
        sizes, planned = _inference_chain(widths)
        arenas = _answered(plan, list(sizes), what="plan")
        arenas = list(arenas)
        if len(arenas) != len(sizes):
            raise Wrong(f"plan returned {len(arenas)} arena numbers for {len(sizes)} values; "
                        "give one per value")
        for i in range(len(sizes) - 1):
            if arenas[i] == arenas[i + 1]:
                raise Wrong(f"values {i} and {i + 1} are both in arena {arenas[i]}, but they are "
                            f"alive at the same time (value {i + 1} is computed from value {i}): "
                            "neighbours need different arenas")
        cost = sum(max(s for s, a in zip(sizes, arenas) if a == arena) for arena in set(arenas))
        if len(set(arenas)) > 2:
            raise Wrong(f"your plan uses {len(set(arenas))} arenas ({cost} bytes); in inference "
                        "each value dies once the next one is computed, so two arenas that "
                        "take turns (ping-pong) are enough")
        if widths == (64, 64, 64, 64) and cost != planned:
            raise Wrong(f"your arenas cost {cost} bytes; mxteach's planner needs {planned} "
                        "(an arena is as large as the largest value it ever holds)")
    return "Right: in inference two arenas take turns, whatever the depth of the network."


LIFECYCLE_CALLS = ("bind(batch 12)", "init_params()", "bind(batch 24, force_rebind=True)",
                   "init_optimizer()", "reshape(batch 6)")


def lifecycle_stages():
    """The stage after each call of ``LIFECYCLE_CALLS`` on a fresh Module of ``mlp()``."""
    from ..module import Module
    mod = Module(mlp())
    steps = [
        lambda: mod.bind(data_shapes=[("data", (12, 5))], label_shapes=[("softmax_label", (12,))]),
        lambda: mod.init_params(),
        lambda: mod.bind(data_shapes=[("data", (24, 5))], label_shapes=[("softmax_label", (24,))],
                         force_rebind=True),
        lambda: mod.init_optimizer(),
        lambda: mod.reshape(data_shapes=[("data", (6, 5))], label_shapes=[("softmax_label", (6,))]),
    ]
    out = []
    for step in steps:
        step()
        out.append(str(mod.stage))
    return out


@exercise("02.4", "predict the lifecycle")
def check_lifecycle(answer):
    """``answer``: the stage (a string of ``mx.events.Stage.ORDER``) after each call."""
    truth = lifecycle_stages()
    if not isinstance(answer, (list, tuple)) or len(answer) != len(truth):
        raise Wrong(f"expected a list of {len(truth)} stages, one after each of "
                    f"{list(LIFECYCLE_CALLS)}")
    for call, said, want in zip(LIFECYCLE_CALLS, answer, truth):
        if said != want:
            hint = ""
            if "force_rebind" in call or "reshape" in call:
                hint = (": re-binding or reshaping rebuilds the executors but keeps the "
                        "parameters (and the optimizer), so the stage does not go back")
            raise Wrong(f"after {call} the module is at {want!r}, not {said!r}{hint}")
    return "Right: the stage only moves forward; bind/reshape again keep what was set up."


def memory_truth(batch_sizes=(12, 48)):
    """Gradient bytes and planned intermediate bytes of ``mlp()`` bound for training."""
    from .. import cpu
    net = mlp()
    params = [n for n in net.list_arguments() if n not in ("data", "softmax_label")]
    out = {}
    for b in batch_sizes:
        exe = net.simple_bind(cpu(), data=(b, 5), grad_req={n: "write" for n in params})
        grads = sum(r.bytes for r in exe.memory_report() if r.role == "gradient")
        out[b] = (grads, exe.memory_summary()["intermediate_planned_bytes"])
    return out


@exercise("02.3", "read the MemoryMap")
def check_memory(answer):
    """``answer``: ``{"gradients_batch_12", "gradients_batch_48", "intermediates_growth"}``."""
    keys = ("gradients_batch_12", "gradients_batch_48", "intermediates_growth")
    if not isinstance(answer, dict) or not set(keys) <= set(answer):
        raise Wrong(f"expected a dict with keys {list(keys)}")
    truth = memory_truth()
    (g12, i12), (g48, i48) = truth[12], truth[48]
    if answer["gradients_batch_12"] != g12:
        raise Wrong(f"at batch 12 the gradients take {g12} bytes, not "
                    f"{answer['gradients_batch_12']!r}: read the 'gradient' bytes of the sweep")
    if answer["gradients_batch_48"] != g48:
        raise Wrong(f"at batch 48 the gradients still take {g48} bytes, not "
                    f"{answer['gradients_batch_48']!r}: gradients belong to the parameters, "
                    "whose shapes do not depend on the batch size")
    growth = i48 / i12
    got = answer["intermediates_growth"]
    if not isinstance(got, (int, float)) or abs(got - growth) > 0.01:
        raise Wrong(f"the intermediates grow {growth:g} times from batch 12 to 48, not {got!r}: "
                    "every activation has one row per example")
    return "Right: activations follow the batch, parameters and their gradients do not."
