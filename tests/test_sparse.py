"""Sparse storage (row_sparse, csr): construction, conversion, the operators that keep sparsity,
storage fallback, files — against numpy and real MXNet 1.9.1."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from numba.core import config as numba_config

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.kernels.cpu import sparse as K
from mxteach.kernels.reference import sparse as R
from mxteach.ndarray.sparse import StorageFallbackWarning

from oracle import run_oracle

DENSE = np.array([[0, 1, 0], [2, 0, 3], [0, 0, 0], [4, 0, 0]], np.float32)


def _rand_sparse(rng, shape, density=0.3, dtype=np.float32):
    d = rng.standard_normal(shape).astype(dtype)
    d[rng.random(shape) > density] = 0
    return d


def test_csr_parts_and_round_trip():
    c = mx.nd.sparse.csr_matrix(DENSE)
    assert c.stype == "csr" and c.shape == (4, 3) and c.dtype == np.float32
    np.testing.assert_array_equal(c.data.asnumpy(), [1, 2, 3, 4])
    np.testing.assert_array_equal(c.indices.asnumpy(), [1, 0, 2, 0])
    np.testing.assert_array_equal(c.indptr.asnumpy(), [0, 1, 3, 3, 4])
    assert c.indices.dtype == np.int64 and c.indptr.dtype == np.int64
    np.testing.assert_array_equal(c.asnumpy(), DENSE)
    np.testing.assert_array_equal(c.tostype("default").asnumpy(), DENSE)
    assert c.tostype("default").stype == "default"
    assert mx.nd.array(DENSE).tostype("csr").stype == "csr"
    again = mx.nd.sparse.csr_matrix((c.data, c.indices, c.indptr), shape=(4, 3))
    np.testing.assert_array_equal(again.asnumpy(), DENSE)
    coo = mx.nd.sparse.csr_matrix(([5.0, 6.0], ([0, 2], [1, 1])), shape=(3, 2))
    np.testing.assert_array_equal(coo.asnumpy(), [[0, 5], [0, 0], [0, 6]])
    assert repr(c).strip() == "<CSRNDArray 4x3 @cpu(0)>"


def test_row_sparse_parts_and_round_trip():
    r = mx.nd.sparse.row_sparse_array(DENSE)
    np.testing.assert_array_equal(r.indices.asnumpy(), [0, 1, 3])
    np.testing.assert_array_equal(r.data.asnumpy(), DENSE[[0, 1, 3]])
    r2 = mx.nd.sparse.row_sparse_array(([[1, 2], [3, 4]], [0, 2]), shape=(4, 2))
    np.testing.assert_array_equal(r2.asnumpy(), [[1, 2], [0, 0], [3, 4], [0, 0]])
    z = mx.nd.sparse.zeros("row_sparse", (3, 2))
    assert z.data.shape == (0, 2) and z.indices.shape == (0,)
    assert mx.nd.sparse.zeros("csr", (2, 3)).indptr.asnumpy().tolist() == [0, 0, 0]


def test_bad_parts_raise_clear_errors():
    with pytest.raises(MXNetError, match="indptr"):
        mx.nd.sparse.csr_matrix(([1.0], [0], [0, 2]), shape=(1, 2))
    with pytest.raises(MXNetError, match="column indices"):
        mx.nd.sparse.csr_matrix(([1.0], [5], [0, 1]), shape=(1, 2))
    with pytest.raises(MXNetError, match="strictly increasing"):
        mx.nd.sparse.row_sparse_array(([[1.0], [2.0]], [2, 1]), shape=(3, 1))
    with pytest.raises(MXNetError, match="not supported"):
        mx.nd.sparse.csr_matrix(DENSE).tostype("row_sparse")
    if not numba_config.ENABLE_CUDASIM:     # without a gpu; gpu sparse: test_cuda_sparse_*.py
        with pytest.raises(MXNetError, match="no CUDA device"):
            mx.nd.sparse.csr_matrix(DENSE).copyto(mx.gpu(0))


def test_csr_row_slices_stay_csr():
    c = mx.nd.sparse.csr_matrix(DENSE)
    s = c[1:3]
    assert s.stype == "csr" and s.shape == (2, 3)
    np.testing.assert_array_equal(s.asnumpy(), DENSE[1:3])
    np.testing.assert_array_equal(s.indptr.asnumpy(), [0, 2, 2])
    np.testing.assert_array_equal(c[-1].asnumpy(), DENSE[3:])


@pytest.mark.parametrize("stype", ["csr", "row_sparse"])
@pytest.mark.parametrize("kind", ["add", "sub", "mul"])
def test_elementwise_keeps_storage_and_equals_numpy(stype, kind):
    rng = np.random.default_rng(3)
    a, b = _rand_sparse(rng, (6, 5)), _rand_sparse(rng, (6, 5))
    sa, sb = mx.nd.array(a).tostype(stype), mx.nd.array(b).tostype(stype)
    got = {"add": sa + sb, "sub": sa - sb, "mul": sa * sb}[kind]
    want = {"add": a + b, "sub": a - b, "mul": a * b}[kind]
    assert got.stype == stype
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)
    via_nd = getattr(mx.nd, {"add": "elemwise_add", "sub": "elemwise_sub",
                             "mul": "elemwise_mul"}[kind])(sa, sb)
    assert via_nd.stype == stype
    np.testing.assert_allclose(via_nd.asnumpy(), want, rtol=1e-6)


def test_dot_dispatch_and_values():
    rng = np.random.default_rng(0)
    a = _rand_sparse(rng, (7, 5), dtype=np.float64)
    b, bt = rng.standard_normal((5, 3)), rng.standard_normal((7, 4))
    c = mx.nd.sparse.csr_matrix(a)
    out = mx.nd.dot(c, mx.nd.array(b, dtype="float64"))
    assert out.stype == "default"
    np.testing.assert_allclose(out.asnumpy(), a @ b, rtol=1e-12)
    out_t = mx.nd.sparse.dot(c, mx.nd.array(bt, dtype="float64"), transpose_a=True)
    assert out_t.stype == "row_sparse"
    np.testing.assert_allclose(out_t.asnumpy(), a.T @ bt, rtol=1e-12)
    left = rng.standard_normal((2, 7))
    np.testing.assert_allclose(mx.nd.dot(mx.nd.array(left, dtype="float64"), c).asnumpy(),
                               left @ a, rtol=1e-12)


def test_kernels_equal_their_numpy_twins():
    rng = np.random.default_rng(1)
    c = mx.nd.sparse.csr_matrix(_rand_sparse(rng, (9, 6)))
    indptr, cols = c._aux
    vals = c._values
    rhs, rhs_t = rng.standard_normal((6, 4)).astype(np.float32), \
        rng.standard_normal((9, 4)).astype(np.float32)
    o1, o2 = np.empty((9, 4), np.float32), np.empty((9, 4), np.float32)
    K.csr_dot_dense(indptr, cols, vals, rhs, o1)
    R.csr_dot_dense(indptr, cols, vals, rhs, o2)
    np.testing.assert_allclose(o1, o2, rtol=1e-5)
    t1, t2 = np.empty((6, 4), np.float32), np.empty((6, 4), np.float32)
    m1, m2 = np.empty(6, np.int8), np.empty(6, np.int8)
    K.csr_t_dot_dense(indptr, cols, vals, rhs_t, t1, m1)
    R.csr_t_dot_dense(indptr, cols, vals, rhs_t, t2, m2)
    np.testing.assert_allclose(t1, t2, rtol=1e-5)
    np.testing.assert_array_equal(m1, m2)
    ra, rb = np.array([0, 3, 5], np.int64), np.array([1, 3, 7, 8], np.int64)
    outs = [(np.empty(7, np.int64), np.empty(3, np.int64), np.empty(4, np.int64))
            for _ in range(2)]
    n1 = K.merge_rows(ra, rb, *outs[0])
    n2 = R.merge_rows(ra, rb, *outs[1])
    assert n1 == n2 == 6
    for x, y in zip(outs[0], outs[1]):
        np.testing.assert_array_equal(x[:n1] if x.size == 7 else x, y[:n2] if y.size == 7 else y)


def test_zero_preserving_unary_keeps_storage_others_fall_back():
    c = mx.nd.sparse.csr_matrix(DENSE)
    s = mx.nd.sqrt(c)
    assert s.stype == "csr"
    np.testing.assert_allclose(s.asnumpy(), np.sqrt(DENSE))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = mx.nd.exp(c)                         # exp(0) = 1: MXNet densifies too
    assert e.stype == "default"
    np.testing.assert_allclose(e.asnumpy(), np.exp(DENSE), rtol=1e-6)
    assert any(issubclass(w.category, StorageFallbackWarning) and "exp" in str(w.message)
               for w in caught)


def test_dense_fallback_copy_is_read_only():
    c = mx.nd.sparse.csr_matrix(DENSE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StorageFallbackWarning)
        with pytest.raises(ValueError, match="read-only"):
            c._data[0, 0] = 5                    # a dense-only write path fails, not lost
    c[:] = mx.nd.array(DENSE * 2)                # the supported whole-array assignment
    assert c.stype == "csr"
    np.testing.assert_array_equal(c.asnumpy(), DENSE * 2)


def test_retain_and_square_sum():
    r = mx.nd.sparse.row_sparse_array(DENSE)
    kept = mx.nd.sparse.retain(r, mx.nd.array([1, 3]))
    assert kept.stype == "row_sparse"
    np.testing.assert_array_equal(kept.indices.asnumpy(), [1, 3])
    np.testing.assert_array_equal(kept.asnumpy(), DENSE * np.array([[0], [1], [0], [1]]))
    ss = mx.nd.sparse.square_sum(r, axis=1, keepdims=True)
    assert ss.stype == "row_sparse"
    np.testing.assert_allclose(ss.asnumpy(), (DENSE ** 2).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(mx.nd.sparse.square_sum(r, axis=0).asnumpy(),
                               (DENSE ** 2).sum(axis=0))


def test_save_load_keeps_storage(tmp_path):
    c = mx.nd.sparse.csr_matrix(DENSE)
    r = mx.nd.sparse.row_sparse_array(DENSE)
    fname = str(tmp_path / "s.nd")
    mx.nd.save(fname, {"c": c, "r": r, "d": mx.nd.array(DENSE)})
    got = mx.nd.load(fname)
    assert [got[k].stype for k in "crd"] == ["csr", "row_sparse", "default"]
    for k in "crd":
        np.testing.assert_array_equal(got[k].asnumpy(), DENSE)


@pytest.mark.oracle
def test_parity_with_mxnet():
    rng = np.random.default_rng(7)
    a = _rand_sparse(rng, (6, 4))
    b = _rand_sparse(rng, (6, 4))
    w = rng.standard_normal((4, 3)).astype(np.float32)
    wt = rng.standard_normal((6, 2)).astype(np.float32)
    from mxteach.ndarray.serialization import dumps
    blob = dumps([mx.nd.array(a).tostype("csr"), mx.nd.array(a).tostype("row_sparse")])
    out = run_oracle("""
import os
c = mx.nd.sparse.csr_matrix(a); cb = mx.nd.sparse.csr_matrix(b)
r = mx.nd.sparse.row_sparse_array(a); rb = mx.nd.sparse.row_sparse_array(b)
out['csr_parts'] = [c.data.asnumpy(), c.indices.asnumpy(), c.indptr.asnumpy()]
out['rsp_parts'] = [r.data.asnumpy(), r.indices.asnumpy()]
out['dot'] = mx.nd.dot(c, mx.nd.array(w)).asnumpy()
t = mx.nd.sparse.dot(c, mx.nd.array(wt), transpose_a=True)
out['dot_t'] = [t.stype, t.indices.asnumpy(), t.data.asnumpy()]
out['add'] = [(c + cb).stype, (c + cb).asnumpy(), (r + rb).stype, (r + rb).indices.asnumpy()]
out['mul'] = [(r * rb).indices.asnumpy(), (r * rb).asnumpy()]
out['retain'] = mx.nd.sparse.retain(r, mx.nd.array([0, 2, 5])).indices.asnumpy()
out['slice'] = c[2:5].indptr.asnumpy()
p = os.path.join(workdir, 's.nd')
mx.nd.save(p, [c, r])
out['file'] = open(p, 'rb').read()
loaded = mx.nd.load_frombuffer(mine_blob)
out['loaded'] = [x.stype for x in loaded] + [x.asnumpy() for x in loaded]
""", a=a, b=b, w=w, wt=wt, mine_blob=blob)
    c, cb = mx.nd.sparse.csr_matrix(a), mx.nd.sparse.csr_matrix(b)
    r, rb = mx.nd.sparse.row_sparse_array(a), mx.nd.sparse.row_sparse_array(b)
    for got, want in zip([c.data, c.indices, c.indptr], out["csr_parts"]):
        np.testing.assert_array_equal(got.asnumpy(), want)
    for got, want in zip([r.data, r.indices], out["rsp_parts"]):
        np.testing.assert_array_equal(got.asnumpy(), want)
    np.testing.assert_allclose(mx.nd.dot(c, mx.nd.array(w)).asnumpy(), out["dot"], rtol=1e-5)
    t = mx.nd.sparse.dot(c, mx.nd.array(wt), transpose_a=True)
    assert t.stype == out["dot_t"][0]
    np.testing.assert_array_equal(t.indices.asnumpy(), out["dot_t"][1])
    np.testing.assert_allclose(t.data.asnumpy(), out["dot_t"][2], rtol=1e-5, atol=1e-6)
    assert [(c + cb).stype, (r + rb).stype] == [out["add"][0], out["add"][2]]
    np.testing.assert_allclose((c + cb).asnumpy(), out["add"][1], rtol=1e-6)
    np.testing.assert_array_equal((r + rb).indices.asnumpy(), out["add"][3])
    np.testing.assert_array_equal((r * rb).indices.asnumpy(), out["mul"][0])
    np.testing.assert_allclose((r * rb).asnumpy(), out["mul"][1], rtol=1e-6)
    np.testing.assert_array_equal(mx.nd.sparse.retain(r, mx.nd.array([0, 2, 5])).indices
                                  .asnumpy(), out["retain"])
    np.testing.assert_array_equal(c[2:5].indptr.asnumpy(), out["slice"])
    # files: MXNet's bytes load here with their storage types, ours load in MXNet, and the
    # bytes written are the same
    loaded = mx.nd.load_frombuffer(out["file"])
    assert [x.stype for x in loaded] == ["csr", "row_sparse"]
    for x in loaded:
        np.testing.assert_array_equal(x.asnumpy(), a)
    assert out["loaded"][:2] == ["csr", "row_sparse"]
    for x in out["loaded"][2:]:
        np.testing.assert_array_equal(x, a)
    assert dumps([c, r]) == out["file"]


def test_constructors_copy_their_numpy_parts_as_mxnet():
    """MXNet copies the source arrays into the new NDArray: updating the sparse array (an
    optimizer step on a row_sparse weight) must not change the caller's numpy data."""
    values = np.ones((2, 3), np.float32)
    rsp = mx.nd.sparse.row_sparse_array((values, [0, 2]), shape=(3, 3))
    csr = mx.nd.sparse.csr_matrix((values[0], [0, 1, 2], [0, 3]), shape=(1, 3))
    rsp.data[:] = 5
    csr.data[:] = 7
    np.testing.assert_array_equal(values, np.ones((2, 3), np.float32))
    assert rsp.data.asnumpy().max() == 5 and csr.data.asnumpy().max() == 7
