"""Convolution and Pooling: Numba kernels against their numpy twins, operators against direct
numpy loops, finite differences and real MXNet 1.9.1."""
import numpy as np
import pytest

from mxteach.base import MXNetError, ShapeError
from mxteach.kernels.reference import conv as R
from mxteach.kernels.cpu import conv as K
from mxteach.ops import registry
from mxteach.test_utils import check_numeric_gradient, run_op, run_op_backward

from oracle import run_oracle


def rnd(*shape, seed=0, dtype=np.float64):
    return np.random.RandomState(seed).randn(*shape).astype(dtype)


def direct_conv(x, w, b, stride, pad, dilate, groups):
    """Convolution straight from the definition (2-D, NCHW), no im2col."""
    n, c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, pad, dilate
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, f, oh, ow))
    fg = f // groups
    for o in range(f):
        g = o // fg
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * sh:i * sh + dh * kh:dh,
                           j * sw:j * sw + dw * kw:dw]
                out[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return out + (0 if b is None else b.reshape(1, -1, 1, 1))


# -- kernels against their numpy twins ----------------------------------------------------------
GEOMS = [  # kh, kw, sh, sw, ph, pw, dh, dw
    (3, 3, 1, 1, 0, 0, 1, 1), (3, 2, 2, 1, 1, 2, 1, 2), (1, 3, 1, 2, 0, 1, 1, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geo", GEOMS)
def test_im2col_col2im_match_reference(geo, dtype):
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    x = rnd(2, 3, 6, 7, dtype=dtype)
    oh = (6 + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (7 + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = [np.full((3 * kh * kw, 2, oh * ow), 9, dtype) for _ in range(2)]
    K.im2col(x, cols[0], *geo, ow)
    R.im2col(x, cols[1], *geo, ow)
    np.testing.assert_array_equal(cols[0], cols[1])
    g = rnd(*cols[0].shape, seed=1, dtype=dtype)
    for acc in (False, True):
        dxs = [np.full(x.shape, 0.5, dtype) for _ in range(2)]
        K.col2im(g, dxs[0], *geo, ow, acc)
        R.col2im(g, dxs[1], *geo, ow, acc)
        np.testing.assert_allclose(dxs[0], dxs[1], rtol=1e-5, atol=1e-5)
    # col2im is the adjoint of im2col: <im2col(x), g> == <x, col2im(g)>
    dx = np.zeros(x.shape, dtype)
    K.col2im(g, dx, *geo, ow, False)
    assert np.isclose((cols[0] * g).sum(), (x * dx).sum(), rtol=1e-4)
    tmp, bias = rnd(4, 2, 5, dtype=dtype), rnd(4, seed=2, dtype=dtype)
    outs = [np.empty((2, 4, 5), dtype) for _ in range(2)]
    K.conv_output(tmp, bias, outs[0], True)
    R.conv_output(tmp, bias, outs[1], True)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)


POOLS = [  # mode, kh, kw, sh, sw, ph, pw, count_include_pad, p
    ("max", 3, 3, 2, 2, 1, 1, True, 1), ("avg", 3, 2, 2, 1, 1, 1, True, 1),
    ("avg", 3, 3, 2, 2, 1, 1, False, 1), ("sum", 2, 2, 1, 1, 0, 0, True, 1),
    ("lp", 2, 3, 1, 2, 0, 1, True, 2), ("lp", 2, 2, 2, 2, 0, 0, True, 3),
    ("max", 1, 1, 2, 2, 1, 1, True, 1)]        # windows entirely in the padding


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOLS, ids=[f"{c[0]}{i}" for i, c in enumerate(POOLS)])
def test_pool_kernels_match_reference(case, dtype):
    mode, kh, kw, sh, sw, ph, pw, inc, pv = case
    x = rnd(2, 3, 5, 6, dtype=dtype)
    x[0, 0, :2, :2] = 1.5                                      # a tie for max
    oh, ow = 1 + (5 + 2 * ph - kh) // sh, 1 + (6 + 2 * pw - kw) // sw
    args = (kh, kw, sh, sw, ph, pw, K.POOL_CODES[mode], inc, pv)
    ys = [np.empty((2, 3, oh, ow), dtype) for _ in range(2)]
    K.pool_forward(x, ys[0], *args, np.finfo(dtype).min)
    R.pool_forward(x, ys[1], *args, np.finfo(dtype).min)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ys[0], ys[1], rtol=tol, atol=tol)
    dy = rnd(*ys[0].shape, seed=1, dtype=dtype)
    for acc in (False, True):
        dxs = [np.full(x.shape, 0.5, dtype) for _ in range(2)]
        K.pool_backward(x, ys[0], dy, dxs[0], *args, acc)
        R.pool_backward(x, ys[0], dy, dxs[1], *args, acc)
        np.testing.assert_allclose(dxs[0], dxs[1], rtol=10 * tol, atol=10 * tol)


MAX_POOLS = [c for c in POOLS if c[0] == "max"] + [("max", 2, 2, 2, 2, 0, 0, True, 1),
                                                  ("max", 3, 2, 1, 2, 1, 0, True, 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MAX_POOLS, ids=[f"max{i}" for i in range(len(MAX_POOLS))])
def test_pool_max_recorded_argmax_matches_window_search(case, dtype):
    """The training-forward path (argmax recorded, gradient scattered) against pool_forward +
    pool_backward's window search, with ties (first maximum wins), the lowest value and -inf."""
    _, kh, kw, sh, sw, ph, pw, inc, pv = case
    x = rnd(2, 3, 5, 6, dtype=dtype)
    x[0, 0, :2, :2] = 1.5                                      # a 2x2 block of equal maxima
    x[0, 1] = 0.25                                             # a whole plane of ties
    x[1, 0, :3, :3] = np.finfo(dtype).min                      # windows of the lowest value
    x[1, 1, :3, :] = -np.inf                                   # windows of -inf only
    x[1, 2, 1, 1:4] = x[1, 2, 1, 1]                            # a row of ties
    oh, ow = 1 + (5 + 2 * ph - kh) // sh, 1 + (6 + 2 * pw - kw) // sw
    args = (kh, kw, sh, sw, ph, pw)
    lowest = np.finfo(dtype).min
    want_y, got_y = np.empty((2, 3, oh, ow), dtype), np.empty((2, 3, oh, ow), dtype)
    argmax = np.empty((2, 3, oh, ow), np.int32)
    K.pool_forward(x, want_y, *args, 0, inc, pv, lowest)
    K.pool_max_forward_argmax(x, got_y, argmax, *args, lowest)
    np.testing.assert_array_equal(got_y, want_y)
    dy = rnd(*want_y.shape, seed=1, dtype=dtype)
    for acc in (False, True):
        want, got = np.full(x.shape, 0.5, dtype), np.full(x.shape, 0.5, dtype)
        K.pool_backward(x, want_y, dy, want, *args, 0, inc, pv, acc)
        K.pool_max_backward_argmax(argmax, dy, got, acc)
        np.testing.assert_array_equal(got, want)


def test_pooling_backward_same_after_training_and_inference_forward():
    """The operator scatters through recorded positions after a training forward and searches
    the windows after an inference forward; both give the same gradient (ties included)."""
    x = np.round(rnd(2, 3, 6, 6, dtype=np.float32) * 2) / 2   # many ties
    dy = [rnd(2, 3, 3, 3, seed=1, dtype=np.float32)]
    params = dict(kernel=(2, 2), stride=(2, 2), pool_type="max")
    ys, grads = [], []
    for is_train in (True, False):
        y, g = run_op_backward("Pooling", [x], out_grads=dy, is_train=is_train, **params)
        ys.append(y[0])
        grads.append(g[0])
    np.testing.assert_array_equal(ys[0], ys[1])
    np.testing.assert_array_equal(grads[0], grads[1])


# -- operators against numpy ----------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"kernel": (3, 3), "num_filter": 4},
    {"kernel": (3, 2), "num_filter": 4, "stride": (2, 1), "pad": (1, 2), "dilate": (1, 2),
     "num_group": 2},
    {"kernel": (2, 2), "num_filter": 6, "num_group": 2, "no_bias": True, "stride": (2, 2)}])
def test_convolution_2d_forward_matches_direct_loops(params):
    x = rnd(2, 4, 7, 8, dtype=np.float32)
    w = rnd(params["num_filter"], 4 // params.get("num_group", 1), *params["kernel"], seed=1,
            dtype=np.float32)
    b = None if params.get("no_bias") else rnd(params["num_filter"], seed=2, dtype=np.float32)
    (y,), _, _ = run_op("Convolution", [x, w] + ([] if b is None else [b]), **params)
    want = direct_conv(x, w, b, params.get("stride", (1, 1)), params.get("pad", (0, 0)),
                       params.get("dilate", (1, 1)), params.get("num_group", 1))
    assert y.dtype == np.float32 and y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_convolution_1d_forward_matches_direct_loops():
    x, w, b = rnd(2, 3, 11), rnd(5, 3, 3, seed=1), rnd(5, seed=2)
    (y,), _, _ = run_op("Convolution", [x, w, b], kernel=(3,), num_filter=5, stride=(2,),
                        pad=(1,), dilate=(2,))
    want = direct_conv(x[:, :, None], w[:, :, None], b, (1, 2), (0, 1), (1, 2), 1)[:, :, 0]
    np.testing.assert_allclose(y, want, rtol=1e-12)
    op = registry.get("Convolution")
    p = op.parse({"kernel": (3,), "num_filter": 5, "stride": (2,), "pad": (1,), "dilate": (2,)})
    assert op.infer_shape(p, [(2, 3, 11), None, None]) == (
        [(2, 3, 11), (5, 3, 3), (5,)], [(2, 5, 5)])
    assert op.infer_shape(p, [None, None, None]) == ([None, None, (5,)], [None])


def test_pooling_forward_matches_hand_computed_mxnet_values():
    # Values printed by MXNet 1.9.1 for this input (avg, 3x3, stride 2, pad 1, 'full').
    x = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
    kw = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
              pooling_convention="full")
    (y,), _, _ = run_op("Pooling", [x], **kw)
    np.testing.assert_allclose(y[0, 0], [[16 / 9, 33 / 9, 28 / 9], [69 / 9, 13, 87 / 9],
                                         [76 / 9, 123 / 9, 88 / 9]], rtol=1e-6)
    (y,), _, _ = run_op("Pooling", [x], count_include_pad=False, **kw)
    np.testing.assert_allclose(y[0, 0], [[4, 5.5, 7], [11.5, 13, 14.5], [19, 20.5, 22]])
    (y,), _, _ = run_op("Pooling", [x], kernel=(1, 1), stride=(2, 2), pad=(1, 1))
    assert y[0, 0, 0, 0] == np.finfo(np.float32).min and y[0, 0, 1, 1] == 7


@pytest.mark.parametrize("params,shape", [
    ({"kernel": (2, 3), "stride": (2, 2), "pool_type": "max"}, (2, 3, 6, 7)),
    ({"kernel": (3,), "stride": (2,), "pad": (1,), "pool_type": "avg"}, (2, 3, 8)),
    ({"global_pool": True, "pool_type": "avg"}, (2, 3, 4, 5)),
    ({"global_pool": True, "pool_type": "max", "kernel": (1,)}, (2, 3, 5)),
    ({"kernel": (3, 3), "stride": (2, 2), "pooling_convention": "full", "pool_type": "sum"},
     (1, 2, 6, 6))])
def test_pooling_forward_matches_numpy(params, shape):
    x = rnd(*shape)
    (y,), _, _ = run_op("Pooling", [x], **params)
    x4 = x if x.ndim == 4 else x[:, :, None]
    if params.get("global_pool"):
        red = {"avg": np.mean, "max": np.max}[params["pool_type"]]
        want = red(x4, axis=(2, 3), keepdims=True)
    else:
        k = params["kernel"] if len(params["kernel"]) == 2 else (1,) + params["kernel"]
        s = params["stride"] if len(params["stride"]) == 2 else (1,) + params["stride"]
        p = params.get("pad", (0,))
        p = p if len(p) == 2 else (0,) + p
        full = params.get("pooling_convention") == "full"
        oh, ow = (1 + -(-(n + 2 * q - kk) // ss) if full else 1 + (n + 2 * q - kk) // ss
                  for n, q, kk, ss in zip(x4.shape[2:], p, k, s))
        want = np.empty(x4.shape[:2] + (oh, ow))
        R.pool_forward(x4, want, *k, *s, *p, K.POOL_CODES[params["pool_type"]], True, 1,
                       np.finfo(x.dtype).min)
    np.testing.assert_allclose(y, want.reshape(y.shape), rtol=1e-12)


# -- finite differences (float64) -----------------------------------------------------------------
@pytest.mark.parametrize("params,xshape", [
    ({"kernel": (3, 2), "num_filter": 4, "stride": (2, 1), "pad": (1, 1), "dilate": (1, 2),
      "num_group": 2}, (2, 4, 5, 5)),
    ({"kernel": (3,), "num_filter": 3, "stride": (2,), "pad": (2,), "dilate": (2,)}, (2, 2, 7)),
    ({"kernel": (2, 2), "num_filter": 2, "no_bias": True}, (1, 2, 3, 4))])
def test_convolution_numeric_gradient(params, xshape):
    g = params.get("num_group", 1)
    w = rnd(params["num_filter"], xshape[1] // g, *params["kernel"], seed=1)
    ins = [rnd(*xshape), w] + ([] if params.get("no_bias") else [rnd(params["num_filter"])])
    check_numeric_gradient("Convolution", ins, params)


@pytest.mark.parametrize("params,x", [
    ({"kernel": (3, 3), "stride": (2, 1), "pad": (1, 1)}, rnd(2, 2, 5, 5)),
    ({"kernel": (2, 3), "stride": (1, 2), "pad": (1, 1), "pool_type": "avg"}, rnd(1, 2, 4, 5)),
    ({"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1), "pool_type": "avg",
      "count_include_pad": False, "pooling_convention": "full"}, rnd(1, 2, 5, 5)),
    ({"kernel": (2, 2), "pool_type": "sum"}, rnd(1, 2, 3, 4)),
    ({"kernel": (2, 2), "pool_type": "lp", "p_value": 2}, rnd(1, 2, 3, 4)),
    ({"kernel": (2,), "pool_type": "lp", "p_value": 3}, np.abs(rnd(2, 2, 5)) + 0.5),
    ({"kernel": (3,), "stride": (2,), "pad": (1,)}, rnd(2, 2, 7)),
    ({"global_pool": True, "pool_type": "avg"}, rnd(2, 2, 3, 3))])
def test_pooling_numeric_gradient(params, x):
    check_numeric_gradient("Pooling", [x], params)


# -- grad_req 'add' accumulates -------------------------------------------------------------------
@pytest.mark.parametrize("name,inputs,params", [
    ("Convolution", [rnd(2, 4, 5, 5), rnd(4, 2, 3, 3, seed=1), rnd(4, seed=2)],
     {"kernel": (3, 3), "num_filter": 4, "num_group": 2, "pad": (1, 1)}),
    ("Pooling", [rnd(2, 3, 5, 5)], {"kernel": (2, 2), "pool_type": "max"}),
    ("Pooling", [rnd(2, 3, 5)], {"kernel": (3,), "pool_type": "avg", "pad": (1,)})],
    ids=["conv", "maxpool", "avgpool1d"])
def test_grad_req_add_accumulates(name, inputs, params):
    _, write = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.5) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    for a, w in zip(added, write):
        np.testing.assert_allclose(a, w + 0.5, rtol=1e-12)
    _, some = run_op_backward(name, inputs, reqs=["null"] + ["write"] * (len(inputs) - 1),
                              **params)
    assert some[0] is None
    for a, w in zip(some[1:], write[1:]):
        np.testing.assert_allclose(a, w, rtol=1e-12)


def test_convolution_backward_twice_reuses_or_rebuilds_columns():
    x, w, b = rnd(2, 2, 5, 5), rnd(3, 2, 3, 3, seed=1), rnd(3, seed=2)
    op = registry.get("Convolution")
    p = op.parse({"kernel": (3, 3), "num_filter": 3})
    out, state = [np.empty((2, 3, 3, 3))], {}
    op.forward(p, [x, w, b], out, True, state)
    dy = rnd(2, 3, 3, 3, seed=3)
    first = [np.zeros_like(a) for a in (x, w, b)]
    second = [np.zeros_like(a) for a in (x, w, b)]
    op.backward(p, [dy], [x, w, b], out, first, ["write"] * 3, state)
    op.backward(p, [dy], [x, w, b], out, second, ["write"] * 3, state)  # columns rebuilt
    for a, c in zip(first, second):
        np.testing.assert_allclose(a, c, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convolution_per_sample_path_equals_batch_gemm_path(monkeypatch, dtype):
    """Few column rows take one GEMM per sample (ops/conv.py PER_SAMPLE_ROWS): its output and
    every gradient, written and accumulated, equal the whole-batch GEMM path's."""
    from mxteach.ops import conv as conv_ops
    x, w, b = rnd(3, 2, 6, 5, dtype=dtype), rnd(5, 2, 3, 3, seed=1, dtype=dtype), \
        rnd(5, seed=2, dtype=dtype)
    params = {"kernel": (3, 3), "num_filter": 5, "pad": (1, 0), "stride": (1, 2)}
    init = [np.full_like(a, 0.5) for a in (x, w, b)]
    runs = []
    for rows in (0, 18):        # 0: the batch path; 18 (= 2 * 3 * 3, the limit): per sample
        monkeypatch.setattr(conv_ops, "PER_SAMPLE_ROWS", rows)
        y, g = run_op_backward("Convolution", [x, w, b], **params)
        _, added = run_op_backward("Convolution", [x, w, b], reqs=["add"] * 3,
                                   init_grads=init, **params)
        runs.append((y, g, added))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, c in zip(runs[0][0] + runs[0][1] + runs[0][2], runs[1][0] + runs[1][1] + runs[1][2]):
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol)
    for a, w_, i in zip(runs[1][2], runs[1][1], init):
        np.testing.assert_allclose(a, w_ + i, rtol=tol, atol=tol)


# -- bad parameters -------------------------------------------------------------------------------
def test_bad_params_raise():
    x, w = rnd(2, 4, 6, 6), rnd(4, 4, 3, 3)
    conv = dict(kernel=(3, 3), num_filter=4)
    with pytest.raises(MXNetError, match="num_group = 3"):
        run_op("Convolution", [x, w, np.ones(4)], kernel=(3, 3), num_filter=6, num_group=3)
    with pytest.raises(ShapeError, match="not divisible by num_group"):
        run_op("Convolution", [rnd(2, 3, 6, 6), w, np.ones(4)], num_group=2, **conv)
    with pytest.raises(ShapeError, match=r"Convolution: input weight has shape \(4, 3, 3, 3\), "
                                         r"expected \(4, 4, 3, 3\)"):
        run_op("Convolution", [x, rnd(4, 3, 3, 3), np.ones(4)], **conv)
    with pytest.raises(ShapeError, match="exceeds input size 6"):
        run_op("Convolution", [x, rnd(4, 4, 7, 7), np.ones(4)], kernel=(7, 7), num_filter=4)
    with pytest.raises(ShapeError, match="expected 3-D"):
        run_op("Convolution", [x, rnd(4, 4, 3), np.ones(4)], kernel=(3,), num_filter=4)
    with pytest.raises(MXNetError, match="stride"):
        run_op("Convolution", [x, w, np.ones(4)], stride=(1,), **conv)
    with pytest.raises(MXNetError, match="3 dimensions"):
        run_op("Convolution", [x, w, np.ones(4)], kernel=(3, 3, 3), num_filter=4)
    with pytest.raises(MXNetError, match="layout 'NHWC'"):
        run_op("Convolution", [x, w, np.ones(4)], layout="NHWC", **conv)
    with pytest.raises(MXNetError, match="needs argument 'num_filter'"):
        run_op("Convolution", [x, w, np.ones(4)], kernel=(3, 3))
    with pytest.raises(MXNetError, match="cudnn_tune"):
        run_op("Convolution", [x, w, np.ones(4)], cudnn_tune="slowest", **conv)
    with pytest.raises(MXNetError, match="set kernel"):
        run_op("Pooling", [x])
    with pytest.raises(MXNetError, match="'same'"):
        run_op("Pooling", [x], kernel=(2, 2), pooling_convention="same")
    with pytest.raises(MXNetError, match="p_value"):
        run_op("Pooling", [x], kernel=(2, 2), pool_type="lp", p_value=4)
    with pytest.raises(MXNetError, match="pool_type"):
        run_op("Pooling", [x], kernel=(2, 2), pool_type="median")
    with pytest.raises(ShapeError, match="kernel size 7 exceeds input size 6"):
        run_op("Pooling", [x], kernel=(7, 7))
    with pytest.raises(ShapeError, match="1-D"):
        run_op("Pooling", [rnd(1, 1, 2, 2, 2)], kernel=(2, 2, 2))


# -- parity with real MXNet 1.9.1 (one oracle process for the whole file) ------------------------
ORACLE_CODE = """
def fb(op, arrays, params, ograd):
    nds = [mx.nd.array(a, dtype=a.dtype) for a in arrays]
    for n in nds:
        n.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, op)(*nds, **params)
    y.backward(mx.nd.array(ograd, dtype=ograd.dtype))
    return [y.asnumpy()] + [n.grad.asnumpy() for n in nds]

for op, cases in all_cases.items():
    out[op] = [fb(op, c['arrays'], c['params'], c['ograd']) for c in cases]
"""

CONV_CASES = [
    ((2, 4, 7, 8), np.float32, {"kernel": (3, 3), "num_filter": 6, "pad": (1, 1)}),
    ((2, 4, 9, 8), np.float32, {"kernel": (3, 2), "num_filter": 4, "stride": (2, 1),
                                "pad": (1, 0), "dilate": (2, 2), "num_group": 2}),
    ((3, 2, 6, 6), np.float64, {"kernel": (2, 2), "num_filter": 3, "no_bias": True,
                                "stride": (2, 2)}),
    ((2, 3, 12), np.float32, {"kernel": (3,), "num_filter": 4, "stride": (2,), "pad": (1,),
                              "dilate": (2,)}),
]
POOL_CASES = [
    ((2, 3, 7, 7), np.float32, {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1)}),
    ((2, 3, 6, 7), np.float64, {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1),
                                "pool_type": "avg", "pooling_convention": "full"}),
    ((2, 3, 6, 7), np.float32, {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1),
                                "pool_type": "avg", "count_include_pad": False}),
    ((2, 3, 5, 6), np.float32, {"kernel": (2, 2), "stride": (1, 2), "pool_type": "sum"}),
    ((2, 3, 5, 6), np.float32, {"kernel": (2, 2), "pool_type": "lp", "p_value": 2}),
    ((2, 3, 5, 6), np.float64, {"kernel": (2, 2), "pool_type": "lp", "p_value": 1}),
    ((2, 3, 4, 5), np.float32, {"global_pool": True, "pool_type": "avg"}),
    ((2, 3, 9), np.float32, {"kernel": (3,), "stride": (2,), "pad": (1,),
                             "pooling_convention": "full"}),
    ((2, 3, 9), np.float64, {"kernel": (4,), "stride": (2,), "pool_type": "avg"}),
    ("ties", np.float32, {"kernel": (2, 2), "stride": (1, 1)}),
]


def all_cases():
    out = {"Convolution": [], "Pooling": []}
    for shape, dtype, params in CONV_CASES:
        g = params.get("num_group", 1)
        arrays = [rnd(*shape, dtype=dtype),
                  rnd(params["num_filter"], shape[1] // g, *params["kernel"], seed=1,
                      dtype=dtype)]
        if not params.get("no_bias"):
            arrays.append(rnd(params["num_filter"], seed=2, dtype=dtype))
        (y,), _, _ = run_op("Convolution", arrays, **params)
        out["Convolution"].append({"arrays": arrays, "params": params,
                                   "ograd": rnd(*y.shape, seed=3, dtype=dtype)})
    for shape, dtype, params in POOL_CASES:
        if shape == "ties":     # integer data: many equal maxima in each window
            x = np.random.RandomState(0).randint(0, 3, (2, 2, 5, 5)).astype(dtype)
        else:
            x = rnd(*shape, dtype=dtype)
        (y,), _, _ = run_op("Pooling", [x], **params)
        out["Pooling"].append({"arrays": [x], "params": params,
                               "ograd": rnd(*y.shape, seed=3, dtype=dtype)})
    return out


@pytest.fixture(scope="module")
def mxnet_results():
    return run_oracle(ORACLE_CODE, all_cases=all_cases())


@pytest.mark.oracle
@pytest.mark.parametrize("op", ["Convolution", "Pooling"])
def test_forward_backward_match_mxnet(op, mxnet_results):
    for c, (y, *grads) in zip(all_cases()[op], mxnet_results[op]):
        tol = 1e-4 if c["arrays"][0].dtype == np.float32 else 1e-10
        (ours,), ig = run_op_backward(op, c["arrays"], out_grads=[c["ograd"]], **c["params"])
        msg = f"{op} {c['params']} {c['arrays'][0].dtype}"
        np.testing.assert_allclose(ours, y, rtol=tol, atol=tol, err_msg=msg)
        for a, b in zip(ig, grads):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=msg)
