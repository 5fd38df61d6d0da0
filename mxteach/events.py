"""Lifecycle events: the one channel through which views (widgets, loggers, tests) watch modules.

Every module owns an :class:`EventStream`. Emitting costs one truth test when nobody listens;
a failing listener is reported (``warnings`` and ``stream.errors``) and never breaks training.
See notebook 02.
"""
from __future__ import annotations

import time
import traceback
import warnings
from dataclasses import dataclass, field

__all__ = ["Event", "EventStream", "Stage"]


class Stage:
    """The module lifecycle stages, in order."""
    INITIAL = "initial"
    BOUND = "bound"
    PARAMS_INITIALIZED = "params_initialized"
    OPTIMIZER_INSTALLED = "optimizer_installed"
    ORDER = (INITIAL, BOUND, PARAMS_INITIALIZED, OPTIMIZER_INSTALLED)


@dataclass
class Event:
    """What happened (``kind``), to which module (``source``), the lifecycle stage before and
    after, and the arguments that matter (``data``)."""
    kind: str
    source: object
    before: str
    after: str
    data: dict = field(default_factory=dict)
    time: float = 0.0

    def __getitem__(self, key):
        return self.data[key]


class EventStream:
    """Subscribe with ``stream.subscribe(fn, kinds=None)``; ``fn(event)`` is called for each
    event (of the given kinds). Returns a function that unsubscribes."""

    def __init__(self, owner=None):
        self.owner = owner
        self._listeners = []
        self.errors = []
        self._parent = None

    def __bool__(self):
        return bool(self._listeners) or (self._parent is not None and bool(self._parent))

    def wants(self, kind):
        """True if some listener here or up the forwarding chain takes ``kind`` events."""
        if any(kinds is None or kind in kinds for _, kinds in self._listeners):
            return True
        return self._parent is not None and self._parent.wants(kind)

    def subscribe(self, fn, kinds=None):
        entry = (fn, None if kinds is None else frozenset(kinds))
        self._listeners.append(entry)

        def unsubscribe():
            if entry in self._listeners:
                self._listeners.remove(entry)
        return unsubscribe

    def forward_to(self, parent):
        """Re-emit every event of this stream on ``parent`` too (members of composite modules
        report through their container)."""
        self._parent = parent

    def emit(self, kind, before="", after="", **data):
        if not self.wants(kind):
            return None
        event = Event(kind, self.owner, before, after, data, time.time())
        self._deliver(event)
        return event

    def _deliver(self, event):
        for fn, kinds in list(self._listeners):
            if kinds is not None and event.kind not in kinds:
                continue
            try:
                fn(event)
            except Exception as err:  # a view must never break training
                self.errors.append((event.kind, err, traceback.format_exc()))
                warnings.warn(f"event listener {getattr(fn, '__name__', fn)!r} failed on "
                              f"'{event.kind}': {err!r}", RuntimeWarning, stacklevel=3)
        if self._parent is not None:
            self._parent._deliver(event)
