"""GPU == CPU for one operator, on numba-cuda's simulator: the helper the CUDA operator tests
share (``test_cuda_elemwise_ops.py``, ``test_cuda_nn_ops.py``).

The CPU side (``op.forward``/``op.backward`` on numpy, itself tested against numpy formulas,
finite differences and MXNet 1.9.1 in tests/test_ops_*.py) is the reference; the GPU side
(``op.gpu_forward``/``op.gpu_backward`` on device arrays) must agree to float rounding, in its
outputs, its gradients and the inputs after the run (aux states are updated in place).
"""
import numpy as np
from numba.core import config

from mxteach.ops import registry
from mxteach.test_utils import _prepare

if config.ENABLE_CUDASIM:
    from numba import cuda


def rnd(*shape, seed=0, low=-2.0, high=2.0, dtype=np.float32):
    return np.random.RandomState(seed).uniform(low, high, shape).astype(dtype)


def gpu_run(name, inputs, params, reqs, init_grads, ograds, is_train=True, state=None):
    """The operator's GPU forward (and backward, when it has one) on device copies. Returns
    (outputs, gradients, inputs after the run)."""
    op, p, arrays, _, outs = _prepare(name, inputs, params)
    d_in = [cuda.to_device(np.ascontiguousarray(a)) for a in arrays]
    d_out = [cuda.to_device(o) for o in outs]
    state = {} if state is None else state
    op.gpu_forward(p, d_in, d_out, is_train, state)
    d_ig = []
    if op.backward is not None:
        d_ig = [None if r == "null" else cuda.to_device(np.array(g, copy=True))
                for r, g in zip(reqs, init_grads)]
        d_og = None if op.loss else [cuda.to_device(np.ascontiguousarray(g)) for g in ograds]
        op.gpu_backward(p, d_og, d_in, d_out, d_ig, reqs, state)
    return ([o.copy_to_host() for o in d_out],
            [None if g is None else g.copy_to_host() for g in d_ig],
            [a.copy_to_host() for a in d_in])


def check(name, inputs, params=None, grads=None, rtol=1e-5, atol=1e-6, modes=("write", "add"),
          is_train=True):
    """GPU == CPU for ``name``: outputs, gradients of the arguments in ``grads`` (default all)
    under each grad_req of ``modes`` (the others 'null'), and the inputs after the run."""
    params = params or {}
    op = registry.get(name)
    p = registry.parse_params(op, params, name)
    n_args = len(op.list_arguments(p))
    grads = range(n_args) if grads is None else grads
    _, _, arrays, _, outs = _prepare(name, inputs, params)
    ograds = [rnd(*o.shape, seed=7 + i).astype(o.dtype) for i, o in enumerate(outs)]
    for mode in modes if op.backward is not None else ("write",):
        reqs = [mode if i in grads else "null" for i in range(n_args)]
        init = [rnd(*a.shape, seed=20 + i).astype(a.dtype) for i, a in enumerate(arrays[:n_args])]
        g_out, g_grads, g_after = gpu_run(name, inputs, params, reqs, init, ograds, is_train)
        c_op, c_p, c_in, _, c_out = _prepare(name, inputs, params)
        state = {}
        c_op.forward(c_p, c_in, c_out, is_train, state)
        c_grads = []
        if c_op.backward is not None:
            c_grads = [None if r == "null" else np.array(g, copy=True)
                       for r, g in zip(reqs, init)]
            c_op.backward(c_p, None if c_op.loss else ograds, c_in, c_out, c_grads, reqs, state)
        for what, cs, gs in (("output", c_out, g_out), ("gradient of input", c_grads, g_grads),
                             ("input after the run", c_in, g_after)):
            for i, (c, g) in enumerate(zip(cs, gs)):
                if c is not None:
                    np.testing.assert_allclose(g, c, rtol=rtol, atol=atol,
                                               err_msg=f"{name} {what} {i} ({mode})")
