"""Deconvolution and UpSampling (ops/nn_extra_conv.py, issue 17): a direct numpy scatter formula,
the nearest-upsampling kernels against their numpy twins, finite differences, grad_req add,
MXNet 1.9.1 parity of forward and backward (one oracle call), CPU vs GPU under the simulator,
and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import nn_extra_conv as K
from mxteach.kernels.reference import nn_extra_conv as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, shape)


def _deconv(x, w, b=None, stride=(1, 1), pad=(0, 0), dilate=(1, 1), adj=(0, 0), group=1):
    """Every input pixel adds its value times the kernel into the output (2-D, the definition
    of a transposed convolution)."""
    n, c, h, wd = x.shape
    fg, kh, kw = w.shape[1:]
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dilate
    oh = sh * (h - 1) + dh * (kh - 1) + 1 - 2 * ph + adj[0]
    ow = sw * (wd - 1) + dw * (kw - 1) + 1 - 2 * pw + adj[1]
    full = np.zeros((n, fg * group, oh + 2 * ph + sh, ow + 2 * pw + sw))
    cg = c // group
    for ci in range(c):
        g = ci // cg
        for i in range(h):
            for j in range(wd):
                for ki in range(kh):
                    for kj in range(kw):
                        full[:, g * fg:(g + 1) * fg, i * sh + ki * dh, j * sw + kj * dw] += (
                            x[:, ci, i, j][:, None] * w[ci, :, ki, kj][None, :])
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _deconv1d(x, w, **kw):
    return _deconv(x[:, :, None, :], w[:, :, None, :], **kw)[:, :, 0, :]


def _nearest(x, s):
    return x.repeat(s, axis=2).repeat(s, axis=3)


CASES = [
    ("Deconvolution", [_x(2, 3, 3, 4), _x(3, 2, 3, 3, seed=1)], {"kernel": (3, 3), "num_filter": 2},
     lambda x, w: _deconv(x, w)),
    ("Deconvolution", [_x(1, 4, 3, 3), _x(4, 3, 3, 2, seed=1), _x(6, seed=2)],
     {"kernel": (3, 2), "num_filter": 6, "num_group": 2, "stride": (2, 3), "pad": (1, 0),
      "adj": (1, 2), "dilate": (1, 2), "no_bias": False},
     lambda x, w, b: _deconv(x, w, b, (2, 3), (1, 0), (1, 2), (1, 2), 2)),
    ("Deconvolution", [_x(2, 2, 5), _x(2, 3, 3, seed=1)],
     {"kernel": (3,), "num_filter": 3, "stride": (2,), "target_shape": (10,)},
     lambda x, w: _deconv1d(x, w, stride=(1, 2), pad=(0, 1), adj=(0, 1))),   # pad, adj: 1, 1
    ("Deconvolution", [_x(1, 2, 4, 3), _x(2, 2, 4, 4, seed=1)],
     {"kernel": (4, 4), "num_filter": 2, "stride": (2, 2), "target_shape": (8, 7)},
     lambda x, w: _deconv(x, w, stride=(2, 2), pad=(1, 1), adj=(0, 1))),
    ("UpSampling", [_x(1, 2, 2, 3)], {"scale": 2, "sample_type": "nearest"},
     lambda x: _nearest(x, 2)),
    ("UpSampling", [_x(2, 2, 2, 3), _x(2, 3, 4, 6, seed=1)],
     {"scale": 2, "sample_type": "nearest", "num_args": 2},
     lambda x, y: np.concatenate([_nearest(x, 2), y], axis=1)),
    ("UpSampling", [_x(1, 2, 2, 2), _x(1, 2, 3, 3, seed=1)],
     {"scale": 3, "sample_type": "nearest", "num_args": 2, "multi_input_mode": "sum"},
     lambda x, y: _nearest(x, 3) + _nearest(y, 2)),
    ("UpSampling", [_x(1, 2, 3, 3), _x(2, 1, 4, 4, seed=1)],
     {"scale": 2, "sample_type": "bilinear", "num_filter": 2},
     lambda x, w: _deconv(x, w, stride=(2, 2), pad=(1, 1), group=2)),
    ("UpSampling", [_x(1, 3, 2, 2), _x(3, 1, 5, 5, seed=1)],
     {"scale": 3, "sample_type": "bilinear", "num_filter": 3},
     lambda x, w: _deconv(x, w, stride=(3, 3), pad=(1, 1), group=3)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    want = formula(*inputs)
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        out = run_op(name, [a.astype(dtype) for a in inputs], **params)[0][0]
        assert out.dtype == dtype and out.shape == want.shape
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params, _ = case
    check_op_gradient(name, inputs, params, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", [CASES[1], CASES[6]], ids=lambda c: c[0])
def test_grad_req_add(case):
    name, inputs, params, _ = case
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    for a, o in zip(added, once):
        np.testing.assert_allclose(a, o + 0.25, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    x = _x(2, 3, 2, 3).astype(dtype)
    dy = _x(2, 5, 4, 6, seed=3).astype(dtype)
    for accumulate in (False, True):
        got, want = np.full((2, 5, 4, 6), 0.5, dtype), np.full((2, 5, 4, 6), 0.5, dtype)
        K.upsample_forward(x, 2, 1, accumulate, got)
        R.upsample_forward(x, 2, 1, accumulate, want)
        np.testing.assert_array_equal(got, want)
        got, want = np.full(x.shape, 0.5, dtype), np.full(x.shape, 0.5, dtype)
        K.upsample_backward(dy, 2, 2, accumulate, got)
        R.upsample_backward(dy, 2, 2, accumulate, want)
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    # MXNet 1.9.1's CPU Deconvolution (oneDNN) fails on target_shape ("could not create a
    # descriptor for a dilated deconvolution"): those cases are checked by shape (below) and
    # against the numpy formula only
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params, _ in CASES if "target_shape" not in params]
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
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-4, atol=1e-5, err_msg=f"{k} {name}")
        for i, (g, want) in enumerate(zip(grads, ref[k][1])):
            np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{k} {name} gradient {i}")


@pytest.mark.oracle
def test_mxnet_parity_of_the_symbols():
    """Argument names and shapes through mx.sym: the auto-created bilinear weight, the
    default no_bias of Deconvolution, target_shape."""
    code = """
d, e = mx.sym.Variable('d'), mx.sym.Variable('e')
syms = [mx.sym.Deconvolution(d, kernel=(3, 3), num_filter=4, stride=(2, 2), name='dc'),
        mx.sym.Deconvolution(d, kernel=(3, 3), num_filter=4, no_bias=False,
                             target_shape=(9, 8), stride=(2, 2), name='dcb'),
        mx.sym.UpSampling(d, scale=2, sample_type='bilinear', num_filter=2, name='up'),
        mx.sym.UpSampling(d, e, scale=2, sample_type='nearest', name='un')]
for k, s in enumerate(syms):
    a, o, _ = s.infer_shape(d=(2, 2, 4, 4), e=(2, 3, 8, 8)) if k == 3 else s.infer_shape(d=(2, 2, 4, 4))
    out[k] = (s.list_arguments(), [list(t) for t in a], [list(t) for t in o])
"""
    ref = run_oracle(code)
    local = {"mx": mx, "out": {}}
    exec(code, local)
    for k in range(4):
        assert tuple(local["out"][k]) == tuple(ref[k]), (k, local["out"][k], ref[k])


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.Deconvolution(mx.nd.ones((1, 2, 3, 3)), mx.nd.ones((2, 1, 2, 2)),
                                 kernel=(2, 2), num_filter=1, stride=(2, 2), adj=(2, 2)),
     "must be smaller than stride"),
    (lambda: mx.nd.Deconvolution(mx.nd.ones((1, 3, 3, 3)), mx.nd.ones((3, 1, 2, 2)),
                                 kernel=(2, 2), num_filter=2, num_group=2), "divisible"),
    (lambda: mx.nd.Deconvolution(mx.nd.ones((1, 2, 3, 3)), mx.nd.ones((2, 2, 2, 2)),
                                 kernel=(2, 2), num_filter=1), "'weight' has shape (2, 2, 2, 2)"),
    (lambda: mx.nd.UpSampling(mx.nd.ones((1, 2, 2, 2)), mx.nd.ones((1, 2, 3, 3)), scale=2,
                              sample_type="nearest"), "cannot be scaled"),
    (lambda: mx.nd.UpSampling(mx.nd.ones((1, 2, 2, 2)), scale=2, sample_type="linear"),
     "expected one of"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import nn_extra_conv as C
    x, dy = _x(1, 2, 2, 3), _x(1, 3, 4, 6, seed=3)
    got = cuda.to_device(np.full((1, 3, 4, 6), 0.5))
    C.upsample_forward(cuda.to_device(x), 2, 1, True, got)
    want = np.full((1, 3, 4, 6), 0.5)
    R.upsample_forward(x, 2, 1, True, want)
    np.testing.assert_array_equal(got.copy_to_host(), want)
    got = cuda.to_device(np.zeros(x.shape))
    C.upsample_backward(cuda.to_device(dy), 2, 1, False, got)
    want = np.zeros(x.shape)
    R.upsample_backward(dy, 2, 1, False, want)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12)
