"""numpy twins of ``kernels/cpu/linalg.py`` (the linalg family, ``ops/linalg.py`` and
``ops/linalg_factor.py``): the same names, signatures and layouts, written with numpy's own
linear algebra so the tests can trust them.

Layouts: ``gemm`` takes 4-d arrays (pre, rows, mid, cols), the matrix axes at 1 and 3 (MXNet's
``axis`` puts the rows anywhere before the last axis); everything else takes stacks of matrices
(batch, rows, cols) and vectors (batch, n).
"""
from __future__ import annotations

import numpy as np

__all__ = ["gemm", "triangle", "lower_to_upper", "trsm", "potrf", "lu", "lu_inverse", "lu_det",
           "sumlogdiag", "diag_grad", "scaled_transpose", "gelqf", "axpy", "syevd",
           "syevd_mid"]


def _op4(a, t):
    """op(a) of a 4-d (pre, r, mid, c) array as (pre, mid, r', c') stacks for matmul."""
    m = np.moveaxis(a, 2, 1)
    return np.swapaxes(m, -1, -2) if t else m


def gemm(a, b, c, ta, tb, alpha, beta, out):
    """``out = alpha * op(a) @ op(b) + beta * c`` (``c`` unread when ``beta == 0``)."""
    prod = np.moveaxis(np.matmul(_op4(a, ta).astype(np.float64), _op4(b, tb)), 1, 2)
    value = alpha * prod
    if beta != 0:
        value = value + beta * c
    out[...] = value


def _mask(n, m, lower):
    return np.tril(np.ones((n, m), bool)) if lower else np.triu(np.ones((n, m), bool))


def triangle(a, lower, alpha, accumulate, out):
    """``out (+)= alpha * a`` on the lower (upper) triangle with the diagonal; elsewhere 0."""
    value = np.where(_mask(a.shape[1], a.shape[2], lower), alpha * a, 0)
    if accumulate:
        out += value
    else:
        out[...] = value


def lower_to_upper(a):
    """In place: the strict upper triangle becomes the mirror of the strict lower one."""
    low = np.tril(a, -1)
    a[...] = np.tril(a) + np.swapaxes(low, -1, -2)


def trsm(a, b, transpose, rightside, lower, alpha, out):
    """``out = alpha * op(T)^-1 b`` (``rightside``: ``alpha * b op(T)^-1``); T is the lower
    (upper) triangle of ``a``, op transposes when ``transpose``."""
    t = np.where(_mask(a.shape[1], a.shape[2], lower), a, 0)
    m = np.swapaxes(t, -1, -2) if transpose else t
    if rightside:
        x = np.swapaxes(np.linalg.solve(np.swapaxes(m, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    else:
        x = np.linalg.solve(m, b)
    out[...] = alpha * x


def potrf(a, out, info):
    """Cholesky factor (lower) of each matrix, from its lower triangle; ``info[k]`` is 0, or
    1 + the first column where the matrix is not positive definite."""
    for k in range(a.shape[0]):
        low = np.tril(a[k])
        sym = low + np.tril(low, -1).T
        try:
            out[k] = np.linalg.cholesky(sym)
            info[k] = 0
        except np.linalg.LinAlgError:
            d = np.linalg.eigvalsh(sym)
            info[k] = 1 + int(np.argmax(d <= 0)) if (d <= 0).any() else 1


def lu(a, out, piv):
    """LU with partial pivoting, packed into ``out`` (unit lower L below the diagonal, U on and
    above); ``piv[k, i]`` is the row swapped with row i at step i (LAPACK's getrf)."""
    out[...] = a
    n = a.shape[1]
    for k in range(a.shape[0]):
        m = out[k]
        for i in range(n):
            p = i + int(np.argmax(np.abs(m[i:, i])))
            piv[k, i] = p
            if p != i:
                m[[i, p]] = m[[p, i]]
            if m[i, i] != 0:
                m[i + 1:, i] /= m[i, i]
                m[i + 1:, i + 1:] -= np.outer(m[i + 1:, i], m[i, i + 1:])


def _unpack(lu_k, piv_k):
    n = lu_k.shape[0]
    low = np.tril(lu_k, -1) + np.eye(n)
    up = np.triu(lu_k)
    perm = np.arange(n)
    for i in range(n):
        p = piv_k[i]
        perm[[i, p]] = perm[[p, i]]
    return low, up, perm


def lu_inverse(lu_, piv, out):
    """The inverse of each matrix from its packed LU and pivots."""
    for k in range(lu_.shape[0]):
        low, up, perm = _unpack(lu_[k], piv[k])
        if np.all(np.diag(up) != 0):         # A = P^T L U, so A^-1 = (LU)^-1 P
            out[k] = np.linalg.inv(low @ up) @ np.eye(len(perm))[perm]
        else:
            out[k] = np.nan                  # a zero pivot: no inverse


def lu_det(lu_, piv, det, sign, logabs):
    """Determinant, its sign and log|det| of each matrix from its packed LU and pivots."""
    n = lu_.shape[1]
    d = np.diagonal(lu_, axis1=1, axis2=2)
    swaps = (piv != np.arange(n)[None, :]).sum(axis=1)
    s = np.where(swaps % 2 == 1, -1.0, 1.0) * np.prod(np.sign(d), axis=1)
    det[...] = np.where(swaps % 2 == 1, -1.0, 1.0) * np.prod(d, axis=1)
    sign[...] = s
    with np.errstate(divide="ignore"):
        logabs[...] = np.sum(np.log(np.abs(d)), axis=1)


def sumlogdiag(a, out):
    """``out[k] = sum_i log a[k, i, i]``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out[...] = np.sum(np.log(np.diagonal(a, axis1=1, axis2=2)), axis=1)


def diag_grad(a, g, accumulate, out):
    """Gradient of sumlogdiag: ``g[k] / a[k, i, i]`` on the diagonal, 0 elsewhere."""
    n = a.shape[1]
    value = np.eye(n)[None] * (g[:, None] / np.diagonal(a, axis1=1, axis2=2))[:, :, None]
    if accumulate:
        out += value
    else:
        out[...] = value


def scaled_transpose(a, s1, s2, gate, accumulate, out):
    """``out[k] (+)= s1[k] * s2[k] * a[k].T``, 0 where ``gate[k] == 0`` (det's gradient
    g * det * inverse^T, none for a singular matrix as in MXNet)."""
    with np.errstate(invalid="ignore"):
        value = np.where((gate != 0)[:, None, None],
                         (s1 * s2)[:, None, None] * np.swapaxes(a, 1, 2), 0)
    if accumulate:
        out += value
    else:
        out[...] = value


def gelqf(a, work, tau, q, l):
    """LQ factorisation ``a = l @ q`` (m <= n) by Householder reflections as LAPACK's gelqf and
    orglq: ``q`` has orthonormal rows, ``l`` is lower triangular (its diagonal may be negative).
    ``work`` and ``tau`` are scratch (the reflectors)."""
    work[...] = a
    bsz, m, n = a.shape
    for k in range(bsz):
        w = work[k]
        vs = []
        for i in range(m):
            alpha, x = w[i, i], w[i, i + 1:].copy()
            xnorm = np.linalg.norm(x)
            v = np.zeros(n)
            v[i] = 1.0
            if xnorm == 0:
                t = 0.0
            else:
                beta = -np.copysign(np.hypot(alpha, xnorm), alpha)
                t = (beta - alpha) / beta
                v[i + 1:] = x / (alpha - beta)
            tau[k, i] = t
            w[i:] -= t * np.outer(w[i:] @ v, v)
            vs.append(v)
        l[k] = np.tril(w[:, :m])
        qk = np.eye(m, n)
        for i in reversed(range(m)):
            qk -= tau[k, i] * np.outer(qk @ vs[i], vs[i])
        q[k] = qk


def axpy(x, alpha, accumulate, out):
    """``out (+)= alpha * x`` (1-d): how results and gradients are stored or added."""
    if accumulate:
        out += alpha * x
    else:
        out[...] = alpha * x


def syevd(a, w, v, u, lam):
    """Eigenvalues ``lam`` (ascending) and eigenvectors (the rows of ``u``) of the symmetric
    matrices whose lower triangle ``a`` holds; each row's largest entry (the first of equals)
    is made positive, as MXNet's syevd. ``w`` and ``v`` are scratch."""
    low = np.tril(a)
    sym = low + np.swapaxes(np.tril(a, -1), -1, -2)
    vals, vecs = np.linalg.eigh(sym)
    rows = np.swapaxes(vecs, -1, -2)
    big = np.take_along_axis(rows, np.argmax(np.abs(rows), axis=-1)[..., None], axis=-1)
    u[...] = np.where(big < 0, -rows, rows)
    lam[...] = vals


def syevd_mid(x, lam, glam, eps, out):
    """The middle factor of syevd's gradient: ``out[i, j] = out[j, i] = (x[i, j] - x[j, i]) /
    (2 max(lam[i] - lam[j], eps))`` below the diagonal, ``glam[i]`` on it."""
    n = x.shape[1]
    diff = lam[:, :, None] - lam[:, None, :]
    value = (x - np.swapaxes(x, 1, 2)) / (2 * np.maximum(diff, eps))
    low = np.tril(value, -1)
    out[...] = low + np.swapaxes(low, 1, 2) + glam[:, :, None] * np.eye(n)
