"""CUDA twins of ``kernels/cpu/im2col.py``: ``im2col`` one thread per column element,
``col2im`` one thread per column element adding into the image with ``cuda.atomic.add``
(overlapping blocks read one pixel several times), ``cumsum`` one thread per line along the axis,
``slab_copy`` and ``khatri_rao`` one thread per written element. The loop bodies are
deliberate twins of ``kernels/cpu/im2col.py`` (one thread per iteration of the CPU loops)."""
from __future__ import annotations

from numba import cuda

from ..cpu.im2col import _source as _cpu_source
from .elemwise import fill as _fill
from .launch import grid_1d, check_device_arrays

__all__ = ["im2col", "col2im", "cumsum", "slab_copy", "khatri_rao"]

# Argument types for the PTX compilation test (tests/test_cuda_ptx.py); {t}: float32/float64.
PTX_SIGNATURES = {
    "_im2col_kernel": ["{t}[::1], int64[::1], {t}[::1], boolean"],
    "_col2im_kernel": ["{t}[::1], int64[::1], {t}[::1]"],
    "_cumsum_kernel": ["{t}[::1], int64[::1], boolean, {t}[::1], boolean"],
    "_slab_copy_kernel": ["{t}[::1], {t}[::1], int64[::1], boolean"],
    "_khatri_rao_kernel": ["{t}[:, ::1], {t}[:, ::1], {t}[:, ::1]"],
}


# the position arithmetic is the CPU kernels' own function, compiled for the device
_source = cuda.jit(device=True, inline=True)(_cpu_source.py_func)


@cuda.jit
def _im2col_kernel(img, g, col, accumulate):
    for i in range(cuda.grid(1), col.size, cuda.gridsize(1)):
        j = _source(i, g)
        v = img[j] if j >= 0 else 0
        if accumulate:
            col[i] += v
        else:
            col[i] = v


@cuda.jit
def _col2im_kernel(col, g, img):
    for i in range(cuda.grid(1), col.size, cuda.gridsize(1)):
        j = _source(i, g)
        if j >= 0:
            cuda.atomic.add(img, j, col[i])


@cuda.jit
def _cumsum_kernel(x, dims, reverse, out, accumulate):
    n, inner = dims[1], dims[2]
    for line in range(cuda.grid(1), dims[0] * inner, cuda.gridsize(1)):
        base = (line // inner) * n * inner + line % inner
        acc = x[base] * 0
        for t in range(n):
            k = base + ((n - 1 - t) if reverse else t) * inner
            acc += x[k]
            if accumulate:
                out[k] += acc
            else:
                out[k] = acc


@cuda.jit
def _slab_copy_kernel(src, dst, d, accumulate):
    inner, n_src, sb, n_dst, db, count = d[1], d[2], d[3], d[4], d[5], d[6]
    for i in range(cuda.grid(1), d[0] * count * inner, cuda.gridsize(1)):
        o = i // (count * inner)
        r = i % (count * inner)
        t = r // inner
        k = r % inner
        v = src[(o * n_src + sb + t) * inner + k]
        j = (o * n_dst + db + t) * inner + k
        if accumulate:
            dst[j] += v
        else:
            dst[j] = v


@cuda.jit
def _khatri_rao_kernel(a, b, out):
    nb, k = b.shape[0], b.shape[1]
    for e in range(cuda.grid(1), out.shape[0] * k, cuda.gridsize(1)):
        row, c = e // k, e % k
        out[row, c] = a[row // nb, c] * b[row % nb, c]


def _launch(kernel, n, *args):
    blocks, threads = grid_1d(n)
    kernel[blocks, threads](*args)


def im2col(img, g, col, accumulate):
    """Column element ``i`` (+)= the image element it reads (1-D device arrays; ``g`` on the
    device, see ``kernels/cpu/im2col.py``)."""
    check_device_arrays("im2col", img=img, col=col)
    _launch(_im2col_kernel, col.size, img, g, col, accumulate)


def col2im(col, g, img, accumulate):
    """The adjoint of :func:`im2col` (``img`` zeroed first unless ``accumulate``)."""
    check_device_arrays("col2im", col=col, img=img)
    if not accumulate:
        _fill(img, 0)
    _launch(_col2im_kernel, col.size, col, g, img)


def cumsum(x, dims, reverse, out, accumulate):
    """Running sums along the middle axis of ``x`` seen as ``(outer, n, inner)``."""
    check_device_arrays("cumsum", x=x, out=out)
    host = dims.copy_to_host()
    _launch(_cumsum_kernel, int(host[0] * host[2]), x, dims, reverse, out, accumulate)


def slab_copy(src, dst, d, accumulate):
    """``dst[o, db:db+count, k] (+)= src[o, sb:sb+count, k]``."""
    check_device_arrays("slab_copy", src=src, dst=dst)
    host = d.copy_to_host()
    _launch(_slab_copy_kernel, int(host[0] * host[6] * host[1]), src, dst, d, accumulate)


def khatri_rao(a, b, out):
    """``out[i * nb + j, c] = a[i, c] * b[j, c]`` (2-D device arrays)."""
    check_device_arrays("khatri_rao", a=a, b=b, out=out)
    _launch(_khatri_rao_kernel, out.size, a, b, out)
