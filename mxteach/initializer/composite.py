"""Initializers made of other initializers: :class:`Load` (saved values, then a default) and
:class:`Mixed` (one initializer per name pattern). As in MXNet they are plain callables, not
registered and without ``dumps``.

See notebook 05.
"""
from __future__ import annotations

import logging
import re

from ..base import did_you_mean, string_types
from .base import UnknownInitPatternError, InitializerAssertionError, _fill


class Load:
    """Take values from saved parameters; names not found go to ``default_init``.

    Parameters
    ----------
    param : str or dict of str to NDArray
        A ``.params`` file (read with ``mx.nd.load``) or a dict. ``arg:`` and ``aux:`` name
        prefixes, as checkpoints write them, are dropped.
    default_init : Initializer, optional
        Fills names missing from ``param``; without it a missing name is an error.
    verbose : bool
        Log where each parameter came from.

    Examples
    --------
    >>> from mxteach import nd
    >>> init = Load({'arg:fc_weight': nd.ones((2, 2))}, default_init=Zero())
    >>> sorted(init.param)
    ['fc_weight']

    See notebook 05.
    """

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, string_types):
            from .. import ndarray as _nd  # the serializer may load after this module
            if not hasattr(_nd, "load"):
                raise InitializerAssertionError(f"cannot read '{param}': mxteach.ndarray.load "
                                                f"is not available; pass a dict of NDArrays")
            param = _nd.load(param)
        if not isinstance(param, dict):
            raise InitializerAssertionError(f"Load needs a dict name -> NDArray (or a file "
                                            f"holding one), got {type(param).__name__}")
        self.param = {}
        for name, arr in param.items():
            key = name[4:] if name.startswith(("arg:", "aux:")) else name
            self.param[key] = arr
        self.default_init = default_init
        self.verbose = verbose

    def __call__(self, name, arr):
        if name in self.param:
            src = self.param[name]
            if tuple(arr.shape) != tuple(src.shape):
                raise InitializerAssertionError(
                    f"Parameter {name} cannot be initialized from loading. Shape mismatch, target "
                    f"{tuple(arr.shape)} vs loaded {tuple(src.shape)}")
            _fill(arr, src)
            if self.verbose:
                logging.info("Initialized %s by loading", name)
            return
        if self.default_init is None:
            raise InitializerAssertionError(
                f"Cannot initialize {name}: it is not in the loaded parameters "
                f"({len(self.param)} names{did_you_mean(name, self.param)}) and Load has no "
                f"default_init.")
        self.default_init(name, arr)
        if self.verbose:
            logging.info("Initialized %s by default", name)


class Mixed:
    """Choose an initializer by regular expression on the parameter name.

    Patterns are tried in order with ``re.match`` — anchored at the *start* of the name, so
    ``'bias'`` does not match ``'fc1_bias'`` (write ``'.*bias'``). The chosen initializer still
    applies its name rules: ``Mixed(['.*'], [Constant(3)])`` leaves biases at 0.

    Parameters
    ----------
    patterns : list of str
        Regular expressions; end with ``'.*'`` to catch everything else.
    initializers : list of Initializer
        One per pattern.

    Examples
    --------
    >>> init = Mixed(['.*bias', '.*'], [One(), Uniform(0.1)])

    See notebook 05.
    """

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise InitializerAssertionError(f"Mixed needs one initializer per pattern: "
                                            f"{len(patterns)} patterns, {len(initializers)} "
                                            f"initializers")
        self.map = [(re.compile(p), init) for p, init in zip(patterns, initializers)]

    def __call__(self, name, arr):
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise UnknownInitPatternError(
            f"Parameter name {name} did not match any pattern of Mixed "
            f"{[p.pattern for p, _ in self.map]} (matched from the start of the name). Consider "
            f"adding a '.*' pattern at the end with a default initializer.")

