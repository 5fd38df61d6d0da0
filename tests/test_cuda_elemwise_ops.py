"""Every elementwise, reduction, shape, indexing, loss and creation operator on the GPU equals
the same operator on the CPU, forward and backward, for grad_req 'write' and 'add' — on
numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim
tests/test_cuda_elemwise_ops.py``). Shapes stay tiny: the simulator runs each thread as a
Python thread.

The CPU side (``op.forward``/``op.backward`` on numpy, itself tested against numpy formulas,
finite differences and MXNet 1.9.1 in tests/test_ops_*.py) is the reference; the GPU side
(``op.gpu_forward``/``op.gpu_backward`` on device arrays) must agree to float rounding.
"""
import numpy as np
import pytest
from numba.core import config

from mxteach.base import MXNetError
from mxteach.ops import registry
from cuda_compare import check, gpu_run, rnd

pytestmark = pytest.mark.cudasim

if config.ENABLE_CUDASIM:
    from mxteach.kernels.cuda import launch


# -- elementwise ------------------------------------------------------------------------------
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "power", "mod", "equal",
          "not_equal", "greater", "greater_equal", "lesser", "lesser_equal"]


@pytest.mark.parametrize("verb", BINARY)
def test_broadcast_binary(verb):
    low = 0.5 if verb == "power" else -2.0
    a, b = rnd(2, 3, 4, low=low), rnd(3, 1, seed=1, low=0.5)
    b[0, 0] = a[0, 0, 0] if verb in ("equal", "maximum") else b[0, 0]   # a tie
    check(f"broadcast_{verb}", [a, b])


@pytest.mark.parametrize("name", ["elemwise_add", "elemwise_div", "_maximum", "_power", "_mod",
                                  "_greater"])
def test_same_shape_binary_float64(name):
    a = rnd(3, 4, low=0.5, dtype=np.float64)
    b = rnd(3, 4, seed=1, low=0.5, dtype=np.float64)
    check(name, [a, b], rtol=1e-12, atol=1e-12)


SCALAR = ["_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar", "_div_scalar",
          "_rdiv_scalar", "_power_scalar", "_rpower_scalar", "_maximum_scalar",
          "_minimum_scalar", "_mod_scalar", "_rmod_scalar", "_equal_scalar",
          "_not_equal_scalar", "_greater_scalar", "_greater_equal_scalar", "_lesser_scalar",
          "_lesser_equal_scalar"]


@pytest.mark.parametrize("name", SCALAR)
def test_scalar_ops(name):
    x = rnd(2, 5, low=0.25, high=3.0)
    x[0, 0] = 1.5                      # equal to the scalar: ties and comparisons
    check(name, [x], {"scalar": 1.5})


UNARY = ["negative", "_copy", "exp", "log", "sqrt", "rsqrt", "square", "reciprocal", "abs",
         "sign", "relu", "sigmoid", "tanh"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops(name):
    positive = name in ("log", "sqrt", "rsqrt")
    x = rnd(3, 4, low=0.2 if positive else -2.0)
    check(name, [x], rtol=2e-5)


def test_clip_and_add_n():
    x = rnd(4, 5)
    x[0, :2] = [-0.5, 0.5]             # on the bounds: the gradient passes there
    check("clip", [x], {"a_min": -0.5, "a_max": 0.5})
    check("add_n", [rnd(2, 3), rnd(2, 3, seed=1), rnd(2, 3, seed=2)], {"num_args": 3})


# -- reductions -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("params", [{}, {"axis": (1,)}, {"axis": (0, 2), "keepdims": True},
                                    {"axis": (1,), "exclude": True}])
def test_reductions(name, params):
    check(name, [rnd(3, 5, 2)], params)


def test_reductions_multi_block_and_float64():
    # more outputs than blocks and a block wider than the reduced axis: the grid-stride loops
    x = rnd(6, 40, dtype=np.float64)
    with launch.policy({"max_blocks_1d": 2}):
        check("sum", [x], {"axis": (1,)}, rtol=1e-12, atol=1e-12)
        check("max", [x], {"axis": (0,)}, rtol=1e-12, atol=1e-12)
    with launch.policy("gpu"):         # a real GPU's blocks: 256 threads, at least a warp
        check("argmax", [rnd(2, 300)], {"axis": 1}, modes=("write",))
        check("softmax", [rnd(2, 3)], modes=("write",))


@pytest.mark.parametrize("ord_", [1, 2])
def test_norm(ord_):
    check("norm", [rnd(3, 4)], {"ord": ord_})
    check("norm", [rnd(3, 4, seed=2)], {"ord": ord_, "axis": (1,), "keepdims": True})


@pytest.mark.parametrize("params", [{}, {"axis": 1}, {"axis": 0, "keepdims": True}])
def test_argmax(params):
    x = rnd(4, 6)
    x[1, 2] = x[1, 4] = 5.0            # a tie: the first index wins
    check("argmax", [x], params)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_dot_and_batch_dot(ta, tb):
    a = rnd(*((4, 3) if ta else (3, 4)))
    b = rnd(*((5, 4) if tb else (4, 5)), seed=1)
    check("dot", [a, b], {"transpose_a": ta, "transpose_b": tb}, rtol=1e-4, atol=1e-5)
    a3 = rnd(*((2, 4, 3) if ta else (2, 3, 4)))
    b3 = rnd(*((2, 5, 4) if tb else (2, 4, 5)), seed=1)
    check("batch_dot", [a3, b3], {"transpose_a": ta, "transpose_b": tb}, rtol=1e-4, atol=1e-5)


def test_dot_of_vectors_and_nd():
    check("dot", [rnd(4), rnd(4, seed=1)], rtol=1e-4, atol=1e-5)
    check("dot", [rnd(2, 3, 4), rnd(4, 2, seed=1)], rtol=1e-4, atol=1e-5)


def test_broadcast_to_and_axis():
    check("broadcast_to", [rnd(1, 3, 1)], {"shape": (2, 3, 4)})
    check("broadcast_to", [rnd(3, 1)], {"shape": (0, 4)})
    check("broadcast_axis", [rnd(1, 3, 1)], {"axis": (0, 2), "size": (2, 4)})


# -- shape ------------------------------------------------------------------------------------
def test_transpose_and_swapaxis():
    check("transpose", [rnd(2, 3, 4)])
    check("transpose", [rnd(2, 3, 4)], {"axes": (1, 0, 2)})
    check("SwapAxis", [rnd(2, 3, 4)], {"dim1": 0, "dim2": 2})


def test_concat_stack_split_slice():
    check("Concat", [rnd(2, 3), rnd(2, 1, seed=1), rnd(2, 2, seed=2)], {"num_args": 3, "dim": 1})
    check("Concat", [rnd(1, 3), rnd(2, 3, seed=1)], {"num_args": 2, "dim": 0})
    check("stack", [rnd(2, 3), rnd(2, 3, seed=1)], {"num_args": 2, "axis": 1})
    check("SliceChannel", [rnd(2, 6)], {"num_outputs": 3, "axis": 1})
    check("SliceChannel", [rnd(3, 2, 2)], {"num_outputs": 3, "axis": 0, "squeeze_axis": True})
    check("slice_axis", [rnd(3, 5)], {"axis": 1, "begin": 1, "end": -1})


def test_copies_fills_and_cast():
    for name in ("Flatten", "zeros_like", "ones_like"):
        check(name, [rnd(2, 3, 2)])
    check("expand_dims", [rnd(2, 3)], {"axis": 1})
    check("Cast", [rnd(2, 3)], {"dtype": "float64"})
    check("Cast", [rnd(2, 3)], {"dtype": "int32"}, grads=())      # truncation toward zero
    for name, extra in (("_zeros", {}), ("_ones", {}), ("_full", {"value": 2.5})):
        check(name, [], {"shape": (2, 3), **extra})


# -- indexing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_take(mode):
    idx = np.array([[0, 4], [-1, 2], [2, 2]], np.float32)   # repeats: the atomics add them
    check("take", [rnd(4, 3), idx], {"mode": mode})
    check("take", [rnd(2, 4, 3), idx[:2]], {"mode": mode, "axis": 1})


def test_take_raise_reports_the_bad_index():
    with pytest.raises(MXNetError, match="index 7.0 is out of range"):
        gpu_run("take", [rnd(4, 3), np.array([1, 7], np.float32)], {"mode": "raise"},
                ["null", "null"], [None, None], None)
    check("take", [rnd(4, 3), np.array([3, 0, 3], np.float32)], {"mode": "raise"})


def test_where_one_hot_sequence_mask():
    cond = np.array([[1, 0, 1], [0, 0, 2]], np.float32)
    check("where", [cond, rnd(2, 3), rnd(2, 3, seed=1)])
    check("where", [np.array([0, 1], np.float32), rnd(2, 3), rnd(2, 3, seed=1)])
    check("one_hot", [np.array([0, 2, -1, 5], np.float32)],
          {"depth": 4, "on_value": 2.0, "off_value": -1.0})
    lengths = np.array([1, 3], np.float32)
    check("SequenceMask", [rnd(3, 2, 2), lengths], {"use_sequence_length": True, "value": -1.0})
    check("SequenceMask", [rnd(2, 3, 2), lengths], {"use_sequence_length": True, "axis": 1},
          grads=(0,))
    check("SequenceMask", [rnd(3, 2)])


# -- softmax family and loss heads ------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name):
    check(name, [rnd(2, 5, 3)], {"axis": 1}, rtol=1e-5, atol=1e-6)
    check(name, [rnd(3, 7, dtype=np.float64)], {"temperature": 2.0}, rtol=1e-12, atol=1e-12)


def test_softmax_with_lengths_and_a_wide_row():
    check("softmax", [rnd(3, 4), np.array([2, 0, 4], np.float32)], {"use_length": True})
    check("softmax", [rnd(2, 70)])     # a row wider than the simulator's 32-thread block


def test_regression_heads_and_make_loss():
    for name in ("LinearRegressionOutput", "MAERegressionOutput", "LogisticRegressionOutput"):
        check(name, [rnd(4, 3), rnd(4, 3, seed=1)], {"grad_scale": 2.0}, grads=(0,))
    check("LinearRegressionOutput", [rnd(4, 1), rnd(4, seed=1)], grads=(0,))
    for norm in ("null", "batch", "valid"):
        check("MakeLoss", [rnd(3, 4)], {"normalization": norm, "grad_scale": 3.0,
                                        "valid_thresh": 0.5})
    check("make_loss", [rnd(3, 4)])


def test_every_operator_of_these_families_has_a_gpu_side():
    families = {"elemwise", "reduce", "shape", "shape_index", "shape_swap", "loss", "init_ops"}
    missing = sorted({op.name for op in registry.all_ops().values()
                      if op.forward.__module__.rsplit(".", 1)[-1] in families
                      and (op.gpu_forward is None
                           or (op.backward is not None and op.gpu_backward is None))})
    assert missing == []


# -- through the executor: the memory plan on the device, reused buffers, grad_req -------------
def _graph_of_many_families():
    import mxteach as mx
    x, w = mx.sym.Variable("x"), mx.sym.Variable("w")
    idx = mx.sym.Variable("idx")
    h = mx.sym.broadcast_mul(mx.sym.exp(x * 0.5), w)                  # (4, 3) * (1, 3)
    h = mx.sym.Concat(h, mx.sym.sqrt(mx.sym.abs(x) + 1), num_args=2, dim=1)   # (4, 6)
    h = mx.sym.transpose(mx.sym.take(h, idx), axes=(1, 0))           # (6, 3)
    s = mx.sym.softmax(mx.sym.clip(h, a_min=-3, a_max=3), axis=0)
    t = mx.sym.sum(mx.sym.square(mx.sym.broadcast_sub(s, mx.sym.mean(s, axis=1, keepdims=True))),
                   axis=0)
    return mx.sym.MakeLoss(mx.sym.norm(t) + mx.sym.max(h), normalization="null")


@pytest.mark.parametrize("grad_req", ["write", "add"])
def test_executor_runs_a_graph_of_these_operators_on_the_gpu_as_on_the_cpu(grad_req):
    import mxteach as mx
    net = _graph_of_many_families()
    vals = {"x": rnd(4, 3), "w": rnd(1, 3, seed=1), "idx": np.array([3, 0, 3], np.float32)}
    results = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        args = {k: mx.nd.array(v, ctx=ctx) for k, v in vals.items()}
        grads = {k: mx.nd.array(np.full(v.shape, 0.5, np.float32), ctx=ctx)
                 for k, v in vals.items() if k != "idx"}
        exe = net.bind(ctx, args=args, args_grad=grads, grad_req=grad_req)
        for _ in range(2):             # the second pass accumulates under 'add'
            exe.forward(is_train=True)
            exe.backward()
        results.append((exe.outputs[0].asnumpy(), {k: g.asnumpy() for k, g in grads.items()}))
    (out_c, g_c), (out_g, g_g) = results
    np.testing.assert_allclose(out_g, out_c, rtol=1e-5, atol=1e-6)
    for k in g_c:
        np.testing.assert_allclose(g_g[k], g_c[k], rtol=1e-4, atol=1e-5, err_msg=k)
        assert np.abs(g_c[k]).sum() > 0
