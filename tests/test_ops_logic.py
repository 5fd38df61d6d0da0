"""The logic family (ops/logic.py, issue 17): logical_not, broadcast_logical_and/or/xor,
broadcast_hypot and the forms the front-ends build on them (_hypot, _hypot_scalar,
_logical_*_scalar; mx.nd.logical_and ..., mx.sym.hypot) — numpy formulas, kernels against their
numpy twins, finite differences, grad_req add, MXNet 1.9.1 parity of forward and backward, CPU
vs GPU under the simulator."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import logic as K
from mxteach.kernels.reference import logic as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-2, 2, shape)


def _truthy(*shape, seed=0):
    """Zeros and non-zeros (negative too): truth values of every kind."""
    return np.random.RandomState(seed).choice([0.0, 0.0, 1.0, -2.5, 3.0], shape)


CASES = [
    ("logical_not", [_truthy(3, 4)], {}, lambda x: (x == 0).astype(x.dtype)),
    ("broadcast_logical_and", [_truthy(3, 1), _truthy(1, 4, seed=1)], {},
     lambda a, b: ((a != 0) & (b != 0)).astype(a.dtype)),
    ("broadcast_logical_or", [_truthy(2, 3, 4), _truthy(3, 1, seed=2)], {},
     lambda a, b: ((a != 0) | (b != 0)).astype(a.dtype)),
    ("broadcast_logical_xor", [_truthy(3, 4), _truthy(3, 4, seed=3)], {},
     lambda a, b: ((a != 0) ^ (b != 0)).astype(a.dtype)),
    ("_logical_and_scalar", [_truthy(5)], {"scalar": 2.0},
     lambda x: (x != 0).astype(x.dtype)),
    ("_logical_or_scalar", [_truthy(5)], {"scalar": 0.0}, lambda x: (x != 0).astype(x.dtype)),
    ("_logical_xor_scalar", [_truthy(5)], {"scalar": 1.0}, lambda x: (x == 0).astype(x.dtype)),
    ("broadcast_hypot", [_x(3, 1), _x(1, 4, seed=1)], {}, lambda a, b: np.hypot(a, b)),
    ("broadcast_hypot", [_x(2, 3, 4), _x(3, 1, seed=2)], {}, lambda a, b: np.hypot(a, b)),
    ("_hypot", [_x(3, 4), _x(3, 4, seed=3)], {}, lambda a, b: np.hypot(a, b)),
    ("_hypot_scalar", [_x(6)], {"scalar": 1.5}, lambda x: np.hypot(x, 1.5)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]
HYPOT = [c for c in CASES if "hypot" in c[0]]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    for dtype in (np.float32, np.float64):
        ins = [a.astype(dtype) for a in inputs]
        out, = run_op(name, ins, **params)[0]
        want = formula(*ins)
        assert out.dtype == want.dtype and out.shape == want.shape
        np.testing.assert_allclose(out, want, rtol=1e-6)


def test_integer_dtypes_keep_their_dtype():
    out, = run_op("logical_not", [np.array([0, 2, -1], np.int32)])[0]
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [1, 0, 0])


@pytest.mark.parametrize("case", HYPOT, ids=lambda c: c[0])
def test_hypot_finite_differences(case):
    name, inputs, params, _ = case
    check_op_gradient(name, inputs, params, rtol=1e-6, atol=1e-8)


def test_grad_req_add_and_logical_gradients_are_zero():
    a, b = _x(3, 1), _x(1, 4, seed=1)
    _, once = run_op_backward("broadcast_hypot", [a, b])
    _, added = run_op_backward("broadcast_hypot", [a, b], reqs=["add", "add"],
                               init_grads=[np.full_like(a, 0.5), np.full_like(b, -1.0)])
    np.testing.assert_allclose(added[0], once[0] + 0.5, rtol=1e-12)
    np.testing.assert_allclose(added[1], once[1] - 1.0, rtol=1e-12)
    for name, inputs, params, _ in CASES:
        if "hypot" not in name:
            _, grads = run_op_backward(name, inputs, **params)
            for g in grads:
                np.testing.assert_array_equal(g, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    rs = np.random.RandomState(4)
    a, b = _truthy(7, seed=5).astype(dtype), _x(5, seed=6).astype(dtype)
    ia, ib = rs.randint(0, 7, 40).astype(np.int64), rs.randint(0, 5, 40).astype(np.int64)
    for code in (K.AND, K.OR, K.XOR, K.HYPOT, K.NOT):
        got, want = np.empty(40, dtype), np.empty(40, dtype)
        K.binary(a, b, ia, ib, code, got)
        R.binary(a, b, ia, ib, code, want)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    o = np.empty(40, dtype)
    K.binary(a + 1, b, ia, ib, K.HYPOT, o)
    g = rs.uniform(-1, 1, 40).astype(dtype)
    for accumulate in (False, True):
        got, want = np.full(7, 0.5, dtype), np.full(7, 0.5, dtype)
        K.hypot_grad(g, a + 1, o, ia, accumulate, got)
        R.hypot_grad(g, a + 1, o, ia, accumulate, want)
        # float32 sums of several terms of both signs: the order of the terms shows at 1e-7
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_front_ends():
    a = mx.nd.array([0.0, 1.0, 2.0])
    np.testing.assert_array_equal(mx.nd.logical_and(a, 1).asnumpy(), [0, 1, 1])
    np.testing.assert_array_equal(mx.nd.logical_or(0, a).asnumpy(), [0, 1, 1])
    np.testing.assert_array_equal(mx.nd.logical_xor(a, mx.nd.array([1.0, 1, 0])).asnumpy(),
                                  [1, 0, 1])
    assert mx.nd.logical_and(2, 0) == 0
    x = mx.sym.Variable("x")
    y = mx.sym.hypot(x, 4.0) + mx.sym.hypot(x, x)
    got = y.eval(x=mx.nd.array([3.0]))[0].asnumpy()
    np.testing.assert_allclose(got, [5.0 + np.hypot(3, 3)], rtol=1e-6)
    with pytest.raises(MXNetError, match=r"\(2, 3\) and \(4, 3\) cannot be broadcast"):
        mx.nd.broadcast_hypot(mx.nd.ones((2, 3)), mx.nd.ones((4, 3)))


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(n, [a.astype(np.float32) for a in i], p) for n, i, p, _ in CASES]
    cases.append(("broadcast_hypot", [np.array([0.0, 3.0], np.float32),
                                      np.array([0.0, 4.0], np.float32)], {}))
    heads = [np.random.RandomState(k).uniform(-1, 1, run_op(n, i, **p)[0][0].shape)
             .astype(np.float32) for k, (n, i, p) in enumerate(cases)]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    fn = getattr(mx.nd, name, None) or getattr(mx.nd._internal, name)
    xs = [mx.nd.array(a) for a in inputs]
    for x in xs:
        x.attach_grad()
    with mx.autograd.record():
        y = fn(*xs, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [x.grad.asnumpy() for x in xs])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-6, err_msg=str(k))
        for g, want in zip(grads, ref[k][1]):
            np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6, err_msg=str(k))


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params)
