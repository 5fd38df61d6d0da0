"""Metrics built from other things: several metrics at once (:class:`CompositeEvalMetric`),
a function (:class:`CustomMetric`, :func:`np`), a loss output (:class:`Loss`), and
:func:`create`, which turns any of these specs (and registered names) into a metric.

See notebook 05.
"""
from __future__ import annotations

from collections import OrderedDict

from ..base import MXNetAssertionError, MXNetError, MXNetKeyError, numeric_types, string_types
from ..registry import json_spec
from .base import (EvalMetric, MetricError, METRICS, register, alias, _numpy, _is_array,
                   check_label_shapes)


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
    loaded = json_spec(spec, args or kwargs, MetricError, "metric")
    if isinstance(loaded, list):
        name, kw = loaded
        return _create_registered(name, **kw)
    if loaded is not None:
        return _create_registered(loaded)
    return METRICS.get(spec)(*args, **kwargs)


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

    See notebook 05.
    """
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, list):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    return _create_registered(metric, *args, **kwargs)



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

    See notebook 05.
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


# -- losses and custom functions ----------------------------------------------------------
@register
class Loss(EvalMetric):
    """Mean of the values of the outputs themselves (for networks that output their loss).

    Labels are ignored; ``num_inst`` counts output elements.

    See notebook 05.
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
    """:class:`Loss` named ``'torch'`` (kept for MXNet compatibility). See notebook 05."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)


@register
class Caffe(Loss):
    """:class:`Loss` named ``'caffe'`` (kept for MXNet compatibility). See notebook 05."""

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

    See notebook 05.
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
    it. See notebook 05.
    """
    def feval(label, pred):
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
