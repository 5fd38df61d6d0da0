"""WorkersView driven by kv_step events (no MPI needed: the events are made by hand)."""
from __future__ import annotations

from mxteach.events import EventStream
from mxteach.widgets import WorkersView


class FakeStore:
    type = "dist_sync"

    def __init__(self):
        self.events = EventStream(self)


def row(rank, batches, comm):
    return dict(rank=rank, batches=batches, bytes_pushed=4096.0 * batches,
                bytes_pulled=4096.0 * batches, compute_s=1.0, comm_s=comm, staleness=0.0)


def test_workers_view_keeps_one_row_per_rank_and_draws_them():
    kv = FakeStore()
    view = WorkersView(kv)
    assert "No distributed kvstore exchange yet" in view.to_html()
    kv.events.emit("kv_step", rank=0, num_workers=2, kvstore="dist_sync",
                   workers=[row(0, 1, 0.5), row(1, 1, 3.0)])
    kv.events.emit("kv_step", rank=0, num_workers=2, kvstore="dist_sync",
                   workers=[row(0, 2, 1.0), row(1, 2, 3.0)])
    m = view.model
    assert sorted(m["workers"]) == [0, 1]
    assert m["workers"][0]["batches"] == 2 and m["workers"][1]["bytes_pushed"] == 8192
    html = view.to_html()
    assert "dist_sync: 2 worker(s), this is rank 0" in html
    assert "50% comm" in html and "75% comm" in html        # 1/(1+1) and 3/(1+3)
    assert "8.0 KiB" in html


class FakeAsyncResult:
    """What RemoteWorkers reads of an ipyparallel AsyncResult: ready(), data, get()."""

    def __init__(self, snapshots, result):
        self._snapshots, self._result = list(snapshots), result
        self.data = self._snapshots.pop(0)

    def ready(self):
        if self._snapshots:
            self.data = self._snapshots.pop(0)
            return False
        return True

    def get(self):
        return self._result


def test_remote_workers_relays_engine_events_to_a_view():
    from mxteach.widgets.workers import RemoteWorkers

    def published(seq, batches):
        # a dist_sync engine publishes every worker's counters; one dict per engine
        step = dict(rank=0, num_workers=2, kvstore="dist_sync",
                    workers=[row(0, batches, 0.5), row(1, batches, 1.0)])
        return {"kv_step": step, "seq": seq}

    other = lambda seq, b: dict(published(seq, b), kv_step=dict(published(seq, b)["kv_step"],
                                                                 rank=1))
    snaps = [[{}, {}], [published(1, 1), other(1, 1)], [published(1, 1), other(1, 1)],
             [published(2, 2), other(2, 2)]]
    remote = RemoteWorkers("dist_sync", batch_size=4)
    view = WorkersView(remote)
    assert remote.follow(FakeAsyncResult(snaps, ["done", "done"]), interval=0) == ["done", "done"]
    # two new steps per engine, no repeats of an already relayed snapshot
    assert remote.received == 4
    m = view.model
    assert m["rank"] == 0 and m["batch_size"] == 4        # rank 0's event comes last
    assert m["workers"][1]["batches"] == 2
    assert ">8<" in view.to_html()                         # samples: 2 batches x 4 rows
