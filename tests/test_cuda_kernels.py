"""CUDA kernels (kernels/cuda) against the numpy references their CPU twins are tested against,
on numba-cuda's simulator: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_cuda_kernels.py``.

Shapes stay tiny (the simulator runs every thread as a Python thread). The launch policy of a
real GPU (many blocks, grid-stride loops that wrap) is exercised with ``launch.policy``.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from numba.core import config

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.reference import loss as ref_loss, nn as ref_nn
from mxteach.kernels.cpu.nn import ACT_CODES

from mxteach.optimizer.sgd import sgd_step as ref_sgd_step

pytestmark = pytest.mark.cudasim

if config.ENABLE_CUDASIM:          # only then is numba.cuda the simulator
    from numba import cuda
    from mxteach.kernels.cuda import elemwise, launch, loss, nn, optim

TOL = dict(rtol=1e-5, atol=1e-6)
OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def dev(a):
    return cuda.to_device(np.ascontiguousarray(a))


def rnd(*shape, seed=0, dtype=np.float32, low=-2.0, high=2.0):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(dtype)


def sum_to(full, shape):
    """numpy: the gradient of a broadcast operand, summed back to its shape."""
    nd = full.ndim
    padded = (1,) * (nd - len(shape)) + tuple(shape)
    axes = tuple(k for k in range(nd) if padded[k] == 1 and full.shape[k] != 1)
    return full.sum(axis=axes, keepdims=True).reshape(shape)


def partials(verb, a, b):
    """numpy: d(a op b)/da and d(a op b)/db, as ops/elemwise.py's gradient table."""
    one = np.ones(np.broadcast_shapes(a.shape, b.shape), a.dtype)
    return {"add": (one, one), "sub": (one, -one), "mul": (one * b, one * a),
            "div": (one / b, -one * a / (b * b))}[verb]


# -- activations: the twins of kernels/cpu/nn.py --------------------------------------------
@pytest.mark.parametrize("name", sorted(ACT_CODES, key=ACT_CODES.get))
def test_unary_forward_backward_match_reference(name):
    code, slope = ACT_CODES[name], 0.3
    x = rnd(37, seed=code)
    x[:3] = [0.0, 25.0, -25.0]        # relu at 0, softrelu above its threshold, saturation
    want = np.empty_like(x)
    ref_nn.unary_forward(x, want, code, slope)
    out = cuda.device_array_like(x)
    nn.unary_forward(dev(x), out, code, slope)
    np.testing.assert_allclose(out.copy_to_host(), want, **TOL)

    dy, dx0 = rnd(37, seed=1), rnd(37, seed=2)
    for accumulate in (False, True):
        want_dx = dx0.copy()
        ref_nn.unary_backward(x, want, dy, want_dx, code, slope, accumulate)
        dx = dev(dx0)
        nn.unary_backward(dev(x), dev(want), dev(dy), dx, code, slope, accumulate)
        np.testing.assert_allclose(dx.copy_to_host(), want_dx, rtol=1e-5, atol=1e-5)


# -- elementwise arithmetic with broadcasting -------------------------------------------------
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (1, 3, 1)), ((4, 1), (1, 5)),
          ((5,), (2, 1, 5))]


@pytest.mark.parametrize("verb", sorted(OPS))
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_forward_and_grads_match_numpy(verb, sa, sb):
    code = elemwise.BINARY_CODES[verb]
    a, b = rnd(*sa, seed=1), rnd(*sb, seed=2, low=0.5, high=2.0)   # b away from 0 for div
    shape = np.broadcast_shapes(sa, sb)
    out = cuda.device_array(shape, np.float32)
    elemwise.binary_forward(dev(a), dev(b), out, code)
    np.testing.assert_allclose(out.copy_to_host(), OPS[verb](a, b), **TOL)

    g = rnd(*shape, seed=3)
    da, db = partials(verb, a, b)
    for side, (x, d) in enumerate([(a, da), (b, db)]):
        start = rnd(*x.shape, seed=4)
        for accumulate in (False, True):
            got = dev(start)
            elemwise.binary_grad(dev(g), dev(a), dev(b), code, side, accumulate, got)
            want = sum_to(g * d, x.shape) + (start if accumulate else 0)
            np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-5, atol=1e-5)


def test_binary_forward_in_place_adds_a_bias_row():
    x, bias = rnd(4, 6, seed=1), rnd(6, seed=2)
    d = dev(x)
    elemwise.binary_forward(d, dev(bias), d, elemwise.BINARY_CODES["add"])
    np.testing.assert_allclose(d.copy_to_host(), x + bias, **TOL)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       verb=st.sampled_from(sorted(OPS)))
def test_binary_broadcasting_any_shapes(shapes, verb):
    (sa, sb), shape = shapes.input_shapes, shapes.result_shape
    code = elemwise.BINARY_CODES[verb]
    a, b = rnd(*sa, seed=5), rnd(*sb, seed=6, low=0.5, high=2.0)
    out = cuda.device_array(shape, np.float32)
    elemwise.binary_forward(dev(a), dev(b), out, code)
    np.testing.assert_allclose(out.copy_to_host(), OPS[verb](a, b), **TOL)
    g = rnd(*shape, seed=7)
    got = cuda.device_array(sb, np.float32)
    elemwise.binary_grad(dev(g), dev(a), dev(b), code, 1, False, got)
    np.testing.assert_allclose(got.copy_to_host(), sum_to(g * partials(verb, a, b)[1], sb),
                               rtol=1e-5, atol=1e-5)


def test_binary_kernels_refuse_integer_and_mixed_dtypes():
    a = dev(np.arange(4, dtype=np.int32))
    with pytest.raises(MXNetError, match="float32 or float64"):
        elemwise.binary_forward(a, a, cuda.device_array(4, np.int32), 0)
    with pytest.raises(MXNetError, match="float32 or float64"):
        elemwise.binary_forward(dev(rnd(4)), dev(rnd(4, dtype=np.float64)),
                                cuda.device_array(4, np.float32), 0)


def test_col_sum_fill_copy():
    g = rnd(7, 5, seed=1)
    start = rnd(5, seed=2)
    for accumulate in (False, True):
        out = dev(start)
        elemwise.col_sum(dev(g), out, accumulate)
        np.testing.assert_allclose(out.copy_to_host(),
                                   g.sum(axis=0) + (start if accumulate else 0), **TOL)
    buf = cuda.device_array((3, 4), np.float64)
    elemwise.fill(buf, 2.5)
    np.testing.assert_array_equal(buf.copy_to_host(), np.full((3, 4), 2.5))
    src = rnd(12, seed=3, dtype=np.float64)
    dst = cuda.device_array((3, 4), np.float32)           # reshapes and casts
    elemwise.copy(dev(src), dst)
    np.testing.assert_array_equal(dst.copy_to_host(), src.reshape(3, 4).astype(np.float32))
    elemwise.copy(dev(src), dst, accumulate=True)
    np.testing.assert_allclose(dst.copy_to_host(), 2 * src.reshape(3, 4), rtol=1e-6)
    with pytest.raises(MXNetError, match="12 elements"):
        elemwise.copy(dev(src), cuda.device_array(5, np.float32))


# -- matmul -----------------------------------------------------------------------------------
def _operands(m, k, n, trans_a, trans_b, dtype=np.float32, seed=0):
    a = rnd(*((k, m) if trans_a else (m, k)), seed=seed, dtype=dtype)
    b = rnd(*((n, k) if trans_b else (k, n)), seed=seed + 1, dtype=dtype)
    want = (a.T if trans_a else a) @ (b.T if trans_b else b)
    return a, b, want


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("kernel", ["naive", "tiled", "blocked"])
def test_matmul_kernels_match_numpy(kernel, trans_a, trans_b):
    # tiled: 17x18 output over 20 inner -> 2x2 blocks, partial tiles on every edge (blocked:
    # partial 4x4 register blocks on both edges)
    m, k, n = (5, 7, 6) if kernel == "naive" else (17, 20, 18)
    fn = getattr(nn, "matmul_" + kernel)
    a, b, want = _operands(m, k, n, trans_a, trans_b)
    start = rnd(m, n, seed=9)
    accumulate = trans_a != trans_b            # write and add, without doubling the launches
    out = dev(start)
    fn(dev(a), dev(b), out, trans_a, trans_b, accumulate)
    np.testing.assert_allclose(out.copy_to_host(), want + (start if accumulate else 0),
                               rtol=1e-5, atol=1e-5)


def test_matmul_float64_and_dispatch():
    a, b, want = _operands(4, 3, 5, False, True, dtype=np.float64)
    out = cuda.device_array((4, 5), np.float64)
    nn.matmul(dev(a), dev(b), out, False, True)          # the simulator's policy: blocked
    np.testing.assert_allclose(out.copy_to_host(), want, rtol=1e-12)
    with pytest.raises(MXNetError, match="op\\(a\\) is 4x3"):
        nn.matmul(dev(a), dev(b), cuda.device_array((4, 4), np.float64), False, True)
    with pytest.raises(MXNetError, match="share dtype"):
        nn.matmul(dev(a), dev(b.astype(np.float32)), out)


def test_matmul_policy_picks_the_kernel_and_blocked_grids_wrap(monkeypatch):
    """launch.py's "gemm": blocked on the simulator, tiled (naive below a tile) on a GPU; the
    blocked kernel on a GPU-like grid of several small blocks strides over its 4x4 blocks."""
    used = []
    for name in ("naive", "tiled", "blocked"):
        real = getattr(nn, "matmul_" + name)
        monkeypatch.setattr(nn, "matmul_" + name,
                            lambda *args, _n=name, _f=real: (used.append(_n), _f(*args)))
    a, b, want = _operands(17, 5, 18, True, True)
    for policy, shape, kernel in (("simulator", (17, 18), "blocked"), ("gpu", (17, 18), "tiled"),
                                  ("gpu", (5, 18), "naive")):
        with launch.policy(policy):
            out = cuda.device_array(shape, np.float32)
            nn.matmul(dev(a[:, :shape[0]].copy()), dev(b), out, True, True)
        np.testing.assert_allclose(out.copy_to_host(), want[:shape[0]], rtol=1e-5, atol=1e-5)
        assert used.pop() == kernel, policy
    with launch.policy({"block_2d": 2, "max_blocks_2d": 2}):    # 4x4 threads, 5x5 blocks
        out = cuda.device_array((17, 18), np.float32)
        nn.matmul_blocked(dev(a), dev(b), out, True, True)
    np.testing.assert_allclose(out.copy_to_host(), want, rtol=1e-5, atol=1e-5)


# -- softmax and SoftmaxOutput: the twins of kernels/cpu/loss.py ------------------------------
@pytest.mark.parametrize("use_log", [False, True])
def test_softmax_forward_backward_match_reference(use_log):
    x = rnd(2, 5, 3, seed=1, low=-4, high=4)
    lengths = np.array([[5, 3, 0], [1, 5, 7]], dtype=np.int64)   # 0 and beyond n included
    want = np.empty_like(x)
    ref_loss.softmax_forward(x, lengths, 0.7, use_log, want)
    out = cuda.device_array_like(x)
    loss.softmax_forward(dev(x), dev(lengths), 0.7, use_log, out)
    np.testing.assert_allclose(out.copy_to_host(), want, **TOL)

    g, start = rnd(2, 5, 3, seed=2), rnd(2, 5, 3, seed=3)
    for accumulate in (False, True):
        want_g = start.copy()
        ref_loss.softmax_backward(want, g, lengths, 0.7, use_log, accumulate, want_g)
        got = dev(start)
        loss.softmax_backward(dev(want), dev(g), dev(lengths), 0.7, use_log, accumulate, got)
        np.testing.assert_allclose(got.copy_to_host(), want_g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("row_threads", [0, 1])
def test_softmax_rows_as_a_block_tree_or_one_thread_each(row_threads):
    """launch.py's "row_threads": 0 (a GPU's: a block as wide as the row, tree max and sum)
    or 1 (the simulator's: one thread per row, no barrier) give the reference softmax."""
    x = rnd(3, 12, 2, seed=4, low=-4, high=4)
    lengths = np.array([[12, 5], [0, 9], [12, 1]], dtype=np.int64)
    want, g = np.empty_like(x), rnd(3, 12, 2, seed=5)
    ref_loss.softmax_forward(x, lengths, 1.3, False, want)
    want_g = np.zeros_like(x)
    ref_loss.softmax_backward(want, g, lengths, 1.3, False, False, want_g)
    with launch.policy({"row_threads": row_threads}):
        assert loss._row_grid(x.shape)[1] == (1 if row_threads else 16)
        out, got = cuda.device_array_like(x), cuda.device_array_like(x)
        loss.softmax_forward(dev(x), dev(lengths), 1.3, False, out)
        loss.softmax_backward(out, dev(g), dev(lengths), 1.3, False, False, got)
    np.testing.assert_allclose(out.copy_to_host(), want, **TOL)
    np.testing.assert_allclose(got.copy_to_host(), want_g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("smooth_alpha,use_ignore,times_out,accumulate",
                         [(0.0, False, False, False), (0.0, True, False, True),
                          (0.2, True, True, False), (0.1, False, True, True)])
def test_softmax_output_grad_matches_reference(smooth_alpha, use_ignore, times_out, accumulate):
    rows, classes, pos = 4, 5, 2
    x = rnd(rows, classes, pos, seed=1)
    out = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    label = np.array([[0, 4.7], [2, -1], [-1, 3], [9, 1.2]], dtype=np.float32)  # 9: no class
    start = rnd(rows, classes, pos, seed=2)
    want = start.copy()
    ref_loss.softmax_output_grad(out, label.astype(np.float64), -1.0, use_ignore, smooth_alpha,
                                 0.25, times_out, accumulate, want)
    got = dev(start)
    loss.softmax_output_grad(dev(out), dev(label), -1.0, use_ignore, smooth_alpha, 0.25,
                             times_out, accumulate, got)
    np.testing.assert_allclose(got.copy_to_host(), want, **TOL)


def test_valid_count_truncates_like_the_cpu():
    label = np.array([[0, -1, 2.9], [-1.5, -0.5, 1]], dtype=np.float32)  # -1.5 -> -1, -0.5 -> 0
    assert loss.valid_count(dev(label), -1.0) == 4


# -- SGD: the twin of optimizer_sgd.sgd_step --------------------------------------------------
@pytest.mark.parametrize("momentum,clip", [(0.0, None), (0.9, None), (0.9, 0.05), (0.0, -1.0)])
def test_sgd_step_matches_numpy_rule(momentum, clip):
    w, g, mom = rnd(3, 4, seed=1), rnd(3, 4, seed=2), rnd(3, 4, seed=3)
    dw, dmom = dev(w), dev(mom)
    state = None if momentum == 0.0 else mom
    ref_sgd_step(w, g, state, 0.1, 0.01, 0.5, clip, momentum)
    optim.sgd_step(dw, dev(g), None if state is None else dmom, 0.1, 0.01, 0.5, clip, momentum)
    np.testing.assert_allclose(dw.copy_to_host(), w, rtol=1e-6, atol=1e-7)
    if state is not None:
        np.testing.assert_allclose(dmom.copy_to_host(), mom, rtol=1e-6, atol=1e-7)


def test_sgd_step_checks_shapes():
    with pytest.raises(MXNetError, match="gradient"):
        optim.sgd_step(dev(rnd(3)), dev(rnd(4)), None, 0.1, 0, 1, None, 0)


# -- launch policy and device checks ----------------------------------------------------------
def test_real_gpu_style_grids_with_many_blocks_wrap_correctly():
    """Several small blocks and a grid smaller than the data: every grid-stride loop wraps."""
    with launch.policy({"threads_1d": 8, "max_blocks_1d": 3, "block_2d": 4,
                        "max_blocks_2d": 2}):
        assert launch.grid_1d(100) == (3, 8) and launch.grid_2d(9, 20) == ((2, 2), (4, 4))
        x = rnd(61, seed=1)
        out = cuda.device_array_like(x)
        nn.unary_forward(dev(x), out, ACT_CODES["tanh"], 0.0)
        np.testing.assert_allclose(out.copy_to_host(), np.tanh(x), **TOL)
        a, b = rnd(6, 9, seed=2), rnd(9, seed=3)
        o = cuda.device_array((6, 9), np.float32)
        elemwise.binary_forward(dev(a), dev(b), o, elemwise.BINARY_CODES["mul"])
        np.testing.assert_allclose(o.copy_to_host(), a * b, **TOL)
        a, b, want = _operands(11, 4, 13, True, False)
        o = cuda.device_array((11, 13), np.float32)
        nn.matmul_naive(dev(a), dev(b), o, True, False)
        np.testing.assert_allclose(o.copy_to_host(), want, rtol=1e-5, atol=1e-5)
    with launch.policy("gpu"):
        assert launch.grid_1d(1000) == (4, 256)
        assert launch.grid_2d(40, 20) == ((2, 3), (16, 16))


def test_kernels_refuse_host_arrays():
    """A numpy argument would be copied to the device and back on every launch."""
    with pytest.raises(MXNetError, match="'out' is a ndarray, not a device array"):
        nn.unary_forward(dev(rnd(4)), np.zeros(4, np.float32), 0, 0.0)


def test_simulator_device_and_missing_device():
    assert launch.SIMULATOR and mx.context.num_gpus() == 1
    assert launch.require(0) == 1
    with pytest.raises(MXNetError, match=r"gpu\(1\) does not exist: numba sees 1"):
        launch.require(1)
