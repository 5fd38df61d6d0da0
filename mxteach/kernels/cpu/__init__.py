"""Numba CPU kernels, and the thread policy they run under.

Two thread pools live in an mxteach process: Numba's (the ``parallel=True`` kernels: im2col,
col2im, pooling, BatchNorm) and numpy's OpenBLAS (every GEMM). A training step switches between
them many times, and on a small machine the idle workers of one pool spin on the cores the other
needs (benchmarks/RESULTS.md: with both pools at 2 threads a conv net ran 3.5x slower). So,
before any kernel runs, this package sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is set (idle
OpenMP workers sleep instead of spinning; effective only before Numba's OpenMP runtime loads)
and gives the cores to one pool:

* default (``MXTEACH_THREADS`` unset): a policy per GEMM. Numba kernels on all of Numba's
  threads; numpy's OpenBLAS at 1 thread (through ctypes; nothing happens if numpy's BLAS is not
  an OpenBLAS this finds), except that a GEMM of at least ``GEMM_SPLIT_FLOPS`` gets every BLAS
  thread (:func:`gemm_threads`, called by FullyConnected and Convolution before each GEMM)
  while other processes leave the cores free: a multi-threaded GEMM waits for its slowest
  thread, so while other processes keep about one core busy or more (:func:`_busy`, looked
  at once a second) every GEMM stays on 1 thread, and so do the Numba kernels. Small GEMMs
  gain nothing from a second BLAS thread that has to be woken;
* ``MXTEACH_THREADS=N`` (N > 1): Numba kernels on N threads, BLAS always capped at 1 (the
  previous default; robust when other processes load the cores);
* ``MXTEACH_THREADS=1``: the other way round, Numba kernels serial and the GEMMs on every BLAS
  thread. On a quiet 2-core machine it is faster for GEMM-bound models (MLP fit 31.8k -> 38.8k
  samples/s, predict 96k -> 141k, conv net 57 -> 55 steps/s), but a multi-threaded GEMM waits
  for its slowest thread: with 10 other busy processes on the 2 cores an MLP fit took 75 s
  instead of 3.5 s. So it is not the default;
* ``MXTEACH_THREADS=off``: both pools as numpy and Numba set them up.

``THREAD_POLICY`` records what was done.
"""
from __future__ import annotations

import ctypes
import glob
import os
import time

from ... import config

_SETTING = config.get("MXTEACH_THREADS").strip().lower()

THREAD_POLICY = {"setting": _SETTING or "auto", "omp_wait_policy": None, "numba_threads": None,
                 "blas_threads": None, "blas_library": None}


def _openblas_libraries():
    """(CDLL, path) of each OpenBLAS numpy may have loaded, most likely first."""
    import numpy as np
    root = os.path.dirname(np.__file__)
    candidates = []
    for pattern in (os.path.join(root, os.pardir, "numpy.libs", "*openblas*"),   # Linux wheels
                    os.path.join(root, ".dylibs", "*openblas*"),                   # macOS wheels
                    os.path.join(root, os.pardir, "numpy.libs", "*.dll")):         # Windows
        candidates += [os.path.normpath(f) for f in sorted(glob.glob(pattern))]
    try:    # a numpy built against a system OpenBLAS: take the one mapped into this process
        with open("/proc/self/maps") as maps:
            candidates += sorted({line.split()[-1] for line in maps
                                  if "openblas" in line.lower() and "/" in line})
    except OSError:
        pass
    for path in candidates:
        try:
            yield ctypes.CDLL(path), path
        except OSError:
            continue


def _openblas_setter():
    """(set_num_threads, path) of the OpenBLAS numpy loaded, or (None, None)."""
    for lib, path in _openblas_libraries():
        for symbol in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                       "scipy_openblas_set_num_threads", "openblas_set_num_threads64_"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                return fn, path
    return None, None


def cblas_gemm(dtype):
    """(cblas_?gemm, int type) from numpy's OpenBLAS for float32/float64, or (None, None).

    ``kernels/cpu/nn.py`` ``matmul`` uses it for ``C += A @ B`` (beta = 1), which numpy cannot
    do without a temporary the size of C. The scipy-openblas wheels export 64-bit-integer
    symbols (``scipy_cblas_sgemm64_``), a system OpenBLAS the 32-bit ``cblas_sgemm``."""
    key = "s" if dtype == "float32" else "d"
    if key in _CBLAS:
        return _CBLAS[key]
    found = (None, None)
    try:
        for lib, _ in _openblas_libraries():
            for symbol, itype in ((f"scipy_cblas_{key}gemm64_", ctypes.c_int64),
                                  (f"cblas_{key}gemm64_", ctypes.c_int64),
                                  (f"cblas_{key}gemm", ctypes.c_int)):
                fn = getattr(lib, symbol, None)
                if fn is not None:
                    real = ctypes.c_float if key == "s" else ctypes.c_double
                    fn.argtypes = ([ctypes.c_int] * 3 + [itype] * 3 + [real, ctypes.c_void_p,
                                   itype, ctypes.c_void_p, itype, real, ctypes.c_void_p, itype])
                    fn.restype = None
                    found = (fn, itype)
                    break
            if found[0] is not None:
                break
    except Exception:          # no BLAS we can call: matmul falls back to numpy
        found = (None, None)
    _CBLAS[key] = found
    return found


_CBLAS = {}

#: a GEMM of at least this many flops (2*m*n*k) gets every BLAS thread under the default policy
GEMM_SPLIT_FLOPS = 8_000_000
# the per-GEMM policy's state: the OpenBLAS setter, its thread count now, the count a large GEMM
# gets (0: the policy is off), when the machine was last looked at, the smoothed number of
# other processes' runnable threads, and the verdict
_GEMM = {"setter": None, "now": 0, "many": 0, "checked": -1.0, "others": 0.0, "busy": False}


def _others_running():
    """How many threads of *other* processes are runnable at this instant (Linux: the running
    count of /proc/loadavg minus this process's threads in state R), or None elsewhere."""
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        ours = 0
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/stat") as f:
                    stat = f.read()
            except OSError:          # the thread ended meanwhile
                continue
            ours += stat[stat.rindex(")") + 2] == "R"
        return max(running - ours, 0)
    except (OSError, ValueError, IndexError):
        return None


def _busy():
    """Whether other processes keep the cores busy: then a GEMM split over every core would
    wait for the thread that lost its core (measured here: 10x slower under load 30). Looked at
    most once a second; the instant counts are smoothed over the last few looks, so a passing
    burst does not flip the policy. The 1-minute load average is not used where the instant
    count exists: it lags by a minute and counts this process's own threads."""
    now = time.monotonic()
    if now - _GEMM["checked"] > 1.0:
        _GEMM["checked"] = now
        cores = os.cpu_count() or 1
        others = _others_running()
        if others is None:
            try:
                busy = os.getloadavg()[0] > cores + 1
            except OSError:        # no load figures at all: assume a quiet machine
                busy = False
        else:
            _GEMM["others"] = 0.5 * _GEMM["others"] + 0.5 * others
            busy = _GEMM["others"] > (cores - 1) / 2     # any steady competitor on 2 cores
        if busy != _GEMM["busy"]:
            # Numba's parallel kernels wait for their slowest thread just the same: serial
            # while the cores are taken, every thread again once they are free
            _GEMM["busy"] = busy
            _numba_threads(1 if busy else _GEMM["many"])
    return _GEMM["busy"]


def _numba_threads(n):
    import numba
    numba.set_num_threads(n)


def gemm_threads(flops):
    """Set numpy's BLAS threads for the next GEMM of ``flops`` floating-point operations, as
    the default thread policy says (module docstring); nothing under the other settings.
    Costs one ctypes call only when the count changes."""
    many = _GEMM["many"]
    if not many:
        return
    want = many if flops >= GEMM_SPLIT_FLOPS and not _busy() else 1
    if want != _GEMM["now"]:
        _GEMM["setter"](want)
        _GEMM["now"] = want


def _apply():
    if _SETTING in ("off", "none", "false", "no"):
        return
    if _SETTING and not _SETTING.isdigit():
        raise ValueError(f"MXTEACH_THREADS={_SETTING!r}: use 'off' or a number of threads")
    THREAD_POLICY["omp_wait_policy"] = config.set_default("OMP_WAIT_POLICY", "PASSIVE")
    import numba
    threads = numba.config.NUMBA_NUM_THREADS
    if _SETTING:
        threads = max(1, min(int(_SETTING), threads))
        numba.set_num_threads(threads)     # starts Numba's pool (after the wait policy is set)
    THREAD_POLICY["numba_threads"] = threads
    if threads > 1:
        try:
            setter, path = _openblas_setter()
        except Exception:      # never let the policy stop the import
            setter, path = None, None
        if setter is not None:
            setter(1)
            THREAD_POLICY["blas_threads"], THREAD_POLICY["blas_library"] = 1, path
            if not _SETTING:       # default: large GEMMs take every core while it is free
                _GEMM.update(setter=setter, now=1, many=threads)
                THREAD_POLICY["blas_threads"] = f"1, or {threads} for GEMMs of >= " \
                                                f"{GEMM_SPLIT_FLOPS:,} flops on a quiet machine"


_apply()
