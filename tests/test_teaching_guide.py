"""docs/teaching.md quotes the errors students meet: each quoted message must be what mxteach
says today. Every case below makes the mistake and checks that its message, word for word, is
in the guide (so a changed message fails here until the guide is updated)."""
from __future__ import annotations

import pathlib
import re
import warnings

import numpy as np
import pytest

import mxteach as mx

GUIDE = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "teaching.md") \
    .read_text(encoding="utf-8")


def mlp():
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, num_hidden=16, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="relu1")
    h = mx.sym.FullyConnected(h, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(h, name="softmax")


X = np.random.RandomState(0).randn(8, 5).astype("float32")
Y = np.array([0, 1, 2, 1, 0, 2, 2, 1], "float32")
SHAPES = ([("data", (4, 5))], [("softmax_label", (4,))])


def batch(features=5):
    return mx.io.DataBatch([mx.nd.array(np.zeros((4, features)))], [mx.nd.array(Y[:4])])


def bound(**kw):
    mod = mx.mod.Module(mlp(), **kw)
    mod.bind(*SHAPES)
    return mod


def _forward_before_bind():
    mx.mod.Module(mlp()).forward(batch())


def _forward_before_init():
    bound().forward(batch())


def _update_before_optimizer():
    mod = bound()
    mod.init_params()
    mod.forward(batch(), is_train=True)
    mod.backward()
    mod.update()


def _plus():
    with mx.name.NameManager():     # the quoted node name is _plus0 whatever ran before
        a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
        (a + b).infer_shape(a=(2, 3), b=(3, 2))


def _wrong_features():
    mod = bound()
    mod.init_params()
    mod.forward(batch(6))


def _label_name():
    mod = mx.mod.Module(mlp())
    mod.bind([("data", (4, 5))], [("label", (4,))])


def _too_small_batch():
    mod = mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1), mx.cpu(2)])
    mod.bind([("data", (2, 5))], [("softmax_label", (2,))])


def _missing_param():
    mod = bound()
    mod.init_params()
    args, aux = mod.get_params()
    args = dict(args)
    args.pop("fc2_bias")
    bound().set_params(args, aux)


def _two_devices():
    mx.nd.ones((2, 3), ctx=mx.cpu(0)) + mx.nd.ones((2, 3), ctx=mx.cpu(1))


def _lone_bucket_parameter():
    def sym_gen(key):
        net = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
        return mx.sym.SoftmaxOutput(net, name="softmax"), ("data",), ("softmax_label",)
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=5)
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod.init_params()
    mod.switch_bucket(10, [("data", (4, 10))], [("softmax_label", (4,))])


def _chain_names():
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=8, name="a"),
                          label_names=None))
    seq.add(mx.mod.Module(mlp()), take_labels=True)
    seq.bind(*SHAPES)


def _metric_name():
    mx.mod.Module(mlp()).fit(mx.io.NDArrayIter(X, Y, batch_size=4), num_epoch=1,
                             eval_metric="accuracyy")


CASES = {
    "forward before bind": (_forward_before_bind, mx.base.NotBoundError),
    "forward before init_params": (_forward_before_init, mx.base.NotBoundError),
    "update before init_optimizer": (_update_before_optimizer, mx.base.NotBoundError),
    "symbols of different shapes": (_plus, mx.base.ShapeError),
    "wrong number of features": (_wrong_features, mx.base.ShapeError),
    "label name": (_label_name, KeyError),
    "batch smaller than devices": (_too_small_batch, ValueError),
    "set_params missing one": (_missing_param, mx.base.MXNetError),
    "two devices": (_two_devices, mx.base.MXNetError),
    "parameter only one bucket has": (_lone_bucket_parameter, mx.base.ShapeError),
    "chain names": (_chain_names, mx.base.ShapeError),
    "misspelt metric": (_metric_name, AssertionError),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_guide_quotes_the_message_students_see(case):
    fn, kind = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(kind) as info:
            fn()
    assert isinstance(info.value, mx.base.MXNetError), \
        f"{case}: {type(info.value).__name__} is not an MXNetError"
    message = str(info.value).strip("'\"")
    assert _quoted(message), f"{case}: docs/teaching.md does not quote what mxteach says:\n{message}"


def _quoted(message):
    """The message is in the guide whole, or as a quote ``Class: start …`` whose start (40+
    characters, before an ellipsis the guide put in) begins the message."""
    if message in GUIDE:
        return True
    for quote in re.findall(r"`([^`\n]+)`", GUIDE):
        text = quote.split(": ", 1)[-1]
        start = re.split(r" ?(?:…|\[\.\.\.\])", text)[0]
        if len(start) >= 40 and message.startswith(start):
            return True
    return False


def test_the_nan_warning_is_quoted():
    mod = mx.mod.Module(mlp())
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        mod.fit(mx.io.NDArrayIter(X * 1e3, Y, batch_size=4), num_epoch=3,
                optimizer_params={"learning_rate": 1e3})
    texts = [str(w.message) for w in seen if type(w.message).__name__ == "NonFiniteWarning"]
    assert texts, "fit gave no NonFiniteWarning for a learning rate of 1000"
    assert texts[0] in GUIDE, f"docs/teaching.md does not quote:\n{texts[0]}"
