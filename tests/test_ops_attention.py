"""The interleaved attention products (ops/attention.py, issue 17): the formulas MXNet 1.9.1's
docs give (reshape, transpose, batch_dot) in numpy, the CPU kernels against their einsum twins,
finite differences, grad_req add, MXNet parity of forward and backward (float32, the only dtype
MXNet runs them in), CPU vs GPU under the simulator, and the shape errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import attention as K
from mxteach.kernels.reference import attention as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle

S, SK, B, H, D = 4, 3, 2, 2, 3


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, shape)


def _heads_first(p, heads):
    """(S, B, heads * D) -> (B * heads, S, D), rows b * heads + h."""
    s, b, e = p.shape
    return p.reshape(s, b, heads, e // heads).transpose(1, 2, 0, 3).reshape(b * heads, s, -1)


def _part(packed, heads, comps, c):
    s, b, e = packed.shape
    return packed.reshape(s, b, heads, comps, -1)[:, :, :, c, :].reshape(s, b, -1)


def _qk(q, k, heads):
    qh, kh = _heads_first(q, heads), _heads_first(k, heads)
    return qh @ kh.transpose(0, 2, 1) / np.sqrt(qh.shape[-1])


def _valatt(v, att, heads):
    out = att @ _heads_first(v, heads)                    # (B * heads, Sq, D)
    bh, sq, d = out.shape
    return out.reshape(bh // heads, heads, sq, d).transpose(2, 0, 1, 3).reshape(sq, bh // heads,
                                                                                heads * d)


QKV, Q, KV = _x(S, B, H * 3 * D), _x(S, B, H * D, seed=1), _x(SK, B, H * 2 * D, seed=2)
ATT_SELF, ATT_ED = _x(B * H, S, S, seed=3), _x(B * H, S, SK, seed=4)
CASES = [
    ("interleaved_matmul_selfatt_qk", [QKV],
     lambda x: _qk(_part(x, H, 3, 0), _part(x, H, 3, 1), H)),
    ("interleaved_matmul_selfatt_valatt", [QKV, ATT_SELF],
     lambda x, a: _valatt(_part(x, H, 3, 2), a, H)),
    ("interleaved_matmul_encdec_qk", [Q, KV], lambda q, kv: _qk(q, _part(kv, H, 2, 0), H)),
    ("interleaved_matmul_encdec_valatt", [KV, ATT_ED],
     lambda kv, a: _valatt(_part(kv, H, 2, 1), a, H)),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_the_documented_formula(case):
    name, inputs, formula = case
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        out = run_op("_contrib_" + name, [a.astype(dtype) for a in inputs], heads=H)[0][0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, formula(*inputs), rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, _ = case
    check_op_gradient("_contrib_" + name, inputs, {"heads": H}, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grad_req_add(case):
    name, inputs, _ = case
    _, once = run_op_backward("_contrib_" + name, inputs, heads=H)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward("_contrib_" + name, inputs, reqs=["add"] * len(inputs),
                               init_grads=init, heads=H)
    for a, o in zip(added, once):
        np.testing.assert_allclose(a, o + 0.25, rtol=1e-12, atol=1e-12)


def test_self_attention_gradient_leaves_unread_components_zero():
    _, (g,) = run_op_backward("_contrib_interleaved_matmul_selfatt_qk", [QKV], heads=H)
    assert np.all(g.reshape(S, B, H, 3, D)[:, :, :, 2] == 0)
    _, (g, _) = run_op_backward("_contrib_interleaved_matmul_selfatt_valatt", [QKV, ATT_SELF],
                                heads=H)
    assert np.all(g.reshape(S, B, H, 3, D)[:, :, :, :2] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_kernels_equal_their_numpy_twins(dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    a5 = QKV.astype(dtype).reshape(S, B, H, 3, D)
    kv5 = KV.astype(dtype).reshape(SK, B, H, 2, D)
    w = _x(B * H, S, SK, seed=5).astype(dtype)
    got = {}
    for mod in (K, R):
        out, g_add = np.full((B * H, S, SK), 0.5, dtype), np.full_like(a5, 0.5)
        g_write, g_trans = np.empty_like(a5), np.empty_like(kv5)
        mod.scores(a5, 0, kv5, 1, 0.5, 2, out)
        mod.mix(kv5, 0, w, False, 0.5, 2, g_add, 1)
        mod.mix(kv5, 1, w, False, 1.0, 1, g_write, 2)
        mod.mix(a5, 2, w, True, 0.5, 1, g_trans, 0)
        got[mod] = (out, g_add, g_write, g_trans)
    for k, (a, b) in enumerate(zip(got[K], got[R])):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"result {k}")


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs]) for name, inputs, _ in CASES]
    heads = [_x(*f(*i).shape, seed=9).astype(np.float32) for (_, i, f) in CASES]
    ref = run_oracle("""
for k, (name, inputs) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    for a in args:
        a.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd.contrib, name)(*args, heads=nheads)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), [a.grad.asnumpy() for a in args])
q = mx.sym.Variable('q')
s = mx.sym.contrib.interleaved_matmul_selfatt_qk(q, heads=2, name='att')
a, o, _ = s.infer_shape(q=(5, 3, 24))
out['sym'] = (s.list_arguments(), [list(t) for t in a], [list(t) for t in o])
""", cases=cases, heads=heads, nheads=H)
    for k, (name, inputs) in enumerate(cases):
        outs, grads = run_op_backward("_contrib_" + name, inputs, out_grads=[heads[k]], heads=H)
        np.testing.assert_allclose(outs[0], ref[k][0], rtol=1e-5, atol=1e-6, err_msg=name)
        for i, (g, want) in enumerate(zip(grads, ref[k][1])):
            np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{name} gradient {i}")
    s = mx.sym.contrib.interleaved_matmul_selfatt_qk(mx.sym.Variable('q'), heads=2, name='att')
    a, o, _ = s.infer_shape(q=(5, 3, 24))
    assert (s.list_arguments(), [list(t) for t in a], [list(t) for t in o]) == ref["sym"]


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.contrib.interleaved_matmul_selfatt_qk(mx.nd.ones((2, 3, 10)), heads=2),
     "not divisible by heads * 3 = 6"),
    (lambda: mx.nd.contrib.interleaved_matmul_selfatt_qk(mx.nd.ones((2, 12)), heads=2),
     "needs 3-D"),
    (lambda: mx.nd.contrib.interleaved_matmul_encdec_valatt(
        mx.nd.ones((3, 2, 8)), mx.nd.ones((2, 4, 3)), heads=2), "expected (4, 4, 3)"),
    (lambda: mx.nd.contrib.interleaved_matmul_encdec_qk(
        mx.nd.ones((3, 2, 4)), mx.nd.ones((3, 1, 8)), heads=2), "differ in batch size"),
    (lambda: mx.nd.contrib.interleaved_matmul_selfatt_qk(mx.nd.ones((2, 3, 12))), "heads"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, _ = case
    check("_contrib_" + name, [a.astype(np.float64) for a in inputs], {"heads": H},
          rtol=1e-10, atol=1e-12)


@pytest.mark.cudasim
def test_cuda_kernels_equal_their_numpy_twins():
    from numba import cuda
    from mxteach.kernels.cuda import attention as C
    a5, kv5 = QKV.reshape(S, B, H, 3, D), KV.reshape(SK, B, H, 2, D)
    w = _x(B * H, S, SK, seed=5)
    out, g = cuda.to_device(np.full((B * H, S, SK), 0.5)), cuda.to_device(np.empty_like(kv5))
    C.scores(cuda.to_device(a5), 0, cuda.to_device(kv5), 1, 0.5, 2, out)
    C.mix(cuda.to_device(a5), 2, cuda.to_device(w), True, 0.5, 1, g, 0)
    want_out, want_g = np.full((B * H, S, SK), 0.5), np.empty_like(kv5)
    R.scores(a5, 0, kv5, 1, 0.5, 2, want_out)
    R.mix(a5, 2, w, True, 0.5, 1, want_g, 0)
    np.testing.assert_allclose(out.copy_to_host(), want_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.copy_to_host(), want_g, rtol=1e-12, atol=1e-12)
