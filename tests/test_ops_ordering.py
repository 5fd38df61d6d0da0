"""The ordering family (ops/ordering.py, issue 17): numpy formulas, rank kernels against their
numpy twins, finite differences of the value outputs, grad_req add, zero index gradients, MXNet
1.9.1 parity of forward (and backward where MXNet has one), CPU vs GPU under the simulator."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import ordering as K
from mxteach.kernels.reference import ordering as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, dtype=np.float64):
    """Distinct values (no ties), so orders and finite differences are well defined."""
    n = int(np.prod(shape))
    return (np.random.RandomState(seed).permutation(n) * 0.37 - 3.0).reshape(shape).astype(dtype)


TIES = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, 5.0, 5.0, 4.0]])


def _stable(x, axis, descending):
    return np.argsort(-x if descending else x, axis=axis, kind="stable")


def _take(x, order, axis):
    return np.take_along_axis(x, order, axis)


CASES = [
    ("sort", [_x(3, 5)], {}, lambda x: np.sort(x, 1)),
    ("sort", [_x(4, 3, 2)], {"axis": 0, "is_ascend": False}, lambda x: np.sort(x, 0)[::-1]),
    ("sort", [_x(2, 3)], {"axis": None}, lambda x: np.sort(x.ravel())),
    ("argsort", [TIES], {}, lambda x: _stable(x, 1, False).astype(np.float32)),
    ("argsort", [TIES], {"is_ascend": False, "dtype": "int64"}, lambda x: _stable(x, 1, True)),
    ("topk", [TIES], {"k": 2}, lambda x: _stable(x, 1, True)[:, :2].astype(np.float32)),
    ("topk", [_x(3, 6)], {"k": 3, "ret_typ": "value"},
     lambda x: _take(x, _stable(x, 1, True)[:, :3], 1)),
    ("topk", [_x(5, 2, 3)], {"k": 2, "axis": 0, "ret_typ": "value", "is_ascend": True},
     lambda x: _take(x, _stable(x, 0, False)[:2], 0)),
    ("topk", [TIES], {"k": 2, "ret_typ": "mask"},
     lambda x: np.array([[1, 0, 1, 0], [0, 1, 1, 0]], np.float64)),
    ("topk", [_x(2, 4)], {"k": 0, "ret_typ": "value"}, lambda x: -np.sort(-x, 1)),
    ("topk", [_x(2, 3)], {"k": 3, "axis": None, "ret_typ": "value"},
     lambda x: -np.sort(-x.ravel())[:3]),
    ("argmin", [TIES], {"axis": 1}, lambda x: np.argmin(x, 1).astype(np.float64)),
    ("argmin", [TIES], {}, lambda x: np.array([np.argmin(x)], np.float64)),
    ("argmin", [_x(3, 4)], {"axis": 0, "keepdims": True},
     lambda x: np.argmin(x, 0)[None].astype(np.float64)),
    ("argmax_channel", [_x(2, 3, 4)], {}, lambda x: np.argmax(x, 1).astype(np.float64)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]
DIFFERENTIABLE = [c for c in CASES if c[0] == "sort" or c[2].get("ret_typ") == "value"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    out = run_op(name, inputs, **params)[0][0]
    want = formula(*inputs)
    assert out.dtype == want.dtype and out.shape == want.shape, (out.dtype, out.shape)
    np.testing.assert_array_equal(out, want)


def test_topk_both_returns_values_then_indices():
    x = _x(3, 5)
    vals, idxs = run_op("topk", [x], k=2, ret_typ="both")[0]
    order = _stable(x, 1, True)[:, :2]
    np.testing.assert_array_equal(vals, _take(x, order, 1))
    np.testing.assert_array_equal(idxs, order.astype(np.float32))


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: f"{c[0]}-{sorted(c[2])}")
def test_finite_differences_of_values(case):
    name, inputs, params, _ = case
    check_op_gradient(name, inputs, params, rtol=1e-6, atol=1e-8)


def test_grad_req_add_and_index_outputs_have_zero_gradients():
    x = _x(3, 5)
    _, once = run_op_backward("topk", [x], k=2, ret_typ="value")
    _, added = run_op_backward("topk", [x], reqs=["add"], init_grads=[np.full_like(x, 0.5)],
                               k=2, ret_typ="value")
    np.testing.assert_allclose(added[0], once[0] + 0.5)
    assert once[0].sum() == 2 * 3                  # ones go back to the 2 chosen per row
    for name, params in (("argsort", {}), ("topk", {"k": 2}), ("argmin", {"axis": 1}),
                         ("topk", {"ret_typ": "mask"}), ("argmax_channel", {})):
        _, grads = run_op_backward(name, [x], **params)
        np.testing.assert_array_equal(grads[0], 0)


@pytest.mark.parametrize("descending", [False, True])
def test_cpu_kernels_equal_their_numpy_twins(descending):
    x = np.round(np.random.RandomState(2).uniform(-2, 2, (3, 7, 2)), 1)   # with ties
    got, want = np.empty(x.shape, np.int64), np.empty(x.shape, np.int64)
    K.ranks(x, descending, got)
    R.ranks(x, descending, want)
    np.testing.assert_array_equal(got, want)
    kk = 4
    outs = [np.zeros((3, kk, 2)) for _ in range(4)]
    K.place(x, got, kk, outs[0], outs[1])
    R.place(x, want, kk, outs[2], outs[3])
    np.testing.assert_array_equal(outs[0], outs[2])
    np.testing.assert_array_equal(outs[1], outs[3])
    g = np.random.RandomState(3).uniform(-1, 1, (3, kk, 2))
    for accumulate in (False, True):
        a, b = np.full(x.shape, 0.25), np.full(x.shape, 0.25)
        K.grad_from_ranks(g, got, kk, accumulate, a)
        R.grad_from_ranks(g, want, kk, accumulate, b)
        np.testing.assert_allclose(a, b)
    m1, m2 = np.empty(x.shape), np.empty(x.shape)
    K.mask_from_ranks(got, kk, m1)
    R.mask_from_ranks(want, kk, m2)
    np.testing.assert_array_equal(m1, m2)


@pytest.mark.oracle
def test_mxnet_parity():
    cases = [(n, [a.astype(np.float32) for a in i], p) for n, i, p, _ in CASES]
    heads = {k: np.random.RandomState(k).uniform(-1, 1, run_op(n, i, **p)[0][0].shape)
             .astype(np.float32) for k, (n, i, p) in enumerate(cases)
             if n == "topk" and p.get("ret_typ") == "value"}
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    data = mx.nd.array(inputs[0])
    if k not in heads:
        out[k] = (getattr(mx.nd, name)(data, **params).asnumpy(), None)
        continue
    data.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(data, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), data.grad.asnumpy())
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        if k in heads:
            (y,), (dx,) = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
            np.testing.assert_allclose(dx, ref[k][1], rtol=1e-6, err_msg=IDS[k])
        else:
            y = run_op(name, inputs, **params)[0][0]
        assert y.dtype == ref[k][0].dtype, (IDS[k], y.dtype, ref[k][0].dtype)
        np.testing.assert_array_equal(y, ref[k][0], err_msg=IDS[k])


def test_symbol_outputs_types_and_errors():
    s = mx.sym.topk(mx.sym.Variable("d"), ret_typ="both", k=2)
    assert s.list_outputs() == ["topk0_output0", "topk0_output1"] or \
        s.list_outputs()[0].endswith("_output0")
    _, out_types, _ = s.infer_type(d=np.float64)
    assert out_types == [np.float64, np.float32]
    assert s.infer_shape(d=(3, 5))[1] == [(3, 2), (3, 2)]
    with pytest.raises(MXNetError, match="k = 9 is larger than the 4 elements"):
        mx.nd.topk(mx.nd.ones((2, 4)), k=9)
    with pytest.raises(MXNetError, match="axis"):
        mx.nd.sort(mx.nd.ones((2, 4)), axis=2)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "argsort" or "dtype" not in c[2]],
                         ids=lambda c: f"{c[0]}-{sorted(c[2].items())}")
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params)
