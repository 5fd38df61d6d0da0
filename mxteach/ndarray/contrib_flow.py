"""The Python functions of ``mx.nd.contrib`` that are not operators: the control flow
``foreach``, ``while_loop`` and ``cond`` run imperatively over NDArrays, and the candidate
sampler ``rand_zipfian``.

In MXNet 1.9.1 these are plain Python too (the symbolic twins in ``mx.sym.contrib`` build
subgraph operators; these do not): the loop is an ordinary Python loop that calls the user's
function on NDArrays, and the per-step outputs are stacked at the end. ``mx.nd`` attaches them
to its ``contrib`` namespace.

Nesting. ``data``, states and step outputs may be an NDArray or (nested) lists of NDArrays. They
are flattened to a list plus a *format* (``0`` for a bare NDArray, a list of formats for a list)
so each output position can be stacked over the steps, then put back into the same nesting.
"""
from __future__ import annotations

import math

from .ndarray import NDArray
from ..base import MXNetAssertionError, MXNetValueError

__all__ = ["foreach", "while_loop", "cond", "rand_zipfian"]


# The slot of the mx.nd namespace (stack, concat, zeros): ``mxteach/ndarray/__init__.py``
# imports this module and then sets itself here (importing it from here would be a circle).
ND = None


def _flatten(value, what):
    """(flat list of NDArrays, format) of an NDArray or a nested list/tuple of them."""
    if isinstance(value, NDArray):
        return [value], 0
    if not isinstance(value, (list, tuple)):
        raise MXNetAssertionError(f"{what} must be an NDArray or a (nested) list of NDArrays; "
                                  f"got {type(value).__name__} {value!r}")
    flat, fmt = [], []
    for item in value:
        sub, sub_fmt = _flatten(item, what)
        flat.extend(sub)
        fmt.append(sub_fmt)
    return flat, fmt


def _regroup(flat, fmt):
    """Inverse of :func:`_flatten`: (nested value, the unused rest of ``flat``)."""
    if fmt == 0:
        return flat[0], flat[1:]
    out = []
    for sub in fmt:
        value, flat = _regroup(flat, sub)
        out.append(value)
    return out, flat


def _scalar(value, kind, what):
    """A Python bool/int from an NDArray of one element or a number."""
    if isinstance(value, NDArray):
        value = value.asscalar()
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise MXNetValueError(f"cannot convert {what} ({value!r}) to a Python "
                              f"{kind.__name__}") from None


def foreach(body, data, init_states):
    """Run ``body`` over the first axis of ``data``, carrying states from step to step.

    ``body(slice, states) -> (outputs, new_states)``; ``data`` is an NDArray or a list of
    NDArrays (one slice of each is passed per step), ``init_states`` an NDArray or a (nested)
    list of them. Returns ``(outputs stacked along a new first axis, final states)``, as
    ``mx.nd.contrib.foreach`` in MXNet 1.9.1.
    """
    _flatten(data, "foreach data")
    _flatten(init_states, "foreach init_states")
    single = isinstance(data, NDArray)
    steps = data.shape[0] if single else data[0].shape[0]
    states, per_step, fmt = init_states, [], None
    for i in range(steps):
        step_in = data[i] if single else [d[i] for d in data]
        outs, states = body(step_in, states)
        flat, fmt = _flatten(outs, "foreach output")
        per_step.append(flat)
    stack = ND.stack
    stacked = [stack(*column) for column in zip(*per_step)]
    if fmt is None:           # no step ran: MXNet has nothing to regroup either
        return [], states
    outputs, _ = _regroup(stacked, fmt)
    return outputs, states


def while_loop(cond, func, loop_vars, max_iterations=None):
    """Call ``func(*loop_vars) -> (step_output, new_loop_vars)`` while ``cond(*loop_vars)`` is
    true, at most ``max_iterations`` times (required).

    Returns ``(outputs, final loop_vars)``: each step output stacked along a new first axis and
    padded to ``max_iterations`` rows. MXNet 1.9.1 pads with an uninitialised ``empty`` array;
    here the padding is zeros, so the result is reproducible (the rows past the last step are
    undefined in MXNet and must not be read either way).
    """
    if max_iterations is None:
        raise MXNetValueError("while_loop: max_iterations should be specified")
    max_iterations = _scalar(max_iterations, int, "max_iterations")
    if len(loop_vars) == 0:
        raise MXNetValueError("while_loop: loop_vars should contain at least one element")
    single = isinstance(loop_vars, NDArray)
    loop_vars = [loop_vars] if single else list(loop_vars)
    per_step, fmt = [], None
    while len(per_step) < max_iterations and _scalar(cond(*loop_vars), bool,
                                                    "the value of cond"):
        step_out, new_vars = func(*loop_vars)
        step_out = [] if step_out is None else step_out
        new_vars = [] if new_vars is None else new_vars
        new_vars = [new_vars] if isinstance(new_vars, NDArray) else list(new_vars)
        if len(new_vars) != len(loop_vars):
            raise MXNetValueError(f"while_loop: func returned {len(new_vars)} loop variables; "
                                  f"expected {len(loop_vars)} (the length of loop_vars)")
        loop_vars = new_vars
        flat, fmt = _flatten(list(step_out) if isinstance(step_out, tuple) else step_out,
                             "while_loop step output")
        if per_step and len(flat) != len(per_step[0]):
            raise MXNetValueError(f"while_loop: step {len(per_step)} gave {len(flat)} outputs; "
                                  f"the first step gave {len(per_step[0])}")
        per_step.append(flat)
    nd = ND
    stacked = []
    for k, column in enumerate(zip(*per_step)):
        shapes = {tuple(x.shape) for x in column}
        if len(shapes) != 1:
            raise MXNetValueError(f"while_loop: output {k} changes shape between steps: "
                                  f"{[tuple(x.shape) for x in column]}")
        rows = [x.expand_dims(0) for x in column]
        if len(column) < max_iterations:
            rows.append(nd.zeros((max_iterations - len(column),) + tuple(column[0].shape),
                                 ctx=column[0].context, dtype=column[0].dtype))
        stacked.append(nd.concat(*rows, dim=0))
    outputs = stacked if fmt is None else _regroup(stacked, fmt)[0]
    return outputs, (loop_vars[0] if single else loop_vars)


def cond(pred, then_func, else_func):
    """``then_func()`` if ``pred`` (an NDArray of one element, or a number) is true, else
    ``else_func()``; as ``mx.nd.contrib.cond``, only the chosen branch runs."""
    return then_func() if _scalar(pred, bool, "pred") else else_func()


def rand_zipfian(true_classes, num_sampled, range_max, ctx=None):
    """Draw ``num_sampled`` classes from the log-uniform (Zipfian) distribution over
    ``[0, range_max)``, P(c) = log((c + 2) / (c + 1)) / log(range_max + 1).

    Sampling: u ~ U[0, log(range_max + 1)) from ``mx.random`` (seeded by ``mx.random.seed``),
    class = (floor(exp(u) - 1)) mod range_max. Returns ``(sampled_classes`` (int64),
    ``expected_count_true``, ``expected_count_sampled)``: P(c) * num_sampled for the given true
    classes and the sampled ones (float64), as MXNet 1.9.1's candidate sampler for sampled
    softmax.
    """
    from .. import random as mx_random
    from ..context import current_context
    ctx = current_context() if ctx is None else ctx
    log_range = math.log(range_max + 1)
    u = mx_random.uniform(0, log_range, shape=(num_sampled,), dtype="float64", ctx=ctx)
    # exp(u) - 1 >= 0, so floor equals MXNet's cast to int64; the modulo runs in float64
    # (exact for these integers), which every device's arithmetic supports
    sampled = (ND.floor(ND.exp(u) - 1) % range_max).astype("int64")

    def expected(classes):
        c = classes.astype("float64")
        return ((c + 2.0) / (c + 1.0)).log() / log_range * num_sampled

    return sampled, expected(true_classes.as_in_context(ctx)), expected(sampled)
