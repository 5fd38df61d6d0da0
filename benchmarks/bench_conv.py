"""Small conv net training steps/s: mxteach vs MXNet 1.9.1 vs PyTorch (CPU), side by side.

Net: 2 x [conv 3x3 pad 1 -> BatchNorm -> ReLU -> max-pool 2x2] (16 then 32 filters), then a
fully connected layer to 10 classes and softmax cross-entropy, on 28x28 single-channel inputs,
batch 64. BatchNorm is set up alike in all three (learned gamma: ``fix_gamma=False``, eps 1e-5,
running-average momentum 0.9 = torch's 0.1).

Two numbers per framework, both in steps (batches) per second:

* forward+backward: ``Module.forward_backward(batch)`` (torch: zero_grad, forward, loss,
  backward);
* full train step: the same plus ``Module.update()`` (torch: ``optimizer.step()``), SGD
  lr 0.1 momentum 0.9.

MXNet's engine is asynchronous: every step ends with ``mx.nd.waitall()`` (a no-op in mxteach,
which computes eagerly), so each framework's time is the time until the step's results exist.

    .venv/bin/python benchmarks/bench_conv.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

BATCH = 64
FILTERS = (16, 32)
NBATCH = 8          # distinct batches, cycled


def _extra(ap):
    ap.add_argument("--steps", type=int, default=20, help="steps per timed block")


def conv_symbol(mx):
    net = mx.sym.Variable("data")
    for i, f in enumerate(FILTERS):
        k = i + 1
        net = mx.sym.Convolution(net, kernel=(3, 3), pad=(1, 1), num_filter=f, name=f"conv{k}")
        net = mx.sym.BatchNorm(net, fix_gamma=False, eps=1e-5, momentum=0.9, name=f"bn{k}")
        net = mx.sym.Activation(net, act_type="relu", name=f"relu{k}")
        net = mx.sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max",
                             name=f"pool{k}")
    net = mx.sym.FullyConnected(net, num_hidden=10, name="fc")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def data():
    x, y = C.mnist_like(BATCH * NBATCH)
    return x.reshape(-1, 1, 28, 28), y


def mx_worker(fw, a):
    mx = C.import_framework(fw)
    C.quiet_logs()
    x, y = data()
    mod = mx.mod.Module(conv_symbol(mx), context=mx.cpu())
    mod.bind(data_shapes=[("data", (BATCH, 1, 28, 28))],
             label_shapes=[("softmax_label", (BATCH,))])
    mod.init_params(initializer=mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1,
                                                          "momentum": 0.9})
    batches = [mx.io.DataBatch(data=[mx.nd.array(x[i:i + BATCH])],
                               label=[mx.nd.array(y[i:i + BATCH])])
               for i in range(0, len(x), BATCH)]

    def block(update):
        def run():
            for s in range(a.steps):
                mod.forward_backward(batches[s % len(batches)])
                if update:
                    mod.update()
                mx.nd.waitall()
        return run

    load0 = C.loadavg()
    t = time.perf_counter()
    block(True)()                      # warm-up: compile / load kernels, create primitives
    warmup_s = time.perf_counter() - t
    fb = C.timed(block(False), a.repeats, warmup=0)
    step = C.timed(block(True), a.repeats, warmup=0)
    return {"fwdbwd_s": fb, "step_s": step, "warmup_s": warmup_s,
            "load": [load0, C.loadavg()]}


def torch_worker(a):
    torch = C.import_framework("torch")
    nn = torch.nn
    torch.manual_seed(C.SEED)
    x, y = data()
    layers, cin = [], 1
    for f in FILTERS:
        layers += [nn.Conv2d(cin, f, 3, padding=1), nn.BatchNorm2d(f, eps=1e-5, momentum=0.1),
                   nn.ReLU(), nn.MaxPool2d(2, 2)]
        cin = f
    model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 7 * 7, 10))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    batches = [(xt[i:i + BATCH], yt[i:i + BATCH]) for i in range(0, len(x), BATCH)]

    def block(update):
        def run():
            for s in range(a.steps):
                xb, yb = batches[s % len(batches)]
                opt.zero_grad(set_to_none=True)
                lossf(model(xb), yb).backward()
                if update:
                    opt.step()
        return run

    load0 = C.loadavg()
    t = time.perf_counter()
    block(True)()
    warmup_s = time.perf_counter() - t
    fb = C.timed(block(False), a.repeats, warmup=0)
    step = C.timed(block(True), a.repeats, warmup=0)
    return {"fwdbwd_s": fb, "step_s": step, "warmup_s": warmup_s,
            "load": [load0, C.loadavg()]}


def main(argv=None):
    ap = C.driver_args(__doc__.splitlines()[0], {"rounds": 3, "repeats": 5}, _extra)
    a = ap.parse_args(argv)
    if a.worker:
        return C.run_worker(a, torch_worker, mx_worker)
    if a.quick:
        a.steps, a.rounds, a.repeats = 4, 1, 2
    print(f"bench_conv: batch {BATCH}, {a.steps} steps x {a.repeats} repeats x {a.rounds} "
          f"rounds, openblas env: {a.openblas_env}", file=sys.stderr)
    results, skipped = C.run_workers(__file__, a, ["--steps", str(a.steps)])
    summary = {}
    for fw, rs in results.items():
        if rs:
            summary[fw] = {"fwdbwd_sps": C.rate(a.steps, C.pooled(rs, "fwdbwd_s")),
                           "step_sps": C.rate(a.steps, C.pooled(rs, "step_s")),
                           "n": len(C.pooled(rs, "step_s")),
                           "warmup_s": C.median([r["warmup_s"] for r in rs]),
                           "meta": rs[0]["meta"]}
    load = C.load_summary([r for rs in results.values() for r in rs])
    rows = C.throughput_rows(summary, [("fwdbwd_sps", "forward+backward, steps/s"),
                                       ("step_sps", "train step (+ SGD update), steps/s")])
    header = [f"conv net 2x(conv3x3-BN-ReLU-pool)+FC, batch {BATCH}", "mxteach", "MXNet 1.9.1",
              "PyTorch", "mxteach/MXNet", "mxteach/PyTorch"]
    n = "; ".join(f"{fw} {v['n']} blocks" for fw, v in summary.items())
    md = (C.markdown_table(header, rows) +
          f"\n\n{a.steps} steps per block, {a.threads} threads, OpenBLAS env {a.openblas_env}. "
          f"Cells: median (best) over {n}; load {load}.")
    print(md)
    payload = {"name": "conv", "config": vars(a), "summary": summary, "skipped": skipped,
               "load": load, "markdown": md, "raw": results}
    C.write_json(a.json, payload)
    return payload


if __name__ == "__main__":
    main()
