"""Model parallelism on gpus (issue 12): ``group2ctx`` places each node of ONE executor on its
group's device, by MXNet's placement rule, with copies only where an edge crosses devices.
Every result equals the same graph on one CPU.

Run under the simulator: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_gpu_group2ctx.py``.
"""
import numpy as np
import pytest

import mxteach as mx
from test_gpu_devices import two_gpus  # noqa: F401  (the fixture: two simulated gpus)

pytestmark = pytest.mark.cudasim


def _mlp():
    with mx.AttrScope(ctx_group="dev1"):
        d = mx.sym.Variable("data")
        h = mx.sym.Activation(mx.sym.FullyConnected(d, num_hidden=4, name="fc1"),
                              act_type="relu", name="relu1")
    with mx.AttrScope(ctx_group="dev2"):
        out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                   name="softmax")
    return out


def _train(group2ctxs, context=mx.cpu()):
    rs = np.random.RandomState(0)
    X, y = rs.randn(8, 5).astype("f"), rs.randint(0, 3, 8).astype("f")
    mx.random.seed(1)
    mod = mx.mod.Module(_mlp(), context=context, group2ctxs=group2ctxs)
    mod.bind([("data", (8, 5))], [("softmax_label", (8,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.5})
    for _ in range(3):
        mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
        mod.update()
    return mod


@pytest.mark.parametrize("groups", [("gpu", 0, "gpu", 1), ("cpu", 0, "gpu", 1),
                                    ("gpu", 1, "cpu", 0)])
def test_module_over_devices_trains_like_one_cpu(two_gpus, groups):
    dev1, dev2 = mx.Context(groups[0], groups[1]), mx.Context(groups[2], groups[3])
    want = _train(None)
    got = _train({"dev1": dev1, "dev2": dev2}, context=two_gpus[0])
    exe = got.exec_group.execs[0]
    # each layer's arrays and the kernels' outputs live on its group's device
    assert exe.arg_dict["fc1_weight"].context == dev1
    assert exe.arg_dict["fc2_weight"].context == dev2
    assert exe.grad_dict["fc1_weight"].context == dev1 and exe.outputs[0].context == dev2
    for name, arr in exe.arg_dict.items():
        if arr.context.device_type == "gpu":
            assert arr._data.device_id == arr.context.device_id, name
    np.testing.assert_allclose(got.get_outputs()[0].asnumpy(), want.get_outputs()[0].asnumpy(),
                               rtol=1e-5, atol=1e-6)
    for name, value in want.get_params()[0].items():
        np.testing.assert_allclose(got.get_params()[0][name].asnumpy(), value.asnumpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=name)


def test_copies_only_where_an_edge_crosses_devices(two_gpus):
    mod = _train({"dev1": mx.gpu(0), "dev2": mx.gpu(1)}, context=mx.gpu(0))
    rows = mod.exec_group.execs[0].memory_report()
    where = {r.name: r.device for r in rows}
    assert where["relu1_output"] == "gpu(0)" and where["fc2_output"] == "gpu(1)"
    copies = sorted((r.name, r.device) for r in rows if r.role == "copy")
    # relu1's output is read on gpu(1); fc2's gradient of it is made there and sent back
    assert copies == [("fc2_0_grad_on_gpu(1)", "gpu(1)"), ("relu1_output_to_gpu(1)", "gpu(1)")]
    # the same graph on two cpus shares host memory: no copy at all
    cpu_rows = _train({"dev1": mx.cpu(1), "dev2": mx.cpu(2)}).exec_group.execs[0].memory_report()
    assert [r for r in cpu_rows if r.role == "copy"] == []


def test_unplaced_nodes_follow_mxnets_rule():
    from mxteach.executor.devices import place_nodes
    with mx.AttrScope(ctx_group="a"):
        x = mx.sym.Variable("x")
        h = mx.sym.FullyConnected(x, num_hidden=2, name="fc1")
    w = mx.sym.Variable("fc2_weight")                 # no group: lives where fc2 runs
    h2 = mx.sym.FullyConnected(h, weight=w, num_hidden=2, name="fc2")   # follows its input
    with mx.AttrScope(ctx_group="b"):
        out = mx.sym.relu(h2, name="act")
    order = out._order()
    dev = {n.name: place_nodes(order, {"a": mx.cpu(1), "b": mx.cpu(2)}).get(id(n))
           for n in order}
    assert dev["fc1"] == dev["x"] == dev["fc2"] == dev["fc2_weight"] == mx.cpu(1)
    assert dev["act"] == mx.cpu(2)


@pytest.mark.parametrize("remote_last", [False, True])
def test_gradients_added_across_devices_equal_the_cpu(two_gpus, remote_last):
    # h feeds one consumer on each device: its gradient gets a part sent from gpu(1), written
    # first or (remote_last: backward reaches the gpu(1) consumer last) added there
    with mx.AttrScope(ctx_group="dev1"):
        h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc1")
        left = mx.sym.FullyConnected(h, num_hidden=2, name="left")
    with mx.AttrScope(ctx_group="dev2"):
        right = mx.sym.FullyConnected(h, num_hidden=2, name="right")
        out = mx.sym.elemwise_add(*((right, left) if remote_last else (left, right)),
                                  name="sum")
    rs = np.random.RandomState(2)
    shapes = dict(zip(out.list_arguments(), out.infer_shape(data=(4, 5))[0]))
    values = {n: rs.randn(*s).astype("f") for n, s in shapes.items()}
    head = rs.randn(4, 2).astype("f")
    results = []
    for ctx, g2c in ((mx.cpu(), None), (mx.gpu(0), {"dev1": mx.gpu(0), "dev2": mx.gpu(1)})):
        exe = out.simple_bind(ctx, grad_req="add", group2ctx=g2c, data=(4, 5))
        for n, v in values.items():
            exe.arg_dict[n][:] = v
        for _ in range(2):          # 'add' twice: each gradient is doubled
            exe.forward(is_train=True)
            exe.backward(mx.nd.array(head, ctx=exe.outputs[0].context))
        results.append({n: g.asnumpy() for n, g in exe.grad_dict.items()})
    assert exe.grad_dict["right_weight"].context == mx.gpu(1)
    staged = [r.name for r in exe.memory_report() if r.name.endswith("_grad_staging")]
    assert staged == (["right_0_grad_staging"] if remote_last else [])
    for n, g in results[0].items():
        np.testing.assert_allclose(results[1][n], g, rtol=1e-5, atol=1e-5, err_msg=n)


def test_notebook_13_checks_stand_ins_agree_with_the_simulated_gpus(two_gpus):
    """The course checks of notebook 13 compute their truth without a GPU (cpu stand-ins,
    placement alone); on the simulated gpus the real runs must agree."""
    from mxteach.course import nb13
    g0, g1 = two_gpus
    a, b, c = mx.nd.ones((2, 3), ctx=g0), mx.nd.ones((2, 3), ctx=g1), mx.nd.ones((2, 3))
    real = {}
    for label, (_, run) in nb13.EXPRESSIONS.items():
        try:
            real[label] = str(run(a, b, c, g0, g1).context)
        except mx.MXNetError:
            real[label] = "error"
    assert real == nb13._truth_13_1()
    net = nb13.three_stage_mlp()
    groups = {"dev1": g0, "dev2": g1}
    exe = net.simple_bind(g0, group2ctx=groups, **nb13.MLP_SHAPES)
    rows = [r for r in exe.memory_report() if r.role == "copy"]
    made = (sum("_to_" in r.name for r in rows), sum("_grad_on_" in r.name for r in rows))
    assert made == nb13.count_copies(net, groups, g0) == (2, 2)
    kv = mx.kv.create("device")
    names = list(nb13._PARAMS)
    for key, name in enumerate(names):
        kv.init(key, mx.nd.zeros(nb13._PARAMS[name]))
    for key, name in enumerate(names):
        kv.push(key, [mx.nd.ones(nb13._PARAMS[name], ctx=d) for d in two_gpus])
    on_gpus = {name: kv._merge_ctx[key].device_id for key, name in enumerate(names)}
    assert on_gpus == nb13._sum_devices_truth()
