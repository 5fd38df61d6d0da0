"""ROIPooling, _contrib_ROIAlign and _contrib_AdaptiveAvgPooling2D (ops/roi.py, issue 17): the
kernels against their numpy twins, the operators against numpy formulas, float64 finite
differences (ROIPooling's maximum is differentiable where the data has no ties: random data),
grad_req add, MXNet 1.9.1 parity of forward and backward (the regions' gradient is zero there
as here), the errors, and CPU vs GPU under the simulator."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import roi as K
from mxteach.kernels.reference import roi as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-2, 2, shape)


# regions (batch, x1, y1, x2, y2): inside, crossing the right/bottom border, tiny, whole image
ROIS = np.array([[0, 0.3, 1.2, 4.4, 5.1], [1, 2.2, 0.1, 8.3, 7.7], [1, 3.1, 2.2, 3.4, 2.6],
                 [0, 0.0, 0.0, 6.0, 5.0]])
ROIS_HALF = np.array([[0, 1.3, 2.1, 9.4, 10.7], [1, 4.2, 0.6, 13.3, 9.9]])
ALIGN = dict(pooled_size=(2, 3), spatial_scale=1.0)
CASES = [
    ("ROIPooling", [_x(2, 3, 6, 7), ROIS], dict(pooled_size=(2, 3), spatial_scale=1.0)),
    ("ROIPooling", [_x(2, 2, 6, 7, seed=1), ROIS_HALF], dict(pooled_size=(3, 2),
                                                             spatial_scale=0.5)),
    ("_contrib_ROIAlign", [_x(2, 3, 6, 7), ROIS], ALIGN),
    ("_contrib_ROIAlign", [_x(2, 3, 6, 7), ROIS], dict(ALIGN, sample_ratio=2)),
    ("_contrib_ROIAlign", [_x(2, 3, 6, 7), ROIS], dict(ALIGN, aligned=True)),
    ("_contrib_ROIAlign", [_x(2, 12, 6, 7), ROIS_HALF],
     dict(pooled_size=(2, 3), spatial_scale=0.5, position_sensitive=True, sample_ratio=3)),
    ("_contrib_AdaptiveAvgPooling2D", [_x(2, 3, 6, 7)], dict(output_size=(4, 3))),
    ("_contrib_AdaptiveAvgPooling2D", [_x(2, 3, 5, 4)], dict(output_size=(7, 9))),
    ("_contrib_AdaptiveAvgPooling2D", [_x(1, 2, 5, 4)], dict(output_size=2)),
    ("_contrib_AdaptiveAvgPooling2D", [_x(1, 2, 5, 4)], {}),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _reqs(case):
    return ["write"] + ["null"] * (len(case[1]) - 1)


# -- numpy formulas ---------------------------------------------------------------------------
def test_roi_pooling_takes_the_maximum_of_each_rounded_bin():
    x = _x(1, 1, 6, 7)
    roi = np.array([[0, 1.4, 0.6, 4.6, 3.4]])        # rounds to x 1..5, y 1..3
    out = run_op("ROIPooling", [x, roi], pooled_size=(1, 2), spatial_scale=1.0)[0][0]
    # width 5 in 2 bins: columns [1, 4) and [3, 6)
    np.testing.assert_allclose(out[0, 0, 0], [x[0, 0, 1:4, 1:4].max(), x[0, 0, 1:4, 3:6].max()])


def test_roi_align_of_a_linear_image_is_the_bin_centre_value():
    # bilinear interpolation is exact on a linear image: each bin's mean is its centre's value
    H, W = 6, 7
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    x = (2.0 * yy + 0.5 * xx)[None, None]
    roi = np.array([[0, 1.0, 0.5, 5.0, 4.5]])
    out = run_op("_contrib_ROIAlign", [x, roi], pooled_size=(2, 2), spatial_scale=1.0)[0][0]
    cy, cx = 0.5 + np.array([1.0, 3.0]), 1.0 + np.array([1.0, 3.0])
    np.testing.assert_allclose(out[0, 0], 2.0 * cy[:, None] + 0.5 * cx[None, :])


def test_adaptive_average_pooling_to_a_divisor_is_plain_average_pooling():
    x = _x(2, 3, 6, 8)
    out = run_op("_contrib_AdaptiveAvgPooling2D", [x], output_size=(3, 2))[0][0]
    np.testing.assert_allclose(out, x.reshape(2, 3, 3, 2, 2, 4).mean(axis=(3, 5)))
    one = run_op("_contrib_AdaptiveAvgPooling2D", [x])[0][0]
    np.testing.assert_allclose(one[..., 0, 0], x.mean(axis=(2, 3)))


def test_negative_batch_index_gives_an_empty_region_in_roi_align():
    rois = ROIS.copy()
    rois[1, 0] = -1
    out = run_op("_contrib_ROIAlign", [_x(2, 3, 6, 7), rois], **ALIGN)[0][0]
    assert np.all(out[1] == 0) and np.all(out[0] != 0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_in_float32_and_float64(case):
    name, inputs, params = case
    ref = run_op(name, inputs, **params)[0][0]
    out = run_op(name, [a.astype(np.float32) for a in inputs], **params)[0][0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


# -- kernels against their numpy twins --------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    c = lambda a: np.ascontiguousarray(a, dtype=dtype)       # noqa: E731
    data = c(_x(2, 12, 6, 7))
    for rois, scale in ((c(ROIS), 1.0), (c(ROIS_HALF), 0.5)):
        got = [c(np.zeros((len(rois), 12, 2, 3))), np.zeros((len(rois), 12, 2, 3), np.int64)]
        want = [c(np.zeros(got[0].shape)), np.zeros(got[1].shape, np.int64)]
        K.roi_pool_forward(data, rois, scale, *got)
        R.roi_pool_forward(data, rois, scale, *want)
        np.testing.assert_allclose(got[0], want[0], **tol)
        np.testing.assert_array_equal(got[1], want[1])
        dout = c(_x(*got[0].shape, seed=4))
        for acc in (False, True):
            g, w = c(np.full(data.shape, .5)), c(np.full(data.shape, .5))
            K.roi_pool_backward(dout, got[1], acc, g)
            R.roi_pool_backward(dout, want[1], acc, w)
            np.testing.assert_allclose(g, w, **tol)
            for ratio, sens, aligned in ((-1, False, False), (2, True, False), (1, False, True)):
                co = 2 if sens else 12
                g, w = c(np.zeros((len(rois), co, 2, 3))), c(np.zeros((len(rois), co, 2, 3)))
                K.roi_align_forward(data, rois, scale, ratio, sens, aligned, g)
                R.roi_align_forward(data, rois, scale, ratio, sens, aligned, w)
                np.testing.assert_allclose(g, w, **tol)
                d = c(_x(*g.shape, seed=5))
                g, w = c(np.full(data.shape, .5)), c(np.full(data.shape, .5))
                K.roi_align_backward(d, rois, scale, ratio, sens, aligned, acc, g)
                R.roi_align_backward(d, rois, scale, ratio, sens, aligned, acc, w)
                np.testing.assert_allclose(g, w, **tol)
    x3 = c(_x(6, 5, 7))
    for shape in ((3, 4), (7, 9)):
        g, w = c(np.zeros((6,) + shape)), c(np.zeros((6,) + shape))
        K.adaptive_avg_forward(x3, g)
        R.adaptive_avg_forward(x3, w)
        np.testing.assert_allclose(g, w, **tol)
        for acc in (False, True):
            d = c(_x(6, *shape, seed=2))
            g, w = c(np.full(x3.shape, .5)), c(np.full(x3.shape, .5))
            K.adaptive_avg_backward(d, acc, g)
            R.adaptive_avg_backward(d, acc, w)
            np.testing.assert_allclose(g, w, **tol)


# -- gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params = case
    check_op_gradient(name, inputs, params, wrt=[0], rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grad_req_add(case):
    name, inputs, params = case
    heads = [_x(*run_op(name, inputs, **params)[0][0].shape, seed=9)]
    _, once = run_op_backward(name, inputs, reqs=_reqs(case), out_grads=heads, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, out_grads=heads, init_grads=init,
                               reqs=["add"] + _reqs(case)[1:], **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12, atol=1e-12)


def test_the_regions_get_a_zero_gradient():
    name, inputs, params = CASES[2]
    _, grads = run_op_backward(name, inputs, init_grads=[np.ones_like(a) for a in inputs],
                               **params)
    assert np.all(grads[1] == 0)


# -- MXNet 1.9.1 ------------------------------------------------------------------------------
@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params in CASES]
    heads = [_x(*run_op(n, i, **p)[0][0].shape, seed=9).astype(np.float32)
             for n, i, p in cases]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for a in args:
        a.attach_grad()
    fn = getattr(mx.nd.contrib, name[len('_contrib_'):]) if name.startswith('_contrib_') \\
        else getattr(mx.nd, name)
    with mx.autograd.record():
        y = fn(*args, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [a.grad.asnumpy() for a in args])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-5, atol=1e-5, err_msg=IDS[k])
        for i, want in enumerate(ref[k][1]):
            np.testing.assert_allclose(grads[i], want, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{IDS[k]} gradient {i}")


def test_symbols_list_arguments_and_infer_shapes():
    d, r = mx.sym.Variable("data"), mx.sym.Variable("rois")
    p = mx.sym.ROIPooling(d, r, pooled_size=(2, 2), spatial_scale=0.5)
    assert p.list_arguments() == ["data", "rois"]
    assert p.infer_shape(data=(2, 3, 8, 8), rois=(5, 5))[1] == [(5, 3, 2, 2)]
    a = mx.sym.contrib.ROIAlign(d, r, pooled_size=(2, 2), spatial_scale=0.5,
                                position_sensitive=True)
    assert a.infer_shape(data=(2, 8, 8, 8), rois=(5, 5))[1] == [(5, 2, 2, 2)]
    g = mx.sym.contrib.AdaptiveAvgPooling2D(d, output_size=3)
    assert g.infer_shape(data=(2, 3, 8, 8))[1] == [(2, 3, 3, 3)]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.ROIPooling(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((3, 4)), pooled_size=(2, 2),
                              spatial_scale=1.0), "'rois' has shape (3, 4)"),
    (lambda: mx.nd.ROIPooling(mx.nd.ones((2, 3, 4, 4)), mx.nd.array([[2, 0, 0, 1, 1]]),
                              pooled_size=(2, 2), spatial_scale=1.0), "batch index 2"),
    (lambda: mx.nd.ROIPooling(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((3, 5)),
                              spatial_scale=1.0), "needs argument 'pooled_size'"),
    (lambda: mx.nd.contrib.ROIAlign(mx.nd.ones((2, 6, 4, 4)), mx.nd.ones((3, 5)),
                                    pooled_size=(2, 2), spatial_scale=1.0,
                                    position_sensitive=True), "multiple of the bins"),
    (lambda: mx.nd.contrib.ROIAlign(mx.nd.ones((2, 3, 4, 4)), mx.nd.array([[0, 1, 1, 1, 2]]),
                                    pooled_size=(2, 2), spatial_scale=1.0, aligned=True),
     "has no area"),
    (lambda: mx.nd.contrib.AdaptiveAvgPooling2D(mx.nd.ones((2, 3, 4))), "'data' has shape"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.oracle
def test_mxnet_rejects_the_same_shapes():
    """(A region without area under aligned=True is not asked: MXNet 1.9.1 fails a CHECK
    inside the kernel and terminates the whole process; mxteach raises MXNetError.)"""
    ref = run_oracle("""
calls = {
  'rois': lambda: mx.nd.ROIPooling(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((3, 4)),
                                   pooled_size=(2, 2), spatial_scale=1.0),
  'sensitive': lambda: mx.nd.contrib.ROIAlign(mx.nd.ones((2, 6, 4, 4)), mx.nd.ones((3, 5)),
                                              pooled_size=(2, 2), spatial_scale=1.0,
                                              position_sensitive=True),
  'ndim': lambda: mx.nd.contrib.AdaptiveAvgPooling2D(mx.nd.ones((2, 3, 4))),
}
for key, call in calls.items():
    try:
        call().wait_to_read()
        out[key] = 'ok'
    except mx.base.MXNetError:
        out[key] = 'error'
""")
    assert set(ref.values()) == {"error"}


# -- the GPU under the simulator --------------------------------------------------------------
@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=[0, 1][:len(inputs)],
          atol=1e-5)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import roi as C
    data, rois = _x(2, 12, 6, 7), ROIS_HALF
    got, want = cuda.to_device(np.zeros((2, 2, 2, 3))), np.zeros((2, 2, 2, 3))
    C.roi_align_forward(cuda.to_device(data), cuda.to_device(rois), 0.5, 2, True, False, got)
    R.roi_align_forward(data, rois, 0.5, 2, True, False, want)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12)
    d = _x(2, 2, 2, 3, seed=3)
    got, want = cuda.to_device(np.full(data.shape, .5)), np.full(data.shape, .5)
    C.roi_align_backward(cuda.to_device(d), cuda.to_device(rois), 0.5, 2, True, False, True,
                         got)
    R.roi_align_backward(d, rois, 0.5, 2, True, False, True, want)
    np.testing.assert_allclose(got.copy_to_host(), want, rtol=1e-12)


@pytest.mark.oracle
def test_mxnet_parity_on_random_regions():
    """Regions anywhere (partly or wholly outside, x2 < x1), feature-map scales 1/16 and 1/20."""
    rs = np.random.RandomState(1)
    x = rs.rand(3, 8, 7, 9).astype(np.float32)
    rois = np.concatenate([rs.randint(0, 3, (12, 1)), rs.uniform(-20, 160, (12, 4))],
                          1).astype(np.float32)
    cases = [("ROIPooling", dict(pooled_size=(3, 2), spatial_scale=0.0625)),
             ("ROIPooling", dict(pooled_size=(1, 4), spatial_scale=0.05)),
             ("_contrib_ROIAlign", dict(pooled_size=(2, 2), spatial_scale=0.0625)),
             ("_contrib_ROIAlign", dict(pooled_size=(2, 2), spatial_scale=0.0625,
                                        position_sensitive=True)),
             ("_contrib_ROIAlign", dict(pooled_size=(3, 2), spatial_scale=0.07, sample_ratio=2))]
    ref = run_oracle("""
for k, (name, c) in enumerate(cases):
    d, r = mx.nd.array(x), mx.nd.array(rois)
    d.attach_grad()
    fn = mx.nd.contrib.ROIAlign if 'Align' in name else mx.nd.ROIPooling
    with mx.autograd.record():
        o = fn(d, r, **c)
    o.backward(mx.nd.ones_like(o) * 0.7)
    out[k] = (o.asnumpy(), d.grad.asnumpy())
""", x=x, rois=rois, cases=cases)
    for k, (name, params) in enumerate(cases):
        head = np.full(ref[k][0].shape, 0.7, np.float32)
        (y,), (g, _) = run_op_backward(name, [x, rois], out_grads=[head],
                                       reqs=["write", "null"], **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(g, ref[k][1], rtol=1e-5, atol=1e-5, err_msg=name)
