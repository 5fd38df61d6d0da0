"""Initializers that fill an array by its structure: bilinear upsampling kernels
(:class:`Bilinear`), an LSTM's stacked gate bias (:class:`LSTMBias`) and the flat parameter
vector of the fused RNN operator (:class:`FusedRNN`, with the per-gate layout that
``mx.rnn.FusedRNNCell`` shares).

See notebook 08.
"""
from __future__ import annotations

import numpy as np

from ..base import MXNetError, string_types
from ..ndarray.ndarray import NDArray, array as _array
from ..ops.rnn import rnn_param_layout
from .base import (InitDesc, Initializer, InitializerError, register, create, _fill,
                   bilinear_kernel)

__all__ = ["Bilinear", "LSTMBias", "FusedRNN", "FUSED_GATES", "fused_rnn_slices",
           "fused_rnn_num_input"]


@register
class Bilinear(Initializer):
    """Weights of a Deconvolution that upsamples by bilinear interpolation.

    See :func:`bilinear_kernel` for the values.

    See notebook 05.
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

    See notebook 05.
    """

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        _fill(arr, 0.0)
        num_hidden = int(arr.shape[0] / 4)
        arr[num_hidden:2 * num_hidden] = self.forget_bias


# -- the fused RNN operator's parameter vector, cut into the unfused cells' per-gate arrays --
# (here, below mx.rnn, so that both FusedRNN and rnn.fused_cell.FusedRNNCell can use it)
FUSED_GATES = {"rnn_relu": ("",), "rnn_tanh": ("",), "lstm": ("_i", "_f", "_c", "_o"),
               "gru": ("_r", "_z", "_o")}


def _gates(mode):
    if mode not in FUSED_GATES:
        raise MXNetError(f"FusedRNNCell: mode = {mode!r}; expected one of {list(FUSED_GATES)}")
    return FUSED_GATES[mode]


def fused_rnn_slices(mode, num_layers, bidirectional, num_hidden, num_input, prefix=""):
    """Where each per-gate weight and bias sits in the fused ``parameters`` vector.

    Parameters
    ----------
    mode : {'lstm', 'gru', 'rnn_tanh', 'rnn_relu'}
    num_layers, num_hidden, num_input : int
    bidirectional : bool
    prefix : str
        Put in front of every name.

    Returns
    -------
    (dict, int)
        ``name -> (offset, shape)`` in MXNet's order (all weights, then all biases), names
        as the unfused cells' (``{prefix}l0_i2h_i_weight``, ``{prefix}r1_h2h_z_bias``); and
        the vector's size.

    Examples
    --------
    >>> slices, total = fused_rnn_slices('gru', 1, False, 5, 4)
    >>> slices['l0_h2h_r_weight'], total
    ((60, (5, 5)), 165)

    See notebook 08.
    """
    gates, h = _gates(mode), num_hidden
    directions = ["l", "r"] if bidirectional else ["l"]
    blocks, total = rnn_param_layout(mode, num_layers, bidirectional, num_input, h)
    out = {}
    for kind, keys in (("weight", (("wx", "i2h"), ("wh", "h2h"))),
                       ("bias", (("bx", "i2h"), ("bh", "h2h")))):
        for b in blocks:
            stem = f"{prefix}{directions[b['direction']]}{b['layer']}_"
            for key, group in keys:
                off, shape = b[key]
                width = int(np.prod(shape[1:]))
                for j, gate in enumerate(gates):
                    out[f"{stem}{group}{gate}_{kind}"] = (off + j * h * width,
                                                         (h,) + tuple(shape[1:]))
    return out, total


def fused_rnn_num_input(mode, num_layers, bidirectional, num_hidden, size, prefix=""):
    """The input width a fused ``parameters`` vector of ``size`` elements was made for;
    MXNetError when no width fits."""
    b, m, h, L = 1 + bool(bidirectional), len(_gates(mode)), num_hidden, num_layers
    per = b * h * m
    rest = size - (L - 1) * (h + b * h + 2) * per
    if size <= 0 or rest % per or rest // per - h - 2 < 1:
        raise MXNetError(f"FusedRNNCell '{prefix}': a parameters vector of {size} "
                         f"elements does not fit {L} layer(s) of {mode} with "
                         f"num_hidden={h}" + (", bidirectional" if b == 2 else ""))
    return rest // per - h - 2


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

    See notebook 08.
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
        fallback = getattr(desc, "global_init", None)
        if self._init is None and (fallback is None or isinstance(fallback, FusedRNN)):
            raise InitializerError(f"FusedRNN(init=None) initializes '{desc}' with the "
                                   f"initializer of the whole call, and there is none: call "
                                   f"it through init_params(initializer=...) or give init=")
        num_hidden, num_layers, mode, bidirectional = self._cell_args
        flat = (arr.asnumpy() if isinstance(arr, NDArray) else np.asarray(arr)).reshape(-1)
        ctx = getattr(arr, "context", None)
        num_input = fused_rnn_num_input(mode, num_layers, bidirectional, num_hidden, flat.size)
        slices, total = fused_rnn_slices(mode, num_layers, bidirectional, num_hidden, num_input)
        packed = np.zeros(total, dtype=flat.dtype)
        for name, (off, shape) in slices.items():   # MXNet's order: the draws follow it
            size = int(np.prod(shape))
            piece = _array(flat[off:off + size].reshape(shape), ctx=ctx, dtype=flat.dtype)
            if mode == "lstm" and name.endswith("_f_bias"):
                piece[:] = self._forget_bias
            else:
                (self._init or fallback)(InitDesc(name, global_init=fallback), piece)
            packed[off:off + size] = piece.asnumpy().reshape(-1)
        _fill(arr, packed)
