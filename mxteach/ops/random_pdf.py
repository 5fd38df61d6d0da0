"""Densities of the random distributions: ``random_pdf_uniform``, ``_normal``, ``_gamma``,
``_exponential``, ``_poisson``, ``_negative_binomial``, ``_generalized_negative_binomial`` and
``_dirichlet`` (MXNet 1.9.1 puts them in ``mx.nd`` / ``mx.sym`` only, not in ``mx.nd.random``).

Each takes ``sample`` and one array per distribution parameter; the parameter arrays share one
shape, the leading axes of ``sample``: ``sample`` holds ``M`` samples for every parameter set
(``sample.shape == params.shape + (m1, m2, ...)``). Dirichlet samples are vectors: ``alpha`` is
``(..., k)``, ``sample`` ``(..., m..., k)`` and the output drops the last axis (a single vector
gives ``(1,)``). ``is_log=True`` gives the log-density.

Gradients flow to the sample and to every parameter (summed over its samples). As in MXNet
1.9.1: uniform checks no support and gives the sample no gradient, nor do the discrete
distributions; gamma's ``beta`` acts as a rate (``exp(-beta x)``); negative_binomial's ``p`` is
the probability of a failure. Kernels: ``kernels/cpu/random_pdf.py`` (formulas and codes),
``kernels/cuda/random_pdf.py``, numpy twins ``kernels/reference/random_pdf.py``.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register
from .common import grad_mode, kernel_view
from ..base import ShapeError
from ..kernels.cpu import random_pdf as K

__all__ = ["PDF_OPS"]

# name -> the parameter arguments after ``sample``
_DISTS = {"uniform": ("low", "high"), "normal": ("mu", "sigma"), "gamma": ("alpha", "beta"),
          "exponential": ("lam",), "poisson": ("lam",), "negative_binomial": ("k", "p"),
          "generalized_negative_binomial": ("mu", "alpha"), "dirichlet": ("alpha",)}
PDF_OPS = tuple("random_pdf_" + d for d in _DISTS)


def _shape_rule(name, vector):
    def infer_shape(p, in_shapes):
        # as MXNet 1.9.1: nothing is inferred until every input's shape is known
        if any(s is None for s in in_shapes):
            return list(in_shapes), [None]
        sample, params = in_shapes[0], in_shapes[1:]
        sample = tuple(sample)
        first = tuple(params[0])
        for got in params[1:]:
            if tuple(got) != first:
                raise ShapeError(f"{name}: the parameter arrays must have one shape; got "
                                 f"{first} and {tuple(got)}")
        if len(first) > len(sample):
            raise ShapeError(f"{name}: sample has {len(sample)} axes, fewer than the "
                             f"{len(first)} of the parameters {first}")
        want = sample[:len(first)]
        if vector:
            want = want[:-1] + sample[-1:]
        if first != want:
            raise ShapeError(f"{name}: parameters have shape {first}; expected {want}, the "
                             f"leading axes of sample {sample}")
        out = (sample[:-1] or (1,)) if vector else sample
        return [sample] + [want] * (len(in_shapes) - 1), [out]
    return infer_shape


def _views(ins, dtype):
    """Flat contiguous copies-or-views of sample and parameters in the kernel dtype, and M."""
    x = np.ascontiguousarray(ins[0], dtype=dtype).reshape(-1)
    ps = [np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in ins[1:]]
    return x, ps, x.size // max(ps[0].size, 1)


def _scalar_op(dist):
    code = K.CODES[dist]

    def forward(p, ins, outs, is_train, state):
        out, commit = kernel_view(outs[0], (outs[0].size,))
        x, ps, M = _views(ins, out.dtype)
        K.pdf_forward(code, x, ps[0], ps[-1], M, p["is_log"], out)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        out, _ = kernel_view(outs[0], (outs[0].size,))
        x, ps, M = _views(ins, out.dtype)
        dy = np.ascontiguousarray(ograds[0], dtype=out.dtype).reshape(-1)
        modes = [grad_mode(r, g) for r, g in zip(reqs, igrads)] + [0]
        views = [kernel_view(g, (g.size,)) if g is not None else (a, lambda: None)
                 for g, a in zip(igrads, [x] + ps)]
        gx, g1 = views[0][0], views[1][0]
        g2 = views[2][0] if len(ps) == 2 else g1
        K.pdf_backward(code, x, ps[0], ps[-1], out, dy, M, p["is_log"], gx, modes[0], g1,
                       modes[1], g2, modes[2])
        for _, commit in views:
            commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import random_pdf as C
        x, p1 = ins[0].reshape(ins[0].size), ins[1].reshape(ins[1].size)
        p2 = ins[-1].reshape(ins[-1].size)
        C.pdf_forward(code, x, p1, p2, x.size // max(p1.size, 1), p["is_log"],
                      outs[0].reshape(outs[0].size))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import random_pdf as C
        flat = [a.reshape(a.size) for a in ins]
        grads = [g.reshape(g.size) if grad_mode(r, g) else a
                 for g, r, a in zip(igrads, reqs, flat)]
        modes = [grad_mode(r, g) for r, g in zip(reqs, igrads)] + [0]
        C.pdf_backward(code, flat[0], flat[1], flat[-1], outs[0].reshape(outs[0].size),
                       ograds[0].reshape(ograds[0].size), flat[0].size // max(flat[1].size, 1),
                       p["is_log"], grads[0], modes[0], grads[1], modes[1], grads[-1],
                       modes[2] if len(flat) == 3 else 0)

    return forward, backward, gpu_forward, gpu_backward


def _dirichlet_layout(ins):
    alpha = ins[1]
    k = alpha.shape[len(alpha.shape) - 1]   # device shapes take no negative index
    N = alpha.size // max(k, 1)
    return k, N, ins[0].size // max(alpha.size, 1)


def _dirichlet_forward(p, ins, outs, is_train, state):
    k, N, M = _dirichlet_layout(ins)
    out, commit = kernel_view(outs[0], (N * M,))
    x = np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(N * M, k)
    K.dirichlet_forward(x, np.ascontiguousarray(ins[1], dtype=out.dtype).reshape(N, k), M,
                        p["is_log"], out)
    commit()


def _dirichlet_backward(p, ograds, ins, outs, igrads, reqs, state):
    k, N, M = _dirichlet_layout(ins)
    out, _ = kernel_view(outs[0], (N * M,))
    x = np.ascontiguousarray(ins[0], dtype=out.dtype).reshape(N * M, k)
    alpha = np.ascontiguousarray(ins[1], dtype=out.dtype).reshape(N, k)
    dy = np.ascontiguousarray(ograds[0], dtype=out.dtype).reshape(-1)
    mx_, ma = grad_mode(reqs[0], igrads[0]), grad_mode(reqs[1], igrads[1])
    gx, cx = kernel_view(igrads[0], x.shape) if mx_ else (x, lambda: None)
    ga, ca = kernel_view(igrads[1], alpha.shape) if ma else (alpha, lambda: None)
    K.dirichlet_backward(x, alpha, out, dy, M, p["is_log"], gx, mx_, ga, ma)
    cx()
    ca()


def _dirichlet_gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import random_pdf as C
    k, N, M = _dirichlet_layout(ins)
    C.dirichlet_forward(ins[0].reshape(N * M, k), ins[1].reshape(N, k), M, p["is_log"],
                        outs[0].reshape(N * M))


def _dirichlet_gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import random_pdf as C
    k, N, M = _dirichlet_layout(ins)
    x, alpha = ins[0].reshape(N * M, k), ins[1].reshape(N, k)
    mx_, ma = grad_mode(reqs[0], igrads[0]), grad_mode(reqs[1], igrads[1])
    C.dirichlet_backward(x, alpha, outs[0].reshape(N * M), ograds[0].reshape(N * M), M,
                         p["is_log"], igrads[0].reshape(N * M, k) if mx_ else x, mx_,
                         igrads[1].reshape(N, k) if ma else alpha, ma)


_DOCS = {
    "uniform": "1 / (high - low) (the support is not checked, as in MXNet)",
    "normal": "exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))",
    "gamma": "beta^alpha x^(alpha - 1) exp(-beta x) / Gamma(alpha) (beta is a rate)",
    "exponential": "lam exp(-lam x)",
    "poisson": "lam^x exp(-lam) / x!",
    "negative_binomial": "Gamma(x + k) / (x! Gamma(k)) p^k (1 - p)^x",
    "generalized_negative_binomial": "negative_binomial with k = 1 / alpha, "
                                     "p = 1 / (mu alpha + 1)",
    "dirichlet": "Gamma(sum alpha) / prod Gamma(alpha_j) prod x_j^(alpha_j - 1) over the last "
                 "axis",
}

for _dist, _names in _DISTS.items():
    _vector = _dist == "dirichlet"
    _fns = ((_dirichlet_forward, _dirichlet_backward, _dirichlet_gpu_forward,
             _dirichlet_gpu_backward) if _vector else _scalar_op(_dist))
    register(Op(
        name="_random_pdf_" + _dist, aliases=("random_pdf_" + _dist,),   # as MXNet registers it
        params={"is_log": Param("bool", False, doc="give the log-density")},
        arguments=["sample", *_names], infer_shape=_shape_rule("random_pdf_" + _dist, _vector),
        forward=_fns[0], backward=_fns[1], gpu_forward=_fns[2], gpu_backward=_fns[3],
        hint="random_pdf_" + _dist,
        doc=f"The {_dist} density of each sample, {_DOCS[_dist]}, for the parameter set of its "
            f"leading axes; is_log=True gives its log."))
