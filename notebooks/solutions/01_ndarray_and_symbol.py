"""Reference answers of notebook 01 (NDArray and Symbol), and typical wrong ones.

``tests/test_course_exercises.py`` runs every check of ``mxteach/course/nb01.py`` against these.
"""
import numpy as np

# 01.1: a view exactly when the elements are one contiguous run of memory
VIEWS = {"a[2]": "view", "a[0:2]": "view", "a[1, 1:4]": "view", "a[:, 0]": "copy",
         "a[1:3, 0:2]": "copy", "a.reshape((2, 6))": "view"}

# 01.2: the shapes for data=(16, 20)
SHAPES = {"data": (16, 20), "fc1_weight": (8, 20), "fc1_bias": (8,), "fc2_weight": (3, 8),
          "fc2_bias": (3,), "softmax_label": (16,)}


# 01.3: walk the nodes in order; each input is [node index, output index, version]
def run_graph(graph, values):
    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    ops = {"FullyConnected": lambda attrs, x, w, b: x @ w.T + b,
           "Activation": lambda attrs, x: np.maximum(x, 0),
           "SoftmaxOutput": lambda attrs, x, label: softmax(x)}
    out = {}
    for k, node in enumerate(graph["nodes"]):
        if node["op"] == "null":
            out[k] = values[node["name"]]
        else:
            args = [out[i[0]] for i in node["inputs"]]
            out[k] = ops[node["op"]](node.get("attrs", {}), *args)
    return [out[h[0]] for h in graph["heads"]]


def _first_node_only(graph, values):
    # mistake: returns the first operator's output instead of the heads
    return run_graph({"nodes": graph["nodes"], "heads": [[next(
        k for k, n in enumerate(graph["nodes"]) if n["op"] != "null"), 0, 0]]}, values)


def _weight_not_transposed(graph, values):
    # mistake: x @ w instead of x @ w.T
    out = {}
    for k, node in enumerate(graph["nodes"]):
        args = [out[i[0]] for i in node["inputs"]]
        if node["op"] == "null":
            out[k] = values[node["name"]]
        elif node["op"] == "FullyConnected":
            out[k] = args[0] @ args[1].reshape(args[0].shape[1], -1) + args[2]
        elif node["op"] == "Activation":
            out[k] = np.maximum(args[0], 0)
        else:
            e = np.exp(args[0] - args[0].max(axis=1, keepdims=True))
            out[k] = e / e.sum(axis=1, keepdims=True)
    return [out[h[0]] for h in graph["heads"]]


SOLUTIONS = {
    "01.1": VIEWS,
    "01.3": SHAPES,
    "01.4": run_graph,
    "01.2": {"mxteach": 1, "mxnet": 4},
}

WRONG = {
    "01.1": [({**VIEWS, "a[1, 1:4]": "copy"}, "contiguous"),
             ({**VIEWS, "a[1:3, 0:2]": "view"}, "not contiguous")],
    "01.3": [({**SHAPES, "fc1_weight": (20, 8)}, "num_hidden, input features"),
             ({**SHAPES, "softmax_label": (16, 3)}, "one class index")],
    "01.4": [(_first_node_only, "shape"), (_weight_not_transposed, "differs")],
    "01.2": [({"mxteach": 1, "mxnet": 1}, "queues"), ({"mxteach": 4, "mxnet": 4}, "at once")],
}
