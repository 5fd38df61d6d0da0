"""The density operators random_pdf_* (ops/random_pdf.py, issue 17): textbook formulas, the CPU
kernels against their numpy twins, digamma, finite differences, grad_req add, MXNet 1.9.1 parity
of forward and backward (one oracle call), CPU vs GPU under the simulator, shape errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import random_pdf as K
from mxteach.kernels.reference import random_pdf as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle

lg = np.vectorize(math.lgamma)


def _u(*shape, seed=0, low=0.5, high=2.0):
    return np.random.RandomState(seed).uniform(low, high, shape)


def _counts(*shape, seed=0):
    return np.random.RandomState(seed).randint(0, 6, shape).astype(np.float64)


def _dir_sample(*shape, seed=0):
    s = np.random.RandomState(seed).uniform(0.2, 1.0, shape)
    return s / s.sum(-1, keepdims=True)


def _nb(x, k, p):
    return lg(x + k) - lg(x + 1) - lg(k) + k * np.log(p) + x * np.log(1 - p)


# name, inputs (float64), the log-density by a textbook formula, sample-gradient checked by FD
CASES = [
    ("uniform", [_u(2, 3), _u(2, seed=1, low=-1, high=0), _u(2, seed=2, low=2, high=3)],
     lambda x, lo, hi: -np.log(hi - lo)[:, None] + 0 * x, False),
    ("normal", [_u(2, 3, low=-2), _u(2, seed=1, low=-1, high=1), _u(2, seed=2)],
     lambda x, m, s: -((x - m[:, None]) / s[:, None]) ** 2 / 2
     - np.log(s[:, None] * np.sqrt(2 * np.pi)), True),
    ("normal", [_u(3, low=-2), _u(3, seed=1, low=-1, high=1), _u(3, seed=2)],
     lambda x, m, s: -((x - m) / s) ** 2 / 2 - np.log(s * np.sqrt(2 * np.pi)), True),
    ("gamma", [_u(2, 2, 3), _u(2, seed=1, low=1, high=3), _u(2, seed=2)],
     lambda x, a, b: (a * np.log(b))[:, None, None] + (a[:, None, None] - 1) * np.log(x)
     - b[:, None, None] * x - lg(a)[:, None, None], True),
    ("exponential", [_u(3, 2), _u(3, seed=1)],
     lambda x, lam: np.log(lam)[:, None] - lam[:, None] * x, True),
    ("poisson", [_counts(2, 4), _u(2, seed=1, high=4)],
     lambda x, lam: x * np.log(lam)[:, None] - lg(x + 1) - lam[:, None], False),
    ("negative_binomial", [_counts(2, 3), _u(2, seed=1, high=4),
                           _u(2, seed=2, low=0.2, high=0.8)],
     lambda x, k, p: _nb(x, k[:, None], p[:, None]), False),
    ("generalized_negative_binomial", [_counts(2, 3), _u(2, seed=1, high=4),
                                       _u(2, seed=2, low=0.3, high=1.5)],
     lambda x, mu, a: _nb(x, 1 / a[:, None], 1 / (mu * a + 1)[:, None]), False),
    ("dirichlet", [_dir_sample(2, 3, 4), _u(2, 4, seed=1)],
     lambda x, a: ((a[:, None] - 1) * np.log(x)).sum(-1) + lg(a.sum(-1))[:, None]
     - lg(a).sum(-1)[:, None], True),
    ("dirichlet", [_dir_sample(3), _u(3, seed=1)],
     lambda x, a: (((a - 1) * np.log(x)).sum() + lg(a.sum()) - lg(a).sum()).reshape(1), True),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("is_log", [False, True])
def test_forward_equals_the_textbook_formula(case, is_log):
    dist, inputs, logpdf, _ = case
    want = logpdf(*inputs)
    want = want if is_log else np.exp(want)
    for dtype, tol in ((np.float32, 2e-5), (np.float64, 1e-12)):
        out = run_op("random_pdf_" + dist, [a.astype(dtype) for a in inputs], is_log=is_log)[0]
        assert out[0].dtype == dtype and out[0].shape == want.shape
        np.testing.assert_allclose(out[0], want, rtol=tol, atol=tol)


def test_digamma_known_values_and_recurrence():
    gamma_e = 0.5772156649015329
    for mod in (K, R):
        assert abs(mod.digamma(1.0) + gamma_e) < 1e-13
        assert abs(mod.digamma(0.5) + gamma_e + 2 * math.log(2)) < 1e-13
        for x in (0.01, 0.7, 3.3, 12.5, -1.5):
            assert abs(mod.digamma(x + 1) - mod.digamma(x) - 1 / x) < 1e-11
    # derivative of lgamma by central differences
    for x in (0.3, 2.0, 9.0):
        num = (math.lgamma(x + 1e-6) - math.lgamma(x - 1e-6)) / 2e-6
        assert abs(K.digamma(x) - num) < 1e-7


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("is_log", [False, True])
def test_finite_differences(case, is_log):
    dist, inputs, _, smooth_in_sample = case
    wrt = list(range(len(inputs))) if smooth_in_sample else list(range(1, len(inputs)))
    check_op_gradient("random_pdf_" + dist, inputs, {"is_log": is_log}, wrt=wrt, rtol=1e-5,
                      atol=1e-8)
    if not smooth_in_sample:
        # MXNet gives these densities no gradient by the sample (0), not the lgamma slope
        _, grads = run_op_backward("random_pdf_" + dist, inputs, is_log=is_log)
        assert np.all(grads[0] == 0)


@pytest.mark.parametrize("case", [CASES[1], CASES[6], CASES[8]], ids=lambda c: c[0])
def test_grad_req_add(case):
    dist, inputs, _, _ = case
    _, once = run_op_backward("random_pdf_" + dist, inputs)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward("random_pdf_" + dist, inputs, reqs=["add"] * len(inputs),
                               init_grads=init)
    for a, o in zip(added, once):
        np.testing.assert_allclose(a, o + 0.25, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-11
    for dist, inputs, _, _ in CASES[:2] + CASES[3:8]:
        x = inputs[0].astype(dtype).reshape(-1)
        ps = [a.astype(dtype) for a in inputs[1:]]
        M = x.size // ps[0].size
        dy = np.random.RandomState(4).uniform(-1, 1, x.size).astype(dtype)
        got = {}
        for mod in (K, R):
            out = np.empty_like(x)
            mod.pdf_forward(K.CODES[dist], x, ps[0], ps[-1], M, False, out)
            gx, g1, g2 = np.full_like(x, 0.5), np.empty_like(ps[0]), np.empty_like(ps[0])
            mod.pdf_backward(K.CODES[dist], x, ps[0], ps[-1], out, dy, M, False, gx, 2, g1, 1,
                             g2, 1)
            got[mod] = (out, gx, g1, g2)
        for k, (a, b) in enumerate(zip(got[K], got[R])):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{dist} result {k}")
    x = CASES[8][1][0].astype(dtype).reshape(6, 4)
    alpha = CASES[8][1][1].astype(dtype)
    dy = np.random.RandomState(4).uniform(-1, 1, 6).astype(dtype)
    got = {}
    for mod in (K, R):
        out, gx, ga = np.empty(6, dtype), np.full_like(x, 0.5), np.empty_like(alpha)
        mod.dirichlet_forward(x, alpha, 3, True, out)
        mod.dirichlet_backward(x, alpha, out, dy, 3, True, gx, 2, ga, 1)
        got[mod] = (out, gx, ga)
    for a, b in zip(got[K], got[R]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [("random_pdf_" + d, [a.astype(np.float32) for a in ins], {"is_log": is_log})
             for d, ins, _, _ in CASES for is_log in (False, True)]
    heads = [np.random.RandomState(9).uniform(-1, 1, run_op(n, i, **p)[0][0].shape)
             .astype(np.float32) for n, i, p in cases]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for a in args:
        a.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(*args, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [a.grad.asnumpy() for a in args])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        outs, grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
        assert outs[0].shape == ref[k][0].shape, name
        np.testing.assert_allclose(outs[0], ref[k][0], rtol=1e-4, atol=1e-5, err_msg=name)
        for i, (g, want) in enumerate(zip(grads, ref[k][1])):
            np.testing.assert_allclose(g, want, rtol=1e-3, atol=1e-4,
                                       err_msg=f"{name} {params} gradient {i}")


@pytest.mark.oracle
def test_mxnet_parity_of_the_symbols_and_namespaces():
    code = """
s = mx.sym.Variable('s')
syms = [mx.sym.random_pdf_normal(s, mx.sym.Variable('m'), mx.sym.Variable('d'), name='n'),
        mx.sym.random_pdf_dirichlet(s, mx.sym.Variable('a'), is_log=True, name='d'),
        mx.sym.random_pdf_poisson(s, mx.sym.Variable('l'), name='p')]
shapes = [dict(s=(2, 5), m=(2,), d=(2,)), dict(s=(2, 3, 4), a=(2, 4)), dict(s=(3, 2, 2), l=(3, 2))]
for k, (sym, shp) in enumerate(zip(syms, shapes)):
    a, o, _ = sym.infer_shape(**shp)
    out[k] = (sym.list_arguments(), [list(t) for t in a], [list(t) for t in o])
out['partial'] = syms[0].infer_shape(s=(2, 5), m=(2,))
out['random'] = sorted(n for n in dir(mx.nd.random) if 'pdf' in n)
"""
    ref = run_oracle(code)
    local = {"mx": mx, "out": {}}
    exec(code, local)
    for k in range(3):
        assert tuple(local["out"][k]) == tuple(ref[k]), (k, local["out"][k], ref[k])
    assert local["out"]["random"] == ref["random"] == []
    assert ref["partial"] == (None, None, None) == local["out"]["partial"]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.random_pdf_normal(mx.nd.ones((2, 3)), mx.nd.ones((3,)), mx.nd.ones((3,))),
     "expected (2,)"),
    (lambda: mx.nd.random_pdf_normal(mx.nd.ones((2, 3)), mx.nd.ones((2,)), mx.nd.ones((2, 3))),
     "must have one shape"),
    (lambda: mx.nd.random_pdf_exponential(mx.nd.ones((2,)), mx.nd.ones((2, 3))),
     "fewer than"),
    (lambda: mx.nd.random_pdf_dirichlet(mx.nd.ones((2, 3)), mx.nd.ones((4,))), "expected (3,)"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    dist, inputs, _, _ = case
    for is_log in (False, True):
        check("random_pdf_" + dist, [a.astype(np.float64) for a in inputs], {"is_log": is_log},
              rtol=1e-9, atol=1e-10)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import random_pdf as C
    x, alpha = CASES[8][1][0].reshape(6, 4), CASES[8][1][1]
    dy = np.random.RandomState(4).uniform(-1, 1, 6)
    out, gx, ga = cuda.to_device(np.empty(6)), cuda.to_device(np.full_like(x, 0.5)), \
        cuda.to_device(np.empty_like(alpha))
    C.dirichlet_forward(cuda.to_device(x), cuda.to_device(alpha), 3, False, out)
    C.dirichlet_backward(cuda.to_device(x), cuda.to_device(alpha), out, cuda.to_device(dy), 3,
                         False, gx, 2, ga, 1)
    w_out, w_gx, w_ga = np.empty(6), np.full_like(x, 0.5), np.empty_like(alpha)
    R.dirichlet_forward(x, alpha, 3, False, w_out)
    R.dirichlet_backward(x, alpha, w_out, dy, 3, False, w_gx, 2, w_ga, 1)
    for got, want in ((out, w_out), (gx, w_gx), (ga, w_ga)):
        np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-11, atol=1e-12)
