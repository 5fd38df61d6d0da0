"""Sparse storage in an executor: storage types of arguments and of their gradients, as MXNet
1.9's graph executor infers them.

* **Arguments.** A variable's storage type comes from ``simple_bind(stype_dict=...)`` or its
  ``stype`` (``mx.sym.Variable('data', stype='csr')``). Such an argument is a sparse NDArray
  (what you assign to, what the kvstore fills); the kernels read a dense *mirror* of it that
  the executor rebuilds before every forward — rows a row_sparse weight does not store read
  as zeros, exactly as in MXNet. Where every reader has a sparse forward (``dot(csr, w)``
  with a sparse backward step) there is no mirror: a csr batch stays csr
  (:func:`reads_sparse`). An operator that MXNet runs sparse on these inputs
  (``op.extra['sparse_inputs']``) needs nothing more; any other consumer is MXNet's storage
  fallback, announced at bind with a :class:`StorageFallbackWarning`.
* **Gradients.** An operator declares in ``op.extra`` which inputs get a row_sparse gradient
  (``grad_stypes(p, in_stypes)``) and computes it (``sparse_backward(p, ograds, ins)``; see
  ``mxteach/ops/sparse_nn.py``): ``Embedding(sparse_grad=True)``, ``contrib.SparseEmbedding``,
  ``dot(csr, w)`` and ``_square_sum`` of a row_sparse array. An argument fed *only* to such
  inputs gets a RowSparseNDArray gradient holding the rows of the last batch (the parts of
  several consumers add up row-wise); one that also feeds another operator keeps a dense
  gradient, with a warning.
* **Gradients you bind.** MXNet has no ``grad_stype`` on Variables (``Variable(...,
  grad_stype=...)`` is refused as any unknown attribute): the storage of a gradient is what
  the operators infer, or the storage of the array given in ``bind(args_grad=...)``. A given
  array must agree with the operators: ``Embedding(sparse_grad=True)`` needs a row_sparse one,
  ``sparse_grad=False`` a dense one, ``dot(csr, w)`` takes either; MXNet fails at the first
  backward, mxteach at bind (:func:`check_grad_stypes`).
* **On a gpu** the same happens in device memory (``ndarray/sparse_gpu.py``): sparse arguments
  and row_sparse gradients are gpu sparse arrays, mirrors are refreshed by a device densify,
  and the operators' ``gpu_sparse_forward``/``gpu_sparse_backward`` (CUDA kernels) replace
  ``sparse_forward``/``sparse_backward``. Only the row_sparse gradients an operator writes
  itself run there; a dense data gradient beside them, or a csr gradient array, is refused.

See notebook 15.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..base import MXNetError
from ..ndarray import sparse_gpu
from ..ndarray.sparse_storage import (STYPE_CODES, STYPES, RowSparseNDArray,
                                      StorageFallbackWarning, elemwise, is_sparse, rows_to_csr)
from ..ndarray.sparse_storage import zeros as sparse_zeros

__all__ = ["arg_stypes", "sparse_grad_names", "sparse_zeros", "is_sparse", "make_step",
           "Mirrors", "check_fallbacks", "check_grad_stypes", "stored", "StoredView",
           "reads_sparse", "sparse_forward"]


def arg_stypes(order, names, stype_dict):
    """``{argument name: stype}`` for sparse arguments: ``stype_dict`` first, then each
    variable's ``__storage_type__`` attribute."""
    given = dict(stype_dict or {})
    for k, v in given.items():
        if k not in names:
            raise MXNetError(f"simple_bind: stype_dict names '{k}', which is not an argument; "
                             f"arguments are {names}")
        if v not in STYPES:
            raise MXNetError(f"simple_bind: stype_dict['{k}'] is {v!r}; expected one of "
                             f"{list(STYPES)}")
    out = {}
    by_code = {str(code): name for name, code in STYPE_CODES.items()}
    for node in order:
        if node.op is None and node.name in names:
            stype = given.get(node.name, node.attr.get("__storage_type__", "default"))
            stype = by_code.get(stype, stype)       # the JSON form is MXNet's enum ('1')
            if stype not in STYPES:
                raise MXNetError(f"variable '{node.name}' has stype {stype!r}; expected one of "
                                 f"{list(STYPES)}")
            if stype != "default":
                out[node.name] = stype
    return out


def _consumers(order):
    uses = {}
    for node in order:
        if node.op is None:
            continue
        for pos, (src, _) in enumerate(node.inputs):
            uses.setdefault(id(src), []).append((node, pos))
    return uses


def _in_stypes(node, stypes):
    return [stypes.get(src.name, "default") if src.op is None else "default"
            for src, _ in node.inputs]


def _grad_stypes(node, stypes):
    fn = node.op.extra.get("grad_stypes")
    return fn(node.params, _in_stypes(node, stypes)) if fn is not None else {}


def sparse_grad_names(order, stypes=None):
    """``{argument name: 'row_sparse'}`` for arguments whose gradient storage is row_sparse,
    from the nodes ``order`` of a symbol and the arguments' storage types ``stypes``."""
    stypes = stypes or {}
    uses = _consumers(order)
    names = {}
    for node in order:
        if node.op is not None or id(node) not in uses:
            continue
        consumers = uses[id(node)]
        sparse = [(n, pos) for n, pos in consumers
                  if _grad_stypes(n, stypes).get(pos) == "row_sparse"]
        if not sparse:
            continue
        if len(sparse) < len(consumers):
            # a row_sparse gradient plus a dense one is dense (MXNet sums them densely too)
            warnings.warn(f"storage fallback: '{node.name}' feeds {len(consumers)} operators, "
                          f"so the row_sparse gradient of '{sparse[0][0].name}' is summed "
                          f"with others into a dense gradient", StorageFallbackWarning,
                          stacklevel=4)
            continue
        names[node.name] = "row_sparse"     # several row_sparse parts add up row-wise
    return names


def check_fallbacks(order, stypes):
    """Warn once per operator that reads a sparse argument densely (MXNet's storage fallback)."""
    for node in order:
        if node.op is None:
            continue
        ins = _in_stypes(node, stypes)
        if all(s == "default" for s in ins):
            continue
        accepts = node.op.extra.get("sparse_inputs")
        if accepts is not None and accepts(node.params, ins):
            continue
        warnings.warn(f"storage fallback: {node.op.name} '{node.name}' has no implementation "
                      f"for input storage types {ins}; it reads dense copies",
                      StorageFallbackWarning, stacklevel=4)


def check_grad_stypes(order, stypes, grads, reqs):
    """Refuse host gradient arrays (``bind(args_grad=...)``) whose storage type the operators
    consuming the argument do not write (MXNet: "Operator not implemented" or Embedding's
    "Cannot use sparse_grad = ..." at backward)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StorageFallbackWarning)   # said once, at inference
        inferred = sparse_grad_names(order, stypes)
    uses = _consumers(order)
    for node in order:
        grad = grads.get(node.name) if node.op is None else None
        if grad is None or reqs.get(node.name, "null") == "null" or \
                grad.context.device_type != "cpu":      # device gradients are dense
            continue
        given, want = grad.stype, inferred.get(node.name, "default")
        if given == want:
            continue
        for consumer, pos in uses.get(id(node), []):
            wants = _grad_stypes(consumer, stypes).get(pos, "default")
            if given == wants or (given == "default" and consumer.op.extra.get("dense_grad_ok")):
                continue
            anything = consumer.op.extra.get("any_grad_stype")
            if anything is not None and anything(consumer.params, _in_stypes(consumer, stypes)):
                continue        # MXNet casts the gradient into what was bound (dot(csr, w))
            if consumer.op.name == "Embedding" and given != "csr":
                why = (f"Cannot use sparse_grad = {int(wants != 'default')}, while stype of "
                       f"gradients w.r.t embedding weight is {given}")
            else:
                why = f"Operator not implemented: _backward_{consumer.op.name}"
            raise MXNetError(f"{consumer.op.name} '{consumer.name}' writes a {wants} gradient "
                             f"for '{node.name}', but args_grad['{node.name}'] is {given} "
                             f"(MXNet: \"{why}\"); bind a {wants} gradient array")


def reads_sparse(node, plan, stypes, grads, reqs):
    """Whether the sparse argument ``node`` needs no dense mirror: every operator reading it
    has a ``sparse_forward`` for these storage types (``dot(csr, w)``), and its backward, if
    any, is a sparse step (:func:`make_step`) that reads the argument itself."""
    consumers = [c for c in plan.op_nodes if any(src is node for src, _ in c.inputs)]
    for c in consumers:
        ok = c.op.extra.get("sparse_forward_ok")
        if ok is None or not ok(c.params, _in_stypes(c, stypes)):
            return False
        needs = any(plan.needs_grad.get((id(src), i)) for src, i in c.inputs[:c.num_args()])
        if needs and not _has_sparse_target(c, grads, reqs):
            return False
    return bool(consumers)


def sparse_forward(node, ins):
    """The forward of ``node`` that reads sparse inputs as they are, when one of ``ins`` is a
    sparse array (an argument :func:`reads_sparse` left without a mirror), else None."""
    sparse = [x for x in ins if is_sparse(x)]
    if sparse:
        gpu = sparse[0].context.device_type == "gpu"
        fn = node.op.extra["gpu_sparse_forward" if gpu else "sparse_forward"]
        return sparse_gpu.on_device(fn, sparse[0].context) if gpu else fn
    return None


class Mirrors:
    """Dense buffers that the kernels read for sparse arguments, refreshed before forward
    (``memory_report`` lists them as ``dense copy`` rows)."""

    def __init__(self):
        self.pairs = []

    def add(self, arr, dense):
        self.pairs.append((arr, dense))
        return dense

    def refresh(self):
        for arr, dense in self.pairs:
            dense[...] = arr.tostype("default")._data      # on a gpu: a device copy


def _has_sparse_target(node, grads, reqs):
    """Whether :func:`make_step` builds a sparse step for ``node``."""
    return any(src.op is None and is_sparse(grads.get(src.name))
               and reqs.get(src.name, "null") != "null"
               for src, _ in node.inputs[:node.num_args()])


def make_step(node, grads, reqs, plan, args=None):
    """A backward step for ``node`` if one of its inputs has a sparse (row_sparse or csr)
    gradient array in ``grads`` (else None). The step has the executor's step signature and
    fills the sparse arrays in place: their stored rows become those of this batch
    (``'write'``); a csr one holds the non-zeros, as MXNet's cast into it. Dense gradients of
    the node's other arguments are written by the op's ``dense_grads`` in the same step.
    Sparse arguments in ``args`` reach the op as themselves, not their mirrors.
    """
    targets = {}
    for pos, (src, _) in enumerate(node.inputs[:node.num_args()]):
        if src.op is None and is_sparse(grads.get(src.name)):
            if reqs.get(src.name, "null") == "null":
                continue
            if reqs[src.name] != "write":
                # MXNet 1.9 fails the same way, at its first backward
                raise MXNetError(f"{node.op.name} '{node.name}': a {grads[src.name].stype} "
                                 f"gradient for '{src.name}' supports grad_req 'write' only, "
                                 f"got '{reqs[src.name]}' (MXNet: \"SparseEmbedding layer "
                                 f"doesn't support weight gradient calculation with req != "
                                 f"write\")")
            targets[pos] = grads[src.name]
    if not targets:
        return None
    gpu = any(t.context.device_type == "gpu" for t in targets.values())
    backward = node.op.extra.get("gpu_sparse_backward" if gpu else "sparse_backward")
    dense_grads = node.op.extra.get("dense_grads")
    if backward is None:
        raise MXNetError(f"{node.op.name} '{node.name}' has no sparse gradient; bind its "
                         f"inputs with dense gradients")
    row_form = set(_grad_stypes(node, {n: a.stype for n, a in (args or {}).items()}))
    dense_targets = {}
    for pos, (src, i) in enumerate(node.inputs[:node.num_args()]):
        if pos in targets or not plan.needs_grad.get((id(src), i)):
            continue
        consumers = [c for c in plan.op_nodes for n, _ in c.inputs if n is src]
        # the dense gradient is written here: every consumer must be such a step too
        if dense_grads is None or src.op is not None or \
                not all(_has_sparse_target(c, grads, reqs) for c in consumers):
            raise MXNetError(f"{node.op.name} '{node.name}' with a sparse weight gradient "
                             f"cannot compute the gradient of its input '{src.name}' (MXNet: "
                             f"\"Embedding layer doesn't support calculate data gradient\"); "
                             f"bind with grad_req 'null' for it")
        dense_targets[pos] = (grads[src.name], reqs[src.name])
    originals = {pos: args[src.name] for pos, (src, _) in enumerate(node.inputs)
                 if src.op is None and args is not None and is_sparse(args.get(src.name))}
    # backward steps are built in the order they run: the first one to reach a gradient
    # writes it, later ones (another consumer of the same weight) add their rows
    written = plan.__dict__.setdefault("sparse_grads_written", set())
    every = {**targets, **{pos: t for pos, (t, _) in dense_targets.items()}}
    first = {pos: id(target) not in written for pos, target in every.items()}
    written.update(id(target) for target in every.values())
    if gpu:
        return sparse_gpu.sparse_grad_step(node, backward, targets, dense_targets, first,
                                           originals, row_form)

    def step(p, ograds, ins, outs, igrads, step_reqs, state):
        ins = [originals.get(pos, x) for pos, x in enumerate(ins)]
        parts = backward(p, ograds, ins) if row_form & set(targets) else {}
        wanted = (set(targets) - row_form) | set(dense_targets)
        dense = dense_grads(p, ograds, ins, wanted) if wanted else {}
        for pos, (target, req) in dense_targets.items():
            buf = target._data
            if req == "add" or not first[pos]:
                buf += dense[pos].astype(buf.dtype, copy=False)
            else:
                buf[...] = dense[pos]
        for pos, target in targets.items():
            if pos in parts:
                rows, values = parts[pos]
            else:       # a dense gradient cast into the bound sparse array: non-zero rows
                rows = np.nonzero(dense[pos].reshape(len(dense[pos]), -1).any(axis=1))[0]
                values = dense[pos][rows]
            values = values.astype(target._values.dtype, copy=False)
            rows = rows.astype(np.int64, copy=False)
            if isinstance(target, RowSparseNDArray):
                part = RowSparseNDArray(values, [rows], target.shape, target.context)
            else:
                part = rows_to_csr(rows, values, target.shape, target.context)
            if not first[pos]:
                part = elemwise("add", target, part)
            target._values, target._aux = part._values, part._aux
    return step


class StoredView:
    """Shape, dtype and bytes *stored* by a sparse array (values and indices), for
    ``memory_report``: a 100k-row embedding gradient of 3 rows costs 3 rows here."""

    def __init__(self, arr):
        self.shape = arr.shape
        self.dtype = np.dtype(arr.dtype)
        self.nbytes = int(arr._values.nbytes + sum(a.nbytes for a in arr._aux))


def stored(arr):
    """The dense buffer of ``arr``, or a :class:`StoredView` of a sparse one."""
    return StoredView(arr) if is_sparse(arr) else arr._data
