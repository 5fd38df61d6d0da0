"""SequentialModule: modules chained so each one's outputs are the next one's data.
The chain and the shapes at every junction are exposed for the ChainView. See notebook 09."""
from __future__ import annotations

import copy
import logging

from ..base import MXNetAssertionError, MXNetError, ShapeError
from ..io import DataDesc
from .base_module import BaseModule
from .module import _DEFAULT_INIT

__all__ = ["SequentialModule"]


class SequentialModule(BaseModule):
    """A chain of modules. ``add(module, take_labels=True)`` marks the modules that receive
    the labels (usually the last, the loss); ``auto_wiring=True`` renames the incoming data to
    the module's own data_names. See notebook 09.

    Unlike MXNet 1.9, ``bind`` sets the chain's own ``for_training`` and ``inputs_need_grad``,
    so ``get_input_grads()`` works on the chain.
    """

    META_TAKE_LABELS = "take_labels"
    META_AUTO_WIRING = "auto_wiring"

    def __init__(self, logger=logging):
        super().__init__(logger=logger)
        self._modules = []
        self._metas = []
        self._label_shapes = None
        self._data_shapes = None
        self._junctions = []
        self._meta_keys = {self.META_TAKE_LABELS, self.META_AUTO_WIRING}

    def add(self, module, **kwargs):
        """Append ``module``; returns self so calls chain.

        As in MXNet 1.9.1, adding to a bound chain is allowed: the chain goes back to unbound
        (and its parameters and optimizer to not initialized), so ``bind`` must run again; the
        members bound before keep their executors and parameters. See notebook 09.
        """
        for key in kwargs:
            if key not in self._meta_keys:
                raise MXNetAssertionError(f"SequentialModule.add: unknown option '{key}'; "
                                          f"expected {sorted(self._meta_keys)}")
        before = self.stage
        self._modules.append(module)
        self._metas.append(dict(kwargs))
        module.events.forward_to(self.events)
        self.binded = False                  # the new member is unbound: so is the chain
        self.params_initialized = False
        self.optimizer_initialized = False
        self._emit("add", before, module=module, index=len(self._modules) - 1,
                   meta=dict(kwargs))
        return self

    # -- introspection ------------------------------------------------------------------------
    @property
    def modules(self):
        return list(self._modules)

    @property
    def metas(self):
        return [dict(m) for m in self._metas]

    def junctions(self):
        """After bind: [(index, module, data_shapes in, output_shapes out, takes_labels)]."""
        return list(self._junctions)

    # -- names and shapes ---------------------------------------------------------------------
    @property
    def data_names(self):
        return self._modules[0].data_names if self._modules else []

    @property
    def label_names(self):
        """Label names of the members added with take_labels=True."""
        return [n for mod, meta in zip(self._modules, self._metas)
                if meta.get(self.META_TAKE_LABELS, False) for n in (mod.label_names or [])]

    @property
    def output_names(self):
        return self._modules[-1].output_names if self._modules else []

    @property
    def data_shapes(self):
        self._require("binded", call="data_shapes")
        return self._modules[0].data_shapes

    @property
    def label_shapes(self):
        self._require("binded", call="label_shapes")
        return self._label_shapes

    @property
    def output_shapes(self):
        self._require("binded", call="output_shapes")
        return self._modules[-1].output_shapes

    @property
    def symbol(self):
        return self._modules[-1].symbol if self._modules else None

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self):
        self._require("binded", "params_initialized", call="get_params")
        arg_params, aux_params = {}, {}
        for mod in self._modules:
            a, x = mod.get_params()
            arg_params.update(a)
            aux_params.update(x)
        return arg_params, aux_params

    def init_params(self, initializer=_DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False, _call="init_params"):
        """Initialize every member (default ``Uniform(0.01)``, as MXNet); names of
        ``arg_params`` that no member has are ignored, as MXNet does (a ``params_ignored``
        event names them)."""
        if self.params_initialized and not force_init:
            return
        self._require("binded", call="init_params")
        before = self.stage
        if initializer is None and arg_params is None and aux_params is None:
            initializer = _DEFAULT_INIT
        for mod in self._modules:
            mod.init_params(initializer=initializer, arg_params=arg_params,
                            aux_params=aux_params, allow_missing=allow_missing,
                            force_init=force_init, allow_extra=True)
        self._check_unique()
        if arg_params is not None or aux_params is not None:
            # as MXNet: names no member has are ignored; the event says which
            known = set()
            for mod in self._modules:
                a, x = mod.get_params()
                known |= set(a) | set(x)
            extra = sorted((set(arg_params or {}) | set(aux_params or {})) - known)
            if extra:
                self._emit("params_ignored", self.stage, names=extra, what="params",
                           call=_call)
        self.params_initialized = True
        self._emit("init_params", before, call=_call)

    def _assign_params(self, arg_params, aux_params, force_init, allow_extra):
        for mod in self._modules:
            mod.set_params(arg_params, aux_params, allow_missing=True, force_init=force_init,
                           allow_extra=True)
        self.params_initialized = True

    def _check_unique(self):
        owner = {}
        for i, mod in enumerate(self._modules):
            a, x = mod.get_params()
            for name in list(a) + list(x):
                if name in owner:
                    raise MXNetError(f"parameter '{name}' appears in module {owner[name]} and "
                                     f"module {i} of the chain; parameter names must be unique")
                owner[name] = i

    # -- binding ------------------------------------------------------------------------------
    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Bind every module, propagating output shapes down the chain."""
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if inputs_need_grad and not for_training:
            raise MXNetError("bind: inputs_need_grad=True needs for_training=True")
        if shared_module is not None:
            raise MXNetError("SequentialModule.bind: shared_module is not supported")
        if not self._modules:
            raise MXNetAssertionError("SequentialModule.bind: the chain is empty; add() modules "
                                      "first")
        before = self.stage
        self._label_shapes = label_shapes
        self._junctions = []
        my_data = data_shapes
        needs_label = False
        for i, (mod, meta) in enumerate(zip(self._modules, self._metas)):
            takes = bool(meta.get(self.META_TAKE_LABELS, False))
            needs_label |= takes
            produced = [(_name(d), _shape(d)) for d in my_data]
            if meta.get(self.META_AUTO_WIRING, False):
                names = mod.data_names
                if len(names) != len(my_data):
                    raise ShapeError(f"auto_wiring module {i} takes {len(names)} inputs "
                                     f"{names}, module {i - 1} gives {len(my_data)}")
                my_data = [DataDesc(n, _shape(d)) for n, d in zip(names, my_data)]
            try:
                mod.bind(data_shapes=my_data, label_shapes=label_shapes if takes else None,
                         for_training=for_training,
                         inputs_need_grad=bool(inputs_need_grad or (for_training and i > 0)),
                         force_rebind=force_rebind, shared_module=None, grad_req=grad_req)
            except MXNetError as err:
                if i == 0:
                    raise
                prev = self._modules[i - 1]
                raise ShapeError(
                    f"SequentialModule junction {i - 1}→{i}: module {i - 1} "
                    f"({type(prev).__name__}, outputs {prev.output_names}) gives {produced}, "
                    f"which module {i} ({type(mod).__name__}, data_names {mod.data_names}) "
                    f"cannot take: {err}") from err
            self._junctions.append((i, mod, [(_name(d), _shape(d)) for d in my_data],
                                    list(mod.output_shapes), takes))
            my_data = mod.output_shapes
        if not needs_label:
            self._label_shapes = None
        self.binded = True
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._emit("bind", before, data_shapes=list(data_shapes),
                   label_shapes=list(label_shapes or []), for_training=for_training)

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        if not self._should_init_optimizer(force_init):
            return
        before = self.stage
        for mod in self._modules:
            mod.init_optimizer(kvstore=kvstore, optimizer=optimizer,
                               optimizer_params=optimizer_params, force_init=force_init)
        self.optimizer_initialized = True
        self._emit("init_optimizer", before)

    # -- computation --------------------------------------------------------------------------
    def forward(self, data_batch, is_train=None):
        self._require("binded", "params_initialized", call="forward")
        batch = copy.copy(data_batch)
        for i, mod in enumerate(self._modules):
            mod.forward(batch, is_train=is_train)
            if i + 1 == len(self._modules):
                break
            batch.data = mod.get_outputs()
            if hasattr(batch, "provide_data"):
                names = [_name(d) for d in mod.output_shapes]
                batch.provide_data = [DataDesc(n, tuple(x.shape))
                                      for n, x in zip(names, batch.data)]

    def backward(self, out_grads=None):
        self._require("binded", "params_initialized", call="backward")
        for i in range(len(self._modules) - 1, -1, -1):
            mod = self._modules[i]
            mod.backward(out_grads=out_grads)
            if i == 0:
                break
            out_grads = mod.get_input_grads()

    def update(self):
        self._require("binded", "params_initialized", "optimizer_initialized", call="update")
        for mod in self._modules:
            mod.update()

    def get_outputs(self, merge_multi_context=True):
        self._require("binded", "params_initialized", call="get_outputs")
        return self._modules[-1].get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context=True):
        self._require_input_grads()
        return self._modules[0].get_input_grads(merge_multi_context=merge_multi_context)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        self._require("binded", "params_initialized", call="update_metric")
        for meta, mod in zip(self._metas, self._modules):
            if meta.get(self.META_TAKE_LABELS, False):
                mod.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon):
        self._require("binded", call="install_monitor")
        for mod in self._modules:
            mod.install_monitor(mon)


def _name(d):
    return d.name if isinstance(d, DataDesc) else d[0]


def _shape(d):
    return tuple(d.shape) if isinstance(d, DataDesc) else tuple(d[1])


