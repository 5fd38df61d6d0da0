"""The quantized layers (ops/quantized_ops.py and ops/quantized_nn.py, issue 17):
quantized_flatten, quantized_act, quantized_concat, quantized_elemwise_add,
quantized_elemwise_mul, quantized_pooling, quantized_embedding, quantized_batch_norm. numpy
formulas, the CPU kernels against their numpy twins, bit-for-bit MXNet 1.9.1 parity (one
oracle call, through mx.sym so that quantized_elemwise_mul, which MXNet refuses imperatively,
runs too), the errors, and CPU vs GPU under the simulator. None has a gradient."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ops import registry
from mxteach.kernels.cpu import quantized_ops as K
from mxteach.kernels.reference import quantized_ops as R
from mxteach.test_utils import run_op
from oracle import run_oracle

F32 = np.float32
R1 = lambda v: np.array([v], F32)    # noqa: E731  a (1,)-shaped range input


def _i8(*shape, seed=0):
    return np.random.RandomState(seed).randint(-128, 128, shape).astype(np.int8)


def _u8(*shape, seed=0):
    return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


A, B, U = _i8(2, 4), _i8(2, 4, seed=1), _u8(2, 4, seed=2)

# name (mx.nd.contrib.<name>), inputs, params
CASES = [
    ("quantized_flatten", [_i8(2, 2, 3), R1(-1), R1(2)], {}),
    ("quantized_flatten", [_u8(3, 2, 1, 2), R1(0), R1(5)], {}),
    ("quantized_act", [_i8(2, 3, 2), R1(-1), R1(2)], {"act_type": "relu"}),
    ("quantized_act", [U, R1(0), R1(2)], {"act_type": "relu"}),
    ("quantized_concat", [A, B, R1(-1), R1(2), R1(-1), R1(2)], {"num_args": 2, "dim": 1}),
    ("quantized_concat", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)], {"num_args": 2}),
    ("quantized_concat", [A, U, R1(-1), R1(2), R1(0), R1(3)], {"num_args": 2, "dim": 0}),
    ("quantized_concat", [U, U, A, R1(0), R1(2), R1(0), R1(3), R1(-0.5), R1(1)],
     {"num_args": 3, "dim": 1}),
    ("quantized_concat", [U, U[:, :2].copy(), R1(0), R1(2), R1(0), R1(3)], {"num_args": 2}),
    ("quantized_elemwise_add", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)], {}),
    ("quantized_elemwise_add", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)],
     {"min_calib_range": -2.0, "max_calib_range": 2.0}),
    ("quantized_elemwise_add", [U, U[::-1].copy(), R1(0), R1(2), R1(0), R1(0.5)], {}),
    ("quantized_elemwise_add", [U, U[::-1].copy(), R1(0), R1(2), R1(0), R1(0.5)],
     {"min_calib_range": 0.0, "max_calib_range": 3.0}),
    ("quantized_elemwise_add", [A, U, R1(-1), R1(2), R1(0), R1(0.5)], {}),
    ("quantized_elemwise_add", [U, A, R1(0), R1(3), R1(-1), R1(0.25)],
     {"min_calib_range": -1.0, "max_calib_range": 2.5}),
    ("quantized_elemwise_mul", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)], {}),
    ("quantized_elemwise_mul", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)],
     {"min_calib_range": -2.0, "max_calib_range": 2.0}),
    ("quantized_elemwise_mul", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)],
     {"enable_float_output": True}),
    ("quantized_elemwise_mul", [A, B, R1(-0.01), R1(0.02), R1(-3), R1(0.5)],
     {"min_calib_range": -0.001, "max_calib_range": 0.001}),
    ("quantized_pooling", [_i8(2, 3, 5, 5), R1(-1), R1(2)],
     {"kernel": (2, 2), "stride": (2, 2)}),
    ("quantized_pooling", [_i8(2, 3, 5, 5), R1(-1), R1(2)],
     {"kernel": (3, 3), "pool_type": "avg", "pad": (1, 1)}),
    ("quantized_pooling", [_i8(2, 3, 5, 5), R1(-1), R1(2)],
     {"kernel": (3, 3), "pool_type": "avg", "pad": (1, 1), "count_include_pad": False}),
    ("quantized_pooling", [_i8(1, 2, 5, 5, seed=3), R1(-1), R1(2)],
     {"kernel": (2, 2), "pool_type": "avg", "stride": (2, 2), "pooling_convention": "full"}),
    ("quantized_pooling", [_i8(1, 2, 5, 5, seed=3), R1(-1), R1(2)],
     {"kernel": (3, 3), "pool_type": "max", "stride": (2, 2), "pad": (1, 1),
      "pooling_convention": "full"}),
    ("quantized_pooling", [_u8(2, 2, 4, 3), R1(0), R1(2)],
     {"kernel": (1, 1), "pool_type": "avg", "global_pool": True}),
    ("quantized_pooling", [_u8(2, 2, 4, 3), R1(0), R1(2)],
     {"kernel": (2, 2), "pool_type": "avg"}),
    ("quantized_embedding", [np.array([[0, 1.7], [-0.5, 3.2], [7, 2]], F32), _i8(4, 6),
                             R1(-1), R1(2)], {"input_dim": 4, "output_dim": 6}),
    ("quantized_embedding", [np.array([2, 0, 1, 1], F32), _i8(3, 2), R1(-0.5), R1(0.25)],
     {"input_dim": 3, "output_dim": 2}),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _run(name, inputs, params):
    return run_op("_contrib_" + name, inputs, **params)[0]


def test_flatten_and_relu():
    x = _i8(2, 2, 3)
    out, lo, hi = _run("quantized_flatten", [x, R1(-1), R1(2)], {})
    np.testing.assert_array_equal(out, x.reshape(2, 6))
    assert (lo[0], hi[0]) == (-1, 2)
    out = _run("quantized_act", [x, R1(-1), R1(2)], {"act_type": "relu"})[0]
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    out = _run("quantized_act", [U, R1(0), R1(2)], {"act_type": "relu"})[0]
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, U.view(np.int8))          # MXNet reads the bytes as int8


def test_concat_rescales_to_the_widest_range():
    out, lo, hi = _run("quantized_concat", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)],
                       {"num_args": 2})
    assert (lo[0], hi[0]) == (-3, 2)
    ratio = F32(F32(127.5) / F32(3)) / F32(F32(127.5) / F32(2))
    np.testing.assert_array_equal(out[:, :4], np.clip(np.rint(A * ratio), -128, 127))
    np.testing.assert_array_equal(out[:, 4:], B)


def test_elemwise_add_formula():
    out, lo, hi = _run("quantized_elemwise_add", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)],
                       {"min_calib_range": -2.0, "max_calib_range": 2.0})
    s = F32(127.5) / F32(2)
    sa, sb = s / (F32(127.5) / F32(2)), s / (F32(127.5) / F32(3))
    want = np.clip(np.rint(A.astype(F32) * sa + B.astype(F32) * sb), -128, 127)
    np.testing.assert_array_equal(out, want)
    # dequantized, the sum is the sum of the dequantized inputs to within the rounding
    real = out * F32(2 / 127.5)
    exact = np.clip(A * (2 / 127.5) + B * (3 / 127.5), -2 * 128 / 127.5, 2)
    assert np.abs(real - exact).max() <= 2 / 127.5


def test_elemwise_mul_formula():
    out, lo, hi = _run("quantized_elemwise_mul", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)], {})
    np.testing.assert_array_equal(out, A.astype(np.int32) * B)
    assert hi[0] == F32(F32(2 / np.float32(127)) * F32(3 / np.float32(127))) * F32(2 ** 31)
    (f,) = _run("quantized_elemwise_mul", [A, B, R1(-1), R1(2), R1(-3), R1(0.5)],
                {"enable_float_output": True})
    np.testing.assert_allclose(f, (A * (2 / 127.5)) * (B * (3 / 127.5)), rtol=1e-6)


def test_pooling_rounds_the_float_mean():
    x = _i8(2, 3, 5, 5)
    out = _run("quantized_pooling", [x, R1(-1), R1(2)],
               {"kernel": (2, 2), "pool_type": "avg", "stride": (1, 1)})[0]
    mean = (x[:, :, :-1, :-1].astype(float) + x[:, :, 1:, :-1] + x[:, :, :-1, 1:]
            + x[:, :, 1:, 1:]) / 4
    np.testing.assert_array_equal(out, np.rint(mean))
    out = _run("quantized_pooling", [x, R1(-1), R1(2)], {"kernel": (5, 5), "stride": (1, 1)})[0]
    np.testing.assert_array_equal(out.reshape(2, 3), x.reshape(2, 3, -1).max(-1))


def test_embedding_gathers_clipped_rows():
    w = _i8(4, 3)
    idx = np.array([[0, 1.7], [-0.5, 3.2], [7, 2]], F32)
    out, lo, hi = _run("quantized_embedding", [idx, w, R1(-1), R1(2)],
                       {"input_dim": 4, "output_dim": 3})
    np.testing.assert_array_equal(out, w[[[0, 1], [0, 3], [3, 2]]])
    assert (lo[0], hi[0]) == (-1, 2)


def test_no_gradients_and_names():
    for name in ("quantized_flatten", "quantized_act", "quantized_concat",
                 "quantized_elemwise_add", "quantized_elemwise_mul", "quantized_pooling",
                 "quantized_embedding", "quantized_batch_norm"):
        assert registry.get("_contrib_" + name).backward is None
        assert hasattr(mx.nd.contrib, name) and hasattr(mx.sym.contrib, name)


def test_cpu_kernels_equal_their_numpy_twins():
    rs = np.random.RandomState(3)
    a, b, u = _i8(64, seed=4), _i8(64, seed=5), _u8(64, seed=6)
    for x, y, sa, sb, lo, hi, dt in ((a, b, F32(0.37), F32(1.9), -128.0, 127.0, np.int8),
                                     (u, b, F32(3e6), F32(-7e5), -2.0 ** 31, 2147483520.0,
                                      np.int32),
                                     (u, u, F32(0.5), F32(0.5), 0.0, 255.0, np.uint8)):
        res = [np.zeros(64, dt), np.ones(64, dt)]
        K.scaled_sum(x, sa, y, sb, lo, hi, res[0])
        R.scaled_sum(x, sa, y, sb, lo, hi, res[1])
        np.testing.assert_array_equal(*res)
    for mode, dt, scale in ((0, F32, 0.013), (1, np.int32, 1.0), (2, np.int8, 0.031),
                            (2, np.int8, 5.7)):
        res = [np.zeros(64, dt), np.ones(64, dt)]
        K.truncating_product(a, b, F32(scale), mode, res[0])
        R.truncating_product(a, b, F32(scale), mode, res[1])
        np.testing.assert_array_equal(*res)
    idx = rs.uniform(-2, 9, 10).astype(F32)
    res = [np.zeros((10, 3), np.int8), np.ones((10, 3), np.int8)]
    K.gather_rows(idx, _i8(7, 3), res[0])
    R.gather_rows(idx, _i8(7, 3), res[1])
    np.testing.assert_array_equal(*res)
    res = [np.zeros(64, np.int8), np.ones(64, np.int8)]
    K.relu(a, res[0])
    R.relu(a, res[1])
    np.testing.assert_array_equal(*res)
    x = rs.uniform(-140, 140, 64).astype(F32)
    x[:4] = [0.5, 1.5, -2.5, 126.5]
    res = [np.zeros(64, np.int8), np.ones(64, np.int8)]
    K.round_to_int(x, -128.0, 127.0, res[0])
    R.round_to_int(x, -128.0, 127.0, res[1])
    np.testing.assert_array_equal(*res)


@pytest.mark.oracle
def test_mxnet_parity_bit_for_bit():
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    names = ['v%d' % i for i in range(len(inputs))]
    s = getattr(mx.sym.contrib, name)(*[mx.sym.var(n) for n in names], **params)
    e = s.bind(mx.cpu(), {n: mx.nd.array(a, dtype=a.dtype) for n, a in zip(names, inputs)})
    e.forward()
    out[k] = [o.asnumpy() for o in e.outputs]
""", cases=CASES)
    for k, (name, inputs, params) in enumerate(CASES):
        got = _run(name, inputs, params)
        assert len(got) == len(ref[k]), IDS[k]
        for i, (g, want) in enumerate(zip(got, ref[k])):
            assert g.dtype == want.dtype and g.shape == want.shape, (IDS[k], i, g.dtype, g.shape)
            np.testing.assert_array_equal(g, want, err_msg=f"{IDS[k]} output {i}")


BAD = [
    ("quantized_act", [A, R1(-1), R1(2)], {"act_type": "sigmoid"}),
    ("quantized_pooling", [_i8(2, 3, 5), R1(-1), R1(2)], {"kernel": (3,)}),
    ("quantized_pooling", [_i8(2, 3, 5, 5), R1(-1), R1(2)], {"kernel": (2, 2),
                                                             "pool_type": "sum"}),
    ("quantized_pooling", [_i8(2, 3, 5, 5), R1(-1), R1(2)], {"kernel": (6, 6)}),
    ("quantized_concat", [A, _i8(3, 3), R1(-1), R1(2), R1(-1), R1(2)], {"num_args": 2}),
    ("quantized_elemwise_add", [A, _i8(2, 3), R1(-1), R1(2), R1(-1), R1(2)], {}),
    ("quantized_flatten", [A, np.array([-1, 1], F32), R1(2)], {}),
    ("quantized_embedding", [np.array([1, 2], F32), _i8(4, 5), R1(-1), R1(2)],
     {"input_dim": 4, "output_dim": 6}),
    ("quantized_embedding", [np.array([1, 2], F32), _u8(4, 6), R1(-1), R1(2)],
     {"input_dim": 4, "output_dim": 6}),
]


@pytest.mark.oracle
def test_errors_as_mxnet():
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    try:
        r = getattr(mx.nd.contrib, name)(*[mx.nd.array(a, dtype=a.dtype) for a in inputs],
                                         **params)
        [o.asnumpy() for o in r]
        out[k] = 'ok'
    except mx.base.MXNetError:
        out[k] = 'error'
""", cases=BAD)
    for k, (name, inputs, params) in enumerate(BAD):
        assert ref[k] == "error", (k, name)
        with pytest.raises(MXNetError):
            r = getattr(mx.nd.contrib, name)(*[mx.nd.array(a, dtype=a.dtype) for a in inputs],
                                             **params)
            [o.asnumpy() for o in r]


def test_negative_concat_dim_is_refused():
    """MXNet 1.9.1's MKL-DNN quantized concat crashes (segfault) on a negative dim."""
    with pytest.raises(MXNetError, match="dim"):
        _run("quantized_concat", [A, B, R1(-1), R1(2), R1(-1), R1(2)], {"num_args": 2,
                                                                       "dim": -1})


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import gpu_run
    name, inputs, params = case
    g_out, _, _ = gpu_run("_contrib_" + name, inputs, params, [], [], [])
    for g, c in zip(g_out, _run(name, inputs, params)):
        assert g.dtype == c.dtype
        np.testing.assert_array_equal(g, c)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import quantized_ops as C
    a, b, u = _i8(40, seed=4), _i8(40, seed=5), _u8(40, seed=6)
    d = cuda.device_array(40, np.int32)
    C.scaled_sum(cuda.to_device(u), F32(3e6), cuda.to_device(b), F32(-7e5), -2.0 ** 31,
                 2147483520.0, d)
    want = np.zeros(40, np.int32)
    R.scaled_sum(u, F32(3e6), b, F32(-7e5), -2.0 ** 31, 2147483520.0, want)
    np.testing.assert_array_equal(d.copy_to_host(), want)
    for mode, dt, scale in ((0, F32, 0.013), (1, np.int32, 1.0), (2, np.int8, 5.7)):
        d = cuda.device_array(40, dt)
        C.truncating_product(cuda.to_device(a), cuda.to_device(b), F32(scale), mode, d)
        want = np.zeros(40, dt)
        R.truncating_product(a, b, F32(scale), mode, want)
        np.testing.assert_array_equal(d.copy_to_host(), want)
    idx = np.array([-1.5, 0.2, 2.9, 7.0, 3.0], F32)
    d = cuda.device_array((5, 3), np.int8)
    C.gather_rows(cuda.to_device(idx), cuda.to_device(_i8(4, 3)), d)
    want = np.zeros((5, 3), np.int8)
    R.gather_rows(idx, _i8(4, 3), want)
    np.testing.assert_array_equal(d.copy_to_host(), want)
    d = cuda.device_array(40, np.int8)
    C.relu(cuda.to_device(a), d)
    np.testing.assert_array_equal(d.copy_to_host(), np.maximum(a, 0))


def _bn_inputs(dt, shape=(4, 3, 3, 3), seed=0):
    rs = np.random.RandomState(seed)
    c = shape[1]
    x = (_i8 if dt == "int8" else _u8)(*shape, seed=seed)
    g, b = rs.uniform(0.5, 2, c).astype(F32), rs.uniform(-1, 1, c).astype(F32)
    m, v = rs.uniform(-0.5, 0.5, c).astype(F32), rs.uniform(0.5, 2, c).astype(F32)
    return [x, g, b, m, v, R1(-1), R1(2)]       # MXNet's positional order


BN_CASES = [("int8", {"min_calib_range": -3.0, "max_calib_range": 4.0}),
            ("uint8", {"min_calib_range": -3.0, "max_calib_range": 4.0, "eps": 1e-5}),
            ("int8", {"min_calib_range": -0.5, "max_calib_range": 0.25, "fix_gamma": False})]


def test_batch_norm_formula_and_input_order():
    x, g, b, m, v, lo, hi = _bn_inputs("int8")
    out, omin, omax = mx.nd.contrib.quantized_batch_norm(
        *[mx.nd.array(a, dtype=a.dtype) for a in (x, g, b, m, v, lo, hi)],
        min_calib_range=-3.0, max_calib_range=4.0)
    assert out.dtype == np.int8 and (omin.asnumpy()[0], omax.asnumpy()[0]) == (-3, 4)
    # dequantized, it is the float batch norm (gamma used even with fix_gamma) to within steps
    real = x * (2 / 127.5)
    sh = (1, -1, 1, 1)
    want = (real - m.reshape(sh)) / np.sqrt(v.reshape(sh) + 1e-3) * g.reshape(sh) + b.reshape(sh)
    got = out.asnumpy() * (4 / 127.5)
    inside = np.abs(want) < 3.9
    assert np.abs(got - want)[inside].max() <= 4 / 127.5


@pytest.mark.oracle
def test_batch_norm_parity_bit_for_bit():
    cases = [(_bn_inputs(dt, seed=k), params) for k, (dt, params) in enumerate(BN_CASES)]
    ref = run_oracle("""
for k, (inputs, params) in enumerate(cases):
    r = mx.nd.contrib.quantized_batch_norm(*[mx.nd.array(a, dtype=a.dtype) for a in inputs],
                                           **params)
    out[k] = [o.asnumpy() for o in r]
try:
    mx.nd.contrib.quantized_batch_norm(*[mx.nd.array(a, dtype=a.dtype) for a in cases[0][0]])[0].asnumpy()
    out['nocalib'] = 'ok'
except mx.base.MXNetError:
    out['nocalib'] = 'error'
""", cases=cases)
    for k, (inputs, params) in enumerate(cases):
        got = mx.nd.contrib.quantized_batch_norm(
            *[mx.nd.array(a, dtype=a.dtype) for a in inputs], **params)
        for i, (g, want) in enumerate(zip(got, ref[k])):
            assert g.dtype == want.dtype
            np.testing.assert_array_equal(g.asnumpy(), want, err_msg=f"case {k} output {i}")
    assert ref["nocalib"] == "error"
    with pytest.raises(MXNetError, match="calib"):
        mx.nd.contrib.quantized_batch_norm(
            *[mx.nd.array(a, dtype=a.dtype) for a in cases[0][0]])[0].asnumpy()


def test_channel_affine_kernel_equals_its_numpy_twin():
    x3 = _i8(2, 3, 5, seed=9)
    w, sh = np.array([0.3, -1.7, 2.2], F32), np.array([0.5, -3.25, 10.0], F32)
    res = [np.zeros(x3.shape, np.int8), np.ones(x3.shape, np.int8)]
    K.channel_affine(x3, F32(0.9995), w, sh, res[0])
    R.channel_affine(x3, F32(0.9995), w, sh, res[1])
    np.testing.assert_array_equal(*res)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", BN_CASES, ids=lambda c: c[0] if isinstance(c, tuple) else "")
def test_batch_norm_gpu_equals_cpu(case):
    from cuda_compare import gpu_run
    dt, params = case
    x, g, b, m, v, lo, hi = _bn_inputs(dt)
    inputs = [x, g, b, lo, hi, m, v]             # the registry's order: arguments, then aux
    g_out, _, _ = gpu_run("_contrib_quantized_batch_norm", inputs, params, [], [], [])
    for a, c in zip(g_out, _run("quantized_batch_norm", inputs, params)):
        np.testing.assert_array_equal(a, c)


@pytest.mark.cudasim
def test_cuda_channel_affine_equals_its_numpy_twin():
    from numba import cuda
    from mxteach.kernels.cuda import quantized_ops as C
    x3 = _i8(2, 3, 5, seed=9)
    w, sh = np.array([0.3, -1.7, 2.2], F32), np.array([0.5, -3.25, 10.0], F32)
    d = cuda.device_array(x3.shape, np.int8)
    C.channel_affine(cuda.to_device(x3), F32(0.9995), cuda.to_device(w), cuda.to_device(sh), d)
    want = np.zeros(x3.shape, np.int8)
    R.channel_affine(x3, F32(0.9995), w, sh, want)
    np.testing.assert_array_equal(d.copy_to_host(), want)
