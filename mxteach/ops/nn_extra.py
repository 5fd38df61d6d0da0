"""The extra normalisation layers: LayerNorm, InstanceNorm, GroupNorm, L2Normalization and LRN.

LayerNorm, InstanceNorm and GroupNorm are one computation on different *rows*: the data is
viewed as ``(A, R, B)``, each ``(a, b)`` is a row of ``R`` elements normalised by its own mean
and variance (always the current batch's: these layers keep no moving statistics), then scaled
and shifted by ``gamma``/``beta``. Only the view and which parameter an element uses differ
(``_layout``). Kernels: CPU ``kernels/cpu/nn_extra.py``, CUDA ``kernels/cuda/nn_extra.py``
(a block per row with tree sums), numpy twins ``kernels/reference/nn_extra.py``.

MXNet 1.9.1 behaviours reproduced here:

* GroupNorm's ``gamma``/``beta`` have one value per **group** ``(num_groups,)``, not per channel;
* ``output_mean_var=True`` adds the outputs ``mean`` and ``std`` (``sqrt(var + eps)``, not the
  inverse std BatchNorm outputs); LayerNorm's are shaped like the data with ``axis`` of size 1,
  GroupNorm's ``(N, num_groups)``; their head gradients are not used;
* LRN's window for channel c is ``[c - h, c + h]`` with ``h = (nsize - 1) // 2``: an even
  ``nsize`` covers only ``nsize - 1`` channels, yet the sum is still divided by ``nsize``.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, kernel_view, norm_axis, split3
from ..base import MXNetError, ShapeError
from ..kernels.cpu import nn_extra as K

__all__ = ["NORM_OPS"]

NORM_OPS = ("LayerNorm", "InstanceNorm", "GroupNorm", "L2Normalization", "LRN")


# -- the row normalisations: LayerNorm, InstanceNorm, GroupNorm -------------------------------
def _layout(name, p, shape):
    """(A, R, B) view, parameter period (0: by r), parameter length, stats output shape."""
    shape = tuple(shape)
    if name == "LayerNorm":
        ax = norm_axis("LayerNorm", p["axis"], len(shape))
        return split3(shape, ax), 0, shape[ax], shape[:ax] + (1,) + shape[ax + 1:]
    least = 3 if name == "InstanceNorm" else 2     # InstanceNorm needs a spatial axis
    if len(shape) < least:
        raise ShapeError(f"{name}: input 'data' has shape {shape}; it needs at least {least} "
                         f"axes (batch, channel{', spatial' if least == 3 else ''}, ...)")
    n, c = shape[0], shape[1]
    rest = int(np.prod(shape[2:], dtype=np.int64))
    if name == "InstanceNorm":
        return (n * c, rest, 1), c, c, (n, c)
    g = p["num_groups"]
    if c % g:
        raise ShapeError(f"GroupNorm: data has {c} channels, not divisible by num_groups = {g}")
    return (n * g, c // g * rest, 1), g, g, (n, g)


def _norm_outputs(p):
    return ["output", "mean", "std"] if p.get("output_mean_var") else ["output"]


def _norm_op(name, params, doc):
    def infer_shape(p, in_shapes):
        if p["eps"] < 0:
            raise MXNetError(f"{name}: eps = {p['eps']} must not be negative")
        n_out = len(_norm_outputs(p))
        if in_shapes[0] is None:
            return list(in_shapes), [None] * n_out
        data = tuple(in_shapes[0])
        _, _, n_par, stats = _layout(name, p, data)
        for arg, got in zip(("gamma", "beta"), in_shapes[1:]):
            if got is not None and tuple(got) != (n_par,):
                raise ShapeError(f"{name}: input '{arg}' has shape {tuple(got)}, expected "
                                 f"({n_par},) for data {data}")
        return [data, (n_par,), (n_par,)], [data, stats, stats][:n_out]

    def forward(p, ins, outs, is_train, state):
        x, gamma, beta = ins
        shape3, period, _, _ = _layout(name, p, x.shape)
        out, commit = kernel_view(outs[0], shape3)
        rows = shape3[0] * shape3[2]
        mean, invstd = np.empty(rows), np.empty(rows)
        x3 = np.ascontiguousarray(x, dtype=out.dtype).reshape(shape3)
        K.norm_stats(x3, p["eps"], mean, invstd)
        K.norm_forward(x3, mean, invstd, np.ascontiguousarray(gamma, dtype=out.dtype),
                       np.ascontiguousarray(beta, dtype=out.dtype), period, out)
        commit()
        if p.get("output_mean_var"):
            outs[1][...] = mean.reshape(outs[1].shape)
            outs[2][...] = (1.0 / invstd).reshape(outs[2].shape)
        state.update(mean=mean, invstd=invstd)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        if "mean" not in state:
            raise MXNetError(f"{name}: backward needs a forward pass first")
        x, gamma, _ = ins
        shape3, period, n_par, _ = _layout(name, p, x.shape)
        dt = np.float32 if x.dtype == np.float16 else x.dtype
        x3 = np.ascontiguousarray(x, dtype=dt).reshape(shape3)
        dy3 = np.ascontiguousarray(ograds[0], dtype=dt).reshape(shape3)
        if grad_mode(reqs[0], igrads[0]):
            dx, commit = kernel_view(igrads[0], shape3)
            K.norm_backward(x3, dy3, state["mean"], state["invstd"],
                            np.ascontiguousarray(gamma, dtype=dt), period, reqs[0] == "add", dx)
            commit()
        if grad_mode(reqs[1], igrads[1]) or grad_mode(reqs[2], igrads[2]):
            dgamma, dbeta = np.empty(n_par), np.empty(n_par)
            K.norm_param_grads(x3, dy3, state["mean"], state["invstd"], period, dgamma, dbeta)
            assign(igrads[1], reqs[1], dgamma)
            assign(igrads[2], reqs[2], dbeta)

    def gpu_forward(p, ins, outs, is_train, state):
        from numba import cuda
        from ..kernels.cuda import nn_extra as C
        x, gamma, beta = ins
        shape3, period, _, _ = _layout(name, p, x.shape)
        rows = shape3[0] * shape3[2]
        if state.get("gpu_rows") != rows:
            state["gpu_mean"], state["gpu_invstd"] = (cuda.device_array(rows, np.float64)
                                                      for _ in range(2))
            state["gpu_rows"] = rows
        mean, invstd = state["gpu_mean"], state["gpu_invstd"]
        x3 = x.reshape(shape3)
        C.norm_stats(x3, p["eps"], mean, invstd)
        C.norm_forward(x3, mean, invstd, gamma, beta, period, outs[0].reshape(shape3))
        if p.get("output_mean_var"):
            C.stats_outputs(mean, invstd, outs[1].reshape(rows), outs[2].reshape(rows))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import nn_extra as C
        if "gpu_mean" not in state:
            raise MXNetError(f"{name}: backward needs a forward pass first")
        x, gamma, _ = ins
        shape3, period, _, _ = _layout(name, p, x.shape)
        x3, dy3 = x.reshape(shape3), ograds[0].reshape(shape3)
        mean, invstd = state["gpu_mean"], state["gpu_invstd"]
        if grad_mode(reqs[0], igrads[0]):
            C.norm_backward(x3, dy3, mean, invstd, gamma, period, reqs[0] == "add",
                            igrads[0].reshape(shape3))
        gm, bm = grad_mode(reqs[1], igrads[1]), grad_mode(reqs[2], igrads[2])
        if gm or bm:
            C.norm_param_grads(x3, dy3, mean, invstd, period, igrads[1] if gm else gamma, gm,
                               igrads[2] if bm else gamma, bm)

    register(Op(name=name, params=params, arguments=["data", "gamma", "beta"],
                outputs=_norm_outputs, infer_shape=infer_shape,
                forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward, backward_uses=("ins",),
                doc=doc + " See notebook 05."))


_norm_op("LayerNorm", {"axis": Param("int", -1, doc="the axis normalised over"),
                       "eps": Param("float", 1e-5),
                       "output_mean_var": Param("bool", False, doc="also output mean and std")},
         "Normalise over `axis` for every position of the other axes, then "
         "out = xhat * gamma + beta with gamma, beta of the axis' length.")
_norm_op("InstanceNorm", {"eps": Param("float", 1e-3)},
         "Normalise each (sample, channel) over its spatial positions, then "
         "out = xhat * gamma[c] + beta[c].")
_norm_op("GroupNorm", {"num_groups": Param("int", 1, low=1), "eps": Param("float", 1e-5),
                       "output_mean_var": Param("bool", False, doc="also output mean and std")},
         "Split the channels into num_groups groups and normalise each (sample, group) over "
         "its channels and positions; gamma, beta hold one value per group (MXNet 1.9.1).")


# -- L2Normalization ---------------------------------------------------------------------------
def _l2_view(p, shape):
    """(A, R, B): each (a, b) is one vector divided by its norm."""
    if len(shape) < 2:
        raise ShapeError(f"L2Normalization: input 'data' has shape {tuple(shape)}; it needs at "
                         f"least 2 axes (batch, ...)")
    n, c = shape[0], shape[1]
    rest = int(np.prod(shape[2:], dtype=np.int64))
    if p["mode"] == "instance":
        return (n, c * rest, 1)
    if p["mode"] == "channel":
        return (n, c, rest)
    return (n * c, rest, 1)


def _l2_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    _l2_view(p, in_shapes[0])
    return [tuple(in_shapes[0])], [tuple(in_shapes[0])]


def _l2_forward(p, ins, outs, is_train, state):
    shape3 = _l2_view(p, ins[0].shape)
    out, commit = kernel_view(outs[0], shape3)
    state["norm"] = np.empty(shape3[0] * shape3[2])
    K.l2_forward(np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(shape3), p["eps"],
                 state["norm"], out)
    commit()


def _l2_backward(p, ograds, ins, outs, igrads, reqs, state):
    if not grad_mode(reqs[0], igrads[0]):
        return
    shape3 = _l2_view(p, outs[0].shape)
    dx, commit = kernel_view(igrads[0], shape3)
    K.l2_backward(np.ascontiguousarray(outs[0], dtype=dx.dtype).reshape(shape3),
                  np.ascontiguousarray(ograds[0], dtype=dx.dtype).reshape(shape3),
                  state["norm"], reqs[0] == "add", dx)
    commit()


def _l2_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import nn_extra as C
    shape3 = _l2_view(p, ins[0].shape)
    rows = shape3[0] * shape3[2]
    if state.get("gpu_norm") is None or state["gpu_norm"].shape[0] != rows:
        state["gpu_norm"] = cuda.device_array(rows, np.float64)
    C.l2_forward(ins[0].reshape(shape3), p["eps"], state["gpu_norm"], outs[0].reshape(shape3))


def _l2_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_extra as C
    if grad_mode(reqs[0], igrads[0]):
        shape3 = _l2_view(p, outs[0].shape)
        C.l2_backward(outs[0].reshape(shape3), ograds[0].reshape(shape3), state["gpu_norm"],
                      reqs[0] == "add", igrads[0].reshape(shape3))


register(Op(
    name="L2Normalization",
    params={"eps": Param("float", 1e-10),
            "mode": Param("str", "instance", choices=("channel", "instance", "spatial"),
                          doc="instance: per sample; channel: across channels at each "
                              "position; spatial: per (sample, channel) over positions")},
    arguments=["data"], infer_shape=_l2_shape, forward=_l2_forward, backward=_l2_backward,
    gpu_forward=_l2_gpu_forward, gpu_backward=_l2_gpu_backward, backward_uses=("outs",),
    doc="out = x / sqrt(sum(x^2) + eps), the sum over the axes `mode` names. "
        "See notebook 05."))


# -- LRN -------------------------------------------------------------------------------------
def _lrn_shape(p, in_shapes):
    if p["nsize"] < 1:
        raise MXNetError(f"LRN: nsize = {p['nsize']} must be positive")
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    data = tuple(in_shapes[0])
    if len(data) != 4:
        raise ShapeError(f"LRN: input 'data' has shape {data}; it needs 4-D (batch, channel, "
                         f"y, x)")
    return [data], [data]


def _lrn_args(p, x):
    n, c = x.shape[0], x.shape[1]
    return (n, c, int(np.prod(x.shape[2:], dtype=np.int64))), (p["nsize"], p["alpha"], p["beta"])


def _lrn_forward(p, ins, outs, is_train, state):
    shape3, (nsize, alpha, beta) = _lrn_args(p, ins[0])
    out, commit = kernel_view(outs[0], shape3)
    state["scale"] = np.empty(shape3, out.dtype)
    K.lrn_forward(np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(shape3), nsize, alpha,
                  beta, p["knorm"], state["scale"], out)
    commit()


def _lrn_backward(p, ograds, ins, outs, igrads, reqs, state):
    if not grad_mode(reqs[0], igrads[0]):
        return
    shape3, (nsize, alpha, beta) = _lrn_args(p, ins[0])
    dx, commit = kernel_view(igrads[0], shape3)
    K.lrn_backward(np.ascontiguousarray(ins[0], dtype=dx.dtype).reshape(shape3),
                   np.ascontiguousarray(ograds[0], dtype=dx.dtype).reshape(shape3),
                   state["scale"].astype(dx.dtype, copy=False), nsize, alpha, beta,
                   reqs[0] == "add", dx)
    commit()


def _lrn_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import nn_extra as C
    shape3, (nsize, alpha, beta) = _lrn_args(p, ins[0])
    scale = state.get("gpu_scale")
    if scale is None or tuple(scale.shape) != shape3 or scale.dtype != ins[0].dtype:
        scale = state["gpu_scale"] = cuda.device_array(shape3, ins[0].dtype)
    C.lrn_forward(ins[0].reshape(shape3), nsize, alpha, beta, p["knorm"], scale,
                  outs[0].reshape(shape3))


def _lrn_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_extra as C
    if grad_mode(reqs[0], igrads[0]):
        shape3, (nsize, alpha, beta) = _lrn_args(p, ins[0])
        C.lrn_backward(ins[0].reshape(shape3), ograds[0].reshape(shape3), state["gpu_scale"],
                       nsize, alpha, beta, reqs[0] == "add", igrads[0].reshape(shape3))


register(Op(
    name="LRN",
    params={"alpha": Param("float", 1e-4), "beta": Param("float", 0.75),
            "knorm": Param("float", 2.0), "nsize": Param("int", doc="channels in the window")},
    arguments=["data"], infer_shape=_lrn_shape, forward=_lrn_forward, backward=_lrn_backward,
    gpu_forward=_lrn_gpu_forward, gpu_backward=_lrn_gpu_backward, backward_uses=("ins",),
    doc="Local response normalisation across channels: out = x / (knorm + alpha / nsize * "
        "sum of x^2 over nsize neighbouring channels)^beta. See notebook 05."))
