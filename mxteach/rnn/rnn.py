"""Checkpoints for networks built from RNN cells: per-gate weights on disk, stacked in memory.

In memory a cell keeps each gate group stacked (``lstm_i2h_weight`` holds i, f, c, o). On disk
:func:`save_rnn_checkpoint` writes the readable per-gate arrays (``lstm_i2h_f_weight``), which is
what MXNet 1.9's ``mx.rnn`` writes, and :func:`load_rnn_checkpoint` stacks them again. The
files are ordinary ``prefix-symbol.json`` / ``prefix-EPOCH.params`` checkpoints. See notebook 08.
"""
from __future__ import annotations

from ..model import load_checkpoint, save_checkpoint
from .rnn_cell import BaseRNNCell

__all__ = ["save_rnn_checkpoint", "load_rnn_checkpoint", "do_rnn_checkpoint"]


def _as_list(cells):
    return [cells] if isinstance(cells, BaseRNNCell) else list(cells)


def save_rnn_checkpoint(cells, prefix, epoch, symbol, arg_params, aux_params):
    """Save a checkpoint with the cells' weights unpacked into per-gate arrays.

    Parameters
    ----------
    cells : BaseRNNCell or list of BaseRNNCell
        The cells whose weights appear in ``arg_params``.
    prefix : str
        Files are ``prefix-symbol.json`` and ``prefix-%04d.params``.
    epoch : int
    symbol : Symbol
    arg_params, aux_params : dict of str to NDArray

    See notebook 08.
    """
    for cell in _as_list(cells):
        arg_params = cell.unpack_weights(arg_params)
    save_checkpoint(prefix, epoch, symbol, arg_params, aux_params)


def load_rnn_checkpoint(cells, prefix, epoch):
    """Load a checkpoint saved by :func:`save_rnn_checkpoint`, re-stacking the gate weights.

    Parameters
    ----------
    cells : BaseRNNCell or list of BaseRNNCell
    prefix : str
    epoch : int

    Returns
    -------
    (Symbol, dict, dict)
        The symbol, ``arg_params`` (packed, ready for ``set_params``) and ``aux_params``.

    See notebook 08.
    """
    symbol, arg_params, aux_params = load_checkpoint(prefix, epoch)
    for cell in _as_list(cells):
        arg_params = cell.pack_weights(arg_params)
    return symbol, arg_params, aux_params


def do_rnn_checkpoint(cells, prefix, period=1):
    """An ``epoch_end_callback`` for ``fit`` that saves RNN checkpoints every ``period`` epochs.

    Parameters
    ----------
    cells : BaseRNNCell or list of BaseRNNCell
    prefix : str
    period : int
        Save after epochs ``period, 2 * period, ...`` (numbered from 1).

    Returns
    -------
    callable
        ``callback(epoch, symbol, arg_params, aux_params)``.

    See notebook 08.
    """
    period = max(1, int(period))

    def _callback(iter_no, sym=None, arg=None, aux=None):
        if (iter_no + 1) % period == 0:
            save_rnn_checkpoint(cells, prefix, iter_no + 1, sym, arg, aux)
    return _callback
