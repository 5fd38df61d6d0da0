"""Reference solutions of notebook 09 (sequential chains and Python modules)."""
import numpy as np


# 09.2: d/ds 0.5 * sum((s - onehot(y))**2) = s - onehot(y)
def squared_error_grad(scores, labels):
    s = scores.asnumpy()
    return s - np.eye(s.shape[1], dtype=s.dtype)[labels.asnumpy().astype(int)]


def label_numbers_grad(scores, labels):          # typical mistake: no one-hot
    return scores.asnumpy() - labels.asnumpy()[:, None]


def flipped_grad(scores, labels):                # typical mistake: the sign
    return -squared_error_grad(scores, labels)


def loss_value(scores, labels):                  # typical mistake: the loss, not its gradient
    g = squared_error_grad(scores, labels)
    return 0.5 * (g ** 2).sum(axis=1)


SOLUTIONS = {
    "09.1": {"takes_labels": 2, "junction_1_2": (12, 5)},
    "09.2": squared_error_grad,
    "09.3": {"binded": False, "params_initialized": False, "old_params_kept": True},
}

WRONG = {
    "09.1": [({"takes_labels": 3, "junction_1_2": (12, 5)}, "take_labels"),
             ({"takes_labels": 2, "junction_1_2": (12, 6)}, "junction 0→1")],
    "09.2": [(label_numbers_grad, "one-hot"), (flipped_grad, "sign"), (loss_value, "shape")],
    "09.3": [({"binded": True, "params_initialized": True, "old_params_kept": True},
              "back to unbound"),
             ({"binded": False, "params_initialized": False, "old_params_kept": False},
              "keep their executors")],
}
