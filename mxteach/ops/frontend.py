"""Turn a registered operator into a front-end function (shared by ``mx.nd`` and ``mx.sym``):
split a call's arguments into inputs (by position or by input name) and parameters."""
from __future__ import annotations

from ..base import MXNetError
from .registry import Op, parse_params


def split_call(op: Op, args, kwargs, is_input):
    """Return (inputs-by-name dict or ordered list, raw params, name, attr).

    Positional inputs fill the operator's inputs in order; a variable-arity operator takes them
    all and gets its count parameter set.
    """
    kwargs = dict(kwargs)
    name = kwargs.pop("name", None)
    attr = kwargs.pop("attr", None)
    params = {k: v for k, v in kwargs.items() if not is_input(v)}
    named = {k: v for k, v in kwargs.items() if is_input(v)}
    positional = list(args)
    # positional values after the inputs are parameters in declaration order (clip(x, 0, 1))
    n_in = next((i for i, a in enumerate(positional) if not _is_input_like(a, is_input)),
                len(positional))
    extra, positional = positional[n_in:], positional[:n_in]
    for key, value in zip([k for k in op.params if k not in params], extra):
        params[key] = value
    if len(extra) > len(op.params):
        raise MXNetError(f"{op.name}: too many positional arguments {extra}")
    if op.num_args_param:
        if len(positional) == 1 and isinstance(positional[0], (list, tuple)):
            positional = list(positional[0])
        positional += [named.pop(k) for k in sorted(named, key=str) if k.startswith("arg")]
        if named.get("data") is not None and not positional:
            d = named.pop("data")
            positional = list(d) if isinstance(d, (list, tuple)) else [d]
        params.setdefault(op.num_args_param, len(positional))
    # __lr_mult__-style keys are node attributes, not parameters
    node_attr = {k: str(v) for k, v in params.items() if k.startswith("__") and k.endswith("__")}
    for k in node_attr:
        params.pop(k)
    if attr:
        node_attr.update({k: str(v) for k, v in attr.items()})
    p = parse_params(op, params, name or op.name)
    names = op.list_arguments(p) + op.list_aux(p)
    if op.num_args_param:
        if named:
            raise MXNetError(f"{op.name} takes its inputs by position; got named {sorted(named)}")
        return positional, params, name, node_attr
    if len(positional) > len(names):
        raise MXNetError(f"{op.name} takes at most {len(names)} inputs ({names}), "
                         f"got {len(positional)}")
    inputs = dict(zip(names, positional))
    for k, v in named.items():
        if k not in names:
            raise MXNetError(f"{op.name} has no input '{k}'; its inputs are {names}")
        if k in inputs:
            raise MXNetError(f"{op.name}: input '{k}' given twice")
        inputs[k] = v
    return inputs, params, name, node_attr


def _is_input_like(value, is_input):
    if isinstance(value, (list, tuple)) and value and all(is_input(v) for v in value):
        return True
    return is_input(value) or value is None
