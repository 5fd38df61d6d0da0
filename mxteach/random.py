"""The random state shared by ``mx.random``, ``mx.nd.random``, initializers and Dropout."""
from __future__ import annotations

import numpy as np

_state = {"rng": np.random.RandomState(0)}


def seed(seed_state, ctx="all"):
    """Seed every random source (``ctx`` is accepted for MXNet compatibility: one stream here)."""
    _state["rng"] = np.random.RandomState(int(seed_state) % (2 ** 32))


def rng() -> np.random.RandomState:
    return _state["rng"]


def _sample(name, draw, a, b, shape, dtype, ctx, out):
    """MXNet's random front-end: scalar parameters draw ``shape``; NDArray parameters draw
    ``shape`` per element, giving ``a.shape + shape``."""
    from .base import MXNetError
    from .ndarray import ndarray as _nd
    if np.dtype(dtype or "float32").name not in ("float16", "float32", "float64"):
        raise MXNetError(f"{name}: dtype must be float16, float32 or float64, got {dtype}")
    if isinstance(a, _nd.NDArray) or isinstance(b, _nd.NDArray):
        pa = np.asarray(a.asnumpy() if isinstance(a, _nd.NDArray) else a, dtype=np.float64)
        pb = np.asarray(b.asnumpy() if isinstance(b, _nd.NDArray) else b, dtype=np.float64)
        extra = () if shape is None else _nd._shape(shape)
        full = pa.shape + extra
        expand = (Ellipsis,) + (None,) * len(extra)
        ctx = ctx or (a.context if isinstance(a, _nd.NDArray) else b.context)
        return _nd._fill_random(lambda s: draw(pa[expand], pb[expand], full), full, dtype,
                                ctx, out)
    return _nd._fill_random(lambda s: draw(a, b, s), (1,) if shape is None else shape, dtype,
                            ctx, out)


def uniform(low=0.0, high=1.0, shape=None, dtype="float32", ctx=None, out=None, **kwargs):
    from .base import MXNetError
    if np.any(np.asarray(getattr(low, "_data", low)) > np.asarray(getattr(high, "_data", high))):
        raise MXNetError(f"uniform: low must be <= high, got low={low}, high={high}")
    return _sample("uniform", rng().uniform, low, high, shape, dtype, ctx, out)


def normal(loc=0.0, scale=1.0, shape=None, dtype="float32", ctx=None, out=None, **kwargs):
    from .base import MXNetError
    if np.any(np.asarray(getattr(scale, "_data", scale)) <= 0):
        raise MXNetError(f"normal: scale must be positive, got {scale}")
    return _sample("normal", rng().normal, loc, scale, shape, dtype, ctx, out)


def randint(low, high, shape=(1,), dtype="int32", ctx=None, out=None, **kwargs):
    from .ndarray import ndarray as _nd
    return _nd._fill_random(lambda s: rng().randint(low, high, s), shape, dtype, ctx, out)


def shuffle(data, **kwargs):
    from .ndarray import ndarray as _nd
    idx = rng().permutation(data.shape[0])
    return _nd.NDArray(data.asnumpy()[idx], data.context)
