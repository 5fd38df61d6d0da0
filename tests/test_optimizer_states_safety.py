""".states files load through a restricted unpickler and are validated before they replace
anything (issue 9, item 4)."""
import collections
import os
import pickle

import numpy as np
import pytest

import mxteach as mx
from mxteach.optimizer import states as optimizer_states
from mxteach.base import MXNetError

RS = np.random.RandomState(3)
X = RS.randn(32, 5).astype("f")
Y = RS.randint(0, 3, 32).astype("f")


def _module(optimizer="sgd", params=(("learning_rate", 0.1), ("momentum", 0.9)), hidden=4):
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=hidden, name="fc1")
    net = mx.sym.FullyConnected(mx.sym.Activation(net, act_type="tanh"), num_hidden=3,
                                name="fc2")
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(net, name="softmax"))
    it = mx.io.NDArrayIter(X, Y, batch_size=8)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(mx.init.Xavier(rnd_type="uniform", magnitude=1))
    mod.init_optimizer(optimizer=optimizer, optimizer_params=params)
    return mod, it


def _train(mod, it, n=2):
    it.reset()
    for k, batch in enumerate(it):
        if k == n:
            break
        mod.forward_backward(batch)
        mod.update()


def _snapshot(mod):
    args, _ = mod.get_params()
    states = {k: (None if v is None else v.asnumpy()) for k, v in mod._updater.states.items()}
    return {k: v.asnumpy() for k, v in args.items()}, states


# -- the restricted unpickler --------------------------------------------------------------------
class _RunsCode:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


class _ImportsSubprocess:
    def __reduce__(self):
        import subprocess
        return (subprocess.check_output, (["true"],))


def test_code_running_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    fname = tmp_path / "evil.states"
    fname.write_bytes(pickle.dumps({0: _RunsCode(marker)}))
    mod, _ = _module()
    with pytest.raises(MXNetError, match=r"refusing to load global '(posix|os)\.system'") as err:
        mod.load_optimizer_states(str(fname))
    assert isinstance(err.value, pickle.UnpicklingError)
    assert not marker.exists()                         # the command never ran
    with pytest.raises(MXNetError, match="refusing"):
        optimizer_states.loads(pickle.dumps(_RunsCode(marker)))
    assert not marker.exists()


@pytest.mark.parametrize("payload", [_Evals(), _ImportsSubprocess(), pickle.loads,
                                     collections.Counter("ab")])
def test_other_globals_are_refused(payload):
    blob = pickle.dumps({0: payload}, protocol=4)
    with pytest.raises(MXNetError, match="refusing to load global"):
        optimizer_states.loads(blob)
    upd = mx.optimizer.get_updater(mx.optimizer.SGD())
    with pytest.raises(MXNetError, match="refusing to load global"):
        upd.set_states(blob)


def test_what_mxteach_writes_still_loads(tmp_path):
    sched = mx.lr_scheduler.FactorScheduler(step=5, factor=0.5, base_lr=0.1)
    mod, it = _module("adam", (("learning_rate", 0.1), ("lr_scheduler", sched)))
    _train(mod, it)
    blob = mod._updater.get_states(dump_optimizer=True)     # optimizer + scheduler + numpy
    states, opt = optimizer_states.loads(blob)
    assert type(opt).__name__ == "Adam" and type(opt.lr_scheduler).__name__ == \
        "FactorScheduler"
    assert sorted(states) == sorted(mod._updater.states)
    # older mxteach files pickled mxteach's own NDArray class
    legacy = pickle.dumps({0: mx.nd.array([1.0, 2.0])})
    np.testing.assert_array_equal(optimizer_states.loads(legacy)[0].asnumpy(), [1, 2])
    # ... while the same containers holding anything else are refused
    with pytest.raises(MXNetError, match="refusing to load global 'collections.Counter'"):
        optimizer_states.loads(pickle.dumps({0: collections.Counter()}))


# -- validation before replacement ---------------------------------------------------------------
def _bad_files(tmp_path):
    """(name, bytes, expected message) of files a module of hidden=4 must refuse."""
    other, it = _module(hidden=6)                           # same names, other shapes
    _train(other, it)
    adam, it2 = _module("adam", (("learning_rate", 0.01),))
    _train(adam, it2)
    good, it3 = _module()
    _train(good, it3)
    states = dict(good._updater.states)
    wrong_dtype = dict(states)
    wrong_dtype[0] = mx.nd.array(states[0].asnumpy(), dtype="float64")
    return [
        ("shape", other._updater.get_states(), r"state of index 0: expected array \(4, 5\) "
                                               r"float32, got array \(6, 5\)"),
        ("kind", adam._updater.get_states(dump_optimizer=True),
         "saved for optimizer Adam, but the module uses SGD"),
        ("structure", adam._updater.get_states(), r"expected array .*, got tuple of 2"),
        ("dtype", optimizer_states.dumps(wrong_dtype), "got array .* float64"),
        ("index", optimizer_states.dumps({99: states[0]}), "holds states for \\[99\\]"),
        ("type", optimizer_states.dumps([states[0]]), "expected a dict of states"),
        ("truncated", good._updater.get_states()[:-7], "corrupt pickle"),
    ]


def test_bad_states_file_leaves_module_exactly_as_it_was(tmp_path):
    mod, it = _module()
    twin, it_twin = _module()
    twin.set_params(*mod.get_params())
    _train(mod, it)
    _train(twin, it_twin)
    before = _snapshot(mod)
    for name, blob, msg in _bad_files(tmp_path):
        fname = tmp_path / f"{name}.states"
        fname.write_bytes(blob)
        with pytest.raises(MXNetError, match=msg):
            mod.load_optimizer_states(str(fname))
        after = _snapshot(mod)
        for k in before[1]:
            np.testing.assert_array_equal(after[1][k], before[1][k], err_msg=name)
        assert type(mod._updater.optimizer).__name__ == "SGD"
    # training continues exactly like the twin that never saw a bad file
    _train(mod, it, n=3)
    _train(twin, it_twin, n=3)
    a, b = _snapshot(mod), _snapshot(twin)
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k])


def test_valid_states_round_trip_through_module(tmp_path):
    mod, it = _module()
    _train(mod, it)
    fname = str(tmp_path / "ok.states")
    mod.save_optimizer_states(fname)
    fresh, it2 = _module()
    fresh.set_params(*mod.get_params())
    fresh.load_optimizer_states(fname)
    _train(mod, it, n=2)
    _train(fresh, it2, n=2)
    a, b = _snapshot(mod), _snapshot(fresh)
    for k in a[0]:
        np.testing.assert_allclose(a[0][k], b[0][k], rtol=1e-6)
    # and the same path refuses a file of another network (hidden=6), keeping what it has
    other, it3 = _module(hidden=6)
    _train(other, it3)
    other.save_optimizer_states(fname)
    kept = _snapshot(fresh)[1]
    with pytest.raises(MXNetError, match=r"expected array \(4, 5\) float32"):
        fresh.load_optimizer_states(fname)
    for k, v in _snapshot(fresh)[1].items():
        np.testing.assert_array_equal(v, kept[k])


def test_multi_device_kvstore_path_is_validated_too(tmp_path):
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3,
                                                     name="fc"), name="softmax")
    mod = mx.mod.Module(net, context=[mx.cpu(0), mx.cpu(1)])
    it = mx.io.NDArrayIter(X, Y, batch_size=8)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params()
    mod.init_optimizer(kvstore="local", optimizer_params=(("learning_rate", 0.1),
                                                          ("momentum", 0.9)))
    assert mod._update_on_kvstore
    _train(mod, it)
    fname = tmp_path / "kv.states"
    mod.save_optimizer_states(str(fname))
    mod.load_optimizer_states(str(fname))                    # its own file loads
    bad = optimizer_states.loads(fname.read_bytes())
    bad["fc_weight"] = mx.nd.zeros((7, 7))
    fname.write_bytes(optimizer_states.dumps(bad))
    with pytest.raises(MXNetError, match=r"state of index 'fc_weight': expected array \(3, 5\)"):
        mod.load_optimizer_states(str(fname))


@pytest.mark.parametrize("klass, extra, old_module", [
    ("SGD", {"momentum": 0.9}, "mxteach.optimizer_sgd"),
    ("Adam", {}, "mxteach.optimizer_adaptive")])
def test_states_saved_by_the_flat_optimizer_layout_still_load(klass, extra, old_module):
    """Before ``mxteach.optimizer`` became a package, ``dump_optimizer=True`` pickles named
    the optimizer class by its flat module (``mxteach.optimizer_sgd.SGD``)."""
    opt = mx.optimizer.create(klass, learning_rate=0.25, wd=0.5, **extra)
    upd = mx.optimizer.get_updater(opt)
    w, g = mx.nd.array([1.0, -2.0]), mx.nd.array([0.5, 0.5])
    upd(0, g, w)
    new_module = old_module.replace("optimizer_", "optimizer.")
    blob = upd.get_states(dump_optimizer=True)
    assert new_module.encode() in blob
    # same length, so the pickle's string headers stay valid
    old_blob = blob.replace(new_module.encode(), old_module.encode())
    assert new_module.encode() not in old_blob and old_module.encode() in old_blob
    states, loaded = optimizer_states.loads(old_blob, "old.states")
    assert type(loaded) is type(opt) and (loaded.lr, loaded.wd) == (0.25, 0.5)
    assert loaded._index_update_count == {0: 1}
    fresh = mx.optimizer.get_updater(mx.optimizer.create(klass, **extra))
    fresh.load_states(old_blob, {0: w}, "old.states")
    assert fresh.optimizer.lr == 0.25
    flat = (lambda s: list(s) if isinstance(s, (tuple, list)) else [s])
    assert len(flat(upd.states[0])) == (1 if klass == "SGD" else 2)
    for got, want in zip(flat(fresh.states[0]), flat(upd.states[0])):
        np.testing.assert_array_equal(got.asnumpy(), want.asnumpy())
