"""The linalg family (ops/linalg.py, ops/linalg_factor.py, issue 17): numpy formulas, CPU kernels
against their numpy twins, finite differences, grad_req add, MXNet 1.9.1 parity of forward and
backward, errors, the mx.nd.linalg / mx.sym.linalg namespaces, CPU vs GPU under the simulator."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import linalg as K
from mxteach.kernels.reference import linalg as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle

RS = np.random.RandomState(0)


def _r(*shape):
    return RS.uniform(-1, 1, shape)


def _spd(b, n):
    m = _r(b, n, n)
    return m @ m.transpose(0, 2, 1) + n * np.eye(n)


def _tri(b, n, lower=True):
    t = _r(b, n, n) + 3 * np.eye(n)
    return np.tril(t) if lower else np.triu(t)


def _sq(b, n):
    return _r(b, n, n) + 2 * np.eye(n)


def _op(x, t):
    return np.swapaxes(x, -1, -2) if t else x


A34, B45, C35 = _r(2, 3, 4), _r(2, 4, 5), _r(2, 3, 5)
T3 = _r(2, 3, 3) + 3 * np.eye(3)
SPD = _spd(2, 3)
LOW = np.linalg.cholesky(SPD)
SQ = _sq(2, 3)
SQ2 = _sq(1, 3)[0]
IN4 = np.arange(16.0).reshape(4, 4) + _r(4, 4)

CASES = [
    ("linalg_gemm", [A34, B45, C35], {"alpha": 1.5, "beta": 0.5},
     lambda a, b, c: 1.5 * a @ b + 0.5 * c),
    ("linalg_gemm", [_r(2, 4, 3), _r(2, 5, 4), C35],
     {"transpose_a": True, "transpose_b": True}, lambda a, b, c: _op(a, 1) @ _op(b, 1) + c),
    ("linalg_gemm2", [A34, B45], {}, lambda a, b: a @ b),
    ("linalg_gemm2", [A34, _r(2, 5, 4)], {"transpose_b": True, "alpha": -2.0},
     lambda a, b: -2 * a @ _op(b, 1)),
    ("linalg_gemm2", [_r(2, 3, 4, 5), _r(2, 5, 4, 2)], {"axis": 1},
     lambda a, b: np.moveaxis(np.moveaxis(a, 1, 2) @ np.moveaxis(b, 1, 2), 2, 1)),
    ("linalg_trmm", [T3, _r(2, 3, 4)], {"alpha": 2.0}, lambda a, b: 2 * np.tril(a) @ b),
    ("linalg_trmm", [T3, _r(2, 4, 3)], {"rightside": True, "transpose": True, "lower": False},
     lambda a, b: b @ _op(np.triu(a), 1)),
    ("linalg_trsm", [T3, _r(2, 3, 4)], {"alpha": 2.0},
     lambda a, b: 2 * np.linalg.solve(np.tril(a), b)),
    ("linalg_trsm", [T3, _r(2, 4, 3)], {"rightside": True, "transpose": True},
     lambda a, b: b @ np.linalg.inv(_op(np.tril(a), 1))),
    ("linalg_trsm", [T3, _r(2, 3, 2)], {"lower": False, "transpose": True},
     lambda a, b: np.linalg.solve(_op(np.triu(a), 1), b)),
    ("linalg_syrk", [A34], {"alpha": 0.5}, lambda a: 0.5 * a @ _op(a, 1)),
    ("linalg_syrk", [A34], {"transpose": True}, lambda a: _op(a, 1) @ a),
    ("linalg_potrf", [SPD], {}, np.linalg.cholesky),
    ("linalg_potri", [LOW], {}, lambda a: np.linalg.inv(a @ _op(a, 1))),
    ("linalg_sumlogdiag", [SPD], {}, lambda a: np.log(np.diagonal(a, 0, 1, 2)).sum(-1)),
    ("linalg_inverse", [SQ], {}, np.linalg.inv),
    ("linalg_det", [SQ], {}, np.linalg.det),
    ("linalg_det", [SQ2], {}, lambda a: np.linalg.det(a)[None]),
    ("linalg_slogdet", [SQ], {}, lambda a: np.linalg.slogdet(a)[1]),
    ("linalg_extractdiag", [IN4], {"offset": 1}, lambda a: np.diagonal(a, 1)),
    ("linalg_makediag", [_r(2, 3)], {"offset": -1},
     lambda a: np.stack([np.diag(v, -1) for v in a])),
    ("linalg_extracttrian", [IN4], {}, lambda a: a[np.tril_indices(4)]),
    ("linalg_extracttrian", [IN4], {"lower": False}, lambda a: a.T[np.tril_indices(4)]),
    ("linalg_extracttrian", [IN4], {"offset": 1}, lambda a: a.T[np.tril_indices(4, -1)]),
    ("linalg_maketrian", [_r(2, 6)], {"offset": -1},
     lambda a: np.stack([_fill_tril(v, 4, -1) for v in a])),
    ("linalg_gelqf", [_r(2, 3, 5)], {}, None),
    ("_linalg_syevd", [SPD], {}, lambda a: np.linalg.eigvalsh(a)),
]
IDS = [f"{k}-{c[0].split('_')[-1]}" for k, c in enumerate(CASES)]


def _fill_tril(v, n, k):
    m = np.zeros((n, n))
    m[np.tril_indices(n, k)] = v
    return m


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    outs = run_op(name, inputs, **params)[0]
    if formula is None:                                  # gelqf: A = L Q, Q Q^T = I, L lower
        q, low = outs
        np.testing.assert_allclose(low @ q, inputs[0], atol=1e-12)
        np.testing.assert_allclose(q @ _op(q, 1), np.broadcast_to(np.eye(3), (2, 3, 3)),
                                   atol=1e-12)
        np.testing.assert_array_equal(np.triu(low, 1), 0)
        return
    out = outs[-1]
    np.testing.assert_allclose(out, formula(*inputs), rtol=1e-10, atol=1e-12)


def test_slogdet_sign_and_singular_matrices():
    sign, logabs = run_op("linalg_slogdet", [SQ])[0]
    np.testing.assert_array_equal(sign, np.linalg.slogdet(SQ)[0])
    sign, logabs = run_op("linalg_slogdet", [np.ones((3, 3))])[0]
    assert sign[0] == 0 and logabs[0] == -np.inf
    assert run_op("linalg_det", [np.ones((3, 3))])[0][0][0] == 0


SYMMETRIC_INPUT = {"linalg_potrf", "_linalg_syevd"}


@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in SYMMETRIC_INPUT],
                         ids=[i for i, c in zip(IDS, CASES) if c[0] not in SYMMETRIC_INPUT])
def test_finite_differences(case):
    name, inputs, params, _ = case
    check_op_gradient(name, inputs, params, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(SYMMETRIC_INPUT))
def test_gradient_along_symmetric_directions(name):
    """potrf and syevd read a symmetric matrix: their (symmetric) gradient G must give the
    derivative along every symmetric direction E, <G, E> = d/dt sum(out(A + tE) * ograd)."""
    heads = [_r(*o.shape) for o in run_op(name, [SPD])[0]]
    _, (grad,) = run_op_backward(name, [SPD], out_grads=heads)
    np.testing.assert_allclose(grad, np.swapaxes(grad, -1, -2), atol=1e-12)
    for seed in range(3):
        e = np.random.RandomState(seed).uniform(-1, 1, SPD.shape)
        e = e + np.swapaxes(e, -1, -2)
        h = 1e-6
        f = [sum(np.sum(o * g) for o, g in zip(run_op(name, [SPD + s * h * e])[0], heads))
             for s in (1, -1)]
        np.testing.assert_allclose((f[0] - f[1]) / (2 * h), np.sum(grad * e), rtol=1e-6)


def test_singular_matrices_get_no_det_gradient_as_in_mxnet():
    a = np.stack([np.ones((3, 3)), SQ[0]])
    for name, heads in (("linalg_det", [np.ones(2)]),
                        ("linalg_slogdet", [np.ones(2), np.ones(2)])):
        _, (grad,) = run_op_backward(name, [a], out_grads=heads)
        np.testing.assert_array_equal(grad[0], 0)
        np.testing.assert_allclose(grad[1], np.linalg.inv(SQ[0]).T *
                                   (np.linalg.det(SQ[0]) if name == "linalg_det" else 1))


@pytest.mark.parametrize("k", [0, 5, 7, 12, 15, 16, 19, 25, 26])
def test_grad_req_add_accumulates(k):
    name, inputs, params, _ = CASES[k]
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    for a, b in zip(once, added):
        np.testing.assert_allclose(b, a + 0.25, rtol=1e-12, atol=1e-12)


def _kernel_calls(dtype):
    """(name, args, output templates) of every CPU kernel on small data."""
    c = lambda a: np.ascontiguousarray(a, dtype=dtype)   # noqa: E731
    spd, sq = c(_spd(3, 4)), c(_sq(3, 4))
    lu, piv = np.zeros_like(sq), np.zeros((3, 4), np.int64)
    R.lu(sq, lu, piv)
    calls = [("gemm", (c(_r(2, 3, 2, 4)), c(_r(2, 4, 2, 5)), c(_r(2, 3, 2, 5)), False, False,
                       1.5, 0.5), [np.zeros((2, 3, 2, 5), dtype)]),
             ("gemm", (c(_r(2, 4, 2, 3)), c(_r(2, 5, 2, 4)), None, True, True, -1.0, 0.0),
              [np.zeros((2, 3, 2, 5), dtype)]),
             ("triangle", (sq, False, 2.0, False), [np.zeros_like(sq)]),
             ("potrf", (spd,), [np.zeros_like(spd), np.zeros(3, np.int64)]),
             ("lu", (sq,), [np.zeros_like(sq), np.zeros((3, 4), np.int64)]),
             ("lu_inverse", (lu, piv), [np.zeros_like(sq)]),
             ("lu_det", (lu, piv), [np.zeros(3, dtype) for _ in range(3)]),
             ("sumlogdiag", (spd,), [np.zeros(3, dtype)]),
             ("diag_grad", (spd, c(_r(3)), False), [np.zeros_like(spd)]),
             ("scaled_transpose", (sq, c(_r(3)), c(_r(3)), c([1, 0, 2]), False),
              [np.zeros_like(sq)]),
             ("syevd", (spd, np.zeros((3, 4, 4)), np.zeros((3, 4, 4))),
              [np.zeros_like(spd), np.zeros((3, 4), dtype)]),
             ("syevd_mid", (sq, c(np.sort(_r(3, 4), axis=1)), c(_r(3, 4)), 1e-30),
              [np.zeros_like(sq)]),
             ("gelqf", (c(_r(2, 3, 5)), np.zeros((2, 3, 5), dtype), np.zeros((2, 3), dtype)),
              [np.zeros((2, 3, 5), dtype), np.zeros((2, 3, 3), dtype)]),
             ("axpy", (c(_r(7)), -0.5, False), [np.zeros(7, dtype)])]
    for tr in (False, True):
        for right in (False, True):
            for lower in (False, True):
                b = c(_r(3, 2, 4) if right else _r(3, 4, 2))
                calls.append(("trsm", (sq, b, tr, right, lower, 1.5), [np.zeros_like(b)]))
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    tol = 2e-4 if dtype == np.float32 else 1e-11
    for name, args, outs in _kernel_calls(dtype):
        if name == "gemm" and args[2] is None:
            args = args[:2] + (outs[0],) + args[3:]
        mine, ref = [o.copy() for o in outs], [o.copy() for o in outs]
        getattr(K, name)(*args, *mine)
        getattr(R, name)(*args, *ref)
        for m, r in zip(mine, ref):
            np.testing.assert_allclose(m, r, rtol=tol, atol=tol, err_msg=name)
    a = np.tril(_r(2, 3, 3)) + np.triu(_r(2, 3, 3), 1)
    b = a.copy()
    K.lower_to_upper(a)
    R.lower_to_upper(b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    heads = {k: [_r(*o.shape) for o in run_op(n, i, **p)[0]] for k, (n, i, p, _) in
             enumerate(CASES)}
    cases = [(n, i, p) for n, i, p, _ in CASES]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    xs = [mx.nd.array(a, dtype='float64') for a in inputs]
    for x in xs:
        x.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd.linalg, name.split('linalg_')[1])(*xs, **params)
    ys = y if isinstance(y, list) else [y]
    mx.autograd.backward(ys, [mx.nd.array(h, dtype='float64') for h in heads[k]])
    out[k] = ([v.asnumpy() for v in ys], [x.grad.asnumpy() for x in xs])
""", cases=cases, heads=heads)
    for k, (name, inputs, params) in enumerate(cases):
        ys, grads = run_op_backward(name, inputs, out_grads=heads[k], **params)
        for mine, theirs in zip(list(ys) + list(grads), ref[k][0] + ref[k][1]):
            assert mine.shape == theirs.shape and mine.dtype == theirs.dtype, IDS[k]
            np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-10, err_msg=IDS[k])


@pytest.mark.oracle
def test_float32_results_and_names_as_mxnet():
    a = _spd(2, 3).astype(np.float32)
    ref = run_oracle("""
out['potrf'] = mx.nd.linalg.potrf(mx.nd.array(a)).asnumpy()
out['det'] = mx.nd.linalg_det(mx.nd.array(a)).asnumpy()
A, B = mx.sym.var('A'), mx.sym.var('B')
out['names'] = [mx.sym.linalg.gemm2(A, B).name, mx.sym.linalg_gemm2(A, B).name,
                mx.sym.linalg.gemm(A, B).list_arguments(), mx.sym.linalg.gelqf(A).list_outputs(),
                mx.sym.linalg.slogdet(A).list_outputs()]
""", a=a)
    np.testing.assert_allclose(mx.nd.linalg.potrf(mx.nd.array(a)).asnumpy(), ref["potrf"],
                               rtol=1e-6)
    det = mx.nd.linalg_det(mx.nd.array(a)).asnumpy()
    assert det.dtype == np.float32
    np.testing.assert_allclose(det, ref["det"], rtol=1e-5)
    A, B = mx.sym.var("A"), mx.sym.var("B")
    mine = [mx.sym.linalg.gemm2(A, B).name, mx.sym.linalg_gemm2(A, B).name,
            mx.sym.linalg.gemm(A, B).list_arguments(), mx.sym.linalg.gelqf(A).list_outputs(),
            mx.sym.linalg.slogdet(A).list_outputs()]
    assert mine == list(ref["names"])


BAD = [
    ("potrf", lambda: mx.nd.linalg.potrf(mx.nd.array(-np.eye(3))), "positive definite"),
    ("potrf", lambda: mx.nd.linalg.potrf(mx.nd.ones((2, 3))), "square"),
    ("gelqf", lambda: mx.nd.linalg.gelqf(mx.nd.ones((4, 2))), "second to last"),
    ("maketrian", lambda: mx.nd.linalg.maketrian(mx.nd.ones((5,))), "triangular number"),
    ("extracttrian", lambda: mx.nd.linalg.extracttrian(mx.nd.ones((3, 3)), offset=3),
     "illegal offset"),
    ("inverse", lambda: mx.nd.linalg.inverse(mx.nd.ones((3, 3))), "singular"),
    ("potri", lambda: mx.nd.linalg.potri(mx.nd.zeros((3, 3))), "not a Cholesky factor"),
    ("gemm2", lambda: mx.nd.linalg.gemm2(mx.nd.ones((3, 4)), mx.nd.ones((3, 4))),
     "incompatible matrix dimensions"),
    ("gemm2", lambda: mx.nd.linalg.gemm2(mx.nd.ones((2, 3, 4)), mx.nd.ones((3, 4, 3))),
     "must be the same except"),
    ("trsm", lambda: mx.nd.linalg.trsm(mx.nd.ones((3, 3)), mx.nd.ones((4, 3))),
     "incompatible matrix dimensions"),
    ("det", lambda: mx.nd.linalg.det(mx.nd.ones((3,))), "dimension must be >= 2"),
    ("det", lambda: mx.nd.linalg.det(mx.nd.ones((3, 3), dtype="int32")), "32-bit and 64-bit"),
    ("gemm", lambda: mx.nd.linalg.gemm(mx.nd.ones((3, 4)), mx.nd.ones((4, 3)),
                                       mx.nd.ones((3, 4))), "input 'C' has shape"),
]


@pytest.mark.oracle
def test_bad_inputs_raise_what_mxnet_raises():
    calls = [src for src in (
        "mx.nd.linalg.potrf(mx.nd.array(-np.eye(3))).asnumpy()",
        "mx.nd.linalg.potrf(mx.nd.ones((2, 3))).asnumpy()",
        "mx.nd.linalg.gelqf(mx.nd.ones((4, 2)))[0].asnumpy()",
        "mx.nd.linalg.maketrian(mx.nd.ones((5,))).asnumpy()",
        "mx.nd.linalg.extracttrian(mx.nd.ones((3, 3)), offset=3).asnumpy()",
        "mx.nd.linalg.inverse(mx.nd.ones((3, 3))).asnumpy()",
        "mx.nd.linalg.potri(mx.nd.zeros((3, 3))).asnumpy()",
        "mx.nd.linalg.gemm2(mx.nd.ones((3, 4)), mx.nd.ones((3, 4))).asnumpy()",
        "mx.nd.linalg.gemm2(mx.nd.ones((2, 3, 4)), mx.nd.ones((3, 4, 3))).asnumpy()",
        "mx.nd.linalg.trsm(mx.nd.ones((3, 3)), mx.nd.ones((4, 3))).asnumpy()",
        "mx.nd.linalg.det(mx.nd.ones((3,))).asnumpy()",
        "mx.nd.linalg.det(mx.nd.ones((3, 3), dtype='int32')).asnumpy()",
        "mx.nd.linalg.gemm(mx.nd.ones((3, 4)), mx.nd.ones((4, 3)), mx.nd.ones((3, 4)))"
        ".asnumpy()")]
    ref = run_oracle("""
for k, src in enumerate(calls):
    try:
        eval(src)
        out[k] = 'ran'
    except mx.base.MXNetError as err:
        out[k] = 'MXNetError'
""", calls=calls)
    assert len(calls) == len(BAD)
    for k, (what, call, message) in enumerate(BAD):
        assert ref[k] == "MXNetError", what
        with pytest.raises(MXNetError, match=message):
            call()


def test_namespaces_and_symbols():
    names = ["det", "extractdiag", "extracttrian", "gelqf", "gemm", "gemm2", "inverse",
             "makediag", "maketrian", "potrf", "potri", "slogdet", "sumlogdiag", "syrk", "trmm",
             "trsm"]
    for n in names + ["syevd"]:
        assert callable(getattr(mx.nd.linalg, n)) and callable(getattr(mx.sym.linalg, n))
    for n in names:                  # MXNet has no linalg_syevd at the top level
        assert callable(getattr(mx.nd, "linalg_" + n)) and callable(getattr(mx.sym, "linalg_" + n))
    assert not hasattr(mx.nd, "linalg_syevd")
    s = mx.sym.linalg.potrf(mx.sym.var("A"))
    ex = s.bind(mx.cpu(), {"A": mx.nd.array(SPD[0])})
    np.testing.assert_allclose(ex.forward()[0].asnumpy(), LOW[0], rtol=1e-6)
    _, out_shapes, _ = mx.sym.linalg.gelqf(mx.sym.var("A")).infer_shape(A=(4, 3, 5))
    assert out_shapes == [(4, 3, 5), (4, 3, 3)]


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, inputs, params, rtol=1e-9, atol=1e-10)


@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_kernels_equal_their_numpy_twins(dtype):
    from numba import cuda
    from mxteach.kernels.cuda import linalg as C
    tol = 2e-4 if dtype == np.float32 else 1e-11
    for name, args, outs in _kernel_calls(dtype):
        if name == "gemm" and args[2] is None:
            args = args[:2] + (outs[0],) + args[3:]
        d_args = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
        d_outs = [cuda.to_device(o.copy()) for o in outs]
        getattr(C, name)(*d_args, *d_outs)
        ref = [o.copy() for o in outs]
        getattr(R, name)(*args, *ref)
        for d, r in zip(d_outs, ref):
            np.testing.assert_allclose(d.copy_to_host(), r, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.cudasim
def test_graph_of_linalg_operators_on_gpu_equals_cpu():
    """A bound graph (potrf, then syrk, then det of that) on mx.gpu(0) gives the CPU's output
    and gradient."""
    a = mx.sym.var("A")
    s = mx.sym.linalg.det(mx.sym.linalg.syrk(mx.sym.linalg.potrf(a), alpha=0.5))
    results = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        ex = s.bind(ctx, {"A": mx.nd.array(SPD, ctx=ctx, dtype="float64")},
                    args_grad={"A": mx.nd.zeros(SPD.shape, ctx=ctx, dtype="float64")})
        y = ex.forward(is_train=True)[0].asnumpy()
        ex.backward([mx.nd.array([1.0, -2.0], ctx=ctx, dtype="float64")])
        results.append((y, ex.grad_dict["A"].asnumpy()))
    np.testing.assert_allclose(results[0][0], np.linalg.det(SPD) / 8, rtol=1e-10)
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-12)
