"""GPU benchmark: mxteach's CUDA kernels and Module.fit on ``mx.gpu(0)`` next to a well-known
GPU library, on a machine with a real CUDA GPU (not run in CI; the simulator would measure
Python, not a GPU).

Run from the repository root::

    .venv/bin/python benchmarks/bench_gpu.py            # full sizes
    .venv/bin/python benchmarks/bench_gpu.py --quick    # small sizes, well under 5 minutes
    .venv/bin/python benchmarks/bench_gpu.py --json out.json

What it reports (medians over repeats, after a warm-up that includes Numba's compilation):

* GEMM GFLOP/s of ``kernels/cuda/nn.py`` ``matmul`` (tiled, float32) vs CuPy (cuBLAS) or
  PyTorch CUDA (cuBLAS), whichever is installed;
* convolution GFLOP/s of ``mx.nd.Convolution`` on ``mx.gpu(0)`` vs ``torch.nn.functional.conv2d``
  (cuDNN), when the Convolution operator has CUDA kernels in this checkout;
* Module.fit throughput (samples/s) of an MLP, a small conv net and an LSTM classifier on
  ``mx.gpu(0)``, and of the same models in PyTorch CUDA when torch is installed.

Without a GPU (or under ``NUMBA_ENABLE_CUDASIM=1``) it prints why and exits with status 0.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _gpu_or_reason():
    try:
        from numba import cuda
        from numba.core import config
    except ImportError as err:
        return f"numba-cuda is not installed ({err}); pip install 'mxteach[cuda]'"
    if config.ENABLE_CUDASIM:
        return "NUMBA_ENABLE_CUDASIM=1: the simulator runs kernels as Python; unset it"
    if not cuda.is_available() or len(cuda.gpus) == 0:
        return "no CUDA GPU is visible to numba"
    return None


def _median_time(fn, sync, repeats):
    fn()
    sync()                                   # warm-up: compilation, first allocations
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def bench_gemm(sizes, repeats):
    from numba import cuda
    from mxteach.kernels.cuda import nn
    torch = _torch_cuda()
    try:
        import cupy
    except ImportError:
        cupy = None
    rows = []
    for n in sizes:
        rs = np.random.RandomState(0)
        a, b = (cuda.to_device(rs.randn(n, n).astype("f")) for _ in range(2))
        out = cuda.device_array((n, n), "f")
        flops = 2.0 * n ** 3
        row = {"n": n, "mxteach": flops / _median_time(lambda: nn.matmul(a, b, out),
                                                        cuda.synchronize, repeats) / 1e9}
        if cupy is not None:
            ca, cb = cupy.asarray(a.copy_to_host()), cupy.asarray(b.copy_to_host())
            row["cupy"] = flops / _median_time(lambda: ca @ cb,
                                               cupy.cuda.runtime.deviceSynchronize,
                                               repeats) / 1e9
        if torch is not None:
            ta, tb = (torch.from_numpy(x.copy_to_host()).cuda() for x in (a, b))
            row["torch"] = flops / _median_time(lambda: ta @ tb, torch.cuda.synchronize,
                                                repeats) / 1e9
        rows.append(row)
    return rows


def bench_conv(shapes, repeats):
    import mxteach as mx
    torch = _torch_cuda()
    rows = []
    for (batch, cin, size, cout, k) in shapes:
        rs = np.random.RandomState(0)
        x, w = rs.randn(batch, cin, size, size).astype("f"), rs.randn(cout, cin, k, k).astype("f")
        out = size - k + 1
        flops = 2.0 * batch * cout * out * out * cin * k * k
        row = {"shape": [batch, cin, size, cout, k]}
        try:
            gx, gw = mx.nd.array(x, ctx=mx.gpu(0)), mx.nd.array(w, ctx=mx.gpu(0))
            conv = lambda: mx.nd.Convolution(gx, gw, kernel=(k, k), num_filter=cout,  # noqa
                                             no_bias=True)
            row["mxteach"] = flops / _median_time(conv, mx.nd.waitall, repeats) / 1e9
        except mx.MXNetError as err:
            row["mxteach"] = f"not available: {str(err)[:80]}"
        if torch is not None:
            tx, tw = torch.from_numpy(x).cuda(), torch.from_numpy(w).cuda()
            row["torch"] = flops / _median_time(
                lambda: torch.nn.functional.conv2d(tx, tw), torch.cuda.synchronize,
                repeats) / 1e9
        rows.append(row)
    return rows


def _models(mx):
    data = mx.sym.Variable("data")
    mlp = mx.sym.FullyConnected(data, num_hidden=256, name="fc1")
    mlp = mx.sym.Activation(mlp, act_type="relu")
    mlp = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mlp, num_hidden=10, name="fc2"),
                               name="softmax")
    conv = mx.sym.Convolution(data, kernel=(3, 3), num_filter=16, name="c1")
    conv = mx.sym.Pooling(mx.sym.Activation(conv, act_type="relu"), kernel=(2, 2),
                          stride=(2, 2), pool_type="max")
    conv = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.flatten(conv), num_hidden=10),
                                name="softmax")
    lstm = mx.sym.RNN(mx.sym.transpose(data, axes=(1, 0, 2)), state_size=64, num_layers=1,
                      mode="lstm", name="lstm")
    lstm = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.SequenceLast(lstm),
                                                      num_hidden=10), name="softmax")
    return {"mlp": (mlp, (784,)), "conv": (conv, (1, 28, 28)), "lstm": (lstm, (20, 32))}


def _torch_model(torch, name):
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "conv":
        return nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(16 * 13 * 13, 10))

    class LSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.fc = nn.LSTM(32, 64, batch_first=True), nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.rnn(x)[0][:, -1])
    return LSTM()


def bench_fit(samples, batch, epochs):
    import mxteach as mx
    torch = _torch_cuda()
    rows = []
    for name, (sym, shape) in _models(mx).items():
        rs = np.random.RandomState(0)
        X = rs.randn(samples, *shape).astype("f")
        y = rs.randint(0, 10, samples).astype("f")
        row = {"model": name}
        try:
            mod = mx.mod.Module(sym, context=mx.gpu(0))
            it = mx.io.NDArrayIter(X, y, batch_size=batch)
            mod.fit(it, num_epoch=1, optimizer="sgd")               # warm-up: compilation
            it.reset()
            t0 = time.perf_counter()
            mod.fit(it, num_epoch=epochs, optimizer="sgd", force_init=False)
            mx.nd.waitall()
            row["mxteach"] = samples * epochs / (time.perf_counter() - t0)
        except mx.MXNetError as err:
            row["mxteach"] = f"not available: {str(err)[:80]}"
        if torch is not None:
            model = _torch_model(torch, name).cuda()
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            tx, ty = torch.from_numpy(X).cuda(), torch.from_numpy(y).long().cuda()

            def epoch():
                for i in range(0, samples, batch):
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(tx[i:i + batch]),
                                                      ty[i:i + batch]).backward()
                    opt.step()
            epoch()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(epochs):
                epoch()
            torch.cuda.synchronize()
            row["torch"] = samples * epochs / (time.perf_counter() - t0)
        rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 5 minutes)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    reason = _gpu_or_reason()
    if reason is not None:
        print(f"bench_gpu: no GPU to benchmark ({reason}); nothing measured.")
        return 0
    quick = args.quick
    results = {
        "gemm_gflops": bench_gemm([256, 512] if quick else [256, 512, 1024, 2048],
                                  3 if quick else 10),
        "conv_gflops": bench_conv([(16, 16, 32, 32, 3)] if quick else
                                  [(16, 16, 32, 32, 3), (32, 64, 32, 64, 3)],
                                  3 if quick else 10),
        "fit_samples_per_s": bench_fit(2048 if quick else 16384, 128, 1 if quick else 3),
    }
    for section, rows in results.items():
        print(f"\n{section}")
        for row in rows:
            print("  " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in row.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
