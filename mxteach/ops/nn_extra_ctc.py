"""CTCLoss (alias ``ctc_loss``, and ``contrib.CTCLoss`` / ``contrib.ctc_loss``): the
Connectionist Temporal Classification loss of Graves et al. (2006) for unsegmented sequence
labelling.

``data`` holds activations (before softmax) shaped ``(T, N, C)``, sequence-major, with one
class reserved for the blank: ``blank_label='first'`` reserves class 0 (labels are 1..C-1, rows
padded with 0), ``'last'`` reserves class C-1 (labels 0..C-2, padded with -1). ``label`` is
``(N, L)``; ``use_data_lengths`` / ``use_label_lengths`` add the inputs ``data_lengths`` and
``label_lengths`` (N,). The output is the loss per sample ``-log P(label | data)``, summed over
all alignments by the forward-backward recursions (kernels: CPU ``kernels/cpu/nn_extra_ctc.py``,
CUDA ``kernels/cuda/nn_extra_ctc.py``, numpy twin ``kernels/reference/nn_extra_ctc.py``).

As in MXNet the forward also computes the gradient with respect to the activations (softmax
included), and the backward scales it by each sample's head gradient. The labels and lengths
get a zero gradient. A label outside ``[0, C)`` is an error here (MXNet reads out of bounds).
See notebook 08.
"""
from __future__ import annotations

import numpy as np

from .registry import Op, Param, register, assign
from .common import grad_mode
from ..base import MXNetError, ShapeError
from ..kernels.cpu import nn_extra_ctc as K

__all__ = ["ctc_codes"]


def _args(p):
    return (["data", "label"] + (["data_lengths"] if p["use_data_lengths"] else [])
            + (["label_lengths"] if p["use_label_lengths"] else []))


def ctc_codes(p, classes):
    """(blank class, padding value) for ``blank_label``."""
    return (0, 0) if p["blank_label"] == "first" else (classes - 1, -1)


def _shape(p, in_shapes):
    names = _args(p)
    data = in_shapes[0]
    if data is None:
        return list(in_shapes), [None]
    data = tuple(data)
    if len(data) != 3:
        raise ShapeError(f"CTCLoss: input 'data' has shape {data}; it needs 3-D "
                         f"(sequence_length, batch_size, alphabet_size)")
    t, n, c = data
    label = in_shapes[1]
    if label is not None and (len(label) != 2 or label[0] != n):
        raise ShapeError(f"CTCLoss: input 'label' has shape {tuple(label)}, expected "
                         f"({n}, label_sequence_length) for data {data}")
    shapes = [data, None if label is None else tuple(label)]
    for name, got in zip(names[2:], in_shapes[2:]):
        if got is not None and tuple(got) != (n,):
            raise ShapeError(f"CTCLoss: input '{name}' has shape {tuple(got)}, expected ({n},)")
        shapes.append((n,))
    return shapes, [(n,)]


def _lengths(p, ins):
    """(label_lens, data_lens): the length inputs, None where the flags leave them out."""
    k = 2
    data_lens = label_lens = None
    if p["use_data_lengths"]:
        data_lens, k = ins[k], k + 1
    if p["use_label_lengths"]:
        label_lens = ins[k]
    return label_lens, data_lens


def _check_labels(p, labels, label_lens, data_lens, data_shape):
    """Host-side checks: the kernels index with the label values."""
    t, _, c = data_shape
    blank, pad = ctc_codes(p, c)
    lab = np.trunc(np.asarray(labels, np.float64)).astype(np.int64)
    if p["use_label_lengths"]:
        keep = np.arange(lab.shape[1])[None, :] < np.trunc(np.asarray(label_lens))[:, None]
    else:
        keep = np.cumsum(lab == pad, axis=1) == 0     # everything before the first padding
    bad = lab[keep & ((lab < 0) | (lab >= c))]
    if bad.size:
        raise MXNetError(f"CTCLoss: label value {bad[0]} is outside [0, {c}) for alphabet_size "
                         f"{c} (blank_label='{p['blank_label']}', padding {pad})")
    if p["use_data_lengths"]:
        dl = np.asarray(data_lens)
        if dl.min() < 1 or dl.max() > t:
            raise MXNetError(f"CTCLoss: data_lengths {dl.tolist()} must lie in [1, {t}]")


def _forward(p, ins, outs, is_train, state):
    x, labels = ins[0], ins[1]
    t, n, c = x.shape
    label_lens, data_lens = _lengths(p, ins)
    _check_labels(p, labels, label_lens, data_lens, x.shape)
    blank, pad = ctc_codes(p, c)
    s = 2 * labels.shape[1] + 1
    unused = np.zeros(n)        # stands in for a lengths input the flags leave out
    label_lens = unused if label_lens is None else label_lens
    data_lens = unused if data_lens is None else data_lens
    loss, grad = np.empty(n), np.empty((t, n, c))
    K.ctc_loss(np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(labels),
               np.ascontiguousarray(label_lens), p["use_label_lengths"],
               np.ascontiguousarray(data_lens), p["use_data_lengths"], blank, pad, loss, grad,
               np.empty((n, t, s)), np.empty((n, t, s)))
    outs[0][...] = loss
    state["grad"] = grad


def _backward(p, ograds, ins, outs, igrads, reqs, state):
    if "grad" not in state:
        raise MXNetError("CTCLoss: backward needs a forward pass first")
    if grad_mode(reqs[0], igrads[0]):
        head = np.asarray(ograds[0], np.float64).reshape(1, -1, 1)
        assign(igrads[0], reqs[0], (state["grad"] * head).astype(igrads[0].dtype))
    for g, r in zip(igrads[1:], reqs[1:]):
        assign(g, r, 0)


def _gpu_scratch(state, key, shape):
    from numba import cuda
    buf = state.get(key)
    if buf is None or tuple(buf.shape) != shape:
        buf = state[key] = cuda.device_array(shape, np.float64)
    return buf


def _gpu_forward(p, ins, outs, is_train, state):
    from ..kernels.cuda import nn_extra_ctc as C
    x, labels = ins[0], ins[1]
    t, n, c = x.shape
    label_lens, data_lens = _lengths(p, ins)
    host = [None if a is None else a.copy_to_host() for a in (labels, label_lens, data_lens)]
    _check_labels(p, host[0], host[1], host[2], tuple(x.shape))   # small: labels and lengths
    blank, pad = ctc_codes(p, c)
    s = 2 * labels.shape[1] + 1
    unused = outs[0]        # stands in for a lengths input the flags leave out (never read)
    C.ctc_loss(x, labels, unused if label_lens is None else label_lens,
               p["use_label_lengths"], unused if data_lens is None else data_lens,
               p["use_data_lengths"], blank, pad, outs[0],
               _gpu_scratch(state, "gpu_grad", (t, n, c)),
               _gpu_scratch(state, "gpu_alpha", (n, t, s)),
               _gpu_scratch(state, "gpu_beta", (n, t, s)), _gpu_scratch(state, "gpu_acc", (n, c)))


def _gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
    from ..kernels.cuda import nn_extra_ctc as C, elemwise
    if "gpu_grad" not in state:
        raise MXNetError("CTCLoss: backward needs a forward pass first")
    if grad_mode(reqs[0], igrads[0]):
        C.ctc_grad(state["gpu_grad"], ograds[0], reqs[0] == "add", igrads[0])
    for g, r in zip(igrads[1:], reqs[1:]):
        if grad_mode(r, g) == 1:
            elemwise.fill(g, 0)


register(Op(
    name="CTCLoss", aliases=("ctc_loss", "_contrib_CTCLoss", "_contrib_ctc_loss"),
    params={"use_data_lengths": Param("bool", False, doc="add the input data_lengths"),
            "use_label_lengths": Param("bool", False, doc="add the input label_lengths"),
            "blank_label": Param("str", "first", choices=("first", "last"),
                                 doc="which class is the blank (and padding 0 or -1)")},
    arguments=_args, outputs=("output0",), infer_shape=_shape, forward=_forward,
    backward=_backward, gpu_forward=_gpu_forward, gpu_backward=_gpu_backward,
    backward_uses=("ins",), hint="ctcloss",
    doc="Connectionist Temporal Classification loss per sample of (T, N, C) activations and "
        "(N, L) padded labels. See notebook 08."))
