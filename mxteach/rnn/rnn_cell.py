"""Recurrent cells for the symbolic API: one time step as a small graph, unrolled in Python.

A cell turns ``(input_t, states_{t-1})`` into ``(output_t, states_t)`` by composing ordinary
operators (FullyConnected, Activation, SliceChannel, elementwise arithmetic). ``unroll(T, ...)``
calls the cell ``T`` times, so the unrolled network is just a longer symbol whose weights are
shared through the cell's :class:`RNNParams`. Names follow MXNet 1.9.1 exactly, so parameter
files, ``list_arguments()`` and numbers match real MXNet. How ``unroll`` starts from zero
states is explained in ``sequence.py``. See notebook 08.
"""
from __future__ import annotations

from .. import ndarray as _nd
from .. import symbol as _sym
from .. import initializer as _init
from ..base import MXNetError
from .sequence import default_begin_state, normalize_sequence

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell"]


# -- parameters --------------------------------------------------------------------------------
class RNNParams:
    """The weight Variables of one or more cells, created on first request and then shared.

    Parameters
    ----------
    prefix : str
        Put before every name: ``RNNParams('lstm_').get('i2h_weight')`` is the Variable
        ``lstm_i2h_weight``.

    Examples
    --------
    >>> p = RNNParams('enc_')
    >>> p.get('i2h_weight') is p.get('i2h_weight')
    True

    See notebook 08.
    """

    def __init__(self, prefix=""):
        self._prefix = prefix
        self._params = {}

    def get(self, name, **kwargs):
        """The Variable ``prefix + name``; ``kwargs`` (init, shape, ...) apply when creating it."""
        full = self._prefix + name
        if full not in self._params:
            self._params[full] = _sym.Variable(full, **kwargs)
        return self._params[full]

    def __repr__(self):
        return f"RNNParams(prefix={self._prefix!r}, params={sorted(self._params)})"


# -- the base cell ------------------------------------------------------------------------------
class BaseRNNCell:
    """What every symbolic RNN cell shares: parameters, state bookkeeping and ``unroll``.

    A subclass defines ``state_info`` (one ``{'shape': (0, H), '__layout__': 'NC'}`` per state)
    and ``__call__(inputs, states) -> (output, new_states)``, which builds one time step and
    bumps ``self._counter`` so node names carry the step (``lstm_t3_i2h``).

    Parameters
    ----------
    prefix : str
        Put before node names, and before weight names when ``params`` is None.
    params : RNNParams, optional
        Share weights with another cell by passing its ``params``.

    See notebook 08.
    """

    def __init__(self, prefix="", params=None):
        self._own_params = params is None
        self._prefix = prefix
        self._params = RNNParams(prefix) if params is None else params
        self._modified = False
        self.reset()

    def reset(self):
        """Restart step and state counters (``unroll`` does this); names restart at t0."""
        self._init_counter = -1
        self._counter = -1
        for cell in getattr(self, "_cells", ()):
            cell.reset()

    def __call__(self, inputs, states):
        raise MXNetError(f"{type(self).__name__} has no single-step rule: subclass BaseRNNCell "
                         f"and define __call__(inputs, states), or use unroll")

    @property
    def params(self):
        """The :class:`RNNParams` holding this cell's weights (now shared, so not 'own')."""
        self._own_params = False
        return self._params

    @property
    def state_info(self):
        """A list with one dict (``shape``, ``__layout__``) per state."""
        raise MXNetError(f"{type(self).__name__} does not describe its states: define the "
                         f"state_info property")

    @property
    def state_shape(self):
        return [info["shape"] for info in self.state_info]

    @property
    def _gate_names(self):
        return ()

    def begin_state(self, func=None, **kwargs):
        """Symbols for the states before the first step, named ``{prefix}begin_state_{k}``.

        Parameters
        ----------
        func : callable, optional
            Called as ``func(name=..., shape=(0, H), __layout__='NC', **kwargs)`` per state.
            Default ``mx.sym.zeros`` when the symbol layer has it, else ``mx.sym.Variable``
            (the states become inputs you feed). ``unroll`` without ``begin_state`` always
            gives zeros. Pass ``mx.sym.Variable`` to feed states yourself.
        **kwargs
            More arguments for ``func`` (dtype, ...).

        Returns
        -------
        list of Symbol
            See notebook 08.
        """
        if self._modified:
            raise MXNetError(f"{type(self).__name__} '{self._prefix}' is wrapped by a modifier "
                             f"cell (Dropout/Zoneout/Residual); call the modifier's begin_state")
        if func is None:
            func = getattr(_sym, "zeros", None) or _sym.Variable
        states = []
        for info in self.state_info:
            self._init_counter += 1
            if info is not None:
                kwargs.update(info)
            states.append(func(name=f"{self._prefix}begin_state_{self._init_counter}",
                               **kwargs))
        return states

    def unpack_weights(self, args):
        """Split the stacked gate weights into one entry per gate (``lstm_i2h_f_weight``).

        Parameters
        ----------
        args : dict of str to NDArray
            Usually ``Module.get_params()[0]``; not modified.

        Returns
        -------
        dict of str to NDArray
            A copy where ``{prefix}{i2h,h2h}_weight``/``_bias`` are replaced by per-gate arrays.
            See notebook 08.
        """
        args = dict(args)
        if not self._gate_names:
            return args
        h = self._num_hidden
        for group in ("i2h", "h2h"):
            for kind in ("weight", "bias"):
                packed = args.pop(f"{self._prefix}{group}_{kind}")
                for j, gate in enumerate(self._gate_names):
                    args[f"{self._prefix}{group}{gate}_{kind}"] = packed[j * h:(j + 1) * h].copy()
        return args

    def pack_weights(self, args):
        """Inverse of :meth:`unpack_weights`: stack per-gate arrays in gate order.

        See notebook 08.
        """
        args = dict(args)
        if not self._gate_names:
            return args
        for group in ("i2h", "h2h"):
            for kind in ("weight", "bias"):
                parts = [args.pop(f"{self._prefix}{group}{gate}_{kind}")
                         for gate in self._gate_names]
                args[f"{self._prefix}{group}_{kind}"] = _nd.concatenate(parts)
        return args

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Apply the cell ``length`` times.

        Parameters
        ----------
        length : int
            Number of time steps.
        inputs : Symbol or list of Symbol
            One symbol shaped by ``layout`` (split into steps here), or ``length`` symbols
            shaped ``(batch, ...)``.
        begin_state : list of Symbol, optional
            Initial states; zeros (see the module docstring) when None.
        layout : {'NTC', 'TNC'}
            Layout of a merged ``inputs`` and of merged outputs.
        merge_outputs : bool or None
            True: one symbol; False: a list of steps; None: whichever is cheaper.

        Returns
        -------
        (Symbol or list of Symbol, list of Symbol)
            Outputs and the states after the last step. See notebook 08.
        """
        self.reset()
        steps, _ = normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = default_begin_state(self, steps, layout)
        states = begin_state
        outputs = []
        for x in steps:
            out, states = self(x, states)
            outputs.append(out)
        outputs, _ = normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def _get_activation(self, inputs, activation, **kwargs):
        if isinstance(activation, str):
            return _sym.Activation(inputs, act_type=activation, **kwargs)
        return activation(inputs, **kwargs)


# -- the three classic cells -------------------------------------------------------------------
class _DenseCell(BaseRNNCell):
    """What the fully-connected cells share: the i2h/h2h weights and biases, ``(batch,
    num_hidden)`` states, and each step's two FullyConnected projections."""

    _num_states = 1

    def __init__(self, num_hidden, prefix, params, i2h_bias_init=None):
        super().__init__(prefix=prefix, params=params)
        self._num_hidden = num_hidden
        self._iW = self.params.get("i2h_weight")
        self._iB = self.params.get("i2h_bias", **({} if i2h_bias_init is None
                                                  else {"init": i2h_bias_init}))
        self._hW = self.params.get("h2h_weight")
        self._hB = self.params.get("h2h_bias")

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"}
                for _ in range(self._num_states)]

    def _projections(self, inputs, state, sep=""):
        """(step name prefix, i2h, h2h) of the next step: one unit block per gate."""
        self._counter += 1
        step = f"{self._prefix}t{self._counter}_"
        n = self._num_hidden * len(self._gate_names)
        i2h = _sym.FullyConnected(data=inputs, weight=self._iW, bias=self._iB, num_hidden=n,
                                  name=f"{step}{sep}i2h")
        h2h = _sym.FullyConnected(data=state, weight=self._hW, bias=self._hB, num_hidden=n,
                                  name=f"{step}{sep}h2h")
        return step, i2h, h2h


class RNNCell(_DenseCell):
    """Elman RNN: ``h_t = act(W_i x_t + b_i + W_h h_{t-1} + b_h)``.

    Parameters
    ----------
    num_hidden : int
        Size of ``h``.
    activation : str or callable
        ``act_type`` of an Activation ('tanh', 'relu', ...) or ``f(symbol, name=...)``.
    prefix : str
        Default ``'rnn_'``; weights ``rnn_i2h_weight``, ``rnn_i2h_bias``, ``rnn_h2h_*``.
    params : RNNParams, optional

    See notebook 08.
    """

    def __init__(self, num_hidden, activation="tanh", prefix="rnn_", params=None):
        super().__init__(num_hidden, prefix, params)
        self._activation = activation

    @property
    def _gate_names(self):
        return ("",)

    def __call__(self, inputs, states):
        step, i2h, h2h = self._projections(inputs, states[0])
        out = self._get_activation(i2h + h2h, self._activation, name=f"{step}out")
        return out, [out]


class LSTMCell(_DenseCell):
    """Long short-term memory; the four gates are stacked in MXNet's order i, f, c, o.

    ``i2h`` and ``h2h`` are FullyConnected layers of ``4 * num_hidden`` units whose sum is split
    into input gate ``i``, forget gate ``f``, candidate ``c`` and output gate ``o``::

        c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(c)
        h_t = sigmoid(o) * tanh(c_t)

    States are ``[h, c]``. The ``i2h_bias`` Variable carries ``init=LSTMBias(forget_bias)``, so
    the forget gate starts open.

    Parameters
    ----------
    num_hidden : int
    prefix : str
        Default ``'lstm_'``.
    params : RNNParams, optional
    forget_bias : float
        Initial forget-gate bias, 1.0 by default.

    See notebook 08.
    """

    _num_states = 2

    def __init__(self, num_hidden, prefix="lstm_", params=None, forget_bias=1.0):
        super().__init__(num_hidden, prefix, params,
                         i2h_bias_init=_init.LSTMBias(forget_bias=forget_bias))

    @property
    def _gate_names(self):
        return ["_i", "_f", "_c", "_o"]

    def __call__(self, inputs, states):
        step, i2h, h2h = self._projections(inputs, states[0])
        gates = _sym.SliceChannel(i2h + h2h, num_outputs=4, name=f"{step}slice")
        in_gate = _sym.Activation(gates[0], act_type="sigmoid", name=f"{step}i")
        forget_gate = _sym.Activation(gates[1], act_type="sigmoid", name=f"{step}f")
        candidate = _sym.Activation(gates[2], act_type="tanh", name=f"{step}c")
        out_gate = _sym.Activation(gates[3], act_type="sigmoid", name=f"{step}o")
        next_c = _sym._plus(forget_gate * states[1], in_gate * candidate, name=f"{step}state")
        next_h = _sym._mul(out_gate, _sym.Activation(next_c, act_type="tanh"),
                           name=f"{step}out")
        return next_h, [next_h, next_c]


class GRUCell(_DenseCell):
    """Gated recurrent unit (Cho et al. 2014); gates stacked as r (reset), z (update), o.

    ::

        r = sigmoid(i2h_r + h2h_r),  z = sigmoid(i2h_z + h2h_z)
        h~ = tanh(i2h_o + r * h2h_o)
        h_t = (1 - z) * h~ + z * h_{t-1}

    Node names keep MXNet's double underscore (``gru_t0__i2h``).

    Parameters
    ----------
    num_hidden : int
    prefix : str
        Default ``'gru_'``.
    params : RNNParams, optional

    See notebook 08.
    """

    def __init__(self, num_hidden, prefix="gru_", params=None):
        super().__init__(num_hidden, prefix, params)

    @property
    def _gate_names(self):
        return ["_r", "_z", "_o"]

    def __call__(self, inputs, states):
        prev_h = states[0]
        # MXNet names GRU nodes with a double underscore (gru_t0__i2h)
        step, i2h, h2h = self._projections(inputs, prev_h, sep="_")
        i_r, i_z, i_o = _sym.SliceChannel(i2h, num_outputs=3, name=f"{step}_i2h_slice")
        h_r, h_z, h_o = _sym.SliceChannel(h2h, num_outputs=3, name=f"{step}_h2h_slice")
        reset = _sym.Activation(i_r + h_r, act_type="sigmoid", name=f"{step}_r_act")
        update = _sym.Activation(i_z + h_z, act_type="sigmoid", name=f"{step}_z_act")
        candidate = _sym.Activation(i_o + reset * h_o, act_type="tanh", name=f"{step}_h_act")
        next_h = _sym._plus((1. - update) * candidate, update * prev_h, name=f"{step}out")
        return next_h, [next_h]
