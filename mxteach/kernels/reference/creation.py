"""numpy twins of ``kernels/cpu/creation.py`` (ramps, identity bands, the finiteness flag).
The tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["ramp", "eye", "all_finite"]


def ramp(start, step, repeat, out):
    """``out[i] = start + (i // repeat) * step``, computed in float64, cast to out's dtype."""
    i = np.arange(out.size) // repeat
    out[...] = (start + i * step).astype(out.dtype)


def eye(k, out):
    """Ones on diagonal ``k`` of the 2-D ``out`` (above the main one for k > 0), zeros
    elsewhere."""
    rows, cols = np.indices(out.shape)
    out[...] = (cols - rows == k).astype(out.dtype)


def all_finite(x, out):
    """``out[0] = 0`` when ``x`` holds an inf or a NaN (else ``out`` is left as it is)."""
    if not np.isfinite(x).all():
        out[0] = 0
