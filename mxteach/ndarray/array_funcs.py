"""``mx.nd`` functions that MXNet 1.9.1 writes in Python over an operator: ``split_v2``
(over ``_split_v2``), ``histogram`` (``_histogram``), ``onehot_encode`` (``_onehot_encode``)
and ``from_numpy``. The operators live in ``mxteach/ops/im2col.py`` and
``mxteach/ops/index_extra.py``.
"""
from __future__ import annotations

import numpy as np

from ..ops import registry as _registry
from .invoke import invoke
from .ndarray import NDArray, array

__all__ = ["split_v2", "histogram", "onehot_encode", "from_numpy"]

# the dtypes MXNet's zero-copy (DLPack) conversion accepts
_DLPACK_DTYPES = ("int32", "int64", "bool", "uint8", "uint32", "uint64", "float16", "float32",
                  "float64")


def split_v2(ary, indices_or_sections, axis=0, squeeze_axis=False):
    """Split ``ary`` along ``axis`` into ``indices_or_sections`` equal pieces (an int), or at
    the sorted positions of a tuple (``(2, 3)``: ``ary[:2]``, ``ary[2:3]``, ``ary[3:]``);
    ``squeeze_axis`` drops the axis from pieces of size 1. See notebook 01."""
    if isinstance(indices_or_sections, int):
        n = ary.shape[axis]
        if n % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
        size = n // indices_or_sections
        indices = tuple(k * size for k in range(indices_or_sections))
    elif isinstance(indices_or_sections, tuple):
        indices = (0,) + tuple(indices_or_sections)
    else:
        raise ValueError("indices_or_sections must either int or tuple of ints")
    return invoke(_registry.get("_split_v2"), [ary],
                  {"indices": indices, "axis": axis, "squeeze_axis": squeeze_axis})


def histogram(a, bins=10, range=None):  # noqa: A002 - MXNet's (and numpy's) parameter name
    """Counts of the flattened ``a`` per bin and the bin edges: ``bins`` equal bins over
    ``range``, or the edges in an NDArray ``bins``. Without a range, MXNet hands the data to
    numpy.histogram and returns float32 arrays; so does this. See notebook 01."""
    if isinstance(bins, NDArray):
        return invoke(_registry.get("_histogram"), [a, bins], {})
    if isinstance(bins, (int, np.integer)):
        if range is None:
            counts, edges = np.histogram(a.asnumpy(), bins=bins)
            return array(counts, ctx=a.context), array(edges, ctx=a.context)
        return invoke(_registry.get("_histogram"), [a], {"bin_cnt": bins, "range": range})
    raise ValueError("bins argument should be either an integer or an NDArray")


def onehot_encode(indices, out):
    """Write the one-hot rows of ``indices`` into ``out`` (2-D) and return it; deprecated in
    MXNet for ``one_hot``. See notebook 01."""
    return invoke(_registry.get("_onehot_encode"), [indices, out], {}, out=out)


def from_numpy(ndarray, zero_copy=True, array_cls=NDArray):
    """An NDArray backed by the numpy array ``ndarray``. With ``zero_copy`` (C-contiguous
    arrays only) the memory is shared and, as in MXNet, the numpy array is made read-only: the
    NDArray owns the data from now on. Without it, a copy. See notebook 01."""
    if not zero_copy:
        return array(ndarray, dtype=ndarray.dtype)
    if not ndarray.flags["C_CONTIGUOUS"]:
        raise ValueError("Only c-contiguous arrays are supported for zero-copy")
    if str(ndarray.dtype) not in _DLPACK_DTYPES:
        raise ValueError(str(ndarray.dtype) + " is not supported.")
    shared = ndarray.view()          # taken before the flag: the NDArray may still write
    ndarray.flags["WRITEABLE"] = False
    return array_cls(shared)
