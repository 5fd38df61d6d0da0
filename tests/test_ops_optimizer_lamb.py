"""The LAMB and AdamW operators (ops/optimizer_lamb.py, issue 17): ``lamb_update_phase1/2`` and
their ``mp_`` forms, ``mx.nd.contrib.multi_[mp_]lamb_update``, ``mx.nd.contrib.[mp_]adamw_update``
and ``multi_[mp_]adamw_update``. Each CPU kernel against its numpy twin, the operators against
numpy formulas written here, against MXNet 1.9.1 (every output and every input after the call;
the mixed-precision float16 weights bit-exact), the skipped AdamW step, bad parameters, the
symbol form, and CPU vs GPU under the simulator. Update operators have no gradient."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import optimizer_lamb as K
from mxteach.kernels.reference import optimizer_lamb as R
from oracle import run_oracle
from test_ops_optimizer_multi import call, check_parity

f = np.float32


def _arr(seed, shape, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(dtype)


def _state(seed, shape):
    """(weight, grad, mean, var) with var positive."""
    return (_arr(seed, shape), _arr(seed + 1, shape), _arr(seed + 2, shape, -0.2, 0.2),
            _arr(seed + 3, shape, 0.01, 0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    t = np.dtype(dtype).type
    w, g, m, v = (a.astype(dtype) for a in _state(0, 30))
    for bias in (False, True):
        ka, ra = [m.copy(), v.copy(), np.empty_like(w)], [m.copy(), v.copy(), np.empty_like(w)]
        args = (t(0.5), t(0.3), True, t(0.9), t(0.99), t(1) - t(0.9), t(1) - t(0.99), t(0.01),
                t(1e-6), np.float64(1 - 0.9 ** 3), t(1) - t(0.99) ** 3, bias)
        K.lamb_phase1(ka[2], ka[0], ka[1], w, g, *args)
        R.lamb_phase1(ra[2], ra[0], ra[1], w, g, *args)
        for a, b in zip(ka, ra):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    for from_sums in (False, True):
        ko, ro = np.empty_like(w), np.empty_like(w)
        r1, r2 = np.array([2.0], dtype), np.array([0.5], dtype)
        K.lamb_phase2(ko, w, g, r1, r2, t(0.1), t(0.5), t(-1), t(0), from_sums)
        R.lamb_phase2(ro, w, g, r1, r2, t(0.1), t(0.5), t(-1), t(0), from_sums)
        np.testing.assert_array_equal(ko, ro)
    for interpolate in (False, True):
        ka, ra = [w.copy(), g.copy(), m.copy(), v.copy()], [w.copy(), g.copy(), m.copy(),
                                                            v.copy()]
        args = (t(0.5), t(0.1), True, t(0.9), t(0.99), t(0.1), t(1) - t(0.99), t(0.8), t(0.01),
                t(0.1), t(1e-8), interpolate, True)
        K.adamw_rule(*ka, *args)
        R.adamw_rule(*ra, *args)
        for a, b in zip(ka, ra):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def _lamb_numpy(w, g, m, v, step, lr, wd, b1=0.9, b2=0.999, eps=1e-6, rs=1.0, clip=-1.0):
    """LAMB from its formula, in float64 (the operators compute float32)."""
    gr = g * rs
    if clip >= 0:
        gr = np.clip(gr, -clip, clip)
    m = b1 * m + (1 - b1) * gr
    v = b2 * v + (1 - b2) * gr * gr
    u = (m / (1 - b1 ** step)) / (np.sqrt(v / (1 - b2 ** step)) + eps) + wd * w
    r1, r2 = np.linalg.norm(w), np.linalg.norm(u)
    return w - lr * (r1 / r2) * u, m, v, u


def test_lamb_phases_and_aggregated_lamb_equal_the_formula():
    w, g, m, v = _state(10, (4, 5))
    want_w, want_m, want_v, want_u = _lamb_numpy(*(a.astype(np.float64) for a in (w, g, m, v)),
                                                 step=3, lr=0.1, wd=0.01, rs=0.5, clip=0.4)
    nw, nm, nv = mx.nd.array(w), mx.nd.array(m), mx.nd.array(v)
    u = mx.nd.lamb_update_phase1(nw, mx.nd.array(g), nm, nv, t=3, wd=0.01, rescale_grad=0.5,
                                 clip_gradient=0.4)
    np.testing.assert_allclose(u.asnumpy(), want_u, rtol=1e-5)
    np.testing.assert_allclose(nm.asnumpy(), want_m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(nv.asnumpy(), want_v, rtol=1e-5)
    mx.nd.lamb_update_phase2(nw, u, nw.norm(), u.norm(), lr=0.1, out=nw)
    np.testing.assert_allclose(nw.asnumpy(), want_w, rtol=1e-5, atol=1e-6)
    # the aggregated form: both phases and the norms in one call, two weights
    w2, g2, m2, v2 = _state(20, (6,))
    ws, ms, vs = [mx.nd.array(w), mx.nd.array(w2)], [mx.nd.array(m), mx.nd.array(m2)], \
        [mx.nd.array(v), mx.nd.array(v2)]
    mx.nd.contrib.multi_lamb_update(ws, [mx.nd.array(g), mx.nd.array(g2)], ms, vs,
                                    step_count=[3, 1], lrs=[0.1, 0.2], wds=[0.01, 0.0],
                                    rescale_grad=0.5, clip_gradient=0.4, out=ws)
    np.testing.assert_allclose(ws[0].asnumpy(), want_w, rtol=1e-5, atol=1e-6)
    want2 = _lamb_numpy(*(a.astype(np.float64) for a in (w2, g2, m2, v2)), step=1, lr=0.2,
                        wd=0.0, rs=0.5, clip=0.4)
    np.testing.assert_allclose(ws[1].asnumpy(), want2[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vs[1].asnumpy(), want2[2], rtol=1e-5)


def test_adamw_equals_the_formula_and_skips_on_a_bad_scale():
    w, g, m, v = _state(30, (3, 4))
    nw, ng, nm, nv = (mx.nd.array(a) for a in (w, g, m, v))
    mx.nd.contrib.adamw_update(nw, ng, nm, nv, 0.5, lr=0.1, eta=0.8, wd=0.01, beta1=0.8,
                               beta2=0.9, epsilon=1e-6, clip_gradient=0.3, out=nw)
    gr = np.clip(0.5 * g.astype(np.float64), -0.3, 0.3)
    mm = 0.8 * m + 0.2 * gr
    vv = 0.9 * v + 0.1 * gr * gr
    np.testing.assert_allclose(nm.asnumpy(), mm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(nv.asnumpy(), vv, rtol=1e-5)
    np.testing.assert_allclose(nw.asnumpy(), w - 0.8 * (0.1 * mm / (np.sqrt(vv) + 1e-6)
                                                        + 0.01 * w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ng.asnumpy(), gr, rtol=1e-6)     # MXNet rescales it in place
    for bad in (0.0, np.inf, np.nan):
        nw, nm = mx.nd.array(w), mx.nd.array(m)
        mx.nd.contrib.adamw_update(nw, mx.nd.array(g), nm, mx.nd.array(v),
                                   mx.nd.array([bad]), lr=0.1, eta=1.0, out=nw)
        np.testing.assert_array_equal(nw.asnumpy(), w)
        np.testing.assert_array_equal(nm.asnumpy(), m)


# -- MXNet parity ------------------------------------------------------------------------------
def _parity_cases():
    w, g, m, v = _state(40, (5, 4))
    w2, g2, m2, v2 = _state(50, (7,))
    h, h2 = w.astype(np.float16), w2.astype(np.float16)
    gh, gh2 = g.astype(np.float16), g2.astype(np.float16)
    r1, r2 = np.array([1.7], f), np.array([0.6], f)
    p1 = {"t": 4, "wd": 0.01, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-5,
          "rescale_grad": 0.5, "clip_gradient": 0.4}
    aw = {"lr": 0.05, "eta": 0.7, "wd": 0.02, "beta1": 0.85, "beta2": 0.97, "epsilon": 1e-6,
          "clip_gradient": 0.35}
    mw = {"lrs": [0.05, 0.1], "wds": [0.02, 0.0], "etas": [0.7, 1.0], "beta1": 0.85,
          "beta2": 0.97, "epsilon": 1e-6}
    ml = {"step_count": [9, 2], "lrs": [0.05, 0.1], "wds": [0.02, 0.0], "rescale_grad": 0.5,
          "lower_bound": 0.1, "upper_bound": 3.0}
    return [
        ("lamb_update_phase1", [w, g, m, v], [0, 1, 2, 3], None, p1),
        ("lamb_update_phase1", [w, g, m, v], [0, 1, 2, 3], None,
         {**p1, "bias_correction": False, "t": 1}),
        ("lamb_update_phase1", [w, g, m, v], [0, 1, 2, 3], None, {**p1, "t": 40}),
        ("lamb_update_phase2", [w, g, r1, r2], [0, 1, 2, 3], 0, {"lr": 0.1}),
        ("lamb_update_phase2", [w, g, r1, r2], [0, 1, 2, 3], 0,
         {"lr": 0.1, "lower_bound": 2.0, "upper_bound": 5.0}),
        ("mp_lamb_update_phase1", [h, gh, m, v, w], [0, 1, 2, 3, 4], None, p1),
        ("mp_lamb_update_phase2", [h, g, r1, r2, w], [0, 1, 2, 3, 4], 0,
         {"lr": 0.1, "upper_bound": 1.0}),
        ("contrib.multi_lamb_update", [w, w2, g, g2, m, m2, v, v2], [[0, 1], [2, 3], [4, 5],
                                                                   [6, 7]], [0, 1], ml),
        ("contrib.multi_mp_lamb_update", [h, h2, gh, gh2, m, m2, v, v2, w, w2],
         [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], [0, 1], {**ml, "clip_gradient": 0.3}),
        ("contrib.adamw_update", [w, g, m, v], [0, 1, 2, 3], 0, {**aw, "rescale_grad": 0.5}),
        ("contrib.adamw_update", [w, g, m, v, np.array([0.0], f)], [0, 1, 2, 3, 4], 0, aw),
        ("contrib.mp_adamw_update", [h, gh, m, v, w, np.array([0.5], f)], [0, 1, 2, 3, 4, 5], 0,
         aw),
        ("contrib.multi_adamw_update", [w, w2, g, g2, m, m2, v, v2, np.array([0.5], f)],
         [[0, 1], [2, 3], [4, 5], [6, 7], 8], [0, 1], {**mw, "clip_gradient": 0.3}),
        ("contrib.multi_mp_adamw_update", [h, h2, gh, gh2, m, m2, v, v2, w, w2],
         [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], [0, 1], {**mw, "rescale_grad": 0.5}),
    ]


@pytest.mark.oracle
def test_mxnet_parity_outputs_and_states():
    check_parity(_parity_cases(), rtol=2e-6)


def test_errors_and_symbol_form():
    w = mx.nd.ones((2, 3))
    with pytest.raises(MXNetError, match="'t'"):
        mx.nd.lamb_update_phase1(w, w, w, w, wd=0.0)
    with pytest.raises(MXNetError, match="'r1' has shape"):
        mx.nd.lamb_update_phase2(w, w, mx.nd.ones(2), mx.nd.ones(1), lr=0.1)
    with pytest.raises(MXNetError, match="float16"):
        mx.nd.mp_lamb_update_phase1(w, w, w, w, w, t=1, wd=0.0)
    with pytest.raises(MXNetError, match="'step_count' has 1 entries"):
        mx.nd.contrib.multi_lamb_update([w, w], [w, w], [w, w], [w, w], step_count=[1],
                                        lrs=[0.1, 0.1], wds=[0.0, 0.0])
    with pytest.raises(MXNetError, match="differ in length"):
        mx.nd.contrib.multi_adamw_update([w, w], [w], [w, w], [w, w], 1.0, lrs=[0.1, 0.1],
                                         wds=[0.0, 0.0], etas=[1.0, 1.0])
    s = mx.sym.mp_lamb_update_phase2(*[mx.sym.Variable(n) for n in "wgabm"], lr=0.1)
    assert s.list_arguments() == list("wgabm")
    shapes = s.infer_shape(w=(2, 3))
    assert shapes[0] == [(2, 3), (2, 3), (1,), (1,), (2, 3)] and shapes[1] == [(2, 3)]
    s = mx.sym._multi_mp_lamb_update(learning_rates=(0.1,), wds=(0.0,), step_count=(1,))
    assert [a.split("update0_")[1] for a in s.list_arguments()] == [
        "weight_0", "grad_0", "mean_0", "var_0", "weight32_0"]


def test_symbol_adamw_is_the_ndarray_step():
    w, g, m, v = _state(95, (3, 2))
    s = mx.sym.contrib.adamw_update(*[mx.sym.Variable(n) for n in "wgmv"], 0.5, lr=0.1, eta=0.9,
                                    wd=0.01)
    assert s.list_arguments() == list("wgmv")       # the float scale is a constant node
    args = {n: mx.nd.array(a) for n, a in zip("wgmv", (w, g, m, v))}
    got = s.bind(mx.cpu(), args=args, grad_req="null").forward()[0]
    nm = mx.nd.array(m)
    want = mx.nd.contrib.adamw_update(mx.nd.array(w), mx.nd.array(g), nm, mx.nd.array(v), 0.5,
                                      lr=0.1, eta=0.9, wd=0.01)
    np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
    np.testing.assert_array_equal(args["m"].asnumpy(), nm.asnumpy())     # states in place


# -- the LAMB optimizer runs on these operators, as MXNet's ----------------------------------------
def test_lamb_optimizer_is_the_operators_by_hand():
    w, g, _, _ = _state(70, (4, 3))
    kw = dict(learning_rate=0.05, wd=0.01, clip_gradient=0.5, lower_bound=0.1)
    opt = mx.optimizer.LAMB(**kw)
    nw = mx.nd.array(w)
    state = opt.create_state(0, nw)
    opt.update(0, nw, mx.nd.array(g), state)
    hw, hm, hv = mx.nd.array(w), mx.nd.zeros(w.shape), mx.nd.zeros(w.shape)
    d = mx.nd.lamb_update_phase1(hw, mx.nd.array(g), hm, hv, t=1, wd=0.01, clip_gradient=0.5,
                                 epsilon=1e-6)
    mx.nd.lamb_update_phase2(hw, d, hw.norm(), d.norm(), lr=0.05, lower_bound=0.1, out=hw)
    for a, b in zip([nw, state[0], state[1]], [hw, hm, hv]):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    # a list from the Updater: one multi_lamb_update
    w2, g2, _, _ = _state(80, (5,))
    upd = mx.optimizer.get_updater(mx.optimizer.LAMB(**kw))
    ws = [mx.nd.array(w), mx.nd.array(w2)]
    upd([0, 1], [mx.nd.array(g), mx.nd.array(g2)], ws)
    hs = [mx.nd.array(w), mx.nd.array(w2)]
    means, variances = [mx.nd.zeros(w.shape), mx.nd.zeros(w2.shape)], \
        [mx.nd.zeros(w.shape), mx.nd.zeros(w2.shape)]
    mx.nd.contrib.multi_lamb_update(hs, [mx.nd.array(g), mx.nd.array(g2)], means, variances,
                                    step_count=[1, 1], lrs=[0.05, 0.05], wds=[0.01, 0.01],
                                    clip_gradient=0.5, lower_bound=0.1, out=hs)
    for a, b in zip(ws + [upd.states[1][1]], hs + [variances[1]]):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


@pytest.mark.oracle
def test_mixed_precision_lamb_optimizer_matches_mxnet():
    rs = np.random.RandomState(90)
    weights = [rs.uniform(-1, 1, s).astype(np.float32) for s in [(4, 3), (6,)]]
    steps = [[rs.uniform(-1, 1, w.shape).astype(np.float32) for w in weights]
             for _ in range(3)]
    code = """
opt = mx.optimizer.create('lamb', learning_rate=0.05, wd=0.01, multi_precision=True)
upd = mx.optimizer.get_updater(opt)
ws = [mx.nd.array(w).astype('float16') for w in weights]
for gs in steps:
    upd([0, 1], [mx.nd.array(g).astype('float16') for g in gs], ws)
out['w'] = [w.asnumpy() for w in ws]
out['master'] = [upd.states[i][0].asnumpy() for i in (0, 1)]
"""
    ref = run_oracle(code, weights=weights, steps=steps)
    mine = {}
    exec(code, {"mx": mx, "weights": weights, "steps": steps, "out": mine})
    for a, b in zip(mine["w"], ref["w"]):
        assert a.dtype == np.float16
        np.testing.assert_array_equal(a, b)
    for a, b in zip(mine["master"], ref["master"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- CPU vs GPU (simulator) --------------------------------------------------------------------
@pytest.mark.cudasim
@pytest.mark.parametrize("case", _parity_cases(), ids=lambda c: c[0])
def test_gpu_equals_cpu(case):
    cpu = call(*case)
    gpu = call(*case, ctx=mx.gpu(0))
    for a, b in zip(cpu, gpu):
        half = a.dtype == np.float16
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                                   rtol=1e-3 if half else 1e-5, atol=1e-3 if half else 1e-6)


@pytest.mark.cudasim
def test_cuda_kernels_equal_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import optimizer_lamb as C
    w, g, m, v = _state(60, 24)
    dev = [cuda.to_device(a) for a in (np.empty_like(w), m, v, w, g)]
    args = (f(0.5), f(0.3), True, f(0.9), f(0.99), f(0.1), f(1) - f(0.99), f(0.01), f(1e-6),
            np.float64(1 - 0.9 ** 3), f(1) - f(0.99) ** 3, True)
    C.lamb_phase1(*dev, *args)
    host = [np.empty_like(w), m.copy(), v.copy(), w, g]
    R.lamb_phase1(*host, *args)
    for d, h in zip(dev[:3], host[:3]):
        np.testing.assert_allclose(d.copy_to_host(), h, rtol=1e-6)
    out = cuda.to_device(np.empty_like(w))
    r1, r2 = np.array([4.0], f), np.array([0.25], f)
    C.lamb_phase2(out, dev[3], dev[4], cuda.to_device(r1), cuda.to_device(r2), f(0.1), f(-1),
                  f(1.5), f(0), True)
    want = np.empty_like(w)
    R.lamb_phase2(want, w, g, r1, r2, f(0.1), f(-1), f(1.5), f(0), True)
    np.testing.assert_allclose(out.copy_to_host(), want, rtol=1e-6)
    dev = [cuda.to_device(a) for a in (w, g, m, v)]
    args = (f(0.5), f(0.2), True, f(0.9), f(0.99), f(0.1), f(1) - f(0.99), f(0.8), f(0.01),
            f(0.1), f(1e-8), False, True)
    C.adamw_rule(*dev, *args)
    host = [w.copy(), g.copy(), m.copy(), v.copy()]
    R.adamw_rule(*host, *args)
    for d, h in zip(dev, host):
        np.testing.assert_allclose(d.copy_to_host(), h, rtol=1e-6, atol=1e-7)
