"""mx.rnn.FusedRNNCell and mx.init.FusedRNN: unroll, begin_state, unpack/pack_weights, unfuse,
the fused initializer and a Module.fit, each run as the same MXNet code here and in MXNet 1.9.1.
All oracle snippets of this file run in one MXNet subprocess (a module fixture)."""
import json
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ops.rnn import rnn_param_size
from oracle import run_oracle

# name -> (code defining `cell`, `sym` (a Group) and `shapes`)
UNROLL = {
    f"{mode}_{'bi' if bi else 'uni'}_{layout}": (f"""
cell = mx.rnn.FusedRNNCell(4, num_layers=2, mode='{mode}', bidirectional={bi},
                           get_next_state=True, prefix='f_')
outs, states = cell.unroll(3, mx.sym.Variable('data'), layout='{layout}',
                           merge_outputs={merge})
sym = mx.sym.Group(([outs] if {merge} else list(outs)) + list(states))
shapes = {{'data': {(3, 2, 5) if layout == 'TNC' else (2, 3, 5)}}}
""") for mode, bi, layout, merge in (("lstm", True, "TNC", True), ("gru", True, "NTC", True),
                                       ("rnn_tanh", False, "NTC", False),
                                       ("rnn_relu", True, "TNC", True),
                                       ("lstm", False, "NTC", False),
                                       ("gru", False, "TNC", True))
}

# Runs one case: bind, set arguments, forward/backward; same code in both frameworks.
HARNESS = """
def run_case(code, args, heads, fused_params=None):
    scope = {'mx': mx}
    with mx.name.NameManager():
        exec(code, scope)
    sym, shapes = scope['sym'], scope['shapes']
    sym = mx.sym.Group([mx.sym.identity(s, name='head%d' % k) for k, s in enumerate(sym)])
    exe = sym.simple_bind(mx.cpu(), grad_req='write', **shapes)
    given = dict(args)
    if fused_params is not None:   # the fused weights, unpacked and packed for this cell
        nd = {k: mx.nd.array(v) for k, v in fused_params.items()}
        unpacked = scope['fused'].unpack_weights(nd)
        given.update({k: v.asnumpy() for k, v in scope['cell'].pack_weights(unpacked).items()})
    for k, v in given.items():
        exe.arg_dict[k][:] = v
    exe.forward(is_train=True)
    exe.backward([mx.nd.array(h) for h in heads])
    return {'arguments': sym.list_arguments(), 'outputs': [o.asnumpy() for o in exe.outputs],
            'grads': {k: v.asnumpy() for k, v in exe.grad_dict.items() if v is not None},
            'internals': scope['sym'].list_outputs()}
"""

UNFUSE = """
fused = mx.rnn.FusedRNNCell(3, num_layers=2, mode='{mode}', bidirectional={bi}, prefix='u_')
cell = fused.unfuse()
outs, states = cell.unroll(4, mx.sym.Variable('data'), layout='NTC', merge_outputs=True)
sym = mx.sym.Group([outs])
shapes = {{'data': (2, 4, 3)}}
"""
UNFUSE_CASES = [("lstm", True), ("gru", False), ("rnn_relu", False), ("rnn_tanh", True)]

INIT = """
def fused_init(mode, bi, forget_bias):
    cell = mx.rnn.FusedRNNCell(3, num_layers=2, mode=mode, bidirectional=bi,
                               forget_bias=forget_bias, prefix='i_')
    outs, _ = cell.unroll(2, mx.sym.Variable('data'), layout='TNC', merge_outputs=True)
    mod = mx.mod.Module(mx.sym.MakeLoss(mx.sym.sum(outs)), data_names=['data'], label_names=None)
    mod.bind(data_shapes=[('data', (2, 1, 2))])
    mod.init_params(mx.init.Constant(0.25))
    flat = mod.get_params()[0]['i_parameters']
    parts = cell.unpack_weights({'i_parameters': flat})
    return (outs.attr_dict()['i_parameters']['__init__'], flat.asnumpy(),
            {k: v.asnumpy() for k, v in parts.items()})
"""

FIT = """
def fit_fused(X, Y, init_args):
    data, label = mx.sym.Variable('data'), mx.sym.Variable('softmax_label')
    cell = mx.rnn.FusedRNNCell(5, num_layers=2, mode='lstm', bidirectional=True, prefix='f_')
    outs, _ = cell.unroll(4, data, layout='NTC', merge_outputs=True)
    pred = mx.sym.FullyConnected(mx.sym.Reshape(outs, shape=(-1, 10)), num_hidden=3,
                                 name='fc')
    sym = mx.sym.SoftmaxOutput(pred, mx.sym.Reshape(label, shape=(-1,)), name='softmax')
    mod = mx.mod.Module(sym)
    it = mx.io.NDArrayIter(X, Y, batch_size=4, shuffle=False)
    mod.fit(it, num_epoch=1, arg_params={k: mx.nd.array(v) for k, v in init_args.items()},
            optimizer='sgd', optimizer_params={'learning_rate': 0.5, 'momentum': 0.9})
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
"""

ORACLE = HARNESS + INIT + FIT + """
import warnings
warnings.simplefilter('ignore')
for name, (code, args, heads, fused) in cases.items():
    out[name] = run_case(code, args, heads, fused)
out['init'] = {k: fused_init(*v) for k, v in init_cases.items()}
out['fit'] = fit_fused(X, Y, init_args)
out['dumps'] = mx.init.FusedRNN(mx.init.Xavier(), 4, 2, 'gru', True, 0.5).dumps()
with mx.name.NameManager():
    exec(JSON_GRAPH)
out['json'] = graph.tojson()
mine = mx.sym.load_json(our_json)
out['our_json_shapes'] = mine.infer_shape(data=(2, 3, 5))
"""

# A graph saved by one framework must load in the other (checkpoints move both ways).
JSON_GRAPH = """
cell = mx.rnn.FusedRNNCell(4, num_layers=2, mode='lstm', bidirectional=True, dropout=0.3,
                           get_next_state=True, prefix='j_')
outs, states = cell.unroll(3, mx.sym.Variable('data'), layout='NTC', merge_outputs=True)
graph = mx.sym.Group([outs] + states)
"""

_here = {"mx": mx}
exec(HARNESS + INIT + FIT, _here)


def _draw(code, seed):
    """Shapes come from building the graph here; values from a seeded generator."""
    scope = {"mx": mx}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mx.name.NameManager():
            exec(code, scope)
    sym = scope["sym"]
    rng = np.random.RandomState(seed)
    arg_shapes, out_shapes, _ = sym.infer_shape(**scope["shapes"])
    args = {n: rng.uniform(-0.7, 0.7, s).astype(np.float32)
            for n, s in zip(sym.list_arguments(), arg_shapes)}
    heads = [rng.uniform(-1, 1, s).astype(np.float32) for s in out_shapes]
    fused = None
    if "fused" in scope:     # weights of the fused cell, to be unpacked into the stack
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fsym, _ = scope["fused"].unroll(4, mx.sym.Variable("data"), layout="NTC",
                                            merge_outputs=True)
        fshapes, _, _ = fsym.infer_shape(**scope["shapes"])
        fused = {n: rng.uniform(-0.7, 0.7, s).astype(np.float32)
                 for n, s in zip(fsym.list_arguments(), fshapes) if n != "data"}
        args = {k: v for k, v in args.items() if k == "data"}
    return args, heads, fused


def _fit_data():
    rng = np.random.RandomState(11)
    X = rng.uniform(-1, 1, (12, 4, 3)).astype(np.float32)
    Y = rng.randint(0, 3, (12, 4)).astype(np.float32)
    cell = mx.rnn.FusedRNNCell(5, num_layers=2, mode="lstm", bidirectional=True, prefix="f_")
    size = cell.unroll(4, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)[0] \
        .infer_shape(data=(4, 4, 3))[0][1][0]
    init_args = {"f_parameters": rng.uniform(-0.4, 0.4, size).astype(np.float32),
                 "fc_weight": rng.uniform(-0.4, 0.4, (3, 10)).astype(np.float32),
                 "fc_bias": np.zeros(3, np.float32)}
    return X, Y, init_args


INIT_CASES = {"lstm_bi": ("lstm", True, 0.75), "gru": ("gru", False, 1.0)}


@pytest.fixture(scope="module")
def oracle():
    cases = {}
    for i, (name, code) in enumerate(UNROLL.items()):
        cases[name] = (code,) + _draw(code, i)
    for i, (mode, bi) in enumerate(UNFUSE_CASES):
        code = UNFUSE.format(mode=mode, bi=bi)
        cases[f"unfuse_{mode}_{bi}"] = (code,) + _draw(code, 100 + i)
    X, Y, init_args = _fit_data()
    ref = run_oracle("JSON_GRAPH = %r\n" % JSON_GRAPH + ORACLE, cases=cases,
                     init_cases=INIT_CASES, X=X, Y=Y, init_args=init_args,
                     our_json=_json_graph().tojson())
    return cases, ref


def _json_graph():
    scope = {"mx": mx}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mx.name.NameManager():
            exec(JSON_GRAPH, scope)
    return scope["graph"]


def _run_here(code, args, heads, fused=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _here["run_case"](code, args, heads, fused)


def _compare(ours, theirs, tol=2e-5):
    assert ours["arguments"] == theirs["arguments"]
    assert len(ours["outputs"]) == len(theirs["outputs"])
    for a, b in zip(ours["outputs"], theirs["outputs"]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert sorted(ours["grads"]) == sorted(theirs["grads"])
    for k in theirs["grads"]:
        np.testing.assert_allclose(ours["grads"][k], theirs["grads"][k], rtol=tol, atol=tol,
                                   err_msg=k)
        assert np.abs(theirs["grads"][k]).max() > 1e-4, k


@pytest.mark.oracle
@pytest.mark.parametrize("case", list(UNROLL))
def test_fused_unroll_matches_mxnet(case, oracle):
    cases, ref = oracle
    ours = _run_here(*cases[case])
    _compare(ours, ref[case])
    assert ours["internals"] == ref[case]["internals"]
    assert any(n.startswith("f_rnn_") for n in ours["internals"])


@pytest.mark.oracle
@pytest.mark.parametrize("mode, bi", UNFUSE_CASES)
def test_unfused_stack_matches_mxnet_and_the_fused_cell(mode, bi, oracle):
    cases, ref = oracle
    code, args, heads, fused = cases[f"unfuse_{mode}_{bi}"]
    ours = _run_here(code, args, heads, fused)
    _compare(ours, ref[f"unfuse_{mode}_{bi}"])
    # the fused cell with the same flat weights gives the same outputs here
    fused_code = UNFUSE.format(mode=mode, bi=bi).replace(
        "cell = fused.unfuse()", "cell = fused")
    mine = _run_here(fused_code, {**args, **fused}, heads)
    for a, b in zip(mine["outputs"], ours["outputs"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # and the gradient of the flat vector is the unfused gradients, packed
    fused_cell = mx.rnn.FusedRNNCell(3, num_layers=2, mode=mode, bidirectional=bi, prefix="u_")
    per_gate = fused_cell.unfuse().unpack_weights(
        {k: mx.nd.array(v) for k, v in ours["grads"].items() if k != "data"})
    flat = fused_cell.pack_weights(per_gate)["u_parameters"].asnumpy()
    np.testing.assert_allclose(mine["grads"]["u_parameters"], flat, rtol=1e-4, atol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize("case", list(INIT_CASES))
def test_fused_initializer_matches_mxnet(case, oracle):
    _, ref = oracle
    attr, flat, parts = _here["fused_init"](*INIT_CASES[case])
    their_attr, their_flat, their_parts = ref["init"][case]
    assert attr == their_attr
    np.testing.assert_array_equal(flat, their_flat)    # Constant(0.25): deterministic
    assert sorted(parts) == sorted(their_parts)
    mode, _, forget = INIT_CASES[case]
    for k, v in parts.items():
        want = forget if mode == "lstm" and k.endswith("_f_bias") else \
            (0.0 if k.endswith("bias") else 0.25)
        np.testing.assert_array_equal(v, np.full(v.shape, want, np.float32), err_msg=k)


@pytest.mark.oracle
def test_fused_initializer_dumps_like_mxnet(oracle):
    _, ref = oracle
    init = mx.init.FusedRNN(mx.init.Xavier(), 4, 2, "gru", True, 0.5)
    assert init.dumps() == ref["dumps"]
    again = mx.init.create(init.dumps())
    assert isinstance(again, mx.init.FusedRNN) and again.dumps() == init.dumps()


@pytest.mark.oracle
def test_module_fit_with_fused_cell_matches_mxnet(oracle):
    _, ref = oracle
    X, Y, init_args = _fit_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _here["fit_fused"](X, Y, init_args)
    assert sorted(ours) == sorted(ref["fit"])
    for k in ours:
        assert not np.allclose(ours[k], init_args[k]), k     # training moved every parameter
        np.testing.assert_allclose(ours[k], ref["fit"][k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.oracle
def test_fused_graph_json_moves_between_mxnet_and_mxteach(oracle):
    _, ref = oracle
    ours = _json_graph()
    theirs = mx.sym.load_json(ref["json"])
    assert theirs.list_arguments() == ours.list_arguments() == ["data", "j_parameters"]
    assert theirs.list_outputs() == ours.list_outputs()
    assert [n["op"] for n in json.loads(theirs.tojson())["nodes"]] == \
        [n["op"] for n in json.loads(ours.tojson())["nodes"]]
    shapes = ours.infer_shape(data=(2, 3, 5))
    assert [list(map(tuple, s)) for s in ref["our_json_shapes"]] == [list(s) for s in shapes]
    rng = np.random.RandomState(2)
    args = {"data": rng.uniform(-1, 1, (2, 3, 5)),
            "j_parameters": rng.uniform(-0.5, 0.5, shapes[0][1])}
    results = []
    for sym in (ours, theirs):
        exe = sym.simple_bind(mx.cpu(), data=(2, 3, 5))
        for k, v in args.items():
            exe.arg_dict[k][:] = v
        results.append([o.asnumpy() for o in exe.forward(is_train=False)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert abs(results[0][0]).max() > 1e-3


# -- behaviour checked here only ------------------------------------------------------------
def test_fused_initializer_fills_each_piece_by_its_own_shape():
    cell = mx.rnn.FusedRNNCell(4, num_layers=2, mode="lstm", bidirectional=True,
                               forget_bias=0.5, prefix="x_")
    outs, _ = cell.unroll(2, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    mod = mx.mod.Module(mx.sym.MakeLoss(mx.sym.sum(outs)), data_names=["data"],
                        label_names=None)
    mod.bind(data_shapes=[("data", (2, 3, 6))])
    mx.random.seed(0)
    mod.init_params(mx.init.Xavier(magnitude=3))
    parts = cell.unpack_weights(mod.get_params()[0])
    for name, arr in parts.items():
        v = arr.asnumpy()
        if name.endswith("_f_bias"):
            np.testing.assert_array_equal(v, 0.5)
        elif name.endswith("bias"):
            np.testing.assert_array_equal(v, 0.0)
        else:   # Xavier's bound comes from the piece (4, fan_in), not the flat vector
            bound = np.sqrt(3.0 / ((v.shape[0] + v.shape[1]) / 2.0))
            assert np.abs(v).max() <= bound and np.abs(v).max() > 0.5 * bound, name
    assert parts["x_l1_i2h_i_weight"].shape == (4, 8)
    # an explicit init replaces the global one; it still follows the name rules (bias -> 0)
    init = mx.init.FusedRNN(mx.init.Constant(0.5), 4, 2, "gru", False)
    arr = mx.nd.zeros(rnn_param_size("gru", 2, False, 6, 4))
    init._init_weight(mx.init.InitDesc("x_parameters"), arr)
    pieces = mx.rnn.FusedRNNCell(4, 2, "gru", prefix="").unpack_weights({"parameters": arr})
    for name, piece in pieces.items():
        np.testing.assert_array_equal(piece.asnumpy(), 0.0 if name.endswith("bias") else 0.5)
    with pytest.raises(MXNetError, match="initializer of the whole call"):
        mx.init.FusedRNN(None, 4, 2, "gru")._init_weight(mx.init.InitDesc("p"), arr)


def test_state_info_and_begin_state():
    cell = mx.rnn.FusedRNNCell(6, num_layers=3, mode="lstm", bidirectional=True, prefix="x_")
    assert cell.state_info == [{"shape": (6, 0, 6), "__layout__": "LNC"}] * 2
    states = cell.begin_state(func=mx.sym.Variable)
    assert [s.name for s in states] == ["x_begin_state_0", "x_begin_state_1"]
    outs, next_states = cell.unroll(2, mx.sym.Variable("data"), begin_state=states,
                                    layout="TNC", merge_outputs=True)
    assert next_states == []
    assert outs.list_arguments() == ["data", "x_parameters", "x_begin_state_0",
                                     "x_begin_state_1"]
    assert mx.rnn.FusedRNNCell(2, mode="gru").state_info == [
        {"shape": (1, 0, 2), "__layout__": "LNC"}]
    assert mx.rnn.FusedRNNCell(2, mode="gru")._prefix == "gru_"


def test_next_states_carry_the_lnc_layout_and_ntc_warns():
    cell = mx.rnn.FusedRNNCell(3, mode="gru", get_next_state=True, prefix="g_")
    with pytest.warns(UserWarning, match="NTC layout"):
        outs, states = cell.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
    assert len(states) == 1 and states[0].attr("__layout__") == "LNC"
    assert outs.infer_shape(data=(5, 2, 4))[1] == [(5, 2, 3)]


def test_unpack_pack_round_trip_and_errors():
    cell = mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru", bidirectional=True, prefix="p_")
    size = rnn_param_size("gru", 2, True, 4, 3)
    flat = np.arange(size, dtype=np.float32)
    parts = cell.unpack_weights({"p_parameters": mx.nd.array(flat), "other": mx.nd.ones(2)})
    assert parts["p_l0_i2h_r_weight"].shape == (3, 4)
    assert parts["p_r1_i2h_o_weight"].shape == (3, 6)
    assert parts["p_l0_h2h_z_bias"].shape == (3,)
    np.testing.assert_array_equal(parts["p_l0_i2h_r_weight"].asnumpy().ravel(), np.arange(12))
    assert "other" in parts and len(parts) == 1 + 2 * 2 * 2 * 3 * 2
    back = cell.pack_weights(parts)
    np.testing.assert_array_equal(back["p_parameters"].asnumpy(), flat)
    with pytest.raises(MXNetError, match="does not fit"):
        cell.unpack_weights({"p_parameters": mx.nd.ones(size + 1)})
    with pytest.raises(MXNetError, match="p_parameters"):
        cell.unpack_weights({"other": mx.nd.ones(2)})


def test_fused_cell_cannot_step_and_checks_mode():
    cell = mx.rnn.FusedRNNCell(3)
    with pytest.raises(NotImplementedError, match="unroll"):
        cell(mx.sym.Variable("x"), cell.begin_state())
    with pytest.raises(MXNetError, match="mode"):
        mx.rnn.FusedRNNCell(3, mode="lstmp")


def test_unfuse_builds_mxnets_stack():
    cell = mx.rnn.FusedRNNCell(3, num_layers=3, mode="gru", bidirectional=True, dropout=0.2,
                               prefix="z_")
    stack = cell.unfuse()
    kinds = [type(c).__name__ for c in stack._cells]
    assert kinds == ["BidirectionalCell", "DropoutCell", "BidirectionalCell", "DropoutCell",
                     "BidirectionalCell"]
    assert stack._cells[0]._cells[1]._prefix == "z_r0_"
    assert stack._cells[1]._prefix == "z__dropout0_"


def test_bucketing_module_shares_the_flat_parameters_across_buckets():
    rng = np.random.RandomState(0)
    sents = [list(rng.randint(1, 9, rng.choice([3, 5]))) for _ in range(24)]
    it = mx.rnn.BucketSentenceIter(sents, batch_size=4, buckets=[3, 5], invalid_label=0)

    def sym_gen(length):
        data, label = mx.sym.Variable("data"), mx.sym.Variable("softmax_label")
        emb = mx.sym.Embedding(data, input_dim=10, output_dim=4, name="embed")
        cell = mx.rnn.FusedRNNCell(6, num_layers=2, mode="gru", prefix="f_")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, _ = cell.unroll(length, emb, merge_outputs=True)
        pred = mx.sym.FullyConnected(mx.sym.Reshape(out, shape=(-1, 6)), num_hidden=10,
                                     name="pred")
        loss = mx.sym.SoftmaxOutput(pred, mx.sym.Reshape(label, shape=(-1,)), name="softmax")
        return loss, ("data",), ("softmax_label",)

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=it.default_bucket_key,
                                 context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(mx.init.Xavier())
    before = mod.score(it, "ce")[0][1]
    it.reset()                 # score leaves the iterator at its end (as in MXNet)
    mod.fit(it, num_epoch=3, eval_metric="ce", optimizer="sgd",
            optimizer_params={"learning_rate": 0.2})
    after = mod.score(it, "ce")[0][1]
    assert after < before - 0.05
    buckets = mod.buckets
    assert sorted(buckets) == [3, 5]
    arrays = [b._exec_group.execs[0].arg_dict["f_parameters"] for b in buckets.values()]
    assert arrays[0]._data is arrays[1]._data     # one flat vector for every bucket
