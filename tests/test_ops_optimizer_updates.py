"""MXNet's optimizer update operators (ops/optimizer_ops.py, issue 17): each against the numpy
rule of the optimizers (optimizer/steps.py), against MXNet 1.9.1's operator (new weight and
every updated state), ``out=weight`` in place, mixed precision, CPU vs GPU (simulator)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.optimizer import steps as S
from oracle import run_oracle

SHAPE = (3, 4)


def _arr(seed, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.RandomState(seed).uniform(low, high, SHAPE).astype(dtype)


# name, state names (with how to draw them), params, numpy rule from the optimizers
CASES = [
    ("sgd_update", [], {"lr": 0.1, "wd": 0.01, "rescale_grad": 0.5, "clip_gradient": 0.3},
     lambda w, g, st, p: S.sgd_step(w, g, None, p["lr"], p["wd"], p["rescale_grad"],
                                    p["clip_gradient"], 0.0)),
    ("sgd_mom_update", [("mom", 0)], {"lr": 0.1, "momentum": 0.9, "wd": 0.01},
     lambda w, g, st, p: S.sgd_step(w, g, st[0], p["lr"], p["wd"], 1.0, -1.0, p["momentum"])),
    ("nag_mom_update", [("mom", 0)], {"lr": 0.05, "momentum": 0.8, "wd": 0.02},
     lambda w, g, st, p: S.nag_step(w, g, st[0], p["lr"], p["wd"], 1.0, -1.0, p["momentum"])),
    ("signsgd_update", [], {"lr": 0.01, "wd": 0.1},
     lambda w, g, st, p: S.signum_step(w, g, None, p["lr"], p["wd"], 1.0, -1.0, 0.0, 0.0)),
    ("signum_update", [("mom", 0)], {"lr": 0.01, "momentum": 0.9, "wd": 0.01, "wd_lh": 0.05},
     lambda w, g, st, p: S.signum_step(w, g, st[0], p["lr"], p["wd"], 1.0, -1.0,
                                       p["momentum"], p["wd_lh"])),
    ("adam_update", [("mean", 0), ("var", 1)],
     {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "wd": 0.01, "clip_gradient": 0.7},
     lambda w, g, st, p: S.adam_step(w, g, st[0], st[1], p["lr"], p["wd"], 1.0,
                                     p["clip_gradient"], p["beta1"], p["beta2"], p["epsilon"])),
    ("rmsprop_update", [("n", 1)], {"lr": 0.01, "gamma1": 0.9, "clip_weights": 0.6},
     lambda w, g, st, p: S.rmsprop_step(w, g, st[0], p["lr"], 0.0, 1.0, -1.0, p["gamma1"], 1e-8,
                                        p["clip_weights"])),
    ("rmspropalex_update", [("n", 2), ("g", 0), ("delta", 0)],
     {"lr": 0.01, "gamma1": 0.9, "gamma2": 0.8, "epsilon": 1e-4},
     lambda w, g, st, p: S.rmspropalex_step(w, g, *st, p["lr"], 0.0, 1.0, -1.0, p["gamma1"],
                                            p["gamma2"], p["epsilon"], -1.0)),
    ("ftrl_update", [("z", 0), ("n", 1)], {"lr": 0.1, "lamda1": 0.05, "beta": 1.0, "wd": 0.01},
     lambda w, g, st, p: S.ftrl_step(w, g, *st, p["lr"], p["wd"], 1.0, -1.0, p["lamda1"],
                                     p["beta"])),
    ("ftml_update", [("d", 1), ("v", 1), ("z", 0)], {"lr": 0.05, "t": 3, "wd": 0.01},
     lambda w, g, st, p: S.ftml_step(w, g, *st, p["lr"], p["wd"], 1.0, -1.0, 0.6, 0.999, 1e-8,
                                     p["t"])),
]
IDS = [c[0] for c in CASES]


def _inputs(states, seed=0):
    w, g = _arr(seed), _arr(seed + 1)
    # kind 0: any sign; 1: positive (second moments); 2: large positive (centered RMSProp)
    draw = {0: lambda k: _arr(k, -0.5, 0.5), 1: lambda k: _arr(k, 0.1, 1.0),
            2: lambda k: _arr(k, 1.0, 2.0)}
    return w, g, [draw[kind](seed + 10 + k) for k, (_, kind) in enumerate(states)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_operator_equals_the_optimizers_rule_and_updates_states_in_place(case):
    name, states, params, rule = case
    w, g, st = _inputs(states)
    want_w, want_st = w.copy(), [s.copy() for s in st]
    rule(want_w, g, want_st, params)
    nw, ng, nst = mx.nd.array(w), mx.nd.array(g), [mx.nd.array(s) for s in st]
    out = getattr(mx.nd, name)(nw, ng, *nst, out=nw, **params)
    assert out is nw
    np.testing.assert_allclose(nw.asnumpy(), want_w, rtol=2e-6, atol=1e-7)
    for a, b in zip(nst, want_st):
        np.testing.assert_allclose(a.asnumpy(), b, rtol=2e-6, atol=1e-7)


@pytest.mark.oracle
def test_mxnet_parity_weight_and_states():
    runs = []
    for name, states, params, _ in CASES:
        w, g, st = _inputs(states, seed=3)
        runs.append((name, w, g, st, params))
    ref = run_oracle("""
for k, (name, w, g, st, params) in enumerate(runs):
    nw = mx.nd.array(w); nst = [mx.nd.array(s) for s in st]
    getattr(mx.nd, name)(nw, mx.nd.array(g), *nst, out=nw, **params)
    out[k] = [nw.asnumpy()] + [s.asnumpy() for s in nst]
""", runs=runs)
    for k, (name, w, g, st, params) in enumerate(runs):
        nw, nst = mx.nd.array(w), [mx.nd.array(s) for s in st]
        getattr(mx.nd, name)(nw, mx.nd.array(g), *nst, out=nw, **params)
        for got, want in zip([nw] + nst, ref[k]):
            np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.oracle
def test_mixed_precision_updates_match_mxnet():
    w32, g, mom = _arr(5), _arr(6), _arr(7, -0.5, 0.5)
    params = {"lr": 0.1, "momentum": 0.9, "wd": 0.01}
    ref = run_oracle("""
for name in ('mp_sgd_update', 'mp_sgd_mom_update', 'mp_nag_mom_update'):
    w = mx.nd.array(w32).astype('float16'); m = mx.nd.array(mom); m32 = mx.nd.array(w32)
    states = [] if name == 'mp_sgd_update' else [m]
    kw = {k: v for k, v in params.items() if name != 'mp_sgd_update' or k != 'momentum'}
    getattr(mx.nd, name)(w, mx.nd.array(g).astype('float16'), *states, m32, out=w, **kw)
    out[name] = (w.asnumpy(), m.asnumpy(), m32.asnumpy())
""", w32=w32, g=g, mom=mom, params=params)
    for name, (want_w, want_m, want_32) in ref.items():
        w = mx.nd.array(w32).astype("float16")
        m, m32 = mx.nd.array(mom), mx.nd.array(w32)
        states = [] if name == "mp_sgd_update" else [m]
        kw = {k: v for k, v in params.items() if name != "mp_sgd_update" or k != "momentum"}
        getattr(mx.nd, name)(w, mx.nd.array(g).astype("float16"), *states, m32, out=w, **kw)
        assert w.dtype == np.float16
        np.testing.assert_allclose(m32.asnumpy(), want_32, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(m.asnumpy(), want_m, rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_array_equal(w.asnumpy(), want_w, err_msg=name)


def test_errors_and_symbol_form():
    with pytest.raises(MXNetError, match="'mom' has shape"):
        mx.nd.sgd_mom_update(mx.nd.ones((2, 3)), mx.nd.ones((2, 3)), mx.nd.ones((3,)), lr=0.1)
    with pytest.raises(MXNetError, match="lr"):
        mx.nd.sgd_update(mx.nd.ones(2), mx.nd.ones(2))
    s = mx.sym.adam_update(mx.sym.Variable("w"), mx.sym.Variable("g"), mx.sym.Variable("m"),
                           mx.sym.Variable("v"), lr=0.1)
    assert s.list_arguments() == ["w", "g", "m", "v"]
    assert s.infer_shape(w=(2, 3))[0] == [(2, 3)] * 4


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    name, states, params, _ = case
    res = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        w, g, st = _inputs(states, seed=4)
        nw = mx.nd.array(w, ctx=ctx)
        nst = [mx.nd.array(s, ctx=ctx) for s in st]
        getattr(mx.nd, name)(nw, mx.nd.array(g, ctx=ctx), *nst, out=nw, **params)
        res.append([a.asnumpy() for a in [nw] + nst])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
