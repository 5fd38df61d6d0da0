"""MXNet's aggregated optimizer operators: ``multi_sgd_update``, ``multi_sgd_mom_update``,
``multi_mp_sgd_update``, ``multi_mp_sgd_mom_update``, their ``preloaded_`` forms,
``multi_sum_sq``, ``multi_lars`` and ``_contrib_group_adagrad_update``
(``mx.nd.contrib.group_adagrad_update``).

The ``multi_`` operators update ``num_weights`` weights in one call, as MXNet's SGD optimizer
does when it aggregates (``MXNET_OPTIMIZER_AGGREGATION_SIZE``): the inputs are the groups
``weight_i, grad_i[, mom_i][, weight32_i]`` one after the other, the learning rates and weight
decays the tuples ``lrs``/``wds`` (the ``preloaded_`` forms take them as two float32 NDArrays
after the groups instead, so LARS can compute them on the device), and the outputs are the new
weights, typically written back with ``out=weights``. Momenta and master copies are updated in
place. ``multi_sum_sq`` and ``multi_lars`` are the two steps of LARS's layer-wise learning
rates. Numba loops on the CPU (``kernels/cpu/optimizer_multi.py``), one thread per element on
the GPU (``kernels/cuda/optimizer_multi.py``). As in MXNet, a gradient bound clips whenever it
is non-negative, and these operators have no gradient. See notebook 05.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import inplace_view, kernel_view, tuple_param, mx_clip_args as clip_args
from ..base import MXNetError
from ..kernels.cpu import optimizer_multi as K

__all__ = []

_SCALE = {"rescale_grad": Param("float", 1.0, doc="gradient rescaling factor"),
          "clip_gradient": Param("float", -1.0, doc="clip bound (< 0: none)")}


def _work_dtype(dtype):
    # the dtype the kernels compute a weight of ``dtype`` in (Numba has no float16 arithmetic)
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _f(t, x):
    # MXNet's float parameters are float32; the kernels widen them to the weight's type
    return t(np.float32(x))


# -- multi_[mp_]sgd_[mom_]update and the preloaded forms -----------------------------------------
def _make_multi_sgd(opname, mom, mp, preloaded):
    slots = ["weight", "grad"] + (["mom"] if mom else []) + (["weight32"] if mp else [])
    stride = len(slots)

    def arguments(p):
        names = [f"{s}_{i}" for i in range(p["num_weights"]) for s in slots]
        return names + (["lrs", "wds"] if preloaded else [])

    def outputs(p):
        n = p["num_weights"]
        return ["output"] if n == 1 else [f"output{i}" for i in range(n)]

    def infer_shape(p, in_shapes):
        n = p["num_weights"]
        if not preloaded:
            tuple_param(p, "lrs", opname, n), tuple_param(p, "wds", opname, n)
        want = stride * n + (2 if preloaded else 0)
        if len(in_shapes) != want:
            raise MXNetError(f"{opname}: num_weights={n} needs {want} inputs, got "
                             f"{len(in_shapes)}")
        shapes, outs = list(in_shapes), []
        for k in range(n):
            grp = in_shapes[k * stride:(k + 1) * stride]
            w = next((s for s in grp if s is not None), None)
            for name, s in zip(slots, grp):
                if w is not None and s is not None and tuple(s) != tuple(w):
                    raise MXNetError(f"{opname}: '{name}_{k}' has shape {tuple(s)}, the weight "
                                     f"{tuple(w)}; every input of a group must match")
            shapes[k * stride:(k + 1) * stride] = [None if w is None else tuple(w)] * stride
            outs.append(None if w is None else tuple(w))
        if preloaded:
            for j, name in enumerate(("lrs", "wds")):
                s = in_shapes[stride * n + j]
                if s is not None and tuple(s) != (n,):
                    raise MXNetError(f"{opname}: '{name}' has shape {tuple(s)}, expected "
                                     f"({n},), one entry per weight")
                shapes[stride * n + j] = (n,)
        return shapes, outs

    def infer_type(p, in_types):
        n = p["num_weights"]
        types, outs = list(in_types), []
        for k in range(n):
            w = in_types[k * stride] or in_types[k * stride + 1] or "float32"
            grp = [w, w] + (["float32" if mp else w] if mom else []) + (["float32"] if mp else [])
            types[k * stride:(k + 1) * stride] = grp
            outs.append(w)
        if preloaded:
            types[stride * n:] = ["float32", "float32"]
        return types, outs

    def _rates(p, ins, n):
        if preloaded:
            return [float(x) for x in np.asarray(ins[-2]).reshape(-1)], \
                   [float(x) for x in np.asarray(ins[-1]).reshape(-1)]
        return tuple_param(p, "lrs", opname, n), tuple_param(p, "wds", opname, n)

    def forward(p, ins, outs, is_train, state):
        n = p["num_weights"]
        lrs, wds = _rates(p, ins, n)
        for k in range(n):
            grp, out = ins[k * stride:(k + 1) * stride], outs[k]
            if out.dtype.kind != "f":
                raise MXNetError(f"{opname}: weight_{k} must be floating point, got {out.dtype}")
            if mp:      # the rule runs on the float32 master copy, the weight gets its cast
                w, commit_w = inplace_view(grp[-1], -1, opname), None
            else:
                out[...] = grp[0]
                w, commit_w = kernel_view(out, -1)
            t = w.dtype.type
            g = np.ascontiguousarray(grp[1], dtype=w.dtype).reshape(-1)
            m, commit_m = kernel_view(grp[2], -1, w.dtype) if mom else (np.zeros_like(w), None)
            bound, use = clip_args(t, p["clip_gradient"])
            K.sgd_rule(w, g, m, _f(t, lrs[k]), _f(t, wds[k]), _f(t, p["rescale_grad"]), bound,
                       use, _f(t, p.get("momentum", 0.0)))
            for commit in (commit_w, commit_m):
                if commit is not None:
                    commit()
            if mp:
                out[...] = w.reshape(out.shape).astype(out.dtype)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import optimizer_multi as C, elemwise
        dev_flat, dev_zeros = C.dev_flat, C.dev_zeros
        n = p["num_weights"]
        lrs, wds = _rates(p, [a.copy_to_host() for a in ins[-2:]] if preloaded else ins, n)
        for k in range(n):
            grp, out = ins[k * stride:(k + 1) * stride], outs[k]
            if mp:
                w, commit_w = dev_flat(grp[-1], np.float32)
            else:
                elemwise.copy(grp[0], out)
                w, commit_w = dev_flat(out, _work_dtype(out.dtype))
            t = w.dtype.type
            g, _ = dev_flat(grp[1], w.dtype)
            m, commit_m = dev_flat(grp[2], w.dtype) if mom else (dev_zeros(w.size, w.dtype),
                                                                 None)
            bound, use = clip_args(t, p["clip_gradient"])
            C.sgd_rule(w, g, m, _f(t, lrs[k]), _f(t, wds[k]), _f(t, p["rescale_grad"]), bound,
                       use, _f(t, p.get("momentum", 0.0)))
            for commit in (commit_w, commit_m):
                if commit is not None:
                    commit()
            if mp:
                elemwise.copy(w, out)

    params = dict(_SCALE, num_weights=Param("int", 1, low=1, doc="number of weights"))
    if not preloaded:
        params.update(lrs=Param("any", doc="learning rates, one per weight"),
                      wds=Param("any", doc="weight decays, one per weight"))
    if mom:
        params["momentum"] = Param("float", 0.0, doc="momentum factor")
    register(Op(name=opname, params=params, arguments=arguments, outputs=outputs,
                infer_shape=infer_shape, infer_type=infer_type, forward=forward,
                gpu_forward=gpu_forward, backward_uses=(), hint=opname,
                doc=f"SGD{' with momentum' if mom else ''} on num_weights weights in one call"
                    + (" (float32 master copies weight32_i)" if mp else "")
                    + (": learning rates and weight decays as the NDArrays lrs, wds"
                       if preloaded else ": learning rates and weight decays as tuples lrs, wds")
                    + "; returns the new weights. See notebook 05."))


for _pre in (False, True):
    for _mp in (False, True):
        for _mom in (False, True):
            _make_multi_sgd(("preloaded_" if _pre else "") + "multi_" + ("mp_" if _mp else "")
                            + "sgd_" + ("mom_" if _mom else "") + "update", _mom, _mp, _pre)


# -- multi_sum_sq and multi_lars: LARS's layer-wise learning rates --------------------------------
def _sum_sq_shape(p, in_shapes):
    n = p["num_arrays"]
    if len(in_shapes) != n:
        raise MXNetError(f"multi_sum_sq: num_arrays={n} but {len(in_shapes)} arrays were given")
    return list(in_shapes), [(n,)]


def _sum_sq_forward(p, ins, outs, is_train, state):
    for k, a in enumerate(ins):
        flat = np.ascontiguousarray(a).reshape(-1)
        if flat.dtype == np.float16:    # MXNet squares in half precision, then sums in float32
            x = flat.astype(np.float32)
            outs[0][k] = K.sum_sq((x * x).astype(np.float16).astype(np.float32), True)
        else:
            outs[0][k] = K.sum_sq(flat.astype(np.result_type(flat.dtype, np.float32)), False)


def _sum_sq_gpu(p, ins, outs, is_train, state):
    from ..kernels.cuda import optimizer_multi as C
    for k, a in enumerate(ins):
        flat, _ = C.dev_flat(a, np.float64 if a.dtype == np.float64 else np.float32)
        C.sum_sq_into(flat, outs[0], k)


register(Op(name="multi_sum_sq", params={"num_arrays": Param("int", low=1)},
            arguments=lambda p: [f"array_{i}" for i in range(p["num_arrays"])],
            num_args_param="num_arrays", infer_shape=_sum_sq_shape,
            infer_type=lambda p, t: ([x or "float32" for x in t], ["float32"]),
            forward=_sum_sq_forward, gpu_forward=_sum_sq_gpu, backward_uses=(),
            doc="The sum of squares of each of num_arrays arrays, as one float32 vector (LARS's "
                "squared norms). See notebook 05."))

_LARS_ARGS = ["lrs", "weights_sum_sq", "grads_sum_sq", "wds"]


def _lars_shape(p, in_shapes):
    n = next((s for s in in_shapes if s is not None), None)
    for name, s in zip(_LARS_ARGS, in_shapes):
        if n is not None and s is not None and tuple(s) != tuple(n):
            raise MXNetError(f"multi_lars: '{name}' has shape {tuple(s)}, 'lrs' {tuple(n)}; "
                             "the four inputs hold one entry per weight")
    return [n] * 4, [n]


def _lars_type(p, in_types):
    for name, t in zip(_LARS_ARGS, in_types):
        if t not in (None, "float32"):
            raise MXNetError(f"multi_lars: '{name}' is {t}; MultiLARS only supports float32")
    return ["float32"] * 4, ["float32"]


def _lars_forward(p, ins, outs, is_train, state):
    flat = [np.ascontiguousarray(a, dtype=np.float32).reshape(-1) for a in ins]
    out = inplace_view(outs[0], -1, "multi_lars")
    K.lars(out, *flat, np.float32(p["eta"]), np.float32(p["eps"]), np.float32(p["rescale_grad"]))


def _lars_gpu(p, ins, outs, is_train, state):
    from ..kernels.cuda import optimizer_multi as C
    flat = [C.dev_flat(a, np.float32)[0] for a in ins]
    C.lars(C.dev_flat(outs[0], np.float32)[0], *flat, np.float32(p["eta"]), np.float32(p["eps"]),
           np.float32(p["rescale_grad"]))


register(Op(name="multi_lars", params={"eta": Param("float", doc="LARS eta"),
                                       "eps": Param("float", doc="LARS epsilon"),
                                       "rescale_grad": Param("float", 1.0)},
            arguments=_LARS_ARGS, infer_shape=_lars_shape, infer_type=_lars_type,
            forward=_lars_forward, gpu_forward=_lars_gpu, backward_uses=(),
            doc="LARS learning rates: lr * eta * ||w|| / (||g|| * rescale_grad + wd * ||w|| + "
                "eps) from the squared norms (lr where a norm is zero). See notebook 05."))


# -- group AdaGrad ---------------------------------------------------------------------------------
_GA_ARGS = ["weight", "grad", "history"]


def _ga_shape(p, in_shapes):
    w, g, h = in_shapes
    w = w or g
    if w is None:
        return list(in_shapes), [None]
    if g is not None and tuple(g) != tuple(w):
        raise MXNetError(f"group_adagrad_update: 'grad' has shape {tuple(g)}, the weight "
                         f"{tuple(w)}; they must match")
    if len(w) < 1:
        raise MXNetError("group_adagrad_update: the weight needs at least one axis (rows)")
    if h is not None and int(np.prod(h)) != w[0]:
        raise MXNetError(f"group_adagrad_update: 'history' has shape {tuple(h)}; expected one "
                         f"entry per row of the weight ({w[0]},) or ({w[0]}, 1)")
    return [tuple(w), tuple(w), tuple(h) if h is not None else (w[0], 1)], [tuple(w)]


def _ga_forward(p, ins, outs, is_train, state):
    out = outs[0]
    out[...] = ins[0]
    w, commit_w = kernel_view(out, -1)
    t = w.dtype.type
    h, commit_h = kernel_view(ins[2], -1, w.dtype)
    g = np.ascontiguousarray(ins[1], dtype=w.dtype).reshape(-1)
    cols = w.size // max(h.size, 1)
    bound, use = clip_args(t, p["clip_gradient"])
    K.group_adagrad(w, g, h, cols, _f(t, p["lr"]), _f(t, p["rescale_grad"]), bound, use,
                    _f(t, p["epsilon"]), t(cols))
    commit_w()
    commit_h()


def _ga_gpu(p, ins, outs, is_train, state):
    from ..kernels.cuda import optimizer_multi as C
    from ..kernels.cuda import elemwise
    elemwise.copy(ins[0], outs[0])
    w, commit_w = C.dev_flat(outs[0], _work_dtype(outs[0].dtype))
    t = w.dtype.type
    h, commit_h = C.dev_flat(ins[2], w.dtype)
    g, _ = C.dev_flat(ins[1], w.dtype)
    cols = w.size // max(h.size, 1)
    bound, use = clip_args(t, p["clip_gradient"])
    C.group_adagrad(w, g, h, cols, _f(t, p["lr"]), _f(t, p["rescale_grad"]), bound, use,
                    _f(t, p["epsilon"]), t(cols))
    commit_w()
    commit_h()


register(Op(name="_contrib_group_adagrad_update",
            params={"lr": Param("float", doc="learning rate"), **_SCALE,
                    "epsilon": Param("float", 1e-5, doc="added under the square root")},
            arguments=_GA_ARGS, infer_shape=_ga_shape, forward=_ga_forward,
            gpu_forward=_ga_gpu, backward_uses=(), hint="group_adagrad_update",
            doc="Group AdaGrad: one accumulated squared gradient per row (history += the row's "
                "mean squared gradient), w -= lr * g / sqrt(history + epsilon); history is "
                "updated in place. MXNet 1.9.1 runs it on the CPU only for row_sparse "
                "gradients; here a dense gradient updates every row. See notebook 05."))
