"""Sparse operators on mx.gpu(0) with CUDA kernels (kernels/cuda/sparse.py), on numba-cuda's
simulator: dot with csr operands, elementwise arithmetic that keeps sparsity, square_sum and
the kernels' building blocks, each equal to mx.cpu() (the same stored rows / non-zeros) and
to numpy."""
import warnings

import numpy as np
import pytest
from numba.core import config

import mxteach as mx
from mxteach.ndarray.sparse_gpu import GPUCSRNDArray, GPURowSparseNDArray

pytestmark = pytest.mark.cudasim
if config.ENABLE_CUDASIM:
    from numba import cuda
    from mxteach.kernels.cuda import launch
    from mxteach.kernels.cuda import sparse as KC

GPU = mx.gpu(0)


def sparse_matrix(shape, density, seed, dtype=np.float32):
    rng = np.random.RandomState(seed)
    return ((rng.rand(*shape) < density) * rng.uniform(-2, 2, shape)).astype(dtype)


def stored(x):
    out = [x.data.asnumpy(), x.indices.asnumpy()]
    return out + [x.indptr.asnumpy()] if x.stype == "csr" else out


def close_storage(g, c, rtol=1e-6, atol=1e-6):
    assert g.stype == c.stype and g.shape == c.shape and g.context == GPU
    gp, cp = stored(g), stored(c)
    np.testing.assert_allclose(gp[0], cp[0], rtol=rtol, atol=atol)
    for a, b in zip(gp[1:], cp[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_csr_dense_on_the_gpu(dtype):
    a = sparse_matrix((6, 8), 0.3, 1, dtype)
    b = np.random.RandomState(2).randn(8, 5).astype(dtype)
    csr_g = mx.nd.array(a, ctx=GPU, dtype=dtype).tostype("csr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no storage fallback on this path
        out = mx.nd.sparse.dot(csr_g, mx.nd.array(b, ctx=GPU, dtype=dtype))
        out_nd = mx.nd.dot(csr_g, mx.nd.array(b, ctx=GPU, dtype=dtype))
    cpu = mx.nd.sparse.dot(mx.nd.array(a, dtype=dtype).tostype("csr"), mx.nd.array(b, dtype=dtype))
    assert out.stype == "default" and out.context == GPU and out.dtype == dtype
    np.testing.assert_array_equal(out.asnumpy(), cpu.asnumpy())     # same order of sums
    np.testing.assert_array_equal(out_nd.asnumpy(), cpu.asnumpy())
    np.testing.assert_allclose(out.asnumpy(), a @ b, rtol=1e-5, atol=1e-5)
    bt = mx.nd.array(np.ascontiguousarray(b.T), ctx=GPU, dtype=dtype)
    np.testing.assert_allclose(mx.nd.sparse.dot(csr_g, bt, transpose_b=True).asnumpy(), a @ b,
                               rtol=1e-5, atol=1e-5)


def test_dot_csr_transposed_gives_row_sparse_on_the_gpu():
    a = sparse_matrix((5, 9), 0.2, 3)
    a[:, 4] = 0                               # a column no row holds: not stored
    b = np.random.RandomState(4).randn(5, 3).astype(np.float32)
    out = mx.nd.sparse.dot(mx.nd.array(a, ctx=GPU).tostype("csr"), mx.nd.array(b, ctx=GPU),
                           transpose_a=True)
    cpu = mx.nd.sparse.dot(mx.nd.array(a).tostype("csr"), mx.nd.array(b), transpose_a=True)
    assert isinstance(out, GPURowSparseNDArray)
    close_storage(out, cpu, rtol=1e-5, atol=1e-6)
    assert 4 not in out.indices.asnumpy()
    np.testing.assert_allclose(out.asnumpy(), a.T @ b, rtol=1e-5, atol=1e-6)


def test_dot_dense_csr_on_the_gpu():
    a = np.random.RandomState(5).randn(3, 6).astype(np.float32)
    b = sparse_matrix((6, 4), 0.4, 6)
    out = mx.nd.dot(mx.nd.array(a, ctx=GPU), mx.nd.array(b, ctx=GPU).tostype("csr"))
    assert out.stype == "default" and out.context == GPU
    np.testing.assert_allclose(out.asnumpy(), a @ b, rtol=1e-5, atol=1e-6)


def test_dot_refuses_operands_on_two_devices():
    csr = mx.nd.array(np.eye(3, dtype=np.float32), ctx=GPU).tostype("csr")
    with pytest.raises(mx.base.MXNetError, match="different devices"):
        mx.nd.sparse.dot(csr, mx.nd.ones((3, 2)))


@pytest.mark.parametrize("stype", ["csr", "row_sparse"])
@pytest.mark.parametrize("kind", ["add", "sub", "mul"])
def test_elemwise_keeps_the_storage_type_on_the_gpu(stype, kind):
    a, b = sparse_matrix((6, 5), 0.35, 7), sparse_matrix((6, 5), 0.35, 8)
    a[2], b[4] = 0, 0                          # a row only one side stores
    fn = getattr(mx.nd.sparse, f"elemwise_{kind}")
    ga, gb = (mx.nd.array(x, ctx=GPU).tostype(stype) for x in (a, b))
    ca, cb = (mx.nd.array(x).tostype(stype) for x in (a, b))
    out = fn(ga, gb)
    assert isinstance(out, GPUCSRNDArray if stype == "csr" else GPURowSparseNDArray)
    close_storage(out, fn(ca, cb))
    ref = {"add": a + b, "sub": a - b, "mul": a * b}[kind]
    np.testing.assert_allclose(out.asnumpy(), ref, rtol=1e-6)
    op = {"add": "__add__", "sub": "__sub__", "mul": "__mul__"}[kind]
    close_storage(getattr(ga, op)(gb), getattr(ca, op)(cb))
    nd_fn = getattr(mx.nd, f"elemwise_{kind}")
    close_storage(nd_fn(ga, gb), nd_fn(ca, cb))


@pytest.mark.parametrize("axis,keepdims", [(1, True), (1, False), (0, False), (0, True)])
def test_square_sum_on_the_gpu(axis, keepdims):
    x = sparse_matrix((7, 4), 0.3, 9)
    x[3] = 0
    g = mx.nd.sparse.square_sum(mx.nd.array(x, ctx=GPU).tostype("row_sparse"), axis=axis,
                                keepdims=keepdims)
    c = mx.nd.sparse.square_sum(mx.nd.array(x).tostype("row_sparse"), axis=axis,
                                keepdims=keepdims)
    assert g.stype == c.stype and g.context == GPU and g.shape == c.shape
    if g.stype == "row_sparse":
        close_storage(g, c)
    np.testing.assert_allclose(g.asnumpy(), (x * x).sum(axis=axis, keepdims=keepdims),
                               rtol=1e-6)


@pytest.mark.parametrize("n,threads", [(1, 32), (37, 4), (300, 32), (5, 8)])
def test_block_scan_equals_cumsum(n, threads):
    x = np.random.RandomState(n).randint(0, 3, n).astype(np.int64)
    d = cuda.to_device(x)
    with launch.policy({"threads_1d": threads}):
        total = KC.scan_inclusive(d)
    np.testing.assert_array_equal(d.copy_to_host(), np.cumsum(x))
    assert total == x.sum()


def test_kernels_on_several_blocks_equal_numpy():
    """The grid-stride kernels with several small blocks (the real-GPU shape of a launch)."""
    from mxteach.kernels.reference import sparse as ref
    a = sparse_matrix((9, 7), 0.3, 11)
    b = np.random.RandomState(12).randn(9, 3).astype(np.float32)
    with launch.policy({"threads_1d": 4, "max_blocks_1d": 3}):
        indptr, cols, values = KC.dense_to_csr(cuda.to_device(a))
        rows, out = KC.csr_t_dot_dense(indptr, cols, values, cuda.to_device(b), 7)
        idx = np.array([3, 0, 3, 8, 12, -1], np.float32)      # clipped as the CPU does
        dy = np.random.RandomState(13).randn(6, 2).astype(np.float32)
        e_rows, e_vals = KC.embedding_rows_grad(cuda.to_device(idx), cuda.to_device(dy), 9)
    want = np.empty((7, 3), np.float32)
    touched = np.empty(7, np.int8)
    host = [x.copy_to_host() for x in (indptr, cols, values)]
    ref.csr_t_dot_dense(*host, b, want, touched)
    np.testing.assert_array_equal(rows.copy_to_host(), np.nonzero(touched)[0])
    np.testing.assert_allclose(out.copy_to_host(), want[np.nonzero(touched)[0]], rtol=1e-5,
                               atol=1e-6)
    r_rows, r_vals = np.empty(6, np.int64), np.empty((6, 2), np.float32)
    used = ref.embedding_rows_grad(idx.astype(np.float64), dy, 9, r_rows, r_vals)
    np.testing.assert_array_equal(e_rows.copy_to_host(), r_rows[:used])
    np.testing.assert_allclose(e_vals.copy_to_host(), r_vals[:used], rtol=1e-6)
