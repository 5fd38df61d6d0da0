"""fft, ifft and count_sketch (ops/signal.py, issue 17).

MXNet 1.9.1 implements these three on the GPU only (cuFFT / CUDA kernels): on a CPU its
operators raise "fft is only available for GPU", and the oracle has no GPU. So there is no
MXNet parity of values here: the reference is numpy (numpy.fft, and the count-sketch definition)
following the layout of MXNet's GPU code (fft-inl.h, ifft-inl.h, count_sketch-inl.h): interleaved
(real, imag) pairs on the last axis, both transforms unnormalised, count_sketch gradients to the
data only. What the oracle does check is the symbol interface (argument names, shapes) and that
the CPU call fails there."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import signal as K
from mxteach.kernels.reference import signal as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, shape)


def _interleave(z):
    return np.stack([z.real, z.imag], -1).reshape(*z.shape[:-1], -1)


def _sketch_inputs(n=3, in_dim=6, out_dim=4, seed=0, lead=()):
    rs = np.random.RandomState(seed)
    h = rs.randint(0, out_dim, (1, in_dim)).astype(np.float64)
    s = rs.choice([-1.0, 1.0], (1, in_dim))
    return [rs.uniform(-1, 1, lead + (n, in_dim)), h, s], out_dim


def _sketch(x, h, s, out_dim):
    out = np.zeros(x.shape[:-1] + (out_dim,))
    for i in range(x.shape[-1]):
        out[..., int(h[0, i])] += s[0, i] * x[..., i]
    return out


CASES = [
    ("_contrib_fft", [_x(3, 5)], {}, lambda x: _interleave(np.fft.fft(x))),
    ("_contrib_fft", [_x(2, 1, 3, 4)], {"compute_size": 2}, lambda x: _interleave(np.fft.fft(x))),
    ("_contrib_ifft", [_x(3, 8)], {},
     lambda z: (np.fft.ifft(z[..., 0::2] + 1j * z[..., 1::2]) * 4).real),
    ("_contrib_ifft", [_x(2, 2, 1, 6)], {"compute_size": 1},
     lambda z: (np.fft.ifft(z[..., 0::2] + 1j * z[..., 1::2]) * 3).real),
    ("_contrib_count_sketch", _sketch_inputs()[0], {"out_dim": 4},
     lambda x, h, s: _sketch(x, h, s, 4)),
    ("_contrib_count_sketch", _sketch_inputs(n=2, lead=(2, 1), seed=1)[0],
     {"out_dim": 4, "processing_batch_size": 1}, lambda x, h, s: _sketch(x, h, s, 4)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        out = run_op(name, [a.astype(dtype) for a in inputs], **params)[0][0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, formula(*inputs), rtol=tol, atol=tol)


def test_ifft_of_fft_is_d_times_the_input():
    x = mx.nd.array(_x(4, 6), dtype="float64")
    back = mx.nd.contrib.ifft(mx.nd.contrib.fft(x))
    np.testing.assert_allclose(back.asnumpy(), 6 * x.asnumpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params, _ = case
    # count_sketch: h and s are indices and signs, not differentiable inputs
    wrt = [0] if name == "_contrib_count_sketch" else None
    check_op_gradient(name, inputs, params, wrt=wrt, rtol=1e-6, atol=1e-9)


def test_count_sketch_gives_hash_and_signs_zero_gradient():
    inputs, out_dim = _sketch_inputs()
    init = [np.full_like(a, 0.5) for a in inputs]
    _, grads = run_op_backward("_contrib_count_sketch", inputs, init_grads=init,
                               out_dim=out_dim)
    assert np.all(grads[1] == 0) and np.all(grads[2] == 0)


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[4]], ids=lambda c: c[0])
def test_grad_req_add(case):
    name, inputs, params, _ = case
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    reqs = ["add"] + ["null"] * (len(inputs) - 1)
    _, added = run_op_backward(name, inputs, reqs=reqs, init_grads=init, **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-10
    real, cplx = _x(3, 7).astype(dtype), _x(3, 14, seed=1).astype(dtype)
    (x, h, s), _ = _sketch_inputs()
    x, h, s = x.astype(dtype), h.astype(dtype).reshape(-1), s.astype(dtype).reshape(-1)
    dy = _x(3, 4, seed=2).astype(dtype)
    got = {}
    for mod in (K, R):
        f, fi = np.empty((3, 14), dtype), np.full((3, 7), 0.5, dtype)
        mod.dft(real, False, -1, False, False, f)
        mod.dft(cplx, True, 1, True, True, fi)
        sk, dsk = np.empty((3, 4), dtype), np.full_like(x, 0.5)
        mod.sketch_forward(x, h, s, sk)
        mod.sketch_backward(dy, h, s, True, dsk)
        got[mod] = (f, fi, sk, dsk)
    for k, (a, b) in enumerate(zip(got[K], got[R])):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"result {k}")


@pytest.mark.oracle
def test_symbol_interface_equals_mxnets_and_mxnet_cpu_refuses():
    code = """
d = mx.sym.Variable('data')
syms = [(mx.sym.contrib.fft(d, name='f'), dict(data=(3, 4))),
        (mx.sym.contrib.ifft(d, compute_size=4, name='i'), dict(data=(2, 3, 2, 6))),
        (mx.sym.contrib.count_sketch(d, mx.sym.Variable('h'), mx.sym.Variable('s'), out_dim=5,
                                     name='c'), dict(data=(3, 4), h=(1, 4), s=(1, 4)))]
for k, (s, shapes) in enumerate(syms):
    a, o, _ = s.infer_shape(**shapes)
    out[k] = (s.list_arguments(), s.list_outputs(), [list(t) for t in a], [list(t) for t in o])
"""
    ref = run_oracle(code + """
try:
    mx.nd.contrib.fft(mx.nd.ones((2, 4))).wait_to_read()
    out['cpu'] = 'ran'
except Exception as err:
    out['cpu'] = str(err)
""")
    local = {"mx": mx, "out": {}}
    exec(code, local)
    for k in range(3):
        assert tuple(local["out"][k]) == tuple(ref[k]), (k, local["out"][k], ref[k])
    assert "only available for GPU" in ref["cpu"]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.contrib.fft(mx.nd.ones((2, 3, 4))), "2-D (batch, d) or 4-D"),
    (lambda: mx.nd.contrib.ifft(mx.nd.ones((2, 5))), "must be even"),
    (lambda: mx.nd.contrib.count_sketch(mx.nd.ones((2, 3)), mx.nd.zeros((1, 4)),
                                        mx.nd.ones((1, 4)), out_dim=2), "expected (1, 3)"),
    (lambda: mx.nd.contrib.count_sketch(mx.nd.ones((2, 3)), mx.nd.array([[0, 5, 1]]),
                                        mx.nd.ones((1, 3)), out_dim=2), "[0, out_dim = 2)"),
    (lambda: mx.nd.contrib.fft(mx.nd.ones((2, 4)), compute_size=0), "expected a value >= 1"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call().asnumpy()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    grads = [0] if name == "_contrib_count_sketch" else None
    check(name, [a.astype(np.float64) for a in inputs], params, grads=grads, rtol=1e-10,
          atol=1e-12)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import signal as C
    cplx = _x(2, 10, seed=1)
    out = cuda.to_device(np.full((2, 10), 0.5))
    C.dft(cuda.to_device(cplx), True, -1, False, True, out)
    want = np.full((2, 10), 0.5)
    R.dft(cplx, True, -1, False, True, want)
    np.testing.assert_allclose(out.copy_to_host(), want, rtol=1e-12, atol=1e-12)
