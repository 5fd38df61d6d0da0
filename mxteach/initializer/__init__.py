"""``mx.init``: how parameters get their first values.

An initializer is called as ``init(desc, arr)``: ``desc`` is an :class:`InitDesc` (the parameter's
name plus the attributes of its Variable) and ``arr`` the array to fill. The *name* decides the
rule, exactly as in MXNet 1.9.1:

=====================  ===================================================================
the name ends with     rule
=====================  ===================================================================
``weight``             ``_init_weight`` — the initializer's own distribution
``bias``, ``beta``     0
``gamma``              1
``min`` / ``max``      0 / 1
``weight_quantize``    one random int8 in [-127, 127), repeated over the array
``bias_quantize``      0
anything else          :class:`UnknownInitPatternError`
=====================  ===================================================================

A Variable's ``__init__`` attribute (``mx.sym.Variable('w', init=mx.init.Normal(0.1))`` stores
``'["normal", {"sigma": 0.1}]'``) overrides the name: that initializer's ``_init_weight`` fills
the array whatever the name. Operators use the same attribute for their auxiliary states:
BatchNorm marks ``moving_mean`` with ``["zero", {}]`` and ``moving_var`` with ``["one", {}]``,
which is why a bare ``InitDesc('bn_moving_mean')`` without attributes is an error.

Random draws come from :func:`mxteach.random_state.rng`, so ``mx.random.seed(n)`` makes them
repeat.

The package: :mod:`~mxteach.initializer.base` (InitDesc, the name rules, Initializer, the
registry), :mod:`~mxteach.initializer.standard` (Zero ... MSRAPrelu),
:mod:`~mxteach.initializer.structured` (Bilinear, LSTMBias, FusedRNN) and
:mod:`~mxteach.initializer.composite` (Load, Mixed).
"""
from .base import (InitDesc, Initializer, register, alias, create, registered, match_rule,
                   bilinear_kernel, InitializerError, UnknownInitPatternError, InitializerAssertionError,
                   InitializerTypeError)
from .composite import Load, Mixed
from .standard import Zero, One, Constant, Uniform, Normal, Orthogonal, Xavier, MSRAPrelu
from .structured import Bilinear, LSTMBias, FusedRNN

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "registered",
           "match_rule", "bilinear_kernel", "Load", "Mixed", "Zero", "One", "Constant",
           "Uniform", "Normal", "Orthogonal", "Xavier", "MSRAPrelu", "Bilinear", "LSTMBias",
           "InitializerError", "UnknownInitPatternError", "InitializerAssertionError",
           "InitializerTypeError", "FusedRNN"]

