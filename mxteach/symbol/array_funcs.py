"""``mx.sym`` functions that MXNet 1.9.1 writes in Python over an operator: ``split_v2``
(over ``_split_v2``) and ``histogram`` (``_histogram``); the operators live in
``mxteach/ops/im2col.py`` and ``mxteach/ops/index_extra.py``.
"""
from __future__ import annotations

from . import frontend as _frontend
from .symbol import Symbol

__all__ = ["split_v2", "histogram"]


def split_v2(ary, indices_or_sections, axis=0, squeeze_axis=False):
    """Split ``ary`` along ``axis`` into ``indices_or_sections`` equal pieces (an int, checked
    when shapes are known) or at the sorted positions of a tuple. See notebook 01."""
    if isinstance(indices_or_sections, int):
        params = {"indices": (), "sections": indices_or_sections}
    elif isinstance(indices_or_sections, tuple):
        params = {"indices": (0,) + tuple(indices_or_sections), "sections": 0}
    else:
        raise ValueError("indices_or_sections must either int or tuple of ints")
    return _frontend.call("_split_v2", [ary], dict(params, axis=axis,
                                                  squeeze_axis=squeeze_axis))


def histogram(a, bins=10, range=None, **kwargs):  # noqa: A002 - MXNet's parameter name
    """Counts and edges of ``a`` in ``bins`` equal bins over ``range`` (required here, as in
    MXNet's symbol mode) or between the edges of a Symbol ``bins``. See notebook 01."""
    if isinstance(bins, Symbol):
        return _frontend.call("_histogram", [a, bins], kwargs)
    if isinstance(bins, int):
        if range is None:
            raise ValueError("null range is not supported in symbol mode")
        return _frontend.call("_histogram", [a], dict(kwargs, bin_cnt=bins, range=range))
    raise ValueError("bins argument should be either an integer or an NDArray")
