"""Exercise checks of notebook 05 (training I: fit, metrics, optimizers, initializers).

* 05.1 — predict Accuracy and CrossEntropy of four predictions;
* 05.2 — diagnose a training run from its per-epoch metrics (too-high learning rate,
  overfitting, healthy), checked on three real runs on the synthetic digits;
* 05.3 — build one SGD step with momentum, weight decay and ``rescale_grad``;
* 05.4 — build Xavier's bound for a weight shape.

The truth is always computed: by ``mx.metric``, by training, by ``mx.optimizer.SGD`` and by
sampling ``mx.init.Xavier``. See notebook 05.
"""
from __future__ import annotations

import functools

import numpy as np

from .checking import Wrong, close, exercise
from .nb04 import answered, keeps_random_state, unfilled

__all__ = ["METRIC_LABELS", "METRIC_PREDS", "check_metrics", "check_diagnosis",
           "check_sgd_step", "check_xavier_bound", "digits", "digits_run"]

#: labels and predicted probabilities of exercise 05.1
METRIC_LABELS = [2, 0, 1, 1]
METRIC_PREDS = [[0.1, 0.2, 0.7],
                [0.5, 0.4, 0.1],
                [0.6, 0.3, 0.1],
                [0.2, 0.2, 0.6]]


@exercise("05.1", "predict accuracy and cross-entropy")
def check_metrics(answer):
    """``answer = (accuracy, cross_entropy)`` for ``METRIC_LABELS`` / ``METRIC_PREDS``."""
    from .. import metric, nd
    if unfilled(answer):
        raise Wrong("not answered yet: replace each `...` with your prediction")
    try:
        acc_got, ce_got = (float(v) for v in answer)
    except (TypeError, ValueError):
        raise Wrong(f"expected two numbers (accuracy, cross_entropy), got {answer!r}") from None
    labels, preds = [nd.array(METRIC_LABELS)], [nd.array(METRIC_PREDS)]
    acc, ce = metric.Accuracy(), metric.CrossEntropy()
    acc.update(labels, preds)
    ce.update(labels, preds)
    acc_want, ce_want = acc.get()[1], ce.get()[1]
    if abs(acc_got - acc_want) > 1e-3:
        raise Wrong(f"accuracy {acc_got:.4g} is off: count the rows whose argmax equals the "
                    f"label, over {len(METRIC_LABELS)} rows")
    if abs(ce_got - ce_want) > 1e-3:
        p = np.asarray(METRIC_PREDS)
        if abs(ce_got - float(-np.log(p.max(axis=1)).mean())) < 1e-3:
            raise Wrong("your cross-entropy uses each row's largest probability; it takes the "
                        "probability given to the label, right or wrong, so a confident mistake "
                        "costs a lot")
        raise Wrong(f"cross-entropy {ce_got:.4g} is off: the mean over rows of -log(p[label]) "
                    "(natural log)")
    return f"accuracy {acc_want:.4g}, cross-entropy {ce_want:.4f}"


@functools.lru_cache(maxsize=2)
def digits(n=1500, seed=0):
    """The synthetic digits flattened to ``(n, 784)`` floats in [0, 1], and float labels."""
    from ..datasets import synthetic_digits
    images, labels = synthetic_digits(n, seed=seed)
    return (images.reshape(n, -1) / 255.0).astype("float32"), labels.astype("float32")


def _mlp(hidden):
    from .. import sym
    data = sym.Variable("data")
    h = sym.Activation(sym.FullyConnected(data, num_hidden=hidden, name="fc1"),
                       act_type="relu", name="relu1")
    return sym.SoftmaxOutput(sym.FullyConnected(h, num_hidden=10, name="fc2"), name="softmax")


@functools.lru_cache(maxsize=4)
def digits_run(learning_rate, n_train, num_epoch, hidden=64):
    """Train an MLP on the first ``n_train`` digits, validate on 300 others; return the
    per-epoch metrics as LiveMetrics keeps them: ``[{epoch, train: {...}, eval: {...}}]``."""
    from .. import init, io, random
    from ..module import Module
    X, y = digits()
    epochs = {}
    random.seed(1)
    np.random.seed(1)
    mod = Module(_mlp(hidden))
    mod.events.subscribe(
        lambda e: epochs.setdefault(e["epoch"], {"epoch": e["epoch"]}).__setitem__(
            "train" if e.kind == "epoch_end" else "eval", dict(e["metrics"])),
        kinds=["epoch_end", "eval_end"])
    mod.fit(io.NDArrayIter(X[:n_train], y[:n_train], batch_size=50, shuffle=True),
            eval_data=io.NDArrayIter(X[1200:], y[1200:], batch_size=50),
            eval_metric=["acc", "ce"], num_epoch=num_epoch, initializer=init.Xavier(),
            optimizer="sgd", optimizer_params={"learning_rate": learning_rate, "momentum": 0.9})
    return tuple(epochs[k] for k in sorted(epochs))


#: the three runs of 05.2: (learning_rate, n_train, num_epoch, hidden) -> what went wrong
DIAGNOSIS_RUNS = {(0.1, 1200, 5, 64): "healthy",
                  (3.0, 1200, 5, 64): "lr too high",
                  (0.1, 100, 20, 256): "overfitting"}


@exercise("05.2", "diagnose a run from its curves")
@keeps_random_state
def check_diagnosis(diagnose):
    """``diagnose(epochs)`` -> ``'lr too high'``, ``'overfitting'`` or ``'healthy'``."""
    for setup, want in DIAGNOSIS_RUNS.items():
        epochs = [dict(e) for e in digits_run(*setup)]
        got = answered(diagnose, epochs, what="diagnose")
        if not isinstance(got, str) or got not in ("lr too high", "overfitting", "healthy"):
            raise Wrong(f"diagnose must return 'lr too high', 'overfitting' or 'healthy'; "
                        f"got {got!r}")
        if got != want:
            last = epochs[-1]
            raise Wrong(f"the run with learning_rate={setup[0]} on {setup[1]} examples for "
                        f"{setup[2]} epochs is {want!r}, you said {got!r}. Its last epoch: train "
                        f"accuracy {last['train']['accuracy']:.3f}, validation accuracy "
                        f"{last['eval']['accuracy']:.3f}. Hint: a too-high rate never gets "
                        "training accuracy far above chance (0.1 for ten digits); overfitting "
                        "is a large gap between train and validation accuracy")
    return "all three runs diagnosed as their curves show"


def _reference_sgd(w, g, m, lr, momentum, wd, rescale_grad):
    from .. import nd, optimizer
    opt = optimizer.SGD(learning_rate=lr, momentum=momentum, wd=wd, rescale_grad=rescale_grad)
    weight, state = nd.array(w), nd.array(m)
    opt.update(0, weight, nd.array(g), state)
    return weight.asnumpy(), state.asnumpy()


@exercise("05.3", "one SGD step with momentum")
def check_sgd_step(sgd_step):
    """``sgd_step(w, g, m, lr, momentum, wd, rescale_grad)`` -> ``(new_w, new_m)`` (numpy)."""
    rng = np.random.RandomState(5)
    cases = [(0.1, 0.9, 0.0, 1.0), (0.1, 0.0, 0.0, 0.25), (0.05, 0.9, 0.01, 1 / 16),
             (0.5, 0.5, 0.1, 0.5)]
    for lr, momentum, wd, rescale in cases:
        w, g, m = (rng.randn(3, 4).astype("float32") for _ in range(3))
        want_w, want_m = _reference_sgd(w, g, m, lr, momentum, wd, rescale)
        out = answered(sgd_step, w.copy(), g.copy(), m.copy(), lr, momentum, wd, rescale,
                       what="sgd_step")
        try:
            got_w, got_m = out
        except (TypeError, ValueError):
            raise Wrong(f"sgd_step must return two arrays (new_w, new_m); got {out!r}") from None
        setting = f"(lr={lr}, momentum={momentum}, wd={wd}, rescale_grad={rescale})"
        no_wd = _reference_sgd(w, g, m, lr, momentum, 0.0, rescale)
        if wd and np.allclose(got_w, no_wd[0], atol=1e-5):
            raise Wrong(f"{setting}: your step ignores the weight decay: the gradient used is "
                        "rescale_grad * g + wd * w")
        unscaled = _reference_sgd(w, g, m, lr, momentum, wd, 1.0)
        if rescale != 1.0 and np.allclose(got_w, unscaled[0], atol=1e-5):
            raise Wrong(f"{setting}: your step ignores rescale_grad: multiply the gradient by it "
                        "first (Module sets it to 1/batch_size)")
        close(got_m, want_m, f"new_m {setting}")
        close(got_w, want_w, f"new_w {setting}")
    return "your step equals mx.optimizer.SGD's update in all four settings"


def _xavier_largest(shape, draws=20000):
    """The largest |value| default Xavier drew for ``shape`` over at least ``draws`` values
    (several seeded initializations: enough that the largest is within 1 % of the bound)."""
    from .. import init, nd, random
    size = int(np.prod(shape))
    largest = 0.0
    for seed in range(-(-draws // size)):
        random.seed(seed)
        arr = nd.zeros(shape)
        init.Xavier()(init.InitDesc("w_weight"), arr)
        largest = max(largest, float(np.abs(arr.asnumpy()).max()))
    return largest


@exercise("05.4", "Xavier's bound")
@keeps_random_state
def check_xavier_bound(bound):
    """``bound(shape)``: the largest value default ``mx.init.Xavier()`` can draw."""
    hint = ("Hint: fan_in = shape[1] times the kernel's positions, fan_out = shape[0] times the "
            "same; the default bound is sqrt(3 / ((fan_in + fan_out) / 2))")
    for shape in [(64, 784), (10, 64), (8, 1, 3, 3), (16, 8, 5, 5)]:
        got = answered(bound, shape, what="bound")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"bound({shape}) must be a number, got {got!r}") from None
        drawn = _xavier_largest(shape)
        if drawn > got * (1 + 1e-5):
            raise Wrong(f"bound({shape}) = {got:.5g} is too small: Xavier drew {drawn:.5g} "
                        f"for that shape. {hint}")
        if drawn < got * 0.99:
            raise Wrong(f"bound({shape}) = {got:.5g} is too large: in 20000 draws Xavier's "
                        f"largest was {drawn:.5g}. {hint}")
    return "your bound matches what Xavier draws for dense and convolution weights"
