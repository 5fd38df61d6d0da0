"""Executors: symbols bound to memory on a device."""
from .executor import Executor, MemoryRow

__all__ = ["Executor", "MemoryRow"]
