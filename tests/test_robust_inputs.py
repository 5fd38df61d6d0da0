"""Bad everyday input fails loudly (issue 9, item 1): iterators, shapes, num_hidden, metrics.

Each case used to give a silently wrong result, a bare StopIteration/TypeError/numpy error from
deep inside, or an IndexError with a huge negative index. Now: MXNetError at construction or
bind, naming the argument, the expected and the actual.
"""
import re

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError


def _mlp(num_hidden=3):
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=num_hidden, name="fc")
    return mx.sym.SoftmaxOutput(net, name="softmax")


# -- NDArrayIter ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bs", [2.5, 2.0, "2", None, True, np.float32(2)])
def test_non_integer_batch_size_is_refused_at_construction(bs):
    with pytest.raises(MXNetError, match="batch_size must be an int") as err:
        mx.io.NDArrayIter(np.zeros((5, 2)), np.zeros(5), batch_size=bs)
    assert isinstance(err.value, TypeError)          # what MXNet raises for a str


def test_numpy_integer_batch_size_is_accepted():
    it = mx.io.NDArrayIter(np.arange(10.0).reshape(5, 2), np.zeros(5), batch_size=np.int64(2))
    assert it.batch_size == 2 and type(it.batch_size) is int
    assert [b.data[0].shape for b in it] == [(2, 2), (2, 2), (2, 2)]


@pytest.mark.parametrize("bs", [0, -3])
def test_non_positive_batch_size(bs):
    with pytest.raises(MXNetError, match=f"positive integer, got {bs}"):
        mx.io.NDArrayIter(np.zeros((5, 2)), batch_size=bs)


def test_data_label_length_mismatch_names_both():
    with pytest.raises(MXNetError, match=r"label 'softmax_label' has 4 examples but data "
                                         r"'data' has 5"):
        mx.io.NDArrayIter(np.zeros((5, 2)), np.zeros(4), batch_size=2)


def test_length_mismatch_between_data_arrays():
    with pytest.raises(MXNetError, match=r"'b' has 6 examples but data 'a' has 5"):
        mx.io.NDArrayIter({"a": np.zeros((5, 2)), "b": np.zeros((6, 2))}, batch_size=2)


def test_empty_iterator_is_an_error_not_an_empty_epoch():
    with pytest.raises(MXNetError, match="holds no examples"):
        mx.io.NDArrayIter(np.zeros((0, 2)), np.zeros(0), batch_size=2)


def test_discard_with_fewer_rows_than_a_batch():
    with pytest.raises(MXNetError, match=r"3 examples are fewer than one batch of 4.*discard"):
        mx.io.NDArrayIter(np.zeros((3, 2)), np.zeros(3), batch_size=4,
                          last_batch_handle="discard")
    # exactly one batch is fine, and 'pad' still pads a short data set
    assert len(list(mx.io.NDArrayIter(np.zeros((4, 2)), np.zeros(4), batch_size=4,
                                      last_batch_handle="discard"))) == 1
    (batch,) = list(mx.io.NDArrayIter(np.zeros((3, 2)), np.zeros(3), batch_size=4))
    assert batch.pad == 1


def test_bad_last_batch_handle_is_mxnet_error_and_value_error():
    with pytest.raises(MXNetError, match="last_batch_handle") as err:
        mx.io.NDArrayIter(np.zeros((3, 2)), batch_size=1, last_batch_handle="drop")
    assert isinstance(err.value, ValueError)


# -- shapes at bind, num_hidden ------------------------------------------------------------------
@pytest.mark.parametrize("shape, msg", [((2, -3), "negative dimension"),
                                        ((2, 2.5), "every dimension must be an int"),
                                        ("x", "must be a tuple of ints")])
def test_bad_data_desc_shapes(shape, msg):
    with pytest.raises(MXNetError, match=msg):
        mx.io.DataDesc("data", shape)
    mod = mx.mod.Module(_mlp())
    with pytest.raises(MXNetError, match=msg):
        mod.bind([("data", shape)], [("softmax_label", (2,))])
    assert not mod.binded


@pytest.mark.parametrize("shape, axis", [((0, 3), 0), ((2, 0), 1)])
def test_zero_dimension_at_bind(shape, axis):
    mod = mx.mod.Module(_mlp())
    with pytest.raises(MXNetError, match=re.escape(f"data 'data' has shape {shape}, with a "
                                                   f"zero dimension at axis {axis}")):
        mod.bind([("data", shape)], [("softmax_label", (shape[0],))])
    assert not mod.binded


def test_zero_label_dimension_at_bind():
    mod = mx.mod.Module(_mlp())
    with pytest.raises(MXNetError, match="label 'softmax_label' has shape"):
        mod.bind([("data", (2, 3))], [("softmax_label", (0,))])


@pytest.mark.parametrize("n", [0, -1])
def test_num_hidden_must_be_positive(n):
    with pytest.raises(MXNetError, match=rf"'num_hidden' = {n}; expected a value >= 1"):
        mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=n, name="fc")
    with pytest.raises(MXNetError, match="num_hidden"):
        mx.nd.FullyConnected(mx.nd.ones((2, 3)), mx.nd.ones((1, 3)), mx.nd.ones((1,)),
                             num_hidden=n)


def test_num_filter_must_be_positive():
    with pytest.raises(MXNetError, match=r"'num_filter' = 0; expected a value >= 1"):
        mx.sym.Convolution(mx.sym.var("data"), kernel=(3, 3), num_filter=0)


# -- metrics -------------------------------------------------------------------------------------
PRED2 = mx.nd.array([[0.1, 0.9], [0.8, 0.2]])


@pytest.mark.parametrize("make, name", [
    (lambda: mx.metric.Accuracy(), "Accuracy"),
    (lambda: mx.metric.CrossEntropy(), "CrossEntropy"),
    (lambda: mx.metric.NegativeLogLikelihood(), "NegativeLogLikelihood"),
    (lambda: mx.metric.Perplexity(ignore_label=None), "Perplexity"),
    (lambda: mx.metric.F1(), "F1"),
    (lambda: mx.metric.MCC(), "MCC"),
])
@pytest.mark.parametrize("bad", [5.0, -1.0, 2.0])
def test_label_out_of_class_range_names_metric_and_label(make, name, bad):
    metric = make()
    with pytest.raises(MXNetError, match=rf"{name}: label #1 is {bad}, outside the class "
                                         rf"range \[0, 2\)") as err:
        metric.update([mx.nd.array([1, bad])], [PRED2])
    assert isinstance(err.value, IndexError)


@pytest.mark.parametrize("make, name", [
    (lambda: mx.metric.Accuracy(), "Accuracy"),
    (lambda: mx.metric.CrossEntropy(), "CrossEntropy"),
    (lambda: mx.metric.TopKAccuracy(top_k=2), "TopKAccuracy"),
    (lambda: mx.metric.Perplexity(ignore_label=-1), "Perplexity"),
    (lambda: mx.metric.PCC(), "PCC"),
])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_label_names_metric(make, name, bad):
    pred = mx.nd.array([[0.1, 0.8, 0.1], [0.6, 0.2, 0.2]])
    with pytest.raises(MXNetError, match=rf"{name}: label #0 is (nan|inf)"):
        make().update([mx.nd.array([bad, 1])], [pred])


def test_top_k_label_range():
    with pytest.raises(MXNetError, match=r"TopKAccuracy: label #0 is 3.0, outside the class "
                                         r"range \[0, 3\)"):
        mx.metric.TopKAccuracy(top_k=2).update([mx.nd.array([3, 1])],
                                               [mx.nd.array([[0.1, 0.8, 0.1], [0.6, 0.2, 0.2]])])


def test_valid_labels_still_score_and_ignore_label_is_exempt():
    acc = mx.metric.Accuracy()
    acc.update([mx.nd.array([1, 0])], [PRED2])
    assert acc.get() == ("accuracy", 1.0)
    ce = mx.metric.CrossEntropy()
    ce.update([mx.nd.array([1, 0])], [PRED2])
    assert ce.get()[1] == pytest.approx(-(np.log(0.9 + 1e-12) + np.log(0.8 + 1e-12)) / 2)
    ppl = mx.metric.Perplexity(ignore_label=-1)
    ppl.update([mx.nd.array([1, -1])], [PRED2])          # -1 is ignored, not out of range
    assert ppl.get()[1] == pytest.approx(1 / 0.9, rel=1e-6)
    # predictions given as class ids: only NaN/negative labels are refused
    acc = mx.metric.Accuracy()
    acc.update([mx.nd.array([7, 1])], [mx.nd.array([7, 2])])
    assert acc.get() == ("accuracy", 0.5)
    with pytest.raises(MXNetError, match="Perplexity: label #0 is 5.0"):
        ppl.update([mx.nd.array([5, -1])], [PRED2])     # MXNet clips 5 to the last class


def test_fit_with_out_of_range_labels_fails_naming_the_metric():
    x = np.random.RandomState(0).randn(8, 4).astype("f")
    y = np.array([0, 1, 2, 0, 1, 2, 0, 5], dtype="f")          # 3 classes, one label 5
    mod = mx.mod.Module(_mlp(3))
    with pytest.raises(MXNetError, match="Accuracy: label #3 is 5.0"):
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=4), num_epoch=1)


# -- long runs keep flat memory (item 6) ---------------------------------------------------------
def test_bucketing_switch_history_is_bounded_with_running_counts():
    from mxteach.module import bucketing_module

    def sym_gen(key):
        net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")
        return mx.sym.SoftmaxOutput(net, name="softmax"), ("data",), ("softmax_label",)
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=3)
    mod.bind([("data", (2, 3))], [("softmax_label", (2,))])
    mod.init_params()
    n = bucketing_module.SWITCH_HISTORY_LEN + 500
    for i in range(n):
        key = (4, 3)[i % 2]
        mod.switch_bucket(key, [("data", (2, 3))], [("softmax_label", (2,))])
    assert len(mod.switch_history) == bucketing_module.SWITCH_HISTORY_LEN
    assert mod.num_switches == n and mod.switch_counts == {4: n // 2, 3: n // 2}
    assert mod.bind_order == [3, 4]
    assert [h[2] for h in list(mod.switch_history)[-2:]] == [4, 3]   # the most recent ones
