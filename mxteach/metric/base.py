"""The metric base: :class:`EvalMetric`, the label checks every metric shares, and the name
registry behind ``mx.metric.register`` / ``alias`` (``create`` is in
:mod:`mxteach.metric.custom`, beside the composite and function metrics it can build).

See notebook 05.
"""
from __future__ import annotations

import numpy

from ..base import (MXNetAssertionError, MXNetError, MXNetNotImplementedError, ShapeError,
                    did_you_mean)
from ..ndarray.ndarray import NDArray
from ..registry import Registry


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
def _check_metric_class(klass):
    if not (isinstance(klass, type) and issubclass(klass, EvalMetric)):
        raise MetricError(f"can only register subclasses of EvalMetric, got {klass!r}")


# lower-cased names, aliases included; create() looks names up here
METRICS = Registry("metric", error=MXNetAssertionError, check=_check_metric_class,
                   unknown="metric {name!r} is not registered.")


def register(klass, name=None):
    """Make ``klass`` creatable by name: ``mx.metric.create(name)`` (case-insensitive).

    Usable as a class decorator. The default name is the class name. See notebook 05.
    """
    return METRICS.register(klass, name)


def alias(*aliases):
    """Class decorator registering extra names, e.g. ``@alias('acc')``. See notebook 05."""
    return METRICS.alias(*aliases)


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

    See notebook 05.
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

