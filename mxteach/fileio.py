"""Atomic file writes shared by every saver (parameters, symbols, optimizer states).

A temp file in the target folder, fsync, then a rename: a reader never sees a half-written
file, and a failed save leaves the old file (if any) intact and no temp file behind.
"""
from __future__ import annotations

import os
import uuid

from .base import MXNetError

__all__ = ["atomic_write"]


def _fsync_dir(dirname):
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; the rename is durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(fname, payload):
    """Write ``payload`` to a temp file next to ``fname``, fsync, then rename over ``fname``.

    A reader never sees a half-written file, and a failure leaves the old file (if any) intact.
    """
    if os.path.islink(fname):  # replace the file the link points to, keep the link
        fname = os.path.realpath(fname)
    dirname = os.path.dirname(os.path.abspath(fname))
    tmp = os.path.join(dirname, f".{os.path.basename(fname)[:200]}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, as for
        # a plain open(fname, 'wb')
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as err:
        raise MXNetError(f"save: cannot create a file in {dirname!r} for {fname!r}: "
                         f"{err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, fname)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise MXNetError(f"save: writing {fname!r} failed: {err.strerror or err}") from err
        raise
    _fsync_dir(dirname)
