"""Sparse training on mx.gpu(0), on numba-cuda's simulator: row_sparse gradients computed by
CUDA kernels (Embedding(sparse_grad=True), contrib.SparseEmbedding, dot(csr, w), _square_sum),
lazy SGD/Adam updates of gpu weights over the stored rows, and Modules bound on mx.gpu(0) that
train exactly as on mx.cpu() (whose sparse training equals MXNet 1.9.1: test_sparse_training.py,
test_sparse_models.py)."""
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

import mxteach as mx
from mxteach.ndarray.sparse_gpu import GPURowSparseNDArray

pytestmark = pytest.mark.cudasim

GPU, CPU = mx.gpu(0), mx.cpu()
IDX = np.array([[0, 3, 3], [7, 1, 3]], np.float32)      # row 3 looked up three times
W = np.random.RandomState(0).randn(9, 4).astype(np.float32)


def _bound(ctx, layer):
    data = mx.sym.Variable("data")
    if layer == "SparseEmbedding":
        emb = mx.sym.contrib.SparseEmbedding(data, input_dim=9, output_dim=4, name="e")
    else:
        emb = mx.sym.Embedding(data, input_dim=9, output_dim=4, sparse_grad=True, name="e")
    ex = mx.sym.MakeLoss(mx.sym.sum(emb * emb)).simple_bind(
        ctx, data=IDX.shape, grad_req={"data": "null", "e_weight": "write"})
    ex.arg_dict["data"][:] = IDX
    ex.arg_dict["e_weight"][:] = W
    ex.forward(is_train=True)
    ex.backward()
    return ex.grad_dict["e_weight"]


@pytest.mark.parametrize("layer", ["Embedding", "SparseEmbedding"])
def test_embedding_weight_gradient_is_row_sparse_on_the_gpu(layer):
    g, c = _bound(GPU, layer), _bound(CPU, layer)
    assert isinstance(g, GPURowSparseNDArray) and g.context == GPU
    np.testing.assert_array_equal(g.indices.asnumpy(), [0, 1, 3, 7])
    np.testing.assert_array_equal(g.indices.asnumpy(), c.indices.asnumpy())
    np.testing.assert_allclose(g.data.asnumpy(), c.data.asnumpy(), rtol=1e-6)
    ref = np.zeros_like(W)
    np.add.at(ref, IDX.astype(int).ravel(), 2 * W[IDX.astype(int).ravel()])
    np.testing.assert_allclose(g.asnumpy(), ref, rtol=1e-6)


def test_csr_dot_weight_gradient_and_square_sum_on_the_gpu():
    """dot(csr, w) reads the csr batch as it is on the gpu; w's gradient is row_sparse, and
    _square_sum of a row_sparse weight writes row_sparse gradients there too."""
    x = np.zeros((3, 6), np.float32)
    x[0, 1], x[0, 4], x[2, 1], x[2, 5] = 1.0, 2.0, -1.0, 0.5
    w0 = np.random.RandomState(1).randn(6, 2).astype(np.float32)

    def run(ctx):
        data = mx.sym.Variable("data", stype="csr")
        w = mx.sym.Variable("w", stype="row_sparse")
        v = mx.sym.Variable("v", stype="row_sparse")
        out = mx.sym.sum(mx.sym.sparse.dot(data, w)) + mx.sym.sum(
            mx.sym._internal._square_sum(v, axis=1, keepdims=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ex = mx.sym.MakeLoss(out).simple_bind(ctx, data=x.shape, w=w0.shape, v=w0.shape,
                                                  grad_req={"data": "null", "w": "write",
                                                            "v": "write"})
        ex.arg_dict["data"][:] = mx.nd.array(x).tostype("csr")
        ex.arg_dict["w"][:] = mx.nd.array(w0).tostype("row_sparse")
        ex.arg_dict["v"][:] = mx.nd.array(w0 * (np.arange(6) % 2)[:, None]).tostype(
            "row_sparse")
        ex.forward(is_train=True)
        ex.backward()
        return ex
    g, c = run(GPU), run(CPU)
    assert g.arg_dict["data"].stype == "csr" and g.arg_dict["data"].context == GPU
    np.testing.assert_allclose(g.outputs[0].asnumpy(), c.outputs[0].asnumpy(), rtol=1e-6)
    for name in ("w", "v"):
        gg, cg = g.grad_dict[name], c.grad_dict[name]
        assert isinstance(gg, GPURowSparseNDArray)
        np.testing.assert_array_equal(gg.indices.asnumpy(), cg.indices.asnumpy())
        np.testing.assert_allclose(gg.data.asnumpy(), cg.data.asnumpy(), rtol=1e-6)
    np.testing.assert_array_equal(g.grad_dict["w"].indices.asnumpy(), [1, 4, 5])
    np.testing.assert_allclose(g.grad_dict["w"].asnumpy(), x.T @ np.ones((3, 2), np.float32))


@pytest.mark.parametrize("name,kw", [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}),
    ("sgd", {"learning_rate": 0.1, "wd": 0.01, "clip_gradient": 0.5}),
    ("adam", {"learning_rate": 0.05, "wd": 0.01})])
def test_lazy_updates_of_gpu_weights_touch_only_the_gradient_rows(name, kw):
    rows = np.array([1, 4])
    gv = np.random.RandomState(2).randn(2, 4).astype(np.float32)
    results = {}
    for ctx in (CPU, GPU):
        opt = mx.optimizer.create(name, **kw)
        weight = mx.nd.array(W, ctx=ctx)
        state = opt.create_state(0, weight)
        for step in range(2):        # the second step also reads the states' rows
            grad = mx.nd.sparse.row_sparse_array((gv * (step + 1), rows), shape=W.shape,
                                                 ctx=ctx)
            opt.update(0, weight, grad, state)
        results[ctx.device_type] = weight.asnumpy()
    np.testing.assert_allclose(results["gpu"], results["cpu"], rtol=1e-6, atol=1e-7)
    untouched = np.setdiff1d(np.arange(9), rows)
    np.testing.assert_array_equal(results["gpu"][untouched], W[untouched])
    assert not np.allclose(results["gpu"][rows], W[rows])


@pytest.mark.parametrize("name,kw", [("sgd", {"learning_rate": 0.1, "momentum": 0.9,
                                             "wd": 0.01}),
                                     ("adam", {"learning_rate": 0.05}),
                                     ("adagrad", {"learning_rate": 0.1})])
def test_row_sparse_gpu_weights_update_in_place_without_a_kvstore(name, kw):
    """A row_sparse weight storing every row (MXNet's requirement) is updated in its device
    values; its row_sparse states start empty and get every row at the first update."""
    rows = np.array([2, 5])
    gv = np.random.RandomState(3).randn(2, 4).astype(np.float32)
    results = {}
    for ctx in (CPU, GPU):
        opt = mx.optimizer.create(name, **kw)
        weight = mx.nd.sparse.row_sparse_array((W, np.arange(9)), shape=W.shape, ctx=ctx)
        state = opt.create_state(0, weight)
        for step in range(2):
            grad = mx.nd.sparse.row_sparse_array((gv * (step + 1), rows), shape=W.shape,
                                                 ctx=ctx)
            opt.update(0, weight, grad, state)
        assert weight.stype == "row_sparse" and weight.context == ctx
        results[ctx.device_type] = weight.asnumpy()
    np.testing.assert_allclose(results["gpu"], results["cpu"], rtol=1e-6, atol=1e-7)
    untouched = np.setdiff1d(np.arange(9), rows)
    np.testing.assert_array_equal(results["gpu"][untouched], W[untouched])
    partial = mx.nd.sparse.row_sparse_array((W[:3], np.arange(3)), shape=W.shape, ctx=GPU)
    with pytest.raises(mx.base.MXNetError, match="must store all 9 rows"):
        mx.optimizer.create(name, **kw).update(0, partial, grad, None if name == "sgd" and
                                               "momentum" not in kw else state)


RNG = np.random.RandomState(0)
X = RNG.randint(0, 50, size=(20, 3)).astype(np.float32)
Y = RNG.randint(0, 4, size=20).astype(np.float32)
W0 = (RNG.randn(50, 4) * 0.1).astype(np.float32)
F0 = (RNG.randn(4, 12) * 0.1).astype(np.float32)


def _train(ctx, opt, kw):
    d = mx.sym.var("data")
    e = mx.sym.Embedding(d, input_dim=50, output_dim=4, sparse_grad=True, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.flatten(e), num_hidden=4, name="fc")
    it = mx.io.NDArrayIter(X, Y, batch_size=10)
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(fc, name="softmax"), context=ctx)
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(arg_params={"emb_weight": mx.nd.array(W0), "fc_weight": mx.nd.array(F0),
                                "fc_bias": mx.nd.zeros((4,))})
    grad = mod._exec_group.execs[0].grad_dict["emb_weight"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mod.fit(it, num_epoch=2, optimizer=opt, optimizer_params=kw, eval_metric="ce")
    return grad, mod.get_params()[0]["emb_weight"].asnumpy(), mod.score(it, "ce")[0][1]


@pytest.mark.parametrize("opt,kw", [("sgd", {"learning_rate": 0.5, "momentum": 0.9,
                                             "wd": 0.01}),
                                    ("adam", {"learning_rate": 0.05, "wd": 0.01})])
def test_module_on_a_gpu_trains_a_sparse_embedding_as_on_the_cpu(opt, kw):
    g_grad, g_w, g_score = _train(GPU, opt, kw)
    c_grad, c_w, c_score = _train(CPU, opt, kw)
    assert isinstance(g_grad, GPURowSparseNDArray)
    np.testing.assert_array_equal(g_grad.indices.asnumpy(), c_grad.indices.asnumpy())
    np.testing.assert_allclose(g_w, c_w, rtol=1e-5, atol=1e-7)
    assert abs(g_score - c_score) < 1e-5
    # lazy: rows no batch looked up keep their initial values on both devices
    untouched = np.setdiff1d(np.arange(50), X.astype(int))
    np.testing.assert_array_equal(g_w[untouched], W0[untouched])


def test_sparse_linear_classification_on_a_gpu_as_on_the_cpu():
    """MXNet's sparse linear classification example (test_sparse_models.py's, which equals
    MXNet 1.9.1 on the CPU): LibSVM csr batches, dot(csr, w) with a row_sparse weight in a
    kvstore, row_sparse_pull of the batch's rows into the gpu weight."""
    sys.path.insert(0, str(Path(__file__).parent))
    import test_sparse_models as models
    runs = []
    for ctx in (CPU, GPU):
        code = models.LINEAR_CODE.replace("mx.mod.Module(net, data_names",
                                          "mx.mod.Module(net, context=CTX, data_names")
        assert "context=CTX" in code
        ns = {"mx": mx, "np": np, "out": {}, "workdir": tempfile.mkdtemp(), "CTX": ctx}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(code, ns)
        runs.append(ns["out"])
    cpu, gpu = runs
    np.testing.assert_allclose(gpu["scores"], cpu["scores"], rtol=1e-5)
    for a, b in zip(gpu["weights"], cpu["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kvstore", ["local", "device"])
def test_sparse_embedding_on_two_gpus_equals_one_cpu(kvstore):
    """Row_sparse gradients of two gpus summed in the kvstore (on the host for 'local', on a
    gpu for 'device'), still row_sparse, then a lazy update: the same weights as one cpu."""
    from mxteach.test_utils import environment

    def train(ctx):
        d = mx.sym.var("data")
        e = mx.sym.Embedding(d, input_dim=50, output_dim=4, sparse_grad=True, name="emb")
        fc = mx.sym.FullyConnected(mx.sym.flatten(e), num_hidden=4, name="fc")
        mod = mx.mod.Module(mx.sym.SoftmaxOutput(fc, name="softmax"), context=ctx)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod.fit(mx.io.NDArrayIter(X, Y, batch_size=10), num_epoch=2, kvstore=kvstore,
                    optimizer="sgd", arg_params={"emb_weight": mx.nd.array(W0),
                                                 "fc_weight": mx.nd.array(F0),
                                                 "fc_bias": mx.nd.zeros((4,))},
                    optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "wd": 0.01})
        grads = [e.grad_dict["emb_weight"] for e in mod._exec_group.execs]
        return mod.get_params()[0]["emb_weight"].asnumpy(), grads
    with environment("MXTEACH_SIM_GPUS", "2"):
        two, grads = train([mx.gpu(0), mx.gpu(1)])
        moved = grads[1].copyto(mx.gpu(0))      # a row_sparse copy across gpus
        assert moved.context == mx.gpu(0)
        np.testing.assert_array_equal(moved.asnumpy(), grads[1].asnumpy())
    one, _ = train(CPU)
    assert all(isinstance(g, GPURowSparseNDArray) for g in grads)
    assert [g.context for g in grads] == [mx.gpu(0), mx.gpu(1)]
    np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
    assert not np.allclose(one, W0)


@pytest.mark.parametrize("kvstore", ["device", "local"])
def test_kvstore_push_and_row_sparse_pull_of_gpu_row_sparse_values(kvstore):
    """Pushed gpu row_sparse gradients are summed where the store sums ('device': the gpu,
    'local': the host) and update lazily; row_sparse_pull gathers the asked rows into a gpu
    row_sparse output (on the gpu itself when the value lives there)."""
    kv = mx.kv.create(kvstore)
    kv.init("w", mx.nd.array(W).tostype("row_sparse"))
    kv.set_optimizer(mx.optimizer.create("sgd", learning_rate=0.1))
    grads = [mx.nd.sparse.row_sparse_array((np.full((1, 4), v, np.float32), [r]), shape=W.shape,
                                           ctx=GPU) for v, r in ((1.0, 1), (2.0, 7))]
    kv.push("w", grads)
    assert kv._store["w"].context.device_type.startswith("gpu" if kvstore == "device" else "cpu")
    out = mx.nd.sparse.zeros("row_sparse", W.shape, ctx=GPU)
    kv.row_sparse_pull("w", out=out, row_ids=mx.nd.array([7, 1, 7, 0], ctx=GPU))
    assert isinstance(out, GPURowSparseNDArray)
    np.testing.assert_array_equal(out.indices.asnumpy(), [0, 1, 7])
    want = W[[0, 1, 7]] - 0.1 * np.array([[0.0], [1.0], [2.0]], np.float32)
    np.testing.assert_allclose(out.data.asnumpy(), want, rtol=1e-6)
