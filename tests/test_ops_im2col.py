"""The im2col family (ops/im2col.py, issue 17): im2col, col2im, Crop, _split_v2 (split_v2),
cumsum and khatri_rao — numpy formulas, the kernels against their numpy twins, finite
differences, grad_req add, MXNet 1.9.1 parity of forward and backward, CPU vs GPU under the
simulator, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import im2col as K
from mxteach.kernels.reference import im2col as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, dtype=np.float64):
    return np.random.RandomState(seed).uniform(-2, 2, shape).astype(dtype)


def _im2col_np(x, kernel, stride, dilate, pad):
    """im2col by slicing a padded copy: one strided window per kernel position."""
    nd = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    outs = [(xp.shape[2 + i] - (dilate[i] * (kernel[i] - 1) + 1)) // stride[i] + 1
            for i in range(nd)]
    cols = []
    for kpos in np.ndindex(*kernel):
        sl = tuple(slice(kpos[i] * dilate[i], kpos[i] * dilate[i] + stride[i] * outs[i],
                         stride[i]) for i in range(nd))
        cols.append(xp[(slice(None), slice(None)) + sl].reshape(x.shape[0], x.shape[1], -1))
    return np.stack(cols, 2).reshape(x.shape[0], -1, int(np.prod(outs)))


def _col2im_np(col, size, kernel, stride, dilate, pad):
    """col2im as the transpose of the im2col matrix, built column by column."""
    n, ck, _ = col.shape
    c = ck // int(np.prod(kernel))
    basis = np.eye(c * int(np.prod(size))).reshape(-1, 1, c, *size)
    mat = np.stack([_im2col_np(b, kernel, stride, dilate, pad).reshape(-1) for b in basis], 1)
    return np.stack([(mat.T @ col[i].reshape(-1)).reshape(c, *size) for i in range(n)])


def _split(x, starts, axis):
    return tuple(np.split(x, starts[1:], axis))


CASES = [
    ("im2col", [_x(2, 2, 4, 5)], {"kernel": (2, 3), "stride": (1, 2), "pad": (1, 0)},
     lambda x: _im2col_np(x, (2, 3), (1, 2), (1, 1), (1, 0))),
    ("im2col", [_x(1, 3, 5, 5)], {"kernel": (2, 2), "dilate": (2, 1), "stride": (2, 2),
                                  "pad": (1, 1)},
     lambda x: _im2col_np(x, (2, 2), (2, 2), (2, 1), (1, 1))),
    ("col2im", [_x(1, 4, 4)], {"output_size": (3, 3), "kernel": (2, 2)},
     lambda c: _col2im_np(c, (3, 3), (2, 2), (1, 1), (1, 1), (0, 0))),
    ("col2im", [_x(2, 12, 9)], {"output_size": (4, 5), "kernel": (2, 3), "stride": (2, 1),
                                "pad": (1, 0)},
     lambda c: _col2im_np(c, (4, 5), (2, 3), (2, 1), (1, 1), (1, 0))),
    ("Crop", [_x(2, 1, 5, 6)], {"offset": (1, 2), "h_w": (2, 3), "num_args": 1},
     lambda x: x[:, :, 1:3, 2:5]),
    ("Crop", [_x(1, 2, 5, 6)], {"h_w": (2, 3), "num_args": 1, "center_crop": True},
     lambda x: x[:, :, 1:3, 1:4]),
    ("Crop", [_x(1, 2, 5, 6), _x(3, 7, 2, 2)], {"offset": (1, 1), "num_args": 2},
     lambda x, y: x[:, :, 1:3, 1:3]),
    ("_split_v2", [_x(6, 4)], {"indices": (0, 2, 3), "axis": 0},
     lambda x: _split(x, (0, 2, 3), 0)),
    ("_split_v2", [_x(3, 5)], {"indices": (0, 2)}, lambda x: _split(x, (0, 2), 1)),
    ("_split_v2", [_x(3, 6, 2)], {"indices": (), "sections": 3, "axis": -2},
     lambda x: _split(x, (0, 2, 4), 1)),
    ("_split_v2", [_x(2, 3)], {"indices": (0, 1, 2), "axis": 1, "squeeze_axis": True},
     lambda x: tuple(x[:, k] for k in range(3))),
    ("cumsum", [_x(2, 3, 4)], {"axis": 1}, lambda x: np.cumsum(x, 1)),
    ("cumsum", [_x(3, 4)], {}, lambda x: np.cumsum(x)),
    ("cumsum", [_x(3, 4)], {"axis": -1, "dtype": "float64"}, lambda x: np.cumsum(x, -1)),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _outs(v):
    return list(v) if isinstance(v, tuple) else [v]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    for dtype in (np.float32, np.float64):
        ins = [a.astype(dtype) for a in inputs]
        outs = run_op(name, ins, **params)[0]
        want = _outs(formula(*[a.astype(np.float64) for a in ins]))
        assert len(outs) == len(want)
        for o, w in zip(outs, want):
            assert o.shape == w.shape
            np.testing.assert_allclose(o, w, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params, _ = case
    check_op_gradient(name, inputs, params, wrt=[0], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", [CASES[k] for k in (0, 3, 6, 7, 11)],
                         ids=[IDS[k] for k in (0, 3, 6, 7, 11)])
def test_grad_req_add(case):
    name, inputs, params, _ = case
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12)
    for g in once[1:]:                       # Crop's crop_like
        np.testing.assert_array_equal(g, 0)


def test_im2col_and_col2im_are_adjoint():
    """<im2col(x), c> == <x, col2im(c)> for 1-, 2- and 3-D blocks."""
    for shape, kernel, stride, dilate, pad in [((2, 3, 9), (3,), (2,), (1,), (1,)),
                                               ((1, 2, 5, 6), (2, 3), (1, 2), (2, 1), (1, 1)),
                                               ((1, 2, 4, 3, 5), (2, 2, 3), (1, 2, 1),
                                                (1, 1, 2), (0, 1, 1))]:
        p = {"kernel": kernel, "stride": stride, "dilate": dilate, "pad": pad}
        x = _x(*shape, seed=2)
        cols, = run_op("im2col", [x], **p)[0]
        c = _x(*cols.shape, seed=3)
        img, = run_op("col2im", [c], output_size=shape[2:], **p)[0]
        assert np.isclose(np.sum(cols * c), np.sum(x * img), rtol=1e-12)
        if len(kernel) == 2:
            np.testing.assert_allclose(cols, _im2col_np(x, kernel, stride, dilate, pad),
                                       rtol=1e-12)


def test_cumsum_dtypes_follow_mxnet():
    out, = run_op("cumsum", [np.array([1.5, 2.5, -0.5])], dtype="int32")[0]
    assert out.dtype == np.int32 and out.tolist() == [1, 3, 3]
    out, = run_op("cumsum", [np.array([100, 100], np.int8)])[0]
    assert out.dtype == np.int8                  # no promotion, as in MXNet
    _, grads = run_op_backward("cumsum", [np.ones((2, 3), np.float32)], axis=1,
                               dtype="float64", out_grads=[np.arange(6.).reshape(2, 3)])
    assert grads[0].dtype == np.float32
    np.testing.assert_array_equal(grads[0], [[3, 3, 2], [12, 9, 5]])


def test_khatri_rao_forward():
    a, b, c = _x(2, 3), _x(4, 3, seed=1), _x(2, 3, seed=2)
    out, = run_op("khatri_rao", [a, b, c], num_args=3)[0]
    want = np.stack([np.kron(np.kron(a[:, k], b[:, k]), c[:, k]) for k in range(3)], 1)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert mx.ops.registry.get("khatri_rao").backward is None     # none in MXNet either


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    rs = np.random.RandomState(4)
    g = np.array([2, 3, 2, 5, 6, 2, 3, 2, 2, 3, 3, 2, 1, 2, 1, 2, 1, 1, 1, 0], np.int64)
    img = rs.uniform(-1, 1, 2 * 3 * 2 * 5 * 6).astype(dtype)
    n_col = 2 * 3 * 2 * 3 * 2 * 2 * 3 * 3
    col = rs.uniform(-1, 1, n_col).astype(dtype)
    for accumulate in (False, True):
        a, b = np.full(n_col, 0.5, dtype), np.full(n_col, 0.5, dtype)
        K.im2col(img, g, a, accumulate)
        R.im2col(img, g, b, accumulate)
        np.testing.assert_allclose(a, b, rtol=1e-6)
        a, b = np.full(img.size, 0.5, dtype), np.full(img.size, 0.5, dtype)
        K.col2im(col, g, a, accumulate)
        R.col2im(col, g, b, accumulate)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        dims = np.array([3, 4, 5], np.int64)
        x = rs.uniform(-1, 1, 60).astype(dtype)
        for reverse in (False, True):
            a, b = np.full(60, 0.5, dtype), np.full(60, 0.5, dtype)
            K.cumsum(x, dims, reverse, a, accumulate)
            R.cumsum(x, dims, reverse, b, accumulate)
            np.testing.assert_allclose(a, b, rtol=1e-5)
        d = np.array([3, 2, 6, 1, 4, 2, 2], np.int64)
        src = rs.uniform(-1, 1, 36).astype(dtype)
        a, b = np.full(24, 0.5, dtype), np.full(24, 0.5, dtype)
        K.slab_copy(src, a, d, accumulate)
        R.slab_copy(src, b, d, accumulate)
        np.testing.assert_array_equal(a, b)
    m1, m2 = rs.uniform(-1, 1, (3, 4)).astype(dtype), rs.uniform(-1, 1, (2, 4)).astype(dtype)
    a, b = np.empty((6, 4), dtype), np.empty((6, 4), dtype)
    K.khatri_rao(m1, m2, a)
    R.khatri_rao(m1, m2, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    # MXNet 1.9.1's im2col fails on 1-D and 3-D blocks ("index = 3 must be in range") and its
    # cumsum kernel on a negative axis (same message): those are compared with numpy only
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params, _ in CASES
             if not (name == "cumsum" and params.get("axis", 0) < 0)]
    ids = [i for i, c in zip(IDS, CASES) if not (c[0] == "cumsum" and c[2].get("axis", 0) < 0)]
    heads = [[np.random.RandomState(9 + i).uniform(-1, 1, o.shape).astype(np.float32)
              for i, o in enumerate(run_op(n, ins, **p)[0])] for n, ins, p in cases]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    xs = [mx.nd.array(a) for a in inputs]
    for x in xs:
        x.attach_grad()
    with mx.autograd.record():
        if name == '_split_v2':
            ys = mx.nd._internal._split_v2(*xs, **params)
        else:
            ys = getattr(mx.nd, name)(*xs, **params)
    ys = ys if isinstance(ys, list) else [ys]
    mx.autograd.backward(ys, [mx.nd.array(h) for h in heads[k]])
    out[k] = ([y.asnumpy() for y in ys], [x.grad.asnumpy() for x in xs])
kr = mx.nd.khatri_rao(*[mx.nd.array(a) for a in kr_in])
out['kr'] = kr.asnumpy()
out['split'] = [y.asnumpy() for y in mx.nd.split_v2(mx.nd.array(kr_in[1]), (1, 3), axis=0)]
out['cumsum_int'] = mx.nd.cumsum(mx.nd.array([1.5, 2.5, -0.5]), dtype='int32').asnumpy()
""", cases=cases, heads=heads, kr_in=[_x(2, 3, dtype=np.float32), _x(4, 3, seed=1,
                                                                     dtype=np.float32)])
    for k, (name, inputs, params) in enumerate(cases):
        ys, grads = run_op_backward(name, inputs, out_grads=heads[k], **params)
        for y, r in zip(ys, ref[k][0]):
            np.testing.assert_allclose(y, r, rtol=1e-5, atol=1e-6, err_msg=ids[k])
        for g, r in zip(grads, ref[k][1]):
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6, err_msg=ids[k])
    kr_in = [_x(2, 3, dtype=np.float32), _x(4, 3, seed=1, dtype=np.float32)]
    np.testing.assert_allclose(mx.nd.khatri_rao(*map(mx.nd.array, kr_in)).asnumpy(), ref["kr"],
                               rtol=1e-6)
    ours = mx.nd.split_v2(mx.nd.array(kr_in[1]), (1, 3), axis=0)
    for a, b in zip(ours, ref["split"]):
        np.testing.assert_array_equal(a.asnumpy(), b)
    np.testing.assert_array_equal(
        mx.nd.cumsum(mx.nd.array([1.5, 2.5, -0.5]), dtype="int32").asnumpy(), ref["cumsum_int"])


@pytest.mark.oracle
def test_mxnet_parity_of_the_symbols():
    ref = run_oracle("""
x, y = mx.sym.var('x'), mx.sym.var('y')
syms = [mx.sym.split_v2(x, 3, axis=1), mx.sym.split_v2(x, (1, 4), axis=1, squeeze_axis=False),
        mx.sym.Crop(x, y, num_args=2, center_crop=True), mx.sym.im2col(x, kernel=(2, 2)),
        mx.sym.cumsum(x, axis=0, dtype='float64'), mx.sym.khatri_rao(x, y)]
shapes = [dict(x=(2, 6)), dict(x=(2, 6)), dict(x=(1, 2, 6, 6), y=(1, 1, 3, 4)),
          dict(x=(1, 2, 4, 4)), dict(x=(2, 6)), dict(x=(3, 6), y=(2, 6))]
res = []
for s, sh in zip(syms, shapes):
    a, o, _ = s.infer_shape(**sh)
    _, t, _ = s.infer_type(x='float32')
    res.append((s.list_arguments(), s.list_outputs(), o, [np.dtype(v).name for v in t]))
out['res'] = res
""")["res"]
    x, y = mx.sym.var("x"), mx.sym.var("y")
    syms = [mx.sym.split_v2(x, 3, axis=1), mx.sym.split_v2(x, (1, 4), axis=1),
            mx.sym.Crop(x, y, num_args=2, center_crop=True), mx.sym.im2col(x, kernel=(2, 2)),
            mx.sym.cumsum(x, axis=0, dtype="float64"), mx.sym.khatri_rao(x, y)]
    shapes = [dict(x=(2, 6)), dict(x=(2, 6)), dict(x=(1, 2, 6, 6), y=(1, 1, 3, 4)),
              dict(x=(1, 2, 4, 4)), dict(x=(2, 6)), dict(x=(3, 6), y=(2, 6))]
    for s, sh, (args, outs, oshapes, types) in zip(syms, shapes, ref):
        _, o, _ = s.infer_shape(**sh)
        _, t, _ = s.infer_type(x="float32")
        assert s.list_arguments() == args and [tuple(v) for v in o] == \
            [tuple(v) for v in oshapes]
        assert len(s.list_outputs()) == len(outs)
        assert [np.dtype(v).name for v in t] == types
    ex = syms[2].simple_bind(mx.cpu(), x=(1, 2, 6, 6), y=(1, 1, 3, 4))
    data = _x(1, 2, 6, 6, dtype=np.float32)
    got = ex.forward(x=data, y=np.zeros((1, 1, 3, 4), np.float32))[0].asnumpy()
    np.testing.assert_array_equal(got, data[:, :, 1:4, 1:5])


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.im2col(mx.nd.ones((1, 1, 4, 5)), kernel=(9, 3)), "dilated kernel spans 9"),
    (lambda: mx.nd.im2col(mx.nd.ones((1, 1, 4, 5)), kernel=(2, 2), stride=(1,)),
     "same number of dimensions"),
    (lambda: mx.nd.im2col(mx.nd.ones((4, 5)), kernel=(2,)), "needs a 3-D input"),
    (lambda: mx.nd.col2im(mx.nd.ones((1, 4, 5)), output_size=(3, 3), kernel=(2, 2)),
     "has 5 blocks"),
    (lambda: mx.nd.col2im(mx.nd.ones((1, 5, 4)), output_size=(3, 3), kernel=(2, 2)),
     "multiple of the kernel size"),
    (lambda: mx.nd.Crop(mx.nd.ones((1, 1, 5, 6)), h_w=(2, 3), offset=(4, 0)),
     "leaves no room"),
    (lambda: mx.nd.Crop(mx.nd.ones((1, 5, 6)), h_w=(2, 3)), "should be 4-D"),
    (lambda: mx.nd.split_v2(mx.nd.ones((6, 4)), (2, 9)), "beyond the size 6"),
    (lambda: mx.nd._split_v2(mx.nd.ones((6, 4)), indices=(0, 3, 2), axis=0),
     "indices must be sorted"),
    (lambda: mx.nd._split_v2(mx.nd.ones((6, 4)), indices=(2, 3)), "must start at 0"),
    (lambda: mx.nd.cumsum(mx.nd.ones((2, 3)), axis=2), "out of range"),
    (lambda: mx.nd.khatri_rao(mx.nd.ones((2, 2)), mx.nd.ones((2, 3))), "arg1 has shape"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


def test_split_v2_python_errors_as_mxnet():
    with pytest.raises(ValueError, match="equal division"):
        mx.nd.split_v2(mx.nd.ones((6, 4)), 4)
    with pytest.raises(ValueError, match="int or tuple"):
        mx.sym.split_v2(mx.sym.var("x"), [1, 2])


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=[0])


@pytest.mark.cudasim
def test_gpu_khatri_rao_equals_cpu():
    from cuda_compare import check
    check("khatri_rao", [_x(2, 3, dtype=np.float32), _x(3, 3, seed=1, dtype=np.float32),
                         _x(2, 3, seed=2, dtype=np.float32)], {"num_args": 3})


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins_and_nd_on_gpu():
    from numba import cuda
    from mxteach.kernels.cuda import im2col as C
    g = np.array([1, 2, 1, 4, 5, 1, 2, 2, 1, 3, 2, 1, 2, 2, 1, 1, 1, 0, 1, 0], np.int64)
    img, col = _x(40, dtype=np.float32), _x(48, seed=1, dtype=np.float32)
    for accumulate in (False, True):
        a, b = np.full(48, 0.5, np.float32), np.full(48, 0.5, np.float32)
        d = cuda.to_device(a)
        C.im2col(cuda.to_device(img), cuda.to_device(g), d, accumulate)
        R.im2col(img, g, b, accumulate)
        np.testing.assert_allclose(d.copy_to_host(), b, rtol=1e-6)
        a, b = np.full(40, 0.5, np.float32), np.full(40, 0.5, np.float32)
        d = cuda.to_device(a)
        C.col2im(cuda.to_device(col), cuda.to_device(g), d, accumulate)
        R.col2im(col, g, b, accumulate)
        np.testing.assert_allclose(d.copy_to_host(), b, rtol=1e-5, atol=1e-6)
    x = _x(1, 2, 4, 5, dtype=np.float32)
    got = mx.nd.im2col(mx.nd.array(x, ctx=mx.gpu(0)), kernel=(2, 2), pad=(1, 1)).asnumpy()
    np.testing.assert_allclose(got, mx.nd.im2col(mx.nd.array(x), kernel=(2, 2),
                                                 pad=(1, 1)).asnumpy(), rtol=1e-6)
    pieces = mx.nd.split_v2(mx.nd.array(x, ctx=mx.gpu(0)), (1, 3), axis=3)
    for p, w in zip(pieces, np.split(x, [1, 3], 3)):
        np.testing.assert_array_equal(p.asnumpy(), w)
