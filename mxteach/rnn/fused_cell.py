"""``FusedRNNCell``: a whole stack of RNN/LSTM/GRU layers as one ``RNN`` operator node.

Where ``SequentialRNNCell`` builds a graph with a few nodes per time step and layer, the fused
cell unrolls to a single ``mx.sym.RNN`` node whose weights are one flat Variable
``{prefix}parameters`` (packed as ``ops/rnn.py`` describes). ``unpack_weights`` cuts that vector
into the per-gate arrays the unfused cells use (``lstm_l0_i2h_f_weight``, ...), and ``unfuse()``
returns the equivalent stack of ``LSTMCell``/``GRUCell``/``RNNCell`` (``BidirectionalCell``
when bidirectional) that gives the same numbers with the same weights, and can be stepped.

MXNet's docstring says the fused cell runs only with cuDNN on a GPU; in MXNet 1.9.1 it runs on
the CPU too, and so it does here (on Numba kernels). See notebook 08.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import initializer as _init
from .. import ndarray as _nd
from .. import symbol as _sym
from ..base import MXNetError, MXNetNotImplementedError
from ..initializer.structured import FUSED_GATES, fused_rnn_num_input, fused_rnn_slices
from .container_cell import BidirectionalCell, SequentialRNNCell
from .modifier_cell import DropoutCell
from .rnn_cell import BaseRNNCell, GRUCell, LSTMCell, RNNCell
from .sequence import normalize_sequence

__all__ = ["FusedRNNCell"]

_GATES = FUSED_GATES


def _numpy(arr):
    return arr.asnumpy() if hasattr(arr, "asnumpy") else np.asarray(arr)


class FusedRNNCell(BaseRNNCell):
    """Several recurrent layers over the whole sequence in one ``RNN`` operator.

    Parameters
    ----------
    num_hidden : int
        Units per layer and direction (outputs have ``2 * num_hidden`` when bidirectional).
    num_layers : int
        Stacked layers, 1 by default.
    mode : {'lstm', 'gru', 'rnn_tanh', 'rnn_relu'}
    bidirectional : bool
        Also run each layer right-to-left and concatenate.
    dropout : float
        Dropout on the outputs of every layer but the last, while training.
    get_next_state : bool
        Let ``unroll`` return the final states (otherwise it returns ``[]``).
    forget_bias : float
        LSTM: the initial value of the forget-gate biases (see :class:`mxteach.init.FusedRNN`).
    prefix : str, optional
        Default ``'{mode}_'``; the RNN node is ``{prefix}rnn``, the weights
        ``{prefix}parameters``.
    params : RNNParams, optional

    Examples
    --------
    >>> import mxteach as mx
    >>> cell = mx.rnn.FusedRNNCell(8, num_layers=2, mode='gru', prefix='g_')
    >>> out, _ = cell.unroll(5, mx.sym.Variable('data'), layout='TNC', merge_outputs=True)
    >>> out.list_arguments()
    ['data', 'g_parameters']

    See notebook 08.
    """

    def __init__(self, num_hidden, num_layers=1, mode="lstm", bidirectional=False,
                 dropout=0., get_next_state=False, forget_bias=1.0, prefix=None, params=None):
        if mode not in _GATES:
            raise MXNetError(f"FusedRNNCell: mode = {mode!r}; expected one of {list(_GATES)}")
        if prefix is None:
            prefix = f"{mode}_"
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._num_layers = num_layers
        self._mode = mode
        self._bidirectional = bool(bidirectional)
        self._dropout = dropout
        self._get_next_state = get_next_state
        self._directions = ["l", "r"] if bidirectional else ["l"]
        init = _init.FusedRNN(None, num_hidden, num_layers, mode, bidirectional, forget_bias)
        self._parameter = self.params.get("parameters", init=init)

    @property
    def state_info(self):
        shape = ((1 + self._bidirectional) * self._num_layers, 0, self._num_hidden)
        return [{"shape": shape, "__layout__": "LNC"}
                for _ in range(2 if self._mode == "lstm" else 1)]

    @property
    def _gate_names(self):
        return list(_GATES[self._mode])

    @property
    def _num_gates(self):
        return len(self._gate_names)

    def _slices(self, num_input):
        """``name -> (offset, shape)`` of every per-gate array in the flat vector, in MXNet's
        order (all weights, then all biases)."""
        return fused_rnn_slices(self._mode, self._num_layers, self._bidirectional,
                                self._num_hidden, num_input, self._prefix)

    def _num_input(self, size):
        return fused_rnn_num_input(self._mode, self._num_layers, self._bidirectional,
                                   self._num_hidden, size, self._prefix)

    def unpack_weights(self, args):
        """Cut ``{prefix}parameters`` into per-gate weights and biases named like the unfused
        cells' unpacked weights (``{prefix}l0_i2h_i_weight``, ``{prefix}r1_h2h_z_bias``).

        Parameters
        ----------
        args : dict of str to NDArray
            Must hold ``{prefix}parameters``; not modified.

        Returns
        -------
        dict of str to NDArray
            A copy with the flat vector replaced by its pieces (copies).

        See notebook 08.
        """
        args = dict(args)
        name = self._parameter.name
        if name not in args:
            raise MXNetError(f"FusedRNNCell.unpack_weights: no '{name}' in the arguments; got "
                             f"{sorted(args)}")
        arr = args.pop(name)
        flat = _numpy(arr).reshape(-1)
        ctx = getattr(arr, "context", None)
        slices, _ = self._slices(self._num_input(flat.size))
        for key, (off, shape) in slices.items():
            piece = flat[off:off + int(np.prod(shape))].reshape(shape).copy()
            args[key] = _nd.array(piece, ctx=ctx, dtype=piece.dtype)
        return args

    def pack_weights(self, args):
        """Inverse of :meth:`unpack_weights`: gather the pieces into ``{prefix}parameters``.

        See notebook 08.
        """
        args = dict(args)
        first = f"{self._prefix}l0_i2h{self._gate_names[0]}_weight"
        if first not in args:
            raise MXNetError(f"FusedRNNCell.pack_weights: no '{first}' in the arguments; got "
                             f"{sorted(args)}")
        w0 = args[first]
        dtype = _numpy(w0).dtype
        slices, total = self._slices(_numpy(w0).shape[1])
        flat = np.zeros(total, dtype=dtype)
        for key, (off, shape) in slices.items():
            if key not in args:
                raise MXNetError(f"FusedRNNCell.pack_weights: '{key}' is missing")
            piece = _numpy(args.pop(key))
            if piece.shape != shape:
                raise MXNetError(f"FusedRNNCell.pack_weights: '{key}' has shape {piece.shape}, "
                                 f"expected {shape}")
            flat[off:off + piece.size] = piece.reshape(-1)
        args[self._parameter.name] = _nd.array(flat, ctx=getattr(w0, "context", None),
                                               dtype=dtype)
        return args

    def __call__(self, inputs, states):
        raise MXNetNotImplementedError("FusedRNNCell cannot be stepped: use unroll, or "
                                       "unfuse() for a cell that steps")

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Unroll over ``length`` steps as one ``RNN`` node (see :meth:`BaseRNNCell.unroll`).

        ``'NTC'`` inputs are swapped to ``'TNC'`` (with a warning, as in MXNet) and back.
        Returns ``(outputs, states)``; ``states`` is ``[]`` unless ``get_next_state``.

        See notebook 08.
        """
        self.reset()
        inputs, axis = normalize_sequence(length, inputs, layout, True)
        if axis not in (0, 1):
            raise MXNetError(f"FusedRNNCell: layout '{layout}' is not supported; use 'TNC' or "
                             f"'NTC'")
        if axis == 1:
            warnings.warn("NTC layout detected. Consider using TNC for FusedRNNCell for "
                          "faster speed")
            inputs = _sym.swapaxes(inputs, dim1=0, dim2=1)
        if begin_state is None:
            begin_state = self.begin_state()
        states = {"state": begin_state[0]}
        if self._mode == "lstm":
            states["state_cell"] = begin_state[1]
        rnn = _sym.RNN(data=inputs, parameters=self._parameter, state_size=self._num_hidden,
                       num_layers=self._num_layers, bidirectional=self._bidirectional,
                       p=self._dropout, state_outputs=self._get_next_state, mode=self._mode,
                       name=self._prefix + "rnn", **states)
        if not self._get_next_state:
            outputs, states = rnn, []
        else:
            outputs = rnn[0]
            states = [rnn[k] for k in range(1, 3 if self._mode == "lstm" else 2)]
            for s in states:
                s._set_attr(__layout__="LNC")
        if axis == 1:
            outputs = _sym.swapaxes(outputs, dim1=0, dim2=1)
        outputs, _ = normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def unfuse(self):
        """The same network as a :class:`SequentialRNNCell` of unfused cells.

        Layer ``k`` is ``{prefix}l{k}_`` (and ``{prefix}r{k}_`` inside a
        :class:`BidirectionalCell` when bidirectional), with a :class:`DropoutCell` between
        layers when ``dropout > 0``. Feed it ``unpack_weights`` of the fused parameters, then
        the stack's ``pack_weights``, to get the same outputs.

        See notebook 08.
        """
        make = {"rnn_relu": lambda pre: RNNCell(self._num_hidden, activation="relu", prefix=pre),
                "rnn_tanh": lambda pre: RNNCell(self._num_hidden, activation="tanh", prefix=pre),
                "lstm": lambda pre: LSTMCell(self._num_hidden, prefix=pre),
                "gru": lambda pre: GRUCell(self._num_hidden, prefix=pre)}[self._mode]
        stack = SequentialRNNCell()
        for i in range(self._num_layers):
            if self._bidirectional:
                stack.add(BidirectionalCell(make(f"{self._prefix}l{i}_"),
                                            make(f"{self._prefix}r{i}_"),
                                            output_prefix=f"{self._prefix}bi_l{i}_"))
            else:
                stack.add(make(f"{self._prefix}l{i}_"))
            if self._dropout > 0 and i != self._num_layers - 1:
                stack.add(DropoutCell(self._dropout, prefix=f"{self._prefix}_dropout{i}_"))
        return stack

