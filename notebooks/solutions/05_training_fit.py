"""Reference solutions of notebook 05's exercises, and typical mistakes with the words their
explanation must contain (see tests/test_course_exercises.py)."""
import math

import numpy as np


def diagnose(epochs):
    last = epochs[-1]
    train, val = last["train"]["accuracy"], last["eval"]["accuracy"]
    if train < 0.3:
        return "lr too high"
    if train - val > 0.15:
        return "overfitting"
    return "healthy"


def diagnose_by_validation_only(epochs):
    # looks only at validation accuracy: cannot tell overfitting from a healthy run
    return "lr too high" if epochs[-1]["eval"]["accuracy"] < 0.3 else "healthy"


def sgd_step(w, g, m, lr, momentum, wd, rescale_grad):
    grad = rescale_grad * g + wd * w
    m = momentum * m - lr * grad
    return w + m, m


def sgd_step_no_wd(w, g, m, lr, momentum, wd, rescale_grad):
    m = momentum * m - lr * rescale_grad * g
    return w + m, m


def sgd_step_no_rescale(w, g, m, lr, momentum, wd, rescale_grad):
    m = momentum * m - lr * (g + wd * w)
    return w + m, m


def xavier_bound(shape):
    positions = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[1] * positions, shape[0] * positions
    return math.sqrt(3.0 / ((fan_in + fan_out) / 2.0))


def xavier_bound_no_kernel(shape):
    fan_in, fan_out = shape[1], shape[0]
    return math.sqrt(3.0 / ((fan_in + fan_out) / 2.0))


SOLUTIONS = {
    "05.1": (0.5, float(np.mean(-np.log([0.7, 0.5, 0.3, 0.2])))),
    "05.2": diagnose,
    "05.3": sgd_step,
    "05.4": xavier_bound,
}

WRONG = {
    "05.1": [((0.5, float(np.mean(-np.log([0.7, 0.5, 0.6, 0.6])))), "label"),
             ((0.75, 0.7), "argmax")],
    "05.2": [(diagnose_by_validation_only, "overfitting")],
    "05.3": [(sgd_step_no_wd, "weight decay"), (sgd_step_no_rescale, "rescale_grad")],
    "05.4": [(xavier_bound_no_kernel, "fan_in")],
}
