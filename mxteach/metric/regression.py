"""Regression metrics: MAE, MSE, RMSE and PearsonCorrelation.

See notebook 05.
"""
from __future__ import annotations

import numpy

from .base import EvalMetric, register, alias, _numpy, check_label_shapes


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

    See notebook 05.
    """

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _value(diff):
        return numpy.abs(diff).mean()


@register
class MSE(_Regression):
    """Mean squared error, averaged per (label, pred) pair like :class:`MAE`.

    See notebook 05.
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

    See notebook 05.
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

    See notebook 05.
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


