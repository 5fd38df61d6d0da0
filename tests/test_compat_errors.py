"""Issue 8 item 4: wherever MXNet 1.9.1 raises a builtin exception, mxteach's error is an
instance of that builtin too (and still an MXNetError with its clearer message).

Every snippet runs on real MXNet 1.9.1 (the oracle) and on mxteach; for each of the builtins
scripts catch, ``isinstance(err, builtin)`` must agree. The only allowed difference is a builtin
that ``mxteach.base.EXTRA_BUILTINS`` documents for the class (shape errors MXNet's C++ reports
as a plain MXNetError). The rows of ``mxteach.base.ERROR_TABLE`` are checked against MXNet too.
"""
import builtins

import pytest

import mxteach as mx
from mxteach import base
from oracle import run_oracle

BUILTINS = ("ValueError", "TypeError", "KeyError", "IndexError", "AssertionError",
            "NotImplementedError", "AttributeError", "RuntimeError")

# The same names exist in both libraries; each snippet starts from this state.
PRELUDE = '''
import numpy as np
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=4, name='fc1')
net = mx.sym.SoftmaxOutput(fc1, name='softmax')
def bound():
    m = mx.mod.Module(net, context=mx.cpu())
    m.bind(data_shapes=[('data', (2, 3))], label_shapes=[('softmax_label', (2,))])
    return m
def ready():
    m = bound()
    m.init_params()
    return m
batch = mx.io.DataBatch([mx.nd.ones((2, 3))], [mx.nd.zeros((2,))])
W = {'fc1_weight': mx.nd.ones((4, 3)), 'fc1_bias': mx.nd.zeros((4,))}
'''

# Keys of ERROR_TABLE first, then further bad calls whose types must agree as well.
SNIPPETS = {
    'forward_before_bind': 'mx.mod.Module(net).forward(batch)',
    'init_params_before_bind': 'mx.mod.Module(net).init_params()',
    'forward_before_init': 'bound().forward(batch)',
    'update_before_init_optimizer': 'ready().update()',
    'data_shapes_before_bind': 'mx.mod.Module(net).data_shapes',
    'get_input_grads_no_inputs_need_grad':
        'm = ready(); m.forward(batch); m.backward(); m.get_input_grads()',
    'module_bad_data_name': "mx.mod.Module(net, data_names=['x'])",
    'bind_bad_data_name':
        "m = mx.mod.Module(net); m.bind(data_shapes=[('x', (2, 3))], "
        "label_shapes=[('softmax_label', (2,))])",
    'bind_bad_label_name':
        "m = mx.mod.Module(net); m.bind(data_shapes=[('data', (2, 3))], label_shapes=[('lbl', "
        '(2,))])',
    'set_params_extra_allow_missing':
        'bound().set_params(dict(W, junk=mx.nd.ones((1,))), {}, allow_missing=True)',
    'set_params_missing': "bound().set_params({'fc1_weight': mx.nd.ones((4, 3))}, {})",
    'bind_args_missing': "fc1.bind(mx.cpu(), {'data': mx.nd.ones((2, 3))})",
    'bind_args_list_length': 'fc1.bind(mx.cpu(), [mx.nd.ones((2, 3))])',
    'executor_forward_unknown_kwarg':
        'e = net.simple_bind(mx.cpu(), data=(2, 3)); e.forward(nosuch=mx.nd.ones((2, 3)))',
    'executor_copy_params_extra':
        'e = net.simple_bind(mx.cpu(), data=(2, 3)); e.copy_params_from(dict(W, '
        'junk=mx.nd.ones((1,))))',
    'context_bad_type': "mx.Context('tpu', 0)",
    'bucketing_no_default':
        "mx.mod.BucketingModule(lambda k: (net, ('data',), ('softmax_label',))).forward(batch)",
    'sequential_no_modules_bind': "mx.mod.SequentialModule().bind(data_shapes=[('data', (2, 3))])",
    'sequential_bad_meta': 'mx.mod.SequentialModule().add(mx.mod.Module(net), nosuch=True)',
    'mod_bad_context_type':
        "m = mx.mod.Module(net, context='cpu'); m.bind(data_shapes=[('data', (2, 3))], "
        "label_shapes=[('softmax_label', (2,))])",
    'init_optimizer_not_optimizer': 'ready().init_optimizer(optimizer=5)',
    'unknown_optimizer': "ready().init_optimizer(optimizer='sgdd')",
    'opt_create_bad_type': 'mx.optimizer.create(5)',
    'unknown_metric': "mx.metric.create('acc2')",
    'metric_create_bad_type': 'mx.metric.create(3)',
    'metric_config_no_metric_key': "mx.metric.create({'foo': 1})",
    'topk_bad_k': 'mx.metric.TopKAccuracy(top_k=0)',
    'metric_label_count_mismatch':
        'mx.metric.Accuracy().update([mx.nd.array([0, 1]), mx.nd.array([1])], '
        '[mx.nd.array([[.1, .9], [.8, .2]])])',
    'unknown_initializer': "mx.init.create('nosuch')",
    'xavier_bad_rnd_type':
        "mx.init.Xavier(rnd_type='nosuch')(mx.init.InitDesc('fc_weight'), mx.nd.zeros((3, 3)))",
    'initializer_unknown_name': "mx.init.Uniform()(mx.init.InitDesc('mystery'), mx.nd.zeros((3,)))",
    'factor_scheduler_bad_step': 'mx.lr_scheduler.FactorScheduler(step=0)',
    'optimizer_base_update':
        'mx.optimizer.Optimizer().update(0, mx.nd.ones((2,)), mx.nd.ones((2,)), None)',
    'metric_base_update':
        "mx.metric.EvalMetric('x').update([mx.nd.ones((2,))], [mx.nd.ones((2,))])",
    'lr_scheduler_base_call': 'mx.lr_scheduler.LRScheduler()(0)',
    'internals_missing_name': "net.get_internals()['nope_output']",
    'symbol_list_outputs_getitem_str_on_group_dup': "mx.sym.Group([fc1, fc1])['fc1_output']",
    'internals_index_out_of_range': 'net.get_internals()[100]',
    'variable_not_string': 'mx.sym.Variable(1)',
    'variable_bad_kwarg': "mx.sym.Variable('x', foo=1)",
    'group_not_symbols': 'mx.sym.Group([1, 2])',
    'attrscope_bad_value': 'mx.AttrScope(x=1)',
    'infer_shape_positional_and_kw': 'net.infer_shape((2, 3), data=(2, 3))',
    'ndarray_array_ragged': 'mx.nd.array([[1, 2], [3]])',
    'ndarray_asscalar_not_scalar': 'mx.nd.ones((2, 3)).asscalar()',
    'ndarray_copyto_bad_type': 'mx.nd.ones((2, 3)).copyto(5)',
    'ndarray_index_out_of_range': 'mx.nd.ones((2, 3))[5]',
    'nd_save_bad_type': "mx.nd.save('/tmp/x.nd', 5)",
    'nd_save_bad_values': "mx.nd.save('/tmp/x.nd', {'a': 5})",
    'io_databatch_bad_data': 'mx.io.DataBatch(5)',
    'ndarrayiter_bad_data_type': 'mx.io.NDArrayIter(5, batch_size=2)',
    'infer_shape_inconsistent': 'net.infer_shape(data=(2, 3), softmax_label=(5,))',
    'ndarray_reshape_bad': 'mx.nd.ones((2, 3)).reshape((4, 4))',
    'nd_concat_bad_shapes': 'mx.nd.concat(mx.nd.ones((2, 3)), mx.nd.ones((3, 4)), dim=0)',
    'nd_dot_bad_shapes': 'mx.nd.dot(mx.nd.ones((2, 3)), mx.nd.ones((2, 3)))',
    'nd_broadcast_bad_shapes': 'mx.nd.broadcast_add(mx.nd.ones((2, 3)), mx.nd.ones((4, 3)))',
    'nd_split_uneven': 'mx.nd.split(mx.nd.ones((3, 4)), num_outputs=2, axis=0)',
    'set_params_wrong_shape':
        "bound().set_params({'fc1_weight': mx.nd.ones((5, 3)), 'fc1_bias': mx.nd.zeros((4,))}, "
        '{})',
    'kvstore_pull_uninit': "kv = mx.kv.create('local'); kv.pull(3, out=mx.nd.zeros((2,)))",
    'kvstore_init_twice':
        "kv = mx.kv.create('local'); kv.init(3, mx.nd.zeros((2,))); kv.init(3, "
        'mx.nd.zeros((2,)))',
    'nd_load_missing_file': "mx.nd.load('/tmp/definitely/not/here.params')",
    'sym_load_json_bad': "mx.sym.load_json('not json')",
    'op_unknown_param': 'mx.sym.FullyConnected(data, num_hidden=4, nosuch=1)',
    'op_missing_param': 'mx.sym.FullyConnected(data)',
    'op_bad_param_value': "mx.sym.Activation(data, act_type='nosuch')",
    'nd_op_unknown_param':
        'mx.nd.FullyConnected(mx.nd.ones((2, 3)), mx.nd.ones((4, 3)), mx.nd.ones((4,)), '
        'num_hidden=4, nosuch=1)',
    'simple_bind_missing_shape': 'fc1.simple_bind(mx.cpu())',
    'symbol_compose_bad_name': "fc1(nosuch=mx.sym.Variable('z'))",
    'ndarray_copyto_shape': 'mx.nd.ones((2, 3)).copyto(mx.nd.zeros((3, 3)))',
    'load_checkpoint_missing': "mx.model.load_checkpoint('/tmp/definitely/not/here', 1)",
    'sym_load_missing': "mx.sym.load('/tmp/definitely/not/here.json')",
    'nd_take_bad_mode': "mx.nd.take(mx.nd.ones((2, 3)), mx.nd.array([0]), mode='nosuch')",
    'arg_dict_missing_key': "e = net.simple_bind(mx.cpu(), data=(2, 3)); e.arg_dict['nope']",
    'get_params_missing_key': "ready().get_params()[0]['nope']",
    'symbol_getitem_float': 'net.get_internals()[1.5]',
    'ndarray_add_str': "mx.nd.ones((2,)) + 'a'",
    'symbol_add_str': "data + 'a'",
    'optimizer_bad_kwarg': "mx.optimizer.create('sgd', nosuch=1)",
    'ndarray_no_attr': 'mx.nd.ones((2, 3)).nosuch',
    'symbol_no_attr': 'data.nosuch',
    'backward_before_bind': 'mx.mod.Module(net).backward()',
    'get_outputs_before_bind': 'mx.mod.Module(net).get_outputs()',
    'init_optimizer_before_bind': 'mx.mod.Module(net).init_optimizer()',
    'score_before_bind':
        "mx.mod.Module(net).score(mx.io.NDArrayIter(np.ones((4, 3)), np.zeros((4,)), 2), 'acc')",
    'predict_before_bind':
        'mx.mod.Module(net).predict(mx.io.NDArrayIter(np.ones((4, 3)), np.zeros((4,)), 2))',
    'reshape_before_bind': "mx.mod.Module(net).reshape([('data', (2, 3))])",
    'install_monitor_before_bind': 'mx.mod.Module(net).install_monitor(mx.mon.Monitor(1))',
    'save_optimizer_states_before_init': "ready().save_optimizer_states('/tmp/x.states')",
    'get_params_before_init': 'bound().get_params()',
    'output_shapes_before_bind': 'mx.mod.Module(net).output_shapes',
    'label_shapes_before_bind': 'mx.mod.Module(net).label_shapes',
    'get_input_grads_not_for_training':
        "m = mx.mod.Module(net); m.bind(data_shapes=[('data',(2,3))], "
        "label_shapes=[('softmax_label',(2,))], for_training=False); m.init_params(); "
        'm.forward(batch); m.get_input_grads()',
    'fit_bad_optimizer':
        'mx.mod.Module(net).fit(mx.io.NDArrayIter(np.ones((4, 3)), np.zeros((4,)), 2), '
        "optimizer='nosuch', num_epoch=1)",
    'optimizer_create_unknown': "mx.optimizer.create('nosuch')",
    'factor_scheduler_bad_factor': 'mx.lr_scheduler.FactorScheduler(step=2, factor=1.5)',
    'multifactor_not_increasing': 'mx.lr_scheduler.MultiFactorScheduler(step=[3, 2])',
    'group_empty': 'mx.sym.Group([])',
    'nd_array_string': "mx.nd.array('abc')",
    'context_bad_type_gpux': "mx.Context('gpux')",
    'initializer_base_init_weight': "mx.init.Initializer()._init_weight('w', mx.nd.zeros((2,)))",
    'nd_array_bad_dtype': "mx.nd.array([1, 2], dtype='nosuch')",
    'metric_label_shape_mismatch':
        'mx.metric.MSE().update([mx.nd.array([0, 1, 1])], [mx.nd.array([[.1], [.9]])])',
}
# Runs inside either library: which builtins the error raised by each snippet is an instance of.
RUNNER = '''
import builtins as _b
def _classify(code):
    ns = {'mx': mx}
    exec(PRELUDE, ns)
    try:
        exec(code, ns)
    except Exception as err:
        return {'raised': [n for n in BUILTINS if isinstance(err, getattr(_b, n))],
                'mro': [c.__name__ for c in type(err).__mro__], 'message': str(err)[:300]}
    return None
'''


def _classify_all(mod):
    ns = {"mx": mod, "PRELUDE": PRELUDE, "BUILTINS": BUILTINS}
    exec(RUNNER, ns)
    return {key: ns["_classify"](code) for key, code in SNIPPETS.items()}


@pytest.fixture(scope="module")
def oracle_results():
    code = RUNNER + "\nout['res'] = {k: _classify(c) for k, c in snippets.items()}\n"
    return run_oracle(code, snippets=SNIPPETS, PRELUDE=PRELUDE, BUILTINS=BUILTINS)["res"]


@pytest.fixture(scope="module")
def mxteach_results():
    return _classify_all(mx)


def _expected_extra(info):
    """Builtins mxteach may add for this error class (documented in EXTRA_BUILTINS)."""
    return {base.EXTRA_BUILTINS[c] for c in info["mro"] if c in base.EXTRA_BUILTINS}


@pytest.mark.oracle
@pytest.mark.parametrize("key", list(SNIPPETS))
def test_builtin_types_match_mxnet(key, oracle_results, mxteach_results):
    theirs, ours = oracle_results[key], mxteach_results[key]
    assert theirs is not None, f"{key}: MXNet raised nothing; the snippet does not test an error"
    assert ours is not None, f"{key}: mxteach raised nothing where MXNet raised {theirs}"
    missing = set(theirs["raised"]) - set(ours["raised"])
    assert not missing, (f"{key}: MXNet's error is a {sorted(missing)}, mxteach's "
                         f"({ours['mro'][0]}: {ours['message']}) is not")
    # every MXNetError is a RuntimeError, as MXNet's is: only the narrower builtins may not differ
    extra = set(ours["raised"]) - set(theirs["raised"]) - {"RuntimeError"}
    assert extra <= _expected_extra(ours), (
        f"{key}: mxteach's {ours['mro'][0]} is also {sorted(extra)}, MXNet's error is not "
        f"({theirs['mro'][0]}) and EXTRA_BUILTINS does not document it")
    if "RuntimeError" in ours["raised"] or ours["mro"][0] not in dir(builtins):
        assert "MXNetError" in ours["mro"], f"{key}: {ours['mro'][0]} is no MXNetError"


TABLE = {row[0]: row for row in base.ERROR_TABLE}


@pytest.mark.oracle
@pytest.mark.parametrize("key", list(TABLE))
def test_error_table_rows_are_true(key, oracle_results, mxteach_results):
    _, situation, builtin, cls = TABLE[key]
    theirs, ours = oracle_results[key], mxteach_results[key]
    assert theirs is not None and builtin in theirs["raised"], (
        f"ERROR_TABLE says MXNet raises {builtin} for '{situation}'; it raised {theirs}")
    assert ours is not None and ours["mro"][0] == cls, (
        f"ERROR_TABLE says mxteach raises {cls} for '{situation}'; it raised "
        f"{ours and ours['mro'][0]}")
    assert builtin in ours["raised"]


def test_every_table_row_has_a_snippet():
    assert set(TABLE) <= set(SNIPPETS)
    for key, situation, builtin, cls in base.ERROR_TABLE:
        assert builtin in BUILTINS and situation


def test_compat_classes_keep_mxnet_error_and_builtin():
    pairs = {base.MXNetValueError: ValueError, base.MXNetTypeError: TypeError,
             base.MXNetKeyError: KeyError, base.MXNetIndexError: IndexError,
             base.MXNetAssertionError: AssertionError,
             base.MXNetNotImplementedError: NotImplementedError,
             base.MXNetAttributeError: AttributeError, base.NotBoundError: AssertionError}
    for cls, builtin in pairs.items():
        err = cls("the message")
        assert isinstance(err, base.MXNetError) and isinstance(err, builtin)
        assert isinstance(err, RuntimeError)
        assert str(err) == "the message"     # KeyError would quote it; ours reads plainly
    with pytest.raises(KeyError, match="unknown device type 'tpu'"):
        mx.Context("tpu", 0)


def test_not_bound_is_an_assertion_error_naming_the_missing_step():
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=2, name="fc"),
                               name="softmax")
    mod = mx.mod.Module(net)
    with pytest.raises(AssertionError, match=r"bind\(\)"):
        mod.forward(mx.io.DataBatch([mx.nd.ones((1, 3))], [mx.nd.zeros((1,))]))
