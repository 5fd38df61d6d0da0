"""What every data iterator shares: :class:`DataDesc` (a name, a shape, a dtype and a layout),
:class:`DataBatch` (one batch of data and labels) and the :class:`DataIter` protocol.

See notebook 03.
"""
from __future__ import annotations

from collections import namedtuple

from ..base import MXNetAssertionError, mx_real_t
from ..io_checks import _check_shape


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

