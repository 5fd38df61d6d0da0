"""Errors, the name manager and small helpers shared by the whole core."""
from __future__ import annotations

import difflib
import threading

import numpy as np

__all__ = ["MXNetError", "NotBoundError", "ShapeError", "DTypeError", "NameManager",
           "did_you_mean", "string_types", "numeric_types", "mx_real_t"]

string_types = (str,)
numeric_types = (float, int, np.generic)
mx_real_t = np.float32


class MXNetError(RuntimeError):
    """Raised for every user-facing error in mxteach, as in MXNet."""


class NotBoundError(MXNetError):
    """A call came before the state it needs (forward before bind, update before init_optimizer)."""


class ShapeError(MXNetError, ValueError):
    """Shapes that cannot work together; the message names the node and both shapes."""


class DTypeError(MXNetError, TypeError):
    """A dtype that an argument or operator does not accept."""


def did_you_mean(name, choices):
    """Return ' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


class NameManager:
    """Gives operators without a name one like ``fullyconnected0`` (per-hint counters).

    Use as a context manager to scope counters, as ``mx.name.NameManager`` in MXNet.
    """

    _local = threading.local()

    def __init__(self):
        self._counter = {}
        self._old = None

    def get(self, name, hint):
        if name:
            return name
        n = self._counter.get(hint, 0)
        self._counter[hint] = n + 1
        return f"{hint}{n}"

    def __enter__(self):
        self._old = NameManager.current()
        NameManager._local.value = self
        return self

    def __exit__(self, *exc):
        NameManager._local.value = self._old

    @staticmethod
    def current():
        cur = getattr(NameManager._local, "value", None)
        if cur is None:
            cur = NameManager._local.value = NameManager()
        return cur


class Prefix(NameManager):
    """A name manager that puts ``prefix`` before every name, given or generated."""

    def __init__(self, prefix):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)
