"""NaN/inf during fit is reported once, by name; invalid optimizer hyper-parameters are refused
(issue 9, item 2)."""
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.module import health

RS = np.random.RandomState(0)
X = RS.randn(64, 4).astype("f")
Y = (X[:, 0] > 0).astype("f")


def _net():
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=8, name="fc1")
    net = mx.sym.Activation(net, act_type="relu", name="relu1")
    net = mx.sym.FullyConnected(net, num_hidden=2, name="fc2")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def _fit(x, y=Y, num_epoch=2, lr=0.1, **kw):
    mod = mx.mod.Module(_net())
    events = []
    mod.events.subscribe(events.append, kinds=["nonfinite"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod.fit(mx.io.NDArrayIter(x, y, batch_size=8), num_epoch=num_epoch,
                optimizer_params={"learning_rate": lr}, **kw)
    found = [w for w in caught if issubclass(w.category, health.NonFiniteWarning)]
    return mod, found, events


def test_exploding_learning_rate_names_first_parameter_epoch_and_batch():
    mod, found, events = _fit(X * 1e3, lr=1e6)
    assert len(found) == 1 and len(events) == 1                      # once per fit
    ev = events[0]
    assert (ev["name"], ev["where"], ev["epoch"]) == ("fc1_weight", "parameter", 0)
    assert 0 <= ev["nbatch"] < 8
    msg = str(found[0].message)
    assert f"parameter 'fc1_weight' at epoch 0, batch {ev['nbatch']}" in msg
    assert "learning rate" in msg
    args, _ = mod.get_params()
    assert not np.isfinite(args["fc1_weight"].asnumpy()).all()       # the report is true


def test_nan_input_is_named_with_its_batch():
    x = X.copy()
    x[20, 1] = np.nan                                                   # batch 2 (rows 16-23)
    _, found, events = _fit(x, num_epoch=1)
    assert len(found) == 1
    assert (events[0]["name"], events[0]["where"], events[0]["epoch"],
            events[0]["nbatch"]) == ("data", "input", 0, 2)
    assert "input 'data' at epoch 0, batch 2" in str(found[0].message)


def test_nan_label_for_regression_is_named():
    net = mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(mx.sym.var("data"),
                                                              num_hidden=1, name="fc"),
                                        name="lro")
    y = X[:, :1].sum(axis=1).copy()
    y[42] = np.inf                                                      # batch 5
    mod = mx.mod.Module(net, label_names=["lro_label"])
    events = []
    mod.events.subscribe(events.append, kinds=["nonfinite"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod.fit(mx.io.NDArrayIter(X, y, batch_size=8, label_name="lro_label"), num_epoch=1,
                eval_metric="mse")
    assert [(e["name"], e["where"], e["nbatch"]) for e in events] == [("lro_label", "label", 5)]
    assert sum(issubclass(w.category, health.NonFiniteWarning) for w in caught) == 1


def test_nan_in_last_update_is_caught_at_epoch_end():
    mod = mx.mod.Module(_net())
    it = mx.io.NDArrayIter(X, Y, batch_size=8)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params()
    watch = health.NonFiniteWatch(mod)
    args, auxs = mod.get_params()
    args["fc2_bias"]._data[1] = np.inf
    with pytest.warns(health.NonFiniteWarning, match="parameter 'fc2_bias' at epoch 3, "
                                                     "batch 7"):
        watch.after_epoch(3, 7, args, auxs)
    assert watch.report["where"] == "parameter"


def test_healthy_fit_is_silent_and_check_can_be_switched_off(monkeypatch):
    _, found, events = _fit(X)
    assert found == [] and events == []
    monkeypatch.setattr(health, "CHECK_NONFINITE", False)
    _, found, events = _fit(X * 1e3, lr=1e6)
    assert found == [] and events == []


def test_bucketing_fit_reports_too():
    def sym_gen(key):
        return _net(), ("data",), ("softmax_label",)
    mx.random.seed(0)
    np.random.seed(0)                # the blow-up must not depend on earlier draws
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=4)
    events = []
    mod.events.subscribe(events.append, kinds=["nonfinite"])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        mod.fit(mx.io.NDArrayIter(X * 1e3, Y, batch_size=8), num_epoch=1,
                optimizer_params={"learning_rate": 1e6})
    assert len(events) == 1 and events[0]["where"] == "parameter"


# -- optimizer hyper-parameters ------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, bad", [
    ({"learning_rate": float("nan")}, "lr is nan"),
    ({"learning_rate": float("inf")}, "lr is inf"),
    ({"learning_rate": -0.1}, "lr is -0.1; it must be >= 0"),
    ({"wd": float("nan")}, "wd is nan"),
    ({"rescale_grad": float("inf")}, "rescale_grad is inf"),
    ({"momentum": float("nan")}, "momentum is nan"),
    ({"clip_gradient": float("nan")}, "clip_gradient is nan"),
    ({"learning_rate": "0.1"}, "lr must be a real number"),
])
def test_invalid_hyper_parameters_rejected_at_construction(kwargs, bad):
    with pytest.raises(MXNetError, match=bad) as err:
        mx.optimizer.create("sgd", **kwargs)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("name, kwargs, bad", [
    ("adam", {"beta1": float("nan")}, "beta1 is nan"),
    ("adam", {"epsilon": -1e-8}, "epsilon is -1e-08"),
    ("rmsprop", {"gamma1": float("inf")}, "gamma1 is inf"),
])
def test_adaptive_optimizers_too(name, kwargs, bad):
    with pytest.raises(MXNetError, match=bad):
        mx.optimizer.create(name, **kwargs)


def test_lr_nan_refused_at_init_optimizer_and_module_untouched():
    mod = mx.mod.Module(_net())
    it = mx.io.NDArrayIter(X, Y, batch_size=8)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params()
    with pytest.raises(MXNetError, match="lr is nan"):
        mod.init_optimizer(optimizer_params={"learning_rate": float("nan")})
    assert not mod.optimizer_initialized
    opt = mx.optimizer.SGD(learning_rate=0.1)
    opt.lr = float("nan")                      # changed after construction: caught at install
    with pytest.raises(MXNetError, match="init_optimizer: SGD.lr is nan"):
        mod.init_optimizer(optimizer=opt)
    assert not mod.optimizer_initialized
    with pytest.raises(MXNetError, match="lr is nan"):
        mod.fit(it, num_epoch=1, optimizer_params={"learning_rate": float("nan")})


def test_set_learning_rate_and_scheduler_checked():
    opt = mx.optimizer.SGD(learning_rate=0.1)
    with pytest.raises(MXNetError, match="finite number >= 0, got nan"):
        opt.set_learning_rate(float("nan"))
    assert opt.lr == 0.1
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=float("nan"))
    with pytest.raises(MXNetError, match="base_lr is nan"):
        mx.optimizer.SGD(learning_rate=None, lr_scheduler=sched)
