"""Numba CPU kernels of the im2col family (``ops/im2col.py``): sliding blocks (``im2col``) and
their adjoint (``col2im``), running sums along an axis (``cumsum``), the copy of a range of
one axis (``split_v2``) and the column-wise Kronecker product (``khatri_rao``).

Arrays are flat (1-D, C order); the shapes travel in small int64 arrays, so one kernel serves 1-,
2- and 3-D images and any axis. ``geometry`` (20 entries) describes an image of shape
``(N, C, D, H, W)`` seen through a ``(KD, KH, KW)`` kernel at ``(OD, OH, OW)`` positions:
``N, C, D, H, W, KD, KH, KW, OD, OH, OW, stride(3), dilate(3), pad(3)``. The column array is
``(N, C, KD, KH, KW, OD, OH, OW)`` in C order, which is MXNet's ``(N, C*K, L)``. numpy twins:
``kernels/reference/im2col.py``.
"""
from __future__ import annotations

from numba import njit, prange

__all__ = ["im2col", "col2im", "cumsum", "slab_copy", "khatri_rao"]


@njit(cache=True, inline="always")
def _source(i, g):
    """Flat image position read by column element ``i``, or -1 where it falls in the padding."""
    ow = i % g[10]
    r = i // g[10]
    oh = r % g[9]
    r //= g[9]
    od = r % g[8]
    r //= g[8]
    kw = r % g[7]
    r //= g[7]
    kh = r % g[6]
    r //= g[6]
    kd = r % g[5]
    nc = r // g[5]
    z = od * g[11] + kd * g[14] - g[17]
    y = oh * g[12] + kh * g[15] - g[18]
    x = ow * g[13] + kw * g[16] - g[19]
    if z < 0 or z >= g[2] or y < 0 or y >= g[3] or x < 0 or x >= g[4]:
        return -1
    return ((nc * g[2] + z) * g[3] + y) * g[4] + x


@njit(cache=True, parallel=True)
def im2col(img, g, col, accumulate):
    """``col[i] (+)= img[source(i)]`` (0 in the padding)."""
    for i in prange(col.size):
        j = _source(i, g)
        v = img[j] if j >= 0 else 0
        if accumulate:
            col[i] += v
        else:
            col[i] = v


@njit(cache=True, parallel=True)
def col2im(col, g, img, accumulate):
    """The adjoint of :func:`im2col`: every column element adds into the image position it was
    read from (``img`` zeroed first unless ``accumulate``). The columns of one (n, c) plane
    touch only that plane, so the planes run in parallel without races."""
    plane = g[2] * g[3] * g[4]
    per = col.size // max(1, g[0] * g[1])
    for nc in prange(g[0] * g[1]):
        if not accumulate:
            for j in range(nc * plane, (nc + 1) * plane):
                img[j] = 0
        for i in range(nc * per, (nc + 1) * per):
            j = _source(i, g)
            if j >= 0:
                img[j] += col[i]


@njit(cache=True, parallel=True)
def cumsum(x, dims, reverse, out, accumulate):
    """Running sums along the middle axis of ``x`` seen as ``dims = (outer, n, inner)``;
    ``reverse`` sums from the end (the gradient of a forward cumsum)."""
    outer, n, inner = dims[0], dims[1], dims[2]
    for line in prange(outer * inner):
        base = (line // inner) * n * inner + line % inner
        acc = x[base] * 0       # a zero of x's dtype (the caller casts x to out's dtype)
        for t in range(n):
            k = base + ((n - 1 - t) if reverse else t) * inner
            acc += x[k]
            if accumulate:
                out[k] += acc
            else:
                out[k] = acc


@njit(cache=True, parallel=True)
def slab_copy(src, dst, d, accumulate):
    """``dst[o, db:db+count, k] (+)= src[o, sb:sb+count, k]`` with
    ``d = (outer, inner, n_src, sb, n_dst, db, count)``."""
    outer, inner, n_src, sb, n_dst, db, count = d[0], d[1], d[2], d[3], d[4], d[5], d[6]
    for i in prange(outer * count * inner):
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


@njit(cache=True, parallel=True)
def khatri_rao(a, b, out):
    """``out[i * nb + j, c] = a[i, c] * b[j, c]`` (2-D arrays with the same columns)."""
    na, nb, k = a.shape[0], b.shape[0], a.shape[1]
    for i in prange(na):
        for j in range(nb):
            for c in range(k):
                out[i * nb + j, c] = a[i, c] * b[j, c]
