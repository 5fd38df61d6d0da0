"""The fused ``RNN`` operator: packing, shapes, Numba kernels vs their numpy twins, a direct
numpy RNN, float64 finite differences per mode, grad_req, errors, and parity with MXNet 1.9.1
(same packed weights, inputs and head gradients -> same outputs and gradients)."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError
from mxteach.kernels.reference import rnn as R
from mxteach.kernels.cpu import rnn as K
from mxteach.ops import registry
from mxteach.ops.rnn import backward_with, forward_with, rnn_param_layout, rnn_param_size
from oracle import run_oracle

MODES = ("rnn_relu", "rnn_tanh", "lstm", "gru")


def _params(**kw):
    return registry.get("RNN").parse(kw)


# -- an independent numpy RNN, written from the formulas ---------------------------------------
def _sig(v):
    return 1 / (1 + np.exp(-v))


def _numpy_rnn(x, w, h0, c0, mode, L, bi, H):
    """Whole stack, one step at a time, weights sliced from w in MXNet's packing order."""
    T, N, C = x.shape
    D, G = (2 if bi else 1), {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}[mode]
    pos, mats = 0, []
    for layer in range(L):
        width = C if layer == 0 else D * H
        for _ in range(D):
            wx = w[pos:pos + G * H * width].reshape(G * H, width)
            pos += G * H * width
            wh = w[pos:pos + G * H * H].reshape(G * H, H)
            pos += G * H * H
            mats.append([wx, wh])
    for m in mats:
        m += [w[pos:pos + G * H], w[pos + G * H:pos + 2 * G * H]]
        pos += 2 * G * H
    assert pos == w.size
    seq, hy, cy = x, [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            wx, wh, bx, bh = mats[layer * D + d]
            h, c = h0[layer * D + d], c0[layer * D + d] if c0 is not None else None
            ys = [None] * T
            for t in (range(T) if d == 0 else reversed(range(T))):
                a, b = seq[t] @ wx.T + bx, h @ wh.T + bh
                if mode == "rnn_relu":
                    h = np.maximum(a + b, 0)
                elif mode == "rnn_tanh":
                    h = np.tanh(a + b)
                elif mode == "lstm":
                    i, f, g, o = np.split(a + b, 4, axis=1)
                    c = _sig(f) * c + _sig(i) * np.tanh(g)
                    h = _sig(o) * np.tanh(c)
                else:
                    ar, az, an = np.split(a, 3, axis=1)
                    br, bz, bn = np.split(b, 3, axis=1)
                    r, z = _sig(ar + br), _sig(az + bz)
                    h = (1 - z) * np.tanh(an + r * bn) + z * h
                ys[t] = h
            hy.append(h)
            cy.append(c)
            outs.append(np.stack(ys))
        seq = np.concatenate(outs, axis=2)
    return seq, np.stack(hy), (np.stack(cy) if mode == "lstm" else None)


def _case(mode, T=4, N=3, C=5, H=4, L=2, bi=True, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    D = 2 if bi else 1
    size = rnn_param_size(mode, L, bi, C, H)
    arrays = {"data": rng.uniform(-1, 1, (T, N, C)), "parameters": rng.uniform(-.6, .6, size),
              "state": rng.uniform(-1, 1, (L * D, N, H))}
    if mode == "lstm":
        arrays["state_cell"] = rng.uniform(-1, 1, (L * D, N, H))
    arrays = {k: v.astype(dtype) for k, v in arrays.items()}
    p = _params(state_size=H, num_layers=L, mode=mode, bidirectional=bi, state_outputs=True)
    return p, arrays


def _run(kernels, p, arrays, heads=None, is_train=True):
    """Forward (and backward with ``heads``) through forward_with/backward_with."""
    ins = list(arrays.values())
    _, out_shapes = registry.get("RNN").infer_shape(p, [a.shape for a in ins])
    outs = [np.zeros(s, dtype=ins[0].dtype) for s in out_shapes]
    state = {}
    forward_with(kernels, p, ins, outs, is_train, state)
    if heads is None:
        return outs, None
    grads = [np.zeros_like(a) for a in ins]
    backward_with(kernels, p, heads, ins, outs, grads, ["write"] * len(ins), state)
    return outs, grads


# -- packing and shapes ------------------------------------------------------------------------
def test_param_size_is_mxnets_formula():
    for mode, g in (("rnn_tanh", 1), ("lstm", 4), ("gru", 3)):
        for L, D, C, H in ((1, 1, 7, 5), (3, 2, 4, 6), (2, 1, 1, 3)):
            want = (C + H + 2) * g * H * D + (L - 1) * (D * H + H + 2) * g * H * D
            assert rnn_param_size(mode, L, D == 2, C, H) == want


def test_layout_walks_weights_then_biases():
    blocks, total = rnn_param_layout("lstm", 2, True, 3, 2)
    assert [(b["layer"], b["direction"]) for b in blocks] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert blocks[0]["wx"] == (0, (8, 3)) and blocks[0]["wh"] == (24, (8, 2))
    assert blocks[1]["wx"] == (40, (8, 3))
    assert blocks[2]["wx"] == (80, (8, 4))          # layer 1 reads both directions: 2*H wide
    weights_end = 2 * (24 + 16) + 2 * (32 + 16)
    assert blocks[0]["bx"] == (weights_end, (8,)) and blocks[0]["bh"] == (weights_end + 8, (8,))
    assert blocks[3]["bh"][0] + 8 == total


def test_symbol_names_and_inferred_shapes():
    s = mx.sym.RNN(mx.sym.Variable("data"), state_size=5, num_layers=2, mode="lstm",
                   bidirectional=True, state_outputs=True, name="r")
    assert s.list_arguments() == ["data", "r_parameters", "r_state", "r_state_cell"]
    assert s.list_outputs() == ["r_output", "r_state_output", "r_statecell_output"]
    args, outs, aux = s.infer_shape(data=(7, 3, 4))
    assert args == [(7, 3, 4), (1120,), (4, 3, 5), (4, 3, 5)]
    assert outs == [(7, 3, 10), (4, 3, 5), (4, 3, 5)] and aux == []
    g = mx.sym.RNN(mx.sym.Variable("data"), state_size=5, num_layers=1, mode="gru", name="g")
    assert g.list_arguments() == ["data", "g_parameters", "g_state"]
    assert g.list_outputs() == ["g_output"]
    assert g.infer_type(data="float64")[0] == [np.float64] * 3


def test_zero_begin_state_gets_its_batch_from_the_rnn():
    zeros = mx.sym.zeros(shape=(2, 0, 3), name="h0")
    s = mx.sym.RNN(mx.sym.Variable("data"), state=zeros, state_size=3, num_layers=2,
                   mode="rnn_tanh", name="r")
    args, outs, _ = s.infer_shape(data=(4, 6, 2))
    assert s.list_arguments() == ["data", "r_parameters"] and outs == [(4, 6, 3)]
    exe = s.simple_bind(mx.cpu(), data=(4, 6, 2))
    exe.arg_dict["r_parameters"][:] = 0.1
    exe.arg_dict["data"][:] = 1.0
    out = exe.forward()[0].asnumpy()
    x, w = np.ones((4, 6, 2)), np.full(args[1], 0.1)
    np.testing.assert_allclose(out, _numpy_rnn(x, w, np.zeros((2, 6, 3)), None, "rnn_tanh", 2,
                                               False, 3)[0], rtol=1e-5)


def test_nd_front_end_returns_output_and_states():
    p, arrays = _case("lstm", L=1, bi=True, dtype=np.float32)
    got = mx.nd.RNN(*[mx.nd.array(a) for a in arrays.values()], state_size=4, num_layers=1,
                    mode="lstm", bidirectional=True, state_outputs=True)
    want = _numpy_rnn(*[a.astype(np.float64) for a in arrays.values()], "lstm", 1, True, 4)
    assert [g.shape for g in got] == [(4, 3, 8), (2, 3, 4), (2, 3, 4)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.asnumpy(), w, rtol=1e-5, atol=1e-6)
    single = mx.nd.RNN(*[mx.nd.array(a) for a in arrays.values()], state_size=4,
                       num_layers=1, mode="lstm", bidirectional=True)
    np.testing.assert_array_equal(single.asnumpy(), got[0].asnumpy())


@pytest.mark.parametrize("bad, match", [
    (dict(data=(3, 4)), "rank-3"),
    (dict(data=(3, 2, 4), r_parameters=(7,)), r"parameters has shape \(7,\), expected \(165,\)"),
    (dict(data=(3, 2, 4), r_state=(1, 3, 5)), r"state has shape \(1, 3, 5\), expected \(1, 2, 5\)"),
])
def test_shape_errors_name_the_input(bad, match):
    s = mx.sym.RNN(mx.sym.Variable("data"), state_size=5, num_layers=1, mode="gru", name="r")
    with pytest.raises(ShapeError, match=match):
        s.infer_shape(**bad)


@pytest.mark.parametrize("kw, match", [
    (dict(mode="xx"), "mode"), (dict(mode="gru", p=1.5), "p = 1.5"),
    (dict(mode="lstm", projection_size=2), "projection_size"),
    (dict(mode="lstm", lstm_state_clip_min=-1.0, lstm_state_clip_max=1.0), "lstm_state_clip"),
    (dict(mode="lstm", use_sequence_length=True), "use_sequence_length"),
    (dict(mode="gru", num_layers=0), "num_layers = 0"),
])
def test_bad_parameters_are_refused_at_creation(kw, match):
    kw = {"state_size": 3, "num_layers": 1, **kw}
    with pytest.raises(MXNetError, match=match):
        mx.sym.RNN(mx.sym.Variable("data"), **kw)


# -- kernels against their numpy twins -----------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cell_kernels_match_reference(mode, dtype):
    rng = np.random.RandomState(1)
    N, H = 3, 5
    G = K.NUM_GATES[mode] * H
    code, sw = K.MODE_CODES[mode], K.saved_width(mode, H)
    gx, gh = (rng.uniform(-2, 2, (N, G)).astype(dtype) for _ in range(2))
    h_prev, c_prev, dh, dc = (rng.uniform(-1, 1, (N, H)).astype(dtype) for _ in range(4))
    results = []
    for mod in (K, R):
        h, c = np.zeros((N, H), dtype), np.zeros((N, H), dtype)
        saved = np.zeros((N, sw), dtype)
        mod.cell_forward(gx, gh, h_prev, c_prev, h, c, saved, code)
        back = [np.zeros((N, G), dtype), np.zeros((N, G), dtype), np.zeros((N, H), dtype),
                np.zeros((N, H), dtype)]
        mod.cell_backward(dh, dc, h_prev, c_prev, c, h, saved, *back, code)
        results.append([h, c, saved] + back)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert np.abs(results[0][0]).max() > 0.05 and np.abs(results[0][3]).max() > 0.01


@pytest.mark.parametrize("mode", MODES)
def test_operator_matches_numpy_rnn_and_reference_kernels(mode):
    p, arrays = _case(mode)
    rng = np.random.RandomState(5)
    outs, _ = _run(K, p, arrays)
    want = _numpy_rnn(*arrays.values(), *([None] if mode != "lstm" else []), mode, 2, True, 4)
    for got, exp in zip(outs, want):
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-12)
    heads = [rng.uniform(-1, 1, o.shape) for o in outs]
    outs_k, grads_k = _run(K, p, arrays, heads)
    outs_r, grads_r = _run(R, p, arrays, heads)
    for a, b in zip(outs_k + grads_k, outs_r + grads_r):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


# -- finite differences (float64) ----------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_gradients_match_finite_differences(mode):
    p, arrays = _case(mode, T=3, N=2, C=3, H=2, L=2, bi=True, seed=3)
    if mode == "rnn_relu":   # keep pre-activations away from the kink
        arrays["parameters"] = np.abs(arrays["parameters"]) * 0.5 + 0.05
    rng = np.random.RandomState(4)
    outs, _ = _run(K, p, arrays)
    heads = [rng.uniform(-1, 1, o.shape) for o in outs]

    def loss():
        return sum(float((o * h).sum()) for o, h in zip(_run(K, p, arrays)[0], heads))

    _, grads = _run(K, p, arrays, heads)
    eps = 1e-6
    for (name, arr), grad in zip(arrays.items(), grads):
        num = np.zeros_like(arr)
        flat, nflat = arr.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            nflat[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-7, err_msg=name)
        assert np.abs(num).max() > 1e-3, name


# -- through the executor: grad_req, dropout, workspace --------------------------------------
def _bound(grad_req, mode="gru", p=0.0, L=2):
    s = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=L, mode=mode, p=p,
                   name="r")
    exe = s.simple_bind(mx.cpu(), grad_req=grad_req, data=(4, 2, 3))
    rng = np.random.RandomState(0)
    for k, a in exe.arg_dict.items():
        a[:] = rng.uniform(-0.5, 0.5, a.shape)
    return exe


def test_grad_req_write_add_null():
    head = mx.nd.array(np.random.RandomState(1).uniform(-1, 1, (4, 2, 3)))
    ref = _bound("write")
    ref.forward(is_train=True)
    ref.backward([head])
    want = {k: v.asnumpy() for k, v in ref.grad_dict.items()}
    assert all(np.abs(v).max() > 1e-3 for v in want.values())
    add = _bound("add")
    for _ in range(2):
        add.forward(is_train=True)
        add.backward([head])
    for k in want:
        np.testing.assert_allclose(add.grad_dict[k].asnumpy(), 2 * want[k], rtol=1e-5,
                                   atol=1e-6)
    part = _bound({"data": "null", "r_parameters": "write", "r_state": "null"})
    part.forward(is_train=True)
    part.backward([head])
    assert part.grad_dict.get("data") is None and part.grad_dict.get("r_state") is None
    np.testing.assert_allclose(part.grad_dict["r_parameters"].asnumpy(), want["r_parameters"],
                               rtol=1e-5, atol=1e-6)


def test_dropout_between_layers_only_while_training():
    p, arrays = _case("rnn_tanh", T=5, N=4, C=3, H=3, L=3, bi=False)
    p = dict(p, p=0.5)
    plain, _ = _run(K, dict(p, p=0.0), arrays)
    infer, _ = _run(K, p, arrays, is_train=False)
    for a, b in zip(infer, plain):
        np.testing.assert_array_equal(a, b)
    mx.random.seed(3)
    ins = list(arrays.values())
    outs, state = [np.zeros_like(o) for o in plain], {}
    forward_with(K, p, ins, outs, True, state)
    # the outputs of layers 0 and 1 are dropped (inverted dropout), the last layer's are not
    for layer in (0, 1):
        mask = state[f"l{layer}_mask"]
        assert set(np.unique(mask)) <= {0.0, 2.0} and 0.2 < (mask == 0).mean() < 0.8
        np.testing.assert_allclose(state[f"l{layer + 1}_in"],
                                   state[f"l{layer}_h"][0] * mask, rtol=1e-12)
    assert "l2_mask" not in state
    hy = outs[1]
    np.testing.assert_array_equal(hy[0], plain[1][0])      # layer 0 never sees dropout
    assert not np.allclose(hy[1:], plain[1][1:]) and not np.allclose(outs[0], plain[0])
    # backward goes through the same masks: compare with finite differences of that forward
    heads = [np.ones_like(o) for o in outs]
    grads = [np.zeros_like(a) for a in ins]
    backward_with(K, p, heads, ins, outs, grads, ["write"] * 3, state)
    masks = {k: v.copy() for k, v in state.items() if k.endswith("_mask")}

    def loss(x):
        st = dict(masks)
        o = [np.zeros_like(v) for v in outs]
        mx.random.seed(3)                           # the same draws give the same masks
        forward_with(K, p, [x] + ins[1:], o, True, st)
        return sum(float(v.sum()) for v in o)

    x, eps = ins[0].copy(), 1e-6
    x[1, 2, 0] += eps
    up = loss(x)
    x[1, 2, 0] -= 2 * eps
    down = loss(x)
    assert abs((up - down) / (2 * eps) - grads[0][1, 2, 0]) < 1e-6


def test_saved_steps_show_up_as_workspace():
    exe = _bound("write", mode="lstm")
    exe.forward(is_train=True)
    rows = {r.name: r for r in exe.memory_report()}
    assert {"r:l0_h", "r:l0_c", "r:l0_gates", "r:l1_in"} <= set(rows)


def test_float16_runs_in_float32_and_keeps_dtype():
    p, arrays = _case("lstm", dtype=np.float16, L=1, bi=False)
    outs, grads = _run(K, p, arrays, [np.ones((4, 3, 4), np.float16)] + [
        np.zeros((1, 3, 4), np.float16)] * 2)
    ref, _ = _run(K, p, {k: v.astype(np.float32) for k, v in arrays.items()})
    assert outs[0].dtype == np.float16 and grads[1].dtype == np.float16
    np.testing.assert_allclose(outs[0], ref[0], rtol=2e-3, atol=2e-3)


@pytest.mark.cudasim
def test_rnn_binds_and_runs_on_the_gpu_as_on_the_cpu():
    # (the GPU side of every mode is compared with this CPU side in tests/test_cuda_nn_ops.py)
    s = mx.sym.RNN(mx.sym.Variable("data"), state_size=3, num_layers=1, mode="gru",
                   state_outputs=True, name="r")
    results = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        rs = np.random.RandomState(2)
        exe = s.simple_bind(ctx, data=(2, 1, 3))
        for name, arr in sorted(exe.arg_dict.items()):
            arr[:] = np.random.RandomState(len(name)).uniform(-0.5, 0.5, arr.shape)
        outs = exe.forward(is_train=True)
        exe.backward([mx.nd.array(rs.randn(*o.shape), ctx=ctx) for o in outs])
        results.append([o.asnumpy() for o in outs] + [g.asnumpy() for g in exe.grad_arrays])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)


# -- MXNet 1.9.1 ---------------------------------------------------------------------------------
ORACLE_RNN = """
for key, (mode, bi, L, H, arrays, heads) in cases.items():
    lstm = mode == 'lstm'
    names = ['data', 'w', 'h0'] + (['c0'] if lstm else [])
    s = mx.sym.RNN(*[mx.sym.Variable(n) for n in names], state_size=H, num_layers=L,
                   mode=mode, bidirectional=bi, state_outputs=True, name='r')
    args = {n: mx.nd.array(a) for n, a in zip(names, arrays)}
    grads = {n: mx.nd.zeros(a.shape) for n, a in zip(names, arrays)}
    exe = s.bind(mx.cpu(), args, args_grad=grads)
    outs = exe.forward(is_train=True)
    exe.backward([mx.nd.array(h) for h in heads])
    out[key] = ([o.asnumpy() for o in outs], [grads[n].asnumpy() for n in names],
                s.infer_shape(data=arrays[0].shape))
"""


@pytest.mark.oracle
def test_rnn_matches_mxnet_all_modes_bidirectional_two_layers():
    cases, rng = {}, np.random.RandomState(7)
    for mode in MODES:
        for bi in (False, True):
            p, arrays = _case(mode, T=5, N=3, C=4, H=6, L=2, bi=bi, dtype=np.float32,
                              seed=len(cases))
            outs, _ = _run(K, p, arrays)
            heads = [rng.uniform(-1, 1, o.shape).astype(np.float32) for o in outs]
            cases[f"{mode}_{bi}"] = (mode, bi, 2, 6, list(arrays.values()), heads)
    ref = run_oracle(ORACLE_RNN, cases=cases)
    for key, (mode, bi, L, H, arrays, heads) in cases.items():
        names = ["data", "parameters", "state", "state_cell"]
        p, _ = _case(mode, T=5, N=3, C=4, H=6, L=2, bi=bi)
        outs, grads = _run(K, p, dict(zip(names, arrays)), heads)
        their_outs, their_grads, their_shapes = ref[key]
        assert [tuple(s) for s in their_shapes[0]] == [a.shape for a in arrays]
        for a, b in zip(outs, their_outs):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6, err_msg=key)
        for name, a, b in zip(names, grads, their_grads):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6, err_msg=f"{key} {name}")
            assert np.abs(b).max() > 1e-3


# -- SwapAxis, which FusedRNNCell uses for 'NTC' sequences -------------------------------------
def test_swapaxes_values_gradient_names_and_errors():
    x = np.arange(24.0).reshape(2, 3, 4)
    y = mx.nd.swapaxes(mx.nd.array(x), dim1=0, dim2=2)
    np.testing.assert_array_equal(y.asnumpy(), np.swapaxes(x, 0, 2))
    a = mx.sym.Variable("a")
    with mx.name.NameManager():      # auto-names follow the name called, as in MXNet
        assert mx.sym.SwapAxis(a, dim1=0, dim2=2).name == "swapaxis0"
        assert mx.sym.swapaxes(a, dim1=0, dim2=1).name == "swapaxes0"
    s = mx.sym.SwapAxis(a, dim1=-1, dim2=0)
    assert s.infer_shape(a=(2, 3, 4))[1] == [(4, 3, 2)]
    exe = s.simple_bind(mx.cpu(), a=(2, 3, 4))
    exe.forward(is_train=True, a=mx.nd.array(x))
    g = np.random.RandomState(0).uniform(size=(4, 3, 2))
    exe.backward([mx.nd.array(g)])
    np.testing.assert_allclose(exe.grad_dict["a"].asnumpy(), np.swapaxes(g, 0, 2), rtol=1e-6)
    with pytest.raises(ShapeError, match="dim2 = 5 is out of bounds"):
        mx.nd.SwapAxis(mx.nd.ones((2, 3)), dim1=0, dim2=5)
