"""Elementwise operators (ops/elemwise.py) and their kernels (kernels/cpu/elemwise.py) against
numpy references, central finite differences and real MXNet 1.9.1."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mxteach as mx
from mxteach.base import MXNetError, ShapeError, DTypeError
from mxteach.ops import registry
from mxteach.test_utils import run_op, run_op_backward, check_numeric_gradient
from mxteach.kernels.cpu import elemwise as K
from mxteach.kernels.reference import elemwise as KR

from oracle import run_oracle


def draw(domain, shape, seed, dtype=np.float64):
    """Test inputs from a named domain, away from the points where an op is not smooth."""
    rs = np.random.RandomState(seed)
    if domain == "any":
        x = rs.uniform(-2, 2, shape)
    elif domain == "pos":
        x = rs.uniform(0.5, 2, shape)
    elif domain == "nz":                       # away from 0: abs, relu, sign, division
        x = rs.uniform(0.3, 2, shape) * rs.choice([-1, 1], shape)
    elif domain == "grid":                     # few values: ties for comparisons, max, min
        x = rs.randint(-2, 3, shape) / 2.0
    else:
        raise ValueError(domain)
    return np.asarray(x, dtype=dtype).reshape(shape)


def cmp(f):
    return lambda a, b: f(a, b).astype(np.result_type(a, b))


# key: (same-shape op, broadcast op, numpy reference, lhs domain, rhs domain)
BINARY = {
    "add": ("elemwise_add", "broadcast_add", np.add, "any", "any"),
    "sub": ("elemwise_sub", "broadcast_sub", np.subtract, "any", "any"),
    "mul": ("elemwise_mul", "broadcast_mul", np.multiply, "any", "any"),
    "div": ("elemwise_div", "broadcast_div", np.divide, "any", "nz"),
    "maximum": ("_maximum", "broadcast_maximum", np.maximum, "any", "any"),
    "minimum": ("_minimum", "broadcast_minimum", np.minimum, "any", "any"),
    "power": ("_power", "broadcast_power", np.power, "pos", "any"),
    "mod": ("_mod", "broadcast_mod", np.mod, "any", "nz"),
    "equal": ("_equal", "broadcast_equal", cmp(np.equal), "grid", "grid"),
    "not_equal": ("_not_equal", "broadcast_not_equal", cmp(np.not_equal), "grid", "grid"),
    "greater": ("_greater", "broadcast_greater", cmp(np.greater), "grid", "grid"),
    "greater_equal": ("_greater_equal", "broadcast_greater_equal", cmp(np.greater_equal),
                      "grid", "grid"),
    "lesser": ("_lesser", "broadcast_lesser", cmp(np.less), "grid", "grid"),
    "lesser_equal": ("_lesser_equal", "broadcast_lesser_equal", cmp(np.less_equal),
                     "grid", "grid"),
}
COMPARISONS = {"equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal"}

# name: (numpy reference f(x, s), domain, scalar)
SCALAR = {
    "_plus_scalar": (lambda x, s: x + s, "any", 1.5),
    "_minus_scalar": (lambda x, s: x - s, "any", 1.5),
    "_rminus_scalar": (lambda x, s: s - x, "any", 1.5),
    "_mul_scalar": (lambda x, s: x * s, "any", -2.5),
    "_div_scalar": (lambda x, s: x / s, "any", 4.0),
    "_rdiv_scalar": (lambda x, s: s / x, "nz", 3.0),
    "_power_scalar": (lambda x, s: x ** s, "pos", 2.5),
    "_rpower_scalar": (lambda x, s: s ** x, "any", 1.7),
    "_maximum_scalar": (np.maximum, "any", 0.25),
    "_minimum_scalar": (np.minimum, "any", 0.25),
    "_mod_scalar": (np.mod, "any", 0.7),
    "_rmod_scalar": (lambda x, s: np.mod(s, x), "nz", 3.0),
    "_equal_scalar": (lambda x, s: (x == s).astype(x.dtype), "grid", 0.5),
    "_not_equal_scalar": (lambda x, s: (x != s).astype(x.dtype), "grid", 0.5),
    "_greater_scalar": (lambda x, s: (x > s).astype(x.dtype), "grid", 0.5),
    "_greater_equal_scalar": (lambda x, s: (x >= s).astype(x.dtype), "grid", 0.5),
    "_lesser_scalar": (lambda x, s: (x < s).astype(x.dtype), "grid", 0.5),
    "_lesser_equal_scalar": (lambda x, s: (x <= s).astype(x.dtype), "grid", 0.5),
}
ZERO_GRAD_SCALAR = {n for n in SCALAR if n[1:].split("_scalar")[0] in COMPARISONS}

# name: (numpy reference, domain)
UNARY = {
    "negative": (np.negative, "any"), "_copy": (np.copy, "any"), "exp": (np.exp, "any"),
    "log": (np.log, "pos"), "sqrt": (np.sqrt, "pos"), "rsqrt": (lambda x: 1 / np.sqrt(x), "pos"),
    "square": (np.square, "any"), "reciprocal": (np.reciprocal, "nz"), "abs": (np.abs, "nz"),
    "sign": (np.sign, "nz"), "relu": (lambda x: np.maximum(x, 0), "nz"),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), "any"), "tanh": (np.tanh, "any"),
}


# -- (a) forward against numpy ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("key", sorted(BINARY))
def test_binary_forward_matches_numpy(key, dtype):
    same, bcast, ref, da, db = BINARY[key]
    a, b = draw(da, (2, 3), 1, dtype), draw(db, (2, 3), 2, dtype)
    out = run_op(same, [a, b])[0][0]
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref(a, b), rtol=1e-6)
    b_row = draw(db, (3,), 3, dtype)
    out = run_op(bcast, [a, b_row])[0][0]
    assert out.shape == (2, 3) and out.dtype == dtype
    np.testing.assert_allclose(out, ref(a, b_row), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SCALAR))
def test_scalar_forward_matches_numpy(name, dtype):
    ref, dom, s = SCALAR[name]
    x = draw(dom, (2, 3), 4, dtype)
    out = run_op(name, [x], scalar=s)[0][0]
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref(x, dtype(s)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_matches_numpy(name, dtype):
    ref, dom = UNARY[name]
    x = draw(dom, (2, 3), 5, dtype)
    out = run_op(name, [x])[0][0]
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref(x), rtol=2e-6)


def test_clip_forward_and_mxnet_order_of_bounds():
    x = np.array([-1, 0, 0.5, 1, 2], np.float32)
    np.testing.assert_array_equal(run_op("clip", [x], a_min=0, a_max=1)[0][0],
                                  [0, 0, 0.5, 1, 1])
    # a_min > a_max: MXNet tests the upper bound first (np.clip would give all 2s)
    np.testing.assert_array_equal(run_op("clip", [np.arange(6.)], a_min=5, a_max=2)[0][0],
                                  [5, 5, 5, 2, 2, 2])


def test_add_n_forward_and_alias():
    xs = [draw("any", (2, 3), s) for s in range(4)]
    out = run_op("add_n", xs, num_args=4)[0][0]
    np.testing.assert_allclose(out, xs[0] + xs[1] + xs[2] + xs[3])
    assert registry.get("ElementWiseSum") is registry.get("add_n")
    nd_out = mx.nd.ElementWiseSum(*[mx.nd.array(x) for x in xs[:3]])
    np.testing.assert_allclose(nd_out.asnumpy(), xs[0] + xs[1] + xs[2], rtol=1e-6)


def test_integer_inputs_follow_mxnet_casting():
    x = np.array([-5, 5, 7], np.int32)
    # the scalar is cast to int32 first, division truncates toward zero
    np.testing.assert_array_equal(run_op("_plus_scalar", [x], scalar=0.5)[0][0], x)
    np.testing.assert_array_equal(run_op("_div_scalar", [x], scalar=2)[0][0], [-2, 2, 3])
    np.testing.assert_array_equal(run_op("_mod_scalar", [x], scalar=3)[0][0], [1, 2, 1])
    y = run_op("_plus_scalar", [x], scalar=0.5, is_int=False)[0][0]
    assert y.dtype == np.float64 and np.allclose(y, x + 0.5)
    np.testing.assert_array_equal(run_op("exp", [np.array([1, 2], np.int32)])[0][0], [2, 7])


# -- kernels against their numpy twins -------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big,small", [((2, 3), (3,)), ((2, 3), (2, 1)), ((4, 2, 3), (2, 1)),
                                        ((2, 3, 4), (1, 3, 1)), ((3,), (1,)), ((2, 2), (2, 2))])
def test_sum_to_shape_kernel_matches_reference(big, small, dtype):
    g = draw("any", big, 7, dtype).reshape(-1)
    shape, strides = K.broadcast_strides(big, small)
    got, want = np.zeros(int(np.prod(small)), dtype), np.zeros(int(np.prod(small)), dtype)
    K.sum_to_shape(g, shape, strides, got)
    KR.sum_to_shape(g, shape, strides, want)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    lead = len(big) - len(small)
    axes = tuple(range(lead)) + tuple(lead + k for k, d in enumerate(small) if d == 1)
    np.testing.assert_allclose(got.reshape(small),
                               g.reshape(big).sum(axis=axes).reshape(small), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_and_maxmin_kernels_match_reference(dtype):
    x = np.array([-1, -0.5, 0, 0.25, 0.5, 2], dtype)
    g = draw("any", (6,), 8, dtype)
    for fn in (K, KR):
        out = np.empty_like(x)
        fn.clip_forward(x, dtype(-0.5), dtype(0.5), out)
        np.testing.assert_array_equal(out, [-0.5, -0.5, 0, 0.25, 0.5, 0.5])
        gx = np.ones_like(x)
        fn.clip_backward(x, g, dtype(-0.5), dtype(0.5), gx, True)
        np.testing.assert_allclose(gx, 1 + g * [0, 1, 1, 1, 1, 0])
    b = np.array([-1, 0, 0, 1, 0.5, 3], dtype)
    for is_max in (True, False):
        res = []
        for fn in (K, KR):
            ga, gb = np.empty_like(g), np.empty_like(g)
            fn.maxmin_backward(x, b, g, ga, gb, is_max)
            res.append((ga, gb))
        np.testing.assert_array_equal(res[0][0], res[1][0])
        np.testing.assert_array_equal(res[0][1], res[1][1])
        np.testing.assert_allclose(res[0][0] + res[0][1], g)


# -- (b) finite-difference gradients ---------------------------------------------------------
@pytest.mark.parametrize("key", sorted(set(BINARY) - COMPARISONS))
def test_binary_gradient_numeric(key):
    same, bcast, _, da, db = BINARY[key]
    check_numeric_gradient(same, [draw(da, (2, 3), 11), draw(db, (2, 3), 12)])
    check_numeric_gradient(bcast, [draw(da, (2, 1, 3), 13), draw(db, (2, 1), 14)])


@pytest.mark.parametrize("name", sorted(set(SCALAR) - ZERO_GRAD_SCALAR))
def test_scalar_gradient_numeric(name):
    _, dom, s = SCALAR[name]
    check_numeric_gradient(name, [draw(dom, (2, 3), 15)], params={"scalar": s})


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradient_numeric(name):
    check_numeric_gradient(name, [draw(UNARY[name][1], (2, 3), 16)])


def test_clip_and_add_n_gradient_numeric():
    check_numeric_gradient("clip", [draw("any", (3, 4), 17)], params={"a_min": -0.5,
                                                                       "a_max": 1.0})
    check_numeric_gradient("add_n", [draw("any", (2, 2), s) for s in (1, 2, 3)],
                           params={"num_args": 3})


@pytest.mark.parametrize("name", sorted(ZERO_GRAD_SCALAR) + ["sign", "_equal", "broadcast_lesser"])
def test_comparisons_have_zero_gradient(name):
    n_in = 1 if name in ZERO_GRAD_SCALAR or name == "sign" else 2
    xs = [draw("grid", (2, 3), s) for s in range(n_in)]
    _, grads = run_op_backward(name, xs, init_grads=[np.full((2, 3), 5.0)] * n_in)
    for g in grads:
        np.testing.assert_array_equal(g, 0)


@st.composite
def broadcast_pair(draw_):
    nd = draw_(st.integers(1, 3))
    full = draw_(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))

    def side():
        shape = [d if draw_(st.booleans()) else 1 for d in full]
        return tuple(shape[draw_(st.integers(0, nd - 1)):])   # maybe drop leading axes
    return side(), side()


@settings(max_examples=20, deadline=None)
@given(shapes=broadcast_pair(), key=st.sampled_from(sorted(set(BINARY) - COMPARISONS)))
def test_broadcast_ops_hypothesis(shapes, key):
    _, bcast, ref, da, db = BINARY[key]
    a, b = draw(da, shapes[0], 21), draw(db, shapes[1], 22)
    out = run_op(bcast, [a, b])[0][0]
    np.testing.assert_allclose(out, ref(a, b), rtol=1e-12)
    check_numeric_gradient(bcast, [a, b], rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(shapes=broadcast_pair(), key=st.sampled_from(sorted(COMPARISONS)))
def test_broadcast_comparisons_hypothesis(shapes, key):
    _, bcast, ref, _, _ = BINARY[key]
    a, b = draw("grid", shapes[0], 23), draw("grid", shapes[1], 24)
    np.testing.assert_array_equal(run_op(bcast, [a, b])[0][0], ref(a, b))


def test_gradient_ties_and_boundaries():
    x = np.array([-1., 0., 0.5, 1., 2.])
    y = np.array([1., 0., 1., 1., 1.])
    _, (ga, gb) = run_op_backward("_maximum", [x, y])
    np.testing.assert_array_equal(ga, [0, 1, 0, 1, 1])     # ties go to lhs
    np.testing.assert_array_equal(gb, [1, 0, 1, 0, 0])
    _, (ga, gb) = run_op_backward("broadcast_minimum", [x, y])
    np.testing.assert_array_equal(ga, [1, 1, 1, 1, 0])
    _, (g,) = run_op_backward("clip", [x], a_min=0, a_max=1)
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0])        # bounds included
    _, (g,) = run_op_backward("relu", [x])
    np.testing.assert_array_equal(g, [0, 0, 1, 1, 1])        # 0 at 0
    _, (g,) = run_op_backward("abs", [x])
    np.testing.assert_array_equal(g, [-1, 0, 1, 1, 1])
    _, (g,) = run_op_backward("_maximum_scalar", [x], scalar=1)
    np.testing.assert_array_equal(g, [0, 0, 0, 1, 1])


# -- (d) grad_req 'add' and 'null' -----------------------------------------------------------
def _all_grad_cases():
    cases = []
    for key, (same, bcast, _, da, db) in sorted(BINARY.items()):
        cases.append((same, [draw(da, (2, 3), 1), draw(db, (2, 3), 2)], {}))
        cases.append((bcast, [draw(da, (2, 3), 1), draw(db, (1, 3), 2)], {}))
    for name, (_, dom, s) in sorted(SCALAR.items()):
        cases.append((name, [draw(dom, (2, 3), 3)], {"scalar": s}))
    for name, (_, dom) in sorted(UNARY.items()):
        cases.append((name, [draw(dom, (2, 3), 4)], {}))
    cases.append(("clip", [draw("any", (2, 3), 5)], {"a_min": -0.5, "a_max": 0.5}))
    cases.append(("add_n", [draw("any", (2, 3), s) for s in (6, 7)], {"num_args": 2}))
    return cases


@pytest.mark.parametrize("name,xs,params", _all_grad_cases(),
                         ids=[c[0] + ("_b" if c[0].startswith("broadcast") else "")
                              for c in _all_grad_cases()])
def test_grad_req_add_accumulates_and_null_skips(name, xs, params):
    head = [draw("any", (2, 3), 9)]
    _, written = run_op_backward(name, xs, out_grads=head, **params)
    init = [draw("any", x.shape, 10 + i) for i, x in enumerate(xs)]
    _, added = run_op_backward(name, xs, out_grads=head, reqs=["add"] * len(xs),
                               init_grads=init, **params)
    for w, a, i in zip(written, added, init):
        np.testing.assert_allclose(a, i + w, rtol=1e-12, atol=1e-12)
    reqs = ["null"] + ["write"] * (len(xs) - 1)
    _, partial = run_op_backward(name, xs, out_grads=head, reqs=reqs, **params)
    assert partial[0] is None
    for w, p in zip(written[1:], partial[1:]):
        np.testing.assert_allclose(p, w, rtol=1e-12)


# -- (e) bad input ---------------------------------------------------------------------------
def test_bad_inputs_raise_mxnet_error():
    with pytest.raises(ShapeError, match=r"elemwise_add: input 'rhs' has shape \(3, 2\) but "
                                         r"'lhs' has \(2, 3\)"):
        run_op("elemwise_add", [np.ones((2, 3)), np.ones((3, 2))])
    with pytest.raises(ShapeError, match=r"broadcast_mul.*\(2, 3\).*\(4, 3\)"):
        run_op("broadcast_mul", [np.ones((2, 3)), np.ones((4, 3))])
    with pytest.raises(ShapeError, match="add_n"):
        run_op("add_n", [np.ones(2), np.ones(3)], num_args=2)
    with pytest.raises(MXNetError, match="a_max"):
        run_op("clip", [np.ones(2)], a_min=0)
    with pytest.raises(MXNetError, match="scalar"):
        run_op("_plus_scalar", [np.ones(2)], scalar="two")
    with pytest.raises(MXNetError, match="no argument 'axis'"):
        run_op("exp", [np.ones(2)], axis=1)
    with pytest.raises(DTypeError, match="elemwise_add.*float32.*float64|float64.*float32"):
        mx.nd.elemwise_add(mx.nd.ones(2), mx.nd.ones(2, dtype="float64"))
    with pytest.raises(MXNetError, match="unknown operator 'elemwise_plus'"):
        registry.get("elemwise_plus")
    # shape inference fills an unknown input from the known one
    assert registry.get("elemwise_mul").infer_shape({}, [None, (2, 5)]) == ([(2, 5)] * 2,
                                                                             [(2, 5)])
    assert registry.get("broadcast_mul").infer_shape({}, [None, (2, 5)])[1] == [None]


# -- (c) parity with real MXNet 1.9.1 -------------------------------------------------------
def _ours(name, params, xs):
    """mx.nd.add_n counts its inputs itself; the registry-level call needs num_args."""
    return dict(params, num_args=len(xs)) if name == "add_n" else params


def _parity_cases():
    f32 = np.float32
    cases = {}
    for key, (same, bcast, _, da, db) in sorted(BINARY.items()):
        cases[same] = (same, {}, [draw(da, (2, 3), 31, f32), draw(db, (2, 3), 32, f32)])
        cases[bcast] = (bcast, {}, [draw(da, (4, 1, 3), 33, f32), draw(db, (2, 1), 34, f32)])
    for name, (_, dom, s) in sorted(SCALAR.items()):
        cases[name] = (name, {"scalar": s}, [draw(dom, (2, 3), 35, f32)])
    for name, (_, dom) in sorted(UNARY.items()):
        cases[name] = (name, {}, [draw(dom, (2, 3), 36, f32)])
    edge = np.array([-1, 0, 0.5, 1, 2], f32)
    tie = np.array([1, 0, 1, 1, 1], f32)
    for name in ("sqrt", "rsqrt", "log", "reciprocal", "relu", "abs", "sign"):
        cases[name + "@edge"] = (name, {}, [edge])
    for name in ("_maximum", "_minimum", "broadcast_maximum", "_power"):
        cases[name + "@tie"] = (name, {}, [edge, tie])
    cases["_maximum_scalar@tie"] = ("_maximum_scalar", {"scalar": 1.0}, [edge])
    cases["_minimum_scalar@tie"] = ("_minimum_scalar", {"scalar": 1.0}, [edge])
    cases["_rpower_scalar@neg"] = ("_rpower_scalar", {"scalar": -2.0}, [edge])
    cases["clip@edge"] = ("clip", {"a_min": 0.0, "a_max": 1.0}, [edge])
    cases["clip@swapped"] = ("clip", {"a_min": 1.0, "a_max": 0.0}, [edge])
    cases["clip"] = ("clip", {"a_min": -0.5, "a_max": 0.7}, [draw("any", (3, 4), 37, f32)])
    cases["add_n"] = ("add_n", {}, [draw("any", (2, 3), s, f32) for s in (38, 39, 40)])
    cases["_mod@zero"] = ("_mod", {}, [np.array([5, -5, 5.5, -5.5, 1], f32),
                                       np.array([3, 3, -2, -2, 0], f32)])
    cases["broadcast_div@f64"] = ("broadcast_div", {}, [draw("any", (2, 3), 41),
                                                        draw("nz", (3,), 42)])
    cases["sigmoid@f64"] = ("sigmoid", {}, [draw("any", (5,), 43)])
    cases["_rdiv_scalar@f64"] = ("_rdiv_scalar", {"scalar": 0.1}, [draw("nz", (5,), 44)])
    for cid, (name, params, xs) in cases.items():
        out_shape = run_op(name, xs, **_ours(name, params, xs))[0][0].shape
        cases[cid] = (name, params, xs, draw("any", out_shape, 45, xs[0].dtype))
    return cases


ORACLE_OPS = """
from mxnet import autograd
def fn(name):
    f = getattr(mx.nd, name, None)
    return f if f is not None else getattr(mx.nd._internal, name)
for cid, (name, params, xs, head) in cases.items():
    arrs = [mx.nd.array(x, dtype=x.dtype) for x in xs]
    for a in arrs:
        a.attach_grad()
    with autograd.record():
        y = fn(name)(*arrs, **params)
    y.backward(mx.nd.array(head, dtype=head.dtype))
    out[cid] = [y] + [a.grad for a in arrs]
"""


@pytest.fixture(scope="module")
def parity():
    cases = _parity_cases()
    return cases, run_oracle(ORACLE_OPS, cases=cases)


@pytest.mark.oracle
@pytest.mark.parametrize("cid", sorted(_parity_cases()))
def test_forward_backward_match_mxnet(parity, cid):
    cases, expected = parity
    name, params, xs, head = cases[cid]
    outs, grads = run_op_backward(name, xs, out_grads=[head], **_ours(name, params, xs))
    want = expected[cid]
    assert outs[0].dtype == want[0].dtype and outs[0].shape == want[0].shape
    np.testing.assert_allclose(outs[0], want[0], rtol=1e-5, atol=1e-6, err_msg="forward")
    for i, (g, w) in enumerate(zip(grads, want[1:])):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"grad of input {i}")


@pytest.mark.oracle
def test_grad_req_add_matches_mxnet_executor():
    a, b = draw("any", (2, 3), 51, np.float32), draw("any", (1, 3), 52, np.float32)
    code = """
x, y = mx.sym.Variable('a'), mx.sym.Variable('b')
s = mx.sym.broadcast_mul(mx.sym.clip(x, a_min=-0.5, a_max=0.5), y) + mx.sym.exp(x)
ex = s.simple_bind(mx.cpu(), a=a.shape, b=b.shape, grad_req='add')
ex.arg_dict['a'][:] = a; ex.arg_dict['b'][:] = b
for _ in range(2):
    ex.forward(is_train=True); ex.backward(mx.nd.ones((2, 3)))
out['ga'], out['gb'] = ex.grad_dict['a'], ex.grad_dict['b']
"""
    want = run_oracle(code, a=a, b=b)
    x, y = mx.sym.Variable("a"), mx.sym.Variable("b")
    s = mx.sym.broadcast_mul(mx.sym.clip(x, a_min=-0.5, a_max=0.5), y) + mx.sym.exp(x)
    ex = s.simple_bind(mx.cpu(), a=a.shape, b=b.shape, grad_req="add")
    ex.arg_dict["a"][:] = a
    ex.arg_dict["b"][:] = b
    for _ in range(2):
        ex.forward(is_train=True)
        ex.backward(mx.nd.ones((2, 3)))
    np.testing.assert_allclose(ex.grad_dict["a"].asnumpy(), want["ga"], rtol=1e-5)
    np.testing.assert_allclose(ex.grad_dict["b"].asnumpy(), want["gb"], rtol=1e-5)


# -- operator names: what Python operators on Symbols become (checked against MXNet 1.9.1) --
# expression -> (function MXNet's Symbol calls, op in the JSON, auto name, JSON attrs)
NAME_TABLE = {
    "a+b": ("_Plus", "elemwise_add", "_plus0", None),
    "a-b": ("_Minus", "elemwise_sub", "_minus0", None),
    "a*b": ("_Mul", "elemwise_mul", "_mul0", None),
    "a/b": ("_Div", "elemwise_div", "_div0", None),
    "a%b": ("_Mod", "_mod", "_mod0", None),
    "a**b": ("_Power", "_power", "_power0", None),
    "a+2": ("_PlusScalar", "_plus_scalar", "_plusscalar0", {"scalar": "2"}),
    "2+a": ("_PlusScalar", "_plus_scalar", "_plusscalar0", {"scalar": "2"}),
    "a-2": ("_MinusScalar", "_minus_scalar", "_minusscalar0", {"scalar": "2"}),
    "2-a": ("_RMinusScalar", "_rminus_scalar", "_rminusscalar0", {"scalar": "2"}),
    "a*2": ("_MulScalar", "_mul_scalar", "_mulscalar0", {"scalar": "2"}),
    "2*a": ("_MulScalar", "_mul_scalar", "_mulscalar0", {"scalar": "2"}),
    "a/2": ("_DivScalar", "_div_scalar", "_divscalar0", {"scalar": "2"}),
    "2/a": ("_RDivScalar", "_rdiv_scalar", "_rdivscalar0", {"scalar": "2"}),
    "a%2": ("_ModScalar", "_mod_scalar", "_modscalar0", {"scalar": "2"}),
    "2%a": ("_RModScalar", "_rmod_scalar", "_rmodscalar0", {"scalar": "2"}),
    "a**2": ("_PowerScalar", "_power_scalar", "_powerscalar0", {"scalar": "2"}),
    "2**a": ("_rpower_scalar", "_rpower_scalar", "_rpower_scalar0", {"scalar": "2"}),
    "a+2.5": ("_PlusScalar", "_plus_scalar", "_plusscalar0", {"scalar": "2.5"}),
    "-a": ("_MulScalar", "_mul_scalar", "_mulscalar0", {"scalar": "-1.0"}),
    "abs(a)": ("abs", "abs", "abs0", None),
    "a==b": ("_equal", "_equal", "_equal0", None),
    "a!=b": ("_not_equal", "_not_equal", "_not_equal0", None),
    "a<b": ("_lesser", "_lesser", "_lesser0", None),
    "a<=b": ("_lesser_equal", "_lesser_equal", "_lesser_equal0", None),
    "a>b": ("_greater", "_greater", "_greater0", None),
    "a>=b": ("_greater_equal", "_greater_equal", "_greater_equal0", None),
    "a==2": ("_equal_scalar", "_equal_scalar", "_equal_scalar0", {"scalar": "2"}),
    "a!=2": ("_not_equal_scalar", "_not_equal_scalar", "_not_equal_scalar0", {"scalar": "2"}),
    "a<2": ("_lesser_scalar", "_lesser_scalar", "_lesser_scalar0", {"scalar": "2"}),
    "a<=2": ("_lesser_equal_scalar", "_lesser_equal_scalar", "_lesser_equal_scalar0",
             {"scalar": "2"}),
    "a>2": ("_greater_scalar", "_greater_scalar", "_greater_scalar0", {"scalar": "2"}),
    "a>=2": ("_greater_equal_scalar", "_greater_equal_scalar", "_greater_equal_scalar0",
             {"scalar": "2"}),
    "2<a": ("_greater_scalar", "_greater_scalar", "_greater_scalar0", {"scalar": "2"}),
    "mx.sym.maximum(a,b)": ("_Maximum", "_maximum", "_maximum0", None),
    "mx.sym.minimum(a,b)": ("_Minimum", "_minimum", "_minimum0", None),
    "mx.sym.maximum(a,2)": ("_MaximumScalar", "_maximum_scalar", "_maximumscalar0",
                            {"scalar": "2"}),
    "mx.sym.minimum(2,a)": ("_MinimumScalar", "_minimum_scalar", "_minimumscalar0",
                            {"scalar": "2"}),
    "mx.sym.pow(2,a)": ("_RPowerScalar", "_rpower_scalar", "_rpowerscalar0", {"scalar": "2"}),
    "mx.sym.elemwise_add(a,b)": ("elemwise_add", "elemwise_add", "elemwise_add0", None),
    "mx.sym.broadcast_plus(a,b)": ("broadcast_plus", "broadcast_add", "broadcast_plus0", None),
    "mx.sym.ElementWiseSum(a,b)": ("ElementWiseSum", "add_n", "elementwisesum0",
                                   {"num_args": "2"}),
    "mx.sym.add_n(a,b)": ("add_n", "add_n", "add_n0", {"num_args": "2"}),
    "mx.sym.identity(a)": ("identity", "_copy", "identity0", None),
    "mx.sym.negative(a)": ("negative", "negative", "negative0", None),
    "mx.sym.clip(a,0,1)": ("clip", "clip", "clip0", {"a_min": "0", "a_max": "1"}),
}

ORACLE_NAMES = """
import json
a, b = mx.sym.Variable('a'), mx.sym.Variable('b')
for expr in exprs:
    with mx.name.NameManager():
        s = eval(expr)
    node = json.loads(s.tojson())['nodes'][-1]
    out[expr] = [node['op'], s.name, node.get('attrs')]
"""


@pytest.mark.oracle
def test_name_table_matches_mxnet():
    got = run_oracle(ORACLE_NAMES, exprs=list(NAME_TABLE))
    for expr, (_, op, name, attrs) in NAME_TABLE.items():
        assert got[expr] == [op, name, attrs], expr


@pytest.mark.parametrize("expr", sorted(NAME_TABLE))
def test_name_table_ops_are_registered(expr):
    called, op, name, _ = NAME_TABLE[expr]
    assert registry.get(called) is registry.get(op)
    assert registry.get(op).name == op
    # the auto name is the called function's name, lower-cased, plus a counter
    assert name == called.lower() + "0"


def test_python_operator_hints_match_table():
    for expr, (called, op, name, _) in NAME_TABLE.items():
        if not expr.startswith("mx."):
            assert (registry.get(op).hint or op.lower()) + "0" == name, expr


@pytest.mark.parametrize("expr", list(NAME_TABLE))
def test_mxteach_symbols_follow_name_table(expr):
    _, op, name, _ = NAME_TABLE[expr]
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")   # noqa: F841 - used by eval
    with mx.name.NameManager():
        s = eval(expr)
    assert (json.loads(s.tojson())["nodes"][-1]["op"], s.name) == (op, name)
