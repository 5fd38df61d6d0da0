"""``mx.metric``: online evaluation metrics, as in MXNet 1.9.1.

A metric is a running sum and a count. ``update(labels, preds)`` takes one batch (lists of
arrays, one per output) and adds to ``sum_metric`` and ``num_inst``; ``get()`` returns
``(name, sum_metric / num_inst)``. Every metric keeps two such pairs: the *local* one, which
``Speedometer`` clears with ``reset_local()`` after each log line, and the *global* one, which
only ``reset()`` clears and which ``fit`` reports at the end of an epoch.

What is counted as one instance differs, and the numbers follow MXNet exactly: Accuracy and
CrossEntropy count examples, MAE/MSE/RMSE count (label, pred) pairs (so they average per-batch
means), F1/MCC in ``'macro'`` mode count ``update`` calls. See notebook 04.
"""
from __future__ import annotations

import json
import math
import warnings
from collections import OrderedDict

import numpy

from .base import (MXNetAssertionError, MXNetError, MXNetKeyError, MXNetNotImplementedError,
                   ShapeError, did_you_mean, numeric_types, string_types)
from .ndarray.ndarray import NDArray

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC",
           "Perplexity", "MAE", "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood",
           "PearsonCorrelation", "PCC", "Loss", "Torch", "Caffe", "CustomMetric", "np",
           "create", "register", "alias", "check_label_shapes", "MetricError"]


class MetricError(MXNetError, ValueError):
    """A metric got an argument it cannot use (unknown name, bad option, bad index)."""


def _numpy(x):
    """The values of an NDArray or array-like as a numpy array (no copy for numpy input)."""
    return x.asnumpy() if isinstance(x, NDArray) else numpy.asarray(x)


class LabelError(MetricError, IndexError):
    """A label that is not a class index of the predictions: NaN, negative, or too large.

    MXNet lets such labels through: Accuracy and F1 count them as misses, Perplexity clips
    them, CrossEntropy fails with an IndexError (with a huge negative index for NaN) or, for
    -1, silently reads the last class. A teaching tool says which label is wrong instead.
    """


def _check_labels(label, num_classes, metric, ignore_label=None):
    """Raise LabelError naming ``metric`` when a label is NaN/inf or outside
    ``[0, num_classes)`` (``num_classes=None``: only ``>= 0`` is checked). Labels equal to
    ``ignore_label`` are exempt. Returns the labels truncated to int64, as MXNet truncates."""
    flat = numpy.asarray(label).ravel()
    if flat.dtype.kind in "fc":
        finite = numpy.isfinite(flat)
        if not finite.all():
            pos = int(numpy.argmin(finite))
            raise LabelError(f"{metric}: label #{pos} is {flat[pos]}; labels must be class "
                             f"indices in [0, {num_classes if num_classes else 'classes'})")
    ints = flat.astype(numpy.int64)
    bad = ints < 0
    if num_classes is not None:
        bad |= ints >= num_classes
    if ignore_label is not None:
        bad &= flat != ignore_label
    if bad.any():
        pos = int(numpy.argmax(bad))
        where = f"[0, {num_classes})" if num_classes is not None else ">= 0"
        raise LabelError(f"{metric}: label #{pos} is {flat[pos].item()!r}, outside the class range "
                         f"{where} of the predictions; check the labels (and num_classes / "
                         f"the output layer's num_hidden)")
    return ints


def _is_array(x):
    return isinstance(x, (NDArray, numpy.ndarray))


def check_label_shapes(labels, preds, wrap=False, shape=False):
    """Check that labels and predictions agree in length (or, with ``shape``, in shape).

    Parameters
    ----------
    labels, preds : list of arrays, or arrays
        What to compare.
    wrap : bool
        Wrap a single array into a one-element list before returning.
    shape : bool
        Compare ``.shape`` instead of ``len()``.

    Returns
    -------
    labels, preds
        Possibly wrapped in lists.

    Raises
    ------
    ShapeError
        (a ``ValueError``) when they disagree.
    """
    if shape:
        got_l, got_p = labels.shape, preds.shape
    else:
        got_l, got_p = len(labels), len(preds)
    if got_l != got_p:
        what = "shape" if shape else "number"
        raise ShapeError(f"Shape of labels {got_l} does not match shape of predictions "
                         f"{got_p} (comparing the {what} of labels and predictions)")
    if wrap:
        labels = [labels] if _is_array(labels) else labels
        preds = [preds] if _is_array(preds) else preds
    return labels, preds


# -- registry -----------------------------------------------------------------------------
_REGISTRY = {}


def register(klass, name=None):
    """Make ``klass`` creatable by name: ``mx.metric.create(name)`` (case-insensitive).

    Usable as a class decorator. The default name is the class name. See notebook 04.
    """
    if not (isinstance(klass, type) and issubclass(klass, EvalMetric)):
        raise MetricError(f"can only register subclasses of EvalMetric, got {klass!r}")
    key = (name or klass.__name__).lower()
    old = _REGISTRY.get(key)
    if old is not None and old is not klass:
        warnings.warn(f"metric {klass.__module__}.{klass.__name__} registered as {key!r} "
                      f"replaces {old.__module__}.{old.__name__}", UserWarning, stacklevel=2)
    _REGISTRY[key] = klass
    return klass


def alias(*aliases):
    """Class decorator registering extra names, e.g. ``@alias('acc')``. See notebook 04."""
    def decorate(klass):
        for name in aliases:
            register(klass, name)
        return klass
    return decorate


def _create_registered(spec, *args, **kwargs):
    """Build a metric from a registered name, a config dict or a JSON string."""
    if isinstance(spec, EvalMetric):
        if args or kwargs:
            raise MetricError(f"{spec.name!r} is already a metric instance; extra arguments "
                              f"{args or ''}{kwargs or ''} cannot be applied to it")
        return spec
    if isinstance(spec, dict):
        config = dict(spec)
        if "metric" not in config:
            raise MXNetKeyError(f"a metric config dict needs a 'metric' key, got {sorted(config)}")
        return _create_registered(config.pop("metric"), **config)
    if not isinstance(spec, string_types):
        raise MXNetAssertionError(f"metric must be a name, an EvalMetric, a list or a "
                                  f"function, got {type(spec).__name__}")
    if spec.startswith("[") or spec.startswith("{"):
        if args or kwargs:
            raise MetricError("a JSON metric spec cannot be combined with extra arguments")
        loaded = json.loads(spec)
        if isinstance(loaded, list):
            name, kw = loaded
            return _create_registered(name, **kw)
        return _create_registered(loaded)
    key = spec.lower()
    if key not in _REGISTRY:
        raise MXNetAssertionError(f"metric {spec!r} is not registered; known names: "
                                  f"{sorted(_REGISTRY)}.{did_you_mean(key, _REGISTRY)}")
    return _REGISTRY[key](*args, **kwargs)


def create(metric, *args, **kwargs):
    """Make a metric from a name, an instance, a list, or a function.

    Parameters
    ----------
    metric : str, EvalMetric, list, dict or callable
        * a registered name or alias (``'acc'``, ``'ce'``, ``'top_k_accuracy'``, ``'f1'`` ...),
          built with ``*args, **kwargs``;
        * an ``EvalMetric``, returned as is;
        * a list of any of these, giving a :class:`CompositeEvalMetric`;
        * a config dict from ``get_config()``, or its JSON text;
        * a function ``f(label, pred)`` on numpy arrays, wrapped in :class:`CustomMetric`.

    Examples
    --------
    >>> create('acc').name, create('top_k_accuracy', top_k=3).name
    ('accuracy', 'top_k_accuracy_3')
    >>> create(['acc', 'ce']).get()[0]
    ['accuracy', 'cross-entropy']

    See notebook 04.
    """
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create_registered(metric, *args, **kwargs)


# -- base ---------------------------------------------------------------------------------
class EvalMetric:
    """Base class of metrics: a local and a global running (sum, count).

    Subclasses implement :meth:`update`, adding to ``sum_metric``/``num_inst`` and, when
    created with ``has_global_stats=True``, to ``global_sum_metric``/``global_num_inst``.
    Without global stats, the ``get_global*`` methods fall back to the local values.

    Parameters
    ----------
    name : str
        Display name (``'accuracy'``); what ``get()`` reports.
    output_names : list of str, optional
        With :meth:`update_dict`, which predictions to use (default: all, in order).
    label_names : list of str, optional
        With :meth:`update_dict`, which labels to use (default: all, in order).
    **kwargs
        Constructor arguments of the subclass, kept for :meth:`get_config`.

    See notebook 04.
    """

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def get_config(self):
        """A dict that ``mx.metric.create(**config)`` (or ``create(config)``) rebuilds from."""
        config = dict(self._kwargs)
        config.update({"metric": type(self).__name__, "name": self.name,
                       "output_names": self.output_names, "label_names": self.label_names})
        return config

    @staticmethod
    def _pick(named, wanted, what):
        if wanted is None:
            return list(named.values())
        missing = [n for n in wanted if n not in named]
        if missing:
            raise MetricError(f"update_dict: {what} {missing} not found among "
                              f"{list(named)}.{did_you_mean(missing[0], named)}")
        return [named[n] for n in wanted]

    def update_dict(self, label, pred):
        """Update from ``{name: array}`` dicts, selecting by ``label_names``/``output_names``.

        This is how ``Module.update_metric`` calls a metric.
        """
        preds = self._pick(pred, self.output_names, "output(s)")
        labels = self._pick(label, self.label_names, "label(s)")
        self.update(labels, preds)

    def update(self, labels, preds):
        """Add one batch: ``labels`` and ``preds`` are lists of arrays, one per output."""
        raise MXNetNotImplementedError(f"{type(self).__name__} does not define update(labels, "
                                       "preds); a metric subclass must implement it")

    def reset(self):
        """Clear both the local and the global statistics."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clear the local statistics only (``Speedometer(auto_reset=True)`` does this)."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """``(name, value)`` from the local statistics; the value is nan before any update."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_global(self):
        """``(name, value)`` since the last ``reset()`` (local values without global stats)."""
        if not self._has_global_stats:
            return self.get()
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.global_sum_metric / self.global_num_inst)

    @staticmethod
    def _pairs(name, value):
        names = name if isinstance(name, list) else [name]
        values = value if isinstance(value, list) else [value]
        return list(zip(names, values))

    def get_name_value(self):
        """``[(name, value), ...]`` from :meth:`get` (one pair, or several for composites)."""
        return self._pairs(*self.get())

    def get_global_name_value(self):
        """``[(name, value), ...]`` from :meth:`get_global`."""
        if not self._has_global_stats:
            return self.get_name_value()
        return self._pairs(*self.get_global())

    def _add(self, value, count):
        # local and global always move together; only the resets tell them apart
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += count
        self.global_num_inst += count


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns ``([names], [values])``.

    Parameters
    ----------
    metrics : list, optional
        Child metrics, or anything :func:`create` accepts.
    name, output_names, label_names
        As for :class:`EvalMetric`; the name filters are applied before the children's own.

    See notebook 04.
    """

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        self.metrics = []
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        """Append a child metric (anything :func:`create` accepts)."""
        self.metrics.append(create(metric))

    def get_metric(self, index):
        """The child metric at ``index``.

        MXNet *returns* a ValueError object for a bad index; here it is raised.
        """
        try:
            return self.metrics[index]
        except IndexError:
            raise MetricError(f"Metric index {index} is out of range 0 and "
                              f"{len(self.metrics)}") from None

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict((k, v) for k, v in labels.items() if k in self.label_names)
        if self.output_names is not None:
            preds = OrderedDict((k, v) for k, v in preds.items() if k in self.output_names)
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):
        for metric in self.metrics:
            metric.reset()

    def reset_local(self):
        for metric in self.metrics:
            metric.reset_local()

    @staticmethod
    def _collect(results):
        names, values = [], []
        for name, value in results:
            names.extend([name] if isinstance(name, string_types) else name)
            values.extend([value] if isinstance(value, numeric_types) else value)
        return (names, values)

    def get(self):
        return self._collect(m.get() for m in self.metrics)

    def get_global(self):
        return self._collect(m.get_global() for m in self.metrics)

    def get_config(self):
        config = super().get_config()
        config["metrics"] = [m.get_config() for m in self.metrics]
        return config


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

    See notebook 04.
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

    See notebook 04.
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

    See notebook 04.
    """

    _score = staticmethod(_BinaryCounts.fscore)

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)


@register
class MCC(_BinaryMetric):
    """Matthews correlation coefficient of a binary classifier.

    ``(TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``, with zero factors in the root
    replaced by 1. Inputs and ``average`` as for :class:`F1`.

    See notebook 04.
    """

    _score = staticmethod(_BinaryCounts.mcc)

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)


@register
class PCC(EvalMetric):
    """Multiclass Matthews correlation (Pearson correlation of a confusion matrix).

    The confusion matrix grows as larger class indices appear. ``num_inst`` counts ``update``
    calls and ``get()`` returns the coefficient of the whole (local) matrix.

    See notebook 04.
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

    See notebook 04.
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

    See notebook 04.
    """

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


@register
@alias("nll_loss")
class NegativeLogLikelihood(_ProbabilityOfLabel):
    """Mean negative log-likelihood of the true class; the same numbers as
    :class:`CrossEntropy`, named ``'nll-loss'``.

    See notebook 04.
    """

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


# -- regression ---------------------------------------------------------------------------
class _Regression(EvalMetric):
    """Shared code of MAE, MSE and RMSE: one value per (label, pred) pair, averaged.

    Subclasses define ``_value(diff)``, the batch's error from ``label - pred``.

    1-d arrays become columns first, so ``(N,)`` labels broadcast against ``(N, 1)``
    predictions (and, as in MXNet, silently against ``(N, k)`` ones too).
    """

    def __init__(self, name, output_names, label_names):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _numpy(label), _numpy(pred)
            if label.ndim == 1:
                label = label.reshape(label.shape[0], 1)
            if pred.ndim == 1:
                pred = pred.reshape(pred.shape[0], 1)
            # the mean of this batch counts once, whatever the batch size
            self._add(float(self._value(label - pred)), 1)


@register
class MAE(_Regression):
    """Mean absolute error, averaged per (label, pred) pair: ``mean(|label - pred|)``.

    Each ``update`` adds the batch mean once, so batches of different sizes weigh the same.

    See notebook 04.
    """

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(diff):
        return numpy.abs(diff).mean()


@register
class MSE(_Regression):
    """Mean squared error, averaged per (label, pred) pair like :class:`MAE`.

    See notebook 04.
    """

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(diff):
        return (diff ** 2.0).mean()


@register
class RMSE(_Regression):
    """Root mean squared error of each batch, averaged over batches (not the root of the
    overall MSE).

    See notebook 04.
    """

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(diff):
        return numpy.sqrt((diff ** 2.0).mean())


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation between labels and predictions (flattened).

    Parameters
    ----------
    average : {'macro', 'micro'}
        ``'macro'``: the mean of per-pair correlations. ``'micro'``: one correlation over all
        values seen, from running means and sums of squares.

    Notes
    -----
    Kept from MXNet: in ``'micro'`` mode ``get_global()`` returns 0.0 (the global sum is never
    filled), ``reset_local()`` leaves the running moments alone, and the co-moment update uses
    the new label mean but the old prediction mean, which is exact only one value at a time.

    See notebook 04.
    """

    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        self.average = average
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def reset_micro(self):
        """Forget the running moments of ``'micro'`` mode."""
        self._sse_p = 0
        self._mean_p = 0
        self._sse_l = 0
        self._mean_l = 0
        self._pred_nums = 0
        self._label_nums = 0
        self._conv = 0

    def reset(self):
        super().reset()
        if self.average == "micro":
            self.reset_micro()

    @staticmethod
    def update_variance(new_values, count, mean, m_2):
        """Welford's update of (count, mean, sum of squared deviations) with a batch."""
        count += len(new_values)
        delta = new_values - mean
        mean += numpy.sum(delta / count)
        m_2 += numpy.sum(delta * (new_values - mean))
        return count, mean, m_2

    def update_cov(self, label, pred):
        """Add this batch to the co-moment (called between the two mean updates)."""
        self._conv = self._conv + numpy.sum((label - self._mean_l) * (pred - self._mean_p))

    def update(self, labels, preds):
        labels, preds = check_label_shapes(labels, preds, True)
        for label, pred in zip(labels, preds):
            label, pred = _numpy(label), _numpy(pred)
            check_label_shapes(label, pred, False, True)
            label = label.ravel().astype(numpy.float64)
            pred = pred.ravel().astype(numpy.float64)
            if self.average == "macro":
                self._add(float(numpy.corrcoef(pred, label)[0, 1]), 1)
            else:
                self.num_inst += 1
                self.global_num_inst += 1
                self._label_nums, self._mean_l, self._sse_l = self.update_variance(
                    label, self._label_nums, self._mean_l, self._sse_l)
                self.update_cov(label, pred)
                self._pred_nums, self._mean_p, self._sse_p = self.update_variance(
                    pred, self._pred_nums, self._mean_p, self._sse_p)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, self.sum_metric / self.num_inst)
        n = self._label_nums
        spread = (n - 1) * numpy.sqrt(self._sse_p / (n - 1)) * numpy.sqrt(self._sse_l / (n - 1))
        return (self.name, float(self._conv / spread))


# -- losses and custom functions ----------------------------------------------------------
@register
class Loss(EvalMetric):
    """Mean of the values of the outputs themselves (for networks that output their loss).

    Labels are ignored; ``num_inst`` counts output elements.

    See notebook 04.
    """

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, _, preds):
        if _is_array(preds):
            preds = [preds]
        for pred in preds:
            values = _numpy(pred)
            self._add(float(values.sum(dtype=values.dtype)), values.size)


@register
class Torch(Loss):
    """:class:`Loss` named ``'torch'`` (kept for MXNet compatibility). See notebook 04."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)


@register
class Caffe(Loss):
    """:class:`Loss` named ``'caffe'`` (kept for MXNet compatibility). See notebook 04."""

    def __init__(self, name="caffe", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)


@register
class CustomMetric(EvalMetric):
    """A metric from a function ``feval(label, pred)`` on numpy arrays.

    ``feval`` returns either a number (counted as one instance) or a tuple
    ``(sum_metric, num_inst)``. It is called once per (label, pred) pair.

    Parameters
    ----------
    feval : callable
        The function.
    name : str, optional
        Defaults to ``feval.__name__``, as ``'custom(<lambda>)'`` for lambdas.
    allow_extra_outputs : bool
        Allow more predictions than labels (e.g. RNN states among the outputs); the extra
        predictions are skipped.

    Examples
    --------
    >>> m = CustomMetric(lambda label, pred: (label + pred).mean())
    >>> m.name
    'custom(<lambda>)'

    See notebook 04.
    """

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = feval.__name__
            if "<" in name:
                name = f"custom({name})"
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        if not self._allow_extra_outputs:
            labels, preds = check_label_shapes(labels, preds, True)
        for pred, label in zip(preds, labels):
            result = self._feval(_numpy(label), _numpy(pred))
            if isinstance(result, tuple):
                total, count = result
                self._add(total, count)
            else:
                self._add(result, 1)

    def get_config(self):
        raise MXNetError(f"CustomMetric {self.name!r} wraps a Python function and cannot be "
                         "turned into a config; rebuild it with mx.metric.create(feval)")


def np(numpy_feval, name=None, allow_extra_outputs=False):  # noqa: N802 - MXNet's name
    """Wrap ``numpy_feval(label, pred) -> float`` into a :class:`CustomMetric`.

    Usable as a decorator: ``@mx.metric.np`` turns a numpy function into a metric named after
    it. See notebook 04.
    """
    def feval(label, pred):
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
