"""CTCLoss / ctc_loss (ops/nn_extra_ctc.py, issue 17): the loss against a brute-force sum over
every alignment, the CPU kernel against its independent numpy twin, finite differences,
grad_req add, MXNet 1.9.1 parity of forward and backward (one oracle call), CPU vs GPU under the
simulator, and the errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import nn_extra_ctc as K
from mxteach.kernels.reference import nn_extra_ctc as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0):
    return np.random.RandomState(seed).uniform(-1.5, 1.5, shape)


def _collapse(path, blank):
    out = []
    for k, c in enumerate(path):
        if c != blank and (k == 0 or c != path[k - 1]):
            out.append(c)
    return out


def _brute_force(x, label, blank):
    """-log of the summed probability of every path of length T that collapses to label."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    total = 0.0
    for path in itertools.product(range(x.shape[1]), repeat=x.shape[0]):
        if _collapse(path, blank) == list(label):
            total += np.prod(y[np.arange(x.shape[0]), path])
    return -np.log(total)


LABELS = np.array([[1.0, 2.0, 2.0], [3.0, 0.0, 0.0], [2.0, 1.0, 0.0]])
# inputs, params, (label rows, data lengths) the loss formula sees, blank
CASES = [
    ([_x(5, 3, 4), LABELS], {}, ([[1, 2, 2], [3], [2, 1]], [5, 5, 5]), 0),
    ([_x(5, 3, 4, seed=1), LABELS, np.array([5.0, 3.0, 4.0])], {"use_data_lengths": True},
     ([[1, 2, 2], [3], [2, 1]], [5, 3, 4]), 0),
    ([_x(5, 3, 4, seed=2), LABELS - 1, np.array([1.0, 1.0, 2.0])],
     {"use_label_lengths": True, "blank_label": "last"},
     ([[0], [2], [1, 0]], [5, 5, 5]), 3),
    ([_x(4, 2, 3, seed=3), np.array([[1.0, 1.0], [2.0, -1.0]]), np.array([4.0, 2.0]),
      np.array([2.0, 1.0])], {"use_data_lengths": True, "use_label_lengths": True},
     ([[1, 1], [2]], [4, 2]), 0),
]
IDS = [f"case{k}" for k in range(len(CASES))]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_loss_equals_the_sum_over_all_alignments(case):
    inputs, params, (rows, lengths), blank = case
    want = [_brute_force(inputs[0][:t, n], row, blank)
            for n, (row, t) in enumerate(zip(rows, lengths))]
    for dtype, tol in ((np.float32, 2e-5), (np.float64, 1e-10)):
        out = run_op("CTCLoss", [a.astype(dtype) for a in inputs], **params)[0][0]
        assert out.dtype == dtype
        np.testing.assert_allclose(out, want, rtol=tol)


def test_an_impossible_alignment_is_an_infinite_loss_with_zero_gradient():
    x, label = _x(2, 1, 3), np.array([[1.0, 1.0]])     # "1 1" needs 3 steps (1, blank, 1)
    (loss,), (dx, _) = run_op_backward("CTCLoss", [x, label], reqs=["write", "null"],
                                       out_grads=[np.ones(1)])
    assert np.isinf(loss[0]) and not dx.any()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    inputs, params, _, _ = case
    check_op_gradient("CTCLoss", inputs, params, wrt=[0], rtol=1e-5, atol=1e-8)


def test_grad_req_add_and_zero_label_gradients():
    inputs, params, _, _ = CASES[1]
    _, once = run_op_backward("CTCLoss", inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward("CTCLoss", inputs, reqs=["add"] * 3, init_grads=init, **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12)
    for g in once[1:]:
        np.testing.assert_array_equal(g, 0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cpu_kernel_equals_its_numpy_twin(case):
    inputs, params, _, blank = case
    x, labels = inputs[0], inputs[1]
    t, n, c = x.shape
    extra = iter(inputs[2:])
    data_lens = next(extra) if params.get("use_data_lengths") else np.zeros(n)
    label_lens = next(extra) if params.get("use_label_lengths") else np.zeros(n)
    pad = 0 if blank == 0 else -1
    s = 2 * labels.shape[1] + 1
    results = []
    for mod in (K, R):
        loss, grad = np.empty(n), np.empty((t, n, c))
        mod.ctc_loss(x, labels, label_lens, bool(params.get("use_label_lengths")), data_lens,
                     bool(params.get("use_data_lengths")), blank, pad, loss, grad,
                     np.empty((n, t, s)), np.empty((n, t, s)))
        results.append((loss, grad))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [([a.astype(np.float32) for a in inputs], params) for inputs, params, _, _ in CASES]
    heads = [np.random.RandomState(k).uniform(0.5, 1.5, i[0].shape[1]).astype(np.float32)
             for k, (i, _) in enumerate(cases)]
    ref = run_oracle("""
for k, (inputs, params) in enumerate(cases):
    args = [mx.nd.array(a) for a in inputs]
    args[0].attach_grad()
    with mx.autograd.record():
        y = mx.nd.CTCLoss(*args, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), args[0].grad.asnumpy())
""", cases=cases, heads=heads)
    for k, (inputs, params) in enumerate(cases):
        reqs = ["write"] + ["null"] * (len(inputs) - 1)
        (y,), grads = run_op_backward("ctc_loss", inputs, out_grads=[heads[k]], reqs=reqs,
                                      **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-4, err_msg=IDS[k])
        np.testing.assert_allclose(grads[0], ref[k][1], rtol=1e-4, atol=1e-5, err_msg=IDS[k])


def test_names_and_the_contrib_aliases():
    s = mx.sym.CTCLoss(mx.sym.Variable("d"), mx.sym.Variable("l"), use_label_lengths=True,
                       name="ctc")
    assert s.list_arguments() == ["d", "l", "ctc_label_lengths"]
    assert s.list_outputs() == ["ctc_output0"]
    assert s.infer_shape(d=(6, 2, 5), l=(2, 3))[1] == [(2,)]
    x, label = _x(5, 3, 4).astype(np.float32), LABELS.astype(np.float32)
    want = run_op("CTCLoss", [x, label])[0][0]
    for fn in (mx.nd.ctc_loss, mx.nd.contrib.CTCLoss, mx.nd.contrib.ctc_loss):
        np.testing.assert_allclose(fn(mx.nd.array(x), mx.nd.array(label)).asnumpy(), want)


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.CTCLoss(mx.nd.ones((4, 2)), mx.nd.ones((2, 2))), "it needs 3-D"),
    (lambda: mx.nd.CTCLoss(mx.nd.ones((4, 2, 3)), mx.nd.ones((3, 2))), "'label' has shape"),
    (lambda: mx.nd.CTCLoss(mx.nd.ones((4, 2, 3)), mx.nd.array([[1, 5], [1, 2]])),
     "label value 5 is outside [0, 3)"),
    (lambda: mx.nd.CTCLoss(mx.nd.ones((4, 2, 3)), mx.nd.ones((2, 2)), mx.nd.array([0, 4]),
                           use_data_lengths=True), "must lie in [1, 4]"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    inputs, params, _, _ = case
    check("CTCLoss", [a.astype(np.float32) for a in inputs], params, grads=[0])


@pytest.mark.cudasim
def test_cuda_kernel_equals_its_numpy_twin():
    from numba import cuda
    from mxteach.kernels.cuda import nn_extra_ctc as C
    inputs, params, _, blank = CASES[3]
    x, labels, data_lens, label_lens = inputs
    t, n, c = x.shape
    s = 2 * labels.shape[1] + 1
    dev = cuda.to_device
    loss, grad = dev(np.empty(n)), dev(np.empty((t, n, c)))
    C.ctc_loss(dev(x), dev(labels), dev(label_lens), True, dev(data_lens), True, blank, 0, loss,
               grad, dev(np.empty((n, t, s))), dev(np.empty((n, t, s))), dev(np.empty((n, c))))
    want_loss, want_grad = np.empty(n), np.empty((t, n, c))
    R.ctc_loss(x, labels, label_lens, True, data_lens, True, blank, 0, want_loss, want_grad,
               None, None)
    np.testing.assert_allclose(loss.copy_to_host(), want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad.copy_to_host(), want_grad, rtol=1e-10, atol=1e-12)
