"""The random state shared by ``mx.random``, ``mx.nd.random``, initializers and Dropout."""
from __future__ import annotations

import numpy as np

_state = {"rng": np.random.RandomState(0)}


def seed(seed_state, ctx="all"):
    """Seed every random source (``ctx`` is accepted for MXNet compatibility: one stream here)."""
    _state["rng"] = np.random.RandomState(int(seed_state) % (2 ** 32))


def rng() -> np.random.RandomState:
    return _state["rng"]


def uniform(low=0.0, high=1.0, shape=(1,), dtype="float32", ctx=None, out=None, **kwargs):
    from .ndarray import ndarray as _nd
    return _nd._fill_random(lambda s: rng().uniform(low, high, s), shape, dtype, ctx, out)


def normal(loc=0.0, scale=1.0, shape=(1,), dtype="float32", ctx=None, out=None, **kwargs):
    from .ndarray import ndarray as _nd
    return _nd._fill_random(lambda s: rng().normal(loc, scale, s), shape, dtype, ctx, out)


def randint(low, high, shape=(1,), dtype="int32", ctx=None, out=None, **kwargs):
    from .ndarray import ndarray as _nd
    return _nd._fill_random(lambda s: rng().randint(low, high, s), shape, dtype, ctx, out)


def shuffle(data, **kwargs):
    from .ndarray import ndarray as _nd
    idx = rng().permutation(data.shape[0])
    return _nd.NDArray(data.asnumpy()[idx], data.context)
