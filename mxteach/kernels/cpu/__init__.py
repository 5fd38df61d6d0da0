"""Numba CPU kernels, and the thread policy they run under.

Two thread pools live in an mxteach process: Numba's (the ``parallel=True`` kernels: im2col,
col2im, pooling, BatchNorm) and numpy's OpenBLAS (every GEMM). A training step switches between
them many times, and on a small machine the idle workers of one pool spin on the cores the other
needs (benchmarks/RESULTS.md: with both pools at 2 threads a conv net ran 3.5x slower). So,
before any kernel runs, this package sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is set (idle
OpenMP workers sleep instead of spinning; effective only before Numba's OpenMP runtime loads)
and gives the cores to one pool:

* default (``MXTEACH_THREADS`` unset): Numba kernels on all of Numba's threads, numpy's OpenBLAS
  capped at 1 (through ctypes; nothing happens if numpy's BLAS is not an OpenBLAS this finds).
  This is robust when other processes load the cores;
* ``MXTEACH_THREADS=1``: the other way round, Numba kernels serial and the GEMMs on every BLAS
  thread. On a quiet 2-core machine it is faster for GEMM-bound models (MLP fit 31.8k -> 38.8k
  samples/s, predict 96k -> 141k, conv net 57 -> 55 steps/s), but a multi-threaded GEMM waits
  for its slowest thread: with 10 other busy processes on the 2 cores an MLP fit took 75 s
  instead of 3.5 s. So it is not the default;
* ``MXTEACH_THREADS=N`` (N > 1): Numba kernels on N threads, BLAS capped at 1;
* ``MXTEACH_THREADS=off``: both pools as numpy and Numba set them up.

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
