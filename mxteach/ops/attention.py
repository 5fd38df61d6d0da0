"""The interleaved multi-head attention products of MXNet 1.9.1's transformer helpers:
``_contrib_interleaved_matmul_selfatt_qk``, ``_selfatt_valatt``, ``_encdec_qk`` and
``_encdec_valatt`` (``mx.nd.contrib.interleaved_matmul_selfatt_qk`` ...).

The projections arrive sequence-first, ``(S, B, E)``, and per head *interleaved*: self-attention
packs ``E = H * 3 * D`` as ``(H, 3, D)`` (query, key, value of one head side by side), the
encoder-decoder ``keys_values`` ``E = H * 2 * D`` as ``(H, 2, D)``, ``queries`` ``E = H * D``.

* ``*_qk``: scores ``(B * H, Sq, Sk)`` = ``q k^T / sqrt(D)`` per (batch, head), rows ordered
  ``b * H + h``;
* ``*_valatt``: ``(Sq, B, H * D)`` = ``attention @ v`` per (batch, head), heads concatenated.

Gradients flow to every input; a self-attention input gets zeros in the components an operator
does not read (the values for ``_qk``, queries and keys for ``_valatt``). MXNet 1.9.1 runs these
on float32 only; mxteach also takes float64. Two batched products (``scores``, ``mix``) serve
all four operators forward and backward: ``kernels/cpu/attention.py`` (layout),
``kernels/cuda/attention.py``, numpy twins ``kernels/reference/attention.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register
from .common import grad_mode, kernel_view
from ..base import ShapeError
from ..kernels.cpu import attention as K

__all__ = ["ATTENTION_OPS"]

ATTENTION_OPS = ("interleaved_matmul_selfatt_qk", "interleaved_matmul_selfatt_valatt",
                 "interleaved_matmul_encdec_qk", "interleaved_matmul_encdec_valatt")


def _split(name, what, shape, heads, comps):
    """(S, B, H, comps, D) of a (S, B, E) projection; E must split into heads x comps."""
    if len(shape) != 3:
        raise ShapeError(f"{name}: input '{what}' has shape {tuple(shape)}; it needs 3-D "
                         f"(seq_length, batch_size, projection)")
    S, B, E = shape
    if E % (heads * comps):
        raise ShapeError(f"{name}: input '{what}' has {E} projection values, not divisible by "
                         f"heads * {comps} = {heads * comps}")
    return (S, B, heads, comps, E // (heads * comps))


def _check_att(name, att, want):
    if tuple(att) != tuple(want):
        raise ShapeError(f"{name}: input 'attention' has shape {tuple(att)}; expected "
                         f"{tuple(want)} (batch_size * heads, query length, key length)")


# the operators differ only in which array (index) holds which projection, and how packed
_SPECS = {
    # name: (arguments, (array, components, component) of a / v, of b (qk only))
    "interleaved_matmul_selfatt_qk": (["queries_keys_values"], (0, 3, 0), (0, 3, 1)),
    "interleaved_matmul_encdec_qk": (["queries", "keys_values"], (0, 1, 0), (1, 2, 0)),
    "interleaved_matmul_selfatt_valatt": (["queries_keys_values", "attention"], (0, 3, 2), None),
    "interleaved_matmul_encdec_valatt": (["keys_values", "attention"], (0, 2, 1), None),
}


# Each operator's forward/backward is written once over a kernel module ``M`` (CPU or CUDA:
# same names and signatures) and an array policy: ``prep`` makes an input a kernel can read,
# ``view`` a (writable view, commit) pair of an output or gradient buffer.
def _cpu_policy(dtype):
    return (K, lambda a: np.ascontiguousarray(a, dtype=dtype),
            lambda a, shape: kernel_view(a, shape))


def _gpu_policy():
    from ..kernels.cuda import attention as C
    return C, lambda a: a, lambda a, shape: (a.reshape(*shape), lambda: None)


def _kernel_dtype(a):
    return np.float32 if a.dtype == np.float16 else a.dtype


def _qk_op(name, args, sa, sb):
    def shapes(p, in_shapes):
        h = p["heads"]
        a5 = _split(name, args[sa[0]], in_shapes[sa[0]], h, sa[1])
        b5 = _split(name, args[sb[0]], in_shapes[sb[0]], h, sb[1])
        if a5[1] != b5[1] or a5[4] != b5[4]:
            raise ShapeError(f"{name}: queries {tuple(in_shapes[sa[0]])} and keys "
                             f"{tuple(in_shapes[sb[0]])} differ in batch size or head size")
        return a5, b5

    def infer_shape(p, in_shapes):
        if any(s is None for s in in_shapes):
            return list(in_shapes), [None]
        a5, b5 = shapes(p, in_shapes)
        return [tuple(s) for s in in_shapes], [(a5[1] * p["heads"], a5[0], b5[0])]

    def run_forward(policy, p, ins, outs):
        M, prep, view = policy
        a5, b5 = shapes(p, [tuple(x.shape) for x in ins])
        out, commit = view(outs[0], tuple(outs[0].shape))
        M.scores(prep(ins[sa[0]]).reshape(*a5), sa[2], prep(ins[sb[0]]).reshape(*b5), sb[2],
                 1.0 / math.sqrt(a5[4]), 1, out)
        commit()

    def run_backward(policy, p, ograds, ins, igrads, reqs):
        M, prep, view = policy
        a5, b5 = shapes(p, [tuple(x.shape) for x in ins])
        scale, dy = 1.0 / math.sqrt(a5[4]), prep(ograds[0])
        views = {i: view(g, tuple(g.shape)) for i, g in enumerate(igrads)
                 if grad_mode(reqs[i], g)}
        mode_a, mode_b = (grad_mode(reqs[i], igrads[i]) for i in (sa[0], sb[0]))
        if mode_a:      # d/dq = dy @ k * scale
            M.mix(prep(ins[sb[0]]).reshape(*b5), sb[2], dy, False, scale, mode_a,
                  views[sa[0]][0].reshape(*a5), sa[2])
        if mode_b:      # d/dk = dy^T @ q * scale; self-attention adds to the query's array
            M.mix(prep(ins[sa[0]]).reshape(*a5), sa[2], dy, True, scale,
                  2 if sa[0] == sb[0] else mode_b, views[sb[0]][0].reshape(*b5), sb[2])
        for _, commit in views.values():
            commit()

    return infer_shape, run_forward, run_backward


def _valatt_op(name, args, sv):
    def shapes(p, in_shapes):
        v5 = _split(name, args[0], in_shapes[0], p["heads"], sv[1])
        att = tuple(in_shapes[1])
        _check_att(name, att, (v5[1] * p["heads"], att[1] if len(att) == 3 else "Sq", v5[0]))
        return v5, (att[1], v5[1], p["heads"], 1, v5[4])

    def infer_shape(p, in_shapes):
        if any(s is None for s in in_shapes):
            return list(in_shapes), [None]
        _, o5 = shapes(p, in_shapes)
        return [tuple(s) for s in in_shapes], [(o5[0], o5[1], o5[2] * o5[4])]

    def run_forward(policy, p, ins, outs):
        M, prep, view = policy
        v5, o5 = shapes(p, [tuple(x.shape) for x in ins])
        out, commit = view(outs[0], o5)
        M.mix(prep(ins[0]).reshape(*v5), sv[2], prep(ins[1]), False, 1.0, 1, out, 0)
        commit()

    def run_backward(policy, p, ograds, ins, igrads, reqs):
        M, prep, view = policy
        v5, o5 = shapes(p, [tuple(x.shape) for x in ins])
        dy5 = prep(ograds[0]).reshape(*o5)
        mode_v, mode_att = grad_mode(reqs[0], igrads[0]), grad_mode(reqs[1], igrads[1])
        if mode_v:      # d/dv = attention^T @ dy
            gv, commit = view(igrads[0], v5)
            M.mix(dy5, 0, prep(ins[1]), True, 1.0, mode_v, gv, sv[2])
            commit()
        if mode_att:    # d/dattention = dy v^T
            ga, commit = view(igrads[1], tuple(igrads[1].shape))
            M.scores(dy5, 0, prep(ins[0]).reshape(*v5), sv[2], 1.0, mode_att, ga)
            commit()

    return infer_shape, run_forward, run_backward


def _functions(run_forward, run_backward):
    """The four registry functions of an operator from its policy-generic pair."""
    def forward(p, ins, outs, is_train, state):
        run_forward(_cpu_policy(_kernel_dtype(outs[0])), p, ins, outs)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        run_backward(_cpu_policy(_kernel_dtype(ins[0])), p, ograds, ins, igrads, reqs)

    def gpu_forward(p, ins, outs, is_train, state):
        run_forward(_gpu_policy(), p, ins, outs)

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        run_backward(_gpu_policy(), p, ograds, ins, igrads, reqs)

    return forward, backward, gpu_forward, gpu_backward


_DOCS = {
    "interleaved_matmul_selfatt_qk": "Self-attention scores q k^T / sqrt(head_dim) of "
                                     "interleaved (S, B, heads * 3 * head_dim) projections",
    "interleaved_matmul_encdec_qk": "Encoder-decoder scores q k^T / sqrt(head_dim) of queries "
                                    "(Sq, B, heads * head_dim) and interleaved keys_values",
    "interleaved_matmul_selfatt_valatt": "Attention-weighted values attention @ v of interleaved "
                                         "self-attention projections, heads concatenated",
    "interleaved_matmul_encdec_valatt": "Attention-weighted values attention @ v of interleaved "
                                        "keys_values, heads concatenated",
}

for _name, (_args, _sa, _sb) in _SPECS.items():
    _shape, *_pair = _qk_op(_name, _args, _sa, _sb) if _sb else _valatt_op(_name, _args, _sa)
    _fns = _functions(*_pair)
    register(Op(
        name="_contrib_" + _name,
        params={"heads": Param("int", doc="the number of attention heads")},
        arguments=_args, infer_shape=_shape, forward=_fns[0], backward=_fns[1],
        gpu_forward=_fns[2], gpu_backward=_fns[3], backward_uses=("ins",), hint=_name,
        doc=_DOCS[_name] + "."))
