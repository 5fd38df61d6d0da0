"""The legacy layers Convolution_v1 and Pooling_v1 (ops/legacy_v1.py, issue 17): numpy formulas
(zero padding, avg over the whole window), the padding kernels against their numpy twins,
finite differences, grad_req add, MXNet 1.9.1 parity of forward and backward, CPU vs GPU under
the simulator, and the errors MXNet's v1 operators raise."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import legacy_v1 as K
from mxteach.kernels.reference import legacy_v1 as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.RandomState(seed).uniform(low, high, shape)


def _pool_v1(x, kernel=(), pool_type="max", global_pool=False, pooling_convention="valid",
             stride=(), pad=()):
    """Zero-pad, then pool every window clipped to the padded array; avg divides by kh * kw."""
    if global_pool:
        kernel, stride, pad = x.shape[2:], (1, 1), (0, 0)
    stride, pad = stride or (1, 1), pad or (0, 0)
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    size = []
    for d in range(2):
        steps = (xp.shape[2 + d] - kernel[d]) / stride[d]
        size.append(1 + (math.ceil(steps) if pooling_convention == "full" else int(steps)))
    out = np.zeros(x.shape[:2] + tuple(size))
    for i in range(size[0]):
        for j in range(size[1]):
            win = xp[:, :, i * stride[0]:i * stride[0] + kernel[0],
                     j * stride[1]:j * stride[1] + kernel[1]]
            out[:, :, i, j] = win.max((2, 3)) if pool_type == "max" else win.sum((2, 3))
    return out / (kernel[0] * kernel[1]) if pool_type == "avg" else out


def _conv2d(x, w, b, stride=(1, 1), pad=(0, 0), dilate=(1, 1), num_group=1):
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    f, cg, kh, kw = w.shape
    oh = (xp.shape[2] - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((x.shape[0], f, oh, ow))
    fg = f // num_group
    for o in range(f):
        g = o // fg
        for i in range(oh):
            for j in range(ow):
                win = xp[:, g * cg:(g + 1) * cg,
                         i * stride[0]:i * stride[0] + dilate[0] * (kh - 1) + 1:dilate[0],
                         j * stride[1]:j * stride[1] + dilate[1] * (kw - 1) + 1:dilate[1]]
                out[:, o, i, j] = (win * w[o]).sum((1, 2, 3))
    return out + (0 if b is None else b[None, :, None, None])


POOL_CASES = [
    {"kernel": (3, 3), "pool_type": "avg", "pad": (1, 1), "stride": (2, 2)},
    {"kernel": (3, 3), "pool_type": "avg", "pad": (1, 1), "stride": (2, 2),
     "pooling_convention": "full"},
    {"kernel": (3, 2), "pool_type": "max", "pooling_convention": "full", "stride": (2, 2)},
    {"kernel": (3, 3), "pool_type": "max", "pad": (1, 1)},
    {"kernel": (3, 3), "pool_type": "sum", "pad": (1, 0)},
    {"kernel": (2, 2), "pool_type": "avg", "global_pool": True, "pad": (1, 1)},
    {"pool_type": "max", "global_pool": True},
]
CONV_CASES = [
    ([_x(2, 3, 6, 5), _x(4, 3, 3, 3, seed=1), _x(4, seed=2)], {"kernel": (3, 3), "num_filter": 4}),
    ([_x(1, 4, 7, 6), _x(4, 2, 3, 2, seed=1), _x(4, seed=2)],
     {"kernel": (3, 2), "num_filter": 4, "num_group": 2, "pad": (1, 1), "stride": (2, 1)}),
    ([_x(2, 2, 7, 7), _x(3, 2, 2, 2, seed=1)],
     {"kernel": (2, 2), "num_filter": 3, "no_bias": True, "dilate": (2, 2), "pad": (1, 0)}),
]
# x is shifted below 0 in some cases so that max windows over the padding return its 0
POOL_X = [_x(2, 3, 7, 6), _x(2, 3, 7, 6), _x(2, 3, 7, 6), _x(1, 2, 5, 5, low=-2, high=-1),
          _x(2, 2, 5, 4), _x(2, 3, 4, 5), _x(1, 2, 3, 4)]


@pytest.mark.parametrize("k", range(len(POOL_CASES)))
def test_pooling_v1_forward_equals_numpy(k):
    params, x = POOL_CASES[k], POOL_X[k]
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        out = run_op("Pooling_v1", [x.astype(dtype)], **params)[0][0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, _pool_v1(x, **params), rtol=tol, atol=tol)


@pytest.mark.parametrize("k", range(len(CONV_CASES)))
def test_convolution_v1_forward_equals_numpy(k):
    inputs, params = CONV_CASES[k]
    want = _conv2d(inputs[0], inputs[1], None if params.get("no_bias") else inputs[2],
                   params.get("stride", (1, 1)), params.get("pad", (0, 0)),
                   params.get("dilate", (1, 1)), params.get("num_group", 1))
    out = run_op("Convolution_v1", inputs, **params)[0][0]
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k", range(len(POOL_CASES)))
def test_pooling_v1_finite_differences(k):
    check_op_gradient("Pooling_v1", [POOL_X[k]], POOL_CASES[k], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("k", range(len(CONV_CASES)))
def test_convolution_v1_finite_differences(k):
    inputs, params = CONV_CASES[k]
    check_op_gradient("Convolution_v1", inputs, params, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name, inputs, params", [
    ("Pooling_v1", [POOL_X[1]], POOL_CASES[1]), ("Pooling_v1", [POOL_X[3]], POOL_CASES[3]),
    ("Convolution_v1", *CONV_CASES[1])])
def test_grad_req_add(name, inputs, params):
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    for a, o in zip(added, once):
        np.testing.assert_allclose(a, o + 0.25, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_padding_kernels_equal_their_numpy_twins(dtype):
    x = _x(2, 3, 4, 5).astype(dtype)
    gp = _x(2, 3, 6, 9, seed=1).astype(dtype)
    got = {}
    for mod in (K, R):
        xp, dx, s = np.empty((2, 3, 6, 9), dtype), np.full_like(x, 0.5), x.copy()
        mod.pad2d(x, 1, 2, xp)
        mod.crop2d(gp, 1, 2, 0.25, True, dx)
        mod.scale(s.reshape(-1), 3.0)
        got[mod] = (xp, dx, s)
    for a, b in zip(got[K], got[R]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [("Pooling_v1", [x.astype(np.float32)], p) for x, p in zip(POOL_X, POOL_CASES)]
    cases += [("Convolution_v1", [a.astype(np.float32) for a in ins], p) for ins, p in CONV_CASES]
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
s = mx.sym.Pooling_v1(mx.sym.Variable('data'), kernel=(3, 3), pooling_convention='full',
                      stride=(2, 2), name='p')
c = mx.sym.Convolution_v1(s, kernel=(2, 2), num_filter=5, name='c')
a, o, _ = c.infer_shape(data=(2, 3, 8, 9))
out['sym'] = (c.list_arguments(), [list(t) for t in a], [list(t) for t in o])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        outs, grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
        np.testing.assert_allclose(outs[0], ref[k][0], rtol=1e-4, atol=1e-5,
                                   err_msg=f"{name} {params}")
        for i, (g, want) in enumerate(zip(grads, ref[k][1])):
            np.testing.assert_allclose(g, want, rtol=1e-3, atol=1e-4,
                                       err_msg=f"{name} {params} gradient {i}")
    s = mx.sym.Pooling_v1(mx.sym.Variable('data'), kernel=(3, 3), pooling_convention='full',
                          stride=(2, 2), name='p')
    c = mx.sym.Convolution_v1(s, kernel=(2, 2), num_filter=5, name='c')
    a, o, _ = c.infer_shape(data=(2, 3, 8, 9))
    assert (c.list_arguments(), [list(t) for t in a], [list(t) for t in o]) == ref["sym"]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.Pooling_v1(mx.nd.ones((1, 1, 5)), kernel=(3,)), "needs 4-D"),
    (lambda: mx.nd.Pooling_v1(mx.nd.ones((1, 1, 5, 5)), kernel=(3, 3), pool_type="lp"),
     "expected one of"),
    (lambda: mx.nd.Pooling_v1(mx.nd.ones((1, 1, 5, 5))), "kernel () must be (ky, kx)"),
    (lambda: mx.nd.Convolution_v1(mx.nd.ones((1, 1, 5, 5, 5)), mx.nd.ones((2, 1, 3, 3, 3)),
                                  mx.nd.ones((2,)), kernel=(3, 3, 3), num_filter=2),
     "volume (3-D) convolution is not implemented"),
    (lambda: mx.nd.Convolution_v1(mx.nd.ones((1, 1, 5)), mx.nd.ones((2, 1, 3)),
                                  mx.nd.ones((2,)), kernel=(3,), num_filter=2), "got 1D"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("k", range(len(POOL_CASES)))
def test_pooling_v1_gpu_equals_cpu(k):
    from cuda_compare import check
    check("Pooling_v1", [POOL_X[k][:1, :2].astype(np.float32)], POOL_CASES[k])


@pytest.mark.cudasim
def test_convolution_v1_gpu_equals_cpu():
    from cuda_compare import check
    inputs, params = CONV_CASES[1]
    check("Convolution_v1", [a.astype(np.float32) for a in inputs], params, rtol=1e-4,
          atol=1e-5)


@pytest.mark.cudasim
def test_cuda_padding_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import legacy_v1 as C
    x, gp = _x(1, 2, 3, 4), _x(1, 2, 5, 6, seed=1)
    xp, dx = cuda.to_device(np.empty((1, 2, 5, 6))), cuda.to_device(np.full_like(x, 0.5))
    C.pad2d(cuda.to_device(x), 1, 1, xp)
    C.crop2d(cuda.to_device(gp), 1, 1, 0.5, True, dx)
    w_xp, w_dx = np.empty((1, 2, 5, 6)), np.full_like(x, 0.5)
    R.pad2d(x, 1, 1, w_xp)
    R.crop2d(gp, 1, 1, 0.5, True, w_dx)
    np.testing.assert_array_equal(xp.copy_to_host(), w_xp)
    np.testing.assert_allclose(dx.copy_to_host(), w_dx, rtol=1e-12)
