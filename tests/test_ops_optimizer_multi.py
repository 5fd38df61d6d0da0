"""The aggregated optimizer operators (ops/optimizer_multi.py, issue 17): ``multi_[mp_]sgd_
[mom_]update`` and their ``preloaded_`` forms, ``multi_sum_sq``, ``multi_lars`` and
``contrib.group_adagrad_update``. Each CPU kernel against its numpy twin, the operators against
numpy formulas written here, against MXNet 1.9.1 (every output and every input after the call,
so the in-place states count; the mixed-precision float16 weights bit-exact), bad parameters,
the symbol form, and CPU vs GPU under the simulator. Update operators have no gradient."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import optimizer_multi as K
from mxteach.kernels.reference import optimizer_multi as R
from oracle import run_oracle

# the same call runs here (mx = mxteach) and in the oracle (mx = MXNet 1.9.1): ``spec`` lists
# the positional arguments (an index into the arrays, or a list of indices for a list of arrays)
# and ``out`` the same way; the result is every output then every input array after the call
CALL = """
def call(name, arrays, spec, out_spec, params, ctx=None):
    kw = {} if ctx is None else {'ctx': ctx}
    nds = [mx.nd.array(a, dtype=a.dtype, **kw) for a in arrays]
    pick = lambda s: [nds[i] for i in s] if isinstance(s, list) else nds[s]
    fn = mx.nd
    for part in name.split('.'):
        fn = getattr(fn, part)
    args = [pick(s) for s in spec]
    out_arg = None if out_spec is None else pick(out_spec)
    res = fn(*args, out=out_arg, **params)
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    return [r.asnumpy() for r in res] + [x.asnumpy() for x in nds]
"""


def call(*args, **kw):
    scope = {"mx": mx}
    exec(CALL, scope)
    return scope["call"](*args, **kw)


def _arr(seed, shape, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(dtype)


SHAPES = [(3, 4), (5,)]


def _sgd_case(name, mom, mp, preloaded, dtype=np.float32, seed=0, **extra):
    """(name, arrays, spec, out_spec, params) for one multi-SGD operator on two weights."""
    arrays, spec, outs = [], [], []
    for k, shape in enumerate(SHAPES):
        w32 = _arr(seed + 10 * k, shape)
        group = [w32.astype(dtype), _arr(seed + 10 * k + 1, shape).astype(dtype)]
        if mom:
            group.append(_arr(seed + 10 * k + 2, shape, -0.3, 0.3, np.float32 if mp else dtype))
        if mp:
            group.append(w32)
        outs.append(len(arrays))
        spec += list(range(len(arrays), len(arrays) + len(group)))
        arrays += group
    params = {"num_weights": 2, "rescale_grad": 0.7, **extra}
    if mom:
        params["momentum"] = 0.9
    if preloaded:
        arrays += [np.array([0.1, 0.05], np.float32), np.array([0.01, 0.0], np.float32)]
        spec += [len(arrays) - 2, len(arrays) - 1]
    else:
        params.update(lrs=(0.1, 0.05), wds=(0.01, 0.0))
    return name, arrays, spec, outs, params


SGD_CASES = [_sgd_case(("preloaded_" if pre else "") + "multi_" + ("mp_" if mp else "") + "sgd_"
                       + ("mom_" if mom else "") + "update", mom, mp, pre,
                       np.float16 if mp else np.float32, seed=3, **clip)
             for pre in (False, True) for mp in (False, True) for mom in (False, True)
             for clip in ({}, {"clip_gradient": 0.25})]
SGD_IDS = [c[0] + ("_clip" if "clip_gradient" in c[4] else "") for c in SGD_CASES]


def _numpy_sgd(case):
    """The multi-SGD rule in float32 numpy, written from MXNet's formula."""
    name, arrays, spec, outs, params = case
    f = np.float32
    mom, mp = "_mom_" in name, "_mp_" in name
    stride = 2 + mom + mp
    if name.startswith("preloaded"):
        lrs, wds = arrays[-2], arrays[-1]
    else:
        lrs, wds = [f(x) for x in params["lrs"]], [f(x) for x in params["wds"]]
    rs, clip = f(params["rescale_grad"]), params.get("clip_gradient", -1.0)
    arrays = [a.copy() for a in arrays]
    results = []
    for k in range(params["num_weights"]):
        grp = arrays[k * stride:(k + 1) * stride]
        w = grp[-1] if mp else grp[0].astype(f)
        g = grp[1].astype(f)
        m = grp[2] if mom else np.zeros_like(w)
        gr = np.clip(rs * g, -f(clip), f(clip)) if clip >= 0 else None
        lr, wd = f(lrs[k]), f(wds[k])
        step = (f(params.get("momentum", 0.0)) * m - (lr * wd) * w
                - (lr * gr if gr is not None else (lr * rs) * g))
        m[...] = step
        new = w + step
        if mp:
            grp[-1][...] = new
        results.append(new.astype(grp[0].dtype))
        grp[0][...] = results[-1]           # out=weights
    return results + arrays


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    t = np.dtype(dtype).type
    w, g, m = _arr(0, 50, dtype=dtype), _arr(1, 50, dtype=dtype), _arr(2, 50, dtype=dtype)
    for use in (False, True):
        a, b = [w.copy(), m.copy()], [w.copy(), m.copy()]
        args = (t(0.1), t(0.01), t(0.5), t(0.2), use, t(0.9))
        K.sgd_rule(a[0], g, a[1], *args)
        R.sgd_rule(b[0], g, b[1], *args)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert K.sum_sq(w, False) == R.sum_sq(w, False)
    out_k, out_r = np.empty(3, np.float32), np.empty(3, np.float32)
    lars_in = [np.array(x, np.float32) for x in ([0.1, 0.2, 0.3], [4.0, 0.0, 2.0],
                                                  [1.0, 1.0, 0.0], [0.01, 0.0, 0.1])]
    K.lars(out_k, *lars_in, np.float32(0.01), np.float32(1e-8), np.float32(0.5))
    R.lars(out_r, *lars_in, np.float32(0.01), np.float32(1e-8), np.float32(0.5))
    np.testing.assert_array_equal(out_k, out_r)
    hk, hr = _arr(3, 5, 0.1, 1.0, dtype), _arr(3, 5, 0.1, 1.0, dtype)
    wk, wr = w.copy(), w.copy()
    K.group_adagrad(wk, g, hk, 10, t(0.1), t(0.5), t(0.3), True, t(1e-5), t(10))
    R.group_adagrad(wr, g, hr, 10, t(0.1), t(0.5), t(0.3), True, t(1e-5), t(10))
    np.testing.assert_allclose(hk, hr, rtol=1e-6)
    np.testing.assert_allclose(wk, wr, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", SGD_CASES, ids=SGD_IDS)
def test_multi_sgd_equals_numpy_and_updates_states_in_place(case):
    got = call(*case)
    want = _numpy_sgd(case)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        if a.dtype == np.float16:
            np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), rtol=1e-3,
                                       atol=1e-3)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _lars_inputs():
    ws = [_arr(20, (4, 3)), _arr(21, (6,)), np.zeros(2, np.float32)]
    gs = [_arr(22, (4, 3)), _arr(23, (6,)), _arr(24, (2,))]
    return ws, gs


def test_sum_sq_and_lars_equal_numpy():
    ws, gs = _lars_inputs()
    got = mx.nd.multi_sum_sq(*[mx.nd.array(w) for w in ws], num_arrays=3).asnumpy()
    np.testing.assert_allclose(got, [np.sum(w.astype(np.float64) ** 2) for w in ws], rtol=1e-6)
    wss = np.array([np.sum(w.astype(np.float64) ** 2) for w in ws], np.float32)
    gss = np.array([np.sum(g.astype(np.float64) ** 2) for g in gs], np.float32)
    lrs, wds = np.array([0.1, 0.2, 0.3], np.float32), np.array([0.01, 0.0, 0.1], np.float32)
    got = mx.nd.multi_lars(*[mx.nd.array(x) for x in (lrs, wss, gss, wds)], eta=0.02, eps=1e-6,
                           rescale_grad=0.5).asnumpy()
    wn, gn = np.sqrt(wss), np.sqrt(gss)
    want = np.where(wn > 0, lrs * 0.02 * wn / (gn * 0.5 + wds * wn + 1e-6), lrs)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[2] == lrs[2]                  # a zero weight norm keeps the learning rate


def test_group_adagrad_equals_numpy():
    w, g, h = _arr(30, (4, 3)), _arr(31, (4, 3)), _arr(32, (4, 1), 0.1, 1.0)
    nw, nh = mx.nd.array(w), mx.nd.array(h)
    mx.nd.contrib.group_adagrad_update(nw, mx.nd.array(g), nh, lr=0.1, rescale_grad=0.5,
                                       clip_gradient=0.2, out=nw)
    gr = np.clip(0.5 * g.astype(np.float64), -0.2, 0.2)
    hist = h + np.mean(gr ** 2, axis=1, keepdims=True)
    np.testing.assert_allclose(nh.asnumpy(), hist, rtol=1e-6)
    np.testing.assert_allclose(nw.asnumpy(), w - 0.1 * gr / np.sqrt(hist + 1e-5), rtol=1e-5,
                               atol=1e-6)


# -- MXNet parity ------------------------------------------------------------------------------
def _parity_cases():
    ws, gs = _lars_inputs()
    lars_in = [np.array([0.1, 0.2, 0.3], np.float32),
               np.array([np.sum(w.astype(np.float64) ** 2) for w in ws], np.float32),
               np.array([np.sum(g.astype(np.float64) ** 2) for g in gs], np.float32),
               np.array([0.01, 0.0, 0.1], np.float32)]
    half = [_arr(40, (7, 5), dtype=np.float16), _arr(41, (9,), dtype=np.float16)]
    return SGD_CASES + [
        _sgd_case("multi_sgd_mom_update", True, False, False, np.float64, seed=5),
        ("multi_sum_sq", ws + gs, list(range(6)), None, {"num_arrays": 6}),
        ("multi_sum_sq", half, [0, 1], None, {"num_arrays": 2}),
        ("multi_lars", lars_in, [0, 1, 2, 3], None, {"eta": 0.02, "eps": 1e-6,
                                                     "rescale_grad": 0.5}),
    ]


def check_parity(cases, exact=(), rtol=1e-6):
    """Run every case here and in MXNet 1.9.1; compare every output and input array after the
    call: float16 arrays (the mp forms' weights) and the cases named in ``exact`` bit-exact."""
    ref = run_oracle(CALL + """
for k, case in enumerate(cases):
    out[k] = call(*case)
""", cases=cases)
    for k, case in enumerate(cases):
        got = call(*case)
        assert len(got) == len(ref[k]), case[0]
        for j, (a, b) in enumerate(zip(got, ref[k])):
            assert a.dtype == b.dtype, (case[0], j)
            if a.dtype == np.float16 or case[0] in exact:
                np.testing.assert_array_equal(a, b, err_msg=f"{case[0]} case {k} array {j}")
            else:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7,
                                           err_msg=f"{case[0]} case {k} array {j}")


@pytest.mark.oracle
def test_mxnet_parity_outputs_and_states():
    check_parity(_parity_cases(), exact=("multi_sum_sq",))


@pytest.mark.oracle
def test_group_adagrad_matches_mxnet_row_sparse_update():
    # MXNet 1.9.1 runs group AdaGrad on the CPU for row_sparse gradients only; with every row
    # present that is the dense update mxteach runs
    w, g, h = _arr(50, (5, 3)), _arr(51, (5, 3)), _arr(52, (5, 1), 0.1, 1.0)
    ref = run_oracle("""
nw, nh = mx.nd.array(w), mx.nd.array(h)
mx.nd.contrib.group_adagrad_update(nw, mx.nd.array(g).tostype('row_sparse'), nh, lr=0.05,
                                   rescale_grad=0.8, clip_gradient=0.3, epsilon=1e-4, out=nw)
out['w'], out['h'] = nw.asnumpy(), nh.asnumpy()
""", w=w, g=g, h=h)
    nw, nh = mx.nd.array(w), mx.nd.array(h)
    mx.nd.contrib.group_adagrad_update(nw, mx.nd.array(g), nh, lr=0.05, rescale_grad=0.8,
                                       clip_gradient=0.3, epsilon=1e-4, out=nw)
    np.testing.assert_array_equal(nh.asnumpy(), ref["h"])
    np.testing.assert_allclose(nw.asnumpy(), ref["w"], rtol=1e-6, atol=1e-7)


def test_errors_and_symbol_form():
    w, g = mx.nd.ones((2, 3)), mx.nd.ones((2, 3))
    with pytest.raises(MXNetError, match="'lrs' has 1 entries"):
        mx.nd.multi_sgd_update(w, g, w, g, lrs=(0.1,), wds=(0.0, 0.0), num_weights=2)
    with pytest.raises(MXNetError):
        mx.nd.multi_sgd_update(w, g, w, g, lrs=(0.1,), wds=(0.0,))    # num_weights defaults to 1
    with pytest.raises(MXNetError, match="'grad_1' has shape"):
        mx.nd.multi_sgd_update(w, g, w, mx.nd.ones(3), lrs=(0.1, 0.1), wds=(0.0, 0.0),
                               num_weights=2)
    with pytest.raises(MXNetError, match="'lrs' has shape"):
        mx.nd.preloaded_multi_sgd_update(w, g, mx.nd.ones(2), mx.nd.ones(1), num_weights=1)
    with pytest.raises(MXNetError, match="float32"):
        mx.nd.multi_lars(*[mx.nd.ones(2, dtype="float64")] * 4, eta=1.0, eps=0.0)
    with pytest.raises(MXNetError, match="history"):
        mx.nd.contrib.group_adagrad_update(w, g, mx.nd.ones(3), lr=0.1)
    s = mx.sym.preloaded_multi_sgd_mom_update(num_weights=2, momentum=0.9)
    assert s.list_arguments()[-2:] == ["preloaded_multi_sgd_mom_update0_lrs",
                                      "preloaded_multi_sgd_mom_update0_wds"]
    assert [a.split("_update0_")[1] for a in s.list_arguments()[:3]] == ["weight_0", "grad_0",
                                                                          "mom_0"]
    assert len(s.list_outputs()) == 2
    v = [mx.sym.Variable(n) for n in ("w", "g", "m", "w32")]
    s = mx.sym.multi_mp_sgd_mom_update(*v, lrs=(0.1,), wds=(0.0,), num_weights=1)
    shapes = s.infer_shape(w=(2, 3))
    assert shapes[0] == [(2, 3)] * 4 and shapes[1] == [(2, 3)]
    types = s.infer_type(w="float16")
    assert [np.dtype(t).name for t in types[0]] == ["float16", "float16", "float32", "float32"]


# -- CPU vs GPU (simulator) --------------------------------------------------------------------
@pytest.mark.cudasim
@pytest.mark.parametrize("case", _parity_cases(), ids=lambda c: c[0])
def test_gpu_equals_cpu(case):
    cpu = call(*case)
    gpu = call(*case, ctx=mx.gpu(0))
    # float16 data: the GPU sums float32 squares, the CPU (as MXNet's) half-precision ones
    half = any(a.dtype == np.float16 for a in case[1])
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                                   rtol=1e-3 if half else 1e-5, atol=1e-3 if half else 1e-6)


@pytest.mark.cudasim
def test_cuda_kernels_equal_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import optimizer_multi as C
    t = np.float32
    w, g, m = _arr(60, 40), _arr(61, 40), _arr(62, 40)
    dw, dm = cuda.to_device(w), cuda.to_device(m)
    C.sgd_rule(dw, cuda.to_device(g), dm, t(0.1), t(0.01), t(0.5), t(0.2), True, t(0.9))
    R.sgd_rule(w, g, m, t(0.1), t(0.01), t(0.5), t(0.2), True, t(0.9))
    np.testing.assert_allclose(dw.copy_to_host(), w, rtol=1e-6)
    np.testing.assert_allclose(dm.copy_to_host(), m, rtol=1e-6)
    sums = cuda.to_device(np.zeros(2, np.float32))
    C.sum_sq_into(cuda.to_device(w), sums, 1)
    np.testing.assert_allclose(sums.copy_to_host()[1], R.sum_sq(w, False), rtol=1e-6)
    h, dh = _arr(63, 4, 0.1, 1.0), None
    dh, dw = cuda.to_device(h), cuda.to_device(w)
    C.group_adagrad(dw, cuda.to_device(g), dh, 10, t(0.1), t(1), t(0), False, t(1e-5), t(10))
    R.group_adagrad(w, g, h, 10, t(0.1), t(1), t(0), False, t(1e-5), t(10))
    np.testing.assert_allclose(dh.copy_to_host(), h, rtol=1e-6)
    np.testing.assert_allclose(dw.copy_to_host(), w, rtol=1e-6, atol=1e-7)
