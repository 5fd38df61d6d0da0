"""MXNet's LAMB and AdamW operators: ``lamb_update_phase1``, ``lamb_update_phase2``, their
``mp_`` forms, the aggregated ``_multi_lamb_update`` / ``_multi_mp_lamb_update``, and
``_adamw_update``, ``_mp_adamw_update``, ``_multi_adamw_update``, ``_multi_mp_adamw_update``
(called through ``mx.nd.contrib.adamw_update`` ... in ``ndarray/contrib_optimizer.py``, which
turn a float ``rescale_grad`` into the NDArray these take, as MXNet's Python functions do).

LAMB in two phases, as MXNet's ``LAMB`` optimizer runs it for one weight::

    g  = mx.nd.lamb_update_phase1(w, grad, mean, var, t=t, wd=wd)   # direction; moments in place
    r1, r2 = w.norm(), g.norm()
    mx.nd.lamb_update_phase2(w, g, r1, r2, lr=lr, out=w)            # w -= lr * (r1 / r2) * g

The aggregated form does both phases and the norms for up to 45 weights in one call. AdamW
decouples the weight decay: ``w -= eta * (lr * m / (sqrt(v) + epsilon) + wd * w)``; its
``rescale_grad`` is an NDArray and a zero, infinite or NaN value skips the update (MXNet's
dynamic loss scaling). Numba loops on the CPU (``kernels/cpu/optimizer_lamb.py``), one thread
per element on the GPU (``kernels/cuda/optimizer_lamb.py``); no gradients. See notebook 05.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register
from .common import inplace_view, kernel_view, tuple_param, mx_clip_args
from ..base import MXNetError
from ..kernels.cpu import optimizer_lamb as K
from ..kernels.cpu.optimizer_multi import sum_sq

__all__ = []


def _f(t, x):
    # MXNet's float parameters are float32; the kernels widen them to the weight's type
    return t(np.float32(x))


def _work(dtype):
    # float16 weights are computed in float32 (Numba has no float16 arithmetic)
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _same_shapes(opname, names, shapes):
    w = next((s for s in shapes if s is not None), None)
    for name, s in zip(names, shapes):
        if w is not None and s is not None and tuple(s) != tuple(w):
            raise MXNetError(f"{opname}: '{name}' has shape {tuple(s)}, the weight {tuple(w)}; "
                             "they must match")
    return None if w is None else tuple(w)


def _sum_sq(a):
    """float32 sum of squares as MXNet's CPU loop (half precision squares for float16)."""
    flat = np.ascontiguousarray(a).reshape(-1)
    if flat.dtype == np.float16:
        x = flat.astype(np.float32)
        return sum_sq((x * x).astype(np.float16).astype(np.float32), True)
    return sum_sq(flat, False)


def _phase1_scalars(t, p, float_divisor):
    """The kernel's scalars for phase 1; ``float_divisor``: the mean's bias divisor in ``t``
    (the aggregated LAMB, powf) instead of double (``lamb_update_phase1``)."""
    b1, b2, step = _f(t, p["beta1"]), _f(t, p["beta2"]), p["t"]
    if float_divisor:
        c1, c2 = t(1) - b1 ** t(step), t(1) - b2 ** t(step)
    else:       # MXNet: beta_t = pow(double(beta), t) cast to the weight's type
        c1 = np.float64(1.0) - np.float64(t(math.pow(float(np.float32(p["beta1"])), step)))
        c2 = t(1) - t(math.pow(float(np.float32(p["beta2"])), step))
    bound, use = mx_clip_args(t, p["clip_gradient"])
    return (_f(t, p["rescale_grad"]), bound, use, b1, b2, t(1) - b1, t(1) - b2, _f(t, p["wd"]),
            _f(t, p["epsilon"]), c1, c2, bool(p["bias_correction"]))


# -- lamb_update_phase1 / phase2 and their mp_ forms ---------------------------------------
_P1 = {"beta1": Param("float", 0.9), "beta2": Param("float", 0.999),
       "epsilon": Param("float", 1e-6), "t": Param("int", doc="index update count"),
       "bias_correction": Param("bool", True), "wd": Param("float", doc="weight decay"),
       "rescale_grad": Param("float", 1.0), "clip_gradient": Param("float", -1.0)}
_P2 = {"lr": Param("float", doc="learning rate"), "lower_bound": Param("float", -1.0),
       "upper_bound": Param("float", -1.0)}


def _make_phase1(opname, mp):
    args = ["weight", "grad", "mean", "var"] + (["weight32"] if mp else [])

    def infer_shape(p, in_shapes):
        w = _same_shapes(opname, args, in_shapes)
        return [w] * len(args), [w]

    def infer_type(p, in_types):
        if mp:
            for name, t in zip(args[:2], in_types):
                if t not in (None, "float16"):
                    raise MXNetError(f"{opname}: '{name}' is {t}; the mixed-precision LAMB "
                                     "takes a float16 weight and gradient")
            return ["float16", "float16"] + ["float32"] * 3, ["float32"]
        w = in_types[0] or "float32"
        return [w] * 4, [w]

    def forward(p, ins, outs, is_train, state):
        out, commit = kernel_view(outs[0], -1)
        t = out.dtype.type
        w = np.ascontiguousarray(ins[4 if mp else 0], dtype=out.dtype).reshape(-1)
        g = np.ascontiguousarray(ins[1], dtype=out.dtype).reshape(-1)
        views = [kernel_view(s, -1, out.dtype) for s in ins[2:4]]
        K.lamb_phase1(out, views[0][0], views[1][0], w, g, *_phase1_scalars(t, p, False))
        for _, c in views + [(None, commit)]:
            c()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import optimizer_lamb as C
        from ..kernels.cuda.optimizer_multi import dev_flat
        out, commit = dev_flat(outs[0], _work(outs[0].dtype))
        t = out.dtype.type
        w, _ = dev_flat(ins[4 if mp else 0], out.dtype)
        g, _ = dev_flat(ins[1], out.dtype)
        views = [dev_flat(s, out.dtype) for s in ins[2:4]]
        C.lamb_phase1(out, views[0][0], views[1][0], w, g, *_phase1_scalars(t, p, False))
        for _, c in views + [(None, commit)]:
            c()

    register(Op(name=opname, params=_P1, arguments=args, infer_shape=infer_shape,
                infer_type=infer_type, forward=forward, gpu_forward=gpu_forward,
                backward_uses=(), hint=opname,
                doc="LAMB phase 1: updates mean and var in place and returns the direction "
                    "g = mean_hat / (sqrt(var_hat) + epsilon) + wd * weight"
                    + (" (float32, from the master copy weight32)" if mp else "")
                    + ". See notebook 05."))


def _make_phase2(opname, mp):
    args = ["weight", "g", "r1", "r2"] + (["weight32"] if mp else [])

    def infer_shape(p, in_shapes):
        w = _same_shapes(opname, ["weight", "g"] + (["weight32"] if mp else []),
                         [in_shapes[0], in_shapes[1]] + list(in_shapes[4:]))
        for name, s in zip(("r1", "r2"), in_shapes[2:4]):
            if s is not None and (len(s) < 1 or s[0] != 1):
                raise MXNetError(f"{opname}: '{name}' has shape {tuple(s)}; expected (1,), a "
                                 "norm")
        return [w, w, (1,), (1,)] + ([w] if mp else []), [w]

    def infer_type(p, in_types):
        w = in_types[0] or "float32"
        g = "float32" if mp else w
        return [w, g, g, g] + (["float32"] if mp else []), [w]

    def _scalars(t, p):
        return (_f(t, p["lr"]), _f(t, p["lower_bound"]), _f(t, p["upper_bound"]), t(0), False)

    def forward(p, ins, outs, is_train, state):
        if mp:      # weight32 - lr * g in float32, then cast; weight32 is not written (MXNet)
            tmp = np.empty(outs[0].size, dtype=np.float32)
            src = np.ascontiguousarray(ins[4], dtype=np.float32).reshape(-1)
            out, commit = tmp, lambda: outs[0].__setitem__(..., tmp.reshape(outs[0].shape))
        else:
            out, commit = kernel_view(outs[0], -1)
            src = np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(-1)
        t = out.dtype.type
        g, r1, r2 = (np.ascontiguousarray(a, dtype=out.dtype).reshape(-1) for a in ins[1:4])
        K.lamb_phase2(out, src, g, r1, r2, *_scalars(t, p))
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from numba import cuda
        from ..kernels.cuda import optimizer_lamb as C, elemwise
        from ..kernels.cuda.optimizer_multi import dev_flat
        if mp:
            out = cuda.device_array(outs[0].size, dtype=np.float32)
            src, _ = dev_flat(ins[4], np.float32)
        else:
            out, commit = dev_flat(outs[0], _work(outs[0].dtype))
            src, _ = dev_flat(ins[0], out.dtype)
        t = out.dtype.type
        g, r1, r2 = (dev_flat(a, out.dtype)[0] for a in ins[1:4])
        C.lamb_phase2(out, src, g, r1, r2, *_scalars(t, p))
        if mp:
            elemwise.copy(out, outs[0])
        else:
            commit()

    register(Op(name=opname, params=_P2, arguments=args, infer_shape=infer_shape,
                infer_type=infer_type, forward=forward, gpu_forward=gpu_forward,
                backward_uses=(), hint=opname,
                doc="LAMB phase 2: returns weight - lr * (r1 / r2) * g, r1 clamped to "
                    "[lower_bound, upper_bound] where they are >= 0, the ratio 1 when a norm "
                    "is zero" + (" (from the float32 master copy weight32)" if mp else "")
                    + ". See notebook 05."))


_make_phase1("lamb_update_phase1", False)
_make_phase1("mp_lamb_update_phase1", True)
_make_phase2("lamb_update_phase2", False)
_make_phase2("mp_lamb_update_phase2", True)


# -- _multi_[mp_]lamb_update: both phases and the norms for num_tensors weights ----------------
def _multi_slots(mp):
    return ["weight", "grad", "mean", "var"] + (["weight32"] if mp else [])


def _multi_names(slots, count_key, extra=()):
    def arguments(p):
        return [f"{s}_{i}" for i in range(p[count_key]) for s in slots] + list(extra)

    def outputs(p):
        n = p[count_key]
        return ["output"] if n == 1 else [f"output{i}" for i in range(n)]
    return arguments, outputs


def _multi_shape(opname, slots, count_key, extra=0):
    stride = len(slots)

    def infer_shape(p, in_shapes):
        n = p[count_key]
        want = stride * n + extra
        if len(in_shapes) != want:
            raise MXNetError(f"{opname}: {count_key}={n} needs {want} inputs, got "
                             f"{len(in_shapes)}")
        shapes, outs = list(in_shapes), []
        for k in range(n):
            w = _same_shapes(opname, [f"{s}_{k}" for s in slots],
                             in_shapes[k * stride:(k + 1) * stride])
            shapes[k * stride:(k + 1) * stride] = [w] * stride
            outs.append(w)
        if extra:
            shapes[-1] = (1,)
        return shapes, outs
    return infer_shape


def _multi_type(slots, count_key, mp, extra=0):
    stride = len(slots)

    def infer_type(p, in_types):
        types, outs = list(in_types), []
        for k in range(p[count_key]):
            w = in_types[k * stride] or in_types[k * stride + 1] or "float32"
            state = "float32" if mp else w
            types[k * stride:(k + 1) * stride] = [w, w, state, state] + (["float32"] if mp
                                                                       else [])
            outs.append(w)
        if extra:
            types[-1] = "float32"
        return types, outs
    return infer_type


_PML = {"learning_rates": Param("any", doc="learning rates, one per weight"),
        "wds": Param("any", doc="weight decays, one per weight"),
        "beta1": Param("float", 0.9), "beta2": Param("float", 0.999),
        "epsilon": Param("float", 1e-6), "rescale_grad": Param("float", 1.0),
        "lower_bound": Param("float", -1.0), "upper_bound": Param("float", -1.0),
        "clip_gradient": Param("float", -1.0), "bias_correction": Param("bool", True),
        "step_count": Param("any", doc="update count per weight"),
        "num_tensors": Param("int", 1, low=1)}


def _make_multi_lamb(opname, mp):
    slots = _multi_slots(mp)
    stride = len(slots)
    arguments, outputs = _multi_names(slots, "num_tensors")

    def _rates(p):
        n = p["num_tensors"]
        return (tuple_param(p, "learning_rates", opname, n), tuple_param(p, "wds", opname, n),
                tuple_param(p, "step_count", opname, n, int))

    def _scalars(t, p, wd, step):
        return _phase1_scalars(t, dict(p, wd=wd, t=step), True)

    def forward(p, ins, outs, is_train, state):
        for k, (lr, wd, step) in enumerate(zip(*_rates(p))):
            grp, out = ins[k * stride:(k + 1) * stride], outs[k]
            if mp:
                w, commit = inplace_view(grp[4], -1, opname), None
            else:
                out[...] = grp[0]
                w, commit = kernel_view(out, -1)
            t = w.dtype.type
            g = np.ascontiguousarray(grp[1], dtype=w.dtype).reshape(-1)
            views = [kernel_view(s, -1, w.dtype) for s in grp[2:4]]
            direction = np.empty(w.size, dtype=np.float32)     # MXNet's float32 workspace
            K.lamb_phase1(direction, views[0][0], views[1][0], w, g, *_scalars(t, p, wd, step))
            for _, c in views:
                c()
            # the trust ratio from the weight as given (float16 for mp) and the direction
            sums = np.array([_sum_sq(grp[0]), _sum_sq(direction)], dtype=np.float32)
            K.lamb_phase2(w, w, direction, sums[0:1], sums[1:2], _f(t, lr),
                          _f(np.float32, p["lower_bound"]), _f(np.float32, p["upper_bound"]),
                          np.float32(0), True)
            if commit is not None:
                commit()
            if mp:
                out[...] = w.reshape(out.shape).astype(out.dtype)

    def gpu_forward(p, ins, outs, is_train, state):
        from numba import cuda
        from ..kernels.cuda import optimizer_lamb as C, elemwise
        from ..kernels.cuda.optimizer_multi import dev_flat, sum_sq_into
        for k, (lr, wd, step) in enumerate(zip(*_rates(p))):
            grp, out = ins[k * stride:(k + 1) * stride], outs[k]
            if mp:
                w, commit = dev_flat(grp[4], np.float32)
            else:
                elemwise.copy(grp[0], out)
                w, commit = dev_flat(out, _work(out.dtype))
            t = w.dtype.type
            g, _ = dev_flat(grp[1], w.dtype)
            views = [dev_flat(s, w.dtype) for s in grp[2:4]]
            direction = cuda.device_array(w.size, dtype=np.float32)
            sums = cuda.device_array(2, dtype=np.float32)
            sum_sq_into(dev_flat(grp[0], _work(grp[0].dtype))[0], sums, 0)
            C.lamb_phase1(direction, views[0][0], views[1][0], w, g, *_scalars(t, p, wd, step))
            sum_sq_into(direction, sums, 1)
            C.lamb_phase2(w, w, direction, sums[0:1], sums[1:2], _f(t, lr),
                          _f(np.float32, p["lower_bound"]), _f(np.float32, p["upper_bound"]),
                          np.float32(0), True)
            for _, c in views + [(None, commit)]:
                c()
            if mp:
                elemwise.copy(w, out)

    register(Op(name=opname, params=_PML, arguments=arguments, outputs=outputs,
                infer_shape=_multi_shape(opname, slots, "num_tensors"),
                infer_type=_multi_type(slots, "num_tensors", mp), forward=forward,
                gpu_forward=gpu_forward, backward_uses=(), hint=opname,
                doc="LAMB on num_tensors weights in one call (both phases, the norms from "
                    "sums of squares); moments" + (" and master copies" if mp else "")
                    + " in place, returns the new weights. See notebook 05."))


_make_multi_lamb("_multi_lamb_update", False)
_make_multi_lamb("_multi_mp_lamb_update", True)


# -- AdamW: _adamw_update, _mp_adamw_update and the aggregated forms ---------------------------
def _scale_of(rescale, opname):
    """The rescale_grad NDArray's value; None when MXNet skips the update (0, inf or NaN)."""
    flat = np.asarray(rescale).reshape(-1)
    if flat.size < 1:
        raise MXNetError(f"{opname}: 'rescale_grad' is empty; expected a (1,) array")
    scale = float(flat[0])
    return scale if (math.isfinite(scale) and scale != 0) else None


def _adamw_scalars(t, p, lr, wd, eta, scale):
    b1, b2 = _f(t, p["beta1"]), _f(t, p["beta2"])
    bound, use = mx_clip_args(t, p["clip_gradient"])
    return (_f(t, scale), bound, use, b1, b2, t(1) - b1, t(1) - b2, _f(t, eta), _f(t, lr),
            _f(t, wd), _f(t, p["epsilon"]))


def _make_adamw(opname, mp, multi):
    slots = _multi_slots(mp)
    stride = len(slots)
    if multi:
        arguments, outputs = _multi_names(slots, "num_weights", ("rescale_grad",))
        infer_shape = _multi_shape(opname, slots, "num_weights", extra=1)
        params = {"lrs": Param("any", doc="learning rates, one per weight"),
                  "wds": Param("any", doc="weight decays, one per weight"),
                  "etas": Param("any", doc="schedule multipliers, one per weight"),
                  "num_weights": Param("int", 1, low=1)}
    else:
        arguments, outputs = slots + ["rescale_grad"], ["output"]
        params = {"lr": Param("float", doc="learning rate"), "wd": Param("float", 0.0),
                  "eta": Param("float", doc="learning rate schedule multiplier")}

        def infer_shape(p, in_shapes):
            w = _same_shapes(opname, slots, in_shapes[:stride])
            return [w] * stride + [(1,)], [w]
    params.update(beta1=Param("float", 0.9), beta2=Param("float", 0.999),
                  epsilon=Param("float", 1e-8), clip_gradient=Param("float", -1.0))
    count = "num_weights" if multi else None

    def _groups(p):
        if not multi:
            return [(p["lr"], p["wd"], p["eta"])]
        n = p["num_weights"]
        return list(zip(tuple_param(p, "lrs", opname, n), tuple_param(p, "wds", opname, n),
                        tuple_param(p, "etas", opname, n)))

    def forward(p, ins, outs, is_train, state):
        scale = _scale_of(ins[-1], opname)
        for k, (lr, wd, eta) in enumerate(_groups(p)):
            grp, out = ins[k * stride:(k + 1) * stride], outs[k]
            if scale is None:           # skipped: the weight stays (MXNet leaves out as is)
                out[...] = grp[0]
                continue
            if mp:
                w, commit = inplace_view(grp[4], -1, opname), None
            else:
                out[...] = grp[0]
                w, commit = kernel_view(out, -1)
            # the single-weight, single-precision form rescales and clips its gradient input
            # in place, as MXNet's does; the others read it
            write_grad = not (mp or multi)
            g, commit_g = (kernel_view(grp[1], -1, w.dtype) if write_grad else
                           (np.ascontiguousarray(grp[1], dtype=w.dtype).reshape(-1), None))
            views = [kernel_view(s, -1, w.dtype) for s in grp[2:4]]
            K.adamw_rule(w, g, views[0][0], views[1][0],
                         *_adamw_scalars(w.dtype.type, p, lr, wd, eta, scale), multi, write_grad)
            for c in [commit, commit_g] + [c for _, c in views]:
                if c is not None:
                    c()
            if mp:
                out[...] = w.reshape(out.shape).astype(out.dtype)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import optimizer_lamb as C, elemwise
        from ..kernels.cuda.optimizer_multi import dev_flat
        scale = _scale_of(ins[-1].copy_to_host(), opname)
        for k, (lr, wd, eta) in enumerate(_groups(p)):
            grp, out = ins[k * stride:(k + 1) * stride], outs[k]
            if scale is None or not mp:
                elemwise.copy(grp[0], out)
            if scale is None:
                continue
            w, commit = dev_flat(grp[4], np.float32) if mp else dev_flat(out, _work(out.dtype))
            write_grad = not (mp or multi)
            g, commit_g = dev_flat(grp[1], w.dtype)
            views = [dev_flat(s, w.dtype) for s in grp[2:4]]
            C.adamw_rule(w, g, views[0][0], views[1][0],
                         *_adamw_scalars(w.dtype.type, p, lr, wd, eta, scale), multi, write_grad)
            for c in [commit] + ([commit_g] if write_grad else []) + [c for _, c in views]:
                c()
            if mp:
                elemwise.copy(w, out)

    register(Op(name=opname, params=params, arguments=arguments, outputs=outputs,
                infer_shape=infer_shape,
                infer_type=_multi_type(slots, count, mp, extra=1) if multi else
                _single_adamw_type(mp),
                forward=forward, gpu_forward=gpu_forward, backward_uses=(), hint=opname,
                doc="AdamW" + (" on num_weights weights" if multi else "")
                    + ": mean and var" + (" and the master copies" if mp else "")
                    + " in place, w -= eta * (lr * mean / (sqrt(var) + epsilon) + wd * w); "
                      "skipped when rescale_grad is 0, inf or NaN. See notebook 05."))


def _single_adamw_type(mp):
    def infer_type(p, in_types):
        w = in_types[0] or in_types[1] or "float32"
        state = "float32" if mp else w
        return [w, w, state, state] + (["float32"] if mp else []) + ["float32"], [w]
    return infer_type


_make_adamw("_adamw_update", False, False)
_make_adamw("_mp_adamw_update", True, False)
_make_adamw("_multi_adamw_update", False, True)
_make_adamw("_multi_mp_adamw_update", True, True)
