""":class:`NDArrayIter`: batches from arrays in memory, with MXNet 1.9.1's last-batch rules
and shuffling.

See notebook 03.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np

from ..base import MXNetError, MXNetNotImplementedError, mx_real_t
from ..ndarray.ndarray import NDArray
from ..ndarray.sparse_storage import StorageFallbackWarning
from ..io_checks import IOError_, IOTypeError, _is_int, check_iter_lengths
from .base import DataDesc, DataBatch, DataIter


def _named_arrays(data, allow_empty, default_name):
    """Normalise NDArrayIter's ``data``/``label`` argument into sorted ``[(name, NDArray)]``.

    One array gets ``default_name``; a list of several gets ``_0_name``, ``_1_name`` ...; a dict
    keeps its keys. Entries are sorted by name (so ``_10_data`` comes before ``_2_data``, as in
    MXNet). Arrays that are not NDArrays become float32 NDArrays, as ``mx.nd.array`` makes them.
    """
    if data is None:
        if not allow_empty:
            raise MXNetError("NDArrayIter needs data: pass an array, a list of arrays or a "
                             "dict {name: array}")
        data = []
    if isinstance(data, (np.ndarray, NDArray)):
        data = [data]
    if isinstance(data, list):
        if not data and not allow_empty:
            raise MXNetError("NDArrayIter got an empty list of data arrays")
        if len(data) == 1:
            data = OrderedDict([(default_name, data[0])])
        else:
            data = OrderedDict((f"_{i}_{default_name}", d) for i, d in enumerate(data))
    if not isinstance(data, dict):
        raise TypeError("NDArrayIter input must be an NDArray, a numpy.ndarray, a list of them "
                        f"or a dict of them, got {type(data).__name__}")
    named = []
    for key, value in data.items():
        if not isinstance(value, NDArray):
            try:
                value = NDArray(np.array(value, dtype=mx_real_t))
            except (TypeError, ValueError):
                raise TypeError(f"Invalid type {type(value).__name__} for {key!r}: NDArrayIter "
                                "takes NDArray or numpy.ndarray") from None
        named.append((key, value))
    return sorted(named, key=lambda kv: kv[0])


class NDArrayIter(DataIter):
    """Iterate over in-memory arrays (NDArray or numpy) in batches.

    Parameters
    ----------
    data : array, list of arrays or dict of name -> array
        The inputs. One array is named ``data_name``; a list of ``k`` arrays gets the names
        ``_0_<data_name>`` ... ``_<k-1>_<data_name>``; a dict keeps its keys. Inputs are
        ordered by name.
    label : array, list of arrays, dict, or None
        The labels, named like ``data`` but from ``label_name``. None gives no labels.
    batch_size : int
        Examples per batch.
    shuffle : bool
        Shuffle examples (data and labels together) at construction and at every ``reset``,
        using numpy's global random state (``np.random.seed`` makes it repeatable, and gives
        the same order as MXNet).
    last_batch_handle : {'pad', 'discard', 'roll_over'}
        What to do when the examples do not fill the last batch:

        * ``'pad'``: fill it with examples from the start; ``batch.pad`` says how many.
        * ``'discard'``: drop the incomplete batch.
        * ``'roll_over'``: drop it this epoch and put its examples at the front of the first
          batch after ``reset()``; that batch reports ``pad`` = the number carried over.
    data_name, label_name : str
        Names for a single data/label array (defaults ``'data'`` and ``'softmax_label'``).
    layout : str
        Data layout; the position of ``'N'`` is the batch axis used for slicing.

    Notes
    -----
    Behaviours kept from MXNet 1.9.1, so that batches match it exactly:

    * Arrays that are not NDArrays are stored as float32, whatever their dtype.
    * Shuffling permutes the already-shuffled arrays again each ``reset`` (and re-creates them
      as float32 NDArrays).
    * Batches from :meth:`next` carry ``index=None`` and no ``provide_data``.
    * The first batch after a roll-over reports ``pad`` = number of carried examples even
      though it holds no filler.

    Examples
    --------
    >>> it = NDArrayIter(np.arange(10).reshape(5, 2), np.arange(5), batch_size=2)
    >>> [b.pad for b in it]
    [0, 0, 1]

    See notebook 03.
    """

    _MODES = ("pad", "discard", "roll_over")

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label", layout="NCHW"):
        super().__init__(batch_size)
        if last_batch_handle not in self._MODES:
            raise IOError_(f"last_batch_handle must be one of {self._MODES}, got "
                             f"{last_batch_handle!r}")
        if not _is_int(batch_size):
            # MXNet fails at the first batch with an error about slice_axis parameters
            raise IOTypeError(f"NDArrayIter: batch_size must be an int, got "
                           f"{type(batch_size).__name__} {batch_size!r}")
        if batch_size <= 0:
            raise IOError_(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size = int(batch_size)
        self.data = _named_arrays(data, allow_empty=False, default_name=data_name)
        self.label = _named_arrays(label, allow_empty=True, default_name=label_name)
        self.layout = layout
        if last_batch_handle != "discard" and any(
                getattr(a, "stype", "default") == "csr" for _, a in self.data + self.label):
            raise MXNetNotImplementedError("`NDArrayIter` only supports ``CSRNDArray`` with "
                                           "`last_batch_handle` set to `discard`.")
        self._check_lengths(last_batch_handle)
        self.idx = np.arange(self.data[0][1].shape[0])
        self.num_data = self.idx.shape[0]
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        # The cursor is the position of the current batch's first example. It starts one batch
        # before 0 so that the first iter_next() moves it to 0; after a roll-over it is negative,
        # -cursor being the number of carried examples.
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None
        self.reset()
        self.data_list = [arr for _, arr in self.data] + [arr for _, arr in self.label]
        self.num_source = len(self.data_list)

    @property
    def _batch_axis(self):
        return self.layout.find("N")

    def _check_lengths(self, last_batch_handle):
        check_iter_lengths(self.data, self.label, self._batch_axis, self.layout,
                           self.batch_size, last_batch_handle)

    def _describe(self, named):
        axis = self._batch_axis
        descs = []
        for name, arr in named:
            shape = list(arr.shape)
            shape[axis] = self.batch_size
            descs.append(DataDesc(name, tuple(shape), arr.dtype, layout=self.layout))
        return descs

    @property
    def provide_data(self):
        """``[DataDesc]`` of the data inputs, batch axis set to ``batch_size``."""
        return self._describe(self.data)

    @property
    def provide_label(self):
        """``[DataDesc]`` of the labels (an empty list without labels)."""
        return self._describe(self.label)

    def hard_reset(self):
        """Rewind to the very start, forgetting any rolled-over examples."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    def reset(self):
        """Rewind for a new epoch (reshuffling if ``shuffle``); ``'roll_over'`` keeps the tail."""
        if self.shuffle:
            self._shuffle_data()
        incomplete_tail = self.num_data - self.batch_size < self.cursor < self.num_data
        if self.last_batch_handle == "roll_over" and incomplete_tail:
            carried = self.num_data - self.cursor
            # one batch before -carried, so that iter_next lands on -carried
            self.cursor = -carried - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self):
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self):
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[self._batch_axis] != self.batch_size:
            # an incomplete tail ('discard'/'roll_over'): keep it for a roll-over next epoch
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _take(self, named, rows):
        """Copies of ``rows`` (a slice or index array) of every array along the batch axis."""
        axis = self._batch_axis
        out = []
        for _, arr in named:
            if arr.stype == "csr" and isinstance(rows, slice):
                # MXNet 1.9.1 slices csr data with a dense fallback: its batches are dense
                warnings.warn("storage fallback: NDArrayIter slices csr data into dense "
                              "batches, as MXNet 1.9.1 does (mx.io.LibSVMIter gives csr "
                              "batches)", StorageFallbackWarning, stacklevel=4)
                out.append(NDArray(arr[rows].asnumpy(), arr.context))
                continue
            key = [slice(None)] * arr.ndim
            key[axis] = rows
            out.append(NDArray(np.array(arr._data[tuple(key)], copy=True), arr.context))
        return out

    def _joined(self, first, second):
        if not first or not second:
            return first if first else second
        axis = self._batch_axis
        return [NDArray(np.concatenate([a._data, b._data], axis=axis), a.context)
                for a, b in zip(first, second)]

    def _batchify(self, named):
        if self.cursor >= self.num_data:
            raise MXNetError("NDArrayIter is past the end of the data; call reset() first")
        bs, n = self.batch_size, self.num_data
        if self.last_batch_handle == "roll_over" and -bs < self.cursor < 0:
            # First batch after a roll-over: the carried tail, then the start of the data.
            # getdata() consumes the data cache, then getlabel() the label cache.
            carried = self._cache_data if self._cache_data is not None else self._cache_label
            if carried is None:
                raise MXNetError("NDArrayIter(roll_over): no examples were carried over; the "
                                 "previous epoch must end with next() raising StopIteration")
            if self.cursor + bs > n:
                raise MXNetError(f"NDArrayIter(roll_over): {-self.cursor} carried example(s) "
                                 f"plus {self.cursor + bs} new ones exceed the {n} examples "
                                 f"there are; use batch_size <= {n} with roll_over")
            if self._cache_data is not None:
                self._cache_data = None
            else:
                self._cache_label = None
            return self._joined(carried, self._take(named, slice(0, self.cursor + bs)))
        if self.last_batch_handle == "pad" and self.cursor + bs > n:
            # the tail, then as many examples from the start as needed (cycling when the
            # batch is more than twice the data)
            filler = np.arange(self.cursor + bs - n) % n
            end = named[0][1].shape[0] if named else 0
            return self._joined(self._take(named, slice(self.cursor, end)),
                                self._take(named, filler))
        return self._take(named, slice(self.cursor, min(self.cursor + bs, n)))

    def getdata(self):
        return self._batchify(self.data)

    def getlabel(self):
        return self._batchify(self.label)

    def getpad(self):
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0

    def _shuffle_data(self):
        # numpy's global RNG, as MXNet: np.random.seed(s) gives MXNet's exact order
        np.random.shuffle(self.idx)
        self.data = [(k, NDArray(v.asnumpy()[self.idx].astype(mx_real_t), v.context))
                     for k, v in self.data]
        self.label = [(k, NDArray(v.asnumpy()[self.idx].astype(mx_real_t), v.context))
                      for k, v in self.label]

