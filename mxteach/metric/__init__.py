"""``mx.metric``: online evaluation metrics, as in MXNet 1.9.1.

A metric is a running sum and a count. ``update(labels, preds)`` takes one batch (lists of
arrays, one per output) and adds to ``sum_metric`` and ``num_inst``; ``get()`` returns
``(name, sum_metric / num_inst)``. Every metric keeps two such pairs: the *local* one, which
``Speedometer`` clears with ``reset_local()`` after each log line, and the *global* one, which
only ``reset()`` clears and which ``fit`` reports at the end of an epoch.

What is counted as one instance differs, and the numbers follow MXNet exactly: Accuracy and
CrossEntropy count examples, MAE/MSE/RMSE count (label, pred) pairs (so they average per-batch
means), F1/MCC in ``'macro'`` mode count ``update`` calls. See notebook 05.
"""
from .base import (EvalMetric, MetricError, LabelError, register, alias,
                   check_label_shapes)
from .custom import CompositeEvalMetric, CustomMetric, Loss, Torch, Caffe, np, create
from .classification import Accuracy, TopKAccuracy, F1, MCC, PCC
from .probability import Perplexity, CrossEntropy, NegativeLogLikelihood
from .regression import MAE, MSE, RMSE, PearsonCorrelation


__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC",
           "Perplexity", "MAE", "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood",
           "PearsonCorrelation", "PCC", "Loss", "Torch", "Caffe", "CustomMetric", "np",
           "create", "register", "alias", "check_label_shapes", "MetricError", "LabelError"]
