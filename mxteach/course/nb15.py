"""Exercise checks of notebook 15 (sparse embeddings: row_sparse, CSR and lazy updates).
See notebook 15.

Each check finds the truth by running mxteach: the csr constructor (15.1), an executor with
``Embedding(sparse_grad=True)`` (15.2), ``mx.optimizer.SGD`` with a row_sparse gradient
(15.3), ``Module.prepare`` pulling rows from a kvstore (15.4), and the rows the ``backward``
events of a training run report (15.5, read off the row heat strip).
"""
from __future__ import annotations

import warnings

import numpy as np

from .checking import Wrong, blank_is_unanswered, close, exercise, returned

__all__ = ["PREDICT_MATRIX", "check_indptr", "check_embedding_grad", "check_lazy_sgd",
           "check_row_ids", "linear_module", "HEAT_VOCAB", "heat_module", "check_untouched"]

# the matrix whose csr form exercise 15.1 asks about
PREDICT_MATRIX = np.array([[0, 5, 0, 0],
                           [0, 0, 0, 0],
                           [1, 0, 0, 2],
                           [0, 0, 7, 0]], np.float32)


def _mx():
    import mxteach
    return mxteach


# -- 15.1 -------------------------------------------------------------------------------------
@exercise("15.1", "predict the indptr of a csr matrix")
def check_indptr(answer):
    truth = _mx().nd.sparse.csr_matrix(PREDICT_MATRIX).indptr.asnumpy().tolist()
    try:
        got = [int(v) for v in answer]
    except (TypeError, ValueError):
        raise Wrong(f"answer with a list of ints such as [0, 1, ...], not {answer!r}") from None
    counts = np.count_nonzero(PREDICT_MATRIX, axis=1).tolist()
    if got == counts:
        raise Wrong("that is the number of stored values in each row; indptr holds offsets: "
                    "where each row starts in data/indices, plus the end (one more entry than "
                    "rows), so it is the running sum of those counts starting at 0.")
    if len(got) != len(truth):
        raise Wrong(f"indptr of a matrix with {PREDICT_MATRIX.shape[0]} rows has "
                    f"{len(truth)} entries (each row's start, then the end); you gave "
                    f"{len(got)}.")
    if got != truth:
        raise Wrong(f"not quite: entry i is where row i starts in data (the number of "
                    f"values stored in rows before it); you gave {got}.")
    return (f"yes: {truth}. Row 1 stores nothing, so it starts and ends at the same offset "
            f"({truth[1]} to {truth[2]}).")


# -- 15.2 -------------------------------------------------------------------------------------
def _embedding_truth(indices, out_grad, vocab):
    """(rows, values) of the row_sparse weight gradient that mxteach's executor computes."""
    mx = _mx()
    dim = out_grad.shape[1]
    data = mx.sym.Variable("data")
    emb = mx.sym.Embedding(data, input_dim=vocab, output_dim=dim, sparse_grad=True, name="e")
    exe = emb.simple_bind(mx.cpu(), data=(len(indices),),
                          grad_req={"data": "null", "e_weight": "write"})
    exe.forward(is_train=True, data=mx.nd.array(indices))
    exe.backward(out_grads=[mx.nd.array(out_grad)])
    g = exe.grad_dict["e_weight"]
    return g.indices.asnumpy(), g.data.asnumpy()


@exercise("15.2", "the row_sparse gradient of an embedding")
def check_embedding_grad(fn):
    rng = np.random.default_rng(15)
    indices = np.array([6, 2, 6, 9, 2, 6], np.float32)
    out_grad = rng.standard_normal((indices.size, 3)).astype(np.float32)
    rows_want, values_want = _embedding_truth(indices, out_grad, 10)
    got = returned(fn, indices.copy(), out_grad.copy(), 10)
    if not isinstance(got, tuple) or len(got) != 2:
        raise Wrong("return a pair (rows, values)")
    rows, values = (np.asarray(x) for x in got)
    if sorted(rows.tolist()) == rows_want.tolist() and rows.tolist() != rows_want.tolist():
        raise Wrong(f"the right rows in the wrong order: a row_sparse array stores its row "
                    f"numbers sorted ({rows_want.tolist()}), and values in that order.")
    if rows.tolist() != rows_want.tolist():
        raise Wrong(f"rows should be the distinct looked-up rows, sorted: "
                    f"{rows_want.tolist()}; you returned {rows.tolist()}.")
    if values.shape == values_want.shape and not np.allclose(values, values_want, atol=1e-5):
        last = np.stack([out_grad[np.nonzero(indices == r)[0][-1]] for r in rows_want])
        if np.allclose(values, last, atol=1e-5):
            raise Wrong("a row looked up several times must get the sum of all its output "
                        "gradients; yours keeps only the last one (use np.add.at or a loop "
                        "with +=).")
    close(values, values_want, "values")
    return "yes: the gradient stores 3 rows of 10, whatever the vocabulary size."


check_embedding_grad = blank_is_unanswered(check_embedding_grad)


# -- 15.3 -------------------------------------------------------------------------------------
_W = np.linspace(-1, 1, 12, dtype=np.float32).reshape(6, 2)
_ROWS = np.array([1, 4])
_VALUES = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
_HYPER = dict(lr=0.1, wd=0.05, momentum=0.9)


def _lazy_truth(steps):
    mx = _mx()
    opt = mx.optimizer.SGD(learning_rate=_HYPER["lr"], wd=_HYPER["wd"],
                           momentum=_HYPER["momentum"], lazy_update=True)
    w = mx.nd.array(_W)
    mom = opt.create_state(0, w)
    for _ in range(steps):
        g = mx.nd.sparse.row_sparse_array((_VALUES, _ROWS), shape=_W.shape)
        opt.update(0, w, g, mom)
    return w.asnumpy(), mom.asnumpy()


@exercise("15.3", "a lazy SGD step with momentum")
def check_lazy_sgd(fn):
    w, mom = _W.copy(), np.zeros_like(_W)
    for _ in range(2):
        fn(w, _ROWS.copy(), _VALUES.copy(), mom, **_HYPER)
    w_want, mom_want = _lazy_truth(2)
    untouched = [r for r in range(_W.shape[0]) if r not in _ROWS]
    if not np.allclose(w[untouched], _W[untouched]):
        raise Wrong("rows the gradient does not store changed: a lazy update leaves them "
                    "alone (no weight decay, no momentum there); touch only weight[rows].")
    if np.allclose(w, _W):
        raise Wrong("the weight did not change: update weight[rows] and mom[rows] in place "
                    "(weight[rows] = ... writes into the array; a local name does not).")
    if not np.allclose(mom[_ROWS], mom_want[_ROWS], atol=1e-5):
        raise Wrong("the momentum rows differ from SGD's: mom[rows] = momentum * mom[rows] - "
                    "lr * (values + wd * weight[rows]), then weight[rows] += mom[rows]; check "
                    "the weight decay term.")
    close(w, w_want, "the weight after two lazy steps")
    return "yes: the same numbers as mx.optimizer.SGD(lazy_update=True) on a row_sparse grad."


check_lazy_sgd = blank_is_unanswered(check_lazy_sgd)


# -- 15.4 -------------------------------------------------------------------------------------
def linear_module(num_features, batch_size):
    """A sparse linear model as MXNet's example writes it: csr data, a row_sparse weight
    updated on a kvstore, bound and initialised (weights ``0.01 * (row + 1)``)."""
    mx = _mx()
    x = mx.sym.Variable("data", stype="csr")
    w = mx.sym.Variable("weight", shape=(num_features, 1), stype="row_sparse")
    b = mx.sym.Variable("bias", shape=(1,))
    pred = mx.sym.broadcast_add(mx.sym.sparse.dot(x, w), b)
    label = mx.sym.reshape(mx.sym.Variable("softmax_label"), shape=(-1, 1))
    net = mx.sym.LogisticRegressionOutput(pred, label, name="out")
    mod = mx.mod.Module(net, data_names=["data"], label_names=["softmax_label"])
    mod.bind([("data", (batch_size, num_features))], [("softmax_label", (batch_size,))])
    start = (np.arange(num_features, dtype=np.float32) + 1).reshape(-1, 1) * 0.01
    mod.init_params(arg_params={"weight": mx.nd.array(start).tostype("row_sparse"),
                                "bias": mx.nd.zeros((1,))})
    with warnings.catch_warnings():
        # kv.pull skips the row_sparse weight and says so (notebook 15 explains it)
        warnings.simplefilter("ignore", UserWarning)
        mod.init_optimizer(kvstore=mx.kv.create("local"), optimizer="sgd")
    return mod


@exercise("15.4", "sparse_row_id_fn: which rows a batch needs")
def check_row_ids(fn):
    mx = _mx()
    batch_x = np.zeros((3, 8), np.float32)
    batch_x[0, [1, 5]] = 1.0
    batch_x[2, [5, 6]] = 2.0
    batch = mx.io.DataBatch([mx.nd.sparse.csr_matrix(batch_x)], [mx.nd.zeros((3,))])
    mod = linear_module(8, 3)
    got = returned(fn, batch)
    if not isinstance(got, dict):
        raise Wrong(f"sparse_row_id_fn returns a dict {{parameter name: row ids}}, not "
                    f"{type(got).__name__}")
    if "weight" not in got:
        raise Wrong(f"the dict's key must be the parameter's name, 'weight'; got "
                    f"{sorted(got)}")
    mod.prepare(batch, sparse_row_id_fn=fn)
    weight = mod._exec_group.param_arrays[0][0]
    want = sorted(set(np.nonzero(batch_x)[1].tolist()))
    rows = weight.indices.asnumpy().tolist()
    if rows != want:
        raise Wrong(f"prepare pulled rows {rows}, but the batch uses features {want}: the "
                    f"row ids are the csr batch's column indices (batch.data[0].indices), "
                    f"not its indptr.")
    return f"yes: only rows {want} of the weight came from the kvstore."


check_row_ids = blank_is_unanswered(check_row_ids)


# -- 15.5 -------------------------------------------------------------------------------------
HEAT_VOCAB = 1000        # the vocabulary of the heat-strip model: ten hundreds of rows


def _heat_tokens():
    """The token ids of the heat-strip data (kept out of the notebook: the strip shows them).
    Most ids are small (a few frequent words), the rest come from one band of rare words."""
    rng = np.random.RandomState(15)
    frequent = np.minimum(rng.zipf(1.6, size=(192, 4)) - 1, 99)
    rare = rng.randint(400, 600, size=(192, 4))
    tokens = np.where(rng.rand(192, 4) < 0.7, frequent, rare).astype(np.float32)
    labels = (tokens < 5).any(axis=1).astype(np.float32)
    return tokens, labels


def heat_module():
    """A bag-of-words classifier with ``Embedding(sparse_grad=True)`` over
    :data:`HEAT_VOCAB` rows, and the iterator of its (hidden) training data."""
    mx = _mx()
    tokens, labels = _heat_tokens()
    data = mx.sym.Variable("data")
    emb = mx.sym.Embedding(data, input_dim=HEAT_VOCAB, output_dim=8, sparse_grad=True,
                           name="emb")
    fc = mx.sym.FullyConnected(mx.sym.sum(emb, axis=1), num_hidden=2, name="fc")
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(fc, name="softmax"))
    return mod, mx.io.NDArrayIter(tokens, labels, batch_size=32)


def _untouched_hundreds():
    """The hundreds of rows (0 = rows 0-99 ...) no batch of one epoch touched, read from the
    rows the module's ``backward`` events report for the row_sparse gradient."""
    mx = _mx()
    mod, it = heat_module()
    touched = set()
    mod.events.subscribe(
        lambda ev: touched.update(ev.data["sparse_grads"]["emb_weight"]["rows"]),
        kinds=["backward"])
    mod.fit(it, num_epoch=1, optimizer="sgd", optimizer_params={"learning_rate": 0.1},
            initializer=mx.init.Xavier())
    hit = {r // 100 for r in touched}
    return sorted(set(range(HEAT_VOCAB // 100)) - hit), sorted(hit)


@exercise("15.5", "read the row heat strip: rows no batch touched")
def check_untouched(answer):
    try:
        got = sorted({int(v) for v in answer})
    except (TypeError, ValueError):
        raise Wrong(f"answer with a list of ints between 0 and 9 (0 for rows 0-99, 1 for "
                    f"rows 100-199 ...), not {answer!r}") from None
    want, hit = _untouched_hundreds()
    if got == hit:
        raise Wrong("those are the hundreds the batches *did* touch (the coloured parts of "
                    "the upper band); the question asks for the blank ones.")
    if set(got) - set(want):
        raise Wrong(f"some rows of hundred(s) {sorted(set(got) - set(want))} were touched: "
                    f"look again at the upper band, where even one touched row leaves a "
                    f"faint mark (a cell is 5 rows).")
    if got != want:
        raise Wrong(f"there are more blank hundreds than {got}: the upper band has no mark "
                    f"over {len(want)} of the ten.")
    return (f"yes: hundreds {want} never appear in the data, so their rows never got a "
            f"gradient -- with lazy updates they still hold their initial values.")
