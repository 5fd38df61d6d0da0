"""MLP (or LeNet) training and inference throughput: mxteach vs MXNet 1.9.1 vs PyTorch (CPU).

A 784-512-256-10 MLP (ReLU, softmax cross-entropy) on synthetic MNIST-shaped data, SGD with
learning rate 0.1 and momentum 0.9, batch 128:

* mxteach and MXNet run the *same* Module code (``Module.fit`` with an ``NDArrayIter``,
  Xavier init, the default 'acc' metric), ``import mxteach as mx`` vs ``import mxnet as mx``;
* PyTorch runs the equivalent ``nn.Sequential`` + ``CrossEntropyLoss`` (mean, which matches
  MXNet's ``rescale_grad = 1/batch``) + ``optim.SGD`` loop, with an accuracy count per batch
  as the MXNet metric does, and ``torch.set_num_threads(2)``.

Training speed is samples/s over whole epochs (median epoch time); inference is
``Module.predict`` over the data set (torch: batched forward + softmax under inference_mode).
Each worker also reports its peak resident set size.

``--net lenet`` runs LeNet-5 instead (``_common.lenet_symbol``: 5x5 convolutions with tanh and
max-pooling, batch 64) on the same data reshaped to 1x28x28.

    .venv/bin/python benchmarks/bench_mlp.py              # all three, 3 rounds
    .venv/bin/python benchmarks/bench_mlp.py --quick      # smoke run
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

BATCH = C.MLP_BATCH
LAYERS = C.MLP_LAYERS


def _extra(ap):
    ap.add_argument("--samples", type=int, default=12800)
    ap.add_argument("--epochs", type=int, default=2, help="epochs per timed fit")
    ap.add_argument("--net", choices=("mlp", "lenet"), default="mlp")


def batch_size(a):
    return BATCH if a.net == "mlp" else 64


def dataset(a):
    x, y = C.mnist_like(a.samples)
    return (x, y) if a.net == "mlp" else (x.reshape(-1, 1, 28, 28), y)


# -- workers ----------------------------------------------------------------------------------
def mx_worker(fw, a):
    """mxteach and MXNet: one script, two imports."""
    mx = C.import_framework(fw)
    C.quiet_logs()
    x, y = dataset(a)
    BATCH = batch_size(a)
    sym = C.mlp_symbol(mx) if a.net == "mlp" else C.lenet_symbol(mx)
    mod = mx.mod.Module(sym, context=mx.cpu())
    opt = dict(C.MLP_OPTIMIZER)
    load0 = C.loadavg()
    # warm-up: bind with the real batch shape, compile/load kernels, create MKLDNN primitives
    warm = mx.io.NDArrayIter(x[:BATCH * 4], y[:BATCH * 4], batch_size=BATCH)
    t = time.perf_counter()
    mod.fit(warm, num_epoch=1, optimizer="sgd", optimizer_params=opt,
            initializer=mx.init.Xavier())
    warmup_s = time.perf_counter() - t

    train = mx.io.NDArrayIter(x, y, batch_size=BATCH, shuffle=False)
    epoch_times = []
    marks = []

    def on_epoch_end(*_):
        mx.nd.waitall()
        marks.append(time.perf_counter())

    for _ in range(a.repeats):
        marks[:] = [time.perf_counter()]
        mod.fit(train, num_epoch=a.epochs, optimizer="sgd", optimizer_params=opt,
                epoch_end_callback=on_epoch_end)
        epoch_times += [b - a_ for a_, b in zip(marks, marks[1:])]
    acc = dict(mod.score(train, "acc"))["accuracy"]

    def predict():
        mod.predict(train).asnumpy()
    predict_times = C.timed(predict, a.repeats)
    return {"epoch_s": epoch_times, "predict_s": predict_times, "train_acc": acc,
            "warmup_s": warmup_s, "load": [load0, C.loadavg()], "rss_mib": C.peak_rss_mib()}


def torch_worker(a):
    torch = C.import_framework("torch")
    nn = torch.nn
    torch.manual_seed(C.SEED)
    x, y = dataset(a)
    BATCH = batch_size(a)
    if a.net == "mlp":
        sizes = (x.shape[1],) + LAYERS
        layers = []
        for i in range(len(LAYERS)):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(LAYERS) - 1:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
    else:
        model = C.lenet_torch(torch)
    opt = torch.optim.SGD(model.parameters(), lr=C.MLP_OPTIMIZER["learning_rate"],
                          momentum=C.MLP_OPTIMIZER["momentum"])
    lossf = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    n = (len(x) // BATCH) * BATCH
    batches = [(xt[i:i + BATCH], yt[i:i + BATCH]) for i in range(0, n, BATCH)]

    def epoch(bs):
        model.train()
        correct = 0
        for xb, yb in bs:
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            correct += int((out.argmax(1) == yb).sum())   # the per-batch metric, as fit has
        return correct

    load0 = C.loadavg()
    t = time.perf_counter()
    epoch(batches[:4])
    warmup_s = time.perf_counter() - t
    epoch_times = C.timed(lambda: epoch(batches), a.repeats * a.epochs, warmup=0)

    def predict():
        model.eval()
        with torch.inference_mode():
            return torch.cat([torch.softmax(model(xb), dim=1) for xb, _ in batches]).numpy()
    predict_times = C.timed(predict, a.repeats)
    acc = float((predict().argmax(1) == y[:n]).mean())
    return {"epoch_s": epoch_times, "predict_s": predict_times, "train_acc": acc,
            "warmup_s": warmup_s, "load": [load0, C.loadavg()], "rss_mib": C.peak_rss_mib()}


# -- driver -----------------------------------------------------------------------------------
def main(argv=None):
    ap = C.driver_args(__doc__.splitlines()[0], {"rounds": 3, "repeats": 3}, _extra)
    a = ap.parse_args(argv)
    if a.worker:
        return C.run_worker(a, torch_worker, mx_worker)
    if a.quick:
        a.samples, a.epochs, a.rounds, a.repeats = 1280, 1, 1, 2
    print(f"bench_mlp: {a.net}, {a.samples} samples, batch {batch_size(a)}, {a.epochs} epoch(s) x "
          f"{a.repeats} repeats x {a.rounds} rounds, openblas env: {a.openblas_env}",
          file=sys.stderr)
    results, skipped = C.run_workers(__file__, a, ["--samples", str(a.samples),
                                                   "--epochs", str(a.epochs), "--net", a.net])
    summary = {}
    for fw, rs in results.items():
        if not rs:
            continue
        ep, pr = C.pooled(rs, "epoch_s"), C.pooled(rs, "predict_s")
        summary[fw] = {"train_sps": C.rate(a.samples, ep), "predict_sps": C.rate(a.samples, pr),
                       "n_train": len(ep), "n_predict": len(pr),
                       "train_acc": C.median([r["train_acc"] for r in rs]),
                       "warmup_s": C.median([r["warmup_s"] for r in rs]),
                       "rss_mib": C.median([r.get("rss_mib", float("nan")) for r in rs]),
                       "meta": rs[0]["meta"]}
    all_runs = [r for rs in results.values() for r in rs]
    load = C.load_summary(all_runs)
    md = markdown(summary, a, load)
    print(md)
    payload = {"name": a.net, "config": vars(a), "summary": summary, "skipped": skipped,
               "load": load, "markdown": md, "raw": results}
    C.write_json(a.json, payload)
    return payload


def markdown(s, a, load):
    rows = C.throughput_rows(s, [("train_sps", "train (Module.fit), samples/s"),
                                 ("predict_sps", "inference (predict), samples/s")])
    acc = [f"{s[fw]['train_acc']:.3f}" if fw in s else "n/a" for fw in C.FRAMEWORKS]
    rows.append(["train accuracy after the runs (sanity)"] + acc + ["", ""])
    rows.append(C.rss_row(s))
    title = (f"MLP 784-512-256-10, batch {BATCH}" if a.net == "mlp" else
             "LeNet-5 (conv5x5-tanh-maxpool x2, FC 500), batch 64")
    header = [title, "mxteach", "MXNet 1.9.1", "PyTorch",
              "mxteach/MXNet", "mxteach/PyTorch"]
    n = "; ".join(f"{fw} {v['n_train']} epochs / {v['n_predict']} predicts"
                  for fw, v in s.items())
    return (C.markdown_table(header, rows) +
            f"\n\n{a.samples} samples, {a.threads} threads, OpenBLAS env {a.openblas_env}. "
            f"Cells: median (best) over {n}; load {load}. Ratios: mxteach's median speed over "
            f"the other's (below 1.00x: mxteach is slower).")


if __name__ == "__main__":
    main()
