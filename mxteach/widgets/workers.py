"""WorkersView: every worker of a distributed kvstore — batches, samples, bytes pushed and
pulled, time computing against time communicating, and (dist_async) staleness.

In a notebook whose workers are ipyparallel engines (``mxteach.launch.start_workers``), each
engine calls :func:`publish_kv_steps` on its store and the notebook follows them with
:class:`RemoteWorkers`, which re-emits the engines' ``kv_step`` events for a WorkersView."""
from __future__ import annotations

import time

from ..events import EventStream
from ._base import View
from ._svg import MUTED, FONT, PALETTE, Raw, esc, fmt_bytes, fmt_seconds, hbar, note, table

__all__ = ["WorkersView", "RemoteWorkers", "publish_kv_steps"]

COMPUTE, COMM = PALETTE[0], PALETTE[1]


class WorkersView(View):
    """Per worker rank of a ``dist_*`` kvstore: batches exchanged, samples, bytes pushed and
    pulled, a bar of compute (blue) against communication (orange) time, and staleness.

    Watch a Module trained with ``kvstore='dist_sync'`` (the view finds its store when the
    optimizer is installed) or a distributed store itself. It reads the store's ``kv_step``
    events: a synchronous store gathers every worker's counters at each exchange, so rank 0's
    view shows all ranks; a ``dist_async`` worker knows only its own row.

    Parameters
    ----------
    module : Module or a distributed KVStore
        What to watch (anything with ``events``).

    See notebook 16.
    """

    title = "Workers"
    kinds = ("kv_step", "init_optimizer")

    def empty_model(self):
        return {"kvstore": None, "rank": None, "num_workers": 0, "batch_size": None,
                "workers": {}, "staleness": {}}

    def _watch_store(self, kv):
        """Subscribe to a distributed store's events (once per store)."""
        events = getattr(kv, "events", None)
        if events is None or events is getattr(self.module, "events", None):
            return
        if getattr(self, "_store_seen", None) is kv:
            return
        self._store_seen = kv
        view = self
        events.subscribe(lambda e: view._on_event(e), kinds=("kv_step",))

    def read(self, module):
        kv = getattr(module, "_kvstore", None)
        if kv is not None:
            self._watch_store(kv)
        if getattr(module, "batch_size", None):          # RemoteWorkers says it
            self.model["batch_size"] = int(module.batch_size)
        shapes = getattr(module, "_data_shapes", None)
        if shapes:
            self.model["batch_size"] = int(shapes[0].shape[0])

    def update(self, event):
        if event.kind == "init_optimizer":
            self.read(event.source)
            return True
        m = self.model
        m["kvstore"] = event["kvstore"]
        m["rank"] = event["rank"]
        m["num_workers"] = event["num_workers"]
        for row in event["workers"]:
            m["workers"][int(row["rank"])] = {k: float(v) for k, v in row.items()}
        m["staleness"].update(event.data.get("staleness", {}) or {})
        return True

    def heading(self):
        m = self.model
        if m["kvstore"] is None:
            return "no distributed exchange yet"
        return (f"{m['kvstore']}: {m['num_workers']} worker(s), this is rank {m['rank']}")

    def render(self):
        m = self.model
        if not m["workers"]:
            return note("No distributed kvstore exchange yet: train with kvstore='dist_sync' "
                        "(launched with python -m mxteach.launch -n 2 script.py).")
        longest = max((w["compute_s"] + w["comm_s"] for w in m["workers"].values()),
                      default=0.0) or 1.0
        rows = []
        for rank in sorted(m["workers"]):
            w = m["workers"][rank]
            share = w["comm_s"] / max(w["compute_s"] + w["comm_s"], 1e-12)
            bar = hbar([(160 * w["compute_s"] / longest, COMPUTE, False),
                        (160 * w["comm_s"] / longest, COMM, False)], label=f"rank {rank} time")
            samples = ("?" if m["batch_size"] is None
                       else str(int(w["batches"]) * m["batch_size"]))
            rows.append([f"{rank}" + (" (this)" if rank == m["rank"] else ""),
                         str(int(w["batches"])), samples, fmt_bytes(w["bytes_pushed"]),
                         fmt_bytes(w["bytes_pulled"]), Raw(bar),
                         f"{fmt_seconds(w['compute_s'])} / {fmt_seconds(w['comm_s'])} "
                         f"({100 * share:.0f}% comm)", f"{w['staleness']:g}"])
        head = (f'<div style="{FONT};color:{MUTED}">{esc(self.heading())}; bars: compute '
                f'(blue) then communication (orange), scaled to the busiest rank</div>')
        return head + table(["rank", "batches", "samples", "pushed", "pulled", "time",
                             "compute / comm", "staleness"], rows)

    @classmethod
    def applies_to(cls, module):
        kv = getattr(module, "_kvstore", None)
        return kv is not None and "dist" in getattr(kv, "type", "")


def publish_kv_steps(kv):
    """On an ipyparallel engine: send each ``kv_step`` event of the store ``kv`` to the
    notebook (ipyparallel's data publication). Returns the function that unsubscribes.
    See notebook 16."""
    from ipyparallel.datapub import publish_data
    counter = [0]

    def send(event):
        counter[0] += 1
        publish_data({"kv_step": dict(event.data), "seq": counter[0]})
    return kv.events.subscribe(send, kinds=("kv_step",))


class RemoteWorkers:
    """The workers of a distributed store, seen from the notebook that runs them as engines.

    ``follow(async_result)`` polls what the engines published (:func:`publish_kv_steps`) until
    the result is ready and re-emits each new ``kv_step`` event on ``events``, so a
    ``WorkersView(RemoteWorkers())`` draws the workers live. Synchronous stores gather every
    worker's counters at each exchange: one engine's events carry every row, and rank 0's are
    emitted last (the view then says "this is rank 0").

    Parameters
    ----------
    kind : str, default 'dist_sync'
    batch_size : int, optional
        Each worker's batch size, for the view's samples column.

    See notebook 16.
    """

    def __init__(self, kind="dist_sync", batch_size=None):
        self.type = kind
        self.batch_size = batch_size
        self.events = EventStream(self)
        self.received = 0

    def _relay(self, data, seen):
        latest = []
        for i, d in enumerate(data if isinstance(data, list) else [data]):
            if d and "kv_step" in d and seen.get(i) != d.get("seq"):
                seen[i] = d.get("seq")
                latest.append(d["kv_step"])
        for step in sorted(latest, key=lambda e: -int(e.get("rank", 0))):
            self.received += 1
            self.events.emit("kv_step", **step)

    def follow(self, async_result, interval=0.1):
        """Relay the engines' events until ``async_result`` is ready; returns its result."""
        seen = {}
        while not async_result.ready():
            self._relay(async_result.data, seen)
            time.sleep(interval)
        self._relay(async_result.data, seen)
        return async_result.get()

    def __repr__(self):
        return f"<RemoteWorkers {self.type}: {self.received} kv_step event(s) relayed>"
