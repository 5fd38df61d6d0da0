"""A ``dist_async`` parameter server: an MPI rank that owns keys, applies pushes as they arrive
and answers pulls. Run as the second program of an MPMD launch (the launcher does this for
``-s N``)::

    mpiexec -n 2 python script.py : -n 1 python -m mxteach.kvstore_server

Messages (pickled, tag ``TAG_KV``) are tuples ``(op, store id, ...)``: ``init`` (answered
``ok``), ``optimizer`` (a pickled Optimizer from worker 0; answered ``ok``), ``push`` (a
gradient, raw or 2-bit packed, the version the worker last pulled, the worker), ``pull``
(answered ``(value, version, staleness)``) and ``stop`` (the worker is done). The server
exits when every worker has said ``stop``.

Staleness of a push: how many updates of that key, by any worker, the server applied after
the version the pushing worker last pulled (0 in lock-step training). See notebook 16.
"""
from __future__ import annotations

import os
import pickle
import sys

import numpy as np

from .dist_comm import cluster, TAG_KV, TAG_REPLY
from .gradient_compression import dequantize_2bit
from .ndarray.ndarray import NDArray
from .context import cpu
from . import optimizer as opt

__all__ = ["serve"]


class _Store:
    """The keys of one distributed store held on this server."""

    def __init__(self):
        self.values = {}
        self.versions = {}
        self.staleness = {}     # (key, worker) -> staleness of that worker's last push
        self.updater = None


def _gradient(payload):
    if isinstance(payload, tuple) and payload and payload[0] == "2bit":
        _, packed, size, threshold = payload
        return dequantize_2bit(packed, size, threshold)
    return np.asarray(payload)


def handle(stores, message):
    """Apply one message; returns the reply (None when the op has none)."""
    op, sid = message[0], message[1]
    store = stores.setdefault(sid, _Store())
    if op == "init":
        _, _, key, value = message
        store.values[key] = np.array(value)
        store.versions[key] = 0
        return "ok"
    if op == "optimizer":
        store.updater = opt.get_updater(pickle.loads(message[2]))
        return "ok"
    if op == "push":
        _, _, key, payload, base_version, worker = message
        if key not in store.values:
            return ("error", f"push to key {key!r}, which was never initialised")
        grad = _gradient(payload).reshape(store.values[key].shape)
        store.staleness[key, worker] = store.versions[key] - base_version
        if store.updater is None:
            store.values[key] = grad.astype(store.values[key].dtype)
        else:
            weight = NDArray(store.values[key], cpu())
            store.updater(key, NDArray(grad.astype(weight._data.dtype), cpu()), weight)
            store.values[key] = weight._data
        store.versions[key] += 1
        return None
    if op == "pull":
        _, _, key, worker = message
        if key not in store.values:
            return ("error", f"pull of key {key!r}, which was never initialised")
        return (store.values[key].copy(), store.versions[key],
                store.staleness.get((key, worker), 0))
    return ("error", f"unknown message {op!r}")


def serve():
    """Run the server loop until every worker has sent ``stop``."""
    c = cluster("server", "dist_async")
    MPI = c.MPI
    stores, stopped = {}, set()
    status = MPI.Status()
    while len(stopped) < len(c.workers):
        try:
            message = c.world.recv(source=MPI.ANY_SOURCE, tag=TAG_KV, status=status)
        except MPI.Exception as err:     # under ULFM a dead worker surfaces here
            print(f"mxteach.kvstore_server rank {c.world_rank}: {err.Get_error_string()}; "
                  "a worker died, stopping the job", file=sys.stderr, flush=True)
            sys.stderr.flush()
            os._exit(1)
        source = status.Get_source()
        if message[0] == "stop":
            stopped.add(source)
            continue
        reply = handle(stores, message)
        if reply is not None:
            c.world.send(reply, dest=source, tag=TAG_REPLY)


if __name__ == "__main__":
    serve()
    sys.exit(0)
