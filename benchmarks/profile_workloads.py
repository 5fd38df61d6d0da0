"""Where mxteach's time goes on each benchmark workload: pyinstrument, steady state only.

Each workload is built, run once untimed (bind, Numba compile or cache load, first allocations),
then profiled over a fixed amount of steady-state work. The report per workload: the wall time,
the top five functions by *self* time (a Numba kernel's time counts as the self time of the
Python function that calls it, so ``_conv_forward`` includes its im2col kernel), and the share
of the time spent in mxteach's own Python frames outside ``ops/`` and ``kernels/`` -- the
per-step Python overhead of the executor, module, optimizer, metric and iterator.

    .venv/bin/python benchmarks/profile_workloads.py                 # every workload
    .venv/bin/python benchmarks/profile_workloads.py --only conv     # one of them
    .venv/bin/python benchmarks/profile_workloads.py --json prof.json

Needs pyinstrument (the ``bench`` extra).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

WORKLOADS = ("mlp_fit", "mlp_predict", "lenet_fit", "conv_step", "lstm_fit")


def _mlp(mx, net, predict):
    x, y = C.mnist_like(2560 if net == "mlp" else 1280)
    bs = C.MLP_BATCH if net == "mlp" else 64
    if net == "lenet":
        x = x.reshape(-1, 1, 28, 28)
    mod = mx.mod.Module(C.mlp_symbol(mx) if net == "mlp" else C.lenet_symbol(mx))
    it = mx.io.NDArrayIter(x, y, batch_size=bs)
    opt = dict(C.MLP_OPTIMIZER)
    mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params=opt,
            initializer=mx.init.Xavier())
    if predict:
        return lambda: [mod.predict(it) for _ in range(4)]
    return lambda: mod.fit(it, num_epoch=2, optimizer="sgd", optimizer_params=opt)


def _conv(mx):
    import bench_conv
    x, y = bench_conv.data()
    b = bench_conv.BATCH
    mod = mx.mod.Module(bench_conv.conv_symbol(mx))
    mod.bind(data_shapes=[("data", (b, 1, 28, 28))], label_shapes=[("softmax_label", (b,))])
    mod.init_params(initializer=mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1,
                                                          "momentum": 0.9})
    batches = [mx.io.DataBatch(data=[mx.nd.array(x[i:i + b])], label=[mx.nd.array(y[i:i + b])])
               for i in range(0, len(x), b)]

    def steps(n=40):
        for s in range(n):
            mod.forward_backward(batches[s % len(batches)])
            mod.update()
    steps(4)
    return steps


def _lstm(mx):
    import random

    import numpy as np

    import bench_lstm as L
    enc, vocab = mx.rnn.encode_sentences(L.corpus(320), invalid_label=0, start_label=1)
    random.seed(0)
    np.random.seed(0)
    it = mx.rnn.BucketSentenceIter(enc, L.BATCH, buckets=list(L.BUCKETS), invalid_label=0)
    mod = mx.mod.BucketingModule(L.lm_sym_gen(mx, len(vocab)),
                                 default_bucket_key=it.default_bucket_key)
    opt = {"learning_rate": L.LR, "momentum": L.MOMENTUM}
    mod.fit(it, eval_metric=mx.metric.Perplexity(0), optimizer="sgd", optimizer_params=opt,
            initializer=mx.init.Xavier(), num_epoch=1)
    return lambda: mod.fit(it, eval_metric=mx.metric.Perplexity(0), optimizer="sgd",
                           optimizer_params=opt, num_epoch=1)


def build(mx, name):
    if name in ("mlp_fit", "mlp_predict"):
        return _mlp(mx, "mlp", name == "mlp_predict")
    if name == "lenet_fit":
        return _mlp(mx, "lenet", False)
    if name == "conv_step":
        return _conv(mx)
    return _lstm(mx)


def summarise(session, top=5):
    """Top ``top`` functions by self time, and the share of mxteach Python overhead."""
    root = session.root_frame()
    total = root.time if root is not None else 0.0
    selfs = defaultdict(float)
    stack = [root] if root is not None else []
    while stack:
        f = stack.pop()
        stack.extend(f.children)
        if f.is_synthetic:
            continue
        path = f.file_path or ""
        short = path.split("site-packages/")[-1].split("/work/main/")[-1]
        selfs[(f.function, short, f.line_no)] += f.total_self_time
    rows = sorted(selfs.items(), key=lambda kv: -kv[1])
    overhead = sum(t for (fn, p, _), t in rows
                   if p.startswith("mxteach/") and "/ops/" not in p and "/kernels/" not in p)
    return {"total_s": total,
            "top": [{"function": fn, "where": f"{p}:{ln}", "self_s": t,
                     "share": t / total if total else 0.0} for (fn, p, ln), t in rows[:top]],
            "python_overhead_share": overhead / total if total else 0.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=WORKLOADS, action="append")
    ap.add_argument("--json")
    ap.add_argument("--top", type=int, default=5)
    a = ap.parse_args(argv)
    from pyinstrument import Profiler
    import mxteach as mx
    C.quiet_logs()
    out = {}
    for name in a.only or WORKLOADS:
        run = build(mx, name)
        prof = Profiler(interval=0.0005)
        t = time.perf_counter()
        prof.start()
        run()
        prof.stop()
        wall = time.perf_counter() - t
        s = summarise(prof.last_session, a.top)
        s["wall_s"] = wall
        out[name] = s
        print(f"{name}: {wall:.2f} s, mxteach Python outside ops/kernels "
              f"{100 * s['python_overhead_share']:.1f} %")
        for r in s["top"]:
            print(f"   {100 * r['share']:5.1f} %  {r['function']:32s} {r['where']}")
    out["load"] = os.getloadavg()
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return out


def markdown(prof):
    """The per-workload top-five table for RESULTS.md."""
    lines = ["| workload | profiled wall s | mxteach Python outside ops/kernels | top five self "
             "times (share of the workload) |", "|---|---:|---:|---|"]
    for name in WORKLOADS:
        s = prof.get(name)
        if not s:
            continue
        tops = "; ".join(f"`{r['function']}` {r['where'].split(':')[0]} "
                         f"{100 * r['share']:.0f} %" for r in s["top"])
        lines.append(f"| {name} | {s['wall_s']:.2f} | {100 * s['python_overhead_share']:.0f} % "
                     f"| {tops} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
