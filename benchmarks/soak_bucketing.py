"""Soak: a BucketingModule switching bucket every batch must keep flat memory.

Trains a small bucketed model (sequence lengths 5/10/15/20, one switch per batch) for
``--seconds`` and samples the process RSS; prints the least-squares slope of RSS against the
batch count (bytes per batch) over the second half of the run, after warm-up. Before issue 9,
``switch_history`` grew by one tuple per switch (+122 B per batch); now it keeps the recent
switches plus running counts per bucket.

    .venv/bin/python benchmarks/soak_bucketing.py [--seconds 60]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import mxteach as mx  # noqa: E402

KEYS = (5, 10, 15, 20)
BATCH = 8


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def sym_gen(key):
    data = mx.sym.var("data")
    emb = mx.sym.Embedding(data, input_dim=30, output_dim=8, name="emb")
    flat = mx.sym.Reshape(emb, shape=(0, -1))
    net = mx.sym.FullyConnected(mx.sym.mean(mx.sym.Reshape(flat, shape=(0, key, 8)), axis=1),
                                num_hidden=4, name="fc")
    return mx.sym.SoftmaxOutput(net, name="softmax"), ("data",), ("softmax_label",)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    a = ap.parse_args()
    rs = np.random.RandomState(0)
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=max(KEYS))
    mod.bind([("data", (BATCH, max(KEYS)))], [("softmax_label", (BATCH,))])
    mod.init_params()
    mod.init_optimizer(optimizer_params=(("learning_rate", 0.05),))
    batches = [mx.io.DataBatch([mx.nd.array(rs.randint(0, 30, (BATCH, k)))],
                               [mx.nd.array(rs.randint(0, 4, BATCH))], bucket_key=k,
                               provide_data=[("data", (BATCH, k))],
                               provide_label=[("softmax_label", (BATCH,))]) for k in KEYS]
    metric = mx.metric.Accuracy()
    samples, n, t0 = [], 0, time.time()
    while time.time() - t0 < a.seconds:
        batch = batches[n % len(batches)]
        mod.prepare(batch)
        mod.forward_backward(batch)
        mod.update()
        mod.update_metric(metric, batch.label)
        n += 1
        if n % 200 == 0:
            samples.append((n, rss_bytes()))
    half = samples[len(samples) // 2:]
    x = np.array([s[0] for s in half], dtype=float)
    y = np.array([s[1] for s in half], dtype=float)
    slope = float(np.polyfit(x, y, 1)[0]) if len(half) > 2 else float("nan")
    print(f"batches: {n} in {a.seconds:.0f} s, switches: {mod.num_switches}, "
          f"switch_history kept: {len(mod.switch_history)}, counts: {mod.switch_counts}")
    print(f"RSS: {samples[0][1] / 2**20:.1f} MiB -> {samples[-1][1] / 2**20:.1f} MiB")
    print(f"RSS slope over the second half: {slope:.2f} bytes per batch")


if __name__ == "__main__":
    main()
