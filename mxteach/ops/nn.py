"""Neural-network layers: FullyConnected, Activation, LeakyReLU, Dropout, Embedding, BatchNorm."""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from ..base import ShapeError


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
    return x.reshape(x.shape[0], -1) if p["flatten"] else x.reshape(-1, x.shape[-1])


def _fc_forward(p, ins, outs, is_train, state):
    x = _fc_2d(p, ins[0])
    out = outs[0].reshape(x.shape[0], -1)
    np.matmul(x, ins[1].T, out=out)   # BLAS GEMM: the fastest GEMM on this machine
    if not p["no_bias"]:
        out += ins[2]


def _fc_backward(p, ograds, ins, outs, igrads, reqs, state):
    x = _fc_2d(p, ins[0])
    g = ograds[0].reshape(x.shape[0], -1)
    if igrads[0] is not None:
        assign(igrads[0], reqs[0], (g @ ins[1]).reshape(ins[0].shape))
    assign(igrads[1], reqs[1], g.T @ x)
    if not p["no_bias"]:
        assign(igrads[2], reqs[2], g.sum(axis=0))


register(Op(
    name="FullyConnected",
    params={"num_hidden": Param("int"), "no_bias": Param("bool", False),
            "flatten": Param("bool", True)},
    arguments=_fc_args, infer_shape=_fc_shape, forward=_fc_forward, backward=_fc_backward,
    backward_uses=("ins",),
    doc="y = x W^T + b, x flattened to 2-D unless flatten=False. See notebook 02."))
