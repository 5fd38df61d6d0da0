"""Checkpoints in MXNet's file formats: ``prefix-symbol.json`` and ``prefix-EPOCH.params``.

Every write goes to a temp file in the target folder and is renamed into place, so a failed
save never leaves a partial file. See notebook 04.
"""
from __future__ import annotations

import os

from .base import MXNetError

__all__ = ["save_checkpoint", "load_checkpoint", "load_params"]


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params, remove_amp_cast=True):
    """Save ``symbol`` and parameters as MXNet does (``arg:``/``aux:`` keys)."""
    from .ndarray import save
    from .context import cpu
    if symbol is not None:
        symbol.save(f"{prefix}-symbol.json", remove_amp_cast=remove_amp_cast)
    blob = {f"arg:{k}": v.as_in_context(cpu()) for k, v in arg_params.items()}
    blob.update({f"aux:{k}": v.as_in_context(cpu()) for k, v in aux_params.items()})
    save(f"{prefix}-{epoch:04d}.params", blob)


def load_params(prefix, epoch):
    """(arg_params, aux_params) from ``prefix-EPOCH.params``."""
    from .ndarray import load
    from .module.base_module import split_param_dict
    fname = f"{prefix}-{epoch:04d}.params"
    if not os.path.exists(fname):
        raise MXNetError(f"parameter file '{fname}' does not exist")
    return split_param_dict(load(fname), fname)


def load_checkpoint(prefix, epoch):
    """(symbol, arg_params, aux_params) from a checkpoint written here or by MXNet."""
    from . import symbol as sym
    symbol = sym.load(f"{prefix}-symbol.json")
    arg_params, aux_params = load_params(prefix, epoch)
    return symbol, arg_params, aux_params
