"""Reductions, dot/batch_dot and explicit broadcasts (ops/reduce.py) against numpy references,
central finite differences and real MXNet 1.9.1."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mxteach as mx
from mxteach.base import MXNetError, ShapeError
from mxteach.ops import registry
from mxteach.test_utils import run_op, run_op_backward, check_numeric_gradient

from oracle import run_oracle


def rand(shape, seed, dtype=np.float64, lo=-2, hi=2):
    return np.random.RandomState(seed).uniform(lo, hi, shape).astype(dtype)


def np_axes(shape, axis, exclude):
    nd = len(shape)
    if axis is None or axis == ():
        return tuple(range(nd))
    axes = {a % nd for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(sorted(set(range(nd)) - axes if exclude else axes))


def np_reduce(fn, x, axis=None, keepdims=False, exclude=False):
    out = fn(x, axis=np_axes(x.shape, axis, exclude), keepdims=keepdims)
    return np.asarray(out).reshape(np.shape(out) or (1,))


REDUCE_REF = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
AXES = [dict(), dict(axis=()), dict(axis=1), dict(axis=-1), dict(axis=(0, 2)),
        dict(axis=(2, 0), keepdims=True), dict(keepdims=True), dict(axis=1, exclude=True),
        dict(axis=(0, 2), exclude=True, keepdims=True), dict(axis=(0, 1, 2), exclude=True)]


def np_dot(a, b, transpose_a=False, transpose_b=False):
    axes = ([0] if transpose_a else [-1], [-1] if transpose_b else [0])
    out = np.tensordot(a, b, axes=axes)
    return out.reshape(out.shape or (1,))


def np_batch_dot(a, b, transpose_a=False, transpose_b=False):
    return np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a,
                     np.swapaxes(b, -1, -2) if transpose_b else b)


# (lhs shape, rhs shape, transpose_a, transpose_b)
DOT_SHAPES = [((2, 3), (3, 4), False, False), ((3, 2), (3, 4), True, False),
              ((2, 3), (4, 3), False, True), ((3, 2), (4, 3), True, True),
              ((2, 3, 4), (4, 5), False, False), ((2, 3, 4), (2, 5), True, False),
              ((2, 3), (4, 5, 3), False, True), ((2, 3), (3, 4, 2), False, False),
              ((3,), (3,), False, False), ((3,), (3, 4), False, False),
              ((4, 3), (3,), False, False), ((3,), (3, 4), True, False)]
BATCH_SHAPES = [((2, 3, 4), (2, 4, 5), False, False), ((2, 4, 3), (2, 4, 5), True, False),
                ((2, 3, 4), (2, 5, 4), False, True), ((2, 4, 3), (2, 5, 4), True, True),
                ((2, 2, 3, 4), (2, 2, 4, 1), False, False)]


def _dot_id(c):
    return f"{c[0]}x{c[1]}-{'T' if c[2] else 'N'}{'T' if c[3] else 'N'}"


# -- (a) forward against numpy ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", AXES, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCE_REF))
def test_reduce_forward_matches_numpy(name, kw, dtype):
    x = rand((2, 3, 4), 1, dtype)
    out = run_op(name, [x], **kw)[0][0]
    want = np_reduce(REDUCE_REF[name], x, **kw)
    assert out.shape == want.shape and out.dtype == dtype
    np.testing.assert_allclose(out, want, rtol=2e-6)


def test_aliases_and_integer_mean():
    for alias, name in [("sum_axis", "sum"), ("max_axis", "max"), ("min_axis", "min"),
                        ("broadcast_axes", "broadcast_axis")]:
        assert registry.get(alias) is registry.get(name)
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = run_op("mean", [x], axis=1)[0][0]
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [1, 4])            # truncated, as MXNet
    np.testing.assert_allclose(mx.nd.sum_axis(mx.nd.ones((2, 3)), axis=1).asnumpy(), [3, 3])


@pytest.mark.parametrize("kw", [dict(), dict(ord=1), dict(axis=1), dict(axis=(1, 2)),
                                dict(axis=-1, keepdims=True), dict(ord=1, axis=(0, 2))],
                         ids=str)
def test_norm_forward_matches_numpy(kw):
    x = rand((2, 3, 4), 2, np.float32)
    out = run_op("norm", [x], **kw)[0][0]
    ax = np_axes(x.shape, kw.get("axis"), False)
    want = (np.sum(np.abs(x), axis=ax, keepdims=kw.get("keepdims", False)) if kw.get("ord") == 1
            else np.sqrt(np.sum(x * x, axis=ax, keepdims=kw.get("keepdims", False))))
    np.testing.assert_allclose(out, np.reshape(want, np.shape(want) or (1,)), rtol=1e-6)
    assert run_op("norm", [x], out_dtype="float64")[0][0].dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", DOT_SHAPES, ids=_dot_id)
def test_dot_forward_matches_numpy(case, dtype):
    ls, rs, ta, tb = case
    a, b = rand(ls, 3, dtype), rand(rs, 4, dtype)
    out = run_op("dot", [a, b], transpose_a=ta, transpose_b=tb)[0][0]
    want = np_dot(a, b, ta, tb)
    assert out.shape == want.shape and out.dtype == dtype
    np.testing.assert_allclose(out, want, rtol=1e-5)


@pytest.mark.parametrize("case", BATCH_SHAPES, ids=_dot_id)
def test_batch_dot_forward_matches_numpy(case):
    ls, rs, ta, tb = case
    a, b = rand(ls, 5, np.float32), rand(rs, 6, np.float32)
    out = run_op("batch_dot", [a, b], transpose_a=ta, transpose_b=tb)[0][0]
    np.testing.assert_allclose(out, np_batch_dot(a, b, ta, tb), rtol=1e-5)


def test_broadcast_to_and_axis_forward():
    x = rand((2, 1), 7, np.float32)
    np.testing.assert_array_equal(run_op("broadcast_to", [x], shape=(0, 3))[0][0],
                                  np.broadcast_to(x, (2, 3)))
    y = rand((1, 2, 1), 8, np.float32)
    out = run_op("broadcast_axis", [y], axis=(0, 2), size=(3, 4))[0][0]
    np.testing.assert_array_equal(out, np.broadcast_to(y, (3, 2, 4)))
    np.testing.assert_array_equal(run_op("broadcast_axis", [y], axis=(), size=())[0][0], y)


@st.composite
def to_shapes(draw_):
    """An input shape and a target for broadcast_to (0 = keep that axis)."""
    nd = draw_(st.integers(1, 3))
    src = draw_(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    target = [draw_(st.sampled_from([0, d])) if d != 1 else draw_(st.integers(0, 3))
              for d in src]
    return tuple(src), tuple(target)


@settings(max_examples=15, deadline=None)
@given(shapes=to_shapes())
def test_broadcast_to_hypothesis(shapes):
    src, target = shapes
    x = rand(src, 9)
    full = tuple(s if t == 0 else t for s, t in zip(src, target))
    np.testing.assert_array_equal(run_op("broadcast_to", [x], shape=target)[0][0],
                                  np.broadcast_to(x, full))
    check_numeric_gradient("broadcast_to", [x], params={"shape": target})


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       data=st.data(), name=st.sampled_from(sorted(REDUCE_REF)))
def test_reduce_axes_hypothesis(shape, data, name):
    nd = len(shape)
    axis = tuple(data.draw(st.sets(st.integers(-nd, nd - 1), max_size=nd).filter(
        lambda s: len({a % nd for a in s}) == len(s))))
    kw = dict(axis=axis, keepdims=data.draw(st.booleans()), exclude=data.draw(st.booleans()))
    x = rand(tuple(shape), 10)
    np.testing.assert_allclose(run_op(name, [x], **kw)[0][0],
                               np_reduce(REDUCE_REF[name], x, **kw), rtol=1e-12)
    check_numeric_gradient(name, [x], params=kw)


# -- (b) finite-difference gradients ---------------------------------------------------------
@pytest.mark.parametrize("kw", AXES[:6] + AXES[7:], ids=str)
@pytest.mark.parametrize("name", sorted(REDUCE_REF))
def test_reduce_gradient_numeric(name, kw):
    check_numeric_gradient(name, [rand((2, 3, 2), 11)], params=kw)


@pytest.mark.parametrize("kw", [dict(), dict(ord=1), dict(axis=1, keepdims=True),
                                dict(ord=1, axis=(0, 2))], ids=str)
def test_norm_gradient_numeric(kw):
    check_numeric_gradient("norm", [rand((2, 3, 2), 12)], params=kw)


@pytest.mark.parametrize("case", DOT_SHAPES, ids=_dot_id)
def test_dot_gradient_numeric(case):
    ls, rs, ta, tb = case
    check_numeric_gradient("dot", [rand(ls, 13), rand(rs, 14)],
                           params={"transpose_a": ta, "transpose_b": tb})


@pytest.mark.parametrize("case", BATCH_SHAPES, ids=_dot_id)
def test_batch_dot_gradient_numeric(case):
    ls, rs, ta, tb = case
    check_numeric_gradient("batch_dot", [rand(ls, 15), rand(rs, 16)],
                           params={"transpose_a": ta, "transpose_b": tb})


def test_broadcast_axis_gradient_numeric_and_ties():
    check_numeric_gradient("broadcast_axis", [rand((1, 2, 1), 17)],
                           params={"axis": (0, 2), "size": (3, 2)})
    x = np.array([[1., 3., 3.], [2., 2., 0.]])
    _, (g,) = run_op_backward("max", [x])
    np.testing.assert_array_equal(g, [[0, 1, 1], [0, 0, 0]])   # ties all get the gradient
    _, (g,) = run_op_backward("norm", [np.zeros(3)])
    assert np.isnan(g).all()                                     # 0/0, as MXNet


# -- (d) grad_req 'add' ----------------------------------------------------------------------
GRAD_CASES = ([(n, [rand((2, 3, 2), 20)], dict(axis=1)) for n in sorted(REDUCE_REF)] +
              [("norm", [rand((2, 3), 21)], {}),
               ("dot", [rand((2, 3), 22), rand((3, 4), 23)], dict(transpose_b=False)),
               ("dot", [rand((3, 2), 22), rand((4, 3), 23)], dict(transpose_a=True,
                                                                  transpose_b=True)),
               ("batch_dot", [rand((2, 3, 4), 24), rand((2, 4, 2), 25)], {}),
               ("broadcast_to", [rand((2, 1), 26)], dict(shape=(2, 3))),
               ("broadcast_axis", [rand((1, 3), 27)], dict(axis=0, size=2))])


@pytest.mark.parametrize("name,xs,params", GRAD_CASES,
                         ids=[f"{c[0]}{i}" for i, c in enumerate(GRAD_CASES)])
def test_grad_req_add_accumulates(name, xs, params):
    _, written = run_op_backward(name, xs, **params)
    init = [rand(x.shape, 30 + i) for i, x in enumerate(xs)]
    _, added = run_op_backward(name, xs, reqs=["add"] * len(xs), init_grads=init, **params)
    for w, a, i in zip(written, added, init):
        np.testing.assert_allclose(a, i + w, rtol=1e-12)
    _, partial = run_op_backward(name, xs, reqs=["null"] * len(xs), **params)
    assert all(p is None for p in partial)


# -- (e) bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("name,shapes,params,match", [
    ("sum", [(2, 3, 4)], dict(axis=3), r"sum: reduction axis 3 .*\(2, 3, 4\)"),
    ("max", [(2, 3, 4)], dict(axis=(1, -2)), "same axis twice"),
    ("norm", [(2, 3)], dict(ord=3), "ord=3"),
    ("dot", [(2, 3), (4, 5)], {}, r"dot: shape error: lhs \(2, 3\) x rhs \(4, 5\)"),
    ("dot", [(3,), (3,)], dict(transpose_a=True), "cannot transpose vectors"),
    ("batch_dot", [(2, 3, 4), (2, 4)], {}, "same number of axes"),
    ("batch_dot", [(2, 3, 4), (3, 4, 5)], {}, "batch axes"),
    ("batch_dot", [(2, 3, 4), (2, 5, 4)], {}, "contracts 4 against 5"),
    ("broadcast_to", [(2, 1)], dict(shape=(3, 3)), r"\(2, 1\) cannot be broadcast"),
    ("broadcast_to", [(2, 1)], dict(shape=(4, 2, 3)), "number of axes"),
    ("broadcast_axis", [(1, 2, 1)], dict(axis=-1, size=4), r"axis -1 must be in \[0, 3\)"),
    ("broadcast_axis", [(1, 2, 1)], dict(axis=1, size=4), "only axes of size 1"),
    ("broadcast_axis", [(1, 2, 1)], dict(axis=(0, 2), size=4), "same length"),
])
def test_bad_shapes_raise_shape_error(name, shapes, params, match):
    with pytest.raises(ShapeError, match=match):
        run_op(name, [np.ones(s) for s in shapes], **params)


def test_bad_params_raise_mxnet_error():
    with pytest.raises(MXNetError, match="keepdims"):
        run_op("sum", [np.ones(2)], keepdims="maybe")
    with pytest.raises(MXNetError, match="out_dtype"):
        run_op("norm", [np.ones(2)], out_dtype="complex64")
    with pytest.raises(MXNetError, match="dtype"):
        mx.nd.dot(mx.nd.ones((2, 2)), mx.nd.ones((2, 2), dtype="float64"))


# -- (c) parity with real MXNet 1.9.1 --------------------------------------------------------
def _parity_cases():
    f32 = np.float32
    cases = {}
    x = rand((2, 3, 4), 40, f32)
    for name in sorted(REDUCE_REF):
        for k, kw in enumerate(AXES):
            cases[f"{name}{k}"] = (name, kw, [x])
    ties = np.array([[1, 3, 3], [2, 2, 0]], f32)
    cases["max@ties"] = ("max", {}, [ties])
    cases["min@ties"] = ("min", dict(axis=1), [ties])
    for k, kw in enumerate([dict(), dict(ord=1), dict(axis=1), dict(axis=(1, 2)),
                            dict(axis=-1, keepdims=True), dict(ord=1, axis=(0, 2))]):
        cases[f"norm{k}"] = ("norm", kw, [x])
    cases["norm@zero"] = ("norm", dict(axis=1), [np.array([[0, 0], [3, 4]], f32)])
    for k, (ls, rs, ta, tb) in enumerate(DOT_SHAPES):
        cases[f"dot{k}"] = ("dot", dict(transpose_a=ta, transpose_b=tb),
                            [rand(ls, 41, f32), rand(rs, 42, f32)])
    for k, (ls, rs, ta, tb) in enumerate(BATCH_SHAPES):
        cases[f"batch_dot{k}"] = ("batch_dot", dict(transpose_a=ta, transpose_b=tb),
                                  [rand(ls, 43, f32), rand(rs, 44, f32)])
    cases["dot@f64"] = ("dot", dict(transpose_a=True), [rand((3, 2), 45), rand((3, 4), 46)])
    cases["sum@f64"] = ("sum", dict(axis=0), [rand((3, 2), 47)])
    cases["broadcast_to"] = ("broadcast_to", dict(shape=(0, 3, 4)), [rand((2, 1, 1), 48, f32)])
    cases["broadcast_axis"] = ("broadcast_axis", dict(axis=(0, 2), size=(3, 2)),
                               [rand((1, 2, 1), 49, f32)])
    for cid, (name, params, xs) in cases.items():
        shape = run_op(name, xs, **params)[0][0].shape
        cases[cid] = (name, params, xs, rand(shape, 50, xs[0].dtype))
    return cases


ORACLE_OPS = """
from mxnet import autograd
for cid, (name, params, xs, head) in cases.items():
    arrs = [mx.nd.array(x, dtype=x.dtype) for x in xs]
    for a in arrs:
        a.attach_grad()
    with autograd.record():
        y = getattr(mx.nd, name)(*arrs, **params)
    y.backward(mx.nd.array(head, dtype=head.dtype))
    out[cid] = [y] + [a.grad for a in arrs]
"""


@pytest.fixture(scope="module")
def parity():
    cases = _parity_cases()
    return cases, run_oracle(ORACLE_OPS, cases=cases)


@pytest.mark.oracle
@pytest.mark.parametrize("cid", sorted(_parity_cases()))
def test_forward_backward_match_mxnet(parity, cid):
    cases, expected = parity
    name, params, xs, head = cases[cid]
    outs, grads = run_op_backward(name, xs, out_grads=[head], **params)
    want = expected[cid]
    assert outs[0].dtype == want[0].dtype and outs[0].shape == want[0].shape
    np.testing.assert_allclose(outs[0], want[0], rtol=1e-5, atol=1e-5, err_msg="forward")
    for i, (g, w) in enumerate(zip(grads, want[1:])):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=f"grad of input {i}")


@pytest.mark.oracle
def test_symbol_shapes_match_mxnet():
    exprs = {"sum": "mx.sym.sum(x, axis=(0, 2), keepdims=True)",
             "mean": "mx.sym.mean(x, axis=1, exclude=True)",
             "norm": "mx.sym.norm(x)", "max": "mx.sym.max_axis(x, axis=-1)",
             "dot": "mx.sym.dot(x, y, transpose_a=True)",
             "bto": "mx.sym.broadcast_to(mx.sym.sum(x, axis=0, keepdims=True), shape=(4, 0, 0))"}
    code = """
x, y = mx.sym.Variable('x'), mx.sym.Variable('y')
for k, e in exprs.items():
    s = eval(e)
    out[k] = s.infer_shape(x=(2, 3, 4), y=(2, 5))[1][0] if 'y' in s.list_arguments() else \
        s.infer_shape(x=(2, 3, 4))[1][0]
"""
    want = run_oracle(code, exprs=exprs)
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    for k, e in exprs.items():
        s = eval(e)
        shapes = dict(x=(2, 3, 4), y=(2, 5)) if "y" in s.list_arguments() else dict(x=(2, 3, 4))
        assert tuple(s.infer_shape(**shapes)[1][0]) == tuple(want[k]), k
