"""``mx.io.LibSVMIter``: csr batches from a LibSVM text file, as MXNet 1.9.1 hands them out.

A LibSVM line is ``label index:value index:value ...`` with 0-based feature indices (in any
order, each once); features not listed are zero. Each batch's data is a :class:`CSRNDArray` of shape
``(batch_size,) + data_shape`` -- the natural input of ``mx.sym.sparse.dot(data, weight)``
with a row_sparse ``weight``. Labels are the first number of each line (a dense
``(batch_size,)`` array), or rows of a second LibSVM file ``label_libsvm`` (then a csr
array of shape ``(batch_size,) + label_shape``).

Batching is MXNet's ``round_batch`` rule (the only one its sparse loader has): a last,
incomplete batch is completed with lines from the start of the data, ``pad`` counts them, and
the next epoch starts after the borrowed lines. ``num_parts``/``part_index`` split the file
into byte ranges of equal size, each line going to the range where it starts, as MXNet's
(dmlc) input split does, so that workers read disjoint lines.

See notebook 15.
"""
from __future__ import annotations

import os

import numpy as np

from ..base import MXNetError, MXNetValueError
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import CSRNDArray
from .mx_data_iter import MXDataIter, check_kwargs, check_part, positive_int

__all__ = ["LibSVMIter", "read_libsvm"]

_KNOWN = ("prefetch_buffer", "ctx", "dtype")


def _lines_of_part(path, num_parts, part_index):
    """(line number, text) of the lines of part ``part_index``: a line belongs to the part
    whose byte range ``(start, end]`` holds its first byte (the first line to part 0)."""
    if not os.path.isfile(path):
        raise MXNetError(f"LibSVMIter: cannot find the file {path!r}")
    with open(path, "rb") as f:
        raw = f.read()
    step = -(-len(raw) // num_parts)
    lo, hi = step * part_index, step * (part_index + 1)
    out, offset = [], 0
    for number, line in enumerate(raw.split(b"\n"), 1):
        start, offset = offset, offset + len(line) + 1
        mine = (start == 0 and part_index == 0) or lo < start <= hi
        if mine and line.strip():
            out.append((number, line.decode("utf-8", "replace")))
    return out


def read_libsvm(path, width, num_parts=1, part_index=0, what="data_libsvm"):
    """Parse a LibSVM file: (labels float32 (n,), indptr int64, indices int64, values float32).
    Every index must lie in ``[0, width)`` and appear once per line (a line's pairs are
    sorted by index)."""
    labels, indptr, indices, values = [], [0], [], []
    for number, line in _lines_of_part(path, num_parts, part_index):
        fields = line.split()
        try:
            labels.append(float(fields[0]))
            pairs = [f.split(":") for f in fields[1:]]
            cols = [int(p[0]) for p in pairs]
            vals = [float(p[1]) for p in pairs]
        except (ValueError, IndexError):
            raise MXNetError(f"LibSVMIter: line {number} of {what} {path!r} is not "
                             f"'label index:value ...': {line[:60]!r}") from None
        if cols and (min(cols) < 0 or max(cols) >= width):
            # MXNet accepts such an index and builds a csr array that is out of bounds
            raise MXNetError(f"LibSVMIter: line {number} of {what} {path!r} has feature index "
                             f"{max(cols) if max(cols) >= width else min(cols)}, outside "
                             f"[0, {width}) given by its shape")
        if any(b <= a for a, b in zip(cols, cols[1:])):
            # MXNet keeps a line's pairs in file order (a csr row with unsorted indices, the
            # same numbers); mxteach sorts them, so every csr array it makes is canonical
            order = sorted(range(len(cols)), key=cols.__getitem__)
            cols, vals = [cols[i] for i in order], [vals[i] for i in order]
            if any(b == a for a, b in zip(cols, cols[1:])):
                raise MXNetError(f"LibSVMIter: line {number} of {what} {path!r} lists a "
                                 f"feature index twice: {sorted(cols)}")
        indices += cols
        values += vals
        indptr.append(len(indices))
    return (np.asarray(labels, np.float32), np.asarray(indptr, np.int64),
            np.asarray(indices, np.int64), np.asarray(values, np.float32))


def _shape(name, value):
    shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(shape) != 1 or isinstance(shape[0], bool) or \
            not isinstance(shape[0], (int, np.integer)) or shape[0] < 1:
        raise MXNetValueError(f"LibSVMIter: {name} must be a 1-tuple of a positive int (the "
                              f"number of features), got {value!r}")
    return (int(shape[0]),)


class _Rows:
    """The lines of one LibSVM file as csr parts, from which batches gather rows."""

    def __init__(self, parsed, width):
        self.labels, self.indptr, self.indices, self.values = parsed
        self.width = width

    def __len__(self):
        return self.labels.size

    def gather(self, rows):
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        ptr = np.zeros(rows.size + 1, np.int64)
        np.cumsum(ends - starts, out=ptr[1:])
        take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)] +
                              [np.zeros(0, np.int64)])
        return CSRNDArray(self.values[take], [ptr, self.indices[take]], (rows.size, self.width))


class LibSVMIter(MXDataIter):
    """Iterate over a LibSVM file in csr batches (see the module docstring).

    Parameters
    ----------
    data_libsvm : str
        The LibSVM file.
    data_shape : tuple of int
        ``(num_features,)``: the width of the csr batches.
    batch_size : int
        Examples per batch.
    label_libsvm : str, optional
        A LibSVM file of labels ('NULL', the default: labels are the lines' first numbers).
    label_shape : tuple of int, optional
        ``(label width,)`` with ``label_libsvm``; ``(1,)`` by default.
    num_parts, part_index : int, optional
        Read only part ``part_index`` of ``num_parts`` (one per worker).
    round_batch : bool, optional
        Must be True: MXNet's sparse loader has no other rule (it fails the same way).
    data_name, label_name : str, optional
        Names in ``provide_data``/``provide_label``.

    Notes
    -----
    A feature index outside ``data_shape`` raises MXNetError naming the line; MXNet accepts it
    and builds an out-of-bounds csr array.

    See notebook 15.
    """

    _name = "LibSVMIter"

    def __init__(self, data_libsvm, data_shape, batch_size, label_libsvm="NULL",
                 label_shape=(1,), num_parts=1, part_index=0, round_batch=True,
                 data_name="data", label_name="softmax_label", **kwargs):
        check_kwargs("LibSVMIter", kwargs, _KNOWN)
        self._batch_size = positive_int("LibSVMIter", "batch_size", batch_size)
        num_parts, part_index = check_part("LibSVMIter", num_parts, part_index)
        if not round_batch:
            raise MXNetError("LibSVMIter: sparse batch loader doesn't support round_batch == "
                             "false (as in MXNet 1.9.1)")
        width = _shape("data_shape", data_shape)[0]
        self._data = _Rows(read_libsvm(data_libsvm, width, num_parts, part_index), width)
        self._label = None
        if label_libsvm not in (None, "NULL"):
            lw = _shape("label_shape", label_shape)[0]
            self._label = _Rows(read_libsvm(label_libsvm, lw, num_parts, part_index,
                                            "label_libsvm"), lw)
            if len(self._label) < len(self._data):
                raise MXNetError(f"LibSVMIter: {label_libsvm} holds {len(self._label)} lines "
                                 f"but {data_libsvm} holds {len(self._data)}")
        self._pos = 0           # the next line the reader gives
        self._overflow = 0      # lines borrowed from the start by the last, padded batch
        super().__init__(data_name, label_name)

    def _load(self):
        n, size = len(self._data), self._batch_size
        if self._overflow or self._pos >= n:
            return None
        rows = list(range(self._pos, min(self._pos + size, n)))
        self._pos = rows[-1] + 1
        if len(rows) < size:             # complete the batch from the start of the data
            if size - len(rows) > n:
                raise MXNetError(f"LibSVMIter: {n} lines cannot fill a batch of {size}; "
                                 f"use a smaller batch_size")
            self._overflow = size - len(rows)
            rows += list(range(self._overflow))
            self._pos = self._overflow
        rows = np.asarray(rows, np.int64)
        data = self._data.gather(rows)
        label = self._label.gather(rows) if self._label is not None else \
            self._data.labels[rows]
        return data, label, self._overflow, rows.astype(np.uint64)

    def _rewind(self):
        if not self._overflow:
            self._pos = 0
        self._overflow = 0       # continue after the borrowed lines, as MXNet does

    def getdata(self):
        """The current batch's data: a CSRNDArray ``(batch_size, num_features)``."""
        return self._part(0).copy()

    def getlabel(self):
        """The current batch's labels: ``(batch_size,)``, or csr rows with label_libsvm."""
        label = self._part(1)
        return label.copy() if isinstance(label, CSRNDArray) else NDArray(np.array(label))
