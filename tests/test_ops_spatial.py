"""GridGenerator, BilinearSampler, SpatialTransformer, _contrib_BilinearResize2D and Correlation
(ops/spatial.py, issue 17): the kernels against their numpy twins, the operators against numpy
formulas, float64 finite differences, grad_req add, MXNet 1.9.1 parity of forward and backward,
the errors, and CPU vs GPU under the simulator.

Bilinear sampling is piecewise linear in the grid: its derivative jumps where a sample point
crosses a pixel row or column. The finite-difference cases therefore place every sample point
at least 0.1 pixel away from integer pixel positions (``_off_kinks``), so a central difference
of step 1e-6 never straddles a kink.
"""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import spatial as K
from mxteach.kernels.reference import spatial as R
from mxteach.ops.spatial import resize_table
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.RandomState(seed).uniform(low, high, shape)


def _off_kinks(grid, H, W):
    """Move every normalised grid coordinate so its pixel position is >= 0.1 from an integer."""
    g = grid.copy()
    for ch, size in ((0, W), (1, H)):
        pix = (g[:, ch] + 1.0) * (size - 1) / 2.0
        frac = pix - np.floor(pix)
        pix = np.where((frac < 0.1) | (frac > 0.9), np.floor(pix) + 0.5, pix)
        g[:, ch] = pix / ((size - 1) / 2.0) - 1.0
    return g


def _pixel_distance_to_integers(theta, H, W, th, tw):
    grid = np.empty((theta.shape[0], 2, th, tw))
    R.affine_grid(theta, grid)
    pix = np.stack([(grid[:, 0] + 1) * (W - 1) / 2, (grid[:, 1] + 1) * (H - 1) / 2])
    return np.abs(pix - np.round(pix)).min()


THETA = np.array([[0.9, 0.15, 0.05, -0.12, 1.1, 0.03], [0.7, -0.3, -0.1, 0.25, 0.8, 0.11]])
# a theta whose 3x4 grid over a 5x6 image stays >= 0.0018 pixel from integer positions
THETA_ST = np.array([[0.83, 0.137, 0.0613, -0.117, 0.911, 0.0271],
                     [0.71, -0.29, -0.093, 0.241, 0.79, 0.113]])
GRID = _off_kinks(_x(2, 2, 3, 4, seed=3, low=-1.2, high=1.2), 4, 5)
ST = dict(transform_type="affine", sampler_type="bilinear")
# name, inputs, params, which inputs get a gradient
CASES = [
    ("GridGenerator", [THETA], dict(transform_type="affine", target_shape=(3, 4)), [0]),
    ("GridGenerator", [_x(2, 2, 3, 4)], dict(transform_type="warp"), [0]),
    ("BilinearSampler", [_x(2, 3, 4, 5, seed=1), GRID], {}, [0, 1]),
    ("BilinearSampler", [_x(2, 3, 4, 5, seed=1), GRID], dict(cudnn_off=True), [0, 1]),
    ("SpatialTransformer", [_x(2, 2, 5, 6, seed=2), THETA_ST], dict(ST, target_shape=(3, 4)),
     [0, 1]),
    ("_contrib_BilinearResize2D", [_x(2, 2, 3, 4)], dict(height=5, width=7), [0]),
    ("_contrib_BilinearResize2D", [_x(2, 2, 5, 7)], dict(height=3, width=4,
                                                         align_corners=False), [0]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 3, 4)], dict(scale_height=2.0, scale_width=1.5),
     [0]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 5, 4)],
     dict(mode="odd_scale", scale_height=2.0, scale_width=0.5), [0]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 5, 4), _x(1, 1, 2, 6)], dict(mode="like"), [0, 1]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 5, 7)], dict(scale_height=1.5, scale_width=0.6,
                                                         align_corners=False), [0]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 5, 7)], dict(height=1, width=4,
                                                         align_corners=False), [0]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 5, 4)], dict(mode="to_odd_up"), [0]),
    ("_contrib_BilinearResize2D", [_x(1, 2, 5, 4)], dict(mode="to_even_down"), [0]),
    ("Correlation", [_x(2, 3, 5, 6), _x(2, 3, 5, 6, seed=1)], {}, [0, 1]),
    ("Correlation", [_x(1, 2, 6, 7), _x(1, 2, 6, 7, seed=1)],
     dict(kernel_size=3, max_displacement=2, stride1=2, stride2=2, pad_size=2), [0, 1]),
    ("Correlation", [_x(1, 2, 5, 5), _x(1, 2, 5, 5, seed=1)],
     dict(kernel_size=3, max_displacement=1, pad_size=1, is_multiply=False), [0, 1]),
    ("Correlation", [_x(1, 2, 9, 8), _x(1, 2, 9, 8, seed=1)],
     dict(kernel_size=3, stride1=3, stride2=2, max_displacement=3, pad_size=3,
          is_multiply=False), [0, 1]),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]


def _reqs(case):
    return ["write" if i in case[3] else "null" for i in range(len(case[1]))]


# -- numpy formulas ---------------------------------------------------------------------------
def test_affine_grid_is_theta_times_the_target_coordinates():
    out = run_op("GridGenerator", [THETA], transform_type="affine", target_shape=(3, 4))[0][0]
    xs, ys = np.linspace(-1, 1, 4), np.linspace(-1, 1, 3)
    for n in range(2):
        t = THETA[n].reshape(2, 3)
        for i in range(3):
            for j in range(4):
                np.testing.assert_allclose(out[n, :, i, j], t @ [xs[j], ys[i], 1.0])


def test_warp_grid_normalises_position_plus_flow():
    flow = _x(1, 2, 3, 4)
    out = run_op("GridGenerator", [flow], transform_type="warp")[0][0]
    jj, ii = np.meshgrid(np.arange(4), np.arange(3))
    np.testing.assert_allclose(out[0, 0], (flow[0, 0] + jj) / 1.5 - 1)
    np.testing.assert_allclose(out[0, 1], (flow[0, 1] + ii) / 1.0 - 1)


def test_identity_transform_reproduces_the_image():
    x = _x(2, 3, 4, 5)
    ident = np.tile([1.0, 0, 0, 0, 1.0, 0], (2, 1))
    out = run_op("SpatialTransformer", [x, ident], target_shape=(4, 5), **ST)[0][0]
    np.testing.assert_allclose(out, x, atol=1e-12)
    same = run_op("_contrib_BilinearResize2D", [x], height=4, width=5)[0][0]
    np.testing.assert_array_equal(same, x)


def test_sampler_reads_one_point_by_hand():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    # pixel (x=1.25, y=0.5): normalised x = 1.25 / 1.5 - 1, y = 0.5 / 1 - 1
    grid = np.array([1.25 / 1.5 - 1, -0.5]).reshape(1, 2, 1, 1)
    out = run_op("BilinearSampler", [x, grid])[0][0]
    want = 0.5 * (0.75 * 1 + 0.25 * 2) + 0.5 * (0.75 * 5 + 0.25 * 6)
    np.testing.assert_allclose(out.reshape(()), want)
    outside = np.array([3.0, 0.0]).reshape(1, 2, 1, 1)     # far right: zero padding
    assert run_op("BilinearSampler", [x, outside])[0][0].reshape(()) == 0


def test_correlation_without_displacement_is_the_channel_mean_of_products():
    a, b = _x(2, 3, 4, 5), _x(2, 3, 4, 5, seed=1)
    out = run_op("Correlation", [a, b], max_displacement=0)[0][0]
    np.testing.assert_allclose(out[:, 0], (a * b).mean(1))
    out = run_op("Correlation", [a, b], max_displacement=0, is_multiply=False)[0][0]
    np.testing.assert_allclose(out[:, 0], np.abs(a - b).mean(1))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_in_float32_and_float64(case):
    name, inputs, params, _ = case
    ref = run_op(name, inputs, **params)[0][0]
    out = run_op(name, [a.astype(np.float32) for a in inputs], **params)[0][0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


# -- kernels against their numpy twins --------------------------------------------------------
def _both(fn_name, make_args, outputs, tol):
    got, want = make_args(), make_args()
    getattr(K, fn_name)(*got)
    getattr(R, fn_name)(*want)
    for k in outputs:
        np.testing.assert_allclose(got[k], want[k], **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    c = lambda a: np.ascontiguousarray(a, dtype=dtype)       # noqa: E731
    data, grid, dout = c(_x(2, 3, 4, 5)), c(GRID), c(_x(2, 3, 3, 4, seed=5))
    for acc in (False, True):
        _both("affine_grid", lambda: [c(THETA), c(np.zeros((2, 2, 3, 4)))], [1], tol)
        _both("affine_grid_backward", lambda: [c(dout[:, :2]), acc, c(np.full((2, 6), .5))],
              [2], tol)
        _both("warp_grid", lambda: [c(dout[:, :2]), c(np.zeros((2, 2, 3, 4)))], [1], tol)
        _both("warp_grid_backward", lambda: [c(dout[:, :2]), acc, c(np.full((2, 2, 3, 4), .5))],
              [2], tol)
        _both("bilinear_sample", lambda: [data, grid, c(np.zeros((2, 3, 3, 4)))], [2], tol)
        _both("bilinear_sample_backward",
              lambda: [data, grid, dout, True, acc, c(np.full(data.shape, .5)), True, acc,
                       c(np.full(grid.shape, .5))], [5, 8], tol)
        tabs = resize_table(4, 7, True) + resize_table(5, 3, False)
        x3, d3 = c(_x(6, 4, 5)), c(_x(6, 7, 3))
        _both("resize_forward", lambda: [x3, *tabs, c(np.zeros((6, 7, 3)))], [7], tol)
        _both("resize_backward", lambda: [d3, *tabs, acc, c(np.full((6, 4, 5), .5))], [8], tol)
        _both("unpad_nhwc", lambda: [c(_x(2, 8, 9, 3)), 2, acc, c(np.full((2, 3, 4, 5), .5))],
              [3], tol)
    _both("pad_nhwc", lambda: [data, 2, c(np.full((2, 8, 9, 3), .5))], [2], tol)
    p1, p2 = c(_x(2, 10, 11, 3)), c(_x(2, 10, 11, 3, seed=1))
    for mult in (True, False):
        _both("correlation_forward", lambda: [p1, p2, 3, 2, 2, 1, 2, mult,
                                              c(np.zeros((2, 25, 2, 3)))], [8], tol)
        _both("correlation_backward", lambda: [p1, p2, c(_x(2, 25, 2, 3)), 3, 2, 2, 1, 2, mult,
                                               c(np.zeros(p1.shape)), c(np.zeros(p1.shape))],
              [9, 10], tol)


# -- gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params, wrt = case
    if name == "SpatialTransformer":     # the grid this theta makes stays clear of the kinks
        assert _pixel_distance_to_integers(inputs[1], 5, 6, 3, 4) > 1e-3
    wrt = [i for i in wrt if not (name == "_contrib_BilinearResize2D" and i == 1)]
    check_op_gradient(name, inputs, params, wrt=wrt, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grad_req_add(case):
    name, inputs, params, wrt = case
    reqs = _reqs(case)
    heads = [_x(*run_op(name, inputs, **params)[0][0].shape, seed=9)]
    _, once = run_op_backward(name, inputs, reqs=reqs, out_grads=heads, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, out_grads=heads, init_grads=init,
                               reqs=["add" if r == "write" else r for r in reqs], **params)
    for i in wrt:
        np.testing.assert_allclose(added[i], once[i] + 0.25, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if len(c[3]) == 2],
                         ids=[i for i, c in zip(IDS, CASES) if len(c[3]) == 2])
def test_one_gradient_at_a_time_equals_both_at_once(case):
    name, inputs, params, _ = case
    heads = [_x(*run_op(name, inputs, **params)[0][0].shape, seed=9)]
    _, both = run_op_backward(name, inputs, out_grads=heads, **params)
    for k, reqs in enumerate((["write", "null"], ["null", "write"])):
        _, one = run_op_backward(name, inputs, out_grads=heads, reqs=reqs, **params)
        assert one[1 - k] is None
        np.testing.assert_allclose(one[k], both[k], rtol=1e-12, atol=1e-12)


# -- MXNet 1.9.1 ------------------------------------------------------------------------------
_ORACLE = """
for k, (name, inputs, params, wrt) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for i in wrt:
        args[i].attach_grad()
    fn = getattr(mx.nd.contrib, name[len('_contrib_'):]) if name.startswith('_contrib_') \\
        else getattr(mx.nd, name)
    with mx.autograd.record():
        y = fn(*args, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [args[i].grad.asnumpy() for i in wrt])
"""


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params, wrt)
             for name, inputs, params, wrt in CASES]
    heads = [_x(*run_op(n, i, **p)[0][0].shape, seed=9).astype(np.float32)
             for n, i, p, _ in cases]
    ref = run_oracle(_ORACLE, cases=cases, heads=heads)
    for k, (name, inputs, params, wrt) in enumerate(cases):
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], reqs=_reqs(CASES[k]),
                                      **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-5, atol=1e-5, err_msg=IDS[k])
        for i, want in zip(wrt, ref[k][1]):
            np.testing.assert_allclose(grads[i], want, rtol=1e-4, atol=1e-4,
                                       err_msg=f"{IDS[k]} gradient {i}")


def test_symbols_list_arguments_and_infer_shapes():
    d, g = mx.sym.Variable("data"), mx.sym.Variable("grid")
    st = mx.sym.SpatialTransformer(d, mx.sym.Variable("loc"), target_shape=(3, 4), **ST)
    assert st.list_arguments() == ["data", "loc"]
    assert st.infer_shape(data=(2, 3, 8, 9))[1] == [(2, 3, 3, 4)]
    assert mx.sym.BilinearSampler(d, g).infer_shape(data=(2, 3, 5, 5), grid=(2, 2, 7, 6))[1] \
        == [(2, 3, 7, 6)]
    r = mx.sym.contrib.BilinearResize2D(d, height=6, width=2)
    assert r.list_arguments() == ["data"] and r.infer_shape(data=(1, 2, 3, 3))[1] == \
        [(1, 2, 6, 2)]
    like = mx.sym.contrib.BilinearResize2D(d, g, mode="like")
    assert like.list_arguments() == ["data", "grid"]
    c = mx.sym.Correlation(d, g, kernel_size=2)
    assert c.infer_shape(data=(2, 3, 5, 6), grid=(2, 3, 5, 6))[1] == [(2, 9, 3, 4)]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.GridGenerator(mx.nd.ones((2, 6)), transform_type="affine"),
     "target_shape"),
    (lambda: mx.nd.GridGenerator(mx.nd.ones((2, 5)), transform_type="affine",
                                 target_shape=(2, 2)), "expects (batch, 6)"),
    (lambda: mx.nd.GridGenerator(mx.nd.ones((2, 3, 4, 4)), transform_type="warp"),
     "expects a flow"),
    (lambda: mx.nd.GridGenerator(mx.nd.ones((2, 6)), transform_type="perspective"),
     "expected one of"),
    (lambda: mx.nd.BilinearSampler(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((3, 2, 4, 4))),
     "batch 2 but 'grid' has batch 3"),
    (lambda: mx.nd.BilinearSampler(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((2, 3, 4, 4))),
     "'grid' has shape (2, 3, 4, 4)"),
    (lambda: mx.nd.SpatialTransformer(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((2, 6)), **ST),
     "target_shape"),
    (lambda: mx.nd.contrib.BilinearResize2D(mx.nd.ones((1, 1, 3, 3)), scale_height=2.0),
     "'scale_width'"),
    (lambda: mx.nd.contrib.BilinearResize2D(mx.nd.ones((1, 1, 3, 3)), mode="nearest"),
     "expected one of"),
    (lambda: mx.nd.Correlation(mx.nd.ones((2, 3, 5, 6)), mx.nd.ones((2, 3, 5, 6)),
                               max_displacement=4), "no output position"),
    (lambda: mx.nd.Correlation(mx.nd.ones((2, 3, 5, 6)), mx.nd.ones((2, 3, 5, 5))),
     "'data2' has shape (2, 3, 5, 5)"),
    (lambda: mx.nd.Correlation(mx.nd.ones((2, 3, 5, 6)), mx.nd.ones((2, 3, 5, 6)),
                               kernel_size=2), "should be an odd number"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.oracle
def test_mxnet_rejects_the_same_parameters():
    ref = run_oracle("""
calls = {
  'affine': lambda: mx.nd.GridGenerator(mx.nd.ones((2, 6)), transform_type='affine'),
  'warp': lambda: mx.nd.GridGenerator(mx.nd.ones((2, 3, 4, 4)), transform_type='warp'),
  'batch': lambda: mx.nd.BilinearSampler(mx.nd.ones((2, 3, 4, 4)), mx.nd.ones((3, 2, 4, 4))),
  'scale': lambda: mx.nd.contrib.BilinearResize2D(mx.nd.ones((1, 1, 3, 3)), scale_height=2.),
  'corr': lambda: mx.nd.Correlation(mx.nd.ones((2, 3, 5, 6)), mx.nd.ones((2, 3, 5, 6)),
                                    max_displacement=4),
  'even': lambda: mx.nd.Correlation(mx.nd.ones((2, 3, 5, 6)), mx.nd.ones((2, 3, 5, 6)),
                                    kernel_size=2),
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
    name, inputs, params, wrt = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=wrt, atol=1e-5)


@pytest.mark.cudasim
@pytest.mark.parametrize("k", [2, 4, 9, 14])
def test_gpu_equals_cpu_for_the_second_gradient_alone(k):
    from cuda_compare import check
    name, inputs, params, _ = CASES[k]
    check(name, [a.astype(np.float32) for a in inputs], params, grads=[1], atol=1e-5)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import spatial as C
    data, grid, dout = _x(2, 3, 4, 5), GRID, _x(2, 3, 3, 4, seed=5)
    got = [cuda.to_device(np.full(data.shape, .5)), cuda.to_device(np.full(grid.shape, .5))]
    want = [np.full(data.shape, .5), np.full(grid.shape, .5)]
    C.bilinear_sample_backward(cuda.to_device(data), cuda.to_device(grid), cuda.to_device(dout),
                               True, True, got[0], True, False, got[1])
    R.bilinear_sample_backward(data, grid, dout, True, True, want[0], True, False, want[1])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.copy_to_host(), w, rtol=1e-12, atol=1e-12)
    p1, p2, d = _x(1, 6, 7, 2), _x(1, 6, 7, 2, seed=1), _x(1, 9, 2, 3)
    got = [cuda.to_device(np.zeros(p1.shape)) for _ in range(2)]
    want = [np.zeros(p1.shape) for _ in range(2)]
    C.correlation_backward(cuda.to_device(p1), cuda.to_device(p2), cuda.to_device(d), 3, 1, 1,
                           1, 1, False, *got)
    R.correlation_backward(p1, p2, d, 3, 1, 1, 1, 1, False, *want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.copy_to_host(), w, rtol=1e-12, atol=1e-12)


@pytest.mark.oracle
def test_mxnet_parity_on_random_grids_with_points_on_and_outside_the_border():
    rs = np.random.RandomState(2)
    x = rs.rand(2, 3, 7, 9).astype(np.float32)
    grid = rs.uniform(-1.4, 1.4, (2, 2, 6, 5)).astype(np.float32)
    grid[0, :, 0, :3] = [[-1, 1, 0], [-1, 1, 0]]      # the corners and the centre exactly
    loc = rs.uniform(-1, 1, (2, 6)).astype(np.float32)
    ref = run_oracle("""
d, g, l = mx.nd.array(x), mx.nd.array(grid), mx.nd.array(loc)
for a in (d, g, l):
    a.attach_grad()
with mx.autograd.record():
    o = mx.nd.BilinearSampler(d, g)
o.backward(mx.nd.ones_like(o) * 0.7)
out['bs'] = (o.asnumpy(), d.grad.asnumpy(), g.grad.asnumpy())
with mx.autograd.record():
    o = mx.nd.SpatialTransformer(d, l, target_shape=(5, 4), transform_type='affine',
                                 sampler_type='bilinear')
o.backward(mx.nd.ones_like(o) * 0.7)
out['st'] = (o.asnumpy(), d.grad.asnumpy(), l.grad.asnumpy())
""", x=x, grid=grid, loc=loc)
    for key, name, second, params in (("bs", "BilinearSampler", grid, {}),
                                      ("st", "SpatialTransformer", loc,
                                       dict(ST, target_shape=(5, 4)))):
        head = np.full(ref[key][0].shape, 0.7, np.float32)
        (y,), grads = run_op_backward(name, [x, second], out_grads=[head], **params)
        for got, want in zip([y] + grads, ref[key]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_in_a_bound_graph_backward_twice_with_grad_req_add_doubles():
    """A spatial transformer network's head as students build it: loc from a FullyConnected,
    the sampler, then a resize; the executor frees the outputs before backward (the
    operators' backward reads only the inputs)."""
    data = mx.sym.Variable("data")
    loc = mx.sym.FullyConnected(mx.sym.flatten(data), num_hidden=6, name="loc")
    net = mx.sym.contrib.BilinearResize2D(
        mx.sym.SpatialTransformer(data, loc, target_shape=(4, 4), **ST), height=6, width=5)
    x = _x(2, 2, 5, 6).astype(np.float32)
    w = (0.05 * _x(6, 60, seed=3)).astype(np.float32)
    b = np.array([0.8, 0.1, 0.05, -0.1, 0.9, 0.02], np.float32)
    grads = {}
    for req in ("write", "add"):
        ex = net.simple_bind(mx.cpu(), data=x.shape, grad_req=req)
        ex.arg_dict["data"][:] = x
        ex.arg_dict["loc_weight"][:] = w
        ex.arg_dict["loc_bias"][:] = b
        for _ in range(1 if req == "write" else 2):
            ex.forward(is_train=True)
            ex.backward(mx.nd.ones((2, 2, 6, 5)))
        grads[req] = {k: v.asnumpy() for k, v in ex.grad_dict.items()}
        theta = x.reshape(2, -1) @ w.T + b
        want = run_op("_contrib_BilinearResize2D", [run_op(
            "SpatialTransformer", [x, theta], target_shape=(4, 4), **ST)[0][0]], height=6,
            width=5)[0][0]
        np.testing.assert_allclose(ex.outputs[0].asnumpy(), want, rtol=1e-5, atol=1e-6)
    for k in grads["write"]:
        np.testing.assert_allclose(grads["add"][k], 2 * grads["write"][k], rtol=1e-5,
                                   atol=1e-6)
    assert np.abs(grads["write"]["loc_weight"]).sum() > 0
