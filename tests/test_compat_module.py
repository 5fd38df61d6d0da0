"""Module-level compatibility with MXNet 1.9.1 (issue 8, items 1, 2, 3, 5, 7, 8, 9).

Each parity test runs one snippet twice — here with ``mx = mxteach`` and in the oracle venv with
real MXNet — and compares what the snippet stored in ``out`` (values, shapes, dtypes, or the
builtin exception type raised). mxteach-only checks (events, clearer messages) follow.
"""
import textwrap
import warnings

import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

pytestmark = pytest.mark.oracle


def both(code, **inputs):
    """(mxteach's out, MXNet's out) of the same snippet."""
    ours = {}
    namespace = {"mx": mx, "np": np, "out": ours}
    namespace.update({k: v.copy() if isinstance(v, np.ndarray) else v
                      for k, v in inputs.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(textwrap.dedent(code), namespace)
    theirs = run_oracle(code, **inputs)
    return ours, theirs


# a snippet's way to record an exception by the builtin class scripts catch
ERR = """
def builtin_of(e):
    for cls in (NotImplementedError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, AssertionError, RuntimeError):
        if isinstance(e, cls):
            return cls.__name__
    return type(e).__name__
"""

MLP = """
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=4, name='fc1')
relu1 = mx.sym.Activation(fc1, act_type='relu', name='relu1')
fc2 = mx.sym.FullyConnected(relu1, num_hidden=3, name='fc2')
net = mx.sym.SoftmaxOutput(fc2, name='softmax')
args = {'fc1_weight': mx.nd.array(w1), 'fc1_bias': mx.nd.array(b1),
        'fc2_weight': mx.nd.array(w2), 'fc2_bias': mx.nd.array(b2)}
"""


def mlp_inputs():
    rng = np.random.RandomState(3)
    return dict(w1=rng.uniform(-1, 1, (4, 5)).astype(np.float32),
                b1=rng.uniform(-1, 1, 4).astype(np.float32),
                w2=rng.uniform(-1, 1, (3, 4)).astype(np.float32),
                b2=rng.uniform(-1, 1, 3).astype(np.float32),
                x=rng.uniform(-1, 1, (6, 5)).astype(np.float32))


# -- item 1: binding without labels ------------------------------------------------------------
def test_bind_without_label_shapes_as_mxnet():
    ours, theirs = both(MLP + """
for ft in (True, False):
    m = mx.mod.Module(net)
    m.bind(data_shapes=[('data', (6, 5))], for_training=ft)
    m.init_params(arg_params=args)
    m.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
    out['module_%s' % ft] = [m.label_shapes, m.output_shapes, m.get_outputs()[0].asnumpy()]
def gen(key):
    return net, ('data',), ('softmax_label',)
b = mx.mod.BucketingModule(gen, default_bucket_key=5)
b.bind(data_shapes=[('data', (6, 5))], for_training=False)
b.init_params(arg_params=args)
b.forward(mx.io.DataBatch([mx.nd.array(x)], bucket_key=5,
                         provide_data=[('data', (6, 5))]), is_train=False)
out['bucketing'] = [b.label_shapes, b.get_outputs()[0].asnumpy()]
seq = mx.mod.SequentialModule()
seq.add(mx.mod.Module(relu1, label_names=None))
seq.add(mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(
    mx.sym.Variable('data'), num_hidden=3, name='fc2'), name='softmax')),
    take_labels=True, auto_wiring=True)
seq.bind(data_shapes=[('data', (6, 5))], for_training=False)
seq.init_params(arg_params=args)
seq.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
out['sequential'] = [seq.label_shapes, seq.get_outputs()[0].asnumpy()]
nolabel = mx.mod.Module(fc1, label_names=None)
nolabel.bind(data_shapes=[('data', (6, 5))])
out['no_label_names'] = nolabel.label_shapes
""", **mlp_inputs())
    for key in ("module_True", "module_False"):
        assert ours[key][0] is None and theirs[key][0] is None
        assert [tuple(s) for s in ours[key][1]] == [tuple(s) for s in theirs[key][1]]
        np.testing.assert_allclose(ours[key][2], theirs[key][2], rtol=1e-5, atol=1e-6)
    for key in ("bucketing", "sequential"):
        assert ours[key][0] is None and theirs[key][0] is None
        np.testing.assert_allclose(ours[key][1], theirs[key][1], rtol=1e-5, atol=1e-6)
    assert ours["no_label_names"] is None and theirs["no_label_names"] is None


# -- item 2: extra parameters ------------------------------------------------------------------
def test_extra_params_ignored_or_value_error_as_mxnet():
    ours, theirs = both(MLP + ERR + """
fe = mx.mod.Module(net.get_internals()['relu1_output'], label_names=None)
fe.bind(data_shapes=[('data', (6, 5))], for_training=False)
fe.set_params(args, {})
fe.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
out['features'] = fe.get_outputs()[0].asnumpy()
fe.init_params(arg_params=args, aux_params={}, force_init=True)
out['init_params'] = 'ok'
fe.init_params(arg_params=args, aux_params={}, force_init=True, allow_missing=True)
out['init_params_missing'] = 'ok'
try:
    fe.set_params(args, {}, allow_missing=True)
    out['missing_no_extra'] = 'ok'
except Exception as e:
    out['missing_no_extra'] = builtin_of(e)
fe.set_params(args, {}, allow_missing=True, allow_extra=True)
out['missing_extra'] = 'ok'
# fit(arg_params=...) on a smaller network with the full checkpoint
small = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(relu1, num_hidden=2, name='head'),
                             name='softmax')
mod = mx.mod.Module(small)
it = mx.io.NDArrayIter(x, np.array([0, 1, 0, 1, 0, 1], dtype=np.float32), batch_size=3)
mod.fit(it, arg_params=args, allow_missing=True, initializer=mx.init.Zero(), num_epoch=1,
        optimizer_params=(('learning_rate', 0.5),))
out['fit_fc1'] = mod.get_params()[0]['fc1_weight'].asnumpy()
""", **mlp_inputs())
    np.testing.assert_allclose(ours["features"], theirs["features"], rtol=1e-5, atol=1e-6)
    for key in ("init_params", "init_params_missing", "missing_extra"):
        assert ours[key] == theirs[key] == "ok"
    assert theirs["missing_no_extra"] == "ValueError"
    assert ours["missing_no_extra"] == "ValueError"
    np.testing.assert_allclose(ours["fit_fc1"], theirs["fit_fc1"], rtol=1e-5, atol=1e-6)


def test_ignored_extra_params_are_an_event():
    inputs = mlp_inputs()
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc1")
    fe = mx.mod.Module(sym, label_names=None)
    fe.bind(data_shapes=[("data", (6, 5))], for_training=False)
    seen = []
    fe.events.subscribe(seen.append, kinds=["params_ignored"])
    fe.set_params({"fc1_weight": mx.nd.array(inputs["w1"]), "fc1_bias": mx.nd.array(inputs["b1"]),
                   "fc2_weight": mx.nd.array(inputs["w2"])}, {})
    assert [e["names"] for e in seen] == [["fc2_weight"]]
    assert seen[0]["call"] == "set_params"
    np.testing.assert_array_equal(fe.get_params()[0]["fc1_weight"].asnumpy(), inputs["w1"])
    with pytest.raises(mx.base.MXNetError, match="fc2_weight"):
        fe.set_params({"fc2_weight": mx.nd.array(inputs["w2"])}, {}, allow_missing=True)


# -- item 3: default initialization ------------------------------------------------------------
def test_default_init_and_operator_declared_values_as_mxnet():
    ours, theirs = both(MLP + """
def summary(params):
    return {k: [float(np.abs(v.asnumpy()).max()), float(np.abs(v.asnumpy()).min())]
            for k, v in params.items()}
m = mx.mod.Module(net)
m.bind(data_shapes=[('data', (6, 5))], label_shapes=[('softmax_label', (6,))])
m.init_params(arg_params={'fc1_weight': args['fc1_weight']}, allow_missing=True)
out['partial'] = summary(m.get_params()[0])
out['partial_fc1'] = m.get_params()[0]['fc1_weight'].asnumpy()
m2 = mx.mod.Module(net)
m2.bind(data_shapes=[('data', (6, 5))], label_shapes=[('softmax_label', (6,))])
m2.init_params()
out['default'] = summary(m2.get_params()[0])
pr = mx.sym.LeakyReLU(fc1, act_type='prelu', name='pr')
bn = mx.sym.BatchNorm(pr, name='bn')
m3 = mx.mod.Module(bn, label_names=None)
m3.bind(data_shapes=[('data', (6, 5))])
m3.init_params()
a3, x3 = m3.get_params()
out['gamma'] = [a3['pr_gamma'].asnumpy(), a3['bn_gamma'].asnumpy(), x3['bn_moving_var'].asnumpy()]
seq = mx.mod.SequentialModule()
seq.add(mx.mod.Module(relu1, label_names=None))
seq.add(mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(
    mx.sym.Variable('data'), num_hidden=3, name='fc2'), name='softmax')),
    take_labels=True, auto_wiring=True)
seq.bind(data_shapes=[('data', (6, 5))], label_shapes=[('softmax_label', (6,))])
seq.init_params()
out['sequential'] = summary(seq.get_params()[0])
""", **mlp_inputs())
    np.testing.assert_array_equal(ours["partial_fc1"], theirs["partial_fc1"])
    for key in ("partial", "default", "sequential"):
        assert sorted(ours[key]) == sorted(theirs[key])
        for name, (high, low) in theirs[key].items():
            ours_high, ours_low = ours[key][name]
            if name.endswith("_bias"):
                assert ours_high == high == 0.0
            elif name == "fc1_weight" and key == "partial":
                assert ours_high == pytest.approx(high)
            else:   # Uniform(0.01): nonzero, inside the scale
                assert 0 < ours_high <= 0.01 and 0 < high <= 0.01
    for o, t in zip(ours["gamma"], theirs["gamma"]):
        np.testing.assert_array_equal(o, t)
    np.testing.assert_array_equal(ours["gamma"][0], np.full(4, 0.25, np.float32))


def test_explicit_initializer_none_warns_about_what_it_leaves():
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    mod = mx.mod.Module(net, label_names=None)
    mod.bind(data_shapes=[("data", (2, 4))])
    with pytest.warns(UserWarning, match=r"\['fc_bias'\]"):
        mod.init_params(initializer=None, arg_params={"fc_weight": mx.nd.ones((3, 4))},
                        allow_missing=True)
    np.testing.assert_array_equal(mod.get_params()[0]["fc_bias"].asnumpy(), np.zeros(3))


# -- item 5: the abstract interface ------------------------------------------------------------
def test_abstract_interface_raises_not_implemented_as_mxnet():
    ours, theirs = both(ERR + """
class Mine(mx.mod.BaseModule):
    pass
class MyPython(mx.mod.PythonModule):
    pass
m = Mine()
for prop in ['data_names', 'output_names', 'data_shapes', 'label_shapes', 'output_shapes']:
    try:
        getattr(m, prop)
        out[prop] = 'ok'
    except Exception as e:
        out[prop] = builtin_of(e)
calls = {'get_params': (), 'init_params': (), 'bind': ([('data', (1, 2))],),
         'init_optimizer': (), 'forward': (None,), 'backward': (), 'get_outputs': (),
         'get_input_grads': (), 'update': (), 'update_metric': (None, None),
         'install_monitor': (None,)}
for name, call_args in calls.items():
    try:
        getattr(m, name)(*call_args)
        out[name] = 'ok'
    except Exception as e:
        out[name] = builtin_of(e)
p = MyPython(['data'], None, ['out'])
for name, call_args in {'forward': (None,), 'backward': (), 'get_outputs': (),
                        'get_input_grads': (), 'install_monitor': (None,)}.items():
    try:
        getattr(p, name)(*call_args)
        out['python_' + name] = 'ok'
    except Exception as e:
        out['python_' + name] = builtin_of(e)
""")
    assert ours == theirs
    assert set(ours.values()) == {"NotImplementedError"}
    assert len(ours) == 21


def test_abstract_error_names_the_subclass():
    class Student(mx.mod.BaseModule):
        pass
    with pytest.raises(mx.base.MXNetError, match="Student does not implement forward"):
        Student().forward(None)


# -- item 7: layouts and float16 ---------------------------------------------------------------
def test_tnc_layout_slices_axis_1_as_mxnet():
    rng = np.random.RandomState(0)
    ours, theirs = both("""
data = mx.sym.Variable('data')
fc = mx.sym.FullyConnected(data, num_hidden=5, flatten=False, name='fc',
                           attr={'__layout__': 'TNC'})
mod = mx.mod.Module(fc, label_names=None, context=[mx.cpu(0), mx.cpu(1)])
mod.bind(data_shapes=[mx.io.DataDesc('data', (3, 4, 2), layout='TNC')], inputs_need_grad=True)
mod.init_params(arg_params={'fc_weight': mx.nd.array(w), 'fc_bias': mx.nd.array(b)})
mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=True)
out['per_device'] = [[a.shape for a in o] for o in mod.get_outputs(merge_multi_context=False)]
out['slices'] = [e.arg_dict['data'].asnumpy() for e in mod._exec_group.execs]
out['output'] = mod.get_outputs()[0].asnumpy()
mod.backward([mx.nd.array(g)])
out['input_grad'] = mod.get_input_grads()[0].asnumpy()
""", w=rng.uniform(-1, 1, (5, 2)).astype(np.float32), b=rng.uniform(-1, 1, 5).astype(np.float32),
        x=rng.uniform(-1, 1, (3, 4, 2)).astype(np.float32),
        g=rng.uniform(-1, 1, (3, 4, 5)).astype(np.float32))
    assert [list(map(tuple, o)) for o in ours["per_device"]] == \
        [list(map(tuple, o)) for o in theirs["per_device"]] == [[(3, 2, 5), (3, 2, 5)]]
    for o, t in zip(ours["slices"], theirs["slices"]):
        np.testing.assert_array_equal(o, t)
    np.testing.assert_allclose(ours["output"], theirs["output"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours["input_grad"], theirs["input_grad"], rtol=1e-5, atol=1e-6)


def test_float16_binds_trains_and_keeps_dtype_as_mxnet():
    # MXNet's CPU FullyConnected has no float16 kernel: the model multiplies by a weight row
    ours, theirs = both("""
data = mx.sym.Variable('data')
w = mx.sym.Variable('w', shape=(1, 6))
h = mx.sym.Activation(mx.sym.broadcast_mul(data, w), act_type='tanh')
net = mx.sym.LinearRegressionOutput(mx.sym.sum(h, axis=1), name='lro')
mod = mx.mod.Module(net, label_names=['lro_label'], context=[mx.cpu(0), mx.cpu(1)])
mod.bind(data_shapes=[mx.io.DataDesc('data', (4, 6), dtype=np.float16)],
         label_shapes=[mx.io.DataDesc('lro_label', (4,), dtype=np.float16)])
mod.init_params(arg_params={'w': mx.nd.array(w0, dtype='float16')})
mod.init_optimizer(optimizer='sgd', optimizer_params=(('learning_rate', 0.5),))
mod.forward_backward(mx.io.DataBatch([mx.nd.array(x, dtype='float16')],
                                     [mx.nd.array(y, dtype='float16')]))
mod.update()
out['output'] = mod.get_outputs()[0].asnumpy()
out['dtypes'] = [[np.dtype(a).name for a in (e.arg_dict['w'].dtype, e.grad_dict['w'].dtype,
                                             e.outputs[0].dtype, e.arg_dict['data'].dtype)]
                 for e in mod._exec_group.execs]
out['w'] = mod.get_params()[0]['w'].asnumpy()
""", w0=(np.arange(6).reshape(1, 6) / 6.0).astype(np.float16),
        x=(np.arange(24).reshape(4, 6) / 24.0).astype(np.float16),
        y=np.array([0, 1, 2, 0], np.float16))
    assert ours["dtypes"] == theirs["dtypes"] == [["float16"] * 4] * 2
    assert ours["output"].dtype == theirs["output"].dtype == np.float16
    assert ours["w"].dtype == np.float16
    np.testing.assert_allclose(ours["output"], theirs["output"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(ours["w"], theirs["w"], rtol=2e-3, atol=2e-3)


# -- item 8: RNN states as module inputs -------------------------------------------------------
def test_rnn_states_as_inputs_over_two_devices_as_mxnet():
    ours, theirs = both("""
# a fresh name scope: automatic names (concat0, ...) must not depend on earlier tests
with mx.name.NameManager():
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.LSTMCell(num_hidden=4, prefix='l0_'))
    stack.add(mx.rnn.GRUCell(num_hidden=4, prefix='l1_'))
    begin = stack.begin_state(func=mx.sym.Variable)
    outputs, states = stack.unroll(3, inputs=mx.sym.Variable('data'), begin_state=begin,
                                   layout='NTC', merge_outputs=True)
net = mx.sym.Group([outputs] + list(states))
mod = mx.mod.Module(net, data_names=['data'], label_names=None,
                    state_names=[s.name for s in begin], context=[mx.cpu(0), mx.cpu(1)])
mod.bind(data_shapes=[('data', (4, 3, 2))])
out['state_names'] = [s.name for s in begin]
out['output_shapes'] = mod.output_shapes
mod.init_params(initializer=mx.init.Uniform(0.5), force_init=True)
mod.set_params({k: mx.nd.array(v) for k, v in params.items()}, {})
mod.set_states(value=1)
out['states_after_value'] = [[a.asnumpy() for a in s]
                             for s in mod._exec_group.state_arrays]
mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
out['first'] = [o.asnumpy() for o in mod.get_outputs()]
mod.set_states(states=mod.get_outputs(merge_multi_context=False)[1:])
mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
out['second'] = [o.asnumpy() for o in mod.get_outputs()]
""", x=np.random.RandomState(1).uniform(-1, 1, (4, 3, 2)).astype(np.float32),
        params=_rnn_params())
    assert ours["state_names"] == theirs["state_names"]
    assert [(n, tuple(s)) for n, s in ours["output_shapes"]] == \
        [(n, tuple(s)) for n, s in theirs["output_shapes"]]
    for o, t in zip(ours["states_after_value"], theirs["states_after_value"]):
        for a, b in zip(o, t):
            np.testing.assert_array_equal(a, b)
    for key in ("first", "second"):
        for a, b in zip(ours[key], theirs[key]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours["first"][0], ours["second"][0])


def _rnn_params():
    rng = np.random.RandomState(7)
    shapes = {"l0_i2h_weight": (16, 2), "l0_i2h_bias": (16,), "l0_h2h_weight": (16, 4),
              "l0_h2h_bias": (16,), "l1_i2h_weight": (12, 4), "l1_i2h_bias": (12,),
              "l1_h2h_weight": (12, 4), "l1_h2h_bias": (12,)}
    return {k: rng.uniform(-0.5, 0.5, s).astype(np.float32) for k, s in shapes.items()}


def test_set_states_takes_whole_batch_arrays_too():
    # an mxteach extension (MXNet 1.9.1 fails with AttributeError): merged arrays are sliced
    data = mx.sym.Variable("data")
    state = mx.sym.Variable("state")
    net = mx.sym.FullyConnected(data, num_hidden=3, name="fc") + state
    mod = mx.mod.Module(net, label_names=None, state_names=["state"],
                        context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(data_shapes=[("data", (4, 2))], for_training=False)
    mod.init_params()
    whole = np.arange(12, dtype=np.float32).reshape(4, 3)
    mod.set_states(states=[mx.nd.array(whole)])
    per_device = mod.get_states(merge_multi_context=False)[0]
    np.testing.assert_array_equal(per_device[0].asnumpy(), whole[:2])
    np.testing.assert_array_equal(per_device[1].asnumpy(), whole[2:])
    np.testing.assert_array_equal(mod.get_states()[0].asnumpy(), whole)


# -- item 9: automatic names inside sym_gen ----------------------------------------------------
def test_sym_gen_names_and_deleted_bucket_as_mxnet():
    ours, theirs = both("""
def gen(key):
    data = mx.sym.Variable('data')
    emb = mx.sym.Embedding(data, input_dim=10, output_dim=4)
    fc = mx.sym.FullyConnected(mx.sym.sum(emb, axis=1), num_hidden=3)
    return mx.sym.SoftmaxOutput(fc, name='softmax'), ('data',), ('softmax_label',)
mod = mx.mod.BucketingModule(gen, default_bucket_key=5)
mod.bind([('data', (2, 5))], [('softmax_label', (2,))])
mod.init_params()
mod.init_optimizer()
def batch(key):
    return mx.io.DataBatch([mx.nd.ones((2, key))], [mx.nd.zeros((2,))], bucket_key=key,
                           provide_data=[('data', (2, key))],
                           provide_label=[('softmax_label', (2,))])
for key in (5, 3, 5):
    mod.forward(batch(key))
    mod.backward()
    mod.update()
    out['names_%d' % key] = mod.symbol.list_arguments()
del mod._buckets[3]
mod.switch_bucket(3, batch(3).provide_data, batch(3).provide_label)
mod.forward(batch(3))
mod.backward()
mod.update()
w3 = mod._buckets[3]._exec_group.execs[0].arg_dict['embedding0_weight']
w5 = mod._buckets[5]._exec_group.execs[0].arg_dict['embedding0_weight']
out['equal_after_update'] = bool(np.array_equal(w3.asnumpy(), w5.asnumpy()))
w3[:] = 7
out['shared_memory'] = float(w5.asnumpy().max())
""")
    assert ours == theirs
    assert ours["names_3"][1] == "embedding0_weight"
    assert ours["shared_memory"] == 7.0
