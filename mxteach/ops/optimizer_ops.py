"""MXNet's optimizer update operators: ``sgd_update``, ``sgd_mom_update``, ``nag_mom_update``,
``signsgd_update``, ``signum_update``, ``adam_update``, ``rmsprop_update``,
``rmspropalex_update``, ``ftrl_update``, ``ftml_update`` and the mixed-precision
``mp_sgd_update``, ``mp_sgd_mom_update``, ``mp_nag_mom_update``.

MXNet's Python optimizers are built on these; scripts also call them directly, typically as
``mx.nd.sgd_mom_update(w, g, mom, lr=0.1, momentum=0.9, out=w)``. The output is the new weight;
the state inputs (``mom``, ``mean``/``var`` ...) are updated in place, as in MXNet. The rules are
the optimizers' own (``optimizer/steps.py`` documents them): Numba loops on the CPU
(``kernels/cpu/optim.py``), the optimizers' CUDA kernels on the GPU (``kernels/cuda/optim*.py``).
The ``mp_`` forms update a float32 master copy ``weight32`` and write the weight in its own
dtype. A gradient bound clips when it is truthy and non-negative (``clip_gradient=0`` does not
clip here; MXNet's kernel would clip to 0, zeroing the gradient). They have no gradient, as in
MXNet. See notebook 05.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import inplace_view
from ..base import MXNetError
from ..kernels.cpu import optim as K

__all__ = ["UPDATE_OPS"]

UPDATE_OPS = []

_COMMON = {"lr": Param("float", doc="learning rate"), "wd": Param("float", 0.0),
           "rescale_grad": Param("float", 1.0),
           "clip_gradient": Param("float", -1.0, doc="clip bound (< 0: none)")}
_LAZY = {"lazy_update": Param("bool", True, doc="only rows with gradients (row_sparse)")}


def _clip(t, bound):
    use = bool(bound) and bound >= 0
    return t(bound if use else 0), use


def _cpu_rule(name, t, p, w, g, states):
    """Run rule ``name`` in place on the flat float arrays."""
    lr, wd, rs, one = t(p["lr"]), t(p["wd"]), t(p["rescale_grad"]), t(1)
    bound, use = _clip(t, p.get("clip_gradient", p.get("clip_grad", -1.0)))
    if name == "sgd":
        K.sgd_step(w, g, lr, wd, rs, bound, use)
    elif name == "sgd_mom":
        K.sgd_mom_step(w, g, *states, lr, wd, rs, bound, use, t(p["momentum"]))
    elif name == "nag_mom":
        K.nag_step(w, g, *states, lr, wd, rs, bound, use, t(p["momentum"]), one)
    elif name == "signsgd":
        K.signsgd_step(w, g, lr, wd, one)
    elif name == "signum":
        K.signum_step(w, g, *states, lr, wd, rs, bound, use, t(p["momentum"]), t(p["wd_lh"]),
                      one)
    elif name == "adam":
        K.adam_step(w, g, *states, lr, wd, rs, bound, use, t(p["beta1"]), t(p["beta2"]),
                    t(p["epsilon"]), one)
    elif name in ("rmsprop", "rmspropalex"):
        wbound, clip_w = _clip(t, p["clip_weights"])
        if name == "rmsprop":
            K.rmsprop_step(w, g, *states, lr, wd, rs, bound, use, t(p["gamma1"]),
                           t(p["epsilon"]), wbound, clip_w, one)
        else:
            K.rmspropalex_step(w, g, *states, lr, wd, rs, bound, use, t(p["gamma1"]),
                               t(p["gamma2"]), t(p["epsilon"]), wbound, clip_w, one)
    elif name == "ftrl":
        K.ftrl_step(w, g, *states, lr, wd, rs, bound, use, t(p["lamda1"]), t(p["beta"]))
    elif name == "ftml":
        b1, b2, step = t(p["beta1"]), t(p["beta2"]), t(p["t"])
        K.ftml_step(w, g, *states, lr, wd, rs, bound, use, b1, b2, t(p["epsilon"]),
                    one - b1 ** step, one - b2 ** step, one)


def _gpu_rule(name, p, w, g, states):
    """The optimizers' CUDA twins, in place on device arrays."""
    from ..kernels.cuda import optim as C, optim_adaptive as CA
    lr, wd, rs = p["lr"], p["wd"], p["rescale_grad"]
    clip = p.get("clip_gradient", p.get("clip_grad", -1.0))
    calls = {
        "sgd": lambda: C.sgd_step(w, g, None, lr, wd, rs, clip, 0.0),
        "sgd_mom": lambda: C.sgd_step(w, g, *states, lr, wd, rs, clip, p["momentum"]),
        "nag_mom": lambda: C.nag_step(w, g, *states, lr, wd, rs, clip, p["momentum"]),
        "signsgd": lambda: C.signum_step(w, g, None, lr, wd, rs, clip, 0.0, 0.0),
        "signum": lambda: C.signum_step(w, g, *states, lr, wd, rs, clip, p["momentum"],
                                        p["wd_lh"]),
        "adam": lambda: CA.adam_step(w, g, *states, lr, wd, rs, clip, p["beta1"], p["beta2"],
                                     p["epsilon"]),
        "rmsprop": lambda: CA.rmsprop_step(w, g, *states, lr, wd, rs, clip, p["gamma1"],
                                           p["epsilon"], p["clip_weights"]),
        "rmspropalex": lambda: CA.rmspropalex_step(w, g, *states, lr, wd, rs, clip,
                                                   p["gamma1"], p["gamma2"], p["epsilon"],
                                                   p["clip_weights"]),
        "ftrl": lambda: CA.ftrl_step(w, g, *states, lr, wd, rs, clip, p["lamda1"], p["beta"]),
        "ftml": lambda: CA.ftml_step(w, g, *states, lr, wd, rs, clip, p["beta1"], p["beta2"],
                                     p["epsilon"], p["t"]),
    }
    calls[name]()


def _make(opname, rule, states, extra, mp=False):
    arguments = ["weight", "grad"] + list(states) + (["weight32"] if mp else [])
    n_states = len(states)

    def infer_shape(p, in_shapes):
        w = next((s for s in in_shapes if s is not None), None)
        if w is None:
            return list(in_shapes), [None]
        for name, s in zip(arguments, in_shapes):
            if s is not None and tuple(s) != tuple(w):
                raise MXNetError(f"{opname}: '{name}' has shape {tuple(s)}, the weight "
                                 f"{tuple(w)}; every input must have the weight's shape")
        return [tuple(w)] * len(arguments), [tuple(w)]

    def infer_type(p, in_types):
        w = in_types[0] or "float32"
        state_t = "float32" if mp else w
        return [w, in_types[1] or w] + [state_t] * n_states + (["float32"] if mp else []), [w]

    def forward(p, ins, outs, is_train, state):
        out = outs[0]
        if out.dtype.kind != "f":
            raise MXNetError(f"{opname}: the weight must be floating point, got {out.dtype}")
        sts = [inplace_view(s, -1, opname) for s in ins[2:2 + n_states]]
        if mp:
            w32 = inplace_view(ins[-1], -1, opname)
            g = np.ascontiguousarray(ins[1], dtype=np.float32).reshape(-1)
            _cpu_rule(rule, np.float32, p, w32, g, sts)
            out[...] = w32.reshape(out.shape).astype(out.dtype)
            return
        if out is not ins[0]:
            out[...] = ins[0]
        w = inplace_view(out, -1, opname)
        g = np.ascontiguousarray(ins[1], dtype=out.dtype).reshape(-1)
        _cpu_rule(rule, out.dtype.type, p, w, g, sts)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import elemwise
        sts = list(ins[2:2 + n_states])
        if mp:
            from numba import cuda
            g32 = cuda.device_array(ins[1].shape, dtype=np.float32)
            elemwise.copy(ins[1], g32)
            _gpu_rule(rule, p, ins[-1], g32, sts)
            elemwise.copy(ins[-1], outs[0])
            return
        elemwise.copy(ins[0], outs[0])
        _gpu_rule(rule, p, outs[0], ins[1], sts)

    register(Op(name=opname, params={**_COMMON, **extra}, arguments=arguments,
                infer_shape=infer_shape, infer_type=infer_type, forward=forward,
                gpu_forward=gpu_forward, backward_uses=(), hint=opname,
                doc=f"One {rule} optimizer step: returns the new weight and updates "
                    f"{', '.join(states) or 'no state'} in place"
                    + (" (float32 master copy weight32)" if mp else "") + ". See notebook 05."))
    UPDATE_OPS.append(opname)


_MOM = {"momentum": Param("float", 0.0)}
_make("sgd_update", "sgd", (), _LAZY)
_make("sgd_mom_update", "sgd_mom", ("mom",), {**_MOM, **_LAZY})
_make("nag_mom_update", "nag_mom", ("mom",), _MOM)
_make("mp_sgd_update", "sgd", (), _LAZY, mp=True)
_make("mp_sgd_mom_update", "sgd_mom", ("mom",), {**_MOM, **_LAZY}, mp=True)
_make("mp_nag_mom_update", "nag_mom", ("mom",), _MOM, mp=True)
_make("signsgd_update", "signsgd", (), {})
_make("signum_update", "signum", ("mom",), {**_MOM, "wd_lh": Param("float", 0.0)})
_make("adam_update", "adam", ("mean", "var"),
      {"beta1": Param("float", 0.9), "beta2": Param("float", 0.999),
       "epsilon": Param("float", 1e-8), **_LAZY})
_make("rmsprop_update", "rmsprop", ("n",),
      {"gamma1": Param("float", 0.95), "epsilon": Param("float", 1e-8),
       "clip_weights": Param("float", -1.0)})
_make("rmspropalex_update", "rmspropalex", ("n", "g", "delta"),
      {"gamma1": Param("float", 0.95), "gamma2": Param("float", 0.9),
       "epsilon": Param("float", 1e-8), "clip_weights": Param("float", -1.0)})
_make("ftrl_update", "ftrl", ("z", "n"),
      {"lamda1": Param("float", 0.01), "beta": Param("float", 1.0)})
_make("ftml_update", "ftml", ("d", "v", "z"),
      {"beta1": Param("float", 0.6), "beta2": Param("float", 0.999),
       "epsilon": Param("float", 1e-8), "t": Param("int", low=1),
       "clip_grad": Param("float", -1.0)})
