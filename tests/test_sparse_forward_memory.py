"""Truly sparse forward memory (issue 15): a csr batch read only by ``dot(csr, w)`` (with a
row_sparse weight gradient) is never copied densely -- the executor keeps no dense mirror,
``dot`` reads the csr values, column indices and row offsets, and a row_sparse weight only
its stored rows. Where a dense copy remains (an operator without a sparse forward reads the
csr batch: MXNet's storage fallback), ``memory_report`` lists it as a ``dense copy`` row."""
from __future__ import annotations

import tracemalloc
import warnings

import numpy as np

import mxteach as mx

N, F, NNZ = 512, 20_000, 8          # a dense float32 batch would take 40 MB


def _batch(rng):
    cols = np.sort(np.stack([rng.choice(F, NNZ, replace=False) for _ in range(N)]), axis=1)
    values = rng.rand(N * NNZ).astype(np.float32)
    indptr = np.arange(0, N * NNZ + 1, NNZ)
    return mx.nd.sparse.csr_matrix((values, cols.ravel(), indptr), shape=(N, F))


def _linear(weight_stype="row_sparse"):
    x = mx.sym.Variable("data", stype="csr")
    w = mx.sym.Variable("weight", shape=(F, 1), stype=weight_stype)
    b = mx.sym.Variable("bias", shape=(1,))
    label = mx.sym.reshape(mx.sym.Variable("softmax_label"), shape=(-1, 1))
    return mx.sym.LogisticRegressionOutput(mx.sym.broadcast_add(mx.sym.dot(x, w), b), label,
                                           name="out")


def test_csr_batch_of_dot_is_never_copied_densely():
    rng = np.random.RandomState(0)
    batch = _batch(rng)
    label = mx.nd.array((rng.rand(N) > 0.5).astype(np.float32))
    w0 = (rng.randn(F, 1) * 0.1).astype(np.float32)
    keep = np.unique(batch.indices.asnumpy())[::2]           # the weight stores half the rows
    weight = mx.nd.sparse.row_sparse_array((w0[keep], keep), shape=(F, 1))
    dense_batch = N * F * 4
    ex = _linear().simple_bind(mx.cpu(), data=(N, F), softmax_label=(N,),
                               grad_req={"data": "null", "softmax_label": "null",
                                         "weight": "write", "bias": "write"})
    ex.arg_dict["weight"][:] = weight
    ex.arg_dict["bias"][:] = 0.25
    ex.forward(is_train=True, data=batch, softmax_label=label)    # warm-up: kernels load
    ex.backward()
    tracemalloc.start()
    try:
        ex.forward(is_train=True, data=batch, softmax_label=label)
        ex.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < dense_batch / 20, f"forward/backward peaked at {peak:,} bytes"
    # the numbers: rows of w0 the weight does not store read as zeros
    w_used = np.zeros_like(w0)
    w_used[keep] = w0[keep]
    x = batch.asnumpy()
    want = 1 / (1 + np.exp(-(x @ w_used + 0.25)))
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), want, rtol=1e-5)
    g = ex.grad_dict["weight"]
    assert g.stype == "row_sparse"
    np.testing.assert_allclose(g.asnumpy(), x.T @ (want - label.asnumpy()[:, None]),
                               rtol=1e-4, atol=1e-6)
    report = ex.memory_report()
    assert not [r for r in report if r.role == "dense copy"]
    data_row = next(r for r in report if r.name == "data")
    assert data_row.bytes == N * NNZ * (4 + 8) + (N + 1) * 8      # values, columns, offsets
    assert ex.memory_summary()["total_bytes"] < dense_batch / 20


def test_module_memory_report_before_and_after_a_dense_reader():
    """The same csr batch read by ``dot`` only (no copy) and also by ``sum`` (no sparse
    forward: a storage fallback, so the executor keeps a dense copy and says so)."""
    rng = np.random.RandomState(1)
    batch = _batch(rng)
    x = mx.sym.Variable("data", stype="csr")
    w = mx.sym.Variable("weight", shape=(F, 1), stype="row_sparse")
    label = mx.sym.reshape(mx.sym.Variable("softmax_label"), shape=(-1, 1))
    sparse_only = mx.sym.LinearRegressionOutput(mx.sym.dot(x, w), label, name="out")
    also_dense = mx.sym.LinearRegressionOutput(
        mx.sym.broadcast_add(mx.sym.dot(x, w), mx.sym.sum(x, axis=1, keepdims=True)), label,
        name="out")
    totals, outputs = {}, {}
    for tag, net in (("sparse", sparse_only), ("fallback", also_dense)):
        mod = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod.bind([("data", (N, F))], [("softmax_label", (N,))])
        mod.init_params(mx.init.Constant(0.5))
        mod.forward(mx.io.DataBatch([batch], [mx.nd.zeros((N,))]), is_train=True)
        exe = mod._exec_group.execs[0]
        copies = {r.name: r.bytes for r in exe.memory_report() if r.role == "dense copy"}
        totals[tag] = exe.memory_summary()["total_bytes"]
        outputs[tag] = (copies, mod.get_outputs()[0].asnumpy())
    assert outputs["sparse"][0] == {}
    assert outputs["fallback"][0] == {"data_dense_copy": N * F * 4}
    assert totals["fallback"] - totals["sparse"] >= N * F * 4
    dense_x = batch.asnumpy()
    np.testing.assert_allclose(outputs["sparse"][1], dense_x.sum(1, keepdims=True) * 0.5,
                               rtol=1e-5)
    np.testing.assert_allclose(outputs["fallback"][1], dense_x.sum(1, keepdims=True) * 1.5,
                               rtol=1e-5)
