"""Neural-network layers: FullyConnected, Activation, LeakyReLU, Dropout, Embedding.

BatchNorm, the other layer of this family, has a file of its own (``nn_norm.py``). Kernels: CPU
``kernels/cpu/nn.py``; CUDA ``kernels/cuda/nn.py`` (activations, PReLU, random masks from
``numba.cuda.random``, Embedding with atomic adds, the matmul FullyConnected uses); numpy twins for the tests ``kernels/reference/nn.py``.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, inplace_view, flat_in, gpu_activation, gpu_flat
from .. import random_state
from ..base import MXNetError, ShapeError
from ..kernels.cpu import nn as K


def _same_shape(opname, names):
    """Shape rule of elementwise layers: every input and the output share data's shape."""
    def rule(p, in_shapes):
        data = in_shapes[0]
        if data is None:
            return in_shapes, [None]
        for name, got in zip(names, in_shapes):
            if got is not None and tuple(got) != tuple(data):
                raise ShapeError(f"{opname}: input {name} has shape {tuple(got)}, expected "
                                 f"{tuple(data)}")
        return [tuple(data)] * len(in_shapes), [tuple(data)]
    return rule


# -- FullyConnected -------------------------------------------------------------------------
def _fc_args(p):
    return ["data", "weight"] + ([] if p["no_bias"] else ["bias"])


def _fc_shape(p, in_shapes):
    data = in_shapes[0]
    if data is None:
        return in_shapes, [None]
    n = p["num_hidden"]
    k = int(np.prod(data[1:])) if p["flatten"] else data[-1]
    want = [data, (n, k)] + ([] if p["no_bias"] else [(n,)])
    for i, (got, exp) in enumerate(zip(in_shapes, want)):
        if got is not None and tuple(got) != exp:
            raise ShapeError(f"FullyConnected: input {_fc_args(p)[i]} has shape {tuple(got)}, "
                             f"expected {exp}")
    out = (data[0], n) if p["flatten"] else tuple(data[:-1]) + (n,)
    return want, [out]


def _fc_2d(p, x):
    # explicit sizes, not -1: numba device arrays reshape only to given shapes
    return x.reshape(x.shape[0], x.size // x.shape[0]) if p["flatten"] else \
        x.reshape(x.size // x.shape[-1], x.shape[-1])


def _fc_forward(p, ins, outs, is_train, state):
    x = _fc_2d(p, ins[0])
    out = outs[0].reshape(x.shape[0], -1)
    K.matmul(x, ins[1], out, False, True)   # numpy's BLAS GEMM, on the policy's threads
    if not p["no_bias"]:
        out += ins[2]


def _gemm_grad(dst, req, a, b, trans_a, shape):
    """dst (+)= op(a) @ b as ``req`` says: the GEMM writes, or for 'add' accumulates, straight
    into the gradient buffer when its layout and dtype allow (no temporary, no extra pass)."""
    if not grad_mode(req, dst):
        return
    if dst.flags.c_contiguous and dst.dtype == a.dtype == b.dtype:
        K.matmul(a, b, dst.reshape(shape), trans_a, False, req == "add")
    else:
        assign(dst, req, ((a.T if trans_a else a) @ b).reshape(dst.shape))


def _fc_backward(p, ograds, ins, outs, igrads, reqs, state):
    x = _fc_2d(p, ins[0])
    g = ograds[0].reshape(x.shape[0], -1)
    _gemm_grad(igrads[0], reqs[0], g, ins[1], False, x.shape)      # dx = g @ W
    _gemm_grad(igrads[1], reqs[1], g, x, True, ins[1].shape)           # dW = g.T @ x
    if not p["no_bias"]:
        assign(igrads[2], reqs[2], g.sum(axis=0))


def _fc_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise, nn
    x = _fc_2d(p, ins[0])
    out = outs[0].reshape(x.shape[0], p["num_hidden"])
    nn.matmul(x, ins[1], out, False, True, False)                 # x @ W.T
    if not p["no_bias"]:
        elemwise.binary_forward(out, ins[2], out, elemwise.BINARY_CODES["add"])   # + b per row


def _fc_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise, nn
    x = _fc_2d(p, ins[0])
    g = ograds[0].reshape(x.shape[0], p["num_hidden"])
    if grad_mode(reqs[0], igrads[0]):
        nn.matmul(g, ins[1], igrads[0].reshape(x.shape), False, False, reqs[0] == "add")
    if grad_mode(reqs[1], igrads[1]):
        nn.matmul(g, x, igrads[1], True, False, reqs[1] == "add")         # g.T @ x
    if not p["no_bias"] and grad_mode(reqs[2], igrads[2]):
        elemwise.col_sum(g, igrads[2], reqs[2] == "add")


register(Op(
    name="FullyConnected",
    params={"num_hidden": Param("int", low=1), "no_bias": Param("bool", False),
            "flatten": Param("bool", True)},
    arguments=_fc_args, infer_shape=_fc_shape, forward=_fc_forward, backward=_fc_backward,
    gpu_forward=_fc_gpu_forward, gpu_backward=_fc_gpu_backward, backward_uses=("ins",),
    doc="y = x W^T + b, x flattened to 2-D unless flatten=False. See notebook 02."))


# -- Activation -------------------------------------------------------------------------------
_ACT_TYPES = ("relu", "sigmoid", "softrelu", "softsign", "tanh")


def _act_forward(p, ins, outs, is_train, state):
    K.unary_forward(flat_in(ins[0]), inplace_view(outs[0], -1, "Activation"),
                    K.ACT_CODES[p["act_type"]], 0.0)


def _act_backward(p, ograds, ins, outs, igrads, reqs, state):
    if grad_mode(reqs[0], igrads[0]) == 0:
        return
    K.unary_backward(flat_in(ins[0]), flat_in(outs[0]), flat_in(ograds[0]),
                     inplace_view(igrads[0], -1, "Activation"), K.ACT_CODES[p["act_type"]],
                     0.0, reqs[0] == "add")


_act_gpu = gpu_activation(lambda p: K.ACT_CODES[p["act_type"]])

register(Op(
    name="Activation",
    params={"act_type": Param("str", choices=_ACT_TYPES,
                              doc="relu, sigmoid, softrelu (log(1+e^x)), softsign or tanh")},
    arguments=["data"], infer_shape=_same_shape("Activation", ["data"]),
    forward=_act_forward, backward=_act_backward,
    gpu_forward=_act_gpu[0], gpu_backward=_act_gpu[1],
    doc="Elementwise activation y = f(x). See notebook 02."))


# -- LeakyReLU --------------------------------------------------------------------------------
_LEAKY_TYPES = ("elu", "gelu", "leaky", "prelu", "rrelu", "selu")


def _leaky_args(p):
    return ["data", "gamma"] if p["act_type"] == "prelu" else ["data"]


def _leaky_outputs(p):
    # rrelu shows its random slopes as a second output, as MXNet 1.9 lists it
    return ["output", "mask"] if p["act_type"] == "rrelu" else ["output"]


def _leaky_shape(p, in_shapes):
    data = in_shapes[0]
    n_out = len(_leaky_outputs(p))
    if data is None:
        return in_shapes, [None] * n_out
    data = tuple(data)
    if p["act_type"] != "prelu":
        return [data], [data] * n_out
    if len(data) < 2:
        raise ShapeError(f"LeakyReLU(prelu): input data has shape {data}; prelu needs at least "
                         f"2-D data (batch, channel, ...) so gamma can have one slope per channel")
    gamma = in_shapes[1]
    if gamma is None:
        gamma = (data[1],)
    elif tuple(gamma) not in ((data[1],), (1,)):
        raise ShapeError(f"LeakyReLU(prelu): input gamma has shape {tuple(gamma)}, expected "
                         f"({data[1]},) (one slope per channel of data {data}) or (1,)")
    return [data, tuple(gamma)], [data]


def _as3(a, shape=None):
    """(outer, C, inner) view with C on axis 1 (PReLU's channel axis)."""
    s = a.shape if shape is None else shape
    return a.reshape(s[0], s[1], -1)


def _leaky_forward(p, ins, outs, is_train, state):
    kind, x = p["act_type"], ins[0]
    if kind == "prelu":
        K.prelu_forward(_as3(np.ascontiguousarray(x)), np.ascontiguousarray(ins[1]),
                        _as3(inplace_view(outs[0], x.shape, "LeakyReLU")))
    elif kind == "rrelu":
        # training draws one slope per element from U(lower, upper); inference uses their mean
        if is_train:
            slopes = random_state.rng().uniform(p["lower_bound"], p["upper_bound"], x.shape)
            outs[1][...] = slopes
        else:
            outs[1][...] = (p["lower_bound"] + p["upper_bound"]) / 2
        np.multiply(x, np.where(x > 0, 1, outs[1]), out=outs[0])
        state["mask"] = outs[1].copy()
    else:
        K.unary_forward(flat_in(x), inplace_view(outs[0], -1, "LeakyReLU"),
                        K.ACT_CODES[kind], p["slope"])


def _leaky_backward(p, ograds, ins, outs, igrads, reqs, state):
    kind, x, dy = p["act_type"], ins[0], ograds[0]
    mode = grad_mode(reqs[0], igrads[0])
    if kind == "prelu":
        gamma = np.ascontiguousarray(ins[1])
        dgamma_c = np.zeros(x.shape[1], dtype=np.float64)
        dx3 = _as3(inplace_view(igrads[0], x.shape, "LeakyReLU")) if mode else _as3(x)
        K.prelu_backward(_as3(np.ascontiguousarray(x)), gamma, _as3(np.ascontiguousarray(dy)),
                         dx3, dgamma_c, mode)
        dgamma = dgamma_c.sum(keepdims=True) if gamma.shape[0] == 1 else dgamma_c
        assign(igrads[1], reqs[1], dgamma.astype(gamma.dtype))
    elif kind == "rrelu":
        mask = state.get("mask")
        if mask is None:
            raise MXNetError("LeakyReLU(rrelu): backward needs a forward pass first")
        assign(igrads[0], reqs[0], dy * np.where(x > 0, 1, mask))
    elif mode:
        K.unary_backward(flat_in(x), flat_in(outs[0]), flat_in(dy),
                         inplace_view(igrads[0], -1, "LeakyReLU"), K.ACT_CODES[kind],
                         p["slope"], mode == 2)


def _gpu3(a):
    """(outer, C, inner) view of a device array (PReLU's channel axis in the middle)."""
    s = tuple(a.shape)
    return a.reshape(s[0], s[1], a.size // (s[0] * s[1]))


def _leaky_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise, nn
    kind, x = p["act_type"], ins[0]
    if kind == "prelu":
        nn.prelu_forward(_gpu3(x), ins[1], _gpu3(outs[0]))
    elif kind == "rrelu":
        slopes = gpu_flat(outs[1])
        if is_train:         # one slope per element from U(lower, upper), as on the CPU
            nn.random_fill(slopes, state, p["lower_bound"], p["upper_bound"])
        else:
            elemwise.fill(slopes, (p["lower_bound"] + p["upper_bound"]) / 2)
        nn.slope_forward(gpu_flat(x), slopes, gpu_flat(outs[0]))
        mask = state.get("gpu_mask")
        if mask is None or mask.shape != slopes.shape or mask.dtype != slopes.dtype:
            from numba import cuda
            mask = state["gpu_mask"] = cuda.device_array(slopes.shape, slopes.dtype)
        elemwise.copy(slopes, mask)
    else:
        nn.unary_forward(gpu_flat(x), gpu_flat(outs[0]), K.ACT_CODES[kind], p["slope"])


def _leaky_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn
    kind, x, dy = p["act_type"], ins[0], ograds[0]
    mode = grad_mode(reqs[0], igrads[0])
    if kind == "prelu":
        nn.prelu_backward(_gpu3(x), ins[1], _gpu3(dy), _gpu3(igrads[0]) if mode else None, mode,
                          igrads[1], grad_mode(reqs[1], igrads[1]))
    elif kind == "rrelu":
        if state.get("gpu_mask") is None:
            raise MXNetError("LeakyReLU(rrelu): backward needs a forward pass first")
        if mode:
            nn.slope_backward(gpu_flat(x), state["gpu_mask"], gpu_flat(dy), gpu_flat(igrads[0]),
                              mode == 2)
    elif mode:
        nn.unary_backward(gpu_flat(x), gpu_flat(outs[0]), gpu_flat(dy), gpu_flat(igrads[0]),
                          K.ACT_CODES[kind], p["slope"], mode == 2)


register(Op(
    name="LeakyReLU",
    params={"act_type": Param("str", "leaky", choices=_LEAKY_TYPES),
            "slope": Param("float", 0.25, doc="negative slope (leaky), alpha (elu)"),
            "lower_bound": Param("float", 0.125, doc="rrelu: lowest random slope"),
            "upper_bound": Param("float", 0.334, doc="rrelu: highest random slope")},
    arguments=_leaky_args, outputs=_leaky_outputs, infer_shape=_leaky_shape,
    # as in MXNet, prelu's gamma carries its own initializer (0.25, the leaky default slope)
    extra={"input_attrs": {"gamma": {"__init__": '["Constant", {"value": 0.25}]'}}},
    forward=_leaky_forward, backward=_leaky_backward,
    gpu_forward=_leaky_gpu_forward, gpu_backward=_leaky_gpu_backward,
    doc="Leaky rectifiers: leaky, elu, selu, gelu, prelu (learned slope per channel, argument "
        "gamma) and rrelu (random slope while training). See notebook 02."))


# -- Dropout ----------------------------------------------------------------------------------
def _dropout_check(p, ndim):
    if not 0.0 <= p["p"] <= 1.0:
        raise MXNetError(f"Dropout: p = {p['p']} must lie in [0, 1]")
    for ax in p["axes"]:
        if not -ndim <= ax < ndim:
            raise ShapeError(f"Dropout: axes {p['axes']} has axis {ax}, but data has only "
                             f"{ndim} dimensions")


def _dropout_shape(p, in_shapes):
    if in_shapes[0] is not None:
        _dropout_check(p, len(in_shapes[0]))
    return _same_shape("Dropout", ["data"])(p, in_shapes)


def _dropout_forward(p, ins, outs, is_train, state):
    x = ins[0]
    _dropout_check(p, x.ndim)
    active = (is_train or p["mode"] == "always") and p["p"] > 0
    if not active:
        state["mask"] = None
        outs[0][...] = x
        return
    # one mask entry per position, shared (broadcast) along the listed axes
    shape = list(x.shape)
    for ax in p["axes"]:
        shape[ax] = 1
    keep = 1.0 - p["p"]
    kept = random_state.rng().random_sample(shape) < keep
    with np.errstate(divide="ignore", invalid="ignore"):
        # p = 1 keeps nothing and scales by 1/0: MXNet then outputs NaN (0 * inf), and so do we
        scale = x.dtype.type(1) / x.dtype.type(keep)
        mask = kept.astype(x.dtype) * scale
        np.multiply(x, mask, out=outs[0])
    state["mask"] = mask


def _dropout_backward(p, ograds, ins, outs, igrads, reqs, state):
    mask = state.get("mask")
    with np.errstate(invalid="ignore"):
        assign(igrads[0], reqs[0], ograds[0] if mask is None else ograds[0] * mask)


def _dropout_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise, nn
    x = ins[0]
    _dropout_check(p, x.ndim)
    if not ((is_train or p["mode"] == "always") and p["p"] > 0):
        state["gpu_mask"] = None
        elemwise.copy(x, outs[0])
        return
    shape = list(x.shape)
    for ax in p["axes"]:
        shape[ax] = 1
    mask = state.get("gpu_mask_buffer")
    if mask is None or list(mask.shape) != shape or mask.dtype != x.dtype:
        from numba import cuda
        mask = state["gpu_mask_buffer"] = cuda.device_array(tuple(shape), x.dtype)
    keep = 1.0 - p["p"]
    with np.errstate(divide="ignore"):
        scale = x.dtype.type(1) / x.dtype.type(keep)      # p = 1: inf, and NaN outputs as MXNet
    nn.random_fill(gpu_flat(mask), state, keep=keep, scale=scale)
    elemwise.map_forward("mul", x, mask, outs[0])           # the mask broadcasts along axes
    state["gpu_mask"] = mask


def _dropout_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise
    mode = grad_mode(reqs[0], igrads[0])
    if not mode:
        return
    mask = state.get("gpu_mask")
    if mask is None:
        elemwise.copy(ograds[0], igrads[0], mode == 2)
    else:
        elemwise.map_forward("mul", ograds[0], mask, igrads[0], accumulate=mode == 2)


register(Op(
    name="Dropout",
    params={"p": Param("float", 0.5, doc="fraction of the input that gets dropped"),
            "mode": Param("str", "training", choices=("always", "training"),
                          doc="'training': only when is_train; 'always': also in inference"),
            "axes": Param("shape", (), doc="axes along which one mask value is shared"),
            "cudnn_off": Param("bool", False, optional=True, doc="accepted, no effect on CPU")},
    arguments=["data"], infer_shape=_dropout_shape, forward=_dropout_forward,
    backward=_dropout_backward, gpu_forward=_dropout_gpu_forward,
    gpu_backward=_dropout_gpu_backward, backward_uses=(),
    doc="Randomly zeroes inputs with probability p and scales the rest by 1/(1-p) while "
        "training; the identity otherwise. The mask is kept in the node state for backward. "
        "See notebook 02."))


# -- Embedding --------------------------------------------------------------------------------
_EMB_DTYPES = ("bfloat16", "float16", "float32", "float64", "int32", "int64", "int8", "uint8")


def _emb_check(p):
    for key in ("input_dim", "output_dim"):
        if p[key] <= 0:
            raise MXNetError(f"Embedding: {key} = {p[key]} must be positive")


def _emb_shape(p, in_shapes):
    _emb_check(p)
    want_w = (p["input_dim"], p["output_dim"])
    if in_shapes[1] is not None and tuple(in_shapes[1]) != want_w:
        raise ShapeError(f"Embedding: input weight has shape {tuple(in_shapes[1])}, expected "
                         f"{want_w} (input_dim, output_dim)")
    data = in_shapes[0]
    if data is None:
        return [None, want_w], [None]
    return [tuple(data), want_w], [tuple(data) + (p["output_dim"],)]


def _emb_type(p, in_types):
    # indices keep their own dtype; weight and output use the dtype parameter
    return [in_types[0], p["dtype"]], [p["dtype"]]


def _indices(data):
    # one index dtype for the kernels (float64 holds every int32 exactly): one compilation
    return np.ascontiguousarray(data, dtype=np.float64).reshape(-1)


def _emb_forward(p, ins, outs, is_train, state):
    K.embedding_forward(_indices(ins[0]), np.ascontiguousarray(ins[1]),
                        inplace_view(outs[0], (-1, p["output_dim"]), "Embedding"))


def _emb_backward(p, ograds, ins, outs, igrads, reqs, state):
    # Indices are not differentiable. MXNet 1.9 refuses any data gradient request; we write 0.
    if reqs[0] == "write":
        assign(igrads[0], "write", 0)
    if grad_mode(reqs[1], igrads[1]):
        K.embedding_backward(_indices(ins[0]),
                             np.ascontiguousarray(ograds[0]).reshape(-1, p["output_dim"]),
                             inplace_view(igrads[1], igrads[1].shape, "Embedding"),
                             reqs[1] == "add")


def _emb_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import nn
    dim = p["output_dim"]
    nn.embedding_forward(gpu_flat(ins[0]), ins[1], outs[0].reshape(outs[0].size // dim, dim))


def _emb_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise, nn
    if reqs[0] == "write" and igrads[0] is not None:
        elemwise.fill(igrads[0], 0)
    if grad_mode(reqs[1], igrads[1]):
        dim = p["output_dim"]
        nn.embedding_backward(gpu_flat(ins[0]), ograds[0].reshape(ograds[0].size // dim, dim),
                              igrads[1], reqs[1] == "add")


register(Op(
    name="Embedding",
    params={"input_dim": Param("int", doc="vocabulary size (rows of weight)"),
            "output_dim": Param("int", doc="embedding size (columns of weight)"),
            "dtype": Param("dtype", "float32", choices=_EMB_DTYPES),
            "sparse_grad": Param("bool", False, doc="the weight gradient is row_sparse "
                                                     "(ops/sparse_nn.py)")},
    arguments=["data", "weight"], infer_shape=_emb_shape, infer_type=_emb_type,
    forward=_emb_forward, backward=_emb_backward, gpu_forward=_emb_gpu_forward,
    gpu_backward=_emb_gpu_backward, backward_uses=("ins",),
    doc="Looks up rows of weight: out[..., :] = weight[int(data[...])], indices truncated "
        "toward zero and clipped into [0, input_dim). See notebook 10."))
