"""Exercise checks of notebook 12 (writing an operator with Numba CPU and CUDA kernels).
See notebook 12.

The truth comes from numpy formulas of Squareplus evaluated on random data, from Python's own
``range`` for the grid-stride loop, and from ``mxteach.kernels.cuda.launch.grid_1d`` for the
launch grid: nothing is stored.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, blank_is_unanswered, close, exercise

__all__ = ["check_cpu_forward", "check_cpu_backward", "check_grid_stride", "check_grid"]


def squareplus(x, b):
    """The numpy twin the kernels are checked against."""
    return (x + np.sqrt(x * x + b)) / 2


def squareplus_grad(x, b, dy):
    return dy * (1 + x / np.sqrt(x * x + b)) / 2


def _is_njit(fn):
    return hasattr(fn, "py_func") and hasattr(fn, "signatures")


def _data(dtype, n=37, seed=12):
    rng = np.random.RandomState(seed)
    return (rng.randn(n) * 3).astype(dtype), rng.randn(n).astype(dtype)


# -- 12.1 -------------------------------------------------------------------------------------
@exercise("12.1", "the CPU forward kernel (@njit)")
def check_cpu_forward(kernel):
    if not callable(kernel):
        raise Wrong(f"answer with your kernel function, got {kernel!r}")
    if not _is_njit(kernel):
        raise Wrong("your function is plain Python: decorate it with @njit so Numba compiles it "
                    "(mxteach's CPU kernels all are)")
    for dtype in (np.float32, np.float64):
        for b in (4.0, 0.5):
            x, _ = _data(dtype)
            out = np.full_like(x, np.nan)
            got = kernel(x, b, out)
            if got is not None and np.isnan(out).all():
                raise Wrong("your kernel returned its result instead of writing it into `out`: "
                            "kernels fill the preallocated output in place (out[i] = ...)")
            if np.isnan(out).any():
                k = int(np.argmax(np.isnan(out)))
                raise Wrong(f"out[{k}] was never written ({dtype.__name__}, {x.size} elements): "
                            "loop over every element, range(x.shape[0])")
            want = squareplus(x.astype(np.float64), b)
            if np.allclose(out, squareplus(x.astype(np.float64), b * b), rtol=1e-4, atol=1e-5) \
                    and b != 1:
                raise Wrong("your kernel computes sqrt(x**2 + b**2): the formula is "
                            "(x + sqrt(x**2 + b)) / 2 with b itself under the root")
            if np.allclose(out, 2 * want, rtol=1e-4, atol=1e-5):
                raise Wrong("your result is twice the expected one: divide x + sqrt(x**2 + b) "
                            "by 2")
            close(out, want.astype(dtype), f"out ({dtype.__name__}, b={b})", atol=1e-5,
                  rtol=1e-5)
    return "your kernel equals the numpy twin in float32 and float64."


# -- 12.2 -------------------------------------------------------------------------------------
@exercise("12.2", "the CPU backward kernel with an accumulate flag")
def check_cpu_backward(kernel):
    if not callable(kernel):
        raise Wrong(f"answer with your kernel function, got {kernel!r}")
    if not _is_njit(kernel):
        raise Wrong("your function is plain Python: decorate it with @njit")
    for dtype in (np.float32, np.float64):
        x, dy = _data(dtype, seed=21)
        b = 2.0
        want = squareplus_grad(x.astype(np.float64), b, dy.astype(np.float64))
        dx = np.full_like(x, 7.0)
        kernel(x, b, dy, dx, False)
        if np.allclose(dx, 7.0):
            raise Wrong("dx was not written: store dy * local derivative into dx[i]")
        if np.allclose(dx, (1 + x / np.sqrt(x * x + b)) / 2, rtol=1e-4, atol=1e-5):
            raise Wrong("your gradient ignores dy: the chain rule multiplies the local "
                        "derivative (1 + x/sqrt(x**2 + b)) / 2 by dy[i]")
        close(dx, want.astype(dtype), f"dx with accumulate=False ({dtype.__name__})", atol=1e-5,
              rtol=1e-5)
        dx = np.full_like(x, 7.0)
        kernel(x, b, dy, dx, True)
        if np.allclose(dx, want, rtol=1e-4, atol=1e-5):
            raise Wrong("with accumulate=True your kernel overwrote dx: it must add "
                        "(dx[i] += g), which is how grad_req='add' is served without a "
                        "temporary array")
        close(dx, (want + 7.0).astype(dtype), f"dx with accumulate=True, starting at 7 "
              f"({dtype.__name__})", atol=1e-5, rtol=1e-5)
    return "your gradient equals the numpy twin's, and accumulate adds."


# -- 12.3 -------------------------------------------------------------------------------------
_GRIDS = ((0, 32, 100), (5, 32, 100), (31, 32, 40), (3, 8, 3), (0, 64, 10), (7, 4, 30))


@exercise("12.3", "which elements one thread handles in a grid-stride loop")
def check_grid_stride(elements_of_thread):
    if not callable(elements_of_thread):
        raise Wrong(f"answer with a function elements_of_thread(start, stride, n), got "
                    f"{elements_of_thread!r}")
    for start, stride, n in _GRIDS:
        got = elements_of_thread(start, stride, n)
        if got is None:
            raise Wrong("elements_of_thread returned None: return the list of indices")
        got = [int(i) for i in got]
        want = list(range(start, n, stride))
        if got != want and got == list(range(start, n)):
            raise Wrong(f"thread {start} of {stride} with n={n}: you listed every element from "
                        f"{start} on; each thread jumps by the grid size (the stride), so the "
                        "threads share the work")
        if got != want:
            raise Wrong(f"thread {start} of {stride} threads, n={n}: expected {want}, got {got}")
    return "every element is handled by exactly one thread, whatever the grid size."


# -- 12.4 -------------------------------------------------------------------------------------
def _grid_truth(n):
    from ..kernels.cuda import launch
    with launch.policy("simulator"):
        blocks, threads = launch.grid_1d(n)
    total = blocks * threads
    return total, len(range(0, n, total))


@exercise("12.4", "the launch grid under the simulator")
def check_grid(answer):
    total, per_thread = _grid_truth(1000)
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2):
        raise Wrong("answer with a pair (threads launched in total, elements thread 0 handles)")
    threads, elements = (int(v) for v in answer)
    if threads == 1000:
        raise Wrong("one thread per element is a real GPU's habit with small arrays; on the "
                    "simulator grid_1d caps the grid (each thread is a Python thread): look at "
                    "mxteach/kernels/cuda/launch.py")
    if threads != total:
        raise Wrong(f"threads in total: you said {threads}; grid_1d(1000) on the simulator "
                    f"launches blocks x threads = {total}")
    if elements != per_thread:
        raise Wrong(f"thread 0 handles indices 0, {total}, {2 * total}, ... below 1000: count "
                    f"them (you said {elements})")
    return f"{total} threads; thread 0 handles {per_thread} elements."


# a template left as written (an empty body) is "not answered yet"
check_cpu_forward = blank_is_unanswered(check_cpu_forward)
check_cpu_backward = blank_is_unanswered(check_cpu_backward)
check_grid_stride = blank_is_unanswered(check_grid_stride)
