"""``mx.sym.random``: MXNet's samplers as graph nodes — ``uniform``, ``normal``, ``randn``,
``exponential``, ``gamma``, ``poisson``, ``negative_binomial``,
``generalized_negative_binomial``, ``multinomial``, ``randint``, ``shuffle`` and the ``*_like``
forms (operators of ``ops/random_ops.py``).

Numbers as parameters make a ``_random_<dist>`` node (``shape`` draws; an omitted shape is
inferred from the consumer), Symbols as parameters a ``_sample_<dist>`` node (draws per
element), as MXNet's ``mx.sym.random`` does. The draws are new at every forward pass.
See notebook 01.
"""
from __future__ import annotations

import numbers

from ..base import MXNetAssertionError
from .symbol import Symbol
from . import frontend as _frontend

__all__ = ["uniform", "normal", "randn", "exponential", "gamma", "poisson", "negative_binomial",
           "generalized_negative_binomial", "multinomial", "randint", "shuffle", "uniform_like",
           "normal_like", "exponential_like", "gamma_like", "poisson_like",
           "negative_binomial_like", "generalized_negative_binomial_like"]

_PARAMS = {"uniform": ("low", "high"), "normal": ("loc", "scale"), "gamma": ("alpha", "beta"),
           "exponential": ("lam",), "poisson": ("lam",), "negative_binomial": ("k", "p"),
           "generalized_negative_binomial": ("mu", "alpha")}


def _helper(dist, params, shape, dtype, kwargs):
    extra = {} if dtype is None else {"dtype": dtype}
    if shape is not None:
        extra["shape"] = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if all(isinstance(v, Symbol) for v in params):
        return _frontend.call(f"_sample_{dist}", list(params), dict(kwargs, **extra))
    if all(isinstance(v, numbers.Number) for v in params):
        return _frontend.call(f"_random_{dist}", [],
                              dict(kwargs, **dict(zip(_PARAMS[dist], params)), **extra))
    raise MXNetAssertionError(f"{dist}: distribution parameters must be all Symbols or all "
                              f"numbers, got {[type(v).__name__ for v in params]}")


def uniform(low=0.0, high=1.0, shape=None, dtype=None, **kwargs):
    return _helper("uniform", [low, high], shape, dtype, kwargs)


def normal(loc=0.0, scale=1.0, shape=None, dtype=None, **kwargs):
    return _helper("normal", [loc, scale], shape, dtype, kwargs)


def randn(*shape, loc=0.0, scale=1.0, dtype=None, **kwargs):
    return _helper("normal", [loc, scale], shape or None, dtype, kwargs)


def exponential(scale=1.0, shape=None, dtype=None, **kwargs):
    """Mean ``scale``: the node holds the rate ``lam = 1 / scale``."""
    return _helper("exponential", [1.0 / scale], shape, dtype, kwargs)


def gamma(alpha=1.0, beta=1.0, shape=None, dtype=None, **kwargs):
    return _helper("gamma", [alpha, beta], shape, dtype, kwargs)


def poisson(lam=1.0, shape=None, dtype=None, **kwargs):
    return _helper("poisson", [lam], shape, dtype, kwargs)


def negative_binomial(k=1, p=1.0, shape=None, dtype=None, **kwargs):
    return _helper("negative_binomial", [k, p], shape, dtype, kwargs)


def generalized_negative_binomial(mu=1.0, alpha=1.0, shape=None, dtype=None, **kwargs):
    return _helper("generalized_negative_binomial", [mu, alpha], shape, dtype, kwargs)


def multinomial(data, shape=None, get_prob=False, dtype="int32", **kwargs):
    params = dict(kwargs, get_prob=get_prob, dtype=dtype)
    if shape is not None:
        params["shape"] = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return _frontend.call("_sample_multinomial", [data], params)


def randint(low, high, shape=None, dtype=None, **kwargs):
    params = dict(kwargs, low=low, high=high)
    if shape is not None:
        params["shape"] = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if dtype is not None:
        params["dtype"] = dtype
    return _frontend.call("_random_randint", [], params)


def shuffle(data, **kwargs):
    return _frontend.call("_shuffle", [data], kwargs)


def _like(dist):
    def sampler(data=None, **params):
        return _frontend.call(f"_random_{dist}_like", [] if data is None else [data], params,
                              hint=f"{dist}_like")
    sampler.__name__ = f"{dist}_like"
    sampler.__doc__ = f"A node of {dist} draws shaped and typed like ``data``."
    return sampler


# one line per name (not a loop) so the names are visible to readers and linters; the
# same list as in mxteach/random.py (the NDArray front-end)
uniform_like = _like("uniform")
normal_like = _like("normal")
exponential_like = _like("exponential")
gamma_like = _like("gamma")
poisson_like = _like("poisson")
negative_binomial_like = _like("negative_binomial")
generalized_negative_binomial_like = _like("generalized_negative_binomial")
