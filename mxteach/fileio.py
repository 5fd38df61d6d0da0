"""Atomic file writes shared by every saver (parameters, symbols, optimizer states, checkpoints).

One file (:func:`atomic_write`): a temp file in the target folder, fsync, then a rename, so a
reader never sees a half-written file and a failed save leaves the old file intact.

A set of files (:func:`atomic_write_set`, what a checkpoint is): every temp file is written and
fsynced first; then a small *journal* naming each ``temp -> final`` rename is itself written
atomically; then the renames run in the given order and the journal is removed. A kill before
the journal exists leaves the old set (the temps are stale and the next save removes them); a
kill after it leaves a journal that :func:`recover_pending` -- called by every checkpoint
loader and by the next save -- completes, so readers always see the old set or the new one,
never params of one save with optimizer states of another.

Temp files are named ``.<file>.<pid>.<random>.tmp``: unique per process, removed on failure,
and those of processes that no longer run are cleaned up by the next save of the same file.
See notebook 06.
"""
from __future__ import annotations

import json
import os
import time
import uuid

from .base import MXNetError

__all__ = ["atomic_write", "atomic_write_set", "recover_pending", "clean_stale_temps"]

_JOURNAL_PREFIX = ".mxteach-commit."
_JOURNAL_SUFFIX = ".journal"
_OLD_TEMP_AGE = 3600.0  # temps without a pid (older mxteach) are stale after an hour


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


def _target(fname):
    fname = os.fspath(fname)
    if os.path.islink(fname):  # replace the file the link points to, keep the link
        fname = os.path.realpath(fname)
    return os.path.abspath(fname)


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process (or we cannot tell): leave its files
    return True


def clean_stale_temps(fname):
    """Remove temp files left next to ``fname`` by saves whose process is gone.

    Returns the number of files removed. Temps of live processes (a concurrent save) stay.
    """
    fname = _target(fname)
    dirname, base = os.path.split(fname)
    return _clean_stale(dirname, f".{base[:200]}.")


def _clean_stale(dirname, prefix):
    """Remove ``prefix*.<pid>.<random>.tmp`` files in ``dirname`` whose process is gone."""
    removed = 0
    try:
        names = os.listdir(dirname)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[:-len(".tmp")].rsplit(".", 2)
        path = os.path.join(dirname, name)
        try:
            if len(parts) == 3 and parts[1].isdigit() and len(parts[2]) == 12:
                stale = not _pid_alive(int(parts[1]))
            else:  # the pid-less names of older versions
                stale = time.time() - os.path.getmtime(path) > _OLD_TEMP_AGE
            if stale:
                os.unlink(path)
                removed += 1
        except OSError:
            pass
    return removed


def _temp_name(fname):
    dirname, base = os.path.split(fname)
    return os.path.join(dirname, f".{base[:200]}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


def _write_temp(fname, payload):
    """Write ``payload`` into a new temp file next to ``fname``, fsynced; return its path."""
    tmp = _temp_name(fname)
    try:
        # O_EXCL: never clobber someone else's file; mode 0o666 lets the umask decide, as for
        # a plain open(fname, 'wb')
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as err:
        raise MXNetError(f"save: cannot create a file in {os.path.dirname(fname)!r} for "
                         f"{fname!r}: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as err:
        _unlink_quietly(tmp)
        if isinstance(err, OSError):
            raise MXNetError(f"save: writing {fname!r} failed: {err.strerror or err}") from err
        raise
    return tmp


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write(fname, payload):
    """Write ``payload`` to a temp file next to ``fname``, fsync, then rename over ``fname``.

    A reader never sees a half-written file, and a failure leaves the old file (if any) intact
    and no temp file behind.
    """
    fname = _target(fname)
    clean_stale_temps(fname)
    tmp = _write_temp(fname, payload)
    try:
        os.replace(tmp, fname)
    except OSError as err:
        _unlink_quietly(tmp)
        raise MXNetError(f"save: writing {fname!r} failed: {err.strerror or err}") from err
    _fsync_dir(os.path.dirname(fname))


def atomic_write_set(files):
    """Write several files as one consistent set: all or (after a kill) none, never a mix.

    Parameters
    ----------
    files : list of (str, bytes)
        Targets and their contents, in the order they are renamed into place. All targets
        must be in one folder.

    Notes
    -----
    Every payload must be computed before this is called: nothing is touched until then.
    See the module notes for the journal protocol.
    """
    targets = [(_target(f), payload) for f, payload in files]
    dirs = {os.path.dirname(t) for t, _ in targets}
    if len(dirs) != 1:
        raise MXNetError(f"atomic_write_set: all files must be in one folder, got {sorted(dirs)}")
    (dirname,) = dirs
    recover_pending(targets[0][0])  # an interrupted earlier save completes first
    for target, _ in targets:
        clean_stale_temps(target)
    _clean_stale(dirname, f".{_JOURNAL_PREFIX}")  # journals a kill left half-written
    temps = []
    try:
        for target, payload in targets:
            temps.append(_write_temp(target, payload))
        journal = os.path.join(dirname, f"{_JOURNAL_PREFIX}{os.getpid()}."
                                        f"{uuid.uuid4().hex[:12]}{_JOURNAL_SUFFIX}")
        record = json.dumps({"renames": [[os.path.basename(tmp), os.path.basename(t)]
                                         for tmp, (t, _) in zip(temps, targets)]})
        # the journal is the commit point: once it is in place, the new set wins
        atomic_write(journal, record.encode("utf-8"))
    except BaseException:
        for tmp in temps:
            _unlink_quietly(tmp)
        raise
    _apply_journal(journal)


def _apply_journal(journal):
    """Complete the renames ``journal`` lists (those not done yet), then remove it."""
    dirname = os.path.dirname(journal)
    try:
        with open(journal, "rb") as f:
            renames = json.loads(f.read().decode("utf-8"))["renames"]
        pairs = [(str(a), str(b)) for a, b in renames]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise MXNetError(f"checkpoint journal {journal!r} is unreadable ({err}); remove it "
                         f"by hand after checking the checkpoint files") from None
    for tmp, final in pairs:
        if os.sep in tmp or os.sep in final or tmp.startswith("..") or final.startswith(".."):
            raise MXNetError(f"checkpoint journal {journal!r} names a file outside its folder")
        src = os.path.join(dirname, tmp)
        if os.path.exists(src):
            try:
                os.replace(src, os.path.join(dirname, final))
            except FileNotFoundError:  # a concurrent recovery renamed it first
                pass
            except OSError as err:
                raise MXNetError(f"completing checkpoint {journal!r}: cannot rename {tmp!r} "
                                 f"to {final!r}: {err.strerror or err}") from err
    _fsync_dir(dirname)
    _unlink_quietly(journal)
    _fsync_dir(dirname)


def recover_pending(fname):
    """Finish any checkpoint save interrupted after its commit point that wrote ``fname``.

    Loaders call this before reading, so a save killed between its renames is completed
    (the whole new set appears) instead of leaving a mix of old and new files. Returns the
    number of journals completed.
    """
    fname = _target(fname)
    dirname, base = os.path.split(fname)
    try:
        names = [n for n in os.listdir(dirname)
                 if n.startswith(_JOURNAL_PREFIX) and n.endswith(_JOURNAL_SUFFIX)]
    except OSError:
        return 0
    done = 0
    for name in sorted(names):
        journal = os.path.join(dirname, name)
        try:
            with open(journal, "rb") as f:
                listed = {b for _, b in json.loads(f.read().decode("utf-8"))["renames"]}
        except FileNotFoundError:
            continue  # another process completed it
        except (OSError, ValueError, KeyError, TypeError):
            listed = {base}  # unreadable: let _apply_journal report it
        if base in listed:
            _apply_journal(journal)
            done += 1
    return done
