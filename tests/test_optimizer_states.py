"""Optimizer-state files (``*.states``, the non-kvstore Updater pickle) cross between real
MXNet 1.9.1 and mxteach in both directions, byte for byte; corrupt files name themselves."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from oracle import run_oracle

RNG = np.random.RandomState(11)
W0 = [RNG.uniform(-1, 1, (3, 4)).astype(np.float32), RNG.uniform(-1, 1, (5,)).astype(np.float32)]
GRADS = [[RNG.randn(*w.shape).astype(np.float32) for w in W0] for _ in range(5)]
CONFIGS = {"sgd": ("sgd", dict(learning_rate=0.1, momentum=0.9, wd=0.01)),
           "adam": ("adam", dict(learning_rate=0.01, wd=0.01))}

# Runs in MXNet (oracle) and here alike, with `mx` bound to either library.
DRIVER = r'''
def make(mx, name, kw):
    return mx.optimizer.get_updater(mx.optimizer.create(name, **kw))

def steps(mx, upd, ws, grads):
    for step in grads:
        for i in range(len(ws)):
            upd(i, mx.nd.array(step[i]), ws[i])
'''
_ns = {}
exec(DRIVER, _ns)
make, steps = _ns["make"], _ns["steps"]


def _inputs(grads):
    return {f"g{s}_{i}": g for s, step in enumerate(grads) for i, g in enumerate(step)}


ORACLE_GRADS = r'''
def grads_from(n, first=0):
    return [[globals()[f"g{s}_{i}"] for i in range(2)] for s in range(first, first + n)]
'''


@pytest.mark.parametrize("cfg", sorted(CONFIGS))
def test_states_written_by_mxnet_load_here_and_continue(cfg):
    name, kw = CONFIGS[cfg]
    ref = run_oracle(DRIVER + ORACLE_GRADS + f'''
upd = make(mx, {name!r}, {kw!r})
ws = [mx.nd.array(w0), mx.nd.array(w1)]
steps(mx, upd, ws, grads_from(3))
blob = upd.get_states(dump_optimizer=False)
out['blob'] = blob
out['w3'] = [w.asnumpy() for w in ws]
fresh = make(mx, {name!r}, {kw!r})
fresh.set_states(blob)
steps(mx, fresh, ws, grads_from(2, 3))
out['w5'] = [w.asnumpy() for w in ws]
''', w0=W0[0], w1=W0[1], **_inputs(GRADS))
    upd = make(mx, name, kw)
    upd.set_states(ref["blob"])
    assert sorted(upd.states) == [0, 1]
    ws = [mx.nd.array(w) for w in ref["w3"]]
    steps(mx, upd, ws, GRADS[3:])
    for got, want in zip(ws, ref["w5"]):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6)
    # and what we write for the same states is MXNet's pickle, byte for byte
    assert upd.get_states() != ref["blob"]  # states moved on two steps ...
    again = make(mx, name, kw)
    again.set_states(ref["blob"])
    assert again.get_states() == ref["blob"]  # ... but re-saving unchanged states is exact


@pytest.mark.parametrize("cfg", sorted(CONFIGS))
def test_states_written_here_load_in_mxnet_and_continue(cfg):
    name, kw = CONFIGS[cfg]
    upd = make(mx, name, kw)
    ws = [mx.nd.array(w) for w in W0]
    steps(mx, upd, ws, GRADS[:3])
    blob = upd.get_states()
    w3 = [w.asnumpy().copy() for w in ws]
    fresh = make(mx, name, kw)
    fresh.set_states(blob)
    steps(mx, fresh, ws, GRADS[3:])
    ref = run_oracle(DRIVER + ORACLE_GRADS + f'''
upd = make(mx, {name!r}, {kw!r})
upd.set_states(blob)
out['types'] = sorted({{type(a).__module__ + '.' + type(a).__name__
                       for s in upd.states.values()
                       for a in (s if isinstance(s, (tuple, list)) else [s])}})
ws = [mx.nd.array(w0), mx.nd.array(w1)]
steps(mx, upd, ws, grads_from(2, 3))
out['w5'] = [w.asnumpy() for w in ws]
''', blob=blob, w0=w3[0], w1=w3[1], **_inputs(GRADS))
    assert ref["types"] == ["mxnet.ndarray.ndarray.NDArray"]
    for got, want in zip(ws, ref["w5"]):
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-6)


def test_module_checkpoint_states_from_mxnet_load_here(tmp_path):
    """prefix-0001.states from MXNet's Module.save_checkpoint resumes training via Module.load."""
    x = RNG.randn(4, 5).astype(np.float32)
    y = np.array([0, 1, 2, 1], np.float32)
    ref = run_oracle('''
data = mx.sym.Variable('data')
net = mx.sym.FullyConnected(data, num_hidden=3, name='fc')
net = mx.sym.SoftmaxOutput(net, name='softmax')
mod = mx.mod.Module(net)
mod.bind(data_shapes=[('data', (4, 5))], label_shapes=[('softmax_label', (4,))])
mod.init_params(mx.init.Uniform(0.5))
mod.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.1, 'momentum': 0.9})
batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)])
for _ in range(2):
    mod.forward_backward(batch)
    mod.update()
mod.save_checkpoint(workdir + '/m', 1, save_optimizer_states=True)
for ext in ('-symbol.json', '-0001.params', '-0001.states'):
    out[ext] = open(workdir + '/m' + ext, 'rb').read()
for _ in range(2):
    mod.forward_backward(batch)
    mod.update()
out['params'] = {k: v.asnumpy() for k, v in mod.get_params()[0].items()}
''', x=x, y=y)
    for ext in ("-symbol.json", "-0001.params", "-0001.states"):
        (tmp_path / ("m" + ext)).write_bytes(ref[ext])
    mod = mx.mod.Module.load(str(tmp_path / "m"), 1, load_optimizer_states=True)
    mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("softmax_label", (4,))])
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1,
                                                          "momentum": 0.9})
    assert sorted(mod._updater.states) == [0, 1]
    batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)])
    for _ in range(2):
        mod.forward_backward(batch)
        mod.update()
    got = mod.get_params()[0]
    for k, want in ref["params"].items():
        np.testing.assert_allclose(got[k].asnumpy(), want, rtol=1e-5, atol=1e-6, err_msg=k)


def test_corrupt_or_truncated_states_file_names_the_file(tmp_path):
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=3, name="fc"),
                               name="softmax")
    mod = mx.mod.Module(net)
    mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer(optimizer="adam")
    batch = mx.io.DataBatch([mx.nd.ones((4, 5))], [mx.nd.array([0, 1, 2, 1])])
    mod.forward_backward(batch)
    mod.update()
    good = tmp_path / "good.states"
    mod.save_optimizer_states(str(good))
    blob = good.read_bytes()
    mod.load_optimizer_states(str(good))  # sanity: the intact file loads

    truncated = tmp_path / "trunc.states"
    truncated.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(MXNetError, match="trunc.states"):
        mod.load_optimizer_states(str(truncated))

    # a well-formed pickle whose array record is damaged (bad dtype flag)
    pos = blob.index(b"\xc9\xfa\x93\xf9")  # the first array record (V2 magic)
    ndim = int.from_bytes(blob[pos + 8:pos + 12], "little")
    bad = bytearray(blob)
    dtype_at = pos + 8 + 4 + 8 * ndim + 8  # magic+stype, ndim+dims, dev_type+dev_id
    bad[dtype_at:dtype_at + 4] = (99).to_bytes(4, "little")
    damaged = tmp_path / "damaged.states"
    damaged.write_bytes(bytes(bad))
    with pytest.raises(MXNetError, match="damaged.states.*dtype flag 99"):
        mod.load_optimizer_states(str(damaged))

    empty = tmp_path / "empty.states"
    empty.write_bytes(b"")
    with pytest.raises(MXNetError, match="empty.states"):
        mod.load_optimizer_states(str(empty))

    garbage = tmp_path / "garbage.states"
    garbage.write_bytes(b"\x00not a pickle at all")
    with pytest.raises(MXNetError, match="garbage.states"):
        mod.load_optimizer_states(str(garbage))


def test_older_mxteach_states_files_still_load():
    """Before MXNet's form, mxteach pickled its own NDArray class; such files still load."""
    import pickle
    upd = make(mx, "adam", {})
    ws = [mx.nd.array(w) for w in W0]
    steps(mx, upd, ws, GRADS[:2])
    old_blob = pickle.dumps(upd.states)
    again = make(mx, "adam", {})
    again.set_states(old_blob)
    for i in (0, 1):
        for a, b in zip(again.states[i], upd.states[i]):
            assert type(a) is mx.nd.NDArray
            np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
