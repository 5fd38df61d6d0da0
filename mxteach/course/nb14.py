"""Exercise checks of notebook 14 (performance and the memory planner).

Each check computes the truth by binding the notebook's networks in mxteach and reading the
executor's memory plan (``memory_report`` / ``memory_summary``) or its shapes. See notebook 14.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, exercise, returned

__all__ = ["mlp", "chain", "check_buffer_bytes", "check_ping_pong", "check_arena_count",
           "check_fc_flops"]


def mlp():
    """The notebook's small MLP: data(·, 5) → fc1(16) → relu1 → fc2(3) → softmax."""
    from .. import symbol as sym
    data = sym.Variable("data")
    h = sym.Activation(sym.FullyConnected(data, num_hidden=16, name="fc1"),
                       act_type="relu", name="relu1")
    return sym.SoftmaxOutput(sym.FullyConnected(h, num_hidden=3, name="fc2"), name="softmax")


def chain(widths):
    """A straight chain of FullyConnected layers fc0, fc1, ... with the given widths."""
    from .. import symbol as sym
    x = sym.Variable("data")
    for i, w in enumerate(widths):
        x = sym.FullyConnected(x, num_hidden=int(w), name=f"fc{i}")
    return x


def _bind(symbol, grad_req, **shapes):
    from ..context import cpu
    return symbol.simple_bind(cpu(), grad_req=grad_req, **shapes)


def _as_int(value, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a number of bytes, got {value!r}") from None
    if number != int(number):
        raise Wrong(f"{what} should be a whole number of bytes, got {value!r}")
    return int(number)


def _need_dict(answer, keys):
    if not isinstance(answer, dict):
        raise Wrong(f"answer with a dict with the keys {keys}, got {type(answer).__name__}")
    missing = [k for k in keys if k not in answer or answer[k] is Ellipsis or answer[k] is None]
    if missing:
        raise Wrong(f"fill in {missing} (the dict needs the keys {keys})")


@exercise("14.1", "predict the bytes of an activation and of the parameter gradients")
def check_buffer_bytes(answer):
    """``answer = {"relu1_output": bytes, "param_grads": bytes}`` for the MLP bound at batch
    48 with ``grad_req='write'``."""
    _need_dict(answer, ["relu1_output", "param_grads"])
    exe = _bind(mlp(), "write", data=(48, 5))
    rows = {r.name: r for r in exe.memory_report()}
    act = rows["relu1_output"].bytes
    params = [n for n in exe.arg_names if n.endswith(("_weight", "_bias"))]
    grads = sum(rows[n + "_grad"].bytes for n in params)
    got_act = _as_int(answer["relu1_output"], "relu1_output")
    got_grads = _as_int(answer["param_grads"], "param_grads")
    if got_act != act:
        hint = (" That is the batch-12 size: activations grow with the batch."
                if got_act == act // 4 else "")
        raise Wrong(f"relu1_output is not {got_act} bytes.{hint} An activation holds one float32 "
                    "(4 bytes) per row of the batch per hidden unit: rows × 16 × 4.")
    if got_grads != grads:
        raise Wrong(f"the parameter gradients are not {got_grads} bytes: there is one gradient "
                    "per weight and bias, of the same shape, so they do not depend on the batch "
                    "size; add up (16×5 + 16 + 3×16 + 3) float32 values × 4 bytes.")
    return f"relu1_output {act} B (grows with the batch), parameter gradients {grads} B (does not)."


@exercise("14.2", "write a ping-pong memory planner")
def check_ping_pong(planner):
    """``planner(sizes) -> (which, arena_bytes)`` for a chain whose forward outputs have
    ``sizes`` bytes (the last layer's output excluded: it gets its own buffer)."""
    cases = [[8, 32, 4, 16, 2], [5, 7, 3], [64, 8, 8, 64, 16, 16, 3]]
    for widths in cases:
        batch = 4
        exe = _bind(chain(widths), "null", data=(batch, 3))
        sizes = [batch * w * 4 for w in widths[:-1]]
        out = returned(planner, list(sizes), what="your planner")
        if not (isinstance(out, tuple) and len(out) == 2):
            raise Wrong("return a pair (which, arena_bytes): which[i] is the arena (0 or 1) of "
                        "layer i's output, arena_bytes the size of arena 0 and of arena 1")
        which, arenas = list(out[0]), [int(a) for a in out[1]]
        if len(which) != len(sizes):
            raise Wrong(f"for {len(sizes)} outputs you returned {len(which)} arena numbers")
        if len(arenas) != 2 or any(w not in (0, 1) for w in which):
            raise Wrong("a ping-pong plan has exactly two arenas, numbered 0 and 1")
        for i in range(1, len(which)):
            if which[i] == which[i - 1]:
                raise Wrong(f"outputs {i - 1} and {i} are both in arena {which[i]}: layer {i} "
                            f"reads output {i - 1} while it writes output {i}, so it would "
                            "overwrite its own input. Alternate the arenas.")
        for a in (0, 1):
            need = max([s for s, w in zip(sizes, which) if w == a], default=0)
            if arenas[a] < need:
                raise Wrong(f"arena {a} has {arenas[a]} bytes but must hold an output of "
                            f"{need} bytes")
            if arenas[a] > need:
                raise Wrong(f"arena {a} has {arenas[a]} bytes, more than its largest user "
                            f"({need} bytes): waste. An arena is as big as the biggest output "
                            "it holds, not the sum of them.")
        planned = exe.memory_summary()["intermediate_planned_bytes"]
        if sum(arenas) != planned:
            raise Wrong(f"for sizes {sizes} your arenas total {sum(arenas)} bytes, the "
                        f"executor's planner needs {planned}")
    return "your plan equals the executor's: two arenas, each as big as its largest user."


def _arena_count(exe):
    names = {r.shared_with.split(":")[0] for r in exe.memory_report()
             if r.shared_with.startswith("arena")}
    return len(names)


@exercise("14.3", "predict how many arenas training and inference need")
def check_arena_count(answer):
    """``answer = {"training": n, "inference": m}``: arenas of the MLP at batch 12."""
    _need_dict(answer, ["training", "inference"])
    want = {"training": _arena_count(_bind(mlp(), "write", data=(12, 5))),
            "inference": _arena_count(_bind(mlp(), "null", data=(12, 5)))}
    got = {k: _as_int(answer[k], k) for k in want}
    if got["inference"] != want["inference"]:
        raise Wrong(f"inference does not need {got['inference']} arena(s): without backward, "
                    "an activation dies as soon as the next layer has read it, so fc2_output "
                    "can reuse fc1_output's arena (relu1 reads fc1_output while writing "
                    "relu1_output, so those two cannot share).")
    if got["training"] != want["training"]:
        raise Wrong(f"training does not need {got['training']} arena(s): backward reads the "
                    "forward activations again, so they stay alive until their backward step "
                    "and cannot share with each other; only buffers of the backward pass "
                    "(gradients of activations) can reuse an arena. Count them in "
                    "memory_report's shared_with column.")
    return (f"training {want['training']} arenas, inference {want['inference']}: backward keeps "
            "activations alive.")


@exercise("14.4", "count the floating-point operations of FullyConnected")
def check_fc_flops(fn):
    """``fn(batch, in_features, num_hidden)`` -> forward FLOPs of one FullyConnected layer."""
    from .. import symbol as sym
    for batch, fin, hidden in [(128, 784, 512), (1, 5, 16), (12, 16, 3)]:
        fc = sym.FullyConnected(sym.Variable("data"), num_hidden=hidden, name="fc")
        arg_shapes, out_shapes, _ = fc.infer_shape(data=(batch, fin))
        weight = dict(zip(fc.list_arguments(), arg_shapes))["fc_weight"]
        # each output value is a dot product of length in_features: one multiply and one add
        # per term
        want = 2 * int(np.prod(out_shapes[0])) * int(weight[1])
        got = returned(fn, batch, fin, hidden, what="your fc_flops")
        if got == want // 2:
            raise Wrong(f"fc_flops{(batch, fin, hidden)} = {got}: that counts multiply-adds; a "
                        "multiply-add is two floating-point operations (FLOPs).")
        if got != want:
            raise Wrong(f"fc_flops{(batch, fin, hidden)} = {got}, expected {want}: every one of "
                        "the batch × num_hidden outputs is a dot product of in_features terms.")
    return "2 · batch · in_features · num_hidden (the bias adds are negligible)."
