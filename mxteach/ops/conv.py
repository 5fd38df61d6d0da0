"""Convolution and Pooling, 1-D (N, C, W) and 2-D (N, C, H, W).

Convolution is im2col + one BLAS GEMM per group (numpy matmul), and col2im for the data
gradient; convolutions with few column rows (one input channel, say) run one small GEMM per
sample instead, straight into the (N, F, L) output (``PER_SAMPLE_ROWS``). Pooling is direct
Numba loops. The column buffer (C*KH*KW x N*OH*OW elements) and the
GEMM result live in the node's ``state`` and are reused across calls; backward reuses the
forward's columns when it sees the same data buffer (inputs do not change between an
executor's forward and backward), else rebuilds them. Both treat 1-D data as 2-D with H = 1.

On a GPU the same steps run as CUDA kernels (``kernels/cuda/conv.py``: im2col, col2im as a
per-pixel gather, pooling with recorded argmax) around the tiled shared-memory GEMM of
``kernels/cuda/nn.py``. Kernels: CPU ``kernels/cpu/conv.py``; numpy twins
``kernels/reference/conv.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .registry import Op, Param, register, assign
from ..base import MXNetError, ShapeError
from ..kernels.cpu import conv as K
from .common import grad_mode, inplace_view

_LAYOUTS = (None, "NCW", "NCHW", "NCDHW", "NHWC", "NDHWC", "NWC")


def _geometry(op, p, data, kernel):
    """Check data against a 1-/2-D kernel; return (stride, dilate, pad) as full tuples."""
    nd = len(kernel)
    if nd not in (1, 2):
        raise MXNetError(f"{op}: kernel {kernel} has {nd} dimensions; mxteach supports 1-D and "
                         f"2-D {op.lower()} (kernel=(k,) or (kh, kw))")
    want_layout = ("NCW", "NCHW")[nd - 1]
    if p["layout"] not in (None, want_layout):
        raise MXNetError(f"{op}: layout '{p['layout']}' is not supported on CPU (MXNet 1.9 "
                         f"cannot run it either); use {want_layout} and transpose the data")
    if len(data) != nd + 2:
        raise ShapeError(f"{op}: input data has shape {tuple(data)}, expected {nd + 2}-D "
                         f"(batch, channel, {'x' if nd == 1 else 'y, x'}) for kernel {kernel}")
    out = []
    for key, default in (("stride", 1), ("dilate", 1), ("pad", 0)):
        v = p.get(key, ())
        v = tuple(v) if v else (default,) * nd
        if len(v) != nd:
            raise MXNetError(f"{op}: {key} = {v} must have as many entries as kernel {kernel}")
        if key != "pad" and min(v) < 1:
            raise MXNetError(f"{op}: {key} = {v} must be positive")
        out.append(v)
    return out


def _as4(shape):
    """1-D shapes seen as 2-D with H = 1."""
    return tuple(shape) if len(shape) == 4 else (shape[0], shape[1], 1, shape[2])


def _pair(v, fill=1):
    """A 1-D (k,) geometry as 2-D (fill, k): kernel/stride/dilate 1 and pad 0 along H."""
    return (fill,) + tuple(v) if len(v) == 1 else tuple(v)


# -- Convolution ------------------------------------------------------------------------------
def _conv_args(p):
    return ["data", "weight"] + ([] if p["no_bias"] else ["bias"])


def _conv_shape(p, in_shapes):
    kernel, f, g = p["kernel"], p["num_filter"], p["num_group"]
    if f <= 0 or g <= 0 or f % g:
        raise MXNetError(f"Convolution: num_filter = {f} must be a positive multiple of "
                         f"num_group = {g}")
    bias = [] if p["no_bias"] else [(f,)]
    data = in_shapes[0]
    if data is None:
        return [None, in_shapes[1]] + bias, [None]
    stride, dilate, pad = _geometry("Convolution", p, data, kernel)
    if data[1] % g:
        raise ShapeError(f"Convolution: data has {data[1]} channels, not divisible by "
                         f"num_group = {g}")
    want = [tuple(data), (f, data[1] // g) + tuple(kernel)] + bias
    for name, got, exp in zip(_conv_args(p), in_shapes, want):
        if got is not None and tuple(got) != exp:
            raise ShapeError(f"Convolution: input {name} has shape {tuple(got)}, expected {exp}")
    spatial = []
    for x, k, s, d, pd in zip(data[2:], kernel, stride, dilate, pad):
        span = d * (k - 1) + 1
        if span > x + 2 * pd:
            raise ShapeError(f"Convolution: dilated kernel size {span} exceeds input size {x} "
                             f"padded by {pd} (data {tuple(data)}, kernel {kernel})")
        spatial.append((x + 2 * pd - span) // s + 1)
    return want, [(data[0], f) + tuple(spatial)]


def _conv_setup(p, x):
    """Geometry as 2-D numbers plus the cached column buffer (C*KH*KW, N, OH*OW)."""
    stride, dilate, pad = _geometry("Convolution", p, x.shape, p["kernel"])
    (kh, kw), (sh, sw), (dh, dw) = map(_pair, (p["kernel"], stride, dilate))
    ph, pw = _pair(pad, 0)
    n, c, h, w = _as4(x.shape)
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    geo = (kh, kw, sh, sw, ph, pw, dh, dw, ow)
    return geo, (n, c, h, w, oh, ow)


def _buffer(state, key, shape, dtype):
    """A scratch array kept in the node state and reused while shape and dtype stay the same."""
    buf = state.get(key)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = state[key] = np.empty(shape, dtype)
    return buf


def _im2col(p, x, state):
    """Columns of ``x`` in the node's buffer; returns (the C*KH*KW column rows, geo, dims).
    On the per-sample path with a bias the buffer has one more row, of ones, after them
    (PER_SAMPLE_ROWS): the GEMMs then add the bias and sum its gradient."""
    geo, (n, c, h, w, oh, ow) = _conv_setup(p, x)
    k = c * geo[0] * geo[1]
    extra = int(_per_sample(p, k) and not p["no_bias"])
    buf = _buffer(state, "col", (k + extra, n, oh * ow), x.dtype)
    if extra and state.get("ones_in") is not buf:      # a new buffer: write its ones once
        buf[k] = 1
        state["ones_in"] = buf
    col = buf[:k]          # the leading rows: contiguous, what the kernels and GEMMs see
    K.im2col(np.ascontiguousarray(x).reshape(n, c, h, w), col, *geo)
    # col now holds this data; backward reuses it unless another forward replaced it
    state["col_of"] = (x.__array_interface__["data"][0], x.shape, x.dtype)
    return col, geo, (n, c, h, w, oh, ow)


#: column rows (C/g * KH * KW) up to which Convolution runs one small GEMM per sample instead
#: of one GEMM over the whole batch: with so few rows the batch GEMM is bound by memory, not
#: arithmetic, and its (F, N, L) result needs a transposing copy to (N, F, L) in the forward
#: (and dY the reverse one in the backward). Per-sample GEMMs read and write (N, F, L) directly,
#: and a row of ones under the columns (with the bias as one more weight column) folds the
#: bias add and the bias gradient's sum into them. Measured (64 x 1 x 28 x 28, 3x3 -> 16,
#: 1 thread): forward GEMM + transpose + bias 0.55 -> 0.18 ms, weight + bias gradient 0.91 ->
#: 0.25 ms, column gradient 0.43 -> 0.18 ms; at 144 rows (16 -> 32 channels) the two ways cost
#: the same and at 500 the batch GEMM wins (benchmarks/RESULTS.md, issue 13 third wave).
PER_SAMPLE_ROWS = 64


def _per_sample(p, rows):
    """Whether a convolution with ``rows`` column rows takes the per-sample GEMM path."""
    return p["num_group"] == 1 and rows <= PER_SAMPLE_ROWS


def _conv_forward(p, ins, outs, is_train, state):
    x, wgt = ins[0], ins[1]
    col, geo, (n, c, h, w, oh, ow) = _im2col(p, x, state)
    f, g = p["num_filter"], p["num_group"]
    fg, kg = f // g, col.shape[0] // g
    w2 = wgt.reshape(f, -1)
    out3 = inplace_view(outs[0], (n, f, oh * ow), "Convolution")
    if _per_sample(p, col.shape[0]):
        # out[n] = [W | b] @ [col[:, n, :]; 1]: straight into (N, F, L), bias included
        if not p["no_bias"]:
            wa = _buffer(state, "w_bias", (f, kg + 1), x.dtype)
            wa[:, :kg] = w2
            wa[:, kg] = ins[2]
            w2, col = wa, state["col"]
        K.gemm_per_sample(w2, col.transpose(1, 0, 2), out3)
        return
    tmp = _buffer(state, "gemm", (f, n * oh * ow), x.dtype)
    cols = col.reshape(col.shape[0], -1)
    for i in range(g):     # BLAS GEMM per group: (F/g, K/g) @ (K/g, N*L)
        K.gemm(w2[i * fg:(i + 1) * fg], cols[i * kg:(i + 1) * kg], tmp[i * fg:(i + 1) * fg])
    bias = ins[2] if not p["no_bias"] else tmp[:, 0]
    K.conv_output(tmp.reshape(f, n, oh * ow), np.ascontiguousarray(bias), out3,
                  not p["no_bias"])


def _conv_backward_per_sample(p, ograds, ins, igrads, reqs, state, col, geo, shape):
    """_conv_backward on the per-sample path (see PER_SAMPLE_ROWS): dY stays (N, F, L)."""
    n, c, h, w, oh, ow = shape
    f, k = p["num_filter"], col.shape[0]
    dy3 = np.ascontiguousarray(ograds[0]).reshape(n, f, oh * ow)
    bias = not p["no_bias"]
    if grad_mode(reqs[1], igrads[1]) or (bias and grad_mode(reqs[2], igrads[2])):
        # [dW | db] = sum over samples of dY[n] @ [col[:, n, :]; 1].T
        rows = state["col"] if bias else col
        parts = _buffer(state, "dw_parts", (n, f, rows.shape[0]), col.dtype)
        K.gemm_per_sample(dy3, rows.transpose(1, 2, 0), parts)
        total = parts.sum(axis=0)
        assign(igrads[1], reqs[1], total[:, :k].reshape(ins[1].shape))
        if bias:
            assign(igrads[2], reqs[2], total[:, k])
    if grad_mode(reqs[0], igrads[0]):
        # the column gradient W.T @ dY[n] overwrites the columns (no longer needed)
        K.gemm_per_sample(ins[1].reshape(f, k).T, dy3, col.transpose(1, 0, 2))
        state["col_of"] = None
        K.col2im(col, inplace_view(igrads[0], (n, c, h, w), "Convolution"), *geo,
                 reqs[0] == "add")


def _conv_backward(p, ograds, ins, outs, igrads, reqs, state):
    x, wgt = ins[0], ins[1]
    if state.get("col_of") == (x.__array_interface__["data"][0], x.shape, x.dtype):
        geo, (n, c, h, w, oh, ow) = _conv_setup(p, x)
        col = state["col"][:c * geo[0] * geo[1]]      # without a row of ones under them
    else:
        col, geo, (n, c, h, w, oh, ow) = _im2col(p, x, state)
    if _per_sample(p, col.shape[0]):
        _conv_backward_per_sample(p, ograds, ins, igrads, reqs, state, col, geo,
                                  (n, c, h, w, oh, ow))
        return
    f, g = p["num_filter"], p["num_group"]
    fg, kg = f // g, col.shape[0] // g
    dyt = _buffer(state, "gemm", (f, n * oh * ow), x.dtype)      # dY as (F, N*L)
    K.conv_output(np.ascontiguousarray(ograds[0]).reshape(n, f, oh * ow), dyt[0],
                  dyt.reshape(f, n, oh * ow), False)          # (N, F, L) -> (F, N, L)
    cols = col.reshape(col.shape[0], -1)
    if not p["no_bias"]:
        assign(igrads[2], reqs[2], dyt.sum(axis=1))
    if grad_mode(reqs[1], igrads[1]):
        # dW^T = col @ dY^T per group: OpenBLAS runs this orientation of the long N*L reduction
        # faster than dY @ col^T (1.1 vs 1.5 ms for 64x16x14x14 -> 32, 1 thread), and turning
        # the small (K, F) result around costs nothing
        dwt = _buffer(state, "dwt", (g, kg, fg), x.dtype)
        for i in range(g):
            K.gemm(cols[i * kg:(i + 1) * kg], dyt[i * fg:(i + 1) * fg].T, dwt[i])
        assign(igrads[1], reqs[1], dwt.transpose(0, 2, 1).reshape(wgt.shape))
    if grad_mode(reqs[0], igrads[0]):
        w2 = wgt.reshape(f, -1)
        for i in range(g):     # the column gradient overwrites the columns (no longer needed)
            K.gemm(w2[i * fg:(i + 1) * fg].T, dyt[i * fg:(i + 1) * fg], cols[i * kg:(i + 1) * kg])
        state["col_of"] = None
        K.col2im(col, inplace_view(igrads[0], (n, c, h, w), "Convolution"), *geo,
                 reqs[0] == "add")


def _gpu_buffer(state, key, shape, dtype):
    """The device twin of :func:`_buffer`: a device array kept in the node state."""
    from numba import cuda
    buf = state.get(key)
    if buf is None or tuple(buf.shape) != shape or buf.dtype != dtype:
        buf = state[key] = cuda.device_array(shape, dtype)
    return buf


def _gpu_key(x):
    """Identifies a device buffer (its address, shape, dtype), as _data_key does on the CPU."""
    # the simulator's arrays wrap numpy arrays and show numpy's interface instead
    iface = getattr(x, "__cuda_array_interface__", None) or x.__array_interface__
    return (iface["data"][0], tuple(x.shape), x.dtype)


def _gpu_im2col(p, x, state):
    from ..kernels.cuda import conv as KC
    geo, (n, c, h, w, oh, ow) = _conv_setup(p, x)
    col = _gpu_buffer(state, "gpu_col", (c * geo[0] * geo[1], n, oh * ow), x.dtype)
    KC.im2col(x.reshape(n, c, h, w), col, *geo)
    state["gpu_col_of"] = _gpu_key(x)
    return col, geo, (n, c, h, w, oh, ow)


def _conv_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import conv as KC, nn
    x, wgt = ins[0], ins[1]
    col, geo, (n, c, h, w, oh, ow) = _gpu_im2col(p, x, state)
    f, g, k = p["num_filter"], p["num_group"], col.shape[0]
    fg, kg = f // g, k // g
    w2, cols = wgt.reshape(f, kg), col.reshape(k, n * oh * ow)
    tmp = _gpu_buffer(state, "gpu_gemm", (f, n * oh * ow), x.dtype)
    for i in range(g):     # tiled GEMM per group: (F/g, K/g) @ (K/g, N*L)
        nn.matmul(w2[i * fg:(i + 1) * fg], cols[i * kg:(i + 1) * kg], tmp[i * fg:(i + 1) * fg])
    bias = wgt.reshape(wgt.size) if p["no_bias"] else ins[2]      # unread without a bias
    KC.conv_output(tmp.reshape(f, n, oh * ow), bias, outs[0].reshape(n, f, oh * ow),
                   not p["no_bias"])


def _conv_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import conv as KC, nn, nn_norm
    x, wgt = ins[0], ins[1]
    if state.get("gpu_col_of") == _gpu_key(x):
        col = state["gpu_col"]
        geo, (n, c, h, w, oh, ow) = _conv_setup(p, x)
    else:
        col, geo, (n, c, h, w, oh, ow) = _gpu_im2col(p, x, state)
    f, g, k = p["num_filter"], p["num_group"], col.shape[0]
    fg, kg, nl = f // g, k // g, n * oh * ow
    dy3 = ograds[0].reshape(n, f, oh * ow)
    rows = _gpu_buffer(state, "gpu_gemm", (f, nl), x.dtype)      # dY as (F, N*L)
    KC.conv_grad_rows(dy3, rows.reshape(f, n, oh * ow))
    cols = col.reshape(k, nl)
    if not p["no_bias"] and grad_mode(reqs[2], igrads[2]):
        nn_norm.channel_reduce(dy3, igrads[2], accumulate=reqs[2] == "add")
    if grad_mode(reqs[1], igrads[1]):
        dw = igrads[1].reshape(f, kg)
        for i in range(g):     # dW = dY @ col.T per group, straight into the gradient
            nn.matmul(rows[i * fg:(i + 1) * fg], cols[i * kg:(i + 1) * kg],
                      dw[i * fg:(i + 1) * fg], False, True, reqs[1] == "add")
    if grad_mode(reqs[0], igrads[0]):
        w2 = wgt.reshape(f, kg)
        for i in range(g):     # the column gradient overwrites the columns (no longer needed)
            nn.matmul(w2[i * fg:(i + 1) * fg], rows[i * fg:(i + 1) * fg],
                      cols[i * kg:(i + 1) * kg], True, False, False)
        state["gpu_col_of"] = None
        KC.col2im(col, igrads[0].reshape(n, c, h, w), *geo, reqs[0] == "add")


register(Op(
    name="Convolution",
    params={"kernel": Param("shape", doc="(k,) or (kh, kw)"), "stride": Param("shape", ()),
            "dilate": Param("shape", ()), "pad": Param("shape", ()),
            "num_filter": Param("int", low=1), "num_group": Param("int", 1, low=1),
            "workspace": Param("int", 1024, doc="accepted; the column buffer is not split"),
            "no_bias": Param("bool", False),
            "cudnn_tune": Param("str", None, optional=True,
                                choices=(None, "fastest", "limited_workspace", "off")),
            "cudnn_off": Param("bool", False), "layout": Param("str", None, optional=True,
                                                               choices=_LAYOUTS[:-1])},
    arguments=_conv_args, infer_shape=_conv_shape, forward=_conv_forward,
    backward=_conv_backward, gpu_forward=_conv_gpu_forward, gpu_backward=_conv_gpu_backward,
    backward_uses=("ins",),
    doc="1-D/2-D convolution (cross-correlation, as MXNet): im2col, then a GEMM per group. "
        "See notebook 14."))


# -- Pooling ----------------------------------------------------------------------------------
def _pool_geometry(p, data):
    """(kernel, stride, pad) for the data, with global_pool and 1-D resolved."""
    if len(data) not in (3, 4):
        raise ShapeError(f"Pooling: input data has shape {tuple(data)}; mxteach pools 1-D "
                         f"(N, C, W) and 2-D (N, C, H, W) data")
    nd = len(data) - 2
    if p["global_pool"]:
        if p["layout"] not in (None, ("NCW", "NCHW")[nd - 1]):
            raise MXNetError(f"Pooling: layout '{p['layout']}' is not supported; use "
                             f"{('NCW', 'NCHW')[nd - 1]} and transpose the data")
        return tuple(data[2:]), (1,) * nd, (0,) * nd
    if not p["kernel"]:
        raise MXNetError("Pooling: set kernel, or global_pool=True to pool the whole input")
    if len(p["kernel"]) != nd:
        raise ShapeError(f"Pooling: kernel {p['kernel']} does not match data {tuple(data)}")
    stride, _, pad = _geometry("Pooling", dict(p, dilate=()), data, p["kernel"])
    return p["kernel"], stride, pad


def _pool_check(p):
    if p["pooling_convention"] == "same":
        raise MXNetError("Pooling: pooling_convention='same' fails in MXNet 1.9.1's own shape "
                         "inference; use 'valid' or 'full' with explicit pad")
    if p["pool_type"] == "lp" and p["p_value"] not in (1, 2, 3):
        raise MXNetError(f"Pooling: pool_type='lp' needs p_value 1, 2 or 3, got {p['p_value']}")


def _pool_shape(p, in_shapes):
    _pool_check(p)
    data = in_shapes[0]
    if data is None:
        return in_shapes, [None]
    kernel, stride, pad = _pool_geometry(p, data)
    spatial = []
    for x, k, s, pd in zip(data[2:], kernel, stride, pad):
        if k > x + 2 * pd:
            raise ShapeError(f"Pooling: kernel size {k} exceeds input size {x} padded by {pd} "
                             f"(data {tuple(data)})")
        if p["global_pool"]:
            spatial.append(1)
        elif p["pooling_convention"] == "full":
            spatial.append(1 + math.ceil((x + 2 * pd - k) / s))
        else:
            spatial.append(1 + (x + 2 * pd - k) // s)
    return [tuple(data)], [tuple(data[:2]) + tuple(spatial)]


def _pool_call(p, x):
    kernel, stride, pad = _pool_geometry(p, x.shape)
    (kh, kw), (sh, sw) = map(_pair, (kernel, stride))
    ph, pw = _pair(pad, 0)
    include = p["count_include_pad"] is None or p["count_include_pad"]
    return (kh, kw, sh, sw, ph, pw, K.POOL_CODES[p["pool_type"]], include, p["p_value"] or 1)


def _data_key(x, y):
    """Identifies the data and output buffers a recorded argmax belongs to."""
    return (x.__array_interface__["data"][0], x.shape, x.dtype, y.__array_interface__["data"][0])


def _pool_forward(p, ins, outs, is_train, state):
    _pool_check(p)
    x = ins[0]
    out = inplace_view(outs[0], _as4(outs[0].shape), "Pooling")
    call = _pool_call(p, x)
    x4 = np.ascontiguousarray(x).reshape(_as4(x.shape))
    if is_train and p["pool_type"] == "max":
        # record each output's input position so backward scatters instead of searching
        argmax = _buffer(state, "argmax", out.shape, np.int32)
        K.pool_max_forward_argmax(x4, out, argmax, *call[:6], np.finfo(x.dtype).min)
        state["argmax_of"] = _data_key(x, outs[0])
    else:
        state["argmax_of"] = None
        K.pool_forward(x4, out, *call, np.finfo(x.dtype).min)


def _pool_backward(p, ograds, ins, outs, igrads, reqs, state):
    if not grad_mode(reqs[0], igrads[0]):
        return
    x, y = ins[0], outs[0]
    if p["pool_type"] == "max" and state.get("argmax_of") == _data_key(x, y):
        K.pool_max_backward_argmax(state["argmax"],
                                   np.ascontiguousarray(ograds[0]).reshape(_as4(y.shape)),
                                   inplace_view(igrads[0], _as4(x.shape), "Pooling"),
                                   reqs[0] == "add")
        return
    # no positions recorded (e.g. a backward after an inference forward): search the windows
    K.pool_backward(np.ascontiguousarray(x).reshape(_as4(x.shape)),
                    np.ascontiguousarray(y).reshape(_as4(y.shape)),
                    np.ascontiguousarray(ograds[0]).reshape(_as4(y.shape)),
                    inplace_view(igrads[0], _as4(x.shape), "Pooling"), *_pool_call(p, x),
                    reqs[0] == "add")


def _pool_gpu_argmax(p, x, y, state):
    """Run the GPU pooling forward of ``x`` into ``y``, recording max positions."""
    from ..kernels.cuda import conv as KC
    y4 = y.reshape(_as4(y.shape))
    argmax = _gpu_buffer(state, "gpu_argmax", y4.shape, np.int32)
    KC.pool_forward(x.reshape(_as4(x.shape)), y4, argmax, *_pool_call(p, x),
                    np.finfo(x.dtype).min)
    state["gpu_argmax_of"] = (_gpu_key(x), _gpu_key(y))
    return argmax


def _pool_gpu_forward(p, ins, outs, is_train, state):
    _pool_check(p)
    _pool_gpu_argmax(p, ins[0], outs[0], state)


def _pool_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import conv as KC
    if not grad_mode(reqs[0], igrads[0]):
        return
    x, y = ins[0], outs[0]
    argmax = state.get("gpu_argmax")
    if p["pool_type"] == "max" and state.get("gpu_argmax_of") != (_gpu_key(x), _gpu_key(y)):
        # positions recorded for other buffers: pool again into scratch to find them
        argmax = _pool_gpu_argmax(p, x, _gpu_buffer(state, "gpu_pool_out", tuple(y.shape),
                                                     y.dtype), state)
    KC.pool_backward(x.reshape(_as4(x.shape)), y.reshape(_as4(y.shape)),
                     ograds[0].reshape(_as4(y.shape)), argmax,
                     igrads[0].reshape(_as4(x.shape)), *_pool_call(p, x), reqs[0] == "add")


register(Op(
    name="Pooling",
    params={"kernel": Param("shape", ()),
            "pool_type": Param("str", "max", choices=("avg", "lp", "max", "sum")),
            "global_pool": Param("bool", False), "cudnn_off": Param("bool", False),
            "pooling_convention": Param("str", "valid", choices=("full", "same", "valid"),
                                        doc="'valid' floors the output size, 'full' ceils it"),
            "stride": Param("shape", ()), "pad": Param("shape", ()),
            "p_value": Param("int", None, optional=True, doc="the p of lp pooling"),
            "count_include_pad": Param("bool", None, optional=True,
                                       doc="avg: divide by the padded window size (default)"),
            "layout": Param("str", None, optional=True, choices=_LAYOUTS)},
    arguments=["data"], infer_shape=_pool_shape, forward=_pool_forward,
    backward=_pool_backward, gpu_forward=_pool_gpu_forward, gpu_backward=_pool_gpu_backward,
    doc="1-D/2-D max, average, sum or Lp pooling over windows. See notebook 14."))
