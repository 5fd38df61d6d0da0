"""mx.gpu(i): NDArrays in device memory, executors and Modules running CUDA kernels, SGD on the
device, each checked against the same computation on mx.cpu().

Tests marked cudasim run on numba-cuda's simulator
(``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_gpu_module.py``); the two unmarked tests
check what holds without it: ``import mxteach`` and ``mx.gpu(0)`` need no CUDA, allocating on a
missing GPU is a clear error, and (where NVVM is installed) every kernel compiles for a real GPU.
"""
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError

ROOT = Path(__file__).resolve().parent.parent
cudasim = pytest.mark.cudasim


def _run(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    environ.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                          capture_output=True, text=True, timeout=300)


# -- without the simulator ------------------------------------------------------------------
def test_gpu_context_without_cuda_is_a_clear_error():
    proc = _run("""
        import sys
        import mxteach as mx
        ctx = mx.gpu(0)
        assert str(ctx) == "gpu(0)" and ctx.device_type == "gpu"
        assert "numba.cuda" not in sys.modules, "import mxteach / mx.gpu(0) loaded numba.cuda"
        sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2)
        for make in (lambda: mx.nd.zeros((2, 3), ctx=ctx),
                     lambda: mx.nd.array([1, 2], ctx=ctx),
                     lambda: mx.nd.ones((2,)).copyto(ctx),
                     lambda: sym.simple_bind(ctx, data=(4, 3))):
            try:
                make()
            except mx.MXNetError as err:
                assert "no CUDA device; set NUMBA_ENABLE_CUDASIM=1" in str(err), err
            else:
                raise AssertionError("allocating on gpu(0) without CUDA did not raise")
        assert mx.context.num_gpus() == 0
        print("ok")
        """, NUMBA_ENABLE_CUDASIM="0", CUDA_VISIBLE_DEVICES="")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]


# every CUDA kernel compiles for a real GPU: tests/test_cuda_ptx.py


# -- NDArray on the device ------------------------------------------------------------------
@cudasim
def test_creation_and_metadata():
    g = mx.gpu(0)
    a = mx.nd.array(np.arange(6).reshape(2, 3), ctx=g)
    assert type(a).__name__ == "GPUNDArray" and isinstance(a, mx.nd.NDArray)
    assert (a.shape, a.dtype, a.size, a.ndim, a.context) == ((2, 3), np.float32, 6, 2, g)
    np.testing.assert_array_equal(a.asnumpy(), np.arange(6).reshape(2, 3))
    for make, value in ((mx.nd.zeros, 0), (mx.nd.ones, 1)):
        x = make((2, 2), ctx=g, dtype="float64")
        assert x.context == g and x.dtype == np.float64
        np.testing.assert_array_equal(x.asnumpy(), np.full((2, 2), value))
    assert mx.nd.empty((3,), ctx=g).shape == (3,)
    np.testing.assert_array_equal(mx.nd.full((2,), 7, ctx=g).asnumpy(), [7, 7])
    with g:                                   # the current context
        assert mx.nd.zeros((1,)).context == g
    assert mx.nd.zeros((1,)).context == mx.cpu(0)
    assert mx.nd.array([3.5], ctx=g).asscalar() == 3.5
    a.wait_to_read()                          # kernels are asynchronous on a real GPU
    mx.nd.waitall()


@cudasim
def test_copies_between_host_and_device_are_independent():
    host = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    dev = host.as_in_context(mx.gpu(0))
    assert dev.context == mx.gpu(0) and host.as_in_context(mx.cpu()) is host
    back = dev.copyto(mx.cpu())
    assert type(back) is mx.nd.NDArray and back.context == mx.cpu()
    dev[:] = 0                                 # the copies do not share memory
    np.testing.assert_array_equal(back.asnumpy(), host.asnumpy())
    host.copyto(dev)                           # host -> existing device array
    np.testing.assert_array_equal(dev.asnumpy(), host.asnumpy())
    other = mx.nd.zeros((2, 3), ctx=mx.gpu(0))
    dev.copyto(other)                          # device -> device
    dev[:] = 1
    np.testing.assert_array_equal(other.asnumpy(), host.asnumpy())
    cpu_target = mx.nd.zeros((2, 3))
    other.copyto(cpu_target)                   # device -> existing host array
    np.testing.assert_array_equal(cpu_target.asnumpy(), host.asnumpy())
    same = other.copyto(mx.gpu(0))
    same[:] = 5
    np.testing.assert_array_equal(other.asnumpy(), host.asnumpy())
    with pytest.raises(MXNetError, match="shape mismatch"):
        other.copyto(mx.nd.zeros((3, 2)))


@cudasim
def test_setitem_and_row_views():
    a = mx.nd.zeros((4, 3), ctx=mx.gpu(0))
    a[:] = 2
    a[1] = np.array([1, 2, 3])
    a[2:4] = mx.nd.array([[7, 8, 9]])          # broadcast over the two rows
    want = np.array([[2, 2, 2], [1, 2, 3], [7, 8, 9], [7, 8, 9]], np.float32)
    np.testing.assert_array_equal(a.asnumpy(), want)
    rows = a[1:3]                              # a view: writes go through
    rows[:] = -1
    want[1:3] = -1
    np.testing.assert_array_equal(a.asnumpy(), want)
    a[3][:] = 4
    want[3] = 4
    np.testing.assert_array_equal(a.asnumpy(), want)
    assert a[-1].shape == (3,) and a.reshape(3, 4).shape == (3, 4)
    assert a.flatten().shape == (4, 3) and a.expand_dims(0).shape == (1, 4, 3)
    flat = mx.nd.array([1, 2, 3], ctx=mx.gpu(0))
    first = flat[0]                            # 1-D int index: a copy of shape (1,), as on cpu
    first[:] = 9
    assert first.shape == (1,) and flat.asnumpy()[0] == 1
    with pytest.raises(MXNetError, match="basic row indexing"):
        a[:, 1]
    with pytest.raises(MXNetError, match="cannot assign"):
        a[0] = np.ones(4)


@cudasim
def test_arithmetic_runs_on_the_device_and_matches_numpy():
    rs = np.random.RandomState(0)
    x, y, row = rs.randn(3, 4).astype("f"), rs.rand(3, 4).astype("f") + 1, rs.randn(4).astype("f")
    g = mx.gpu(0)
    a, b, r = (mx.nd.array(v, ctx=g) for v in (x, y, row))
    for got, want in [(a + b, x + y), (a - r, x - row), (a * b, x * y), (a / b, x / y),
                      (2 - a, 2 - x), (a * 3, x * 3), (1 / b, 1 / y), (-a, -x),
                      (a.relu(), np.maximum(x, 0)), (a.sigmoid(), 1 / (1 + np.exp(-x))),
                      (a.tanh(), np.tanh(x)), (a.zeros_like(), 0 * x), (a.ones_like(), 1 + 0 * x),
                      (mx.nd.relu(a), np.maximum(x, 0)), (mx.nd.broadcast_mul(a, r), x * row)]:
        assert got.context == g
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6, atol=1e-6)
    c = a.copy()
    c += r
    c *= 2
    np.testing.assert_allclose(c.asnumpy(), (x + row) * 2, rtol=1e-6)
    d = a.astype("float64")
    assert d.dtype == np.float64 and d.context == g
    np.testing.assert_array_equal(d.asnumpy(), x.astype(np.float64))


@cudasim
def test_gpu_memory_is_never_computed_on_by_the_host():
    # every NDArray method has a CUDA side (tests/test_gpu_ndarray_methods.py); what still
    # refuses is numpy itself on device memory, and operands from elsewhere
    a = mx.nd.ones((2, 3), ctx=mx.gpu(0))
    np.testing.assert_allclose(mx.nd.exp(a).asnumpy(), np.exp(np.ones((2, 3))), rtol=1e-6)
    assert mx.nd.maximum(a, a * 2).context == mx.gpu(0)
    with pytest.raises(MXNetError, match="numpy.add on memory of gpu\\(0\\) would run on the "
                                         "host"):
        np.add(a._data, 1)
    with pytest.raises(MXNetError, match="would run on the host"):
        a._data.sum()
    with pytest.raises(MXNetError, match="different devices"):
        a + mx.nd.ones((2, 3))
    with pytest.raises(MXNetError, match="copy the numpy array to the device"):
        a + np.ones((2, 3), "f")
    with pytest.raises(MXNetError, match="float32 or float64"):
        mx.nd.ones((2,), ctx=mx.gpu(0), dtype="int32") + 1


@cudasim
def test_pickle_numpy_conversion_and_repr():
    a = mx.nd.array([[1, 2], [3, 4]], ctx=mx.gpu(0))
    b = pickle.loads(pickle.dumps(a))
    assert b.context == mx.gpu(0) and b._data is not a._data
    np.testing.assert_array_equal(b.asnumpy(), a.asnumpy())
    np.testing.assert_array_equal(np.asarray(a), [[1, 2], [3, 4]])     # a host copy
    assert "@gpu(0)" in repr(a) and a.tolist() == [[1, 2], [3, 4]]


# -- operators --------------------------------------------------------------------------------
@cudasim
def test_nd_operators_run_their_cuda_forward(op_without_cuda):
    rs = np.random.RandomState(1)
    x, w, bias = rs.randn(4, 2, 3).astype("f"), rs.randn(5, 6).astype("f"), rs.randn(5).astype("f")
    label = np.array([0, 4, 2, 1], "f")
    results = {}
    for ctx in (mx.cpu(), mx.gpu(0)):
        xs, ws, bs, ls = (mx.nd.array(v, ctx=ctx) for v in (x, w, bias, label))
        h = mx.nd.FullyConnected(xs, ws, bs, num_hidden=5)
        h = mx.nd.Activation(h, act_type="softrelu")
        flat = mx.nd.Flatten(xs)
        out = mx.nd.SoftmaxOutput(mx.nd.broadcast_add(h, bs), ls)
        assert out.context == ctx
        results[ctx.device_type] = [v.asnumpy() for v in (h, flat, out)]
    for c, g in zip(results["cpu"], results["gpu"]):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
    # an operator without CUDA kernels (a test-only one: tests/conftest.py) runs on the cpu
    # and is refused on the gpu, by name, instead of running on the host
    from mxteach.ndarray.invoke import invoke
    np.testing.assert_array_equal(invoke(op_without_cuda, [mx.nd.array(x)], {}).asnumpy(), 2 * x)
    with pytest.raises(MXNetError, match="_test_no_cuda .*has no CUDA kernel yet.*Use mx.cpu"):
        invoke(op_without_cuda, [mx.nd.array(x, ctx=mx.gpu(0))], {})


def _graph():
    data, label = mx.sym.Variable("data"), mx.sym.Variable("softmax_label")
    scale = mx.sym.Variable("scale")
    h = mx.sym.Flatten(data, name="flat")
    h = mx.sym.FullyConnected(h, num_hidden=5, name="fc1")
    a = mx.sym.Activation(h, act_type="tanh", name="tanh1")
    s = mx.sym.Activation(h, act_type="sigmoid", name="sig1")
    h = mx.sym.elemwise_add(mx.sym.broadcast_mul(a, scale, name="scaled"), s, name="sum1")
    h = mx.sym.elemwise_mul(h, mx.sym.Activation(a, act_type="relu"), name="gate")
    h = mx.sym.broadcast_sub(h, mx.sym.Variable("shift"), name="shifted")
    h = mx.sym.FullyConnected(h, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(h, label, name="softmax")


def _values(net, shapes, seed=0):
    rs = np.random.RandomState(seed)
    arg_shapes, _, _ = net.infer_shape(**shapes)
    vals = {n: rs.uniform(-1, 1, s).astype("f") for n, s in zip(net.list_arguments(), arg_shapes)}
    vals["softmax_label"] = rs.randint(0, 3, shapes["data"][0]).astype("f")
    return vals


def _run_executor(net, ctx, vals, shapes, grad_req, passes=1, **kw):
    exe = net.simple_bind(ctx, grad_req=grad_req, **shapes)
    for name, v in vals.items():
        exe.arg_dict[name][:] = v
    for name, g in exe.grad_dict.items():
        g[:] = 0.5                              # so 'add' has something to add to
    for _ in range(passes):
        exe.forward(is_train=True)
        exe.backward()
    return exe, [o.asnumpy() for o in exe.outputs], \
        {n: g.asnumpy() for n, g in exe.grad_dict.items() if g is not None}


@cudasim
@pytest.mark.parametrize("grad_req,passes", [("write", 1), ("add", 2)])
def test_executor_forward_backward_match_cpu(grad_req, passes):
    net = _graph()
    shapes = {"data": (6, 2, 2), "scale": (1, 5), "shift": (5,)}
    vals = _values(net, shapes)
    _, out_c, grads_c = _run_executor(net, mx.cpu(), vals, shapes, grad_req, passes)
    exe, out_g, grads_g = _run_executor(net, mx.gpu(0), vals, shapes, grad_req, passes)
    assert all(o.context == mx.gpu(0) for o in exe.outputs)
    assert all(g.context == mx.gpu(0) for g in exe.grad_dict.values() if g is not None)
    np.testing.assert_allclose(out_g[0], out_c[0], rtol=1e-5, atol=1e-6)
    assert sorted(grads_g) == sorted(grads_c)
    for name in grads_c:
        np.testing.assert_allclose(grads_g[name], grads_c[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)


@cudasim
def test_executor_memory_plan_lives_on_the_device():
    net = _graph()
    shapes = {"data": (6, 2, 2), "scale": (1, 5), "shift": (5,)}
    cpu = net.simple_bind(mx.cpu(), **shapes)
    gpu = net.simple_bind(mx.gpu(0), **shapes)
    assert {r.device for r in gpu.memory_report()} == {"gpu(0)"}
    strip = [(r.name, r.role, r.shape, r.dtype, r.bytes, r.shared_with)
             for r in cpu.memory_report()]
    assert [(r.name, r.role, r.shape, r.dtype, r.bytes, r.shared_with)
            for r in gpu.memory_report()] == strip        # the same plan, on the device
    assert gpu.memory_summary() == cpu.memory_summary()
    seen = []
    gpu.set_monitor_callback(lambda name, arr: seen.append((name, arr.context)))
    gpu.forward()
    assert seen and all(c == mx.gpu(0) for _, c in seen)


@cudasim
@pytest.mark.parametrize("params", [
    {"normalization": "null"},
    {"normalization": "batch", "grad_scale": 0.5},
    {"normalization": "valid", "use_ignore": True, "ignore_label": 2},
    {"normalization": "null", "smooth_alpha": 0.1, "use_ignore": True, "ignore_label": 0},
    {"normalization": "valid", "multi_output": True},
])
def test_softmax_output_options_match_cpu(params):
    multi = params.get("multi_output", False)
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(data, name="softmax", **params)
    shape = (3, 4, 2) if multi else (5, 4)
    rs = np.random.RandomState(2)
    x = rs.randn(*shape).astype("f")
    label = rs.randint(0, 4, (3, 2) if multi else 5).astype("f")
    grads = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        exe = net.simple_bind(ctx, data=shape, softmax_label=label.shape)
        exe.forward(is_train=True, data=x, softmax_label=label)
        exe.backward()
        grads.append((exe.outputs[0].asnumpy(), exe.grad_dict["data"].asnumpy()))
    for c, g in zip(*grads):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)


@cudasim
def test_bind_refuses_operators_without_cuda_kernels_and_mixed_devices(op_without_cuda):
    # a test-only operator without CUDA kernels (tests/conftest.py): binds on the cpu only
    double = mx.sym.frontend.call("_test_no_cuda", [mx.sym.Variable("data")], {"name": "twice"})
    net = mx.sym.FullyConnected(double, num_hidden=2, name="fc")
    net.simple_bind(mx.cpu(), data=(1, 3))
    with pytest.raises(MXNetError, match="_test_no_cuda \\(node 'twice'\\) has no CUDA kernel "
                                         "yet, so it cannot run on gpu\\(0\\).*FullyConnected"):
        net.simple_bind(mx.gpu(0), data=(1, 3))
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    args = {"data": mx.nd.ones((1, 3), ctx=mx.gpu(0)), "fc_weight": mx.nd.ones((2, 3)),
            "fc_bias": mx.nd.ones((2,))}
    with pytest.raises(MXNetError, match="argument 'fc_weight' lives on cpu\\(0\\)"):
        fc.bind(mx.gpu(0), args)
    with pytest.raises(MXNetError, match="bind on cpu\\(0\\): argument 'data' lives on gpu"):
        fc.bind(mx.cpu(0), args)


# -- optimizer and Module -----------------------------------------------------------------------
@cudasim
def test_sgd_updates_on_the_device_and_others_refuse():
    rs = np.random.RandomState(3)
    w0, g0 = rs.randn(4, 3).astype("f"), rs.randn(4, 3).astype("f")
    weights = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        opt = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5,
                               clip_gradient=0.4)
        upd = mx.optimizer.get_updater(opt)
        w, g = mx.nd.array(w0, ctx=ctx), mx.nd.array(g0, ctx=ctx)
        for _ in range(3):
            upd(0, g, w)
        assert upd.states[0].context == ctx          # the momentum lives with the weight
        weights.append(w.asnumpy())
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-6, atol=1e-7)
    w = mx.nd.array(w0, ctx=mx.gpu(0))
    # (every optimizer now updates on the device: tests/test_gpu_optim.py)
    with pytest.raises(MXNetError, match="weight is on gpu\\(0\\), its gradient on cpu\\(0\\)"):
        mx.optimizer.get_updater(mx.optimizer.SGD())(0, mx.nd.array(g0), w)


def _mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="relu1")
    h = mx.sym.FullyConnected(h, num_hidden=4, name="fc2")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def _fit(context, kvstore="local"):
    rs = np.random.RandomState(4)
    X, y = rs.randn(24, 8).astype("f"), rs.randint(0, 4, 24).astype("f")
    init = {"fc1_weight": rs.uniform(-0.3, 0.3, (16, 8)), "fc1_bias": np.zeros(16),
            "fc2_weight": rs.uniform(-0.3, 0.3, (4, 16)), "fc2_bias": np.zeros(4)}
    mod = mx.mod.Module(_mlp(), context=context)
    train = mx.io.NDArrayIter(X, y, batch_size=8)          # 3 batches
    mod.fit(train, num_epoch=2, kvstore=kvstore, optimizer="sgd",
            arg_params={k: mx.nd.array(v) for k, v in init.items()},
            optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "wd": 0.01,
                              "clip_gradient": 1.0, "rescale_grad": 1 / 8})
    score = dict(mod.score(mx.io.NDArrayIter(X, y, batch_size=8), "acc"))
    params = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
    assert all(np.abs(params[k] - init[k]).max() > 1e-2 for k in init)   # training moved them
    # predict drops the 4 pad rows of the last batch (copies of output rows); a batch of 5 makes
    # the executors reshape (new arrays, parameters shared)
    params["predict"] = mod.predict(mx.io.NDArrayIter(X[:20], y[:20], batch_size=8)).asnumpy()
    mod.forward(mx.io.DataBatch([mx.nd.array(X[:5])], [mx.nd.array(y[:5])]), is_train=False)
    params["reshaped"] = mod.get_outputs()[0].asnumpy()
    assert params["predict"].shape == (20, 4) and params["reshaped"].shape == (5, 4)
    return params, score, mod


@cudasim
def test_module_fit_on_gpu_matches_cpu():
    cpu_params, cpu_score, _ = _fit(mx.cpu())
    gpu_params, gpu_score, mod = _fit(mx.gpu(0))
    assert mod._exec_group.execs[0].arg_dict["fc1_weight"].context == mx.gpu(0)
    assert all(type(v) is mx.nd.NDArray for v in mod.get_params()[0].values())  # CPU copies
    for name, value in cpu_params.items():
        np.testing.assert_allclose(gpu_params[name], value, rtol=0, atol=1e-5, err_msg=name)
    assert gpu_score == cpu_score


@cudasim
@pytest.mark.parametrize("kvstore", ["local", "device"])
def test_module_on_gpu_and_cpu_matches_one_cpu(kvstore):
    cpu_params, _, _ = _fit(mx.cpu())
    params, _, mod = _fit([mx.gpu(0), mx.cpu(0)], kvstore)
    assert [e.context for e in mod._exec_group.execs] == [mx.gpu(0), mx.cpu(0)]
    for name, value in cpu_params.items():
        np.testing.assert_allclose(params[name], value, rtol=0, atol=1e-5, err_msg=name)


@cudasim
def test_bucketing_on_gpu_matches_cpu():
    """Buckets share parameter memory and take their inputs as views of a shared device pool."""
    def sym_gen(key):
        h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
        return mx.sym.SoftmaxOutput(h, name="softmax"), ("data",), ("softmax_label",)

    results = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        rs = np.random.RandomState(5)
        X, y = rs.randn(10, 5).astype("f"), rs.randint(0, 3, 10).astype("f")
        mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=4, context=ctx)
        mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("softmax_label", (4,))])
        mod.init_params(arg_params={"fc_weight": mx.nd.array(rs.uniform(-0.3, 0.3, (3, 5))),
                                    "fc_bias": mx.nd.zeros((3,))})
        mod.init_optimizer(optimizer_params={"learning_rate": 0.1})
        for key, n in ((4, 4), (2, 2), (4, 4), (3, 3)):
            batch = mx.io.DataBatch([mx.nd.array(X[:n])], [mx.nd.array(y[:n])], bucket_key=key,
                                    provide_data=[mx.io.DataDesc("data", (n, 5))],
                                    provide_label=[mx.io.DataDesc("softmax_label", (n,))])
            mod.forward_backward(batch)
            mod.update()
        assert mod.get_outputs()[0].context == ctx
        results.append([mod.get_outputs()[0].asnumpy()] +
                       [v.asnumpy() for _, v in sorted(mod.get_params()[0].items())])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
