"""Reference solutions of notebook 15 (sparse embeddings), and typical mistakes with words
their explanation must contain (tests/test_course_exercises.py)."""
import numpy as np


# 15.2
def embedding_grad(indices, out_grad, vocab):
    rows = np.clip(indices.astype(np.int64), 0, vocab - 1)
    unique, where = np.unique(rows, return_inverse=True)
    values = np.zeros((unique.size, out_grad.shape[1]), out_grad.dtype)
    np.add.at(values, where, out_grad)
    return unique, values


def _embedding_grad_last_wins(indices, out_grad, vocab):
    rows = indices.astype(np.int64)
    unique = np.unique(rows)
    values = np.zeros((unique.size, out_grad.shape[1]), out_grad.dtype)
    for i, r in enumerate(rows):
        values[np.searchsorted(unique, r)] = out_grad[i]      # = instead of +=
    return unique, values


def _embedding_grad_unsorted(indices, out_grad, vocab):
    rows, values = embedding_grad(indices, out_grad, vocab)
    return rows[::-1], values[::-1]


# 15.3
def lazy_sgd(weight, rows, values, mom, lr, wd, momentum):
    mom[rows] = momentum * mom[rows] - lr * (values + wd * weight[rows])
    weight[rows] += mom[rows]


def _sgd_every_row(weight, rows, values, mom, lr, wd, momentum):
    grad = np.zeros_like(weight)
    grad[rows] = values
    mom[:] = momentum * mom - lr * (grad + wd * weight)
    weight += mom


def _lazy_sgd_no_decay(weight, rows, values, mom, lr, wd, momentum):
    mom[rows] = momentum * mom[rows] - lr * values
    weight[rows] += mom[rows]


# 15.4
def row_ids(batch):
    return {"weight": batch.data[0].indices}


SOLUTIONS = {"15.1": [0, 1, 1, 3, 4], "15.2": embedding_grad, "15.3": lazy_sgd,
             "15.4": row_ids, "15.5": [1, 2, 3, 6, 7, 8, 9]}

WRONG = {
    "15.1": [([1, 0, 2, 1], "offsets"), ([1, 1, 3, 4], "entries")],
    "15.2": [(_embedding_grad_last_wins, "sum"), (_embedding_grad_unsorted, "sorted")],
    "15.3": [(_sgd_every_row, "rows the gradient does not store"),
             (_lazy_sgd_no_decay, "weight decay")],
    "15.4": [(lambda batch: {"weight": batch.data[0].indptr}, "indices"),
             (lambda batch: {"w": batch.data[0].indices}, "'weight'"),
             (lambda batch: [batch.data[0].indices], "dict")],
    "15.5": [([0, 4, 5], "did"), ([1, 2, 3, 4, 6, 7, 8, 9], "touched"),
             ([1, 2, 3], "more blank")],
}
