"""Reference solutions of notebook 12 (writing an operator with Numba CPU and CUDA kernels),
and typical mistakes with words their explanation must contain
(tests/test_course_exercises.py)."""
import math

from numba import njit


# 12.1
@njit
def squareplus_forward(x, b, out):
    for i in range(x.shape[0]):
        out[i] = (x[i] + math.sqrt(x[i] * x[i] + b)) / 2


@njit
def _forward_b_squared(x, b, out):
    for i in range(x.shape[0]):
        out[i] = (x[i] + math.sqrt(x[i] * x[i] + b * b)) / 2


def _forward_not_compiled(x, b, out):
    for i in range(x.shape[0]):
        out[i] = (x[i] + math.sqrt(x[i] * x[i] + b)) / 2


# 12.2
@njit
def squareplus_backward(x, b, dy, dx, accumulate):
    for i in range(x.shape[0]):
        g = dy[i] * (1 + x[i] / math.sqrt(x[i] * x[i] + b)) / 2
        if accumulate:
            dx[i] += g
        else:
            dx[i] = g


@njit
def _backward_overwrites(x, b, dy, dx, accumulate):
    for i in range(x.shape[0]):
        dx[i] = dy[i] * (1 + x[i] / math.sqrt(x[i] * x[i] + b)) / 2


@njit
def _backward_without_dy(x, b, dy, dx, accumulate):
    for i in range(x.shape[0]):
        g = (1 + x[i] / math.sqrt(x[i] * x[i] + b)) / 2
        if accumulate:
            dx[i] += g
        else:
            dx[i] = g


# 12.3
def elements_of_thread(start, stride, n):
    return list(range(start, n, stride))


def _every_element_from_start(start, stride, n):
    return list(range(start, n))


SOLUTIONS = {"12.1": squareplus_forward, "12.2": squareplus_backward,
             "12.3": elements_of_thread, "12.4": (32, 32)}

WRONG = {
    "12.1": [(_forward_b_squared, "b itself"), (_forward_not_compiled, "@njit")],
    "12.2": [(_backward_overwrites, "accumulate"), (_backward_without_dy, "dy")],
    "12.3": [(_every_element_from_start, "stride")],
    "12.4": [((1000, 1), "simulator"), ((32, 31), "count")],
}
