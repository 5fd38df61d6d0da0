"""numpy twins of ``kernels/cpu/im2col.py`` (same names, flat arrays and shape vectors): the
tests trust these."""
from __future__ import annotations

import numpy as np

__all__ = ["im2col", "col2im", "cumsum", "slab_copy", "source_map"]


def source_map(g, size):
    """For every column element, the flat image position it reads (-1 in the padding)."""
    n, c, d, h, w, kd, kh, kw, od, oh, ow = (int(v) for v in g[:11])
    st, dl, pd = g[11:14], g[14:17], g[17:20]
    idx = np.indices((n * c, kd, kh, kw, od, oh, ow)).reshape(7, -1)
    z = idx[4] * st[0] + idx[1] * dl[0] - pd[0]
    y = idx[5] * st[1] + idx[2] * dl[1] - pd[1]
    x = idx[6] * st[2] + idx[3] * dl[2] - pd[2]
    ok = (z >= 0) & (z < d) & (y >= 0) & (y < h) & (x >= 0) & (x < w)
    flat = ((idx[0] * d + z) * h + y) * w + x
    assert flat.size == size
    return np.where(ok, flat, -1)


def im2col(img, g, col, accumulate):
    src = source_map(g, col.size)
    v = np.where(src >= 0, img[np.maximum(src, 0)], 0).astype(col.dtype)
    col[...] = col + v if accumulate else v


def col2im(col, g, img, accumulate):
    src = source_map(g, col.size)
    if not accumulate:
        img[...] = 0
    keep = src >= 0
    np.add.at(img, src[keep], col[keep])


def cumsum(x, dims, reverse, out, accumulate):
    a = x.reshape(tuple(int(v) for v in dims))
    s = np.flip(np.cumsum(np.flip(a, 1), 1), 1) if reverse else np.cumsum(a, 1)
    s = s.reshape(-1).astype(out.dtype)
    out[...] = out + s if accumulate else s


def slab_copy(src, dst, d, accumulate):
    outer, inner, n_src, sb, n_dst, db, count = (int(v) for v in d)
    v = src.reshape(outer, n_src, inner)[:, sb:sb + count]
    view = dst.reshape(outer, n_dst, inner)[:, db:db + count]
    view[...] = view + v if accumulate else v


def khatri_rao(a, b, out):
    out[...] = (a[:, None, :] * b[None, :, :]).reshape(out.shape)
