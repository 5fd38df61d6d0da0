"""Optimizers: each rule against a float64 numpy reference written here, and every optimizer
(with wd, rescale_grad, clip_gradient, schedules and multipliers) against real MXNet 1.9.1
over several steps, through the Updater as Module and the kvstore use it."""
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.optimizer import states as optimizer_states
from oracle import run_oracle

RNG = np.random.RandomState(7)
W0 = [RNG.uniform(-1, 1, (3, 4)).astype(np.float32), RNG.uniform(-1, 1, (5,)).astype(np.float32)]
STEPS = 5
GRADS = [[(RNG.randn(*w.shape) * 1.5).astype(np.float32) for w in W0] for _ in range(STEPS)]
NAMES = {0: "fc_weight", 1: "fc_bias"}
COMMON = dict(wd=0.01, rescale_grad=0.5, clip_gradient=0.6)

# The same driver runs in MXNet (oracle) and here, with `mx` bound to either library.
DRIVER = r'''
def _flat(s):
    if s is None:
        return []
    if isinstance(s, (tuple, list)):
        return [a for x in s for a in _flat(x)]
    return [s.asnumpy().astype(np.float64)]

def run_config(mx, cfg, weights, grads):
    kw = dict(cfg['kw'])
    if cfg.get('sched'):
        cls, skw = cfg['sched']
        kw['lr_scheduler'] = getattr(mx.lr_scheduler, cls)(**skw)
    if cfg.get('names'):
        kw['param_idx2name'] = cfg['names']
    opt = mx.optimizer.create(cfg['name'], **kw)
    if cfg.get('lr_mult'):
        opt.set_lr_mult(cfg['lr_mult'])
    if cfg.get('wd_mult'):
        opt.set_wd_mult(cfg['wd_mult'])
    upd = mx.optimizer.get_updater(opt)
    dtype = cfg.get('dtype', 'float32')
    ws = [mx.nd.array(w, dtype=dtype) for w in weights]
    traj = []
    for step in grads:
        gs = [mx.nd.array(g, dtype=dtype) for g in step]
        if cfg.get('per_index'):
            for i in range(len(ws)):
                upd(i, gs[i], ws[i])
        else:
            upd(list(range(len(ws))), gs, ws)
        traj.append([w.asnumpy().astype(np.float64) for w in ws])
    states = [_flat(upd.states[i]) for i in sorted(upd.states)]
    return {'traj': traj, 'states': states, 'num_update': opt.num_update,
            'lr': [opt._get_lr(i) for i in range(len(ws))],
            'wd': [opt._get_wd(i) for i in range(len(ws))]}
'''

CONFIGS = [
    dict(name="sgd", kw={}),
    dict(name="sgd", kw=dict(momentum=0.9, **COMMON)),
    dict(name="sgd", kw=dict(momentum=0.9, learning_rate=0.1, wd=0.1),
         sched=("FactorScheduler", dict(step=2, factor=0.5)), names=NAMES,
         lr_mult={"fc_bias": 3.0}),
    dict(name="sgd", kw=dict(momentum=0.9, wd=0.1, multi_precision=True), dtype="float16"),
    dict(name="sgd", kw=dict(wd=0.1, clip_gradient=0.5), per_index=True,
         wd_mult={"fc_weight": 2.0}, names=NAMES),
    dict(name="nag", kw=dict(momentum=0.9, **COMMON)),
    dict(name="nag", kw=dict(**COMMON)),
    dict(name="nag", kw=dict(momentum=0.9, wd=0.1, multi_precision=True), dtype="float16"),
    dict(name="signum", kw=dict(wd_lh=0.01, **COMMON)),
    dict(name="signum", kw=dict(momentum=0.0, wd=0.01)),
    dict(name="adam", kw=dict(**COMMON)),
    dict(name="adam", kw=dict(learning_rate=0.01, wd=0.1),
         sched=("PolyScheduler", dict(max_update=4, base_lr=0.05, pwr=2)), names=NAMES),
    dict(name="adagrad", kw=dict(**COMMON)),
    dict(name="rmsprop", kw=dict(**COMMON)),
    dict(name="rmsprop", kw=dict(centered=True, clip_weights=0.7, learning_rate=0.01, **COMMON)),
    dict(name="adadelta", kw=dict(**COMMON)),
    dict(name="adamax", kw=dict(**COMMON)),
    dict(name="nadam", kw=dict(**COMMON)),
    dict(name="ftrl", kw=dict(lamda1=0.05, **COMMON)),
    dict(name="ftml", kw=dict(learning_rate=0.01, **COMMON)),
    dict(name="lamb", kw=dict(learning_rate=0.01, **COMMON)),
    dict(name="lamb", kw=dict(learning_rate=0.01, lower_bound=0.1, upper_bound=1.0,
                              bias_correction=False, wd=0.1)),
    dict(name="dcasgd", kw=dict(learning_rate=0.1, **COMMON)),
    dict(name="sgd", kw=dict(momentum=0.5, learning_rate=0.2),
         sched=("CosineScheduler", dict(max_update=6, base_lr=0.2, warmup_steps=2,
                                        warmup_begin_lr=0.05))),
    dict(name="adam", kw=dict(learning_rate=0.01),
         sched=("MultiFactorScheduler", dict(step=[1, 3], factor=0.5, base_lr=0.01))),
]


def _ours(cfg):
    ns = {"np": np}
    exec(DRIVER, ns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ns["run_config"](mx, cfg, W0, GRADS)


@pytest.fixture(scope="module")
def oracle_results():
    code = DRIVER + "\nout['res'] = [run_config(mx, c, W0, GRADS) for c in CONFIGS]\n"
    return run_oracle(code.replace("CONFIGS", repr(CONFIGS)), W0=W0, GRADS=GRADS)["res"]


@pytest.mark.oracle
@pytest.mark.parametrize("k", range(len(CONFIGS)),
                         ids=[f"{c['name']}-{i}" for i, c in enumerate(CONFIGS)])
def test_matches_mxnet(oracle_results, k):
    cfg, ref = CONFIGS[k], oracle_results[k]
    got = _ours(cfg)
    tol = dict(rtol=2e-3, atol=2e-3) if cfg.get("dtype") == "float16" else \
        dict(rtol=1e-5, atol=1e-6)
    for step, (a, b) in enumerate(zip(got["traj"], ref["traj"])):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, err_msg=f"{cfg} step {step} weight {i}", **tol)
    assert len(got["states"]) == len(ref["states"])
    for s_got, s_ref in zip(got["states"], ref["states"]):
        assert len(s_got) == len(s_ref)
        for x, y in zip(s_got, s_ref):
            np.testing.assert_allclose(x, y, err_msg=f"{cfg} state", **tol)
    assert got["num_update"] == ref["num_update"]
    np.testing.assert_allclose(got["lr"], ref["lr"], rtol=1e-12)
    np.testing.assert_allclose(got["wd"], ref["wd"], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# float64 numpy references, written from the formulas (one weight, constant lr)
# ---------------------------------------------------------------------------------------------
def _c(x, bound):
    return np.clip(x, -bound, bound) if bound else x


def ref_sgd(w, gs, lr=0.01, momentum=0.0, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    mom = np.zeros_like(w)
    for g in gs:
        mom = momentum * mom - lr * wd * w - lr * _c(rescale_grad * g, clip_gradient)
        w = w + mom
    return w


def ref_nag(w, gs, lr=0.01, momentum=0.0, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    # MXNet's kernel: lr-scaled momentum whose decay term sees the already-updated weight
    mom = np.zeros_like(w)
    for g in gs:
        gr = _c(rescale_grad * g, clip_gradient)
        mom = momentum * mom
        w = w - mom + (1 + momentum) * (mom - lr * (gr + wd * w))
        mom = mom - lr * (gr + wd * w)
    return w


def test_nag_without_decay_is_textbook_nesterov():
    w0, grads = W0[1].astype(np.float64), [s[1].astype(np.float64) for s in GRADS]
    v, w = np.zeros_like(w0), w0.copy()
    for g in grads:
        v = 0.9 * v + g
        w = w - 0.1 * (g + 0.9 * v)
    opt, ours = mx.optimizer.NAG(momentum=0.9, learning_rate=0.1), mx.nd.array(W0[1])
    state = opt.create_state(1, ours)
    for s in GRADS:
        opt.update(1, ours, mx.nd.array(s[1]), state)
    np.testing.assert_allclose(ours.asnumpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.asnumpy(), -0.1 * v, rtol=1e-5, atol=1e-6)


def ref_signum(w, gs, lr=0.01, momentum=0.9, wd=0.0, wd_lh=0.0, rescale_grad=1.0,
               clip_gradient=None):
    mom = np.zeros_like(w)
    for g in gs:
        mom = momentum * mom - (1 - momentum) * (wd * w + _c(rescale_grad * g, clip_gradient))
        w = (1 - lr * wd_lh) * w + lr * np.sign(mom)
    return w


def ref_adam(w, gs, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, wd=0.0, rescale_grad=1.0,
             clip_gradient=None):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gs, 1):
        g = _c(rescale_grad * g + wd * w, clip_gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (np.sqrt(v) + epsilon)
    return w


def ref_adagrad(w, gs, lr=0.01, eps=1e-7, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    h = np.zeros_like(w)
    for g in gs:
        g = _c(rescale_grad * g, clip_gradient)
        h = h + g * g
        w = w - lr * (g / np.sqrt(h + eps) + wd * w)
    return w


def ref_rmsprop(w, gs, lr=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8, centered=False,
                clip_weights=None, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    n, m, d = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in gs:
        g = _c(rescale_grad * g + wd * w, clip_gradient)
        n = (1 - gamma1) * g * g + gamma1 * n
        if centered:
            m = (1 - gamma1) * g + gamma1 * m
            d = gamma2 * d - lr * g / np.sqrt(n - m * m + epsilon)
            w = w + d
        else:
            w = w - lr * g / np.sqrt(n + epsilon)
        w = _c(w, clip_weights)
    return w


def ref_adadelta(w, gs, rho=0.9, epsilon=1e-5, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    ag, ad = np.zeros_like(w), np.zeros_like(w)
    for g in gs:
        g = _c(rescale_grad * g, clip_gradient)
        ag = rho * ag + (1 - rho) * g * g
        delta = np.sqrt(ad + epsilon) / np.sqrt(ag + epsilon) * g
        ad = rho * ad + (1 - rho) * delta * delta
        w = w - (delta + wd * w)
    return w


def ref_adamax(w, gs, lr=0.002, beta1=0.9, beta2=0.999, wd=0.0, rescale_grad=1.0,
               clip_gradient=None):
    m, u = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gs, 1):
        g = _c(rescale_grad * g + wd * w, clip_gradient)
        m = beta1 * m + (1 - beta1) * g
        u = np.maximum(beta2 * u, np.abs(g))
        w = w - lr / (1 - beta1 ** t) * m / u
    return w


def ref_nadam(w, gs, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, schedule_decay=0.004,
              wd=0.0, rescale_grad=1.0, clip_gradient=None):
    m, v, sched = np.zeros_like(w), np.zeros_like(w), 1.0
    mu = lambda t: beta1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))  # noqa: E731
    for t, g in enumerate(gs, 1):
        g = _c(rescale_grad * g + wd * w, clip_gradient)
        sched *= mu(t)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_bar = (1 - mu(t)) * g / (1 - sched) + mu(t + 1) * m / (1 - sched * mu(t + 1))
        w = w - lr * m_bar / (np.sqrt(v / (1 - beta2 ** t)) + epsilon)
    return w


def ref_ftrl(w, gs, lr=0.1, lamda1=0.01, beta=1.0, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    z, n = np.zeros_like(w), np.zeros_like(w)
    for g in gs:
        g = _c(rescale_grad * g, clip_gradient)
        z = z + g - (np.sqrt(n + g * g) - np.sqrt(n)) * w / lr
        n = n + g * g
        w = (np.sign(z) * lamda1 - z) / ((beta + np.sqrt(n)) / lr + wd) * (np.abs(z) > lamda1)
    return w


def ref_ftml(w, gs, lr=0.01, beta1=0.6, beta2=0.999, epsilon=1e-8, wd=0.0, rescale_grad=1.0,
             clip_gradient=None):
    d, v, z = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gs, 1):
        g = _c(rescale_grad * g + wd * w, clip_gradient)
        v = beta2 * v + (1 - beta2) * g * g
        d_t = (1 - beta1 ** t) / lr * (np.sqrt(v / (1 - beta2 ** t)) + epsilon)
        z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * w
        d = d_t
        w = -z / d_t
    return w


def ref_lamb(w, gs, lr=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6, wd=0.0, rescale_grad=1.0,
             clip_gradient=None):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gs, 1):
        g = _c(rescale_grad * g, clip_gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        u = (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + epsilon) + wd * w
        w = w - lr * np.linalg.norm(w) / np.linalg.norm(u) * u
    return w


def ref_dcasgd(w, gs, lr=0.01, lamda=0.04, wd=0.0, rescale_grad=1.0, clip_gradient=None):
    prev = w.copy()
    for g in gs:
        g = _c(rescale_grad * g, clip_gradient)
        step = -lr * (g + wd * w + lamda * g * g * (w - prev))
        prev, w = w, w + step
    return w


REFERENCES = [
    ("sgd", ref_sgd, dict(momentum=0.9, lr=0.1)),
    ("sgd", ref_sgd, dict(lr=0.1)),
    ("nag", ref_nag, dict(momentum=0.8, lr=0.1)),
    ("signum", ref_signum, dict(wd_lh=0.05)),
    ("adam", ref_adam, dict(lr=0.01)),
    ("adagrad", ref_adagrad, dict(lr=0.1)),
    ("rmsprop", ref_rmsprop, dict(lr=0.01)),
    ("rmsprop", ref_rmsprop, dict(lr=0.01, centered=True, clip_weights=0.9)),
    ("adadelta", ref_adadelta, dict()),
    ("adamax", ref_adamax, dict()),
    ("nadam", ref_nadam, dict(lr=0.01)),
    ("ftrl", ref_ftrl, dict(lamda1=0.05)),
    ("ftml", ref_ftml, dict()),
    ("lamb", ref_lamb, dict(lr=0.05)),
    ("dcasgd", ref_dcasgd, dict(lr=0.1)),
]


@pytest.mark.parametrize("name,ref,kw", REFERENCES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(REFERENCES)])
def test_rule_matches_numpy_reference(name, ref, kw):
    common = dict(wd=0.02, rescale_grad=0.5, clip_gradient=0.7)
    w0 = W0[0].astype(np.float64)
    grads = [step[0].astype(np.float64) for step in GRADS]
    expected = ref(w0, grads, **common, **kw)
    okw = dict(common, **kw)
    if "lr" in okw:
        okw["learning_rate"] = okw.pop("lr")
    opt = mx.optimizer.create(name, **okw)
    w = mx.nd.array(W0[0])
    state = opt.create_state(0, w)
    for step in GRADS:
        opt.update(0, w, mx.nd.array(step[0]), state)
    np.testing.assert_allclose(w.asnumpy(), expected, rtol=1e-4, atol=1e-5)
    assert opt.num_update == STEPS


# ---------------------------------------------------------------------------------------------
# Optimizer base semantics
# ---------------------------------------------------------------------------------------------
def test_wd_mult_defaults_from_names_and_multiplier_lookup_order():
    opt = mx.optimizer.SGD(wd=0.1, learning_rate=0.2, param_idx2name={
        0: "fc_weight", 1: "fc_bias", 2: "bn_gamma", 3: "bn_beta", 4: "x"})
    assert opt.wd_mult == {"fc_bias": 0.0, "bn_beta": 0.0, "x": 0.0}
    assert [opt._get_wd(i) for i in range(6)] == [0.1, 0.0, 0.1, 0.0, 0.0, 0.1]
    opt.set_lr_mult({"fc_weight": 2.0, 1: 0.5})
    assert opt._get_lr(0) == pytest.approx(0.4) and opt._get_lr(1) == pytest.approx(0.1)
    assert opt._get_lr("fc_weight") == pytest.approx(0.4)

    class Param:
        lr_mult, wd_mult = 3.0, 4.0
    opt.param_dict = {0: Param()}
    assert opt._get_lr(0) == pytest.approx(0.6) and opt._get_wd(0) == pytest.approx(0.4)


@pytest.mark.oracle
def test_multiplier_tables_match_mxnet_for_a_real_symbol():
    code = """
d = mx.sym.Variable('data')
w = mx.sym.Variable('fc_weight', lr_mult=2.0, wd_mult=3.0)
b = mx.sym.Variable('fc_bias', lr_mult=0.5)
fc = mx.sym.FullyConnected(d, weight=w, bias=b, num_hidden=2, name='fc')
net = mx.sym.BatchNorm(fc, name='bn')
names = {i: n for i, n in enumerate(net.list_arguments()) if n != 'data'}
o = mx.optimizer.SGD(sym=net, param_idx2name=names, wd=0.1, learning_rate=0.2)
o.set_lr_mult({'bn_gamma': 4.0})
out['attr'] = net.attr_dict(); out['args'] = net.list_arguments(); out['names'] = names
out['lr_mult'] = o.lr_mult; out['wd_mult'] = o.wd_mult
out['lr'] = [o._get_lr(i) for i in range(6)]; out['wd'] = [o._get_wd(i) for i in range(6)]
"""
    e = run_oracle(code)

    class Sym:  # the Symbol's two methods the optimizer reads, with MXNet's own answers
        def attr_dict(self):
            return e["attr"]

        def list_arguments(self):
            return e["args"]
    opt = mx.optimizer.SGD(sym=Sym(), param_idx2name=e["names"], wd=0.1, learning_rate=0.2)
    opt.set_lr_mult({"bn_gamma": 4.0})
    assert opt.lr_mult == e["lr_mult"] and opt.wd_mult == e["wd_mult"]
    assert [opt._get_lr(i) for i in range(6)] == e["lr"]
    assert [opt._get_wd(i) for i in range(6)] == e["wd"]


def test_sym_attributes_set_multipliers():
    class FakeSym:  # duck-typed Symbol
        def attr_dict(self):
            return {"fc_weight": {"__lr_mult__": "2.0", "__wd_mult__": "3.0"},
                    "fc_bias": {"num_hidden": "2"}}

        def list_arguments(self):
            return ["data", "fc_weight", "fc_bias"]
    opt = mx.optimizer.SGD(sym=FakeSym(), wd=0.1, param_idx2name=NAMES)
    assert opt.lr_mult == {"fc_weight": 2.0}
    assert opt.wd_mult == {"fc_bias": 0.0, "fc_weight": 3.0}
    assert opt._get_lr(0) == pytest.approx(0.02) and opt._get_wd(0) == pytest.approx(0.3)
    assert opt._get_wd(1) == 0.0


def test_learning_rate_and_scheduler_interplay():
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    with pytest.warns(UserWarning):
        opt = mx.optimizer.SGD(learning_rate=0.4, lr_scheduler=sched)
    assert sched.base_lr == 0.4 and opt.learning_rate == 0.4
    with pytest.raises(MXNetError, match="lr_scheduler"):
        opt.set_learning_rate(0.1)
    plain = mx.optimizer.SGD()
    assert plain.learning_rate == 0.01
    plain.set_learning_rate(0.3)
    assert plain.learning_rate == 0.3
    # Poly/Cosine keep the rate they were built with: learning_rate= does not change the decay
    with pytest.warns(UserWarning, match="overwrites"):
        poly = mx.optimizer.SGD(learning_rate=0.1, lr_scheduler=mx.lr_scheduler.PolyScheduler(
            10, base_lr=1.0))
    assert poly.learning_rate == 1.0


def test_update_counts_per_device_and_begin_num_update():
    opt = mx.optimizer.SGD(begin_num_update=10)
    w, g = mx.nd.ones((2,)), mx.nd.ones((2,))
    opt.update(0, w, g, None)
    opt.update(0, w, g, None)
    opt._set_current_context(1)
    opt.update(0, w, g, None)
    assert opt._all_index_update_counts == {0: {0: 12}, 1: {0: 11}}
    assert opt.num_update == 12
    np.testing.assert_allclose(w.asnumpy(), 1 - 3 * 0.01, rtol=1e-6)


def test_create_register_and_errors():
    assert isinstance(mx.optimizer.create("Adam"), mx.optimizer.Adam)
    assert mx.optimizer.create("adam").lr == 0.001 and mx.optimizer.create("ftrl").lr == 0.1
    inst = mx.optimizer.NAG(momentum=0.5)
    assert mx.optimizer.create(inst) is inst
    with pytest.raises(MXNetError, match="Did you mean 'nadam'"):
        mx.optimizer.create("nadma")
    with pytest.raises(ValueError):
        mx.optimizer.create("nope")

    @mx.optimizer.register
    class HalfStep(mx.optimizer.Optimizer):
        def update(self, index, weight, grad, state):
            weight[:] = weight - 0.5 * grad
    w = mx.nd.ones((2,))
    mx.optimizer.create("halfstep").update(0, w, mx.nd.ones((2,)), None)
    np.testing.assert_allclose(w.asnumpy(), [0.5, 0.5])
    with pytest.raises(MXNetError, match="does not define update"):
        mx.optimizer.Optimizer().update(0, w, w, None)
    with pytest.raises(MXNetError, match=r"weight shape \(2,\) and gradient shape \(3,\)"):
        mx.optimizer.SGD().update(0, w, mx.nd.ones((3,)), None)


def test_adadelta_rescales_the_callers_gradient_in_place():
    opt = mx.optimizer.AdaDelta(rescale_grad=0.5)
    g = mx.nd.ones((3,))
    opt.update(0, mx.nd.ones((3,)), g, opt.create_state(0, mx.nd.ones((3,))))
    np.testing.assert_allclose(g.asnumpy(), 0.5)


def test_sgld_uses_mxteach_random_stream():
    lr, wd = 0.04, 0.1
    w0, g = np.ones(4, np.float32), np.full(4, 0.5, np.float32)
    mx.random.seed(3)
    opt, w = mx.optimizer.SGLD(learning_rate=lr, wd=wd), mx.nd.array(w0)
    opt.update(0, w, mx.nd.array(g), None)
    noise = np.random.RandomState(3).normal(0, np.sqrt(lr), 4)
    np.testing.assert_allclose(w.asnumpy(), w0 - lr / 2 * (g + wd * w0) + noise, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Updater: states, save/load, contexts
# ---------------------------------------------------------------------------------------------
def _run(updater, ws, steps):
    for step in steps:
        updater([0, 1], [mx.nd.array(g) for g in step], ws)


@pytest.mark.parametrize("name,kw,dump", [
    ("adam", dict(wd=0.01), True), ("sgd", dict(momentum=0.9), False),
    ("rmsprop", dict(centered=True), True), ("nadam", {}, True),
    ("sgd", dict(momentum=0.9, sched=dict(step=2, factor=0.5, base_lr=0.1)), True)])
def test_updater_state_round_trip_continues_identically(name, kw, dump):
    def make():
        args = dict(kw)
        if "sched" in args:
            args["lr_scheduler"] = mx.lr_scheduler.FactorScheduler(**args.pop("sched"))
        return mx.optimizer.get_updater(mx.optimizer.create(name, **args))
    ws_a = [mx.nd.array(w) for w in W0]
    upd_a = make()
    _run(upd_a, ws_a, GRADS)

    ws_b = [mx.nd.array(w) for w in W0]
    upd_b = make()
    _run(upd_b, ws_b, GRADS[:2])
    blob = upd_b.get_states(dump_optimizer=dump)
    upd_c = make()
    upd_c.set_states(blob)
    assert upd_c.states_synced == {0: False, 1: False}
    _run(upd_c, ws_b, GRADS[2:])
    for a, b in zip(ws_a, ws_b):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    if dump:
        assert upd_c.optimizer.num_update == STEPS


def test_states_pickle_without_optimizer_and_sync_context():
    upd = mx.optimizer.get_updater(mx.optimizer.Adam())
    w = mx.nd.ones((2,), ctx=mx.cpu(0))
    upd(0, mx.nd.ones((2,)), w)
    states = optimizer_states.loads(upd.get_states())  # NDArrays pickle in MXNet's form
    assert set(states) == {0} and isinstance(states[0][0], mx.nd.NDArray)
    upd.set_states(upd.get_states())
    w1 = mx.nd.ones((2,), ctx=mx.cpu(1))
    upd(0, mx.nd.ones((2,), ctx=mx.cpu(1)), w1)
    assert all(s.context == mx.cpu(1) for s in upd.states[0])
    moved = upd.sync_state_context([mx.nd.ones((1,)), None], mx.cpu(2))
    assert isinstance(moved, list) and moved[0].context == mx.cpu(2) and moved[1] is None


def test_updater_aggregates_sgd_in_chunks_by_dtype(monkeypatch):
    calls = []
    opt = mx.optimizer.SGD(momentum=0.9)
    real = opt.update_multi_precision
    monkeypatch.setattr(opt, "update_multi_precision",
                        lambda i, w, g, s: (calls.append(list(i)), real(i, w, g, s)))
    upd = mx.optimizer.get_updater(opt)
    ws = [mx.nd.ones((2,)) for _ in range(5)] + [mx.nd.ones((2,), dtype="float64")]
    upd(list(range(6)), [mx.nd.ones((2,), dtype=w.dtype) for w in ws], ws)
    assert calls == [[0, 1, 2, 3], [4], [5]]
    np.testing.assert_allclose(ws[5].asnumpy(), 0.99)


def test_multi_precision_keeps_float32_master_copy():
    opt = mx.optimizer.SGD(learning_rate=1e-4, multi_precision=True)
    upd = mx.optimizer.get_updater(opt)
    w = mx.nd.ones((3,), dtype="float16")
    for _ in range(10):
        upd(0, mx.nd.ones((3,), dtype="float16"), w)
    mom, master = upd.states[0]
    assert mom is None and master.dtype == np.float32
    np.testing.assert_allclose(master.asnumpy(), 1 - 10e-4, rtol=1e-6)
    np.testing.assert_allclose(w.asnumpy(), np.float16(1 - 10e-4))
    adam = mx.optimizer.get_updater(mx.optimizer.Adam(multi_precision=True))
    w16 = mx.nd.ones((3,), dtype="float16")
    adam(0, mx.nd.ones((3,), dtype="float16"), w16)
    master, (m, v) = adam.states[0]
    assert master.dtype == np.float32 and m.dtype == np.float32
    np.testing.assert_allclose(master.asnumpy(), 1 - 0.001, rtol=1e-5)
