"""The index_extra family (ops/index_extra.py, issue 17): ravel_multi_index, unravel_index,
scatter_nd, fill_element_0index, onehot_encode, histogram, reset_arrays, cast_storage (symbol),
from_numpy, and the index_contrib family (ops/index_contrib.py): contrib.boolean_mask /
index_copy / backward_index_copy — numpy formulas, the
kernels against their numpy twins, finite differences, grad_req add, MXNet 1.9.1 parity of
forward and backward, CPU vs GPU under the simulator, and the errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import index_extra as K
from mxteach.kernels.reference import index_extra as R
from mxteach.ops import registry
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, dtype=np.float64):
    return np.random.RandomState(seed).uniform(-2, 2, shape).astype(dtype)


def _scatter_nd(d, i, shape):
    out = np.zeros(shape)
    out[tuple(i.astype(int))] = d
    return out


def _index_copy(old, idx, new):
    out = old.copy()
    out[idx.astype(int)] = new
    return out


def _fill(lhs, mhs, rhs):
    out = lhs.copy()
    out[np.arange(len(rhs)), rhs.astype(int)] = mhs
    return out


# name, inputs, params, numpy formula, differentiable inputs (checked by finite differences)
CASES = [
    ("ravel_multi_index", [np.array([[3.0, 6, 6], [4, 5, 1]])], {"shape": (7, 6)},
     lambda x: np.ravel_multi_index(x.astype(int), (7, 6)), []),
    ("unravel_index", [np.array([22.0, 41, 37, 3])], {"shape": (7, 6)},
     lambda x: np.stack(np.unravel_index(x.astype(int), (7, 6))), []),
    ("unravel_index", [np.array([22.0, 41, 5])], {"shape": (2, 3, 7)},
     lambda x: np.stack(np.unravel_index(x.astype(int), (2, 3, 7))), []),
    ("scatter_nd", [_x(3), np.array([[1.0, 0, 1], [0, 1, 1]])], {"shape": (2, 2)},
     lambda d, i: _scatter_nd(d, i, (2, 2)), [0]),
    ("scatter_nd", [_x(2, 3), np.array([[1.0, 0], [0, 1]])], {"shape": (2, 2, 3)},
     lambda d, i: _scatter_nd(d, i, (2, 2, 3)), [0]),
    ("fill_element_0index", [_x(2, 3), np.array([9.0, 8]), np.array([2.0, 0])], {}, _fill, None),
    ("_contrib_index_copy", [_x(5, 3), np.array([3.0, 0]), _x(2, 3, seed=1)], {}, _index_copy,
     [0, 2]),
    ("_contrib_index_copy", [_x(4, 2, 2), np.array([1.0]), _x(1, 2, 2, seed=1)], {},
     _index_copy, [0, 2]),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula, _ = case
    for dtype in (np.float32, np.float64):
        ins = [a.astype(dtype) for a in inputs]
        out, = run_op(name, ins, **params)[0]
        np.testing.assert_allclose(out, formula(*inputs), rtol=1e-6)
        assert out.dtype == dtype


@pytest.mark.parametrize("case", [c for c in CASES if c[4]], ids=[i for i, c in zip(IDS, CASES)
                                                                  if c[4]])
def test_finite_differences(case):
    name, inputs, params, _, wrt = case
    check_op_gradient(name, inputs, params, wrt=wrt, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", [c for c in CASES if c[4] is not None],
                         ids=[i for i, c in zip(IDS, CASES) if c[4] is not None])
def test_grad_req_add_and_index_grads_are_zero(case):
    name, inputs, params, _, wrt = case
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    for k in range(len(inputs)):
        np.testing.assert_allclose(added[k], once[k] + 0.25, rtol=1e-12)
        if k not in wrt:
            np.testing.assert_array_equal(once[k], 0)


def test_index_copy_gradients_as_mxnet_with_repeated_index():
    """MXNet zeroes each copied row of old_tensor's gradient ('add' subtracts it once per time
    it is named) and gives every new_tensor row the gradient of its target row."""
    old, idx, new, og = np.zeros((3, 2)), np.array([1.0, 1.0]), _x(2, 2), _x(3, 2, seed=5)
    _, g = run_op_backward("_contrib_index_copy", [old, idx, new], out_grads=[og])
    np.testing.assert_array_equal(g[0], og * [[1], [0], [1]])
    np.testing.assert_array_equal(g[2], og[[1, 1]])
    _, g = run_op_backward("_contrib_index_copy", [old, idx, new], out_grads=[og],
                           reqs=["add", "null", "add"],
                           init_grads=[np.ones((3, 2)), None, np.ones((2, 2))])
    np.testing.assert_allclose(g[0], 1 + og * [[1], [-1], [1]])
    out, = run_op("_contrib_index_copy", [old, idx, new])[0]
    np.testing.assert_array_equal(out[1], new[1])            # the last row wins


def _run_mask(data, index, ograd=None, req="write", init=None, axis=0):
    """boolean_mask's output length depends on the index values: forward and backward called
    directly, with the output sized as mx.nd sizes it (op.extra['value_shapes'])."""
    op = registry.get("_contrib_boolean_mask")
    p = registry.parse_params(op, {"axis": axis})
    shape, = op.extra["value_shapes"](p, [data, index])
    out, state = np.zeros(shape, data.dtype), {}
    op.forward(p, [data, index], [out], True, state)
    grads = [np.zeros_like(data) if init is None else init[0].copy(),
             np.zeros_like(index) if init is None else init[1].copy()]
    op.backward(p, [np.ones_like(out) if ograd is None else ograd], [data, index], [out],
                grads, [req, req], state)
    return out, grads


def test_boolean_mask_forward_backward_and_finite_differences():
    x, m = _x(4, 3), np.array([0.0, 2.0, -1.0, 0.0])
    og = _x(2, 3, seed=3)
    out, (gx, gm) = _run_mask(x, m, og)
    np.testing.assert_array_equal(out, x[m != 0])
    want = np.zeros_like(x)
    want[m != 0] = og
    np.testing.assert_array_equal(gx, want)
    np.testing.assert_array_equal(gm, 0)
    eps, num = 1e-6, np.zeros_like(x)          # central differences of sum(out * og)
    for k in range(x.size):
        for sign in (1, -1):
            xp = x.copy()
            xp.reshape(-1)[k] += sign * eps
            num.reshape(-1)[k] += sign * np.sum(_run_mask(xp, m, og)[0] * og) / (2 * eps)
    np.testing.assert_allclose(gx, num, rtol=1e-6, atol=1e-8)
    _, (gx2, _) = _run_mask(x, m, og, req="add", init=[np.full_like(x, 0.25), np.zeros(4)])
    np.testing.assert_allclose(gx2, gx + 0.25)
    got = mx.nd.contrib.boolean_mask(mx.nd.array(x), mx.nd.array(np.zeros(4)))
    assert got.shape == (0, 3)


def test_histogram_forward():
    data = np.array([0, 1, 1, 2, 3.5, 5, 7, -1, 4.99])
    counts, edges = run_op("_histogram", [data], bin_cnt=4, range=(0, 5))[0]
    want_c, want_e = np.histogram(data, bins=4, range=(0, 5))
    np.testing.assert_array_equal(counts, want_c)
    np.testing.assert_allclose(edges, want_e)
    assert counts.dtype == np.int64 and edges.dtype == np.float64
    bins = np.array([-1.0, 0.5, 2.5, 6])
    counts, edges = run_op("_histogram", [data, bins])[0]
    np.testing.assert_array_equal(counts, np.histogram(data, bins=bins)[0])
    np.testing.assert_array_equal(edges, bins)
    counts, edges = run_op("_histogram", [np.array([1, 2, 3, 4, 7], np.int32)], bin_cnt=2,
                           range=(0, 7))[0]
    assert edges.tolist() == [0, 3, 7] and counts.tolist() == [2, 3]  # integer edges, as MXNet


def test_reset_arrays_zeros_inputs_in_place():
    a, b = mx.nd.ones((2, 3)), mx.nd.array([1.0, 2.0])
    assert mx.nd.reset_arrays(a, b, num_arrays=2) == []
    assert a.asnumpy().tolist() == [[0] * 3] * 2 and b.asnumpy().tolist() == [0, 0]


def test_onehot_encode_and_python_functions():
    out = mx.nd.zeros((3, 4))
    got = mx.nd.onehot_encode(mx.nd.array([1.0, 7.0, 0.0]), out)
    assert got is out
    np.testing.assert_array_equal(out.asnumpy(), [[0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    counts, edges = mx.nd.histogram(mx.nd.array([0.0, 1, 1, 3]), bins=3)
    assert counts.dtype == np.float32            # numpy's result, as MXNet without a range
    np.testing.assert_array_equal(counts.asnumpy(), [1, 2, 1])
    a = np.arange(6.0).reshape(2, 3)
    b = mx.nd.from_numpy(a)
    assert not a.flags["WRITEABLE"] and b.dtype == np.float64
    b[0, 0] = 9.0                                # shared memory
    assert a[0, 0] == 9.0
    c = mx.nd.from_numpy(np.arange(3.0), zero_copy=False)
    assert c.dtype == np.float64
    with pytest.raises(ValueError, match="c-contiguous"):
        mx.nd.from_numpy(np.arange(6.0).reshape(2, 3).T)
    with pytest.raises(ValueError, match="uint16 is not supported"):
        mx.nd.from_numpy(np.arange(3, dtype=np.uint16))


def test_cast_storage_symbol():
    y = mx.sym.cast_storage(mx.sym.var("x") * 2, stype="csr")
    assert y.infer_shape(x=(2, 3))[1] == [(2, 3)]
    op = registry.get("cast_storage")
    assert op.extra["out_stypes"]({"stype": "csr"}, ["default"]) == ["csr"]
    ex = y.simple_bind(mx.cpu(), x=(2, 3))
    x = _x(2, 3, dtype=np.float32)
    np.testing.assert_allclose(ex.forward(x=x)[0].asnumpy(), 2 * x)
    ex.backward([mx.nd.ones((2, 3))])
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), 2)
    assert mx.nd.cast_storage(mx.nd.ones((2, 2)), stype="row_sparse").stype == "row_sparse"
    # a csr argument is read without a storage-fallback warning (cast_storage takes any storage)
    y = mx.sym.cast_storage(mx.sym.var("c", stype="csr"), stype="default")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex = y.simple_bind(mx.cpu(), c=(2, 3))
    d = np.array([[0, 1, 0], [2, 0, 0]], np.float32)
    ex.arg_dict["c"][:] = mx.nd.array(d).tostype("csr")
    np.testing.assert_array_equal(ex.forward()[0].asnumpy(), d)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    rs = np.random.RandomState(2)
    src = rs.uniform(-1, 1, 24).astype(dtype)
    rows = np.array([3, -1, 0, 5, 3], np.int64)
    for accumulate in (False, True):
        a, b = np.full(20, 0.5, dtype), np.full(20, 0.5, dtype)
        K.rows_gather(src, rows, 4, a, accumulate)
        R.rows_gather(src, rows, 4, b, accumulate)
        np.testing.assert_array_equal(a, b)
    for mode in (0, 1, 2):
        a, b = np.full(24, 0.5, dtype), np.full(24, 0.5, dtype)
        K.rows_scatter(src[:20], rows, 4, mode, a)
        R.rows_scatter(src[:20], rows, 4, mode, b)
        np.testing.assert_allclose(a, b, rtol=1e-6)
    idx = np.array([[3, -1, 9], [4, 5, 0]], dtype)
    a, b = np.empty(3, dtype), np.empty(3, dtype)
    K.ravel(idx.reshape(-1), np.array([7, 6], np.int64), a)
    R.ravel(idx.reshape(-1), np.array([7, 6], np.int64), b)
    np.testing.assert_array_equal(a, b)
    flat = np.array([22, 100, -1, -13, 5], dtype)
    a, b = np.empty(10, dtype), np.empty(10, dtype)
    K.unravel(flat, np.array([7, 6], np.int64), a)
    R.unravel(flat, np.array([7, 6], np.int64), b)
    np.testing.assert_array_equal(a, b)
    data = rs.uniform(-1, 6, 200).astype(dtype)
    edges = np.linspace(0.3, 5.1, 8).astype(dtype)
    for uniform in (True, False):
        a, b = np.empty(7, np.int64), np.empty(7, np.int64)
        K.histogram(data, edges, 0.3, 5.1, uniform, a)
        R.histogram(data, edges, 0.3, 5.1, uniform, b)
        np.testing.assert_array_equal(a, b)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params, wrt is not None)
             for name, inputs, params, _, wrt in CASES]
    heads = [np.random.RandomState(9).uniform(-1, 1, run_op(n, i, **p)[0][0].shape)
             .astype(np.float32) for n, i, p, _ in cases]
    mask_x, mask_m = _x(4, 3, dtype=np.float32), np.array([0, 1, 1, 0], np.float32)
    mask_head = _x(2, 3, seed=4, dtype=np.float32)
    hist_data = np.random.RandomState(0).uniform(-1, 6, 300).astype(np.float32)
    ref = run_oracle("""
for k, (name, inputs, params, has_grad) in enumerate(cases):
    xs = [mx.nd.array(a) for a in inputs]
    fn = mx.nd.contrib.index_copy if name == '_contrib_index_copy' else getattr(mx.nd, name)
    if not has_grad:
        out[k] = (fn(*xs, **params).asnumpy(), None)
        continue
    for x in xs:
        x.attach_grad()
    with mx.autograd.record():
        y = fn(*xs, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [x.grad.asnumpy() for x in xs])
x, m = mx.nd.array(mask_x), mx.nd.array(mask_m)
x.attach_grad()
with mx.autograd.record():
    y = mx.nd.contrib.boolean_mask(x, m)
y.backward(mx.nd.array(mask_head))
out['mask'] = (y.asnumpy(), x.grad.asnumpy())
h = mx.nd.histogram(mx.nd.array(hist_data), bins=7, range=(0.3, 5.1))
out['hist'] = [a.asnumpy() for a in h]
h = mx.nd.histogram(mx.nd.array(hist_data), bins=mx.nd.array([-1, 0, 2, 2.5, 6]))
out['hist_edges'] = [a.asnumpy() for a in h]
o = mx.nd.zeros((3, 4))
mx.nd.onehot_encode(mx.nd.array([1, 7, 0]), o)
out['onehot'] = o.asnumpy()
from mxnet.base import _LIB, check_call, c_str, OpHandle
from mxnet._ctypes.ndarray import _imperative_invoke
import ctypes
h = OpHandle()
check_call(_LIB.NNGetOpHandle(c_str('_contrib_backward_index_copy'), ctypes.byref(h)))
res = [mx.nd.zeros((5, 3)), mx.nd.zeros((2,)), mx.nd.zeros((2, 3))]
_imperative_invoke(h.value, [mx.nd.array(a) for a in bic_in], [], [], res, False, True)
out['bic'] = [res[0].asnumpy(), res[2].asnumpy()]
""", cases=cases, heads=heads, mask_x=mask_x, mask_m=mask_m, mask_head=mask_head,
                     hist_data=hist_data, bic_in=[_x(5, 3, seed=7, dtype=np.float32),
                                                  np.zeros((5, 3), np.float32),
                                                  np.array([3, 0], np.float32),
                                                  np.ones((2, 3), np.float32)])
    for k, (name, inputs, params, has_grad) in enumerate(cases):
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params) \
            if has_grad else (run_op(name, inputs, **params)[0], None)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-6, err_msg=IDS[k])
        if has_grad:
            for g, r in zip(grads, ref[k][1]):
                np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-7, err_msg=IDS[k])
    y, (gx, _) = _run_mask(mask_x, mask_m, mask_head)
    np.testing.assert_array_equal(y, ref["mask"][0])
    np.testing.assert_array_equal(gx, ref["mask"][1])
    for got, want in zip(mx.nd.histogram(mx.nd.array(hist_data), bins=7, range=(0.3, 5.1)),
                         ref["hist"]):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.asnumpy(), want)
    got = mx.nd.histogram(mx.nd.array(hist_data), bins=mx.nd.array([-1, 0, 2, 2.5, 6]))
    for a, b in zip(got, ref["hist_edges"]):
        np.testing.assert_array_equal(a.asnumpy(), b)
    o = mx.nd.zeros((3, 4))
    mx.nd.onehot_encode(mx.nd.array([1, 7, 0]), o)
    np.testing.assert_array_equal(o.asnumpy(), ref["onehot"])
    bic = mx.nd.contrib.backward_index_copy(
        mx.nd.array(_x(5, 3, seed=7)), mx.nd.zeros((5, 3)), mx.nd.array([3, 0]),
        mx.nd.ones((2, 3)))
    np.testing.assert_allclose(bic[0].asnumpy(), ref["bic"][0], rtol=1e-6)
    np.testing.assert_allclose(bic[2].asnumpy(), ref["bic"][1], rtol=1e-6)
    np.testing.assert_array_equal(bic[1].asnumpy(), 0)


@pytest.mark.oracle
def test_mxnet_parity_of_the_symbols():
    ref = run_oracle("""
x, i, n = mx.sym.var('x'), mx.sym.var('i'), mx.sym.var('n')
syms = [mx.sym.scatter_nd(x, i, shape=(2, 3)), mx.sym.ravel_multi_index(x, shape=(4, 5)),
        mx.sym.unravel_index(x, shape=(4, 5)), mx.sym.contrib.index_copy(x, i, n),
        mx.sym.histogram(x, bins=4, range=(0, 1)), mx.sym.cast_storage(x, stype='csr')]
shapes = [dict(x=(3,), i=(2, 3)), dict(x=(2, 6)), dict(x=(6,)), dict(x=(5, 3), i=(2,), n=(2, 3)),
          dict(x=(7,)), dict(x=(2, 3))]
out['res'] = [(s.list_arguments(), s.infer_shape(**sh)[1],
               [np.dtype(t).name for t in s.infer_type(x='float32')[1]] if k not in (0, 3) else None)
              for k, (s, sh) in enumerate(zip(syms, shapes))]
""")["res"]
    x, i, n = mx.sym.var("x"), mx.sym.var("i"), mx.sym.var("n")
    syms = [mx.sym.scatter_nd(x, i, shape=(2, 3)), mx.sym.ravel_multi_index(x, shape=(4, 5)),
            mx.sym.unravel_index(x, shape=(4, 5)), mx.sym.contrib.index_copy(x, i, n),
            mx.sym.histogram(x, bins=4, range=(0, 1)), mx.sym.cast_storage(x, stype="csr")]
    shapes = [dict(x=(3,), i=(2, 3)), dict(x=(2, 6)), dict(x=(6,)), dict(x=(5, 3), i=(2,), n=(2, 3)),
              dict(x=(7,)), dict(x=(2, 3))]
    for k, (s, sh, (args, oshapes, types)) in enumerate(zip(syms, shapes, ref)):
        assert s.list_arguments() == args
        assert [tuple(v) for v in s.infer_shape(**sh)[1]] == [tuple(v) for v in oshapes]
        if types is not None:
            assert [np.dtype(t).name for t in s.infer_type(x="float32")[1]] == types


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.ravel_multi_index(mx.nd.ones((3, 2)), shape=(7, 6)), "(2, n)"),
    (lambda: mx.nd.ravel_multi_index(mx.nd.ones((2, 2))), "shape parameter is empty"),
    (lambda: mx.nd.scatter_nd(mx.nd.ones(2), mx.nd.array([[5, 1], [0, 1]]), shape=(2, 2)),
     "out of range"),
    (lambda: mx.nd.scatter_nd(mx.nd.ones(3), mx.nd.array([[1, 1], [0, 1]]), shape=(2, 2)),
     "data must have shape (2,)"),
    (lambda: mx.nd._histogram(mx.nd.ones(3), bin_cnt=4, range=(5, 0)), "must not exceed"),
    (lambda: mx.nd._histogram(mx.nd.ones(3), mx.nd.ones((2, 2))), "1-D vector"),
    (lambda: mx.nd.contrib.boolean_mask(mx.nd.ones((4, 3)), mx.nd.ones(3)), "one entry per row"),
    (lambda: mx.nd.contrib.boolean_mask(mx.nd.ones((4, 3)), mx.nd.ones(3), axis=1),
     "not supported"),
    (lambda: mx.nd.contrib.index_copy(mx.nd.ones((5, 3)), mx.nd.array([1, 2]),
                                      mx.nd.ones((2, 4))), "must match old_tensor"),
    (lambda: mx.nd.fill_element_0index(mx.nd.ones(3), mx.nd.ones(3), mx.nd.ones(3)), "2-D"),
    (lambda: mx.sym.contrib.boolean_mask(mx.sym.var("a"), mx.sym.var("i")).simple_bind(
        mx.cpu(), a=(4, 3), i=(4,)), "cannot infer the shape of output 0"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _, wrt = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=wrt or [])


@pytest.mark.cudasim
def test_gpu_histogram_onehot_reset_mask_and_backward_copy_equal_cpu():
    from cuda_compare import check
    data = np.random.RandomState(0).uniform(-1, 6, 40).astype(np.float32)
    check("_histogram", [data], {"bin_cnt": 5, "range": (0, 5)})
    check("_histogram", [data, np.array([-1, 0, 2.5, 6], np.float32)], {})
    check("_onehot_encode", [np.array([1, 7, 0], np.float32), np.ones((3, 4), np.float32)], {})
    check("_contrib_backward_index_copy", [_x(5, 3, dtype=np.float32),
                                           np.zeros((5, 3), np.float32),
                                           np.array([3, 0], np.float32),
                                           np.ones((2, 3), np.float32)], {})
    check("cast_storage", [_x(2, 3, dtype=np.float32)], {"stype": "csr"})
    a, b = mx.nd.ones((2, 3), ctx=mx.gpu(0)), mx.nd.ones((4,), ctx=mx.gpu(0))
    mx.nd.reset_arrays(a, b, num_arrays=2)
    assert a.asnumpy().sum() == 0 and b.asnumpy().sum() == 0
    x, m = _x(4, 3, dtype=np.float32), np.array([0, 1, 1, 0], np.float32)
    got = mx.nd.contrib.boolean_mask(mx.nd.array(x, ctx=mx.gpu(0)), mx.nd.array(m, ctx=mx.gpu(0)))
    np.testing.assert_array_equal(got.asnumpy(), x[m != 0])
    from numba import cuda
    op = registry.get("_contrib_boolean_mask")
    p = registry.parse_params(op, {})
    d_in = [cuda.to_device(x), cuda.to_device(m)]
    d_out = [cuda.to_device(np.zeros((2, 3), np.float32))]
    state = {}
    op.gpu_forward(p, d_in, d_out, True, state)
    og = _x(2, 3, seed=3, dtype=np.float32)
    for req in ("write", "add"):
        g = [cuda.to_device(np.full((4, 3), 0.5, np.float32)), cuda.to_device(np.zeros(4,
                                                                                        np.float32))]
        op.gpu_backward(p, [cuda.to_device(og)], d_in, d_out, g, [req, req], state)
        _, want = _run_mask(x, m, og, req=req, init=[np.full((4, 3), 0.5, np.float32),
                                                     np.zeros(4, np.float32)])
        np.testing.assert_allclose(g[0].copy_to_host(), want[0], rtol=1e-6)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import index_extra as C
    src = _x(20, dtype=np.float32)
    rows = np.array([3, -1, 0, 5, 2], np.int64)
    for mode in (1, 2):                 # mode 0 with repeated rows is order-dependent on a GPU
        a, b = np.full(24, 0.5, np.float32), np.full(24, 0.5, np.float32)
        d = cuda.to_device(a)
        C.rows_scatter(cuda.to_device(src), cuda.to_device(rows), 4, mode, d)
        R.rows_scatter(src, rows, 4, mode, b)
        np.testing.assert_allclose(d.copy_to_host(), b, rtol=1e-6)
    flat = np.array([22, 100, -1, -13, 5], np.float32)
    d = cuda.to_device(np.empty(10, np.float32))
    C.unravel(cuda.to_device(flat), cuda.to_device(np.array([7, 6], np.int64)), d)
    want = np.empty(10, np.float32)
    R.unravel(flat, np.array([7, 6], np.int64), want)
    np.testing.assert_array_equal(d.copy_to_host(), want)
    data = np.random.RandomState(1).uniform(-1, 6, 50).astype(np.float32)
    edges = np.linspace(0.3, 5.1, 8).astype(np.float32)
    for uniform in (True, False):
        d = cuda.to_device(np.empty(7, np.int64))
        C.histogram(cuda.to_device(data), cuda.to_device(edges), 0.3, 5.1, uniform, d)
        want = np.empty(7, np.int64)
        R.histogram(data, edges, 0.3, 5.1, uniform, want)
        np.testing.assert_array_equal(d.copy_to_host(), want)
