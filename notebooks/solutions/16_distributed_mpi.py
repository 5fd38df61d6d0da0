"""Reference solutions of notebook 16 (distributed training over MPI)."""
import numpy as np


# 16.2
def one_process_order(rows_per_worker, batch, num_workers):
    order = []
    for b in range(rows_per_worker // batch):
        for r in range(num_workers):
            start = r * rows_per_worker + b * batch
            order.extend(range(start, start + batch))
    return np.array(order)


def plain_order(rows_per_worker, batch, num_workers):   # typical mistake
    return np.arange(rows_per_worker * num_workers)


# 16.3
def two_bit(grad, residual, threshold):
    residual = (residual + grad).astype(np.float32)
    sent = np.zeros_like(residual)
    sent[residual >= threshold] = threshold
    sent[residual <= -threshold] = -threshold
    return sent, (residual - sent).astype(np.float32)


def two_bit_no_feedback(grad, residual, threshold):     # typical mistake
    sent = np.zeros_like(grad)
    sent[grad >= threshold] = threshold
    sent[grad <= -threshold] = -threshold
    return sent, np.zeros_like(grad)


_FP32 = (4 * 5 + 4 + 3 * 4 + 3) * 4

SOLUTIONS = {
    "16.1": 3.0,
    "16.2": one_process_order,
    "16.3": two_bit,
    "16.4": {"fp32": _FP32, "2bit": 4 * (2 + 1 + 1 + 1)},   # fc1_weight has 20 values: 2 words
}

WRONG = {
    "16.1": [(1.5, "sums"), (8.0, "initial value")],
    "16.2": [(plain_order, "worker 0's batch b")],
    "16.3": [(two_bit_no_feedback, "residual")],
    "16.4": [({"fp32": _FP32, "2bit": _FP32 / 8}, "1/16"),
             ({"fp32": _FP32, "2bit": _FP32 / 16}, "whole")],
}
