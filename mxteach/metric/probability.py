"""Metrics of predicted probabilities: Perplexity, CrossEntropy, NegativeLogLikelihood.

See notebook 05.
"""
from __future__ import annotations

import math

import numpy

from ..base import ShapeError
from .base import EvalMetric, register, alias, _numpy, _check_labels, check_label_shapes


# -- probabilistic ------------------------------------------------------------------------
@register
class Perplexity(EvalMetric):
    """``exp`` of the mean negative log-probability given to the true class.

    Parameters
    ----------
    ignore_label : int or None
        Label value whose positions are left out of the sum and the count. Required, as in
        MXNet (whose docs call -1 the default, but the argument has none).
    axis : int
        The class axis of the predictions (default -1).

    Notes
    -----
    Predictions are ``(examples, classes)``; labels hold one class per example (any shape).
    Labels outside ``[0, classes)`` (other than ``ignore_label``) or NaN raise
    :class:`LabelError` (MXNet clips them), and probabilities below 1e-10 are raised
    to 1e-10 before the log. The arithmetic is float32, as in MXNet.

    See notebook 05.
    """

    def __init__(self, ignore_label, axis=-1, name="perplexity", output_names=None,
                 label_names=None):
        super().__init__(name, ignore_label=ignore_label, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):
        if len(labels) != len(preds):
            raise ShapeError(f"Perplexity got {len(labels)} labels but {len(preds)} predictions")
        loss = 0.0
        num = 0
        for label, pred in zip(labels, preds):
            label, pred = _numpy(label), _numpy(pred)
            if label.size * pred.shape[-1] != pred.size:
                raise ShapeError(f"Perplexity: shape mismatch: labels {label.shape} vs. "
                                 f"predictions {pred.shape} (one label per row expected)")
            label = label.reshape(label.size)
            axis = self.axis % pred.ndim
            rest = pred.shape[:axis] + pred.shape[axis + 1:]
            if rest != label.shape:
                raise ShapeError(f"Perplexity: picking along axis {self.axis} of predictions "
                                 f"{pred.shape} needs {rest} labels, got {label.shape}")
            _check_labels(label, pred.shape[axis], type(self).__name__, self.ignore_label)
            index = numpy.clip(label.astype("int32"), 0, pred.shape[axis] - 1)
            prob = numpy.take_along_axis(pred, numpy.expand_dims(index, axis), axis)
            prob = prob.reshape(rest).astype(pred.dtype)
            if self.ignore_label is not None:
                ignore = (label == self.ignore_label).astype(prob.dtype)
                num -= int(ignore.sum())
                prob = prob * (1 - ignore) + ignore  # ignored positions contribute log(1) = 0
            loss -= float(numpy.log(numpy.maximum(prob.dtype.type(1e-10), prob)).sum())
            num += prob.size
        self._add(loss, num)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self):
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


class _ProbabilityOfLabel(EvalMetric):
    """Shared code of CrossEntropy and NegativeLogLikelihood: -sum log(p[label] + eps)."""

    def __init__(self, eps, name, output_names, label_names):
        super().__init__(name, eps=eps, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.eps = eps

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _numpy(label).ravel(), _numpy(pred)
            if label.shape[0] != pred.shape[0]:
                raise ShapeError(f"{type(self).__name__}: {label.shape[0]} labels for "
                                 f"{pred.shape[0]} predictions {pred.shape}")
            index = _check_labels(label, pred.shape[1] if pred.ndim > 1 else None,
                                  type(self).__name__)
            prob = pred[numpy.arange(label.shape[0], dtype=numpy.int64), index]
            self._add(float((-numpy.log(prob + self.eps)).sum()), label.shape[0])


@register
@alias("ce")
class CrossEntropy(_ProbabilityOfLabel):
    """Mean cross-entropy ``-log(p[label] + eps)`` over examples.

    Predictions are probabilities ``(batch, classes)`` (e.g. SoftmaxOutput's output).

    Parameters
    ----------
    eps : float
        Added to the probability so that ``log(0)`` stays finite.

    See notebook 05.
    """

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


@register
@alias("nll_loss")
class NegativeLogLikelihood(_ProbabilityOfLabel):
    """Mean negative log-likelihood of the true class; the same numbers as
    :class:`CrossEntropy`, named ``'nll-loss'``.

    See notebook 05.
    """

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


