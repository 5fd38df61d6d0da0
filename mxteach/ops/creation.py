"""Arrays made from parameters, and small facts about arrays: ``_eye`` (``eye``),
``_linspace`` (``linspace``), ``_arange`` (``mx.sym.arange``), ``shape_array``, ``size_array``,
``all_finite`` and ``multi_all_finite``.

``eye``, ``linspace`` and ``arange`` have no inputs: their shape comes from the parameters and
``ctx`` says where ``mx.nd`` makes them (``mx.nd.eye(3, ctx=mx.gpu(0))``). ``linspace`` and
``arange`` are one ramp ``start + (i // repeat) * step`` computed in float64 and stored in the
output's dtype (an integer dtype truncates, as in MXNet). ``shape_array``/``size_array`` give
int64 arrays with a zero gradient; ``all_finite`` gives float32 ``[1.]`` or ``[0.]`` (used by
mixed-precision loss scaling) and has no gradient, as in MXNet. Kernels:
``kernels/cpu/creation.py`` and ``kernels/cuda/creation.py``. See notebook 01.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register
from .common import kernel_view, flat_in, gpu_flat, zero_grads, gpu_zero_grads
from ..base import MXNetError, DTypeError
from ..kernels.cpu import creation as K

__all__ = ["CREATION_OPS"]

CREATION_OPS = ("_eye", "_linspace", "_arange", "shape_array", "size_array", "all_finite",
                "multi_all_finite")
_CTX = Param("str", "", optional=True, doc="the device mx.nd makes the array on")
_DTYPE = Param("dtype", "float32")


def _made_types(p, in_types):
    return [], [p["dtype"]]


def _register_maker(name, alias, params, shape_of, fill, doc):
    """An operator without inputs: ``shape_of(p)`` gives its shape, ``fill(module, p, out)``
    fills it with the kernels of ``module`` (CPU or CUDA)."""
    def infer_shape(p, in_shapes):
        return [], [shape_of(p)]

    def forward(p, ins, outs, is_train, state):
        out, commit = kernel_view(outs[0], outs[0].shape)
        fill(K, p, out)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import creation as C
        fill(C, p, outs[0])

    register(Op(name=name, aliases=(alias,), params=params, arguments=(),
                infer_shape=infer_shape, infer_type=_made_types, forward=forward,
                gpu_forward=gpu_forward, backward_uses=(), doc=doc + " See notebook 01."))


# -- eye -------------------------------------------------------------------------------------
def _eye_shape(p):
    if p["N"] < 0 or p["M"] < 0:
        raise MXNetError(f"eye: N and M must be >= 0, got N={p['N']}, M={p['M']}")
    return (p["N"], p["M"] or p["N"])


_register_maker("_eye", "eye", {"N": Param("int"), "M": Param("int", 0), "k": Param("int", 0),
                                "ctx": _CTX, "dtype": _DTYPE},
                _eye_shape, lambda mod, p, out: mod.eye(p["k"], out),
                "A 2-D N x M (M=0: N x N) array with ones on diagonal k (k > 0 above the main "
                "one, k < 0 below) and zeros elsewhere.")


# -- linspace and arange ---------------------------------------------------------------------
def _linspace_shape(p):
    if p["num"] < 0:
        raise MXNetError(f"linspace: num must be >= 0 (the number of values), got {p['num']}")
    return (p["num"],)


def _linspace_fill(mod, p, out):
    intervals = p["num"] - 1 if p["endpoint"] else p["num"]
    step = (p["stop"] - p["start"]) / intervals if intervals > 0 else 0.0
    mod.ramp(p["start"], step, 1, gpu_flat(out) if hasattr(out, "copy_to_host") else
             out.reshape(-1))


_register_maker("_linspace", "linspace", {
    "start": Param("float"), "stop": Param("float"), "num": Param("int"),
    "endpoint": Param("bool", True), "ctx": _CTX, "dtype": _DTYPE},
    _linspace_shape, _linspace_fill,
    "`num` evenly spaced values from `start` to `stop` (included unless endpoint=False).")


def _arange_range(p):
    start, stop = (0.0, p["start"]) if p["stop"] is None else (p["start"], p["stop"])
    if p["step"] == 0:
        raise MXNetError("arange: step must not be 0")
    if p["repeat"] < 1:
        raise MXNetError(f"arange: repeat must be >= 1, got {p['repeat']}")
    if p["infer_range"]:
        raise MXNetError("arange: infer_range=True (deprecated in MXNet 1.9) is not "
                         "supported; give stop explicitly")
    return start, stop


def _arange_shape(p):
    start, stop = _arange_range(p)
    count = max(0, math.ceil((stop - start) / p["step"]))
    return (count * p["repeat"],)


def _arange_fill(mod, p, out):
    start, _ = _arange_range(p)
    mod.ramp(start, p["step"], p["repeat"],
             gpu_flat(out) if hasattr(out, "copy_to_host") else out.reshape(-1))


_register_maker("_arange", "arange", {
    "start": Param("float"), "stop": Param("float", None, optional=True),
    "step": Param("float", 1.0), "repeat": Param("int", 1),
    "infer_range": Param("bool", False), "ctx": _CTX, "dtype": _DTYPE},
    _arange_shape, _arange_fill,
    "Values from `start` up to (not including) `stop` by `step`, each repeated `repeat` "
    "times; with stop None, from 0 up to `start`.")


# -- shape_array and size_array ----------------------------------------------------------------
def _facts(name, value_of, shape_of):
    def infer_shape(p, in_shapes):
        if in_shapes[0] is None:
            return list(in_shapes), [None]
        return [tuple(in_shapes[0])], [shape_of(tuple(in_shapes[0]))]

    def forward(p, ins, outs, is_train, state):
        outs[0][...] = value_of(ins[0].shape)

    def gpu_forward(p, ins, outs, is_train, state):
        # the values are known on the host (the shape): one copy, no kernel
        outs[0].copy_to_device(np.asarray(value_of(ins[0].shape), dtype=np.int64))

    register(Op(name=name, params={}, arguments=("data",), infer_shape=infer_shape,
                infer_type=lambda p, t: ([t[0]], ["int64"]), forward=forward,
                backward=zero_grads, gpu_forward=gpu_forward, gpu_backward=gpu_zero_grads,
                backward_uses=(), doc=f"The {name[:-6]} of `data` as a 1-D int64 array. "
                                      "See notebook 01."))


_facts("shape_array", lambda s: np.array(s, dtype=np.int64), lambda s: (len(s),))
_facts("size_array", lambda s: np.array([int(np.prod(s, dtype=np.int64))]), lambda s: (1,))


# -- all_finite and multi_all_finite -----------------------------------------------------------
def _finite_types(name):
    def rule(p, in_types):
        for k, t in enumerate(in_types):
            if t is not None and np.dtype(t).kind != "f":
                raise DTypeError(f"{name}: input {k} has dtype {np.dtype(t).name}; this "
                                 "operation only supports floating point types")
        return list(in_types), ["float32"]
    return rule


def _finite_forward(p, ins, outs, is_train, state):
    if p["init_output"]:
        outs[0][...] = 1
    for x in ins:
        K.all_finite(flat_in(x).astype(np.float32 if x.dtype == np.float16 else x.dtype,
                                       copy=False), outs[0])


def _finite_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import creation as C, elemwise
    if p["init_output"]:
        elemwise.fill(outs[0], 1)
    for x in ins:
        C.all_finite(gpu_flat(x), outs[0])


def _flag_shape(p, in_shapes):
    return list(in_shapes), [(1,)]


_INIT = Param("bool", True, doc="set the flag to 1 first (False: only ever clear it)")
register(Op(name="all_finite", params={"init_output": _INIT}, arguments=("data",),
            infer_shape=_flag_shape, infer_type=_finite_types("all_finite"),
            forward=_finite_forward, gpu_forward=_finite_gpu_forward, backward_uses=(),
            doc="[1.] when every element of `data` is finite, else [0.] (float32). "
                "See notebook 01."))
register(Op(name="multi_all_finite", params={"num_arrays": Param("int", 1, low=1),
                                             "init_output": _INIT},
            arguments=lambda p: [f"array_{k}" for k in range(p["num_arrays"])],
            num_args_param="num_arrays", infer_shape=_flag_shape,
            infer_type=_finite_types("multi_all_finite"), forward=_finite_forward,
            gpu_forward=_finite_gpu_forward, backward_uses=(),
            doc="[1.] when every element of all the `num_arrays` inputs is finite, else [0.]. "
                "See notebook 01."))
