"""``mx.random`` (and ``mx.nd.random``): the seed and MXNet's samplers ``uniform``, ``normal``,
``randn``, ``exponential``, ``gamma``, ``poisson``, ``negative_binomial``,
``generalized_negative_binomial``, ``multinomial``, ``randint``, ``shuffle`` and the ``*_like``
forms.

Each sampler runs a registered operator (``ops/random_ops.py``): numbers as parameters run
``_random_<dist>`` (``shape`` draws, on ``ctx``), NDArrays as parameters run ``_sample_<dist>``
(``shape`` draws per element: the result has shape ``params.shape + shape``), as MXNet's front-end
does. The generator state lives in :mod:`mxteach.random_state` (layer 0), so operators and
initializers draw without importing this front-end; ``seed`` and ``rng`` are re-exported here
because ``mx.random.seed`` is MXNet's public name.
"""
from __future__ import annotations

import numbers

import numpy as np

from .base import MXNetError, MXNetAssertionError
from .ndarray import ndarray as _nd
from .random_state import seed, rng

__all__ = ["seed", "rng", "uniform", "normal", "randn", "exponential", "gamma", "poisson",
           "negative_binomial", "generalized_negative_binomial", "multinomial", "randint",
           "shuffle", "uniform_like", "normal_like", "exponential_like", "gamma_like",
           "poisson_like", "negative_binomial_like", "generalized_negative_binomial_like"]

SAMPLERS = [n for n in __all__ if n not in ("seed", "rng")]


def _run(opname, inputs, params, out=None):
    from .ndarray.invoke import invoke
    from .ops import registry
    return invoke(registry.get(opname), inputs, params, out=out)


def _shape(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _helper(dist, params, shape, dtype, ctx, out, kwargs):
    """MXNet's dispatch: all-NDArray parameters sample per element, all-number parameters draw
    ``shape`` (one value when neither shape nor out is given); a mix is refused."""
    from .ops.random_ops import DISTRIBUTIONS
    names = [n for n, _ in DISTRIBUTIONS[dist][0]]
    extra = {} if dtype is None else {"dtype": dtype}
    if isinstance(params[0], _nd.NDArray):
        if not all(isinstance(v, _nd.NDArray) for v in params[1:]):
            raise MXNetAssertionError(
                f"{dist}: distribution parameters must all have the same type, got "
                f"{[type(v).__name__ for v in params]}")
        if shape is not None:
            extra["shape"] = _shape(shape)
        return _run(f"_sample_{dist}", list(params), dict(kwargs, **extra), out)
    if not all(isinstance(v, numbers.Number) for v in params):
        raise MXNetAssertionError(
            f"{dist}: distribution parameters must be all NDArrays or all numbers, got "
            f"{[type(v).__name__ for v in params]}")
    if shape is None:
        shape = out.shape if out is not None else (1,)
    if ctx is not None:
        extra["ctx"] = str(ctx)
    return _run(f"_random_{dist}", [], dict(kwargs, shape=_shape(shape),
                                             **dict(zip(names, params)), **extra), out)


def uniform(low=0.0, high=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Draws from U[low, high). See notebook 01."""
    return _helper("uniform", [low, high], shape, dtype, ctx, out, kwargs)


def normal(loc=0.0, scale=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Draws from N(loc, scale**2). See notebook 01."""
    return _helper("normal", [loc, scale], shape, dtype, ctx, out, kwargs)


def randn(*shape, loc=0.0, scale=1.0, dtype=None, ctx=None, out=None, **kwargs):
    """Normal draws of shape ``shape`` given as separate ints (``randn(2, 3)``)."""
    return _helper("normal", [loc, scale], shape or None, dtype, ctx, out, kwargs)


def exponential(scale=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Exponential draws with mean ``scale`` (the operators take the rate 1 / scale)."""
    lam = 1.0 / scale
    return _helper("exponential", [lam], shape, dtype, ctx, out, kwargs)


def gamma(alpha=1.0, beta=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Gamma draws with shape ``alpha`` and scale ``beta`` (mean alpha * beta)."""
    return _helper("gamma", [alpha, beta], shape, dtype, ctx, out, kwargs)


def poisson(lam=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Poisson draws with rate ``lam`` (as floats)."""
    return _helper("poisson", [lam], shape, dtype, ctx, out, kwargs)


def negative_binomial(k=1, p=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Failures before the ``k``-th success of trials succeeding with probability ``p``."""
    return _helper("negative_binomial", [k, p], shape, dtype, ctx, out, kwargs)


def generalized_negative_binomial(mu=1.0, alpha=1.0, shape=None, dtype=None, ctx=None,
                                  out=None, **kwargs):
    """Counts with mean ``mu`` and variance ``mu + alpha * mu**2`` (alpha=0: Poisson)."""
    return _helper("generalized_negative_binomial", [mu, alpha], shape, dtype, ctx, out, kwargs)


def multinomial(data, shape=None, get_prob=False, out=None, dtype="int32", **kwargs):
    """Category draws from the distributions along the last axis of ``data``; ``get_prob``
    also returns their log-probabilities (differentiable: REINFORCE)."""
    params = dict(kwargs, get_prob=get_prob, dtype=dtype)
    if shape is not None:
        params["shape"] = _shape(shape)
    return _run("_sample_multinomial", [data], params, out)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Integers uniform in [low, high) (int32 unless ``dtype`` says int64)."""
    if shape is None:
        shape = out.shape if out is not None else (1,)
    params = dict(kwargs, low=low, high=high, shape=_shape(shape))
    if dtype is not None:
        params["dtype"] = np.dtype(dtype).name
    if ctx is not None:
        params["ctx"] = str(ctx)
    return _run("_random_randint", [], params, out)


def shuffle(data, **kwargs):
    """``data`` with its first axis randomly permuted (a new array)."""
    out = kwargs.pop("out", None)
    return _run("_shuffle", [data], kwargs, out)


def _like(dist):
    def sampler(data=None, out=None, **params):
        if data is None:
            raise MXNetError(f"{dist}_like needs the array to copy the shape of ('data')")
        return _run(f"_random_{dist}_like", [data], params, out)
    sampler.__name__ = f"{dist}_like"
    sampler.__doc__ = f"{dist} draws shaped and typed like ``data``."
    return sampler


# one line per name (not a loop) so the names are visible to readers and linters; the
# same list as in mxteach/symbol/random.py (the Symbol front-end)
uniform_like = _like("uniform")
normal_like = _like("normal")
exponential_like = _like("exponential")
gamma_like = _like("gamma")
poisson_like = _like("poisson")
negative_binomial_like = _like("negative_binomial")
generalized_negative_binomial_like = _like("generalized_negative_binomial")
