"""Sparse storage on mx.gpu(0) (ndarray/sparse_gpu.py, kernels/cuda/sparse.py) on numba-cuda's
simulator: every array built, converted, copied or retained on the gpu equals the same on
mx.cpu() (stored values and index arrays, not only the dense picture) and the numpy
reference."""
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.ndarray.sparse_gpu import GPUCSRNDArray, GPURowSparseNDArray

pytestmark = pytest.mark.cudasim

GPU, CPU = mx.gpu(0), mx.cpu()
DENSE = np.array([[0, 1.5, 0, 2, 0], [0, 0, 0, 0, 0], [3, 0, -4, 0, 0.25],
                  [0, 0, 0, 0, 7]], np.float32)


def parts(x):
    """The stored parts of a sparse array, as host numpy arrays."""
    out = [x.data.asnumpy(), x.indices.asnumpy()]
    return out + [x.indptr.asnumpy()] if x.stype == "csr" else out


def same_storage(g, c):
    assert g.stype == c.stype and g.shape == c.shape and g.dtype == c.dtype
    for a, b in zip(parts(g), parts(c)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("stype", ["csr", "row_sparse"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tostype_on_the_gpu_stores_what_the_cpu_stores(stype, dtype):
    d = DENSE.astype(dtype)
    g = mx.nd.array(d, ctx=GPU, dtype=dtype).tostype(stype)
    c = mx.nd.array(d, dtype=dtype).tostype(stype)
    assert isinstance(g, GPUCSRNDArray if stype == "csr" else GPURowSparseNDArray)
    assert g.context == GPU and g.data.context == GPU and g.indices.context == GPU
    same_storage(g, c)
    np.testing.assert_array_equal(g.asnumpy(), d)
    back = g.tostype("default")
    assert back.context == GPU and back.stype == "default"
    np.testing.assert_array_equal(back.asnumpy(), d)
    cast = mx.nd.cast_storage(mx.nd.array(d, ctx=GPU, dtype=dtype), stype=stype)
    same_storage(cast, c)


def test_row_sparse_of_3d_rows_and_all_zero_arrays():
    d = np.zeros((4, 2, 3), np.float32)
    d[1, 0, 2], d[3, 1, 1] = 5, -1
    g = mx.nd.array(d, ctx=GPU).tostype("row_sparse")
    np.testing.assert_array_equal(g.indices.asnumpy(), [1, 3])
    np.testing.assert_array_equal(g.asnumpy(), d)
    for stype in ("csr", "row_sparse"):
        z = mx.nd.zeros((3, 4), ctx=GPU).tostype(stype)
        assert z.data.shape[0] == 0 and z.asnumpy().sum() == 0
        same_storage(z, mx.nd.zeros((3, 4)).tostype(stype))


def test_constructors_with_a_gpu_context():
    values, idx = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 3])
    g = mx.nd.sparse.row_sparse_array((values, idx), shape=(5, 3), ctx=GPU)
    c = mx.nd.sparse.row_sparse_array((values, idx), shape=(5, 3))
    assert isinstance(g, GPURowSparseNDArray)
    same_storage(g, c)
    sp = mx.nd.array(DENSE).tostype("csr")
    g = mx.nd.sparse.csr_matrix((sp.data.asnumpy(), sp.indices.asnumpy(), sp.indptr.asnumpy()),
                                shape=DENSE.shape, ctx=GPU)
    assert isinstance(g, GPUCSRNDArray)
    same_storage(g, sp)
    for stype in ("csr", "row_sparse"):
        z = mx.nd.sparse.zeros(stype, (4, 5), ctx=GPU)
        assert z.context == GPU and z.stype == stype
        same_storage(z, mx.nd.sparse.zeros(stype, (4, 5)))
    # from a dense gpu array: converted on the device
    same_storage(mx.nd.sparse.csr_matrix(mx.nd.array(DENSE, ctx=GPU)), sp)
    same_storage(mx.nd.sparse.row_sparse_array(mx.nd.array(DENSE, ctx=GPU)),
                 mx.nd.array(DENSE).tostype("row_sparse"))
    with mx.Context(GPU):
        assert isinstance(mx.nd.sparse.zeros("csr", (2, 2)), GPUCSRNDArray)


@pytest.mark.parametrize("stype", ["csr", "row_sparse"])
def test_copies_both_ways_keep_the_storage(stype):
    c = mx.nd.array(DENSE).tostype(stype)
    g = c.copyto(GPU)
    assert type(g).__name__.startswith("GPU") and g.context == GPU
    same_storage(g, c)
    host = g.as_in_context(CPU)
    assert host.context == CPU and not type(host).__name__.startswith("GPU")
    same_storage(host, c)
    assert g.as_in_context(GPU) is g
    same_storage(g.copy(), c)
    # into existing arrays: sparse targets on the other device, dense targets on either
    target = mx.nd.sparse.zeros(stype, DENSE.shape, ctx=GPU)
    c.copyto(target)
    assert isinstance(target, (GPUCSRNDArray, GPURowSparseNDArray))
    same_storage(target, c)
    target = mx.nd.sparse.zeros(stype, DENSE.shape)
    g.copyto(target)
    same_storage(target, c)
    for ctx in (GPU, CPU):
        dense = mx.nd.zeros(DENSE.shape, ctx=ctx)
        g.copyto(dense)
        np.testing.assert_array_equal(dense.asnumpy(), DENSE)
    g64 = g.astype(np.float64)
    assert g64.dtype == np.float64 and g64.context == GPU
    np.testing.assert_array_equal(g64.asnumpy(), DENSE.astype(np.float64))


@pytest.mark.parametrize("wanted", [[0, 2, 3], [3, 3, 0], [1], []])
def test_retain_on_the_gpu(wanted):
    c = mx.nd.array(DENSE).tostype("row_sparse")
    g = c.copyto(GPU)
    for ids in (mx.nd.array(wanted, ctx=GPU), wanted):
        r = mx.nd.sparse.retain(g, ids)
        assert isinstance(r, GPURowSparseNDArray)
        same_storage(r, mx.nd.sparse.retain(c, mx.nd.array(wanted)))
        ref = np.zeros_like(DENSE)
        keep = sorted(set(wanted) & {0, 2, 3})
        ref[keep] = DENSE[keep]
        np.testing.assert_array_equal(r.asnumpy(), ref)
    same_storage(g.retain(mx.nd.array(wanted, ctx=GPU)), c.retain(mx.nd.array(wanted)))


def test_csr_row_slices_on_the_gpu():
    c = mx.nd.array(DENSE).tostype("csr")
    g = c.copyto(GPU)
    for key in (slice(1, 3), slice(0, 4), 2, -1, slice(2, 2)):
        s = g[key]
        assert isinstance(s, GPUCSRNDArray)
        same_storage(s, c[key])


def test_assignment_and_scalar_arithmetic_on_the_gpu():
    g = mx.nd.sparse.zeros("row_sparse", (3, 2), ctx=GPU)
    g[:] = 0.5          # every row stored, as MXNet's _set_value
    same_storage(g, (lambda c: (c.__setitem__(slice(None), 0.5), c)[1])(
        mx.nd.sparse.zeros("row_sparse", (3, 2))))
    g[:] = mx.nd.array(DENSE[:3, :2], ctx=GPU)
    same_storage(g, mx.nd.array(DENSE[:3, :2]).tostype("row_sparse"))
    c = mx.nd.array(DENSE).tostype("csr")
    gc = c.copyto(GPU)
    for fn in (lambda x: x * 3, lambda x: 2 * x, lambda x: x / 4, lambda x: -x):
        same_storage(fn(gc), fn(c))
    with pytest.raises(mx.base.MXNetError, match="scalar"):
        gc[:] = 1.0


def test_dense_fallback_on_the_gpu_warns_and_stays_on_the_gpu():
    g = mx.nd.array(DENSE, ctx=GPU).tostype("csr")
    with pytest.warns(mx.nd.sparse.StorageFallbackWarning):
        out = mx.nd.exp(g)
    assert out.context == GPU and out.stype == "default"
    np.testing.assert_allclose(out.asnumpy(), np.exp(DENSE), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = mx.nd.sqrt(mx.nd.abs(g))        # zero-preserving: on the stored values
    assert kept.stype == "csr" and kept.context == GPU
    np.testing.assert_allclose(kept.asnumpy(), np.sqrt(np.abs(DENSE)), rtol=1e-6)


def test_cast_between_sparse_types_is_refused_as_mxnet():
    g = mx.nd.array(DENSE, ctx=GPU).tostype("csr")
    with pytest.raises(mx.base.MXNetError, match="not supported"):
        g.tostype("row_sparse")
    with pytest.raises(mx.base.MXNetError, match="2-d"):
        mx.nd.zeros((2, 2, 2), ctx=GPU).tostype("csr")


def test_save_and_health_checks_read_gpu_sparse_arrays(tmp_path):
    """mx.nd.save writes a gpu sparse array's stored parts (with its gpu context, as MXNet
    does); fit's non-finite check reads only the stored values."""
    from mxteach.module import health
    g = mx.nd.array(DENSE, ctx=GPU).tostype("row_sparse")
    c = mx.nd.array(DENSE, ctx=GPU).tostype("csr")
    mx.nd.save(str(tmp_path / "p"), {"g": g, "c": c})
    loaded = mx.nd.load(str(tmp_path / "p"))
    for name, arr in (("g", g), ("c", c)):
        assert loaded[name].stype == arr.stype
        np.testing.assert_array_equal(loaded[name].asnumpy(), DENSE)
    assert health._finite(g) and health._finite(c)
    bad = DENSE.copy()
    bad[2, 0] = np.inf
    assert not health._finite(mx.nd.array(bad, ctx=GPU).tostype("csr"))
