"""PythonModule and PythonLossModule: modules written in plain Python, to sit inside a
SequentialModule (a custom loss at the end of a chain, say). See notebook 09."""
from __future__ import annotations

import logging

import numpy as np

from ..base import MXNetError, MXNetNotImplementedError
from ..io import DataDesc
from ..ndarray.ndarray import NDArray
from .base_module import BaseModule

__all__ = ["PythonModule", "PythonLossModule"]


def _desc(d):
    return d if isinstance(d, DataDesc) else DataDesc(*d)


class PythonModule(BaseModule):
    """A module without parameters whose computation is Python code.

    Subclasses implement forward/backward/get_outputs/get_input_grads (until then each raises
    NotImplementedError naming the subclass, as in MXNet) and, if outputs differ in shape from
    the data, ``_compute_output_shapes`` (MXNet requires it always; mxteach's default gives
    each output its data input's shape). ``install_monitor`` is the subclass's to provide.
    Unlike MXNet 1.9, ``bind`` marks the module bound (``binded``), so the lifecycle checks
    work. See notebook 09.
    """

    def __init__(self, data_names, label_names, output_names, logger=logging):
        super().__init__(logger=logger)
        self._data_names = list(data_names)
        self._label_names = list(label_names) if label_names is not None else None
        self._output_names = list(output_names)
        self._data_shapes = None
        self._label_shapes = None
        self._output_shapes = None

    @property
    def data_names(self):
        return list(self._data_names)

    @property
    def label_names(self):
        return list(self._label_names) if self._label_names is not None else []

    @property
    def output_names(self):
        return list(self._output_names)

    @property
    def data_shapes(self):
        return self._data_shapes

    @property
    def label_shapes(self):
        return self._label_shapes

    @property
    def output_shapes(self):
        return self._output_shapes

    def get_params(self):
        """No parameters: two empty dicts."""
        return {}, {}

    def init_params(self, initializer=None, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Nothing to initialize; the module counts as initialized."""
        before = self.stage
        self.params_initialized = True
        self._emit("init_params", before)

    def set_params(self, arg_params, aux_params, allow_missing=False, force_init=True,
                   allow_extra=False):
        self.params_initialized = True

    def update(self):
        """No parameters to update (the event still marks the step)."""
        if self.events.wants("update"):
            self._emit("update", self.stage)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        if self._label_shapes is None:
            return
        if pre_sliced:
            raise MXNetError(f"{type(self).__name__} takes whole-batch labels, not per-device "
                             "slices (pre_sliced=True)")
        eval_metric.update(labels, self.get_outputs())

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if grad_req != "write":
            raise MXNetError(f"{type(self).__name__} supports grad_req='write' only, got "
                             f"{grad_req!r}")
        before = self.stage
        data = [_desc(d) for d in data_shapes]
        if [d.name for d in data] != self._data_names:
            raise MXNetError(f"{type(self).__name__}.bind: data_shapes name "
                             f"{[d.name for d in data]}, the module's data_names are "
                             f"{self._data_names}")
        if label_shapes is not None:
            labels = [_desc(d) for d in label_shapes]
            if self._label_names is None or [d.name for d in labels] != self._label_names:
                raise MXNetError(f"{type(self).__name__}.bind: label_shapes name "
                                 f"{[d.name for d in labels]}, the module's label_names are "
                                 f"{self._label_names}")
            label_shapes = labels
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._data_shapes = data
        self._label_shapes = label_shapes
        self._output_shapes = self._compute_output_shapes()
        self.binded = True
        self._emit("bind", before, data_shapes=data, label_shapes=label_shapes or [])

    def _compute_output_shapes(self):
        """Output (name, shape)s. By default each output has the shape of the matching data
        input; override when the computation changes shapes."""
        if len(self._output_names) != len(self._data_shapes):
            raise MXNetNotImplementedError(
                f"{type(self).__name__}: {len(self._output_names)} outputs for "
                f"{len(self._data_shapes)} inputs; override _compute_output_shapes() to say "
                "their shapes")
        return [(n, d.shape) for n, d in zip(self._output_names, self._data_shapes)]

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """No parameters, so no optimizer; the module counts as having one."""
        before = self.stage
        self.optimizer_initialized = True
        self._emit("init_optimizer", before)


class PythonLossModule(PythonModule):
    """A loss written in Python: the output is the input scores; ``backward`` computes the
    score gradient with ``grad_func(scores, labels)``. See notebook 09."""

    def __init__(self, name="pyloss", data_names=("data",), label_names=("softmax_label",),
                 logger=logging, grad_func=None):
        super().__init__(data_names, label_names, [name + "_output"], logger=logger)
        if len(self._data_names) != 1 or len(self._label_names) != 1:
            raise MXNetError("PythonLossModule takes exactly one data and one label name")
        if grad_func is not None and not callable(grad_func):
            raise MXNetError("grad_func must be callable (scores, labels) -> gradient")
        self._name = name
        self._scores = None
        self._labels = None
        self._scores_grad = None
        self._grad_func = grad_func
        self._monitor = None

    def _compute_output_shapes(self):
        return [(self._name + "_output", self._data_shapes[0].shape)]

    def forward(self, data_batch, is_train=None):
        self._require("binded", call="forward")
        self._scores = data_batch.data[0]
        if is_train is None:
            is_train = self.for_training
        if is_train:
            self._labels = data_batch.label[0]
        if self._monitor is not None:
            self._monitor.stat_helper(self._name + "_output", self._scores)
        if self.events.wants("forward"):
            self._emit("forward", self.stage, is_train=is_train,
                       shapes=[tuple(self._scores.shape)])

    def get_outputs(self, merge_multi_context=True):
        if not merge_multi_context:
            raise MXNetError("PythonLossModule runs on one device: merge_multi_context must "
                             "be True")
        return [self._scores]

    def backward(self, out_grads=None):
        if out_grads is not None:
            raise MXNetError("a loss module computes its own gradient: out_grads must be None")
        if not self.for_training:
            raise MXNetError("backward: bind with for_training=True first")
        self._backward_impl()

    def _backward_impl(self):
        if self._grad_func is None:
            raise MXNetNotImplementedError(
                f"PythonLossModule '{self._name}' has no grad_func: pass grad_func=(scores, "
                "labels) -> gradient, or subclass and override _backward_impl()")
        grad = self._grad_func(self._scores, self._labels)
        if not isinstance(grad, NDArray):
            grad = NDArray(np.asarray(grad, dtype=np.float32))
        self._scores_grad = grad
        if self.events.wants("backward"):
            self._emit("backward", self.stage)

    def get_input_grads(self, merge_multi_context=True):
        if not merge_multi_context:
            raise MXNetError("PythonLossModule runs on one device: merge_multi_context must "
                             "be True")
        return [self._scores_grad]

    def install_monitor(self, mon):
        """The monitor sees this module's output as ``{name}_output`` on each forward."""
        self._monitor = mon
