"""``mx.io.CSVIter``: batches of the rows of a CSV file, as MXNet 1.9.1 hands them out.

Each non-empty line is one example: comma-separated numbers, reshaped to ``data_shape``.
Labels come from a second CSV file (``label_csv``) or are all 0. The batching rules are
MXNet's (its C++ ``BatchLoader``):

* ``round_batch=True`` (the default): a last, incomplete batch is filled with rows from the
  start of the file and ``pad`` says how many. The next :meth:`reset` then does *not* go back
  to the start: the next epoch begins after the rows already borrowed. So with 4 rows and
  ``batch_size=3`` the epochs are ``[1 2 3] [4 1 2]``, then ``[3 4 1]``, then ``[2 3 4]``.
* ``round_batch=False``: the last batch is padded with whatever the previous batch left in
  those places (its ``pad`` rows are stale data), and every reset starts over.

See notebook 03.
"""
from __future__ import annotations

import numpy as np

from ..base import MXNetError, MXNetValueError
from .csv_parse import read_csv_rows
from .mx_data_iter import MXDataIter, check_kwargs, positive_int

__all__ = ["CSVIter"]

_DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}
_KNOWN = ("prefetch_buffer", "ctx")


def _shape(name, value):
    shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not shape or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                        for d in shape):
        raise MXNetValueError(f"CSVIter: {name} must be a tuple of positive ints, got "
                              f"{value!r}")
    return tuple(int(d) for d in shape)


class CSVIter(MXDataIter):
    """Iterate over the rows of a CSV file (see the module docstring for the batching).

    Parameters
    ----------
    data_csv : str
        The CSV file, or a directory whose files are read in name order.
    data_shape : tuple of int
        Shape of one example; each row must hold ``prod(data_shape)`` numbers.
    label_csv : str, optional
        The labels' CSV file ('NULL', the default: every label is 0).
    label_shape : tuple of int, optional
        Shape of one label, ``(1,)`` by default (the batch's label is then ``(batch,)``).
    batch_size : int
        Examples per batch.
    round_batch : bool, optional
        Fill the last batch from the start of the data (True) or with stale rows (False).
    dtype : {'float32', 'int32', 'int64'}, optional
        How the numbers are parsed and handed out.
    data_name, label_name : str, optional
        Names in ``provide_data``/``provide_label``.

    Notes
    -----
    MXNet silently reads a field that is not a number as nothing (the row gets shorter) or
    as 0 (``0x10`` in a float column); mxteach raises MXNetError naming the line instead.
    A label file with fewer rows than the data fails at construction, not mid-epoch.

    Examples
    --------
    >>> it = CSVIter(data_csv='data.csv', data_shape=(3,), batch_size=3)
    >>> [b.pad for b in it]
    [0, 2]

    See notebook 03.
    """

    _name = "CSVIter"

    def __init__(self, data_csv, data_shape, batch_size, label_csv="NULL", label_shape=(1,),
                 round_batch=True, dtype=None, data_name="data", label_name="softmax_label",
                 **kwargs):
        check_kwargs("CSVIter", kwargs, _KNOWN)
        key = "float32" if dtype is None else np.dtype(dtype).name
        if key not in _DTYPES:
            raise MXNetValueError(f"CSVIter: dtype {dtype!r} is not supported; use one of "
                                  f"{sorted(_DTYPES)}")
        dtype = _DTYPES[key]
        self._batch_size = positive_int("CSVIter", "batch_size", batch_size)
        self._round = bool(round_batch)
        self._data = read_csv_rows(data_csv, _shape("data_shape", data_shape), dtype)
        n = len(self._data)
        if label_csv in (None, "NULL"):
            self._label = np.zeros((n, 1), dtype)
        else:
            self._label = read_csv_rows(label_csv, _shape("label_shape", label_shape), dtype,
                                        what="label_csv")
            if len(self._label) < n:
                raise MXNetError(f"CSVIter: {label_csv} holds {len(self._label)} label rows "
                                 f"but {data_csv} holds {n} data rows")
        # the loader's own buffers: with round_batch=False their stale rows are the padding
        self._buf_data = np.zeros((self._batch_size,) + self._data.shape[1:], dtype)
        self._buf_label = np.zeros((self._batch_size,) + self._label.shape[1:], dtype)
        self._buf_index = np.zeros(self._batch_size, np.uint64)
        self._pos = 0           # the next row the row reader gives
        self._overflow = 0      # rows borrowed from the start by the last, padded batch
        super().__init__(data_name, label_name)

    def _take(self, top):
        self._buf_data[top] = self._data[self._pos]
        self._buf_label[top] = self._label[self._pos]
        self._buf_index[top] = self._pos
        self._pos += 1

    def _load(self):
        if self._overflow:
            return None
        n, top = len(self._data), 0
        while top < self._batch_size and self._pos < n:
            self._take(top)
            top += 1
        if top == 0:
            return None
        pad = 0
        if top < self._batch_size:
            if self._round:
                self._pos = 0
                while top < self._batch_size:
                    if self._pos >= n:
                        raise MXNetError(f"CSVIter: {n} rows cannot fill a batch of "
                                         f"{self._batch_size}; the number of rows must be "
                                         "at least half the batch size with round_batch")
                    self._take(top)
                    top += 1
                    self._overflow += 1
                pad = self._overflow
            else:
                pad = self._batch_size - top
        return self._buf_data.copy(), self._buf_label.copy(), pad, self._buf_index.copy()

    def _rewind(self):
        if not self._round or not self._overflow:
            self._pos = 0
        else:
            self._overflow = 0      # continue after the borrowed rows, as MXNet does
