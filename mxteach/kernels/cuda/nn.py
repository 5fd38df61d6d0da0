"""CUDA twins of ``kernels/cpu/nn.py``'s elementwise activation kernels: same names, same
signatures, same numpy references (``kernels/reference_nn.py``).

The per-element math is not rewritten: the scalar functions of ``kernels/cpu/nn.py`` (``_relu``,
``_sigmoid_d`` ...) are compiled a second time, for the GPU, from their Python source. Only the
loop differs: one thread per element instead of a ``for`` over the array, and ``code`` picks the
activation inside the thread (every thread of a launch takes the same branch, so the branch costs
nothing on a GPU).
"""
from __future__ import annotations

from numba import cuda

from ..cpu import nn as _cpu
from ..cpu.nn import ACT_CODES
from .launch import grid_1d, check_device_arrays

__all__ = ["ACT_CODES", "unary_forward", "unary_backward"]


def _device_twin(cpu_fn):
    """Compile a @njit scalar function of kernels/cpu/nn.py again as a CUDA device function
    (under NUMBA_DISABLE_JIT the CPU function is already plain Python)."""
    return cuda.jit(device=True)(getattr(cpu_fn, "py_func", cpu_fn))


_relu, _relu_d = _device_twin(_cpu._relu), _device_twin(_cpu._relu_d)
_sigmoid, _sigmoid_d = _device_twin(_cpu._sigmoid), _device_twin(_cpu._sigmoid_d)
_tanh, _tanh_d = _device_twin(_cpu._tanh), _device_twin(_cpu._tanh_d)
_softrelu, _softrelu_d = _device_twin(_cpu._softrelu), _device_twin(_cpu._softrelu_d)
_softsign, _softsign_d = _device_twin(_cpu._softsign), _device_twin(_cpu._softsign_d)
_leaky, _leaky_d = _device_twin(_cpu._leaky), _device_twin(_cpu._leaky_d)
_elu, _elu_d = _device_twin(_cpu._elu), _device_twin(_cpu._elu_d)
_selu, _selu_d = _device_twin(_cpu._selu), _device_twin(_cpu._selu_d)
_gelu, _gelu_d = _device_twin(_cpu._gelu), _device_twin(_cpu._gelu_d)


@cuda.jit(device=True)
def _act(v, code, s):
    if code == 0:
        return _relu(v, s)
    if code == 1:
        return _sigmoid(v, s)
    if code == 2:
        return _tanh(v, s)
    if code == 3:
        return _softrelu(v, s)
    if code == 4:
        return _softsign(v, s)
    if code == 5:
        return _leaky(v, s)
    if code == 6:
        return _elu(v, s)
    if code == 7:
        return _selu(v, s)
    return _gelu(v, s)


@cuda.jit(device=True)
def _act_d(v, y, code, s):
    if code == 0:
        return _relu_d(v, y, s)
    if code == 1:
        return _sigmoid_d(v, y, s)
    if code == 2:
        return _tanh_d(v, y, s)
    if code == 3:
        return _softrelu_d(v, y, s)
    if code == 4:
        return _softsign_d(v, y, s)
    if code == 5:
        return _leaky_d(v, y, s)
    if code == 6:
        return _elu_d(v, y, s)
    if code == 7:
        return _selu_d(v, y, s)
    return _gelu_d(v, y, s)


@cuda.jit
def _unary_forward_kernel(x, out, code, slope):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        out[i] = _act(x[i], code, slope)


@cuda.jit
def _unary_backward_kernel(x, y, dy, dx, code, slope, accumulate):
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        g = dy[i] * _act_d(x[i], y[i], code, slope)
        if accumulate:
            dx[i] += g
        else:
            dx[i] = g


def unary_forward(x, out, code, slope):
    """out[i] = act(x[i]) for the activation ``code`` (flat device arrays)."""
    check_device_arrays("unary_forward", x=x, out=out)
    blocks, threads = grid_1d(x.shape[0])
    _unary_forward_kernel[blocks, threads](x, out, code, float(slope))


def unary_backward(x, y, dy, dx, code, slope, accumulate):
    """dx[i] (+)= dy[i] * act'(x[i]); ``y`` is the forward output (flat device arrays)."""
    check_device_arrays("unary_backward", x=x, y=y, dy=dy, dx=dx)
    blocks, threads = grid_1d(x.shape[0])
    _unary_backward_kernel[blocks, threads](x, y, dy, dx, code, float(slope), bool(accumulate))
