"""BaseModule: the module lifecycle as an explicit state, and the high-level fit/score/predict
that every module kind gets from the intermediate API (bind, forward, backward, update ...).

Stages: initial → bound → params initialized → optimizer installed. MXNet's flags
(``binded``, ``params_initialized``, ``optimizer_initialized``) are views of this state; every
change is an event on ``mod.events``. See notebook 02.
"""
from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from .. import metric as _metric
from ..base import MXNetAssertionError, MXNetError, MXNetNotImplementedError, NotBoundError
from ..model import BatchEndParam, split_param_dict
from ..context import cpu
from ..events import EventStream, Stage
from .health import NonFiniteWatch
from ..ndarray.ndarray import NDArray, concatenate

__all__ = ["BaseModule"]

_HOW = {
    "binded": "bind() (e.g. mod.bind(data_shapes=train_iter.provide_data, "
              "label_shapes=train_iter.provide_label))",
    "params_initialized": "init_params() (or set_params()/load_params())",
    "optimizer_initialized": "init_optimizer()",
}


def _as_list(obj):
    return obj if isinstance(obj, (list, tuple)) else [obj]


class BaseModule:
    """The base of every module kind. Subclasses implement the intermediate API; fit, score,
    predict and iter_predict are built on it here.

    The interface a subclass must provide (as in MXNet, each raises NotImplementedError — here
    an ``MXNetNotImplementedError`` naming the subclass — until overridden): the properties
    ``data_names``, ``output_names``, ``data_shapes``, ``label_shapes``, ``output_shapes`` and
    the methods ``get_params``, ``init_params``, ``bind``, ``init_optimizer``, ``forward``,
    ``backward``, ``get_outputs``, ``get_input_grads``, ``update``, ``update_metric``,
    ``install_monitor``. See notebook 02."""

    def __init__(self, logger=logging):
        self.logger = logger
        self.events = EventStream(owner=self)
        self._flags = {"binded": False, "for_training": False, "inputs_need_grad": False,
                       "params_initialized": False, "optimizer_initialized": False}
        self._symbol = None
        self._total_exec_bytes = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def _flag(name):  # noqa: N805 - property factory used in the class body
        def get(self):
            return self._flags[name]

        def set_(self, value):
            self._flags[name] = bool(value)
        return property(get, set_, doc=f"MXNet's ``{name}`` flag (a view of the lifecycle).")

    binded = _flag("binded")
    for_training = _flag("for_training")
    inputs_need_grad = _flag("inputs_need_grad")
    params_initialized = _flag("params_initialized")
    optimizer_initialized = _flag("optimizer_initialized")
    del _flag

    @property
    def stage(self):
        """The furthest lifecycle stage reached: one of ``events.Stage.ORDER``."""
        if not self.binded:
            return Stage.INITIAL
        if not self.params_initialized:
            return Stage.BOUND
        if not self.optimizer_initialized:
            return Stage.PARAMS_INITIALIZED
        return Stage.OPTIMIZER_INSTALLED

    def _require(self, *flags, call):
        """Raise NotBoundError naming every missing step when ``call`` comes too early."""
        missing = [f for f in flags if not self._flags[f]]
        if not missing:
            return
        if "params_initialized" in missing and not self.binded and "binded" not in missing:
            missing.insert(0, "binded")
        what = call if call.endswith(("shapes", "names")) else call + "()"
        steps = " then ".join(_HOW[f] for f in missing)
        raise NotBoundError(f"{type(self).__name__}.{what} needs {steps} first; the module is "
                            f"at stage '{self.stage}'")

    def _should_init_optimizer(self, force_init, notice="optimizer already initialized, ignoring."):
        """Checks opening every ``init_optimizer``: False (after MXNet's warning) when an
        optimizer is installed and ``force_init`` is not set."""
        self._require("binded", "params_initialized", call="init_optimizer")
        if self.optimizer_initialized and not force_init:
            self.logger.warning(notice)
            return False
        return True

    def _require_input_grads(self):
        """Checks opening every ``get_input_grads``."""
        self._require("binded", "params_initialized", call="get_input_grads")
        if not self.inputs_need_grad:
            raise MXNetAssertionError("get_input_grads() needs bind(..., inputs_need_grad=True)")

    def _emit(self, kind, before, **data):
        if self.events.wants(kind):
            self.events.emit(kind, before, self.stage, **data)

    # -- high-level API -----------------------------------------------------------------------
    def forward_backward(self, data_batch):
        """forward(is_train=True) then backward()."""
        self.forward(data_batch, is_train=True)
        self.backward()

    def score(self, eval_data, eval_metric, num_batch=None, batch_end_callback=None,
              score_end_callback=None, reset=True, epoch=0, sparse_row_id_fn=None):
        """Run ``eval_data`` through the module and return ``eval_metric``'s (name, value)s.

        As in MXNet, padded rows of the last batch are scored too. See notebook 05.
        """
        self._require("binded", "params_initialized", call="score")
        if reset:
            eval_data.reset()
        if not isinstance(eval_metric, _metric.EvalMetric):
            eval_metric = _metric.create(eval_metric)
        eval_metric.reset()
        actual = 0
        for nbatch, batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(batch, is_train=False)
            if isinstance(batch, list):
                self.update_metric(eval_metric, [b.label for b in batch], pre_sliced=True)
            else:
                self.update_metric(eval_metric, batch.label)
            if batch_end_callback is not None:
                params = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                       locals=locals())
                for cb in _as_list(batch_end_callback):
                    cb(params)
            actual += 1
        if score_end_callback:
            params = BatchEndParam(epoch=epoch, nbatch=actual, eval_metric=eval_metric,
                                   locals=locals())
            for cb in _as_list(score_end_callback):
                cb(params)
        result = eval_metric.get_name_value()
        self._emit("eval_end", self.stage, epoch=epoch, metrics=list(result), nbatch=actual)
        return result

    def iter_predict(self, eval_data, num_batch=None, reset=True, sparse_row_id_fn=None):
        """Yield (outputs, nbatch, batch) per batch, padding removed. See notebook 05."""
        self._require("binded", "params_initialized", call="iter_predict")
        if reset:
            eval_data.reset()
        for nbatch, batch in enumerate(eval_data):
            if num_batch is not None and nbatch == num_batch:
                break
            self.prepare(batch, sparse_row_id_fn=sparse_row_id_fn)
            self.forward(batch, is_train=False)
            pad = batch.pad or 0
            outputs = [NDArray(o._data[:o.shape[0] - pad].copy(), o.context)
                       for o in self.get_outputs()]
            yield outputs, nbatch, batch

    def predict(self, eval_data, num_batch=None, merge_batches=True, reset=True,
                always_output_list=False, sparse_row_id_fn=None):
        """Outputs for every batch of ``eval_data`` (pad rows dropped), merged by default."""
        if isinstance(eval_data, (NDArray, np.ndarray)):
            from ..io import NDArrayIter
            eval_data = NDArrayIter(eval_data, batch_size=self.data_shapes[0][1][0]
                                    if self.binded else len(eval_data))
        batches = [outs for outs, _, _ in self.iter_predict(
            eval_data, num_batch=num_batch, reset=reset, sparse_row_id_fn=sparse_row_id_fn)]
        if not batches:
            return batches
        if not merge_batches:
            return batches
        n = len(batches[0])
        if any(len(b) != n for b in batches):
            raise MXNetError("predict: cannot merge batches with different numbers of outputs "
                             "(bucketing?); use merge_batches=False")
        merged = [concatenate([b[i] for b in batches], axis=0) for i in range(n)]
        if n == 1 and not always_output_list:
            return merged[0]
        return merged

    def fit(self, train_data, eval_data=None, eval_metric="acc", epoch_end_callback=None,
            batch_end_callback=None, kvstore="local", optimizer="sgd",
            optimizer_params=(("learning_rate", 0.01),), eval_end_callback=None,
            eval_batch_end_callback=None, initializer=None, arg_params=None, aux_params=None,
            allow_missing=False, force_rebind=False, force_init=False, begin_epoch=0,
            num_epoch=None, validation_metric=None, monitor=None, sparse_row_id_fn=None):
        """Train on ``train_data`` for epochs ``begin_epoch`` to ``num_epoch - 1``. See notebook 05.

        Emits ``batch_end`` (with the metric's current values, ``data_wait``: seconds spent
        waiting for that batch, ``data_load``: the iterator's own loading time, if it reports
        one) and ``epoch_end`` events.
        """
        if num_epoch is None:
            raise MXNetError("fit() needs num_epoch (the epoch to stop before)")
        from ..initializer import Uniform
        if initializer is None:
            initializer = Uniform(0.01)
        self.bind(data_shapes=train_data.provide_data, label_shapes=train_data.provide_label,
                  for_training=True, force_rebind=force_rebind)
        if monitor is not None:
            self.install_monitor(monitor)
        self.init_params(initializer=initializer, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=allow_missing, force_init=force_init)
        self.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                            optimizer_params=optimizer_params)
        if validation_metric is None:
            validation_metric = eval_metric
        if not isinstance(eval_metric, _metric.EvalMetric):
            eval_metric = _metric.create(eval_metric)
        health = NonFiniteWatch(self)
        self._emit("fit_begin", self.stage, begin_epoch=begin_epoch, num_epoch=num_epoch,
                   had_eval=eval_data is not None)
        for epoch in range(begin_epoch, num_epoch):
            tic = time.time()
            eval_metric.reset()
            nbatch = 0
            samples = 0
            data_iter = iter(train_data)
            end_of_batch = False
            wait = time.perf_counter()     # data_wait: how long fit waited for the batch
            next_batch = next(data_iter)
            data_wait = time.perf_counter() - wait
            while not end_of_batch:
                data_batch = next_batch
                if monitor is not None:
                    monitor.tic()
                self.forward_backward(data_batch)
                self.update()
                if isinstance(data_batch, list):
                    self.update_metric(eval_metric, [b.label for b in data_batch],
                                       pre_sliced=True)
                else:
                    self.update_metric(eval_metric, data_batch.label)
                health.after_batch(data_batch, epoch, nbatch)  # NaN/inf: warn once, name it
                try:
                    wait = time.perf_counter()
                    next_batch = next(data_iter)
                    self.prepare(next_batch, sparse_row_id_fn=sparse_row_id_fn)
                except StopIteration:
                    end_of_batch = True
                next_wait = time.perf_counter() - wait
                if monitor is not None:
                    monitor.toc_print()
                if end_of_batch:
                    eval_name_vals = eval_metric.get_global_name_value()
                if batch_end_callback is not None:
                    params = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=eval_metric,
                                           locals=locals())
                    for cb in _as_list(batch_end_callback):
                        cb(params)
                if self.events.wants("batch_end"):
                    batches = data_batch if isinstance(data_batch, list) else [data_batch]
                    samples += sum(b.data[0].shape[0] - (b.pad or 0) for b in batches)
                    self._emit("batch_end", self.stage, epoch=epoch, nbatch=nbatch,
                               metrics=eval_metric.get_name_value(), samples=samples,
                               elapsed=time.time() - tic, data_wait=data_wait,
                               data_load=getattr(data_batch, "load_time", None))
                data_wait = next_wait
                nbatch += 1
            for name, val in eval_name_vals:
                self.logger.info("Epoch[%d] Train-%s=%f", epoch, name, val)
            toc = time.time()
            self.logger.info("Epoch[%d] Time cost=%.3f", epoch, toc - tic)
            arg_params_, aux_params_ = self.get_params()
            health.after_epoch(epoch, nbatch - 1, arg_params_, aux_params_)
            self.set_params(arg_params_, aux_params_)
            if epoch_end_callback is not None:
                for cb in _as_list(epoch_end_callback):
                    cb(epoch, self.symbol, arg_params_, aux_params_)
            self._emit("epoch_end", self.stage, epoch=epoch, metrics=list(eval_name_vals),
                       time=toc - tic, nbatch=nbatch)
            if eval_data:
                res = self.score(eval_data, validation_metric,
                                 score_end_callback=eval_end_callback,
                                 batch_end_callback=eval_batch_end_callback, epoch=epoch)
                for name, val in res:
                    self.logger.info("Epoch[%d] Validation-%s=%f", epoch, name, val)
            train_data.reset()
        self._emit("fit_end", self.stage, begin_epoch=begin_epoch, num_epoch=num_epoch,
                   had_eval=eval_data is not None)

    # -- symbol and parameters ----------------------------------------------------------------
    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True,
                   allow_extra=False):
        """Assign parameter values. As in MXNet, without ``allow_missing`` this is
        ``init_params`` from the given arrays with no initializer (a missing name is an error);
        with it, each module kind copies what is given (``_assign_params``)."""
        if not allow_missing:
            self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                             allow_missing=False, force_init=force_init,
                             allow_extra=allow_extra, _call="set_params")
            return
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "set_params call ignored.", stacklevel=2)
            return
        self._assign_params(arg_params, aux_params, force_init, allow_extra)

    @property
    def symbol(self):
        """The symbol of this module (for BucketingModule: the current bucket's)."""
        return self._symbol

    def save_params(self, fname):
        """Save parameters as MXNet does: ``arg:name`` / ``aux:name`` keys, atomically."""
        from ..ndarray import save
        arg_params, aux_params = self.get_params()
        blob = {f"arg:{k}": v.as_in_context(cpu()) for k, v in arg_params.items()}
        blob.update({f"aux:{k}": v.as_in_context(cpu()) for k, v in aux_params.items()})
        save(fname, blob)

    def load_params(self, fname):
        """Load parameters saved by ``save_params`` (here or in MXNet) and set them."""
        from ..ndarray import load
        arg_params, aux_params = split_param_dict(load(fname), fname)
        self.set_params(arg_params, aux_params)

    def _assign_params(self, arg_params, aux_params, force_init, allow_extra):
        """set_params(allow_missing=True) for a kind that does not specialise it: MXNet's
        route, init_params without an initializer."""
        self.init_params(initializer=None, arg_params=arg_params, aux_params=aux_params,
                         allow_missing=True, force_init=force_init, allow_extra=allow_extra)

    def get_states(self, merge_multi_context=True):
        """No states in a module without state_names: an empty list."""
        self._require("binded", "params_initialized", call="get_states")
        return []

    def set_states(self, states=None, value=None):
        self._require("binded", "params_initialized", call="set_states")

    # -- the abstract interface (MXNet's BaseModule raises NotImplementedError for each) -------
    def _abstract(self, what):
        raise MXNetNotImplementedError(
            f"{type(self).__name__} does not implement {what}, which every module kind must "
            f"provide (BaseModule's interface); define it in {type(self).__name__}")

    @property
    def data_names(self):
        """Names of the data inputs (abstract)."""
        return self._abstract("data_names")

    @property
    def output_names(self):
        """Names of the outputs (abstract)."""
        return self._abstract("output_names")

    @property
    def data_shapes(self):
        """DataDescs of the bound data (abstract)."""
        return self._abstract("data_shapes")

    @property
    def label_shapes(self):
        """DataDescs of the bound labels, None without labels (abstract)."""
        return self._abstract("label_shapes")

    @property
    def output_shapes(self):
        """(name, shape) of each output (abstract)."""
        return self._abstract("output_shapes")

    def get_params(self):
        """(arg_params, aux_params) (abstract)."""
        return self._abstract("get_params()")

    def init_params(self, initializer=None, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Give the parameters values (abstract)."""
        return self._abstract("init_params()")

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Allocate memory for the given shapes (abstract)."""
        return self._abstract("bind()")

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Install an optimizer (abstract)."""
        return self._abstract("init_optimizer()")

    def forward(self, data_batch, is_train=None):
        """Compute the outputs of a batch (abstract)."""
        return self._abstract("forward()")

    def backward(self, out_grads=None):
        """Compute gradients (abstract)."""
        return self._abstract("backward()")

    def get_outputs(self, merge_multi_context=True):
        """The outputs of the last forward (abstract)."""
        return self._abstract("get_outputs()")

    def get_input_grads(self, merge_multi_context=True):
        """Gradients of the inputs (abstract)."""
        return self._abstract("get_input_grads()")

    def update(self):
        """Apply the optimizer (abstract)."""
        return self._abstract("update()")

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """Feed the last outputs and ``labels`` to ``eval_metric`` (abstract)."""
        return self._abstract("update_metric()")

    def install_monitor(self, mon):
        """Attach a Monitor (abstract)."""
        return self._abstract("install_monitor()")

    def prepare(self, data_batch, sparse_row_id_fn=None):
        """Prepare for ``data_batch``: :class:`Module` pulls row_sparse parameter rows with
        ``sparse_row_id_fn``; here there is nothing to pull (MXNet warns alike)."""
        if sparse_row_id_fn is not None:
            warnings.warn("sparse_row_id_fn is not invoked for BaseModule.", UserWarning,
                          stacklevel=2)

