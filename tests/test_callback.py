"""mx.callback: log lines compared with real MXNet 1.9.1 under a fake clock; checkpoints."""
import logging
import sys
import types

import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

# Runs in both MXNet and mxteach. time.time is replaced by a clock that advances 0.25 s per
# call (so speeds depend on calling the clock exactly as MXNet does); log records are collected
# from the root logger.
SCENARIO = """
import logging, time
BEP = getattr(mx.callback, 'BatchEndParam', None) or mx.model.BatchEndParam
records = []
class Grab(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
handler = Grab()
root = logging.getLogger()
old_level = root.level
root.addHandler(handler)
root.setLevel(logging.INFO)
ticks = [100.0]
def clock():
    ticks[0] += 0.25
    return ticks[0]
real_time = time.time
time.time = clock
try:
    def drive(callback, metric, epochs=2, batches=7, labels=labels, preds=preds):
        for epoch in range(epochs):
            for nbatch in range(batches):
                if metric is not None:
                    k = (epoch * batches + nbatch) % len(labels)
                    metric.update([mx.nd.array(labels[k])], [mx.nd.array(preds[k])])
                callback(BEP(epoch=epoch, nbatch=nbatch, eval_metric=metric, locals=None))
            if metric is not None:
                metric.reset()
        out[name] = list(records)
        del records[:]

    name = 'speed_reset'; drive(mx.callback.Speedometer(16, frequent=2), mx.metric.Accuracy())
    name = 'speed_keep'
    drive(mx.callback.Speedometer(16, 3, auto_reset=False), mx.metric.create(['acc', 'ce']))
    name = 'speed_nometric'; drive(mx.callback.Speedometer(8, 2), None)
    name = 'progress'; drive(mx.callback.ProgressBar(total=7, length=12), None, epochs=1)
    name = 'train_metric'; drive(mx.callback.log_train_metric(3), mx.metric.Accuracy())
    name = 'train_metric_reset'
    drive(mx.callback.log_train_metric(2, auto_reset=True), mx.metric.create('mse'))
    name = 'validation'
    drive(mx.callback.LogValidationMetricsCallback(), mx.metric.create(['acc', 'f1']), 1, 2)
    name = 'validation_none'; drive(mx.callback.LogValidationMetricsCallback(), None, 1, 2)
finally:
    time.time = real_time
    root.removeHandler(handler)
    root.setLevel(old_level)
"""


def _inputs():
    rs = np.random.RandomState(5)
    labels = [rs.randint(0, 2, 6).astype(np.float32) for _ in range(5)]
    preds = []
    for _ in range(5):
        p = rs.rand(6, 2).astype(np.float32)
        preds.append(p / p.sum(axis=1, keepdims=True))
    return {"labels": labels, "preds": preds}


@pytest.fixture(scope="module")
def both():
    env = {"mx": mx, "np": np, "out": {}, **_inputs()}
    exec(SCENARIO, env)
    return env["out"], run_oracle(SCENARIO, **_inputs())


@pytest.mark.oracle
@pytest.mark.parametrize("key", ["speed_reset", "speed_keep", "speed_nometric", "progress",
                                 "train_metric", "train_metric_reset", "validation",
                                 "validation_none"])
def test_log_lines_match_mxnet(both, key):
    ours, theirs = both
    assert ours[key] == theirs[key]
    if key != "validation_none":
        assert ours[key], "the scenario should log something"


@pytest.mark.oracle
def test_speedometer_line_format(both):
    ours, _ = both
    # 2 batches of 16 between logs, and the clock read once at batch 0 and once at batch 2
    # (0.25 s apart): 32 / 0.25 = 128 samples/sec; accuracy over batches 0-2 (18 examples)
    assert ours["speed_reset"][0] == "Epoch[0] Batch [0-2]\tSpeed: 128.00 samples/sec\t" \
                                     "accuracy=0.388889"
    assert ours["speed_keep"][0].startswith("Epoch[0] Batch [0-3]\tSpeed: ")
    assert ours["progress"][-1] == "[==========--] 86%\r"


class _Metric:
    def __init__(self):
        self.resets = 0

    def get_name_value(self):
        return [("accuracy", 0.5), ("ce", 1.25)]

    def reset_local(self):
        self.resets += 1


def test_speedometer_restarts_each_epoch_and_resets_metric(caplog, monkeypatch):
    clock = iter(np.arange(0.0, 100.0, 1.0))
    monkeypatch.setattr(mx.callback.time, "time", lambda: float(next(clock)))
    metric = _Metric()
    speedo = mx.callback.Speedometer(batch_size=10, frequent=2)
    with caplog.at_level(logging.INFO):
        for epoch in range(2):
            for nbatch in range(5):
                speedo(mx.callback.BatchEndParam(epoch, nbatch, metric, None))
    lines = [r.getMessage() for r in caplog.records]
    # per epoch: batch 0 starts the clock; batches 2 and 4 log (2 batches x 10 in 1 s)
    assert lines == ["Epoch[0] Batch [0-2]\tSpeed: 20.00 samples/sec\taccuracy=0.500000"
                     "\tce=1.250000",
                     "Epoch[0] Batch [2-4]\tSpeed: 20.00 samples/sec\taccuracy=0.500000"
                     "\tce=1.250000",
                     "Epoch[1] Batch [0-2]\tSpeed: 20.00 samples/sec\taccuracy=0.500000"
                     "\tce=1.250000",
                     "Epoch[1] Batch [2-4]\tSpeed: 20.00 samples/sec\taccuracy=0.500000"
                     "\tce=1.250000"]
    assert metric.resets == 4
    assert all(r.name == "root" and r.levelno == logging.INFO for r in caplog.records)


def test_batch_end_param_is_mxnets_namedtuple():
    p = mx.callback.BatchEndParam(epoch=3, nbatch=7, eval_metric=None, locals={"a": 1})
    assert type(p).__name__ == "BatchEndParams"
    assert p._fields == ("epoch", "nbatch", "eval_metric", "locals")
    assert tuple(p) == (3, 7, None, {"a": 1})


def test_module_checkpoint_calls_save_checkpoint_every_period():
    class FakeModule:
        def __init__(self):
            self.calls = []

        def save_checkpoint(self, prefix, epoch, save_optimizer_states=False):
            self.calls.append((prefix, epoch, save_optimizer_states))

    mod = FakeModule()
    cb = mx.callback.module_checkpoint(mod, "run/net", period=2, save_optimizer_states=True)
    for epoch in range(5):
        cb(epoch)
    assert mod.calls == [("run/net", 2, True), ("run/net", 4, True)]
    every = mx.callback.module_checkpoint(mod, "p", period=0)  # below 1 means every epoch
    every(0, None, {}, {})
    assert mod.calls[-1] == ("p", 1, False)


def test_do_checkpoint_calls_model_save_checkpoint_lazily(monkeypatch):
    calls = []
    fake = types.ModuleType("mxteach.model")
    fake.save_checkpoint = lambda prefix, epoch, sym, arg, aux: calls.append(
        (prefix, epoch, sym, sorted(arg), sorted(aux)))
    monkeypatch.setitem(sys.modules, "mxteach.model", fake)
    monkeypatch.setattr(mx, "model", fake, raising=False)
    cb = mx.callback.do_checkpoint("ckpt/mlp", period=3)
    for epoch in range(7):
        cb(epoch, "SYM", {"fc_weight": 1, "fc_bias": 2}, {"bn_moving_mean": 3})
    assert calls == [("ckpt/mlp", 3, "SYM", ["fc_bias", "fc_weight"], ["bn_moving_mean"]),
                     ("ckpt/mlp", 6, "SYM", ["fc_bias", "fc_weight"], ["bn_moving_mean"])]


def test_log_train_metric_and_validation_with_fakes(caplog):
    metric = _Metric()
    cb = mx.callback.log_train_metric(period=2, auto_reset=True)
    with caplog.at_level(logging.INFO):
        for nbatch in range(4):
            cb(mx.callback.BatchEndParam(1, nbatch, metric, None))
        cb(mx.callback.BatchEndParam(1, 4, None, None))  # no metric: nothing to log
        mx.callback.LogValidationMetricsCallback()(
            mx.callback.BatchEndParam(2, 0, metric, None))
    assert [r.getMessage() for r in caplog.records] == [
        "Iter[1] Batch[0] Train-accuracy=0.500000", "Iter[1] Batch[0] Train-ce=1.250000",
        "Iter[1] Batch[2] Train-accuracy=0.500000", "Iter[1] Batch[2] Train-ce=1.250000",
        "Epoch[2] Validation-accuracy=0.500000", "Epoch[2] Validation-ce=1.250000"]
    assert metric.resets == 2


def test_progress_bar(caplog):
    bar = mx.callback.ProgressBar(total=3, length=6)
    with caplog.at_level(logging.INFO):
        for nbatch in range(4):
            bar(mx.callback.BatchEndParam(0, nbatch, None, None))
    assert [r.getMessage() for r in caplog.records] == [
        "[------] 0%\r", "[==----] 34%\r", "[====--] 67%\r", "[======] 100%\r"]


def test_do_checkpoint_writes_mxnet_checkpoint_files(tmp_path):
    # with the real mx.model: the files load back with the saved values
    net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    weight = np.arange(12, dtype=np.float32).reshape(3, 4)
    arg = {"fc_weight": mx.nd.array(weight), "fc_bias": mx.nd.array([1.0, 2.0, 3.0])}
    cb = mx.callback.do_checkpoint(str(tmp_path / "net"), period=2)
    for epoch in range(4):
        cb(epoch, net, arg, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "net-0002.params", "net-0004.params", "net-symbol.json"]
    sym, args, aux = mx.model.load_checkpoint(str(tmp_path / "net"), 4)
    assert sym.list_arguments() == ["data", "fc_weight", "fc_bias"] and aux == {}
    np.testing.assert_array_equal(args["fc_weight"].asnumpy(), weight)
    np.testing.assert_array_equal(args["fc_bias"].asnumpy(), [1, 2, 3])
