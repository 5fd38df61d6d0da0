"""Reference answers of notebook 02 (executor and lifecycle), and typical wrong ones.

``tests/test_course_exercises.py`` runs every check of ``mxteach/course/nb02.py`` against these.
"""


def plan(sizes):
    """Ping-pong: value i goes to arena i % 2 (its neighbours are in the other one)."""
    return [i % 2 for i in range(len(sizes))]


def _one_arena(sizes):
    return [0] * len(sizes)


def _one_arena_each(sizes):
    return list(range(len(sizes)))


SOLUTIONS = {
    "02.1": {"buffers": ["fc1_bias", "fc1_weight"], "fc1_weight_ratio": 3.0,
             "fc1_bias_ratio": 1.0},
    "02.2": plan,
    "02.4": ["bound", "params_initialized", "params_initialized", "optimizer_installed",
             "optimizer_installed"],
    "02.3": {"gradients_batch_12": 588, "gradients_batch_48": 588, "intermediates_growth": 4.0},
}

WRONG = {
    "02.1": [({"buffers": ["fc1_bias", "fc1_weight", "fc2_weight"], "fc1_weight_ratio": 3.0,
               "fc1_bias_ratio": 1.0}, "get no buffer"),
             ({"buffers": ["fc1_bias", "fc1_weight"], "fc1_weight_ratio": 1.0,
               "fc1_bias_ratio": 1.0}, "adds each backward")],
    "02.2": [(_one_arena, "alive at the same time"), (_one_arena_each, "two arenas")],
    "02.4": [(["bound", "params_initialized", "bound", "optimizer_installed",
               "optimizer_installed"], "does not go back")],
    "02.3": [({"gradients_batch_12": 588, "gradients_batch_48": 2352, "intermediates_growth": 4.0},
              "do not depend on the batch size"),
             ({"gradients_batch_12": 588, "gradients_batch_48": 588, "intermediates_growth": 1.0},
              "one row per example")],
}
