"""The movement family (ops/movement.py, issue 17): numpy formulas, the gather/scatter kernels
against their numpy twins, finite differences, grad_req add, MXNet 1.9.1 parity of forward and
backward (one oracle call), CPU vs GPU under the simulator, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import movement as K
from mxteach.kernels.reference import movement as R
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle


def _x(*shape, seed=0, dtype=np.float64):
    return np.random.RandomState(seed).uniform(-2, 2, shape).astype(dtype)


def _diag1(x, k):
    return np.diag(x, k)


# name, inputs (data first; float64), params, numpy formula of the output
CASES = [
    ("tile", [_x(2, 3)], {"reps": (2, 1, 2)}, lambda x: np.tile(x, (2, 1, 2))),
    ("tile", [_x(2, 3)], {"reps": (3,)}, lambda x: np.tile(x, 3)),
    ("repeat", [_x(2, 3)], {"repeats": 2, "axis": 1}, lambda x: np.repeat(x, 2, 1)),
    ("repeat", [_x(2, 3)], {"repeats": 3}, lambda x: np.repeat(x.ravel(), 3)),
    ("reverse", [_x(2, 3, 4)], {"axis": (0, 2)}, lambda x: x[::-1, :, ::-1]),
    ("flip", [_x(3, 4)], {"axis": 1}, lambda x: x[:, ::-1]),
    ("slice", [_x(4, 5, 3)], {"begin": (1, None), "end": (3, -1)}, lambda x: x[1:3, :-1]),
    ("slice", [_x(4, 6)], {"begin": (None, 5), "end": (None, 0), "step": (2, -2)},
     lambda x: x[::2, 5:0:-2]),
    ("crop", [_x(3, 4)], {"begin": (0, 1), "end": (2, 3)}, lambda x: x[0:2, 1:3]),
    ("squeeze", [_x(2, 1, 3, 1)], {}, lambda x: x.reshape(2, 3)),
    ("squeeze", [_x(2, 1, 3, 1)], {"axis": (1,)}, lambda x: x.reshape(2, 3, 1)),
    ("depth_to_space", [_x(1, 8, 2, 3)], {"block_size": 2},
     lambda x: x.reshape(1, 2, 2, 2, 2, 3).transpose(0, 3, 4, 1, 5, 2).reshape(1, 2, 4, 6)),
    ("space_to_depth", [_x(1, 2, 4, 6)], {"block_size": 2},
     lambda x: x.reshape(1, 2, 2, 2, 3, 2).transpose(0, 3, 5, 1, 2, 4).reshape(1, 8, 2, 3)),
    ("diag", [_x(4, 4)], {"k": 1}, lambda x: np.diag(x, 1)),
    ("diag", [_x(3)], {"k": -1}, lambda x: np.diag(x, -1)),
    ("diag", [_x(2, 3, 4)], {"axis1": 1, "axis2": 2}, lambda x: np.diagonal(x, 0, 1, 2)),
    ("slice_like", [_x(3, 4, 5), _x(2, 3, 1)], {"axes": (0, 1)}, lambda x, y: x[:2, :3]),
    ("reshape_like", [_x(2, 3, 4), _x(6, 4)], {}, lambda x, y: x.reshape(6, 4)),
    ("broadcast_like", [_x(1, 3, 1), _x(4, 3, 2)], {}, lambda x, y: np.broadcast_to(x, (4, 3, 2))),
    ("broadcast_like", [_x(1, 3), _x(5, 2)], {"lhs_axes": (0,), "rhs_axes": (0,)},
     lambda x, y: np.broadcast_to(x, (5, 3))),
    ("Pad", [_x(2, 1, 3, 4)], {"mode": "constant", "pad_width": (0, 0, 0, 0, 1, 2, 0, 1),
                               "constant_value": 1.5},
     lambda x: np.pad(x, [(0, 0), (0, 0), (1, 2), (0, 1)], constant_values=1.5)),
    ("pad", [_x(1, 2, 3, 4)], {"mode": "edge", "pad_width": (0, 0, 0, 0, 2, 1, 1, 2)},
     lambda x: np.pad(x, [(0, 0), (0, 0), (2, 1), (1, 2)], mode="edge")),
    ("Pad", [_x(1, 1, 3, 4)], {"mode": "reflect", "pad_width": (0, 0, 0, 0, 2, 2, 1, 3)},
     lambda x: np.pad(x, [(0, 0), (0, 0), (2, 2), (1, 3)], mode="reflect")),
    ("SequenceReverse", [_x(4, 2, 3)], {}, lambda x: x[::-1]),
    ("SequenceReverse", [_x(4, 2, 3), np.array([2.0, 4.0])], {"use_sequence_length": True},
     lambda x, n: np.stack([np.concatenate([x[:2, 0][::-1], x[2:, 0]]), x[::-1, 1]], 1)),
    ("SequenceLast", [_x(4, 3, 2)], {}, lambda x: x[-1]),
    ("SequenceLast", [_x(4, 3, 2), np.array([1.0, 4.0, 2.0])], {"use_sequence_length": True},
     lambda x, n: x[[0, 3, 1], [0, 1, 2]]),
    ("SequenceLast", [_x(2, 4, 3), np.array([3.0, 1.0])],
     {"use_sequence_length": True, "axis": 1}, lambda x, n: x[[0, 1], [2, 0]]),
    ("pick", [_x(3, 4), np.array([1.0, 3.0, 0.0])], {}, lambda x, i: x[[0, 1, 2], [1, 3, 0]]),
    ("pick", [_x(3, 4), np.array([2.0, 9.0, -1.0, 0.0])], {"axis": 0, "keepdims": True},
     lambda x, i: x[[2, 2, 0, 0], [0, 1, 2, 3]][None, :]),
    ("pick", [_x(3, 4), np.array([-1.0, 5.0, 2.0])], {"mode": "wrap"},
     lambda x, i: x[[0, 1, 2], [3, 1, 2]]),
    ("gather_nd", [_x(3, 4, 2), np.array([[0.0, 2.0, 1.0], [1.0, 3.0, 0.0]])], {},
     lambda x, i: x[[0, 2, 1], [1, 3, 0]]),
    ("gather_nd", [_x(3, 4), np.array([[-1.0, 0.0], [2.0, -4.0]])], {},
     lambda x, i: x[[2, 0], [2, 0]]),
    ("batch_take", [_x(3, 4), np.array([1.0, 7.0, -2.0])], {}, lambda x, i: x[[0, 1, 2], [1, 3, 0]]),
]
IDS = [f"{k}-{c[0]}" for k, c in enumerate(CASES)]
# pure movements are linear in the data: every case's gradient is checked wrt input 0
DATA_ONLY = [0]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_equals_numpy(case):
    name, inputs, params, formula = case
    for dtype in (np.float32, np.float64):
        ins = [a.astype(dtype) for a in inputs]
        out, = run_op(name, ins, **params)[0]
        np.testing.assert_array_equal(out, formula(*ins).astype(dtype))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_finite_differences(case):
    name, inputs, params, _ = case
    check_op_gradient(name, inputs, params, wrt=DATA_ONLY, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("tile", "pick", "Pad")],
                         ids=lambda c: c[0])
def test_grad_req_add_and_index_grads_are_zero(case):
    name, inputs, params, _ = case
    _, once = run_op_backward(name, inputs, **params)
    init = [np.full_like(a, 0.25) for a in inputs]
    _, added = run_op_backward(name, inputs, reqs=["add"] * len(inputs), init_grads=init,
                               **params)
    np.testing.assert_allclose(added[0], once[0] + 0.25, rtol=1e-12)
    for g in once[1:]:
        np.testing.assert_array_equal(g, 0)


def test_cpu_kernels_equal_their_numpy_twins():
    rs = np.random.RandomState(3)
    src = rs.uniform(-1, 1, 50)
    index = rs.randint(-1, 50, 80).astype(np.int64)
    got, want = np.empty(80), np.empty(80)
    K.gather(src, index, 2.5, got)
    R.gather(src, index, 2.5, want)
    np.testing.assert_array_equal(got, want)
    g = rs.uniform(-1, 1, 80)
    for accumulate in (False, True):
        got, want = np.full(50, 0.5), np.full(50, 0.5)
        K.scatter_add(g, index, accumulate, got)
        R.scatter_add(g, index, accumulate, want)
        np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.oracle
def test_mxnet_parity_forward_and_backward():
    cases = [(name, [a.astype(np.float32) for a in inputs], params)
             for name, inputs, params, _ in CASES]
    heads = [np.random.RandomState(9).uniform(-1, 1, run_op(n, i, **p)[0][0].shape)
             .astype(np.float32) for n, i, p in cases]
    index_dtype = {"batch_take": "int32"}
    # MXNet 1.9.1 registers no gradient for batch_take, and its backward of SequenceLast
    # without sequence lengths and of gather_nd with negative indices crash the process: those
    # are compared forward only
    forward_only = [k for k, (name, ins, params) in enumerate(cases) if name == "batch_take"
                    or (name == "SequenceLast" and not params.get("use_sequence_length"))
                    or (name == "gather_nd" and (ins[1] < 0).any())]
    ref = run_oracle("""
for k, (name, inputs, params) in enumerate(cases):
    data = mx.nd.array(inputs[0])
    rest = [mx.nd.array(a, dtype=index_dtype.get(name, 'float32')) for a in inputs[1:]]
    if k in forward_only:
        out[k] = (getattr(mx.nd, name)(data, *rest, **params).asnumpy(), None)
        continue
    data.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, name)(data, *rest, **params)
    y.backward(mx.nd.array(heads[k]))
    out[k] = (y.asnumpy(), data.grad.asnumpy())
""", cases=cases, heads=heads, index_dtype=index_dtype, forward_only=forward_only)
    for k, (name, inputs, params) in enumerate(cases):
        (y,), grads = run_op_backward(name, inputs, out_grads=[heads[k]], **params)
        np.testing.assert_allclose(y, ref[k][0], rtol=1e-6, err_msg=IDS[k])
        if k not in forward_only:
            np.testing.assert_allclose(grads[0], ref[k][1], rtol=1e-5, atol=1e-6,
                                       err_msg=IDS[k])


def test_symbols_infer_shapes_and_types_and_round_trip_json():
    d, i = mx.sym.Variable("d"), mx.sym.Variable("i")
    y = mx.sym.pick(mx.sym.slice(d, begin=(None, 1), end=(None, 4)), i, axis=1)
    args, outs, _ = y.infer_shape(d=(3, 5))
    assert dict(zip(y.list_arguments(), args)) == {"d": (3, 5), "i": (3,)} and outs == [(3,)]
    again = mx.sym.load_json(y.tojson())
    assert again.infer_shape(d=(3, 5))[1] == [(3,)]
    _, out_types, _ = y.infer_type(d=np.float64)
    assert out_types == [np.float64]
    ex = y.simple_bind(mx.cpu(), d=(3, 5))
    x = _x(3, 5, dtype=np.float32)
    got = ex.forward(d=x, i=np.array([0, 2, 1], np.float32))[0].asnumpy()
    np.testing.assert_array_equal(got, x[[0, 1, 2], [1, 3, 2]])


@pytest.mark.parametrize("call, words", [
    (lambda: mx.nd.squeeze(mx.nd.ones((2, 3)), axis=1), "axis 1 has size 3"),
    (lambda: mx.nd.Pad(mx.nd.ones((2, 3)), mode="constant", pad_width=(0, 0, 1, 1)),
     "4-D and 5-D"),
    (lambda: mx.nd.Pad(mx.nd.ones((1, 1, 2, 2)), pad_width=(1, 0, 0, 0, 1, 1, 1, 1)),
     "cannot be padded"),
    (lambda: mx.nd.depth_to_space(mx.nd.ones((1, 3, 2, 2)), block_size=2), "multiple"),
    (lambda: mx.nd.slice(mx.nd.ones((3, 4)), begin=(0, 0, 0), end=(1, 1, 1)), "one entry"),
    (lambda: mx.nd.reshape_like(mx.nd.ones((2, 3)), mx.nd.ones((4, 2))), "sizes differ"),
    (lambda: mx.nd.broadcast_like(mx.nd.ones((2, 3)), mx.nd.ones((4, 3))), "cannot broadcast"),
    (lambda: mx.nd.gather_nd(mx.nd.ones((2, 3)), mx.nd.array([[2.0]])), "out of range"),
    (lambda: mx.nd.SequenceLast(mx.nd.ones((3, 2)), mx.nd.array([1.0, 4.0]),
                                use_sequence_length=True), "must lie in [1, 3]"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises(MXNetError) as err:
        call()
    assert words in str(err.value)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", [c for k, c in enumerate(CASES) if k % 3 == 0],
                         ids=[i for k, i in enumerate(IDS) if k % 3 == 0])
def test_gpu_equals_cpu(case):
    from cuda_compare import check
    name, inputs, params, _ = case
    check(name, [a.astype(np.float32) for a in inputs], params, grads=DATA_ONLY)
