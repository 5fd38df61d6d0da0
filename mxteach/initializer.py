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

Random draws come from :func:`mxteach.random.rng`, so ``mx.random.seed(n)`` makes them repeat.
"""
from __future__ import annotations

import json
import logging
import math
import re
import warnings

import numpy as np

from . import random as _random
from .base import MXNetError, MXNetNotImplementedError, did_you_mean, string_types
from .ndarray.ndarray import NDArray

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "registered",
           "match_rule", "bilinear_kernel", "Load", "Mixed", "Zero", "One", "Constant",
           "Uniform", "Normal", "Orthogonal", "Xavier", "MSRAPrelu", "Bilinear", "LSTMBias",
           "InitializerError", "UnknownInitPatternError", "InitializerAssertionError",
           "InitializerTypeError"]


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

    See notebook 04.
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

    See notebook 04.
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


# -- the base class ----------------------------------------------------------------------------
class Initializer:
    """Base class: fills a parameter according to its name (see the module docstring's table).

    Subclasses pass their constructor arguments to ``super().__init__(**kwargs)`` (they become
    :meth:`dumps`) and override ``_init_weight``; bias/gamma/beta keep their fixed values unless
    a subclass overrides ``_init_bias`` and friends too.

    Initializers compare equal when class and arguments match; like MXNet's they are therefore
    unhashable.

    See notebook 04.
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

        See notebook 04.
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

        See notebook 04.
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

        See notebook 04.
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
_REGISTRY = {}


def _register(klass, name=None):
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise InitializerAssertionError(f"only subclasses of Initializer can be registered, got "
                                        f"{klass!r}")
    key = (name or klass.__name__).lower()
    old = _REGISTRY.get(key)
    if old is not None and old is not klass:
        warnings.warn(f"initializer {klass.__module__}.{klass.__name__} registered as '{key}' "
                      f"replaces {old.__module__}.{old.__name__}", UserWarning, stacklevel=3)
    _REGISTRY[key] = klass
    return klass


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

    See notebook 04.
    """
    return _register(klass)


def alias(*aliases):
    """A decorator registering a class under extra names: ``@alias('zeros')``.

    See notebook 04.
    """
    def decorate(klass):
        for name in aliases:
            _register(klass, name)
        return klass
    return decorate


def registered():
    """The registry as a dict ``name -> class`` (a copy), aliases included.

    See notebook 04.
    """
    return dict(_REGISTRY)


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

    See notebook 04.
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
    text = spec.strip()
    if text.startswith("[") or text.startswith("{"):
        if args or kwargs:
            raise InitializerAssertionError("a JSON initializer spec takes no extra arguments")
        parsed = json.loads(text)
        if isinstance(parsed, list):
            name, params = parsed
            return create(name, **params)
        return create(**parsed)
    key = text.lower()
    if key not in _REGISTRY:
        raise InitializerAssertionError(
            f"{key} is not registered as an initializer.{did_you_mean(key, _REGISTRY)} Known: "
            f"{sorted(_REGISTRY)}; add your own with @mx.init.register.")
    return _REGISTRY[key](*args, **kwargs)


# -- composite initializers (plain callables, as in MXNet: not registered, no dumps) ------------
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

    See notebook 04.
    """

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, string_types):
            from . import ndarray as _nd  # the serializer may load after this module
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

    See notebook 04.
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


# -- the concrete initializers -----------------------------------------------------------------
@register
@alias("zeros")
class Zero(Initializer):
    """Weights 0 (biases 0, gammas 1 as always). Registered as ``'zero'`` and ``'zeros'``.

    See notebook 04.
    """

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        _fill(arr, 0)


@register
@alias("ones")
class One(Initializer):
    """Weights 1. Registered as ``'one'`` and ``'ones'``.

    See notebook 04.
    """

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        _fill(arr, 1)


@register
class Constant(Initializer):
    """Weights set to ``value``; other names keep their rules (``bias`` 0, ``gamma`` 1, ...).

    Parameters
    ----------
    value : float or array-like
        A scalar, or an array broadcastable to the weight's shape.

    Examples
    --------
    >>> Constant(3.0).dumps()
    '["constant", {"value": 3.0}]'

    See notebook 04.
    """

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr):
        _fill(arr, self.value)

    def dumps(self):
        value = self._kwargs["value"]
        if isinstance(value, NDArray):
            value = value.asnumpy()
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            value = value.tolist()
        self._kwargs["value"] = value  # MXNet also keeps the JSON-ready form
        return json.dumps([type(self).__name__.lower(), self._kwargs])


@register
class Uniform(Initializer):
    """Weights drawn uniformly from ``[-scale, scale)``.

    ``Uniform(0.01)`` is the default of ``Module.init_params``.

    Parameters
    ----------
    scale : float
        Half-width of the interval (0.07 by default).

    See notebook 04.
    """

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill(arr, _random.rng().uniform(-self.scale, self.scale, tuple(arr.shape)))


@register
class Normal(Initializer):
    """Weights drawn from a normal distribution with mean 0 and deviation ``sigma`` (0.01).

    See notebook 04.
    """

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _fill(arr, _random.rng().normal(0.0, self.sigma, tuple(arr.shape)))


@register
class Orthogonal(Initializer):
    """Weights that are ``scale`` times an orthonormal matrix (Saxe et al., 2013).

    The weight is viewed as ``(shape[0], prod(shape[1:]))``; a random matrix of that shape is
    factorised by SVD and the factor of the same shape kept: its rows are orthonormal when the
    matrix is wide, its columns when it is tall.

    Parameters
    ----------
    scale : float
        Multiplies the orthonormal matrix (1.414, about sqrt(2), by default).
    rand_type : {'uniform', 'normal'}
        Distribution of the random matrix that is factorised.

    See notebook 04.
    """

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, name, arr):
        nout = int(arr.shape[0])
        nin = int(np.prod(arr.shape[1:], dtype=np.int64))
        if self.rand_type == "uniform":
            tmp = _random.rng().uniform(-1.0, 1.0, (nout, nin))
        elif self.rand_type == "normal":
            tmp = _random.rng().normal(0.0, 1.0, (nout, nin))
        else:
            raise InitializerError(f"Orthogonal: rand_type must be 'uniform' or 'normal', got "
                                   f"{self.rand_type!r} (initializing {name})")
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        _fill(arr, self.scale * res.reshape(arr.shape))


@register
class Xavier(Initializer):
    """Glorot & Bengio's initialization: a spread set by the layer's fan-in and fan-out.

    For a weight of shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and
    ``fan_out = out * prod(kernel)``. With ``factor`` the average of the two (``'avg'``),
    ``fan_in`` (``'in'``) or ``fan_out`` (``'out'``), the scale is
    ``sqrt(magnitude / factor)``; weights are uniform in ``[-scale, scale]`` (``'uniform'``) or
    normal with deviation ``scale`` (``'gaussian'``).

    Parameters
    ----------
    rnd_type : {'uniform', 'gaussian'}
    factor_type : {'avg', 'in', 'out'}
    magnitude : float
        3 by default, which makes the uniform variance ``1 / factor``.

    Raises
    ------
    InitializerError
        On a weight with fewer than 2 dimensions, or an unknown option (checked when called,
        as in MXNet).

    See notebook 04.
    """

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def scale_for(self, shape, name="weight"):
        """The bound (uniform) or deviation (gaussian) this initializer uses for ``shape``.

        See notebook 04.
        """
        shape = tuple(shape)
        if len(shape) < 2:
            raise InitializerError(f"Xavier initializer cannot be applied to vector {name} of "
                                   f"shape {shape}: it needs fan-in and fan-out, so at least "
                                   f"2-D. Give it another init (e.g. init=mx.init.Zero()).")
        receptive = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fans = {"in": shape[1] * receptive, "out": shape[0] * receptive}
        fans["avg"] = (fans["in"] + fans["out"]) / 2.0
        if self.factor_type not in fans:
            raise InitializerError(f"Incorrect factor type {self.factor_type!r}: use 'avg', 'in' "
                                   f"or 'out'")
        return float(np.sqrt(self.magnitude / fans[self.factor_type]))

    def _init_weight(self, name, arr):
        scale = self.scale_for(arr.shape, name)
        if self.rnd_type == "uniform":
            _fill(arr, _random.rng().uniform(-scale, scale, tuple(arr.shape)))
        elif self.rnd_type == "gaussian":
            _fill(arr, _random.rng().normal(0.0, scale, tuple(arr.shape)))
        else:
            raise InitializerError(f"Unknown random type {self.rnd_type!r}: use 'uniform' or "
                                   f"'gaussian'")


@register
class MSRAPrelu(Xavier):
    """He et al.'s initialization for (P)ReLU networks: Gaussian Xavier with magnitude
    ``2 / (1 + slope**2)``.

    Parameters
    ----------
    factor_type : {'avg', 'in', 'out'}
    slope : float
        The negative slope of the PReLU that follows (0.25); 0 gives plain ReLU's ``2 / fan``.

    See notebook 04.
    """

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


def bilinear_kernel(shape):
    """The bilinear-interpolation weight MXNet's ``Bilinear`` gives an ``(N, C, H, W)`` shape.

    Every (n, c) slice holds the same ``H x W`` tent ``(1 - |x/f - c|) * (1 - |y/f - c|)``
    with ``f = ceil(W / 2)`` and ``c = (2f - 1 - f mod 2) / (2f)``; ``f`` and ``c`` come from the
    width for both axes, as in MXNet (square kernels are the intended use).

    See notebook 04.
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


@register
class Bilinear(Initializer):
    """Weights of a Deconvolution that upsamples by bilinear interpolation.

    See :func:`bilinear_kernel` for the values.

    See notebook 04.
    """

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        _fill(arr, bilinear_kernel(arr.shape))


@register
class LSTMBias(Initializer):
    """An LSTM's stacked gate bias: 0 except the forget gate (the 2nd quarter), ``forget_bias``.

    It acts through ``_init_weight``, so it applies when set on the Variable
    (``init=mx.init.LSTMBias()``) — called on a name ending in ``bias`` by suffix it gives zeros
    like any initializer.

    Parameters
    ----------
    forget_bias : float
        1.0 by default (Jozefowicz et al., 2015).

    See notebook 04.
    """

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        _fill(arr, 0.0)
        num_hidden = int(arr.shape[0] / 4)
        arr[num_hidden:2 * num_hidden] = self.forget_bias


@register
class FusedRNN(Initializer):
    """The flat ``parameters`` vector of a ``FusedRNNCell``, initialized piece by piece.

    The vector is cut into the per-gate arrays of the unfused cells (``l0_i2h_f_weight``, ...)
    and each piece is filled by ``init`` — or, when ``init`` is None, by the initializer of the
    whole call (``init_params(initializer=...)``), so weights follow the usual name rules and
    biases start at 0. For LSTM every piece ending in ``_f_bias`` is set to ``forget_bias``;
    as in MXNet 1.9.1 that is both the i2h and the h2h forget bias, so the forget gate starts
    at ``2 * forget_bias``. ``FusedRNNCell`` puts this initializer on its ``parameters``.

    Parameters
    ----------
    init : Initializer, str or None
        For every piece (a :meth:`dumps` string works too); None: the global initializer.
    num_hidden, num_layers : int
    mode : {'lstm', 'gru', 'rnn_tanh', 'rnn_relu'}
    bidirectional : bool
    forget_bias : float

    See notebook 06.
    """

    def __init__(self, init, num_hidden, num_layers, mode, bidirectional=False,
                 forget_bias=1.0):
        if isinstance(init, string_types):
            init = create(init)
        super().__init__(init=init.dumps() if init is not None else None,
                         num_hidden=num_hidden, num_layers=num_layers, mode=mode,
                         bidirectional=bidirectional, forget_bias=forget_bias)
        self._init = init
        self._cell_args = (num_hidden, num_layers, mode, bidirectional)
        self._forget_bias = forget_bias

    def _init_weight(self, desc, arr):
        from .rnn.fused_cell import FusedRNNCell
        fallback = getattr(desc, "global_init", None)
        if self._init is None and (fallback is None or isinstance(fallback, FusedRNN)):
            raise InitializerError(f"FusedRNN(init=None) initializes '{desc}' with the "
                                   f"initializer of the whole call, and there is none: call "
                                   f"it through init_params(initializer=...) or give init=")
        cell = FusedRNNCell(*self._cell_args, forget_bias=self._forget_bias, prefix="")
        pieces = cell.unpack_weights({"parameters": arr})
        for name, piece in pieces.items():
            if self._cell_args[2] == "lstm" and name.endswith("_f_bias"):
                piece[:] = self._forget_bias
            else:
                (self._init or fallback)(InitDesc(name, global_init=fallback), piece)
        _fill(arr, cell.pack_weights(pieces)["parameters"])
