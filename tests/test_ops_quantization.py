"""The int8 quantization operators (ops/quantization.py, issue 17): quantize, quantize_v2,
quantize_asym, dequantize, requantize, calibrate_entropy, and the quantized GEMM layers
(ops/quantized_gemm.py): quantized_fully_connected, quantized_conv, quantized_rnn. numpy
formulas, the CPU kernels against their numpy twins, bit-for-bit MXNet 1.9.1 parity (one oracle
call), the errors, and CPU vs GPU under the simulator. None has a gradient (as in MXNet)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ops import registry
from mxteach.kernels.cpu import quantization as K
from mxteach.kernels.reference import quantization as R
from mxteach.test_utils import run_op
from oracle import run_oracle

F32 = np.float32


def _x(*shape, seed=0, low=-3.0, high=5.0):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(F32)


def _i(*shape, dt=np.int8, seed=[0]):
    """Random int8 (or uint8) values; each call draws new ones."""
    seed[0] += 1
    info = np.iinfo(dt)
    return np.random.RandomState(seed[0]).randint(info.min, info.max + 1, shape).astype(dt)


# exact halves after scaling (x * 127.5 / 127.5): the round-half-to-even cases
HALVES = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.4, -127.6, 130.0], F32)
I32 = np.array([-2 ** 31 + 1, -5000, 0, 300000, 77777, 2 ** 31 - 1], np.int32)
I32_SMALL = np.array([-70000, -5000, 0, 300000, 77777, 12], np.int32)
R1 = lambda v: np.array([v], F32)    # noqa: E731  a (1,)-shaped range input
HIST = np.random.RandomState(0).randint(0, 50, size=21).astype(F32)
HIST_GAPS = HIST.copy()
HIST_GAPS[[3, 10]] = 0
EDGES = np.linspace(-1, 1, 22).astype(F32)

# name (mx.nd.contrib.<name>), inputs, params
CASES = [
    ("quantize", [_x(11), R1(-3), R1(5)], {"out_type": "int8"}),
    ("quantize", [_x(11), R1(-3), R1(5)], {}),
    ("quantize", [HALVES, R1(-127), R1(127)], {"out_type": "int8"}),
    ("quantize", [_x(2, 3, 2, 2), R1(-4), R1(2)], {"out_type": "uint8"}),
    ("quantize_v2", [_x(11)], {}),
    ("quantize_v2", [_x(11)], {"min_calib_range": -2.0, "max_calib_range": 4.0}),
    ("quantize_v2", [_x(11)], {"out_type": "uint8"}),
    ("quantize_v2", [_x(11)], {"out_type": "uint8", "min_calib_range": -2.0,
                               "max_calib_range": 4.0}),
    ("quantize_v2", [_x(3, 4)], {"out_type": "auto", "min_calib_range": 0.5,
                                 "max_calib_range": 3.0}),
    ("quantize_v2", [_x(3, 4)], {"out_type": "auto"}),
    ("quantize_v2", [HALVES], {"min_calib_range": -127.5, "max_calib_range": 127.5}),
    ("quantize_v2", [_x(1, 2, 3, 4)], {}),
    ("quantize_v2", [np.array([-5, 3, 127], np.int8)], {}),
    ("quantize_v2", [np.array([5, 3, 250], np.uint8)], {"out_type": "int8"}),
    ("quantize_v2", [np.array([5, 3, 250], np.uint8)],
     {"out_type": "uint8", "min_calib_range": 0.0, "max_calib_range": 2.0}),
    ("dequantize", [np.array([-128, -127, -5, 0, 3, 127], np.int8), R1(-2), R1(4)], {}),
    ("dequantize", [np.array([0, 5, 128, 255], np.uint8), R1(-2), R1(4)], {}),
    ("dequantize", [np.arange(-12, 12).astype(np.int8).reshape(2, 3, 4), R1(0.3), R1(-0.7)], {}),
    ("requantize", [I32, R1(-100), R1(100)], {}),
    ("requantize", [I32_SMALL, R1(-100), R1(100)], {}),
    ("requantize", [I32, R1(-100), R1(100)], {"min_calib_range": -1.0, "max_calib_range": 2.0}),
    ("requantize", [I32_SMALL.reshape(2, 3), R1(-50), R1(30)], {"out_type": "uint8"}),
    ("requantize", [I32_SMALL, R1(-100), R1(100)],
     {"out_type": "auto", "min_calib_range": 0.0, "max_calib_range": 2.0}),
    ("calibrate_entropy", [HIST, EDGES], {"num_quantized_bins": 5}),
    ("calibrate_entropy", [HIST_GAPS, EDGES], {"num_quantized_bins": 5}),
    ("quantized_fully_connected", [_i(3, 2, 5), _i(4, 10), _i(4), R1(-1), R1(2), R1(-0.5),
                                   R1(0.3), R1(-0.1), R1(0.2)], {"num_hidden": 4}),
    ("quantized_fully_connected", [_i(3, 10, dt=np.uint8), _i(4, 10), _i(4), R1(0), R1(3),
                                   R1(-0.5), R1(0.3), R1(-2), R1(1)], {"num_hidden": 4}),
    ("quantized_fully_connected", [_i(2, 3, 5), _i(4, 5), R1(-1), R1(2), R1(-0.5), R1(0.3)],
     {"num_hidden": 4, "no_bias": True, "flatten": False}),
    ("quantized_conv", [_i(2, 3, 5, 5, dt=np.uint8), _i(4, 3, 3, 3), _i(4), R1(0), R1(2),
                        R1(-0.5), R1(0.3), R1(-0.1), R1(0.2)],
     {"kernel": (3, 3), "num_filter": 4, "pad": (1, 1)}),
    ("quantized_conv", [_i(1, 2, 6, 5, dt=np.uint8), _i(3, 2, 2, 3), R1(0), R1(2),
                        R1(-0.5), R1(0.3)],
     {"kernel": (2, 3), "num_filter": 3, "stride": (2, 1), "no_bias": True}),
    ("calibrate_entropy", [HIST_GAPS, EDGES], {"num_quantized_bins": 3}),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _run(name, inputs, params):
    return run_op("_contrib_" + name, inputs, **params)[0]


def _rne(v, lo, hi):
    return np.clip(np.rint(v), lo, hi)


def test_quantize_equals_numpy_formula():
    x = _x(11)
    q, lo, hi = _run("quantize", [x, R1(-3), R1(5)], {"out_type": "int8"})
    np.testing.assert_array_equal(q, _rne(x * F32(127 / 5), -128, 127))
    assert q.dtype == np.int8 and (lo[0], hi[0]) == (-5, 5)
    q, lo, hi = _run("quantize", [x, R1(-3), R1(5)], {})
    np.testing.assert_array_equal(q, _rne(x * F32(255 / 5), 0, 255))
    assert q.dtype == np.uint8 and (lo[0], hi[0]) == (-3, 5)


def test_quantize_v2_and_dequantize_use_127_5():
    x = _x(3, 4)
    q, lo, hi = _run("quantize_v2", [x], {})
    real = np.abs(x).max()
    np.testing.assert_array_equal(q, _rne(x * (F32(127.5) / real), -128, 127))
    assert (lo[0], hi[0]) == (-real, real)
    back = _run("dequantize", [q, lo, hi], {})[0]
    np.testing.assert_array_equal(back, q.astype(F32) * (real / F32(127.5)))
    # a quantize/dequantize round trip is within half a step
    assert np.abs(back - x).max() <= real / 127.5 / 2 + 1e-6


def test_rounding_is_half_to_even():
    q = _run("quantize_v2", [HALVES], {"min_calib_range": -127.5, "max_calib_range": 127.5})[0]
    np.testing.assert_array_equal(q, [0, 2, 2, 0, -2, -2, 126, 127, -128, 127])


def test_requantize_formula():
    x = I32_SMALL
    q, lo, hi = _run("requantize", [x, R1(-100), R1(100)], {})
    real = F32(F32(300000) * F32(100)) / F32(2 ** 31)
    assert (lo[0], hi[0]) == (-real, real)
    scale = (F32(100) / F32(2 ** 31)) * (F32(127) / real)
    np.testing.assert_array_equal(q, _rne(x.astype(F32) * scale, -128, 127))


def test_quantize_asym_formula():
    """MXNet 1.9.1's pip build crashes (segfault) on quantize_asym, so this checks the formula
    of its source: uint8(x * scale + shift + 0.5), scale = 255 / (max - min)."""
    x = np.array([-2.0, -1, 0, 1, 2.5, 4], F32)
    q, scale, shift = _run("quantize_asym", [x], {})
    assert scale[0] == F32(255) / F32(6) and shift[0] == F32(255) - F32(4) * scale[0]
    np.testing.assert_array_equal(q, np.trunc(x * scale[0] + shift[0] + 0.5))
    assert q[0] == 0 and q[-1] == 255
    q, scale, shift = _run("quantize_asym", [np.array([-128, -1, 0, 127], np.int8)], {})
    np.testing.assert_array_equal(q, [0, 127, 128, 255])
    assert (scale[0], shift[0]) == (1, 128)
    q, scale, shift = _run("quantize_asym", [np.array([0, 7, 255], np.uint8)], {})
    np.testing.assert_array_equal(q, [0, 7, 255])
    assert (scale[0], shift[0]) == (1, 0)
    q = _run("quantize_asym", [x], {"min_calib_range": -1.0, "max_calib_range": 3.0})[0]
    s = F32(255) / F32(4)
    want = np.trunc((x * s + (F32(255) - F32(3) * s)).astype(np.float64) + 0.5)
    np.testing.assert_array_equal(q, want.astype(np.int64) & 255)   # out of range wraps


def test_calibrate_entropy_finds_the_smallest_divergence():
    thr, div = _run("calibrate_entropy", [HIST, EDGES], {"num_quantized_bins": 5})
    n = 21 // 2 + 1 - 5 // 2
    t, d, s = np.zeros(n, F32), np.zeros(n, F32), np.zeros(n, np.int64)
    R.entropy_divergences(HIST, EDGES, 5, t, d, s)
    assert not s.any() and div[0] == d.min() and thr[0] == t[np.argmin(d)]
    assert thr[0] in EDGES


def test_quantized_gemm_layers_are_exact_integer_sums():
    x, w, b = _i(3, 10), _i(4, 10), _i(4)
    rng = [R1(-1), R1(2), R1(-0.5), R1(0.3), R1(-0.1), R1(0.2)]
    out, lo, hi = _run("quantized_fully_connected", [x, w, b] + rng, {"num_hidden": 4})
    d_scale, w_scale = F32(127.5) / F32(2), F32(127.5) / F32(0.5)
    resc = (d_scale * w_scale * F32(0.2)) / F32(127.5)
    want = x.astype(np.int64) @ w.T.astype(np.int64) + np.trunc(b * resc).astype(np.int64)
    np.testing.assert_array_equal(out, want)
    assert hi[0] == -lo[0] == F32(F32(2) / 127 * (F32(0.5) / 127)) * F32(2 ** 31)
    xu, wc = _i(1, 2, 4, 4, dt=np.uint8), _i(3, 2, 3, 3)
    out = _run("quantized_conv", [xu, wc, b[:3]] + rng, {"kernel": (3, 3), "num_filter": 3})[0]
    for f in range(3):
        for i in range(2):
            for j in range(2):
                patch = xu[0, :, i:i + 3, j:j + 3].astype(np.int64)
                assert out[0, f, i, j] == (patch * wc[f]).sum() + b[f]


def test_no_gradients():
    for name in ("quantize", "quantize_v2", "quantize_asym", "dequantize", "requantize",
                 "calibrate_entropy", "quantized_fully_connected", "quantized_conv"):
        assert registry.get("_contrib_" + name).backward is None
        assert hasattr(mx.nd.contrib, name) and hasattr(mx.sym.contrib, name)


def _kernel_inputs():
    rs = np.random.RandomState(4)
    yield rs.uniform(-140, 140, 64).astype(F32), F32(0.91), -128.0, 127.0, np.int8
    yield HALVES, F32(1.0), -128.0, 127.0, np.int8
    yield HALVES, F32(2.0), 0.0, 255.0, np.uint8
    yield I32, F32(100 / 2 ** 31 * 63.5), -128.0, 127.0, np.int8
    yield rs.uniform(-3, 3, 50), F32(40.3), 0.0, 255.0, np.uint8


@pytest.mark.parametrize("case", list(_kernel_inputs()), ids=lambda c: str(c[0].dtype))
def test_cpu_kernels_equal_their_numpy_twins(case):
    x, scale, lo, hi, dt = case
    a, b = np.zeros(x.size, dt), np.ones(x.size, dt)
    K.scale_round(x, scale, lo, hi, a)
    R.scale_round(x, scale, lo, hi, b)
    np.testing.assert_array_equal(a, b)
    if x.dtype != np.int32:
        a, b = np.zeros(x.size, np.uint8), np.ones(x.size, np.uint8)
        K.asym_quantize(x, F32(0.7), F32(100.0), a)
        R.asym_quantize(x, F32(0.7), F32(100.0), b)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("hist,nqb", [(HIST, 5), (HIST_GAPS, 5), (HIST_GAPS, 3),
                                      (np.abs(_x(41, seed=2)) * 9, 7)])
def test_entropy_kernel_equals_its_numpy_twin(hist, nqb):
    hist = hist.astype(F32)
    edges = np.linspace(-2, 2, hist.size + 1).astype(F32)
    n = hist.size // 2 + 1 - nqb // 2
    res = []
    for mod in (K, R):
        t, d, s = np.zeros(n, F32), np.zeros(n, F32), np.zeros(n, np.int64)
        mod.entropy_divergences(hist, edges, nqb, t, d, s)
        res.append((t, d, s))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


@pytest.mark.oracle
def test_mxnet_parity_bit_for_bit():
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    args = [mx.nd.array(a, dtype=a.dtype) for a in inputs]
    r = getattr(mx.nd.contrib, name)(*args, **params)
    r = r if isinstance(r, (list, tuple)) else [r]
    out[k] = [o.asnumpy() for o in r]
""", cases=CASES)
    for k, (name, inputs, params) in enumerate(CASES):
        got = _run(name, inputs, params)
        assert len(got) == len(ref[k]), IDS[k]
        for i, (g, want) in enumerate(zip(got, ref[k])):
            assert g.dtype == want.dtype and g.shape == want.shape, (IDS[k], i, g.dtype)
            np.testing.assert_array_equal(g, want, err_msg=f"{IDS[k]} output {i}")


BAD = [
    ("quantize", [_x(3), R1(-1), R1(1)], {"out_type": "int32"}),
    ("quantize", [_x(3).astype(np.float64), R1(-1), R1(1)], {}),
    ("quantize", [_x(3), np.array([-1, 2], F32), R1(1)], {}),
    ("dequantize", [_x(3), R1(-1), R1(1)], {}),
    ("dequantize", [np.array([1, 2], np.int32), R1(-1), R1(1)], {}),
    ("requantize", [np.array([1, 2], np.int8), R1(-1), R1(1)], {}),
    ("quantize_v2", [_x(3).astype(np.float64)], {}),
    ("quantize_v2", [_x(3)], {"out_type": "int32"}),
    ("calibrate_entropy", [HIST, EDGES[:-1]], {"num_quantized_bins": 5}),
    ("quantized_conv", [_i(2, 3, 5, 5), _i(4, 3, 3, 3), _i(4), R1(0), R1(2), R1(-0.5),
                        R1(0.3), R1(-0.1), R1(0.2)], {"kernel": (3, 3), "num_filter": 4}),
    ("quantized_conv", [_i(2, 4, 5, 5, dt=np.uint8), _i(4, 2, 3, 3), _i(4), R1(0), R1(2),
                        R1(-0.5), R1(0.3), R1(-0.1), R1(0.2)],
     {"kernel": (3, 3), "num_filter": 4, "num_group": 2}),
    ("quantized_fully_connected", [_i(3, 10), _i(4, 10, dt=np.uint8), _i(4), R1(-1), R1(2),
                                   R1(-0.5), R1(0.3), R1(-0.1), R1(0.2)], {"num_hidden": 4}),
]


def test_even_histograms_are_refused():
    """MXNet reads one edge past the end for an even number of bins; mxteach refuses."""
    with pytest.raises(MXNetError, match="odd"):
        _run("calibrate_entropy", [HIST[:20], EDGES[:21]], {"num_quantized_bins": 5})


@pytest.mark.oracle
def test_errors_as_mxnet():
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    try:
        args = [mx.nd.array(a, dtype=a.dtype) for a in inputs]
        r = getattr(mx.nd.contrib, name)(*args, **params)
        [o.asnumpy() for o in (r if isinstance(r, (list, tuple)) else [r])]
        out[k] = 'ok'
    except mx.base.MXNetError as e:
        out[k] = 'error'
""", cases=BAD)
    for k, (name, inputs, params) in enumerate(BAD):
        assert ref[k] == "error", (k, name)
        with pytest.raises(MXNetError):
            nd = [mx.nd.array(a, dtype=a.dtype) for a in inputs]
            r = getattr(mx.nd.contrib, name)(*nd, **params)
            [o.asnumpy() for o in (r if isinstance(r, (list, tuple)) else [r])]


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES + [("quantize_asym", [_x(7)], {}),
                            ("quantize_asym", [np.array([-128, 0, 5], np.int8)], {}),
                            ("quantize_asym", [_x(5)], {"min_calib_range": -1.0,
                                                        "max_calib_range": 2.0})],
                         ids=lambda c: c[0])
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
    from mxteach.kernels.cuda import quantization as C
    for x, scale, lo, hi, dt in _kernel_inputs():
        d = cuda.device_array(x.size, dt)
        C.scale_round(cuda.to_device(x), scale, lo, hi, d)
        want = np.zeros(x.size, dt)
        R.scale_round(x, scale, lo, hi, want)
        np.testing.assert_array_equal(d.copy_to_host(), want)
        assert C.min_max(cuda.to_device(x)) == (x.min(), x.max())
    q = np.array([-128, -3, 0, 127], np.int8)
    d = cuda.device_array(4, F32)
    C.scale(cuda.to_device(q), F32(0.03), d)
    np.testing.assert_array_equal(d.copy_to_host(), q.astype(F32) * F32(0.03))


def test_bias_kernel_equals_its_numpy_twin():
    y3 = np.random.RandomState(8).randint(-2 ** 20, 2 ** 20, (2, 3, 4)).astype(np.float64)
    bias = np.array([5, -7, 2 ** 30], np.int32)
    a, b = np.zeros(y3.shape, np.int32), np.ones(y3.shape, np.int32)
    K.bias_to_int(y3, bias, a)
    R.bias_to_int(y3, bias, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.cudasim
def test_cuda_bias_kernel_equals_its_numpy_twin():
    from numba import cuda
    from mxteach.kernels.cuda import quantization as C
    y3 = np.random.RandomState(8).randint(-2 ** 20, 2 ** 20, (2, 3, 4)).astype(np.float64)
    bias = np.array([5, -7, 2 ** 30], np.int32)
    d = cuda.device_array(y3.shape, np.int32)
    C.bias_to_int(cuda.to_device(y3), cuda.to_device(bias), d)
    want = np.zeros(y3.shape, np.int32)
    R.bias_to_int(y3, bias, want)
    np.testing.assert_array_equal(d.copy_to_host(), want)
    for hist, nqb in ((HIST, 5), (HIST_GAPS, 3), (np.abs(_x(41, seed=2)) * 9, 7)):
        edges = np.linspace(-2, 2, hist.size + 1).astype(F32)
        n = hist.size // 2 + 1 - nqb // 2
        want = [np.zeros(n, F32), np.zeros(n, F32), np.zeros(n, np.int64)]
        R.entropy_divergences(hist.astype(F32), edges, nqb, *want)
        got = [cuda.device_array(n, w.dtype) for w in want]
        C.entropy_divergences(cuda.to_device(hist.astype(F32)), cuda.to_device(edges), nqb, *got)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.copy_to_host(), w)
    q = np.array([-128, 0, 127], np.int8)
    f = cuda.device_array(3, np.float64)
    C.to_float64(cuda.to_device(q), f)
    np.testing.assert_array_equal(f.copy_to_host(), q)


@pytest.mark.oracle
def test_quantized_rnn_names_shapes_and_refusal_as_mxnet():
    """MXNet 1.9.1's CPU build cannot run quantized_rnn outside its quantization pass (every
    call fails in MKL-DNN's reorder); names, shapes and the refusal are compared."""
    code = """
for k, extra in enumerate([{}, {'state_outputs': True}]):
    s = mx.sym.contrib.quantized_rnn(state_size=5, num_layers=1, mode='lstm', name='q', **extra)
    a, o, _ = s.infer_shape(q_data=(3, 2, 4))
    out[k] = (s.list_arguments(), s.list_outputs(), [list(t) for t in a], [list(t) for t in o])
try:
    out['run'] = mx.nd.contrib.quantized_rnn(
        mx.nd.array(x, dtype='uint8'), mx.nd.array(params), mx.nd.zeros((1, 2, 5)),
        mx.nd.zeros((1, 2, 5)), mx.nd.array([0.0]), mx.nd.array([2.0]), state_size=5,
        num_layers=1, mode='lstm').asnumpy()
except mx.base.MXNetError as e:
    out['run'] = 'error'
"""
    x = _i(3, 2, 4, dt=np.uint8)
    params = np.random.RandomState(1).uniform(-1, 1, 220).astype(F32)
    ref = run_oracle(code, x=x, params=params)
    local = {"mx": mx, "out": {}, "x": x, "params": params}
    with pytest.raises(MXNetError, match="reorder"):
        exec(code.replace("except mx.base.MXNetError as e:\n    out['run'] = 'error'",
                          "finally:\n    pass"), local)
    for k in range(2):
        assert tuple(local["out"][k]) == tuple(ref[k]), (local["out"][k], ref[k])
    assert ref["run"] == "error"
    with pytest.raises(MXNetError, match="LSTM"):
        mx.sym.contrib.quantized_rnn(state_size=5, num_layers=1, mode="gru").infer_type(
            quantized_rnn0_data="uint8")


@pytest.mark.cudasim
def test_quantized_rnn_is_refused_on_the_gpu_too():
    from cuda_compare import gpu_run
    inputs = [_i(3, 2, 4, dt=np.uint8), np.zeros(220, F32), np.zeros((1, 2, 5), F32),
              np.zeros((1, 2, 5), F32), R1(0), R1(2)]
    with pytest.raises(MXNetError, match="reorder"):
        gpu_run("_contrib_quantized_rnn", inputs, {"state_size": 5, "num_layers": 1,
                                                   "mode": "lstm"}, [], [], [])
