"""Key-value stores: where data-parallel gradients are summed and, optionally, weights updated.

A store holds one array per key. ``push`` sends one value per device, the store sums them (the
*merge*) and either keeps the sum or, once an optimizer is set, runs the updater on the stored
weight with the sum as gradient. ``pull`` copies the stored array to every device's output.

Where the merge happens is the difference between the single-machine types, as in MXNet 1.9:

* ``'local'`` (and any other name without ``'device'``): on the CPU (``cpu_pinned(0)``);
* ``'device'``: on a device of the pushed values. As MXNet's CommDevice, the sum buffers are
  spread over those devices by size when values from several devices first arrive: largest key
  first, each on the device holding the fewest elements so far (ties: the earlier device).

The distributed types ``dist_sync``, ``dist_device_sync`` and ``dist_async`` (workers, and
servers for ``dist_async``, over MPI) are in ``mxteach/kvstore_dist.py``, which registers them
here. ``nccl``, ``horovod``, ``byteps`` and other ``dist_*`` names need cluster or GPU setups
that mxteach does not model; asking for them raises MXNetError.
"""
from __future__ import annotations

import numbers

import numpy as np

from .backend import for_context
from .base import MXNetError, did_you_mean
from .registry import Registry
from .context import Context
from .ndarray.ndarray import NDArray
from . import optimizer as opt
from .ndarray import sparse_rows as kvs_sparse

__all__ = ["KVStoreBase", "KVStore", "create", "KVStoreError"]


class KVStoreError(MXNetError, ValueError):
    """A key, value or argument the store cannot use."""


def _check_key(key):
    if isinstance(key, (str, bytes)):
        return key.decode() if isinstance(key, bytes) else key
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return int(key)
    raise KVStoreError(f"kvstore keys must be int or str, got {key!r} "
                       f"({type(key).__name__})")


def _as_list(value, what):
    if isinstance(value, NDArray):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, NDArray) for v in value):
        return list(value)
    raise KVStoreError(f"{what} must be an NDArray or a non-empty list of NDArrays, got "
                       f"{type(value).__name__}")


def _pairs(key, value, what):
    """Normalise (key(s), value(s)) to [(key, [NDArray per device]), ...]."""
    if isinstance(key, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(key):
            raise KVStoreError(f"{len(key)} keys need a list of {len(key)} {what}, got "
                               f"{type(value).__name__}"
                               + (f" of length {len(value)}" if isinstance(value, (list, tuple))
                                  else ""))
        keys = [_check_key(k) for k in key]
        if len({type(k) for k in keys}) > 1:
            raise KVStoreError(f"inconsistent key types in {list(key)}: use all int or all str")
        return [(k, _as_list(v, f"{what} for key {k!r}")) for k, v in zip(keys, value)]
    return [(_check_key(key), _as_list(value, what))]


def _check_store_class(klass):
    if not isinstance(klass, type):
        raise KVStoreError(f"register expects a class, got {klass!r}")


# store classes registered by users; the built-in types are not classes of their own (create()
# falls back to KVStore(name) for them). Replacing a name warns, as in MXNet.
KVSTORES = Registry("kvstore", error=KVStoreError, check=_check_store_class)


class KVStoreBase:
    """What every store type shares: capability names and the registry of store classes.

    ``KVStoreBase.register`` adds a class under its lower-cased name; :func:`create` looks
    names up there before building a built-in store, as in MXNet 1.9.

    See notebook 04.
    """

    OPTIMIZER = "optimizer"
    kv_registry = KVSTORES.live  # MXNet's public dict: lower-cased name -> class

    @staticmethod
    def register(klass):
        """Register a store class under ``klass.__name__.lower()``; usable as a decorator.

        Parameters
        ----------
        klass : type

        Returns
        -------
        type
            ``klass``. See notebook 04.
        """
        return KVSTORES.register(klass)


class KVStore(KVStoreBase):
    """A single-process key-value store with MXNet 1.9's ``local``/``device`` semantics.

    Create it with :func:`create`. Keys are all int or all str for the life of a store.

    Parameters
    ----------
    name : str, default 'local'
        The store type; ``'device'`` in the name sums on the values' devices (buffers spread
        over them by size).

    Examples
    --------
    >>> import mxteach as mx
    >>> kv = mx.kv.create('local')
    >>> kv.init(3, mx.nd.ones((2, 3)))
    >>> kv.push(3, [mx.nd.ones((2, 3), ctx=mx.cpu(i)) for i in range(2)])
    >>> out = mx.nd.zeros((2, 3))
    >>> kv.pull(3, out=out)
    >>> out.asnumpy()[0]
    array([2., 2., 2.], dtype=float32)

    See notebook 04.
    """

    # a row_sparse init value is held row_sparse (only its stored rows); the distributed
    # stores, whose wire and servers carry dense arrays, keep a dense copy instead
    _keeps_row_sparse = True

    def __init__(self, name="local"):
        self._type = name
        self._store = {}
        self._key_type = None
        self._updater = None
        self._compression = None
        self._residuals = {}
        self._stypes = {}         # key -> storage type of its stored value
        self._merge_ctx = {}      # 'device': key -> the device its pushed values are summed on

    # -- properties ---------------------------------------------------------------------------
    @property
    def type(self):
        """The type name given to :func:`create` (lower-cased)."""
        return self._type

    @property
    def rank(self):
        """This worker's rank: always 0 (one process)."""
        return 0

    @property
    def num_workers(self):
        """Number of workers: always 1 (one process)."""
        return 1

    def is_capable(self, capability):
        """Whether the store supports ``capability`` (only ``'optimizer'`` is known).

        Parameters
        ----------
        capability : str

        Returns
        -------
        bool
            See notebook 04.
        """
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return True
        raise KVStoreError(f"unknown capability {capability!r}; the only one is 'optimizer'")

    def barrier(self):
        """Synchronise workers; a no-op with one process. See notebook 04."""

    _barrier = barrier

    # -- keys ---------------------------------------------------------------------------------
    def _use_key_type(self, key):
        kind = type(key)
        if self._key_type is None:
            self._key_type = kind
        elif self._key_type is not kind:
            raise KVStoreError(f"key {key!r} is {kind.__name__} but this store already uses "
                               f"{self._key_type.__name__} keys; mixed key types are not allowed")

    def _stored(self, key, action):
        self._use_key_type(key)
        if key not in self._store:
            known = sorted(self._store, key=str)
            raise KVStoreError(f"{action}: key {key!r} has not been initialised; call "
                               f"kv.init({key!r}, value) first (known keys: {known})."
                               + did_you_mean(key, known))
        return self._store[key]

    def _merge_context(self, values, key=None):
        if "device" not in self._type:
            return Context("cpu_pinned", 0)
        if key is None or len(values) < 2:     # one value is used where it lives, as in MXNet
            return values[0].context
        if key not in self._merge_ctx:
            self._place_merge_buffers([v.context for v in values])
        return self._merge_ctx[key]

    def _place_merge_buffers(self, devices):
        """Give each key without one a sum buffer on one of ``devices``. As MXNet, the count
        restarts over every key, largest first, each going to the device holding the fewest
        elements so far; keys placed before keep their device but still count."""
        held = dict.fromkeys(devices, 0)
        for k in sorted(self._store, key=lambda k: -self._store[k].size):
            ctx = min(held, key=held.get)       # min keeps the earliest device on ties
            self._merge_ctx.setdefault(k, ctx)
            held[ctx] += self._store[k].size

    # -- operations ---------------------------------------------------------------------------
    def init(self, key, value):
        """Store the initial value of each key (once per key).

        Parameters
        ----------
        key : int, str, or list of them
        value : NDArray or list of NDArray (one per key)

        See notebook 04.
        """
        for k, vals in _pairs(key, value, "values"):
            self._use_key_type(k)
            if len(vals) != 1 or k in self._store:
                raise KVStoreError(f"init: duplicate init of key {k!r}; each key is "
                                   "initialised once, with one value")
            value, self._stypes[k] = kvs_sparse.check_init_value(k, vals[0])
            if not self._keeps_row_sparse:
                value = value.tostype("default")
            # on the host, as MXNet; 'device' moves a weight to its sum's gpu at its first update
            self._store[k] = value.copyto(Context("cpu_pinned", 0))
            if not kvs_sparse.all_row_sparse([self._store[k]]):
                # a dense copy of a row_sparse value: MXNet's optimizers see a row_sparse
                # weight (FTRL goes lazy)
                self._store[k]._kv_stype = self._stypes[k]

    def broadcast(self, key, value, out, priority=0):
        """:meth:`init` with ``value`` then :meth:`pull` into ``out``. See notebook 04."""
        self.init(key, value)
        self.pull(key, out=out, priority=priority)

    def _compress(self, key, position, data):
        """2-bit quantisation with error feedback, per key and per pushing position."""
        thr = float(self._compression.get("threshold", 0.5))
        res = self._residuals.setdefault((key, position), np.zeros_like(data))
        res += data
        q = np.where(res >= thr, thr, np.where(res <= -thr, -thr, 0.0)).astype(data.dtype)
        res -= q
        return q

    def push(self, key, value, priority=0):
        """Send values: per key, the per-device values are summed, then stored or used as the
        gradient of the stored weight when an optimizer is set.

        Parameters
        ----------
        key : int, str, or list of them
        value : NDArray, list of NDArray (devices of one key), or list of those (per key)
        priority : int
            Accepted for compatibility; operations run in call order.

        See notebook 04.
        """
        for k, vals in _pairs(key, value, "values"):
            stored = self._stored(k, "push")
            for i, v in enumerate(vals):
                if v.shape != stored.shape:
                    raise KVStoreError(f"push: value {i} for key {k!r} has shape {v.shape}, the "
                                       f"stored array has shape {stored.shape}")
            ctx = self._merge_context(vals, k)
            if kvs_sparse.all_row_sparse(vals) and self._compression is None:
                # row_sparse gradients stay row_sparse: the updater updates those rows lazily
                # summed where the dense values would be (the host for 'local', a gpu for
                # 'device'), and updated there as the dense path does
                merged = kvs_sparse.sum_row_sparse([v.as_in_context(ctx) for v in vals],
                                                   stored.dtype)
                if self._updater is None:
                    self._replace(k, stored, merged)
                else:
                    if ctx.device_type == "gpu" and stored.context != ctx:
                        moved = self._store[k] = stored.copyto(ctx)
                        if hasattr(stored, "_kv_stype"):
                            moved._kv_stype = stored._kv_stype
                        stored = moved
                    self._updater(k, merged, stored)
                continue
            if ctx.device_type == "gpu" and self._compression is None:
                merged = self._sum_on_device(vals, ctx, stored.dtype)
            else:
                merged = self._sum_on_host(k, vals, ctx, stored)
            if self._updater is None:
                self._replace(k, stored, merged)
                continue
            if ctx.device_type == "gpu" and stored.context != ctx:
                # as MXNet: a host weight moves to its sum's gpu, and is updated there
                stored = self._store[k] = stored.copyto(ctx)
            self._updater(k, merged, stored)

    def _replace(self, k, stored, merged):
        """Without an optimizer the sum becomes the key's value, storage type too. As MXNet:
        a sum of the stored storage type is kept itself (a sum buffer on another device
        stays there), one of the other type is copied to where the value lives."""
        self._stypes[k] = merged.stype
        if merged.stype == "row_sparse" and not self._keeps_row_sparse:
            stored._data[...] = merged.asnumpy()        # the dense copy keeps its marker
            stored._kv_stype = "row_sparse"
        elif merged.stype != stored.stype:
            self._store[k] = merged.copyto(stored.context)
        elif merged.stype == "row_sparse" or stored.context != merged.context:
            self._store[k] = merged
        else:
            stored._data[...] = merged._data
            if hasattr(stored, "_kv_stype"):
                stored._kv_stype = "default"

    @staticmethod
    def _sum_on_device(vals, ctx, dtype):
        """'device' on a gpu: the values are copied to ``ctx`` (device-to-device where they
        live on gpus) and added there by the CUDA kernels, in push order, as the host sum."""
        merged = vals[0].as_in_context(ctx).astype(dtype)   # astype: always a new array
        for v in vals[1:]:
            merged += v.as_in_context(ctx).astype(dtype, copy=False)
        return merged

    def _sum_on_host(self, k, vals, ctx, stored):
        """'local' (and compressed pushes): the sum is made in host memory, as MXNet's
        CPU reduction."""
        merged = np.zeros(stored.shape, dtype=np.dtype(stored.dtype))
        for i, v in enumerate(vals):
            # the value's backend copies it to the host (no copy for a CPU value)
            data = for_context(v.context).to_host(v._data).astype(merged.dtype, copy=False)
            if self._compression is not None:
                data = self._compress(k, i, data)
            merged += data
        return NDArray(merged, ctx)

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copy the stored value of each key into its output array(s).

        Parameters
        ----------
        key : int, str, or list of them
        out : NDArray, list of NDArray (devices of one key), or list of those (per key)
        priority : int
            Accepted for compatibility.
        ignore_sparse : bool
            Leave sparse outputs unchanged, with a warning (use :meth:`row_sparse_pull`).

        See notebook 04.
        """
        if out is None:
            raise KVStoreError("pull needs out=: the NDArray(s) to copy the stored value into")
        for k, outs in _pairs(key, out, "outputs"):
            stored = self._stored(k, "pull")
            for i, o in enumerate(outs):
                if o.shape != stored.shape:
                    raise KVStoreError(f"pull: output {i} for key {k!r} has shape {o.shape}, the "
                                       f"stored array has shape {stored.shape}")
                if ignore_sparse and kvs_sparse.skip_sparse_pull(k, o):
                    continue
                if stored.stype == "row_sparse":
                    # densified into a dense output; a row_sparse one gets the stored rows
                    stored.copyto(o)
                elif o.stype != "default":
                    o[:] = stored          # re-stored in the output's own storage type
                else:
                    o._data[...] = stored._data

    def pushpull(self, key, value, out=None, priority=0):
        """:meth:`push` then :meth:`pull` (into ``value`` when ``out`` is None).
        See notebook 04."""
        self.push(key, value, priority)
        self.pull(key, out=value if out is None else out, priority=priority)

    def row_sparse_pull(self, key, out=None, priority=0, row_ids=None):
        """Pull only the rows ``row_ids`` of each key into row_sparse outputs: each ``out``
        then stores exactly those rows (sorted, repeats removed), as in MXNet.

        Parameters
        ----------
        key : int, str, or list of them
        out : RowSparseNDArray or list of RowSparseNDArray
        priority : int
        row_ids : NDArray or list of NDArray
            One array of row indices, used for every output, or one per output.

        See notebook 04.
        """
        if out is None or row_ids is None:
            raise KVStoreError("row_sparse_pull needs out= and row_ids=")
        ids = [row_ids] if isinstance(row_ids, NDArray) else list(row_ids)
        pairs = _pairs(key, out, "outputs")
        flat = [(k, o) for k, outs in pairs for o in outs]
        if len(ids) == 1:
            ids = ids * len(flat)
        if len(ids) != len(flat):
            raise KVStoreError(f"row_sparse_pull: {len(ids)} row_ids for {len(flat)} outputs")
        for (k, o), rid in zip(flat, ids):
            stored = self._stored(k, "row_sparse_pull")
            if o.shape != stored.shape:
                raise KVStoreError(f"row_sparse_pull: output for key {k!r} has shape {o.shape}, "
                                   f"the stored array has shape {stored.shape}")
            kvs_sparse.pull_rows(k, stored, self._stypes.get(k, "default"), o, rid,
                                 KVStoreError)

    # -- introspection (mxteach only) -----------------------------------------------------------
    def storage_info(self, key):
        """What the store holds for ``key``: its storage type, stored rows and bytes against
        the dense size (a row_sparse key costs only its stored rows).

        Parameters
        ----------
        key : int or str

        Returns
        -------
        dict
            ``{"stype", "stored_rows", "num_rows", "stored_bytes", "dense_bytes"}``.

        See notebook 15.
        """
        return kvs_sparse.storage_info(self._stored(_check_key(key), "storage_info"))

    # -- optimizer ----------------------------------------------------------------------------
    def set_gradient_compression(self, compression_params):
        """Quantise pushed values to 2 bits (``{'type': '2bit', 'threshold': t}``).

        Each pushed value is added to a residual kept per key and device position; entries at or
        beyond ``±threshold`` are sent as ``±threshold`` and the rest stays in the residual.
        Only ``device`` (and distributed) stores accept it, as in MXNet.

        Parameters
        ----------
        compression_params : dict
            ``type`` (required, ``'2bit'``) and optional ``threshold`` (default 0.5).

        See notebook 04.
        """
        if "device" not in self._type and "dist" not in self._type:
            raise KVStoreError(f"gradient compression is not supported by a '{self._type}' "
                               "kvstore; use mx.kv.create('device')")
        params = dict(compression_params)
        if "type" not in params:
            raise KVStoreError("set_gradient_compression needs a 'type' entry, e.g. "
                               "{'type': '2bit', 'threshold': 0.5}")
        if params["type"] != "2bit":
            raise KVStoreError(f"unknown gradient compression type {params['type']!r}; "
                               "only '2bit' exists")
        if float(params.get("threshold", 0.5)) <= 0:
            raise KVStoreError(f"2bit compression needs threshold > 0, got {params['threshold']}")
        self._compression = params
        self._residuals = {}

    def set_optimizer(self, optimizer):
        """Update weights in the store: every later push runs this optimizer's updater on the
        stored weight with the summed gradient.

        Parameters
        ----------
        optimizer : Optimizer

        See notebook 04.
        """
        self._set_updater(opt.get_updater(optimizer))

    def _set_updater(self, updater):
        """Use ``updater(key, merged_value, stored_array)`` on every push."""
        if not callable(updater):
            raise KVStoreError(f"updater must be callable, got {type(updater).__name__}")
        self._updater = updater

    def _require_updater(self, action):
        if not isinstance(self._updater, opt.Updater):
            raise KVStoreError(f"{action}: this store has no optimizer; call "
                               "kv.set_optimizer(optimizer) first")
        return self._updater

    def save_optimizer_states(self, fname, dump_optimizer=False):
        """Write the updater's states (and the optimizer if ``dump_optimizer``) to ``fname``.

        Parameters
        ----------
        fname : str
        dump_optimizer : bool, default False

        See notebook 04.
        """
        from .fileio import atomic_write  # never a half-written file (issue 9)
        data = self._require_updater("save_optimizer_states").get_states(dump_optimizer)
        atomic_write(fname, data)

    def load_optimizer_states(self, fname):
        """Read states written by :meth:`save_optimizer_states`.

        Parameters
        ----------
        fname : str

        See notebook 04.
        """
        updater = self._require_updater("load_optimizer_states")
        with open(fname, "rb") as f:
            updater.set_states(f.read())

    def __repr__(self):
        return f"<KVStore type={self._type!r} keys={len(self._store)}>"


_UNSUPPORTED = ("dist", "nccl", "horovod", "byteps")


def create(name="local"):
    """Create a key-value store.

    Parameters
    ----------
    name : str, default 'local'
        ``'local'``, ``'device'``, ``'local_allreduce_cpu'``, ``'local_allreduce_device'``,
        ``'local_update_cpu'`` ... (case-insensitive), or a name registered with
        :meth:`KVStoreBase.register`. Names with ``'device'`` merge on the pushing devices
        (sum buffers spread over them by size), the others on the CPU.

    Returns
    -------
    KVStore
        See notebook 04.
    """
    if not isinstance(name, str):
        raise MXNetError(f"kvstore name must be a string, got {type(name).__name__}")
    name = name.lower()
    if name in KVSTORES:
        return KVSTORES.get(name)()
    for prefix in _UNSUPPORTED:
        if name.startswith(prefix):
            raise KVStoreError(f"kvstore type '{name}' needs a cluster or NCCL GPUs, which "
                               "mxteach does not model; use 'local' or 'device'")
    return KVStore(name)
