"""The exercise-check protocol of the course notebooks.

A check is a function decorated with :func:`exercise`. Its body tests the student's answer and
raises :class:`Wrong` with a plain-words explanation at the first thing that is off; it returns
an optional sentence to show on success. The decorator turns that into a :class:`CheckResult`
(never an exception, so a notebook with unanswered exercises still runs top to bottom), treats
an empty answer (``None``, ``...``, a function that returns ``None``) as "not answered yet", and
reports an exception raised by the student's own code with its type and message.

Every check is registered under its id (``"02.3"``: notebook 02, exercise 3) so the test suite
can run each one against its reference solution and against an empty answer. See notebook 01.
"""
from __future__ import annotations

import functools
import traceback

from ..registry import Registry

# Exercise ids are case-sensitive; a second check under a taken id is a mistake in the course.
_EXERCISES = Registry("exercise", case_insensitive=False, on_replace="error")


class Wrong(Exception):
    """Raised inside a check: the answer is not right yet; the message says why."""


class CheckResult:
    """What a check found: ``passed`` and the lines that explain it (shown as plain text)."""

    def __init__(self, ident, title, passed, message):
        self.ident, self.title, self.passed, self.message = ident, title, passed, message

    def __bool__(self):
        return self.passed

    def __repr__(self):
        mark = "✔ correct" if self.passed else "✘ not yet"
        head = f"Exercise {self.ident} ({self.title}): {mark}"
        return head + (f"\n  {self.message}" if self.message else "")

    __str__ = __repr__


def _is_empty(answer):
    return answer is None or answer is Ellipsis


def _own_frames(exc):
    """The last frame of the student's code in a traceback, as 'line N: source'."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if "/mxteach/course/" not in f.filename.replace("\\", "/")]
    f = (mine or frames)[-1]
    return f"line {f.lineno}: {f.line}" if f.line else f"line {f.lineno}"


def exercise(ident, title):
    """Decorate a check function ``check(answer, ...)`` as exercise ``ident`` named ``title``.

    The wrapped check returns a :class:`CheckResult`. An empty answer gives "not answered yet"
    without calling the body; a :class:`Wrong` raised by the body gives its message; any other
    exception comes from running the student's code and is reported with where it happened.
    """
    def wrap(body):
        @functools.wraps(body)
        def check(answer=None, *args, **kwargs):
            if _is_empty(answer):
                return CheckResult(ident, title, False,
                                   "not answered yet: replace the `...`/None with your answer "
                                   "and run the cell again.")
            try:
                note = body(answer, *args, **kwargs)
            except Wrong as err:
                return CheckResult(ident, title, False, str(err))
            except Exception as err:  # the student's code failed: say what and where
                return CheckResult(ident, title, False,
                                   f"your code raised {type(err).__name__}: {err} "
                                   f"({_own_frames(err)})")
            return CheckResult(ident, title, True, note or "")
        check.ident, check.title = ident, title
        if ident in _EXERCISES and _EXERCISES.get(ident).__qualname__ == check.__qualname__:
            return _EXERCISES.get(ident)    # the module was imported again (importlib.reload)
        _EXERCISES.register(check, ident)
        return check
    return wrap


def returned(fn, *args, what="your function"):
    """Call the student's function; a ``None`` result means the body is still empty."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None:
        raise Wrong(f"{what} returned None: write its body (did you forget `return`?)")
    return out


def close(got, want, what, atol=1e-5, rtol=1e-4):
    """Raise :class:`Wrong` unless ``got`` matches the array ``want`` in shape and values."""
    import numpy as np
    got_np = got.asnumpy() if hasattr(got, "asnumpy") else np.asarray(got)
    want_np = want.asnumpy() if hasattr(want, "asnumpy") else np.asarray(want)
    if got_np.shape != want_np.shape:
        raise Wrong(f"{what} has shape {got_np.shape}; expected {want_np.shape}")
    if not np.allclose(got_np, want_np, atol=atol, rtol=rtol, equal_nan=True):
        k = int(np.argmax(np.abs(got_np.astype(float) - want_np.astype(float)).ravel()))
        raise Wrong(f"{what} differs from the expected values: at flat index {k} you have "
                    f"{got_np.ravel()[k]:.6g}, expected {want_np.ravel()[k]:.6g}")


def registered_exercises():
    """Every check defined so far, by id (import the ``nbNN`` modules first)."""
    return _EXERCISES.as_dict()


def _blank_function(fn):
    """True for a function (or a Numba-compiled one) whose body is still the template's: a
    docstring and/or ``...`` or ``pass`` (its code only returns None)."""
    import types
    fn = getattr(fn, "py_func", getattr(fn, "__func__", fn))    # Numba @njit: the Python body
    if not isinstance(fn, types.FunctionType):
        return False

    import dis
    ops = [(i.opname, i.argval) for i in dis.get_instructions(fn)
           if i.opname not in ("RESUME", "NOP")]
    return ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)],   # Python <= 3.11
                   [("RETURN_CONST", None)])                          # Python 3.12+


def blank_template(answer, methods=()):
    """True when ``answer`` is still a template: a function with an empty body, or a class
    whose ``methods`` (names) all still have empty bodies."""
    if isinstance(answer, type):
        return bool(methods) and all(_blank_function(vars(answer).get(m)) for m in methods)
    return _blank_function(answer)


def blank_is_unanswered(check, methods=()):
    """Wrap a check so that a template left as written (``def f(...): ...``, or a class whose
    ``methods`` are still ``...``) counts as "not answered yet", like ``None``."""
    @functools.wraps(check)
    def run(answer=None, *args, **kwargs):
        return check(None if blank_template(answer, methods) else answer, *args, **kwargs)
    return run
