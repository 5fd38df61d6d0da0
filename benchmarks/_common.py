"""Shared plumbing for the side-by-side benchmarks: mxteach vs real MXNet 1.9.1 vs PyTorch (CPU).

Every framework runs in its own worker process, started by the driver (the ``bench_*.py``
script run without ``--worker``):

* mxteach and PyTorch in the project venv (``sys.executable``), one process each, so torch's
  OpenMP pool, numpy's OpenBLAS threads and Numba's threads never compete inside one process;
* MXNet 1.9.1 in the oracle venv (numpy 1.x: it cannot share a process with numba's numpy 2.x),
  found through ``MXTEACH_ORACLE`` or ``./.oracle/bin/python``.

The driver runs several *rounds*; each round starts one worker per framework, in a rotated order,
so a burst of load from other jobs on the 2 shared cores falls on every framework alike. Each
worker warms up (Numba compile or cache load, MKLDNN primitive creation, torch's first calls),
then times several repeats. Reported numbers are medians over all repeats of all rounds, with
the load average seen while they ran.

This file must import under both venvs (Python 3.11; numpy 1.23 or 2.x) and import no framework.

OpenBLAS environment
--------------------
This workplace sets ``OPENBLAS_CORETYPE=Haswell`` and ``OPENBLAS_L2_SIZE=512`` for the sake of old
OpenBLAS builds. On an idle machine they cost a current numpy little (its 2-thread sgemm of
128x784x512 takes ~0.5 ms with them, ~0.35 ms with neither: the SkylakeX kernel). But when other
processes run BLAS work on the 2 cores, the same sgemm with ``OPENBLAS_L2_SIZE=512`` set took
48-80 ms (median; best 0.5 ms), while without it it stayed at 0.3-0.6 ms (measured 2026-11-22,
once under other engineers' test runs and once under 4 background numpy GEMM loops). mxteach's
GEMMs are numpy's, so by default (``--openblas-env tuned``) the mxteach and torch workers run with
both variables unset -- in those commands only -- and record which OpenBLAS kernel numpy then
uses. The MXNet worker keeps the machine's setting: its bundled, older OpenBLAS is what the
variables protect, and its FullyConnected, Convolution, BatchNorm, Pooling and activations run
through MKLDNN (oneDNN) anyway. ``--openblas-env machine`` keeps the variables for every worker.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@BENCH-RESULT@@"
FRAMEWORKS = ("mxteach", "mxnet", "torch")
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SEED = 0


# -- finding the interpreters -----------------------------------------------------------------
def oracle_python():
    """Real MXNet 1.9.1's Python: $MXTEACH_ORACLE, else ./.oracle/bin/python, else None."""
    env = os.environ.get("MXTEACH_ORACLE")
    if env:
        p = Path(env)
        if not p.is_absolute():
            p = (Path.cwd() / p) if (Path.cwd() / p).exists() else (ROOT / p)
        return str(p) if p.exists() else None
    default = ROOT / ".oracle" / "bin" / "python"
    return str(default) if default.exists() else None


def has_torch():
    r = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return r.returncode == 0


def interpreter(fw):
    """(python, why_missing) for a framework's worker."""
    if fw == "mxnet":
        py = oracle_python()
        return (py, None) if py else (None, "no oracle venv (make oracle, or set MXTEACH_ORACLE)")
    if fw == "torch" and not has_torch():
        return None, ("torch not installed: .venv/bin/pip install -e '.[bench]' "
                      "(the CPU wheel torch==2.13.0)")
    return sys.executable, None


def worker_env(fw, openblas_env, threads, extra=()):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
              "NUMBA_NUM_THREADS"):
        env[k] = str(threads)
    for kv in extra:
        k, _, v = kv.partition("=")
        env[k] = v
    if openblas_env == "tuned" and fw != "mxnet":
        for k in OPENBLAS_VARS:
            env.pop(k, None)
    return env


# -- driver side ------------------------------------------------------------------------------
def driver_args(description, defaults, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                    help="comma-separated subset of mxteach,mxnet,torch")
    ap.add_argument("--rounds", type=int, default=defaults.get("rounds", 3),
                    help="worker processes per framework (interleaved)")
    ap.add_argument("--repeats", type=int, default=defaults.get("repeats", 3),
                    help="timed repeats inside each worker")
    ap.add_argument("--openblas-env", choices=("tuned", "machine"), default="tuned",
                    help="tuned: unset OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for mxteach and "
                         "torch; machine: keep them everywhere")
    ap.add_argument("--threads", type=int, default=2,
                    help="threads for every framework (OMP, OpenBLAS, MKL, Numba, torch)")
    ap.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the workers (repeatable; after --threads)")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    if extra:
        extra(ap)
    return ap


def run_workers(script, args, worker_argv, timeout=1800):
    """Run rounds x frameworks worker processes; return {fw: [result dicts]} and skips."""
    fws = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    for f in fws:
        if f not in FRAMEWORKS:
            raise SystemExit(f"unknown framework '{f}'; choose from {FRAMEWORKS}")
    results = {f: [] for f in fws}
    skipped = {}
    pythons = {}
    for f in fws:
        py, why = interpreter(f)
        if py is None:
            skipped[f] = why
            print(f"  [skip] {f}: {why}", file=sys.stderr)
        else:
            pythons[f] = py
    active = [f for f in fws if f in pythons]
    for r in range(args.rounds):
        order = active[r % len(active):] + active[:r % len(active)] if active else []
        for f in order:
            cmd = [pythons[f], str(script), "--worker", f, "--repeats", str(args.repeats)]
            cmd += worker_argv
            t0 = time.time()
            proc = subprocess.run(cmd, env=worker_env(f, args.openblas_env, args.threads,
                                                     args.worker_env),
                                  cwd=str(ROOT), capture_output=True, text=True,
                                  timeout=timeout)
            res = None
            for line in proc.stdout.splitlines():
                if line.startswith(MARK):
                    res = json.loads(line[len(MARK):])
            if proc.returncode != 0 or res is None:
                tail = (proc.stderr or proc.stdout)[-3000:]
                raise RuntimeError(f"{f} worker failed (exit {proc.returncode}):\n{tail}")
            res["wall_s"] = time.time() - t0
            results[f].append(res)
            print(f"  round {r + 1}/{args.rounds} {f:8s} done in {res['wall_s']:.1f} s "
                  f"(load {res['load'][0]:.1f} -> {res['load'][1]:.1f})", file=sys.stderr)
    return results, skipped


def pooled(results, key):
    """All repeat timings under ``key`` across a framework's rounds (a flat list)."""
    out = []
    for res in results:
        v = res[key]
        out.extend(v if isinstance(v, list) else [v])
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def spread(xs):
    """(min, max) relative to the median, for a +-% note."""
    if not xs:
        return float("nan"), float("nan")
    m = median(xs)
    return min(xs) / m - 1, max(xs) / m - 1


def load_summary(all_results):
    loads = [v for res in all_results for v in res["load"]]
    if not loads:
        return "n/a"
    return f"{min(loads):.1f}-{max(loads):.1f} (1-min load average, 2 cores)"


def fmt_ratio(a, b):
    if a is None or b is None or b != b or a != a or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def fmt_num(x, digits=0):
    if x is None or x != x:
        return "n/a"
    if digits == 0:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def throughput_rows(summary, metrics):
    """Rows ``label | mxteach | MXNet | PyTorch | mxteach/MXNet | mxteach/PyTorch`` for
    throughput metrics (higher is better); cells read "median (best)", ratios use medians.
    ``metrics``: [(key, label)] where summary[fw][key] = (median, best)."""
    rows = []
    for key, label in metrics:
        vals = [summary.get(fw, {}).get(key) for fw in FRAMEWORKS]
        cells = [f"{fmt_num(v[0])} ({fmt_num(v[1])})" if v else "n/a" for v in vals]
        med = [v[0] if v else None for v in vals]
        rows.append([label] + cells + [fmt_ratio(med[0], med[1]), fmt_ratio(med[0], med[2])])
    return rows


def rss_row(summary, key="rss_mib"):
    """``peak RSS, MiB | ... | mxteach/MXNet | mxteach/PyTorch`` (ratios: the other's RSS over
    mxteach's, so above 1.00x mxteach uses less memory, like the speed ratios)."""
    vals = [summary.get(fw, {}).get(key) for fw in FRAMEWORKS]
    return (["peak RSS of the worker, MiB"] + [fmt_num(v, 0) if v else "n/a" for v in vals] +
            [fmt_ratio(vals[1], vals[0]), fmt_ratio(vals[2], vals[0])])


def rate(count, times):
    """(median, best) of count/time over a list of times."""
    if not times:
        return None
    return count / median(times), count / min(times)


def write_json(path, payload):
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str))


# -- worker side ------------------------------------------------------------------------------
def loadavg():
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def peak_rss_mib():
    """This process's peak resident set size in MiB (ru_maxrss is KiB on Linux)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(payload):
    """The worker's one result line (stdout may also carry framework chatter)."""
    sys.stdout.write(MARK + json.dumps(payload) + "\n")
    sys.stdout.flush()


def run_worker(a, torch_worker, mx_worker):
    """A worker process: run the framework's workload, add its metadata, print the result."""
    res = torch_worker(a) if a.worker == "torch" else mx_worker(a.worker, a)
    res["meta"] = worker_meta(a.worker)
    emit(res)


def blas_info():
    """Which BLAS numpy runs in this process (threadpoolctl when present)."""
    try:
        import threadpoolctl
        return [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
                f"threads={i.get('num_threads')}" for i in threadpoolctl.threadpool_info()
                if i.get("user_api") == "blas"]
    except Exception:                       # noqa: BLE001 - informational only
        return ["threadpoolctl not installed"]


def worker_meta(fw):
    import numpy as np
    meta = {"framework": fw, "python": platform.python_version(), "numpy": np.__version__,
            "openblas_env": {k: os.environ.get(k) for k in OPENBLAS_VARS},
            "numpy_blas": blas_info()}
    if fw == "mxteach":
        import numba
        import mxteach
        meta.update(mxteach=mxteach.__version__, numba=numba.__version__,
                    numba_threads=numba.config.NUMBA_NUM_THREADS)
    elif fw == "mxnet":
        import mxnet
        feats = mxnet.runtime.Features()
        meta.update(mxnet=mxnet.__version__, mkldnn=feats.is_enabled("MKLDNN"),
                    openmp=feats.is_enabled("OPENMP"))
    elif fw == "torch":
        import torch
        meta.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                    mkldnn=torch.backends.mkldnn.is_available())
    return meta


def import_framework(fw):
    """The framework module; torch gets set_num_threads(--threads), 2 by default."""
    if fw == "mxteach":
        import mxteach as mx
        return mx
    if fw == "mxnet":
        import logging
        import mxnet as mx
        logging.getLogger().setLevel(logging.ERROR)
        return mx
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    return torch


def quiet_logs():
    import logging
    import warnings
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def timed(fn, repeats, warmup=1):
    """Median-ready list of ``repeats`` wall times of fn() after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# -- the MLP of bench_mlp.py (also timed by bench_nonfinite.py) ------------------------------
MLP_BATCH = 128
MLP_LAYERS = (512, 256, 10)
MLP_OPTIMIZER = {"learning_rate": 0.1, "momentum": 0.9}     # for optimizer="sgd"


def mlp_symbol(mx):
    """The benchmarks' 784-512-256-10 MLP (ReLU, SoftmaxOutput) for ``mx`` = mxteach or MXNet:
    the same Module code runs on both, so the symbol is written once."""
    net = mx.sym.Variable("data")
    for i, h in enumerate(MLP_LAYERS):
        net = mx.sym.FullyConnected(net, num_hidden=h, name=f"fc{i + 1}")
        if i < len(MLP_LAYERS) - 1:
            net = mx.sym.Activation(net, act_type="relu", name=f"relu{i + 1}")
    return mx.sym.SoftmaxOutput(net, name="softmax")


LENET = ((20, 5), (50, 5), 500)      # conv filters/kernel x2, then the hidden FC width


def lenet_symbol(mx):
    """LeNet-5 as MXNet's tutorial writes it: 2 x [conv 5x5 -> tanh -> max-pool 2x2/2], FC 500
    tanh, FC 10, SoftmaxOutput; for ``mx`` = mxteach or MXNet."""
    net = mx.sym.Variable("data")
    for i, (f, k) in enumerate(LENET[:2]):
        net = mx.sym.Convolution(net, kernel=(k, k), num_filter=f, name=f"conv{i + 1}")
        net = mx.sym.Activation(net, act_type="tanh", name=f"tanh{i + 1}")
        net = mx.sym.Pooling(net, pool_type="max", kernel=(2, 2), stride=(2, 2),
                             name=f"pool{i + 1}")
    net = mx.sym.Flatten(net)
    net = mx.sym.FullyConnected(net, num_hidden=LENET[2], name="fc1")
    net = mx.sym.Activation(net, act_type="tanh", name="tanh3")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def lenet_torch(torch):
    nn = torch.nn
    (f1, k1), (f2, k2), h = LENET
    return nn.Sequential(nn.Conv2d(1, f1, k1), nn.Tanh(), nn.MaxPool2d(2, 2),
                         nn.Conv2d(f1, f2, k2), nn.Tanh(), nn.MaxPool2d(2, 2), nn.Flatten(),
                         nn.Linear(f2 * 4 * 4, h), nn.Tanh(), nn.Linear(h, 10))


def mnist_like(n, seed=SEED, features=784, classes=10):
    """Synthetic MNIST-shaped data with a learnable rule, identical in every process
    (RandomState's stream is the same under numpy 1.x and 2.x).

    Pixels in [0, 1), ~19% of them non-zero as in MNIST (dense uniform inputs make SGD with
    lr 0.1 / momentum 0.9 stall at chance); labels from a random linear teacher on the centred
    pixels, so the final train accuracy is a sanity check that all three frameworks learn."""
    import numpy as np
    rng = np.random.RandomState(seed)
    x = (rng.rand(n, features) * (rng.rand(n, features) < 0.19)).astype(np.float32)
    teacher = rng.randn(features, classes).astype(np.float32)
    y = np.argmax((x - x.mean(axis=0)) @ teacher, axis=1).astype(np.float32)
    return x, y
