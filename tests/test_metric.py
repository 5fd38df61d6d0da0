"""mx.metric against real MXNet 1.9.1: every metric, several updates, local vs global stats."""
import math
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from oracle import run_oracle

SIZES = (8, 5, 11)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _make_batches():
    rs = np.random.RandomState(1234)
    f32 = np.float32

    def classes(n, c):
        return rs.randint(0, c, n).astype(f32), _softmax(rs.randn(n, c))

    b = {}
    b["cls"] = [([lab], [pred]) for lab, pred in (classes(n, 4) for n in SIZES)]
    b["two_outputs"] = [([classes(n, 3)[0], classes(n, 5)[0]], [classes(n, 3)[1], classes(n, 5)[1]])
                        for n in SIZES]
    b["class_ids"] = [([rs.randint(0, 3, n).astype(f32)], [rs.randint(0, 3, n).astype(f32)])
                      for n in SIZES]
    b["axis0"] = [([lab], [pred.T.copy()]) for lab, pred in (classes(n, 4) for n in SIZES)]
    b["topk"] = [([lab], [pred]) for lab, pred in (classes(n, 6) for n in SIZES)]
    b["binary"] = [([lab], [pred]) for lab, pred in (classes(n, 2) for n in SIZES)]
    b["binary_col"] = [([lab[0].reshape(-1, 1)], pred) for lab, pred in b["binary"]]
    ppl = []
    for n in SIZES:
        lab, pred = classes(n, 5)
        lab[::3] = -1                                     # ignored
        # (out-of-range labels, which MXNet clips, raise in mxteach: test_robust_inputs.py)
        ppl.append(([lab], [pred]))
    b["ppl"] = ppl
    b["ppl_plain"] = [([lab], [pred]) for lab, pred in (classes(n, 5) for n in SIZES)]
    b["regression"] = [([rs.randn(n).astype(f32), rs.randn(n, 3).astype(f32)],
                        [rs.randn(n, 1).astype(f32), rs.randn(n, 3).astype(f32)]) for n in SIZES]
    pear = []
    for n in SIZES:
        lab = rs.randn(n).astype(f32)
        pear.append(([lab], [(lab + rs.randn(n) * 0.7).astype(f32)]))
    b["pearson"] = pear
    b["pcc"] = [([rs.randint(0, 2, 8).astype(f32)], [_softmax(rs.randn(8, 2))]),
                ([rs.randint(0, 4, 5).astype(f32)], [_softmax(rs.randn(5, 4))]),
                ([rs.randint(0, 4, 11).astype(f32)], [rs.randint(0, 5, 11).astype(f32)])]
    b["loss"] = [([rs.randn(n).astype(f32)], [rs.randn(n, 3).astype(f32)]) for n in SIZES]
    b["extra_outputs"] = [([lab], [pred, rs.randn(3, 2).astype(f32)])
                          for lab, pred in (classes(n, 4) for n in SIZES)]
    return b


BATCHES = _make_batches()

# (key, constructor expression, batch set)
SPECS = [
    ("acc", "mx.metric.Accuracy()", "cls"),
    ("acc_two", "mx.metric.create('acc')", "two_outputs"),
    ("acc_ids", "mx.metric.Accuracy()", "class_ids"),
    ("acc_axis0", "mx.metric.Accuracy(axis=0)", "axis0"),
    ("topk3", "mx.metric.TopKAccuracy(top_k=3)", "topk"),
    ("topk2", "mx.metric.create('top_k_acc', top_k=2)", "topk"),
    ("f1", "mx.metric.F1()", "binary"),
    ("f1_micro", "mx.metric.F1(average='micro')", "binary"),
    ("f1_col", "mx.metric.create('f1')", "binary_col"),
    ("mcc", "mx.metric.MCC()", "binary"),
    ("mcc_micro", "mx.metric.MCC(average='micro')", "binary"),
    ("ppl_none", "mx.metric.Perplexity(None)", "ppl_plain"),
    ("ppl_ignore", "mx.metric.create('perplexity', ignore_label=-1)", "ppl"),
    ("mae", "mx.metric.MAE()", "regression"),
    ("mse", "mx.metric.create('mse')", "regression"),
    ("rmse", "mx.metric.RMSE()", "regression"),
    ("ce", "mx.metric.create('ce')", "cls"),
    ("ce_eps", "mx.metric.CrossEntropy(eps=1e-3)", "cls"),
    ("nll", "mx.metric.create('nll_loss')", "cls"),
    ("pearson", "mx.metric.create('pearsonr')", "pearson"),
    ("pearson_micro", "mx.metric.PearsonCorrelation(average='micro')", "pearson"),
    ("pcc", "mx.metric.PCC()", "pcc"),
    ("loss", "mx.metric.Loss()", "loss"),
    ("torch", "mx.metric.create('torch')", "loss"),
    ("caffe", "mx.metric.Caffe()", "loss"),
    ("custom", "mx.metric.create(mean_abs)", "regression"),
    ("custom_lambda", "mx.metric.CustomMetric(lambda l, p: float((l == p.argmax(1)).sum()))",
     "cls"),
    ("custom_tuple", "mx.metric.CustomMetric(hits_and_count, name='hits')", "cls"),
    ("custom_np", "mx.metric.np(mean_abs)", "regression"),
    ("custom_extra", "mx.metric.CustomMetric(hits_and_count, allow_extra_outputs=True)",
     "extra_outputs"),
    ("composite", "mx.metric.create(['acc', 'ce', mx.metric.TopKAccuracy(2)])", "cls"),
    ("composite_nested", "mx.metric.CompositeEvalMetric([mx.metric.create(['f1', 'mcc']), "
     "'acc'])", "binary"),
]

SCENARIO = """
def mean_abs(label, pred):
    return float(np.abs(label.reshape(pred.shape) - pred).mean())

def hits_and_count(label, pred):
    return int((pred.argmax(axis=1) == label).sum()), label.size

def nd(arrays):
    return [mx.nd.array(a) for a in arrays]

def snap(m):
    return (m.get(), m.get_global(), m.get_name_value(), m.get_global_name_value(),
            float(getattr(m, 'num_inst', -1)), float(getattr(m, 'global_num_inst', -1)))

for key, expr, which in specs:
    m = eval(expr)
    rec = [m.name, snap(m)]
    for i, (labels, preds) in enumerate(batches[which]):
        m.update(nd(labels), nd(preds))
        rec.append(snap(m))
        if i == 1:
            m.reset_local()
            rec.append(snap(m))
    m.reset()
    rec.append(snap(m))
    labels, preds = batches[which][0]
    m.update(nd(labels), nd(preds))
    rec.append(snap(m))
    out[key] = rec

# update_dict: names select the outputs; composite filters before its children
labels, preds = batches['two_outputs'][0]
ld = dict(zip(['l0', 'l1'], nd(labels)))
pd = dict(zip(['p0', 'p1'], nd(preds)))
m = mx.metric.Accuracy(output_names=['p1'], label_names=['l1'])
m.update_dict(ld, pd)
out['update_dict'] = snap(m)
c = mx.metric.CompositeEvalMetric(['acc', 'ce'], output_names=['p0'], label_names=['l0'])
c.update_dict(ld, pd)
out['update_dict_composite'] = snap(c)

# names, aliases and configs
names = ['acc', 'accuracy', 'Accuracy', 'top_k_accuracy', 'top_k_acc', 'topkaccuracy', 'f1',
         'mcc', 'mae', 'mse', 'rmse', 'ce', 'crossentropy', 'nll_loss',
         'negativeloglikelihood', 'pearsonr', 'pearsoncorrelation', 'pcc', 'loss', 'torch',
         'caffe', 'composite', 'compositeevalmetric']
made = []
for n in names:
    kw = {'top_k': 4} if 'top' in n else {}
    m = mx.metric.create(n, **kw)
    made.append((n, type(m).__name__, m.name, sorted(m.get_config().items())))
out['names'] = made
out['perplexity_config'] = sorted(mx.metric.create('perplexity', ignore_label=0,
                                                   axis=1).get_config().items())
comp = mx.metric.create(['acc', 'f1', mx.metric.TopKAccuracy(3, name='tk')])
cfg = comp.get_config()
out['composite_config'] = (cfg['metric'], cfg['name'],
                           [sorted(c.items()) for c in cfg['metrics']])
again = mx.metric.create(cfg)
out['recreated'] = [type(x).__name__ + ':' + x.name for x in again.metrics]
out['from_json'] = mx.metric.create('["acc", {"axis": 0}]').axis
out['from_json_dict'] = mx.metric.create('{"metric": "mse", "name": "m2"}').name
out['custom_names'] = [mx.metric.create(mean_abs).name, mx.metric.np(mean_abs, 'x').name,
                       mx.metric.CustomMetric(lambda a, b: 0).name]
out['str'] = str(mx.metric.Accuracy())
"""


def _run_local():
    env = {"mx": mx, "np": np, "out": {}, "specs": SPECS, "batches": BATCHES}
    exec(SCENARIO, env)
    return env["out"]


@pytest.fixture(scope="module")
def both():
    return _run_local(), run_oracle(SCENARIO, specs=SPECS, batches=BATCHES)


def assert_close(a, b, path):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)), f"{path}: {a!r} {b!r}"
        if math.isnan(b):
            assert math.isnan(a), f"{path}: {a} vs MXNet nan"
        else:
            assert a == pytest.approx(b, rel=2e-5, abs=1e-6), f"{path}: {a} vs MXNet {b}"
    else:
        assert a == b, f"{path}: {a!r} vs MXNet {b!r}"


@pytest.mark.oracle
@pytest.mark.parametrize("key", [s[0] for s in SPECS])
def test_metric_matches_mxnet(both, key):
    ours, theirs = both
    assert_close(ours[key], theirs[key], key)
    # 1 name + initial + 3 updates + after reset_local + after reset + one more update
    assert len(ours[key]) == 8


@pytest.mark.oracle
@pytest.mark.parametrize("key", ["update_dict", "update_dict_composite", "names",
                                 "perplexity_config", "composite_config", "recreated",
                                 "from_json", "from_json_dict", "custom_names", "str"])
def test_creation_and_config_match_mxnet(both, key):
    ours, theirs = both
    assert_close(ours[key], theirs[key], key)


@pytest.mark.oracle
def test_regression_metrics_average_per_pair_not_per_example(both):
    # MXNet's MAE is the mean of per-(label, pred) batch means, not the overall mean
    ours, _ = both
    lab, pred = BATCHES["regression"][0]
    expected = (np.abs(lab[0][:, None] - pred[0]).mean() + np.abs(lab[1] - pred[1]).mean()) / 2
    name, value = ours["mae"][2][0]
    assert name == "mae" and value == pytest.approx(expected, rel=1e-6)


def test_local_and_global_statistics():
    acc = mx.metric.Accuracy()
    acc.update([mx.nd.array([0, 1, 1])], [mx.nd.array([[0.3, 0.7], [0, 1.0], [0.4, 0.6]])])
    assert acc.get() == ("accuracy", pytest.approx(2 / 3))
    acc.reset_local()
    assert math.isnan(acc.get()[1]) and acc.get_global()[1] == pytest.approx(2 / 3)
    acc.update([np.array([1, 1])], [np.array([[0.0, 1.0], [1.0, 0.0]])])  # numpy works too
    assert (acc.num_inst, acc.sum_metric) == (2, 1.0)
    assert (acc.global_num_inst, acc.global_sum_metric) == (5, 3.0)
    assert acc.get_global_name_value() == [("accuracy", 0.6)]
    acc.reset()
    assert acc.global_num_inst == 0 and math.isnan(acc.get_global()[1])


def test_user_subclass_without_global_stats_falls_back_to_local():
    class Count(mx.metric.EvalMetric):
        def __init__(self):
            super().__init__("count")

        def update(self, labels, preds):
            self.sum_metric += len(labels[0])
            self.num_inst += 1

    m = Count()
    m.update([np.zeros(4)], [np.zeros(4)])
    m.update([np.zeros(2)], [np.zeros(2)])
    assert m.get() == ("count", 3.0) and m.get_global() == ("count", 3.0)
    assert m.get_global_name_value() == [("count", 3.0)]
    with pytest.raises(MXNetError, match="must implement"):
        mx.metric.EvalMetric("base").update([], [])


def test_register_and_alias():
    @mx.metric.register
    @mx.metric.alias("twice_acc")
    class TwiceAccuracy(mx.metric.Accuracy):
        def get(self):
            name, value = super().get()
            return name, 2 * value

    m = mx.metric.create("twice_acc")
    m.update([mx.nd.array([1, 0])], [mx.nd.array([1, 1])])
    assert isinstance(mx.metric.create("TwiceAccuracy"), TwiceAccuracy)
    assert m.get() == ("accuracy", 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mx.metric.register(mx.metric.MSE, "twice_acc")
    assert "replaces" in str(caught[0].message)
    assert isinstance(mx.metric.create("twice_acc"), mx.metric.MSE)


def test_errors_name_the_problem():
    with pytest.raises(MXNetError, match="'accu' is not registered.*Did you mean 'acc"):
        mx.metric.create("accu")
    with pytest.raises(ValueError, match="does not match"):
        mx.metric.Accuracy().update([mx.nd.zeros(3)], [mx.nd.zeros(3), mx.nd.zeros(3)])
    with pytest.raises(ValueError, match="only supports binary"):
        mx.metric.F1().update([mx.nd.array([0, 1, 2])], [mx.nd.zeros((3, 2))])
    with pytest.raises(AssertionError, match="top_k > 1"):
        mx.metric.TopKAccuracy(1)
    with pytest.raises(ValueError, match="at least 4 classes"):
        mx.metric.TopKAccuracy(4).update([mx.nd.zeros(2)], [mx.nd.zeros((2, 3))])
    with pytest.raises(ValueError, match="already a metric instance"):
        mx.metric.create(mx.metric.MSE(), name="x")
    with pytest.raises(MXNetError, match="cannot be turned into a config"):
        mx.metric.create(lambda a, b: 0.0).get_config()
    with pytest.raises(ValueError, match="out of range 0 and 2"):
        mx.metric.create(["acc", "mse"]).get_metric(2)
    with pytest.raises(MXNetError, match=r"\['out'\] not found.*Did you mean 'outp'"):
        mx.metric.Accuracy(output_names=["out"]).update_dict({"l": mx.nd.zeros(1)},
                                                             {"outp": mx.nd.zeros(1)})
    with pytest.raises(ValueError, match="shape mismatch"):
        mx.metric.Perplexity(None).update([mx.nd.zeros((2, 3))], [mx.nd.ones((2, 4))])
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        mx.metric.create("perplexity")
