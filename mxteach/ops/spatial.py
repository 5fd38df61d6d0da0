"""The spatial family: operators that move an image's pixels by coordinates — ``GridGenerator``,
``BilinearSampler``, ``SpatialTransformer``, ``_contrib_BilinearResize2D`` and ``Correlation``.

A *sampling grid* ``(N, 2, H, W)`` says, for every output pixel, where to read the input:
channel 0 is x, channel 1 is y, in normalised units (``-1`` the first pixel, ``+1`` the last).
``GridGenerator`` makes one from an affine matrix or an optical flow, ``BilinearSampler`` reads
the data there by bilinear interpolation (zeros outside), and ``SpatialTransformer`` is the two
in one operator (Jaderberg et al.'s spatial transformer network). ``BilinearResize2D`` is
sampling on a regular grid; ``Correlation`` (FlowNet) compares patches of two maps at a set of
displacements.

Each operator is written once as a *body* on a backend (:class:`_Cpu` or :class:`_Gpu`): the
kernels of ``kernels/cpu/spatial.py`` or ``kernels/cuda/spatial.py`` (same names), and how to
make a scratch buffer. Numpy twins of the kernels: ``kernels/reference/spatial.py``.

MXNet 1.9.1 behaviours reproduced: ``target_shape`` must be set for the affine grid and for
SpatialTransformer; BilinearResize2D's ``size`` mode reads ``scale_width`` whenever
``scale_height`` is given (so giving only ``scale_height`` is an error), and a single output row or column reads
the first input row or column; Correlation infers shapes for an even ``kernel_size`` but
refuses to run it. See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import grad_mode, kernel_view
from ..base import MXNetError, ShapeError
from ..kernels.cpu import spatial as K

__all__ = ["SPATIAL_OPS"]

SPATIAL_OPS = ("GridGenerator", "BilinearSampler", "SpatialTransformer",
               "_contrib_BilinearResize2D", "Correlation")


# -- backends: the same operator body runs on numpy arrays or numba device arrays -------------
class _Cpu:
    kernels = K

    @staticmethod
    def new(state, key, shape, dtype):
        buf = state.get(key)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = state[key] = np.empty(shape, dtype)
        return buf

    @staticmethod
    def const(state, key, value):
        return value

    @staticmethod
    def zero(a):
        a[...] = 0


class _Gpu:
    @property
    def kernels(self):
        from ..kernels.cuda import spatial
        return spatial

    @staticmethod
    def new(state, key, shape, dtype):
        from numba import cuda
        buf = state.get("gpu_" + key)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = state["gpu_" + key] = cuda.device_array(tuple(shape), dtype)
        return buf

    @staticmethod
    def const(state, key, value):
        """A host constant (index tables) copied to the device once per value."""
        from numba import cuda
        cached = state.get("gpu_const_" + key)
        if cached is None or cached[0] is not value:
            cached = state["gpu_const_" + key] = (value, cuda.to_device(value))
        return cached[1]

    @staticmethod
    def zero(a):
        from ..kernels.cuda.elemwise import fill
        fill(a, 0)


_GPU = _Gpu()


def _compute_dtype(dtype):
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _make(name, params, arguments, infer_shape, fwd, bwd, doc, aliases=()):
    """Register ``name`` from backend-independent bodies ``fwd(B, p, ins, outs, state)`` and
    ``bwd(B, p, ograd, ins, grads, modes, state)`` (``grads[i]`` None where mode 0); the
    backward reads the inputs, never the outputs."""
    def forward(p, ins, outs, is_train, state):
        dt = _compute_dtype(ins[0].dtype)
        xs = [np.ascontiguousarray(a, dtype=dt) for a in ins]
        views = [kernel_view(o, o.shape, dt) for o in outs]
        fwd(_Cpu, p, xs, [v for v, _ in views], state)
        for _, commit in views:
            commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        dt = _compute_dtype(ins[0].dtype)
        xs = [np.ascontiguousarray(a, dtype=dt) for a in ins]
        modes = [grad_mode(r, g) for r, g in zip(reqs, igrads)]
        views = [kernel_view(g, g.shape, dt) if m else (None, None)
                 for g, m in zip(igrads, modes)]
        bwd(_Cpu, p, np.ascontiguousarray(ograds[0], dtype=dt), xs, [v for v, _ in views],
            modes, state)
        for v, commit in views:
            if commit is not None:
                commit()

    def gpu_forward(p, ins, outs, is_train, state):
        fwd(_GPU, p, ins, outs, state)

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        bwd(_GPU, p, ograds[0], ins, igrads,
            [grad_mode(r, g) for r, g in zip(reqs, igrads)], state)

    register(Op(name=name, params=params, arguments=arguments, infer_shape=infer_shape,
                forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward, aliases=aliases, backward_uses=("ins",),
                doc=doc + " See notebook 01."))


def _check(cond, op, msg):
    if not cond:
        raise ShapeError(f"{op}: {msg}")


def _target_shape(op, p):
    th, tw = (tuple(p["target_shape"]) + (0, 0))[:2]
    _check(len(p["target_shape"]) == 2 and th > 0 and tw > 0, op,
           f"target_shape = {p['target_shape']}; expected two positive sizes (height, width)")
    return th, tw


# -- GridGenerator ---------------------------------------------------------------------------
def _grid_shape(p, in_shapes):
    s = in_shapes[0]
    if s is None:
        return list(in_shapes), [None]
    s = tuple(s)
    if p["transform_type"] == "affine":
        _check(len(s) == 2 and s[1] == 6, "GridGenerator",
               f"input 'data' has shape {s}; the affine transform expects (batch, 6)")
        return [s], [(s[0], 2) + _target_shape("GridGenerator", p)]
    _check(len(s) == 4 and s[1] == 2, "GridGenerator",
           f"input 'data' has shape {s}; the warp transform expects a flow (batch, 2, H, W)")
    return [s], [s]


def _grid_fwd(B, p, ins, outs, state):
    if p["transform_type"] == "affine":
        B.kernels.affine_grid(ins[0], outs[0])
    else:
        B.kernels.warp_grid(ins[0], outs[0])


def _grid_bwd(B, p, og, ins, grads, modes, state):
    if modes[0]:
        if p["transform_type"] == "affine":
            B.kernels.affine_grid_backward(og, modes[0] == 2, grads[0])
        else:
            B.kernels.warp_grid_backward(og, modes[0] == 2, grads[0])


_make("GridGenerator",
      {"transform_type": Param("str", choices=("affine", "warp")),
       "target_shape": Param("shape", (0, 0), doc="(height, width) of the affine grid")},
      ["data"], _grid_shape, _grid_fwd, _grid_bwd,
      "A sampling grid (N, 2, H, W) for BilinearSampler: 'affine' maps the target pixel "
      "coordinates (x, y, 1) by each sample's 2x3 matrix `data` (N, 6); 'warp' adds the flow "
      "`data` (N, 2, H, W) to the pixel positions and normalises them to [-1, 1].")


# -- BilinearSampler -------------------------------------------------------------------------
def _sampler_shape(p, in_shapes):
    d, g = in_shapes
    if d is not None:
        _check(len(d) == 4, "BilinearSampler",
               f"input 'data' has shape {tuple(d)}; expected (batch, channel, height, width)")
    if g is not None:
        _check(len(g) == 4 and g[1] == 2, "BilinearSampler",
               f"input 'grid' has shape {tuple(g)}; expected (batch, 2, height, width)")
    if d is None or g is None:
        return list(in_shapes), [None]
    _check(d[0] == g[0], "BilinearSampler",
           f"'data' has batch {d[0]} but 'grid' has batch {g[0]}")
    return [tuple(d), tuple(g)], [(d[0], d[1], g[2], g[3])]


def _sampler_fwd(B, p, ins, outs, state):
    B.kernels.bilinear_sample(ins[0], ins[1], outs[0])


def _sampler_bwd(B, p, og, ins, grads, modes, state):
    if modes[0] or modes[1]:
        # an unrequested gradient gets a stand-in array the kernel never writes
        B.kernels.bilinear_sample_backward(ins[0], ins[1], og, bool(modes[0]), modes[0] == 2,
                                           grads[0] if modes[0] else ins[0], bool(modes[1]),
                                           modes[1] == 2, grads[1] if modes[1] else ins[1])


_CUDNN_OFF = Param("bool", None, optional=True,
                   doc="accepted for MXNet compatibility (mxteach never uses cuDNN)")
_make("BilinearSampler", {"cudnn_off": _CUDNN_OFF}, ["data", "grid"], _sampler_shape,
      _sampler_fwd, _sampler_bwd,
      "Read `data` (N, C, H, W) at the points of `grid` (N, 2, Ho, Wo) by bilinear "
      "interpolation of the four neighbouring pixels; points outside the image read zeros. "
      "Differentiable in both the data and the grid.")


# -- SpatialTransformer ----------------------------------------------------------------------
def _st_shape(p, in_shapes):
    th, tw = _target_shape("SpatialTransformer", p)
    d, loc = in_shapes
    if loc is not None:
        _check(len(loc) == 2 and loc[1] == 6, "SpatialTransformer",
               f"input 'loc' has shape {tuple(loc)}; expected (batch, 6)")
    if d is None:
        return list(in_shapes), [None]
    _check(len(d) == 4, "SpatialTransformer",
           f"input 'data' has shape {tuple(d)}; expected (batch, channel, height, width)")
    return [tuple(d), (d[0], 6)], [(d[0], d[1], th, tw)]


def _st_fwd(B, p, ins, outs, state):
    n, th, tw = outs[0].shape[0], outs[0].shape[2], outs[0].shape[3]
    grid = B.new(state, "grid", (n, 2, th, tw), ins[0].dtype)
    B.kernels.affine_grid(ins[1], grid)
    B.kernels.bilinear_sample(ins[0], grid, outs[0])


def _st_bwd(B, p, og, ins, grads, modes, state):
    n, th, tw = og.shape[0], og.shape[2], og.shape[3]
    grid = B.new(state, "grid", (n, 2, th, tw), ins[0].dtype)
    B.kernels.affine_grid(ins[1], grid)
    dgrid = B.new(state, "dgrid", grid.shape, ins[0].dtype)
    B.kernels.bilinear_sample_backward(ins[0], grid, og, bool(modes[0]), modes[0] == 2,
                                       grads[0] if modes[0] else ins[0], bool(modes[1]), False,
                                       dgrid)
    if modes[1]:
        B.kernels.affine_grid_backward(dgrid, modes[1] == 2, grads[1])


_make("SpatialTransformer",
      {"target_shape": Param("shape", (0, 0), doc="(height, width) of the output"),
       "transform_type": Param("str", choices=("affine",)),
       "sampler_type": Param("str", choices=("bilinear",)), "cudnn_off": _CUDNN_OFF},
      ["data", "loc"], _st_shape, _st_fwd, _st_bwd,
      "GridGenerator(loc, 'affine', target_shape) followed by BilinearSampler(data, grid), "
      "as one operator: each sample is warped by its own 2x3 matrix `loc` (N, 6).")


# -- BilinearResize2D ------------------------------------------------------------------------
_RESIZE_MODES = ("size", "odd_scale", "like", "to_even_down", "to_even_up", "to_odd_down",
                 "to_odd_up")


def _scale(p, key, mode):
    if p[key] is None:
        raise MXNetError(f"_contrib_BilinearResize2D: mode '{mode}' reads '{key}', which is "
                         f"not set (MXNet 1.9.1 fails with 'bad optional access')")
    return p[key]


def _resize_size(p, h, w, like):
    mode = p["mode"]
    if mode == "size":
        if p["scale_height"] is None:
            return p["height"], p["width"]
        # MXNet 1.9.1 tests scale_height for both axes
        return int(p["scale_height"] * h), int(_scale(p, "scale_width", mode) * w)
    if mode == "odd_scale":
        sh, sw = _scale(p, "scale_height", mode), _scale(p, "scale_width", mode)
        return (int(h * sh) if h % 2 == 0 else int((h - 1) * sh) + 1,
                int(w * sw) if w % 2 == 0 else int((w - 1) * sw) + 1)
    if mode == "like":
        return like[2], like[3]
    even = mode.startswith("to_even")
    step = 1 if mode.endswith("up") else -1
    return tuple(v if (v % 2 == 0) == even else v + step for v in (h, w))


def _resize_args(p):
    return ["data", "like"] if p["mode"] == "like" else ["data"]


def _resize_shape(p, in_shapes):
    d = in_shapes[0]
    if d is None or (p["mode"] == "like" and in_shapes[1] is None):
        return list(in_shapes), [None]
    d = tuple(d)
    _check(len(d) == 4, "_contrib_BilinearResize2D",
           f"input 'data' has shape {d}; expected (batch, channel, height, width)")
    like = None
    if p["mode"] == "like":
        like = tuple(in_shapes[1])
        _check(len(like) == 4, "_contrib_BilinearResize2D",
               f"input 'like' has shape {like}; expected 4 axes")
    oh, ow = _resize_size(p, d[2], d[3], like)
    _check(oh >= 1 and ow >= 1, "_contrib_BilinearResize2D",
           f"the output size ({oh}, {ow}) for input {d} and mode '{p['mode']}' is empty")
    return [d] + ([like] if like else []), [(d[0], d[1], oh, ow)]


def resize_table(n_in, n_out, align_corners):
    """Per output row (or column): the two source indices and the weight of the second, in
    float32 arithmetic as MXNet computes them."""
    f = np.float32
    dst = np.arange(n_out, dtype=f)
    if n_out == 1:              # MXNet: a single output row reads row 0, in both modes
        src = np.zeros(1, f)
    elif align_corners:
        src = f((n_in - 1) / (n_out - 1)) * dst
    else:
        src = np.maximum(f(n_in / n_out) * (dst + f(0.5)) - f(0.5), f(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (src - i0).astype(np.float64)


def _tables(B, p, state, h, w, oh, ow):
    key = (h, w, oh, ow, p["align_corners"])
    if state.get("table_key") != key:
        state["tables"] = (resize_table(h, oh, key[4]) + resize_table(w, ow, key[4]))
        state["table_key"] = key
    return [B.const(state, str(k), t) for k, t in enumerate(state["tables"])]


def _resize_fwd(B, p, ins, outs, state):
    n, c, h, w = ins[0].shape
    oh, ow = outs[0].shape[2:]
    B.kernels.resize_forward(ins[0].reshape(n * c, h, w), *_tables(B, p, state, h, w, oh, ow),
                             outs[0].reshape(n * c, oh, ow))


def _resize_bwd(B, p, og, ins, grads, modes, state):
    n, c, h, w = ins[0].shape
    oh, ow = og.shape[2:]
    if modes[0]:
        B.kernels.resize_backward(og.reshape(n * c, oh, ow), *_tables(B, p, state, h, w, oh, ow),
                                  modes[0] == 2, grads[0].reshape(n * c, h, w))
    if len(modes) > 1 and modes[1] == 1:
        B.zero(grads[1])                 # 'like' lends only its shape


_make("_contrib_BilinearResize2D",
      {"height": Param("int", 1, low=1), "width": Param("int", 1, low=1),
       "scale_height": Param("float", None, optional=True),
       "scale_width": Param("float", None, optional=True),
       "mode": Param("str", "size", choices=_RESIZE_MODES),
       "align_corners": Param("bool", True)},
      _resize_args, _resize_shape, _resize_fwd, _resize_bwd,
      "Resize (N, C, H, W) images by bilinear interpolation. The size: (height, width), or "
      "int(scale * size) when scale_height is given ('size'); like the second input "
      "('like'); (size - 1) * scale + 1 for odd sizes ('odd_scale'); the nearest even/odd "
      "size down or up ('to_even_down' ...). align_corners maps the corner pixels onto each "
      "other; otherwise pixel centres are scaled.")


# -- Correlation -----------------------------------------------------------------------------
def _corr_geometry(p, shape):
    """(output shape, padded shape, grid radius) for data of ``shape``."""
    n, c, h, w = shape
    k, maxd, s1, s2, pad = (p[x] for x in ("kernel_size", "max_displacement", "stride1",
                                          "stride2", "pad_size"))
    border = maxd + (k - 1) // 2
    hp, wp = h + 2 * pad, w + 2 * pad
    oh, ow = -(-(hp - 2 * border) // s1), -(-(wp - 2 * border) // s1)
    _check(oh >= 1 and ow >= 1, "Correlation",
           f"data of {h}x{w} padded by {pad} leaves no output position for max_displacement "
           f"{maxd} and kernel_size {k} (neighbourhood too large or images too small)")
    radius = maxd // s2
    return (n, (2 * radius + 1) ** 2, oh, ow), (n, hp, wp, c), radius


def _corr_shape(p, in_shapes):
    for key in ("kernel_size", "stride1", "stride2"):
        if p[key] < 1:
            raise MXNetError(f"Correlation: {key} = {p[key]}; expected a positive value")
    a, b = in_shapes
    known = a if a is not None else b
    if known is None:
        return list(in_shapes), [None]
    known = tuple(known)
    for name, s in (("data1", a), ("data2", b)):
        if s is not None:
            _check(tuple(s) == known and len(s) == 4, "Correlation",
                   f"input '{name}' has shape {tuple(s)}; expected 4 axes, the same as "
                   f"{known}")
    return [known, known], [_corr_geometry(p, known)[0]]


def _corr_args(p):
    return (p["kernel_size"], p["max_displacement"], p["stride1"], p["stride2"])


def _corr_padded(B, p, ins, state):
    _, padded, radius = _corr_geometry(p, ins[0].shape)
    p1 = B.new(state, "pad1", padded, ins[0].dtype)
    p2 = B.new(state, "pad2", padded, ins[0].dtype)
    B.kernels.pad_nhwc(ins[0], p["pad_size"], p1)
    B.kernels.pad_nhwc(ins[1], p["pad_size"], p2)
    return p1, p2, radius


def _corr_fwd(B, p, ins, outs, state):
    if p["kernel_size"] % 2 == 0:
        # MXNet 1.9.1 infers shapes for an even kernel but refuses to run it
        raise MXNetError(f"Correlation: kernel_size = {p['kernel_size']}; the kernel size "
                         f"should be an odd number")
    p1, p2, radius = _corr_padded(B, p, ins, state)
    B.kernels.correlation_forward(p1, p2, *_corr_args(p), radius, p["is_multiply"], outs[0])


def _corr_bwd(B, p, og, ins, grads, modes, state):
    if not (modes[0] or modes[1]):
        return
    p1, p2, radius = _corr_padded(B, p, ins, state)
    d1 = B.new(state, "dpad1", p1.shape, p1.dtype)
    d2 = B.new(state, "dpad2", p1.shape, p1.dtype)
    B.kernels.correlation_backward(p1, p2, og, *_corr_args(p), radius, p["is_multiply"],
                                   d1, d2)
    for d, g, m in ((d1, grads[0], modes[0]), (d2, grads[1], modes[1])):
        if m:
            B.kernels.unpad_nhwc(d, p["pad_size"], m == 2, g)


_make("Correlation",
      {"kernel_size": Param("int", 1, low=0), "max_displacement": Param("int", 1, low=0),
       "stride1": Param("int", 1, low=0), "stride2": Param("int", 1, low=0),
       "pad_size": Param("int", 0, low=0), "is_multiply": Param("bool", True)},
      ["data1", "data2"], _corr_shape, _corr_fwd, _corr_bwd,
      "FlowNet's correlation layer: for each output position and each displacement (dy, dx) "
      "in a (2 * max_displacement // stride2 + 1)^2 neighbourhood, the mean over a kernel_size"
      " patch and the channels of data1 * data2 (or |data1 - data2| when is_multiply=False), "
      "data2's patch displaced; both zero-padded by pad_size.")
