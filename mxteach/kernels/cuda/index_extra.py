"""CUDA twins of ``kernels/cpu/index_extra.py``, one thread per element. ``rows_scatter`` adds
with ``cuda.atomic.add``; its plain store (mode 0) with a repeated row keeps one of the
competing rows, unspecified which (as MXNet says of scatter_nd on a GPU). ``histogram`` counts
with atomic adds."""
from __future__ import annotations

from numba import cuda

from .elemwise import fill as _fill
from .launch import grid_1d, check_device_arrays

__all__ = ["rows_gather", "rows_scatter", "ravel", "unravel", "histogram"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_rows_gather_kernel": ["{t}[::1], int64[::1], int64, {t}[::1], boolean"],
    "_rows_scatter_kernel": ["{t}[::1], int64[::1], int64, int64, {t}[::1]"],
    "_ravel_kernel": ["{t}[::1], int64[::1], {t}[::1]"],
    "_unravel_kernel": ["{t}[::1], int64[::1], {t}[::1]"],
    "_histogram_kernel": ["{t}[::1], {t}[::1], float64, float64, boolean, int64[::1]"],
}


@cuda.jit
def _rows_gather_kernel(src, rows, inner, out, accumulate):
    for e in range(cuda.grid(1), rows.size * inner, cuda.gridsize(1)):
        r = rows[e // inner]
        v = src[r * inner + e % inner] if r >= 0 else 0
        if accumulate:
            out[e] += v
        else:
            out[e] = v


@cuda.jit
def _rows_scatter_kernel(src, rows, inner, mode, out):
    for e in range(cuda.grid(1), rows.size * inner, cuda.gridsize(1)):
        r = rows[e // inner]
        if r >= 0:
            j = r * inner + e % inner
            if mode == 0:
                out[j] = src[e]
            elif mode == 1:
                cuda.atomic.add(out, j, src[e])
            else:
                cuda.atomic.add(out, j, -src[e])


@cuda.jit
def _ravel_kernel(idx, shape, out):
    n = out.size
    for j in range(cuda.grid(1), n, cuda.gridsize(1)):
        acc = 0
        for k in range(shape.size):
            acc = acc * shape[k] + int(idx[k * n + j])
        out[j] = acc


@cuda.jit
def _unravel_kernel(flat, shape, out):
    n = flat.size
    for j in range(cuda.grid(1), n, cuda.gridsize(1)):
        v = int(flat[j])
        for k in range(shape.size - 1, 0, -1):
            s = shape[k]
            q = v // s if v >= 0 else -((-v) // s)
            out[k * n + j] = v - q * s
            v = q
        out[j] = v


@cuda.jit
def _histogram_kernel(data, edges, lo, hi, uniform, counts):
    nb = counts.size
    for i in range(cuda.grid(1), data.size, cuda.gridsize(1)):
        x = data[i]
        t = -1
        if uniform:
            if lo <= x <= hi:
                t = min(nb - 1, int((x - lo) * nb / (hi - lo)))
                if x < edges[t]:
                    t -= 1
                if t != nb - 1 and x >= edges[t + 1]:
                    t += 1
        elif edges[0] <= x <= edges[nb]:
            t = 0
            while t <= nb and x >= edges[t]:
                t += 1
            t = min(t - 1, nb - 1)
        if t >= 0:
            cuda.atomic.add(counts, t, 1)


def _launch(kernel, n, *args):
    blocks, threads = grid_1d(n)
    kernel[blocks, threads](*args)


def rows_gather(src, rows, inner, out, accumulate):
    """``out[i, :] (+)= src[rows[i], :]`` (0 where ``rows[i] < 0``; flat device arrays)."""
    check_device_arrays("rows_gather", src=src, rows=rows, out=out)
    _launch(_rows_gather_kernel, rows.size * inner, src, rows, inner, out, accumulate)


def rows_scatter(src, rows, inner, mode, out):
    """``out[rows[i], :] = / += / -= src[i, :]`` (mode 0 / 1 / 2), skipping ``rows[i] < 0``."""
    check_device_arrays("rows_scatter", src=src, rows=rows, out=out)
    _launch(_rows_scatter_kernel, rows.size * inner, src, rows, inner, mode, out)


def ravel(idx, shape, out):
    """Flat indices of the columns of ``idx`` in ``shape`` (device int64 vector)."""
    check_device_arrays("ravel", idx=idx, shape=shape, out=out)
    _launch(_ravel_kernel, out.size, idx, shape, out)


def unravel(flat, shape, out):
    """The multi-indices of ``flat`` in ``shape``, as the rows of ``out``."""
    check_device_arrays("unravel", flat=flat, shape=shape, out=out)
    _launch(_unravel_kernel, flat.size, flat, shape, out)


def histogram(data, edges, lo, hi, uniform, counts):
    """Counts of ``data`` per bin of ``edges`` (int64 ``counts``, zeroed here)."""
    check_device_arrays("histogram", data=data, edges=edges, counts=counts)
    _fill(counts, 0)
    _launch(_histogram_kernel, data.size, data, edges, lo, hi, uniform, counts)
