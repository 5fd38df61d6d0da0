"""``mx.io``: data descriptions, batches and the Python data iterators of MXNet 1.9.

A Module never sees a dataset, only a :class:`DataIter`: something that hands out
:class:`DataBatch` objects of ``batch_size`` examples and describes, through ``provide_data``
and ``provide_label``, the names and shapes it will hand out (that is what ``bind`` needs).

The one iterator students use most is :class:`NDArrayIter`. Its last-batch rules
(``'pad'``, ``'discard'``, ``'roll_over'``) and its shuffling follow MXNet 1.9.1 batch for batch,
including the quirks listed in :class:`NDArrayIter`'s notes. See notebook 03.
"""
from ..io_checks import IOError_, IOTypeError, check_bind_shapes
from .base import DataDesc, DataBatch, DataIter
from .ndarray_iter import NDArrayIter
from .wrappers import ResizeIter, PrefetchingIter
from .image_record import ImageRecordIter
from .mx_data_iter import MXDataIter
from .mnist import MNISTIter
from .csv_iter import CSVIter
from .libsvm import LibSVMIter

__all__ = ["DataDesc", "DataBatch", "DataIter", "NDArrayIter", "ResizeIter", "PrefetchingIter",
           "IOError_", "IOTypeError", "check_bind_shapes",
           "ImageRecordIter", "MXDataIter", "MNISTIter", "CSVIter", "LibSVMIter"]
