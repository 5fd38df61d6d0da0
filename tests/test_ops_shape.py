"""Shape and indexing operators (ops/shape.py, ops/shape_index.py, kernels/cpu/shape.py) against
numpy references, central finite differences and real MXNet 1.9.1."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError
from mxteach.ops import registry
from mxteach.test_utils import run_op, run_op_backward, check_numeric_gradient
from mxteach.kernels.cpu import shape as K
from mxteach.kernels.reference import shape as KR

from oracle import run_oracle
from test_ops_loss import case, parity_cases, assert_parity, ours

RS = np.random.RandomState(11)


def f64(*shape):
    return RS.randn(*shape)


def f32(*shape):
    return RS.randn(*shape).astype(np.float32)


def infer(name, shapes, **params):
    op = registry.get(name)
    p = registry.parse_params(op, params)
    return op.infer_shape(p, shapes)


# -- kernels against their numpy twins --------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_indexing_kernels_match_reference(dtype):
    raw = np.array([0, 6, -1, 2.7, -2.5, 4, -0.5])
    for mode in (0, 1, 2):
        pos = [np.zeros(raw.size, np.int64) for _ in range(2)]
        bad = [mod.take_indices(raw, 5, mode, p) for mod, p in zip((K, KR), pos)]
        assert bad[0] == bad[1] == (1 if mode == 2 else -1)
        np.testing.assert_array_equal(pos[0], pos[1])
    a = RS.randn(2, 5, 3).astype(dtype)
    idx = np.array([4, 0, 0, 2], np.int64)
    g = RS.randn(2, 4, 3).astype(dtype)
    res = []
    for mod in (K, KR):
        out = np.zeros((2, 4, 3), dtype)
        mod.take_forward(a, idx, out)
        ga = np.ones_like(a)
        mod.take_backward(g, idx, True, ga)
        hot = np.zeros((7, 4), dtype)
        mod.one_hot_fill(raw, dtype(2), dtype(-1), hot)
        seq = np.full((4, 2, 3), 9.0, dtype)
        mod.sequence_mask(np.ones((4, 2, 3), dtype), np.array([2.5, 0.0]), -1.0, False, True,
                          seq)
        seq2 = np.zeros((2, 4, 3), dtype)
        mod.sequence_mask(RS.randn(2, 4, 3).astype(dtype) * 0 + 3, np.array([1, 4.0]), -1.0,
                          True, False, seq2)
        res.append((out, ga, hot, seq, seq2))
    for a_, b_ in zip(*res):
        np.testing.assert_allclose(a_, b_, rtol=1e-6)
    np.testing.assert_allclose(res[0][1][:, 0], 1 + g[:, 1] + g[:, 2], rtol=1e-6)  # repeats add


# -- Flatten, Reshape, expand_dims, transpose -----------------------------------------------------
def test_reshape_family_forward_reference():
    x = f64(2, 3, 4)
    np.testing.assert_array_equal(run_op("Flatten", [x])[0][0], x.reshape(2, 12))
    np.testing.assert_array_equal(run_op("flatten", [x[0, 0]])[0][0], x[0, 0].reshape(4, 1))
    for kw, shape in [(dict(shape=(0, -1)), (2, 12)), (dict(shape=(-3, -2)), (6, 4)),
                      (dict(shape=(-4, 1, 2, -2)), (1, 2, 3, 4)),
                      (dict(shape=(-1, 0), reverse=True), (6, 4)),
                      (dict(target_shape=(0, 4)), (6, 4)),
                      (dict(target_shape=(6, 0), keep_highest=True), (2, 12))]:
        out = run_op("Reshape", [x], **kw)[0][0]
        np.testing.assert_array_equal(out, x.reshape(shape), err_msg=str(kw))
    np.testing.assert_array_equal(run_op("expand_dims", [x], axis=-1)[0][0], x[..., None])
    np.testing.assert_array_equal(run_op("expand_dims", [x], axis=1)[0][0], x[:, None])
    np.testing.assert_array_equal(run_op("transpose", [x])[0][0], x.T)
    np.testing.assert_array_equal(run_op("transpose", [x], axes=(1, 2, 0))[0][0],
                                  x.transpose(1, 2, 0))


@pytest.mark.parametrize("name,params", [("Flatten", {}), ("Reshape", dict(shape=(-1, 2))),
                                         ("expand_dims", dict(axis=2)), ("transpose", {}),
                                         ("transpose", dict(axes=(2, 0, 1)))])
def test_reshape_family_numeric_gradient(name, params):
    check_numeric_gradient(name, [f64(2, 3, 2)], params)


def test_reshape_family_errors():
    with pytest.raises(ShapeError, match="Reshape"):
        infer("Reshape", [(2, 3)], shape=(4, -1))
    with pytest.raises(ShapeError, match="empty"):
        infer("Reshape", [(2, 3)])
    with pytest.raises(ShapeError, match="permutation"):
        infer("transpose", [(2, 3, 4)], axes=(0, 0, 1))
    with pytest.raises(ShapeError, match="permutation"):
        infer("transpose", [(2, 3, 4)], axes=(1, 0))
    with pytest.raises(ShapeError, match="axis 3"):
        infer("expand_dims", [(2, 3)], axis=3)
    with pytest.raises(ShapeError, match="scalar"):
        infer("Flatten", [()])
    with pytest.raises(MXNetError, match="axis"):
        run_op("expand_dims", [f32(2)])            # axis is required


# -- Concat, stack, SliceChannel, slice_axis --------------------------------------------------
def test_join_and_split_forward_reference():
    a, b = f64(2, 3), f64(2, 4)
    np.testing.assert_array_equal(run_op("Concat", [a, b], num_args=2)[0][0],
                                  np.concatenate([a, b], 1))
    np.testing.assert_array_equal(run_op("concat", [a, a, a], num_args=3, dim=0)[0][0],
                                  np.concatenate([a, a, a], 0))
    np.testing.assert_array_equal(run_op("stack", [a, a + 1], num_args=2, axis=-1)[0][0],
                                  np.stack([a, a + 1], -1))
    x = f64(2, 6, 3)
    outs = run_op("SliceChannel", [x], num_outputs=3)[0]
    for o, piece in zip(outs, np.split(x, 3, axis=1)):
        np.testing.assert_array_equal(o, piece)
    outs = run_op("split", [x], num_outputs=3, axis=-1, squeeze_axis=True)[0]
    for i, o in enumerate(outs):
        np.testing.assert_array_equal(o, x[:, :, i])
    for begin, end, sl in [(1, None, slice(1, 6)), (-2, None, slice(4, 6)),
                           (0, -1, slice(0, 5)), (-3, -1, slice(3, 5))]:
        out = run_op("slice_axis", [x], axis=1, begin=begin, end=end)[0][0]
        np.testing.assert_array_equal(out, x[:, sl])


def test_join_and_split_numeric_gradient():
    a, b = f64(2, 3), f64(2, 2)
    check_numeric_gradient("Concat", [a, b], dict(num_args=2, dim=-1))
    check_numeric_gradient("stack", [a, a * 2, a - 1], dict(num_args=3, axis=1))
    check_numeric_gradient("SliceChannel", [f64(2, 4)], dict(num_outputs=2))
    check_numeric_gradient("SliceChannel", [f64(3, 2)], dict(num_outputs=3, axis=0,
                                                             squeeze_axis=True))
    check_numeric_gradient("slice_axis", [f64(3, 4)], dict(axis=-1, begin=1, end=None))


def test_join_and_split_grad_req_add():
    a, b = f64(2, 3), f64(2, 2)
    g = f64(2, 5)
    _, grads = run_op_backward("Concat", [a, b], out_grads=[g], reqs=["add", "write"],
                               init_grads=[np.ones((2, 3)), np.ones((2, 2))], num_args=2)
    np.testing.assert_allclose(grads[0], 1 + g[:, :3])
    np.testing.assert_allclose(grads[1], g[:, 3:])
    x = f64(2, 4)
    gs = [f64(2, 2), f64(2, 2)]
    _, (gx,) = run_op_backward("split", [x], out_grads=gs, reqs=["add"],
                               init_grads=[np.ones((2, 4))], num_outputs=2)
    np.testing.assert_allclose(gx, 1 + np.concatenate(gs, 1))
    _, (gx,) = run_op_backward("slice_axis", [x], out_grads=[gs[0]], reqs=["add"],
                               init_grads=[np.ones((2, 4))], axis=1, begin=1, end=3)
    np.testing.assert_allclose(gx, 1 + np.pad(gs[0], ((0, 0), (1, 1))))
    _, (gx,) = run_op_backward("slice_axis", [x], out_grads=[gs[0]],
                               init_grads=[np.ones((2, 4))], axis=1, begin=1, end=3)
    np.testing.assert_allclose(gx, np.pad(gs[0], ((0, 0), (1, 1))))


def test_join_and_split_errors():
    with pytest.raises(ShapeError, match="arg1"):
        infer("Concat", [(2, 3), (3, 4)], num_args=2, dim=1)
    with pytest.raises(ShapeError, match="axis 2"):
        infer("Concat", [(2, 3), (2, 4)], num_args=2, dim=2)
    assert infer("Concat", [(2, 3), None], num_args=2) == ([(2, 3), None], [None])
    with pytest.raises(ShapeError, match="equal shapes"):
        infer("stack", [(2, 3), (2, 4)], num_args=2)
    assert infer("stack", [(2, 3), None], num_args=2) == ([(2, 3), (2, 3)], [(2, 2, 3)])
    with pytest.raises(ShapeError, match="equal parts"):
        infer("SliceChannel", [(2, 6)], num_outputs=4)
    with pytest.raises(ShapeError, match="squeeze_axis"):
        infer("SliceChannel", [(2, 3, 4)], num_outputs=2, axis=2, squeeze_axis=True)
    with pytest.raises(ShapeError, match="at least 1"):
        infer("SliceChannel", [(2, 3)], num_outputs=0)
    for begin, end in [(2, 2), (3, 1), (0, 5), (-5, 2)]:
        with pytest.raises(ShapeError, match="slice_axis"):
            infer("slice_axis", [(2, 4)], axis=1, begin=begin, end=end)
    with pytest.raises(MXNetError, match="end"):
        run_op("slice_axis", [f32(2, 4)], axis=1, begin=0)       # end is required


# -- take, where, one_hot, SequenceMask ----------------------------------------------------------
def test_take_forward_reference():
    a = np.arange(15.0).reshape(5, 3)
    idx = np.array([[0, 6, -1], [2.7, -2.5, 4]])
    out = run_op("take", [a, idx])[0][0]
    np.testing.assert_array_equal(out, a[np.clip(np.trunc(idx).astype(int), 0, 4)])
    out = run_op("take", [a, idx], mode="wrap")[0][0]
    np.testing.assert_array_equal(out, a[np.mod(np.trunc(idx).astype(int), 5)])
    out = run_op("take", [a, np.array([2, 0])], axis=-1)[0][0]
    np.testing.assert_array_equal(out, a[:, [2, 0]])
    with pytest.raises(MXNetError, match="out of range"):
        run_op("take", [a, idx], mode="raise")
    np.testing.assert_array_equal(run_op("take", [a, np.array([4, 0])], mode="raise")[0][0],
                                  a[[4, 0]])


def test_take_gradient():
    idx = np.array([[1, 1], [3, 0]], np.float64)
    g = check_numeric_gradient("take", [f64(4, 3), idx], dict(axis=0), wrt=[0])
    np.testing.assert_array_equal(g[1], 0)
    check_numeric_gradient("take", [f64(2, 4, 2), np.array([3, -1, 3.0])],
                           dict(axis=1, mode="wrap"), wrt=[0])
    go = f64(2, 2, 3)
    _, (ga, gi) = run_op_backward("take", [f64(4, 3), idx], out_grads=[go],
                                  reqs=["add", "write"],
                                  init_grads=[np.ones((4, 3)), np.ones((2, 2))])
    np.testing.assert_allclose(ga[1], 1 + go[0, 0] + go[0, 1])
    np.testing.assert_allclose(ga[2], 1)
    np.testing.assert_array_equal(gi, 0)


def test_where_forward_gradient_and_add():
    cond = np.array([[1, 0, 2], [0, -1, 0.5]])
    x, y = f64(2, 3), f64(2, 3)
    np.testing.assert_array_equal(run_op("where", [cond, x, y])[0][0], np.where(cond, x, y))
    row = np.array([0.0, 1.0])
    np.testing.assert_array_equal(run_op("where", [row, x, y])[0][0],
                                  np.where(row[:, None] != 0, x, y))
    check_numeric_gradient("where", [cond, x, y], wrt=[1, 2])
    check_numeric_gradient("where", [row, x, y], wrt=[1, 2])
    g = f64(2, 3)
    _, (gc, gx, gy) = run_op_backward("where", [cond, x, y], out_grads=[g],
                                      reqs=["write", "add", "add"],
                                      init_grads=[np.ones((2, 3))] * 3)
    np.testing.assert_array_equal(gc, 0)
    np.testing.assert_allclose(gx, 1 + np.where(cond != 0, g, 0))
    np.testing.assert_allclose(gy, 1 + np.where(cond != 0, 0, g))
    with pytest.raises(ShapeError, match="condition"):
        infer("where", [(3,), (2, 3), None])
    with pytest.raises(ShapeError, match="'y'"):
        infer("where", [None, (2, 3), (3, 2)])


def test_one_hot_forward_and_no_gradient():
    idx = np.array([[0, 3, 4], [-1, 1.7, -0.5]])
    out = run_op("one_hot", [idx], depth=4, on_value=5, off_value=-1, dtype="int32")[0][0]
    want = np.full((2, 3, 4), -1, np.int32)
    want[0, 0, 0] = want[0, 1, 3] = want[1, 1, 1] = want[1, 2, 0] = 5
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, want)
    _, (g,) = run_op_backward("one_hot", [idx], init_grads=[np.ones((2, 3))], depth=4)
    np.testing.assert_array_equal(g, 0)
    with pytest.raises(ShapeError, match="depth"):
        infer("one_hot", [(2,)], depth=-1)
    with pytest.raises(MXNetError, match="dtype"):
        run_op("one_hot", [idx], depth=4, dtype="complex64")


@pytest.mark.parametrize("axis", [0, 1])
def test_sequence_mask_forward_and_gradient(axis):
    x = f64(4, 2, 3) if axis == 0 else f64(2, 4, 3)
    lengths = np.array([1.0, 3.5])
    want = x.copy()
    for b, n in enumerate([1, 3]):
        if axis == 0:
            want[n:, b] = -7
        else:
            want[b, n:] = -7
    out = run_op("SequenceMask", [x, lengths], use_sequence_length=True, value=-7,
                 axis=axis)[0][0]
    np.testing.assert_array_equal(out, want)
    g = check_numeric_gradient("SequenceMask", [x, lengths],
                               dict(use_sequence_length=True, axis=axis), wrt=[0])
    np.testing.assert_array_equal(g[1], 0)          # lengths: buffer left alone
    go = f64(*x.shape)
    _, (gx, gl) = run_op_backward("SequenceMask", [x, lengths], out_grads=[go],
                                  reqs=["add", "add"],
                                  init_grads=[np.ones(x.shape), np.full(2, 4.0)],
                                  use_sequence_length=True, axis=axis)
    np.testing.assert_allclose(gx, 1 + np.where(want == -7, 0, go))
    np.testing.assert_array_equal(gl, 4.0)


def test_sequence_mask_without_lengths_and_errors():
    x = f64(3, 2)
    np.testing.assert_array_equal(run_op("SequenceMask", [x], value=5.0)[0][0], x)
    check_numeric_gradient("SequenceMask", [x])
    p = registry.parse_params(registry.get("SequenceMask"), {})
    assert registry.get("SequenceMask").list_arguments(p) == ["data"]
    with pytest.raises(MXNetError, match="axis"):
        infer("SequenceMask", [(3, 2)], axis=2)
    with pytest.raises(ShapeError, match="sequence_length"):
        infer("SequenceMask", [(5, 2, 3), (5,)], use_sequence_length=True)


# -- zeros_like, ones_like, argmax, Cast -------------------------------------------------------
def test_like_argmax_cast_forward_reference():
    x = np.array([[1, 3, 3], [2, np.nan, 0.5], [4, 1, 0]])
    np.testing.assert_array_equal(run_op("zeros_like", [x])[0][0], np.zeros((3, 3)))
    np.testing.assert_array_equal(run_op("ones_like", [x])[0][0], np.ones((3, 3)))
    np.testing.assert_array_equal(run_op("argmax", [x], axis=1)[0][0], [1, 1, 0])
    np.testing.assert_array_equal(run_op("argmax", [x], axis=0, keepdims=True)[0][0],
                                  [[2, 1, 0]])        # a NaN wins, as in MXNet
    y = np.array([[1, 3.0], [7, 2]], np.float32)
    out = run_op("argmax", [y])[0][0]
    assert out.dtype == np.float32 and out.tolist() == [2.0]
    assert run_op("argmax", [y], keepdims=True)[0][0].shape == (1, 1)
    out = run_op("Cast", [np.array([1.7, -2.7])], dtype="int32")[0][0]
    assert out.dtype == np.int32 and out.tolist() == [1, -2]
    assert run_op("cast", [y], dtype="float16")[0][0].dtype == np.float16


def test_like_argmax_cast_gradients():
    x = f64(2, 3)
    for name, params in [("zeros_like", {}), ("ones_like", {}), ("argmax", dict(axis=1)),
                         ("Cast", dict(dtype="float64"))]:
        check_numeric_gradient(name, [x], params)
    go = np.array([1.5, 2.5], np.float32)
    _, (g,) = run_op_backward("Cast", [np.array([1.0, 2.0])], out_grads=[go], reqs=["add"],
                              init_grads=[np.ones(2)], dtype="float32")
    assert g.dtype == np.float64 and g.tolist() == [2.5, 3.5]
    _, (g,) = run_op_backward("ones_like", [x], reqs=["add"], init_grads=[np.ones((2, 3))])
    np.testing.assert_array_equal(g, 1)
    with pytest.raises(ShapeError, match="axis 2"):
        infer("argmax", [(2, 3)], axis=2)
    with pytest.raises(MXNetError, match="dtype"):
        run_op("Cast", [x])
    op = registry.get("Cast")
    assert op.types(registry.parse_params(op, dict(dtype="int8")), ["float32"]) == (
        ["float32"], ["int8"])


def test_names_outputs_and_aliases():
    for alias, name in [("flatten", "Flatten"), ("reshape", "Reshape"), ("concat", "Concat"),
                        ("split", "SliceChannel"), ("cast", "Cast"),
                        ("stop_gradient", "BlockGrad")]:
        assert registry.get(alias) is registry.get(name)
    op = registry.get("Concat")
    assert op.list_arguments(registry.parse_params(op, dict(num_args=3))) == [
        "arg0", "arg1", "arg2"]
    op = registry.get("SliceChannel")
    assert op.list_outputs(registry.parse_params(op, dict(num_outputs=2))) == [
        "output0", "output1"]
    x = mx.sym.Variable("x")
    assert mx.sym.split(x, num_outputs=3, name="sp").list_outputs() == [
        "sp_output0", "sp_output1", "sp_output2"]
    assert mx.sym.take(name="tk").list_arguments() == ["tk_a", "tk_indices"]


# -- parity with MXNet 1.9.1 -------------------------------------------------------------------
def _shape_cases():
    x = f32(2, 6, 3)
    a, b = f32(2, 3), f32(2, 4)
    A = f32(5, 3)
    idx = np.array([[0, 6, -1], [2.7, -2.5, 1]], np.float32)
    cond = np.array([[1, 0, 2], [0, -1, 0.5]], np.float32)
    seq = f32(4, 2, 3)
    lens = np.array([1, 2.5], np.float32)
    g = lambda *s: [f32(*s)]        # noqa: E731
    return [
        case("flatten", "Flatten", [("data", x)], ograds=g(2, 18)),
        case("reshape", "Reshape", [("data", x)], dict(shape=(-1, 0), reverse=True),
             ograds=g(12, 3), req="add"),
        case("reshape_codes", "reshape", [("data", x)], dict(shape=(0, -4, 2, -1, -2)),
             ograds=g(2, 2, 3, 3)),
        case("transpose", "transpose", [("data", x)], dict(axes=(1, 2, 0)), ograds=g(6, 3, 2)),
        case("expand_dims", "expand_dims", [("data", a)], dict(axis=-3), ograds=g(1, 2, 3)),
        case("concat", "Concat", [("arg0", a), ("arg1", b), ("arg2", a)], dict(dim=-1),
             ograds=g(2, 10), req={"arg0": "add", "arg1": "write", "arg2": "add"}),
        case("stack", "stack", [("arg0", a), ("arg1", a * 2)], dict(axis=2), ograds=g(2, 3, 2),
             req="add"),
        case("split", "SliceChannel", [("data", x)], dict(num_outputs=3),
             ograds=[f32(2, 2, 3) for _ in range(3)], req="add"),
        case("split_sq", "split", [("data", x)], dict(num_outputs=3, axis=-1,
                                                      squeeze_axis=True),
             ograds=[f32(2, 6) for _ in range(3)]),
        case("slice_axis", "slice_axis", [("data", x)], dict(axis=1, begin=-4, end=None),
             ograds=g(2, 4, 3), req="add"),
        case("slice_axis2", "slice_axis", [("data", x)], dict(axis=-1, begin=0, end=-1),
             ograds=g(2, 6, 2)),
        case("take_clip", "take", [("a", A), ("indices", idx)], ograds=g(2, 3, 3)),
        case("take_wrap", "take", [("a", A), ("indices", idx)], dict(mode="wrap"),
             ograds=g(2, 3, 3), req={"a": "add", "indices": "null"}),
        case("take_ax1", "take", [("a", A), ("indices", np.array([2, -1, 0], np.float32))],
             dict(axis=1, mode="wrap"), ograds=g(5, 3)),
        case("where", "where", [("condition", cond), ("x", a), ("y", -a)], ograds=g(2, 3),
             req={"condition": "write", "x": "add", "y": "write"}),
        case("where_row", "where", [("condition", np.array([0, 1], np.float32)), ("x", a),
                                    ("y", -a)], ograds=g(2, 3)),
        case("one_hot", "one_hot", [("indices", idx)], dict(depth=4, on_value=3,
                                                            off_value=-1, dtype="float64"),
             ograds=[np.ones((2, 3, 4))]),
        case("one_hot_int", "one_hot", [("indices", idx)], dict(depth=5, dtype="int32"),
             ograds=[np.ones((2, 3, 5), np.int32)]),
        case("seqmask", "SequenceMask", [("data", seq), ("sequence_length", lens)],
             dict(use_sequence_length=True, value=-9.0), ograds=g(4, 2, 3)),
        case("seqmask_ax1", "SequenceMask",
             [("data", seq.transpose(1, 0, 2).copy()), ("sequence_length", lens)],
             dict(use_sequence_length=True, axis=1), ograds=g(2, 4, 3), req="add"),
        case("seqmask_nolen", "SequenceMask", [("data", seq)], ograds=g(4, 2, 3)),
        case("zeros_like", "zeros_like", [("data", a)], ograds=g(2, 3)),
        case("ones_like", "ones_like", [("data", a)], ograds=g(2, 3), req="add"),
        case("argmax", "argmax", [("data", np.array([[1, 3, 3], [2, 1, 5]], np.float32))],
             dict(axis=1), ograds=g(2)),
        case("argmax_none", "argmax", [("data", a.astype(np.float64))],
             dict(keepdims=True), ograds=[np.ones((1, 1))]),
        case("cast", "Cast", [("data", np.array([1.7, -2.7, 3.2], np.float32))],
             dict(dtype="int32"), ograds=[np.array([1, 2, 3], np.int32)]),
        case("cast16", "cast", [("data", a.astype(np.float64))], dict(dtype="float16"),
             ograds=[f32(2, 3).astype(np.float16)], req="add"),
    ]


CASES = {c["cid"]: c for c in _shape_cases()}


@pytest.fixture(scope="module")
def oracle_res():
    return parity_cases(list(CASES.values()))


@pytest.mark.oracle
@pytest.mark.parametrize("cid", list(CASES))
def test_parity_with_mxnet(oracle_res, cid):
    assert_parity(CASES[cid], oracle_res[cid], rtol=1e-3 if cid == "cast16" else 1e-5)


@pytest.mark.oracle
def test_names_match_mxnet():
    code = """
x, y, z = mx.sym.Variable('x'), mx.sym.Variable('y'), mx.sym.Variable('z')
syms = [mx.sym.Flatten(x), mx.sym.flatten(x), mx.sym.Reshape(x, shape=(2,)),
        mx.sym.transpose(x), mx.sym.expand_dims(x, axis=0), mx.sym.Concat(x, y),
        mx.sym.concat(x, y), mx.sym.SliceChannel(x, num_outputs=2),
        mx.sym.split(x, num_outputs=1), mx.sym.stack(x, y),
        mx.sym.slice_axis(x, axis=0, begin=0, end=1), mx.sym.take(x, y), mx.sym.where(x, y, z),
        mx.sym.one_hot(x, depth=3), mx.sym.SequenceMask(x), mx.sym.zeros_like(x),
        mx.sym.ones_like(x), mx.sym.argmax(x), mx.sym.Cast(x, dtype='int32'),
        mx.sym.cast(x, dtype='int32')]
out['names'] = [(s.name, s.list_arguments(), s.list_outputs()) for s in syms]
out['auto'] = [mx.sym.SequenceMask(use_sequence_length=True, name='sm').list_arguments(),
               mx.sym.where(name='w').list_arguments(),
               mx.sym.one_hot(depth=2, name='o').list_arguments()]
"""
    want = run_oracle(code)
    x, y, z = mx.sym.Variable("x"), mx.sym.Variable("y"), mx.sym.Variable("z")
    with mx.name.NameManager():
        syms = [mx.sym.Flatten(x), mx.sym.flatten(x), mx.sym.Reshape(x, shape=(2,)),
                mx.sym.transpose(x), mx.sym.expand_dims(x, axis=0), mx.sym.Concat(x, y),
                mx.sym.concat(x, y), mx.sym.SliceChannel(x, num_outputs=2),
                mx.sym.split(x, num_outputs=1), mx.sym.stack(x, y),
                mx.sym.slice_axis(x, axis=0, begin=0, end=1), mx.sym.take(x, y),
                mx.sym.where(x, y, z), mx.sym.one_hot(x, depth=3), mx.sym.SequenceMask(x),
                mx.sym.zeros_like(x), mx.sym.ones_like(x), mx.sym.argmax(x),
                mx.sym.Cast(x, dtype="int32"), mx.sym.cast(x, dtype="int32")]
        got = [(s.name, list(s.list_arguments()), list(s.list_outputs())) for s in syms]
    for (name, args, outs), (mx_name, mx_args, mx_outs) in zip(got, want["names"]):
        assert (args, outs) == (list(mx_args), list(mx_outs))
        if len(outs) == 1:        # a multi-output Symbol's .name is the symbol layer's business
            assert name == mx_name
    auto = [mx.sym.SequenceMask(use_sequence_length=True, name="sm").list_arguments(),
            mx.sym.where(name="w").list_arguments(), mx.sym.one_hot(depth=2, name="o")
            .list_arguments()]
    assert [list(a) for a in auto] == [list(a) for a in want["auto"]]
