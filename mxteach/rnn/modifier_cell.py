"""Cells that change another cell's steps: Dropout, Zoneout and Residual.

A *modifier* cell (:class:`ModifierCell`) owns no weights: it changes what its base cell does
at each step (adds the input to the output, randomly keeps old values) and marks the base cell
as modified, so the base cell can no longer be started on its own. See notebook 08.
"""
from __future__ import annotations

from .. import symbol as _sym
from ..base import MXNetError, numeric_types
from .rnn_cell import BaseRNNCell
from .container_cell import BidirectionalCell
from .sequence import normalize_sequence

__all__ = ["DropoutCell", "ModifierCell", "ZoneoutCell", "ResidualCell"]


class DropoutCell(BaseRNNCell):
    """Dropout on the sequence (between stacked layers); it has no state.

    Parameters
    ----------
    dropout : float
        Probability of zeroing an element during training.
    prefix : str
        Default ``'dropout_'``.
    params : RNNParams, optional

    See notebook 08.
    """

    def __init__(self, dropout, prefix="dropout_", params=None):
        super().__init__(prefix, params)
        if not isinstance(dropout, numeric_types):
            raise MXNetError(f"DropoutCell: dropout must be a number, got {dropout!r}")
        self.dropout = dropout

    @property
    def state_info(self):
        return []

    def __call__(self, inputs, states):
        if self.dropout > 0:
            inputs = _sym.Dropout(data=inputs, p=self.dropout)
        return inputs, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """A merged sequence gets one Dropout node; a list gets one per step. See notebook 08."""
        self.reset()
        inputs, _ = normalize_sequence(length, inputs, layout, merge_outputs)
        if isinstance(inputs, _sym.Symbol):
            return self(inputs, [])
        return super().unroll(length, inputs, begin_state=begin_state, layout=layout,
                              merge_outputs=merge_outputs)


class ModifierCell(BaseRNNCell):
    """Base of cells that change how ``base_cell`` steps; weights and states are the base's.

    Parameters
    ----------
    base_cell : BaseRNNCell
        Marked as modified: its own ``begin_state`` now refuses, use the modifier's.

    See notebook 08.
    """

    def __init__(self, base_cell):
        super().__init__()
        base_cell._modified = True
        self.base_cell = base_cell

    @property
    def params(self):
        self._own_params = False
        return self.base_cell.params

    @property
    def state_info(self):
        return self.base_cell.state_info

    def begin_state(self, init_sym=None, **kwargs):
        """The base cell's initial states (``init_sym`` as ``func`` there). See notebook 08."""
        if self._modified:
            raise MXNetError("this cell is wrapped by another modifier cell; call the outer "
                             "cell's begin_state")
        func = kwargs.pop("func", init_sym)
        self.base_cell._modified = False
        try:
            return self.base_cell.begin_state(func, **kwargs)
        finally:
            self.base_cell._modified = True

    def unpack_weights(self, args):
        return self.base_cell.unpack_weights(args)

    def pack_weights(self, args):
        return self.base_cell.pack_weights(args)


class ZoneoutCell(ModifierCell):
    """Zoneout (Krueger et al. 2016): each unit keeps its previous value with some probability.

    During training a Dropout mask of ones decides, per element, between the new value and the
    previous one (the previous output starts at zero); at inference the new value always wins.

    Parameters
    ----------
    base_cell : BaseRNNCell
        A steppable cell (not Bidirectional).
    zoneout_outputs, zoneout_states : float
        Probabilities of keeping the previous output / state.

    See notebook 08.
    """

    def __init__(self, base_cell, zoneout_outputs=0., zoneout_states=0.):
        if isinstance(base_cell, BidirectionalCell):
            raise MXNetError("ZoneoutCell cannot wrap a BidirectionalCell (it cannot be "
                             "stepped); wrap the cells inside it instead")
        super().__init__(base_cell)
        self.zoneout_outputs = zoneout_outputs
        self.zoneout_states = zoneout_states
        self.prev_output = None

    def reset(self):
        super().reset()
        self.prev_output = None

    def __call__(self, inputs, states):
        new_out, new_states = self.base_cell(inputs, states)

        def keep_new(p, like):
            return _sym.Dropout(_sym.ones_like(like), p=p)

        prev = self.prev_output if self.prev_output is not None else _sym.zeros_like(new_out)
        out = new_out
        if self.zoneout_outputs != 0.:
            out = _sym.where(keep_new(self.zoneout_outputs, new_out), new_out, prev)
        if self.zoneout_states != 0.:
            new_states = [_sym.where(keep_new(self.zoneout_states, new), new, old)
                          for new, old in zip(new_states, states)]
        self.prev_output = out
        return out, new_states


class ResidualCell(ModifierCell):
    """Adds each step's input to the base cell's output (``elemwise_add``, He et al. 2016).

    Input and output sizes must agree. Output nodes are named ``{base output}_plus_residual``.

    Parameters
    ----------
    base_cell : BaseRNNCell

    See notebook 08.
    """

    def __call__(self, inputs, states):
        out, states = self.base_cell(inputs, states)
        return _sym.elemwise_add(out, inputs, name=f"{out.name}_plus_residual"), states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Unroll the base cell, then add the inputs to its (merged or listed) outputs."""
        self.reset()
        self.base_cell._modified = False
        try:
            outputs, states = self.base_cell.unroll(length, inputs=inputs,
                                                    begin_state=begin_state, layout=layout,
                                                    merge_outputs=merge_outputs)
        finally:
            self.base_cell._modified = True
        if merge_outputs is None:
            merge_outputs = isinstance(outputs, _sym.Symbol)
        inputs, _ = normalize_sequence(length, inputs, layout, merge_outputs)
        if merge_outputs:
            return _sym.elemwise_add(outputs, inputs,
                                     name=f"{outputs.name}_plus_residual"), states
        return [_sym.elemwise_add(o, x, name=f"{o.name}_plus_residual")
                for o, x in zip(outputs, inputs)], states
