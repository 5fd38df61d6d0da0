"""``mx.random``: the seed and the samplers ``uniform``, ``normal``, ``randint``, ``shuffle``.

The generator state lives in :mod:`mxteach.random_state` (layer 0), so operators and
initializers draw without importing this front-end; ``seed`` and ``rng`` are re-exported here
because ``mx.random.seed`` is MXNet's public name.
"""
from __future__ import annotations

import numbers

import numpy as np

from .base import MXNetError
from .ndarray import ndarray as _nd
from .random_state import seed, rng

__all__ = ["seed", "uniform", "normal", "randint", "shuffle"]


def _shape(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _values(x):
    return np.asarray(x.asnumpy() if isinstance(x, _nd.NDArray) else x)


def _fill(draw, shape, dtype, ctx, out):
    """Every sampler's last step: ``draw(shape)`` into ``out`` in place, or into a new NDArray
    (float32 unless ``dtype`` says otherwise, on ``ctx`` or the current context)."""
    if out is not None:
        out[:] = draw(out.shape)
        return out
    return _nd.array(np.asarray(draw(_shape(shape))), ctx=ctx, dtype=dtype)


def _sample(name, draw, a, b, shape, dtype, ctx, out):
    """MXNet's random front-end: scalar parameters draw ``shape``; NDArray parameters draw
    ``shape`` per element, giving ``a.shape + shape``."""
    if np.dtype(dtype or "float32").name not in ("float16", "float32", "float64"):
        raise MXNetError(f"{name}: dtype must be float16, float32 or float64, got {dtype}")
    if isinstance(a, _nd.NDArray) or isinstance(b, _nd.NDArray):
        pa = np.asarray(a.asnumpy() if isinstance(a, _nd.NDArray) else a, dtype=np.float64)
        pb = np.asarray(b.asnumpy() if isinstance(b, _nd.NDArray) else b, dtype=np.float64)
        extra = () if shape is None else _shape(shape)
        full = pa.shape + extra
        expand = (Ellipsis,) + (None,) * len(extra)
        ctx = ctx or (a.context if isinstance(a, _nd.NDArray) else b.context)
        return _fill(lambda s: draw(pa[expand], pb[expand], full), full, dtype, ctx, out)
    return _fill(lambda s: draw(a, b, s), (1,) if shape is None else shape, dtype, ctx, out)


def uniform(low=0.0, high=1.0, shape=None, dtype="float32", ctx=None, out=None, **kwargs):
    if np.any(_values(low) > _values(high)):
        raise MXNetError(f"uniform: low must be <= high, got low={low}, high={high}")
    return _sample("uniform", rng().uniform, low, high, shape, dtype, ctx, out)


def normal(loc=0.0, scale=1.0, shape=None, dtype="float32", ctx=None, out=None, **kwargs):
    if np.any(_values(scale) <= 0):
        raise MXNetError(f"normal: scale must be positive, got {scale}")
    return _sample("normal", rng().normal, loc, scale, shape, dtype, ctx, out)


def randint(low, high, shape=(1,), dtype="int32", ctx=None, out=None, **kwargs):
    return _fill(lambda s: rng().randint(low, high, s), shape, dtype, ctx, out)


def shuffle(data, **kwargs):
    idx = rng().permutation(data.shape[0])
    return _nd.NDArray(data.asnumpy()[idx], data.context)
