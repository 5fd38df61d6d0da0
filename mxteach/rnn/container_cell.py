"""Cells made of cells: layers stacked in time (:class:`SequentialRNNCell`) and the two
directions of a :class:`BidirectionalCell`. Their weights are their children's; their states
are the children's states in order. See notebook 08.
"""
from __future__ import annotations

from .. import symbol as _sym
from ..base import MXNetError
from .rnn_cell import BaseRNNCell
from .sequence import default_begin_state, normalize_sequence, state_count

__all__ = ["SequentialRNNCell", "BidirectionalCell"]


def _adopt(parent, cells):
    """Share parameters between a container cell and its children, as MXNet does."""
    for cell in cells:
        if parent._override_cell_params:
            if not cell._own_params:
                raise MXNetError(f"give params to {type(parent).__name__} or to its child "
                                 f"cells, not both (cell '{cell._prefix}' already shares)")
            cell.params._params.update(parent.params._params)
        parent.params._params.update(cell.params._params)


class SequentialRNNCell(BaseRNNCell):
    """Cells stacked in layers: the output of layer k is the input of layer k + 1.

    The states are the children's states concatenated in order (``[h0, c0, h1, c1]`` for two
    LSTMs). ``unroll`` unrolls each layer over the whole sequence before the next.

    Parameters
    ----------
    params : RNNParams, optional
        Shared with every child added (then children must own their params).

    Examples
    --------
    >>> import mxteach as mx
    >>> stack = mx.rnn.SequentialRNNCell()
    >>> stack.add(mx.rnn.LSTMCell(8, prefix='lstm_l0_'))
    >>> stack.add(mx.rnn.LSTMCell(8, prefix='lstm_l1_'))
    >>> len(stack.state_info)
    4

    See notebook 08.
    """

    def __init__(self, params=None):
        super().__init__(prefix="", params=params)
        self._override_cell_params = params is not None
        self._cells = []

    def add(self, cell):
        """Append ``cell`` as the next layer. See notebook 08."""
        self._cells.append(cell)
        _adopt(self, [cell])

    @property
    def state_info(self):
        return [info for cell in self._cells for info in cell.state_info]

    def begin_state(self, func=None, **kwargs):
        if self._modified:
            raise MXNetError("this SequentialRNNCell is wrapped by a modifier cell; call the "
                             "modifier's begin_state")
        return [s for cell in self._cells for s in cell.begin_state(func, **kwargs)]

    def unpack_weights(self, args):
        for cell in self._cells:
            args = cell.unpack_weights(args)
        return args

    def pack_weights(self, args):
        for cell in self._cells:
            args = cell.pack_weights(args)
        return args

    def _split_states(self, states):
        p = 0
        for cell in self._cells:
            n = state_count(cell)
            yield cell, states[p:p + n]
            p += n

    def __call__(self, inputs, states):
        self._counter += 1
        next_states = []
        for cell, own in self._split_states(states):
            inputs, own = cell(inputs, own)
            next_states.extend(own)
        return inputs, next_states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        if begin_state is None:
            begin_state = default_begin_state(self, inputs, layout)
        next_states = []
        last = len(self._cells) - 1
        for i, (cell, own) in enumerate(self._split_states(begin_state)):
            inputs, own = cell.unroll(length, inputs=inputs, begin_state=own, layout=layout,
                                      merge_outputs=merge_outputs if i == last else None)
            next_states.extend(own)
        return inputs, next_states


def _reverse_time(seq, axis, length):
    """``seq`` with its time axis reversed (``mx.sym.reverse`` when available)."""
    reverse = getattr(_sym, "reverse", None)
    if reverse is not None:
        return reverse(seq, axis=axis)
    pieces = list(_sym.SliceChannel(seq, axis=axis, num_outputs=length))
    return _sym.Concat(*reversed(pieces), dim=axis)


class BidirectionalCell(BaseRNNCell):
    """Run ``l_cell`` forward and ``r_cell`` backward in time; concatenate their outputs.

    Outputs are ``Concat(l_t, r_t)`` along the feature axis, named ``{output_prefix}t{k}``
    (list) or ``{output_prefix}out`` (merged). States are ``[l_states, r_states]`` (nested).
    It can only be unrolled, not stepped.

    Parameters
    ----------
    l_cell, r_cell : BaseRNNCell
    params : RNNParams, optional
    output_prefix : str
        Default ``'bi_'``.

    See notebook 08.
    """

    def __init__(self, l_cell, r_cell, params=None, output_prefix="bi_"):
        super().__init__("", params=params)
        self._output_prefix = output_prefix
        self._override_cell_params = params is not None
        _adopt(self, [l_cell, r_cell])
        self._cells = [l_cell, r_cell]

    def __call__(self, inputs, states):
        raise MXNetError("BidirectionalCell needs the whole sequence: call unroll, not a step")

    @property
    def state_info(self):
        return [info for cell in self._cells for info in cell.state_info]

    def begin_state(self, func=None, **kwargs):
        if self._modified:
            raise MXNetError("this BidirectionalCell is wrapped by a modifier cell; call the "
                             "modifier's begin_state")
        return [s for cell in self._cells for s in cell.begin_state(func, **kwargs)]

    def unpack_weights(self, args):
        return SequentialRNNCell.unpack_weights(self, args)

    def pack_weights(self, args):
        return SequentialRNNCell.pack_weights(self, args)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Unroll both directions over ``inputs`` (see :meth:`BaseRNNCell.unroll`)."""
        self.reset()
        steps, axis = normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = default_begin_state(self, steps, layout)
        l_cell, r_cell = self._cells
        n_left = len(l_cell.state_info)
        l_out, l_states = l_cell.unroll(length, inputs=steps, begin_state=begin_state[:n_left],
                                        layout=layout, merge_outputs=merge_outputs)
        r_out, r_states = r_cell.unroll(length, inputs=list(reversed(steps)),
                                        begin_state=begin_state[n_left:], layout=layout,
                                        merge_outputs=merge_outputs)
        if merge_outputs is None:
            merge_outputs = isinstance(l_out, _sym.Symbol) and isinstance(r_out, _sym.Symbol)
            if not merge_outputs:
                l_out, _ = normalize_sequence(length, l_out, layout, False)
                r_out, _ = normalize_sequence(length, r_out, layout, False)
        if merge_outputs:
            return _sym.Concat(l_out, _reverse_time(r_out, axis, length), dim=2,
                               name=f"{self._output_prefix}out"), [l_states, r_states]
        outputs = [_sym.Concat(lo, ro, dim=1, name=f"{self._output_prefix}t{i}")
                   for i, (lo, ro) in enumerate(zip(l_out, reversed(r_out)))]
        return outputs, [l_states, r_states]
