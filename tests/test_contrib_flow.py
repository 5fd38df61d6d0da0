"""mx.nd.contrib's Python functions (ndarray/contrib_flow.py, issue 17): foreach, while_loop,
cond (MXNet 1.9.1's docstring examples and nested cases run in both, outputs compared) and
rand_zipfian (the distribution of its samples and its expected-count formula vs MXNet's)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

# Each snippet runs unchanged here and in MXNet 1.9.1; results go to ``out``.
FLOW_CODE = """
data, st = mx.nd.array(data_np), mx.nd.array(state_np)
step = lambda data, states: (data + states[0], [states[0] * 2])
outs, states = mx.nd.contrib.foreach(step, data, [st])
out['foreach'] = (outs.asnumpy(), [s.asnumpy() for s in states])

# two data arrays, nested outputs and states
def body(xs, states):
    h, (c,) = states
    h2 = xs[0] * h + xs[1]
    return [h2, [h2 * c]], [h2, [c + 1]]
outs, states = mx.nd.contrib.foreach(body, [data, data * 3], [st, [st * 0 + 1]])
out['nested'] = ([outs[0].asnumpy(), outs[1][0].asnumpy()],
                 [states[0].asnumpy(), states[1][0].asnumpy()])

cond = lambda i, s: i <= 5
func = lambda i, s: ([i + s], [i + 1, s + i])
loop_vars = (mx.nd.array([0], dtype="int64"), mx.nd.array([1], dtype="int64"))
outputs, states = mx.nd.contrib.while_loop(cond, func, loop_vars, max_iterations=10)
out["while"] = (outputs[0][:6].asnumpy(), outputs[0].shape,
                np.dtype(outputs[0].dtype).name, [s.asnumpy() for s in states])

# stops at max_iterations, a single NDArray loop variable, two outputs
outputs, final = mx.nd.contrib.while_loop(lambda x: x.sum() < 100, lambda x: ((x, x * 2), x * 2),
                                          mx.nd.array([1.0, 2.0]), max_iterations=4)
out['while_max'] = ([o.asnumpy() for o in outputs], final.asnumpy())

a, b = mx.nd.array([1]), mx.nd.array([2])
pred = a * b < 5
then_func = lambda: (a + 5) * (b + 5)
else_func = lambda: (a - 5) * (b - 5)
out['cond'] = mx.nd.contrib.cond(pred, then_func, else_func).asnumpy()
out['cond_else'] = mx.nd.contrib.cond(a * b > 5, then_func, else_func).asnumpy()
out['cond_number'] = mx.nd.contrib.cond(0, lambda: a, lambda: [b, a])[0].asnumpy()
"""


def _inputs():
    rs = np.random.RandomState(0)
    return {"data_np": rs.uniform(size=(3, 4)).astype(np.float32),
            "state_np": rs.uniform(size=(4,)).astype(np.float32)}


def _run_here(code, **inputs):
    local = {"mx": mx, "np": np, "out": {}, **inputs}
    exec(code, local)
    return local["out"]


def test_foreach_while_loop_cond_equal_numpy():
    inputs = _inputs()
    got = _run_here(FLOW_CODE, **inputs)
    x, s = inputs["data_np"], inputs["state_np"]
    outs, states = got["foreach"]
    np.testing.assert_allclose(outs, x + s * 2.0 ** np.arange(3)[:, None], rtol=1e-6)
    np.testing.assert_allclose(states[0], s * 8, rtol=1e-6)
    want, sums = got["while"][0], np.array([1, 1, 2, 4, 7, 11])
    np.testing.assert_array_equal(want.reshape(-1), sums + np.arange(6))
    assert got["while"][1] == (10, 1) and got["while"][2] == "int64"
    np.testing.assert_array_equal(np.concatenate(got["while"][3]), [6, 16])
    rows, final = got["while_max"]
    np.testing.assert_allclose(rows[0], [[1, 2], [2, 4], [4, 8], [8, 16]])
    np.testing.assert_allclose(rows[1], rows[0] * 2)
    np.testing.assert_allclose(final, [16, 32])
    np.testing.assert_allclose(got["cond"], [42])
    np.testing.assert_allclose(got["cond_else"], [12])
    np.testing.assert_allclose(got["cond_number"], [2])


@pytest.mark.oracle
def test_the_same_code_gives_mxnets_results():
    inputs = _inputs()
    ref = run_oracle(FLOW_CODE, **inputs)
    got = _run_here(FLOW_CODE, **inputs)
    assert set(got) == set(ref)

    def same(a, b, key):
        if isinstance(a, (list, tuple)):
            assert len(a) == len(b), key
            for x, y in zip(a, b):
                same(x, y, key)
        elif isinstance(a, np.ndarray):
            assert a.shape == b.shape, key
            np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=key)
        else:
            assert tuple(a) == tuple(b) if isinstance(a, tuple) else a == b, key
    for key in ref:
        same(got[key], ref[key], key)


@pytest.mark.parametrize("call, error, words", [
    (lambda: mx.nd.contrib.while_loop(lambda x: True, lambda x: ([], [x]), [mx.nd.ones(1)]),
     ValueError, "max_iterations"),
    (lambda: mx.nd.contrib.while_loop(lambda x: True, lambda x: ([], [x, x]), [mx.nd.ones(1)],
                                      max_iterations=2), ValueError, "expected 1"),
    (lambda: mx.nd.contrib.foreach(lambda d, s: (d, s), [1, 2], mx.nd.ones(1)), AssertionError,
     "NDArray"),
    (lambda: mx.nd.contrib.cond(mx.nd.ones(2), lambda: 1, lambda: 0), ValueError, "size 1"),
])
def test_errors_are_mxnets_types(call, error, words):
    with pytest.raises(error) as err:
        call()
    assert words in str(err.value)
    assert isinstance(err.value, mx.base.MXNetError)


def _zipf_prob(c, range_max):
    return np.log((c + 2.0) / (c + 1.0)) / math.log(range_max + 1)


def test_rand_zipfian_samples_follow_the_log_uniform_law():
    range_max, n = 20, 40000
    mx.random.seed(7)
    true = mx.nd.array([0, 3, 19], dtype="int64")
    sampled, exp_true, exp_sampled = mx.nd.contrib.rand_zipfian(true, n, range_max)
    s = sampled.asnumpy()
    assert s.dtype == np.int64 and s.shape == (n,) and s.min() >= 0 and s.max() < range_max
    p = _zipf_prob(np.arange(range_max), range_max)
    counts = np.bincount(s, minlength=range_max)
    # chi-square goodness of fit, 19 degrees of freedom: the 0.999 quantile is 43.8
    assert ((counts - n * p) ** 2 / (n * p)).sum() < 43.8
    np.testing.assert_allclose(exp_true.asnumpy(), n * _zipf_prob(np.array([0, 3, 19]), 20))
    np.testing.assert_allclose(exp_sampled.asnumpy(), n * p[s])
    mx.random.seed(7)
    again = mx.nd.contrib.rand_zipfian(true, n, range_max)[0].asnumpy()
    np.testing.assert_array_equal(again, s)


@pytest.mark.oracle
def test_rand_zipfian_expected_counts_and_types_equal_mxnets():
    code = """
mx.random.seed(3)
true = mx.nd.array(true_np, dtype='int64')
s, et, es = mx.nd.contrib.rand_zipfian(true, 50, 10)
out["types"] = ([np.dtype(a.dtype).name for a in (s, et, es)]
                + [list(a.shape) for a in (s, et, es)])
out['true'] = et.asnumpy()
out['pairs'] = (s.asnumpy(), es.asnumpy())
"""
    inputs = {"true_np": np.array([[0, 1], [5, 9]])}
    ref = run_oracle(code, **inputs)
    got = _run_here(code, **inputs)
    assert got["types"] == ref["types"]
    np.testing.assert_allclose(got["true"], ref["true"], rtol=1e-12)
    # samples differ (another generator); the count of each sampled class follows one formula
    for s, es in (ref["pairs"], got["pairs"]):
        np.testing.assert_allclose(es, 50 * _zipf_prob(s.astype(np.float64), 10), rtol=1e-12)


@pytest.mark.cudasim
def test_the_functions_run_on_a_gpu_as_on_the_cpu():
    inputs = _inputs()
    # int64 arithmetic has no CUDA kernel in mxteach: the while example runs in float32 here
    code = FLOW_CODE.replace("mx.nd.array(", "mx.nd.array(ctx=ctx, source_array=").replace(
        'dtype="int64"', 'dtype="float32"')
    cpu = _run_here(code, ctx=mx.cpu(), **inputs)
    gpu = _run_here(code, ctx=mx.gpu(0), **inputs)
    for key in ("foreach", "nested", "while_max", "cond", "cond_else"):
        for a, b in zip(np.concatenate([np.ravel(v) for v in _leaves(cpu[key])]),
                        np.concatenate([np.ravel(v) for v in _leaves(gpu[key])])):
            assert a == pytest.approx(b, rel=1e-6), key
    mx.random.seed(5)
    s, _, es = mx.nd.contrib.rand_zipfian(mx.nd.array([1, 2], dtype="int64"), 50, 10,
                                          ctx=mx.gpu(0))
    assert s.context == mx.gpu(0) and s.asnumpy().max() < 10
    np.testing.assert_allclose(es.asnumpy(), 50 * _zipf_prob(s.asnumpy().astype(float), 10))


def _leaves(value):
    if isinstance(value, np.ndarray):
        return [value]
    return [leaf for v in value for leaf in _leaves(v)]
