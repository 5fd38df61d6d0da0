"""Seconds per steady-state run of one ``profile_workloads.py`` workload, without a profiler:
the timing half of an interleaved A/B between two source trees.

    PYTHONPATH=/tmp/mxbase .venv/bin/python benchmarks/ab_time.py conv_step --reps 5
    PYTHONPATH=/work/main  .venv/bin/python benchmarks/ab_time.py conv_step --reps 5

Each call builds the workload (bind, one untimed run), then times ``--reps`` runs and prints one
line: the workload, the mxteach it imported, the median and best wall seconds, the median CPU
seconds, and the 1-minute load.
Alternate the two trees call by call, so both see the same load over time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import profile_workloads as P  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=P.WORKLOADS)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args(argv)
    import mxteach as mx
    C.quiet_logs()
    run = P.build(mx, a.workload)
    run()
    times, cpu = [], []
    for _ in range(a.reps):
        t, c = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    # CPU seconds (all of this process's threads) too: under load, wall time mostly measures
    # how long the process waited for a core, while its CPU time still measures its work
    print(f"{a.workload} {Path(mx.__file__).parent.parent} median {statistics.median(times):.4f} "
          f"best {min(times):.4f} cpu_median {statistics.median(cpu):.4f} "
          f"load {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
