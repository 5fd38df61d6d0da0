"""Distributed kvstores over MPI: 2-process runs (``mpiexec`` from the ``[dist]`` extra) against
a 1-process run, dist_async convergence, faults, and the launcher's error outside MPI."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import mxteach as mx
from mxteach.dist_comm import DistError
from mxteach.launch import command

pytest.importorskip("mpi4py")

BATCH, STEPS = 8, 4     # global batch, split in halves between the 2 workers

COMMON = """
import sys, numpy as np, mxteach as mx
def data():
    rng = np.random.RandomState(0)
    return rng.randn(32, 5).astype(np.float32), rng.randint(0, 3, 32).astype(np.float32)
def net():
    x = mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=4, name='fc1')
    x = mx.sym.Activation(x, act_type='tanh')
    x = mx.sym.FullyConnected(x, num_hidden=3, name='fc2')
    return mx.sym.SoftmaxOutput(x, name='softmax')
def fit(kvstore, X, Y, batch):
    mx.random.seed(1)
    mod = mx.mod.Module(net())
    it = mx.io.NDArrayIter(X, Y, batch_size=batch)
    mod.fit(it, num_epoch=2, kvstore=kvstore, optimizer='sgd',
            optimizer_params={'learning_rate': 0.5, 'momentum': 0.9},
            initializer=mx.init.Xavier())
    return mod
def fit_viewed(kv, X, Y, batch, kind):
    import json
    from mxteach.widgets import WorkersView
    mx.random.seed(1)
    mod = mx.mod.Module(net())
    view = WorkersView(mod)
    mod.fit(mx.io.NDArrayIter(X, Y, batch_size=batch), num_epoch=2, kvstore=kv,
            optimizer='sgd', optimizer_params={'learning_rate': 0.5, 'momentum': 0.9},
            initializer=mx.init.Xavier())
    if kv.rank == 0:
        json.dump(view.model, open(kind + '_view.json', 'w'))
        open(kind + '_view.html', 'w').write(view.to_html())
    return mod
"""


def run_mpi(tmp_path, body, n=2, servers=0, timeout=90, env_extra=None):
    script = tmp_path / "job.py"
    script.write_text(COMMON + textwrap.dedent(body))
    env = dict(__import__("os").environ, **(env_extra or {}))
    start = time.monotonic()
    proc = subprocess.run(command(n, [str(script)], servers), cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def one_process_params():
    ns = {}
    exec(COMMON, ns)
    X, Y = ns["data"]()
    # the same global batches: batch b holds rows of worker 0's batch b then worker 1's
    order = np.concatenate([np.concatenate([np.arange(16)[b * 4:(b + 1) * 4],
                                            16 + np.arange(16)[b * 4:(b + 1) * 4]])
                            for b in range(STEPS)])
    mod = ns["fit"](None, X[order], Y[order], BATCH)
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


def test_dist_sync_and_device_sync_fit_equal_one_process_fit(tmp_path):
    proc, _ = run_mpi(tmp_path, """
        X, Y = data()
        for kind in ('dist_sync', 'dist_device_sync'):
            kv = mx.kv.create(kind)
            part = slice(16 * kv.rank, 16 * (kv.rank + 1))   # each worker: its half
            mod = fit_viewed(kv, X[part], Y[part], 4, kind)
            if kv.rank == 0:
                np.savez(kind + '.npz', **{k: v.asnumpy() for k, v in mod.get_params()[0].items()})
            mod.save_checkpoint(f'ck{kv.rank}', 1)   # rank 0 alone writes
        print('workers', kv.num_workers)
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "workers 2" in proc.stdout
    ref = one_process_params()
    for kind in ("dist_sync", "dist_device_sync"):
        got = np.load(tmp_path / f"{kind}.npz")
        assert sorted(got.files) == sorted(ref)
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=1e-6, err_msg=f"{kind} {k}")
        # and training moved the weights (the comparison is not between two initial states)
    view = json.loads((tmp_path / "dist_sync_view.json").read_text())
    nbytes = sum(v.size * 4 for v in ref.values())          # float32 gradients, every step
    assert sorted(view["workers"]) == ["0", "1"] and view["batch_size"] == 4
    for row in view["workers"].values():
        assert row["batches"] == 2 * STEPS
        assert row["bytes_pushed"] == row["bytes_pulled"] == 2 * STEPS * nbytes
        assert row["comm_s"] > 0 and row["compute_s"] > 0
    html = (tmp_path / "dist_sync_view.html").read_text()
    assert "dist_sync: 2 worker(s)" in html
    assert (tmp_path / "ck0-0001.params").exists()
    assert not (tmp_path / "ck1-0001.params").exists()


def test_dist_sync_store_ops_and_2bit_match_numpy(tmp_path):
    from mxteach.gradient_compression import quantize_2bit, dequantize_2bit
    proc, _ = run_mpi(tmp_path, """
        kv = mx.kv.create('dist_sync')
        r = kv.rank
        kv.init('a', mx.nd.ones((3, 7)) * (r + 5))        # rank 0's value wins
        out = mx.nd.zeros((3, 7)); kv.pull('a', out=out)
        np.save(f'init{r}.npy', out.asnumpy())
        kv.push('a', [mx.nd.ones((3, 7)) * (r + 1), mx.nd.ones((3, 7))]); kv.pull('a', out=out)
        np.save(f'sum{r}.npy', out.asnumpy())
        kv2 = mx.kv.create('dist_sync')
        kv2.set_gradient_compression({'type': '2bit', 'threshold': 0.5})
        kv2.init(0, mx.nd.zeros((37,)))
        rng = np.random.RandomState(10 + r)
        for step in range(3):
            kv2.push(0, mx.nd.array(rng.randn(37).astype(np.float32)))
            kv2.pull(0, out=(o := mx.nd.zeros((37,))))
            np.save(f'c{r}_{step}.npy', o.asnumpy())
        kv2.barrier()
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"init{r}.npy"), 5)
        np.testing.assert_array_equal(np.load(tmp_path / f"sum{r}.npy"), 2 + 3)
    res = [np.zeros(37, np.float32) for _ in range(2)]
    rngs = [np.random.RandomState(10 + r) for r in range(2)]
    for step in range(3):
        want = np.zeros(37, np.float32)
        for r in range(2):
            packed = quantize_2bit(rngs[r].randn(37).astype(np.float32), res[r], 0.5)
            want += dequantize_2bit(packed, 37, 0.5)
        for r in range(2):
            np.testing.assert_array_equal(np.load(tmp_path / f"c{r}_{step}.npy"), want)


def test_dist_async_converges_on_a_toy_problem(tmp_path):
    proc, _ = run_mpi(tmp_path, """
        rng = np.random.RandomState(3)
        w_true = np.array([[1.5, -2.0, 0.5]], np.float32)
        X = rng.randn(64, 3).astype(np.float32); Y = X @ w_true[0]
        kv = mx.kv.create('dist_async')
        part = slice(32 * kv.rank, 32 * (kv.rank + 1))
        x = mx.sym.FullyConnected(mx.sym.var('data'), num_hidden=1, no_bias=True, name='fc')
        net_ = mx.sym.LinearRegressionOutput(x, name='lro')
        mod = mx.mod.Module(net_, label_names=['lro_label'])
        it = mx.io.NDArrayIter(X[part], Y[part], batch_size=8, label_name='lro_label')
        mod.fit(it, num_epoch=15, kvstore=kv, optimizer='sgd', eval_metric='mse',
                optimizer_params={'learning_rate': 0.1}, initializer=mx.init.Zero())
        kv.barrier()
        w = mod.get_params()[0]['fc_weight'].asnumpy()
        print('rank', kv.rank, 'err', float(np.abs(w - w_true).max()), 'stale', kv._staleness)
    """, servers=1)
    assert proc.returncode == 0, proc.stderr[-3000:]
    errs = [float(line.split()[3]) for line in proc.stdout.splitlines() if line.startswith("rank")]
    assert len(errs) == 2 and max(errs) < 1e-2, proc.stdout


@pytest.mark.parametrize("fault", ["kill", "hang"])
def test_a_dead_or_hung_worker_makes_the_others_fail_naming_it(tmp_path, fault):
    proc, took = run_mpi(tmp_path, f"""
        import os, signal, time
        kv = mx.kv.create('dist_sync')
        kv.init(0, mx.nd.zeros((10,)))
        out = mx.nd.zeros((10,))
        for step in range(20):
            if kv.rank == 1 and step == 3:
                if '{fault}' == 'kill':
                    os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(1000)
            kv.push(0, mx.nd.ones((10,))); kv.pull(0, out=out)
        print('finished', kv.rank)
    """, env_extra={"MXTEACH_DIST_TIMEOUT": "5"}, timeout=90)
    assert proc.returncode != 0
    assert "finished" not in proc.stdout
    assert "rank(s) [1]" in proc.stderr, proc.stderr[-3000:]
    assert took < 30


def test_outside_a_launcher_dist_stores_say_how_to_launch(monkeypatch):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)
    monkeypatch.delenv("PMI_SIZE", raising=False)
    for kind in ("dist_sync", "dist_device_sync", "dist_async"):
        with pytest.raises(DistError, match=r"python -m mxteach\.launch -n 2"):
            mx.kv.create(kind)
    assert issubclass(DistError, mx.base.MXNetError)


def test_launcher_command_line():
    cmd = command(3, ["train.py", "--lr", "0.1"], num_servers=2, hosts="hosts.txt")
    assert cmd[0].endswith("mpiexec")
    i = cmd.index("-n")
    assert cmd[i:i + 5] == ["-n", "3", sys.executable, "train.py", "--lr"]
    assert cmd[cmd.index(":"):] == [":", "-n", "2", sys.executable, "-m",
                                     "mxteach.kvstore_server"]
    assert cmd[cmd.index("--hostfile") + 1] == "hosts.txt"
    with pytest.raises(ValueError, match="at least 1 worker"):
        command(0, ["x.py"])


def test_start_workers_says_what_to_install_when_mpi_is_missing(monkeypatch):
    import importlib.util
    from mxteach import launch
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ipyparallel" else real(name, *a))
    with pytest.raises(DistError, match=r"ipyparallel.*pip install 'mxteach\[dist\]'"):
        launch.start_workers(2)


@pytest.mark.slow
def test_start_workers_runs_two_mpi_ranks_as_engines_and_stops_them():
    ipp = pytest.importorskip("ipyparallel")
    from mxteach.launch import start_workers

    @ipp.interactive            # sent by value: the engines cannot import this test file
    def ranks_and_sum():
        import mxteach as mx
        kv = mx.kv.create("dist_sync")
        kv.init(0, mx.nd.zeros((2,)))
        kv.push(0, mx.nd.ones((2,)) * (kv.rank + 1))
        out = mx.nd.zeros((2,))
        kv.pull(0, out=out)
        return kv.rank, kv.num_workers, out.asnumpy().tolist()

    cluster, client = start_workers(2)
    try:
        got = sorted(client[:].apply_sync(ranks_and_sum))
    finally:
        cluster.stop_cluster_sync()
    assert got == [(0, 2, [3.0, 3.0]), (1, 2, [3.0, 3.0])]
