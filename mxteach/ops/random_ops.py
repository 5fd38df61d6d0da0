"""Random samplers as operators: ``_random_<dist>`` (a shape of draws from one parameter set:
``mx.nd.random_gamma``, ``mx.sym.random.gamma``), ``_sample_<dist>`` (draws per element of
parameter arrays: ``mx.nd.sample_gamma``), ``_random_<dist>_like`` (shaped like the data),
``_random_randint``, ``_sample_multinomial`` and ``_shuffle``, for the distributions uniform,
normal, gamma, exponential, poisson, negative_binomial and generalized_negative_binomial.

**CPU**: numpy's generator from :func:`mxteach.random_state.rng`, the stream every random draw
in mxteach takes, so ``mx.random.seed(n)`` reproduces them. **GPU**: per-thread xoroshiro128+
generators seeded from that stream (``kernels/cuda/random_ops.py``). The distributions are
MXNet's: ``exponential(lam)`` has mean 1/lam, ``gamma(alpha, beta)`` mean alpha * beta,
``negative_binomial(k, p)`` counts failures before k successes (Poisson with a gamma rate),
``generalized_negative_binomial(mu, alpha)`` has mean mu and variance mu + alpha mu^2. The
numbers differ from MXNet's (another generator); the tests compare distributions.

Parameters are checked as MXNet checks them for the scalar forms (the ``sample_*`` forms, as
in MXNet, do not check). Draws have no gradient (zero for the parameter inputs); the
log-probabilities of ``sample_multinomial(get_prob=True)`` have one, ``g / p`` at the drawn
category (REINFORCE). ``shuffle`` permutes the first axis and, as in MXNet, has no gradient.
See notebook 01.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import gpu_flat, zero_grads, gpu_zero_grads, grad_mode
from .. import random_state
from ..base import MXNetError, ShapeError

__all__ = ["DISTRIBUTIONS"]

# name: (parameters of the scalar forms with defaults, input names of the sample_* form)
DISTRIBUTIONS = {
    "uniform": ((("low", 0.0), ("high", 1.0)), ("low", "high")),
    "normal": ((("loc", 0.0), ("scale", 1.0)), ("mu", "sigma")),
    "gamma": ((("alpha", 1.0), ("beta", 1.0)), ("alpha", "beta")),
    "exponential": ((("lam", 1.0),), ("lam",)),
    "poisson": ((("lam", 1.0),), ("lam",)),
    "negative_binomial": ((("k", 1), ("p", 1.0)), ("k", "p")),
    "generalized_negative_binomial": ((("mu", 1.0), ("alpha", 1.0)), ("mu", "alpha")),
}
_FLOATS = ("None", "float16", "float32", "float64")
_CTX = Param("str", "", optional=True, doc="the device mx.nd draws on")


# -- the draws (numpy) and MXNet's parameter checks ---------------------------------------------
def _draw(dist, rng, a, b, size):
    """Draws of ``dist`` with parameters ``a``, ``b`` (numbers or arrays broadcasting to
    ``size``), as float64."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if dist == "uniform":
            return a + (b - a) * rng.random_sample(size)
        if dist == "normal":
            return a + b * rng.standard_normal(size)
        if dist == "gamma":
            return rng.standard_gamma(np.broadcast_to(a, size)) * b
        if dist == "exponential":
            return rng.standard_exponential(size) / a
        if dist == "poisson":
            return rng.poisson(np.broadcast_to(a, size)).astype(np.float64)
        if dist == "negative_binomial":
            p = np.broadcast_to(b, size)
            rate = rng.standard_gamma(np.broadcast_to(a, size)) * np.where(p < 1, (1 - p) / p, 0)
            return rng.poisson(rate).astype(np.float64)
        if dist == "generalized_negative_binomial":
            mu, alpha = np.broadcast_to(a, size), np.broadcast_to(b, size)
            pos = alpha > 0
            shape = np.where(pos, 1 / np.where(pos, alpha, 1), 1.0)
            rate = np.where(pos, rng.standard_gamma(shape) * alpha * mu, mu)
            return rng.poisson(rate).astype(np.float64)
    raise MXNetError(f"unknown distribution {dist!r}")


def _safe_draw(opname, dist, a, b, size):
    try:
        return _draw(dist, random_state.rng(), a, b, size)
    except ValueError as err:      # numpy refuses e.g. a negative Poisson rate
        raise MXNetError(f"{opname}: invalid parameters for the {dist} distribution: {err}") \
            from None


_CHECKS = {
    "uniform": lambda v: v["high"] >= v["low"] or
    f"low must be less or equal to high in uniform distribution (low={v['low']}, "
    f"high={v['high']})",
    "normal": lambda v: v["scale"] > 0 or
    f"scale parameter in gaussian has to be positive, got {v['scale']}",
    "gamma": lambda v: (v["alpha"] > 0 or f"alpha parameter in gamma distribution has to be "
                        f"positive, got {v['alpha']}") if v["alpha"] <= 0 else
    (v["beta"] > 0 or f"beta parameter in gamma distribution has to be positive, got "
     f"{v['beta']}"),
    "exponential": lambda v: v["lam"] > 0 or
    f"lambda parameter in exponential distribution has to be positive, got {v['lam']}",
    "poisson": lambda v: v["lam"] >= 0 or
    f"lambda parameter in poisson distribution has to be non-negative, got {v['lam']}",
    "negative_binomial": lambda v: v["k"] >= 0 or
    f"k parameter in negative binomial distribution has to be non-negative, got {v['k']}",
    "generalized_negative_binomial": lambda v: v["alpha"] >= 0 or
    f"alpha parameter in generalized negative binomial distribution has to be non-negative, "
    f"got {v['alpha']}",
}


def _scalars(opname, dist, p):
    """The two parameters (the second repeats the first for one-parameter distributions),
    after MXNet's checks."""
    names = [n for n, _ in DISTRIBUTIONS[dist][0]]
    verdict = _CHECKS[dist]({n: p[n] for n in names})
    if verdict is not True:
        raise MXNetError(f"{opname}: {verdict}")
    return float(p[names[0]]), float(p[names[-1]])


def _gpu_params(*values):
    from numba import cuda
    return [cuda.to_device(np.array([v], dtype=np.float64)) for v in values]


def _float_type(p):
    return "float32" if p["dtype"] == "None" else p["dtype"]


# -- _random_<dist>: one parameter set, a shape of draws ----------------------------------------
def _given_shape(shape):
    """The output shape; None while it is to be inferred from the consumer (``shape`` () or
    with a 0, as MXNet allows in a graph: ``x + mx.sym.random.uniform()``)."""
    if not shape or any(d <= 0 for d in shape):
        return None
    return tuple(shape)


def _scalar_sampler(name, dist):
    """(forward, gpu_forward) filling the output with draws from the parameters in ``p``
    (the ``_random_<dist>`` and ``_random_<dist>_like`` operators)."""
    def forward(p, ins, outs, is_train, state):
        a, b = _scalars(name, dist, p)
        outs[0][...] = _safe_draw(name, dist, a, b, outs[0].shape)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import random_ops as C
        a, b = _gpu_params(*_scalars(name, dist, p))
        C.sample(C.CODES[dist], a, b, gpu_flat(outs[0]), state)
    return forward, gpu_forward


def _random_op(dist):
    name = f"_random_{dist}"
    forward, gpu_forward = _scalar_sampler(name, dist)
    names = [n for n, _ in DISTRIBUTIONS[dist][0]]
    params = {n: Param("int" if isinstance(d, int) else "float", d)
              for n, d in DISTRIBUTIONS[dist][0]}
    params.update(shape=Param("shape", ()), ctx=_CTX,
                  dtype=Param("str", "None", choices=_FLOATS))
    aliases = (f"random_{dist}",) + ((dist,) if dist in ("uniform", "normal") else ())
    register(Op(name=name, aliases=aliases, params=params, arguments=(),
                infer_shape=lambda p, s: ([], [_given_shape(p["shape"])]),
                infer_type=lambda p, t: ([], [_float_type(p)]),
                forward=forward, gpu_forward=gpu_forward, backward_uses=(),
                doc=f"`shape` draws from the {dist} distribution with parameters "
                    f"{', '.join(names)} (float32 unless `dtype`). See notebook 01."))


# -- _sample_<dist>: parameter arrays, `shape` draws per element -------------------------------
def _sample_op(dist):
    name = f"_sample_{dist}"
    inputs = DISTRIBUTIONS[dist][1]

    def infer_shape(p, in_shapes):
        known = [tuple(s) for s in in_shapes if s is not None]
        if not known:
            return list(in_shapes), [None]
        if any(s != known[0] for s in known):
            raise ShapeError(f"{name}: the parameter arrays {list(inputs)} must have one shape, "
                             f"got {[tuple(s) if s else s for s in in_shapes]}")
        return [known[0]] * len(inputs), [known[0] + tuple(p["shape"])]

    def forward(p, ins, outs, is_train, state):
        extra = (None,) * len(p["shape"])
        a = np.asarray(ins[0], dtype=np.float64)[(Ellipsis,) + extra]
        b = np.asarray(ins[-1], dtype=np.float64)[(Ellipsis,) + extra]
        outs[0][...] = _safe_draw(name, dist, a, b, outs[0].shape)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import random_ops as C
        C.sample(C.CODES[dist], gpu_flat(ins[0]), gpu_flat(ins[-1]), gpu_flat(outs[0]), state)

    register(Op(name=name, aliases=(f"sample_{dist}",), arguments=inputs,
                params={"shape": Param("shape", ()), "dtype": Param("str", "None",
                                                                   choices=_FLOATS)},
                infer_shape=infer_shape,
                infer_type=lambda p, t: (list(t), [_float_type(p)]),   # float32 as MXNet
                forward=forward, backward=zero_grads, gpu_forward=gpu_forward,
                gpu_backward=gpu_zero_grads, backward_uses=(),
                doc=f"`shape` draws from the {dist} distribution for each element of the "
                    f"parameter arrays {', '.join(inputs)} (output shape: theirs + shape). "
                    "See notebook 01."))


# -- _random_<dist>_like: shaped like the data --------------------------------------------------
def _like_op(dist):
    name = f"_random_{dist}_like"
    forward, gpu_forward = _scalar_sampler(name, dist)
    params = {n: Param("int" if isinstance(d, int) else "float", d)
              for n, d in DISTRIBUTIONS[dist][0]}
    register(Op(name=name, params=params, arguments=("data",),
                infer_shape=lambda p, s: (list(s), [None if s[0] is None else tuple(s[0])]),
                forward=forward, backward=zero_grads, gpu_forward=gpu_forward,
                gpu_backward=gpu_zero_grads, backward_uses=(),
                doc=f"Draws from the {dist} distribution, shaped and typed like `data`. "
                    "See notebook 01."))


for _dist in DISTRIBUTIONS:
    _random_op(_dist)
    _sample_op(_dist)
    _like_op(_dist)


# -- randint -------------------------------------------------------------------------------------
def _randint_range(p):
    if p["low"] >= p["high"]:
        raise MXNetError(f"_random_randint: low must be less than high, got low={p['low']}, "
                         f"high={p['high']}")
    return p["low"], p["high"]


def _randint_forward(p, ins, outs, is_train, state):
    low, high = _randint_range(p)
    outs[0][...] = random_state.rng().randint(low, high, outs[0].shape)


def _randint_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import random_ops as C
    a, b = _gpu_params(*_randint_range(p))
    C.sample(C.CODES["randint"], a, b, gpu_flat(outs[0]), state)


register(Op(name="_random_randint", aliases=("random_randint",), arguments=(), params={
    "low": Param("int"), "high": Param("int"), "shape": Param("shape", ()), "ctx": _CTX,
    "dtype": Param("str", "None", choices=("None", "int32", "int64"))},
    infer_shape=lambda p, s: ([], [_given_shape(p["shape"])]),
    infer_type=lambda p, t: ([], ["int32" if p["dtype"] == "None" else p["dtype"]]),
    forward=_randint_forward, gpu_forward=_randint_gpu_forward, backward_uses=(),
    doc="Integers drawn uniformly from [low, high). See notebook 01."))


# -- multinomial -----------------------------------------------------------------------------------
def _multi_geometry(p, shape):
    """(rows, categories, draws per row) of a multinomial call on data of ``shape``."""
    shape = tuple(shape)            # a device array's shape refuses negative indices
    draws = int(np.prod(p["shape"], dtype=np.int64)) if p["shape"] else 1
    return int(np.prod(shape[:-1], dtype=np.int64)), shape[-1], draws


def _multi_shape(p, in_shapes):
    n_out = 2 if p["get_prob"] else 1
    if in_shapes[0] is None:
        return list(in_shapes), [None] * n_out
    s = tuple(in_shapes[0])
    if not s:
        raise ShapeError("_sample_multinomial: data needs at least one axis (the categories)")
    return [s], [(s[:-1] + tuple(p["shape"])) or (1,)] * n_out


def _multi_forward(p, ins, outs, is_train, state):
    rows, n_cat, draws = _multi_geometry(p, ins[0].shape)
    prob = np.asarray(ins[0], dtype=np.float64).reshape(rows, n_cat)
    u = random_state.rng().random_sample((rows, draws))
    cdf = np.cumsum(prob, axis=1)
    # the first category whose cumulative probability exceeds u (the last when none does)
    idx = np.minimum((u[:, :, None] >= cdf[:, None, :]).sum(axis=2), n_cat - 1)
    outs[0][...] = idx.reshape(outs[0].shape)
    if p["get_prob"]:
        with np.errstate(divide="ignore", invalid="ignore"):
            outs[1][...] = np.log(np.take_along_axis(prob, idx, axis=1)).reshape(outs[1].shape)


def _multi_backward(p, ograds, ins, outs, igrads, reqs, state):
    mode = grad_mode(reqs[0], igrads[0])
    if not p["get_prob"] or not mode:
        return assign(igrads[0], reqs[0], 0)
    rows, n_cat, draws = _multi_geometry(p, ins[0].shape)
    prob = np.asarray(ins[0], dtype=np.float64).reshape(rows, n_cat)
    idx = np.asarray(outs[0]).reshape(rows, draws).astype(np.int64)
    g = np.asarray(ograds[1], dtype=np.float64).reshape(rows, draws)
    dx = np.zeros((rows, n_cat))
    np.add.at(dx, (np.repeat(np.arange(rows), draws), idx.reshape(-1)),
              (g / np.take_along_axis(prob, idx, axis=1)).reshape(-1))
    assign(igrads[0], reqs[0], dx.reshape(igrads[0].shape))


def _multi_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import random_ops as C
    rows, n_cat, draws = _multi_geometry(p, ins[0].shape)
    logp = gpu_flat(outs[1]) if p["get_prob"] else gpu_flat(ins[0])   # unused without get_prob
    C.multinomial(gpu_flat(ins[0]), n_cat, draws, gpu_flat(outs[0]), logp, p["get_prob"],
                  state)


def _multi_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import random_ops as C
    if not p["get_prob"]:
        return gpu_zero_grads(p, ograds, ins, outs, igrads, reqs, state)
    if grad_mode(reqs[0], igrads[0]):
        rows, n_cat, draws = _multi_geometry(p, ins[0].shape)
        C.multinomial_grad(gpu_flat(ins[0]), gpu_flat(outs[0]), gpu_flat(ograds[1]), n_cat,
                           draws, reqs[0] == "add", gpu_flat(igrads[0]))


register(Op(name="_sample_multinomial", aliases=("sample_multinomial",), arguments=("data",),
            params={"shape": Param("shape", ()), "get_prob": Param("bool", False),
                    "dtype": Param("dtype", "int32", choices=("float16", "float32", "float64",
                                                              "int32", "uint8"))},
            outputs=lambda p: ["output0", "output1"] if p["get_prob"] else ["output"],
            infer_shape=_multi_shape,
            infer_type=lambda p, t: ([t[0]], [p["dtype"]] + ([t[0]] if p["get_prob"] else [])),
            forward=_multi_forward, backward=_multi_backward, gpu_forward=_multi_gpu_forward,
            gpu_backward=_multi_gpu_backward, backward_uses=("ins", "outs"),
            doc="`shape` category draws from each distribution along the last axis of `data` "
                "(probabilities); get_prob adds their log-probabilities. See notebook 01."))


# -- shuffle ---------------------------------------------------------------------------------------
def _shuffle_forward(p, ins, outs, is_train, state):
    outs[0][...] = ins[0][random_state.rng().permutation(ins[0].shape[0])]


def _shuffle_gpu_forward(p, ins, outs, is_train, state):
    from numba import cuda
    from ..kernels.cuda import random_ops as C
    n = ins[0].shape[0]
    perm = cuda.to_device(random_state.rng().permutation(n).astype(np.int64))
    C.gather_rows(gpu_flat(ins[0]), perm, ins[0].size // max(1, n), gpu_flat(outs[0]))


register(Op(name="_shuffle", aliases=("shuffle",), params={}, arguments=("data",),
            infer_shape=lambda p, s: (list(s), [None if s[0] is None else tuple(s[0])]),
            forward=_shuffle_forward, gpu_forward=_shuffle_gpu_forward, backward_uses=(),
            doc="`data` with its first axis randomly permuted (the permutation is drawn on "
                "the host from the seeded stream). See notebook 01."))
