"""Issue 8 item 6: ``mx.test_utils`` has MXNet's helpers with MXNet's signatures.

One script of MXNet-style checks runs on real MXNet 1.9.1 and on mxteach; each check records
whether it passed or raised AssertionError, and both libraries must agree. Further tests check
each helper's values, and that ``check_numeric_gradient`` catches a wrong gradient.
"""
import os

import numpy as np
import pytest

import mxteach as mx
from mxteach.ops import registry
from mxteach.ops.registry import Op, assign
from mxteach import test_utils as tu
from oracle import run_oracle

# Written as a port of an MXNet unit test would be: only mx.test_utils names.
SCRIPT = '''
from mxnet.test_utils import (assert_almost_equal, almost_equal, same, rand_ndarray,
    rand_shape_2d, rand_shape_3d, rand_shape_nd, default_context, set_default_context,
    check_numeric_gradient, check_symbolic_forward, check_symbolic_backward, environment)
import inspect, os
res = {}
def outcome(key, fn):
    try:
        fn()
        res[key] = 'pass'
    except AssertionError:
        res[key] = 'AssertionError'
x = mx.sym.Variable('x'); w = mx.sym.Variable('w'); b = mx.sym.Variable('b')
fc = mx.sym.FullyConnected(x, weight=w, bias=b, num_hidden=3, name='fc')
act = mx.sym.tanh(fc)
loc = [xv, wv, bv]
outcome('forward_right', lambda: check_symbolic_forward(act, loc, [np.tanh(xv @ wv.T + bv)],
                                                         rtol=1e-5, atol=1e-6))
outcome('forward_wrong', lambda: check_symbolic_forward(act, loc, [np.tanh(xv @ wv.T)],
                                                         rtol=1e-5, atol=1e-6))
ograd = np.ones((2, 3), np.float32) * 0.5
dfc = ograd * (1 - np.tanh(xv @ wv.T + bv) ** 2)
right = {'x': dfc @ wv, 'w': dfc.T @ xv, 'b': dfc.sum(0)}
outcome('backward_right', lambda: check_symbolic_backward(act, loc, [ograd], right, rtol=1e-4,
                                                           atol=1e-5))
outcome('backward_wrong', lambda: check_symbolic_backward(act, loc, [ograd],
        dict(right, w=right['w'] * 2), rtol=1e-4, atol=1e-5))
outcome('backward_add', lambda: check_symbolic_backward(act, loc, [ograd], right, rtol=1e-4,
                                                         atol=1e-5, grad_req='add'))
outcome('backward_null_x', lambda: check_symbolic_backward(act, loc, [ograd],
        {'w': right['w'], 'x': right['x']}, rtol=1e-4, atol=1e-5,
        grad_req={'x': 'null', 'w': 'write', 'b': 'write'}))
outcome('numeric_right', lambda: check_numeric_gradient(act, loc, numeric_eps=1e-3, rtol=1e-2,
                                                         atol=1e-3))
outcome('numeric_right_dict', lambda: check_numeric_gradient(act, {'x': xv, 'w': wv, 'b': bv},
        grad_nodes=['w'], numeric_eps=1e-3, rtol=1e-2, atol=1e-3))
outcome('numeric_blockgrad', lambda: check_numeric_gradient(mx.sym.BlockGrad(x) * x, [xv],
        numeric_eps=1e-3, rtol=1e-2, atol=1e-3))
outcome('aae_close', lambda: assert_almost_equal(xv, xv + 1e-6))
outcome('aae_far', lambda: assert_almost_equal(xv, xv + 1e-2))
outcome('aae_nd', lambda: assert_almost_equal(mx.nd.array(xv), xv, rtol=1e-7, atol=0))
outcome('aae_f16', lambda: assert_almost_equal(xv.astype(np.float16), xv + 5e-3))
outcome('aae_tol_dict', lambda: assert_almost_equal(xv, xv + 1e-2,
        atol={np.dtype(np.float32): 2e-2}))
outcome('aae_nan', lambda: assert_almost_equal(np.array([np.nan]), np.array([np.nan]),
                                               equal_nan=True))
outcome('aae_nan_default', lambda: assert_almost_equal(np.array([np.nan]), np.array([np.nan])))
outcome('aae_no_broadcast', lambda: assert_almost_equal(np.ones((2, 1)), np.ones((2, 3)),
                                                        use_broadcast=False))
res['almost_equal'] = [almost_equal(xv, xv + 1e-6), almost_equal(xv, xv + 1e-3),
                       almost_equal(xv, xv + 1e-3, rtol=0, atol=1e-2)]
res['same'] = [same(xv, xv.copy()), same(xv, xv + 1e-7), same(np.ones(2), np.ones(3))]
np.random.seed(7)
res['shapes'] = [list(rand_shape_2d()), list(rand_shape_3d(4, 5, 6)),
                 [int(d) for d in rand_shape_nd(4, 3)], list(rand_shape_2d(1, 1))]
a = rand_ndarray((3, 4))
res['rand_ndarray'] = [a.shape, str(a.dtype), str(rand_ndarray((2,), dtype='float64').dtype)]
res['default_context'] = str(default_context())
set_default_context(mx.cpu(1))
res['after_set'] = [str(default_context()), str(mx.nd.ones((1,)).context)]
set_default_context(mx.cpu(0))
os.environ.pop('MXT_PROBE_A', None)
os.environ['MXT_PROBE_B'] = 'old'
with environment('MXT_PROBE_A', '1'):
    inside_a = os.environ.get('MXT_PROBE_A')
with environment({'MXT_PROBE_A': '2', 'MXT_PROBE_B': None}):
    inside_both = [os.environ.get('MXT_PROBE_A'), os.environ.get('MXT_PROBE_B')]
res['environment'] = [inside_a, inside_both, os.environ.get('MXT_PROBE_A'),
                      os.environ.get('MXT_PROBE_B')]
res['signatures'] = {n: list(inspect.signature(f).parameters) for n, f in [
    ('assert_almost_equal', assert_almost_equal), ('almost_equal', almost_equal),
    ('rand_ndarray', rand_ndarray), ('rand_shape_2d', rand_shape_2d),
    ('check_symbolic_forward', check_symbolic_forward),
    ('check_symbolic_backward', check_symbolic_backward),
    ('set_default_context', set_default_context)]}
res['numeric_signature'] = list(inspect.signature(check_numeric_gradient).parameters)
out['res'] = res
'''

RNG = np.random.RandomState(3)
INPUTS = {"xv": RNG.uniform(-1, 1, (2, 4)).astype(np.float32),
          "wv": RNG.uniform(-1, 1, (3, 4)).astype(np.float32),
          "bv": RNG.uniform(-1, 1, (3,)).astype(np.float32)}


def _run_here():
    ns = {"mx": mx, "np": np, "out": {}, **INPUTS}
    exec(SCRIPT.replace("from mxnet.test_utils", "from mxteach.test_utils"), ns)
    return ns["out"]["res"]


@pytest.mark.oracle
def test_helpers_agree_with_mxnet():
    theirs = run_oracle(SCRIPT, **INPUTS)["res"]
    ours = _run_here()
    # the check helpers pass and fail on the same cases
    expected_outcomes = {"forward_right": "pass", "forward_wrong": "AssertionError",
                         "backward_right": "pass", "backward_wrong": "AssertionError",
                         "backward_add": "pass", "backward_null_x": "pass",
                         "numeric_right": "pass", "numeric_right_dict": "pass",
                         "numeric_blockgrad": "AssertionError", "aae_close": "pass",
                         "aae_far": "AssertionError", "aae_nd": "pass", "aae_f16": "pass",
                         "aae_tol_dict": "pass", "aae_nan": "pass",
                         "aae_nan_default": "AssertionError",
                         "aae_no_broadcast": "AssertionError"}
    for key, want in expected_outcomes.items():
        assert theirs[key] == want, f"MXNet: {key} -> {theirs[key]}"
        assert ours[key] == want, f"mxteach: {key} -> {ours[key]}"
    for key in ("almost_equal", "same", "shapes", "rand_ndarray", "default_context",
                "after_set", "environment"):
        assert ours[key] == theirs[key], key
    # MXNet's parameter names and order; check_numeric_gradient adds **op_kwargs at the end
    assert ours["signatures"] == theirs["signatures"]
    assert ours["numeric_signature"][:-1] == theirs["numeric_signature"]


def test_check_numeric_gradient_fails_on_a_wrong_backward(monkeypatch):
    # an operator y = x**2 whose backward forgets the factor 2
    def forward(p, ins, outs, is_train, state):
        outs[0][...] = ins[0] ** 2

    def wrong_backward(p, ograds, ins, outs, igrads, reqs, state):
        assign(igrads[0], reqs[0], ograds[0] * ins[0])

    def right_backward(p, ograds, ins, outs, igrads, reqs, state):
        assign(igrads[0], reqs[0], ograds[0] * 2 * ins[0])
    x = np.array([[0.5, -1.0, 2.0]], np.float32)
    for name, backward, fails in (("_test_square_bad", wrong_backward, True),
                                  ("_test_square_ok", right_backward, False)):
        op = Op(name=name, params={}, arguments=("data",),
                infer_shape=lambda p, s: (list(s), [s[0]]), forward=forward,
                backward=backward)
        monkeypatch.setitem(registry._OPS.live, name, op)
        sym = mx.sym.frontend.call(name, [mx.sym.Variable("x")], {})
        if fails:
            with pytest.raises(AssertionError, match="NUMERICAL_x.*BACKWARD_x"):
                tu.check_numeric_gradient(sym, [x], numeric_eps=1e-3, rtol=1e-2, atol=1e-3)
            with pytest.raises(AssertionError):
                tu.check_numeric_gradient(name, [x.astype(np.float64)])
        else:
            tu.check_numeric_gradient(sym, [x], numeric_eps=1e-3, rtol=1e-2, atol=1e-3)
            tu.check_numeric_gradient(name, [x.astype(np.float64)])


def test_numeric_grad_values():
    x = mx.sym.Variable("x")
    exe = (x * x).simple_bind(mx.cpu(), x=(3,))
    xv = np.array([1.0, -2.0, 0.5])
    g = tu.numeric_grad(exe, {"x": xv.copy()}, eps=1e-3, dtype=np.float64)
    # central differences of x**2 are exact; what remains is the executor's float32 storage
    np.testing.assert_allclose(g["x"], 2 * xv, rtol=5e-5)


def test_assert_almost_equal_message_names_the_worst_element():
    a = np.zeros((2, 3), np.float32)
    b = a.copy()
    b[1, 2] = 1.0
    b[0, 0] = 0.5
    with pytest.raises(AssertionError) as info:
        tu.assert_almost_equal(a, b, names=("mine", "ref"))
    text = str(info.value)
    assert "(1, 2)" in text and "mine=0.0" in text and "ref=1.0" in text
    assert "2 of 6 elements mismatch" in text


def test_tolerances_per_dtype():
    assert tu.get_tols(np.zeros(1, np.float16), np.zeros(1, np.float32), None, None) == \
        (1e-2, 1e-1)
    assert tu.get_tols(np.zeros(1, np.float64), np.zeros(1, np.float64), None, None) == \
        (1e-5, 1e-20)
    assert tu.get_tols(np.zeros(1, np.int32), np.zeros(1, np.int32), None, None) == (0, 0)
    assert tu.get_tols(np.zeros(1), 1.0, 0.5, {np.dtype(np.float64): 0.25}) == (0.5, 0.25)
    assert tu.default_numeric_eps()[np.dtype(np.float32)] == 2.0 ** -9


def test_rand_helpers_shapes_and_sparse_refused():
    np.random.seed(0)
    for _ in range(20):
        s2, s3, sn = tu.rand_shape_2d(3, 4), tu.rand_shape_3d(2, 2, 2), tu.rand_shape_nd(5, 2)
        assert 1 <= s2[0] <= 3 and 1 <= s2[1] <= 4
        assert all(1 <= d <= 2 for d in s3) and len(sn) == 5 and all(1 <= d <= 2 for d in sn)
    assert min(min(tu.rand_shape_2d(1, 1, allow_zero_size=True)) for _ in range(30)) == 0
    a = tu.rand_ndarray((50, 40), ctx=mx.cpu(1))
    assert a.context == mx.cpu(1) and a.dtype == np.float32
    assert abs(a.asnumpy().mean()) < 0.1 and 0.9 < a.asnumpy().std() < 1.1
    with pytest.raises(ValueError, match="csr"):
        tu.rand_ndarray((2, 2), stype="csr")


def test_environment_restores_on_error():
    os.environ["MXT_PROBE_C"] = "keep"
    with pytest.raises(RuntimeError):
        with tu.environment({"MXT_PROBE_C": None, "MXT_PROBE_D": "x"}):
            assert "MXT_PROBE_C" not in os.environ and os.environ["MXT_PROBE_D"] == "x"
            raise RuntimeError("boom")
    assert os.environ["MXT_PROBE_C"] == "keep" and "MXT_PROBE_D" not in os.environ
    del os.environ["MXT_PROBE_C"]
