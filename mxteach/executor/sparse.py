"""Sparse storage in an executor: storage types of arguments and of their gradients, as MXNet
1.9's graph executor infers them.

* **Arguments.** A variable's storage type comes from ``simple_bind(stype_dict=...)`` or its
  ``stype`` (``mx.sym.Variable('data', stype='csr')``). Such an argument is a sparse NDArray
  (what you assign to, what the kvstore fills); the kernels read a dense *mirror* of it that
  the executor rebuilds before every forward — rows a row_sparse weight does not store read
  as zeros, exactly as in MXNet. An operator that MXNet runs sparse on these inputs
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

See notebook 15.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..base import MXNetError
from ..ndarray.sparse_storage import (STYPE_CODES, STYPES, RowSparseNDArray,
                                      StorageFallbackWarning, elemwise, is_sparse)
from ..ndarray.sparse_storage import zeros as sparse_zeros

__all__ = ["arg_stypes", "sparse_grad_names", "sparse_zeros", "is_sparse", "make_step",
           "Mirrors", "check_fallbacks", "check_grad_stypes", "stored", "StoredView"]


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
            if consumer.op.name == "Embedding" and given != "csr":
                why = (f"Cannot use sparse_grad = {int(wants != 'default')}, while stype of "
                       f"gradients w.r.t embedding weight is {given}")
            else:
                why = f"Operator not implemented: _backward_{consumer.op.name}"
            raise MXNetError(f"{consumer.op.name} '{consumer.name}' writes a {wants} gradient "
                             f"for '{node.name}', but args_grad['{node.name}'] is {given} "
                             f"(MXNet: \"{why}\"); bind a {wants} gradient array")


class Mirrors:
    """Dense buffers that the kernels read for sparse arguments, refreshed before forward."""

    def __init__(self):
        self.pairs = []

    def add(self, arr, dense):
        self.pairs.append((arr, dense))
        return dense

    def refresh(self):
        for arr, dense in self.pairs:
            dense[...] = arr.asnumpy()


def make_step(node, grads, reqs, plan, args=None):
    """A backward step for ``node`` if one of its inputs has a row_sparse gradient array in
    ``grads`` (else None). The step has the executor's step signature and fills the
    RowSparseNDArray in place: its stored rows become those of this batch (``'write'``).
    Sparse arguments in ``args`` reach ``sparse_backward`` as themselves, not their mirrors.
    """
    sparse_inputs = {}
    for pos, (src, _) in enumerate(node.inputs[:node.num_args()]):
        if src.op is None and isinstance(grads.get(src.name), RowSparseNDArray):
            if reqs.get(src.name, "null") == "null":
                continue
            if reqs[src.name] != "write":
                # MXNet 1.9 fails the same way, at its first backward
                raise MXNetError(f"{node.op.name} '{node.name}': a row_sparse gradient for "
                                 f"'{src.name}' supports grad_req 'write' only, got "
                                 f"'{reqs[src.name]}' (MXNet: \"SparseEmbedding layer doesn't "
                                 f"support weight gradient calculation with req != write\")")
            sparse_inputs[pos] = grads[src.name]
    if not sparse_inputs:
        return None
    backward = node.op.extra.get("sparse_backward")
    if backward is None:
        raise MXNetError(f"{node.op.name} '{node.name}' has no row_sparse gradient; bind its "
                         f"inputs with dense gradients")
    for pos, (src, i) in enumerate(node.inputs[:node.num_args()]):
        if pos not in sparse_inputs and plan.needs_grad.get((id(src), i)):
            raise MXNetError(f"{node.op.name} '{node.name}' with a row_sparse weight gradient "
                             f"cannot compute the gradient of its input '{src.name}' (MXNet: "
                             f"\"Embedding layer doesn't support calculate data gradient\"); "
                             f"bind with grad_req 'null' for it")
    originals = {pos: args[src.name] for pos, (src, _) in enumerate(node.inputs)
                 if src.op is None and args is not None and is_sparse(args.get(src.name))}
    # backward steps are built in the order they run: the first one to reach a gradient
    # writes it, later ones (another consumer of the same weight) add their rows
    written = plan.__dict__.setdefault("sparse_grads_written", set())
    first = {pos: id(target) not in written for pos, target in sparse_inputs.items()}
    written.update(id(target) for target in sparse_inputs.values())

    def step(p, ograds, ins, outs, igrads, step_reqs, state):
        ins = [originals.get(pos, x) for pos, x in enumerate(ins)]
        for pos, (rows, values) in backward(p, ograds, ins).items():
            target = sparse_inputs[pos]
            part = RowSparseNDArray(values.astype(target._values.dtype, copy=False),
                                    [rows.astype(np.int64, copy=False)], target.shape,
                                    target.context)
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
