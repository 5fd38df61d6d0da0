"""predict(merge_batches=True) writes each batch into one preallocated result per output;
the built-in metrics read outputs without copying them, user metric functions get copies.
These check the results are those of the per-batch path (iter_predict + concatenation)."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError


def _module(batch=20, two_outputs=False):
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, num_hidden=6, name="fc1")
    out = mx.sym.SoftmaxOutput(h, name="softmax")
    if two_outputs:
        out = mx.sym.Group([out, mx.sym.Activation(h, act_type="tanh", name="t")])
    mod = mx.mod.Module(out, context=mx.cpu())
    mod.bind(data_shapes=[("data", (batch, 5))], label_shapes=[("softmax_label", (batch,))],
             for_training=False)
    rs = np.random.RandomState(3)
    mod.init_params(arg_params={"fc1_weight": mx.nd.array(rs.randn(6, 5)),
                                "fc1_bias": mx.nd.array(rs.randn(6))}, aux_params={})
    return mod


def _data(n=47):
    rs = np.random.RandomState(0)
    return rs.randn(n, 5).astype("f"), rs.randint(0, 6, n).astype("f")


def _per_batch(mod, it):
    parts = mod.predict(it, merge_batches=False)
    return [np.concatenate([p[i].asnumpy() for p in parts]) for i in range(len(parts[0]))]


@pytest.mark.parametrize("handle", ["pad", "discard", "roll_over"])
def test_merged_predict_equals_the_per_batch_outputs(handle):
    X, y = _data()
    mod = _module()
    def it():     # a fresh iterator per call: roll_over carries its tail between epochs
        return mx.io.NDArrayIter(X, y, batch_size=20, last_batch_handle=handle)
    expected = _per_batch(mod, it())[0]
    got = mod.predict(it())
    assert got.shape == expected.shape == ({"pad": 47, "discard": 40,
                                            "roll_over": 40}[handle], 6)
    np.testing.assert_array_equal(got.asnumpy(), expected)
    # an array of its own: the next forward does not change it
    assert not np.shares_memory(got._data, mod.get_outputs()[0]._data)
    if handle == "pad":
        np.testing.assert_allclose(got.asnumpy().sum(axis=1), np.ones(47), rtol=1e-5)


class _Batches(mx.io.DataIter):
    """An iterator that does not say how many rows it holds (the result grows)."""

    def __init__(self, X, batch):
        super().__init__(batch)
        self.X, self.pos = X, 0

    def reset(self):
        self.pos = 0

    def next(self):
        if self.pos >= len(self.X):
            raise StopIteration
        rows = self.X[self.pos:self.pos + self.batch_size]
        pad = self.batch_size - len(rows)
        if pad:
            rows = np.concatenate([rows, self.X[:pad]])
        self.pos += self.batch_size
        return mx.io.DataBatch([mx.nd.array(rows)], None, pad=pad)


def test_merged_predict_grows_without_a_size_hint_and_keeps_every_output():
    X, _ = _data(95)
    mod = _module(batch=10, two_outputs=True)
    it = _Batches(X, 10)
    assert not hasattr(it, "num_data")
    expected = _per_batch(mod, it)
    got = mod.predict(it)
    assert isinstance(got, list) and len(got) == 2
    for g, e in zip(got, expected):
        assert g.shape == (95, 6)
        np.testing.assert_array_equal(g.asnumpy(), e)
    first = mod.predict(it, num_batch=3, always_output_list=True)
    np.testing.assert_array_equal(first[0].asnumpy(), expected[0][:30])
    assert mod.predict(it, num_batch=0) == []


def test_merged_predict_still_refuses_uneven_output_counts():
    X, _ = _data(40)
    mod = _module(batch=20)
    mod2 = _module(batch=20, two_outputs=True)
    calls = []
    original = mod.get_outputs

    def alternating(merge_multi_context=True):
        calls.append(1)
        return original() if len(calls) % 2 else mod2.get_outputs()
    mod2.forward(mx.io.DataBatch([mx.nd.array(X[:20])], None), is_train=False)
    mod.get_outputs = alternating
    with pytest.raises(MXNetError, match="different numbers of outputs"):
        mod.predict(mx.io.NDArrayIter(X, batch_size=20))
    assert len(calls) == 2      # every batch still ran


def test_custom_metric_function_gets_copies_builtin_metrics_same_values():
    X, y = _data(20)
    mod = _module()
    mod.forward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]), is_train=False)
    before = mod.get_outputs()[0].asnumpy()

    def scribble(label, pred):
        pred[...] = 0.0         # a user function may write into what it gets
        label[...] = -1.0
        return 0.0
    labels = [mx.nd.array(y)]
    mod.update_metric(mx.metric.CustomMetric(scribble), labels)
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), before)
    np.testing.assert_array_equal(labels[0].asnumpy(), y)
    acc = mx.metric.Accuracy()
    mod.update_metric(acc, labels)
    assert acc.get()[1] == pytest.approx(float((before.argmax(1) == y).mean()))
    ce = mx.metric.CrossEntropy()
    mod.update_metric(ce, labels)
    expected = -np.log(before[np.arange(20), y.astype(int)] + 1e-12).mean()
    assert ce.get()[1] == pytest.approx(float(expected), rel=1e-5)
