"""Convolutional recurrent cells: the RNN, LSTM and GRU step with convolutions in place of the
matrix products, so states are images (batch, num_hidden, H', W') (Shi et al., NIPS 2015).

Each step is built from ordinary ``Convolution``, ``SliceChannel``, ``Activation`` and
elementwise nodes::

    i2h = Convolution(x_t, i2h_weight, i2h_bias)   kernel i2h_kernel, stride/pad/dilate as given
    h2h = Convolution(h_{t-1}, h2h_weight, h2h_bias)   stride 1, 'same' padding (odd kernel)

and then the gates of :class:`~mxteach.rnn.LSTMCell` / :class:`~mxteach.rnn.GRUCell` over the
channel axis. The state shape is what the i2h convolution makes of ``input_shape``. Names and
defaults follow MXNet 1.9.1 (prefixes ``ConvRNN_``, ``ConvLSTM_``, ``ConvGRU_``; the default
activation is ``LeakyReLU(act_type='leaky', slope=0.2)``, also for the LSTM candidate and
cell output where the dense LSTM uses tanh). See notebook 08.
"""
from __future__ import annotations

import functools

from .. import symbol as _sym
from ..base import MXNetAssertionError, MXNetNotImplementedError
from .rnn_cell import BaseRNNCell

__all__ = ["BaseConvRNNCell", "ConvRNNCell", "ConvLSTMCell", "ConvGRUCell"]

_LEAKY = functools.partial(_sym.LeakyReLU, act_type="leaky", slope=0.2)


class BaseConvRNNCell(BaseRNNCell):
    """What the convolutional cells share: geometry, the state shape and the two convolutions.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one step's input, batch first, e.g. ``(1, 3, 16, 16)`` (the batch size is
        not used).
    num_hidden : int
        Channels of the state.
    h2h_kernel, h2h_dilate : tuple of int
        State-to-state convolution; the kernel must be odd so 'same' padding exists.
    i2h_kernel, i2h_stride, i2h_pad, i2h_dilate : tuple of int
        Input-to-state convolution.
    i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
    h2h_bias_initializer : Initializer or str or None
        Set as the ``init`` of the weight Variables (None: the global initializer).
    activation : str or callable
    prefix : str
    params : RNNParams, optional
    conv_layout : str
        ``'NCHW'`` (mxteach's Convolution runs channel-first layouts only).

    See notebook 08.
    """

    def __init__(self, input_shape, num_hidden, h2h_kernel, h2h_dilate, i2h_kernel,
                 i2h_stride, i2h_pad, i2h_dilate, i2h_weight_initializer,
                 h2h_weight_initializer, i2h_bias_initializer, h2h_bias_initializer,
                 activation, prefix="", params=None, conv_layout="NCHW"):
        super().__init__(prefix=prefix, params=params)
        if any(k % 2 != 1 for k in h2h_kernel):
            raise MXNetAssertionError(f"{type(self).__name__}: h2h_kernel = {h2h_kernel}; only "
                                      f"odd sizes are supported (the state keeps its shape)")
        self._h2h_kernel = tuple(h2h_kernel)
        self._h2h_dilate = tuple(h2h_dilate)
        self._h2h_pad = tuple(d * (k - 1) // 2 for k, d in zip(h2h_kernel, h2h_dilate))
        self._i2h_kernel = tuple(i2h_kernel)
        self._i2h_stride = tuple(i2h_stride)
        self._i2h_pad = tuple(i2h_pad)
        self._i2h_dilate = tuple(i2h_dilate)
        self._num_hidden = num_hidden
        self._input_shape = tuple(input_shape)
        self._conv_layout = conv_layout
        self._activation = activation
        # the state has the shape the i2h convolution gives the input (batch left open)
        probe = _sym.Convolution(data=_sym.Variable("data"), num_filter=num_hidden,
                                 kernel=self._i2h_kernel, stride=self._i2h_stride,
                                 pad=self._i2h_pad, dilate=self._i2h_dilate, layout=conv_layout)
        out_shape = probe.infer_shape(data=self._input_shape)[1][0]
        self._state_shape = (0,) + tuple(out_shape[1:])
        self._iW = self.params.get("i2h_weight", init=i2h_weight_initializer)
        self._hW = self.params.get("h2h_weight", init=h2h_weight_initializer)
        self._iB = self.params.get("i2h_bias", init=i2h_bias_initializer)
        self._hB = self.params.get("h2h_bias", init=h2h_bias_initializer)

    @property
    def _num_gates(self):
        return len(self._gate_names)

    @property
    def state_info(self):
        return [{"shape": self._state_shape, "__layout__": self._conv_layout}
                for _ in range(self._num_states)]

    _num_states = 2     # MXNet's base describes two states; the RNN and GRU cells have one

    def _step(self, inputs, states):
        """(node name prefix, i2h, h2h) of the next time step."""
        self._counter += 1
        name = f"{self._prefix}t{self._counter}_"
        return (name,) + self._conv_forward(inputs, states, name)

    def _conv_forward(self, inputs, states, name):
        channels = self._num_hidden * self._num_gates
        i2h = _sym.Convolution(name=f"{name}i2h", data=inputs, num_filter=channels,
                               kernel=self._i2h_kernel, stride=self._i2h_stride,
                               pad=self._i2h_pad, dilate=self._i2h_dilate, weight=self._iW,
                               bias=self._iB, layout=self._conv_layout)
        h2h = _sym.Convolution(name=f"{name}h2h", data=states[0], num_filter=channels,
                               kernel=self._h2h_kernel, dilate=self._h2h_dilate,
                               pad=self._h2h_pad, stride=(1, 1), weight=self._hW,
                               bias=self._hB, layout=self._conv_layout)
        return i2h, h2h

    def __call__(self, inputs, states):
        raise MXNetNotImplementedError("BaseConvRNNCell is abstract: use ConvRNNCell, "
                                       "ConvLSTMCell or ConvGRUCell")


def _constructor(default_prefix):
    """The public cells' ``__init__``: MXNet's defaults (3x3 kernels, stride 1, pad 1, zero
    biases, LeakyReLU(0.2)); only the prefix differs between the three cells."""
    def __init__(self, input_shape, num_hidden, h2h_kernel=(3, 3), h2h_dilate=(1, 1),
                 i2h_kernel=(3, 3), i2h_stride=(1, 1), i2h_pad=(1, 1), i2h_dilate=(1, 1),
                 i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros",
                 activation=_LEAKY, prefix=default_prefix, params=None, conv_layout="NCHW"):
        BaseConvRNNCell.__init__(self, input_shape, num_hidden, h2h_kernel, h2h_dilate,
                                 i2h_kernel, i2h_stride, i2h_pad, i2h_dilate,
                                 i2h_weight_initializer, h2h_weight_initializer,
                                 i2h_bias_initializer, h2h_bias_initializer, activation, prefix,
                                 params, conv_layout)
    return __init__


class ConvRNNCell(BaseConvRNNCell):
    """Convolutional Elman cell: ``h_t = act(conv_i2h(x_t) + conv_h2h(h_{t-1}))``.

    Parameters are those of :class:`BaseConvRNNCell`, with MXNet's defaults: 3x3 kernels,
    stride 1, pad 1, dilation 1, zero biases, LeakyReLU(0.2), prefix ``'ConvRNN_'``.

    See notebook 08.
    """

    __init__ = _constructor("ConvRNN_")

    _num_states = 1

    @property
    def _gate_names(self):
        return ("",)

    def __call__(self, inputs, states):
        name, i2h, h2h = self._step(inputs, states)
        out = self._get_activation(i2h + h2h, self._activation, name=f"{name}out")
        return out, [out]


class ConvLSTMCell(BaseConvRNNCell):
    """Convolutional LSTM (Shi et al., 2015); gates ``i, f, c, o`` stacked on the channels::

        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * act(c)
        h_t = sigmoid(o) * act(c_t)

    with ``act`` the cell's activation (LeakyReLU(0.2) by default, as in MXNet). States are
    ``[h, c]``. Other parameters as :class:`ConvRNNCell`; prefix ``'ConvLSTM_'``.

    See notebook 08.
    """

    __init__ = _constructor("ConvLSTM_")

    @property
    def _gate_names(self):
        return ["_i", "_f", "_c", "_o"]

    def __call__(self, inputs, states):
        name, i2h, h2h = self._step(inputs, states)
        gates = _sym.SliceChannel(i2h + h2h, num_outputs=4,
                                  axis=self._conv_layout.find("C"), name=f"{name}slice")
        in_gate = _sym.Activation(gates[0], act_type="sigmoid", name=f"{name}i")
        forget_gate = _sym.Activation(gates[1], act_type="sigmoid", name=f"{name}f")
        candidate = self._get_activation(gates[2], self._activation, name=f"{name}c")
        out_gate = _sym.Activation(gates[3], act_type="sigmoid", name=f"{name}o")
        next_c = _sym._plus(forget_gate * states[1], in_gate * candidate, name=f"{name}state")
        next_h = _sym._mul(out_gate, self._get_activation(next_c, self._activation),
                           name=f"{name}out")
        return next_h, [next_h, next_c]


class ConvGRUCell(BaseConvRNNCell):
    """Convolutional GRU; gates ``r, z, o`` stacked on the channels, the reset gate applied
    to the h2h convolution's candidate block (as :class:`~mxteach.rnn.GRUCell`)::

        h~ = act(i2h_o + sigmoid(r) * h2h_o)
        h_t = (1 - sigmoid(z)) * h~ + sigmoid(z) * h_{t-1}

    Other parameters as :class:`ConvRNNCell`; prefix ``'ConvGRU_'``.

    See notebook 08.
    """

    __init__ = _constructor("ConvGRU_")

    _num_states = 1

    @property
    def _gate_names(self):
        return ["_r", "_z", "_o"]

    def __call__(self, inputs, states):
        name, i2h, h2h = self._step(inputs, states)
        i_r, i_z, i_o = _sym.SliceChannel(i2h, num_outputs=3, name=f"{name}_i2h_slice")
        h_r, h_z, h_o = _sym.SliceChannel(h2h, num_outputs=3, name=f"{name}_h2h_slice")
        reset = _sym.Activation(i_r + h_r, act_type="sigmoid", name=f"{name}_r_act")
        update = _sym.Activation(i_z + h_z, act_type="sigmoid", name=f"{name}_z_act")
        candidate = self._get_activation(i_o + reset * h_o, self._activation,
                                         name=f"{name}_h_act")
        next_h = _sym._plus((1. - update) * candidate, update * states[0], name=f"{name}out")
        return next_h, [next_h]
