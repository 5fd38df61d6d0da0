"""Per-operator micro timings: mxteach vs MXNet 1.9.1 vs PyTorch (CPU), side by side.

For each operator (FullyConnected, Convolution, Pooling, BatchNorm, Activation, softmax,
SoftmaxOutput) at the shapes the MLP and conv benchmarks use, three timings per call:

* ``fwd``: ``executor.forward(is_train=True)`` of a one-operator symbol bound with
  ``simple_bind`` (torch: the functional op on tensors that require grad, building the graph);
* ``fwd+bwd``: forward then ``executor.backward(out_grad)`` (loss heads: ``backward()``)
  (torch: forward then ``.backward(out_grad)``);
* ``nd``: the imperative front-end, ``mx.nd.<Op>(...)`` on NDArrays (MXNet: outside autograd,
  so BatchNorm normalises with the moving statistics; torch: the op under ``no_grad``).

mxteach and MXNet run the same code; MXNet calls end with ``mx.nd.waitall()`` (its engine is
asynchronous). torch's SoftmaxOutput twin is ``cross_entropy(reduction='sum')``, whose gradient is
the same ``softmax - onehot`` (its forward also reduces the loss, which MXNet's does not).

    .venv/bin/python benchmarks/bench_ops.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

# key: (operator, label, params, input shapes (data first; a 'label' input is an index vector))
CASES = {
    "fc": ("FullyConnected", "128x784 -> 512", {"num_hidden": 512}, {"data": (128, 784)}),
    "conv1": ("Convolution", "64x1x28x28, 3x3 pad 1 -> 16",
              {"kernel": (3, 3), "pad": (1, 1), "num_filter": 16}, {"data": (64, 1, 28, 28)}),
    "conv2": ("Convolution", "64x16x14x14, 3x3 pad 1 -> 32",
              {"kernel": (3, 3), "pad": (1, 1), "num_filter": 32}, {"data": (64, 16, 14, 14)}),
    "pool": ("Pooling", "max 2x2/2, 64x16x28x28",
             {"kernel": (2, 2), "stride": (2, 2), "pool_type": "max"},
             {"data": (64, 16, 28, 28)}),
    "bn": ("BatchNorm", "train, 64x16x28x28", {"fix_gamma": False, "eps": 1e-5},
           {"data": (64, 16, 28, 28)}),
    "relu": ("Activation", "relu, 64x16x28x28", {"act_type": "relu"},
             {"data": (64, 16, 28, 28)}),
    "softmax": ("softmax", "128x1000, axis -1", {"axis": -1}, {"data": (128, 1000)}),
    "softmaxout": ("SoftmaxOutput", "128x1000 + labels", {},
                   {"data": (128, 1000), "label": (128,)}),
}
LOSS = {"SoftmaxOutput"}


def _extra(ap):
    ap.add_argument("--iters", type=int, default=20, help="calls per timed block")
    ap.add_argument("--ops", default=",".join(CASES), help="comma-separated subset of "
                    + ",".join(CASES))


def _values(name, shape, rng, classes=None):
    import numpy as np
    if name.endswith("label"):
        return rng.randint(0, classes, size=shape).astype(np.float32)
    if name.endswith(("gamma", "moving_var")):
        return (1.0 + 0.1 * rng.rand(*shape)).astype(np.float32)
    if name.endswith(("beta", "moving_mean", "bias")):
        return (0.1 * rng.randn(*shape)).astype(np.float32)
    return rng.randn(*shape).astype(np.float32)


def mx_case(mx, key, a):
    import numpy as np
    opname, _, params, shapes = CASES[key]
    rng = np.random.RandomState(C.SEED)
    inputs = {"data": mx.sym.Variable("data")}
    if "label" in shapes:
        inputs["label"] = mx.sym.Variable("label")
    sym = getattr(mx.sym, opname)(name="op", **inputs, **params)
    reqs = {n: ("null" if n == "label" else "write") for n in sym.list_arguments()}
    exe = sym.simple_bind(mx.cpu(), grad_req=reqs, **shapes)
    classes = shapes["data"][1]
    for name, arr in list(exe.arg_dict.items()) + list(exe.aux_dict.items()):
        arr[:] = mx.nd.array(_values(name, arr.shape, rng, classes))
    ograd = None if opname in LOSS else mx.nd.array(
        rng.randn(*exe.outputs[0].shape).astype(np.float32))
    nd_in = ([exe.arg_dict[n] for n in sym.list_arguments()] +
             [exe.aux_dict[n] for n in sym.list_auxiliary_states()])
    nd_op = getattr(mx.nd, opname)

    def fwd():
        for _ in range(a.iters):
            exe.forward(is_train=True)
            mx.nd.waitall()

    def fwdbwd():
        for _ in range(a.iters):
            exe.forward(is_train=True)
            exe.backward() if ograd is None else exe.backward(out_grads=[ograd])
            mx.nd.waitall()

    def nd():
        for _ in range(a.iters):
            nd_op(*nd_in, **params)
            mx.nd.waitall()
    return {"fwd": fwd, "fwdbwd": fwdbwd, "nd": nd}


def torch_case(torch, key, a):
    import numpy as np
    F = torch.nn.functional
    opname, _, params, shapes = CASES[key]
    rng = np.random.RandomState(C.SEED)
    x = torch.from_numpy(_values("data", shapes["data"], rng)).requires_grad_()
    leaves = [x]

    def param(name, shape):
        t = torch.from_numpy(_values(name, shape, rng)).requires_grad_()
        leaves.append(t)
        return t
    if opname == "FullyConnected":
        w, b = param("weight", (512, 784)), param("bias", (512,))

        def f(): return F.linear(x, w, b)
    elif opname == "Convolution":
        cin, f_out = shapes["data"][1], params["num_filter"]
        w, b = param("weight", (f_out, cin, 3, 3)), param("bias", (f_out,))

        def f(): return F.conv2d(x, w, b, padding=1)
    elif opname == "Pooling":
        def f(): return F.max_pool2d(x, 2, 2)
    elif opname == "BatchNorm":
        c = shapes["data"][1]
        g, b = param("gamma", (c,)), param("beta", (c,))
        rm = torch.from_numpy(_values("moving_mean", (c,), rng))
        rv = torch.from_numpy(_values("moving_var", (c,), rng))

        def f(): return F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5)
    elif opname == "Activation":
        def f(): return F.relu(x)
    elif opname == "softmax":
        def f(): return F.softmax(x, dim=-1)
    else:
        label = torch.from_numpy(_values("label", (shapes["data"][0],), rng,
                                         shapes["data"][1])).long()

        def f(): return F.cross_entropy(x, label, reduction="sum")
    with torch.no_grad():
        out_shape = f().shape
    ograd = None if opname in LOSS else torch.from_numpy(
        rng.randn(*out_shape).astype(np.float32))

    def fwd():
        for _ in range(a.iters):
            f()

    def fwdbwd():
        for _ in range(a.iters):
            for t in leaves:
                t.grad = None
            y = f()
            y.backward() if ograd is None else y.backward(ograd)

    def nd():
        with torch.no_grad():
            for _ in range(a.iters):
                f()
    return {"fwd": fwd, "fwdbwd": fwdbwd, "nd": nd}


def worker(a):
    fw = a.worker
    mod = C.import_framework(fw)
    C.quiet_logs()
    load0 = C.loadavg()
    out = {}
    for key in a.ops.split(","):
        fns = torch_case(mod, key, a) if fw == "torch" else mx_case(mod, key, a)
        out[key] = {kind: C.timed(fn, a.repeats, warmup=1) for kind, fn in fns.items()}
    C.emit({"ops": out, "load": [load0, C.loadavg()], "meta": C.worker_meta(fw)})


def main(argv=None):
    ap = C.driver_args(__doc__.splitlines()[0], {"rounds": 3, "repeats": 5}, _extra)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(a)
    if a.quick:
        a.iters, a.rounds, a.repeats = 3, 1, 2
    keys = [k for k in a.ops.split(",") if k]
    for k in keys:
        if k not in CASES:
            raise SystemExit(f"unknown op '{k}'; choose from {', '.join(CASES)}")
    print(f"bench_ops: {a.iters} calls x {a.repeats} repeats x {a.rounds} rounds, "
          f"openblas env: {a.openblas_env}", file=sys.stderr)
    results, skipped = C.run_workers(__file__, a, ["--iters", str(a.iters), "--ops",
                                                   ",".join(keys)])
    # per-call milliseconds: median over every block of every round
    ms = {fw: {k: {kind: 1e3 * C.median([t for r in rs for t in r["ops"][k][kind]]) / a.iters
                   for kind in ("fwd", "fwdbwd", "nd")} for k in keys}
          for fw, rs in results.items() if rs}
    rows = []
    for k in keys:
        opname, label, _, _ = CASES[k]

        def cell(fw, kind):
            v = ms.get(fw, {}).get(k, {}).get(kind)
            return "n/a" if v is None else f"{v:.3f}"

        def ratio(other, kind):    # time ratio: how many times longer mxteach takes
            m = ms.get("mxteach", {}).get(k, {}).get(kind)
            o = ms.get(other, {}).get(k, {}).get(kind)
            return "n/a" if m is None or o is None else f"{m / o:.2f}"
        rows.append([f"{opname} ({label})"] +
                    [cell(fw, kind) for kind in ("fwdbwd", "fwd", "nd")
                     for fw in C.FRAMEWORKS] +
                    [ratio("mxnet", "fwdbwd"), ratio("torch", "fwdbwd")])
    header = ["operator (shape)"] + [f"{kind} {fw}" for kind in ("fwd+bwd", "fwd", "nd")
                                     for fw in ("mxteach", "MXNet", "torch")] + \
             ["fwd+bwd time mxteach/MXNet", "fwd+bwd time mxteach/torch"]
    load = C.load_summary([r for rs in results.values() for r in rs])
    md = (C.markdown_table(header, rows) +
          f"\n\nMilliseconds per call, medians over {a.rounds} rounds x {a.repeats} blocks of "
          f"{a.iters} calls; {a.threads} threads, OpenBLAS env {a.openblas_env}; load {load}. "
          "The last two columns are *time* ratios: above 1 mxteach takes longer.")
    print(md)
    payload = {"name": "ops", "config": vars(a), "ms": ms, "skipped": skipped, "load": load,
               "markdown": md, "raw": results}
    C.write_json(a.json, payload)
    return payload


if __name__ == "__main__":
    main()
