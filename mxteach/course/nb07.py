"""Exercise checks of notebook 07 (checkpoints and real MXNet).

The truth comes from the checkpoint MXNet 1.9.1 wrote (``notebooks/data/digits-mlp-*``, made by
``scripts/make_mxnet_checkpoint.py``), read with mxteach, and from mxteach Modules run on the
same inputs. See notebook 07.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checking import Wrong, close, exercise


def returned(fn, *args, what="your function"):
    """Call the student's function; ``None`` back means its body is still the template."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None:
        raise Wrong(f"not answered yet: {what} returned None -- write its body (with a "
                    "`return`) and run the cell again")
    return out

__all__ = ["DATA", "PREFIX", "EPOCH", "check_params_keys", "check_param_count",
           "check_mlp_forward", "check_extract_features"]

# The fixture ships beside the notebooks: <repo>/notebooks/data.
DATA = Path(__file__).resolve().parents[2] / "notebooks" / "data"
PREFIX, EPOCH = "digits-mlp", 2


def _checkpoint():
    from ..model import load_checkpoint
    return load_checkpoint(str(DATA / PREFIX), EPOCH)


def _inputs(n=5, seed=3):
    """A few inputs shaped like the flattened 8 x 8 digits, in [0, 1]."""
    return np.random.RandomState(seed).uniform(0, 1, (n, 64)).astype("float32")


def _module_outputs(symbol, arg, aux, x):
    from ..context import cpu
    from ..io import DataBatch
    from ..module import Module
    from ..ndarray import array
    labels = [n for n in symbol.list_arguments() if n.endswith("_label")]
    mod = Module(symbol, label_names=labels, context=cpu())
    mod.bind(data_shapes=[("data", x.shape)],
             label_shapes=[(n, (len(x),)) for n in labels] or None, for_training=False)
    mod.set_params(arg, aux, allow_extra=True)
    mod.forward(DataBatch([array(x)]), is_train=False)
    return mod.get_outputs()[0].asnumpy()


@exercise("07.1", "predict the keys of MXNet's .params file")
def check_params_keys(answer):
    """``answer``: the keys of ``mx.nd.load("digits-mlp-0002.params")`` (any order)."""
    from ..ndarray import load
    truth = sorted(load(str(DATA / f"{PREFIX}-{EPOCH:04d}.params")))
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise Wrong(f"answer with a list of strings (the keys), got {answer!r}")
    got = sorted(str(k) for k in answer)
    if not all(k.startswith(("arg:", "aux:")) for k in got):
        raise Wrong("each key in a checkpoint's .params file starts with 'arg:' (a parameter) "
                    "or 'aux:' (an auxiliary state such as BatchNorm's moving mean), e.g. "
                    f"'arg:fc1_weight'; you wrote {got}")
    inputs = [k for k in got if k.split(":", 1)[1] in ("data", "softmax_label")]
    if inputs:
        raise Wrong(f"{inputs} are inputs, not parameters: a checkpoint saves what training "
                    "learned (weights, biases, aux states), never the data or the labels")
    missing, extra = sorted(set(truth) - set(got)), sorted(set(got) - set(truth))
    if missing or extra:
        raise Wrong(f"missing {missing}, not in the file {extra}. List the arguments of the "
                    "symbol that are learned (sym.list_arguments() without data and label)")
    return f"the file holds {len(truth)} arrays: {truth}"


@exercise("07.2", "predict how many numbers the checkpoint holds")
def check_param_count(answer):
    """``answer``: the total number of float32 values in ``digits-mlp-0002.params``."""
    _, arg, aux = _checkpoint()
    truth = sum(int(np.prod(v.shape)) for v in list(arg.values()) + list(aux.values()))
    try:
        got = int(answer)
    except (TypeError, ValueError):
        raise Wrong(f"answer with a whole number, got {answer!r}") from None
    weights = sum(int(np.prod(v.shape)) for k, v in arg.items() if k.endswith("_weight"))
    if got == weights:
        raise Wrong(f"{got} counts the weights only: each FullyConnected layer also has a bias "
                    "of num_hidden numbers")
    if got != truth:
        shapes = {k: v.shape for k, v in sorted(arg.items())}
        raise Wrong(f"{got} is not it; read the shapes ({shapes}) and multiply out each one "
                    "(FullyConnected's weight is (num_hidden, inputs))")
    return f"{truth} numbers = {truth * 4} bytes of float32, plus the file's headers"


@exercise("07.3", "build the MLP's forward pass in numpy from the loaded parameters")
def check_mlp_forward(answer):
    """``answer(x, arg_params) -> probabilities``: fc1 → relu → fc2 → softmax in numpy, with
    ``arg_params`` the dict of NDArrays ``load_checkpoint`` returns."""
    sym, arg, aux = _checkpoint()
    x = _inputs()
    want = _module_outputs(sym, arg, aux, x)
    got = np.asarray(returned(answer, x, arg, what="your forward"))
    if got.shape != want.shape:
        raise Wrong(f"your forward returns shape {got.shape}; expected {want.shape} (one row of "
                    "10 probabilities per image). FullyConnected computes x @ W.T + b")
    no_relu = _numpy_mlp(x, arg, relu=False)
    if np.allclose(got, no_relu, atol=1e-5) and not np.allclose(no_relu, want, atol=1e-5):
        raise Wrong("your outputs are those of the network without its relu: the graph has an "
                    "Activation(act_type='relu') between fc1 and fc2")
    if not np.allclose(got.sum(axis=1), 1, atol=1e-4):
        raise Wrong("your rows do not sum to 1: end with a softmax over axis 1 "
                    "(exp(s - max) / sum), as SoftmaxOutput does in its forward")
    close(got, want, "your probabilities")
    return "equal to mxteach's Module on the same inputs: you know what the file computes"


def _numpy_mlp(x, arg, relu=True):
    w1, b1 = arg["fc1_weight"].asnumpy(), arg["fc1_bias"].asnumpy()
    w2, b2 = arg["fc2_weight"].asnumpy(), arg["fc2_bias"].asnumpy()
    h = x @ w1.T + b1
    if relu:
        h = np.maximum(h, 0)
    s = h @ w2.T + b2
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@exercise("07.4", "extract features with get_internals and set_params")
def check_extract_features(answer):
    """``answer(sym, arg_params, aux_params, x) -> numpy array``: the relu1 features of ``x``,
    with a Module over ``sym.get_internals()[...]`` given the full parameter dicts."""
    sym, arg, aux = _checkpoint()
    x = _inputs(n=6, seed=4)
    want = _module_outputs(sym.get_internals()["relu1_output"], arg, aux, x)
    got = returned(answer, sym, arg, aux, x, what="your extractor")
    got = got.asnumpy() if hasattr(got, "asnumpy") else np.asarray(got)
    if got.shape == (len(x), 10):
        raise Wrong("you returned the 10 class scores: take the internal output "
                    "'relu1_output' of sym.get_internals(), not the whole network")
    fc1 = _module_outputs(sym.get_internals()["fc1_output"], arg, aux, x)
    if got.shape == fc1.shape and np.allclose(got, fc1, atol=1e-5) and (fc1 < 0).any():
        raise Wrong("these are fc1's outputs, before the relu (some are negative): the "
                    "features are 'relu1_output'")
    close(got, want, "your features")
    return f"features of shape {want.shape}, all >= 0 (after the relu)"
