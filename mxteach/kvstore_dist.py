"""Distributed key-value stores over MPI: ``dist_sync``, ``dist_device_sync``, ``dist_async``.

Launch the same script on several processes (``python -m mxteach.launch -n 2 script.py``);
each is a *worker* with ``kv.rank`` in ``0 .. kv.num_workers-1``.

``dist_sync`` / ``dist_device_sync``
    ``push`` merges the values of this worker's devices (on the CPU, or — ``device`` in the
    name — on the first value's device, as the single-machine stores do) and queues the sum.
    The next ``pull`` (or ``barrier``) sends every queued gradient at once: the arrays are
    packed into contiguous buckets and summed over the workers with one ``MPI_Allreduce`` per
    bucket (with 2-bit compression: one ``MPI_Allgather`` of the packed codes per bucket, each
    worker then decodes and adds the workers' parts in rank order). Where MXNet's servers
    would run the optimizer on the sum, every worker runs the same updater on the same sum, so
    the weights stay identical without a server. ``init`` takes rank 0's values.
``dist_async``
    Server ranks (``-s 1`` in the launcher) own the keys (key → server by hash); a push is sent
    to the key's server, which applies the updater at once; a pull fetches the server's current
    weight. Staleness — how many other updates reached a key between a worker's pull and its
    next push — comes back with each pull and is in the ``kv_step`` events.

Every store has ``events`` (an :class:`mxteach.events.EventStream`) with one ``kv_step`` event
per exchange: bytes pushed and pulled, seconds communicating and computing, staleness, and (for
the synchronous stores) every worker's counters, which ``WorkersView`` draws. See notebook 16.
"""
from __future__ import annotations

import pickle
import time
import zlib

import numpy as np

from .backend import for_context
from .dist_comm import DistError, cluster, TAG_KV, TAG_REPLY
from .events import EventStream
from .fileio import atomic_write
from .gradient_compression import quantize_2bit, dequantize_2bit
from .kvstore import KVStore, KVSTORES, KVStoreError, _pairs
from .ndarray.ndarray import NDArray

__all__ = ["DistSyncKVStore", "DistDeviceSyncKVStore", "DistAsyncKVStore", "DistError",
           "BUCKET_BYTES"]

BUCKET_BYTES = 4 << 20    # one allreduce call carries up to this many bytes of gradients
_STAT_FIELDS = ("batches", "bytes_pushed", "bytes_pulled", "compute_s", "comm_s", "staleness")


class _DistBase(KVStore):
    """What the distributed stores share: the cluster, counters and the event stream."""

    _keeps_row_sparse = False   # the wire and the servers carry dense arrays

    def __init__(self, name):
        super().__init__(name)
        self._cluster = cluster("worker", name)
        self._id = self._cluster.stores
        self._cluster.stores += 1
        self.events = EventStream(self)
        self._stats = dict.fromkeys(_STAT_FIELDS, 0.0)
        self._last_comm_end = time.perf_counter()

    @property
    def rank(self):
        """This worker's rank among the workers (0 .. num_workers-1). See notebook 16."""
        return self._cluster.rank

    @property
    def num_workers(self):
        """Number of worker processes in the job. See notebook 16."""
        return self._cluster.size

    def _host_sum(self, stored, vals):
        """The sum of one worker's device values, in host memory (dtype of the stored array)."""
        for i, v in enumerate(vals):
            if v.shape != stored.shape:
                raise KVStoreError(f"push: value {i} for key has shape {v.shape}, the stored "
                                   f"array has shape {stored.shape}")
        ctx = self._merge_context(vals)
        merged = np.zeros(stored.shape, dtype=stored._data.dtype)
        for v in vals:
            merged += for_context(v.context).to_host(v._data).astype(merged.dtype, copy=False)
        return merged, ctx

    def _compression_threshold(self):
        return None if self._compression is None else float(
            self._compression.get("threshold", 0.5))

    def _compress_key(self, key, data):
        """(packed codes, bytes on the wire) for one key's gradient; residual per key."""
        res = self._residuals.setdefault(key, np.zeros(data.size, dtype=np.float32))
        packed = quantize_2bit(data, res, self._compression_threshold())
        return packed, packed.nbytes

    def _account(self, comm_start, pushed, pulled, staleness=0.0):
        now = time.perf_counter()
        st = self._stats
        st["batches"] += 1
        st["bytes_pushed"] += pushed
        st["bytes_pulled"] += pulled
        st["compute_s"] += max(0.0, comm_start - self._last_comm_end)
        st["comm_s"] += now - comm_start
        st["staleness"] = float(staleness)
        self._last_comm_end = now

    def __repr__(self):
        return (f"<{type(self).__name__} type={self._type!r} rank={self.rank}/"
                f"{self.num_workers} keys={len(self._store)}>")


class DistSyncKVStore(_DistBase):
    """``dist_sync``: gradients summed over all workers by MPI allreduce, bucket by bucket.

    Create it with ``mx.kv.create('dist_sync')`` inside an MPI launch. See notebook 16.
    """

    def __init__(self, name="dist_sync"):
        super().__init__(name)
        self._pending = []      # (key, host sum, merge context) waiting for the next exchange

    def init(self, key, value):
        """Initialise keys with rank 0's values (one broadcast); every worker must call it.
        See notebook 16."""
        pairs = _pairs(key, value, "values")
        super().init(key, value)
        arrays = [self._store[k]._data for k, _ in pairs]
        if self.num_workers > 1:
            got = self._cluster.collective("init", self._cluster.comm.bcast,
                                           [np.ascontiguousarray(a) for a in arrays], 0)
            for a, g in zip(arrays, got):
                a[...] = g

    def push(self, key, value, priority=0):
        """Queue this worker's (device-summed) gradients; sent at the next pull or barrier.
        See notebook 16."""
        for k, vals in _pairs(key, value, "values"):
            stored = self._stored(k, "push")
            merged, ctx = self._host_sum(stored, vals)
            self._pending = [p for p in self._pending if p[0] != k]
            self._pending.append((k, merged, ctx))

    def _buckets(self, items):
        """Split [(key, flat array)] into runs of at most BUCKET_BYTES (a bigger array alone)."""
        bucket, size = [], 0
        for item in items:
            nbytes = item[1].nbytes
            if bucket and size + nbytes > BUCKET_BYTES:
                yield bucket
                bucket, size = [], 0
            bucket.append(item)
            size += nbytes
        if bucket:
            yield bucket

    def _flush(self):
        """Exchange every queued gradient, then store the sums (or update with them)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        start = time.perf_counter()
        c = self._cluster
        c.arrive(f"push of {len(pending)} key(s) {[k for k, _, _ in pending][:4]}")
        summed, pushed = {}, 0
        if self._compression is not None:
            pushed = self._exchange_compressed(pending, summed)
        else:
            by_dtype = {}
            for k, merged, _ in pending:
                by_dtype.setdefault(merged.dtype, []).append((k, merged.reshape(-1)))
            for items in by_dtype.values():
                for bucket in self._buckets(items):
                    flat = np.concatenate([a for _, a in bucket])
                    pushed += flat.nbytes
                    if self.num_workers > 1:
                        self._collective(c.comm.Allreduce, c.MPI.IN_PLACE, flat)
                    offset = 0
                    for k, a in bucket:
                        summed[k] = flat[offset:offset + a.size]
                        offset += a.size
        for k, merged, ctx in pending:
            total = summed[k].reshape(merged.shape).astype(merged.dtype, copy=False)
            stored = self._store[k]
            if self._updater is None:
                stored._data[...] = total
                continue
            if stored.context != ctx:
                stored = self._store[k] = stored.copyto(ctx)
            self._updater(k, NDArray(total, ctx), stored)
        self._account(start, pushed, pushed)
        self._emit_step()

    def _collective(self, fn, *args):
        try:
            fn(*args)
        except self._cluster.MPI.Exception as err:
            self._cluster.fail(f"allreduce: {err.Get_error_string()} (a worker died)")

    def _exchange_compressed(self, pending, summed):
        """Allgather each bucket of packed 2-bit codes; decode and add in rank order."""
        thr = self._compression_threshold()
        items, sizes = [], {}
        for k, merged, _ in pending:
            items.append((k, self._compress_key(k, merged)[0]))
            sizes[k] = merged.size
        pushed = 0
        for bucket in self._buckets(items):
            flat = np.concatenate([p for _, p in bucket])
            pushed += flat.nbytes
            every = np.empty((self.num_workers, flat.size), dtype=np.float32)
            if self.num_workers > 1:
                self._collective(self._cluster.comm.Allgather, flat, every)
            else:
                every[0] = flat
            offset = 0
            for k, p in bucket:
                size = sizes[k]
                total = np.zeros(size, dtype=np.float32)
                for r in range(self.num_workers):
                    total += dequantize_2bit(every[r, offset:offset + p.size], size, thr)
                summed[k] = total
                offset += p.size
        return pushed

    def _emit_step(self):
        """Gather every worker's counters (one small allgather) when someone listens."""
        if not self.events:
            return
        mine = np.array([self._stats[f] for f in _STAT_FIELDS], dtype=np.float64)
        table = np.empty((self.num_workers, mine.size), dtype=np.float64)
        if self.num_workers > 1:
            self._collective(self._cluster.comm.Allgather, mine, table)
        else:
            table[0] = mine
        rows = [dict(rank=r, **{f: float(v) for f, v in zip(_STAT_FIELDS, row)})
                for r, row in enumerate(table)]
        self.events.emit("kv_step", rank=self.rank, num_workers=self.num_workers,
                         kvstore=self._type, workers=rows)

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Exchange queued pushes, then copy the summed (or updated) values out.
        See notebook 16."""
        self._flush()
        super().pull(key, out=out, priority=priority, ignore_sparse=ignore_sparse)

    def row_sparse_pull(self, key, out=None, priority=0, row_ids=None):
        """:meth:`pull` of the rows ``row_ids`` only (dense result). See notebook 16."""
        self._flush()
        super().row_sparse_pull(key, out=out, priority=priority, row_ids=row_ids)

    def barrier(self):
        """Wait until every worker gets here (queued pushes are exchanged first).
        See notebook 16."""
        self._flush()
        self._cluster.collective("barrier", lambda: None)

    _barrier = barrier

    def save_optimizer_states(self, fname, dump_optimizer=False):
        """Rank 0 writes the states (atomically); the others wait for it. See notebook 16."""
        self._flush()
        data = self._require_updater("save_optimizer_states").get_states(dump_optimizer)
        if self.rank == 0:
            atomic_write(fname, data)
        self._cluster.collective("save_optimizer_states", lambda: None)

    def load_optimizer_states(self, fname):
        """Every worker reads the states rank 0 wrote. See notebook 16."""
        self._flush()
        super().load_optimizer_states(fname)


class DistDeviceSyncKVStore(DistSyncKVStore):
    """``dist_device_sync``: as ``dist_sync``, merging a worker's devices on the first value's
    device before the exchange. See notebook 16."""

    def __init__(self, name="dist_device_sync"):
        super().__init__(name)


class DistAsyncKVStore(_DistBase):
    """``dist_async``: server ranks apply each push as it arrives and answer pulls.

    Needs server ranks: ``python -m mxteach.launch -n 2 -s 1 script.py``. See notebook 16.
    """

    def __init__(self, name="dist_async"):
        super().__init__(name)
        if not self._cluster.servers:
            self._cluster.fail(f"kvstore '{name}' needs server ranks: launch with "
                               "`python -m mxteach.launch -n 2 -s 1 script.py`")
        self._versions = {}
        self._staleness = {}

    def _server(self, key):
        servers = self._cluster.servers
        h = key if isinstance(key, int) else zlib.crc32(key.encode())
        return servers[h % len(servers)]

    def _request(self, server, message, reply=False):
        """Send ``message`` to ``server`` (a world rank); its answer when ``reply``."""
        c = self._cluster
        c.wait([c.world.isend(message, dest=server, tag=TAG_KV)], [server],
               f"worker {self.rank} sending '{message[0]}' to server")
        if not reply:
            return None
        req = c.world.irecv(source=server, tag=TAG_REPLY)
        holder = []
        c.wait([_Capture(req, holder)], [server], f"worker {self.rank} waiting for server")
        answer = holder[0]
        if isinstance(answer, tuple) and isinstance(answer[0], str) and answer[0] == "error":
            raise KVStoreError(f"server rank {server}: {answer[1]}")
        return answer

    def init(self, key, value):
        """Rank 0 sends the initial values to the servers; all workers then wait for it.
        See notebook 16."""
        pairs = _pairs(key, value, "values")
        super().init(key, value)
        if self.rank == 0:
            for k, vals in pairs:
                self._request(self._server(k), ("init", self._id, k, vals[0].asnumpy()), True)
        self._cluster.collective("init", lambda: None)

    def push(self, key, value, priority=0):
        """Send this worker's (device-summed) gradient to the key's server at once.
        See notebook 16."""
        for k, vals in _pairs(key, value, "values"):
            stored = self._stored(k, "push")
            merged, _ = self._host_sum(stored, vals)
            start = time.perf_counter()
            if self._compression is not None:
                packed, nbytes = self._compress_key(k, merged)
                payload = ("2bit", packed, merged.size, self._compression_threshold())
            else:
                payload, nbytes = merged, merged.nbytes
            self._request(self._server(k), ("push", self._id, k, payload,
                                            self._versions.get(k, 0), self.rank))
            self._account(start, nbytes, 0, self._staleness.get(k, 0))

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Fetch the servers' current values into ``out``. See notebook 16."""
        if out is None:
            raise KVStoreError("pull needs out=: the NDArray(s) to copy the stored value into")
        for k, outs in _pairs(key, out, "outputs"):
            stored = self._stored(k, "pull")
            start = time.perf_counter()
            value, version, stale = self._request(self._server(k),
                                                  ("pull", self._id, k, self.rank), True)
            stored._data[...] = value
            self._versions[k] = version
            self._staleness[k] = stale
            self._stats["bytes_pulled"] += value.nbytes
            self._stats["comm_s"] += time.perf_counter() - start
            self._last_comm_end = time.perf_counter()
        super().pull(key, out=out, priority=priority, ignore_sparse=ignore_sparse)
        if self.events:
            row = dict(rank=self.rank, **self._stats)
            self.events.emit("kv_step", rank=self.rank, num_workers=self.num_workers,
                             kvstore=self._type, workers=[row],
                             staleness=dict(self._staleness))

    def set_optimizer(self, optimizer):
        """Rank 0 sends the optimizer to every server, which then updates on each push.
        See notebook 16."""
        if self.rank == 0:
            blob = pickle.dumps(optimizer)
            for s in self._cluster.servers:
                self._request(s, ("optimizer", self._id, blob), True)
        self._cluster.collective("set_optimizer", lambda: None)
        self._updater = _OnServers()

    def barrier(self):
        """Wait until every worker gets here. See notebook 16."""
        self._cluster.collective("barrier", lambda: None)

    _barrier = barrier

    def _require_updater(self, action):
        raise KVStoreError(f"{action}: a dist_async store keeps the optimizer states on its "
                           "server ranks, which do not send them back (as in MXNet); use "
                           "dist_sync to save them")


class _OnServers:
    """Marks a dist_async store whose optimizer runs on the servers."""

    def __call__(self, *args):
        raise KVStoreError("the optimizer of a dist_async store runs on the servers")


class _Capture:
    """A pickled-message receive request that keeps the received object when it completes."""

    def __init__(self, req, holder):
        self._req, self._holder = req, holder

    def Test(self):
        done, value = self._req.test()
        if done:
            self._holder.append(value)
        return done


for _cls, _names in ((DistSyncKVStore, ("dist_sync", "dist")),
                     (DistDeviceSyncKVStore, ("dist_device_sync", "dist_sync_device")),
                     (DistAsyncKVStore, ("dist_async", "dist_device_async",
                                         "dist_async_device"))):
    for _name in _names:
        KVSTORES.register(_cls, _name)
