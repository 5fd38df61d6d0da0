"""Elementwise operators: binary (same-shape and broadcasting), binary with a scalar, unary
math, clip, add_n and identity.

Each family is a small table: one row per operator gives its MXNet name and aliases, its
forward (a numpy ufunc writing into ``out``) and its gradient formula, side by side. The rows are
turned into registered operators by the ``_make_*`` functions below.

Python operators on Symbols map onto these (``a + b`` → ``elemwise_add`` named ``_plus0``,
``a + 2`` → ``_plus_scalar`` named ``_plusscalar0``); ``hint`` records that auto-name prefix.
Integer inputs follow MXNet: a scalar is cast to the input dtype first (``int32 + 0.5`` adds 0),
and division truncates toward zero.

Kernels: CPU numpy ufuncs and ``kernels/cpu/elemwise.py`` (broadcast sums, clip, max/min
masks); CUDA: every operator here is the one generic map kernel of
``kernels/cuda/elemwise.py`` and its gradient (a code picks the function; broadcasting through
strides), except relu, sigmoid, tanh (``kernels/cuda/nn.py``, shared with Activation); numpy
twins ``kernels/reference/elemwise.py``.
See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import (same_dtype, grad_to_shape, identity_shape, zero_grads, grad_mode,
                     gpu_activation, gpu_copy_forward, gpu_copy_backward)
from ..base import ShapeError
from ..kernels.cpu.elemwise import clip_forward, clip_backward, maxmin_backward
from ..kernels.cpu.nn import ACT_CODES

__all__ = ["broadcast_shapes"]


# -- shape rules ----------------------------------------------------------------------------
def _same_shape(opname, names):
    def rule(p, in_shapes):
        known = [(i, tuple(s)) for i, s in enumerate(in_shapes) if s is not None]
        if not known:
            return list(in_shapes), [None]
        shape = known[0][1]
        for i, s in known:
            if s != shape:
                raise ShapeError(f"{opname}: input '{names(p)[i]}' has shape {s} but "
                                 f"'{names(p)[known[0][0]]}' has {shape}; elementwise operators "
                                 f"need equal shapes (broadcast_* operators broadcast)")
        return [shape] * len(in_shapes), [shape]
    return rule


def broadcast_shapes(opname, lhs, rhs):
    """The broadcast result of two shapes (aligned on the right, as numpy and MXNet do)."""
    nd = max(len(lhs), len(rhs))
    a = (1,) * (nd - len(lhs)) + tuple(lhs)
    b = (1,) * (nd - len(rhs)) + tuple(rhs)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ShapeError(f"{opname}: operands with shapes lhs {tuple(lhs)} and rhs "
                             f"{tuple(rhs)} cannot be broadcast together (each axis must match "
                             f"or be 1)")
        out.append(y if x == 1 else x)
    return tuple(out)


def _broadcast_shape(opname):
    def rule(p, in_shapes):
        lhs, rhs = in_shapes
        if lhs is None or rhs is None:
            return list(in_shapes), [None]
        return [tuple(lhs), tuple(rhs)], [broadcast_shapes(opname, lhs, rhs)]
    return rule


def _is_int(dtype):
    return np.dtype(dtype).kind in "iub"


def _divide(a, b, out):
    if _is_int(out.dtype):   # C division: truncate toward zero
        with np.errstate(divide="ignore", invalid="ignore"):
            out[...] = np.trunc(np.true_divide(a, b))
    else:
        np.divide(a, b, out=out)


def _mod(a, b, out):
    """Python-style remainder (sign of the divisor), and 0 where the divisor is 0, as MXNet."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.fmod(a, b)
        r = np.where((r != 0) & ((r < 0) != (np.asarray(b) < 0)), r + b, r)
        out[...] = np.where(np.asarray(b) == 0, 0, r)


def _maxmin_grads(is_max):
    def grads(g, a, b, o):
        shape = g.shape
        flat = [np.ascontiguousarray(np.broadcast_to(v, shape), dtype=g.dtype).reshape(-1)
                for v in (a, b, g)]
        ga, gb = np.empty_like(flat[2]), np.empty_like(flat[2])
        maxmin_backward(flat[0], flat[1], flat[2], ga, gb, is_max)
        return ga.reshape(shape), gb.reshape(shape)
    return grads


def _pow_grads(g, a, b, o):
    with np.errstate(all="ignore"):
        return g * b * np.power(a, b - 1), g * o * np.log(a)


# -- binary: same shape (elemwise_*, _maximum ...) and broadcasting (broadcast_*) ------------
# key: (elementwise name, its aliases, auto-name hint, broadcast name, its aliases,
#       forward(a, b, out), grads(g, a, b, out) -> (d lhs, d rhs), what backward reads)
_BINARY = [
    ("elemwise_add", ("_Plus", "_plus", "_add"), "_plus", "broadcast_add", ("broadcast_plus",),
     lambda a, b, o: np.add(a, b, out=o), lambda g, a, b, o: (g, g), ()),
    ("elemwise_sub", ("_Minus", "_minus", "_sub"), "_minus", "broadcast_sub",
     ("broadcast_minus",), lambda a, b, o: np.subtract(a, b, out=o),
     lambda g, a, b, o: (g, -g), ()),
    ("elemwise_mul", ("_Mul", "_mul"), "_mul", "broadcast_mul", (),
     lambda a, b, o: np.multiply(a, b, out=o), lambda g, a, b, o: (g * b, g * a), ("ins",)),
    ("elemwise_div", ("_Div", "_div"), "_div", "broadcast_div", (), _divide,
     lambda g, a, b, o: (g / b, -g * a / (b * b)), ("ins",)),
    ("_maximum", ("_Maximum",), None, "broadcast_maximum", (),
     lambda a, b, o: np.maximum(a, b, out=o), _maxmin_grads(True), ("ins",)),
    ("_minimum", ("_Minimum",), None, "broadcast_minimum", (),
     lambda a, b, o: np.minimum(a, b, out=o), _maxmin_grads(False), ("ins",)),
    ("_power", ("_Power",), None, "broadcast_power", (),
     lambda a, b, o: np.power(a, b, out=o), _pow_grads, ("ins", "outs")),
    ("_mod", ("_Mod",), None, "broadcast_mod", (), _mod,
     lambda g, a, b, o: (g, -g * np.floor(a / b)), ("ins",)),
]
for _name, _cmp in [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
                    ("greater_equal", np.greater_equal), ("lesser", np.less),
                    ("lesser_equal", np.less_equal)]:
    _alias = "_" + "_".join(w.capitalize() for w in _name.split("_"))   # _Greater_Equal
    _BINARY.append((f"_{_name}", (_alias,), None, f"broadcast_{_name}", (),
                    lambda a, b, o, f=_cmp: f(a, b, out=o), None, ()))


def _gpu_map(verb, scalar=False, swap=False, bounds=None):
    """GPU (forward, backward) of an elementwise operator: the one generic CUDA map kernel and
    its gradient (``kernels/cuda/elemwise.py``), with ``verb`` picking the function. Binary
    operators pass both inputs (broadcasting or not: the kernel reads strides); ``scalar``
    operators pass p["scalar"] as the second operand (``swap``: scalar first, ``2 - x``);
    ``bounds(p)`` gives clip's (a_min, a_max)."""
    def operands(p):
        if bounds is not None:
            return bounds(p)
        return (p["scalar"] if scalar else 0.0), 0.0

    def forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import elemwise
        s, z = operands(p)
        rhs = ins[1] if len(ins) > 1 else None
        elemwise.map_forward(verb, ins[0], rhs, outs[0], s=s, z=z, swap=swap)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import elemwise
        # an operator that declares backward_uses without ins (add, exp ...) may get inputs
        # whose memory the planner reused: its formula never reads them (d(a+b)/da is 1)
        s, z = operands(p)
        rhs = ins[1] if len(ins) > 1 else None
        for i in range(len(ins)):
            if grad_mode(reqs[i], igrads[i]):
                side = 1 if (i == 1 or swap) else 0
                elemwise.map_grad(verb, ograds[0], ins[0], rhs, outs[0], side,
                                  reqs[i] == "add", igrads[i], s=s, z=z, swap=swap)
    return forward, backward


def _make_binary(name, aliases, hint, forward, grads, uses, broadcast, verb):
    """Register one binary operator; ``grads=None`` means no gradient (comparisons)."""
    def fwd(p, ins, outs, is_train, state):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            forward(ins[0], ins[1], outs[0])

    def bwd(p, ograds, ins, outs, igrads, reqs, state):
        if igrads[0] is None and igrads[1] is None:
            return
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ga, gb = grads(ograds[0], ins[0], ins[1], outs[0])
        if broadcast:
            grad_to_shape(igrads[0], reqs[0], ga)
            grad_to_shape(igrads[1], reqs[1], gb)
        else:
            assign(igrads[0], reqs[0], ga)
            assign(igrads[1], reqs[1], gb)

    kind = ("shapes broadcast; the gradient sums over the broadcast axes" if broadcast
            else "shapes must be equal")
    gpu = _gpu_map(verb)
    register(Op(name=name, params={}, arguments=("lhs", "rhs"),
                infer_shape=(_broadcast_shape(name) if broadcast else
                             _same_shape(name, lambda p: ["lhs", "rhs"])),
                infer_type=same_dtype(name, ["lhs", "rhs"]), forward=fwd,
                backward=zero_grads if grads is None else bwd,
                gpu_forward=gpu[0], gpu_backward=gpu[1], aliases=aliases, hint=hint,
                backward_uses=uses,
                doc=f"Elementwise {verb}(lhs, rhs); {kind}. See notebook 01."))


for _row in _BINARY:
    _verb = _row[3][len("broadcast_"):]
    _make_binary(_row[0], _row[1], _row[2], _row[5], _row[6], _row[7], False, _verb)
    _make_binary(_row[3], _row[4], None, _row[5], _row[6], _row[7], True, _verb)


# -- binary with a scalar ------------------------------------------------------------------
def _rdiv(x, s, o):
    _divide(s, x, o)


# name: (aliases, hint, forward(x, s, out), grad(g, x, out, s), what backward reads)
_SCALAR = {
    "_plus_scalar": (("_PlusScalar",), "_plusscalar", lambda x, s, o: np.add(x, s, out=o),
                     lambda g, x, o, s: g, ()),
    "_minus_scalar": (("_MinusScalar",), "_minusscalar",
                      lambda x, s, o: np.subtract(x, s, out=o), lambda g, x, o, s: g, ()),
    "_rminus_scalar": (("_RMinusScalar",), "_rminusscalar",
                       lambda x, s, o: np.subtract(s, x, out=o), lambda g, x, o, s: -g, ()),
    "_mul_scalar": (("_MulScalar",), "_mulscalar", lambda x, s, o: np.multiply(x, s, out=o),
                    lambda g, x, o, s: g * s, ()),
    "_div_scalar": (("_DivScalar",), "_divscalar", _divide, lambda g, x, o, s: g / s, ()),
    "_rdiv_scalar": (("_RDivScalar",), "_rdivscalar", _rdiv,
                     lambda g, x, o, s: -g * s / (x * x), ("ins",)),
    "_power_scalar": (("_PowerScalar",), "_powerscalar",
                      lambda x, s, o: np.power(x, s, out=o),
                      lambda g, x, o, s: g * s * np.power(x, s - 1), ("ins",)),
    # `2 ** a` is named _rpower_scalar0 in MXNet (Symbol.__rpow__ calls the canonical name)
    "_rpower_scalar": (("_RPowerScalar",), None, lambda x, s, o: np.power(s, x, out=o),
                       lambda g, x, o, s: g * o * np.log(s), ("outs",)),
    "_maximum_scalar": (("_MaximumScalar",), "_maximumscalar",
                        lambda x, s, o: np.maximum(x, s, out=o),
                        lambda g, x, o, s: g * (x >= s), ("ins",)),
    "_minimum_scalar": (("_MinimumScalar",), "_minimumscalar",
                        lambda x, s, o: np.minimum(x, s, out=o),
                        lambda g, x, o, s: g * (x <= s), ("ins",)),
    "_mod_scalar": (("_ModScalar",), "_modscalar", _mod, lambda g, x, o, s: g, ()),
    "_rmod_scalar": (("_RModScalar",), "_rmodscalar", lambda x, s, o: _mod(s, x, o),
                     lambda g, x, o, s: -g * np.floor(s / x), ("ins",)),
}
for _name, _cmp in [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater),
                    ("greater_equal", np.greater_equal), ("lesser", np.less),
                    ("lesser_equal", np.less_equal)]:
    _alias = "_" + _name.title().replace("_", "") + "Scalar"          # _GreaterEqualScalar
    _SCALAR[f"_{_name}_scalar"] = ((_alias,), None, lambda x, s, o, f=_cmp: f(x, s, out=o),
                                   lambda g, x, o, s: 0, ())


def _scalar_types(p, in_types):
    t = in_types[0]
    if t is None:
        return [None], [None]
    out = "float64" if _is_int(t) and not p["is_int"] else np.dtype(t).name
    return [np.dtype(t).name], [out]


def _scalar_verb(name):
    """(CUDA verb, swap) of a scalar operator: _rminus_scalar is ``sub`` with the scalar first."""
    base = name[1:-len("_scalar")]
    swap = base in ("rminus", "rdiv", "rpower", "rmod")
    base = base[1:] if swap else base
    return {"plus": "add", "minus": "sub", "mul": "mul", "div": "div"}.get(base, base), swap


def _make_scalar(name, aliases, hint, forward, grad, uses):
    def operands(p, x, out):
        # MXNet casts the scalar to the computation dtype: int32 + 0.5 adds int32(0.5) == 0
        if out.dtype != x.dtype:
            x = x.astype(out.dtype)
        return x, out.dtype.type(p["scalar"])

    def fwd(p, ins, outs, is_train, state):
        x, s = operands(p, ins[0], outs[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            forward(x, s, outs[0])

    def bwd(p, ograds, ins, outs, igrads, reqs, state):
        if igrads[0] is None:
            return
        x, s = operands(p, ins[0], outs[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            assign(igrads[0], reqs[0], grad(ograds[0], x, outs[0], s))

    verb, swap = _scalar_verb(name)
    gpu = _gpu_map(verb, scalar=True, swap=swap)
    register(Op(name=name, params={"scalar": Param("float", 1.0), "is_int": Param("bool", True)},
                arguments=("data",), infer_shape=identity_shape, infer_type=_scalar_types,
                forward=fwd, backward=bwd, gpu_forward=gpu[0], gpu_backward=gpu[1],
                aliases=aliases, hint=hint, backward_uses=uses,
                doc=f"Elementwise {_FORMULA.get(name, name)}, the number cast to data's "
                    "dtype first. See notebook 01."))


_FORMULA = {"_plus_scalar": "data + scalar", "_minus_scalar": "data - scalar",
            "_rminus_scalar": "scalar - data", "_mul_scalar": "data * scalar",
            "_div_scalar": "data / scalar", "_rdiv_scalar": "scalar / data",
            "_power_scalar": "data ** scalar", "_rpower_scalar": "scalar ** data",
            "_maximum_scalar": "maximum(data, scalar)", "_minimum_scalar": "minimum(data, scalar)",
            "_mod_scalar": "data % scalar", "_rmod_scalar": "scalar % data",
            "_equal_scalar": "data == scalar (1 or 0)", "_not_equal_scalar": "data != scalar",
            "_greater_scalar": "data > scalar", "_greater_equal_scalar": "data >= scalar",
            "_lesser_scalar": "data < scalar", "_lesser_equal_scalar": "data <= scalar"}


for _name, _row in _SCALAR.items():
    _make_scalar(_name, *_row)


# -- unary math ------------------------------------------------------------------------------
def _sigmoid(x, o):
    np.negative(x, out=o)
    np.exp(o, out=o)
    o += 1
    np.reciprocal(o, out=o)


def _rsqrt(x, o):
    np.sqrt(x, out=o)
    np.reciprocal(o, out=o)


# name: (aliases, forward(x, out), grad(g, x, out), what backward reads)
_UNARY = {
    "negative": ((), lambda x, o: np.negative(x, out=o), lambda g, x, o: -g, ()),
    "_copy": (("identity",), lambda x, o: np.copyto(o, x), lambda g, x, o: g, ()),
    "exp": ((), lambda x, o: np.exp(x, out=o), lambda g, x, o: g * o, ("outs",)),
    "log": ((), lambda x, o: np.log(x, out=o), lambda g, x, o: g / x, ("ins",)),
    "sqrt": ((), lambda x, o: np.sqrt(x, out=o), lambda g, x, o: g * 0.5 / o, ("outs",)),
    "rsqrt": ((), _rsqrt, lambda g, x, o: -0.5 * g / (x * np.sqrt(x)), ("ins",)),
    "square": ((), lambda x, o: np.multiply(x, x, out=o), lambda g, x, o: 2 * x * g, ("ins",)),
    "reciprocal": ((), lambda x, o: np.reciprocal(x, out=o), lambda g, x, o: -g / (x * x),
                   ("ins",)),
    "abs": ((), lambda x, o: np.abs(x, out=o), lambda g, x, o: g * np.sign(x), ("ins",)),
    "sign": ((), lambda x, o: np.sign(x, out=o), lambda g, x, o: 0, ()),
    # relu's gradient at exactly 0 is 0, as in MXNet
    "relu": ((), lambda x, o: np.maximum(x, 0, out=o), lambda g, x, o: g * (o > 0), ("outs",)),
    "sigmoid": ((), _sigmoid, lambda g, x, o: g * o * (1 - o), ("outs",)),
    "tanh": ((), lambda x, o: np.tanh(x, out=o), lambda g, x, o: g * (1 - o * o), ("outs",)),
}


_FLOAT_MATH = {"exp", "log", "sqrt", "rsqrt", "reciprocal", "sigmoid", "tanh"}


def _make_unary(name, aliases, forward, grad, uses):
    def fwd(p, ins, outs, is_train, state):
        x, out = ins[0], outs[0]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if _is_int(out.dtype) and name in _FLOAT_MATH:
                tmp = np.empty(x.shape, np.float64)   # integer math: compute, then truncate
                forward(x.astype(np.float64), tmp)
                out[...] = tmp
            else:
                forward(x, out)

    def bwd(p, ograds, ins, outs, igrads, reqs, state):
        if igrads[0] is not None:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                assign(igrads[0], reqs[0], grad(ograds[0], ins[0], outs[0]))

    if name in ACT_CODES:          # relu, sigmoid, tanh: the activation kernels
        gpu = gpu_activation(lambda p: ACT_CODES[name])
    elif name == "_copy":
        gpu = (gpu_copy_forward, gpu_copy_backward)
    else:
        gpu = _gpu_map(name)
    register(Op(name=name, params={}, arguments=("data",), infer_shape=identity_shape,
                infer_type=same_dtype(name, ["data"]), forward=fwd, backward=bwd,
                gpu_forward=gpu[0], gpu_backward=gpu[1], aliases=aliases, backward_uses=uses,
                doc=f"Elementwise {name.strip('_')}(data). See notebook 01."))


for _name, _row in _UNARY.items():
    _make_unary(_name, *_row)


# -- clip ------------------------------------------------------------------------------------
def _clip_bounds(p, dtype):
    return np.dtype(dtype).type(p["a_min"]), np.dtype(dtype).type(p["a_max"])


def _clip_forward(p, ins, outs, is_train, state):
    x, out = ins[0], outs[0]
    lo, hi = _clip_bounds(p, x.dtype)
    if out.flags.c_contiguous:
        clip_forward(np.ascontiguousarray(x).reshape(-1), lo, hi, out.reshape(-1))
    else:
        tmp = np.empty(x.size, x.dtype)
        clip_forward(np.ascontiguousarray(x).reshape(-1), lo, hi, tmp)
        out[...] = tmp.reshape(x.shape)


def _clip_backward(p, ograds, ins, outs, igrads, reqs, state):
    gx = igrads[0]
    if gx is None or reqs[0] == "null":
        return
    x = np.ascontiguousarray(ins[0]).reshape(-1)
    g = np.ascontiguousarray(ograds[0], dtype=x.dtype).reshape(-1)
    lo, hi = _clip_bounds(p, x.dtype)
    if gx.flags.c_contiguous:
        clip_backward(x, g, lo, hi, gx.reshape(-1), reqs[0] == "add")
    else:
        tmp = np.empty(x.size, x.dtype)
        clip_backward(x, g, lo, hi, tmp, False)
        assign(gx, reqs[0], tmp.reshape(gx.shape))


register(Op(
    name="clip", params={"a_min": Param("float", doc="lower bound"),
                         "a_max": Param("float", doc="upper bound")},
    arguments=("data",), infer_shape=identity_shape, infer_type=same_dtype("clip", ["data"]),
    forward=_clip_forward, backward=_clip_backward, backward_uses=("ins",),
    gpu_forward=_gpu_map("clip", bounds=lambda p: (p["a_min"], p["a_max"]))[0],
    gpu_backward=_gpu_map("clip", bounds=lambda p: (p["a_min"], p["a_max"]))[1],
    doc="Limit data to [a_min, a_max]; the gradient passes where a_min <= x <= a_max "
        "(bounds included). See notebook 01."))


# -- add_n -----------------------------------------------------------------------------------
def _addn_args(p):
    return [f"arg{i}" for i in range(p["num_args"])]


def _addn_forward(p, ins, outs, is_train, state):
    out = outs[0]
    np.copyto(out, ins[0])
    for x in ins[1:]:
        out += x


def _addn_backward(p, ograds, ins, outs, igrads, reqs, state):
    for gi, req in zip(igrads, reqs):
        assign(gi, req, ograds[0])


def _addn_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise
    elemwise.copy(ins[0], outs[0])
    for x in ins[1:]:
        elemwise.map_forward("add", outs[0], x, outs[0])


def _addn_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    for i in range(len(igrads)):
        gpu_copy_backward(p, ograds, ins, outs, igrads[i:i + 1], reqs[i:i + 1], state)


register(Op(
    name="add_n", params={"num_args": Param("int", doc="how many arrays to add")},
    arguments=_addn_args, infer_shape=_same_shape("add_n", _addn_args),
    infer_type=lambda p, t: same_dtype("add_n", _addn_args(p))(p, t),
    forward=_addn_forward, backward=_addn_backward, aliases=("ElementWiseSum",),
    gpu_forward=_addn_gpu_forward, gpu_backward=_addn_gpu_backward,
    num_args_param="num_args", backward_uses=(),
    doc="The sum of num_args arrays of one shape. See notebook 01."))
