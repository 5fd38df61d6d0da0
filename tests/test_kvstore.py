"""KVStore: merges, broadcasts and in-store optimizer updates against real MXNet 1.9.1, plus
the errors a student meets first."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from oracle import run_oracle

RNG = np.random.RandomState(11)
SHAPES = {"fc_weight": (3, 4), "fc_bias": (3,)}
INIT = {k: RNG.uniform(-1, 1, s).astype(np.float32) for k, s in SHAPES.items()}
# GRADS[step][key] = one gradient per device (two devices)
GRADS = [{k: [RNG.randn(*s).astype(np.float32) for _ in range(2)] for k, s in SHAPES.items()}
         for _ in range(4)]
VALS = [RNG.randn(2, 3).astype(np.float32) for _ in range(3)]

# Runs in MXNet and here with `mx` bound to either library.
DRIVER = r'''
def plain_merges(mx, vals):
    res = {}
    for kind in ['local', 'device']:
        kv = mx.kv.create(kind)
        kv.init([0, 1], [mx.nd.zeros((2, 3)), mx.nd.ones((2, 3))])
        kv.push(0, [mx.nd.array(v, ctx=mx.cpu(i)) for i, v in enumerate(vals)])
        a = [mx.nd.zeros((2, 3), ctx=mx.cpu(i)) for i in range(2)]
        kv.pull(0, out=a)
        kv.push([0, 1], [[mx.nd.array(vals[0])], [mx.nd.array(vals[1]), mx.nd.array(vals[2])]])
        b = [mx.nd.zeros((2, 3)), [mx.nd.zeros((2, 3)), mx.nd.zeros((2, 3), ctx=mx.cpu(1))]]
        kv.pull([0, 1], out=b)
        c = mx.nd.array(vals[2])
        kv.pushpull(1, c)
        d = mx.nd.zeros((2, 3))
        kv.broadcast(5, mx.nd.array(vals[1]) * 2, out=d)
        res[kind] = [a[0].asnumpy(), a[1].asnumpy(), b[0].asnumpy(), b[1][0].asnumpy(),
                     b[1][1].asnumpy(), c.asnumpy(), d.asnumpy(), kv.type]
    return res

def train(mx, kind, opt_name, opt_kw, init, grads, workdir=None):
    kv = mx.kv.create(kind)
    names = sorted(init)
    opt = mx.optimizer.create(opt_name, param_idx2name={i: n for i, n in enumerate(names)},
                              **opt_kw)
    kv.set_optimizer(opt)
    for n in names:
        kv.init(n, mx.nd.array(init[n]))
    outs = {n: [mx.nd.zeros(init[n].shape, ctx=mx.cpu(i)) for i in range(2)] for n in names}
    traj = []
    for step, g in enumerate(grads):
        for n in names:
            kv.push(n, [mx.nd.array(x, ctx=mx.cpu(i)) for i, x in enumerate(g[n])])
            kv.pull(n, out=outs[n])
        traj.append({n: [o.asnumpy() for o in outs[n]] for n in names})
        if workdir is not None and step == 1:
            kv.save_optimizer_states(workdir + '/opt.states', dump_optimizer=True)
            kv = mx.kv.create(kind)
            kv.set_optimizer(mx.optimizer.create(opt_name, **opt_kw))
            kv.load_optimizer_states(workdir + '/opt.states')
            for n in names:
                kv.init(n, outs[n][0])
    return traj

def compressed(mx, vals):
    kv = mx.kv.create('device')
    kv.set_gradient_compression({'type': '2bit', 'threshold': 0.4})
    kv.init(0, mx.nd.zeros((2, 3)))
    res = []
    for _ in range(3):
        kv.push(0, [mx.nd.array(v, ctx=mx.cpu(i)) for i, v in enumerate(vals[:2])])
        o = mx.nd.zeros((2, 3))
        kv.pull(0, out=o)
        res.append(o.asnumpy())
    return res
'''

TRAIN_CASES = [
    ("local", "sgd", dict(learning_rate=0.1, momentum=0.9, wd=0.01, rescale_grad=0.5)),
    ("device", "adam", dict(learning_rate=0.01, wd=0.1, clip_gradient=1.0)),
    ("local", "rmsprop", dict(learning_rate=0.01, centered=True, wd=0.05)),
]


@pytest.fixture(scope="module")
def expected():
    code = DRIVER + f"""
out['plain'] = plain_merges(mx, VALS)
out['train'] = [train(mx, k, o, kw, INIT, GRADS) for k, o, kw in {TRAIN_CASES!r}]
out['resumed'] = train(mx, 'local', 'adam', dict(learning_rate=0.01, wd=0.1), INIT, GRADS,
                       workdir)
out['compressed'] = compressed(mx, VALS)
"""
    return run_oracle(code, VALS=VALS, INIT=INIT, GRADS=GRADS)


@pytest.fixture(scope="module")
def ours():
    ns = {"np": np}
    exec(DRIVER, ns)
    return ns


@pytest.mark.oracle
def test_push_pull_sums_and_broadcasts_like_mxnet(expected, ours):
    got = ours["plain_merges"](mx, VALS)
    for kind in ("local", "device"):
        for g, e in zip(got[kind][:-1], expected["plain"][kind][:-1]):
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-6, err_msg=kind)
        assert got[kind][-1] == expected["plain"][kind][-1] == kind
    np.testing.assert_allclose(got["local"][0], VALS[0] + VALS[1] + VALS[2], rtol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize("case", range(len(TRAIN_CASES)),
                         ids=[f"{k}-{o}" for k, o, _ in TRAIN_CASES])
def test_set_optimizer_updates_in_store_like_mxnet(expected, ours, case):
    kind, name, kw = TRAIN_CASES[case]
    got = ours["train"](mx, kind, name, kw, INIT, GRADS)
    for step, (g, e) in enumerate(zip(got, expected["train"][case])):
        for n in SHAPES:
            for dev in range(2):
                np.testing.assert_allclose(g[n][dev], e[n][dev], rtol=1e-5, atol=1e-6,
                                           err_msg=f"{kind} {name} step {step} {n} dev {dev}")


@pytest.mark.oracle
def test_optimizer_states_save_load_continue_like_mxnet(expected, ours, tmp_path):
    kw = dict(learning_rate=0.01, wd=0.1)
    got = ours["train"](mx, "local", "adam", kw, INIT, GRADS, str(tmp_path))
    straight = ours["train"](mx, "local", "adam", kw, INIT, GRADS)
    for g, e, s in zip(got, expected["resumed"], straight):
        for n in SHAPES:
            np.testing.assert_allclose(g[n][0], e[n][0], rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(g[n][0], s[n][0])


@pytest.mark.oracle
def test_two_bit_compression_like_mxnet(expected, ours):
    got = ours["compressed"](mx, VALS)
    for g, e in zip(got, expected["compressed"]):
        np.testing.assert_allclose(g, e, rtol=1e-6)
    assert set(np.unique(got[0] / 0.4).round(6)) <= {-2.0, -1.0, 0.0, 1.0, 2.0}


def test_merge_context_local_vs_device_and_updater_arguments():
    seen = []

    def updater(key, merged, stored):
        seen.append((key, merged.context, stored.context))
        # host values: the two arrays live on different cpu contexts (MXNet mixes them freely,
        # mxteach's NDArray arithmetic refuses)
        stored[:] = stored.asnumpy() + merged.asnumpy() * 2

    # MXNet 1.9.1 (oracle): 'device' sums on cpu(1) but keeps the weight on cpu_pinned(0)
    for kind, where in (("local", (mx.Context("cpu_pinned", 0),) * 2),
                        ("device", (mx.cpu(1), mx.Context("cpu_pinned", 0)))):
        kv = mx.kv.create(kind)
        kv._set_updater(updater)
        kv.init("w", mx.nd.ones((2,)))
        kv.push("w", [mx.nd.ones((2,), ctx=mx.cpu(1)), mx.nd.ones((2,), ctx=mx.cpu(2))])
        out = mx.nd.zeros((2,), ctx=mx.cpu(3))
        kv.pull("w", out=out)
        np.testing.assert_allclose(out.asnumpy(), [5.0, 5.0])
        assert out.context == mx.cpu(3)
        assert seen[-1] == ("w",) + where


def test_row_sparse_pull_into_row_sparse_outputs():
    # MXNet refuses dense outputs ("Expected row_sparse storage type for row_sparse_pull")
    kv = mx.kv.create()
    kv.init(0, mx.nd.array([[1, 2], [3, 4], [5, 6]]).tostype("row_sparse"))
    outs = [mx.nd.sparse.zeros("row_sparse", (3, 2)) for _ in range(2)]
    kv.row_sparse_pull(0, out=outs, row_ids=mx.nd.array([2, 0, 2]))
    for o in outs:
        np.testing.assert_array_equal(o.indices.asnumpy(), [0, 2])
        np.testing.assert_array_equal(o.asnumpy(), [[1, 2], [0, 0], [5, 6]])
    with pytest.raises(mx.base.MXNetError, match="must be row_sparse"):
        kv.row_sparse_pull(0, out=mx.nd.ones((3, 2)), row_ids=mx.nd.array([1]))


def test_properties_and_optimizer_state_files(tmp_path):
    kv = mx.kv.create("Local_Allreduce_CPU")
    assert (kv.type, kv.rank, kv.num_workers) == ("local_allreduce_cpu", 0, 1)
    assert kv.is_capable("optimizer")
    kv.barrier()
    kv.set_optimizer(mx.optimizer.SGD(momentum=0.9, learning_rate=0.5))
    kv.init(0, mx.nd.zeros((2,)))
    kv.push(0, mx.nd.ones((2,)))
    kv.save_optimizer_states(str(tmp_path / "s"))
    kv.push(0, mx.nd.ones((2,)))
    kv.load_optimizer_states(str(tmp_path / "s"))
    np.testing.assert_allclose(kv._updater.states[0].asnumpy(), [-0.5, -0.5])


@pytest.mark.parametrize("action,match", [
    (lambda kv: kv.pull(9, out=mx.nd.zeros((2,))), "key 9 has not been initialised"),
    (lambda kv: kv.push(9, mx.nd.zeros((2,))), "key 9 has not been initialised"),
    (lambda kv: kv.pull(0), "pull needs out="),
    (lambda kv: kv.pull(0, out=mx.nd.zeros((3,))), r"shape \(3,\).*shape \(2,\)"),
    (lambda kv: kv.push(0, [mx.nd.zeros((2,)), mx.nd.zeros((4,))]), r"value 1 .* \(4,\)"),
    (lambda kv: kv.init("a", mx.nd.zeros((2,))), "mixed key types are not allowed"),
    (lambda kv: kv.init([1, "b"], [mx.nd.zeros((1,))] * 2), "inconsistent key types"),
    (lambda kv: kv.init(0, mx.nd.zeros((2,))), "duplicate init of key 0"),
    (lambda kv: kv.init(2.5, mx.nd.zeros((2,))), "keys must be int or str"),
    (lambda kv: kv.init([3, 4], [mx.nd.zeros((2,))]), "2 keys need a list of 2"),
    (lambda kv: kv.set_gradient_compression({"type": "2bit"}), "not supported by a 'local'"),
    (lambda kv: kv.save_optimizer_states("x"), "call kv.set_optimizer"),
    (lambda kv: kv.is_capable("magic"), "unknown capability"),
])
def test_errors_name_the_problem(action, match):
    kv = mx.kv.create("local")
    kv.init(0, mx.nd.zeros((2,)))
    with pytest.raises(MXNetError, match=match):
        action(kv)


def test_registered_store_classes_are_created_by_name():
    @mx.kv.KVStoreBase.register
    class EchoStore(mx.kv.KVStore):
        def __init__(self):
            super().__init__("echostore")
    kv = mx.kv.create("EchoStore")
    assert isinstance(kv, EchoStore) and kv.type == "echostore"
    assert kv.is_capable(mx.kv.KVStoreBase.OPTIMIZER)


def test_create_rejects_cluster_types_and_non_strings():
    for name in ("nccl", "horovod"):
        with pytest.raises(MXNetError, match="does not model"):
            mx.kv.create(name)
    # dist_* exist (issue 16): outside an MPI launch they say how to launch (tests/test_dist.py)
    with pytest.raises(MXNetError, match="must be a string"):
        mx.kv.create(3)
    kv = mx.kv.create("device")
    with pytest.raises(MXNetError, match="only '2bit'"):
        kv.set_gradient_compression({"type": "1bit"})
    with pytest.raises(MXNetError, match="needs a 'type'"):
        kv.set_gradient_compression({"threshold": 1})
