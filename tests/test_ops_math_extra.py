"""Operators of ops/math_extra.py (issue 17): erfinv, gamma, gammaln and the contrib functions
quadratic, gradientmultiplier, round_ste, sign_ste, div_sqrt_dim, backward_quadratic,
backward_gradientmultiplier, arange_like, index_array, allclose, getnnz, plus the Python-level
contrib.isfinite / isinf / isnan and contrib.uniform. numpy reference, finite differences,
grad_req add, MXNet parity of forward and backward, CPU vs GPU (cudasim)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.reference import math_extra as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle

# short name -> (registered name, parameters used in the tests, mxnet namespace)
ELEMWISE = {
    "erfinv": ("erfinv", {}, "nd"),
    "gamma": ("gamma", {}, "nd"),
    "gammaln": ("gammaln", {}, "nd"),
    "quadratic": ("_contrib_quadratic", {"a": 1.5, "b": -2.0, "c": 0.5}, "contrib"),
    "gradientmultiplier": ("_contrib_gradientmultiplier", {"scalar": -2.5}, "contrib"),
    "round_ste": ("_contrib_round_ste", {}, "contrib"),
    "sign_ste": ("_contrib_sign_ste", {}, "contrib"),
    "div_sqrt_dim": ("_contrib_div_sqrt_dim", {}, "contrib"),
}
SMOOTH = ["erfinv", "gamma", "gammaln", "quadratic", "div_sqrt_dim"]


def _x(name, dtype=np.float64, shape=(3, 4), seed=0):
    rs = np.random.RandomState(seed)
    if name == "erfinv":
        x = rs.uniform(-0.95, 0.95, shape)
    elif name in ("gamma", "gammaln"):          # both sides of 0, away from the poles
        x = rs.uniform(0.2, 4.0, shape)
        x.flat[:3] = [-1.5, -0.3, -2.6]
    elif name in ("round_ste", "sign_ste"):
        x = np.round(rs.uniform(-3, 3, shape) * 4) / 4
        x.flat[:5] = [0.5, -0.5, 1.5, -2.5, 0.0]
    else:
        x = rs.uniform(-2, 2, shape)
    return x.astype(dtype)


def _ref_args(name, params):
    if name == "quadratic":
        return params["a"], params["b"], params["c"]
    return (params.get("scalar", 0.0),)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ELEMWISE))
def test_cpu_kernel_equals_numpy_reference(name, dtype):
    reg, params, _ = ELEMWISE[name]
    x = _x(name, dtype)
    g = np.random.RandomState(1).uniform(-1, 1, x.shape).astype(dtype)
    (y,), (dx,) = run_op_backward(reg, [x], out_grads=[g], **params)
    want = np.zeros_like(x)
    R.unary_forward(x, want, name, *_ref_args(name, params))
    tight = dtype == np.float64
    np.testing.assert_allclose(y, want, rtol=1e-10 if tight else 1e-5, atol=1e-7)
    want_dx = np.zeros_like(x)
    R.unary_backward(x, y, g, want_dx, name, False, *_ref_args(name, params))
    np.testing.assert_allclose(dx, want_dx, rtol=1e-8 if tight else 1e-4, atol=1e-6)


def test_special_function_values_at_the_edges():
    x = np.array([-1.0, 1.0, 1.5, 0.0])
    np.testing.assert_array_equal(run_op("erfinv", [x])[0][0], [-np.inf, np.inf, np.nan, 0.0])
    y = run_op("gamma", [np.array([0.0, -1.0, 5.0, 200.0])])[0][0]
    np.testing.assert_array_equal(y, [np.inf, np.nan, 24.0, np.inf])
    y = run_op("gammaln", [np.array([0.0, -1.0, 1.0, 3.0])])[0][0]
    np.testing.assert_allclose(y, [np.inf, np.inf, 0.0, np.log(2.0)], atol=1e-15)


@pytest.mark.parametrize("name", SMOOTH)
def test_finite_differences(name):
    reg, params, _ = ELEMWISE[name]
    check_op_gradient(reg, [_x(name, shape=(2, 3))], params, rtol=1e-5, atol=1e-7)


def test_straight_through_and_multiplied_gradients():
    x = _x("round_ste")
    g = np.random.RandomState(2).uniform(-1, 1, x.shape)
    for reg, params, factor in (("_contrib_round_ste", {}, 1.0),
                                ("_contrib_sign_ste", {}, 1.0),
                                ("_contrib_gradientmultiplier", {"scalar": -2.5}, -2.5)):
        (y,), (dx,) = run_op_backward(reg, [x], out_grads=[g], **params)
        np.testing.assert_array_equal(dx, g * factor)
    np.testing.assert_array_equal(run_op("_contrib_gradientmultiplier", [x])[0][0], x)


@pytest.mark.parametrize("name", ["gamma", "quadratic", "round_ste", "gradientmultiplier"])
def test_grad_req_add_accumulates(name):
    reg, params, _ = ELEMWISE[name]
    x = _x(name)
    _, (once,) = run_op_backward(reg, [x], **params)
    _, (added,) = run_op_backward(reg, [x], reqs=["add"], init_grads=[np.full_like(x, 0.25)],
                                  **params)
    np.testing.assert_allclose(added, once + 0.25, rtol=1e-12)


def test_backward_helpers_compute_the_gradients_of_their_operators():
    x, g = _x("quadratic"), np.random.RandomState(3).uniform(-1, 1, (3, 4))
    p = ELEMWISE["quadratic"][1]
    _, (dx,) = run_op_backward("_contrib_quadratic", [x], out_grads=[g], **p)
    np.testing.assert_allclose(run_op("_contrib_backward_quadratic", [g, x], **p)[0][0], dx,
                               rtol=1e-14)
    np.testing.assert_allclose(
        run_op("_contrib_backward_gradientmultiplier", [g], scalar=3.0)[0][0], 3 * g)
    assert mx.sym.contrib.backward_quadratic is not None


def test_arange_like_and_index_array_match_numpy():
    data = np.zeros((2, 3, 2))
    y = run_op("_contrib_arange_like", [data], start=1.0, step=0.5, repeat=2)[0][0]
    np.testing.assert_array_equal(y, R.arange_like(data.shape, 1.0, 0.5, 2).reshape(2, 3, 2))
    y = run_op("_contrib_arange_like", [data], axis=-2, start=2.0)[0][0]
    np.testing.assert_array_equal(y, [2.0, 3.0, 4.0])
    y = run_op("_contrib_index_array", [data])[0][0]
    assert y.dtype == np.int64 and y.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(y, R.index_array(data.shape, [0, 1, 2]))
    y = run_op("_contrib_index_array", [data], axes=(-1, 0))[0][0]
    np.testing.assert_array_equal(y, R.index_array(data.shape, [2, 0]))
    _, (dx,) = run_op_backward("_contrib_index_array", [data + 1], out_grads=[y])
    np.testing.assert_array_equal(dx, 0)


def test_allclose_follows_numpy():
    rs = np.random.RandomState(4)
    a = rs.uniform(-1, 1, (3, 4))
    for b, kw in ((a + 1e-6, {}), (a + 0.01, {"rtol": 0.0, "atol": 0.02}),
                  (a + 0.01, {}), (a * 1.05, {"rtol": 0.1, "atol": 0.0})):
        got = run_op("_contrib_allclose", [a, b], **kw)[0][0]
        assert got.shape == () and got.dtype == np.uint8
        assert int(got) == R.allclose(a, b, kw.get("rtol", 1e-5), kw.get("atol", 1e-8), True)
    nan = np.array([np.nan, 1.0])
    assert int(run_op("_contrib_allclose", [nan, nan])[0][0]) == 1
    assert int(run_op("_contrib_allclose", [nan, nan], equal_nan=False)[0][0]) == 0


def test_getnnz_counts_stored_values_of_csr():
    a = np.array([[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0]], np.float32)
    csr = mx.nd.array(a).tostype("csr")
    assert mx.nd.contrib.getnnz(csr).asnumpy().tolist() == [4]
    per_row = mx.nd.contrib.getnnz(csr, axis=1)
    assert per_row.dtype == np.int64 and per_row.asnumpy().tolist() == [2, 0, 2]
    explicit = mx.nd.sparse.csr_matrix((np.array([0.0, 5.0]), np.array([0, 1]),
                                        np.array([0, 2, 2])), shape=(2, 3))
    assert mx.nd.contrib.getnnz(explicit).asnumpy().tolist() == [2]   # a stored 0 counts


def test_bad_parameters_raise_mxnet_errors():
    csr = mx.nd.array(np.eye(3)).tostype("csr")
    with pytest.raises(MXNetError, match="axis = 0 is not supported"):
        mx.nd.contrib.getnnz(csr, axis=0)
    with pytest.raises(MXNetError, match="csr"):
        mx.nd.contrib.getnnz(mx.nd.ones((2, 2)))
    with pytest.raises(MXNetError, match="axis"):
        mx.nd.contrib.arange_like(mx.nd.ones((2, 3)), axis=2)
    with pytest.raises(MXNetError, match="broadcast"):
        mx.nd.contrib.allclose(mx.nd.ones((2, 3)), mx.nd.ones((3,)))
    with pytest.raises(MXNetError, match="last axis"):
        mx.nd.contrib.div_sqrt_dim(mx.nd.ones(()))


def test_contrib_python_functions_and_uniform_alias():
    x = mx.nd.array([np.inf, -np.inf, np.nan, -1.0, 0.0])
    c = mx.nd.contrib
    np.testing.assert_array_equal(c.isfinite(x).asnumpy(), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(c.isinf(x).asnumpy(), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(c.isnan(x).asnumpy(), [0, 0, 1, 0, 0])
    assert c.isnan(x).dtype == np.float32
    assert c.uniform is mx.nd.random.uniform and mx.sym.contrib.uniform is mx.sym.random.uniform


def test_symbol_names_follow_mxnet():
    x = mx.sym.Variable("x")
    assert mx.sym.contrib.quadratic(x).name.startswith("quadratic")
    assert mx.sym.erfinv(x).name.startswith("erfinv")
    y = mx.sym.contrib.div_sqrt_dim(mx.sym.gammaln(x))
    ex = y.simple_bind(mx.cpu(), x=(2, 4))
    v = np.array([[0.5, 1.5, 2.5, 3.5], [1, 2, 3, 4]], np.float32)
    want = np.vectorize(__import__("math").lgamma)(v.astype(np.float64)) / 2
    np.testing.assert_allclose(ex.forward(x=v)[0].asnumpy(), want, rtol=1e-6)


ORACLE_CODE = """
import ctypes
from mxnet.base import _LIB, check_call, c_str
from mxnet._ctypes.ndarray import _imperative_invoke
def grad_of(f, x, g, **kw):
    a = mx.nd.array(x)
    a.attach_grad()
    with mx.autograd.record():
        y = f(a, **kw)
    y.backward(mx.nd.array(g))
    return y.asnumpy(), a.grad.asnumpy()
for name, (reg, params, space) in elemwise.items():
    f = getattr(mx.nd.contrib if space == 'contrib' else mx.nd, name)
    out[name] = grad_of(f, xs[name], g, **params)
out['arange_like'] = grad_of(mx.nd.contrib.arange_like, xs['quadratic'], g, start=1.0, step=0.5,
                             repeat=5)
out['arange_axis'] = mx.nd.contrib.arange_like(mx.nd.array(xs['quadratic']), axis=-1).asnumpy()
out['index_array'] = grad_of(mx.nd.contrib.index_array, xs['quadratic'],
                             np.ones((3, 4, 2), 'float32'), axes=(1, 0))
out['index_all'] = mx.nd.contrib.index_array(mx.nd.zeros((2, 1, 3))).asnumpy()
a = mx.nd.array(xs['quadratic'])
out['allclose'] = [mx.nd.contrib.allclose(a, a + d, rtol=r, atol=t).asnumpy()
                   for d, r, t in ((1e-6, 1e-5, 1e-8), (0.01, 1e-5, 1e-8), (0.01, 0.0, 0.02))]
csr = mx.nd.array(dense).tostype('csr')
out['getnnz'] = (mx.nd.contrib.getnnz(csr).asnumpy(), mx.nd.contrib.getnnz(csr, axis=1).asnumpy())
try:
    mx.nd.contrib.getnnz(csr, axis=0)
except mx.base.MXNetError as e:
    out['getnnz0'] = str(e)
special = mx.nd.array(np.array([np.inf, -np.inf, np.nan, -1.0], 'float32'))
out['checks'] = [getattr(mx.nd.contrib, n)(special).asnumpy()
                 for n in ('isfinite', 'isinf', 'isnan')]
def invoke(opname, inputs, shape, **params):
    h = ctypes.c_void_p()
    check_call(_LIB.NNGetOpHandle(c_str(opname), ctypes.byref(h)))
    o = mx.nd.zeros(shape)
    _imperative_invoke(h.value, [mx.nd.array(v) for v in inputs], list(params),
                       [str(v) for v in params.values()], [o], False, True)
    return o.asnumpy()
out['bq'] = invoke('_contrib_backward_quadratic', [g, xs['quadratic']], g.shape, a=1.5, b=-2.0,
                   c=0.5)
out['bg'] = mx.nd.contrib.backward_gradientmultiplier(mx.nd.array(g), scalar=-2.5).asnumpy()
out['edges'] = [getattr(mx.nd, n)(mx.nd.array(v)).asnumpy() for n, v in edges]
"""

# the tails and poles of the special functions (float32: overflow, signed zeros, +-inf, NaN)
EDGES = [("erfinv", np.array([0.999, 0.9999, 0.99999994, -0.99999994, 1e-8, 1, -1, 2],
                              np.float32)),
         ("gamma", np.array([1e-6, 0.5, 30.5, 35.1, -0.5, -170.5, 1e-30, 0, -1], np.float32)),
         ("gammaln", np.array([1e-6, 30.5, 35.1, -0.5, -170.5, 1e-30, 0, -1], np.float32))]


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    xs = {name: _x(name, np.float32, seed=5) for name in ELEMWISE}
    g = np.random.RandomState(6).uniform(-1, 1, (3, 4)).astype(np.float32)
    dense = np.array([[0, 1, 0, 2], [0, 0, 0, 0], [3, 0, 4, 0]], np.float32)
    ref = run_oracle(ORACLE_CODE, xs=xs, g=g, dense=dense, elemwise=ELEMWISE, edges=EDGES)
    for (name, v), want in zip(EDGES, ref["edges"]):
        np.testing.assert_allclose(getattr(mx.nd, name)(mx.nd.array(v)).asnumpy(), want,
                                   rtol=2e-6, err_msg=name)
    for name, (reg, params, _) in ELEMWISE.items():
        y, (dx,) = run_op_backward(reg, [xs[name]], out_grads=[g], **params)
        np.testing.assert_allclose(y[0], ref[name][0], rtol=2e-6, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(dx, ref[name][1], rtol=2e-5, atol=1e-5, err_msg=name)
    c = mx.nd.contrib
    q = mx.nd.array(xs["quadratic"])
    y, (dx,) = run_op_backward("_contrib_arange_like", [xs["quadratic"]], out_grads=[g],
                               start=1.0, step=0.5, repeat=5)
    np.testing.assert_array_equal(y[0], ref["arange_like"][0])
    np.testing.assert_array_equal(dx, ref["arange_like"][1])
    np.testing.assert_array_equal(c.arange_like(q, axis=-1).asnumpy(), ref["arange_axis"])
    y, (dx,) = run_op_backward("_contrib_index_array", [xs["quadratic"]], axes=(1, 0),
                               out_grads=[np.ones((3, 4, 2), np.int64)])
    np.testing.assert_array_equal(y[0], ref["index_array"][0])
    np.testing.assert_array_equal(dx, ref["index_array"][1])
    got = c.index_array(mx.nd.zeros((2, 1, 3))).asnumpy()
    assert got.dtype == ref["index_all"].dtype
    np.testing.assert_array_equal(got, ref["index_all"])
    for (d, r, t), want in zip(((1e-6, 1e-5, 1e-8), (0.01, 1e-5, 1e-8), (0.01, 0.0, 0.02)),
                               ref["allclose"]):
        got = c.allclose(q, q + d, rtol=r, atol=t).asnumpy()
        assert got.dtype == want.dtype and got.shape == want.shape and got == want
    csr = mx.nd.array(dense).tostype("csr")
    for got, want in zip((c.getnnz(csr), c.getnnz(csr, axis=1)), ref["getnnz"]):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.asnumpy(), want)
    assert "not supported yet" in ref["getnnz0"]
    special = mx.nd.array(np.array([np.inf, -np.inf, np.nan, -1.0], np.float32))
    for n, want in zip(("isfinite", "isinf", "isnan"), ref["checks"]):
        np.testing.assert_array_equal(getattr(c, n)(special).asnumpy(), want)
    np.testing.assert_allclose(c.backward_quadratic(mx.nd.array(g), q, a=1.5, b=-2.0, c=0.5)
                               .asnumpy(), ref["bq"], rtol=1e-6)
    np.testing.assert_allclose(c.backward_gradientmultiplier(mx.nd.array(g), scalar=-2.5)
                               .asnumpy(), ref["bg"], rtol=1e-6)


@pytest.mark.cudasim
@pytest.mark.parametrize("name", list(ELEMWISE))
def test_gpu_equals_cpu(name):
    reg, params, space = ELEMWISE[name]
    x = _x(name, np.float32, shape=(2, 5))
    g = np.random.RandomState(2).uniform(-1, 1, x.shape).astype(np.float32)
    res = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        s = mx.sym.Variable("x")
        f = getattr(mx.sym.contrib if space == "contrib" else mx.sym, name)
        ex = f(s, **params).simple_bind(ctx, x=x.shape)
        y = ex.forward(is_train=True, x=x)[0].asnumpy()
        ex.backward(mx.nd.array(g, ctx=ctx))
        res.append((y, ex.grad_dict["x"].asnumpy()))
    (y0, d0), (y1, d1) = res
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d1, d0, rtol=1e-5, atol=1e-6)


@pytest.mark.cudasim
def test_gpu_index_arange_allclose_and_backward_helpers_equal_cpu():
    x = _x("quadratic", np.float32, shape=(2, 3))
    g = np.random.RandomState(7).uniform(-1, 1, x.shape).astype(np.float32)
    c = mx.nd.contrib
    res = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        a, b = mx.nd.array(x, ctx=ctx), mx.nd.array(g, ctx=ctx)
        res.append([c.arange_like(a, start=1.0, step=0.5, repeat=2).asnumpy(),
                    c.index_array(a, axes=(1, 0)).asnumpy(),
                    c.allclose(a, a).asnumpy(), c.allclose(a, b).asnumpy(),
                    c.backward_quadratic(b, a, a=1.5, b=-2.0).asnumpy(),
                    c.backward_gradientmultiplier(b, scalar=3.0).asnumpy()])
    for cpu, gpu in zip(*res):
        # the GPU backend keeps 0-d arrays as shape (1,) (backend/device_buffer.py)
        assert cpu.dtype == gpu.dtype and cpu.size == gpu.size
        np.testing.assert_allclose(gpu.reshape(cpu.shape), cpu, rtol=1e-6)
    assert res[0][2] == 1 and res[0][3] == 0


@pytest.mark.cudasim
def test_cuda_kernels_equal_numpy_reference():
    from numba import cuda
    from mxteach.kernels.cuda import math_extra as C
    x = _x("gamma", np.float64, shape=(7,))
    g = np.random.RandomState(8).uniform(-1, 1, x.shape)
    for name in ("gamma", "gammaln", "quadratic"):
        params = _ref_args(name, ELEMWISE[name][1]) if name == "quadratic" else ()
        y, dx = cuda.device_array_like(x), cuda.to_device(np.full_like(x, 0.5))
        C.unary_forward(cuda.to_device(x), y, name, *params)
        want = np.zeros_like(x)
        R.unary_forward(x, want, name, *params)
        np.testing.assert_allclose(y.copy_to_host(), want, rtol=1e-10)
        C.unary_backward(cuda.to_device(x), y, cuda.to_device(g), dx, name, True, *params)
        want_dx = np.full_like(x, 0.5)
        R.unary_backward(x, want, g, want_dx, name, True, *params)
        np.testing.assert_allclose(dx.copy_to_host(), want_dx, rtol=1e-8)
    out = cuda.device_array(12, np.float32)
    C.arange_like(out, 1.0, 0.5, 5)
    np.testing.assert_array_equal(out.copy_to_host(), R.arange_like((12,), 1.0, 0.5, 5))
    out2 = cuda.device_array((6, 2), np.int64)
    C.index_array(cuda.to_device(np.array([2, 3], np.int64)),
                  cuda.to_device(np.array([1, 0], np.int64)), out2)
    np.testing.assert_array_equal(out2.copy_to_host(), R.index_array((2, 3), [1, 0]).reshape(6, 2))
    flag = cuda.device_array(1, np.uint8)
    for b, want in ((x + 1e-9, 1), (x + 1e-3, 0)):
        C.allclose(cuda.to_device(x), cuda.to_device(b), 1e-5, 1e-8, True, flag)
        assert flag.copy_to_host()[0] == want == R.allclose(x, b, 1e-5, 1e-8, True)
