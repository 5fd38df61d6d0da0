"""Executors: symbols bound to memory on a device.

Importing this package installs :class:`Executor` into ``Symbol.executor_class`` (the slot that
``Symbol.bind``/``simple_bind`` call): symbols sit below the executor and never import it.
"""
from ..symbol.symbol import Symbol as _Symbol
from .executor import Executor, MemoryRow

_Symbol.executor_class = Executor

__all__ = ["Executor", "MemoryRow"]
