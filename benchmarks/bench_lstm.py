"""LSTM bucketing language model, fit throughput: mxteach vs MXNet 1.9.1 vs PyTorch (CPU).

MXNet's ``example/rnn/bucketing`` recipe at its usual size: a 2-layer LSTM (256 hidden, 256
embedding), vocabulary 2000, buckets 10/20/30, batch 32, SGD lr 0.01 momentum 0.9, the
Perplexity metric.

* mxteach and MXNet run the *same* script: ``mx.rnn.encode_sentences``,
  ``mx.rnn.BucketSentenceIter``, ``BucketingModule`` over a ``SequentialRNNCell`` of two
  ``LSTMCell`` unrolled per bucket, ``Module.fit``;
* PyTorch runs the same model as an unrolled loop of two ``nn.LSTMCell`` per time step (the
  graph the symbolic unroll builds), on the same padded buckets, ``CrossEntropyLoss`` with
  ``ignore_index=0`` and summed over the non-ignored tokens divided by the batch size (what
  SoftmaxOutput's gradient with ``normalization='null'`` and ``rescale_grad=1/batch`` gives);
  and, for reference only, the fused ``nn.LSTM`` (one call for the whole sequence), which no
  symbolic MXNet cell graph has an equivalent of.

The corpus is synthetic (a skewed Markov walk over the vocabulary, identical in every process);
speed is sentences/s over whole epochs (median epoch time).

    .venv/bin/python benchmarks/bench_lstm.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

BATCH = 32
BUCKETS = (10, 20, 30)
HIDDEN = 256
EMBED = 256
VOCAB = 2000
LAYERS = 2
LR, MOMENTUM = 0.01, 0.9


def _extra(ap):
    ap.add_argument("--sentences", type=int, default=640)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per timed fit")


def corpus(n, seed=C.SEED):
    """``n`` sentences of 3..30 words over ``VOCAB`` words (strings): mostly a walk to one of a
    word's 8 successors, sometimes a random word, so the model has something to learn."""
    import numpy as np
    rng = np.random.RandomState(seed)
    succ = rng.randint(VOCAB - 1, size=(VOCAB - 1, 8))
    out = []
    for _ in range(n):
        w = rng.randint(VOCAB - 1)
        sent = []
        for _ in range(rng.randint(3, BUCKETS[-1] + 1)):
            sent.append(f"w{w}")
            w = succ[w, rng.randint(8)] if rng.uniform() < 0.9 else rng.randint(VOCAB - 1)
        out.append(sent)
    return out


def lm_sym_gen(mx, vocab_size):
    stack = mx.rnn.SequentialRNNCell()
    for i in range(LAYERS):
        stack.add(mx.rnn.LSTMCell(num_hidden=HIDDEN, prefix=f"lstm_l{i}_"))

    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        embed = mx.sym.Embedding(data=data, input_dim=vocab_size, output_dim=EMBED,
                                 name="embed")
        stack.reset()
        outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, HIDDEN))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=vocab_size, name="pred")
        label = mx.sym.Reshape(label, shape=(-1,))
        pred = mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax", use_ignore=True,
                                    ignore_label=0)
        return pred, ("data",), ("softmax_label",)
    return sym_gen


def mx_worker(fw, a):
    import random

    import numpy as np
    mx = C.import_framework(fw)
    C.quiet_logs()
    encoded, vocab = mx.rnn.encode_sentences(corpus(a.sentences), invalid_label=0,
                                             start_label=1)
    random.seed(C.SEED)
    np.random.seed(C.SEED)
    train = mx.rnn.BucketSentenceIter(encoded, BATCH, buckets=list(BUCKETS), invalid_label=0)
    mod = mx.mod.BucketingModule(lm_sym_gen(mx, len(vocab)),
                                 default_bucket_key=train.default_bucket_key, context=mx.cpu())
    opt = {"learning_rate": LR, "momentum": MOMENTUM, "wd": 0.0}
    load0 = C.loadavg()
    t = time.perf_counter()
    mod.fit(train, eval_metric=mx.metric.Perplexity(0), optimizer="sgd", optimizer_params=opt,
            initializer=mx.init.Xavier(factor_type="in", magnitude=2.34), num_epoch=1)
    warmup_s = time.perf_counter() - t          # every bucket bound and compiled once
    marks = []

    def on_epoch_end(*_):
        mx.nd.waitall()
        marks.append(time.perf_counter())
    epoch_times = []
    metric = mx.metric.Perplexity(0)
    for _ in range(a.repeats):
        marks[:] = [time.perf_counter()]
        mod.fit(train, eval_metric=metric, optimizer="sgd", optimizer_params=opt,
                epoch_end_callback=on_epoch_end, num_epoch=a.epochs)
        epoch_times += [b - a_ for a_, b in zip(marks, marks[1:])]
    return {"epoch_s": epoch_times, "perplexity": float(metric.get()[1]),
            "sentences": train_sentences(train), "warmup_s": warmup_s,
            "load": [load0, C.loadavg()], "rss_mib": C.peak_rss_mib()}


def train_sentences(it):
    """Sentences per epoch the iterator yields (whole batches only, as BucketSentenceIter)."""
    return len(it.idx) * BATCH


def torch_batches(sentences):
    """The same bucketing as BucketSentenceIter: each sentence padded (0) to the smallest bucket
    that holds it, whole batches per bucket, a fixed shuffle of the batch order; ids as
    encode_sentences gives them (first-seen order from 1)."""
    import numpy as np
    vocab = {}
    enc = [[vocab.setdefault(w, len(vocab) + 1) for w in s] for s in sentences]
    per = {b: [] for b in BUCKETS}
    for s in enc:
        b = next(b for b in BUCKETS if len(s) <= b)
        row = np.zeros(b, dtype=np.int64)
        row[:len(s)] = s
        per[b].append(row)
    rng = np.random.RandomState(C.SEED)
    batches = []
    for b, rows in per.items():
        rows = np.array(rows).reshape(-1, b)
        rng.shuffle(rows)
        for i in range(0, len(rows) - BATCH + 1, BATCH):
            x = rows[i:i + BATCH]
            y = np.concatenate([x[:, 1:], np.zeros((BATCH, 1), np.int64)], axis=1)
            batches.append((x, y))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order], len(vocab) + 1


def torch_worker(a):
    torch = C.import_framework("torch")
    nn = torch.nn
    torch.manual_seed(C.SEED)
    raw, vocab_size = torch_batches(corpus(a.sentences))
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in raw]

    class CellLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, EMBED)
            self.cells = nn.ModuleList([nn.LSTMCell(EMBED if i == 0 else HIDDEN, HIDDEN)
                                        for i in range(LAYERS)])
            self.pred = nn.Linear(HIDDEN, vocab_size)

        def forward(self, x):
            n, t = x.shape
            e = self.embed(x)
            state = [(e.new_zeros(n, HIDDEN), e.new_zeros(n, HIDDEN)) for _ in self.cells]
            outs = []
            for s in range(t):
                h = e[:, s]
                for i, cell in enumerate(self.cells):
                    state[i] = cell(h, state[i])
                    h = state[i][0]
                outs.append(h)
            return self.pred(torch.stack(outs, 1).reshape(-1, HIDDEN))

    class FusedLM(CellLM):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(EMBED, HIDDEN, LAYERS, batch_first=True)

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.pred(out.reshape(-1, HIDDEN))

    lossf = nn.CrossEntropyLoss(ignore_index=0, reduction="sum")

    def trainer(model):
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

        def epoch():
            model.train()
            for x, y in batches:
                opt.zero_grad(set_to_none=True)
                loss = lossf(model(x), y.reshape(-1)) / BATCH
                loss.backward()
                opt.step()
        return epoch

    load0 = C.loadavg()
    cell_epoch, fused_epoch = trainer(CellLM()), trainer(FusedLM())
    t = time.perf_counter()
    cell_epoch()
    warmup_s = time.perf_counter() - t
    fused_epoch()
    cell = C.timed(cell_epoch, a.repeats * a.epochs, warmup=0)
    fused = C.timed(fused_epoch, a.repeats * a.epochs, warmup=0)
    return {"epoch_s": cell, "fused_epoch_s": fused, "sentences": len(batches) * BATCH,
            "warmup_s": warmup_s, "load": [load0, C.loadavg()], "rss_mib": C.peak_rss_mib()}


def main(argv=None):
    ap = C.driver_args(__doc__.splitlines()[0], {"rounds": 3, "repeats": 2}, _extra)
    a = ap.parse_args(argv)
    if a.worker:
        return C.run_worker(a, torch_worker, mx_worker)
    if a.quick:
        a.sentences, a.rounds, a.repeats = 256, 1, 1
    print(f"bench_lstm: {a.sentences} sentences, batch {BATCH}, buckets {BUCKETS}, "
          f"{a.repeats} repeats x {a.rounds} rounds", file=sys.stderr)
    results, skipped = C.run_workers(__file__, a, ["--sentences", str(a.sentences),
                                                   "--epochs", str(a.epochs)])
    summary = {}
    for fw, rs in results.items():
        if rs:
            n = rs[0]["sentences"]
            summary[fw] = {"fit_sps": C.rate(n, C.pooled(rs, "epoch_s")),
                           "n": len(C.pooled(rs, "epoch_s")),
                           "rss_mib": C.median([r["rss_mib"] for r in rs]),
                           "warmup_s": C.median([r["warmup_s"] for r in rs]),
                           "meta": rs[0]["meta"]}
            if "fused_epoch_s" in rs[0]:
                summary[fw]["fused_sps"] = C.rate(n, C.pooled(rs, "fused_epoch_s"))
    load = C.load_summary([r for rs in results.values() for r in rs])
    rows = C.throughput_rows(summary, [("fit_sps", "fit (unrolled LSTM cells), sentences/s")])
    fused = summary.get("torch", {}).get("fused_sps")
    if fused:
        mine = summary.get("mxteach", {}).get("fit_sps")
        rows.append(["PyTorch fused nn.LSTM (reference), sentences/s", "", "",
                     f"{C.fmt_num(fused[0])} ({C.fmt_num(fused[1])})", "",
                     C.fmt_ratio(mine[0] if mine else None, fused[0])])
    rows.append(C.rss_row(summary))
    header = [f"LSTM LM 2x{HIDDEN}, vocab {VOCAB}, buckets {'/'.join(map(str, BUCKETS))}, "
              f"batch {BATCH}", "mxteach", "MXNet 1.9.1", "PyTorch", "mxteach/MXNet",
              "mxteach/PyTorch"]
    n = "; ".join(f"{fw} {v['n']} epochs" for fw, v in summary.items())
    md = (C.markdown_table(header, rows) +
          f"\n\n{a.sentences} sentences, {a.threads} threads, OpenBLAS env {a.openblas_env}. "
          f"Cells: median (best) over {n}; load {load}.")
    print(md)
    payload = {"name": "lstm", "config": vars(a), "summary": summary, "skipped": skipped,
               "load": load, "markdown": md, "raw": results}
    C.write_json(a.json, payload)
    return payload


if __name__ == "__main__":
    main()
