"""The reduce_extra family (ops/reduce_extra.py, issue 17): prod, nansum, nanprod, moments —
numpy formulas, the kernels against their numpy twins, finite differences, grad_req add, MXNet
1.9.1 parity of forward and backward (NaNs and zeros included), errors, CPU vs GPU under the
simulator."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import reduce_extra as K
from mxteach.kernels.reference import reduce_extra as R
from mxteach.ops.reduce_extra import _index_lists
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, low=0.5, high=1.5):
    """Positive values away from 0, so products and their gradients are well conditioned."""
    rs = np.random.RandomState(seed)
    return rs.uniform(low, high, shape) * rs.choice([-1.0, 1.0], shape)


def _with_nans(*shape, seed=1):
    x = _x(*shape, seed=seed)
    x.reshape(-1)[::4] = np.nan
    return x


def _moments(x, axes, keepdims=False):
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=keepdims)
    return m if keepdims else m.squeeze(axes), v


CASES = [
    ("prod", [_x(3, 4)], {"axis": 1}, lambda x: [np.prod(x, 1)]),
    ("prod", [_x(2, 3, 4)], {"axis": (0, 2), "keepdims": True},
     lambda x: [np.prod(x, (0, 2), keepdims=True)]),
    ("prod", [_x(2, 3, 2)], {}, lambda x: [np.prod(x).reshape(1)]),
    ("prod", [_x(2, 3, 4)], {"axis": 1, "exclude": True}, lambda x: [np.prod(x, (0, 2))]),
    ("nansum", [_with_nans(3, 5)], {"axis": 0}, lambda x: [np.nansum(x, 0)]),
    ("nansum", [_with_nans(2, 3, 4)], {"axis": (-1,), "keepdims": True},
     lambda x: [np.nansum(x, -1, keepdims=True)]),
    ("nanprod", [_with_nans(4, 3)], {"axis": 1}, lambda x: [np.nanprod(x, 1)]),
    ("nanprod", [_with_nans(2, 3, 4)], {}, lambda x: [np.nanprod(x).reshape(1)]),
    ("moments", [_x(3, 4)], {"axes": (1,)}, lambda x: list(_moments(x, (1,)))),
    ("moments", [_x(2, 3, 4)], {"axes": (0, 2), "keepdims": True},
     lambda x: list(_moments(x, (0, 2), True))),
    ("moments", [_x(2, 3)], {"axes": (0, 1)},
     lambda x: [a.reshape(1) for a in _moments(x, (0, 1))]),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        outs = run_op(name, [a.astype(dtype) for a in inputs], **params)[0]
        want = formula(inputs[0])
        assert len(outs) == len(want)
        for o, w in zip(outs, want):
            assert o.dtype == dtype and o.shape == w.shape, (o.dtype, o.shape, w.shape)
            np.testing.assert_allclose(o, w, rtol=rtol)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "nanprod" or c[2]],
                         ids=lambda c: f"{c[0]}-{sorted(c[2].items())}")
def test_finite_differences(case):
    name, inputs, params, _ = case
    x = inputs[0]
    if np.isnan(x).any():
        # differentiate at the non-NaN entries only: NaNs stay NaN under the perturbation
        keep = ~np.isnan(x)
        outs = run_op(name, [x], **params)[0]
        rs = np.random.RandomState(5)
        heads = [rs.uniform(-1, 1, o.shape) for o in outs]
        _, (g,) = run_op_backward(name, [x], out_grads=heads, **params)
        eps = 1e-6
        for j in np.flatnonzero(keep)[:6]:
            xp, xm = x.copy(), x.copy()
            xp.flat[j] += eps
            xm.flat[j] -= eps
            fp = sum((o * h).sum() for o, h in zip(run_op(name, [xp], **params)[0], heads))
            fm = sum((o * h).sum() for o, h in zip(run_op(name, [xm], **params)[0], heads))
            np.testing.assert_allclose(g.flat[j], (fp - fm) / (2 * eps), rtol=1e-6, atol=1e-8)
        assert np.all(g[~keep] == 0)
        return
    check_op_gradient(name, inputs, params, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, params", [("prod", {"axis": 1}), ("nansum", {"axis": 0}),
                                          ("moments", {"axes": (1,)})])
def test_grad_req_add(name, params):
    x = _x(3, 4)
    _, once = run_op_backward(name, [x], **params)
    _, added = run_op_backward(name, [x], reqs=["add"], init_grads=[np.full_like(x, 0.5)],
                               **params)
    np.testing.assert_allclose(added[0], once[0] + 0.5, rtol=1e-12)


def test_product_gradient_at_a_zero_is_nan_as_in_mxnet():
    x = np.array([[1.0, 0.0, 3.0], [2.0, 5.0, 6.0]])
    _, (g,) = run_op_backward("prod", [x], axis=1)
    np.testing.assert_array_equal(g[0], [0.0, np.nan, 0.0])
    np.testing.assert_allclose(g[1], [30.0, 12.0, 10.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    x = _with_nans(2, 3, 4).astype(dtype).reshape(-1)
    x[3] = 0.0
    base, offs = _index_lists((2, 3, 4), (0, 2))
    g = np.random.RandomState(2).uniform(-1, 1, base.size).astype(dtype)
    for kind in (K.PROD, K.NANSUM, K.NANPROD):
        a, b = np.empty(base.size, dtype), np.empty(base.size, dtype)
        K.reduce_rows(x, base, offs, kind, a)
        R.reduce_rows(x, base, offs, kind, b)
        np.testing.assert_allclose(a, b, rtol=1e-6)
        for accumulate in (False, True):
            da, db = np.full(x.size, 0.25, dtype), np.full(x.size, 0.25, dtype)
            K.reduce_grad(g, x, a, base, offs, kind, accumulate, da)
            R.reduce_grad(g, x, a, base, offs, kind, accumulate, db)
            np.testing.assert_allclose(da, db, rtol=1e-6)
    x = _x(24).astype(dtype)
    m1, v1, m2, v2 = (np.empty(base.size, dtype) for _ in range(4))
    K.moments(x, base, offs, m1, v1)
    R.moments(x, base, offs, m2, v2)
    np.testing.assert_allclose(m1, m2, rtol=1e-6)
    np.testing.assert_allclose(v1, v2, rtol=1e-6)
    for accumulate in (False, True):
        da, db = np.full(x.size, 0.25, dtype), np.full(x.size, 0.25, dtype)
        K.moments_grad(g, g[::-1].copy(), x, m1, base, offs, accumulate, da)
        R.moments_grad(g, g[::-1].copy(), x, m1, base, offs, accumulate, db)
        np.testing.assert_allclose(da, db, rtol=1e-6)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(n, i[0].astype(np.float32), p) for n, i, p, _ in CASES]
    cases.append(("prod", np.array([[1, 0, 3], [np.nan, 5, 6]], np.float32), {"axis": 1}))
    cases.append(("nanprod", np.array([[1, 0, 3], [np.nan, 5, 6]], np.float32), {"axis": 1}))
    heads = [[np.random.RandomState(k + j).uniform(-1, 1, o.shape).astype(np.float32)
              for j, o in enumerate(run_op(n, [x], **p)[0])] for k, (n, x, p) in enumerate(cases)]
    ref = run_oracle("""
for k, (name, x, params) in enumerate(cases):
    data = mx.nd.array(x)
    data.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(data, **params)
    ys = y if isinstance(y, list) else [y]
    mx.autograd.backward(ys, [mx.nd.array(h) for h in heads[k]])
    out[k] = ([a.asnumpy() for a in ys], data.grad.asnumpy())
""", cases=cases, heads=heads)
    for k, (name, x, params) in enumerate(cases):
        outs, (g,) = run_op_backward(name, [x], out_grads=heads[k], **params)
        for o, want in zip(outs, ref[k][0]):
            assert o.shape == want.shape and o.dtype == want.dtype, (k, o.shape, want.shape)
            np.testing.assert_allclose(o, want, rtol=1e-5, atol=1e-7, err_msg=str(k))
        np.testing.assert_allclose(g, ref[k][1], rtol=1e-5, atol=1e-6, err_msg=str(k))


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.moments(mx.nd.ones((2, 3))), "empty axes are not supported"),
    (lambda: mx.nd.moments(mx.nd.ones((2, 3)), axes=()), "empty axes are not supported"),
    (lambda: mx.nd.prod(mx.nd.ones((2, 3)), axis=3), "axis 3 exceeds"),
    (lambda: mx.nd.nansum(mx.nd.ones((2, 3)), axis=(1, -1)), "same axis twice"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


def test_symbols_infer_shapes_and_bind():
    d = mx.sym.Variable("d")
    m = mx.sym.moments(d, axes=(0,), name="mom")
    assert m.list_outputs() == ["mom_mean", "mom_var"]
    assert m.infer_shape(d=(4, 3))[1] == [(3,), (3,)]
    y = mx.sym.prod(d, axis=1, keepdims=True) + mx.sym.nansum(d, axis=1, keepdims=True)
    assert y.infer_shape(d=(4, 3))[1] == [(4, 1)]
    x = _x(4, 3).astype(np.float32)
    got = y.simple_bind(mx.cpu(), d=(4, 3)).forward(d=x)[0].asnumpy()
    np.testing.assert_allclose(got, np.prod(x, 1, keepdims=True) + x.sum(1, keepdims=True),
                               rtol=1e-5)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params, rtol=1e-4, atol=1e-5)
