"""Classification metrics: Accuracy, TopKAccuracy, F1, MCC and the multi-class PCC.

See notebook 05.
"""
from __future__ import annotations

import math

import numpy

from ..base import MXNetAssertionError, ShapeError
from .base import (EvalMetric, MetricError, register, alias, _numpy, _check_labels,
                   check_label_shapes)


# -- classification -----------------------------------------------------------------------
@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of examples whose predicted class equals the label.

    Predictions shaped like the labels are taken as class indices; otherwise the class is the
    argmax over ``axis``. Both are truncated to int32 before comparing.

    Parameters
    ----------
    axis : int
        The class axis of the predictions (default 1).

    Examples
    --------
    >>> acc = Accuracy()
    >>> acc.update([mx.nd.array([0, 1, 1])], [mx.nd.array([[0.3, 0.7], [0, 1], [0.4, 0.6]])])
    >>> acc.get()
    ('accuracy', 0.6666666666666666)

    See notebook 05.
    """

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.axis = axis

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _numpy(label), _numpy(pred)
            if pred.shape != label.shape:
                _check_labels(label, pred.shape[self.axis] if pred.ndim > self.axis else None,
                              type(self).__name__)
                pred = pred.argmax(axis=self.axis)
            else:
                _check_labels(label, None, type(self).__name__)
            pred = pred.astype("int32").ravel()
            label = label.astype("int32").ravel()
            check_label_shapes(label, pred)
            self._add(int((pred == label).sum()), len(pred))


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of examples whose label is among the ``top_k`` highest-scored classes.

    The name becomes ``'top_k_accuracy_<k>'``. Predictions are ``(batch, classes)``.

    Parameters
    ----------
    top_k : int
        How many of the best classes count as a hit; must be more than 1 (use
        :class:`Accuracy` for 1).

    See notebook 05.
    """

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super().__init__(name, top_k=top_k, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.top_k = top_k
        if not self.top_k > 1:
            raise MXNetAssertionError(f"TopKAccuracy needs top_k > 1, got {top_k}; use Accuracy "
                                      "for top_k=1")
        self.name += f"_{self.top_k}"

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            scores = _numpy(pred).astype("float32")
            if scores.ndim > 2:
                raise ShapeError(f"TopKAccuracy takes predictions of at most 2 dims "
                                 f"(batch, classes), got shape {scores.shape}")
            if self.top_k > scores.shape[-1]:
                raise ShapeError(f"TopKAccuracy(top_k={self.top_k}) needs at least {self.top_k}"
                                 f" classes, predictions have shape {scores.shape}")
            # after argpartition the last top_k columns hold the top_k best classes (unordered)
            ranked = numpy.argpartition(scores, -self.top_k)
            label = _numpy(label)
            _check_labels(label, scores.shape[-1], type(self).__name__)
            label = label.astype("int32")
            check_label_shapes(label, ranked)
            if ranked.ndim == 1:
                # as in MXNet, 1-d predictions count only towards the local sum
                self.sum_metric += int((ranked.ravel() == label.ravel()).sum())
            else:
                classes = ranked.shape[1]
                for j in range(min(classes, self.top_k)):
                    hits = int((ranked[:, classes - 1 - j].ravel() == label.ravel()).sum())
                    self.sum_metric += hits
                    self.global_sum_metric += hits
            self.num_inst += ranked.shape[0]
            self.global_num_inst += ranked.shape[0]


class _BinaryCounts:
    """Confusion counts (tp, fp, fn, tn) of a binary classifier, local and global."""

    FIELDS = ("tp", "fp", "fn", "tn")

    def __init__(self):
        self.reset()

    def reset(self):
        self.local = dict.fromkeys(self.FIELDS, 0)
        self.glob = dict.fromkeys(self.FIELDS, 0)

    def reset_local(self):
        self.local = dict.fromkeys(self.FIELDS, 0)

    def update(self, label, pred, metric_name):
        scores = _numpy(pred)
        label = _numpy(label)
        predicted = numpy.argmax(scores, axis=1)
        check_label_shapes(label, scores)
        if len(numpy.unique(label.astype("int32"))) > 2:
            raise MetricError(f"{metric_name} only supports binary classification, but the "
                              f"labels hold {len(numpy.unique(label))} distinct values")
        _check_labels(label, scores.shape[1] if scores.ndim > 1 else None, metric_name)
        label = label.astype("int32")
        pred_pos = predicted == 1
        pred_neg = 1 - pred_pos
        label_pos = label == 1
        label_neg = 1 - label_pos
        # (N,1) labels broadcast against (N,) predictions here, exactly as in MXNet
        counts = {"tp": (pred_pos * label_pos).sum(), "fp": (pred_pos * label_neg).sum(),
                  "fn": (pred_neg * label_pos).sum(), "tn": (pred_neg * label_neg).sum()}
        for key, value in counts.items():
            self.local[key] += int(value)
            self.glob[key] += int(value)

    @staticmethod
    def total(c):
        return c["tp"] + c["fp"] + c["fn"] + c["tn"]

    @staticmethod
    def fscore(c):
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] > 0 else 0.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] > 0 else 0.0
        if precision + recall > 0:
            return 2 * precision * recall / (precision + recall)
        return 0.0

    @staticmethod
    def mcc(c):
        if not _BinaryCounts.total(c):
            return 0.0
        tp, fp, fn, tn = (float(c[k]) for k in ("tp", "fp", "fn", "tn"))
        denom = 1.0
        # zero marginals are skipped (treated as 1), so a constant predictor scores 0
        for term in (tp + fp, tp + fn, tn + fp, tn + fn):
            if term != 0.0:
                denom *= term
        return (tp * tn - fp * fn) / math.sqrt(denom)


class _BinaryMetric(EvalMetric):
    """Shared update logic of F1 and MCC (``average`` is 'macro' or 'micro')."""

    _score = None

    def __init__(self, name, output_names, label_names, average):
        self.average = average
        self._counts = _BinaryCounts()
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            self._counts.update(label, pred, type(self).__name__)
        c = self._counts
        score = type(self)._score
        if self.average == "macro":
            # one score per update() call; the counts start afresh for the next call
            self.sum_metric += score(c.local)
            self.global_sum_metric += score(c.glob)
            self.num_inst += 1
            self.global_num_inst += 1
            c.reset()
        else:
            # one score over all counts, weighted so that get() returns it
            self.sum_metric = score(c.local) * c.total(c.local)
            self.global_sum_metric = score(c.glob) * c.total(c.glob)
            self.num_inst = c.total(c.local)
            self.global_num_inst = c.total(c.glob)

    def reset(self):
        super().reset()
        self._counts.reset()

    def reset_local(self):
        super().reset_local()
        self._counts.reset_local()


@register
class F1(_BinaryMetric):
    """F1 score (harmonic mean of precision and recall) of a binary classifier.

    The predicted class is the argmax over axis 1 of ``(batch, 2)`` predictions; class 1 is
    positive.

    Parameters
    ----------
    average : {'macro', 'micro'}
        ``'macro'``: the mean of per-``update`` F1 scores; ``'micro'``: one F1 over all counts.

    Notes
    -----
    As in MXNet, ``get_config()`` does not record ``average``.

    See notebook 05.
    """

    _score = staticmethod(_BinaryCounts.fscore)

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)


@register
class MCC(_BinaryMetric):
    """Matthews correlation coefficient of a binary classifier.

    ``(TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``, with zero factors in the root
    replaced by 1. Inputs and ``average`` as for :class:`F1`.

    See notebook 05.
    """

    _score = staticmethod(_BinaryCounts.mcc)

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)


@register
class PCC(EvalMetric):
    """Multiclass Matthews correlation (Pearson correlation of a confusion matrix).

    The confusion matrix grows as larger class indices appear. ``num_inst`` counts ``update``
    calls and ``get()`` returns the coefficient of the whole (local) matrix.

    See notebook 05.
    """

    def __init__(self, name="pcc", output_names=None, label_names=None, has_global_stats=True):
        self.k = 2
        super().__init__(name=name, output_names=output_names, label_names=label_names,
                         has_global_stats=has_global_stats)

    def _grow(self, extra):
        pad = ((0, extra), (0, extra))
        self.lcm = numpy.pad(self.lcm, pad, "constant")
        self.gcm = numpy.pad(self.gcm, pad, "constant")
        self.k += extra

    @staticmethod
    def _calc_mcc(cmat):
        n = cmat.sum()
        per_pred = cmat.sum(axis=1)
        per_label = cmat.sum(axis=0)
        cov_pp = numpy.sum(per_pred * (n - per_pred))
        cov_ll = numpy.sum(per_label * (n - per_label))
        if cov_pp == 0 or cov_ll == 0:
            return float("nan")
        cov_pl = numpy.sum(cmat.diagonal() * n - per_pred * per_label)
        return float(cov_pl / (cov_pp * cov_ll) ** 0.5)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label = _numpy(label)
            _check_labels(label, None, type(self).__name__)  # the matrix grows upwards only
            label = label.astype("int32")
            pred = _numpy(pred)
            pred = pred.argmax(axis=1) if pred.shape != label.shape else pred.astype("int32")
            top = max(pred.max(), label.max())
            if top >= self.k:
                self._grow(int(top) + 1 - self.k)
            batch = numpy.zeros((self.k, self.k))
            numpy.add.at(batch, (pred, label), 1)  # rows: predicted class, columns: label
            self.lcm += batch
            self.gcm += batch
        self.num_inst += 1
        self.global_num_inst += 1

    @property
    def sum_metric(self):
        return self._calc_mcc(self.lcm) * self.num_inst

    @property
    def global_sum_metric(self):
        return self._calc_mcc(self.gcm) * self.global_num_inst

    def reset(self):
        self.global_num_inst = 0.0
        self.gcm = numpy.zeros((self.k, self.k))
        self.reset_local()

    def reset_local(self):
        self.num_inst = 0.0
        self.lcm = numpy.zeros((self.k, self.k))


