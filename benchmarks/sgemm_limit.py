"""Each issue-13 workload as a fraction of this machine's sgemm limit.

The limit of a workload is the speed it would reach if its matrix products (FullyConnected,
Convolution as im2col GEMMs, the LSTM cells' gate products, the decoder) ran at numpy's best
float32 GEMM speed on the same cores and everything else were free. GEMM work per unit, in
multiply-adds: forward, plus the weight gradient and the data gradient in training (no data
gradient for a layer that reads the data itself). Padding positions of the LSTM buckets count
as work, as every framework computes them.

    .venv/bin/python benchmarks/sgemm_limit.py                 # from results_raw.json's issue13
    .venv/bin/python benchmarks/sgemm_limit.py --threads 1

``run_all.py`` adds the table to RESULTS.md.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

HERE = Path(__file__).resolve().parent


def sgemm_gflops(threads=2, n=2048, repeats=7):
    """Best float32 GEMM speed of numpy's BLAS here, GFLOP/s (n x n times n x n)."""
    from threadpoolctl import threadpool_limits
    a = np.random.RandomState(0).rand(n, n).astype(np.float32)
    b, out = a.T.copy(), np.empty_like(a)
    best = float("inf")
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(a, b, out=out)
        for _ in range(repeats):
            t = time.perf_counter()
            np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - t)
    return 2.0 * n ** 3 / best / 1e9


def _layer_macs(sym, data_shape):
    """(forward multiply-adds per sample, whether the layer reads the data) per GEMM layer."""
    internals = sym.get_internals()
    _, outs, _ = internals.infer_shape(data=(1,) + tuple(data_shape))
    shapes = dict(zip(internals.list_outputs(), outs))
    nodes = json.loads(sym.tojson())["nodes"]
    layers = []
    for node in nodes:
        op, attrs = node["op"], node.get("attrs", {})
        if op not in ("FullyConnected", "Convolution"):
            continue
        src = nodes[node["inputs"][0][0]]
        in_shape = shapes[src["name"] + ("_output" if src["op"] != "null" else "")]
        out = int(np.prod(shapes[node["name"] + "_output"]))
        if op == "FullyConnected":
            k = int(np.prod(in_shape[1:]))
        else:
            kernel = ast.literal_eval(attrs["kernel"])
            k = in_shape[1] // int(attrs.get("num_group", 1)) * int(np.prod(kernel))
        layers.append((out * k, src["op"] == "null" and src["name"] == "data"))
    return layers


def _train_macs(layers):
    return sum(m * (2 if reads_data else 3) for m, reads_data in layers)


def workload_flops():
    """GEMM FLOPs per unit (sample, step or sentence) of each issue-13 workload."""
    import mxteach as mx
    import bench_conv
    import bench_lstm
    mlp = _layer_macs(C.mlp_symbol(mx), (784,))
    lenet = _layer_macs(C.lenet_symbol(mx), (1, 28, 28))
    conv = _layer_macs(bench_conv.conv_symbol(mx), (1, 28, 28))
    h, e, v = bench_lstm.HIDDEN, bench_lstm.EMBED, bench_lstm.VOCAB
    per_token = 4 * h * (e + h) + (bench_lstm.LAYERS - 1) * 4 * h * (2 * h) + h * v
    lengths = [len(s) for s in bench_lstm.corpus(640)]
    buckets = [min(b for b in bench_lstm.BUCKETS if b >= n) for n in lengths
               if n <= bench_lstm.BUCKETS[-1]]
    return {("mlp", "train_sps"): 2 * _train_macs(mlp),
            ("mlp", "predict_sps"): 2 * sum(m for m, _ in mlp),
            ("lenet", "train_sps"): 2 * _train_macs(lenet),
            ("conv", "step_sps"): 2 * _train_macs(conv) * bench_conv.BATCH,
            ("lstm", "fit_sps"): 2 * 3 * per_token * float(np.mean(buckets))}


def table(issue13, gflops, threads=2):
    """Markdown: each workload's speed, its sgemm limit and the fraction, per framework."""
    from run_all import WORKLOADS
    flops = workload_flops()
    rows = []
    for name, key, label, _target in WORKLOADS:
        f = flops[(name, key)]
        limit = gflops * 1e9 / f
        summary = issue13.get(name, {}).get("summary", issue13.get(name, {}))
        cells = []
        for fw in C.FRAMEWORKS:
            v = summary.get(fw, {}).get(key)
            cells.append("n/a" if not v else f"{v[0] / limit:.0%}")
        rows.append([label, f"{f / 1e6:,.2f}", C.fmt_num(limit)] + cells)
    return (C.markdown_table(["workload", "GEMM MFLOP per unit", "sgemm limit, units/s",
                              "mxteach", "MXNet 1.9.1", "PyTorch"], rows) +
            f"\n\nsgemm limit: numpy's best float32 GEMM here, {gflops:.0f} GFLOP/s on "
            f"{threads} thread(s) (2048 x 2048, best of 7); columns: each framework's median "
            "speed as a fraction of that limit (benchmarks/sgemm_limit.py).")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--raw", default=str(HERE / "results_raw.json"))
    a = ap.parse_args(argv)
    gflops = sgemm_gflops(a.threads)
    issue13 = json.loads(Path(a.raw).read_text()).get("issue13", {})
    print(table(issue13, gflops, a.threads))


if __name__ == "__main__":
    main()
