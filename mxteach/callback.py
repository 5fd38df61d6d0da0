"""``mx.callback``: functions ``fit`` calls after each batch or epoch, as in MXNet 1.9.1.

``Module.fit`` calls every ``batch_end_callback`` with a :data:`BatchEndParam`
``(epoch, nbatch, eval_metric, locals)`` after each batch, and every ``epoch_end_callback`` with
``(epoch, symbol, arg_params, aux_params)`` after each epoch. The loggers here write through the
root :mod:`logging` logger with MXNet's exact message formats, so logs can be compared line by
line. See notebook 06.
"""
from __future__ import annotations

import logging
import math
import time

from .model import BatchEndParam

__all__ = ["BatchEndParam", "module_checkpoint", "do_checkpoint", "log_train_metric",
           "Speedometer", "ProgressBar", "LogValidationMetricsCallback"]

def _period(period):
    # MXNet accepts any period and treats values below 1 as "every epoch"
    return int(max(1, period))


def module_checkpoint(mod, prefix, period=1, save_optimizer_states=False):
    """An epoch-end callback that calls ``mod.save_checkpoint`` every ``period`` epochs.

    Parameters
    ----------
    mod : BaseModule
        The module to save.
    prefix : str
        File prefix: ``prefix-symbol.json``, ``prefix-NNNN.params`` (and ``.states``).
    period : int
        Save after every ``period``-th epoch (epochs are numbered from 1 in file names).
    save_optimizer_states : bool
        Also save the optimizer state, to resume training exactly.

    Returns
    -------
    callable
        ``callback(iter_no, sym=None, arg=None, aux=None)``.

    See notebook 06.
    """
    period = _period(period)

    def _callback(iter_no, sym=None, arg=None, aux=None):
        if (iter_no + 1) % period == 0:
            mod.save_checkpoint(prefix, iter_no + 1, save_optimizer_states)
    return _callback


def do_checkpoint(prefix, period=1):
    """An epoch-end callback that saves symbol and parameters every ``period`` epochs.

    Epoch ``iter_no`` (0-based) is saved as ``prefix-%04d.params`` % ``(iter_no + 1)`` through
    ``mx.model.save_checkpoint``, next to ``prefix-symbol.json``.

    Examples
    --------
    >>> mod.fit(train_iter, num_epoch=4, epoch_end_callback=mx.callback.do_checkpoint('mlp', 2))
    ... # writes mlp-symbol.json, mlp-0002.params and mlp-0004.params

    See notebook 06.
    """
    period = _period(period)

    def _callback(iter_no, sym, arg, aux):
        if (iter_no + 1) % period == 0:
            # looked up per call, so that a patched mxteach.model (tests, notebooks) is used
            from .model import save_checkpoint
            save_checkpoint(prefix, iter_no + 1, sym, arg, aux)
    return _callback


def log_train_metric(period, auto_reset=False):
    """A batch-end callback that logs the training metric every ``period`` batches.

    Lines look like ``Iter[0] Batch[20] Train-accuracy=0.812500``. With ``auto_reset`` the
    metric's local statistics are cleared after each log, so each line covers ``period``
    batches. See notebook 06.
    """
    def _callback(param):
        if param.nbatch % period == 0 and param.eval_metric is not None:
            for name, value in param.eval_metric.get_name_value():
                logging.info("Iter[%d] Batch[%d] Train-%s=%f", param.epoch, param.nbatch,
                             name, value)
            if auto_reset:
                param.eval_metric.reset_local()
    return _callback


class Speedometer:
    """A batch-end callback logging samples per second and the training metric.

    The first call of an epoch only starts the clock; then every ``frequent`` batches it logs::

        Epoch[0] Batch [20-40]	Speed: 5120.33 samples/sec	accuracy=0.912500

    (tab-separated, as MXNet). Speed is ``frequent * batch_size`` over the wall time since the
    previous log.

    Parameters
    ----------
    batch_size : int
        Examples per batch, for the speed.
    frequent : int
        Log every ``frequent`` batches.
    auto_reset : bool
        After each log, clear the metric's local statistics so the next line covers only the
        next ``frequent`` batches (the line then says ``Batch [a-b]``); otherwise values are
        running since the epoch began (``Batch [0-b]``).

    See notebook 06.
    """

    def __init__(self, batch_size, frequent=50, auto_reset=True):
        self.batch_size = batch_size
        self.frequent = frequent
        self.auto_reset = auto_reset
        self.init = False
        self.tic = 0
        self.last_count = 0

    def __call__(self, param):
        count = param.nbatch
        if self.last_count > count:
            self.init = False  # the batch counter went back: a new epoch started
        self.last_count = count
        if not self.init:
            self.init = True
            self.tic = time.time()
            return
        if count % self.frequent != 0:
            return
        try:
            speed = self.frequent * self.batch_size / (time.time() - self.tic)
        except ZeroDivisionError:
            speed = float("inf")
        metric = param.eval_metric
        if metric is None:
            logging.info("Iter[%d] Batch [%d]\tSpeed: %.2f samples/sec",
                         param.epoch, count, speed)
        else:
            name_value = metric.get_name_value()
            values = sum(name_value, ())
            fields = "\t%s=%f" * len(name_value)
            if self.auto_reset:
                metric.reset_local()
                logging.info("Epoch[%d] Batch [%d-%d]\tSpeed: %.2f samples/sec" + fields,
                             param.epoch, count - self.frequent, count, speed, *values)
            else:
                logging.info("Epoch[%d] Batch [0-%d]\tSpeed: %.2f samples/sec" + fields,
                             param.epoch, count, speed, *values)
        self.tic = time.time()


class ProgressBar:
    """A batch-end callback logging a text progress bar of the epoch.

    Parameters
    ----------
    total : int
        Batches per epoch.
    length : int
        Characters in the bar.

    Examples
    --------
    With ``total=4, length=8``, batch 2 logs ``[====----] 50%``.

    See notebook 06.
    """

    def __init__(self, total, length=80):
        self.bar_len = length
        self.total = total

    def __call__(self, param):
        count = param.nbatch
        filled = int(round(self.bar_len * count / float(self.total)))
        percents = math.ceil(100.0 * count / float(self.total))
        bar = "=" * filled + "-" * (self.bar_len - filled)
        logging.info("[%s] %s%s\r", bar, percents, "%")


class LogValidationMetricsCallback:
    """An eval-end callback logging each validation metric as ``Epoch[e] Validation-name=v``.

    See notebook 06.
    """

    def __call__(self, param):
        if not param.eval_metric:
            return
        for name, value in param.eval_metric.get_name_value():
            logging.info("Epoch[%d] Validation-%s=%f", param.epoch, name, value)
