"""Unary math operators of ops/math.py (issue 17): numpy reference, finite differences,
grad_req add, MXNet parity of forward and backward (one oracle call), CPU vs GPU (cudasim)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.kernels.cpu import math as K
from mxteach.kernels.reference import math as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle

OPS = list(K.CODES)
UNIT = {"arcsin", "arccos", "arctanh"}          # |x| < 1
ABOVE_ONE = {"arccosh"}                          # x > 1
POSITIVE = {"log2", "log10", "log1p", "cbrt", "rcbrt"}
PARAMS = {"smooth_l1": {"scalar": 1.5}, "hard_sigmoid": {"alpha": 0.3, "beta": 0.4}}
ROUNDING = {"ceil", "floor", "rint", "round", "trunc", "fix"}


def _x(name, dtype=np.float64, shape=(3, 4), seed=0):
    rs = np.random.RandomState(seed)
    if name in UNIT:
        x = rs.uniform(-0.9, 0.9, shape)
    elif name in ABOVE_ONE:
        x = rs.uniform(1.2, 3.0, shape)
    elif name in POSITIVE:
        x = rs.uniform(0.3, 3.0, shape)
    elif name in ROUNDING:                       # away from the jumps, and exact halves
        x = np.round(rs.uniform(-3, 3, shape) * 4) / 4 + 0.0
        x.flat[:4] = [0.5, -0.5, 1.5, -2.5]
    else:
        x = rs.uniform(-1.5, 1.5, shape)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPS)
def test_cpu_kernel_equals_numpy_reference(name, dtype):
    x = _x(name, dtype)
    kw = PARAMS.get(name, {})
    out, = run_op(name, [x], **kw)[0]
    want = np.zeros_like(x)
    R.unary_forward(x, want, name, *kw.values())
    np.testing.assert_allclose(out, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6)
    g = np.random.RandomState(1).uniform(-1, 1, x.shape).astype(dtype)
    _, (dx,) = run_op_backward(name, [x], out_grads=[g], **kw)
    want_dx = np.zeros_like(x)
    R.unary_backward(x, out, g, want_dx, name, False, *kw.values())
    np.testing.assert_allclose(dx, want_dx, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-6)


@pytest.mark.parametrize("name", sorted(set(OPS) - ROUNDING))
def test_finite_differences(name):
    check_op_gradient(name, [_x(name, shape=(2, 3))], PARAMS.get(name), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["sin", "arctan", "floor", "erf"])
def test_grad_req_add_accumulates(name):
    x = _x(name)
    _, (once,) = run_op_backward(name, [x])
    init = np.full_like(x, 0.25)
    _, (added,) = run_op_backward(name, [x], reqs=["add"], init_grads=[init])
    np.testing.assert_allclose(added, once + 0.25, rtol=1e-12)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    xs = {name: _x(name, np.float32, seed=3) for name in OPS}
    g = np.random.RandomState(4).uniform(-1, 1, (3, 4)).astype(np.float32)
    ref = run_oracle("""
for name, x in xs.items():
    a = mx.nd.array(x)
    a.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(a, **params.get(name, {}))
    y.backward(mx.nd.array(g))
    out[name] = (y.asnumpy(), a.grad.asnumpy())
""", xs=xs, g=g, params=PARAMS)
    for name in OPS:
        y, (dx,) = run_op_backward(name, [xs[name]], out_grads=[g], **PARAMS.get(name, {}))
        np.testing.assert_allclose(y[0], ref[name][0], rtol=2e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(dx, ref[name][1], rtol=2e-4, atol=1e-5, err_msg=name)


def test_symbol_front_end():
    x = mx.sym.Variable("x")
    y = mx.sym.cos(mx.sym.sin(x))
    ex = y.simple_bind(mx.cpu(), x=(2, 2))
    v = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
    np.testing.assert_allclose(ex.forward(x=v)[0].asnumpy(), np.cos(np.sin(v)), rtol=1e-6)


@pytest.mark.cudasim
@pytest.mark.parametrize("name", ["sin", "arccosh", "rint", "round", "cbrt", "erf", "softsign",
                                  "smooth_l1", "hard_sigmoid"])
def test_gpu_equals_cpu(name):
    x = _x(name, np.float32, shape=(2, 5))
    g = np.random.RandomState(2).uniform(-1, 1, x.shape).astype(np.float32)
    res = {}
    for ctx in (mx.cpu(), mx.gpu(0)):
        s = mx.sym.Variable("x")
        ex = getattr(mx.sym, name)(s, **PARAMS.get(name, {})).simple_bind(ctx, x=x.shape)
        y = ex.forward(is_train=True, x=x)[0].asnumpy()
        ex.backward(mx.nd.array(g, ctx=ctx))
        res[str(ctx)] = (y, ex.grad_dict["x"].asnumpy())
    (y0, d0), (y1, d1) = res.values()
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d1, d0, rtol=1e-5, atol=1e-6)
