"""How the CUDA kernels are launched, and the device checks every launcher makes.

Every kernel here loops grid-stride (``for i in range(start, n, stride)``), so it is correct for
any grid; the grid only decides how much runs in parallel. Two launch policies share the same
kernels:

* a real GPU: 256 threads per 1-D block and as many blocks as the data needs (up to 1024),
  16x16 threads per 2-D block;
* the simulator (``NUMBA_ENABLE_CUDASIM=1``): one block of 32 threads (8x8 in 2-D), because the
  simulator runs every thread as a Python thread and its cost grows with the thread count.

The tiled matmul (``nn.py``) is the exception: its block must be one tile, ``TILE x TILE``
threads, on both. The policy also names the GEMM kernel (``"gemm"``): ``tiled`` on a GPU,
``blocked`` (register blocks, no synchronisation) on the simulator, where each ``syncthreads``
costs thread switches; for the same reason the row reductions of ``loss.py`` (softmax) take
``"row_threads"``: a block as wide as the row on a GPU (0), one thread per row on the
simulator (1: a one-thread block needs no barrier). Tests switch the policy with
:func:`policy` to run the multi-block grids and the other kernels on the simulator too.
"""
from __future__ import annotations

import contextlib

from numba import cuda
from numba.core import config

from ...base import MXNetError

__all__ = ["SIMULATOR", "TILE", "grid_1d", "grid_2d", "gemm_kernel", "row_threads", "policy",
           "device", "require", "check_device_arrays"]

SIMULATOR = bool(config.ENABLE_CUDASIM)
TILE = 16                      # tiled matmul: a TILE x TILE block computes a TILE x TILE tile

_REAL = {"threads_1d": 256, "max_blocks_1d": 1024, "block_2d": 16, "max_blocks_2d": 256,
         "gemm": "tiled", "row_threads": 0}
_SIM = {"threads_1d": 32, "max_blocks_1d": 1, "block_2d": 8, "max_blocks_2d": 1,
        "gemm": "blocked", "row_threads": 1}
_policy = dict(_SIM if SIMULATOR else _REAL)


def grid_1d(n):
    """(blocks, threads) for ``n`` elements."""
    threads = _policy["threads_1d"]
    blocks = max(1, min(_policy["max_blocks_1d"], -(-int(n) // threads)))
    return blocks, threads


def grid_2d(rows, cols):
    """((blocks_x, blocks_y), (threads_x, threads_y)) for a ``rows x cols`` output; x runs along
    columns so neighbouring threads touch neighbouring (row-major) elements."""
    b, cap = _policy["block_2d"], _policy["max_blocks_2d"]
    return ((max(1, min(cap, -(-int(cols) // b))), max(1, min(cap, -(-int(rows) // b)))),
            (b, b))


def gemm_kernel():
    """The matmul kernel of the policy: ``'tiled'`` (naive below a tile) or ``'blocked'``."""
    return _policy["gemm"]


def row_threads(width):
    """Threads of a block that reduces rows of ``width`` elements: ``width`` itself when the
    policy says 0 (the caller rounds it to its tree's size), else the policy's count."""
    return _policy["row_threads"] or int(width)


@contextlib.contextmanager
def policy(name_or_dict):
    """Temporarily launch with another policy: ``'gpu'``, ``'simulator'`` or a dict of the keys
    above (tests use it to run several small blocks on the simulator)."""
    global _policy
    old = _policy
    if isinstance(name_or_dict, dict):
        _policy = {**old, **name_or_dict}
    else:
        _policy = dict({"gpu": _REAL, "simulator": _SIM}[name_or_dict])
    try:
        yield
    finally:
        _policy = old


def device(device_id):
    """The numba context manager that makes device ``device_id`` current (allocations and
    launches go there)."""
    return cuda.gpus[device_id]


def require(device_id):
    """Raise MXNetError unless ``gpu(device_id)`` can be used; returns the device count."""
    count = len(cuda.gpus) if cuda.is_available() else 0
    if count == 0:
        raise MXNetError(f"gpu({device_id}): no CUDA device; set NUMBA_ENABLE_CUDASIM=1 to use "
                         "the simulator, or use mx.cpu()")
    if not 0 <= device_id < count:
        raise MXNetError(f"gpu({device_id}) does not exist: numba sees {count} CUDA device(s), "
                         f"gpu(0) to gpu({count - 1})"
                         + (" (the simulator has one)" if SIMULATOR else ""))
    return count


def check_device_arrays(kernel, **arrays):
    """Every array a kernel gets must live on the device: numba would silently copy a host
    (numpy) array to the device and back on every launch."""
    for name, a in arrays.items():
        if a is not None and not getattr(a, "__cuda_ndarray__", False):
            raise MXNetError(f"{kernel}: '{name}' is a {type(a).__name__}, not a device array; "
                             "copy it with cuda.to_device() (or an NDArray on mx.gpu(i)) first")
