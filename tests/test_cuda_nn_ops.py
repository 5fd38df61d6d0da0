"""The nn-side operators on the GPU — Convolution, Pooling, BatchNorm, LeakyReLU (every act_type),
Dropout, Embedding and the fused RNN — equal the same operators on the CPU, forward and
backward, for grad_req 'write' and 'add', float32 and float64, on numba-cuda's simulator
(``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_cuda_nn_ops.py``); and a small BatchNorm
conv net with Dropout trains on ``[gpu(0), gpu(1)]`` to the CPU's numbers.

The CPU side (itself tested against numpy formulas, finite differences and MXNet 1.9.1 in
tests/test_ops_*.py) is the reference. Shapes stay tiny: the simulator runs every thread as a
Python thread.
"""
import numpy as np
import pytest

from cuda_compare import check, gpu_run, rnd

pytestmark = [pytest.mark.cudasim,
              # the simulator runs numba.cuda.random's uint64 arithmetic on numpy scalars, which
              # warn when they wrap around as the generator means them to
              pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore::numba.NumbaWarning")]

DT = [np.float32, np.float64]


# -- Convolution -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
def test_convolution_2d(dtype):
    check("Convolution", [rnd(2, 2, 5, 4, dtype=dtype), rnd(3, 2, 3, 2, seed=1, dtype=dtype),
                          rnd(3, seed=2, dtype=dtype)],
          {"kernel": (3, 2), "num_filter": 3, "pad": (1, 0), "stride": (2, 1)},
          rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_convolution_groups_dilate_no_bias():
    check("Convolution", [rnd(2, 4, 4, 4, dtype=np.float64), rnd(4, 2, 2, 2, seed=1,
                                                                 dtype=np.float64)],
          {"kernel": (2, 2), "num_filter": 4, "num_group": 2, "dilate": (2, 2), "pad": (1, 1),
           "no_bias": True}, rtol=1e-10, atol=1e-12)


def test_convolution_tiled_gemm():
    # 16 filters, C*KH*KW = 16 and N*OH*OW = 2*9: every GEMM (forward, dW, dcol) covers a
    # whole 16x16 tile each way, so the shared-memory tiled kernel runs
    check("Convolution", [rnd(2, 4, 4, 4), rnd(16, 4, 2, 2, seed=1), rnd(16, seed=2)],
          {"kernel": (2, 2), "num_filter": 16}, rtol=1e-4, atol=1e-5, modes=("add",))


def test_convolution_1d():
    check("Convolution", [rnd(2, 3, 7), rnd(2, 3, 3, seed=1), rnd(2, seed=2)],
          {"kernel": (3,), "num_filter": 2, "stride": (2,), "pad": (1,)}, rtol=1e-4, atol=1e-5,
          modes=("write",))


# -- Pooling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"kernel": (2, 2), "stride": (1, 1), "pool_type": "max"},
    {"kernel": (3, 2), "stride": (2, 1), "pad": (1, 1), "pool_type": "avg"},
    {"kernel": (2, 3), "stride": (2, 2), "pad": (1, 1), "pool_type": "avg",
     "count_include_pad": False, "pooling_convention": "full"},
    {"kernel": (2, 2), "stride": (2, 1), "pool_type": "sum"},
    {"kernel": (2, 2), "pool_type": "lp", "p_value": 2},
    {"global_pool": True, "pool_type": "max", "kernel": (1, 1)},
])
def test_pooling_2d(params):
    check("Pooling", [rnd(2, 2, 4, 5, low=0.1, dtype=np.float64)], params, rtol=1e-10,
          atol=1e-12)


def test_pooling_1d_max_float32_ties():
    x = np.round(rnd(1, 2, 9), 0)       # ties: the first maximum gets the gradient
    check("Pooling", [x], {"kernel": (3,), "stride": (2,), "pool_type": "max"})


def test_pooling_backward_after_inference_forward():
    check("Pooling", [rnd(1, 2, 4, 4)], {"kernel": (2, 2), "pool_type": "max"},
          is_train=False, modes=("write",))


# -- BatchNorm -------------------------------------------------------------------------------
def _bn_inputs(dtype, shape=(3, 2, 4), axis=1):
    c = shape[axis]
    return [rnd(*shape, dtype=dtype), rnd(c, seed=1, dtype=dtype), rnd(c, seed=2, dtype=dtype),
            rnd(c, seed=3, dtype=dtype), rnd(c, seed=4, low=0.5, dtype=dtype)]


@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("params", [{}, {"fix_gamma": False, "output_mean_var": True},
                                    {"fix_gamma": False, "use_global_stats": True}])
def test_batchnorm(dtype, params):
    tol = (1e-5, 1e-5) if dtype == np.float32 else (1e-11, 1e-12)
    check("BatchNorm", _bn_inputs(dtype), params, rtol=tol[0], atol=tol[1])


def test_batchnorm_axis_and_inference():
    check("BatchNorm", _bn_inputs(np.float64, (2, 3, 3, 2), -1), {"fix_gamma": False, "axis": -1},
          rtol=1e-11, atol=1e-12)
    check("BatchNorm", _bn_inputs(np.float64, (2, 3, 2)), {"fix_gamma": False},
          rtol=1e-11, atol=1e-12, is_train=False, modes=("write",))


def test_several_blocks_per_launch():
    # the simulator launches one block by default; here grid-stride loops, one block per
    # channel (BatchNorm's and the bias gradient's tree sums) and blocks of 64 threads run too
    from mxteach.kernels.cuda import launch
    with launch.policy({"threads_1d": 64, "max_blocks_1d": 3}):
        check("BatchNorm", _bn_inputs(np.float64, (2, 4, 5)), {"fix_gamma": False},
              rtol=1e-11, atol=1e-12, modes=("add",))
        check("Convolution", [rnd(2, 2, 5, 5), rnd(5, 2, 2, 2, seed=1), rnd(5, seed=2)],
              {"kernel": (2, 2), "num_filter": 5}, rtol=1e-4, atol=1e-5, modes=("write",))


# -- LeakyReLU -------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["leaky", "elu", "selu", "gelu"])
def test_leaky_relu_elementwise(act):
    check("LeakyReLU", [rnd(2, 3, 4, dtype=np.float64)], {"act_type": act, "slope": 0.3},
          rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("gamma_shape", [(3,), (1,)])
def test_prelu(gamma_shape):
    check("LeakyReLU", [rnd(2, 3, 4, dtype=np.float64),
                        rnd(*gamma_shape, seed=1, low=0.1, high=0.5, dtype=np.float64)],
          {"act_type": "prelu"}, rtol=1e-10, atol=1e-12)


def test_rrelu_inference_equals_cpu():
    check("LeakyReLU", [rnd(2, 3, 4)], {"act_type": "rrelu"}, is_train=False,
          modes=("write",))


def _gpu_random_op(name, x, params, dy, init, req, seed, state=None):
    import mxteach as mx
    mx.random.seed(seed)
    return gpu_run(name, [x], params, [req], [init], [dy] * (1 + (name == "LeakyReLU")),
                   state=state)


def test_rrelu_training_draws_slopes_and_uses_them_backward():
    x, dy, init = rnd(3, 40), rnd(3, 40, seed=1), rnd(3, 40, seed=2)
    params = {"act_type": "rrelu", "lower_bound": 0.1, "upper_bound": 0.3}
    (out, slopes), (dx,), _ = _gpu_random_op("LeakyReLU", x, params, dy, init, "add", 3)
    assert slopes.min() >= 0.1 and slopes.max() < 0.3 and slopes.std() > 0.03
    np.testing.assert_allclose(out, np.where(x > 0, x, slopes * x), rtol=1e-6)
    np.testing.assert_allclose(dx, init + np.where(x > 0, dy, slopes * dy), rtol=1e-6)
    (_, again), _, _ = _gpu_random_op("LeakyReLU", x, params, dy, init, "add", 3)
    np.testing.assert_array_equal(again, slopes)          # mx.random.seed reproduces them


# -- Dropout ---------------------------------------------------------------------------------
def test_dropout_identity_cases_equal_cpu():
    check("Dropout", [rnd(2, 3, 4)], {"p": 0.0})
    check("Dropout", [rnd(2, 3, 4)], {"p": 0.5}, is_train=False)


@pytest.mark.parametrize("dtype", DT)
def test_dropout_mask_scale_axes_and_backward(dtype):
    x, dy, init = (rnd(4, 3, 50, seed=s, dtype=dtype) for s in (0, 1, 2))
    params = {"p": 0.25, "axes": (1,)}
    (out,), (dx,), _ = _gpu_random_op("Dropout", x, params, dy, init, "add", 11)
    mask = out / x
    kept = np.isclose(mask, 1 / 0.75)
    assert np.all(kept | np.isclose(mask, 0))
    assert np.all(kept == kept[:, :1, :])                 # one value shared along axis 1
    assert 0.6 < kept.mean() < 0.9
    np.testing.assert_allclose(dx, init + dy * mask, rtol=1e-5)
    (out2,), (dx2,), _ = _gpu_random_op("Dropout", x, params, dy, init, "write", 11)
    np.testing.assert_array_equal(out2, out)               # same seed, same mask
    np.testing.assert_allclose(dx2, dy * mask, rtol=1e-5)
    (out3,), _, _ = _gpu_random_op("Dropout", x, params, dy, init, "write", 12)
    assert not np.array_equal(out3, out)


def test_dropout_masks_advance_between_calls_and_p1_gives_nan():
    x = rnd(2, 64)
    state = {}
    (a,), _, _ = _gpu_random_op("Dropout", x, {"p": 0.5}, x, x, "null", 4, state)
    (b,), _, _ = gpu_run("Dropout", [x], {"p": 0.5}, ["null"], [x], [x], state=state)
    assert not np.array_equal(a, b)          # the node's generator moves on between batches
    (c,), _, _ = _gpu_random_op("Dropout", x, {"p": 1.0}, x, x, "null", 4)
    assert np.isnan(c).all()                 # as MXNet (and the CPU side): 0 * 1/0


# -- Embedding -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DT)
def test_embedding(dtype):
    idx = np.array([[0, 2, 2], [4, -1, 7.9]], dtype=dtype)     # repeats, clipping, truncation
    check("Embedding", [idx, rnd(5, 3, seed=1, dtype=dtype)],
          {"input_dim": 5, "output_dim": 3, "dtype": np.dtype(dtype).name},
          rtol=1e-6, atol=1e-6)


# -- RNN -------------------------------------------------------------------------------------
def _rnn_inputs(mode, layers, bidirectional, dtype, T=3, N=2, C=3, H=2):
    from mxteach.ops.rnn import rnn_param_size
    d = 2 if bidirectional else 1
    size = rnn_param_size(mode, layers, bidirectional, C, H)
    ins = [rnd(T, N, C, dtype=dtype), rnd(size, seed=1, low=-0.5, high=0.5, dtype=dtype),
           rnd(layers * d, N, H, seed=2, dtype=dtype)]
    return ins + ([rnd(layers * d, N, H, seed=3, dtype=dtype)] if mode == "lstm" else [])


@pytest.mark.parametrize("mode,layers,bidirectional,dtype", [
    ("lstm", 2, True, np.float64), ("gru", 2, False, np.float64),
    ("rnn_tanh", 1, True, np.float32), ("rnn_relu", 2, False, np.float64)])
def test_rnn(mode, layers, bidirectional, dtype):
    params = {"mode": mode, "state_size": 2, "num_layers": layers,
              "bidirectional": bidirectional, "state_outputs": True}
    tol = (1e-4, 1e-5) if dtype == np.float32 else (1e-10, 1e-12)
    check("RNN", _rnn_inputs(mode, layers, bidirectional, dtype), params, rtol=tol[0],
          atol=tol[1], modes=("write",) if mode == "gru" else ("add",))


def test_rnn_dropout_between_layers_and_no_state_outputs():
    # p = 1 drops every output of layer 0 on both sides (a deterministic mask); p in (0, 1)
    # draws a GPU mask, checked for its effect on the output
    params = {"mode": "gru", "state_size": 2, "num_layers": 2, "p": 1.0}
    check("RNN", _rnn_inputs("gru", 2, False, np.float64), params, rtol=1e-10, atol=1e-12,
          modes=("write",))
    ins = _rnn_inputs("gru", 2, False, np.float64)
    dy = [rnd(3, 2, 2, seed=5, dtype=np.float64)]
    (half,), _, _ = gpu_run("RNN", ins, dict(params, p=0.5), ["null"] * 3, ins, dy)
    (none,), _, _ = gpu_run("RNN", ins, dict(params, p=0.0), ["null"] * 3, ins, dy)
    assert not np.allclose(half, none)


# -- a BatchNorm conv net with Dropout trains on two gpus as on two cpus -------------------
def _convnet(p_drop):
    import mxteach as mx
    h = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=4, pad=(1, 1),
                           name="conv")
    h = mx.sym.BatchNorm(h, fix_gamma=False, name="bn")
    h = mx.sym.Activation(h, act_type="relu", name="relu")
    h = mx.sym.Pooling(h, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool")
    h = mx.sym.Dropout(h, p=p_drop, name="drop")
    h = mx.sym.FullyConnected(mx.sym.Flatten(h), num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def _fit_convnet(contexts, p_drop=0.0, seed=0, n=16):
    import mxteach as mx
    rs = np.random.RandomState(3)
    X, y = rs.randn(16, 2, 6, 6).astype("f")[:n], rs.randint(0, 3, 16).astype("f")[:n]
    init = {"conv_weight": rs.uniform(-0.3, 0.3, (4, 2, 3, 3)), "conv_bias": np.zeros(4),
            "bn_gamma": np.ones(4), "bn_beta": np.zeros(4),
            "fc_weight": rs.uniform(-0.3, 0.3, (3, 36)), "fc_bias": np.zeros(3)}
    mx.random.seed(seed)
    mod = mx.mod.Module(_convnet(p_drop), context=contexts)
    mod.fit(mx.io.NDArrayIter(X, y, batch_size=8), num_epoch=1, optimizer="sgd",
            arg_params={k: mx.nd.array(v) for k, v in init.items()},
            aux_params={"bn_moving_mean": mx.nd.zeros(4), "bn_moving_var": mx.nd.ones(4)},
            optimizer_params={"learning_rate": 0.2, "momentum": 0.9, "rescale_grad": 1 / 8})
    args, aux = mod.get_params()
    out = {k: v.asnumpy() for k, v in {**args, **aux}.items()}
    assert np.abs(out["conv_weight"] - init["conv_weight"]).max() > 1e-3     # it trained
    if p_drop == 0:
        out["predict"] = mod.predict(mx.io.NDArrayIter(X, y, batch_size=8)).asnumpy()
    return out


@pytest.mark.slow
def test_batchnorm_convnet_with_dropout_trains_on_two_gpus_as_on_two_cpus():
    import mxteach as mx
    from mxteach.test_utils import environment
    cpu = _fit_convnet([mx.cpu(0), mx.cpu(1)])
    with environment("MXTEACH_SIM_GPUS", "2"):
        gpu = _fit_convnet([mx.gpu(0), mx.gpu(1)])
        dropped = [_fit_convnet([mx.gpu(0), mx.gpu(1)], 0.3, seed=9, n=8) for _ in range(2)]
    for name, value in cpu.items():
        np.testing.assert_allclose(gpu[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
    for name, value in dropped[0].items():       # mx.random.seed reproduces the GPU masks
        np.testing.assert_array_equal(dropped[1][name], value, err_msg=name)
    assert np.abs(dropped[0]["fc_weight"] - _fit_convnet([mx.cpu(0), mx.cpu(1)], 0, n=8)[
        "fc_weight"]).max() > 1e-4                 # the masks changed the training


# -- a fused-LSTM language model (Embedding, RNN) trains on two gpus as on two cpus ----------
def _fit_lm(contexts):
    import mxteach as mx
    from mxteach.ops.rnn import rnn_param_size
    V, E, H, T = 7, 3, 4, 3
    h = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=V, output_dim=E, name="embed")
    h = mx.sym.SwapAxis(h, dim1=0, dim2=1)                         # (T, N, E)
    h = mx.sym.RNN(h, mx.sym.Variable("lstm_parameters"), mx.sym.Variable("lstm_state"),
                   mx.sym.Variable("lstm_state_cell"), state_size=H, num_layers=1,
                   mode="lstm", name="lstm")
    h = mx.sym.Reshape(mx.sym.SwapAxis(h, dim1=0, dim2=1), shape=(-1, H))
    h = mx.sym.FullyConnected(h, num_hidden=V, name="pred")
    net = mx.sym.SoftmaxOutput(h, mx.sym.Reshape(mx.sym.Variable("softmax_label"),
                                                 shape=(-1,)), name="softmax")
    rs = np.random.RandomState(6)
    X = rs.randint(0, V, (4, T)).astype("f")                       # one batch of 2 per gpu
    y = np.concatenate([X[:, 1:], X[:, :1]], axis=1)
    init = {"embed_weight": rs.uniform(-0.5, 0.5, (V, E)),
            "lstm_parameters": rs.uniform(-0.5, 0.5, rnn_param_size("lstm", 1, False, E, H)),
            "lstm_state": np.zeros((1, 2, H)), "lstm_state_cell": np.zeros((1, 2, H)),
            "pred_weight": rs.uniform(-0.5, 0.5, (V, H)), "pred_bias": np.zeros(V)}
    mod = mx.mod.Module(net, context=contexts)
    mod.fit(mx.io.NDArrayIter(X, y, batch_size=4), num_epoch=1, optimizer="sgd",
            arg_params={k: mx.nd.array(v) for k, v in init.items()},
            optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "rescale_grad": 1 / 4})
    out = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
    assert np.abs(out["embed_weight"] - init["embed_weight"]).max() > 1e-3
    return out


@pytest.mark.slow
def test_fused_lstm_language_model_trains_on_two_gpus_as_on_two_cpus():
    import mxteach as mx
    from mxteach.test_utils import environment
    cpu = _fit_lm([mx.cpu(0), mx.cpu(1)])
    with environment("MXTEACH_SIM_GPUS", "2"):
        gpu = _fit_lm([mx.gpu(0), mx.gpu(1)])
    for name, value in cpu.items():
        np.testing.assert_allclose(gpu[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
