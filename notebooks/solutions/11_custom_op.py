"""Reference solutions of notebook 11 (your own layer as a Python CustomOp), and typical
mistakes with words their explanation must contain (tests/test_course_exercises.py)."""
import numpy as np

import mxteach as mx


# 11.2
def numeric_grad(f, x, eps=1e-4):
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        up, down = x.astype(np.float64), x.astype(np.float64)
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


def _numeric_grad_one_sided_eps(f, x, eps=1e-4):
    # the mistake: (f(x+eps) - f(x-eps)) / eps, twice the central difference
    return 2 * numeric_grad(f, x, eps)


# 11.3
class Softsign(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0]
        self.assign(out_data[0], req[0], x / (1 + mx.nd.abs(x)))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        x = in_data[0]
        self.assign(in_grad[0], req[0], out_grad[0] / (1 + mx.nd.abs(x)) ** 2)


class _SoftsignNoChainRule(Softsign):
    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        x = in_data[0]
        self.assign(in_grad[0], req[0], 1 / (1 + mx.nd.abs(x)) ** 2)


class _SoftsignOverwrites(Softsign):
    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        x = in_data[0]
        in_grad[0][:] = out_grad[0] / (1 + mx.nd.abs(x)) ** 2


# 11.4
def infer_shape(in_shape):
    data = in_shape[0]
    return [data, [data[1]]], [data], []


def _infer_shape_per_row(in_shape):
    data = in_shape[0]
    return [data, [data[0]]], [data], []


SOLUTIONS = {"11.1": str, "11.2": numeric_grad, "11.3": Softsign, "11.4": infer_shape}

WRONG = {
    "11.1": [(float, "string")],
    "11.2": [(_numeric_grad_one_sided_eps, "twice")],
    "11.3": [(_SoftsignNoChainRule, "out_grad"), (_SoftsignOverwrites, "add")],
    "11.4": [(_infer_shape_per_row, "batch size")],
}
