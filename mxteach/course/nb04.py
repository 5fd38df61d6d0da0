"""Exercise checks of notebook 04 (data parallelism and the kvstore).

* 04.1 — build :func:`split_input_slice` yourself: the rows of a batch each device gets;
* 04.2 — predict the ``rescale_grad`` a multi-device Module gives its optimizer;
* 04.3 — build the rule by which MXNet's ``'device'`` kvstore places its sum buffers.

Each check computes the truth by running mxteach (04.1, 04.2) or by the placement rule of MXNet
1.9.1's ``CommDevice::InitMergeBuffer`` applied to shapes inferred by mxteach (04.3). See notebook 04.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import context as _context
from .. import random_state as _random_state
from ..module.executor_group import split_input_slice
from .checking import Wrong, exercise

__all__ = ["check_slices", "check_rescale_grad", "check_placement", "mxnet_placement"]

_TODO = ("not answered yet: {what} returned None. Write its body (the template's `...`) and "
         "`return` the result, then run this cell again.")


def answered(fn, *args, what="your function"):
    """Call the student's function; ``None`` back means the template is still empty (or the
    ``return`` is missing): both are reported as "not answered yet"."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None:
        raise Wrong(_TODO.format(what=what))
    return out


def keeps_random_state(body):
    """Run a check's ``body`` and then put numpy's and mxteach's random generators back as
    they were: a check that trains (and seeds) must not change what the student's later
    cells draw."""
    @functools.wraps(body)
    def run(*args, **kwargs):
        saved_np, saved_mx = np.random.get_state(), _random_state._state["rng"]
        try:
            return body(*args, **kwargs)
        finally:
            np.random.set_state(saved_np)
            _random_state._state["rng"] = saved_mx
    return run


def unfilled(answer):
    """True when a template answer still holds a ``...`` (directly or inside a list, tuple
    or dict), so the check can say "not answered yet" instead of failing on it."""
    if answer is Ellipsis:
        return True
    if isinstance(answer, dict):
        return any(unfilled(v) for v in answer.values())
    if isinstance(answer, (list, tuple)):
        return any(unfilled(v) for v in answer)
    return False

# (batch_size, work_load_list): equal shares, uneven shares, a rounding tie (2.5 -> 2, Python's
# round), a last device that takes what rounding leaves, and shares that overshoot.
_SLICE_CASES = [(8, [1, 1]), (8, [1, 3]), (10, [1, 1, 2]), (7, [1, 1, 1]), (12, [2, 1, 1]),
                (5, [1, 1, 1, 1]), (9, [0.5, 0.5, 1]), (11, [3, 3, 1])]


def _as_pairs(result):
    """The student's slices as [(start, stop)]: slice objects or pairs are both fine."""
    pairs = []
    for s in result:
        if isinstance(s, slice):
            pairs.append((s.start if s.start is not None else 0, s.stop))
        else:
            start, stop = s
            pairs.append((int(start), int(stop)))
    return pairs


@exercise("04.1", "batch slicing over devices")
def check_slices(split):
    """``split(batch_size, work_load_list)`` must return the slices the executor group uses."""
    for batch_size, loads in _SLICE_CASES:
        want = [(s.start, s.stop) for s in split_input_slice(batch_size, loads)]
        got = _as_pairs(answered(split, batch_size, list(loads), what="split"))
        if got == want:
            continue
        if len(got) != len(want):
            raise Wrong(f"split({batch_size}, {loads}) gave {len(got)} slices; one per device "
                        f"({len(want)}) is expected")
        if sum(b - a for a, b in got) != batch_size or got[0][0] != 0:
            raise Wrong(f"split({batch_size}, {loads}) = {got} does not cover rows 0..{batch_size} "
                        "exactly once: each slice starts where the previous one stopped")
        raise Wrong(f"split({batch_size}, {loads}) = {got}; the executor group uses {want}. "
                    "Hint: each device gets round(load * batch_size / sum(loads)) rows "
                    "(Python's round: 2.5 -> 2), and the last device takes whatever rounding "
                    "left over")
    return f"all {len(_SLICE_CASES)} cases equal mxteach's (and MXNet's) split_input_slice"


def _rescale_grad(batch_size, loads):
    from .. import sym
    from ..module import Module
    data = sym.Variable("data")
    net = sym.SoftmaxOutput(sym.FullyConnected(data, num_hidden=3, name="fc"), name="softmax")
    mod = Module(net, context=[_context.cpu(k) for k in range(len(loads))], work_load_list=loads)
    seen = []
    mod.events.subscribe(lambda e: seen.append(e.data["rescale_grad"]), kinds=["init_optimizer"])
    mod.bind(data_shapes=[("data", (batch_size, 4))],
             label_shapes=[("softmax_label", (batch_size,))])
    mod.init_params()
    mod.init_optimizer(optimizer="sgd")
    return seen[0], [s.stop - s.start for s in mod.exec_group.slices]


@exercise("04.2", "predict rescale_grad over three devices")
@keeps_random_state
def check_rescale_grad(answer):
    """``answer``: the ``rescale_grad`` for batch 12 over ``[cpu(0), cpu(1), cpu(2)]``,
    ``work_load_list=[1, 1, 2]``."""
    want, rows = _rescale_grad(12, [1, 1, 2])
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"expected a number such as 0.5, got {answer!r}") from None
    if abs(got - want) <= 1e-9:
        return f"rescale_grad = 1/12 = {want:.6g}; the devices get {rows} rows"
    for n in sorted(set(rows)):
        if abs(got - 1.0 / n) <= 1e-9:
            raise Wrong(f"{got:.6g} is 1/{n}, one over a device's slice. The kvstore sums the "
                        "devices' gradients first, so the scale is one over the whole batch")
    raise Wrong(f"{got:.6g} is not it. SoftmaxOutput sums its gradient over the rows it sees; "
                "the kvstore then sums over the devices. What factor turns that sum into a mean?")


def mxnet_placement(sizes, num_gpus):
    """Where MXNet 1.9.1's ``'device'`` kvstore puts each key's sum buffer.

    ``CommDevice::InitMergeBuffer`` sorts the keys by size, largest first, and gives each to
    the GPU with the fewest elements assigned so far; on a tie the lowest GPU id wins (its
    ``<=`` scan over an ``unordered_map`` visits the ids from the highest down).
    """
    order = sorted(sizes, key=lambda k: -sizes[k])     # stable: equal sizes keep key order
    load = [0] * num_gpus
    where = {}
    for key in order:
        gpu = min(range(num_gpus), key=lambda g: (load[g], g))
        where[key] = gpu
        load[gpu] += sizes[key]
    return where


def _param_sizes(net, **shapes):
    arg_shapes, _, _ = net.infer_shape(**shapes)
    inputs = set(shapes) | {n for n in net.list_arguments() if n.endswith("label")}
    sizes = {}
    for name, shape in zip(net.list_arguments(), arg_shapes):
        if name not in inputs:
            count = 1
            for d in shape:
                count *= d
            sizes[name] = count
    return sizes


def _placement_cases():
    from .. import sym
    data = sym.Variable("data")
    h = sym.Activation(sym.FullyConnected(data, num_hidden=64, name="fc1"), act_type="relu")
    mlp = sym.SoftmaxOutput(sym.FullyConnected(h, num_hidden=10, name="fc2"), name="softmax")
    c = sym.Convolution(data, kernel=(3, 3), num_filter=8, name="conv1")
    c = sym.Convolution(sym.Activation(c, act_type="relu"), kernel=(3, 3), num_filter=16,
                        name="conv2")
    c = sym.FullyConnected(sym.flatten(c), num_hidden=32, name="fc1")
    conv = sym.SoftmaxOutput(sym.FullyConnected(c, num_hidden=10, name="fc2"), name="softmax")
    return [(_param_sizes(mlp, data=(8, 784)), 2),
            (_param_sizes(conv, data=(8, 1, 12, 12)), 2),
            (_param_sizes(conv, data=(8, 1, 12, 12)), 3),
            ({"a": 10, "b": 40, "c": 30, "d": 20, "e": 5}, 2),
            ({"w1": 6, "w2": 4, "w3": 3, "w4": 2, "w5": 1}, 4)]


@exercise("04.3", "where the 'device' kvstore sums")
def check_placement(place):
    """``place(sizes, num_gpus)``: ``{key: number of elements}`` -> ``{key: gpu id}``."""
    for sizes, num_gpus in _placement_cases():
        want = mxnet_placement(sizes, num_gpus)
        got = answered(place, dict(sizes), num_gpus, what="place")
        if not isinstance(got, dict) or set(got) != set(sizes):
            raise Wrong(f"place(...) must return a dict with one GPU id per key {sorted(sizes)}; "
                        f"got {got!r}")
        got = {k: int(v) for k, v in got.items()}
        if got == want:
            continue
        if len(set(got.values())) == 1 and num_gpus > 1:
            raise Wrong(f"you put every key on gpu {next(iter(got.values()))}, the way "
                        "'on the device of the first value' would. MXNet spreads the buffers: "
                        "take the keys largest first and give each to the GPU with the fewest "
                        "elements so far")
        bad = sorted(k for k in sizes if got[k] != want[k])[0]
        raise Wrong(f"with {num_gpus} GPUs and sizes {sizes}: you put {bad!r} on gpu {got[bad]}, "
                    f"MXNet puts it on gpu {want[bad]} (all: {want}). Hint: take the keys "
                    "largest first; each goes to the GPU with the fewest elements assigned so "
                    "far (a tie goes to the lowest id)")
    return "your rule places every case as MXNet 1.9.1's CommDevice does"
