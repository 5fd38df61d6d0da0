"""mx.rnn.ConvRNNCell, ConvLSTMCell and ConvGRUCell: state shapes, names, and the same unrolled
network as MXNet 1.9.1 (same weights and inputs -> same outputs and gradients)."""
import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

CASES = {
    "conv_lstm": """
cell = mx.rnn.ConvLSTMCell(input_shape=(1, 2, 5, 5), num_hidden=3, prefix='cl_')
outs, states = cell.unroll(3, mx.sym.Variable('data'), merge_outputs=True)
sym = mx.sym.Group([outs] + states)
shapes = {'data': (2, 3, 2, 5, 5)}
""",
    "conv_lstm_strided_tanh": """
cell = mx.rnn.ConvLSTMCell((1, 2, 6, 6), 2, h2h_kernel=(3, 1), h2h_dilate=(2, 1),
                           i2h_kernel=(2, 2), i2h_stride=(2, 2), i2h_pad=(0, 0),
                           activation='tanh')
outs, states = cell.unroll(2, mx.sym.Variable('data'), layout='TNC', merge_outputs=False)
sym = mx.sym.Group(list(outs) + states)
shapes = {'data': (2, 3, 2, 6, 6)}
""",
    "conv_gru": """
cell = mx.rnn.ConvGRUCell((1, 1, 4, 4), 2, i2h_dilate=(2, 2), i2h_pad=(2, 2))
outs, states = cell.unroll(3, mx.sym.Variable('data'), merge_outputs=True)
sym = mx.sym.Group([outs] + states)
shapes = {'data': (2, 3, 1, 4, 4)}
""",
    "conv_rnn": """
cell = mx.rnn.ConvRNNCell((1, 2, 4, 4), 3, h2h_kernel=(1, 1), prefix='cr_')
begin = cell.begin_state(func=mx.sym.Variable)
outs, states = cell.unroll(2, mx.sym.Variable('data'), begin_state=begin,
                           merge_outputs=True)
sym = mx.sym.Group([outs] + states)
shapes = {'data': (2, 2, 2, 4, 4), 'cr_begin_state_0': (2, 3, 4, 4)}
""",
}

HARNESS = """
def run_case(code, args, heads):
    scope = {'mx': mx}
    with mx.name.NameManager():
        exec(code, scope)
    sym, shapes, cell = scope['sym'], scope['shapes'], scope['cell']
    names = sym.list_outputs()
    sym = mx.sym.Group([mx.sym.identity(s, name='head%d' % k) for k, s in enumerate(sym)])
    exe = sym.simple_bind(mx.cpu(), grad_req='write', **shapes)
    for k, v in args.items():
        exe.arg_dict[k][:] = v
    exe.forward(is_train=True)
    exe.backward([mx.nd.array(h) for h in heads])
    return {'arguments': sym.list_arguments(), 'outputs_names': names,
            'state_info': cell.state_info, 'attrs': {k: v.get('__init__') for k, v in
                                                     sym.attr_dict().items()},
            'outputs': [o.asnumpy() for o in exe.outputs],
            'grads': {k: v.asnumpy() for k, v in exe.grad_dict.items() if v is not None}}
for name, (code, args, heads) in cases.items():
    out[name] = run_case(code, args, heads)
"""


def _draw(code, seed):
    scope = {"mx": mx}
    with mx.name.NameManager():
        exec(code, scope)
    sym = scope["sym"]
    rng = np.random.RandomState(seed)
    arg_shapes, out_shapes, _ = sym.infer_shape(**scope["shapes"])
    args = {n: rng.uniform(-0.6, 0.6, s).astype(np.float32)
            for n, s in zip(sym.list_arguments(), arg_shapes)}
    heads = [rng.uniform(-1, 1, s).astype(np.float32) for s in out_shapes]
    return args, heads


@pytest.fixture(scope="module")
def oracle():
    cases = {name: (code,) + _draw(code, i) for i, (name, code) in enumerate(CASES.items())}
    return cases, run_oracle(HARNESS, cases=cases)


@pytest.mark.oracle
@pytest.mark.parametrize("case", list(CASES))
def test_conv_cells_match_mxnet(case, oracle):
    cases, ref = oracle
    scope = {"mx": mx, "cases": {case: cases[case]}, "out": {}}
    exec(HARNESS, scope)
    ours, theirs = scope["out"][case], ref[case]
    for key in ("arguments", "outputs_names", "attrs"):
        assert ours[key] == theirs[key], key
    assert [dict(s, shape=tuple(s["shape"])) for s in ours["state_info"]] == \
        [dict(s, shape=tuple(s["shape"])) for s in theirs["state_info"]]
    for a, b in zip(ours["outputs"], theirs["outputs"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert sorted(ours["grads"]) == sorted(theirs["grads"])
    for k in theirs["grads"]:
        np.testing.assert_allclose(ours["grads"][k], theirs["grads"][k], rtol=1e-4, atol=1e-5,
                                   err_msg=k)
        assert np.abs(theirs["grads"][k]).max() > 1e-4, k


def test_conv_lstm_step_by_hand():
    """One step of ConvLSTMCell equals the formula written with numpy convolutions."""
    cell = mx.rnn.ConvLSTMCell((1, 1, 3, 3), 1, h2h_kernel=(1, 1), i2h_kernel=(1, 1),
                               i2h_pad=(0, 0), prefix="c_")
    states = cell.begin_state(func=mx.sym.Variable)
    out, new_states = cell(mx.sym.Variable("x"), states)
    exe = mx.sym.Group([out, new_states[1]]).simple_bind(
        mx.cpu(), x=(1, 1, 3, 3), c_begin_state_0=(1, 1, 3, 3), c_begin_state_1=(1, 1, 3, 3))
    rng = np.random.RandomState(0)
    vals = {k: rng.uniform(-1, 1, v.shape).astype(np.float32) for k, v in exe.arg_dict.items()}
    for k, v in vals.items():
        exe.arg_dict[k][:] = v
    h, c = (o.asnumpy() for o in exe.forward())
    x, h0, c0 = vals["x"][0, 0], vals["c_begin_state_0"][0, 0], vals["c_begin_state_1"][0, 0]
    wi, wh = vals["c_i2h_weight"][:, 0, 0, 0], vals["c_h2h_weight"][:, 0, 0, 0]
    g = [wi[k] * x + vals["c_i2h_bias"][k] + wh[k] * h0 + vals["c_h2h_bias"][k]
         for k in range(4)]
    sig = lambda v: 1 / (1 + np.exp(-v))           # noqa: E731
    leaky = lambda v: np.where(v > 0, v, 0.2 * v)  # noqa: E731
    c_want = sig(g[1]) * c0 + sig(g[0]) * leaky(g[2])
    np.testing.assert_allclose(c[0, 0], c_want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h[0, 0], sig(g[3]) * leaky(c_want), rtol=1e-5, atol=1e-6)


def test_state_shape_follows_the_i2h_convolution_and_kernel_must_be_odd():
    cell = mx.rnn.ConvGRUCell((4, 3, 9, 7), 5, i2h_kernel=(3, 3), i2h_stride=(2, 2),
                              i2h_pad=(0, 1))
    assert cell.state_info == [{"shape": (0, 5, 4, 4), "__layout__": "NCHW"}]
    assert cell._prefix == "ConvGRU_"
    assert len(mx.rnn.ConvLSTMCell((1, 1, 4, 4), 2).state_info) == 2
    with pytest.raises(AssertionError, match="odd"):
        mx.rnn.ConvRNNCell((1, 1, 4, 4), 2, h2h_kernel=(2, 3))
    with pytest.raises(NotImplementedError, match="abstract"):
        base = mx.rnn.BaseConvRNNCell((1, 1, 4, 4), 2, (3, 3), (1, 1), (3, 3), (1, 1), (1, 1),
                                      (1, 1), None, None, None, None, "tanh")
        base(mx.sym.Variable("x"), base.begin_state(func=mx.sym.Variable))
