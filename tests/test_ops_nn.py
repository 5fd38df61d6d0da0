"""Activation, LeakyReLU, Dropout, Embedding, BatchNorm: Numba kernels against their numpy twins,
operators against numpy, finite differences and real MXNet 1.9.1."""
import numpy as np
import pytest

from mxteach.base import MXNetError, ShapeError
from mxteach.kernels.reference import nn as R
from mxteach.kernels.cpu import nn as K
from mxteach.ops import registry
from mxteach.test_utils import check_numeric_gradient, run_op, run_op_backward

from oracle import run_oracle

ACTS = ["relu", "sigmoid", "tanh", "softrelu", "softsign"]
LEAKY = ["leaky", "elu", "selu", "gelu"]


def rnd(*shape, seed=0, dtype=np.float64, away_from=None):
    """Random normal data; ``away_from`` keeps values at least 0.05 from a kink (e.g. 0)."""
    x = np.random.RandomState(seed).randn(*shape)
    if away_from is not None:
        x = np.where(np.abs(x - away_from) < 0.05, x + 0.1, x)
    return x.astype(dtype)


# -- kernels against their numpy twins ----------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTS + LEAKY)
def test_unary_kernels_match_reference(name, dtype):
    x = rnd(50, dtype=dtype) * 3
    x[:3] = [25.0, -25.0, 0.3]            # softrelu's threshold and a large negative
    code = K.ACT_CODES[name]
    y, y_ref = np.empty_like(x), np.empty_like(x)
    K.unary_forward(x, y, code, 0.3)
    R.unary_forward(x, y_ref, code, 0.3)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    dy = rnd(50, seed=1, dtype=dtype)
    for acc in (False, True):
        dx, dx_ref = np.full_like(x, 0.5), np.full_like(x, 0.5)
        K.unary_backward(x, y, dy, dx, code, 0.3, acc)
        R.unary_backward(x, y_ref, dy, dx_ref, code, 0.3, acc)
        np.testing.assert_allclose(dx, dx_ref, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu_bn_embedding_kernels_match_reference(dtype):
    x3, dy3 = rnd(3, 4, 5, dtype=dtype), rnd(3, 4, 5, seed=1, dtype=dtype)
    gamma = rnd(4, seed=2, dtype=dtype)
    outs = {}
    for mod in (K, R):
        y = np.empty_like(x3)
        mod.prelu_forward(x3, gamma, y)
        dx, dg = np.ones_like(x3), np.zeros(4)
        mod.prelu_backward(x3, gamma, dy3, dx, dg, 2)
        mean, var = np.zeros(4), np.zeros(4)
        mod.bn_batch_stats(x3, mean, var)
        invstd = 1 / np.sqrt(var + 1e-3)
        bn = np.empty_like(x3)
        mod.bn_forward(x3, mean, invstd, gamma, gamma[::-1].copy(), bn)
        bdx, s1, s2 = np.empty_like(x3), np.zeros(4), np.zeros(4)
        mod.bn_backward(x3, dy3, mean, invstd, gamma, bdx, s1, s2, True, 1)
        gdx = np.ones_like(x3)
        mod.bn_backward(x3, dy3, mean, invstd, gamma, gdx, s1, s2, False, 2)
        idx = np.array([0, 2.7, -1, 9, 1.5, 2.7])
        w = rnd(4, 3, dtype=dtype)
        emb, dw = np.empty((6, 3), dtype), np.ones((4, 3), dtype)
        mod.embedding_forward(idx, w, emb)
        mod.embedding_backward(idx, rnd(6, 3, dtype=dtype), dw, True)
        outs[mod] = [y, dx, dg, mean, var, bn, bdx, gdx, s1, s2, emb, dw]
    tol = 2e-5 if dtype == np.float32 else 1e-11
    for a, b in zip(outs[K], outs[R]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# -- operators against numpy ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ACTS)
def test_activation_forward_matches_numpy(name):
    x = rnd(2, 3, 4, dtype=np.float32) * 4
    (y,), _, _ = run_op("Activation", [x], act_type=name)
    want = {"relu": np.maximum(x, 0), "sigmoid": 1 / (1 + np.exp(-x)), "tanh": np.tanh(x),
            "softrelu": np.log1p(np.exp(x)), "softsign": x / (1 + np.abs(x))}[name]
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", LEAKY)
def test_leaky_forward_matches_numpy(name):
    x = rnd(3, 4)
    (y,), _, _ = run_op("LeakyReLU", [x], act_type=name, slope=0.1)
    ref = np.empty_like(x)
    R.unary_forward(x.ravel(), ref.ravel(), K.ACT_CODES[name], 0.1)
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    if name == "leaky":
        np.testing.assert_allclose(y, np.where(x > 0, x, 0.1 * x))


def test_prelu_forward_shared_and_per_channel_gamma():
    x = rnd(2, 3, 4)
    for gamma in (np.array([0.1, 0.2, 0.3]), np.array([0.5])):
        (y,), _, _ = run_op("LeakyReLU", [x, gamma], act_type="prelu")
        g = gamma.reshape(1, -1, 1)
        np.testing.assert_allclose(y, np.where(x > 0, x, g * x))
    op = registry.get("LeakyReLU")
    p = op.parse({"act_type": "prelu"})
    assert op.infer_shape(p, [(2, 3, 4), None])[0][1] == (3,)
    assert op.list_arguments(p) == ["data", "gamma"]


def test_rrelu_train_random_slopes_and_inference_mean():
    x = rnd(200)
    (y, mask), _, _ = run_op("LeakyReLU", [x], act_type="rrelu", seed=3)
    assert mask.min() >= 0.125 and mask.max() <= 0.334 and mask.std() > 0.02
    np.testing.assert_allclose(y, np.where(x > 0, x, mask * x))
    (y, mask), _, _ = run_op("LeakyReLU", [x], act_type="rrelu", is_train=False)
    np.testing.assert_allclose(y, np.where(x > 0, x, (0.125 + 0.334) / 2 * x))


def test_dropout_scales_kept_and_is_identity_in_inference():
    x = rnd(4, 500) + 3
    (y,), state, _ = run_op("Dropout", [x], p=0.3, seed=1)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.03
    np.testing.assert_allclose(y[kept], x[kept] / 0.7)
    np.testing.assert_allclose(state["mask"], kept / 0.7)
    (y,), _, _ = run_op("Dropout", [x], p=0.3, is_train=False)
    np.testing.assert_array_equal(y, x)
    (y,), _, _ = run_op("Dropout", [x], p=0.3, is_train=False, mode="always", seed=2)
    assert 0.2 < (y == 0).mean() < 0.4
    (y,), _, _ = run_op("Dropout", [x], p=0.5, axes=(1,), seed=4)
    assert all(len(np.unique(row != 0)) == 1 for row in y)     # mask shared along axis 1
    (y,), _, _ = run_op("Dropout", [x], p=1.0, seed=1)
    assert np.isnan(y).all()                                    # as MXNet: 0 * (1/0)
    (y,), _, _ = run_op("Dropout", [x], p=0.0)
    np.testing.assert_array_equal(y, x)


def test_embedding_forward_truncates_and_clips_indices():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    idx = np.array([[0, 3.7], [-1, 5], [1.2, 2.5]], dtype=np.float32)
    (y,), _, _ = run_op("Embedding", [idx, w], input_dim=4, output_dim=3)
    np.testing.assert_array_equal(y, w[[[0, 3], [0, 3], [1, 2]]])
    _, (dd, dw) = run_op_backward("Embedding", [idx, w], out_grads=[np.ones_like(y)],
                                  init_grads=[np.full_like(idx, 7), np.zeros_like(w)],
                                  input_dim=4, output_dim=3)
    np.testing.assert_array_equal(dw, [[2] * 3, [1] * 3, [1] * 3, [2] * 3])
    np.testing.assert_array_equal(dd, 0)
    op = registry.get("Embedding")
    p = op.parse({"input_dim": 4, "output_dim": 3, "dtype": "float64"})
    assert op.types(p, ["int32", None]) == (["int32", "float64"], ["float64"])
    assert op.infer_shape(p, [None, None]) == ([None, (4, 3)], [None])


def bn_run(x, gamma, beta, mm, mv, ograd=None, is_train=True, reqs=None, init=None, **params):
    """Forward (and backward when ``ograd`` is given) through the registry, keeping the
    argument and aux arrays so in-place updates (gamma, moving stats) are visible."""
    op = registry.get("BatchNorm")
    p = op.parse(params)
    ins = [np.array(a, copy=True) for a in (x, gamma, beta, mm, mv)]
    _, oshapes = op.infer_shape(p, [a.shape for a in ins])
    outs = [np.zeros(s, x.dtype) for s in oshapes]
    state = {}
    op.forward(p, ins, outs, is_train, state)
    grads = None
    if ograd is not None:
        reqs = reqs or ["write"] * 3
        grads = [None if r == "null" else np.array(init[i] if init else np.zeros_like(ins[i]))
                 for i, r in enumerate(reqs)]
        ograds = [ograd] + [np.zeros_like(o) for o in outs[1:]]
        op.backward(p, ograds, ins, outs, grads, reqs, state)
    return outs, grads, ins


def bn_inputs(shape=(4, 3, 5), seed=0, dtype=np.float64, axis=1):
    c = shape[axis]
    rs = np.random.RandomState(seed)
    return [(rs.randn(*shape) * 2 + 1).astype(dtype), rs.uniform(0.5, 2, c).astype(dtype),
            rs.randn(c).astype(dtype), rs.randn(c).astype(dtype) * 0.1,
            rs.uniform(0.5, 2, c).astype(dtype)]


def test_batchnorm_forward_matches_numpy_and_updates_moving_stats_in_backward():
    x, g, b, mm, mv = bn_inputs()
    outs, grads, ins = bn_run(x, g, b, mm, mv, fix_gamma=False, output_mean_var=True)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    c = (1, -1, 1)
    want = (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + 1e-3) * g.reshape(c) + b.reshape(c)
    np.testing.assert_allclose(outs[0], want, rtol=1e-12)
    np.testing.assert_allclose(outs[1], mean)
    np.testing.assert_allclose(outs[2], 1 / np.sqrt(var + 1e-3))    # MXNet's 'var' is invstd
    np.testing.assert_array_equal(ins[3], mm)                         # forward leaves them
    outs, _, ins = bn_run(x, g, b, mm, mv, ograd=np.ones_like(x), fix_gamma=False)
    m = float(np.float32(0.9))                                        # MXNet's float momentum
    np.testing.assert_allclose(ins[3], m * mm + (1 - m) * mean)
    np.testing.assert_allclose(ins[4], m * mv + (1 - m) * var)        # biased variance
    # inference and use_global_stats normalise with the moving statistics
    want = (x - mm.reshape(c)) / np.sqrt(mv.reshape(c) + 1e-3) * g.reshape(c) + b.reshape(c)
    for outs, _, ins in (bn_run(x, g, b, mm, mv, is_train=False, fix_gamma=False),
                         bn_run(x, g, b, mm, mv, ograd=np.ones_like(x), fix_gamma=False,
                                use_global_stats=True)):
        np.testing.assert_allclose(outs[0], want, rtol=1e-12)
        np.testing.assert_array_equal(ins[3], mm)


def test_batchnorm_fix_gamma_overwrites_gamma_and_other_axis():
    x, g, b, mm, mv = bn_inputs()
    outs, grads, ins = bn_run(x, g, b, mm, mv, ograd=rnd(*x.shape, seed=5))
    np.testing.assert_array_equal(ins[1], 1)
    np.testing.assert_array_equal(grads[1], 0)
    x, g, b, mm, mv = bn_inputs((3, 4), axis=-1)
    outs, _, _ = bn_run(x, g, b, mm, mv, fix_gamma=False, axis=-1)
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * g + b
    np.testing.assert_allclose(outs[0], want, rtol=1e-12)
    op = registry.get("BatchNorm")
    assert op.list_outputs(op.parse({})) == ["output"]
    assert op.list_outputs(op.parse({"output_mean_var": True})) == ["output", "mean", "var"]
    assert op.list_aux(op.parse({})) == ["moving_mean", "moving_var"]


# -- finite differences (float64) -----------------------------------------------------------------
@pytest.mark.parametrize("name", ACTS)
def test_activation_numeric_gradient(name):
    check_numeric_gradient("Activation", [rnd(3, 4, away_from=0)], {"act_type": name})


@pytest.mark.parametrize("name", ["leaky", "elu", "gelu", "rrelu"])
def test_leaky_numeric_gradient(name):
    check_numeric_gradient("LeakyReLU", [rnd(3, 4, away_from=0)], {"act_type": name})


def test_selu_gradient_is_mxnets():
    """MXNet 1.9.1's selu gradient for x <= 0 is lambda * (y + alpha), not the derivative
    lambda * alpha * e^x = y + lambda * alpha; mxteach gives MXNet's numbers."""
    x = rnd(3, 4, away_from=0)
    (y,), (dx,) = run_op_backward("LeakyReLU", [x], act_type="selu")
    lam, alpha = K.SELU_LAMBDA, K.SELU_ALPHA
    np.testing.assert_allclose(y, lam * np.where(x > 0, x, alpha * np.expm1(x)), rtol=1e-12)
    np.testing.assert_allclose(dx, np.where(x > 0, lam, lam * (y + alpha)), rtol=1e-12)
    pos = x > 0           # where x > 0 it is the true derivative: check by finite differences
    eps = 1e-6
    (yp,), _, _ = run_op("LeakyReLU", [x + eps], act_type="selu")
    (ym,), _, _ = run_op("LeakyReLU", [x - eps], act_type="selu")
    np.testing.assert_allclose(dx[pos], ((yp - ym) / (2 * eps))[pos], rtol=1e-6)


def test_prelu_numeric_gradient():
    x = rnd(2, 3, 4, away_from=0)
    check_numeric_gradient("LeakyReLU", [x, np.array([0.1, -0.2, 0.3])], {"act_type": "prelu"})
    check_numeric_gradient("LeakyReLU", [x, np.array([0.2])], {"act_type": "prelu"})


def test_dropout_numeric_gradient():
    check_numeric_gradient("Dropout", [rnd(3, 4)], {"p": 0.4})
    check_numeric_gradient("Dropout", [rnd(3, 4)], {"p": 0.4, "axes": (0,)})


def test_embedding_numeric_gradient():
    idx = np.array([[0.5, 2.5], [2.5, 1.5]])
    check_numeric_gradient("Embedding", [idx, rnd(3, 4)],
                           {"input_dim": 3, "output_dim": 4, "dtype": "float64"})


@pytest.mark.parametrize("params", [{"fix_gamma": False}, {}, {"use_global_stats": True,
                                                               "fix_gamma": False},
                                    {"axis": -1, "fix_gamma": False}])
def test_batchnorm_numeric_gradient(params):
    axis = params.get("axis", 1)
    shape = (3, 2, 4) if axis == 1 else (3, 4)
    check_numeric_gradient("BatchNorm", bn_inputs(shape, axis=axis), params, rtol=1e-4,
                           atol=1e-6)


# -- grad_req 'add' accumulates -------------------------------------------------------------------
ADD_CASES = [
    ("Activation", [rnd(2, 3)], {"act_type": "tanh"}),
    ("LeakyReLU", [rnd(2, 3)], {"act_type": "gelu"}),
    ("LeakyReLU", [rnd(2, 3, 2), np.array([0.1, 0.2, 0.3])], {"act_type": "prelu"}),
    ("LeakyReLU", [rnd(2, 3)], {"act_type": "rrelu"}),
    ("Dropout", [rnd(2, 3)], {"p": 0.5}),
    ("Embedding", [np.array([1.0, 2.0, 1.0]), rnd(3, 2)], {"input_dim": 3, "output_dim": 2,
                                                            "dtype": "float64"}),
    ("BatchNorm", bn_inputs((4, 3, 2)), {"fix_gamma": False}),
]


@pytest.mark.parametrize("name,inputs,params", ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_grad_req_add_accumulates(name, inputs, params):
    n_args = len(registry.get(name).list_arguments(registry.get(name).parse(params)))
    _, write = run_op_backward(name, inputs, seed=1, **params)
    init = [np.full_like(a, 0.5) for a in inputs]
    reqs = ["add"] * n_args
    if name == "Embedding":
        reqs[0] = "null"
    _, added = run_op_backward(name, inputs, seed=1, reqs=reqs, init_grads=init, **params)
    for i in range(n_args):
        if reqs[i] == "add":
            np.testing.assert_allclose(added[i], write[i] + 0.5, rtol=1e-12)
    _, skipped = run_op_backward(name, inputs, seed=1, reqs=["null"] * n_args, **params)
    assert all(g is None for g in skipped)


# -- bad parameters -------------------------------------------------------------------------------
def test_bad_params_raise():
    x = rnd(2, 3)
    with pytest.raises(MXNetError, match="act_type"):
        run_op("Activation", [x], act_type="swish")
    with pytest.raises(MXNetError, match="needs argument 'act_type'"):
        run_op("Activation", [x])
    with pytest.raises(MXNetError, match="act_type"):
        run_op("LeakyReLU", [x], act_type="bogus")
    with pytest.raises(ShapeError, match=r"LeakyReLU\(prelu\): input gamma has shape \(2,\)"):
        run_op("LeakyReLU", [x, np.ones(2)], act_type="prelu")
    with pytest.raises(ShapeError, match="at least"):
        run_op("LeakyReLU", [rnd(3), np.ones(3)], act_type="prelu")
    with pytest.raises(MXNetError, match="p = 1.5"):
        run_op("Dropout", [x], p=1.5)
    with pytest.raises(ShapeError, match="axes"):
        run_op("Dropout", [x], axes=(2,))
    with pytest.raises(MXNetError, match="mode"):
        run_op("Dropout", [x], mode="sometimes")
    with pytest.raises(MXNetError, match="input_dim = 0"):
        run_op("Embedding", [x, np.ones((1, 2))], input_dim=0, output_dim=2)
    with pytest.raises(ShapeError, match=r"Embedding: input weight has shape \(3, 2\), "
                                         r"expected \(4, 2\)"):
        run_op("Embedding", [x, np.ones((3, 2))], input_dim=4, output_dim=2)
    with pytest.raises(MXNetError, match="needs argument 'input_dim'"):
        run_op("Embedding", [x, np.ones((3, 2))], output_dim=2)
    with pytest.raises(ShapeError, match="axis = 3"):
        run_op("BatchNorm", [x, np.ones(3), np.ones(3), np.ones(3), np.ones(3)], axis=3)
    with pytest.raises(ShapeError, match=r"BatchNorm: input beta has shape \(2,\), expected"):
        run_op("BatchNorm", [x, np.ones(3), np.ones(2), np.ones(3), np.ones(3)])
    with pytest.raises(MXNetError, match="fix_gamma"):
        run_op("BatchNorm", [x, np.ones(3), np.ones(3), np.ones(3), np.ones(3)],
               fix_gamma="maybe")


# -- parity with real MXNet 1.9.1 -----------------------------------------------------------------
# Every MXNet computation of this file runs in one oracle process (a module fixture): starting
# MXNet costs seconds, the computations themselves milliseconds.
ORACLE_CODE = """
def fb(op, arrays, params, ograd, train=True, need=None):
    nds = [mx.nd.array(a, dtype=a.dtype) for a in arrays]
    need = need or [True] * len(nds)
    for n, k in zip(nds, need):
        if k:
            n.attach_grad()
    with mx.autograd.record(train_mode=train):
        y = getattr(mx.nd, op)(*nds, **params)
    y.backward(mx.nd.array(ograd, dtype=ograd.dtype))
    return [y.asnumpy()] + [n.grad.asnumpy() if k else None for n, k in zip(nds, need)]

def bn(c):
    x, g, b, mm, mv = c['arrays']
    s = mx.sym.BatchNorm(mx.sym.var('x'), name='bn', **c['params'])
    ex = s.simple_bind(mx.cpu(), x=x.shape, grad_req=c['req'], type_dict={'x': x.dtype.name})
    for k, v in zip(['x', 'bn_gamma', 'bn_beta'], [x, g, b]):
        ex.arg_dict[k][:] = v
        if c['req'] == 'add':
            ex.grad_dict[k][:] = 0.5
    ex.aux_dict['bn_moving_mean'][:] = mm
    ex.aux_dict['bn_moving_var'][:] = mv
    ex.forward(is_train=c['train'])
    outs = [o.asnumpy() for o in ex.outputs]
    grads = None
    if c['train']:
        ex.backward([mx.nd.array(c['ograd'], dtype=x.dtype)] +
                    [mx.nd.zeros(o.shape, dtype=x.dtype) for o in ex.outputs[1:]])
        grads = [ex.grad_dict[k].asnumpy() for k in ['x', 'bn_gamma', 'bn_beta']]
    return [outs, grads, ex.arg_dict['bn_gamma'].asnumpy(),
            ex.aux_dict['bn_moving_mean'].asnumpy(), ex.aux_dict['bn_moving_var'].asnumpy()]

for op, cases in fb_cases.items():
    out[op] = [fb(op, c['arrays'], c['params'], c['ograd'], need=c.get('need')) for c in cases]
out['BatchNorm'] = [bn(c) for c in bn_cases]
# (MXNet 1.9.1 segfaults on rrelu in training mode, so only its inference is compared.)
out['rrelu'] = mx.nd.LeakyReLU(mx.nd.array(drop_x), act_type='rrelu')[0]
mx.random.seed(0)
out['dropout'] = {
    'train': fb('Dropout', [drop_x], {'p': 0.25}, drop_og),
    'axes': fb('Dropout', [drop_x], {'p': 0.5, 'axes': (1,)}, drop_og),
    'infer': fb('Dropout', [drop_x], {'p': 0.25}, drop_og, train=False),
    'always': [mx.nd.Dropout(mx.nd.array(drop_x), p=0.25, mode='always')]}
"""


def fb_cases():
    """Cases run through ``fb`` (autograd forward + backward) on both sides, by operator."""
    x = rnd(3, 4, 5, dtype=np.float32, away_from=0) * 3
    og = rnd(3, 4, 5, seed=1, dtype=np.float32)
    leaky = [{"arrays": [x], "params": {"act_type": a, "slope": 0.3}, "ograd": og}
             for a in LEAKY]
    leaky.append({"arrays": [x, np.array([0.1, -0.2, 0.3, 0.4], np.float32)],
                  "params": {"act_type": "prelu"}, "ograd": og})
    leaky.append({"arrays": [x.astype(np.float64), np.array([0.25])],
                  "params": {"act_type": "prelu"}, "ograd": og.astype(np.float64)})
    w = rnd(5, 3, dtype=np.float32)
    idx = np.array([[0, 4.9, 2], [1.5, 9, -3], [2, 2, 0.2]], np.float32)
    eg = rnd(3, 3, 3, seed=1, dtype=np.float32)
    emb = [{"arrays": [idx, w], "params": {"input_dim": 5, "output_dim": 3}, "ograd": eg,
            "need": [False, True]},      # MXNet refuses a gradient for the indices
           {"arrays": [idx.astype(np.int32), w.astype(np.float64)],
            "params": {"input_dim": 5, "output_dim": 3, "dtype": "float64"},
            "ograd": eg.astype(np.float64), "need": [False, True]}]
    return {"Activation": [{"arrays": [x], "params": {"act_type": a}, "ograd": og}
                           for a in ACTS],
            "LeakyReLU": leaky, "Embedding": emb}


def bn_cases():
    cases = []
    for shape, dtype, params, train, req in [
            ((4, 3, 2, 2), np.float32, {"fix_gamma": False, "output_mean_var": True}, True,
             "write"),
            ((4, 3, 5), np.float64, {}, True, "add"),
            ((4, 3, 5), np.float32, {"use_global_stats": True, "fix_gamma": False}, True,
             "write"),
            ((4, 3, 2, 2), np.float32, {"fix_gamma": False, "output_mean_var": True}, False,
             "write"),
            ((5, 3), np.float64, {"axis": -1, "fix_gamma": False, "momentum": 0.8,
                                  "eps": 1e-4}, True, "write")]:
        arrays = bn_inputs(shape, seed=len(cases), dtype=dtype, axis=params.get("axis", 1))
        cases.append({"arrays": arrays, "params": params, "train": train, "req": req,
                      "ograd": rnd(*shape, seed=9, dtype=dtype)})
    return cases


DROP_X = rnd(20, 30, dtype=np.float32) + 5
DROP_OG = rnd(20, 30, seed=1, dtype=np.float32)


@pytest.fixture(scope="module")
def mxnet_results():
    return run_oracle(ORACLE_CODE, fb_cases=fb_cases(), bn_cases=bn_cases(), drop_x=DROP_X,
                      drop_og=DROP_OG)


@pytest.mark.oracle
@pytest.mark.parametrize("op", ["Activation", "LeakyReLU", "Embedding"])
def test_forward_backward_match_mxnet(op, mxnet_results):
    tol = 1e-6 if op == "Embedding" else 1e-5
    for c, (y, *grads) in zip(fb_cases()[op], mxnet_results[op]):
        reqs = ["write" if k else "null" for k in c.get("need", [True] * len(c["arrays"]))]
        (ours,), ig = run_op_backward(op, c["arrays"], out_grads=[c["ograd"]], reqs=reqs,
                                      **c["params"])
        msg = f"{op} {c['params']}"
        np.testing.assert_allclose(ours, y, rtol=tol, atol=tol / 10, err_msg=msg)
        for a, b in zip(ig, grads):
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol / 10, err_msg=msg)


@pytest.mark.oracle
def test_rrelu_inference_matches_mxnet(mxnet_results):
    (y, _), _, _ = run_op("LeakyReLU", [DROP_X], act_type="rrelu", is_train=False)
    np.testing.assert_allclose(y, mxnet_results["rrelu"], rtol=1e-6)


@pytest.mark.oracle
def test_dropout_matches_mxnet_behaviour(mxnet_results):
    # The random streams differ, so check what the numbers must satisfy on both sides.
    x, og = DROP_X, DROP_OG
    ours = {"train": run_op_backward("Dropout", [x], out_grads=[og], p=0.25, seed=0),
            "axes": run_op_backward("Dropout", [x], out_grads=[og], p=0.5, axes=(1,)),
            "infer": run_op_backward("Dropout", [x], out_grads=[og], p=0.25, is_train=False),
            "always": run_op("Dropout", [x], p=0.25, mode="always", is_train=False)[0]}
    ours = {k: ([v[0][0], v[1][0]] if k != "always" else v) for k, v in ours.items()}
    for src, res in (("mxnet", mxnet_results["dropout"]), ("ours", ours)):
        (y, dx), (ya, dxa), (yi, dxi), (yal,) = (res[k] for k in ("train", "axes", "infer",
                                                                   "always"))
        kept = y != 0
        assert 0.65 < kept.mean() < 0.85, src
        np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-6, err_msg=src)
        np.testing.assert_allclose(dx, og * kept / 0.75, rtol=1e-6, err_msg=src)
        assert ((ya != 0) == (ya[:, :1] != 0)).all(), src    # one mask value per row
        np.testing.assert_allclose(dxa, og * (ya != 0) / 0.5, rtol=1e-6, err_msg=src)
        np.testing.assert_array_equal(yi, x)
        np.testing.assert_array_equal(dxi, og)
        assert 0.1 < (yal == 0).mean() < 0.4, src


@pytest.mark.oracle
def test_batchnorm_matches_mxnet(mxnet_results):
    for c, (m_outs, m_grads, m_gamma, m_mm, m_mv) in zip(bn_cases(), mxnet_results["BatchNorm"]):
        tol = 2e-5 if c["arrays"][0].dtype == np.float32 else 1e-10
        init = [np.full_like(a, 0.5) for a in c["arrays"][:3]] if c["req"] == "add" else None
        outs, grads, ins = bn_run(*c["arrays"], ograd=c["ograd"] if c["train"] else None,
                                  is_train=c["train"], reqs=[c["req"]] * 3, init=init,
                                  **c["params"])
        msg = f"BatchNorm {c['params']} train={c['train']} req={c['req']}"
        # outputs, gamma after forward (fix_gamma writes 1), moving stats after backward
        for a, b in zip(outs + ins[1:2] + ins[3:], m_outs + [m_gamma, m_mm, m_mv]):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=msg)
        if c["train"]:
            for a, b in zip(grads, m_grads):
                np.testing.assert_allclose(a, b, rtol=tol * 10, atol=tol * 10, err_msg=msg)


# -- matmul: the CPU kernel (numpy / OpenBLAS GEMM) against its numpy twin ----------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("layout", ["contiguous", "wider_rows", "strided"])
def test_matmul_matches_reference(trans_a, trans_b, dtype, layout):
    m, k, n = 5, 7, 4

    def operand(rows, cols, seed):
        # "wider_rows": a column slice of a wider array, so GEMM must use the row stride;
        # "strided": every other column, rows not contiguous (the numpy fallback)
        wide = {"contiguous": cols, "wider_rows": cols + 3, "strided": 2 * cols}[layout]
        x = rnd(rows, wide, seed=seed, dtype=dtype)
        return x[:, ::2] if layout == "strided" else x[:, :cols]
    a = operand(k, m, 1) if trans_a else operand(m, k, 1)
    b = operand(n, k, 2) if trans_b else operand(k, n, 2)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for accumulate in (False, True):
        out, out_ref = (np.full((m, n), 0.5, dtype) + rnd(m, n, seed=3, dtype=dtype)
                        for _ in range(2))
        K.matmul(a, b, out, trans_a, trans_b, accumulate)
        R.matmul(a, b, out_ref, trans_a, trans_b, accumulate)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, out_ref, rtol=tol, atol=tol)
    # twice with accumulate: both products are added to the first values
    out = np.ones((m, n), dtype)
    for _ in range(2):
        K.matmul(a, b, out, trans_a, trans_b, True)
    expect = 1 + 2 * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    np.testing.assert_allclose(out, expect, rtol=tol, atol=tol)


def test_matmul_accumulate_with_an_empty_inner_dimension_keeps_out():
    a, b = np.zeros((3, 0)), np.zeros((0, 2))
    out = np.full((3, 2), 1.5)
    K.matmul(a, b, out, accumulate=True)
    np.testing.assert_array_equal(out, np.full((3, 2), 1.5))
    K.matmul(a, b, out)
    np.testing.assert_array_equal(out, np.zeros((3, 2)))
