"""Checking operators against oracles: numpy references and central finite differences.

Used by the test suite and handy in notebooks (``mx.test_utils``)."""
from __future__ import annotations

import numpy as np

from .ops import registry
from . import random as _random

__all__ = ["run_op", "run_op_backward", "check_numeric_gradient", "assert_almost_equal"]


def _prepare(name, inputs, params):
    op = registry.get(name)
    p = registry.parse_params(op, params, name)
    arrays = [np.array(a, copy=True) for a in inputs]
    n_args = len(op.list_arguments(p))
    in_shapes, out_shapes = op.infer_shape(p, [a.shape for a in arrays])
    _, out_types = op.types(p, [a.dtype.name for a in arrays])
    outs = [np.zeros(s, dtype=t) for s, t in zip(out_shapes, out_types)]
    return op, p, arrays, n_args, outs


def run_op(name, inputs, is_train=True, seed=None, **params):
    """Forward ``name`` once through the registry. Returns (outputs, state, inputs-after)."""
    op, p, arrays, _, outs = _prepare(name, inputs, params)
    state = {}
    if seed is not None:
        _random.seed(seed)
    op.forward(p, arrays, outs, is_train, state)
    return outs, state, arrays


def run_op_backward(name, inputs, out_grads=None, is_train=True, seed=None, reqs=None,
                    init_grads=None, **params):
    """Forward then backward; returns (outputs, input gradients for the arguments)."""
    op, p, arrays, n_args, outs = _prepare(name, inputs, params)
    state = {}
    if seed is not None:
        _random.seed(seed)
    op.forward(p, arrays, outs, is_train, state)
    reqs = list(reqs) if reqs is not None else ["write"] * n_args
    igrads = [None if r == "null" else
              (np.array(init_grads[i], copy=True) if init_grads is not None
               else np.zeros_like(arrays[i]))
              for i, r in enumerate(reqs)]
    if op.loss:
        ograds = None
    else:
        ograds = out_grads if out_grads is not None else [np.ones_like(o) for o in outs]
    op.backward(p, ograds, arrays, outs, igrads, reqs, state)
    return outs, igrads


def check_numeric_gradient(name, inputs, params=None, out_grads=None, loss_fn=None,
                           wrt=None, eps=1e-6, rtol=1e-5, atol=1e-7, is_train=True, seed=0):
    """Compare an operator's backward with central differences of a scalar objective.

    The objective is ``sum(out_i * out_grad_i)`` (random ``out_grads`` by default), or for loss
    operators ``loss_fn(outputs, inputs)``, the loss whose gradient the operator defines.
    Use float64 inputs. ``wrt`` lists the argument positions to check (default: all floating).
    """
    params = params or {}
    rs = np.random.RandomState(1234)
    op, p, arrays, n_args, outs = _prepare(name, inputs, params)
    if out_grads is None and not op.loss:
        out_grads = [rs.uniform(-1, 1, o.shape).astype(o.dtype) for o in outs]

    def objective(xs):
        o, _, after = run_op(name, xs, is_train=is_train, seed=seed, **params)
        if op.loss:
            return float(loss_fn(o, xs))
        return float(sum(np.sum(a.astype(np.float64) * g) for a, g in zip(o, out_grads)))

    _, analytic = run_op_backward(name, inputs, out_grads=out_grads, is_train=is_train,
                                  seed=seed, **params)
    wrt = wrt if wrt is not None else [i for i in range(n_args)
                                       if np.issubdtype(np.asarray(inputs[i]).dtype, np.floating)]
    for i in wrt:
        x = [np.array(a, copy=True) for a in inputs]
        num = np.zeros_like(x[i], dtype=np.float64)
        flat = x[i].reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            fp = objective(x)
            flat[k] = old - eps
            fm = objective(x)
            flat[k] = old
            num.reshape(-1)[k] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(analytic[i], num, rtol=rtol, atol=atol,
                                   err_msg=f"{name}: gradient of input {i} "
                                           f"({op.list_arguments(p)[i]})")
    return analytic


def assert_almost_equal(a, b, rtol=1e-5, atol=1e-7, names=("a", "b")):
    a = a.asnumpy() if hasattr(a, "asnumpy") else np.asarray(a)
    b = b.asnumpy() if hasattr(b, "asnumpy") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{names[0]} vs {names[1]}")
