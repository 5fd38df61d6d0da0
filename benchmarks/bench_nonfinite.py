"""Cost of fit's non-finite watch (mxteach.module.health) on the MLP benchmark's model.

The 784-512-256-10 MLP of ``bench_mlp.py`` (``_common.mlp_symbol``, batch 128, SGD lr 0.1
momentum 0.9, the same synthetic MNIST-shaped data) is trained with ``Module.fit``. Two numbers:

* direct: the time of the per-batch check itself (``NonFiniteWatch.after_batch``, called
  on the trained module many times) divided by the median time of a training batch;
* A/B: epochs with the check on and off, interleaved, median epoch time each (noisy on a
  shared machine; the direct figure is the one to quote).

It runs mxteach alone, in this process (no MXNet or PyTorch side).

    .venv/bin/python benchmarks/bench_nonfinite.py [--samples 12800] [--rounds 5] [--reps 2000]
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]    # _common, and mxteach without an install
import _common as C  # noqa: E402
import mxteach as mx  # noqa: E402
from mxteach.module import health  # noqa: E402

BATCH = C.MLP_BATCH


def epoch_time(mod, it, check):
    health.CHECK_NONFINITE = check
    t = time.perf_counter()
    mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params=dict(C.MLP_OPTIMIZER))
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=12800)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=2000, help="direct calls of the check")
    a = ap.parse_args(argv)
    x, y = C.mnist_like(a.samples)
    it = mx.io.NDArrayIter(x, y, batch_size=BATCH)
    mod = mx.mod.Module(C.mlp_symbol(mx))
    logging.getLogger().setLevel(logging.ERROR)
    mod.fit(it, num_epoch=1, optimizer="sgd", initializer=mx.init.Xavier(),
            optimizer_params=dict(C.MLP_OPTIMIZER))
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
    reps = a.reps
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
