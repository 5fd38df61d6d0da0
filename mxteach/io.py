"""``mx.io``: data descriptions, batches and the Python data iterators of MXNet 1.9.

A Module never sees a dataset, only a :class:`DataIter`: something that hands out
:class:`DataBatch` objects of ``batch_size`` examples and describes, through ``provide_data``
and ``provide_label``, the names and shapes it will hand out (that is what ``bind`` needs).

The one iterator students use most is :class:`NDArrayIter`. Its last-batch rules
(``'pad'``, ``'discard'``, ``'roll_over'``) and its shuffling follow MXNet 1.9.1 batch for batch,
including the quirks listed in :class:`NDArrayIter`'s notes. See notebook 03.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .base import MXNetAssertionError, MXNetError, mx_real_t
from .ndarray.ndarray import NDArray
from .io_checks import (IOError_, IOTypeError, _check_shape, _is_int,  # noqa: F401
                        check_bind_shapes, check_iter_lengths)

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "ResizeIter", "PrefetchingIter",
           "IOError_", "IOTypeError", "check_bind_shapes"]


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """The name and shape of one input, plus its dtype and layout.

    A ``DataDesc`` *is* a ``(name, shape)`` tuple, so ``dict(it.provide_data)`` and
    ``name, shape = desc`` work; ``dtype`` and ``layout`` ride along as attributes and are not
    part of the tuple (two descs with different dtypes compare equal).

    Parameters
    ----------
    name : str
        The input's name, matching a symbol argument (``'data'``, ``'softmax_label'``).
    shape : tuple of int
        The shape of one batch of this input.
    dtype : numpy dtype, optional
        Element type, float32 by default.
    layout : str, optional
        What each axis means, e.g. ``'NCHW'`` or ``'NTC'``; ``'N'`` marks the batch axis.

    Examples
    --------
    >>> d = DataDesc('data', (32, 3, 28, 28))
    >>> d.name, d.shape, DataDesc.get_batch_axis('TNC')
    ('data', (32, 3, 28, 28), 1)

    See notebook 03.
    """

    def __new__(cls, name, shape, dtype=mx_real_t, layout="NCHW"):
        # non-integer or negative dimensions fail here, not deep inside bind
        desc = super().__new__(cls, name, _check_shape(name, shape))
        desc.dtype = dtype
        desc.layout = layout
        return desc

    def __repr__(self):
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"

    def __getnewargs__(self):
        return (self.name, self.shape, self.dtype, self.layout)

    @staticmethod
    def get_batch_axis(layout):
        """The axis that holds the examples: where ``'N'`` is in ``layout`` (0 if None).

        Data parallelism splits batches along this axis; -1 (no ``'N'``) means "copy whole".
        """
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes, types):
        """``DataDesc`` objects from ``[(name, shape), ...]`` and optional ``[(name, dtype)]``."""
        if types is None:
            return [DataDesc(name, shape) for name, shape in shapes]
        type_of = dict(types)
        return [DataDesc(name, shape, type_of[name]) for name, shape in shapes]


class DataBatch:
    """One batch: lists of data and label arrays plus bookkeeping.

    Parameters
    ----------
    data : list of NDArray
        One array per data input, each holding ``batch_size`` examples.
    label : list of NDArray, optional
        One array per label input.
    pad : int, optional
        How many examples at the end are filler (repeated from the start of the data);
        ``predict`` drops them; ``score`` counts them (as MXNet does).
    index : numpy.ndarray, optional
        The example indices in this batch, when the iterator knows them.
    bucket_key : hashable, optional
        Which bucket this batch belongs to (BucketingModule).
    provide_data, provide_label : list of DataDesc, optional
        Shapes of this batch, when they differ from the iterator's (bucketing).

    See notebook 03.
    """

    def __init__(self, data, label=None, pad=None, index=None, bucket_key=None,
                 provide_data=None, provide_label=None):
        for what, value in (("data", data), ("label", label)):
            if value is not None and not isinstance(value, (list, tuple)):
                raise MXNetAssertionError(f"DataBatch {what} must be a list of NDArrays, got "
                                          f"{type(value).__name__}; wrap a single array as "
                                          f"[{what}]")
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        data_shapes = [d.shape for d in self.data]
        label_shapes = [lab.shape for lab in self.label] if self.label else None
        return (f"{type(self).__name__}: data shapes: {data_shapes} "
                f"label shapes: {label_shapes}")


class DataIter:
    """Base class of data iterators: a Python iterator of :class:`DataBatch`.

    A subclass either overrides :meth:`next`, or overrides :meth:`iter_next` (advance; say
    whether there is a batch) together with :meth:`getdata`, :meth:`getlabel`, :meth:`getpad`
    and :meth:`getindex`, which the default :meth:`next` assembles into a batch. It should also
    set ``provide_data``/``provide_label`` (lists of :class:`DataDesc`) for ``Module.bind``.
    The base class itself is an empty iterator.

    Parameters
    ----------
    batch_size : int, optional
        Examples per batch.

    See notebook 03.
    """

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def _described(self, attr):
        try:
            return self.__dict__["_" + attr]
        except KeyError:
            # an AttributeError, so hasattr() still answers False for iterators without it
            raise AttributeError(f"{type(self).__name__} has no {attr}: set self.{attr} = "
                                 "[DataDesc(name, shape), ...] in __init__ (Module.bind reads "
                                 "it) or define it as a property") from None

    @property
    def provide_data(self):
        """``[DataDesc]`` of the data this iterator yields (set by subclasses)."""
        return self._described("provide_data")

    @provide_data.setter
    def provide_data(self, descs):
        self._provide_data = descs

    @property
    def provide_label(self):
        """``[DataDesc]`` of the labels this iterator yields (set by subclasses)."""
        return self._described("provide_label")

    @provide_label.setter
    def provide_label(self, descs):
        self._provide_label = descs

    def reset(self):
        """Go back to the start of the data (the base iterator has nothing to rewind)."""

    def next(self):
        """The next :class:`DataBatch`; raises ``StopIteration`` at the end of the data."""
        if not self.iter_next():
            raise StopIteration
        return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                         index=self.getindex())

    def __next__(self):
        return self.next()

    def iter_next(self):
        """Advance to the next batch; return whether there was one (never, in the base)."""
        return False

    def getdata(self):
        """The current batch's data arrays (None in the base class, as in MXNet)."""
        return None

    def getlabel(self):
        """The current batch's label arrays (None in the base class, as in MXNet)."""
        return None

    def getindex(self):
        """The current batch's example indices, or None when unknown."""
        return None

    def getpad(self):
        """How many examples at the end of the current batch are padding.

        MXNet's base class returns None here; 0 is returned so that ``predict`` works on
        subclasses that never pad and forget to override this.
        """
        return 0


# -- NDArrayIter ------------------------------------------------------------------------------
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


# -- wrappers ---------------------------------------------------------------------------------
class ResizeIter(DataIter):
    """Make an iterator yield exactly ``size`` batches per epoch.

    Shorter iterators are restarted (``reset``) when they run out; longer ones are cut.

    Parameters
    ----------
    data_iter : DataIter
        The iterator to resize.
    size : int
        Batches per epoch.
    reset_internal : bool
        Whether ``reset()`` also rewinds ``data_iter`` (otherwise the next epoch continues
        where this one stopped).

    See notebook 03.
    """

    def __init__(self, data_iter, size, reset_internal=True):
        super().__init__()
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self):
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self):
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad


def _renamed(descs, mapping):
    # like MXNet, a renamed desc keeps name, shape and dtype; its layout returns to the default
    return [DataDesc(mapping[d.name], d.shape, d.dtype) if isinstance(d, DataDesc)
            else DataDesc(*d) for d in descs]


class PrefetchingIter(DataIter):
    """Read one batch ahead from one or more iterators and join their batches.

    MXNet reads ahead in background threads; here the read-ahead happens synchronously right
    after each batch is taken, which leaves the wrapped iterators in the same state (one batch
    ahead) without threads. With several iterators, each batch concatenates their data lists
    and label lists, in order.

    Parameters
    ----------
    iters : DataIter or list of DataIter
        The iterators; they must yield the same number of batches with the same padding.
    rename_data : list of dict, optional
        For iterator ``i``, ``{old_name: new_name}`` for every entry of its ``provide_data``.
    rename_label : list of dict, optional
        The same for labels.

    See notebook 03.
    """

    def __init__(self, iters, rename_data=None, rename_label=None):
        super().__init__()
        if not isinstance(iters, list):
            iters = [iters]
        if not iters:
            raise MXNetError("PrefetchingIter needs at least one iterator")
        self.iters = iters
        self.n_iter = len(iters)
        self.rename_data = rename_data
        self.rename_label = rename_label
        self.batch_size = self.provide_data[0][1][0]
        self.current_batch = None
        self.next_batch = [None] * self.n_iter
        self._prefetch()

    def _prefetch(self):
        for i, it in enumerate(self.iters):
            try:
                self.next_batch[i] = it.next()
            except StopIteration:
                self.next_batch[i] = None

    @property
    def provide_data(self):
        if self.rename_data is None:
            return sum((list(it.provide_data) for it in self.iters), [])
        return sum((_renamed(it.provide_data, r) for r, it in zip(self.rename_data, self.iters)),
                   [])

    @property
    def provide_label(self):
        if self.rename_label is None:
            return sum((list(it.provide_label) for it in self.iters), [])
        return sum((_renamed(it.provide_label, r)
                    for r, it in zip(self.rename_label, self.iters)), [])

    def reset(self):
        for it in self.iters:
            it.reset()
        self._prefetch()

    def iter_next(self):
        batches = self.next_batch
        if batches[0] is None:
            if any(b is not None for b in batches):
                raise MXNetError("PrefetchingIter: iterator 0 ended but others still have "
                                 "batches; the iterators must yield the same number of batches")
            return False
        for i, b in enumerate(batches):
            if b is None or b.pad != batches[0].pad:
                raise MXNetError(f"PrefetchingIter: iterator {i} is out of step with iterator 0"
                                 f" (pad {None if b is None else b.pad} vs {batches[0].pad})")
        self.current_batch = DataBatch(sum((list(b.data) for b in batches), []),
                                       sum((list(b.label or []) for b in batches), []),
                                       batches[0].pad, batches[0].index,
                                       provide_data=self.provide_data,
                                       provide_label=self.provide_label)
        self._prefetch()
        return True

    def next(self):
        if not self.iter_next():
            raise StopIteration
        return self.current_batch

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad
