"""Unary math operators: trigonometric and hyperbolic functions and their inverses, degrees /
radians, rounding (ceil, floor, rint, round, trunc, fix), cbrt / rcbrt, expm1, log1p, log2,
log10, erf, softsign, and the two with parameters: smooth_l1 (``scalar`` = sigma) and
hard_sigmoid (``alpha``, ``beta``).

One table drives them all: each name has a code (``kernels/cpu/math.py:CODES``) that picks the
function and its derivative in the CPU kernel (``kernels/cpu/math.py``) and the CUDA kernel
(``kernels/cuda/math.py``); the numpy twins the tests trust are ``kernels/reference/math.py``.
Rounding functions have a zero gradient, as in MXNet. ``round`` takes halves away from zero;
``rint`` takes them down (0.5 -> 0, -0.5 -> -1), as MXNet 1.9.1 computes it. See notebook 01.
"""
from __future__ import annotations

from .registry import Op, Param, register
from .common import identity_shape, grad_mode, kernel_view, flat_in, gpu_flat
from ..kernels.cpu import math as K

__all__ = ["MATH_OPS"]

MATH_OPS = tuple(K.CODES)

# parameters of the operators that have some, and how they become the kernels' (s, t)
_PARAMS = {
    "smooth_l1": ({"scalar": Param("float", 1.0, doc="sigma: quadratic below 1/sigma^2")},
                  lambda p: (p["scalar"], 0.0)),
    "hard_sigmoid": ({"alpha": Param("float", 0.2), "beta": Param("float", 0.5)},
                     lambda p: (p["alpha"], p["beta"])),
}
_NONE = ({}, lambda p: (0.0, 0.0))


def _make(name):
    code = K.CODES[name]
    params, st = _PARAMS.get(name, _NONE)

    def forward(p, ins, outs, is_train, state):
        out, commit = kernel_view(outs[0], -1)
        K.unary_forward(flat_in(ins[0]).astype(out.dtype, copy=False), out, *st(p), code)
        commit()

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        mode = grad_mode(reqs[0], igrads[0])
        if mode == 0:
            return
        dx, commit = kernel_view(igrads[0], -1)
        t = dx.dtype
        K.unary_backward(flat_in(ins[0]).astype(t, copy=False),
                         flat_in(outs[0]).astype(t, copy=False),
                         flat_in(ograds[0]).astype(t, copy=False), dx, *st(p), code, mode == 2)
        commit()

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import math as C
        C.unary_forward(gpu_flat(ins[0]), gpu_flat(outs[0]), name, *st(p))

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from ..kernels.cuda import math as C
        if grad_mode(reqs[0], igrads[0]):
            C.unary_backward(gpu_flat(ins[0]), gpu_flat(outs[0]), gpu_flat(ograds[0]),
                             gpu_flat(igrads[0]), name, reqs[0] == "add", *st(p))

    register(Op(name=name, params=params, arguments=["data"], infer_shape=identity_shape,
                forward=forward, backward=backward, gpu_forward=gpu_forward,
                gpu_backward=gpu_backward, hint=name,
                doc=f"Elementwise {name}(x), with its gradient. See notebook 01."))


for _name in MATH_OPS:
    _make(_name)
