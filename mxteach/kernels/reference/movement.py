"""numpy twins of ``kernels/cpu/movement.py``: the gather through an index map and its
scatter-add gradient. The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["gather", "scatter_add"]


def gather(src, index, fill, out):
    """``out[i] = src[index[i]]``, or ``fill`` where ``index[i] < 0`` (all 1-D)."""
    out[...] = np.where(index >= 0, src[np.maximum(index, 0)], fill).astype(out.dtype)


def scatter_add(grad, index, accumulate, dst):
    """``dst[index[i]] += grad[i]`` for ``index[i] >= 0`` (``dst`` zeroed first unless
    ``accumulate``)."""
    if not accumulate:
        dst[...] = 0
    keep = index >= 0
    np.add.at(dst, index[keep], grad[keep])
