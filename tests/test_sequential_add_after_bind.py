"""SequentialModule.add after bind: allowed, the chain goes back to unbound (as MXNet 1.9.1)."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import NotBoundError
from oracle import run_oracle

# One scenario, written once, run by mxteach here and by MXNet 1.9.1 in the oracle.
SCENARIO = """
def layer(name, hidden):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=hidden, name="fc" + name)
    return mx.sym.Activation(fc, act_type="relu", name="relu" + name)
mx.random.seed(3)
seq = mx.mod.SequentialModule()
seq.add(mx.mod.Module(layer("1", 6), label_names=None))
seq.add(mx.mod.Module(layer("2", 5), label_names=None), auto_wiring=True)
seq.bind(data_shapes=[("data", (4, 3))])
seq.init_params(mx.init.Uniform(0.5))
before = {k: v.asnumpy() for k, v in seq.get_params()[0].items()}
head = mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(
    mx.sym.Variable("data"), num_hidden=2, name="fc3"), name="softmax"))
same = seq.add(head, take_labels=True, auto_wiring=True)
out["returns_chain"] = same is seq
out["after_add"] = [seq.binded, seq.params_initialized, seq.optimizer_initialized]
out["members_bound"] = [m.binded for m in seq._modules]
try:
    seq.forward(mx.io.DataBatch([mx.nd.ones((4, 3))], [mx.nd.zeros((4,))]))
    out["forward_unbound"] = "ran"
except AssertionError:
    out["forward_unbound"] = "AssertionError"
seq.bind(data_shapes=[("data", (4, 3))], label_shapes=[("softmax_label", (4,))])
seq.init_params(mx.init.Uniform(0.5))
after = {k: v.asnumpy() for k, v in seq.get_params()[0].items()}
out["names"] = sorted(after)
out["old_kept"] = all(np.array_equal(before[k], after[k]) for k in before)
x = np.arange(12, dtype="float32").reshape(4, 3) / 10
seq.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros((4,))]), is_train=False)
out["output_shape"] = list(seq.get_outputs()[0].shape)
out["params"] = after
"""


def _run_here():
    out = {}
    exec(SCENARIO, {"mx": mx, "np": np, "out": out})
    return out


def test_add_after_bind_unbinds_the_chain():
    out = _run_here()
    assert out["returns_chain"] is True
    assert out["after_add"] == [False, False, False]
    assert out["members_bound"] == [True, True, False]
    assert out["forward_unbound"] == "AssertionError"      # NotBoundError is an AssertionError
    assert out["names"] == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight",
                            "fc3_bias", "fc3_weight"]
    assert out["old_kept"] is True
    assert out["output_shape"] == [4, 2]


def test_forward_after_add_names_bind():
    seq = mx.mod.SequentialModule().add(
        mx.mod.Module(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="a"),
                      label_names=None))
    seq.bind(data_shapes=[("data", (2, 3))])
    seq.init_params()
    seq.add(mx.mod.Module(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2,
                                                name="b"), label_names=None), auto_wiring=True)
    assert seq.stage == "initial"
    with pytest.raises(NotBoundError, match="bind"):
        seq.forward(mx.io.DataBatch([mx.nd.ones((2, 3))]))


@pytest.mark.oracle
def test_add_after_bind_matches_mxnet():
    here = _run_here()
    there = run_oracle(SCENARIO)
    for key in ("returns_chain", "after_add", "members_bound", "forward_unbound", "names",
                "old_kept", "output_shape"):
        assert here[key] == there[key], (key, here[key], there[key])
