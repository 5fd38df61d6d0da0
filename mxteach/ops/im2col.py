"""The im2col family: sliding blocks and windows — ``im2col`` (image to columns), its adjoint
``col2im``, the legacy ``Crop``, ``_split_v2`` (``mx.nd.split_v2``), ``cumsum`` and
``khatri_rao`` (the column-wise Kronecker product: a layout of products, like the columns).

``im2col`` lays out, for every position of a convolution kernel over an ``(N, C, *spatial)``
image, the pixels the kernel covers: an ``(N, C * prod(kernel), L)`` array whose product with a
reshaped weight *is* a convolution. ``col2im`` adds the columns back into an image; the two are
each other's adjoint, so each one's backward is the other one. ``Crop`` is a single window of
the image, so it runs on the same two kernels (a ``(1, h, w)`` kernel at one position, the
offset as a negative padding). ``_split_v2`` copies ranges of one axis, ``cumsum`` sums along it.
Kernels: ``kernels/cpu/im2col.py`` (numpy twins in ``kernels/reference/``, CUDA in
``kernels/cuda/``). See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode, kernel_view, flat_in, gpu_flat, norm_axis, split3, CAST_DTYPES
from ..base import MXNetError, ShapeError
from ..kernels.cpu import im2col as K

__all__ = ["IM2COL_OPS"]

IM2COL_OPS = ["im2col", "col2im", "Crop", "_split_v2", "_np_cumsum", "khatri_rao"]


def _dev(a):
    from numba import cuda
    return cuda.to_device(np.ascontiguousarray(a, dtype=np.int64))


# -- geometry of sliding blocks ---------------------------------------------------------------
_BLOCK_PARAMS = {
    "kernel": Param("shape", doc="sliding kernel size: (w,), (h, w) or (d, h, w)"),
    "stride": Param("shape", (), doc="step between blocks (default 1 per axis)"),
    "dilate": Param("shape", (), doc="spacing between kernel points (default 1 per axis)"),
    "pad": Param("shape", (), doc="zero padding on both sides (default 0 per axis)"),
}


def _triples(op, p):
    """kernel, stride, dilate, pad, each padded to 3 spatial axes (leading axes of size 1)."""
    k = p["kernel"]
    if not 1 <= len(k) <= 3 or min(k) < 1:
        raise MXNetError(f"{op}: kernel {k} must have 1 to 3 positive entries")
    out = [k]
    for name, default in (("stride", 1), ("dilate", 1), ("pad", 0)):
        v = p[name] or (default,) * len(k)
        if len(v) != len(k):
            raise MXNetError(f"{op}: {name} {v} must have the same number of dimensions as "
                             f"kernel {k}")
        if name != "pad" and min(v) < 1:
            raise MXNetError(f"{op}: {name} {v} must be positive")
        out.append(v)
    return [(1,) * (3 - len(k)) + tuple(v) if i < 3 else (0,) * (3 - len(k)) + tuple(v)
            for i, v in enumerate(out)]


def _out_size(op, spatial, p):
    k, s, d, pad = _triples(op, p)
    spatial = (1,) * (3 - len(spatial)) + tuple(spatial)
    out = []
    for n, kk, ss, dd, pp in zip(spatial, k, s, d, pad):
        span = dd * (kk - 1) + 1
        if span > n + 2 * pp:
            raise ShapeError(f"{op}: the dilated kernel spans {span} but the padded input has "
                             f"{n + 2 * pp} (input spatial shape {tuple(spatial)}, kernel "
                             f"{p['kernel']}, dilate {p['dilate']}, pad {p['pad']})")
        out.append((n + 2 * pp - span) // ss + 1)
    return tuple(out)


def _geometry(n, c, spatial, k, s, d, pad, out):
    spatial = (1,) * (3 - len(spatial)) + tuple(spatial)
    return np.array((n, c) + spatial + tuple(k) + tuple(out) + tuple(s) + tuple(d) + tuple(pad),
                    dtype=np.int64)


def _im2col_geometry(p, img_shape):
    k, s, d, pad = _triples("im2col", p)
    return _geometry(img_shape[0], img_shape[1], img_shape[2:], k, s, d, pad,
                     _out_size("im2col", img_shape[2:], p))


def _im2col_shape(p, in_shapes):
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    nk = len(p["kernel"])
    if len(data) != nk + 2:
        raise ShapeError(f"im2col: kernel {p['kernel']} needs a {nk + 2}-D input (N, C, "
                         f"{nk} spatial axes), got shape {tuple(data)}")
    out = _out_size("im2col", data[2:], p)
    return [tuple(data)], [(data[0], data[1] * int(np.prod(p["kernel"])),
                            int(np.prod(out)))]


def _col2im_shape(p, in_shapes):
    data = in_shapes[0]
    size = p["output_size"]
    if len(size) != len(p["kernel"]):
        raise MXNetError(f"col2im: output_size {size} must have as many axes as kernel "
                         f"{p['kernel']}")
    if data is None:
        return list(in_shapes), [None]
    if len(data) != 3:
        raise ShapeError(f"col2im: data must be 3-D (N, C * prod(kernel), L), got {data}")
    kprod = int(np.prod(p["kernel"]))
    if data[1] % kprod:
        raise ShapeError(f"col2im: the second axis of data {tuple(data)} must be a multiple "
                         f"of the kernel size {kprod}")
    blocks = int(np.prod(_out_size("col2im", size, p)))
    if data[2] != blocks:
        raise ShapeError(f"col2im: data {tuple(data)} has {data[2]} blocks but output_size "
                         f"{size} with these parameters gives {blocks}")
    return [tuple(data)], [(data[0], data[1] // kprod) + tuple(size)]


def _col2im_geometry(p, img_shape):
    k, s, d, pad = _triples("col2im", p)
    return _geometry(img_shape[0], img_shape[1], img_shape[2:], k, s, d, pad,
                     _out_size("col2im", img_shape[2:], p))


def _pair(geometry, forward_is_im2col):
    """CPU and GPU forward/backward of im2col (``forward_is_im2col``) or col2im: one kernel
    forward, the adjoint kernel backward. ``geometry(p, ins, outs)`` gives the kernels'
    shape vector."""
    fwd, bwd = ("im2col", "col2im") if forward_is_im2col else ("col2im", "im2col")

    def run(name, src, g, dst, accumulate):
        out, commit = kernel_view(dst, -1)
        getattr(K, name)(flat_in(src).astype(out.dtype, copy=False), g, out, accumulate)
        commit()

    def forward(p, ins, outs, is_train, state):
        run(fwd, ins[0], geometry(p, ins, outs), outs[0], False)

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        mode = grad_mode(reqs[0], igrads[0])
        if mode:
            run(bwd, ograds[0], geometry(p, ins, outs), igrads[0], mode == 2)
        for g, r in zip(igrads[1:], reqs[1:]):
            assign(g, r, 0)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import im2col as C
        getattr(C, fwd)(gpu_flat(ins[0]), _dev(geometry(p, ins, outs)),
                        gpu_flat(outs[0]), False)

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import im2col as C, elemwise
        if grad_mode(reqs[0], igrads[0]):
            getattr(C, bwd)(gpu_flat(ograds[0]), _dev(geometry(p, ins, outs)),
                            gpu_flat(igrads[0]), reqs[0] == "add")
        for g, r in zip(igrads[1:], reqs[1:]):
            if grad_mode(r, g) == 1:
                elemwise.fill(g, 0)
    return dict(forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward)


register(Op(name="im2col", params=dict(_BLOCK_PARAMS), arguments=("data",),
            infer_shape=_im2col_shape, backward_uses=(),
            **_pair(lambda p, ins, outs: _im2col_geometry(p, ins[0].shape), True),
            doc="Extract sliding blocks of an (N, C, *spatial) image into (N, C*prod(kernel), "
                "L) columns (channel-major, then kernel positions; L block positions). "
                "See notebook 01."))
register(Op(name="col2im", params={"output_size": Param("shape"), **_BLOCK_PARAMS},
            arguments=("data",), infer_shape=_col2im_shape, backward_uses=(),
            **_pair(lambda p, ins, outs: _col2im_geometry(p, outs[0].shape), False),
            doc="Sum (N, C*prod(kernel), L) columns back into an (N, C, *output_size) image: "
                "the adjoint of im2col (overlapping blocks add up). See notebook 01."))


# -- Crop: one window, the same two kernels -----------------------------------------------------
def _crop_window(p, data, like):
    """(out_h, out_w, offset_y, offset_x) of Crop for input shape ``data``."""
    if len(data) != 4:
        raise ShapeError(f"Crop: input data should be 4-D (batch, channel, y, x), got {data}")
    if like is not None:
        if len(like) != 4:
            raise ShapeError(f"Crop: crop_like should be 4-D, got {like}")
        h, w = like[2], like[3]
    else:
        if len(p["h_w"]) != 2:
            raise MXNetError(f"Crop: h_w {p['h_w']} must be (h, w)")
        h, w = p["h_w"]
    if len(p["offset"]) != 2:
        raise MXNetError(f"Crop: offset {p['offset']} must be (y, x)")
    if not (0 < h <= data[2] and 0 < w <= data[3]):
        raise ShapeError(f"Crop: the crop ({h}, {w}) must fit in the input's height and width "
                         f"{data[2:]}")
    if p["center_crop"]:
        oy, ox = (data[2] - h) // 2, (data[3] - w) // 2
    else:
        oy, ox = p["offset"]
        if oy > data[2] - h or ox > data[3] - w or oy < 0 or ox < 0:
            raise ShapeError(f"Crop: offset {p['offset']} leaves no room for a ({h}, {w}) crop "
                             f"of height and width {data[2:]} (offset must lie in [0, "
                             f"{data[2] - h}] x [0, {data[3] - w}])")
    return h, w, oy, ox


def _crop_shape(p, in_shapes):
    if in_shapes[0] is None or (p["num_args"] == 2 and in_shapes[1] is None):
        return list(in_shapes), [None]
    data = tuple(in_shapes[0])
    like = tuple(in_shapes[1]) if p["num_args"] == 2 else None
    h, w, _, _ = _crop_window(p, data, like)
    return list(in_shapes), [data[:2] + (h, w)]


def _crop_geometry(p, shapes):
    """A (1, h, w) kernel at a single position, shifted by the offset (a negative padding)."""
    data = tuple(shapes[0])
    h, w, oy, ox = _crop_window(p, data, tuple(shapes[1]) if len(shapes) > 1 else None)
    return _geometry(data[0], data[1], data[2:], (1, h, w), (1, 1, 1), (1, 1, 1),
                     (0, -oy, -ox), (1, 1, 1))


register(Op(name="Crop", params={
    "num_args": Param("int", choices=(1, 2), doc="1: crop to h_w; 2: to crop_like's size"),
    "offset": Param("shape", (0, 0), doc="(y, x) of the crop's top-left corner"),
    "h_w": Param("shape", (0, 0), doc="(h, w) of the crop when num_args is 1"),
    "center_crop": Param("bool", False, doc="centre the crop instead of using offset")},
    arguments=lambda p: [f"arg{k}" for k in range(p["num_args"])], num_args_param="num_args",
    infer_shape=_crop_shape, backward_uses=(), hint="crop",
    **_pair(lambda p, ins, outs: _crop_geometry(p, [a.shape for a in ins]), True),
    doc="Crop the (y, x) plane of a 4-D (N, C, y, x) input to h_w, or to the height and "
        "width of a second input crop_like, at offset or centred (the legacy operator; "
        "crop_like gets a zero gradient). See notebook 01."))


# -- _split_v2: ranges of one axis --------------------------------------------------------------
def _split_ranges(p, shape):
    """(axis, [(begin, size) per output]) of _split_v2 for input ``shape``."""
    ax = norm_axis("split_v2", p["axis"], len(shape))
    n = shape[ax]
    if p["indices"]:
        starts = list(p["indices"])
        if starts[0] != 0:
            raise ShapeError(f"split_v2: indices {p['indices']} must start at 0 (the operator "
                             f"takes the start of every piece; mx.nd.split_v2 prepends the 0)")
    else:
        if p["sections"] < 1 or n % p["sections"]:
            raise ShapeError(f"split_v2: axis {ax} of size {n} does not split into "
                             f"{p['sections']} equal sections")
        starts = [k * (n // p["sections"]) for k in range(p["sections"])]
    ends = starts[1:] + [n]
    for k, (b, e) in enumerate(zip(starts, ends)):
        if b > e:
            raise ShapeError(f"split_v2: piece {k} starts at {b} after its end {e} (indices "
                             f"must be sorted)")
        if e > n:
            raise ShapeError(f"split_v2: piece {k} ends at {e}, beyond the size {n} of axis "
                             f"{ax} (input shape {tuple(shape)})")
        if p["squeeze_axis"] and e - b != 1:
            raise ShapeError(f"split_v2: squeeze_axis needs pieces of size 1 on axis {ax}, "
                             f"piece {k} has {e - b}")
    return ax, [(b, e - b) for b, e in zip(starts, ends)]


def _split_count(p):
    return len(p["indices"]) if p["indices"] else p["sections"]


def _split_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None] * _split_count(p)
    shape = tuple(in_shapes[0])
    ax, pieces = _split_ranges(p, shape)
    outs = []
    for _, size in pieces:
        mid = () if p["squeeze_axis"] else (size,)
        outs.append(shape[:ax] + mid + shape[ax + 1:])
    return [shape], outs


def _slab(shape, ax, begin, size, to_piece):
    """The slab_copy vector moving ``size`` rows at ``begin`` of axis ``ax`` to a piece (or
    back, ``to_piece=False``)."""
    outer, n, inner = split3(shape, ax)
    if to_piece:
        return np.array([outer, inner, n, begin, size, 0, size], dtype=np.int64)
    return np.array([outer, inner, size, 0, n, begin, size], dtype=np.int64)


def _split_forward(p, ins, outs, is_train, state):
    ax, pieces = _split_ranges(p, ins[0].shape)
    x = flat_in(ins[0])
    for o, (b, size) in zip(outs, pieces):
        view, commit = kernel_view(o, -1)
        K.slab_copy(x.astype(view.dtype, copy=False), view,
                    _slab(ins[0].shape, ax, b, size, True), False)
        commit()


def _split_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if not mode:
        return
    ax, pieces = _split_ranges(p, ins[0].shape)
    dx, commit = kernel_view(igrads[0], -1)
    if mode == 1:
        dx[...] = 0
    for g, (b, size) in zip(ograds, pieces):
        if g is not None:
            K.slab_copy(flat_in(g).astype(dx.dtype, copy=False), dx,
                        _slab(ins[0].shape, ax, b, size, False), True)
    commit()


def _split_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import im2col as C
    ax, pieces = _split_ranges(p, ins[0].shape)
    for o, (b, size) in zip(outs, pieces):
        C.slab_copy(gpu_flat(ins[0]), gpu_flat(o), _dev(_slab(ins[0].shape, ax, b, size, True)),
                    False)


def _split_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import im2col as C, elemwise
    mode = grad_mode(reqs[0], igrads[0])
    if not mode:
        return
    ax, pieces = _split_ranges(p, ins[0].shape)
    if mode == 1:
        elemwise.fill(igrads[0], 0)
    for g, (b, size) in zip(ograds, pieces):
        if g is not None:
            C.slab_copy(gpu_flat(g), gpu_flat(igrads[0]),
                        _dev(_slab(ins[0].shape, ax, b, size, False)), True)


register(Op(name="_split_v2", params={
    "indices": Param("shape", doc="start of every piece along axis (the first is 0)"),
    "axis": Param("int", 1), "squeeze_axis": Param("bool", False),
    "sections": Param("int", 0, doc="equal pieces, when indices is empty")},
    arguments=("data",), outputs=lambda p: [f"output{k}" for k in range(_split_count(p))],
    infer_shape=_split_shape, forward=_split_forward, backward=_split_backward,
    gpu_forward=_split_gpu_forward, gpu_backward=_split_gpu_backward, backward_uses=(),
    doc="Split data along axis into pieces starting at indices (or into equal sections); "
        "the operator behind mx.nd.split_v2 and mx.sym.split_v2. See notebook 01."))


# -- cumsum ---------------------------------------------------------------------------------------
def _cumsum_dims(p, shape):
    if p["axis"] is None:
        return np.array([1, int(np.prod(shape, dtype=np.int64)), 1], dtype=np.int64)
    ax = norm_axis("cumsum", p["axis"], len(shape))
    return np.array(split3(shape, ax), dtype=np.int64)


def _cumsum_shape(p, in_shapes):
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    shape = tuple(in_shapes[0])
    _cumsum_dims(p, shape)                      # checks the axis
    out = (int(np.prod(shape, dtype=np.int64)),) if p["axis"] is None else shape
    return [shape], [out]


def _cumsum_type(p, in_types):
    return list(in_types), [p["dtype"] or in_types[0]]


def _cumsum_forward(p, ins, outs, is_train, state):
    out, commit = kernel_view(outs[0], -1)
    K.cumsum(flat_in(ins[0]).astype(out.dtype), _cumsum_dims(p, ins[0].shape), False, out,
             False)
    commit()


def _cumsum_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        dx, commit = kernel_view(igrads[0], -1)
        K.cumsum(flat_in(ograds[0]).astype(dx.dtype), _cumsum_dims(p, ins[0].shape), True, dx,
                 mode == 2)
        commit()


def _gpu_as(a, dtype):
    """``a`` flat in ``dtype`` (a device copy when the dtype differs)."""
    from numba import cuda
    from ..kernels.cuda import elemwise
    a = gpu_flat(a)
    if a.dtype == np.dtype(dtype):
        return a
    tmp = cuda.device_array(a.size, dtype=dtype)
    elemwise.copy(a, tmp)
    return tmp


def _cumsum_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import im2col as C
    C.cumsum(_gpu_as(ins[0], outs[0].dtype), _dev(_cumsum_dims(p, ins[0].shape)), False,
             gpu_flat(outs[0]), False)


def _cumsum_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import im2col as C
    if grad_mode(reqs[0], igrads[0]):
        C.cumsum(_gpu_as(ograds[0], igrads[0].dtype), _dev(_cumsum_dims(p, ins[0].shape)),
                 True, gpu_flat(igrads[0]), reqs[0] == "add")


register(Op(name="_np_cumsum", aliases=("cumsum",), params={
    "axis": Param("int", None, optional=True, doc="the axis (None: the flattened array)"),
    "dtype": Param("str", None, optional=True, choices=(None,) + tuple(
        d for d in CAST_DTYPES if d not in ("bool", "uint8")),
        doc="dtype of the result and of the running sum (default: the input's)")},
    arguments=("a",), infer_shape=_cumsum_shape, infer_type=_cumsum_type,
    forward=_cumsum_forward, backward=_cumsum_backward, gpu_forward=_cumsum_gpu_forward,
    gpu_backward=_cumsum_gpu_backward, backward_uses=(),
    doc="Running sum along axis (of the flattened array when axis is None); the gradient is "
        "the running sum of the head gradient from the end. See notebook 01."))


# -- khatri_rao -----------------------------------------------------------------------------------
def _kr_shape(p, in_shapes):
    if any(s is None for s in in_shapes):
        return list(in_shapes), [None]
    for k, s in enumerate(in_shapes):
        if len(s) != 2 or s[1] != in_shapes[0][1]:
            raise ShapeError(f"khatri_rao: every input must be a matrix with "
                             f"{in_shapes[0][1]} columns (as arg0 {tuple(in_shapes[0])}); "
                             f"arg{k} has shape {tuple(s)}")
    rows = int(np.prod([s[0] for s in in_shapes], dtype=np.int64))
    return [tuple(s) for s in in_shapes], [(rows, in_shapes[0][1])]


def _kr_forward(p, ins, outs, is_train, state):
    dtype = np.float32 if outs[0].dtype == np.float16 else outs[0].dtype
    acc = np.ascontiguousarray(ins[0], dtype=dtype)
    for b in ins[1:]:                       # (A (.) B) (.) C, one pair at a time
        nxt = np.empty((acc.shape[0] * b.shape[0], acc.shape[1]), dtype)
        K.khatri_rao(acc, np.ascontiguousarray(b, dtype=dtype), nxt)
        acc = nxt
    outs[0][...] = acc


def _kr_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import im2col as C, elemwise
    acc = ins[0]
    for b in ins[1:]:
        nxt = cuda.device_array((acc.shape[0] * b.shape[0], acc.shape[1]), acc.dtype)
        C.khatri_rao(acc, b, nxt)
        acc = nxt
    elemwise.copy(acc, outs[0])


register(Op(name="khatri_rao", params={"num_args": Param("int", low=1)},
            arguments=lambda p: [f"arg{k}" for k in range(p["num_args"])],
            num_args_param="num_args", infer_shape=_kr_shape, forward=_kr_forward,
            gpu_forward=_kr_gpu_forward,
            doc="Column-wise Kronecker product of matrices with the same number of columns: "
                "row (i, j, ...) of the result is the product of row i of arg0, row j of "
                "arg1, ... (no gradient, as in MXNet). See notebook 01."))
