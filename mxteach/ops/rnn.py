"""The fused recurrent operator ``RNN``: a whole multi-layer (bidirectional) RNN, LSTM or GRU over
a (T, N, C) sequence in one node, with every weight in one flat ``parameters`` vector.

The flat vector is packed as MXNet (and cuDNN) pack it: first every weight matrix, then every
bias, each group walking the layers and, inside a layer, the directions (left-to-right, then
right-to-left)::

    for layer, direction:  W_x (G*H, in)  W_h (G*H, H)      in = C for layer 0, D*H above
    for layer, direction:  b_x (G*H,)     b_h (G*H,)

with G gate blocks of H rows stacked in the order LSTM ``i, f, g, o``, GRU ``r, z, n``, plain
RNN one block. :func:`rnn_param_layout` gives the offsets (``mx.rnn.FusedRNNCell`` uses it).

How it runs: per layer and direction, one BLAS GEMM projects the whole input sequence, then a
time loop does one small GEMM ``h_{t-1} W_h^T`` per step and calls a Numba kernel for the gates
(``kernels/cpu/rnn.py``; numpy twins in ``kernels/reference/rnn.py``). On a GPU the same loops
run on device arrays: the tiled GEMM of ``kernels/cuda/nn.py`` for the products and one CUDA
kernel per step for the gates (``kernels/cuda/rnn.py``).
Backward walks the same loop in reverse and gathers the weight gradients in three GEMMs per
layer and direction. What backward needs (every step's h, c and gate values, the dropout masks)
stays in the node's ``state`` (``memory_report()`` lists it as workspace).

Deliberate differences from MXNet 1.9.1 on CPU: ``p`` is applied while training, as MXNet's
native CPU kernel and cuDNN apply it; the oneDNN kernel that MXNet 1.9.1's pip build runs by
default ignores it (training then gives the inference numbers). ``projection_size`` (which
crashes MXNet's CPU kernel), ``lstm_state_clip_min/max`` (which its CPU kernel silently
ignores) and ``use_sequence_length`` (likewise) raise an MXNetError saying they are not
implemented, instead of giving a crash or unclipped numbers.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .. import random_state
from ..base import MXNetError, ShapeError
from ..kernels.cpu import rnn as K_CPU

__all__ = ["rnn_param_layout", "rnn_param_size", "forward_with", "backward_with"]

_MODES = ("rnn_relu", "rnn_tanh", "lstm", "gru")


# -- the packed parameter vector ---------------------------------------------------------------
def rnn_param_layout(mode, num_layers, bidirectional, input_size, state_size):
    """Where each weight and bias sits in the flat ``parameters`` vector.

    Parameters
    ----------
    mode : {'rnn_relu', 'rnn_tanh', 'lstm', 'gru'}
    num_layers, input_size, state_size : int
    bidirectional : bool

    Returns
    -------
    (list of dict, int)
        One dict per (layer, direction), in that order, with ``layer``, ``direction`` and
        ``wx``, ``wh``, ``bx``, ``bh`` as ``(offset, shape)``; and the total size.

    Examples
    --------
    >>> blocks, total = rnn_param_layout('gru', 1, False, 4, 5)
    >>> blocks[0]['wh'], total
    ((60, (15, 5)), 165)

    See notebook 08.
    """
    gates = K_CPU.NUM_GATES[mode] * state_size
    dirs = 2 if bidirectional else 1
    blocks, pos = [], 0
    for layer in range(num_layers):
        width = input_size if layer == 0 else dirs * state_size
        for direction in range(dirs):
            b = {"layer": layer, "direction": direction, "wx": (pos, (gates, width))}
            pos += gates * width
            b["wh"] = (pos, (gates, state_size))
            pos += gates * state_size
            blocks.append(b)
    for b in blocks:
        b["bx"] = (pos, (gates,))
        b["bh"] = (pos + gates, (gates,))
        pos += 2 * gates
    return blocks, pos


def rnn_param_size(mode, num_layers, bidirectional, input_size, state_size):
    """Length of the flat ``parameters`` vector (MXNet's ``GetRnnParamSize``). See notebook 08."""
    return rnn_param_layout(mode, num_layers, bidirectional, input_size, state_size)[1]


def _views(flat, block):
    """W_x, W_h, b_x, b_h of one (layer, direction) as views into ``flat``."""
    out = []
    for key in ("wx", "wh", "bx", "bh"):
        off, shape = block[key]
        out.append(flat[off:off + int(np.prod(shape))].reshape(shape))
    return out


# -- declaration: parameters, names, shapes ----------------------------------------------------
def _check(p):
    for key in ("state_size", "num_layers"):
        if p[key] < 1:
            raise MXNetError(f"RNN: {key} = {p[key]} must be at least 1")
    if not 0.0 <= p["p"] <= 1.0:
        raise MXNetError(f"RNN: p = {p['p']} (dropout between layers) must lie in [0, 1]")
    if p["projection_size"] is not None:
        raise MXNetError(f"RNN: projection_size = {p['projection_size']} (LSTMP) is not "
                         f"implemented in mxteach (MXNet 1.9.1 has it only with cuDNN); leave it "
                         f"None")
    if p["lstm_state_clip_min"] is not None or p["lstm_state_clip_max"] is not None:
        raise MXNetError(f"RNN: lstm_state_clip_min/max = ({p['lstm_state_clip_min']}, "
                         f"{p['lstm_state_clip_max']}) is not implemented in mxteach (MXNet "
                         f"1.9.1 applies it only with cuDNN; its CPU kernel ignores it); leave "
                         f"both None")
    if p["use_sequence_length"]:
        raise MXNetError("RNN: use_sequence_length=True is not implemented in mxteach (MXNet "
                         "1.9.1 honours it only with cuDNN); pad the sequences and mask the "
                         "outputs with SequenceMask instead")


def _args(p):
    _check(p)
    return ["data", "parameters", "state"] + (["state_cell"] if p["mode"] == "lstm" else [])


def _outputs(p):
    if not p["state_outputs"]:
        return ["output"]
    return ["output", "state_output"] + (["statecell_output"] if p["mode"] == "lstm" else [])


def _shape(p, in_shapes):
    _check(p)
    names = _args(p)
    n_out = len(_outputs(p))
    data = in_shapes[0]
    if data is None:
        return in_shapes, [None] * n_out
    data = tuple(data)
    if len(data) != 3:
        raise ShapeError(f"RNN: input data has shape {data}; expected a rank-3 (sequence "
                         f"length, batch size, input size) array, layout TNC")
    T, N, C = data
    H, dirs = p["state_size"], 2 if p["bidirectional"] else 1
    size = rnn_param_size(p["mode"], p["num_layers"], p["bidirectional"], C, H)
    states = (p["num_layers"] * dirs, N, H)
    want = [data, (size,)] + [states] * (len(names) - 2)
    for name, got, exp in zip(names, in_shapes, want):
        if got is not None and tuple(got) != exp:
            why = (f" = the packed weights and biases of {p['num_layers']} layer(s) of "
                   f"{p['mode']} with state_size={H}, input size {C}"
                   + (", bidirectional" if dirs == 2 else "")) if name == "parameters" else \
                  " = (num_layers * directions, batch, state_size)"
            raise ShapeError(f"RNN: input {name} has shape {tuple(got)}, expected {exp}{why}")
    return want, [(T, N, dirs * H)] + [states] * (n_out - 1)


# -- running -----------------------------------------------------------------------------------
def _work_dtype(dtype):
    # float16 is computed in float32 (as MXNet's CPU kernel accumulates), then rounded back
    return np.dtype(np.float32) if np.dtype(dtype) == np.float16 else np.dtype(dtype)


def _buffer(state, key, shape, dtype):
    """A scratch array kept in the node state (reused while the shape stays the same)."""
    arr = state.get(key)
    if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != dtype:
        arr = np.empty(shape, dtype=dtype)
        state[key] = arr
    return arr


def _dims(p, x):
    T, N, _ = x.shape
    return T, N, p["state_size"], p["num_layers"], 2 if p["bidirectional"] else 1


def _plan(K, p, x):
    """What every forward and backward (CPU and GPU) derives first: the sizes (T, N, H, L, D),
    the mode's name, LSTM flag, code and gate width G, and the parameter layout."""
    T, N, H, L, D = _dims(p, x)
    mode = p["mode"]
    blocks, total = rnn_param_layout(mode, L, p["bidirectional"], x.shape[2], H)
    return (T, N, H, L, D), (mode, mode == "lstm", K.MODE_CODES[mode], K.NUM_GATES[mode] * H), \
        (blocks, total)


def forward_with(K, p, ins, outs, is_train, state):
    """The RNN forward with kernel module ``K`` (``kernels.cpu.rnn`` or its numpy twin).

    See notebook 08.
    """
    x = ins[0]
    (T, N, H, L, D), (mode, lstm, code, gh_width), (blocks, _) = _plan(K, p, x)
    work = _work_dtype(x.dtype)
    flat = np.ascontiguousarray(ins[1], dtype=work)
    h0 = np.ascontiguousarray(ins[2], dtype=work)
    c0 = np.ascontiguousarray(ins[3], dtype=work) if lstm else None
    empty = np.empty((0, 0), dtype=work)
    hy = np.empty((L * D, N, H), dtype=work)
    cy = np.empty((L * D, N, H), dtype=work) if lstm else None
    layer_in = np.ascontiguousarray(x, dtype=work)
    inputs, masks = [], []
    gh = np.empty((N, gh_width), dtype=work)
    for layer in range(L):
        inputs.append(layer_in)
        hs = _buffer(state, f"l{layer}_h", (D, T, N, H), work)
        cs = _buffer(state, f"l{layer}_c", (D, T, N, H), work) if lstm else None
        sv = _buffer(state, f"l{layer}_gates", (D, T, N, K.saved_width(mode, H)), work)
        for d in range(D):
            s = layer * D + d
            wx, wh, bx, bh = _views(flat, blocks[s])
            gx = (layer_in.reshape(T * N, -1) @ wx.T + bx).reshape(T, N, gh_width)
            h_prev, c_prev = h0[s], (c0[s] if lstm else empty)
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                np.matmul(h_prev, wh.T, out=gh)
                gh += bh
                c_t = cs[d, t] if lstm else empty
                K.cell_forward(gx[t], gh, h_prev, c_prev, hs[d, t], c_t, sv[d, t], code)
                h_prev, c_prev = hs[d, t], c_t
            hy[s] = h_prev
            if lstm:
                cy[s] = c_prev
        y = hs[0] if D == 1 else np.concatenate([hs[0], hs[1]], axis=2)
        if layer < L - 1:
            mask = None
            if is_train and p["p"] > 0:
                # inverted dropout on the outputs of every layer but the last (p = 1 drops all)
                keep = 1.0 - p["p"]
                kept = random_state.rng().random_sample(y.shape) < keep
                mask = np.where(kept, 1.0 / keep if keep > 0 else 0.0, 0.0).astype(work)
                state[f"l{layer}_mask"] = mask
                y = y * mask
            masks.append(mask)
            layer_in = _buffer(state, f"l{layer + 1}_in", y.shape, work)
            layer_in[...] = y
        else:
            outs[0][...] = y
    if p["state_outputs"]:
        outs[1][...] = hy
        if lstm:
            outs[2][...] = cy
    state["layers"] = {"inputs": inputs, "masks": masks, "h0": h0, "c0": c0}


def backward_with(K, p, ograds, ins, outs, igrads, reqs, state):
    """The RNN backward with kernel module ``K``; honours grad_req write/add/null.

    See notebook 08.
    """
    saved = state.get("layers")
    if saved is None:
        raise MXNetError("RNN: backward needs a forward pass first")
    x = ins[0]
    (T, N, H, L, D), (mode, lstm, code, G), (blocks, total) = _plan(K, p, x)
    work = _work_dtype(x.dtype)
    flat = np.ascontiguousarray(ins[1], dtype=work)
    h0, c0 = saved["h0"], saved["c0"]
    want = [r != "null" and g is not None for r, g in zip(reqs, igrads)]
    dflat = np.zeros(total, dtype=work)
    dh0 = np.zeros((L * D, N, H), dtype=work)
    dc0 = np.zeros((L * D, N, H), dtype=work) if lstm else None
    empty = np.empty((0, 0), dtype=work)
    dy = np.asarray(ograds[0], dtype=work)
    dhy = np.asarray(ograds[1], dtype=work) if p["state_outputs"] else None
    dcy = np.asarray(ograds[2], dtype=work) if p["state_outputs"] and lstm else None
    dh_direct = np.empty((N, H), dtype=work)
    dx = None
    for layer in range(L - 1, -1, -1):
        layer_in = saved["inputs"][layer]
        hs, sv = state[f"l{layer}_h"], state[f"l{layer}_gates"]
        cs = state[f"l{layer}_c"] if lstm else None
        need_dx = layer > 0 or want[0]
        dx = np.zeros(layer_in.shape, dtype=work) if need_dx else None
        for d in range(D):
            s = layer * D + d
            wx, wh, _, _ = _views(flat, blocks[s])
            dwx, dwh, dbx, dbh = _views(dflat, blocks[s])
            dy_d = np.ascontiguousarray(dy[:, :, d * H:(d + 1) * H])
            dgx = np.empty((T, N, G), dtype=work)
            dgh = np.empty((T, N, G), dtype=work)
            dh = dhy[s].copy() if dhy is not None else np.zeros((N, H), dtype=work)
            if lstm:
                dc = dcy[s].copy() if dcy is not None else np.zeros((N, H), dtype=work)
                dc_prev = np.empty((N, H), dtype=work)
            else:
                dc = dc_prev = empty
            # walk the steps in the reverse of the order forward ran them
            for t in (range(T - 1, -1, -1) if d == 0 else range(T)):
                first = t == 0 if d == 0 else t == T - 1
                tp = t - 1 if d == 0 else t + 1
                h_prev = h0[s] if first else hs[d, tp]
                c_prev = (c0[s] if first else cs[d, tp]) if lstm else empty
                K.cell_backward(dy_d[t] + dh, dc, h_prev, c_prev, cs[d, t] if lstm else empty,
                                hs[d, t], sv[d, t], dgx[t], dgh[t], dh_direct, dc_prev, code)
                dh = dh_direct + dgh[t] @ wh
                if lstm:
                    dc, dc_prev = dc_prev, dc
            dh0[s] = dh
            if lstm:
                dc0[s] = dc
            gx2, gh2 = dgx.reshape(T * N, G), dgh.reshape(T * N, G)
            if want[1]:
                if d == 0:
                    h_before = np.concatenate([h0[s][None], hs[d, :-1]])
                else:
                    h_before = np.concatenate([hs[d, 1:], h0[s][None]])
                dwx += gx2.T @ layer_in.reshape(T * N, -1)
                dwh += gh2.T @ h_before.reshape(T * N, H)
                dbx += gx2.sum(axis=0)
                dbh += gh2.sum(axis=0)
            if need_dx:
                dx += (gx2 @ wx).reshape(dx.shape)
        if layer > 0:
            mask = saved["masks"][layer - 1]
            dy = dx if mask is None else dx * mask
    assign(igrads[0], reqs[0], dx)
    assign(igrads[1], reqs[1], dflat)
    assign(igrads[2], reqs[2], dh0)
    if lstm:
        assign(igrads[3], reqs[3], dc0)


# -- the GPU twin: the same loops on device arrays ------------------------------------------
def _dev(state, key, shape, dtype, zero=False):
    """A device scratch array kept in the node state (zeroed when ``zero``)."""
    from numba import cuda
    from ..kernels.cuda import elemwise
    arr = state.get(key)
    if arr is None or tuple(arr.shape) != tuple(shape) or arr.dtype != dtype:
        arr = state[key] = cuda.device_array(tuple(shape), dtype)
    if zero:
        elemwise.fill(arr, 0)
    return arr


def _gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise, nn, rnn as KG
    x = ins[0]
    (T, N, H, L, D), (mode, lstm, code, G), (blocks, _) = _plan(KG, p, x)
    dt = x.dtype
    h0, c0 = ins[2], (ins[3] if lstm else ins[2])
    gh = _dev(state, "gh", (N, G), dt)
    layer_in = x
    for layer in range(L):
        hs = _dev(state, f"l{layer}_h", (D, T, N, H), dt)
        cs = _dev(state, f"l{layer}_c", (D, T, N, H), dt) if lstm else hs
        sv = _dev(state, f"l{layer}_gates", (D, T, N, max(1, KG.saved_width(mode, H))), dt)
        y = outs[0] if layer == L - 1 else _dev(state, f"l{layer}_y", (T, N, D * H), dt)
        gx = _dev(state, f"l{layer}_gx", (D, T * N, G), dt)
        for d in range(D):
            s = layer * D + d
            wx, wh, bx, bh = _views(ins[1], blocks[s])
            nn.matmul(layer_in.reshape(T * N, layer_in.shape[2]), wx, gx[d], False, True)
            gx3 = gx[d].reshape(T, N, G)
            h_prev, c_prev = h0[s], c0[s]
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                nn.matmul(h_prev, wh, gh, False, True)
                KG.cell_forward(gx3[t], gh, bx, bh, h_prev, c_prev, hs[d, t], cs[d, t],
                                sv[d, t], y[t], d * H, code)
                h_prev, c_prev = hs[d, t], cs[d, t]
            if p["state_outputs"]:
                elemwise.copy(h_prev, outs[1][s])
                if lstm:
                    elemwise.copy(c_prev, outs[2][s])
        state[f"l{layer}_in"] = layer_in
        state[f"l{layer}_mask"] = None
        if layer < L - 1:
            if is_train and p["p"] > 0:
                # inverted dropout between layers, the mask from numba.cuda.random
                keep = 1.0 - p["p"]
                mask = _dev(state, f"l{layer}_maskbuf", y.shape, dt)
                nn.random_fill(mask.reshape(mask.size), state, keep=keep,
                               scale=1.0 / keep if keep > 0 else 0.0)
                nxt = _dev(state, f"l{layer}_dropped", y.shape, dt)
                elemwise.map_forward("mul", y, mask, nxt)
                state[f"l{layer}_mask"], y = mask, nxt
            layer_in = y
    state["gpu_ran"] = True


def _gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import elemwise, nn, nn_norm, rnn as KG
    if not state.get("gpu_ran"):
        raise MXNetError("RNN: backward needs a forward pass first")
    x = ins[0]
    (T, N, H, L, D), (mode, lstm, code, G), (blocks, total) = _plan(KG, p, x)
    dt = x.dtype
    h0, c0 = ins[2], (ins[3] if lstm else ins[2])
    want = [r != "null" and g is not None for r, g in zip(reqs, igrads)]
    dflat = _dev(state, "dflat", (total,), dt, zero=True)
    dh0 = _dev(state, "dh0", (L * D, N, H), dt)
    dc0 = _dev(state, "dc0", (L * D, N, H), dt) if lstm else dh0
    dh, dh_direct = _dev(state, "dh", (N, H), dt), _dev(state, "dh_direct", (N, H), dt)
    dc, dc_prev = _dev(state, "dc", (N, H), dt), _dev(state, "dc_prev", (N, H), dt)
    dgx = _dev(state, "dgx", (T, N, G), dt)
    dgh = _dev(state, "dgh", (T, N, G), dt)
    h_before = _dev(state, "h_before", (T, N, H), dt)
    dy, dx = ograds[0], None
    for layer in range(L - 1, -1, -1):
        layer_in = state[f"l{layer}_in"]
        hs, sv = state[f"l{layer}_h"], state[f"l{layer}_gates"]
        cs = state[f"l{layer}_c"] if lstm else hs
        need_dx = layer > 0 or want[0]
        if need_dx:
            dx = _dev(state, f"l{layer}_dx", layer_in.shape, dt, zero=True)
        for d in range(D):
            s = layer * D + d
            wx, wh, _, _ = _views(ins[1], blocks[s])
            dwx, dwh, dbx, dbh = _views(dflat, blocks[s])
            for grad, given in ((dh, ograds[1] if p["state_outputs"] else None),
                                (dc, ograds[2] if p["state_outputs"] and lstm else None)):
                if given is None:
                    elemwise.fill(grad, 0)
                else:
                    elemwise.copy(given[s], grad)
            # walk the steps in the reverse of the order forward ran them
            for t in (range(T - 1, -1, -1) if d == 0 else range(T)):
                first = t == 0 if d == 0 else t == T - 1
                tp = t - 1 if d == 0 else t + 1
                h_prev = h0[s] if first else hs[d, tp]
                c_prev = c0[s] if first else cs[d, tp]
                KG.cell_backward(dy[t], d * H, dh, dc, h_prev, c_prev, cs[d, t], hs[d, t],
                                 sv[d, t], dgx[t], dgh[t], dh_direct, dc_prev, code)
                nn.matmul(dgh[t], wh, dh_direct, False, False, True)     # + dgh W_h
                dh, dh_direct = dh_direct, dh
                if lstm:
                    dc, dc_prev = dc_prev, dc
            elemwise.copy(dh, dh0[s])
            if lstm:
                elemwise.copy(dc, dc0[s])
            gx2, gh2 = dgx.reshape(T * N, G), dgh.reshape(T * N, G)
            if want[1]:
                # the h each step started from, in time order
                later, earlier = (slice(1, T), slice(0, T - 1)) if d == 0 else \
                    (slice(0, T - 1), slice(1, T))
                elemwise.copy(hs[d, earlier], h_before[later])
                elemwise.copy(h0[s], h_before[0 if d == 0 else T - 1])
                nn.matmul(gx2, layer_in.reshape(T * N, layer_in.shape[2]), dwx, True, False,
                          True)
                nn.matmul(gh2, h_before.reshape(T * N, H), dwh, True, False, True)
                nn_norm.channel_reduce(dgx.reshape(T * N, G, 1), dbx, accumulate=True)
                nn_norm.channel_reduce(dgh.reshape(T * N, G, 1), dbh, accumulate=True)
            if need_dx:
                nn.matmul(gx2, wx, dx.reshape(T * N, dx.shape[2]), False, False, True)
        if layer > 0:
            mask = state[f"l{layer - 1}_mask"]
            if mask is not None:
                elemwise.map_forward("mul", dx, mask, dx)
            dy = dx
    for i, grad in enumerate((dx, dflat, dh0, dc0 if lstm else None)):
        if grad is not None and want[i]:
            elemwise.copy(grad, igrads[i], reqs[i] == "add")


def _forward(p, ins, outs, is_train, state):
    forward_with(K_CPU, p, ins, outs, is_train, state)


def _backward(p, ograds, ins, outs, igrads, reqs, state):
    backward_with(K_CPU, p, ograds, ins, outs, igrads, reqs, state)


register(Op(
    name="RNN",
    params={"state_size": Param("int", doc="H, the size of each layer's state"),
            "num_layers": Param("int", doc="number of stacked layers"),
            "bidirectional": Param("bool", False, doc="also run every layer right-to-left"),
            "mode": Param("str", choices=_MODES, doc="rnn_relu, rnn_tanh, lstm or gru"),
            "p": Param("float", 0.0, doc="dropout on the outputs of all layers but the last, "
                                         "while training"),
            "state_outputs": Param("bool", False, doc="also output the final states"),
            "projection_size": Param("int", None, optional=True, doc="not implemented"),
            "lstm_state_clip_min": Param("float", None, optional=True, doc="not implemented"),
            "lstm_state_clip_max": Param("float", None, optional=True, doc="not implemented"),
            "lstm_state_clip_nan": Param("bool", False, doc="accepted; no clipping range"),
            "use_sequence_length": Param("bool", False, doc="not implemented")},
    arguments=_args, outputs=_outputs, infer_shape=_shape, forward=_forward,
    backward=_backward, gpu_forward=_gpu_forward, gpu_backward=_gpu_backward,
    backward_uses=("ins",),
    doc="Fused multi-layer RNN/LSTM/GRU over data (T, N, C) with one flat parameters vector "
        "in MXNet's packing (see rnn_param_layout); outputs (T, N, D*H) and, with "
        "state_outputs, the final states (L*D, N, H). GRU applies the reset gate after the "
        "hidden matmul, as MXNet and cuDNN do. See notebook 08."))
