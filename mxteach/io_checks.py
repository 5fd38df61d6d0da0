"""Argument checks of ``mx.io``: shapes of data descriptions and NDArrayIter's inputs.

Bad input fails at construction or bind with MXNetError naming the argument, never with a
bare StopIteration, numpy error or TypeError from deep inside (issue 9). See notebook 03.
"""
from __future__ import annotations

import numpy as np

from .base import MXNetError

__all__ = ["IOError_", "IOTypeError", "check_bind_shapes", "check_iter_lengths"]


class IOError_(MXNetError, ValueError):
    """A bad argument to an iterator or a data description (MXNet raises ValueError or
    TypeError from deep inside for most of these; mxteach names the argument up front)."""


class IOTypeError(MXNetError, TypeError):
    """An argument of the wrong type, such as a float ``batch_size`` (MXNet: TypeError)."""


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_shape(name, shape):
    """``shape`` as a tuple of non-negative ints, or IOError_ naming the input."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise IOError_(f"DataDesc '{name}': shape must be a tuple of ints, got "
                       f"{type(shape).__name__} {shape!r}")
    bad = [d for d in shape if not _is_int(d)]
    if bad:
        raise IOError_(f"DataDesc '{name}': shape {tuple(shape)} holds {bad[0]!r} "
                       f"({type(bad[0]).__name__}); every dimension must be an int")
    if any(d < 0 for d in shape):
        raise IOError_(f"DataDesc '{name}': shape {tuple(shape)} has a negative dimension")
    return tuple(int(d) for d in shape)


def check_bind_shapes(descs, kind):
    """Raise IOError_ when a shape given to ``bind`` has a zero dimension.

    A zero-size input would bind executors that compute nothing (MXNet fails later, with an
    error about slices or ``simple_bind``); mxteach says which input and which axis.
    """
    for desc in descs or ():
        name, shape = desc[0], desc[1]
        shape = _check_shape(name, shape)
        if 0 in shape:
            raise IOError_(f"bind: {kind} '{name}' has shape {shape}, with a zero dimension at "
                           f"axis {shape.index(0)}; every dimension must be at least 1")


def check_iter_lengths(data, label, axis, layout, batch_size, last_batch_handle):
    """Every array holds the same number of examples, and at least one full batch when
    incomplete batches are dropped. MXNet silently yields batches whose labels run short
    (or no batch at all); both train on the wrong data without a word."""
    lengths = []
    for kind, named in (("data", data), ("label", label)):
        for key, arr in named:
            if arr.ndim == 0 or arr.ndim <= axis:
                raise IOError_(f"NDArrayIter: {kind} {key!r} has shape {arr.shape}, which "
                               f"has no batch axis {axis} (layout {layout!r})")
            lengths.append((kind, key, arr.shape[axis]))
    n = lengths[0][2]
    for kind, key, m in lengths[1:]:
        if m != n:
            raise IOError_(f"NDArrayIter: {kind} {key!r} has {m} examples but "
                           f"{lengths[0][0]} {lengths[0][1]!r} has {n}; data and labels "
                           f"must have the same length along the batch axis")
    if n == 0:
        raise IOError_(f"NDArrayIter: {lengths[0][0]} {lengths[0][1]!r} holds no examples "
                       f"(shape {data[0][1].shape}); an empty iterator yields no batch")
    if last_batch_handle == "discard" and n < batch_size:
        raise IOError_(f"NDArrayIter: {n} examples are fewer than one batch of "
                       f"{batch_size}; with last_batch_handle='discard' no batch would "
                       f"ever be produced (use a batch_size <= {n} or 'pad')")
