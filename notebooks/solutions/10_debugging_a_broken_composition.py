"""Reference solutions of notebook 10 (debugging a broken composition), and typical mistakes
with words their explanation must contain (tests/test_course_exercises.py)."""
import numpy as np

import mxteach as mx


# 10.2
def _forward(x, label, params):
    """fc1 -> relu1 -> fc2 -> softmax in graph order; returns what backward needs."""
    h = x @ params["fc1_weight"].T + params["fc1_bias"]
    a = np.maximum(h, 0)
    s = a @ params["fc2_weight"].T + params["fc2_bias"]
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    ds = p.copy()                       # SoftmaxOutput's gradient: p - onehot(label)
    ds[np.arange(len(label)), label.astype(int)] -= 1
    return h, a, ds


def forward_backward(x, label, params):
    h, a, ds = _forward(x, label, params)
    grads = {"fc2_weight": ds.T @ a, "fc2_bias": ds.sum(axis=0)}     # backward, in reverse
    dh = (ds @ params["fc2_weight"]) * (h > 0)                         # relu's mask
    grads["fc1_weight"] = dh.T @ x
    grads["fc1_bias"] = dh.sum(axis=0)
    return grads


def _forward_backward_no_mask(x, label, params):
    h, a, ds = _forward(x, label, params)
    da = ds @ params["fc2_weight"]      # the mistake: no relu mask
    return {"fc2_weight": ds.T @ a, "fc2_bias": ds.sum(axis=0),
            "fc1_weight": da.T @ x, "fc1_bias": da.sum(axis=0)}


# 10.4
def count_nonfinite(x):
    return mx.nd.array([np.sum(~np.isfinite(x.asnumpy()))])


def _count_nan_only(x):
    return mx.nd.array([np.sum(np.isnan(x.asnumpy()))])


SOLUTIONS = {"10.1": [2, 8, 3], "10.2": forward_backward,
             "10.3": ["fc1_weight", "fc1_bias"], "10.4": count_nonfinite}

WRONG = {
    "10.1": [([8, 2, 3], "order of the add() calls")],
    "10.2": [(_forward_backward_no_mask, "mask")],
    "10.3": [(["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"], "head"),
             (["fc1"], "exact parameter names")],
    "10.4": [(_count_nan_only, "inf")],
}
