"""Symbol graphs: naming, listing, inference, attributes, JSON — checked against MXNet 1.9.1."""
import json

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError
from oracle import run_oracle


def mlp():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=8, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    fc2 = mx.sym.FullyConnected(act, num_hidden=4, name="fc2")
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def test_auto_names_and_lists():
    with mx.name.NameManager():
        x = mx.sym.Variable("x")
        fc = mx.sym.FullyConnected(x, num_hidden=3)
        fc2 = mx.sym.FullyConnected(fc, num_hidden=2)
        assert fc.name == "fullyconnected0" and fc2.name == "fullyconnected1"
        assert fc2.list_arguments() == ["x", "fullyconnected0_weight", "fullyconnected0_bias",
                                        "fullyconnected1_weight", "fullyconnected1_bias"]
        assert fc2.list_outputs() == ["fullyconnected1_output"]
        assert (x + 1).name == "_plusscalar0"
        assert (x * fc).name == "_mul0"


def test_lists_match_mxnet():
    sym = mlp()
    ref = run_oracle("""
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=8, name='fc1')
act = mx.sym.Activation(fc1, act_type='relu', name='relu1')
fc2 = mx.sym.FullyConnected(act, num_hidden=4, name='fc2')
s = mx.sym.SoftmaxOutput(fc2, name='softmax')
bn = mx.sym.BatchNorm(s, name='bn')
out['args'] = s.list_arguments(); out['outs'] = s.list_outputs()
out['internals'] = s.get_internals().list_outputs()
out['shapes'] = s.infer_shape(data=(5, 3))
out['bn_aux'] = bn.list_auxiliary_states(); out['bn_inputs'] = bn.list_inputs()
out['attr'] = s.attr_dict()
""")
    assert sym.list_arguments() == ref["args"]
    assert sym.list_outputs() == ref["outs"]
    assert sym.get_internals().list_outputs() == ref["internals"]
    assert sym.infer_shape(data=(5, 3)) == tuple(ref["shapes"])
    bn = mx.sym.BatchNorm(sym, name="bn")
    assert bn.list_auxiliary_states() == ref["bn_aux"]
    assert bn.list_inputs() == ref["bn_inputs"]
    assert sym.attr_dict() == ref["attr"]


def test_getitem_group_and_internals():
    sym = mlp()
    internals = sym.get_internals()
    fc1 = internals["fc1_output"]
    assert fc1.list_outputs() == ["fc1_output"]
    g = mx.sym.Group([fc1, sym])
    assert g.list_outputs() == ["fc1_output", "softmax_output"]
    assert g[1].name == "softmax" and len(g) == 2
    with pytest.raises(MXNetError, match="fc1_outptu"):
        internals["fc1_outptu"]
    assert sym.get_children().list_outputs() == ["fc2_output", "softmax_label"]


def test_infer_shape_partial_and_conflict():
    sym = mlp()
    arg, out, aux = sym.infer_shape_partial()
    assert arg == [()] * 6 and out == [()]
    assert sym.infer_shape() == (None, None, None)
    with pytest.raises(ShapeError, match="fc1.*weight"):
        sym.infer_shape(data=(2, 3), fc1_weight=(8, 4))
    with pytest.raises(MXNetError, match="Did you mean 'data'"):
        sym.infer_shape(dta=(2, 3))


def test_infer_type():
    sym = mlp()
    args, outs, aux = sym.infer_type(data="float64")
    assert all(t is np.float64 for t in args + outs)
    v = mx.sym.Variable("v", dtype="float16")
    assert (v * 2).infer_type()[1] == [np.float16]


def test_variable_attributes():
    v = mx.sym.Variable("w", shape=(3, 4), lr_mult=2.0, wd_mult=0.5, dtype="float32",
                        init=mx.init.Uniform(0.1), attr={"mood": "calm"})
    d = v.list_attr()
    assert d["__shape__"] == "(3, 4)" and d["__lr_mult__"] == "2.0"
    assert d["__wd_mult__"] == "0.5" and d["__dtype__"] == "0" and d["mood"] == "calm"
    assert json.loads(d["__init__"]) == ["uniform", {"scale": 0.1}]
    assert (v * 1).infer_shape()[0] == [(3, 4)]
    with pytest.raises(MXNetError):
        mx.sym.Variable("w", color="red")


def test_compose_replaces_variables():
    x = mx.sym.Variable("x")
    net = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    y = mx.sym.Variable("y")
    composed = net(x=mx.sym.Activation(y, act_type="tanh", name="t"))
    assert composed.list_arguments() == ["y", "fc_weight", "fc_bias"]
    assert net.list_arguments() == ["x", "fc_weight", "fc_bias"]   # original untouched
    with pytest.raises(MXNetError):
        net(z=y)


def test_unknown_argument_and_arity_errors():
    x = mx.sym.Variable("x")
    with pytest.raises(MXNetError, match="num_hiden"):
        mx.sym.FullyConnected(x, num_hiden=3)
    with pytest.raises(MXNetError, match="needs argument 'num_hidden'"):
        mx.sym.FullyConnected(x)
    with pytest.raises(MXNetError, match="at most"):
        mx.sym.Activation(x, x, x, act_type="relu")
    with pytest.raises(MXNetError, match="unknown operator"):
        mx.ops.registry.get("FullyConnect")


def test_json_roundtrip_and_save_load(tmp_path):
    sym = mlp()
    again = mx.sym.load_json(sym.tojson())
    assert again.tojson() == sym.tojson()
    f = tmp_path / "net-symbol.json"
    sym.save(str(f))
    assert mx.sym.load(str(f)).list_arguments() == sym.list_arguments()
    assert [p.name for p in tmp_path.iterdir()] == ["net-symbol.json"]
    with pytest.raises(MXNetError, match="does not exist"):
        mx.sym.load(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(MXNetError, match="bad.json"):
        mx.sym.load(str(tmp_path / "bad.json"))


def test_json_matches_mxnet_and_loads_there():
    sym = mlp()
    bn = mx.sym.BatchNorm(sym, name="bn", fix_gamma=False)
    ref = run_oracle("""
s = mx.sym.load_json(js)
out['args'] = s.list_arguments(); out['aux'] = s.list_auxiliary_states()
out['shape'] = s.infer_shape(data=(2, 3))
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=8, name='fc1')
act = mx.sym.Activation(fc1, act_type='relu', name='relu1')
fc2 = mx.sym.FullyConnected(act, num_hidden=4, name='fc2')
s2 = mx.sym.BatchNorm(mx.sym.SoftmaxOutput(fc2, name='softmax'), name='bn', fix_gamma=False)
out['json'] = s2.tojson()
""", js=bn.tojson())
    assert ref["args"] == bn.list_arguments() and ref["aux"] == bn.list_auxiliary_states()
    assert tuple(ref["shape"]) == bn.infer_shape(data=(2, 3))
    mine, theirs = json.loads(bn.tojson()), json.loads(ref["json"])
    assert [n["name"] for n in mine["nodes"]] == [n["name"] for n in theirs["nodes"]]
    assert [n["op"] for n in mine["nodes"]] == [n["op"] for n in theirs["nodes"]]
    assert [n["inputs"] for n in mine["nodes"]] == [n["inputs"] for n in theirs["nodes"]]
    assert mine["arg_nodes"] == theirs["arg_nodes"] and mine["heads"] == theirs["heads"]
    loaded = mx.sym.load_json(ref["json"])
    assert loaded.list_arguments() == bn.list_arguments()


def test_attr_scope_and_set_attr():
    with mx.sym.AttrScope(ctx_group="dev1"):
        a = mx.sym.Variable("a")
        b = mx.sym.FullyConnected(a, num_hidden=2, name="b")
    assert a.attr("ctx_group") == "dev1" and b.attr("ctx_group") == "dev1"
    b._set_attr(__lr_mult__=3)
    assert b.attr("__lr_mult__") == "3"
    assert b.attr("num_hidden") == "2"


def test_arithmetic_symbols_evaluate():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    expr = (a + b) * 2 - a / b + 1 - (-a) + 3 / a + a ** 2
    av = np.array([[1.0, 2.0]], dtype=np.float32)
    bv = np.array([[3.0, 4.0]], dtype=np.float32)
    out = expr.eval(ctx=mx.cpu(), a=mx.nd.array(av), b=mx.nd.array(bv))[0].asnumpy()
    want = (av + bv) * 2 - av / bv + 1 + av + 3 / av + av ** 2
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_zeros_ones_full_with_inferred_batch():
    x = mx.sym.Variable("x")
    s = x + mx.sym.zeros((0, 4)) + mx.sym.ones((3, 4)) * mx.sym.full((3, 4), 2.5)
    assert s.infer_shape(x=(3, 4)) == ([(3, 4)], [(3, 4)], [])
    out = s.eval(x=mx.nd.ones((3, 4)))[0].asnumpy()
    np.testing.assert_array_equal(out, np.full((3, 4), 3.5, np.float32))
    fc = mx.sym.FullyConnected(mx.sym.zeros((0, 2)), num_hidden=3, name="fc") + \
        mx.sym.FullyConnected(x, num_hidden=3, name="fx")
    assert fc.infer_shape(x=(5, 4))[0][0] == (3, 2)        # fc_weight from the (0, 2) state
    assert json.loads(mx.sym.zeros((0, 4)).tojson())["nodes"][0]["op"] == "_zeros"
