"""Sparse embedding training at vocabulary 100k: mxteach vs MXNet 1.9.1 vs PyTorch (CPU).

A bag-of-ids classifier: ``Embedding(100000, 64)`` over 8 ids per sample, summed over the ids,
``FullyConnected(2)``, softmax cross-entropy; SGD (learning rate 0.1, no momentum, no weight
decay, so every variant computes the same numbers), batch 128, ids drawn from a Zipf law (a
few hundred rows per batch, most of the table untouched). Three variants:

* **dense** — ``Embedding(sparse_grad=False)``: a 25.6 MB dense weight gradient every batch and
  an update of all 100k rows;
* **sparse, lazy** — ``Embedding(sparse_grad=True)``: a row_sparse gradient holding the rows
  the batch touched, and a lazy update of those rows only (MXNet's default);
* **sparse, lazy_update=False** — the same row_sparse gradient, but the optimizer's standard
  update of every row (MXNet's ``lazy_update=False``).

mxteach and MXNet run the same Module code (``Module.fit`` over an ``NDArrayIter``,
``import mxteach as mx`` vs ``import mxnet as mx``). PyTorch runs ``nn.Embedding(sparse=False)``
(dense) and ``nn.Embedding(sparse=True)`` (sparse COO gradient; ``optim.SGD`` updates only the
gradient's rows, i.e. lazily) with ``CrossEntropyLoss``; it has no counterpart of
``lazy_update=False``. Speeds are samples/s over whole epochs (median); each worker also reports
the bytes its embedding gradient holds after one batch and its peak RSS.

    .venv/bin/python benchmarks/bench_sparse.py              # all three, 3 rounds
    .venv/bin/python benchmarks/bench_sparse.py --quick      # smoke run
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

VOCAB, DIM, IDS, BATCH, CLASSES = 100_000, 64, 8, 128, 2
LR = 0.1
VARIANTS = (("dense", "dense (sparse_grad=False)"),
            ("lazy", "sparse, lazy update"),
            ("std", "sparse, lazy_update=False"))


def _extra(ap):
    ap.add_argument("--samples", type=int, default=12800)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per timed fit")


def dataset(n, seed=C.SEED):
    """Zipf-distributed ids (the same in every process: RandomState's legacy stream) and
    labels from a random teacher over the embedding rows."""
    import numpy as np
    rng = np.random.RandomState(seed)
    ids = ((rng.zipf(1.3, size=(n, IDS)) - 1) % VOCAB).astype(np.float32)
    teacher = rng.randn(VOCAB).astype(np.float32)
    y = (teacher[ids.astype(np.int64)].sum(axis=1) > 0).astype(np.float32)
    return ids, y


# -- workers ----------------------------------------------------------------------------------
def _symbol(mx, sparse_grad):
    data = mx.sym.Variable("data")
    emb = mx.sym.Embedding(data, input_dim=VOCAB, output_dim=DIM, sparse_grad=sparse_grad,
                           name="emb")
    fc = mx.sym.FullyConnected(mx.sym.sum(emb, axis=1), num_hidden=CLASSES, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def _grad_bytes(grad):
    """Bytes a (dense or row_sparse) gradient holds: values plus row ids."""
    if grad.stype == "default":
        return grad.size * 4
    return grad.data.size * 4 + grad.indices.size * 8


def mx_worker(fw, a):
    """mxteach and MXNet: one script, two imports."""
    mx = C.import_framework(fw)
    C.quiet_logs()
    x, y = dataset(a.samples)
    out = {"load": [C.loadavg()]}
    for key, _ in VARIANTS:
        mod = mx.mod.Module(_symbol(mx, key != "dense"), context=mx.cpu())
        opt = {"learning_rate": LR}
        if key == "std":
            opt["lazy_update"] = False
        warm = mx.io.NDArrayIter(x[:BATCH * 4], y[:BATCH * 4], batch_size=BATCH)
        t = time.perf_counter()
        mod.fit(warm, num_epoch=1, optimizer="sgd", optimizer_params=opt,
                initializer=mx.init.Uniform(0.05))
        out[f"{key}_warmup_s"] = time.perf_counter() - t
        out[f"{key}_grad_bytes"] = _grad_bytes(mod._exec_group.execs[0].grad_dict["emb_weight"])
        train = mx.io.NDArrayIter(x, y, batch_size=BATCH, shuffle=False)
        marks = []

        def on_epoch_end(*_):
            mx.nd.waitall()
            marks.append(time.perf_counter())
        times = []
        for _ in range(a.repeats):
            marks[:] = [time.perf_counter()]
            mod.fit(train, num_epoch=a.epochs, optimizer="sgd", optimizer_params=opt,
                    epoch_end_callback=on_epoch_end)
            times += [b - a_ for a_, b in zip(marks, marks[1:])]
        out[f"{key}_epoch_s"] = times
        out[f"{key}_acc"] = dict(mod.score(train, "acc"))["accuracy"]
    out["load"].append(C.loadavg())
    out["rss_mib"] = C.peak_rss_mib()
    return out


def torch_worker(a):
    torch = C.import_framework("torch")
    nn = torch.nn
    x, y = dataset(a.samples)
    xt, yt = torch.from_numpy(x).long(), torch.from_numpy(y).long()
    n = (len(x) // BATCH) * BATCH
    batches = [(xt[i:i + BATCH], yt[i:i + BATCH]) for i in range(0, n, BATCH)]
    out = {"load": [C.loadavg()]}
    for key, sparse in (("dense", False), ("lazy", True)):
        torch.manual_seed(C.SEED)
        emb = nn.Embedding(VOCAB, DIM, sparse=sparse)
        nn.init.uniform_(emb.weight, -0.05, 0.05)
        fc = nn.Linear(DIM, CLASSES)
        opt = torch.optim.SGD(list(emb.parameters()) + list(fc.parameters()), lr=LR)
        lossf = nn.CrossEntropyLoss()

        def epoch(bs):
            correct = 0
            for xb, yb in bs:
                opt.zero_grad(set_to_none=True)
                logits = fc(emb(xb).sum(1))
                lossf(logits, yb).backward()
                opt.step()
                correct += int((logits.argmax(1) == yb).sum())   # fit's per-batch metric
            return correct / max(1, len(bs) * BATCH)

        t = time.perf_counter()
        epoch(batches[:4])
        out[f"{key}_warmup_s"] = time.perf_counter() - t
        g = emb.weight.grad
        out[f"{key}_grad_bytes"] = (g._values().numel() * 4 + g._indices().numel() * 8
                                    if g.is_sparse else g.numel() * 4)
        out[f"{key}_epoch_s"] = C.timed(lambda: epoch(batches), a.repeats * a.epochs,
                                        warmup=0)
        out[f"{key}_acc"] = epoch(batches)
    out["load"].append(C.loadavg())
    out["rss_mib"] = C.peak_rss_mib()
    return out


# -- driver -----------------------------------------------------------------------------------
def main(argv=None):
    ap = C.driver_args(__doc__.splitlines()[0], {"rounds": 3, "repeats": 2}, _extra)
    a = ap.parse_args(argv)
    if a.worker:
        return C.run_worker(a, torch_worker, mx_worker)
    if a.quick:
        a.samples, a.rounds, a.repeats = 1280, 1, 1
    print(f"bench_sparse: vocabulary {VOCAB:,} x {DIM}, {a.samples} samples, batch {BATCH}, "
          f"{a.epochs} epoch(s) x {a.repeats} repeats x {a.rounds} rounds", file=sys.stderr)
    results, skipped = C.run_workers(__file__, a, ["--samples", str(a.samples),
                                                   "--epochs", str(a.epochs)])
    summary = {}
    for fw, rs in results.items():
        if not rs:
            continue
        s = summary[fw] = {"rss_mib": C.median([r["rss_mib"] for r in rs]),
                           "meta": rs[0]["meta"]}
        for key, _ in VARIANTS:
            if f"{key}_epoch_s" not in rs[0]:
                continue
            times = C.pooled(rs, f"{key}_epoch_s")
            s[f"{key}_sps"] = C.rate(a.samples, times)
            s[f"{key}_grad_bytes"] = C.median([r[f"{key}_grad_bytes"] for r in rs])
            s[f"{key}_acc"] = C.median([r[f"{key}_acc"] for r in rs])
            s[f"{key}_n"] = len(times)
    load = C.load_summary([r for rs in results.values() for r in rs])
    md = markdown(summary, a, load)
    print(md)
    payload = {"name": "sparse_embedding", "config": vars(a), "summary": summary,
               "skipped": skipped, "load": load, "markdown": md, "raw": results}
    C.write_json(a.json, payload)
    return payload


def _bytes_row(s, key, label):
    vals = [s.get(fw, {}).get(f"{key}_grad_bytes") for fw in C.FRAMEWORKS]
    return ([label] + [C.fmt_num(v / 1024, 1) if v else "n/a" for v in vals] +
            [C.fmt_ratio(vals[1], vals[0]), C.fmt_ratio(vals[2], vals[0])])


def markdown(s, a, load):
    rows = C.throughput_rows(s, [(f"{k}_sps", f"train, {label}, samples/s")
                                 for k, label in VARIANTS])
    rows += [_bytes_row(s, k, f"embedding gradient after a batch, KiB: {label}")
             for k, label in VARIANTS]
    for key, label in VARIANTS:
        acc = [f"{s[fw][f'{key}_acc']:.3f}" if f"{key}_acc" in s.get(fw, {}) else "n/a"
               for fw in C.FRAMEWORKS]
        rows.append([f"train accuracy (sanity), {label}"] + acc + ["", ""])
    rows.append(C.rss_row(s))
    header = [f"Embedding {VOCAB:,} x {DIM}, {IDS} ids/sample, batch {BATCH}", "mxteach",
              "MXNet 1.9.1", "PyTorch", "mxteach/MXNet", "mxteach/PyTorch"]
    n = "; ".join(f"{fw} {v.get('lazy_n', 0)} epochs per variant" for fw, v in s.items())
    return (C.markdown_table(header, rows) +
            f"\n\n{a.samples} samples, {a.threads} threads. Cells: median (best) over {n}; "
            f"load {load}. Speed ratios: mxteach's median over the other's (below 1.00x: "
            f"mxteach is slower); gradient-size ratios: the other's bytes over mxteach's. "
            f"PyTorch's sparse row is nn.Embedding(sparse=True) with optim.SGD; it has no "
            f"lazy_update=False. The peak RSS is the worker's, over all variants.")


if __name__ == "__main__":
    main()
