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
