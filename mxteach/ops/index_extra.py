"""The index_extra family: operators driven by index values — ``ravel_multi_index``,
``unravel_index``, ``scatter_nd``, ``fill_element_0index``, ``_onehot_encode``
(``mx.nd.onehot_encode``), ``_histogram`` (``histogram``), ``reset_arrays`` and
``cast_storage`` (its symbol form). The contrib ``boolean_mask``, ``index_copy`` and
``backward_index_copy`` are in ``index_contrib.py``.

Most of them move whole *rows*: the index values name, for every row of a compact array, a row
of a larger one. The row index is built on the host from the index values (as
``ops/movement.py`` builds its index maps) and one kernel gathers or scatters the rows
(``kernels/cpu/index_extra.py``, through ``rows_gather``/``rows_scatter`` of ``common.py``;
CUDA twins in ``kernels/cuda/``). Index inputs get zero gradients, as in MXNet;
``fill_element_0index``, ``onehot_encode`` and ``histogram`` have no gradient in MXNet 1.9.1
(a graph that needs one fails there too).
See notebook 01.
"""
from __future__ import annotations

import ast

import numpy as np

from .registry import Op, Param, register, assign
from .common import (grad_mode, kernel_view, flat_in, gpu_flat, zero_grads, gpu_zero_grads,
                     gpu_copy_forward, gpu_copy_backward, identity_shape, to_host, to_device,
                     inner_size, rows_gather, rows_scatter)
from ..base import MXNetError, ShapeError
from ..kernels.cpu import index_extra as K

__all__ = ["INDEX_EXTRA_OPS"]

INDEX_EXTRA_OPS = ["_ravel_multi_index", "_unravel_index", "scatter_nd", "fill_element_0index",
                   "_onehot_encode", "_histogram", "reset_arrays", "cast_storage"]


# -- ravel_multi_index / unravel_index ---------------------------------------------------------
def _shape_param(op, p):
    if not p["shape"]:
        raise MXNetError(f"{op}: the shape parameter is empty; give the shape the indices "
                         "apply to")
    return np.array(p["shape"], dtype=np.int64)


def _ravel_shape(p, in_shapes):
    dims = _shape_param("ravel_multi_index", p)
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    if len(data) != 2 or data[0] != dims.size:
        raise ShapeError(f"ravel_multi_index: data must be 2-D with one row per axis of shape "
                         f"{p['shape']}, i.e. ({dims.size}, n); got {tuple(data)}")
    return [tuple(data)], [(data[1],)]


def _unravel_shape(p, in_shapes):
    dims = _shape_param("unravel_index", p)
    if in_shapes[0] is None:
        return list(in_shapes), [None]
    return [tuple(in_shapes[0])], [(dims.size,) + tuple(in_shapes[0])]


def _index_conversion(name, alias, kernel, shape_rule, doc):
    def forward(p, ins, outs, is_train, state):
        out, commit = kernel_view(outs[0], -1)
        getattr(K, kernel)(flat_in(ins[0]), np.array(p["shape"], np.int64), out)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import index_extra as C
        getattr(C, kernel)(gpu_flat(ins[0]), to_device(np.array(p["shape"], np.int64)),
                           gpu_flat(outs[0]))

    shape = Param("shape", None, optional=True, doc="the shape the indices apply to")
    register(Op(name=name, aliases=(alias,), params={"shape": shape},
                arguments=("data",), infer_shape=shape_rule, forward=forward,
                backward=zero_grads, gpu_forward=gpu_forward, gpu_backward=gpu_zero_grads,
                backward_uses=(), doc=doc + " The gradient is 0. See notebook 01."))


_index_conversion("_ravel_multi_index", "ravel_multi_index", "ravel", _ravel_shape,
                  "Flat indices of the multi-indices in the columns of data (one row per axis "
                  "of shape), as numpy.ravel_multi_index without range checks.")
_index_conversion("_unravel_index", "unravel_index", "unravel", _unravel_shape,
                  "The multi-indices (one row per axis of shape) of the flat indices in data, "
                  "as numpy.unravel_index; the first axis takes what is left (unbounded).")


# -- scatter_nd --------------------------------------------------------------------------------
def _scatter_nd_shape(p, in_shapes):
    data, ind = in_shapes
    shape = tuple(p["shape"])
    if data is None or ind is None:
        return list(in_shapes), [shape]
    m = ind[0] if len(ind) else 0
    want = tuple(ind[1:]) + shape[m:]
    if not 1 <= m <= len(shape) or tuple(data) != want:
        raise ShapeError(f"scatter_nd: indices {tuple(ind)} index the first {m} axes of shape "
                         f"{shape}, so data must have shape {want}; got {tuple(data)}")
    return [tuple(data), tuple(ind)], [shape]


def _scatter_rows(p, ins, state):
    """Row index of scatter_nd: for every indexed position, its row of the output."""
    shape = tuple(p["shape"])
    ind = to_host(ins[1]).astype(np.int64)
    m = ind.shape[0]
    idx = ind.reshape(m, -1)
    for k in range(m):
        bad = (idx[k] < 0) | (idx[k] >= shape[k])
        if bad.any():
            raise MXNetError(f"scatter_nd: index {int(idx[k][bad][0])} is out of range for "
                             f"axis {k} of shape {shape} (MXNet 1.9.1 does not check and may "
                             "crash)")
    rows = np.ravel_multi_index(tuple(idx), shape[:m]).astype(np.int64)
    state["rows"], state["inner"] = rows, inner_size(shape, m)
    return rows, state["inner"]


def _scatter_nd_forward(p, ins, outs, is_train, state):
    rows, inner = _scatter_rows(p, ins, state)
    outs[0][...] = 0
    rows_scatter(ins[0], rows, inner, 0, outs[0])


def _scatter_nd_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if mode:
        rows_gather(ograds[0], state["rows"], state["inner"], igrads[0], mode == 2)
    assign(igrads[1], reqs[1], 0)


def _scatter_nd_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import index_extra as C, elemwise
    rows, inner = _scatter_rows(p, ins, state)
    state["gpu_rows"] = to_device(rows)
    elemwise.fill(outs[0], 0)
    C.rows_scatter(gpu_flat(ins[0]), state["gpu_rows"], inner, 0, gpu_flat(outs[0]))


def _scatter_nd_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import index_extra as C
    if grad_mode(reqs[0], igrads[0]):
        C.rows_gather(gpu_flat(ograds[0]), state["gpu_rows"], state["inner"],
                      gpu_flat(igrads[0]), reqs[0] == "add")
    gpu_zero_grads(p, None, ins, outs, igrads[1:], reqs[1:], state)


register(Op(name="scatter_nd", params={"shape": Param("shape", doc="shape of the output")},
            arguments=("data", "indices"), infer_shape=_scatter_nd_shape,
            forward=_scatter_nd_forward, backward=_scatter_nd_backward,
            gpu_forward=_scatter_nd_gpu_forward, gpu_backward=_scatter_nd_gpu_backward,
            backward_uses=(),
            doc="A zero array of `shape` with the slices of data written at the positions in "
                "the first axis of indices (the inverse of gather_nd; a repeated position keeps "
                "the last slice on the CPU). See notebook 01."))


# -- fill_element_0index and _onehot_encode: one element per row --------------------------------
def _per_row(name, idx, n, k):
    """Flat positions ``i * k + idx[i]`` (-1 where idx is outside [0, k): MXNet skips those)."""
    idx = to_host(idx).reshape(-1).astype(np.int64)
    if idx.size != n:
        raise ShapeError(f"{name}: the index has {idx.size} entries for {n} rows")
    return np.where((idx >= 0) & (idx < k), np.arange(n, dtype=np.int64) * k + idx, -1)


def _fill_shape(p, in_shapes):
    lhs = in_shapes[0]
    if lhs is None:
        return list(in_shapes), [None]
    if len(lhs) != 2:
        raise ShapeError(f"fill_element_0index: lhs must be 2-D, got {tuple(lhs)}")
    return [tuple(lhs), (lhs[0],), (lhs[0],)], [tuple(lhs)]


def _fill_forward(p, ins, outs, is_train, state):
    n, k = ins[0].shape
    outs[0][...] = ins[0]
    rows_scatter(ins[1], _per_row("fill_element_0index", ins[2], n, k), 1, 0, outs[0])


def _fill_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import index_extra as C, elemwise
    n, k = ins[0].shape
    elemwise.copy(ins[0], outs[0])
    C.rows_scatter(gpu_flat(ins[1]), to_device(_per_row("fill_element_0index", ins[2], n, k)), 1, 0,
                   gpu_flat(outs[0]))


register(Op(name="fill_element_0index", params={}, arguments=("lhs", "mhs", "rhs"),
            infer_shape=_fill_shape, forward=_fill_forward, gpu_forward=_fill_gpu_forward,
            doc="lhs with lhs[i, rhs[i]] replaced by mhs[i] (rows whose index is out of range "
                "stay as they are). No gradient, as in MXNet. See notebook 01."))


def _onehot_shape(p, in_shapes):
    idx, like = in_shapes
    if like is None:
        return list(in_shapes), [None]
    if len(like) != 2:
        raise ShapeError(f"onehot_encode: out must be 2-D (n, depth), got {tuple(like)}")
    return [(like[0],), tuple(like)], [tuple(like)]


def _onehot_forward(p, ins, outs, is_train, state):
    n, k = outs[0].shape
    outs[0][...] = 0
    rows_scatter(np.ones(n, outs[0].dtype), _per_row("onehot_encode", ins[0], n, k), 1, 0,
                  outs[0])


def _onehot_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import index_extra as C, elemwise
    n, k = outs[0].shape
    elemwise.fill(outs[0], 0)
    rows = _per_row("onehot_encode", ins[0], n, k)
    C.rows_scatter(to_device(np.ones(n, outs[0].dtype)), to_device(rows), 1, 0, gpu_flat(outs[0]))


register(Op(name="_onehot_encode", params={}, arguments=("lhs", "rhs"),
            infer_shape=_onehot_shape, forward=_onehot_forward,
            gpu_forward=_onehot_gpu_forward,
            doc="Rows of zeros with a 1 at column lhs[i], shaped like rhs (the legacy "
                "operator behind mx.nd.onehot_encode; out-of-range indices give a zero row). "
                "See notebook 01."))


# -- _histogram -----------------------------------------------------------------------------------
def _hist_args(p):
    return ["data"] if p["bin_cnt"] is not None else ["data", "bins"]


def _hist_range(p):
    if (p["bin_cnt"] is None) != (p["range"] is None):
        raise MXNetError("histogram: bin_cnt and range must both be given or both omitted "
                         f"(got bin_cnt={p['bin_cnt']}, range={p['range']})")
    rng = p["range"]
    rng = ast.literal_eval(rng) if isinstance(rng, str) else rng
    if len(rng) != 2:
        raise MXNetError(f"histogram: range {rng} must be a (low, high) pair")
    lo, hi = (float(v) for v in rng)
    if lo > hi:
        raise MXNetError(f"histogram: range {p['range']}: the left end {lo} must not exceed "
                         f"the right end {hi}")
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def _hist_shape(p, in_shapes):
    if p["bin_cnt"] is not None:
        _hist_range(p)
        n = p["bin_cnt"]
    else:
        bins = in_shapes[1]
        if bins is None:
            return list(in_shapes), [None, None]
        if len(bins) != 1 or bins[0] < 2:
            raise ShapeError(f"histogram: bins must be a 1-D vector of at least 2 edges, got "
                             f"shape {tuple(bins)}")
        n = bins[0] - 1
    return list(in_shapes), [(n,), (n + 1,)]


def _hist_type(p, in_types):
    return list(in_types), ["int64", in_types[0]]


def _hist_edges(p, ins, dtype):
    if p["bin_cnt"] is None:
        return to_host(ins[1]).astype(dtype)
    lo, hi = _hist_range(p)
    n = p["bin_cnt"]
    return (lo + np.arange(n + 1) * ((hi - lo) / n)).astype(dtype)


def _hist_forward(p, ins, outs, is_train, state):
    edges = _hist_edges(p, ins, ins[0].dtype)
    outs[1][...] = edges
    lo, hi = _hist_range(p) if p["bin_cnt"] is not None else (0.0, 1.0)
    data = flat_in(ins[0])
    if data.dtype == np.float16:
        data, edges = data.astype(np.float32), edges.astype(np.float32)
    counts, commit = kernel_view(outs[0], -1)
    K.histogram(data, edges, lo, hi, p["bin_cnt"] is not None, counts)
    commit()


def _hist_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import index_extra as C
    edges = _hist_edges(p, [to_host(a) for a in ins], np.dtype(ins[0].dtype))
    outs[1].copy_to_device(edges)
    lo, hi = _hist_range(p) if p["bin_cnt"] is not None else (0.0, 1.0)
    C.histogram(gpu_flat(ins[0]), outs[1], lo, hi, p["bin_cnt"] is not None, outs[0])


register(Op(name="_histogram", params={
    "bin_cnt": Param("int", None, optional=True, doc="number of equal bins over range"),
    "range": Param("any", None, optional=True, doc="(low, high) of the equal bins")},
    arguments=_hist_args, outputs=("output0", "output1"), infer_shape=_hist_shape,
    infer_type=_hist_type, forward=_hist_forward, gpu_forward=_hist_gpu_forward,
    doc="Counts (int64) of the flattened data in bin_cnt equal bins over range, or between "
        "the edges of a second input bins, and the edges (the operator behind histogram; "
        "no gradient). See notebook 01."))


# -- reset_arrays and cast_storage ----------------------------------------------------------------
def _reset_forward(p, ins, outs, is_train, state):
    for a in ins:
        a[...] = 0


def _reset_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import elemwise
    for a in ins:
        elemwise.fill(a, 0)


register(Op(name="reset_arrays", params={"num_arrays": Param("int", low=1)},
            arguments=lambda p: [f"arg{k}" for k in range(p["num_arrays"])],
            num_args_param="num_arrays", outputs=(),
            infer_shape=lambda p, in_shapes: (list(in_shapes), []),
            forward=_reset_forward, gpu_forward=_reset_gpu_forward,
            doc="Set every input to zero in place (no outputs): what MXNet's optimizers use to "
                "clear several gradient arrays at once. See notebook 01."))


def _cast_storage_forward(p, ins, outs, is_train, state):
    outs[0][...] = ins[0]


def _cast_storage_backward(p, ograds, ins, outs, igrads, reqs, state):
    assign(igrads[0], reqs[0], ograds[0])


register(Op(name="cast_storage", params={
    "stype": Param("str", choices=("csr", "default", "row_sparse"), doc="output storage")},
    arguments=("data",), infer_shape=identity_shape, forward=_cast_storage_forward,
    backward=_cast_storage_backward, gpu_forward=gpu_copy_forward,
    gpu_backward=gpu_copy_backward, backward_uses=(),
    extra={"sparse_inputs": lambda p, in_stypes: True,
           "out_stypes": lambda p, in_stypes: [p["stype"]]},
    doc="The input in storage type stype. In a graph the values pass unchanged (the executor's "
        "buffers are dense) and the gradient is the head gradient; mx.nd.cast_storage "
        "converts NDArrays (ndarray/sparse_ops.py). See notebook 15."))
