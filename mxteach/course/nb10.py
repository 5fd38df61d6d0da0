"""Exercise checks of notebook 10 (debugging a broken composition). See notebook 10.

The planted bugs of the notebook are rebuilt here from the same small recipes (layer sizes,
names) so that each check can compute its truth by binding and running mxteach.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, blank_is_unanswered, close, exercise, returned

__all__ = ["check_junction_widths", "check_forward_backward", "check_fixed_names",
           "check_count_nonfinite", "mlp", "broken_chain"]

BATCH, FEATURES, CLASSES, HIDDEN = 12, 4, 3, 8


def _mx():
    import mxteach
    return mxteach


def layer(name, hidden, relu=True):
    """FullyConnected (+ relu) on a Variable 'data', as the notebook's chains use."""
    mx = _mx()
    h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=hidden, name=f"fc_{name}")
    return mx.sym.Activation(h, act_type="relu", name=f"relu_{name}") if relu else h


def broken_chain():
    """Bug 1 of the notebook: the bottleneck was added before the encoder."""
    mx = _mx()
    encoder = mx.mod.Module(layer("enc", 8), label_names=None)
    bottleneck = mx.mod.Module(layer("bott", 2), label_names=None)
    head = mx.mod.Module(mx.sym.SoftmaxOutput(layer("out", CLASSES, relu=False), name="softmax"))
    return (mx.mod.SequentialModule().add(bottleneck)
            .add(encoder, auto_wiring=True)
            .add(head, take_labels=True, auto_wiring=True))


def mlp():
    """fc1 (8) -> relu1 -> fc2 (3) -> SoftmaxOutput: the network of bugs 2, 4, 5 and 6."""
    mx = _mx()
    h = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=HIDDEN, name="fc1")
    h = mx.sym.Activation(h, act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=CLASSES, name="fc2"),
                                name="softmax")


# -- 10.1 -------------------------------------------------------------------------------------
@exercise("10.1", "the widths the broken chain carries")
def check_junction_widths(answer):
    chain = broken_chain()
    chain.bind(data_shapes=[("data", (BATCH, FEATURES))],
               label_shapes=[("softmax_label", (BATCH,))])
    truth = [int(out[0][1][1]) for _, _, _, out, _ in chain.junctions()]
    try:
        got = [int(v) for v in answer]
    except (TypeError, ValueError):
        raise Wrong(f"answer with a list of {len(truth)} numbers (the width of each member's "
                    f"output), got {answer!r}") from None
    if len(got) != len(truth):
        raise Wrong(f"the chain has {len(truth)} members: give {len(truth)} widths, you gave "
                    f"{len(got)}")
    if got == sorted(truth, reverse=True) or got == [8, 2, 3]:
        raise Wrong(f"{got} is the chain the author meant (encoder, then bottleneck). Read the "
                    "order of the add() calls: the members run in the order they were added")
    if got != truth:
        raise Wrong(f"member by member the outputs are {truth} wide; you said {got}. Each "
                    "member's output width is its layer's num_hidden, in add() order")
    return f"the chain squeezes 4 features through {truth[0]} before widening: the bug."


# -- 10.2 -------------------------------------------------------------------------------------
def _reference(x, label, params):
    mx = _mx()
    exe = mlp().simple_bind(mx.cpu(), data=x.shape, softmax_label=label.shape)
    for name, value in params.items():
        exe.arg_dict[name][:] = value
    exe.forward(is_train=True, data=mx.nd.array(x), softmax_label=mx.nd.array(label))
    exe.backward()
    return {n: exe.grad_dict[n].asnumpy() for n in params}


def _params(seed):
    rng = np.random.RandomState(seed)
    return {"fc1_weight": rng.randn(HIDDEN, FEATURES) * 0.5, "fc1_bias": rng.randn(HIDDEN) * 0.1,
            "fc2_weight": rng.randn(CLASSES, HIDDEN) * 0.5, "fc2_bias": rng.randn(CLASSES) * 0.1}


@exercise("10.2", "forward and backward in graph order")
def check_forward_backward(forward_backward):
    rng = np.random.RandomState(10)
    for labels in ("real", "zeros"):
        params = _params(2)
        x = rng.randn(6, FEATURES)
        label = (np.arange(6) % CLASSES).astype(np.float64) if labels == "real" else np.zeros(6)
        got = returned(forward_backward, x.copy(), label.copy(),
                       {k: v.copy() for k, v in params.items()}, what="forward_backward")
        if not isinstance(got, dict):
            raise Wrong(f"return a dict {{parameter name: gradient}}, got {type(got).__name__}")
        want = _reference(x, label, params)
        missing = sorted(set(want) - set(got))
        if missing:
            raise Wrong(f"your dict has no gradient for {missing}")
        for name in ("fc2_bias", "fc2_weight", "fc1_bias", "fc1_weight"):   # backward order
            g = np.asarray(got[name], dtype=np.float64)
            if name.startswith("fc1") and g.shape == want[name].shape:
                nomask = _without_relu_mask(x, label, params)[name]
                if np.allclose(g, nomask, rtol=1e-3, atol=1e-5) and \
                        not np.allclose(nomask, want[name], rtol=1e-3, atol=1e-5):
                    raise Wrong(f"{name}: the gradient passes through relu unchanged. relu's "
                                "backward multiplies by its mask: 1 where fc1's output was > 0, "
                                "0 elsewhere")
            if name.endswith("_weight") and g.shape == want[name].T.shape and \
                    g.shape != want[name].shape:
                raise Wrong(f"{name} has shape {g.shape}, the transpose of the parameter "
                            f"{want[name].shape}: FullyConnected computes x @ W.T, so "
                            "dW = dout.T @ x")
            close(g, want[name], f"your gradient of {name} (labels {labels})", atol=1e-4,
                  rtol=1e-3)
    # the use of the exercise: what zero labels (MXNet's buffer in bug 2) do to the head
    x = rng.randn(9, FEATURES)
    params = _params(5)
    real = forward_backward(x, (np.arange(9) % CLASSES).astype(np.float64), params)["fc2_bias"]
    zeros = forward_backward(x, np.zeros(9), params)["fc2_bias"]
    return ("your forward/backward equals the executor's, for real labels and for zeros.\n"
            f"  fc2_bias gradient, real labels: {np.round(real, 3)}\n"
            f"  fc2_bias gradient, zero labels: {np.round(zeros, 3)}  <- only class 0 negative: "
            "SGD raises class 0 at every step")


def _without_relu_mask(x, label, params):
    """The typical mistake (relu's backward forgotten), computed to recognise it: a deliberate
    twin of the wrong answer listed in notebooks/solutions/10_*.py."""
    h = x @ params["fc1_weight"].T + params["fc1_bias"]
    a = np.maximum(h, 0)
    s = a @ params["fc2_weight"].T + params["fc2_bias"]
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    ds = p.copy()
    ds[np.arange(len(label)), label.astype(int)] -= 1
    da = ds @ params["fc2_weight"]
    return {"fc1_weight": da.T @ x, "fc1_bias": da.sum(axis=0)}


# -- 10.3 -------------------------------------------------------------------------------------
@exercise("10.3", "freeze the feature layer, train the head")
def check_fixed_names(fixed):
    mx = _mx()
    net = mlp()
    params = [n for n in net.list_arguments() if n not in ("data", "softmax_label")]
    if isinstance(fixed, str):
        raise Wrong("fixed_param_names is a list of names, not one string")
    fixed = list(fixed)
    unknown = [n for n in fixed if n not in params]
    if unknown:
        raise Wrong(f"{unknown} are not parameters of the network ({params}): "
                    "fixed_param_names takes exact parameter names (no prefixes, no patterns); "
                    "the Module refuses unknown names")
    mod = mx.mod.Module(net, fixed_param_names=fixed)
    mod.bind(data_shapes=[("data", (BATCH, FEATURES))],
             label_shapes=[("softmax_label", (BATCH,))])
    # what the bound executor really trains: the parameters that got a gradient buffer
    grads = mod._exec_group.execs[0].grad_dict
    trained = [n for n in params if grads.get(n) is not None]
    frozen = [n for n in params if n not in trained]
    want_frozen = [n for n in params if n.startswith("fc1_")]
    if frozen == params:
        raise Wrong("every parameter is frozen, fc2 (the head) included: nothing can learn. "
                    "Freeze only fc1_weight and fc1_bias")
    if frozen != want_frozen:
        raise Wrong(f"frozen now: {frozen}; trained: {trained}. The feature layer fc1 "
                    f"({want_frozen}) should be frozen and the head fc2 trained")
    return f"frozen: {frozen}; trained: {trained}."


# -- 10.4 -------------------------------------------------------------------------------------
@exercise("10.4", "a Monitor statistic that counts non-finite values")
def check_count_nonfinite(stat):
    mx = _mx()
    cases = [np.array([1.0, np.nan, 3.0]), np.array([[np.inf, -np.inf], [0.0, 2.0]]),
             np.array([0.5, -1.0]), np.array([[np.nan, np.inf, -np.inf, 1e30]])]
    for arr in cases:
        got = returned(stat, mx.nd.array(arr), what="your statistic")
        if not hasattr(got, "asnumpy"):
            raise Wrong(f"a Monitor statistic returns an NDArray (toc() calls asnumpy on it); "
                        f"got {type(got).__name__}: wrap the count with mx.nd.array([...])")
        value = got.asnumpy().ravel()
        want = float(np.sum(~np.isfinite(arr.astype(np.float32))))
        if value.size != 1:
            raise Wrong(f"return one number (a count), got an array of shape {got.shape}")
        nan_only = float(np.sum(np.isnan(arr)))
        if value[0] == nan_only and want != nan_only:
            raise Wrong(f"for {arr.tolist()} you counted {value[0]:g}: only the NaNs. Count "
                        "inf and -inf too (np.isfinite), log(0) gives -inf before any NaN")
        if value[0] != want:
            raise Wrong(f"for {arr.tolist()} the count of non-finite entries is {want:g}; you "
                        f"returned {value[0]:g}")
    # and in a Monitor, on the notebook's network fed one bad row
    exe = mlp().simple_bind(mx.cpu(), data=(2, FEATURES), softmax_label=(2,))
    mon = mx.mon.Monitor(1, stat_func=stat, pattern=".*output")
    mon.install(exe)
    bad = np.ones((2, FEATURES), np.float32)
    bad[1, 2] = -np.inf
    mon.tic()
    with np.errstate(invalid="ignore"):      # numpy's own warning about inf - inf is expected
        exe.forward(is_train=False, data=mx.nd.array(bad), softmax_label=mx.nd.zeros((2,)))
    seen = {name: float(value.strip().strip("[]")) for _, name, value in mon.toc()}
    if not seen.get("fc1_output"):
        raise Wrong(f"in a Monitor your statistic saw no bad value in fc1_output: {seen}")
    return "fc1_output is the first output with non-finite values: the input row is to blame."


# a template left as written (an empty body) is "not answered yet"
check_forward_backward = blank_is_unanswered(check_forward_backward)
check_count_nonfinite = blank_is_unanswered(check_count_nonfinite)
