"""In-process A/B of Convolution's two CPU paths (``ops/conv.py`` ``PER_SAMPLE_ROWS``) on one
``profile_workloads.py`` workload: one GEMM over the whole batch for every convolution
(``PER_SAMPLE_ROWS = 0``) against one GEMM per sample for those with few column rows (the
default). One process, the two settings alternated run by run in a rotating order, so both see
the same load, caches and Numba threads; each run after an untimed one that lets the buffers
settle on the new shapes.

    .venv/bin/python benchmarks/ab_conv_paths.py conv_step --rounds 9

Prints the median and best wall and CPU seconds per setting and the 1-minute load.
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
    ap.add_argument("workload", choices=("conv_step", "lenet_fit"))
    ap.add_argument("--rounds", type=int, default=9)
    a = ap.parse_args(argv)
    import mxteach as mx
    from mxteach.ops import conv
    C.quiet_logs()
    default = conv.PER_SAMPLE_ROWS
    settings = {"batch GEMM": 0, "per-sample GEMMs": default}
    run = P.build(mx, a.workload)
    wall = {k: [] for k in settings}
    cpu = {k: [] for k in settings}
    try:
        for r in range(a.rounds):
            for name in (list(settings) if r % 2 == 0 else list(settings)[::-1]):
                conv.PER_SAMPLE_ROWS = settings[name]
                run()
                t, c = time.perf_counter(), time.process_time()
                run()
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
    finally:
        conv.PER_SAMPLE_ROWS = default
    for name in settings:
        print(f"{a.workload} {name:17s} wall median {statistics.median(wall[name]):.4f} best "
              f"{min(wall[name]):.4f}  cpu median {statistics.median(cpu[name]):.4f} best "
              f"{min(cpu[name]):.4f}")
    print(f"1-minute load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
