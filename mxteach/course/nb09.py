"""Exercise checks of notebook 09 (sequential chains and Python modules).

The truth comes from mxteach's ``SequentialModule`` and ``PythonLossModule`` run on the
notebook's small chains (mxteach matches MXNet 1.9.1 here, ``add`` after bind included) and
from numpy. See notebook 09.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, close, exercise

__all__ = ["layer", "three_member_chain", "check_chain_view", "check_grad_func",
           "check_add_after_bind"]

BATCH = 12


def returned(fn, *args, what="your function"):
    """Call the student's function; ``None`` back means its body is still the template."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None:
        raise Wrong(f"not answered yet: {what} returned None -- write its body (with a "
                    "`return`) and run the cell again")
    return out


def layer(name, hidden, relu=True):
    """FullyConnected (+ relu) on a Variable called 'data' (the notebook's building block)."""
    from .. import symbol as sym
    h = sym.FullyConnected(sym.Variable("data"), num_hidden=hidden, name=f"fc{name}")
    return sym.Activation(h, act_type="relu", name=f"relu{name}") if relu else h


def three_member_chain():
    """The notebook's chain 4 → 6 → 5 → 3 classes, bound for training at batch 12."""
    from .. import symbol as sym
    from ..module import Module, SequentialModule
    head = Module(sym.SoftmaxOutput(layer(3, 3, relu=False), name="softmax"))
    seq = SequentialModule()
    seq.add(Module(layer(1, 6), label_names=None))
    seq.add(Module(layer(2, 5), label_names=None), auto_wiring=True)
    seq.add(head, take_labels=True, auto_wiring=True)
    seq.bind(data_shapes=[("data", (BATCH, 4))], label_shapes=[("softmax_label", (BATCH,))])
    return seq


def _unanswered(answer):
    return any(v is Ellipsis for v in answer.values())


@exercise("09.1", "read the ChainView: labels and junction shapes")
def check_chain_view(answer):
    """``answer = {"takes_labels": member index, "junction_1_2": shape tuple}``."""
    if not isinstance(answer, dict) or set(answer) != {"takes_labels", "junction_1_2"}:
        raise Wrong("answer with a dict {'takes_labels': index, 'junction_1_2': (rows, cols)}")
    if _unanswered(answer):
        raise Wrong("not answered yet: replace each `...` with your answer and run the cell again")
    junctions = three_member_chain().junctions()
    takes = [index for index, _, _, _, t in junctions if t]
    if answer["takes_labels"] != takes[0]:
        raise Wrong(f"member {answer['takes_labels']} does not take the labels: in the view the "
                    "labels arrow goes into the member added with take_labels=True (members "
                    "count from 0)")
    shape = tuple(junctions[1][3][0][1])            # member 1's output = member 2's input
    got = tuple(answer["junction_1_2"]) if hasattr(answer["junction_1_2"], "__iter__") else None
    if got == tuple(junctions[1][2][0][1]):
        raise Wrong(f"{got} goes into member 1 (junction 0→1); junction 1→2 carries member 1's "
                    "output")
    if got != shape:
        raise Wrong(f"junction 1→2 does not carry {answer['junction_1_2']!r}: read the shape "
                    "written between the second and third boxes (batch rows, member 1's units)")
    return f"member {takes[0]} takes the labels; {shape} crosses junction 1→2"


@exercise("09.2", "build a grad_func for PythonLossModule: squared error")
def check_grad_func(answer):
    """``answer(scores, labels) -> gradient``: the gradient of
    ``0.5 * sum((scores - onehot(labels))**2)`` with respect to the scores (NDArrays in, a
    numpy array or NDArray out)."""
    from ..io import DataBatch
    from ..module import PythonLossModule
    from ..ndarray import array
    rng = np.random.RandomState(5)
    scores = rng.randn(6, 4).astype("float32")
    labels = np.array([0, 3, 1, 1, 2, 0], dtype="float32")
    loss = PythonLossModule(grad_func=answer)
    loss.bind(data_shapes=[("data", scores.shape)], label_shapes=[("softmax_label", (6,))])
    loss.init_params()
    loss.forward(DataBatch([array(scores)], [array(labels)]), is_train=True)
    got = returned(lambda: answer(array(scores), array(labels)), what="your grad_func")
    got = got.asnumpy() if hasattr(got, "asnumpy") else np.asarray(got, dtype="float32")
    onehot = np.eye(4, dtype="float32")[labels.astype(int)]
    want = scores - onehot
    if got.shape != want.shape:
        raise Wrong(f"your gradient has shape {got.shape}; it must have the scores' shape "
                    f"{want.shape} (one number per score): d loss / d scores")
    if np.allclose(got, scores - labels[:, None], atol=1e-5):
        raise Wrong("you subtracted the label numbers from every score; compare with the "
                    "one-hot rows (np.eye(n_classes)[labels]) instead")
    if np.allclose(got, -want, atol=1e-5):
        raise Wrong("the sign is flipped: the gradient of 0.5*(s - y)**2 is s - y")
    if np.allclose(got, 2 * want, atol=1e-5):
        raise Wrong("the 0.5 in the loss cancels the 2 of the square: the gradient is s - y")
    loss.backward()
    through = loss.get_input_grads()[0].asnumpy()
    close(through, want, "the gradient PythonLossModule passed down")
    return "PythonLossModule hands exactly this gradient to the member before it"


@exercise("09.3", "predict what add() after bind does to the chain")
def check_add_after_bind(answer):
    """``answer = {"binded": bool, "params_initialized": bool, "old_params_kept": bool}``
    after adding a member to a bound, initialized chain and then binding and initializing
    it again."""
    keys = {"binded", "params_initialized", "old_params_kept"}
    if not isinstance(answer, dict) or set(answer) != keys:
        raise Wrong(f"answer with a dict with the keys {sorted(keys)} (True/False each)")
    if _unanswered(answer):
        raise Wrong("not answered yet: replace each `...` with True or False and run the cell "
                    "again")
    from .. import init
    from ..module import Module, SequentialModule
    seq = SequentialModule().add(Module(layer(1, 6), label_names=None))
    seq.bind(data_shapes=[("data", (BATCH, 4))])
    seq.init_params(init.Uniform(0.5))
    before = seq.get_params()[0]["fc1_weight"].asnumpy().copy()
    seq.add(Module(layer(2, 5), label_names=None), auto_wiring=True)
    truth = {"binded": bool(seq.binded), "params_initialized": bool(seq.params_initialized)}
    seq.bind(data_shapes=[("data", (BATCH, 4))])
    seq.init_params(init.Uniform(0.5))
    truth["old_params_kept"] = bool(np.array_equal(before,
                                                   seq.get_params()[0]["fc1_weight"].asnumpy()))
    if answer["binded"] is not truth["binded"]:
        raise Wrong("add() on a bound chain is allowed (MXNet 1.9.1 too) but the new member is "
                    "not bound, so the chain goes back to unbound: binded is False until you "
                    "bind again")
    if answer["params_initialized"] is not truth["params_initialized"]:
        raise Wrong("the new member has no parameters yet, so the chain's params_initialized "
                    "goes back to False as well")
    if answer["old_params_kept"] is not truth["old_params_kept"]:
        raise Wrong("the members bound before keep their executors and values: bind() says "
                    "'Already bound, ignoring bind()' for them and init_params() skips them")
    return "unbound after add; bind and init_params again; the old members keep their values"
