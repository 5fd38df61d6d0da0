"""Every environment switch mxteach reads, in one table.

Each switch is read when it is used (not cached at import), so ``mx.test_utils.environment``
and notebooks that set ``os.environ`` take effect at once — except ``MXTEACH_THREADS``, which
the CPU kernel package applies once, before its first kernel runs.

===================================  =========  ==================================================
switch                               default    effect
===================================  =========  ==================================================
``MXNET_HOME``                       ~/.mxnet   where downloaded data and models go (as MXNet)
``MXNET_UPDATE_ON_KVSTORE``          1          0: the module updates weights itself, not the
                                                kvstore (as MXNet)
``MXNET_OPTIMIZER_AGGREGATION_SIZE`` 4          how many weights one SGD call updates (as MXNet)
``MXTEACH_THREADS``                  auto       ``off``: leave numpy's and Numba's thread pools
                                                alone; N: run Numba kernels on N threads
                                                (N > 1 caps numpy's BLAS at 1 thread; 1
                                                leaves BLAS all its threads); auto: large
                                                GEMMs on every BLAS thread, others on 1
``MXTEACH_DEBUG``                    0          1: executors print each operator they run,
                                                with its input and output shapes, to stderr
``MXTEACH_DIST_TIMEOUT``             120        seconds a distributed-kvstore rank may be late
                                                before the others fail, naming it
``OMPI_COMM_WORLD_SIZE``             unset      set by Open MPI's launcher; dist_* stores need
                                                it or ``PMI_SIZE`` (read, never set)
``PMI_SIZE``                         unset      set by PMI launchers (MPICH, Slurm)
``NUMBA_ENABLE_CUDASIM``             0          1: ``mx.gpu(i)`` runs on Numba's CUDA simulator
                                                (read by Numba itself)
``MXTEACH_SIM_GPUS``                 1          under the simulator: how many gpus it shows
                                                (``gpu(0)`` .. ``gpu(N-1)``; multi-gpu lessons)
``OMP_WAIT_POLICY``                  PASSIVE    set (unless already set) before the first
                                                parallel kernel, so idle OpenMP workers sleep
                                                (read by the OpenMP runtime)
===================================  =========  ==================================================

``CONTRIBUTING.md`` lists the test-suite switches (``MXTEACH_ORACLE`` ...).
"""
from __future__ import annotations

import os
import platform

__all__ = ["SWITCHES", "get", "flag", "integer", "set_default", "data_dir", "data_dir_default"]

# name -> default (as the string the environment would hold)
SWITCHES = {
    "MXNET_HOME": None,
    "MXNET_UPDATE_ON_KVSTORE": "1",
    "MXNET_OPTIMIZER_AGGREGATION_SIZE": "4",
    "MXTEACH_THREADS": "",
    "MXTEACH_DEBUG": "0",
    "MXTEACH_SIM_GPUS": "1",
    "MXTEACH_DIST_TIMEOUT": "120",
    "OMPI_COMM_WORLD_SIZE": None,
    "PMI_SIZE": None,
}


def get(name):
    """The switch's current value as a string (its default when unset)."""
    if name not in SWITCHES:
        raise KeyError(f"'{name}' is not an mxteach environment switch; known: {sorted(SWITCHES)}")
    return os.environ.get(name, SWITCHES[name])


def flag(name):
    """A 0/1 switch as a bool."""
    value = get(name).strip()
    try:
        return bool(int(value))
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected 0 or 1") from None


def integer(name):
    """An integer switch."""
    value = get(name).strip()
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected an integer") from None


def set_default(name, value):
    """Give a variable read by another runtime (OpenMP ...) ``value`` unless the user set it;
    returns the value in force."""
    return os.environ.setdefault(name, value)


def data_dir_default():
    """Where downloads go unless ``MXNET_HOME`` says otherwise: ``~/.mxnet`` (Windows:
    ``%APPDATA%/mxnet``), as in MXNet."""
    if platform.system() == "Windows":
        return os.path.join(os.environ.get("APPDATA", ""), "mxnet")
    return os.path.join(os.path.expanduser("~"), ".mxnet")


def data_dir():
    """``$MXNET_HOME`` if set, else :func:`data_dir_default`."""
    return get("MXNET_HOME") or data_dir_default()
