"""Numba CPU kernels for the shape/indexing family (``ops/shape.py``): take (gather and its
scatter-add gradient), one_hot and SequenceMask. Pure views and copies (reshape, transpose,
concat, slicing) stay in numpy in the operators.

Arrays are seen as 3-D ``(pre, n, post)`` with the indexed axis in the middle. Index arrays may be
float (MXNet's default dtype): a value is truncated toward zero, as MXNet's integer cast does.
Every kernel has a numpy twin with the same name and signature in
``kernels/reference/shape.py``. Backward kernels take ``accumulate`` (False: 'write', True:
'add'). Set ``NUMBA_DISABLE_JIT=1`` to step through them as plain Python.
"""
from __future__ import annotations

from numba import njit

__all__ = ["TAKE_MODES", "take_indices", "take_forward", "take_backward", "one_hot_fill",
           "sequence_mask"]

TAKE_MODES = {"clip": 0, "wrap": 1, "raise": 2}


@njit(cache=True)
def take_indices(raw, n, mode, out):
    """Turn ``raw`` indices into positions in ``[0, n)`` (``out``, int64).

    mode 0 clips, 1 wraps around (Python-style modulo), 2 leaves them and reports: the return
    value is the flat position of the first index outside ``[0, n)``, or -1.
    """
    bad = -1
    for i in range(raw.size):
        j = int(raw[i])
        if mode == 0:
            j = 0 if j < 0 else (n - 1 if j >= n else j)
        elif mode == 1:
            j = j % n
        elif (j < 0 or j >= n) and bad < 0:
            bad = i
        out[i] = j
    return bad


@njit(cache=True)
def take_forward(a, idx, out):
    """``out[i, m, k] = a[i, idx[m], k]``: ``a`` is (pre, n, post), ``out`` (pre, m, post)."""
    pre, _, post = a.shape
    for i in range(pre):
        for m in range(idx.size):
            src = idx[m]
            for k in range(post):
                out[i, m, k] = a[i, src, k]


@njit(cache=True)
def take_backward(ograd, idx, accumulate, agrad):
    """Scatter-add: ``agrad[i, idx[m], k] += ograd[i, m, k]`` (repeated indices add up)."""
    pre, n, post = agrad.shape
    if not accumulate:
        for i in range(pre):
            for j in range(n):
                for k in range(post):
                    agrad[i, j, k] = 0.0
    for i in range(pre):
        for m in range(idx.size):
            dst = idx[m]
            for k in range(post):
                agrad[i, dst, k] += ograd[i, m, k]


@njit(cache=True)
def one_hot_fill(indices, on_value, off_value, out):
    """``out`` (len(indices), depth): ``on_value`` at ``int(indices[i])`` when it lies in
    ``[0, depth)``, ``off_value`` everywhere else (out-of-range rows are all off)."""
    depth = out.shape[1]
    for i in range(indices.size):
        hot = int(indices[i])
        for c in range(depth):
            out[i, c] = on_value if c == hot else off_value


@njit(cache=True)
def sequence_mask(x, lengths, value, batch_major, accumulate, out):
    """Copy ``x`` (time, batch, rest), or (batch, time, rest) with ``batch_major``, to ``out``,
    putting ``value`` at every time step ``t >= int(lengths[b])``.

    With ``accumulate`` the kept steps are added to ``out`` and masked ones left alone (the
    gradient of a mask is 0 there).
    """
    d0, d1, rest = x.shape
    for a in range(d0):
        for b in range(d1):
            t, batch = (b, a) if batch_major else (a, b)
            keep = t < int(lengths[batch])
            for k in range(rest):
                if accumulate:
                    if keep:
                        out[a, b, k] += x[a, b, k]
                else:
                    out[a, b, k] = x[a, b, k] if keep else value
