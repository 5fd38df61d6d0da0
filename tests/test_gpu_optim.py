"""Every optimizer's update on mx.gpu(0) equals its update on mx.cpu(): the same three steps
through an Updater, weights and every state compared, states created on (and kept on) the
device. The rules run through the backend's ``twin`` (numpy on the CPU, the CUDA kernels of
``kernels/cuda/optim.py`` and ``optim_adaptive.py`` on a gpu).

Run under the simulator: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_gpu_optim.py``.
"""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.optimizer import steps

pytestmark = pytest.mark.cudasim

COMMON = {"learning_rate": 0.05, "wd": 0.01, "rescale_grad": 0.5}
CASES = [
    ("sgd", {}), ("sgd", {"momentum": 0.9, "clip_gradient": 0.3}),
    ("nag", {"momentum": 0.9, "clip_gradient": 0.4}), ("nag", {}),
    ("signum", {"momentum": 0.9, "wd_lh": 0.01}), ("signum", {"momentum": 0.0}),
    ("sgld", {"clip_gradient": 0.5}),
    ("dcasgd", {"momentum": 0.9, "lamda": 0.1}), ("dcasgd", {"clip_gradient": 0.0}),
    ("test", {}),
    ("adam", {"clip_gradient": 0.3}), ("adagrad", {"clip_gradient": 0.5}),
    ("rmsprop", {"clip_weights": 0.5}),
    ("rmsprop", {"centered": True, "clip_gradient": 0.4}),
    ("adadelta", {"clip_gradient": 0.3}), ("adamax", {}), ("nadam", {"clip_gradient": 0.4}),
    ("ftrl", {"lamda1": 0.02}), ("ftml", {"clip_gradient": 0.6}),
    ("lamb", {"lower_bound": 0.1, "upper_bound": 5.0}), ("lamb", {"bias_correction": False}),
]


def _flat_state(state):
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in _flat_state(s)]
    return [state]


def _run(ctx, name, kwargs, dtype="float32", multi_precision=False, seed=0):
    rs = np.random.RandomState(7)
    shapes = [(3, 5), (4,)]
    w0 = [rs.uniform(-1, 1, s).astype(dtype) for s in shapes]
    g0 = [[rs.uniform(-1, 1, s).astype(dtype) for s in shapes] for _ in range(3)]
    params = dict(COMMON, **kwargs)
    if name == "sgld":
        params["learning_rate"] = 1e-4        # small noise, still a visible step
    opt = mx.optimizer.create(name, multi_precision=multi_precision, **params)
    upd = mx.optimizer.get_updater(opt)
    mx.random.seed(seed)
    weights = [mx.nd.array(w, ctx=ctx, dtype=dtype) for w in w0]
    for step in g0:
        for i, (w, g) in enumerate(zip(weights, step)):
            upd(i, mx.nd.array(g, ctx=ctx, dtype=dtype), w)
    states = [s for i in range(len(shapes)) for s in _flat_state(upd.states[i])]
    assert all(s.context == ctx for s in states)       # the states live with the weights
    return [w.asnumpy() for w in weights] + [s.asnumpy() for s in states]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                    enumerate(CASES)])
def test_every_optimizer_step_on_gpu_equals_cpu(name, kwargs):
    cpu = _run(mx.cpu(), name, kwargs)
    gpu = _run(mx.gpu(0), name, kwargs)
    assert len(cpu) == len(gpu)
    moved = np.abs(cpu[0] - _run(mx.cpu(), "test", {})[0]).max()
    assert moved > 0 or name == "test"
    for c, g in zip(cpu, gpu):
        assert c.dtype == g.dtype
        np.testing.assert_allclose(g, c, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["sgd", "adam", "adagrad", "rmsprop", "adadelta", "ftrl",
                                  "lamb", "nadam"])
def test_float64_weights_and_float32_states_on_gpu_equal_cpu(name):
    kwargs = {"momentum": 0.9} if name == "sgd" else {}
    cpu = _run(mx.cpu(), name, kwargs, dtype="float64")
    gpu = _run(mx.gpu(0), name, kwargs, dtype="float64")
    for c, g in zip(cpu, gpu):
        assert c.dtype == g.dtype
        np.testing.assert_allclose(g, c, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name,kwargs", [("sgd", {"momentum": 0.9}), ("nag", {"momentum": 0.9}),
                                         ("adam", {}), ("lamb", {})])
def test_multi_precision_keeps_a_float32_master_copy_on_the_device(name, kwargs):
    cpu = _run(mx.cpu(), name, kwargs, dtype="float16", multi_precision=True)
    gpu = _run(mx.gpu(0), name, kwargs, dtype="float16", multi_precision=True)
    assert cpu[0].dtype == np.float16 and np.float32 in {s.dtype.type for s in gpu[2:]}
    for c, g in zip(cpu, gpu):
        np.testing.assert_allclose(g.astype("f8"), c.astype("f8"), rtol=1e-3, atol=1e-3)


def test_sgld_noise_follows_the_seed_on_every_device():
    a = _run(mx.gpu(0), "sgld", {}, seed=1)[0]
    b = _run(mx.gpu(0), "sgld", {}, seed=1)[0]
    c = _run(mx.gpu(0), "sgld", {}, seed=2)[0]
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4


def test_adadelta_rescales_the_callers_gradient_in_place_on_the_device():
    for ctx in (mx.cpu(), mx.gpu(0)):
        opt = mx.optimizer.AdaDelta(rescale_grad=0.25)
        w, g = mx.nd.ones((2, 3), ctx=ctx), mx.nd.array(np.full((2, 3), 2.0), ctx=ctx)
        mx.optimizer.get_updater(opt)(0, g, w)
        np.testing.assert_allclose(g.asnumpy(), np.full((2, 3), 0.5))


def test_update_refuses_operands_on_another_device():
    w = mx.nd.ones((2, 2), ctx=mx.gpu(0))
    with pytest.raises(MXNetError, match="weight is on gpu\\(0\\), its gradient on cpu\\(0\\)"):
        mx.optimizer.get_updater(mx.optimizer.Adam())(0, mx.nd.ones((2, 2)), w)


def test_cuda_twins_match_the_numpy_rules_directly():
    """The kernel functions themselves, called on device arrays, against steps.py."""
    from numba import cuda
    from mxteach.kernels.cuda import optim_adaptive
    rs = np.random.RandomState(2)
    w, g = rs.randn(37).astype("f"), rs.randn(37).astype("f")
    mean, var = np.zeros(37, "f"), np.zeros(37, "f")
    args = (0.01, 0.1, 1.0, None, 0.9, 0.999, 1e-6, None, None, True, 1)
    dev = [cuda.to_device(a.copy()) for a in (w, g, mean, var)]
    steps.lamb_step(w, g, mean, var, *args)
    optim_adaptive.lamb_step(*dev, *args)
    np.testing.assert_allclose(dev[0].copy_to_host(), w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dev[3].copy_to_host(), var, rtol=1e-6, atol=1e-9)
    with pytest.raises(MXNetError, match="mean has shape"):
        optim_adaptive.adam_step(dev[0], dev[1], cuda.to_device(np.zeros(3, "f")), dev[3],
                                 0.1, 0, 1, None, 0.9, 0.99, 1e-8)
