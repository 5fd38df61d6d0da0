"""BucketingModule, SequentialModule, PythonModule, PythonLossModule."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError


def sym_gen(seq_len):
    if seq_len > 50:
        raise ValueError(f"no bucket for length {seq_len}")
    data = mx.sym.Variable("data")
    emb = mx.sym.Embedding(data, input_dim=20, output_dim=4, name="embed")
    flat = mx.sym.Reshape(emb, shape=(0, -1))
    # a parameter whose shape does not depend on the bucket
    h = mx.sym.sum(flat, axis=1, keepdims=True)
    fc = mx.sym.FullyConnected(mx.sym.broadcast_mul(h, mx.sym.ones_like(h)), num_hidden=5,
                               name="fc")
    out = mx.sym.SoftmaxOutput(fc, name="softmax")
    return out, ("data",), ("softmax_label",)


def batch(seq_len, n=4, seed=0):
    rs = np.random.RandomState(seed + seq_len)
    data = rs.randint(0, 20, (n, seq_len)).astype("f")
    label = rs.randint(0, 5, n).astype("f")
    return mx.io.DataBatch([mx.nd.array(data)], [mx.nd.array(label)], bucket_key=seq_len,
                           provide_data=[mx.io.DataDesc("data", (n, seq_len))],
                           provide_label=[mx.io.DataDesc("softmax_label", (n,))])


def bucketing(default=8):
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=default)
    mod.bind(data_shapes=[("data", (4, default))], label_shapes=[("softmax_label", (4,))])
    mod.init_params(initializer=mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.5})
    return mod


def test_buckets_share_parameter_and_gradient_memory():
    mod = bucketing()
    mod.forward(batch(3))
    assert mod.current_bucket_key == 3 and sorted(mod.buckets) == [3, 8]
    e8 = mod.buckets[8].exec_group.execs[0]
    e3 = mod.buckets[3].exec_group.execs[0]
    for name in ("embed_weight", "fc_weight", "fc_bias"):
        assert e8.arg_dict[name] is e3.arg_dict[name]
        assert e8.grad_dict[name] is e3.grad_dict[name]
    shared = {r.name: r.shared_with for r in e3.memory_report()}
    assert shared["fc_weight"] == "shared_exec" and shared["fc_weight_grad"] == "shared_exec"
    assert shared["data"] == "shared_buffer"
    info = mod.bucket_info()
    assert info[3]["shared_bytes"] > 0 and info[8]["default"] and info[3]["current"]


def test_update_in_one_bucket_is_seen_by_all():
    mod = bucketing()
    before = mod.get_params()[0]["fc_weight"].asnumpy()
    mod.forward(batch(3), is_train=True)
    mod.backward()
    mod.update()
    after = mod.get_params()[0]["fc_weight"].asnumpy()
    assert not np.allclose(before, after)
    w8 = mod.buckets[8].exec_group.execs[0].arg_dict["fc_weight"].asnumpy()
    np.testing.assert_array_equal(w8, after)
    mod.forward(batch(8), is_train=False)
    assert mod.current_bucket_key == 8


def test_each_bucket_binds_once_and_history_records_switches():
    mod = bucketing()
    binds = []
    mod.events.subscribe(lambda e: binds.append(e.data["to_key"]) if e.data.get("newly_bound")
                         else None, kinds={"switch_bucket"})
    for key in (3, 5, 3, 8, 5, 3):
        mod.forward(batch(key), is_train=False)
    assert binds == [3, 5]
    assert [h[2] for h in mod.switch_history] == [3, 5, 3, 8, 5, 3]
    assert [h[3] for h in mod.switch_history] == [True, True, False, False, False, False]
    assert mod.symbol is mod.buckets[3].symbol


def test_bucketing_errors():
    with pytest.raises(MXNetError, match="default_bucket_key"):
        mx.mod.BucketingModule(sym_gen)
    mod = bucketing()
    with pytest.raises(MXNetError, match="rejected bucket key 99"):
        mod.forward(batch(99))
    with pytest.raises(MXNetError, match="shared_module"):
        mx.mod.BucketingModule(sym_gen, 8).bind([("data", (4, 8))],
                                                [("softmax_label", (4,))], shared_module=mod)


def test_state_arrays_do_not_leak_between_buckets():
    def gen(key):
        data = mx.sym.Variable("data")
        state = mx.sym.Variable("state")
        out = mx.sym.FullyConnected(data, num_hidden=3, name="fc") + state
        return out, ("data",), None
    mod = mx.mod.BucketingModule(gen, default_bucket_key=4, state_names=["state"])
    mod.bind(data_shapes=[("data", (2, 4))], for_training=False)
    mod.init_params()
    mod.set_states(value=7.0)
    # same feature size in both buckets: parameters of one name must keep one shape (MXNet
    # refuses to share fc_weight of (3, 4) with a bucket that needs (3, 2))
    mod.forward(mx.io.DataBatch([mx.nd.ones((2, 4))], bucket_key=2,
                                provide_data=[mx.io.DataDesc("data", (2, 4))]))
    mod.set_states(value=-1.0)
    s2 = mod.buckets[2].exec_group.execs[0].arg_dict["state"]
    s4 = mod.buckets[4].exec_group.execs[0].arg_dict["state"]
    assert not np.shares_memory(s2._data, s4._data)
    assert np.all(s4.asnumpy() == 7.0) and np.all(s2.asnumpy() == -1.0)


def test_bucketing_checkpoint_round_trip(tmp_path):
    mod = bucketing()
    for key in (3, 5):
        mod.forward(batch(key), is_train=True)
        mod.backward()
        mod.update()
    prefix = str(tmp_path / "bk")
    mod.save_checkpoint(prefix, 1)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["bk-0001.params", "bk-3-symbol.json", "bk-5-symbol.json",
                     "bk-8-symbol.json", "bk.buckets"]
    loaded = mx.mod.BucketingModule.load(prefix, 1, sym_gen=sym_gen, default_bucket_key=8)
    loaded.bind(data_shapes=[("data", (4, 8))], label_shapes=[("softmax_label", (4,))],
                for_training=False)
    for key in (3, 5, 8):
        mod.forward(batch(key), is_train=False)
        loaded.forward(batch(key), is_train=False)
        np.testing.assert_allclose(loaded.get_outputs()[0].asnumpy(),
                                   mod.get_outputs()[0].asnumpy(), rtol=1e-6)
    for name, value in mod.get_params()[0].items():
        np.testing.assert_array_equal(loaded.get_params()[0][name].asnumpy(), value.asnumpy())


# -- SequentialModule -----------------------------------------------------------------------
def three_modules():
    d = mx.sym.Variable("data")
    m1 = mx.mod.Module(mx.sym.Activation(mx.sym.FullyConnected(d, num_hidden=6, name="fc1"),
                                         act_type="tanh", name="t1"), label_names=None)
    d2 = mx.sym.Variable("data")
    m2 = mx.mod.Module(mx.sym.Activation(mx.sym.FullyConnected(d2, num_hidden=5, name="fc2"),
                                         act_type="relu", name="r2"), label_names=None)
    d3 = mx.sym.Variable("data")
    m3 = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(d3, num_hidden=3,
                                                                  name="fc3"), name="softmax"))
    return m1, m2, m3


def fused():
    d = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(d, num_hidden=6, name="fc1"), act_type="tanh")
    h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=5, name="fc2"), act_type="relu")
    return mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3,
                                                                    name="fc3"),
                                              name="softmax"))


def seq_params():
    rs = np.random.RandomState(3)
    shapes = {"fc1_weight": (6, 4), "fc1_bias": (6,), "fc2_weight": (5, 6), "fc2_bias": (5,),
              "fc3_weight": (3, 5), "fc3_bias": (3,)}
    return {k: mx.nd.array(rs.uniform(-0.5, 0.5, s)) for k, s in shapes.items()}


def test_sequential_equals_fused_module():
    m1, m2, m3 = three_modules()
    seq = mx.mod.SequentialModule()
    assert seq.add(m1).add(m2, auto_wiring=True).add(m3, take_labels=True,
                                                      auto_wiring=True) is seq
    shapes = dict(data_shapes=[("data", (8, 4))], label_shapes=[("softmax_label", (8,))])
    one = fused()
    rs = np.random.RandomState(0)
    b = mx.io.DataBatch([mx.nd.array(rs.randn(8, 4))], [mx.nd.array(rs.randint(0, 3, 8))])
    for mod in (seq, one):
        mod.bind(inputs_need_grad=True, **shapes)
        mod.init_params(arg_params=seq_params(), aux_params={})
        mod.init_optimizer(optimizer_params={"learning_rate": 0.3, "momentum": 0.9})
    assert seq.for_training and seq.inputs_need_grad        # MXNet leaves these False
    for _ in range(3):
        for mod in (seq, one):
            mod.forward_backward(b)
        np.testing.assert_allclose(seq.get_outputs()[0].asnumpy(),
                                   one.get_outputs()[0].asnumpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(seq.get_input_grads()[0].asnumpy(),
                                   one.get_input_grads()[0].asnumpy(), rtol=1e-5, atol=1e-7)
        for mod in (seq, one):
            mod.update()
    for name, value in one.get_params()[0].items():
        np.testing.assert_allclose(seq.get_params()[0][name].asnumpy(), value.asnumpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    metric = mx.metric.Accuracy()
    seq.update_metric(metric, b.label)
    assert metric.num_inst == 8
    junctions = seq.junctions()
    assert [j[2] for j in junctions] == [[("data", (8, 4))], [("data", (8, 6))],
                                         [("data", (8, 5))]]
    assert [j[3] for j in junctions] == [[("t1_output", (8, 6))], [("r2_output", (8, 5))],
                                         [("softmax_output", (8, 3))]]
    assert [j[4] for j in junctions] == [False, False, True]


def test_sequential_errors():
    m1, m2, m3 = three_modules()
    seq = mx.mod.SequentialModule().add(m1).add(m2, auto_wiring=True)
    with pytest.raises(MXNetError, match="unknown option"):
        seq.add(m3, take_label=True)
    seq.bind(data_shapes=[("data", (2, 4))], for_training=False)
    seq.add(m3)                      # as MXNet 1.9.1: allowed, the chain is unbound again
    assert not seq.binded and not seq.params_initialized
    with pytest.raises(MXNetError, match="empty"):
        mx.mod.SequentialModule().bind(data_shapes=[("data", (2, 4))])
    d = mx.sym.Variable("data")
    picky = mx.mod.Module(mx.sym.Reshape(d, shape=(2, 9), name="p"), label_names=None)
    bad = mx.mod.SequentialModule().add(three_modules()[0]).add(picky, auto_wiring=True)
    with pytest.raises(ShapeError, match=r"junction 0→1.*\(2, 6\)"):
        bad.bind(data_shapes=[("data", (2, 4))], for_training=False)


def test_python_loss_module_drives_training():
    d = mx.sym.Variable("data")
    net = mx.mod.Module(mx.sym.FullyConnected(d, num_hidden=3, name="fc"), label_names=None)

    def grad(scores, labels):          # squared-error gradient, written by hand
        return (scores.asnumpy() - labels.asnumpy()) / scores.shape[0]
    loss = mx.mod.PythonLossModule(grad_func=grad, label_names=("lbl",))
    seq = mx.mod.SequentialModule().add(net).add(loss, take_labels=True, auto_wiring=True)
    rs = np.random.RandomState(1)
    X = rs.randn(32, 5).astype("f")
    Y = X @ rs.randn(5, 3).astype("f")
    it = mx.io.NDArrayIter(X, Y, batch_size=8, label_name="lbl")
    seq.fit(it, num_epoch=15, optimizer_params={"learning_rate": 0.5}, eval_metric="mse",
            initializer=mx.init.Zero())
    (name, mse), = seq.score(it, "mse")
    assert mse < 0.05 * float(np.mean(Y ** 2))
    assert loss.binded and loss.stage in ("params_initialized", "optimizer_installed")


def test_python_module_defaults_and_errors():
    pm = mx.mod.PythonModule(["data"], None, ["out"])
    pm.bind(data_shapes=[("data", (3, 2))])
    assert pm.binded and pm.output_shapes == [("out", (3, 2))]     # MXNet never sets binded
    assert pm.get_params() == ({}, {})
    with pytest.raises(MXNetError, match="grad_req"):
        mx.mod.PythonModule(["data"], None, ["out"]).bind([("data", (3, 2))], grad_req="add")
    loss = mx.mod.PythonLossModule()
    loss.bind([("data", (2, 3))], [("softmax_label", (2,))])
    loss.forward(mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.zeros(2)]), is_train=True)
    with pytest.raises(MXNetError, match="grad_func"):
        loss.backward()


def test_bucketing_predict_with_plain_iterator_uses_default_bucket():
    mod = bucketing()
    X = np.random.RandomState(2).randint(0, 20, (10, 8)).astype("f")
    out = mod.predict(mx.io.NDArrayIter(X, batch_size=4))
    assert out.shape == (10, 5) and mod.current_bucket_key == 8
