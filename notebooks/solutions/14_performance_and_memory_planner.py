"""Reference solutions of notebook 14 (performance and the memory planner)."""
import numpy as np

# 14.1: batch 48 · 16 hidden · 4 bytes; parameter gradients: (16*5 + 16 + 3*16 + 3) * 4
ANSWER_1 = {"relu1_output": 48 * 16 * 4, "param_grads": (16 * 5 + 16 + 3 * 16 + 3) * 4}


# 14.2
def ping_pong(sizes):
    which = [i % 2 for i in range(len(sizes))]
    arenas = [max([s for s, w in zip(sizes, which) if w == a], default=0) for a in (0, 1)]
    return which, arenas


def one_buffer(sizes):                       # typical mistake: everything in one arena
    return [0] * len(sizes), [max(sizes), 0]


def summed_arenas(sizes):                     # typical mistake: arena = sum of its users
    which = [i % 2 for i in range(len(sizes))]
    return which, [sum(s for s, w in zip(sizes, which) if w == a) for a in (0, 1)]


# 14.4
def fc_flops(batch, in_features, num_hidden):
    return 2 * batch * in_features * num_hidden


def fc_macs(batch, in_features, num_hidden):  # typical mistake: multiply-adds
    return batch * in_features * num_hidden


SOLUTIONS = {
    "14.1": ANSWER_1,
    "14.2": ping_pong,
    "14.3": {"training": 4, "inference": 2},
    "14.4": fc_flops,
}

WRONG = {
    "14.1": [({"relu1_output": 12 * 16 * 4, "param_grads": ANSWER_1["param_grads"]},
              "grow with the batch"),
             ({"relu1_output": 48 * 16 * 4, "param_grads": 48 * 588}, "do not depend")],
    "14.2": [(one_buffer, "overwrite its own input"), (summed_arenas, "not the sum")],
    "14.3": [({"training": 2, "inference": 2}, "backward reads the forward activations"),
             ({"training": 4, "inference": 3}, "dies as soon as the next layer")],
    "14.4": [(fc_macs, "two floating-point operations")],
}
