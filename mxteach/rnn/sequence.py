"""Sequence plumbing shared by the cells: merging/splitting time steps and zero begin states.

``unroll`` accepts either one merged symbol (``'NTC'`` or ``'TNC'``) or a list of per-step
symbols and can return either; :func:`normalize_sequence` converts between the two with
``split`` and ``expand_dims`` + ``Concat``, as MXNet 1.9 does.

MXNet starts an unrolled network from ``mx.sym.zeros`` nodes whose batch size is inferred
later. While mxteach's symbol layer has no ``zeros`` operator, :class:`ZerosLike` builds those
zeros from the input's batch axis instead (``zeros_like`` -> ``sum`` -> ``broadcast_axis``,
named ``{prefix}begin_state_{k}``), so the graph has exactly MXNet's arguments. When
``mx.sym.zeros`` exists it is used, as in MXNet. See notebook 08.
"""
from __future__ import annotations

from .. import symbol as _sym
from ..base import MXNetError

__all__ = ["normalize_sequence", "batch_reference", "ZerosLike", "default_begin_state"]


def normalize_sequence(length, inputs, layout, merge):
    """Convert ``inputs`` between one merged symbol and a list of per-step symbols.

    Parameters
    ----------
    length : int or None
        Number of time steps (checked against a list, used to split a symbol).
    inputs : Symbol or list of Symbol
        A merged sequence laid out as ``layout`` or a list of ``(batch, ...)`` steps.
    layout : str
        ``'NTC'`` or ``'TNC'``; the position of ``'T'`` is the time axis.
    merge : bool or None
        True: return one symbol; False: return a list; None: leave as given.

    Returns
    -------
    (Symbol or list of Symbol, int)
        The converted inputs and the time axis. See notebook 08.
    """
    if inputs is None:
        raise MXNetError("unroll needs inputs: create the input symbol (e.g. an Embedding "
                         "output or mx.sym.Variable('data')) and pass it as inputs=")
    axis = layout.find("T")
    if axis < 0:
        raise MXNetError(f"layout '{layout}' has no time axis 'T'; use 'NTC' or 'TNC'")
    if isinstance(inputs, _sym.Symbol):
        if merge is False:
            if len(inputs.list_outputs()) != 1:
                raise MXNetError("unroll: inputs is a group of symbols; pass list(inputs) or "
                                 "a single merged symbol")
            inputs = list(_sym.split(inputs, axis=axis, num_outputs=length, squeeze_axis=1))
    else:
        inputs = list(inputs)
        if length is not None and len(inputs) != length:
            raise MXNetError(f"unroll(length={length}) got a list of {len(inputs)} inputs")
        if merge is True:
            inputs = _sym.Concat(*[_sym.expand_dims(x, axis=axis) for x in inputs], dim=axis)
    return inputs, axis


def batch_reference(inputs, layout):
    """(symbol, batch axis) of something carrying the batch size: a step or a merged input."""
    if isinstance(inputs, _sym.Symbol):
        return inputs, layout.find("N")
    return inputs[0], 0


class ZerosLike:
    """A ``begin_state`` function giving zero states whose batch size comes from ``ref``.

    It stands in for ``mx.sym.zeros`` (whose batch dimension MXNet infers from later use):
    ``ZerosLike(x, 0)(name='lstm_begin_state_0', shape=(0, 8))`` is a ``(batch, 8)`` zero
    symbol named ``name`` computed as ``broadcast_axis(expand_dims(sum(zeros_like(x))))``.
    It adds no arguments to the graph and sends zero gradient back into ``ref``.

    Parameters
    ----------
    ref : Symbol
        Any symbol with the batch on ``batch_axis`` (a step input or a merged sequence).
    batch_axis : int
        Where the batch is in ``ref``.

    See notebook 08.
    """

    def __init__(self, ref, batch_axis=0):
        self._ref = ref
        self._axis = batch_axis
        self._column = None

    def __call__(self, name, shape=None, dtype=None, **attrs):
        if shape is None or len(shape) != 2:
            raise MXNetError(f"cannot make zero state '{name}' of shape {shape} from the input "
                             f"batch: only (batch, hidden) states are supported; pass "
                             f"begin_state= explicitly")
        if self._column is None:     # one (batch, 1) column of zeros, shared by all states
            z = _sym.sum(_sym.zeros_like(self._ref), axis=self._axis, exclude=True)
            self._column = _sym.expand_dims(z, axis=1)
        state = _sym.broadcast_axis(self._column, axis=1, size=int(shape[1]), name=name)
        layout = attrs.get("__layout__")
        if layout is not None:
            state._set_attr(__layout__=layout)
        return state


def default_begin_state(cell, inputs, layout):
    """The states ``unroll(begin_state=None)`` starts from: zeros, named as in MXNet."""
    zeros = getattr(_sym, "zeros", None)
    if zeros is None:
        zeros = ZerosLike(*batch_reference(inputs, layout))
    return cell.begin_state(zeros)


def state_count(cell):
    return len(cell.state_info)
