"""Several devices: simulated gpus (``MXTEACH_SIM_GPUS``), kvstore 'device' aggregation on a
gpu (the sums are made by CUDA kernels, their buffers spread over the gpus by size, as MXNet's
CommDevice) against 'local' (the sum is made on the CPU, as MXNet), and optimizer states living
on the gpu of their weight.

Run under the simulator: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_gpu_devices.py``.
"""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.test_utils import environment

pytestmark = pytest.mark.cudasim


@pytest.fixture
def two_gpus():
    with environment("MXTEACH_SIM_GPUS", "2"):
        yield [mx.gpu(0), mx.gpu(1)]


def test_the_simulator_shows_as_many_gpus_as_asked(two_gpus):
    assert mx.context.num_gpus() == 2
    a = mx.nd.array([1.0, 2.0], ctx=mx.gpu(1))
    b = a.copyto(mx.gpu(0))
    assert (a.context, b.context) == (mx.gpu(1), mx.gpu(0))
    np.testing.assert_array_equal(b.asnumpy(), [1.0, 2.0])
    with pytest.raises(MXNetError, match="gpu\\(2\\) does not exist"):
        mx.nd.zeros((1,), ctx=mx.gpu(2))


def test_one_simulated_gpu_by_default():
    assert mx.context.num_gpus() == 1
    with pytest.raises(MXNetError, match="gpu\\(1\\) does not exist"):
        mx.nd.zeros((1,), ctx=mx.gpu(1))


@pytest.mark.parametrize("kind", ["local", "device"])
def test_kvstore_sums_values_from_several_devices(two_gpus, kind):
    rs = np.random.RandomState(0)
    vals = [rs.randn(3, 4).astype("f") for _ in range(3)]
    ctxs = two_gpus + [mx.cpu(0)]
    kv = mx.kv.create(kind)
    kv.init(3, mx.nd.zeros((3, 4), ctx=ctxs[0]))
    kv.push(3, [mx.nd.array(v, ctx=c) for v, c in zip(vals, ctxs)])
    stored = kv._store[3]
    # 'device' merges on a pushing device (one key: the first, gpu(0)); 'local' on the CPU
    assert stored.context == (mx.gpu(0) if kind == "device" else mx.cpu_pinned(0))
    outs = [mx.nd.zeros((3, 4), ctx=c) for c in ctxs]
    kv.pull(3, out=outs)
    want = vals[0] + vals[1] + vals[2]
    for o in outs:
        np.testing.assert_allclose(o.asnumpy(), want, rtol=1e-6)


def test_device_kvstore_spreads_its_sum_buffers_over_the_gpus_by_size(two_gpus):
    sizes = {"a": (2, 3), "b": (8,), "c": (5,), "d": (1,)}
    rs = np.random.RandomState(3)
    w0 = {k: rs.randn(*s).astype("f") for k, s in sizes.items()}
    grads = {k: [rs.randn(*s).astype("f") for _ in two_gpus] for k, s in sizes.items()}
    results = {}
    for kind in ("local", "device"):
        kv = mx.kv.create(kind)
        kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9))
        for k in sizes:
            kv.init(k, mx.nd.array(w0[k], ctx=mx.gpu(0)))
        keys = list(sizes)
        kv.push(keys, [[mx.nd.array(g, ctx=c) for g, c in zip(grads[k], two_gpus)]
                       for k in keys])
        outs = [[mx.nd.zeros(sizes[k], ctx=c) for c in two_gpus] for k in keys]
        kv.pull(keys, out=outs)
        results[kind] = {k: o[1].asnumpy() for k, o in zip(keys, outs)}
    # largest first, each on the gpu holding fewer elements: b(8) gpu0, a(6) gpu1,
    # c(5) gpu1 (6 < 8), d(1) gpu0 (8 < 11); the weights are updated where their sum is
    where = {k: kv._store[k].context for k in sizes}
    assert where == {"b": mx.gpu(0), "a": mx.gpu(1), "c": mx.gpu(1), "d": mx.gpu(0)}
    assert kv._updater.states["a"].context == mx.gpu(1)
    for k in sizes:
        np.testing.assert_allclose(results["device"][k], results["local"][k], rtol=1e-6,
                                   err_msg=k)


def test_device_kvstore_updates_on_the_gpu_like_local_on_the_cpu(two_gpus):
    rs = np.random.RandomState(1)
    w0 = rs.randn(5).astype("f")
    grads = [[rs.randn(5).astype("f") for _ in two_gpus] for _ in range(3)]
    results = {}
    for kind in ("local", "device"):
        kv = mx.kv.create(kind)
        kv.set_optimizer(mx.optimizer.Adam(learning_rate=0.1, wd=0.01))
        kv.init(0, mx.nd.array(w0, ctx=mx.gpu(0)))
        outs = [mx.nd.zeros((5,), ctx=c) for c in two_gpus]
        for step in grads:
            kv.push(0, [mx.nd.array(g, ctx=c) for g, c in zip(step, two_gpus)])
            kv.pull(0, out=outs)
        state = kv._updater.states[0]
        assert state[0].context == (mx.gpu(0) if kind == "device" else mx.cpu_pinned(0))
        results[kind] = [o.asnumpy() for o in outs]
    np.testing.assert_allclose(results["device"][0], results["local"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(results["device"][0], results["device"][1])


def test_optimizer_states_live_on_the_second_gpu(two_gpus):
    w = mx.nd.ones((2, 3), ctx=mx.gpu(1))
    upd = mx.optimizer.get_updater(mx.optimizer.RMSProp(centered=True))
    upd(0, mx.nd.ones((2, 3), ctx=mx.gpu(1)), w)
    assert all(s.context == mx.gpu(1) for s in upd.states[0])
    cpu_w = mx.nd.ones((2, 3))
    mx.optimizer.get_updater(mx.optimizer.RMSProp(centered=True))(0, mx.nd.ones((2, 3)), cpu_w)
    np.testing.assert_allclose(w.asnumpy(), cpu_w.asnumpy(), rtol=1e-6)


def _mlp():
    h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=8, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                name="softmax")


def _fit(context, kvstore, optimizer):
    rs = np.random.RandomState(4)
    X, y = rs.randn(16, 5).astype("f"), rs.randint(0, 3, 16).astype("f")
    init = {"fc1_weight": rs.uniform(-0.4, 0.4, (8, 5)), "fc1_bias": np.zeros(8),
            "fc2_weight": rs.uniform(-0.4, 0.4, (3, 8)), "fc2_bias": np.zeros(3)}
    mod = mx.mod.Module(_mlp(), context=context)
    mod.fit(mx.io.NDArrayIter(X, y, batch_size=8), num_epoch=2, kvstore=kvstore,
            optimizer=optimizer, arg_params={k: mx.nd.array(v) for k, v in init.items()},
            optimizer_params={"learning_rate": 0.05, "wd": 0.01})
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}, mod


@pytest.mark.parametrize("contexts,kvstore,optimizer", [
    ("gpu01", "device", "adam"), ("gpu01", "local", "rmsprop"), ("cpu_gpu", "device", "nag")])
def test_module_on_several_devices_matches_one_cpu(two_gpus, contexts, kvstore, optimizer):
    ctxs = two_gpus if contexts == "gpu01" else [mx.cpu(0), mx.gpu(0)]
    want, _ = _fit(mx.cpu(), "local", optimizer)
    got, mod = _fit(ctxs, kvstore, optimizer)
    assert [e.context for e in mod._exec_group.execs] == ctxs
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_memory_views_show_memory_per_gpu(two_gpus):
    from mxteach.widgets import MemoryMap
    _, mod = _fit(two_gpus, "device", "sgd")
    for exe, ctx in zip(mod._exec_group.execs, two_gpus):
        rows = exe.memory_report()
        assert rows and {r.device for r in rows} == {str(ctx)}
        fc1 = next(r for r in rows if r.name == "fc1_weight")
        assert fc1.bytes == 8 * 5 * 4
    html = MemoryMap(mod._exec_group.execs[1]).to_html()
    assert "gpu(1)" in html
    totals = [MemoryMap(e).model["groups"][0]["device"] for e in mod._exec_group.execs]
    assert totals == ["gpu(0)", "gpu(1)"]


def test_uploads_of_arrays_with_a_zero_stride_keep_their_shape():
    """numpy calls a (4, 1, 3) array with stride 0 on its length-1 axis contiguous; numba's
    copies dropped that axis (an Xavier-initialised conv weight failed to reach the gpu)."""
    base = np.arange(12, dtype="f").reshape(4, 1, 3)
    odd = np.lib.stride_tricks.as_strided(base, shape=(4, 1, 3), strides=(12, 0, 4))
    a = mx.nd.array(odd, ctx=mx.gpu(0))
    np.testing.assert_array_equal(a.asnumpy(), base)
    b = mx.nd.zeros((4, 1, 3), ctx=mx.gpu(0))
    b[:] = odd
    np.testing.assert_array_equal(b.asnumpy(), base)
