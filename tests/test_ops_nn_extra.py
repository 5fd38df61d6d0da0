"""The extra normalisation layers (ops/nn_extra.py, issue 17): LayerNorm, InstanceNorm,
GroupNorm, L2Normalization, LRN. numpy formulas, the CPU kernels against their numpy twins,
finite differences, grad_req add, MXNet 1.9.1 parity of forward and backward (one oracle call),
CPU vs GPU under the simulator, the CUDA kernels against the twins, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import nn_extra as K
from mxteach.kernels.reference import nn_extra as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.RandomState(seed).uniform(low, high, shape)


def _normed(x, axes, eps):
    m = x.mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


def _group_norm(x, g, b, groups, eps):
    n, c = x.shape[:2]
    xg = _normed(x.reshape(n, groups, -1), 2, eps).reshape(x.shape)
    per_channel = np.repeat(np.arange(groups), c // groups)       # gamma is per group
    shape = (1, c) + (1,) * (x.ndim - 2)
    return xg * g[per_channel].reshape(shape) + b[per_channel].reshape(shape)


def _lrn(x, nsize, alpha, beta, knorm):
    c = x.shape[1]
    sq = np.zeros_like(x)
    for k in range(c):
        half = (nsize - 1) // 2        # MXNet: an even nsize sums nsize - 1 channels
        lo, hi = max(0, k - half), min(c, k + half + 1)
        sq[:, k] = (x[:, lo:hi] ** 2).sum(axis=1)
    return x / (knorm + alpha / nsize * sq) ** beta


def _l2(x, axes, eps):
    return x / np.sqrt((x ** 2).sum(axis=axes, keepdims=True) + eps)


# name, inputs (float64), params, numpy formula of output 0
CASES = [
    ("LayerNorm", [_x(2, 3, 4), _x(4, seed=1), _x(4, seed=2)], {},
     lambda x, g, b: _normed(x, -1, 1e-5) * g + b),
    ("LayerNorm", [_x(2, 3, 4), _x(3, seed=1), _x(3, seed=2)], {"axis": 1, "eps": 1e-3},
     lambda x, g, b: _normed(x, 1, 1e-3) * g[:, None] + b[:, None]),
    ("LayerNorm", [_x(3, 5), _x(5, seed=1), _x(5, seed=2)], {"output_mean_var": True},
     lambda x, g, b: _normed(x, -1, 1e-5) * g + b),
    ("InstanceNorm", [_x(2, 3, 4, 2), _x(3, seed=1), _x(3, seed=2)], {},
     lambda x, g, b: _normed(x, (2, 3), 1e-3) * g[:, None, None] + b[:, None, None]),
    ("InstanceNorm", [_x(2, 3, 5), _x(3, seed=1), _x(3, seed=2)], {"eps": 1e-5},
     lambda x, g, b: _normed(x, 2, 1e-5) * g[:, None] + b[:, None]),
    ("GroupNorm", [_x(2, 4, 3, 2), _x(2, seed=1), _x(2, seed=2)], {"num_groups": 2},
     lambda x, g, b: _group_norm(x, g, b, 2, 1e-5)),
    ("GroupNorm", [_x(3, 6, 4), _x(3, seed=1), _x(3, seed=2)],
     {"num_groups": 3, "output_mean_var": True}, lambda x, g, b: _group_norm(x, g, b, 3, 1e-5)),
    ("L2Normalization", [_x(2, 3, 4)], {}, lambda x: _l2(x, (1, 2), 1e-10)),
    ("L2Normalization", [_x(2, 3, 2, 2)], {"mode": "channel", "eps": 1e-3},
     lambda x: _l2(x, 1, 1e-3)),
    ("L2Normalization", [_x(2, 3, 2, 3)], {"mode": "spatial"}, lambda x: _l2(x, (2, 3), 1e-10)),
    ("LRN", [_x(2, 5, 3, 2)], {"nsize": 3, "alpha": 0.3},
     lambda x: _lrn(x, 3, 0.3, 0.75, 2.0)),
    ("LRN", [_x(1, 6, 2, 2)], {"nsize": 5, "alpha": 0.5, "beta": 0.5, "knorm": 1.0},
     lambda x: _lrn(x, 5, 0.5, 0.5, 1.0)),
    ("LRN", [_x(1, 4, 2, 3)], {"nsize": 2, "alpha": 0.5},
     lambda x: _lrn(x, 2, 0.5, 0.75, 2.0)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    for dtype, tol in ((np.float32, 2e-5), (np.float64, 1e-12)):
        ins = [a.astype(dtype) for a in inputs]
        out = run_op(name, ins, **params)[0]
        assert out[0].dtype == dtype
        np.testing.assert_allclose(out[0], formula(*inputs), rtol=tol, atol=tol)


def test_mean_and_std_outputs():
    x, g, b = CASES[2][1]
    _, mean, std = run_op("LayerNorm", [x, g, b], output_mean_var=True)[0]
    np.testing.assert_allclose(mean, x.mean(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(x.var(1, keepdims=True) + 1e-5), rtol=1e-12)
    x, g, b = CASES[6][1]
    _, mean, std = run_op("GroupNorm", [x, g, b], num_groups=3, output_mean_var=True)[0]
    assert mean.shape == (3, 3)
    np.testing.assert_allclose(std, np.sqrt(x.reshape(3, 3, -1).var(2) + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params, _ = case
    outs = run_op(name, inputs, **params)[0]
    # the mean/std outputs pass no gradient back (as in MXNet): their head gradients are 0
    heads = [np.random.RandomState(3).uniform(-1, 1, outs[0].shape)] + [
        np.zeros(o.shape) for o in outs[1:]]
    check_op_gradient(name, inputs, params, out_grads=heads, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", [CASES[1], CASES[5], CASES[8], CASES[10]], ids=lambda c: c[0])
def test_grad_req_add(case):
    name, inputs, params, _ = case
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    for a, o in zip(added, once):
        np.testing.assert_allclose(a, o + 0.25, rtol=1e-12, atol=1e-12)


def _kernel_cases():
    rs = np.random.RandomState(5)
    for dtype in (np.float32, np.float64):
        x3 = rs.uniform(-2, 2, (3, 4, 2)).astype(dtype)
        dy3 = rs.uniform(-1, 1, x3.shape).astype(dtype)
        for period, n_par in ((0, 4), (2, 2)):
            yield dtype, x3, dy3, period, n_par, rs.uniform(0.5, 1.5, n_par).astype(dtype)


@pytest.mark.parametrize("case", list(_kernel_cases()),
                         ids=lambda c: f"{np.dtype(c[0]).name}-period{c[3]}")
def test_cpu_kernels_equal_their_numpy_twins(case):
    dtype, x3, dy3, period, n_par, gamma = case
    tol = 1e-5 if dtype == np.float32 else 1e-12
    beta = gamma[::-1].copy()
    stats = {}
    for mod in (K, R):
        mean, invstd = np.empty(6), np.empty(6)
        mod.norm_stats(x3, 1e-3, mean, invstd)
        out, dx = np.empty_like(x3), np.full_like(x3, 0.5)
        mod.norm_forward(x3, mean, invstd, gamma, beta, period, out)
        mod.norm_backward(x3, dy3, mean, invstd, gamma, period, True, dx)
        dg, db = np.empty(n_par), np.empty(n_par)
        mod.norm_param_grads(x3, dy3, mean, invstd, period, dg, db)
        norm, l2, dl2 = np.empty(6), np.empty_like(x3), np.empty_like(x3)
        mod.l2_forward(x3, 1e-6, norm, l2)
        mod.l2_backward(l2, dy3, norm, False, dl2)
        scale, lrn, dlrn = np.empty_like(x3), np.empty_like(x3), np.full_like(x3, 0.5)
        mod.lrn_forward(x3, 3, 0.4, 0.75, 2.0, scale, lrn)
        mod.lrn_backward(x3, dy3, scale, 3, 0.4, 0.75, True, dlrn)
        stats[mod] = (mean, invstd, out, dx, dg, db, norm, l2, dl2, scale, lrn, dlrn)
    for k, (a, b) in enumerate(zip(stats[K], stats[R])):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"result {k}")


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params, _ in CASES]
    heads = [np.random.RandomState(9).uniform(-1, 1, i[0].shape).astype(np.float32)
             for _, i, _ in cases]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for a in args:
        a.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(*args, **params)
        y = y[0] if isinstance(y, (list, tuple)) else y
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [a.grad.asnumpy() for a in args])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        outs, grads = run_op_backward(name, inputs, out_grads=[heads[k]] + [
            np.zeros(o.shape, np.float32) for o in run_op(name, inputs, **params)[0][1:]],
            **params)
        np.testing.assert_allclose(outs[0], ref[k][0], rtol=1e-4, atol=1e-5, err_msg=IDS[k])
        for i, (g, want) in enumerate(zip(grads, ref[k][1])):
            np.testing.assert_allclose(g, want, rtol=1e-3, atol=1e-4,
                                       err_msg=f"{IDS[k]} gradient {i}")


@pytest.mark.oracle
def test_mxnet_parity_of_the_symbols():
    """Argument and output names, shapes (GroupNorm's per-group gamma) through mx.sym: the same
    code runs in MXNet and here."""
    code = """
d = mx.sym.Variable('data')
for k, s in enumerate([mx.sym.LayerNorm(d, name='ln', output_mean_var=True),
                       mx.sym.InstanceNorm(d, name='inn'),
                       mx.sym.GroupNorm(d, num_groups=2, name='gn', output_mean_var=True),
                       mx.sym.L2Normalization(d, name='l2', mode='channel'),
                       mx.sym.LRN(d, nsize=3, name='lrn')]):
    a, o, _ = s.infer_shape(data=(2, 4, 3, 5))
    out[k] = (s.list_arguments(), [list(t) for t in a], s.list_outputs(), [list(t) for t in o])
"""
    ref = run_oracle(code)
    local = {"mx": mx, "out": {}}
    exec(code, local)
    for k in range(5):
        assert tuple(local["out"][k]) == tuple(ref[k]), (k, local["out"][k], ref[k])


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.GroupNorm(mx.nd.ones((2, 3, 4)), mx.nd.ones((2,)), mx.nd.ones((2,)),
                             num_groups=2), "not divisible by num_groups = 2"),
    (lambda: mx.nd.LayerNorm(mx.nd.ones((2, 3)), mx.nd.ones((2,)), mx.nd.ones((3,))),
     "'gamma' has shape (2,), expected (3,)"),
    (lambda: mx.nd.InstanceNorm(mx.nd.ones((2, 3)), mx.nd.ones((3,)), mx.nd.ones((3,))),
     "at least 3 axes"),
    (lambda: mx.nd.LRN(mx.nd.ones((2, 3, 4)), nsize=3), "4-D"),
    (lambda: mx.nd.LayerNorm(mx.nd.ones((2, 3)), mx.nd.ones((3,)), mx.nd.ones((3,)), axis=2),
     "axis 2 is out of range"),
    (lambda: mx.nd.L2Normalization(mx.nd.ones((2, 3)), mode="row"), "expected one of"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=range(len(inputs)))


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import nn_extra as C
    dtype, x3, dy3, period, n_par, gamma = list(_kernel_cases())[3]
    dev = cuda.to_device
    mean, invstd = dev(np.empty(6)), dev(np.empty(6))
    C.norm_stats(dev(x3), 1e-3, mean, invstd)
    want_mean, want_invstd = np.empty(6), np.empty(6)
    R.norm_stats(x3, 1e-3, want_mean, want_invstd)
    np.testing.assert_allclose(mean.copy_to_host(), want_mean, rtol=1e-12)
    np.testing.assert_allclose(invstd.copy_to_host(), want_invstd, rtol=1e-12)
    dg, db = dev(np.full(n_par, 1.0)), dev(np.full(n_par, 1.0))
    C.norm_param_grads(dev(x3), dev(dy3), mean, invstd, period, dg, 2, db, 1)
    want_g, want_b = np.empty(n_par), np.empty(n_par)
    R.norm_param_grads(x3, dy3, want_mean, want_invstd, period, want_g, want_b)
    np.testing.assert_allclose(dg.copy_to_host(), want_g + 1.0, rtol=1e-12)
    np.testing.assert_allclose(db.copy_to_host(), want_b, rtol=1e-12)
    scale, out = dev(np.empty_like(x3)), dev(np.empty_like(x3))
    C.lrn_forward(dev(x3), 4, 0.4, 0.75, 2.0, scale, out)
    want_s, want_o = np.empty_like(x3), np.empty_like(x3)
    R.lrn_forward(x3, 4, 0.4, 0.75, 2.0, want_s, want_o)
    np.testing.assert_allclose(out.copy_to_host(), want_o, rtol=1e-12)
