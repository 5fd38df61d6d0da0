"""Cost of fit's non-finite watch (mxteach.module.health) on the MLP benchmark's model.

The 784-512-256-10 MLP of ``bench_mlp.py`` (batch 128, SGD lr 0.1 momentum 0.9) is trained
with ``Module.fit``. Two numbers:

* direct: the time of the per-batch check itself (``NonFiniteWatch.after_batch``, called
  on the trained module many times) divided by the median time of a training batch;
* A/B: epochs with the check on and off, interleaved, median epoch time each (noisy on a
  shared machine; the direct figure is the one to quote).

    .venv/bin/python benchmarks/bench_nonfinite.py [--samples 12800] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import mxteach as mx  # noqa: E402
from mxteach.module import health  # noqa: E402

BATCH = 128
LAYERS = (512, 256, 10)


def mlp():
    net = mx.sym.Variable("data")
    for i, h in enumerate(LAYERS):
        net = mx.sym.FullyConnected(net, num_hidden=h, name=f"fc{i + 1}")
        if i < len(LAYERS) - 1:
            net = mx.sym.Activation(net, act_type="relu", name=f"relu{i + 1}")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def epoch_time(mod, it, check):
    health.CHECK_NONFINITE = check
    t = time.perf_counter()
    mod.fit(it, num_epoch=1, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=12800)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    rs = np.random.RandomState(0)
    x = rs.rand(a.samples, 784).astype("float32")
    y = rs.randint(0, 10, a.samples).astype("float32")
    it = mx.io.NDArrayIter(x, y, batch_size=BATCH)
    mod = mx.mod.Module(mlp())
    import logging
    logging.getLogger().setLevel(logging.ERROR)
    mod.fit(it, num_epoch=1, optimizer="sgd", initializer=mx.init.Xavier(),
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    nbatches = a.samples // BATCH
    on, off = [], []
    for _ in range(a.rounds):
        off.append(epoch_time(mod, it, False) / nbatches)
        on.append(epoch_time(mod, it, True) / nbatches)
    health.CHECK_NONFINITE = True
    batch_s = statistics.median(off)
    # direct: the per-batch check on the trained module (a fresh watch each time would build
    # its plan again, so keep one, as fit does)
    watch = health.NonFiniteWatch(mod)
    it.reset()
    batch = next(it)
    mod.forward_backward(batch)
    mod.update()
    reps = 2000
    t = time.perf_counter()
    for k in range(reps):
        watch.after_batch(batch, 0, k)
    check_s = (time.perf_counter() - t) / reps
    print(f"batch (check off, median): {batch_s * 1e3:.3f} ms")
    print(f"check per batch (direct):  {check_s * 1e6:.1f} us = "
          f"{100 * check_s / batch_s:.2f} % of a batch")
    print(f"A/B epochs, check on vs off: {statistics.median(on) * 1e3:.3f} vs "
          f"{batch_s * 1e3:.3f} ms per batch = "
          f"{100 * (statistics.median(on) / batch_s - 1):+.2f} % (noisy)")
    assert watch.report is None, watch.report


if __name__ == "__main__":
    main()
