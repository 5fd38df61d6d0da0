"""Row_sparse gradients: ``Embedding(sparse_grad=True)``, ``contrib.SparseEmbedding`` and
``dot(csr, w)``.

An embedding's weight gradient is zero except on the rows the batch looked up. With a
row_sparse gradient the executor stores only those rows (``data``) and their numbers
(``indices``), and an optimizer with ``lazy_update`` touches only them (see
``mxteach/optimizer/sparse.py``). The weight itself stays dense, as in MXNet 1.9.

The same holds for ``dot(csr_batch, w)``: the gradient of ``w`` is ``csr.T @ ograd``, whose
non-zero rows are the columns (features) that the batch holds.

Three entries of an operator's ``extra`` dict carry this, read by the executor
(``mxteach/executor/sparse.py``):

* ``grad_stypes(p, in_stypes)``: ``{input position: 'row_sparse'}`` for the inputs whose
  gradient is row_sparse under the parsed parameters ``p`` and the inputs' storage types;
* ``sparse_backward(p, ograds, ins)``: ``{input position: (rows, values)}``, the stored rows of
  those gradients (sparse arguments arrive as sparse arrays);
* ``sparse_inputs(p, in_stypes)``: True where MXNet runs the operator on these storage types
  without a storage fallback;
* ``dense_grads(p, ograds, ins, wanted)`` and ``any_grad_stype(p, in_stypes)``: the dense gradients
  of the other inputs (``dot``'s csr input), and whether MXNet writes the gradients into
  arrays of *any* storage type the caller binds (``dot(csr, w)``: a csr gradient holds the
  non-zeros, as a cast would);
* ``sparse_forward(p, ins, outs, is_train, state)`` and ``sparse_forward_ok(p, in_stypes)``:
  a forward that reads the sparse argument itself (``dot(csr, w)``), so the executor keeps no
  dense copy of it;
* ``gpu_sparse_backward`` and ``gpu_sparse_forward``: the CUDA sides of ``sparse_backward`` and
  ``sparse_forward`` on a gpu (device arrays in and out; ``kernels/cuda/sparse.py``).

``Embedding`` and ``dot`` are registered in ``nn.py`` and ``reduce.py``; this file attaches the
entries to them (family files never import each other, the registry is their meeting point).

See notebook 15.
"""
from __future__ import annotations

import numpy as np

from ..base import MXNetError
from ..kernels.cpu import nn as KN
from ..kernels.cpu import sparse as KS
from .common import grad_mode, inplace_view
from .registry import Op, Param, assign, get, register

__all__ = ["embedding_grad_stypes", "embedding_sparse_backward", "dot_grad_stypes",
           "dot_sparse_backward", "dot_dense_grads", "dot_sparse_forward"]

_EMB = get("Embedding")


def _indices(data):
    # the kernels read indices as float64 (exact for every int32), as nn.py's Embedding
    return np.ascontiguousarray(data, dtype=np.float64).reshape(-1)


def embedding_grad_stypes(p, in_stypes):
    """The weight's gradient (input 1) is row_sparse when ``sparse_grad`` is set (always for
    SparseEmbedding, which has no such parameter)."""
    return {1: "row_sparse"} if p.get("sparse_grad", True) else {}


def embedding_sparse_backward(p, ograds, ins):
    """``{1: (rows, values)}``: the looked-up rows, sorted, and the summed output gradients of
    each (rows looked up twice add)."""
    idx = _indices(ins[0])
    dim = p["output_dim"]
    dy = np.ascontiguousarray(ograds[0]).reshape(-1, dim)
    rows = np.empty(idx.size, np.int64)
    values = np.empty((idx.size, dim), dy.dtype)
    used = KS.embedding_rows_grad(idx, dy, p["input_dim"], rows, values)
    return {1: (rows[:used].copy(), values[:used].copy())}


def _embedding_sparse_inputs(p, in_stypes):
    return in_stypes[0] == "default" and in_stypes[1] in ("default", "row_sparse")


def gpu_embedding_sparse_backward(p, ograds, ins):
    """The CUDA side of :func:`embedding_sparse_backward` on device arrays: ``{1: (rows,
    values)}`` as device arrays (rows flagged, scanned and compacted; values summed with
    atomics: ``kernels/cuda/sparse.py``)."""
    from ..kernels.cuda import sparse as KC
    idx = ins[0].reshape(ins[0].size)
    dim = p["output_dim"]
    dy = ograds[0].reshape(ograds[0].size // dim, dim)
    return {1: KC.embedding_rows_grad(idx, dy, p["input_dim"])}


_EMB.extra.update(grad_stypes=embedding_grad_stypes, sparse_backward=embedding_sparse_backward,
                  sparse_inputs=_embedding_sparse_inputs,
                  gpu_sparse_backward=gpu_embedding_sparse_backward)


# -- dot(csr, w) -----------------------------------------------------------------------------------
def dot_grad_stypes(p, in_stypes):
    """``dot(csr, w)``: the gradient of ``w`` is row_sparse (MXNet's storage inference)."""
    plain = not p["transpose_a"] and not p["transpose_b"]
    return {1: "row_sparse"} if plain and in_stypes[0] == "csr" else {}


def dot_sparse_backward(p, ograds, ins):
    """``{1: (rows, values)}`` of ``csr.T @ ograd``: rows are the columns the batch stores."""
    csr = ins[0]
    indptr, cols = csr._aux
    og = np.ascontiguousarray(ograds[0])
    dtype = np.result_type(csr._values, og)
    dense = np.empty((csr.shape[1], og.shape[1]), dtype)
    touched = np.empty(csr.shape[1], np.int8)
    KS.csr_t_dot_dense(indptr, cols, csr._values.astype(dtype), og.astype(dtype), dense,
                       touched)
    rows = np.nonzero(touched)[0].astype(np.int64)
    return {1: (rows, dense[rows])}


def _dot_sparse_inputs(p, in_stypes):
    lhs, rhs = in_stypes
    if lhs == "csr":
        return rhs in ("default", "row_sparse") and not p["transpose_b"]
    return lhs == "default" and rhs == "csr" and not p["transpose_b"]


def dot_dense_grads(p, ograds, ins, wanted):
    """The dense gradients of ``dot(csr, w)`` at the input positions ``wanted``: ``0``, the
    csr input's ``ograd @ w.T`` (MXNet writes it into whatever storage the caller binds for
    it: csr keeps the non-zeros), and ``1``, ``csr.T @ ograd`` written out densely."""
    out = {}
    og = np.ascontiguousarray(ograds[0])
    if 0 in wanted:
        rhs = ins[1]
        w = rhs.asnumpy() if hasattr(rhs, "asnumpy") else np.asarray(rhs)
        out[0] = og @ w.astype(np.result_type(og, w), copy=False).T
    if 1 in wanted:
        rows, values = dot_sparse_backward(p, ograds, ins)[1]
        out[1] = np.zeros((ins[0].shape[1], og.shape[1]), values.dtype)
        out[1][rows] = values
    return out


def dot_sparse_forward_ok(p, in_stypes):
    """Whether :func:`dot_sparse_forward` runs ``dot`` on these inputs: ``dot(csr, w)``."""
    return (in_stypes[0] == "csr" and in_stypes[1] != "csr"
            and not p["transpose_a"] and not p["transpose_b"])


def dot_sparse_forward(p, ins, outs, is_train, state):
    """``out = csr @ w`` read straight from the csr array's values, column indices and row
    offsets: no dense copy of the (mostly zero) batch is ever made."""
    csr, rhs = ins
    if not hasattr(csr, "_aux"):
        # the csr argument has a dense mirror (it feeds other operators too); the columns of
        # a row_sparse weight's missing rows multiply zeros, so only the stored rows are used
        lhs = np.asarray(csr).reshape(csr.shape[0], -1)
        out = outs[0].reshape(lhs.shape[0], -1)
        if hasattr(rhs, "_aux"):
            np.matmul(lhs[:, rhs._aux[0]], rhs._values.reshape(rhs._values.shape[0], -1),
                      out=out)
        else:
            np.matmul(lhs, np.asarray(rhs).reshape(lhs.shape[1], -1), out=out)
        return
    indptr, cols = csr._aux
    values = csr._values
    if hasattr(rhs, "_aux"):
        # a row_sparse weight: only its stored rows exist (the others read as zeros), so the
        # csr's columns are renumbered to positions among them and entries elsewhere dropped
        stored = rhs._aux[0]
        pos = np.minimum(np.searchsorted(stored, cols), max(stored.size - 1, 0))
        hit = stored[pos] == cols if stored.size else np.zeros(cols.size, bool)
        kept = np.concatenate([[0], np.cumsum(hit)]).astype(indptr.dtype)
        indptr, cols, values, w = kept[indptr], pos[hit], values[hit], rhs._values
    else:
        w = rhs
    width = int(np.prod(w.shape[1:], dtype=np.int64))
    w2 = np.ascontiguousarray(w).reshape(w.shape[0], width)
    out = outs[0].reshape(csr.shape[0], width)
    KS.csr_dot_dense(indptr, cols, values.astype(out.dtype, copy=False),
                     w2.astype(out.dtype, copy=False), out)


def gpu_dot_sparse_backward(p, ograds, ins):
    """The CUDA side of :func:`dot_sparse_backward`: ``csr.T @ ograd`` as device arrays
    (the csr input is a gpu csr array, ``ndarray/sparse_gpu.py``)."""
    from ..kernels.cuda import sparse as KC
    csr, og = ins[0], ograds[0]
    if csr._values.dtype != og.dtype:
        csr = csr.astype(og.dtype)
    rows, values = KC.csr_t_dot_dense(csr._aux[0].dev, csr._aux[1].dev, csr._values.dev,
                                      og.reshape(og.shape[0], og.size // og.shape[0]),
                                      csr.shape[1])
    return {1: (rows, values)}


def gpu_dot_sparse_forward(p, ins, outs, is_train, state):
    """The CUDA side of :func:`dot_sparse_forward`: ``out = csr @ w`` from the gpu csr
    array's parts, no dense copy of the batch (a row_sparse weight is densified on the
    device first)."""
    from ..kernels.cuda import sparse as KC
    csr, rhs = ins
    if hasattr(rhs, "_aux"):
        rhs = rhs._dense_buffer().dev
    width = rhs.size // rhs.shape[0]
    out = outs[0].reshape(csr.shape[0], width)
    if csr._values.dtype != out.dtype:
        csr = csr.astype(out.dtype)
    KC.csr_dot_dense(csr._aux[0].dev, csr._aux[1].dev, csr._values.dev,
                     rhs.reshape(rhs.shape[0], width), out)


# a dense gradient of w is fine too: MXNet then writes csr.T @ ograd densely. MXNet also
# casts either gradient into a csr (or row_sparse) array bound for it: ``any_grad_stype``
get("dot").extra.update(grad_stypes=dot_grad_stypes, sparse_backward=dot_sparse_backward,
                        sparse_inputs=_dot_sparse_inputs, dense_grad_ok=True,
                        dense_grads=dot_dense_grads, any_grad_stype=_dot_sparse_inputs,
                        sparse_forward=dot_sparse_forward,
                        sparse_forward_ok=dot_sparse_forward_ok,
                        gpu_sparse_backward=gpu_dot_sparse_backward,
                        gpu_sparse_forward=gpu_dot_sparse_forward)


# -- contrib.SparseEmbedding ----------------------------------------------------------------------
def _check(p):
    if p["input_dim"] < 1 or p["output_dim"] < 1:
        raise MXNetError(f"SparseEmbedding: input_dim and output_dim must be >= 1, got "
                         f"{p['input_dim']} and {p['output_dim']}")


def _shape(p, in_shapes):
    _check(p)
    return _EMB.infer_shape(p, in_shapes)


def _forward(p, ins, outs, is_train, state):
    KN.embedding_forward(_indices(ins[0]), np.ascontiguousarray(ins[1]),
                         inplace_view(outs[0], (-1, p["output_dim"]), "SparseEmbedding"))


def _backward(p, ograds, ins, outs, igrads, reqs, state):
    # the dense form of the gradient, for a weight whose gradient someone binds dense
    if grad_mode(reqs[1], igrads[1]):
        KN.embedding_backward(_indices(ins[0]),
                              np.ascontiguousarray(ograds[0]).reshape(-1, p["output_dim"]),
                              inplace_view(igrads[1], igrads[1].shape, "SparseEmbedding"),
                              reqs[1] == "add")
    if reqs[0] == "write":
        assign(igrads[0], "write", 0)


register(Op(
    name="_contrib_SparseEmbedding",
    params={"input_dim": Param("int", doc="vocabulary size (rows of weight)"),
            "output_dim": Param("int", doc="embedding size (columns of weight)"),
            "dtype": Param("dtype", "float32", choices=("float16", "float32", "float64",
                                                         "uint8", "int8", "int32", "int64")),
            "deterministic": Param("bool", False, doc="accepted; mxteach's gradient is "
                                                      "always deterministic")},
    arguments=["data", "weight"], infer_shape=_shape, infer_type=_EMB.infer_type,
    forward=_forward, backward=_backward, backward_uses=("ins",),
    # a dense weight gradient on a GPU: Embedding's CUDA pair computes exactly the dense form
    # of _backward above (the row_sparse one is gpu_embedding_sparse_backward)
    gpu_forward=_EMB.gpu_forward, gpu_backward=_EMB.gpu_backward,
    aliases=("SparseEmbedding",),   # the auto-name MXNet gives: sparseembedding0
    extra={"grad_stypes": embedding_grad_stypes, "sparse_backward": embedding_sparse_backward,
           "sparse_inputs": _embedding_sparse_inputs,
           "gpu_sparse_backward": gpu_embedding_sparse_backward},
    doc="Embedding whose weight gradient is always row_sparse (MXNet marks it deprecated in "
        "favour of Embedding(sparse_grad=True), which does the same). See notebook 15."))


# -- _square_sum: the sum of squares of a row_sparse weight (factorization machines) --------------
def _ss_axis(p):
    axis = p["axis"]
    axis = axis[0] if isinstance(axis, (tuple, list)) and len(axis) == 1 else axis
    if axis not in (0, 1, -1, -2):
        raise MXNetError(f"_square_sum: axis must be 0 or 1 (a 2-d input), got {p['axis']}")
    return axis % 2


def _ss_shape(p, in_shapes):
    shape = in_shapes[0]
    if shape is None:
        return list(in_shapes), [None]
    if len(shape) != 2:
        raise MXNetError(f"_square_sum takes a 2-d input (as MXNet), got shape {tuple(shape)}")
    axis = _ss_axis(p)
    out = tuple(1 if k == axis else d for k, d in enumerate(shape)) if p["keepdims"] else \
        (shape[1 - axis],)
    return [tuple(shape)], [out]


def _ss_forward(p, ins, outs, is_train, state):
    x = np.asarray(ins[0])
    outs[0][...] = np.sum(x * x, axis=_ss_axis(p), keepdims=p["keepdims"])


def _ss_ograd(p, ograd, shape):
    """The output gradient broadcast back to the input's shape."""
    g = np.asarray(ograd)
    return np.broadcast_to(g if p["keepdims"] else np.expand_dims(g, _ss_axis(p)), shape)


def _ss_backward(p, ograds, ins, outs, igrads, reqs, state):
    x = np.asarray(ins[0])
    assign(igrads[0], reqs[0], 2 * x * _ss_ograd(p, ograds[0], x.shape))


def _run_gpu(name, params, ins, outs):
    """Another operator's CUDA forward on device arrays (this op is composed of them)."""
    op = get(name)
    op.gpu_forward(op.parse(params, name), ins, outs, False, {})


def _ss_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    squared = cuda.device_array(ins[0].shape, dtype=ins[0].dtype)
    _run_gpu("square", {}, [ins[0]], [squared])
    _run_gpu("sum", {"axis": _ss_axis(p), "keepdims": p["keepdims"]}, [squared], [outs[0]])


def _ss_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from numba import cuda
    from ..kernels.cuda import elemwise
    if not grad_mode(reqs[0], igrads[0]):
        return
    x = ins[0]
    kept = tuple(1 if k == _ss_axis(p) else d for k, d in enumerate(x.shape))
    prod = cuda.device_array(x.shape, dtype=x.dtype)
    _run_gpu("broadcast_mul", {}, [x, ograds[0].reshape(kept)], [prod])
    twice = cuda.device_array(x.shape, dtype=x.dtype)
    _run_gpu("_mul_scalar", {"scalar": 2.0}, [prod], [twice])
    elemwise.copy(twice, igrads[0], reqs[0] == "add")


def _ss_grad_stypes(p, in_stypes):
    return {0: "row_sparse"} if in_stypes[0] == "row_sparse" else {}


def _ss_sparse_backward(p, ograds, ins):
    """``{0: (rows, values)}``: the input's stored rows, ``2 * x * ograd`` on them."""
    x = ins[0]
    rows = x._aux[0]
    g = _ss_ograd(p, ograds[0], x.shape)[rows]
    return {0: (rows.copy(), (2 * x._values * g).astype(x._values.dtype))}


def _ss_gpu_sparse_backward(p, ograds, ins):
    """The CUDA side of :func:`_ss_sparse_backward` (``ins[0]``: a gpu row_sparse array)."""
    from numba import cuda
    from ..kernels.cuda import sparse as KC
    x = ins[0]
    rows = x._aux[0].dev
    k, width = rows.shape[0], x.shape[1]
    values = cuda.device_array((k, width), dtype=x._values.dtype)
    og = ograds[0]
    KC.square_sum_grad(rows, x._values.dev.reshape(k, width), og.reshape(og.size),
                       _ss_axis(p), values)
    rows_copy = cuda.device_array(k, dtype=rows.dtype)     # the gradient owns its rows
    if k:
        rows_copy.copy_to_device(rows)
    return {0: (rows_copy, values)}


register(Op(
    name="_square_sum",
    params={"axis": Param("shape", None, optional=True, doc="0 or 1"),
            "keepdims": Param("bool", False),
            "exclude": Param("bool", False, doc="accepted as MXNet's; must stay False")},
    arguments=["data"], infer_shape=_ss_shape, forward=_ss_forward, backward=_ss_backward,
    gpu_forward=_ss_gpu_forward, gpu_backward=_ss_gpu_backward, backward_uses=("ins",),
    extra={"grad_stypes": _ss_grad_stypes, "sparse_backward": _ss_sparse_backward,
           "sparse_inputs": lambda p, in_stypes: in_stypes[0] == "row_sparse",
           "gpu_sparse_backward": _ss_gpu_sparse_backward},
    doc="Sum of squares along axis 0 or 1 of a 2-d (row_sparse) array, as MXNet's internal "
        "_square_sum that factorization machines use. See notebook 15."))
