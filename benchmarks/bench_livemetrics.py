"""How much LiveMetrics slows down fit.

Runs the same short fit (an MLP 784-128-10 on synthetic data, batch 64) several times each:

* ``baseline``     no listener at all (events cost one truth test),
* ``empty listener`` a do-nothing function subscribed to ``batch_end`` only: what the core
                   spends building and delivering events once anybody listens,
* ``noop callback`` ``batch_end_callback=lambda param: None``: what fit spends calling any
                   callback (it builds ``BatchEndParam(locals=locals())`` every batch),
* ``callback``     ``batch_end_callback=LiveMetrics()``, no widget (headless model only),
* ``live widget``  LiveMetrics with its ipywidgets form built, so batches trigger redraws
                   (throttled to 4/s and to 2 % of the time, trailing timer thread), as in a
                   notebook,
* ``inspector``    ModuleInspector as the callback, widget built (every view listening).

Rounds are interleaved. Three measures per mode:

* wall time, best of the rounds (the median is printed too; other processes on the machine
  make wall time noisy),
* CPU time of this process (all its threads: training, the redraw timer), median of the
  rounds: the extra work, insensitive to other processes,
* ``inside``: time measured inside the views' own code (event handling and drawing).

BLAS, OpenMP and Numba run single-threaded by default (``--threads N`` to change) so that the
CPU time is not inflated by threads spinning while they wait for each other.

Usage: ``python benchmarks/bench_livemetrics.py [--rounds 7] [--epochs 2] [--samples 4096]
[--batch 64] [--hidden 128] [--threads 1]``.
Issue 5's target: overhead below 5 %.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

MODES = ("baseline", "empty listener", "noop callback", "callback", "live widget",
         "inspector")


def build(mx, hidden=128):
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=hidden, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def make_iter(mx, samples, batch, seed=0):
    import numpy as np
    rng = np.random.RandomState(seed)
    x = rng.randn(samples, 784).astype("float32")
    y = rng.randint(0, 10, samples).astype("float32")
    return mx.io.NDArrayIter(x, y, batch_size=batch, shuffle=False)


def _noop(param):
    return None


def run(mode, samples, batch, epochs, hidden=128):
    """One fit; returns (wall seconds, CPU seconds, redraws, seconds inside the views)."""
    import mxteach as mx
    from mxteach.widgets import LiveMetrics, ModuleInspector
    mod = mx.mod.Module(build(mx, hidden), context=mx.cpu(0))
    callback = None
    if mode == "empty listener":
        mod.events.subscribe(lambda event: None, kinds=("batch_end",))
    elif mode == "noop callback":
        callback = _noop
    elif mode == "callback":
        callback = LiveMetrics()
    elif mode == "live widget":
        callback = LiveMetrics()
        callback.widget
    elif mode == "inspector":
        callback = ModuleInspector(mod)
        callback.widget
    it = make_iter(mx, samples, batch)
    wall, cpu = time.perf_counter(), time.process_time()
    mod.fit(it, num_epoch=epochs, batch_end_callback=callback,
            optimizer_params=(("learning_rate", 0.05),), eval_metric="acc")
    live = mode in ("live widget", "inspector")
    if live:
        # the trailing redraw belongs to this fit: wait for it, counted in CPU not in wall
        time.sleep(0.6)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    if live:
        wall -= 0.6
    draws, inside = None, 0.0
    if hasattr(callback, "cost") or hasattr(callback, "views"):
        views = list(callback.views.values()) if hasattr(callback, "views") else [callback]
        draws = sum(v.draws for v in views)
        inside = sum(v.cost["events"] + v.cost["draws"] for v in views)
    return wall, cpu, draws, inside


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP/Numba threads (default 1)")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import logging
    logging.getLogger().setLevel(logging.WARNING)
    modes = list(MODES)
    try:
        import ipywidgets  # noqa: F401  (only to know whether the widget modes can run)
    except ImportError:
        modes = modes[:2]
        print("ipywidgets not installed: widget modes skipped")
    run("baseline", args.batch * 4, args.batch, 1)           # compile the kernels first
    results = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(run(mode, args.samples, args.batch, args.epochs,
                                     args.hidden))
    batches = args.epochs * -(-args.samples // args.batch)

    def col(mode, i):
        return [r[i] for r in results[mode]]
    base_wall, base_cpu = min(col("baseline", 0)), statistics.median(col("baseline", 1))
    print(f"fit: MLP 784-{args.hidden}-10, {args.samples} samples, batch {args.batch}, "
          f"{args.epochs} "
          f"epochs = {batches} batches; {args.rounds} interleaved rounds; {args.threads} "
          f"BLAS/Numba thread(s); load average {os.getloadavg()[0]:.1f}")
    print(f"{'mode':<14} {'wall best':>9} {'median':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6} "
          f"{'inside':>7} {'per batch':>9} {'redraws':>7}")
    for mode in modes:
        wall, cpu = min(col(mode, 0)), statistics.median(col(mode, 1))
        inside = statistics.median(col(mode, 3))
        draws = col(mode, 2)[-1]
        print(f"{mode:<14} {wall:9.3f} {statistics.median(col(mode, 0)):7.3f} "
              f"{wall / base_wall:6.3f} {cpu:7.3f} {cpu / base_cpu:6.3f} "
              f"{100 * inside / base_cpu:6.2f}% {1e6 * inside / batches:7.0f}µs "
              f"{'' if draws is None else draws:>7}")
    key = "live widget" if "live widget" in results else "callback"
    cpu = statistics.median(col(key, 1))
    print(f"LiveMetrics overhead ({key}): CPU {100 * (cpu / base_cpu - 1):+.1f} %, wall "
          f"{100 * (min(col(key, 0)) / base_wall - 1):+.1f} % (best of {args.rounds}); its own "
          f"code {100 * statistics.median(col(key, 3)) / base_cpu:.2f} % of the baseline fit")


if __name__ == "__main__":
    main()
