"""The registered initializers that draw or set values without looking at what the array
means: Zero, One, Constant, Uniform, Normal, Orthogonal, Xavier and MSRAPrelu.

Random draws come from :func:`mxteach.random_state.rng`, so ``mx.random.seed(n)`` makes them
repeat. See notebook 05.
"""
from __future__ import annotations

import json

import numpy as np

from .. import random_state as _random
from ..ndarray.ndarray import NDArray
from .base import Initializer, InitializerError, register, alias, _fill


@register
@alias("zeros")
class Zero(Initializer):
    """Weights 0 (biases 0, gammas 1 as always). Registered as ``'zero'`` and ``'zeros'``.

    See notebook 05.
    """

    def __init__(self):
        super().__init__()

    def _init_weight(self, _, arr):
        _fill(arr, 0)


@register
@alias("ones")
class One(Initializer):
    """Weights 1. Registered as ``'one'`` and ``'ones'``.

    See notebook 05.
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

    See notebook 05.
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

    See notebook 05.
    """

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill(arr, _random.rng().uniform(-self.scale, self.scale, tuple(arr.shape)))


@register
class Normal(Initializer):
    """Weights drawn from a normal distribution with mean 0 and deviation ``sigma`` (0.01).

    See notebook 05.
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

    See notebook 05.
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

    See notebook 05.
    """

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def scale_for(self, shape, name="weight"):
        """The bound (uniform) or deviation (gaussian) this initializer uses for ``shape``.

        See notebook 05.
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

    See notebook 05.
    """

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}

