"""CUDA kernels for sparse storage on ``mx.gpu(i)`` (``ndarray/sparse_gpu.py``): conversions
between dense, ``csr`` and ``row_sparse``, products of a CSR matrix with a dense one, the
row_sparse gradient of an embedding, row merges for elementwise arithmetic, ``retain``,
``square_sum``, and the row gathers/scatters of lazy optimizer updates.

The host functions take numba device arrays (indices int64, values float32/float64) and return
new device arrays where the result's size depends on the data. Launch strategy:

* every size that depends on the data comes from **one block-wide inclusive scan**
  (``_scan_kernel``): each thread scans a contiguous chunk serially, the chunk totals are
  scanned in shared memory (Hillis-Steele, log2(threads) barriers), and each thread adds its
  offset back. The host reads the one total it needs to allocate (as MXNet's GPU kernels do);
* flags over rows (``row_sparse`` stored rows, the rows an embedding batch looked up, the
  columns a CSR batch holds) are marked by one thread per entry (racing writes of the same 1
  are harmless), scanned into positions, and compacted;
* row-walking kernels (``csr @ dense``, CSR merges) run one thread per output element or row,
  grid-stride, sized by ``launch.grid_1d``; scatters into shared rows (``csr.T @ dense``, the
  embedding gradient) add with atomics, so their summation order may differ from the CPU's
  serial loop by float rounding.

numpy twins: ``kernels/reference/sparse.py`` (csr_dot_dense, csr_t_dot_dense,
embedding_rows_grad) and the formulas in tests/test_cuda_sparse_ops.py.
"""
from __future__ import annotations


import numpy as np
from numba import cuda

from .launch import check_device_arrays, grid_1d

__all__ = ["scan_inclusive", "rsp_to_dense", "csr_to_dense", "dense_to_csr", "dense_to_rsp",
           "csr_dot_dense", "csr_t_dot_dense", "embedding_rows_grad", "rsp_elemwise",
           "csr_elemwise", "retain_rows", "square_sum_rows", "square_sum_cols",
           "square_sum_grad", "gather_rows", "scatter_rows", "arange", "shift"]

IDX = np.int64
_SCAN_SHARED = 1024           # the scan's shared chunk totals: at most this many threads

# argument types tests/test_cuda_ptx.py compiles each kernel with ({t}: float32 or float64)
_I, _V, _M = "int64[::1]", "{t}[::1]", "{t}[:, ::1]"
PTX_SIGNATURES = {
    "_scan_kernel": [_I],
    "_compact_kernel": [f"{_I}, {_I}"],
    "_scatter_rows_kernel": [f"{_I}, {_M}, {_M}"],
    "_gather_rows_kernel": [f"{_M}, {_I}, {_M}"],
    "_csr_to_dense_kernel": [f"{_I}, {_I}, {_V}, {_M}"],
    "_row_nnz_kernel": [f"{_M}, {_I}"],
    "_row_any_kernel": [f"{_M}, {_I}"],
    "_csr_fill_kernel": [f"{_M}, {_I}, {_I}, {_V}"],
    "_csr_dot_dense_kernel": [f"{_I}, {_I}, {_V}, {_M}, {_M}"],
    "_mark_kernel": [f"{_I}, {_I}"],
    "_csr_t_dot_kernel": [f"{_I}, {_I}, {_V}, {_M}, {_I}, {_M}"],
    "_mark_lookups_kernel": [f"{_V}, int64, {_I}"],
    "_embedding_grad_kernel": [f"{_V}, {_M}, int64, {_I}, {_M}"],
    "_scatter_at_kernel": [f"{_I}, {_I}, {_M}, {_M}"],
    "_csr_merge_count_kernel": [f"{_I}, {_I}, {_I}, {_I}, boolean, {_I}"],
    "_csr_merge_fill_kernel": [f"{_I}, {_I}, {_V}, {_I}, {_I}, {_V}, int64, {_I}, {_I}, {_V}"],
    "_retain_mark_kernel": [f"{_I}, {_I}, {_I}"],
    "_row_square_sum_kernel": [f"{_M}, {_V}"],
    "_col_square_sum_kernel": [f"{_M}, {_V}"],
    "_square_sum_grad_kernel": [f"{_I}, {_M}, {_V}, int64, {_M}"],
    "_arange_kernel": [_I],
    "_shift_kernel": [f"{_I}, int64, {_I}"],
}


# -- scan and compaction --------------------------------------------------------------------------
@cuda.jit
def _scan_kernel(arr):
    """In-place inclusive prefix sum of ``arr`` by one block (see the module notes)."""
    totals = cuda.shared.array(_SCAN_SHARED, dtype=np.int64)
    tid = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    n = arr.shape[0]
    chunk = (n + nthreads - 1) // nthreads
    lo = min(tid * chunk, n)
    hi = min(lo + chunk, n)
    s = 0
    for i in range(lo, hi):
        s += arr[i]
        arr[i] = s
    totals[tid] = s
    cuda.syncthreads()
    offset = 1
    while offset < nthreads:
        v = totals[tid - offset] if tid >= offset else 0
        cuda.syncthreads()
        totals[tid] += v
        cuda.syncthreads()
        offset *= 2
    add = totals[tid - 1] if tid > 0 else 0
    for i in range(lo, hi):
        arr[i] += add


@cuda.jit
def _compact_kernel(scanned, out):
    """``out[k]`` = the k-th position whose flag is set, from the inclusive scan of 0/1 flags."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, scanned.shape[0], stride):
        before = scanned[i - 1] if i > 0 else 0
        if scanned[i] > before:
            out[before] = i


def scan_inclusive(arr):
    """``arr`` (int64, on the device) replaced by its inclusive prefix sum; returns the total
    (one number read back to the host)."""
    n = arr.shape[0]
    if n == 0:
        return 0
    threads = min(_SCAN_SHARED, grid_1d(n)[1])
    _scan_kernel[1, threads](arr)
    return int(arr[n - 1:n].copy_to_host()[0])


def _compacted(flags):
    """The positions of the set 0/1 ``flags`` (scanned in place into positions + 1)."""
    total = scan_inclusive(flags)
    out = cuda.device_array(total, dtype=IDX)
    if total:
        b, t = grid_1d(flags.shape[0])
        _compact_kernel[b, t](flags, out)
    return out


def _zeros(shape, dtype):
    out = cuda.device_array(shape, dtype=dtype)
    if out.size:
        from .elemwise import fill
        fill(out, 0)
    return out


# -- row gathers and scatters ---------------------------------------------------------------------
@cuda.jit
def _scatter_rows_kernel(rows, values, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = values.shape[1]
    for t in range(start, values.shape[0] * width, stride):
        r = t // width
        out[rows[r], t - r * width] = values[r, t - r * width]


@cuda.jit
def _gather_rows_kernel(src, rows, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = out.shape[1]
    for t in range(start, out.shape[0] * width, stride):
        r = t // width
        out[r, t - r * width] = src[rows[r], t - r * width]


def gather_rows(src, rows, out):
    """``out[r] = src[rows[r]]`` (2-d views: rows × width)."""
    check_device_arrays("gather_rows", src=src, rows=rows, out=out)
    if out.size:
        b, t = grid_1d(out.size)
        _gather_rows_kernel[b, t](src, rows, out)


def scatter_rows(rows, values, out):
    """``out[rows[r]] = values[r]`` (other rows of ``out`` untouched)."""
    check_device_arrays("scatter_rows", rows=rows, values=values, out=out)
    if values.size:
        b, t = grid_1d(values.size)
        _scatter_rows_kernel[b, t](rows, values, out)


@cuda.jit
def _arange_kernel(out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = i


@cuda.jit
def _shift_kernel(src, lo, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        out[i] = src[i] - lo


def arange(n):
    """The int64 device array ``0 .. n-1`` (every row of a row_sparse array)."""
    out = cuda.device_array(n, dtype=IDX)
    if n:
        b, t = grid_1d(n)
        _arange_kernel[b, t](out)
    return out


def shift(src, lo):
    """A new int64 device array ``src - lo`` (the row offsets of a CSR row slice)."""
    out = cuda.device_array(src.shape[0], dtype=IDX)
    if out.size:
        b, t = grid_1d(out.size)
        _shift_kernel[b, t](src, lo, out)
    return out


# -- conversions ----------------------------------------------------------------------------------
@cuda.jit
def _csr_to_dense_kernel(indptr, cols, values, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, out.shape[0], stride):
        for k in range(indptr[i], indptr[i + 1]):
            out[i, cols[k]] = values[k]


@cuda.jit
def _row_nnz_kernel(dense, counts):
    """``counts[i + 1]`` = non-zeros of row ``i`` (``counts[0]`` = 0): scanned, the indptr."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    if start == 0:
        counts[0] = 0
    for i in range(start, dense.shape[0], stride):
        c = 0
        for j in range(dense.shape[1]):
            if dense[i, j] != 0:
                c += 1
        counts[i + 1] = c


@cuda.jit
def _row_any_kernel(dense, flags):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, dense.shape[0], stride):
        f = 0
        for j in range(dense.shape[1]):
            if dense[i, j] != 0:
                f = 1
                break
        flags[i] = f


@cuda.jit
def _csr_fill_kernel(dense, indptr, cols, values):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, dense.shape[0], stride):
        k = indptr[i]
        for j in range(dense.shape[1]):
            if dense[i, j] != 0:
                cols[k] = j
                values[k] = dense[i, j]
                k += 1


def rsp_to_dense(rows, values, out):
    """``out`` (rows × width, any contents) becomes the dense form of a row_sparse array."""
    check_device_arrays("rsp_to_dense", rows=rows, values=values, out=out)
    from .elemwise import fill
    if out.size:
        fill(out, 0)
    scatter_rows(rows, values, out)


def csr_to_dense(indptr, cols, values, out):
    """``out`` (any contents) becomes the dense form of a CSR matrix."""
    check_device_arrays("csr_to_dense", indptr=indptr, cols=cols, values=values, out=out)
    from .elemwise import fill
    if out.size:
        fill(out, 0)
        b, t = grid_1d(out.shape[0])
        _csr_to_dense_kernel[b, t](indptr, cols, values, out)


def dense_to_csr(dense):
    """``(indptr, cols, values)`` of the non-zeros of the 2-d device array ``dense``."""
    check_device_arrays("dense_to_csr", dense=dense)
    n = dense.shape[0]
    indptr = cuda.device_array(n + 1, dtype=IDX)
    b, t = grid_1d(max(n, 1))
    _row_nnz_kernel[b, t](dense, indptr)
    nnz = scan_inclusive(indptr)
    cols = cuda.device_array(nnz, dtype=IDX)
    values = cuda.device_array(nnz, dtype=dense.dtype)
    if nnz:
        _csr_fill_kernel[b, t](dense, indptr, cols, values)
    return indptr, cols, values


def dense_to_rsp(dense):
    """``(rows, values)``: the rows of the 2-d device array ``dense`` holding a non-zero."""
    check_device_arrays("dense_to_rsp", dense=dense)
    flags = cuda.device_array(dense.shape[0], dtype=IDX)
    if dense.shape[0]:
        b, t = grid_1d(dense.shape[0])
        _row_any_kernel[b, t](dense, flags)
    rows = _compacted(flags)
    values = cuda.device_array((rows.shape[0], dense.shape[1]), dtype=dense.dtype)
    gather_rows(dense, rows, values)
    return rows, values


# -- products with a CSR matrix -------------------------------------------------------------------
@cuda.jit
def _csr_dot_dense_kernel(indptr, cols, values, rhs, out):
    """One thread per output element; the non-zeros of a row in order, as the CPU loop."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = out.shape[1]
    for t in range(start, out.shape[0] * width, stride):
        i = t // width
        j = t - i * width
        # accumulated in out itself, in its dtype, as the CPU kernel does (same rounding)
        out[i, j] = 0
        for k in range(indptr[i], indptr[i + 1]):
            out[i, j] += values[k] * rhs[cols[k], j]


@cuda.jit
def _mark_kernel(keys, flags):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, keys.shape[0], stride):
        flags[keys[k]] = 1


@cuda.jit
def _csr_t_dot_kernel(indptr, cols, values, rhs, pos, out):
    """``out[pos[c] - 1] += A[i, c] * rhs[i]``: one thread per (row of A, column of rhs);
    rows of A meet in the same output rows, hence the atomics."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = rhs.shape[1]
    for t in range(start, rhs.shape[0] * width, stride):
        i = t // width
        j = t - i * width
        for k in range(indptr[i], indptr[i + 1]):
            cuda.atomic.add(out, (pos[cols[k]] - 1, j), values[k] * rhs[i, j])


def csr_dot_dense(indptr, cols, values, rhs, out):
    """``out = A @ rhs`` for CSR ``A`` (``rhs``, ``out`` 2-d)."""
    check_device_arrays("csr_dot_dense", indptr=indptr, cols=cols, values=values, rhs=rhs,
                        out=out)
    if out.size:
        b, t = grid_1d(out.size)
        _csr_dot_dense_kernel[b, t](indptr, cols, values, rhs, out)


def csr_t_dot_dense(indptr, cols, values, rhs, ncols):
    """``A.T @ rhs`` as ``(rows, values)`` of a row_sparse result: the rows are the columns
    of the CSR ``A`` (of ``ncols`` columns) that hold a value, sorted."""
    check_device_arrays("csr_t_dot_dense", indptr=indptr, cols=cols, values=values, rhs=rhs)
    flags = _zeros(ncols, IDX)
    if cols.shape[0]:
        b, t = grid_1d(cols.shape[0])
        _mark_kernel[b, t](cols, flags)
    rows = _compacted(flags)
    out = _zeros((rows.shape[0], rhs.shape[1]), rhs.dtype)
    if rows.shape[0] and rhs.size:
        b, t = grid_1d(rhs.size)
        _csr_t_dot_kernel[b, t](indptr, cols, values, rhs, flags, out)
    return rows, out


# -- the row_sparse gradient of an embedding ------------------------------------------------------
@cuda.jit(device=True)
def _row_of(x, n):
    k = int(x)          # truncates toward zero, as the CPU kernel
    return 0 if k < 0 else (n - 1 if k >= n else k)


@cuda.jit
def _mark_lookups_kernel(idx, n, flags):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, idx.shape[0], stride):
        flags[_row_of(idx[i], n)] = 1


@cuda.jit
def _embedding_grad_kernel(idx, dy, n, pos, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = dy.shape[1]
    for t in range(start, dy.shape[0] * width, stride):
        i = t // width
        j = t - i * width
        cuda.atomic.add(out, (pos[_row_of(idx[i], n)] - 1, j), dy[i, j])


def embedding_rows_grad(idx, dy, n):
    """``(rows, values)``: the rows of an ``n``-row embedding that the indices ``idx`` look up
    (truncated, clipped into [0, n)), sorted, and the summed output gradients ``dy`` of each."""
    check_device_arrays("embedding_rows_grad", idx=idx, dy=dy)
    flags = _zeros(n, IDX)
    if idx.shape[0]:
        b, t = grid_1d(idx.shape[0])
        _mark_lookups_kernel[b, t](idx, n, flags)
    rows = _compacted(flags)
    out = _zeros((rows.shape[0], dy.shape[1]), dy.dtype)
    if dy.size:
        b, t = grid_1d(dy.size)
        _embedding_grad_kernel[b, t](idx, dy, n, flags, out)
    return rows, out


# -- elementwise arithmetic that keeps the storage type -------------------------------------------
@cuda.jit
def _scatter_at_kernel(rows, pos, values, out):
    """``out[pos[rows[r]] - 1] = values[r]``: rows placed at their place in a union."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = values.shape[1]
    for t in range(start, values.shape[0] * width, stride):
        r = t // width
        out[pos[rows[r]] - 1, t - r * width] = values[r, t - r * width]


def rsp_elemwise(kind, rows_a, va, rows_b, vb, n):
    """``a (kind) b`` of two row_sparse arrays of ``n`` rows (values 2-d, one dtype): the
    stored rows of the result are the union (as MXNet's row_sparse add, sub and mul)."""
    from .elemwise import binary_forward
    check_device_arrays("rsp_elemwise", rows_a=rows_a, va=va, rows_b=rows_b, vb=vb)
    flags = _zeros(n, IDX)
    for rows in (rows_a, rows_b):
        if rows.shape[0]:
            b, t = grid_1d(rows.shape[0])
            _mark_kernel[b, t](rows, flags)
    rows = _compacted(flags)
    width = va.shape[1]
    full = []
    for rs, v in ((rows_a, va), (rows_b, vb)):
        f = _zeros((rows.shape[0], width), va.dtype)
        if v.size:
            b, t = grid_1d(v.size)
            _scatter_at_kernel[b, t](rs, flags, v, f)
        full.append(f)
    if full[0].size:
        binary_forward(full[0], full[1], full[0], {"add": 0, "sub": 1, "mul": 2}[kind])
    return rows, full[0]


@cuda.jit
def _csr_merge_count_kernel(ia, ca, ib, cb, intersect, counts):
    """``counts[i + 1]``: columns of row ``i`` in the union (or the intersection) of two
    CSR matrices with sorted column indices per row."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    if start == 0:
        counts[0] = 0
    for i in range(start, ia.shape[0] - 1, stride):
        p, q, c = ia[i], ib[i], 0
        while p < ia[i + 1] or q < ib[i + 1]:
            if q == ib[i + 1] or (p < ia[i + 1] and ca[p] < cb[q]):
                c += 0 if intersect else 1
                p += 1
            elif p == ia[i + 1] or cb[q] < ca[p]:
                c += 0 if intersect else 1
                q += 1
            else:
                c += 1
                p += 1
                q += 1
        counts[i + 1] = c


@cuda.jit
def _csr_merge_fill_kernel(ia, ca, va, ib, cb, vb, kind, indptr, cols, values):
    """The merged rows: ``kind`` 0 add, 1 sub (union), 2 mul (intersection)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, ia.shape[0] - 1, stride):
        p, q, k = ia[i], ib[i], indptr[i]
        while p < ia[i + 1] or q < ib[i + 1]:
            if q == ib[i + 1] or (p < ia[i + 1] and ca[p] < cb[q]):
                p += 1
                if kind == 2:
                    continue
                cols[k] = ca[p - 1]
                values[k] = va[p - 1]
            elif p == ia[i + 1] or cb[q] < ca[p]:
                q += 1
                if kind == 2:
                    continue
                cols[k] = cb[q - 1]
                values[k] = vb[q - 1] if kind == 0 else -vb[q - 1]
            else:
                cols[k] = ca[p]
                values[k] = va[p] + vb[q] if kind == 0 else (
                    va[p] - vb[q] if kind == 1 else va[p] * vb[q])
                p += 1
                q += 1
            k += 1


def csr_elemwise(kind, ia, ca, va, ib, cb, vb):
    """``a (kind) b`` of two CSR matrices of one shape (sorted columns within each row):
    ``(indptr, cols, values)``; a product keeps only positions stored in both (MXNet's)."""
    check_device_arrays("csr_elemwise", ia=ia, ca=ca, va=va, ib=ib, cb=cb, vb=vb)
    n = ia.shape[0] - 1
    indptr = cuda.device_array(n + 1, dtype=IDX)
    b, t = grid_1d(max(n, 1))
    _csr_merge_count_kernel[b, t](ia, ca, ib, cb, kind == "mul", indptr)
    nnz = scan_inclusive(indptr)
    cols = cuda.device_array(nnz, dtype=IDX)
    values = cuda.device_array(nnz, dtype=va.dtype)
    if nnz:
        _csr_merge_fill_kernel[b, t](ia, ca, va, ib, cb, vb, {"add": 0, "sub": 1, "mul": 2}[kind],
                                     indptr, cols, values)
    return indptr, cols, values


# -- retain ---------------------------------------------------------------------------------------
@cuda.jit
def _retain_mark_kernel(stored, wanted, keep):
    """``keep[p] = 1`` where ``stored[p]`` (sorted) is one of ``wanted`` (any order):
    a binary search per wanted row."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, wanted.shape[0], stride):
        lo, hi = 0, stored.shape[0]
        while lo < hi:
            mid = (lo + hi) // 2
            if stored[mid] < wanted[j]:
                lo = mid + 1
            else:
                hi = mid
        if lo < stored.shape[0] and stored[lo] == wanted[j]:
            keep[lo] = 1


def retain_rows(rows, values, wanted):
    """``(rows, values)`` of the stored ``rows`` that are among ``wanted`` (int64)."""
    check_device_arrays("retain_rows", rows=rows, values=values, wanted=wanted)
    keep = _zeros(rows.shape[0], IDX)
    if wanted.shape[0] and rows.shape[0]:
        b, t = grid_1d(wanted.shape[0])
        _retain_mark_kernel[b, t](rows, wanted, keep)
    where = _compacted(keep)
    out_rows = cuda.device_array((where.shape[0], 1), dtype=IDX)
    gather_rows(rows.reshape(rows.shape[0], 1), where, out_rows)
    out = cuda.device_array((where.shape[0], values.shape[1]), dtype=values.dtype)
    gather_rows(values, where, out)
    return out_rows.reshape(where.shape[0]), out


# -- square_sum -----------------------------------------------------------------------------------
@cuda.jit
def _row_square_sum_kernel(values, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for r in range(start, values.shape[0], stride):
        out[r] = 0          # accumulated in out's dtype, as numpy sums float32 in float32
        for j in range(values.shape[1]):
            out[r] += values[r, j] * values[r, j]


@cuda.jit
def _col_square_sum_kernel(values, out):
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, values.shape[1], stride):
        out[j] = 0
        for r in range(values.shape[0]):
            out[j] += values[r, j] * values[r, j]


@cuda.jit
def _square_sum_grad_kernel(rows, x, og, axis, out):
    """``out[r, j] = 2 x[r, j] g`` with ``g`` the output gradient of stored row ``rows[r]``
    (``axis`` 1) or of column ``j`` (``axis`` 0)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    width = x.shape[1]
    for t in range(start, x.shape[0] * width, stride):
        r = t // width
        j = t - r * width
        g = og[rows[r]] if axis == 1 else og[j]
        out[r, j] = 2 * x[r, j] * g


def square_sum_rows(values, out):
    """``out[r]`` = sum of squares of stored row ``r``."""
    check_device_arrays("square_sum_rows", values=values, out=out)
    if values.shape[0]:
        b, t = grid_1d(values.shape[0])
        _row_square_sum_kernel[b, t](values, out)


def square_sum_cols(values, out):
    """``out[j]`` = sum of squares of column ``j`` over the stored rows (0 with none)."""
    check_device_arrays("square_sum_cols", values=values, out=out)
    if out.shape[0]:
        b, t = grid_1d(out.shape[0])
        _col_square_sum_kernel[b, t](values, out)


def square_sum_grad(rows, x, og, axis, out):
    """The stored rows of ``_square_sum``'s input gradient (``og`` flat, the output's)."""
    check_device_arrays("square_sum_grad", rows=rows, x=x, og=og, out=out)
    if x.size:
        b, t = grid_1d(x.size)
        _square_sum_grad_kernel[b, t](rows, x, og, axis, out)
