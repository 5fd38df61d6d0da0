"""One registry helper for every kind of named thing: operators, metrics, initializers,
optimizers and kvstores.

Each kind keeps its own ``create`` (they accept different specs: JSON strings, dicts, instances)
but shares how names are stored, aliased, replaced and looked up, so every "unknown name" error
reads the same way and suggests the closest registered name.

>>> shapes = Registry("shape", case_insensitive=True)
>>> @shapes.register
... class Square: pass
>>> shapes.get("SQUARE") is Square
True
"""
from __future__ import annotations

import json
import warnings

from .base import MXNetError, did_you_mean

__all__ = ["Registry", "json_spec"]


class Registry:
    """Names → objects for one kind.

    Parameters
    ----------
    kind : str
        What the registry holds, for messages (``'metric'``, ``'operator'`` ...).
    case_insensitive : bool
        Store and look up names lower-cased (metrics, initializers, optimizers, kvstores do, as
        in MXNet; operator names are case-sensitive).
    on_replace : {'warn', 'error', 'silent'}
        What registering a *different* object under a taken name does. MXNet warns for the
        Python-level registries; two operators with one name are a programming error.
    error : type
        Exception raised for unknown names (a subclass of MXNetError or of the builtin that MXNet
        raises there).
    check : callable or None
        ``check(obj)`` raises if ``obj`` may not be registered (wrong base class ...).
    hint : str
        Appended to the unknown-name message (how to add one of your own).
    unknown : str
        How the unknown-name message starts, a format string with ``{kind}`` and ``{name}``
        (metrics keep MXNet-era wording that scripts and tests match).
    """

    def __init__(self, kind, *, case_insensitive=True, on_replace="warn", error=MXNetError,
                 check=None, hint="", unknown="unknown {kind} '{name}'."):
        if on_replace not in ("warn", "error", "silent"):
            raise ValueError(f"on_replace must be 'warn', 'error' or 'silent', got {on_replace!r}")
        self.kind = kind
        self._fold = case_insensitive
        self._on_replace = on_replace
        self._error = error
        self._check = check
        self._hint = hint
        self._unknown = unknown
        self._items: dict = {}

    def key(self, name):
        """The stored form of ``name``."""
        return name.lower() if self._fold else name

    def register(self, obj=None, name=None):
        """Register ``obj`` under ``name`` (default: its ``__name__``); returns ``obj``.

        Usable as ``@reg.register`` and as ``reg.register(obj, 'name')``.
        """
        if obj is None:                     # @reg.register(name='x') form
            return lambda o: self.register(o, name)
        if self._check is not None:
            self._check(obj)
        key = self.key(name or obj.__name__)
        old = self._items.get(key)
        if old is not None and old is not obj:
            what = f"{self.kind} '{key}'"
            if self._on_replace == "error":
                raise MXNetError(f"{what} registered twice")
            if self._on_replace == "warn":
                warnings.warn(f"{what}: {_qualname(obj)} replaces {_qualname(old)}",
                              UserWarning, stacklevel=3)
        self._items[key] = obj
        return obj

    def alias(self, *names):
        """Decorator registering an object under extra names: ``@reg.alias('acc')``."""
        def decorate(obj):
            for name in names:
                self.register(obj, name)
            return obj
        return decorate

    def get(self, name):
        """The object registered as ``name``; the kind's error, with a suggestion, if none."""
        if not isinstance(name, str):
            raise self._error(f"{self.kind} name must be a string, got {type(name).__name__}")
        try:
            return self._items[self.key(name)]
        except KeyError:
            pass
        hint = f" {self._hint}" if self._hint else ""
        start = self._unknown.format(kind=self.kind, name=name)
        raise self._error(f"{start}{did_you_mean(self.key(name), self._items)}"
                          f" Known: {sorted(self._items)}.{hint}") from None

    def __contains__(self, name):
        return isinstance(name, str) and self.key(name) in self._items

    def __len__(self):
        return len(self._items)

    def names(self):
        """Every registered name (aliases included), sorted."""
        return sorted(self._items)

    def as_dict(self):
        """A copy ``name -> object`` (aliases included)."""
        return dict(self._items)

    @property
    def live(self):
        """The underlying dict, for MXNet attributes that expose it (``Optimizer.opt_registry``)."""
        return self._items


def _qualname(obj):
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__name__', repr(obj))}"


def json_spec(text, extra_args, error, kind):
    """MXNet's JSON form of a spec (``'["name", {"k": v}]'`` or ``'{"kind": "name", ...}'``)
    parsed, or None when ``text`` is a plain name. Extra constructor arguments cannot be
    combined with a JSON spec: ``error`` says so."""
    text = text.strip()
    if not text.startswith(("[", "{")):
        return None
    if extra_args:
        raise error(f"a JSON {kind} spec takes no extra arguments")
    return json.loads(text)
