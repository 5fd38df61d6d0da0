"""The creation family (ops/creation.py, issue 17): eye, linspace, arange (mx.sym.arange),
shape_array, size_array, all_finite, multi_all_finite — numpy formulas, kernels against their
numpy twins, ctx placement, zero gradients, MXNet 1.9.1 parity (values and dtypes), errors,
CPU vs GPU under the simulator."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import creation as K
from mxteach.kernels.reference import creation as R
from mxteach.test_utils import run_op, run_op_backward
from oracle import run_oracle

INF = np.array([1.0, np.inf, 2.0])
NAN = np.array([[np.nan, 0.0]])

# name, inputs, params, numpy formula (of the inputs)
CASES = [
    ("_eye", [], {"N": 3}, lambda: np.eye(3, dtype=np.float32)),
    ("eye", [], {"N": 3, "M": 5, "k": 2}, lambda: np.eye(3, 5, 2, dtype=np.float32)),
    ("eye", [], {"N": 4, "M": 2, "k": -1, "dtype": "int32"},
     lambda: np.eye(4, 2, -1, dtype=np.int32)),
    ("_linspace", [], {"start": 0, "stop": 1, "num": 5},
     lambda: np.linspace(0, 1, 5, dtype=np.float32)),
    ("linspace", [], {"start": -2, "stop": 3, "num": 4, "endpoint": False, "dtype": "float64"},
     lambda: np.linspace(-2, 3, 4, endpoint=False)),
    ("linspace", [], {"start": 2, "stop": 1, "num": 4, "dtype": "int32"},
     lambda: np.array([2, 1, 1, 1], np.int32)),
    ("linspace", [], {"start": 0, "stop": 1, "num": 1}, lambda: np.zeros(1, np.float32)),
    ("_arange", [], {"start": 5}, lambda: np.arange(5, dtype=np.float32)),
    ("_arange", [], {"start": 1, "stop": 2, "step": 0.3, "repeat": 2},
     lambda: np.repeat(np.arange(1, 2, 0.3), 2).astype(np.float32)),
    ("_arange", [], {"start": 6, "stop": 1, "step": -2, "dtype": "int64"},
     lambda: np.arange(6, 1, -2)),
    ("shape_array", [np.ones((2, 3, 4))], {}, lambda x: np.array([2, 3, 4], np.int64)),
    ("size_array", [np.ones((2, 3, 4))], {}, lambda x: np.array([24], np.int64)),
    ("all_finite", [np.ones((2, 3))], {}, lambda x: np.ones(1, np.float32)),
    ("all_finite", [INF], {}, lambda x: np.zeros(1, np.float32)),
    ("all_finite", [NAN], {"init_output": False}, lambda x: np.zeros(1, np.float32)),
    ("multi_all_finite", [np.ones(3), np.ones((2, 2))], {"num_arrays": 2}, lambda a, b: np.ones(1, np.float32)),
    ("multi_all_finite", [np.ones(3), NAN, np.ones(2)], {"num_arrays": 3},
     lambda a, b, c: np.zeros(1, np.float32)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    out, = run_op(name, inputs, **params)[0]
    want = formula(*inputs)
    assert out.dtype == want.dtype and out.shape == want.shape, (out.dtype, out.shape)
    np.testing.assert_allclose(out, want, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    for start, step, repeat in ((0.5, 0.25, 1), (3.0, -0.7, 3)):
        a, b = np.empty(10, dtype), np.empty(10, dtype)
        K.ramp(start, step, repeat, a)
        R.ramp(start, step, repeat, b)
        np.testing.assert_array_equal(a, b)
    for k in (-2, 0, 3):
        a, b = np.full((4, 5), 7, dtype), np.full((4, 5), 7, dtype)
        K.eye(k, a)
        R.eye(k, b)
        np.testing.assert_array_equal(a, b)
    if dtype != np.int32:
        for x in (np.ones(5, dtype), np.array([1, -np.inf], dtype), np.array([np.nan], dtype)):
            a, b = np.ones(1, np.float32), np.ones(1, np.float32)
            K.all_finite(x, a)
            R.all_finite(x, b)
            np.testing.assert_array_equal(a, b)


def test_shape_and_size_have_zero_gradients_and_all_finite_none():
    x = np.ones((2, 3))
    for name in ("shape_array", "size_array"):
        _, (g,) = run_op_backward(name, [x], out_grads=[np.ones(2 if name[1] == "h" else 1,
                                                               np.int64)],
                                  init_grads=[np.full_like(x, 3.0)])
        np.testing.assert_array_equal(g, 0)
    assert mx.ops.registry.get("all_finite").backward is None


def test_front_ends_and_placement():
    e = mx.nd.eye(2, 3, 1, ctx=mx.cpu(1), dtype="float64")
    assert e.context == mx.cpu(1) and e.dtype == np.float64
    np.testing.assert_array_equal(e.asnumpy(), np.eye(2, 3, 1))
    np.testing.assert_allclose(mx.nd.linspace(0, 1, 3).asnumpy(), [0, 0.5, 1])
    s = mx.sym.arange(0, 3) + mx.sym.linspace(1, 3, 3) + mx.sym.sum(mx.sym.eye(3, 3, 1), axis=0)
    np.testing.assert_allclose(s.eval()[0].asnumpy(), [1, 4, 6])
    d = mx.sym.Variable("d")
    f = mx.sym.multi_all_finite(d, d * 2, num_arrays=2)
    assert f.list_arguments() == ["d"]
    assert f.infer_type(d=np.float64)[1] == [np.float32]
    assert mx.sym.shape_array(d).infer_type(d=np.float32)[1] == [np.int64]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.linspace(0, 1, -1), "num must be >= 0"),
    (lambda: mx.nd.eye(-1), "N and M must be >= 0"),
    (lambda: mx.nd.all_finite(mx.nd.ones(2, dtype="int32")), "only supports floating point"),
    (lambda: mx.sym.arange(0, 3, 0).eval(), "step must not be 0"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.oracle
def test_mxnet_parity():
    cases = [(n.lstrip("_"), [a.astype(np.float32) for a in i], p) for n, i, p, _ in CASES
             if n != "_arange"]
    arange = [p for n, _, p, _ in CASES if n == "_arange"]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    out[k] = getattr(mx.nd, name)(*[mx.nd.array(a) for a in inputs], **params).asnumpy()
for k, params in enumerate(arange):
    out['arange', k] = mx.sym.arange(**params).eval()[0].asnumpy()
""", cases=cases, arange=arange)
    for k, (name, inputs, params) in enumerate(cases):
        got = getattr(mx.nd, name)(*[mx.nd.array(a) for a in inputs], **params).asnumpy()
        assert got.dtype == ref[k].dtype and got.shape == ref[k].shape, (name, params)
        np.testing.assert_allclose(got, ref[k], rtol=1e-6, err_msg=f"{name} {params}")
    for k, params in enumerate(arange):
        got = mx.sym.arange(**params).eval()[0].asnumpy()
        assert got.dtype == ref["arange", k].dtype
        np.testing.assert_allclose(got, ref["arange", k], rtol=1e-6, err_msg=str(params))


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params)


@pytest.mark.cudasim
def test_made_on_the_gpu_by_ctx():
    e = mx.nd.eye(3, ctx=mx.gpu(0))
    assert e.context == mx.gpu(0)
    np.testing.assert_array_equal(e.asnumpy(), np.eye(3))
    flag = mx.nd.all_finite(mx.nd.array([1.0, np.nan], ctx=mx.gpu(0)))
    np.testing.assert_array_equal(flag.asnumpy(), [0.0])
