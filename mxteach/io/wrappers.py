"""Iterators that wrap others: :class:`ResizeIter` (a fixed number of batches per epoch) and
:class:`PrefetchingIter` (several iterators side by side, data renamed).

See notebook 03.
"""
from __future__ import annotations

from ..base import MXNetError
from .base import DataDesc, DataBatch, DataIter


class _CurrentBatchIter(DataIter):
    """An iterator whose ``iter_next`` stores the batch in ``current_batch``: the getters read
    it."""

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad


class ResizeIter(_CurrentBatchIter):
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


def _renamed(descs, mapping):
    # like MXNet, a renamed desc keeps name, shape and dtype; its layout returns to the default
    return [DataDesc(mapping[d.name], d.shape, d.dtype) if isinstance(d, DataDesc)
            else DataDesc(*d) for d in descs]


class PrefetchingIter(_CurrentBatchIter):
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
