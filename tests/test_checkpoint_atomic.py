"""A checkpoint is a consistent set, always (issue 9, item 5).

Preconditions are checked before any file is written; symbol, params and states go through
one atomic writer (temp files, fsync, a journal, renames in a fixed order); a save killed at
any moment leaves the old set or the new one; temp files are per process, removed on failure
and cleaned by the next save when their process is gone.
"""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import mxteach as mx
from mxteach import fileio
from mxteach.optimizer import states as optimizer_states
from mxteach.base import MXNetError

X = np.random.RandomState(0).randn(16, 6).astype("f")
Y = np.random.RandomState(1).randint(0, 3, 16).astype("f")


def _module(optimizer=True, contexts=None):
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(net, name="softmax"),
                        context=contexts or mx.cpu())
    it = mx.io.NDArrayIter(X, Y, batch_size=8)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params()
    if optimizer:
        mod.init_optimizer(optimizer_params=(("learning_rate", 0.1), ("momentum", 0.9)))
        for batch in it:
            mod.forward_backward(batch)
            mod.update()
    return mod


def _files(prefix, epoch=1):
    return [f"{prefix}-symbol.json", f"{prefix}-{epoch:04d}.params",
            f"{prefix}-{epoch:04d}.states"]


def _listing(folder):
    return sorted(os.listdir(folder))


# -- preconditions and failures ------------------------------------------------------------------
def test_failed_precondition_writes_nothing(tmp_path):
    prefix = str(tmp_path / "m")
    _module().save_checkpoint(prefix, 1, save_optimizer_states=True)
    before = {f: open(f, "rb").read() for f in _files(prefix)}
    listing = _listing(tmp_path)
    fresh = _module(optimizer=False)
    fresh.set_params({"fc_weight": mx.nd.ones((3, 6)), "fc_bias": mx.nd.ones((3,))}, {})
    with pytest.raises(MXNetError, match="init_optimizer"):
        fresh.save_checkpoint(prefix, 1, save_optimizer_states=True)
    assert {f: open(f, "rb").read() for f in _files(prefix)} == before   # params untouched
    assert _listing(tmp_path) == listing                                 # no temp left
    with pytest.raises(MXNetError, match="epoch must be an int"):
        fresh.save_checkpoint(prefix, "1")
    with pytest.raises(MXNetError, match="does not exist"):
        fresh.save_checkpoint(str(tmp_path / "no" / "such" / "m"), 1)
    assert _listing(tmp_path) == listing


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name an fd")
def test_failure_while_writing_removes_temps_and_keeps_old_set(tmp_path, monkeypatch):
    prefix = str(tmp_path / "m")
    mod = _module()
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    before = {f: open(f, "rb").read() for f in _files(prefix)}
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(path)
        if ".states." in path:                    # the last file of the set: disk full
            raise OSError(28, "No space left on device")
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    mod.set_params({"fc_weight": mx.nd.zeros((3, 6)), "fc_bias": mx.nd.zeros((3,))}, {})
    with pytest.raises(MXNetError, match="No space left"):
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    monkeypatch.undo()
    assert any(".params." in c for c in calls)       # params were written before the failure
    assert {f: open(f, "rb").read() for f in _files(prefix)} == before
    assert not [n for n in _listing(tmp_path) if n.endswith((".tmp", ".journal"))]


def test_interrupted_renames_are_completed_by_the_loader(tmp_path, monkeypatch):
    """A kill between the renames (simulated: the second rename raises) is finished by the
    next load: params and states of the new save, not a mix."""
    prefix = str(tmp_path / "m")
    mod = _module()
    mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    mod.set_params({"fc_weight": mx.nd.full((3, 6), 7.0), "fc_bias": mx.nd.zeros((3,))}, {})
    for st in mod._updater.states.values():
        st._data[...] = 7.0
    real_replace, renamed = os.replace, []

    def dying_replace(src, dst):
        if str(dst).endswith((".params", ".states")) and renamed:
            raise KeyboardInterrupt("killed")     # after the symbol and params renames
        if str(dst).endswith(".params"):
            renamed.append(dst)
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
    monkeypatch.undo()
    journals = [n for n in _listing(tmp_path) if n.endswith(".journal")]
    assert len(journals) == 1                      # the commit point was passed
    # old states on disk until a loader runs
    _, args, _ = mx.model.load_checkpoint(prefix, 1)
    assert (args["fc_weight"].asnumpy() == 7.0).all()
    states = optimizer_states.loads(open(f"{prefix}-0001.states", "rb").read())
    assert all((s.asnumpy() == 7.0).all() for s in states.values())
    assert not [n for n in _listing(tmp_path) if n.endswith((".tmp", ".journal"))]


def test_multi_device_states_go_through_the_atomic_set(tmp_path, monkeypatch):
    prefix = str(tmp_path / "m")
    mod = _module(contexts=[mx.cpu(0), mx.cpu(1)])
    assert mod._update_on_kvstore
    writes = []
    real = fileio.atomic_write_set
    monkeypatch.setattr(fileio, "atomic_write_set",
                        lambda files: (writes.append([f for f, _ in files]), real(files)))
    mod.save_checkpoint(prefix, 2, save_optimizer_states=True)
    assert [[os.path.basename(f) for f in w] for w in writes] == \
        [["m-symbol.json", "m-0002.params", "m-0002.states"]]
    states = optimizer_states.loads(open(f"{prefix}-0002.states", "rb").read())
    assert sorted(states) == ["fc_bias", "fc_weight"]
    mod.load_optimizer_states(f"{prefix}-0002.states")


def test_stale_temps_of_dead_processes_are_cleaned_live_ones_kept(tmp_path):
    prefix = str(tmp_path / "m")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".m-0001.params.{dead.pid}.0123456789ab.tmp"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".m-0001.params.{os.getppid()}.0123456789ab.tmp"
    live.write_bytes(b"y")
    _module().save_checkpoint(prefix, 1, save_optimizer_states=True)
    assert not stale.exists() and live.exists()
    names = _listing(tmp_path)
    assert [n for n in names if n.endswith(".tmp")] == [live.name]
    assert not [n for n in names if n.endswith(".journal")]


def test_temp_names_are_unique_per_process(tmp_path, monkeypatch):
    seen = []
    real_open = os.open

    def spy(path, *a, **k):
        seen.append(os.path.basename(path))
        return real_open(path, *a, **k)
    monkeypatch.setattr(os, "open", spy)
    mx.nd.save(str(tmp_path / "a.params"), [mx.nd.ones((2,))])
    temps = [n for n in seen if n.endswith(".tmp")]
    assert temps and all(f".a.params.{os.getpid()}." in n for n in temps)


# -- the kill test -------------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import mxteach as mx
    prefix = sys.argv[1]
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=256, name="fc")
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(net, name="softmax"))
    mod.bind([("data", (8, 512))], [("softmax_label", (8,))])
    mod.init_params()
    mod.init_optimizer(optimizer_params=(("learning_rate", 0.1), ("momentum", 0.9)))
    batch = mx.io.DataBatch([mx.nd.ones((8, 512))], [mx.nd.zeros((8,))])
    mod.forward_backward(batch)
    mod.update()
    gen = int(sys.argv[2])
    while True:
        gen += 1
        mod.set_params({"fc_weight": mx.nd.full((256, 512), gen),
                        "fc_bias": mx.nd.full((256,), gen)}, {})
        for state in mod._updater.states.values():
            state._data[...] = gen
        mod.save_checkpoint(prefix, 1, save_optimizer_states=True)
        print(gen, flush=True)
""")


def _kill_trials(tmp_path, trials, seed):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    prefix = str(tmp_path / "ck")
    rng = random.Random(seed)
    outcomes = {"old": 0, "new": 0}
    last = 0
    for trial in range(trials):
        child = subprocess.Popen([sys.executable, str(script), prefix, str(last)],
                                 stdout=subprocess.PIPE, text=True)
        try:
            first = child.stdout.readline()           # one complete save, then kill at random
            assert first.strip(), "the child never completed a save"
            time.sleep(rng.uniform(0.0, 0.08))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        printed = [int(v) for v in [first] + child.stdout.read().split()]
        child.stdout.close()
        done = printed[-1]                              # the last save reported complete
        # load as a user would: through the checkpoint loaders (which finish a pending commit)
        sym, args, auxs = mx.model.load_checkpoint(prefix, 1)
        assert sym.list_arguments() == ["data", "fc_weight", "fc_bias", "softmax_label"]
        gens = {float(v) for a in args.values() for v in np.unique(a.asnumpy())}
        assert len(gens) == 1, f"trial {trial}: params mix saves {gens}"
        gen = int(gens.pop())
        states = optimizer_states.loads(open(f"{prefix}-0001.states", "rb").read())
        sgens = {float(v) for s in states.values() for v in np.unique(s.asnumpy())}
        assert sgens == {gen}, f"trial {trial}: params of save {gen}, states of {sgens}"
        assert gen in (done, done + 1), (gen, done)   # the last complete save or the one after
        outcomes["old" if gen == done else "new"] += 1
        if trial % 5 == 0:                             # Module.load reads the same consistent set
            mod = mx.mod.Module.load(prefix, 1, load_optimizer_states=True)
            mod.bind([("data", (8, 512))], [("softmax_label", (8,))])
            mod.init_optimizer(optimizer_params=(("momentum", 0.9),))
            assert {float(v) for s in mod._updater.states.values()
                    for v in np.unique(s.asnumpy())} == {gen}
        last = gen + 1000 * (trial + 1)              # the next child writes new values
    leftovers = [n for n in _listing(tmp_path) if n.endswith((".tmp", ".journal"))]
    # the last kill's temps stay until the next save; one more save cleans every stale one
    m = _module()
    m.save_checkpoint(str(tmp_path / "ck"), 1, save_optimizer_states=True)
    assert not [n for n in _listing(tmp_path) if n.endswith((".tmp", ".journal"))], leftovers
    print(f"{trials} kills: {outcomes}; left behind before the next save: {len(leftovers)}")
    return outcomes


def test_kill_mid_save_leaves_old_or_new_set(tmp_path):
    outcomes = _kill_trials(tmp_path, trials=20, seed=9)
    assert sum(outcomes.values()) == 20


@pytest.mark.slow
def test_kill_mid_save_many_times(tmp_path):
    outcomes = _kill_trials(tmp_path, trials=150, seed=10)
    assert sum(outcomes.values()) == 150
