"""Reference solutions of notebook 07 (checkpoints and real MXNet)."""
import numpy as np

import mxteach as mx

# 07.1: the learned arguments, each prefixed 'arg:'; an MLP has no auxiliary states.
KEYS = ["arg:fc1_weight", "arg:fc1_bias", "arg:fc2_weight", "arg:fc2_bias"]


# 07.3
def mlp_forward(x, arg_params):
    p = {k: v.asnumpy() for k, v in arg_params.items()}
    h = np.maximum(x @ p["fc1_weight"].T + p["fc1_bias"], 0)
    s = h @ p["fc2_weight"].T + p["fc2_bias"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_forward_no_relu(x, arg_params):        # typical mistake: the relu left out
    p = {k: v.asnumpy() for k, v in arg_params.items()}
    s = (x @ p["fc1_weight"].T + p["fc1_bias"]) @ p["fc2_weight"].T + p["fc2_bias"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mlp_scores(x, arg_params):                 # typical mistake: no softmax at the end
    p = {k: v.asnumpy() for k, v in arg_params.items()}
    h = np.maximum(x @ p["fc1_weight"].T + p["fc1_bias"], 0)
    return h @ p["fc2_weight"].T + p["fc2_bias"]


# 07.4
def _features_of(name):
    def extract(sym, arg_params, aux_params, x):
        feat = mx.mod.Module(sym.get_internals()[name], label_names=None, context=mx.cpu())
        feat.bind(data_shapes=[("data", x.shape)], for_training=False)
        feat.set_params(arg_params, aux_params)         # the full dicts: extras are ignored
        feat.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
        return feat.get_outputs()[0].asnumpy()
    return extract


def whole_network(sym, arg_params, aux_params, x):   # typical mistake: the whole network
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.bind(data_shapes=[("data", x.shape)], for_training=False)
    mod.set_params(arg_params, aux_params)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
    return mod.get_outputs()[0].asnumpy()


SOLUTIONS = {
    "07.1": KEYS,
    "07.2": 64 * 32 + 32 + 32 * 10 + 10,
    "07.3": mlp_forward,
    "07.4": _features_of("relu1_output"),
}

WRONG = {
    "07.1": [(["fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias"], "arg:"),
             (KEYS + ["arg:data", "arg:softmax_label"], "inputs, not parameters"),
             (KEYS[:2], "missing")],
    "07.2": [(64 * 32 + 32 * 10, "bias"), (2400, "not it")],
    "07.3": [(mlp_forward_no_relu, "relu"), (mlp_scores, "sum to 1")],
    "07.4": [(_features_of("fc1_output"), "before the relu"),
             (whole_network, "10 class scores")],
}
