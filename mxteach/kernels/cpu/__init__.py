"""Numba CPU kernels, and the one thread policy they run under.

Two thread pools live in an mxteach process: Numba's (the ``parallel=True`` kernels: im2col,
col2im, pooling, BatchNorm) and numpy's OpenBLAS (every GEMM). A training step switches between
them many times, and on a small machine the idle workers of one pool spin on the cores the other
needs (benchmarks/RESULTS.md: a 2-thread conv net ran 3.5x slower than a 1-thread one). So,
before any kernel runs, this package

* sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is already set, so idle OpenMP workers sleep
  instead of spinning. It takes effect only if the OpenMP runtime is not loaded yet (Numba loads
  it when the first parallel kernel runs); the ``workqueue`` layer never spins and ``tbb``
  ignores the variable.
* caps numpy's OpenBLAS at 1 thread when Numba has more than one (through ctypes; nothing happens
  if numpy's BLAS is not an OpenBLAS this finds).

``MXTEACH_THREADS`` overrides this: ``off`` leaves both pools as numpy and Numba set them up;
an integer N runs the Numba kernels on N threads (with the BLAS cap above when N > 1).
``THREAD_POLICY`` records what was done.
"""
from __future__ import annotations

import ctypes
import glob
import os

from ... import config

_SETTING = config.get("MXTEACH_THREADS").strip().lower()

THREAD_POLICY = {"setting": _SETTING or "auto", "omp_wait_policy": None, "numba_threads": None,
                 "blas_threads": None, "blas_library": None}


def _openblas_setter():
    """(set_num_threads, path) of the OpenBLAS numpy loaded, or (None, None)."""
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
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                       "scipy_openblas_set_num_threads", "openblas_set_num_threads64_"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                return fn, path
    return None, None


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


_apply()
