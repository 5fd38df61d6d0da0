"""``MXDataIter``: how MXNet's file iterators (MNISTIter, CSVIter ...) behave from Python.

In MXNet these iterators are C++ objects behind one Python wrapper. What a script sees of
them is the wrapper's behaviour, reproduced here:

* the constructor already reads the first batch (to learn ``provide_data`` and
  ``provide_label`` from it) and keeps it for the first :meth:`next`;
* :meth:`reset` drops that kept batch and rewinds the loader;
* the label comes out as ``(batch,)`` when its shape is ``(batch, 1, ...)`` -- MXNet keeps
  only the first ``batch`` numbers then, so a ``label_shape=(1, 3)`` gives one number per
  example;
* ``getpad`` and ``getindex`` describe the current batch.

A subclass implements ``_load()`` (the next batch as ``(data, label, pad, index)`` numpy
arrays, or None at the end) and ``_rewind()``. See notebook 03.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

from ..base import MXNetError, MXNetValueError
from ..ndarray.ndarray import NDArray
from .base import DataBatch, DataDesc, DataIter

__all__ = ["MXDataIter", "check_kwargs", "positive_int", "check_part"]


def check_kwargs(iter_name, kwargs, known):
    """Warn about keyword arguments MXNet would silently ignore: a misspelt option (e.g.
    ``shufle=True``) otherwise changes nothing without a word."""
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        warnings.warn(f"{iter_name}: ignoring unknown argument(s) {unknown} (MXNet ignores "
                      f"them silently); known arguments: {sorted(known)}", stacklevel=3)


def positive_int(iter_name, name, value, low=1):
    """``value`` as an int >= ``low``, or MXNetValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise MXNetValueError(f"{iter_name}: {name} must be an integer >= {low}, got "
                              f"{value!r}")
    return int(value)


def check_part(iter_name, num_parts, part_index):
    """``(num_parts, part_index)`` as ints, the index below the count (one part per worker)."""
    num_parts = positive_int(iter_name, "num_parts", num_parts)
    part_index = positive_int(iter_name, "part_index", part_index, low=0)
    if part_index >= num_parts:
        raise MXNetValueError(f"{iter_name}: part_index {part_index} must be smaller than "
                              f"num_parts {num_parts}")
    return num_parts, part_index


class MXDataIter(DataIter):
    """Base of the file iterators that MXNet implements in C++ (see the module docstring).

    Parameters
    ----------
    data_name, label_name : str, optional
        Names in ``provide_data``/``provide_label`` (``'data'``, ``'softmax_label'``).

    Notes
    -----
    Two deliberate differences from MXNet's wrapper: :meth:`iter_next` consumes the batch
    read by the constructor (MXNet answers True for it again and again, so a
    ``while it.iter_next()`` loop never ends), and the arrays of a batch are never
    overwritten by later batches (MXNet recycles its buffers, so keeping a batch for long
    shows other data).

    See notebook 03.
    """

    _name = "MXDataIter"

    def __init__(self, data_name="data", label_name="softmax_label"):
        super().__init__()
        self._current = None
        self._debug_skip_load = False
        self._debug_at_begin = True
        self.first_batch = None
        try:
            self.first_batch = self.next()
        except StopIteration:
            raise MXNetError(f"{self._name}: the data holds no complete batch, so there is "
                             "nothing to iterate (use a smaller batch_size)") from None
        data, label = self.first_batch.data[0], self.first_batch.label[0]
        self.provide_data = [DataDesc(data_name, data.shape, data.dtype)]
        self.provide_label = [DataDesc(label_name, label.shape, label.dtype)]
        self.batch_size = data.shape[0]

    # -- what subclasses provide ---------------------------------------------------------
    def _load(self):
        """The next batch as ``(data, label, pad, index)`` numpy arrays, or None."""
        raise NotImplementedError

    def _rewind(self):
        """Make the loader start over (what MXNet's C++ ``BeforeFirst`` does)."""
        raise NotImplementedError

    # -- MXDataIter's interface ---------------------------------------------------------
    def debug_skip_load(self):
        """From now on :meth:`next` returns the current batch again without loading (to time
        the training alone)."""
        self._debug_skip_load = True
        logging.info("Set debug_skip_load to be true, will simply return first batch")

    def reset(self):
        """Rewind: the next batch comes from the start of the data again (round_batch may
        make it continue after the rows the last, padded batch borrowed)."""
        self._debug_at_begin = True
        self.first_batch = None
        self._rewind()

    def _advance(self):
        batch = self._load()
        if batch is not None:
            self._current = batch
        return batch is not None

    def next(self):
        """The next :class:`DataBatch`; ``StopIteration`` at the end of the data."""
        if self._debug_skip_load and not self._debug_at_begin:
            return self._batch()
        if self.first_batch is not None:
            batch, self.first_batch = self.first_batch, None
            return batch
        self._debug_at_begin = False
        if not self._advance():
            raise StopIteration
        return self._batch()

    def _batch(self):
        return DataBatch(data=[self.getdata()], label=[self.getlabel()], pad=self.getpad(),
                         index=self.getindex())

    def iter_next(self):
        """Move to the next batch (then read it with getdata/getlabel); False at the end."""
        if self.first_batch is not None:
            self.first_batch = None
            return True
        return self._advance()

    def _part(self, i):
        if self._current is None:
            raise MXNetError(f"{self._name}: no current batch; call next() or iter_next() "
                             "first")
        return self._current[i]

    def getdata(self):
        """The current batch's data (a new NDArray)."""
        return NDArray(np.array(self._part(0)))

    def getlabel(self):
        """The current batch's label; ``(batch, 1, ...)`` labels come out as ``(batch,)``."""
        label = self._part(1)
        if label.ndim > 1 and label.shape[1] == 1:
            label = label.reshape(-1)[:label.shape[0]]
        return NDArray(np.array(label))

    def getpad(self):
        """How many examples at the end of the current batch are padding."""
        return int(self._part(2))

    def getindex(self):
        """The current batch's example numbers (uint64), or None when there are none."""
        index = self._part(3)
        return None if index is None or index.size == 0 else np.array(index, np.uint64)
