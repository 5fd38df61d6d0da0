"""mx.io against real MXNet 1.9.1: the same scenario code runs in both, batch for batch."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from oracle import run_oracle

# Each scenario is run by real MXNet (one subprocess for all) and by mxteach (exec here);
# it records into `out` plain numpy/str/int values only.
HELPERS = """
def desc(ds):
    return [(d.name, tuple(d.shape), str(np.dtype(d.dtype)), d.layout) for d in ds]

def epochs(it, n=3):
    res = []
    for _ in range(n):
        ep = []
        for b in it:
            ep.append(([d.asnumpy() for d in b.data],
                       None if b.label is None else [l.asnumpy() for l in b.label],
                       b.pad, b.index is None, str(b)))
        res.append(ep)
        it.reset()
    return res
"""

SCENARIOS = HELPERS + """
x = np.arange(60, dtype=np.float32).reshape(20, 3)
y = np.arange(20, dtype=np.float32) * 10
for n in (3, 5, 7, 10):
    for bs in (1, 2, 3, 4, 7, 8):
        for mode in ('pad', 'discard', 'roll_over'):
            if mode == 'roll_over' and bs > n:
                continue  # MXNet fails there (see test_roll_over_needs_enough_examples)
            if mode == 'discard' and bs > n:
                continue  # MXNet yields no batch; mxteach raises (test_robust_inputs.py)
            it = mx.io.NDArrayIter(x[:n], y[:n], batch_size=bs, last_batch_handle=mode)
            out['run_%d_%d_%s' % (n, bs, mode)] = epochs(it)
            out['desc_%d_%d_%s' % (n, bs, mode)] = (desc(it.provide_data), desc(it.provide_label))

# several inputs: list (names _i_data, sorted as strings), dict, no label, int arrays
xs = [x[:7] + i for i in range(12)]
it = mx.io.NDArrayIter(xs, None, batch_size=3, last_batch_handle='roll_over')
out['list'] = (desc(it.provide_data), desc(it.provide_label), epochs(it, 2))
it = mx.io.NDArrayIter({'b': x[:6], 'a': x[:6] * 2}, {'lab': y[:6], 'aux': y[:6] + 1},
                       batch_size=4)
out['dict'] = (desc(it.provide_data), desc(it.provide_label), epochs(it, 2))
it = mx.io.NDArrayIter(np.arange(12).reshape(6, 2), np.arange(6, dtype=np.int64), 4,
                       data_name='feat', label_name='target')
out['numpy_int'] = (desc(it.provide_data), desc(it.provide_label), epochs(it, 1))
it = mx.io.NDArrayIter(mx.nd.array(np.arange(12).reshape(6, 2), dtype='int32'),
                       mx.nd.array(np.arange(6), dtype='float64'), 4)
out['nd_int'] = (desc(it.provide_data), desc(it.provide_label), epochs(it, 1))
# time-major layout: the batch axis is 1
z = np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3)
for mode in ('pad', 'discard', 'roll_over'):
    it = mx.io.NDArrayIter(z, None, batch_size=3, last_batch_handle=mode, layout='TNC')
    out['tnc_' + mode] = (desc(it.provide_data), epochs(it, 2))

# seeded shuffle uses numpy's global RNG, so the order is reproducible across both
np.random.seed(7)
it = mx.io.NDArrayIter(x[:10], y[:10], batch_size=4, shuffle=True, last_batch_handle='roll_over')
out['shuffle_roll'] = epochs(it, 3)
np.random.seed(8)
it = mx.io.NDArrayIter(mx.nd.array(x[:9], dtype='int32'), y[:9], batch_size=4, shuffle=True)
out['shuffle_pad'] = (desc(it.provide_data), epochs(it, 2))
it = mx.io.NDArrayIter(x[:7], y[:7], batch_size=3, last_batch_handle='roll_over')
next(it); next(it)
for b in it:
    pass
it.hard_reset()
out['hard_reset'] = epochs(it, 1)

# wrappers
base = mx.io.NDArrayIter(x[:10], y[:10], batch_size=4)
r = mx.io.ResizeIter(base, 5)
out['resize'] = (desc(r.provide_data), r.batch_size, epochs(r, 2))
r = mx.io.ResizeIter(mx.io.NDArrayIter(x[:10], y[:10], batch_size=4), 2, reset_internal=False)
out['resize_noreset'] = epochs(r, 3)
a = mx.io.NDArrayIter(x[:10], y[:10], batch_size=4)
b = mx.io.NDArrayIter(x[10:20], y[10:20], batch_size=4, label_name='other')
p = mx.io.PrefetchingIter([a, b], rename_data=[{'data': 'd1'}, {'data': 'd2'}])
out['prefetch'] = (desc(p.provide_data), desc(p.provide_label), p.batch_size, epochs(p, 2))
p = mx.io.PrefetchingIter(mx.io.NDArrayIter(x[:5], y[:5], batch_size=2),
                          rename_label=[{'softmax_label': 'lab'}])
first = p.next()
out['prefetch_one'] = (desc(p.provide_label), desc(first.provide_data), first.pad,
                       [d.asnumpy() for d in p.getdata()], p.getpad(), epochs(p, 1))
"""


@pytest.fixture(scope="module")
def oracle_out():
    return run_oracle(SCENARIOS)


@pytest.fixture(scope="module")
def ours():
    env = {"mx": mx, "np": np, "out": {}}
    exec(SCENARIOS, env)
    return env["out"]


def assert_same(a, b, path="out"):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"{path}: dtype {a.dtype} vs MXNet {b.dtype}"
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} vs MXNet {b!r}"


@pytest.mark.oracle
def test_every_scenario_matches_mxnet(ours, oracle_out):
    assert set(ours) == set(oracle_out)
    assert len(ours) > 130  # discard with batch > data now raises (issue 9)
    for key in sorted(oracle_out):
        assert_same(ours[key], oracle_out[key], key)


@pytest.mark.oracle
def test_roll_over_carries_the_tail_and_reports_it_as_pad(oracle_out):
    # 7 examples, batches of 3: epoch 1 gives 0-2, 3-5 and carries 6 into epoch 2
    ep1, ep2, ep3 = oracle_out["run_7_3_roll_over"]
    assert [b[0][0][:, 0].tolist() for b in ep1] == [[0, 3, 6], [9, 12, 15]]
    assert [b[0][0][:, 0].tolist() for b in ep2] == [[18, 0, 3], [6, 9, 12]]
    assert [b[2] for b in ep2] == [1, 0]
    assert [b[0][0][:, 0].tolist() for b in ep3] == [[15, 18, 0], [3, 6, 9], [12, 15, 18]]


def test_roll_over_needs_enough_examples():
    # 5 examples, batches of 8: epoch 2 is the 5 carried + 3 new; epoch 3 would need 2 + 6 of
    # 5, where MXNet fails in slice_axis ("Invalid end")
    it = mx.io.NDArrayIter(np.arange(5, dtype=np.float32), None, 8, last_batch_handle="roll_over")
    assert list(it) == []
    it.reset()
    (batch,) = list(it)
    np.testing.assert_array_equal(batch.data[0].asnumpy(), [0, 1, 2, 3, 4, 0, 1, 2])
    assert batch.pad == 5
    it.reset()
    with pytest.raises(MXNetError, match="batch_size <= 5"):
        it.next()


def test_pad_cycles_when_batch_exceeds_twice_the_data():
    it = mx.io.NDArrayIter(np.arange(3, dtype=np.float32), None, batch_size=8)
    (batch,) = list(it)
    assert batch.pad == 5
    np.testing.assert_array_equal(batch.data[0].asnumpy(), [0, 1, 2, 0, 1, 2, 0, 1])
    assert batch.label == []


def test_shuffle_keeps_data_and_label_aligned():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    it = mx.io.NDArrayIter(x, x[:, 0] * 10, batch_size=6, shuffle=True,
                           last_batch_handle="discard")
    seen = []
    for _ in range(3):
        for b in it:
            d, lab = b.data[0].asnumpy(), b.label[0].asnumpy()
            np.testing.assert_array_equal(d[:, 0] * 10, lab)
            np.testing.assert_array_equal(d[:, 1], d[:, 0] + 1)
            seen.append(d[:, 0])
        it.reset()
    assert len(seen) == 9
    assert sorted(seen[0].tolist()) != seen[0].tolist() or sorted(seen[1].tolist()) != \
        seen[1].tolist()


def test_datadesc_is_a_name_shape_pair():
    d = mx.io.DataDesc("data", (4, 3, 2), "float16", layout="NTC")
    name, shape = d
    assert (name, shape) == ("data", (4, 3, 2)) and len(d) == 2
    assert dict([d]) == {"data": (4, 3, 2)}
    assert d.dtype == "float16" and d.layout == "NTC"
    assert repr(d) == "DataDesc[data,(4, 3, 2),float16,NTC]"
    assert mx.io.DataDesc.get_batch_axis("TNC") == 1
    assert mx.io.DataDesc.get_batch_axis(None) == 0
    lst = mx.io.DataDesc.get_list([("a", (1,)), ("b", (2,))], [("a", np.int32), ("b", "f8")])
    assert [(x.name, x.shape, x.dtype) for x in lst] == [("a", (1,), np.int32), ("b", (2,), "f8")]
    import copy
    import pickle
    for clone in (copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert clone == d and clone.dtype == "float16" and clone.layout == "NTC"


def test_databatch_str_and_base_iterator():
    b = mx.io.DataBatch([mx.nd.zeros((2, 3))], label=[], pad=0)
    assert str(b) == "DataBatch: data shapes: [(2, 3)] label shapes: None"
    with pytest.raises(AssertionError, match="list of NDArrays"):
        mx.io.DataBatch(mx.nd.zeros((2, 3)))
    base = mx.io.DataIter(batch_size=4)
    assert base.batch_size == 4 and list(base) == [] and base.getpad() == 0
    assert not hasattr(base, "provide_data")
    with pytest.raises(AttributeError, match=r"set self.provide_label = \[DataDesc"):
        base.provide_label
    base.provide_data = [mx.io.DataDesc("data", (4, 2))]
    assert base.provide_data == [("data", (4, 2))]


def test_custom_iterator_through_iter_next():
    class Counting(mx.io.DataIter):
        def __init__(self):
            super().__init__(2)
            self.i = 0

        def iter_next(self):
            self.i += 1
            return self.i <= 3

        def getdata(self):
            return [mx.nd.full((2,), self.i)]

        def getindex(self):
            return np.array([self.i])

    batches = list(Counting())
    assert [b.data[0].asnumpy().tolist() for b in batches] == [[1, 1], [2, 2], [3, 3]]
    assert [b.index.tolist() for b in batches] == [[1], [2], [3]]
    assert all(b.pad == 0 and b.label is None for b in batches)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="last_batch_handle"):
        mx.io.NDArrayIter(np.zeros((4, 2)), last_batch_handle="wrap")
    with pytest.raises(MXNetError, match="needs data"):
        mx.io.NDArrayIter(None)
    with pytest.raises(TypeError, match="'x'"):
        mx.io.NDArrayIter({"x": object()})
    it = mx.io.NDArrayIter(np.zeros((5, 2)), batch_size=2, last_batch_handle="roll_over")
    it.iter_next(); it.iter_next(); it.iter_next()  # reached the tail without next()
    it.reset()
    with pytest.raises(MXNetError, match="carried over"):
        it.next()
    a = mx.io.NDArrayIter(np.zeros((4, 2)), batch_size=2)
    b = mx.io.NDArrayIter(np.zeros((6, 2)), batch_size=2)
    p = mx.io.PrefetchingIter([a, b])
    p.next(); p.next()
    with pytest.raises(MXNetError, match="same number of batches"):
        p.next()
