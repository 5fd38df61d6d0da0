"""Binding on ``mx.gpu(i)``: the executor's plan, with device memory and CUDA kernels.

``Executor._build`` hands over to :func:`build` when the executor or any of its arrays is on a
gpu. The plan is the CPU plan (``plan.py``, ``memory.py``): the same steps, lifetimes and shared
arenas. What changes:

* arenas and dedicated buffers are device memory (:class:`~mxteach.ndarray.gpu.DeviceBuffer`),
  and planned buffers are views of the arenas, exactly as numpy views on the CPU;
* each step calls the operator's CUDA forward/backward (``kernels/cuda/operators.py``) on numba
  device arrays, with ``gpu(i)`` made the current device around the launches;
* every operator is checked at bind time: one without a CUDA kernel fails the bind with an
  MXNetError naming it, before any memory is allocated.

``forward``/``backward`` in ``executor.py`` are unchanged: they run these step lists.
"""
from __future__ import annotations

import numpy as np

from ..base import MXNetError
from ..ndarray.gpu import GPUNDArray, empty_buffer, require, zeros_buffer
from . import memory

__all__ = ["wanted", "build"]

_DTYPES = ("float32", "float64")


def _arrays(exe):
    for kind, d in (("argument", exe._args), ("gradient of", exe._grads),
                    ("auxiliary state", exe._aux)):
        for name, arr in d.items():
            yield kind, name, arr


def wanted(exe):
    """True when the executor must run on a gpu: its context or one of its arrays is there."""
    return exe._ctx.device_type == "gpu" or any(
        a.context.device_type == "gpu" for _, _, a in _arrays(exe))


def _check_devices(exe):
    ctx = exe._ctx
    if ctx.device_type != "gpu":
        kind, name, arr = next(t for t in _arrays(exe) if t[2].context.device_type == "gpu")
        raise MXNetError(f"bind on {ctx}: {kind} '{name}' lives on {arr.context}; bind on "
                         f"{arr.context} or copy the array to {ctx} first")
    for kind, name, arr in _arrays(exe):
        if arr.context != ctx:
            raise MXNetError(f"bind on {ctx}: {kind} '{name}' lives on {arr.context}; a gpu "
                             "executor keeps every array on its own device (group2ctx "
                             "placement across devices runs on the CPU only)")
        if np.dtype(arr.dtype).name not in _DTYPES:
            raise MXNetError(f"bind on {ctx}: {kind} '{name}' is {np.dtype(arr.dtype).name}; "
                             f"the CUDA kernels take {' or '.join(_DTYPES)} (use astype)")


def _on_device(device_id, fn):
    """``fn`` with ``gpu(device_id)`` current, so launches and allocations go to that device."""
    launch = require(device_id)

    def step(*args):
        with launch.device(device_id):
            fn(*args)
    step.__name__ = step.__qualname__ = fn.__name__
    step.__wrapped__ = fn
    return step


def build(exe):
    """Allocate ``exe``'s buffers on its gpu and fill its forward/backward step lists."""
    from ..kernels.cuda.operators import kernels_for
    _check_devices(exe)
    ctx, plan = exe._ctx, exe._plan
    dev = ctx.device_id
    pairs = {id(n): kernels_for(n.op, f"node '{n.name}'", ctx) for n in plan.op_nodes}
    requests = plan.buffer_requests()
    for req in requests:
        if np.dtype(req.dtype).name not in _DTYPES:
            raise MXNetError(f"bind on {ctx}: '{req.name}' would be {req.dtype}; the CUDA "
                             f"kernels take {' or '.join(_DTYPES)}")
    exe._requests = requests
    arenas, where = memory.plan(requests)
    exe._arenas = arenas
    pools = {a.index: zeros_buffer((max(a.nbytes, 1),), np.uint8, dev) for a in arenas}
    buf = {}
    for req in requests:
        if req.planned:
            buf[req.key] = memory.view(pools[where[req.key].index], req.shape, req.dtype)
        else:
            buf[req.key] = zeros_buffer(req.shape, req.dtype, dev)
    for n in plan.arg_nodes:
        buf[(id(n), 0)] = exe._args[n.name]._data
        if n.name in exe._grads:
            buf[("grad", id(n), 0)] = exe._grads[n.name]._data
    for n in plan.aux_nodes:
        buf[(id(n), 0)] = exe._aux[n.name]._data
    exe._buf = buf
    exe._states = {id(n): {} for n in plan.op_nodes}

    def raw(bufs):
        return None if bufs is None else [None if b is None else b.dev for b in bufs]

    exe._fwd = []
    for n in plan.op_nodes:
        ins = [buf[(id(c), i)] for c, i in n.inputs]
        outs = [buf[(id(n), j)] for j in range(n.num_outputs())]
        exe._fwd.append((_on_device(dev, pairs[id(n)][0]), n.params, raw(ins), raw(outs),
                         exe._states[id(n)], n))
    exe._bwd = [(_on_device(dev, pairs[id(n)][1]), p, raw(og), raw(ins), raw(outs), raw(ig),
                 reqs, st, n)
                for _, p, og, ins, outs, ig, reqs, st, n in exe._backward_steps()]
    exe.outputs, exe._head_copies = [], []
    for n, i in plan.heads:
        if n.op is None:       # a variable as an output: MXNet returns a copy
            src = buf[(id(n), 0)]
            out = empty_buffer(src.shape, src.dtype, dev)
            exe._head_copies.append((src, out))
            exe.outputs.append(GPUNDArray(out, ctx))
        else:
            exe.outputs.append(GPUNDArray(buf[(id(n), i)], ctx))
