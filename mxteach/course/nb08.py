"""Exercise checks of notebook 08 (bucketing and ``mx.rnn``).

The truth comes from mxteach's ``BucketingModule`` and ``mx.rnn`` run on the notebook's small
models, and from the recorded MXNet 1.9.1 outputs (``mxnet_outputs/08.json``). See notebook 08.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, exercise
from .mxnet_says import recorded

__all__ = ["VOCAB", "EMBED", "TAGS", "B", "SWITCH_LENGTHS", "tagger_batch", "run_switches",
           "check_padding", "check_switches", "check_lone_parameter"]

VOCAB, EMBED, TAGS, B = 20, 4, 6, 4
SWITCH_LENGTHS = (8, 3, 5, 8, 3, 5, 5)       # the batches of exercise 08.2, in order


def returned(fn, *args, what="your function"):
    """Call the student's function; ``None`` back means its body is still the template."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None:
        raise Wrong(f"not answered yet: {what} returned None -- write its body (with a "
                    "`return`) and run the cell again")
    return out


def tagger_batch(length, seed=0):
    """A batch of ``B`` random sentences of one length for the per-word tagger."""
    from ..io import DataBatch, DataDesc
    from ..ndarray import array
    rng = np.random.RandomState(seed + length)
    return DataBatch([array(rng.randint(0, VOCAB, (B, length)))],
                     [array(rng.randint(0, TAGS, (B, length)))], bucket_key=length,
                     provide_data=[DataDesc("data", (B, length))],
                     provide_label=[DataDesc("softmax_label", (B, length))])


def _tagger(length):
    from .. import symbol as sym
    data = sym.Variable("data")
    h = sym.Embedding(data, input_dim=VOCAB, output_dim=EMBED, name="embed")
    h = sym.FullyConnected(h, num_hidden=TAGS, flatten=False, name="fc")
    return sym.SoftmaxOutput(h, preserve_shape=True, name="softmax"), ("data",), ("softmax_label",)


def run_switches(sym_gen=_tagger, default=8, lengths=SWITCH_LENGTHS, watch=None):
    """A BucketingModule trained one step on each batch length in turn (exercise 08.2).

    ``watch(module)`` (e.g. a view class) is called before bind; then ``(module, its result)``
    is returned instead of the module alone.
    """
    from .. import init
    from ..module import BucketingModule
    mod = BucketingModule(sym_gen, default_bucket_key=default)
    watcher = watch(mod) if watch is not None else None
    first = tagger_batch(default)
    mod.bind(first.provide_data, first.provide_label)
    mod.init_params(init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.1})
    for length in lengths:
        mod.forward(tagger_batch(length), is_train=True)
        mod.backward()
        mod.update()
    return (mod, watcher) if watch is not None else mod


@exercise("08.1", "build the padding cost of a choice of buckets")
def check_padding(answer):
    """``answer(lengths, buckets) -> float``: the fraction of padded positions when each
    sentence is padded to the smallest bucket that holds it."""
    rng = np.random.RandomState(1)
    cases = [(np.array([2, 3, 5, 5, 9]), [5, 10]), (rng.randint(1, 21, 50), [5, 10, 20]),
             (np.array([4, 4, 4]), [4])]
    for lengths, buckets in cases:
        padded = np.array([min(b for b in buckets if b >= n) for n in lengths])
        want = 1 - lengths.sum() / padded.sum()
        got = returned(answer, lengths, list(buckets), what="your padding function")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise Wrong(f"return one number (a fraction), got {got!r}") from None
        wasted = (padded - lengths).sum()
        if np.isclose(got, wasted) and wasted != want:
            raise Wrong(f"you returned the number of padded positions ({wasted}); the exercise "
                        "asks for the fraction of all positions that are padding")
        if np.isclose(got, 1 - want) and not np.isclose(want, 0.5):
            raise Wrong(f"for lengths {lengths.tolist()} and buckets {buckets} you returned "
                        f"{got:.4f}, the fraction of real words; padding is the rest")
        if not np.isclose(got, want, atol=1e-6):
            raise Wrong(f"for lengths {lengths.tolist()} and buckets {buckets} you returned "
                        f"{got:.4f}, expected {want:.4f}: pad each sentence to the smallest "
                        "bucket that holds it (not the largest), then 1 - words / positions")
    return "right for every case, including a single bucket that fits exactly (no padding)"


@exercise("08.2", "read the BucketView: switches and binds")
def check_switches(answer):
    """``answer = {"switches": int, "bound_on_switch": [keys in order]}`` for the batches
    ``SWITCH_LENGTHS`` run on a tagger whose default bucket is 8."""
    if not isinstance(answer, dict) or set(answer) != {"switches", "bound_on_switch"}:
        raise Wrong("answer with a dict {'switches': number, 'bound_on_switch': [bucket keys]}")
    if answer["switches"] is Ellipsis or Ellipsis in list(answer["bound_on_switch"]):
        raise Wrong("not answered yet: replace each `...` with your answer and run the cell again")
    mod = run_switches()
    history = mod.switch_history
    switches = len(history)
    bound = [to for _, _, to, new in history if new]
    if answer["switches"] == len(SWITCH_LENGTHS) and switches != len(SWITCH_LENGTHS):
        raise Wrong(f"{answer['switches']} counts every batch; a switch happens only when the "
                    "batch's bucket differs from the current one (two 5s in a row: no switch, "
                    "and the first batch of 8 is already current after bind)")
    if answer["switches"] != switches:
        raise Wrong(f"{answer['switches']} switches is not what the view counts; walk the "
                    f"lengths {list(SWITCH_LENGTHS)} starting from the current bucket 8")
    if list(answer["bound_on_switch"]) != bound:
        raise Wrong(f"bound_on_switch {list(answer['bound_on_switch'])} is off: the default "
                    "bucket is bound by bind(), every other bucket once, on its first switch "
                    "(rings in the view's timeline), in order")
    return f"{switches} switches; buckets {bound} were bound by a switch, each once"


@exercise("08.3", "predict what real MXNet does with a parameter only one bucket has")
def check_lone_parameter(answer):
    """``answer``: one of ``"zeros"``, ``"random"``, ``"error at bind"`` -- what MXNet 1.9.1
    does when bucket 8 has a parameter the default bucket 5 lacks."""
    choices = ("zeros", "random", "error at bind")
    if answer not in choices:
        raise Wrong(f"answer with one of {choices}, got {answer!r}")
    output = recorded("08")["08.lone_parameter"]["output"]
    truth = "error at bind" if "Error" in output.splitlines()[-1] else "zeros"
    if answer != truth:
        if answer == "zeros":
            raise Wrong("zeros is what mxteach does (and warns about in BucketView); MXNet "
                        "builds bucket 8 with shared_module=the default bucket, looks up "
                        "long_weight there and fails -- look at the recorded MXNet output")
        raise Wrong("init_params ran on the default bucket only; a bucket bound later gets no "
                    "initializer -- look at the recorded MXNet output")
    return "MXNet fails when it binds bucket 8: every bucket must have the same parameters"
