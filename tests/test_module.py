"""mx.mod.Module: lifecycle, binding, data parallelism, updates, checkpoints, fit parity."""
import logging
import os

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, NotBoundError, ShapeError
from mxteach.module.executor_group import split_input_slice
from oracle import run_oracle

NET = """
data = mx.sym.Variable('data')
h = mx.sym.FullyConnected(data, num_hidden=16, name='fc1')
h = mx.sym.Activation(h, act_type='relu', name='relu1')
h = mx.sym.FullyConnected(h, num_hidden=10, name='fc2')
net = mx.sym.SoftmaxOutput(h, name='softmax')
"""


def make_net():
    scope = {"mx": mx}
    exec(NET, scope)
    return scope["net"]


def toy_data(n=120, d=8, k=10, seed=0):
    rs = np.random.RandomState(seed)
    X = rs.randn(n, d).astype(np.float32)
    W = rs.randn(d, k)
    y = (X @ W).argmax(axis=1).astype(np.float32)
    return X, y


def init_params(seed=1):
    rs = np.random.RandomState(seed)
    return {"fc1_weight": rs.uniform(-0.3, 0.3, (16, 8)).astype("f"),
            "fc1_bias": np.zeros(16, "f"),
            "fc2_weight": rs.uniform(-0.3, 0.3, (10, 16)).astype("f"),
            "fc2_bias": np.zeros(10, "f")}


def nd_params(p):
    return {k: mx.nd.array(v) for k, v in p.items()}


def bound_module(ctx=None, **kw):
    mod = mx.mod.Module(make_net(), context=ctx or mx.cpu(), **kw)
    mod.bind(data_shapes=[("data", (20, 8))], label_shapes=[("softmax_label", (20,))])
    mod.init_params(arg_params=nd_params(init_params()), aux_params={})
    return mod


def test_lifecycle_flags_and_call_order_errors():
    mod = mx.mod.Module(make_net())
    assert (mod.binded, mod.params_initialized, mod.optimizer_initialized) == (False,) * 3
    assert mod.stage == "initial"
    X, y = toy_data(20)
    batch = mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)])
    with pytest.raises(NotBoundError, match="bind"):
        mod.forward(batch)
    with pytest.raises(NotBoundError, match="bind"):
        mod.init_params()
    mod.bind(data_shapes=[("data", (20, 8))], label_shapes=[("softmax_label", (20,))])
    assert mod.stage == "bound" and mod.for_training and not mod.inputs_need_grad
    with pytest.raises(NotBoundError, match="init_params"):
        mod.forward(batch)
    mod.init_params()
    assert mod.stage == "params_initialized"
    mod.forward(batch)
    mod.backward()
    with pytest.raises(NotBoundError, match="init_optimizer"):
        mod.update()
    mod.init_optimizer()
    assert mod.stage == "optimizer_installed"
    mod.update()
    with pytest.raises(MXNetError, match="inputs_need_grad"):
        mod.get_input_grads()


def test_events_record_transitions():
    mod = mx.mod.Module(make_net())
    seen = []
    mod.events.subscribe(lambda e: seen.append((e.kind, e.before, e.after)))
    mod.bind(data_shapes=[("data", (20, 8))], label_shapes=[("softmax_label", (20,))])
    mod.init_params()
    mod.init_optimizer()
    mod.bind(data_shapes=[("data", (10, 8))], label_shapes=[("softmax_label", (10,))],
             force_rebind=True)
    assert seen[:3] == [("bind", "initial", "bound"),
                        ("init_params", "bound", "params_initialized"),
                        ("init_optimizer", "params_initialized", "optimizer_installed")]
    assert seen[3][0] == "bind" and seen[3][2] == "optimizer_installed"
    assert mod.data_shapes[0].shape == (10, 8)


def test_failing_listener_never_breaks_training():
    mod = bound_module()
    mod.init_optimizer()

    def broken(event):
        raise RuntimeError("listener bug")
    mod.events.subscribe(broken)
    X, y = toy_data(20)
    with pytest.warns(RuntimeWarning, match="listener bug"):
        mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
    assert mod.events.errors and mod.events.errors[0][0] == "forward"


def test_bind_errors_name_the_problem():
    with pytest.raises(MXNetError, match="dat"):
        mx.mod.Module(make_net(), data_names=("dat",))
    mod = mx.mod.Module(make_net())
    # as MXNet 1.9.1: no label shapes binds, labels inferred, label_shapes is None
    mod.bind(data_shapes=[("data", (4, 8))])
    assert mod.label_shapes is None
    mod = mx.mod.Module(make_net())
    with pytest.raises(MXNetError, match="data_names"):
        mod.bind(data_shapes=[("x", (4, 8))], label_shapes=[("softmax_label", (4,))])
    with pytest.raises(MXNetError, match="work_load_list"):
        mx.mod.Module(make_net(), context=[mx.cpu(0), mx.cpu(1)], work_load_list=[1])


def test_work_load_slices():
    assert split_input_slice(10, [1, 4]) == [slice(0, 2), slice(2, 10)]
    assert split_input_slice(7, [1, 1]) == [slice(0, 4), slice(4, 7)]
    with pytest.raises(MXNetError, match="too small"):
        split_input_slice(2, [1, 1, 1])
    mod = mx.mod.Module(make_net(), context=[mx.cpu(0), mx.cpu(1)], work_load_list=[1, 4])
    mod.bind(data_shapes=[("data", (20, 8))], label_shapes=[("softmax_label", (20,))])
    group = mod.exec_group
    assert group.slices == [slice(0, 4), slice(4, 20)]
    assert [e.arg_dict["data"].shape for e in group.execs] == [(4, 8), (16, 8)]
    assert [e.context for e in group.execs] == [mx.cpu(0), mx.cpu(1)]
    w0, w1 = (e.arg_dict["fc1_weight"] for e in group.execs)
    assert w0._data is not w1._data and not np.shares_memory(w0._data, w1._data)


@pytest.mark.parametrize("optimizer,params", [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3}),
    ("adam", {"learning_rate": 0.01}),
])
def test_two_devices_match_one_device(optimizer, params):
    X, y = toy_data(120)
    results = []
    for ctx, kv in (([mx.cpu(0)], "local"), ([mx.cpu(0), mx.cpu(1)], "local"),
                    ([mx.cpu(0), mx.cpu(1)], "device")):
        it = mx.io.NDArrayIter(X, y, batch_size=20)
        mod = mx.mod.Module(make_net(), context=ctx)
        mod.fit(it, num_epoch=2, optimizer=optimizer, optimizer_params=params, kvstore=kv,
                arg_params=nd_params(init_params()))
        results.append(mod.get_params()[0])
    for other in results[1:]:
        for name, value in results[0].items():
            np.testing.assert_allclose(other[name].asnumpy(), value.asnumpy(), rtol=1e-4,
                                       atol=1e-5, err_msg=name)


def test_sgd_step_matches_numpy():
    mod = bound_module()
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "wd": 0.01})
    X, y = toy_data(20)
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
    grads = {n: mod.exec_group.execs[0].grad_dict[n].asnumpy().copy() for n in init_params()}
    mod.update()
    new = mod.get_params()[0]
    for name, w0 in init_params().items():
        wd = 0.01 if name.endswith("_weight") else 0.0     # MXNet: no decay on biases
        want = w0 - 0.1 * (grads[name] / 20 + wd * w0)
        np.testing.assert_allclose(new[name].asnumpy(), want, rtol=1e-5, atol=1e-7,
                                   err_msg=name)


def test_get_params_returns_copies_and_set_params_checks():
    mod = bound_module()
    args, aux = mod.get_params()
    args["fc1_weight"][:] = 123.0
    assert mod.get_params()[0]["fc1_weight"].asnumpy().max() < 1.0
    assert args["fc1_weight"].context == mx.cpu()
    bad = nd_params(init_params())
    bad["fc1_weight"] = mx.nd.zeros((3, 3))
    with pytest.raises(ShapeError, match=r"fc1_weight.*\(3, 3\).*\(16, 8\)"):
        mod.set_params(bad, {})
    extra = nd_params(init_params())
    extra["ghost"] = mx.nd.zeros(1)
    # as MXNet 1.9.1: extra names are ignored on the allow_missing=False path and refused
    # (ValueError) on the allow_missing=True, allow_extra=False path
    mod.set_params(extra, {})
    with pytest.raises(ValueError, match="ghost"):
        mod.set_params(extra, {}, allow_missing=True)
    mod.set_params(extra, {}, allow_extra=True)
    missing = nd_params(init_params())
    del missing["fc2_bias"]
    with pytest.raises(MXNetError, match="fc2_bias"):
        mod.set_params(missing, {})


def test_forward_with_other_batch_size_reshapes():
    mod = bound_module()
    X, y = toy_data(7)
    mod.forward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]), is_train=False)
    assert mod.get_outputs()[0].shape == (7, 10)
    assert mod.data_shapes[0].shape == (7, 8)
    assert mod.output_shapes == [("softmax_output", (7, 10))]


def test_inputs_need_grad_and_fixed_params():
    mod = mx.mod.Module(make_net(), fixed_param_names=["fc1_weight"])
    mod.bind(data_shapes=[("data", (5, 8))], label_shapes=[("softmax_label", (5,))],
             inputs_need_grad=True)
    mod.init_params(arg_params=nd_params(init_params()))
    mod.init_optimizer(optimizer_params={"learning_rate": 1.0})
    X, y = toy_data(5)
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
    (g,) = mod.get_input_grads()
    assert g.shape == (5, 8) and np.abs(g.asnumpy()).sum() > 0
    mod.update()
    after = mod.get_params()[0]
    np.testing.assert_array_equal(after["fc1_weight"].asnumpy(), init_params()["fc1_weight"])
    assert not np.allclose(after["fc2_weight"].asnumpy(), init_params()["fc2_weight"])


def test_predict_drops_padding_and_score():
    X, y = toy_data(45)
    it = mx.io.NDArrayIter(X, y, batch_size=20, last_batch_handle="pad")
    mod = bound_module()
    out = mod.predict(it)
    assert out.shape == (45, 10)
    parts = mod.predict(it, merge_batches=False)
    assert [p[0].shape[0] for p in parts] == [20, 20, 5]
    assert isinstance(mod.predict(it, always_output_list=True), list)
    (name, acc), = mod.score(it, "acc")
    assert name == "accuracy" and 0.0 <= acc <= 1.0
    outs = list(mod.iter_predict(it))
    assert [o[1] for o in outs] == [0, 1, 2] and outs[2][0][0].shape == (5, 10)


def test_checkpoint_round_trip_continues_identically(tmp_path):
    X, y = toy_data(80)
    prefix = str(tmp_path / "mlp")

    def run(mod, epochs, begin=0):
        it = mx.io.NDArrayIter(X, y, batch_size=20)
        mod.fit(it, num_epoch=epochs, begin_epoch=begin, optimizer="sgd",
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
                arg_params=None if begin else nd_params(init_params()))

    straight = mx.mod.Module(make_net())
    run(straight, 4)
    first = mx.mod.Module(make_net())
    run(first, 2)
    first.save_checkpoint(prefix, 2, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ["mlp-0002.params", "mlp-0002.states",
                                            "mlp-symbol.json"]
    resumed = mx.mod.Module.load(prefix, 2, load_optimizer_states=True)
    run(resumed, 4, begin=2)
    for name, value in straight.get_params()[0].items():
        np.testing.assert_allclose(resumed.get_params()[0][name].asnumpy(), value.asnumpy(),
                                   rtol=1e-6, atol=1e-7, err_msg=name)


def test_checkpoint_errors(tmp_path):
    prefix = str(tmp_path / "m")
    with pytest.raises(MXNetError, match="does not exist"):
        mx.mod.Module.load(prefix, 1)
    mod = bound_module()
    mod.save_checkpoint(prefix, 1)
    params = tmp_path / "m-0001.params"
    params.write_bytes(params.read_bytes()[:40])
    with pytest.raises(MXNetError, match="m-0001.params"):
        mx.mod.Module.load(prefix, 1)
    mod.save_checkpoint(prefix, 3)
    with pytest.raises(MXNetError, match="states"):
        mx.mod.Module.load(prefix, 3, load_optimizer_states=True)


def test_save_load_params(tmp_path):
    mod = bound_module()
    f = str(tmp_path / "p.params")
    mod.save_params(f)
    other = mx.mod.Module(make_net())
    other.bind(data_shapes=[("data", (20, 8))], label_shapes=[("softmax_label", (20,))])
    other.load_params(f)
    for name, value in mod.get_params()[0].items():
        np.testing.assert_array_equal(other.get_params()[0][name].asnumpy(), value.asnumpy())


def test_states_and_get_states_merge():
    data = mx.sym.Variable("data")
    state = mx.sym.Variable("state")
    net = mx.sym.FullyConnected(data, num_hidden=3, name="fc") + state
    mod = mx.mod.Module(net, data_names=["data"], label_names=None, state_names=["state"],
                        context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(data_shapes=[("data", (4, 2))], for_training=False)
    mod.init_params()
    mod.set_states(value=2.0)
    merged = mod.get_states(merge_multi_context=True)
    assert merged[0].shape == (4, 3) and np.all(merged[0].asnumpy() == 2.0)
    per_dev = mod.get_states(merge_multi_context=False)
    assert len(per_dev[0]) == 2 and per_dev[0][0].shape == (2, 3)


def test_monitor_collects_stats(caplog):
    mod = bound_module()
    mod.init_optimizer()
    mon = mx.mon.Monitor(1, pattern="fc.*")
    mod.install_monitor(mon)
    X, y = toy_data(20)
    mon.tic()
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
    res = mon.toc()
    names = [r[1] for r in res]
    assert "fc1_output" in names and "fc2_weight" in names and "relu1_output" not in names
    value = float(res[names.index("fc1_weight")][2].split()[0].strip("[]"))
    w = init_params()["fc1_weight"]
    assert value == pytest.approx(np.linalg.norm(w) / np.sqrt(w.size), rel=1e-5)


FIT_PARITY = NET + """
mod = mx.mod.Module(net, context=mx.cpu())
it = mx.io.NDArrayIter(X, y, batch_size=20)
accs = []
def cb(epoch, sym, arg, aux):
    pass
metric = mx.metric.Accuracy()
class Rec:
    def __init__(self): self.v = []
    def __call__(self, param):
        self.v.append(param.eval_metric.get()[1])
rec = Rec()
mod.fit(it, num_epoch=4, optimizer='sgd',
        optimizer_params={'learning_rate': 0.2, 'momentum': 0.9, 'wd': 1e-4},
        arg_params={k: mx.nd.array(v) for k, v in params.items()}, eval_metric=metric,
        eval_data=mx.io.NDArrayIter(Xv, yv, batch_size=20), batch_end_callback=rec)
out['batch_acc'] = rec.v
out['score'] = mod.score(mx.io.NDArrayIter(Xv, yv, batch_size=20), 'acc')
out['params'] = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
"""


@pytest.mark.oracle
def test_fit_accuracy_curve_matches_mxnet():
    X, y = toy_data(200)
    Xv, yv = toy_data(60, seed=7)
    ref = run_oracle(FIT_PARITY, X=X, y=y, Xv=Xv, yv=yv, params=init_params())
    scope = {"mx": mx, "np": np, "X": X, "y": y, "Xv": Xv, "yv": yv, "params": init_params(),
             "out": {}}
    exec(FIT_PARITY, scope)
    mine = scope["out"]
    np.testing.assert_allclose(mine["batch_acc"], ref["batch_acc"], atol=1e-4)
    assert mine["score"][0][0] == ref["score"][0][0]
    assert mine["score"][0][1] == pytest.approx(ref["score"][0][1], abs=1e-4)
    for name, value in ref["params"].items():
        np.testing.assert_allclose(mine["params"][name], value, rtol=1e-4, atol=1e-5)


@pytest.mark.oracle
def test_checkpoints_cross_between_mxnet_and_mxteach(tmp_path):
    X, _ = toy_data(30)
    ref = run_oracle(NET + """
mod = mx.mod.Module(net)
mod.bind(data_shapes=[('data', (30, 8))], for_training=False)
mod.init_params(mx.init.Xavier())
mod.save_checkpoint(workdir + '/mx', 3)
out['pred'] = mod.predict(mx.io.NDArrayIter(X, batch_size=30)).asnumpy()
out['files'] = {f: open(workdir + '/' + f, 'rb').read() for f in ['mx-symbol.json', 'mx-0003.params']}
""", X=X)
    for name, blob in ref["files"].items():
        (tmp_path / name).write_bytes(blob)
    mod = mx.mod.Module.load(str(tmp_path / "mx"), 3)
    mod.bind(data_shapes=[("data", (30, 8))], for_training=False)
    pred = mod.predict(mx.io.NDArrayIter(X, batch_size=30)).asnumpy()
    np.testing.assert_allclose(pred, ref["pred"], rtol=1e-5, atol=1e-7)

    mine = bound_module()
    mine.save_checkpoint(str(tmp_path / "mt"), 5)
    want = mine.predict(mx.io.NDArrayIter(X, batch_size=30)).asnumpy()
    back = run_oracle("""
mod = mx.mod.Module.load(prefix, 5)
mod.bind(data_shapes=[('data', (30, 8))], for_training=False)
out['pred'] = mod.predict(mx.io.NDArrayIter(X, batch_size=30)).asnumpy()
""", X=X, prefix=str(tmp_path / "mt"))
    np.testing.assert_allclose(back["pred"], want, rtol=1e-5, atol=1e-7)


def test_group2ctxs_places_arrays_by_ctx_group():
    with mx.sym.AttrScope(ctx_group="dev1"):
        d = mx.sym.Variable("data")
        h = mx.sym.FullyConnected(d, num_hidden=4, name="fc1")
    with mx.sym.AttrScope(ctx_group="dev2"):
        o = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                 name="softmax")
    mod = mx.mod.Module(o, group2ctxs={"dev1": mx.cpu(1), "dev2": mx.cpu(2)})
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer()
    mod.forward_backward(mx.io.DataBatch([mx.nd.ones((4, 5))], [mx.nd.zeros(4)]))
    mod.update()
    where = {r.name: r.device for r in mod.exec_group.execs[0].memory_report()}
    assert where["fc1_weight"] == "cpu(1)" and where["fc1_weight_grad"] == "cpu(1)"
    assert where["fc2_weight"] == "cpu(2)" and where["fc2_output"] == "cpu(2)"
    assert where["fc1_output"] == "cpu(1)"
    assert mod.get_params()[0]["fc1_weight"].context == mx.cpu(0)   # CPU copies


def test_batchnorm_module_initializes_running_stats_by_attribute():
    d = mx.sym.Variable("data")
    h = mx.sym.BatchNorm(mx.sym.FullyConnected(d, num_hidden=4, name="fc1"), name="bn1")
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(h, name="softmax"))
    mod.bind([("data", (6, 3))], [("softmax_label", (6,))])
    mod.init_params()
    aux = mod.get_params()[1]
    np.testing.assert_array_equal(aux["bn1_moving_mean"].asnumpy(), np.zeros(4))
    np.testing.assert_array_equal(aux["bn1_moving_var"].asnumpy(), np.ones(4))
    X, y = toy_data(6, d=3, k=4)
    mod.init_optimizer()
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
    mod.update()
    assert not np.allclose(mod.get_params()[1]["bn1_moving_mean"].asnumpy(), 0)


def test_monitor_follows_reshaped_executors():
    mod = bound_module()
    mon = mx.mon.Monitor(1, pattern="data")
    mod.install_monitor(mon)
    X, y = toy_data(7)
    mod.forward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]), is_train=False)
    assert mon.exes == mod.exec_group.execs
    mon.tic()
    mod.forward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]), is_train=False)
    (step, name, text), = mon.toc()
    assert name == "data"
    assert float(text.split()[0].strip("[]")) == pytest.approx(
        np.linalg.norm(X) / np.sqrt(X.size), rel=1e-5)


def test_fit_emits_begin_and_end_and_optimizer_is_visible():
    X, y = toy_data(40)
    mod = mx.mod.Module(make_net())
    kinds = []
    mod.events.subscribe(lambda e: kinds.append((e.kind, dict(e.data))),
                         kinds={"fit_begin", "fit_end", "init_params"})
    assert mod.optimizer is None
    mod.fit(mx.io.NDArrayIter(X, y, batch_size=20), num_epoch=2,
            eval_data=mx.io.NDArrayIter(X, y, batch_size=20))
    fit_kinds = [(k, d) for k, d in kinds if k.startswith("fit_")]
    assert [k for k, _ in fit_kinds] == ["fit_begin", "fit_end"]
    assert fit_kinds[1][1] == {"begin_epoch": 0, "num_epoch": 2, "had_eval": True}
    # fit re-sets the parameters at each epoch end (as MXNet); the event says so
    calls = [d["call"] for k, d in kinds if k == "init_params"]
    assert calls == ["init_params", "set_params", "set_params"]
    assert isinstance(mod.optimizer, mx.optimizer.SGD)


def test_event_stream_wants_only_subscribed_kinds():
    stream = mx.events.EventStream()
    assert not stream.wants("forward")
    stream.subscribe(lambda e: None, kinds={"update"})
    assert stream.wants("update") and not stream.wants("forward")
    assert stream.emit("forward") is None
    child = mx.events.EventStream()
    child.forward_to(stream)
    assert child.wants("update") and not child.wants("batch_end")


def test_slice_counts_never_raise():
    from mxteach.module.executor_group import slice_counts
    assert slice_counts(2, [1, 1, 1]) == [1, 1, 0]
    assert slice_counts(10, [1, 4]) == [2, 8]
    assert sum(slice_counts(7, [3, 3, 3])) == 7
