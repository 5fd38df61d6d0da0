"""Checkpoints in MXNet's file formats: ``prefix-symbol.json``, ``prefix-EPOCH.params`` and
(from ``Module.save_checkpoint``) ``prefix-EPOCH.states``.

A checkpoint is one consistent set: every precondition is checked and every file's bytes are
computed before anything is written; then all files go through
:func:`mxteach.fileio.atomic_write_set` (temp files, fsync, a journal, renames in the fixed
order symbol, params, states). A save killed at any moment leaves the previous set or the new
one -- the loaders here complete a save interrupted after its commit point -- and a failing
save leaves the previous files untouched. See notebook 06.
"""
from __future__ import annotations

import os

from collections import namedtuple

from .base import MXNetError

__all__ = ["BatchEndParam", "save_checkpoint", "load_checkpoint", "load_params",
           "checkpoint_payloads", "write_checkpoint", "split_param_dict"]

# MXNet defines it here (mx.model.BatchEndParam); callback.py and module/ import it from here
BatchEndParam = namedtuple("BatchEndParams", ["epoch", "nbatch", "eval_metric", "locals"])
BatchEndParam.__doc__ = """What a batch-end callback receives.

Fields: ``epoch`` (0-based), ``nbatch`` (batches done before this one in the epoch, so 0 for the
first), ``eval_metric`` (the training metric, or None) and ``locals`` (fit's local variables).
See notebook 06.
"""


def _check_epoch(epoch):
    import numbers
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise MXNetError(f"checkpoint epoch must be an int >= 0, got {epoch!r}")


def checkpoint_payloads(prefix, epoch, symbol, arg_params, aux_params, states=None,
                        remove_amp_cast=True):
    """``[(file name, bytes)]`` of a checkpoint, in rename order; raises before any write.

    ``states`` is the optimizer-state pickle (bytes) or None.
    """
    from .context import cpu
    from .ndarray.ndarray import NDArray
    from .ndarray.serialization import dumps
    _check_epoch(epoch)
    prefix = os.fspath(prefix)
    folder = os.path.dirname(os.path.abspath(prefix))
    if not os.path.isdir(folder):
        raise MXNetError(f"save_checkpoint: folder {folder!r} of prefix {prefix!r} does not "
                         f"exist")
    for kind, params in (("arg_params", arg_params), ("aux_params", aux_params)):
        if not isinstance(params, dict) or \
                not all(isinstance(v, NDArray) for v in params.values()):
            raise MXNetError(f"save_checkpoint: {kind} must be a dict of name -> NDArray")
    files = []
    if symbol is not None:
        files.append((f"{prefix}-symbol.json", symbol.tojson().encode("utf-8")))
    blob = {f"arg:{k}": v.as_in_context(cpu()) for k, v in arg_params.items()}
    blob.update({f"aux:{k}": v.as_in_context(cpu()) for k, v in aux_params.items()})
    epoch = int(epoch)
    files.append((f"{prefix}-{epoch:04d}.params", dumps(blob)))
    if states is not None:
        files.append((f"{prefix}-{epoch:04d}.states", bytes(states)))
    return files


def write_checkpoint(files):
    """Write what :func:`checkpoint_payloads` returned as one atomic set."""
    from .fileio import atomic_write_set
    atomic_write_set(files)


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Save ``symbol`` and parameters as MXNet does (``arg:``/``aux:`` keys), as one atomic
    set (see the module notes). See notebook 06."""
    write_checkpoint(checkpoint_payloads(prefix, epoch, symbol, arg_params, aux_params,
                                         remove_amp_cast=remove_amp_cast))


def load_params(prefix, epoch):
    """(arg_params, aux_params) from ``prefix-EPOCH.params``."""
    from .ndarray import load
    from .fileio import recover_pending
    fname = f"{prefix}-{epoch:04d}.params"
    recover_pending(fname)  # finish a save that a kill interrupted after its commit point
    if not os.path.exists(fname):
        raise MXNetError(f"parameter file '{fname}' does not exist")
    return split_param_dict(load(fname), fname)


def load_checkpoint(prefix, epoch):
    """(symbol, arg_params, aux_params) from a checkpoint written here or by MXNet."""
    from . import symbol as sym
    from .fileio import recover_pending
    recover_pending(f"{prefix}-{epoch:04d}.params")
    symbol = sym.load(f"{prefix}-symbol.json")
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params


def split_param_dict(saved, fname="<params>"):
    """Split a loaded ``{'arg:x': ..., 'aux:y': ...}`` dict into (arg_params, aux_params)."""
    if not isinstance(saved, dict):
        raise MXNetError(f"{fname}: expected a dict of 'arg:'/'aux:' arrays, got a list")
    arg_params, aux_params = {}, {}
    for key, value in saved.items():
        kind, _, name = key.partition(":")
        if kind == "arg" and name:
            arg_params[name] = value
        elif kind == "aux" and name:
            aux_params[name] = value
        else:
            raise MXNetError(f"{fname}: invalid parameter key '{key}'; expected 'arg:NAME' or "
                             "'aux:NAME'")
    return arg_params, aux_params
