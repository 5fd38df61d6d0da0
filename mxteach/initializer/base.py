"""The initializer base: :class:`InitDesc`, the name rules (which suffix gets which value),
:class:`Initializer`, and the registry behind ``mx.init.register`` / ``alias`` / ``create``.

See notebook 05.
"""
from __future__ import annotations

import json
import logging
import math
import warnings

import numpy as np

from .. import random_state as _random
from ..base import MXNetError, MXNetNotImplementedError, string_types
from ..ndarray.ndarray import NDArray
from ..registry import Registry, json_spec


# -- errors ------------------------------------------------------------------------------------
class InitializerError(MXNetError, ValueError):
    """An initializer cannot fill this array (wrong rank, unknown option). MXNet: ValueError."""


class UnknownInitPatternError(InitializerError):
    """No rule applies to a parameter name (no known suffix, no ``__init__``, no Mixed pattern)."""


class InitializerAssertionError(MXNetError, AssertionError):
    """Registry and Load misuse; MXNet 1.9.1 reports these with bare asserts."""


class InitializerTypeError(MXNetError, TypeError):
    """The legacy ``init(name, arr)`` call got a name that is not a string or a non-array."""


# -- the descriptor ----------------------------------------------------------------------------
class InitDesc(str):
    """A parameter name that also carries its Variable's attributes.

    It *is* the name (a ``str`` subclass), so ``desc.endswith('weight')`` and ``params[desc]``
    work; the extra fields travel along.

    Parameters
    ----------
    name : str
        The parameter's name, e.g. ``'fc1_weight'``.
    attrs : dict of str to str, optional
        The Variable's attributes (``Symbol.attr_dict()[name]``); ``attrs['__init__']`` holds a
        JSON-dumped initializer that overrides the name rules.
    global_init : Initializer, optional
        The initializer of the whole call; the first initializer that sees the descriptor fills
        it in when it is None.

    Examples
    --------
    >>> d = InitDesc('bn_moving_var', {'__init__': '["one", {}]'})
    >>> d == 'bn_moving_var', d.attrs['__init__']
    (True, '["one", {}]')

    See notebook 05.
    """

    def __new__(cls, name, attrs=None, global_init=None):
        obj = super().__new__(cls, name)
        obj.attrs = attrs or {}
        obj.global_init = global_init
        return obj


# -- which rule a name gets --------------------------------------------------------------------
# (suffix, rule); the first suffix that matches wins, so the order is part of the behaviour.
_DESC_RULES = (("weight", "weight"), ("bias", "bias"), ("gamma", "gamma"), ("beta", "beta"),
               ("min", "min"), ("max", "max"), ("weight_quantize", "weight_quantize"),
               ("bias_quantize", "bias_quantize"))

# The pre-InitDesc dispatch MXNet still applies to plain-string names: (prefix, suffix, rule).
_LEGACY_RULES = (("upsampling", "", "bilinear"), ("stn_loc", "weight", "zero"),
                 ("stn_loc", "bias", "loc_bias"), ("", "bias", "bias"), ("", "gamma", "gamma"),
                 ("", "beta", "beta"), ("", "weight", "weight"), ("", "moving_mean", "zero"),
                 ("", "moving_var", "one"), ("", "moving_inv_var", "zero"),
                 ("", "moving_avg", "zero"), ("", "min", "zero"), ("", "max", "one"))

_RULE_METHOD = {"weight": "_init_weight", "bias": "_init_bias", "gamma": "_init_gamma",
                "beta": "_init_beta", "min": "_init_zero", "max": "_init_one",
                "zero": "_init_zero", "one": "_init_one", "bilinear": "_init_bilinear",
                "loc_bias": "_init_loc_bias", "weight_quantize": "_init_quantized_weight",
                "bias_quantize": "_init_quantized_bias"}


def match_rule(desc):
    """Name the rule an initializer applies to ``desc``, without touching any array.

    Parameters
    ----------
    desc : InitDesc or str
        An :class:`InitDesc` follows the current rules (``__init__`` attribute first, then the
        suffix table); a plain string follows MXNet's legacy table, which also knows
        ``moving_mean``, ``moving_var``, ``upsampling*`` and ``stn_loc*``.

    Returns
    -------
    str or None
        ``'__init__:<json>'`` for an attribute override, else a rule such as ``'weight'``,
        ``'bias'``, ``'gamma'``, ``'zero'``; None when the name has no rule (calling an
        initializer on it raises :class:`UnknownInitPatternError`).

    Examples
    --------
    >>> match_rule(InitDesc('fc1_bias')), match_rule(InitDesc('bn_moving_mean'))
    ('bias', None)
    >>> match_rule('bn_moving_mean')
    'zero'

    See notebook 05.
    """
    if isinstance(desc, InitDesc):
        override = desc.attrs.get("__init__", "")
        if override:
            return "__init__:" + override
        for suffix, rule in _DESC_RULES:
            if desc.endswith(suffix):
                return rule
        return None
    for prefix, suffix, rule in _LEGACY_RULES:
        if desc.startswith(prefix) and desc.endswith(suffix):
            return rule
    return None


def _fill(arr, values):
    """Write ``values`` (scalar or array) into ``arr`` in place, casting to its dtype."""
    if isinstance(values, NDArray):
        values = values.asnumpy()
    arr[:] = values


def _rms_stat(arr):
    """Root mean square of ``arr`` as a string: MXNet's default verbose statistic."""
    data = np.asarray(arr.asnumpy() if isinstance(arr, NDArray) else arr, dtype=np.float32)
    norm = np.float32(np.sqrt(np.sum(np.square(data, dtype=np.float32), dtype=np.float32)))
    return str(np.float32(norm / np.float32(math.sqrt(data.size))))


def bilinear_kernel(shape):
    """The bilinear-interpolation weight MXNet's ``Bilinear`` gives an ``(N, C, H, W)`` shape.

    Every (n, c) slice holds the same ``H x W`` tent ``(1 - |x/f - c|) * (1 - |y/f - c|)``
    with ``f = ceil(W / 2)`` and ``c = (2f - 1 - f mod 2) / (2f)``; ``f`` and ``c`` come from the
    width for both axes, as in MXNet (square kernels are the intended use).

    See notebook 05.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 4:
        raise InitializerError(f"Bilinear needs a 4-D (N, C, H, W) upsampling weight, got shape "
                               f"{shape}")
    flat = np.arange(int(np.prod(shape, dtype=np.int64)))
    x = flat % shape[3]
    y = (flat // shape[3]) % shape[2]
    f = np.ceil(shape[3] / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    tent = (1 - np.abs(x / f - c)) * (1 - np.abs(y / f - c))
    return tent.astype(np.float32).reshape(shape)


# -- the base class ----------------------------------------------------------------------------
class Initializer:
    """Base class: fills a parameter according to its name (see the module docstring's table).

    Subclasses pass their constructor arguments to ``super().__init__(**kwargs)`` (they become
    :meth:`dumps`) and override ``_init_weight``; bias/gamma/beta keep their fixed values unless
    a subclass overrides ``_init_bias`` and friends too.

    Initializers compare equal when class and arguments match; like MXNet's they are therefore
    unhashable.

    See notebook 05.
    """

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        """Log one line per initialized array (``logging.info``).

        Parameters
        ----------
        verbose : bool
            Switch logging on or off.
        print_func : callable, optional
            Maps the filled array to a string for the log line; the default gives its root mean
            square, ``norm(x) / sqrt(x.size)``.

        Returns
        -------
        Initializer
            ``self``, so ``mx.init.Xavier().set_verbosity(True)`` can be passed on directly.

        See notebook 05.
        """
        self._verbose = verbose
        self._print_func = print_func if print_func is not None else _rms_stat
        return self

    def _verbose_print(self, desc, rule, arr):
        if self._verbose and self._print_func:
            logging.info("Initialized %s as %s: %s", desc, rule, self._print_func(arr))

    def dumps(self):
        """The initializer as MXNet's JSON: ``'["uniform", {"scale": 0.07}]'``.

        This is the string ``mx.sym.Variable(init=...)`` stores in the ``__init__`` attribute;
        :func:`create` turns it back into an initializer.

        See notebook 05.
        """
        return json.dumps([type(self).__name__.lower(), self._kwargs])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        if not isinstance(other, Initializer):
            return NotImplemented
        return type(self) is type(other) and self._kwargs == other._kwargs

    __hash__ = None  # defining __eq__ makes MXNet's initializers unhashable; keep that

    def __call__(self, desc, arr):
        """Fill ``arr`` in place by the rule ``desc`` selects.

        Parameters
        ----------
        desc : InitDesc or str
            The parameter; a plain string uses the deprecated legacy name table and warns.
        arr : NDArray
            The array to fill (a numpy array works too).

        Raises
        ------
        UnknownInitPatternError
            The name has no known suffix and no ``__init__`` attribute.

        See notebook 05.
        """
        if not isinstance(desc, InitDesc):
            self._legacy_init(desc, arr)
            return
        if desc.global_init is None:
            desc.global_init = self
        rule = match_rule(desc)
        if rule is None:
            self._init_default(desc, arr)
        elif rule.startswith("__init__:"):
            spec = desc.attrs["__init__"]
            create(spec)._init_weight(desc, arr)
            self._verbose_print(desc, spec, arr)
        else:
            getattr(self, _RULE_METHOD[rule])(desc, arr)
            self._verbose_print(desc, rule, arr)

    def _legacy_init(self, name, arr):
        warnings.warn("calling an initializer with a plain string name is deprecated (as in "
                      "MXNet 1.9); pass mx.init.InitDesc(name, attrs) instead",
                      DeprecationWarning, stacklevel=3)
        if not isinstance(name, string_types):
            raise InitializerTypeError(f"the parameter name must be a string, got "
                                       f"{type(name).__name__}")
        if not isinstance(arr, (NDArray, np.ndarray)):
            raise InitializerTypeError(f"the array to initialize must be an NDArray, got "
                                       f"{type(arr).__name__}")
        rule = match_rule(name)
        if rule is None:
            self._init_default(name, arr)
        else:
            getattr(self, _RULE_METHOD[rule])(name, arr)

    # the fixed rules; subclasses may override any of them
    def _init_zero(self, _, arr):
        _fill(arr, 0.0)

    def _init_one(self, _, arr):
        _fill(arr, 1.0)

    def _init_bias(self, _, arr):
        _fill(arr, 0.0)

    def _init_gamma(self, _, arr):
        _fill(arr, 1.0)

    def _init_beta(self, _, arr):
        _fill(arr, 0.0)

    def _init_quantized_bias(self, _, arr):
        _fill(arr, 0)

    def _init_quantized_weight(self, _, arr):
        # MXNet draws a single integer and broadcasts it over the whole array.
        _fill(arr, np.int8(_random.rng().randint(-127, 127)))

    def _init_bilinear(self, _, arr):
        _fill(arr, bilinear_kernel(arr.shape))

    def _init_loc_bias(self, name, arr):
        if tuple(arr.shape) != (6,):
            raise InitializerAssertionError(f"{name}: a spatial-transformer localisation bias "
                                            f"must have shape (6,), got {tuple(arr.shape)}")
        _fill(arr, np.array([1.0, 0, 0, 0, 1.0, 0]))  # the identity affine transform

    def _init_weight(self, name, arr):
        raise MXNetNotImplementedError(f"{type(self).__name__} does not define _init_weight, "
                                       f"so it cannot initialize '{name}'")

    def _init_default(self, name, _):
        raise UnknownInitPatternError(
            f"Unknown initialization pattern for {name}. Without an __init__ attribute a "
            f"parameter's name must end in 'weight', 'bias', 'gamma' (1.0), 'beta' (0.0), 'min' "
            f"(0.0) or 'max' (1.0). Give the Variable its own rule with "
            f"mx.sym.Variable('{name}', init=mx.init.Zero()) (or any mx.init.*); operators such "
            f"as BatchNorm set it for their auxiliary states.")


# -- registry ----------------------------------------------------------------------------------
def _check_initializer_class(klass):
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise InitializerAssertionError(f"only subclasses of Initializer can be registered, got "
                                        f"{klass!r}")


# lower-cased names, aliases included
INITIALIZERS = Registry("initializer", error=InitializerAssertionError,
                        check=_check_initializer_class,
                        unknown="{name} is not registered as an initializer.",
                        hint="Add your own with @mx.init.register.")


def register(klass):
    """Make an Initializer subclass available to :func:`create` under its lower-cased name.

    Usable as a decorator; returns the class. Registering a second class under a taken name
    replaces the first with a ``UserWarning``.

    Examples
    --------
    >>> @register
    ... class Halves(Initializer):
    ...     def _init_weight(self, _, arr):
    ...         arr[:] = 0.5
    >>> type(create('halves')).__name__
    'Halves'

    See notebook 05.
    """
    return INITIALIZERS.register(klass)


def alias(*aliases):
    """A decorator registering a class under extra names: ``@alias('zeros')``.

    See notebook 05.
    """
    return INITIALIZERS.alias(*aliases)


def registered():
    """The registry as a dict ``name -> class`` (a copy), aliases included.

    See notebook 05.
    """
    return INITIALIZERS.as_dict()


def create(*args, **kwargs):
    """Build an initializer from a name, a JSON string, a dict or an instance.

    Parameters
    ----------
    initializer : str, dict or Initializer
        ``'xavier'`` (any case; remaining arguments go to the constructor), a :meth:`dumps`
        string ``'["uniform", {"scale": 0.3}]'``, a JSON object or dict
        ``{"initializer": "normal", "sigma": 0.2}``, or an instance (returned as is). May be
        given by keyword as ``initializer=``.

    Returns
    -------
    Initializer

    Examples
    --------
    >>> create('["uniform", {"scale": 0.3}]')
    Uniform(scale=0.3)
    >>> create('normal', sigma=0.2).dumps()
    '["normal", {"sigma": 0.2}]'

    See notebook 05.
    """
    if args:
        spec, args = args[0], args[1:]
    elif "initializer" in kwargs:
        spec = kwargs.pop("initializer")
    else:
        raise InitializerAssertionError("create() needs an initializer name, JSON string, dict "
                                        "or instance")
    if isinstance(spec, Initializer):
        if args or kwargs:
            raise InitializerAssertionError(f"{spec!r} is already an initializer instance; "
                                            f"extra arguments cannot be applied to it")
        return spec
    if isinstance(spec, dict):
        return create(**spec)
    if not isinstance(spec, string_types):
        raise InitializerAssertionError(f"initializer must be of string type (a name or JSON), "
                                        f"a dict or an Initializer, got {type(spec).__name__}")
    parsed = json_spec(spec, args or kwargs, InitializerAssertionError, "initializer")
    if isinstance(parsed, list):
        name, params = parsed
        return create(name, **params)
    if parsed is not None:
        return create(**parsed)
    return INITIALIZERS.get(spec.strip())(*args, **kwargs)

