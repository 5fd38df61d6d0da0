"""Executors: binding, forward/backward, grad_req, reshape, monitor, memory plan; parity of an
MLP and a small conv net with real MXNet 1.9.1 (forward and backward to 1e-5)."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError
from oracle import run_oracle

MLP_CODE = """
data = mx.sym.Variable('data')
h = mx.sym.FullyConnected(data, num_hidden=16, name='fc1')
h = mx.sym.Activation(h, act_type='tanh', name='act1')
h = mx.sym.FullyConnected(h, num_hidden=5, name='fc2')
net = mx.sym.SoftmaxOutput(h, name='softmax')
"""

CONV_CODE = """
data = mx.sym.Variable('data')
h = mx.sym.Convolution(data, kernel=(3, 3), num_filter=4, pad=(1, 1), name='conv1')
h = mx.sym.BatchNorm(h, fix_gamma=False, name='bn1')
h = mx.sym.Activation(h, act_type='relu', name='relu1')
h = mx.sym.Pooling(h, kernel=(2, 2), stride=(2, 2), pool_type='max', name='pool1')
h = mx.sym.Convolution(h, kernel=(3, 3), num_filter=6, name='conv2')
h = mx.sym.Pooling(h, global_pool=True, kernel=(1, 1), pool_type='avg', name='gap')
h = mx.sym.Flatten(h, name='flat')
h = mx.sym.FullyConnected(h, num_hidden=3, name='fc')
net = mx.sym.SoftmaxOutput(h, name='softmax')
"""

RUN_CODE = """
exe = net.simple_bind(mx.cpu(), data=shape)
for k, v in params.items():
    exe.arg_dict[k][:] = v
for k, v in aux.items():
    exe.aux_dict[k][:] = v
exe.arg_dict['data'][:] = x
exe.arg_dict['softmax_label'][:] = y
exe.forward(is_train=True)
exe.backward()
out['outputs'] = [o.asnumpy() for o in exe.outputs]
out['grads'] = {k: v.asnumpy() for k, v in exe.grad_dict.items() if v is not None}
out['aux'] = {k: v.asnumpy() for k, v in exe.aux_dict.items()}
"""


def _build(code):
    scope = {"mx": mx}
    exec(code, scope)
    return scope["net"]


def _params(net, shape, seed=0):
    rs = np.random.RandomState(seed)
    arg_shapes, _, aux_shapes = net.infer_shape(data=shape)
    params = {n: rs.uniform(-0.5, 0.5, s).astype(np.float32)
              for n, s in zip(net.list_arguments(), arg_shapes)
              if n not in ("data", "softmax_label")}
    aux = {n: (rs.uniform(0.5, 1.5, s) if "var" in n else rs.uniform(-0.2, 0.2, s))
           .astype(np.float32) for n, s in zip(net.list_auxiliary_states(), aux_shapes)}
    x = rs.randn(*shape).astype(np.float32)
    y = rs.randint(0, net.infer_shape(data=shape)[1][0][1], shape[0]).astype(np.float32)
    return params, aux, x, y


def _run_here(net, shape, params, aux, x, y):
    exe = net.simple_bind(mx.cpu(), data=shape)
    exe.copy_params_from({k: mx.nd.array(v) for k, v in params.items()},
                         {k: mx.nd.array(v) for k, v in aux.items()})
    exe.forward(is_train=True, data=mx.nd.array(x), softmax_label=mx.nd.array(y))
    exe.backward()
    return exe


@pytest.mark.oracle
@pytest.mark.parametrize("code,shape", [(MLP_CODE, (6, 7)), (CONV_CODE, (4, 2, 8, 8))],
                         ids=["mlp", "convnet"])
def test_forward_backward_parity_with_mxnet(code, shape):
    net = _build(code)
    params, aux, x, y = _params(net, shape)
    exe = _run_here(net, shape, params, aux, x, y)
    ref = run_oracle(code + RUN_CODE, params=params, aux=aux, x=x, y=y, shape=shape)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), ref["outputs"][0], rtol=1e-5,
                               atol=1e-6)
    for name, g in ref["grads"].items():
        if name in ("data", "softmax_label"):
            continue
        np.testing.assert_allclose(exe.grad_dict[name].asnumpy(), g, rtol=1e-5, atol=1e-5,
                                   err_msg=name)
    np.testing.assert_allclose(exe.grad_dict["data"].asnumpy(), ref["grads"]["data"],
                               rtol=1e-5, atol=1e-5)
    for name, a in ref["aux"].items():
        np.testing.assert_allclose(exe.aux_dict[name].asnumpy(), a, rtol=1e-5, atol=1e-6)


def test_grad_req_add_write_null():
    net = _build(MLP_CODE)
    shape = (3, 4)
    params, aux, x, y = _params(net, shape)
    reqs = {"fc1_weight": "add", "fc2_weight": "write", "data": "null"}
    exe = net.simple_bind(mx.cpu(), data=shape, grad_req=reqs)
    assert "data" not in exe.grad_dict and "fc1_bias" not in exe.grad_dict
    exe.copy_params_from({k: mx.nd.array(v) for k, v in params.items()})
    exe.forward(is_train=True, data=mx.nd.array(x), softmax_label=mx.nd.array(y))
    exe.backward()
    once_add = exe.grad_dict["fc1_weight"].asnumpy().copy()
    once_write = exe.grad_dict["fc2_weight"].asnumpy().copy()
    exe.backward()
    np.testing.assert_allclose(exe.grad_dict["fc1_weight"].asnumpy(), 2 * once_add, rtol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["fc2_weight"].asnumpy(), once_write, rtol=1e-6)
    with pytest.raises(MXNetError, match="grad_req"):
        net.simple_bind(mx.cpu(), data=shape, grad_req="sometimes")


def test_shared_weight_gradients_accumulate():
    x = mx.sym.Variable("x")
    w = mx.sym.Variable("w")
    h = mx.sym.FullyConnected(x, weight=w, num_hidden=3, no_bias=True, name="a")
    h = mx.sym.FullyConnected(h, weight=w, num_hidden=3, no_bias=True, name="b")
    exe = h.simple_bind(mx.cpu(), x=(2, 3))
    rs = np.random.RandomState(1)
    X, W = rs.rand(2, 3).astype("f"), rs.rand(3, 3).astype("f")
    exe.forward(is_train=True, x=mx.nd.array(X), w=mx.nd.array(W))
    G = rs.rand(2, 3).astype("f")
    exe.backward(mx.nd.array(G))
    H = X @ W.T
    want = G.T @ H + (G @ W).T @ X
    np.testing.assert_allclose(exe.grad_dict["w"].asnumpy(), want, rtol=1e-5)
    np.testing.assert_allclose(exe.grad_dict["x"].asnumpy(), (G @ W) @ W, rtol=1e-5)


def test_bind_with_given_arrays_and_errors():
    x = mx.sym.Variable("x")
    net = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    args = {"x": mx.nd.ones((3, 4)), "fc_weight": mx.nd.ones((2, 4)), "fc_bias": mx.nd.zeros(2)}
    grads = {"fc_weight": mx.nd.zeros((2, 4))}
    exe = net.bind(mx.cpu(), args, args_grad=grads)
    assert exe.grad_req == {"x": "null", "fc_weight": "write", "fc_bias": "null"}
    exe.forward(is_train=True)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), np.full((3, 2), 4.0))
    exe.backward([mx.nd.ones((3, 2))])
    np.testing.assert_allclose(grads["fc_weight"].asnumpy(), np.full((2, 4), 3.0))
    with pytest.raises(MXNetError, match="head gradient is required"):
        exe.backward()
    with pytest.raises(MXNetError, match="missing"):
        net.bind(mx.cpu(), {"x": mx.nd.ones((3, 4))})
    with pytest.raises(ShapeError, match="fc_weight"):
        net.bind(mx.cpu(), {**args, "fc_weight": mx.nd.ones((2, 5))})
    with pytest.raises(MXNetError, match="cannot infer the shape"):
        net.simple_bind(mx.cpu())
    with pytest.raises(ShapeError, match="reshape"):
        exe.forward(x=mx.nd.ones((5, 4)))
    with pytest.raises(MXNetError, match="Did you mean 'x'"):
        exe.forward(xx=mx.nd.ones((3, 4)))


def test_reshape_shares_parameters():
    net = _build(MLP_CODE)
    exe = net.simple_bind(mx.cpu(), data=(4, 6))
    exe.arg_dict["fc1_weight"][:] = 0.5
    small = exe.reshape(data=(2, 6), softmax_label=(2,))
    assert small.arg_dict["fc1_weight"] is exe.arg_dict["fc1_weight"]
    assert small.arg_dict["data"].shape == (2, 6)
    with pytest.raises(MXNetError, match="allow_up_sizing"):
        exe.reshape(data=(8, 6), softmax_label=(8,))
    big = exe.reshape(allow_up_sizing=True, data=(8, 6), softmax_label=(8,))
    assert big.outputs[0].shape == (8, 5)


def test_monitor_callback_sees_every_output():
    net = _build(MLP_CODE)
    exe = net.simple_bind(mx.cpu(), data=(2, 3))
    seen = []
    exe.set_monitor_callback(lambda name, arr: seen.append((name, arr.shape)))
    exe.forward()
    assert [n for n, _ in seen] == ["fc1_output", "act1_output", "fc2_output",
                                    "softmax_output"]
    seen.clear()
    exe.set_monitor_callback(lambda name, arr: seen.append(name), monitor_all=True)
    exe.forward()
    assert "fc1_weight" in seen and "fc1_output" in seen


def test_memory_report_rows_and_planner_saving():
    net = _build(CONV_CODE)
    exe = net.simple_bind(mx.cpu(), data=(8, 2, 16, 16))
    rows = exe.memory_report()
    roles = {r.role for r in rows}
    assert {"argument", "gradient", "auxiliary", "output", "intermediate",
            "intermediate_grad"} <= roles
    for r in rows:
        assert r.bytes == int(np.prod(r.shape)) * np.dtype(r.dtype).itemsize
        assert r.device == "cpu(0)"
    shared = [r for r in rows if r.shared_with.count(":")]
    assert shared, "the planner should put some buffers in a shared arena"
    s = exe.memory_summary()
    assert s["saved_bytes"] > 0
    assert s["intermediate_planned_bytes"] < s["intermediate_naive_bytes"]
    inference = net.simple_bind(mx.cpu(), data=(8, 2, 16, 16), grad_req="null")
    si = inference.memory_summary()
    assert si["intermediate_planned_bytes"] < s["intermediate_planned_bytes"]
    assert si["saved_bytes"] / si["intermediate_naive_bytes"] > 0.3


def test_planned_buffers_give_same_numbers_as_fresh_ones():
    """Reuse must never change a result: compare against per-op imperative calls."""
    net = _build(CONV_CODE)
    shape = (2, 2, 8, 8)
    params, aux, x, y = _params(net, shape, seed=3)
    exe = net.simple_bind(mx.cpu(), data=shape, grad_req="null")
    exe.copy_params_from({k: mx.nd.array(v) for k, v in params.items()},
                         {k: mx.nd.array(v) for k, v in aux.items()})
    out = exe.forward(data=mx.nd.array(x))[0].asnumpy()
    nd = mx.nd
    p = {k: nd.array(v) for k, v in params.items()}
    a = {k: nd.array(v) for k, v in aux.items()}
    h = nd.Convolution(nd.array(x), p["conv1_weight"], p["conv1_bias"], kernel=(3, 3),
                       num_filter=4, pad=(1, 1))
    h = nd.BatchNorm(h, p["bn1_gamma"], p["bn1_beta"], a["bn1_moving_mean"],
                     a["bn1_moving_var"], fix_gamma=False)
    h = nd.Pooling(nd.Activation(h, act_type="relu"), kernel=(2, 2), stride=(2, 2),
                   pool_type="max")
    h = nd.Convolution(h, p["conv2_weight"], p["conv2_bias"], kernel=(3, 3), num_filter=6)
    h = nd.Pooling(h, global_pool=True, kernel=(1, 1), pool_type="avg")
    h = nd.FullyConnected(nd.Flatten(h), p["fc_weight"], p["fc_bias"], num_hidden=3)
    want = nd.softmax(h).asnumpy()
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_copy_params_from_errors():
    net = _build(MLP_CODE)
    exe = net.simple_bind(mx.cpu(), data=(2, 3))
    with pytest.raises(MXNetError, match="not an argument"):
        exe.copy_params_from({"nope": mx.nd.ones(1)})
    exe.copy_params_from({"nope": mx.nd.ones(1)}, allow_extra_params=True)
    with pytest.raises(ShapeError, match="fc1_weight"):
        exe.copy_params_from({"fc1_weight": mx.nd.ones((1, 1))})


@pytest.mark.oracle
def test_symbol_json_written_by_mxnet_loads_and_runs(tmp_path):
    net = _build(CONV_CODE)
    shape = (2, 2, 8, 8)
    params, aux, x, y = _params(net, shape, seed=5)
    ref = run_oracle(CONV_CODE + """
net.save(workdir + '/conv-symbol.json')
out['json'] = open(workdir + '/conv-symbol.json').read()
""" + RUN_CODE, params=params, aux=aux, x=x, y=y, shape=shape)
    loaded = mx.sym.load_json(ref["json"])
    exe = _run_here(loaded, shape, params, aux, x, y)
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), ref["outputs"][0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["conv1_weight"].asnumpy(),
                               ref["grads"]["conv1_weight"], rtol=1e-5, atol=1e-5)


def test_memory_report_shows_operator_workspaces_after_forward():
    d = mx.sym.Variable("data")
    c = mx.sym.Convolution(d, kernel=(3, 3), num_filter=4, name="c")
    exe = mx.sym.Dropout(c, name="dp").simple_bind(mx.cpu(), data=(2, 3, 8, 8))
    assert not [r for r in exe.memory_report() if r.role == "workspace"]
    exe.forward(is_train=True)
    work = {r.name: r for r in exe.memory_report() if r.role == "workspace"}
    # im2col columns: (C*KH*KW) x (N*OH*OW) floats, plus the row of ones that folds the bias
    # into the per-sample GEMMs of a convolution with few column rows (ops/conv.py)
    assert work["c:col"].bytes == (3 * 3 * 3 + 1) * 2 * 6 * 6 * 4
    assert work["dp:mask"].shape == (2, 4, 6, 6)
