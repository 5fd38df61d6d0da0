"""Module: a symbol bound over one or more devices, with parameters and an optimizer.

Behaviour follows MXNet 1.9's ``mx.mod.Module``; where MXNet contradicts its own documentation
the documentation wins (noted at each such method). See notebook 02.
"""
from __future__ import annotations

import logging
import os
import warnings

import numpy as np

from .. import config
from .. import optimizer as opt
from ..base import MXNetAssertionError, MXNetError, MXNetValueError, ShapeError, did_you_mean
from ..context import Context, cpu
from ..initializer import InitDesc, Uniform
from ..io import DataDesc
from ..fileio import atomic_write
from ..model import checkpoint_payloads, load_checkpoint, write_checkpoint
from ..ndarray.ndarray import NDArray
from .base_module import BaseModule
from .checks import check_names as _check_names, check_param_dtypes, check_reshape, \
    parse_descs as _parse_descs
from .executor_group import DataParallelExecutorGroup
from .sparse_rows import assign_param, pull_all_rows, pull_sparse_rows, sparse_grad_rows, \
    zeros_like_param

__all__ = ["Module"]

# MXNet's signature default; ``initializer=None`` passed explicitly means "no initializer"
_DEFAULT_INIT = Uniform(0.01)


def _create_kvstore(kvstore, num_device, arg_params):
    """(kvstore or None, update_on_kvstore) as MXNet decides them: one device needs no store."""
    from .. import kvstore as kvs
    update_on_kvstore = config.flag("MXNET_UPDATE_ON_KVSTORE")
    if kvstore is None:
        kv = None
    elif isinstance(kvstore, kvs.KVStore):
        kv = kvstore
    elif isinstance(kvstore, str):
        if num_device == 1 and "dist" not in kvstore:
            kv = None
        else:
            kv = kvs.create(kvstore)
            biggest = max((int(np.prod(p.shape)) for p in arg_params.values()), default=0)
            if kvstore == "local" and biggest > 1024 * 1024 * 16:
                update_on_kvstore = False
    else:
        raise MXNetError(f"kvstore must be a KVStore, a name or None, got "
                         f"{type(kvstore).__name__}")
    return kv, update_on_kvstore and kv is not None


class Module(BaseModule):
    """A symbol bound for computation over ``context`` (one device or a list).

    Parameters follow MXNet 1.9: symbol, data_names=('data',), label_names=('softmax_label',),
    logger, context=cpu(), work_load_list, fixed_param_names, state_names, group2ctxs,
    compression_params.

    Labels, as in MXNet: ``bind`` without ``label_shapes`` binds the labels the symbol takes
    with shapes inferred from the data (``label_shapes`` is then None). Deliberately unlike
    MXNet, which warns and trains on an unset (zero) label buffer, such a module takes the
    labels of any labelled batch (re-shaping as needed), and ``backward`` raises MXNetError
    when the last forward's batch had no labels for the loss. A module bound with labels keeps
    them across ``predict``/``score`` of unlabelled batches of another size (MXNet drops them).
    See notebook 02.
    """

    def __init__(self, symbol, data_names=("data",), label_names=("softmax_label",),
                 logger=logging, context=None, work_load_list=None, fixed_param_names=None,
                 state_names=None, group2ctxs=None, compression_params=None):
        super().__init__(logger=logger)
        context = cpu() if context is None else context
        self._context = [context] if isinstance(context, Context) else list(context)
        self._work_load_list = list(work_load_list) if work_load_list is not None else \
            [1] * len(self._context)
        if len(self._work_load_list) != len(self._context):
            raise MXNetError(f"work_load_list has {len(self._work_load_list)} entries for "
                             f"{len(self._context)} contexts")
        self._group2ctxs = group2ctxs
        self._symbol = symbol
        self._data_names = list(data_names or [])
        self._label_names = list(label_names or [])
        self._state_names = list(state_names or [])
        self._fixed_param_names = list(fixed_param_names or [])
        _check_names(symbol, self._data_names, "data", True)
        _check_names(symbol, self._label_names, "label", False)
        _check_names(symbol, self._state_names, "state", True)
        _check_names(symbol, self._fixed_param_names, "fixed_param", True)
        inputs = set(self._data_names + self._label_names + self._state_names)
        self._param_names = [n for n in symbol.list_arguments() if n not in inputs]
        self._aux_names = symbol.list_auxiliary_states()
        self._output_names = symbol.list_outputs()
        self._compression_params = compression_params
        self._arg_params = None
        self._aux_params = None
        self._params_dirty = False
        self._optimizer = None
        self._kvstore = None
        self._update_on_kvstore = None
        self._updater = None
        self._preload_opt_states = None
        self._grad_req = None
        self._exec_group = None
        self._data_shapes = None
        self._label_shapes = None

    # -- loading and saving -------------------------------------------------------------------
    @staticmethod
    def load(prefix, epoch, load_optimizer_states=False, **kwargs):
        """A Module from ``prefix-symbol.json`` and ``prefix-EPOCH.params`` (MXNet's files);
        the optimizer states are loaded at init_optimizer() when asked for. See notebook 06."""
        sym, args, auxs = load_checkpoint(prefix, epoch)  # completes an interrupted save
        mod = Module(symbol=sym, **kwargs)
        mod._arg_params, mod._aux_params = args, auxs
        mod.params_initialized = True
        if load_optimizer_states:
            fname = f"{prefix}-{epoch:04d}.states"
            if not os.path.exists(fname):
                raise MXNetError(f"optimizer states file '{fname}' does not exist")
            mod._preload_opt_states = fname
        return mod

    def save_checkpoint(self, prefix, epoch, save_optimizer_states=False, remove_amp_cast=True):
        """Write ``prefix-symbol.json``, ``prefix-EPOCH.params`` (and ``.states``), atomically.
        See notebook 06."""
        # every precondition and every byte first, then one atomic set (issue 9): a failing
        # save leaves the previous checkpoint untouched, a killed one the old or the new set
        states = self._optimizer_states_bytes() if save_optimizer_states else None
        arg_params, aux_params = self.get_params()
        if getattr(self._kvstore, "rank", 0) != 0:
            return      # distributed training: rank 0 alone writes the (identical) checkpoint
        write_checkpoint(checkpoint_payloads(prefix, epoch, self._symbol, arg_params,
                                             aux_params, states, remove_amp_cast))
        self._emit("checkpoint", self.stage, prefix=prefix, epoch=epoch,
                   optimizer_states=save_optimizer_states)

    # -- names and shapes ---------------------------------------------------------------------
    @property
    def data_names(self):
        return list(self._data_names)

    @property
    def label_names(self):
        return list(self._label_names)

    @property
    def output_names(self):
        return list(self._output_names)

    @property
    def data_shapes(self):
        self._require("binded", call="data_shapes")
        return list(self._data_shapes)

    @property
    def label_shapes(self):
        """The label DataDescs given to bind (None when bound without labels, as MXNet)."""
        self._require("binded", call="label_shapes")
        return list(self._label_shapes) if self._label_shapes is not None else None

    @property
    def output_shapes(self):
        self._require("binded", call="output_shapes")
        return self._exec_group.get_output_shapes()

    @property
    def optimizer(self):
        """The installed Optimizer (None before init_optimizer)."""
        return self._optimizer

    @property
    def exec_group(self):
        """The DataParallelExecutorGroup (None before bind): executors, slices, arrays."""
        return self._exec_group

    @property
    def context(self):
        return list(self._context)

    @property
    def work_load_list(self):
        return list(self._work_load_list)

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self):
        """CPU copies of the current parameters: (arg_params, aux_params).

        MXNet returns its internal dicts; its documentation says copies, and copies are what
        mxteach returns, so changing them never changes the module silently.
        """
        self._require("params_initialized", call="get_params")
        if self._params_dirty:
            self._sync_params_from_devices()
        return ({k: v.copy() for k, v in self._arg_params.items()},
                {k: v.copy() for k, v in self._aux_params.items()})

    def init_params(self, initializer=_DEFAULT_INIT, arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False, _call="init_params"):
        """Initialize parameters: from ``arg_params``/``aux_params`` where given, else with
        ``initializer`` (default ``Uniform(0.01)``, as MXNet; operator-declared ``__init__``
        attributes such as PReLU's gamma = 0.25 win over it).

        As in MXNet, names in ``arg_params``/``aux_params`` that the module does not have are
        ignored whatever ``allow_extra`` says (the feature-extraction idiom: a sub-network
        takes a full checkpoint's dicts); mxteach records them in a ``params_ignored`` event.
        With ``initializer=None`` and ``allow_missing=True`` the parameters not given keep
        their current values, as in MXNet, and a warning names them.
        """
        if self.params_initialized and not force_init:
            warnings.warn("Parameters already initialized and force_init=False. "
                          "init_params call ignored.", stacklevel=2)
            return
        self._require("binded", call="init_params")
        before = self.stage
        if initializer is None and arg_params is None and aux_params is None:
            initializer = Uniform(0.01)
        attrs = self._symbol.attr_dict()
        self._check_shapes(arg_params, self._arg_params, "arg_params", True, _call)
        self._check_shapes(aux_params, self._aux_params, "aux_params", True, _call)
        left = []

        def fill(name, arr, given):
            if given is not None and name in given:
                assign_param(arr, given[name])      # keeps arr's storage type, as MXNet
                return
            if given is not None and not allow_missing:
                raise MXNetError(f"init_params: '{name}' is missing from the given parameters "
                                 "(pass allow_missing=True to initialize it instead)")
            if initializer is not None:
                initializer(InitDesc(name, attrs.get(name, None)), arr)
            else:
                left.append(name)

        for name, arr in sorted(self._arg_params.items()):
            fill(name, arr, arg_params)
        for name, arr in sorted(self._aux_params.items()):
            fill(name, arr, aux_params)
        if left:
            warnings.warn(f"{_call}: {left} were not given and initializer=None, so they keep "
                          "their current values (zeros on a fresh module)", stacklevel=3)
        self.params_initialized = True
        self._params_dirty = False
        self._exec_group.set_params(self._arg_params, self._aux_params, allow_extra=True)
        self._emit("init_params", before, initializer=repr(initializer),
                   from_arrays=arg_params is not None, force_init=force_init, call=_call)

    def _check_shapes(self, given, own, what, allow_extra, call):
        if given is None:
            return
        extra = [k for k in given if k not in own]
        if extra and not allow_extra:
            raise MXNetValueError(f"{call}: {what} holds {extra}, which the module does not "
                                  f"have (its parameters: {sorted(own)}); pass "
                                  f"allow_extra=True to ignore them."
                                  f"{did_you_mean(extra[0], own)}")
        if extra:
            self._emit("params_ignored", self.stage, names=sorted(extra), what=what,
                       call=call)
        for k, v in given.items():
            if k in own and tuple(v.shape) != own[k].shape:
                raise ShapeError(f"{what}['{k}'] has shape {tuple(v.shape)}, the module's "
                                 f"'{k}' has shape {own[k].shape}")

    def _assign_params(self, arg_params, aux_params, force_init, allow_extra):
        """set_params(allow_missing=True): copy what is given; ``allow_extra=False`` rejects
        names the module lacks."""
        self._require("binded", call="set_params")
        before = self.stage
        self._check_shapes(arg_params, self._arg_params, "arg_params", allow_extra,
                           "set_params")
        self._check_shapes(aux_params, self._aux_params, "aux_params", allow_extra,
                           "set_params")
        self._exec_group.set_params(arg_params, aux_params, allow_extra=True)
        self._params_dirty = True
        self.params_initialized = True
        self._emit("set_params", before, names=sorted(arg_params or {}))

    def _sync_params_from_devices(self):
        self._exec_group.get_params(self._arg_params, self._aux_params)
        if self._kvstore is not None and self._update_on_kvstore:
            for name in self._param_names:
                if self._arg_params[name].stype == "row_sparse":
                    pull_all_rows(self._kvstore, name, self._arg_params[name])
                elif name in self._exec_group.execs[0].grad_dict:
                    self._kvstore.pull(name, self._arg_params[name])
        self._params_dirty = False

    # -- binding ------------------------------------------------------------------------------
    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Allocate executors for the given input shapes (lists of DataDesc or (name, shape))."""
        before = self.stage
        if force_rebind:
            self._reset_bind()
        if self.binded:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if not for_training and inputs_need_grad:
            raise MXNetError("bind: inputs_need_grad=True needs for_training=True")
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self._grad_req = grad_req
        self._data_shapes = _parse_descs(self._data_names, data_shapes, "data")
        if not self._label_names or not label_shapes:
            # a module without labels ignores provided labels; an iterator without labels
            # (provide_label == []) binds as if none were given, as MXNet warns and does
            label_shapes = None
        # without label_shapes the labels are still bound, shapes inferred from the data
        # (MXNet's simple_bind does the same); the executor group records that
        self._label_shapes = _parse_descs(self._label_names, label_shapes, "label")
        check_param_dtypes(self._symbol, self._param_names,
                           self._data_shapes + (self._label_shapes or []))
        shared_group = None
        if shared_module is not None:
            if not (shared_module.binded and shared_module.params_initialized):
                raise MXNetError("bind: shared_module must be bound and have initialized "
                                 "parameters")
            shared_group = shared_module._exec_group
        self._exec_group = DataParallelExecutorGroup(
            self._symbol, self._context, self._work_load_list, self._data_shapes,
            self._label_shapes, self._param_names, for_training, inputs_need_grad,
            shared_group, logger=self.logger, fixed_param_names=self._fixed_param_names,
            grad_req=grad_req, state_names=self._state_names, group2ctxs=self._group2ctxs,
            label_names=self._label_names)
        self.binded = True
        if shared_module is not None:
            self.params_initialized = True
            self._arg_params = shared_module._arg_params
            self._aux_params = shared_module._aux_params
        elif self.params_initialized:
            # loaded dicts may hold parameters of other buckets too
            self._exec_group.set_params(self._arg_params, self._aux_params, allow_extra=True)
        else:
            group = self._exec_group
            self._arg_params = {n: zeros_like_param(b[0])
                                for n, b in zip(self._param_names, group.param_arrays)}
            self._aux_params = {n: NDArray(np.zeros_like(b[0]._data), cpu())
                                for n, b in zip(self._aux_names, self._exec_group.aux_arrays)}
        if shared_module is not None and shared_module.optimizer_initialized:
            self.borrow_optimizer(shared_module)
        self._emit("bind", before, data_shapes=list(self._data_shapes),
                   label_shapes=list(self._label_shapes or []), for_training=for_training,
                   inputs_need_grad=inputs_need_grad, force_rebind=force_rebind,
                   shared=shared_module is not None, grad_req=grad_req)

    def _reset_bind(self):
        self.binded = False
        self._exec_group = None
        self._data_shapes = None
        self._label_shapes = None

    def reshape(self, data_shapes, label_shapes=None):
        """Re-bind the executors for new input shapes, keeping parameters and optimizer.

        Without ``label_shapes`` the labels stay bound, re-shaped to follow the data (MXNet
        drops a module's label binding here, so a later labelled batch of the same size
        trained without its labels)."""
        self._require("binded", call="reshape")
        before = self.stage
        bound = {d.name: d.dtype for d in self._data_shapes}
        # the executors keep their dtypes: a batch's values are cast into them
        data_descs = [DataDesc(d.name, d.shape, bound.get(d.name, d.dtype), d.layout)
                      for d in _parse_descs(self._data_names, data_shapes, "data")]
        if label_shapes is not None and not self._label_names:
            label_shapes = None
        label_descs = _parse_descs(self._label_names, label_shapes, "label")
        had_labels = self._label_shapes is not None
        self._exec_group.reshape(data_descs, label_descs)
        self._data_shapes = data_descs
        if label_descs is None and had_labels:
            label_descs = list(self._exec_group.label_shapes or []) or None
        self._label_shapes = label_descs
        self._emit("reshape", before, data_shapes=list(self._data_shapes),
                   label_shapes=list(self._label_shapes or []))

    # -- optimizer ----------------------------------------------------------------------------
    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """Install an optimizer (and a kvstore when there are several devices).

        ``rescale_grad`` defaults to 1 / batch size, as in MXNet.
        """
        if not self._should_init_optimizer(force_init, notice="optimizer already initialized, "
                                                             "ignoring..."):
            return
        before = self.stage
        if self._params_dirty:
            self._sync_params_from_devices()
        kv, update_on_kvstore = _create_kvstore(kvstore, len(self._context), self._arg_params)
        batch_size = self._exec_group.batch_size
        if kv is not None and "dist" in kv.type and "_sync" in kv.type:
            batch_size *= kv.num_workers
        rescale = 1.0 / batch_size
        if update_on_kvstore:
            idx2name = dict(enumerate(self._exec_group.param_names))
        else:
            n = len(self._context)
            idx2name = {i * n + k: name for i, name in enumerate(self._exec_group.param_names)
                        for k in range(n)}
        if isinstance(optimizer, str):
            params = dict(optimizer_params)
            params.setdefault("rescale_grad", rescale)
            optimizer = opt.create(optimizer, sym=self.symbol, param_idx2name=idx2name,
                                   **params)
        else:
            if not isinstance(optimizer, opt.Optimizer):
                raise MXNetAssertionError(f"optimizer must be a name or an Optimizer, got "
                                          f"{type(optimizer).__name__}")
            if optimizer.rescale_grad != rescale:
                warnings.warn(f"optimizer.rescale_grad is {optimizer.rescale_grad}, not 1/batch "
                              f"size ({rescale}); is that intended?", stacklevel=2)
            if not optimizer.idx2name:
                optimizer.idx2name = idx2name.copy()
        self._optimizer = optimizer
        self._kvstore = kv
        self._update_on_kvstore = update_on_kvstore
        self._updater = None
        if kv is not None:
            if self._compression_params:
                kv.set_gradient_compression(self._compression_params)
            for idx, name in enumerate(self._exec_group.param_names):
                # row_sparse: stored so, not pulled whole (prepare() pulls a batch's rows)
                stype = self._exec_group.param_arrays[idx][0].stype
                kv.init(name, self._arg_params[name].tostype(stype))
                if update_on_kvstore and stype == "default":
                    kv.pull(name, self._exec_group.param_arrays[idx], priority=-idx)
            if update_on_kvstore:
                kv.set_optimizer(self._optimizer)
        if not update_on_kvstore:
            self._updater = opt.get_updater(optimizer)
        self.optimizer_initialized = True
        if self._preload_opt_states is not None:
            self.load_optimizer_states(self._preload_opt_states)
            self._preload_opt_states = None
        self._emit("init_optimizer", before, optimizer=type(optimizer).__name__.lower(),
                   kvstore=None if kv is None else kv.type,
                   update_on_kvstore=update_on_kvstore, rescale_grad=optimizer.rescale_grad)

    def borrow_optimizer(self, shared_module):
        """Use ``shared_module``'s optimizer, kvstore and updater (bucketing)."""
        if not shared_module.optimizer_initialized:
            raise MXNetError("borrow_optimizer: the shared module has no optimizer yet")
        before = self.stage
        self._optimizer = shared_module._optimizer
        self._kvstore = shared_module._kvstore
        self._update_on_kvstore = shared_module._update_on_kvstore
        self._updater = shared_module._updater
        self.optimizer_initialized = True
        self._emit("borrow_optimizer", before, source=shared_module)

    # -- computation --------------------------------------------------------------------------
    def forward(self, data_batch, is_train=None):
        """Forward a batch. A batch of another batch size re-binds (reshapes) first; other
        dimensions that differ from the bound ones are an error unless the parameters keep
        their shapes (an image size, say); the data is cast to the bound dtype."""
        self._require("binded", "params_initialized", call="forward")
        before = self.stage
        group = self._exec_group
        cur = tuple(d.shape for d in self._data_shapes)
        batch0 = data_batch[0] if isinstance(data_batch, list) else data_batch
        new = tuple(tuple(x.shape) for x in batch0.data)
        if len(new) != len(cur):
            raise MXNetError(f"forward: the batch has {len(new)} data arrays, the module takes "
                             f"{len(cur)} ({self._data_names})")
        labels = None if isinstance(data_batch, list) else batch0.label
        bound_labels = tuple(d.shape for d in (group.label_shapes or []))
        new_labels = tuple(tuple(x.shape) for x in labels) if labels and bound_labels else None
        if cur != new or (new_labels is not None and new_labels != bound_labels):
            # descriptors keep the bound dtype and layout: the batch's values are cast into
            # the bound arrays, never the other way round
            dshapes = [DataDesc(d.name, s, d.dtype, d.layout)
                       for d, s in zip(self._data_shapes, new)]
            check_reshape(self._symbol, self._data_shapes, dshapes,
                          self._param_names + self._aux_names, self._exec_group.execs[0])
            lshapes = None
            if new_labels is not None:
                lshapes = [DataDesc(d.name, s, d.dtype, d.layout)
                           for d, s in zip(group.label_shapes, new_labels)]
            unlabelled = self._label_shapes is None
            self.reshape(dshapes, lshapes)
            if unlabelled:
                # bound without labels: the batch's labels are taken, label_shapes stays None
                self._label_shapes = None
        self._exec_group.forward(data_batch, is_train)
        if self.events.wants("forward"):
            self._emit("forward", before, is_train=is_train,
                       shapes=[tuple(x.shape) for x in batch0.data],
                       pad=getattr(batch0, "pad", 0) or 0)

    def backward(self, out_grads=None):
        self._require("binded", "params_initialized", call="backward")
        self._exec_group.backward(out_grads=out_grads)
        if self.events.wants("backward"):     # row_sparse gradients: the rows this batch hit
            self._emit("backward", self.stage, sparse_grads=sparse_grad_rows(self._exec_group))

    def update(self):
        """Apply the optimizer to every parameter, with gradients summed over devices."""
        self._require("binded", "params_initialized", "optimizer_initialized", call="update")
        self._params_dirty = True
        group = self._exec_group
        names = group.param_names
        params, grads = group.param_arrays, group.grad_arrays
        graded = group.execs[0].grad_dict      # a copy per access: take it once, not per name
        trained = [(i, n) for i, n in enumerate(names) if n in graded]
        kv = self._kvstore
        if kv is not None and trained:
            # one push and one pull of every key: a distributed store sends them together
            keys = [name for _, name in trained]
            grad_lists = [grads[pos] for pos in range(len(trained))]
            kv.push(keys, grad_lists)
            kv.pull(keys, [params[idx] for idx, _ in trained] if self._update_on_kvstore
                    else grad_lists)
        for pos, (idx, name) in enumerate(trained if not self._update_on_kvstore else ()):
            for k, (w, g) in enumerate(zip(params[idx], grads[pos])):
                self._updater(idx * len(self._context) + k, g, w)
        if self.events.wants("update"):
            self._emit("update", self.stage, num_update=getattr(self._optimizer,
                                                                 "num_update", None))

    def get_outputs(self, merge_multi_context=True):
        self._require("binded", "params_initialized", call="get_outputs")
        return self._exec_group.get_outputs(merge_multi_context=merge_multi_context)

    def get_input_grads(self, merge_multi_context=True):
        """Gradients of the data inputs, in data_names order (bind with inputs_need_grad)."""
        self._require_input_grads()
        return self._exec_group.get_input_grads(merge_multi_context=merge_multi_context)

    def get_states(self, merge_multi_context=True):
        """State arrays (``state_names``). MXNet asserts on merge_multi_context=True; its
        documentation allows it, so mxteach merges over devices as documented."""
        self._require("binded", "params_initialized", call="get_states")
        return self._exec_group.get_states(merge_multi_context=merge_multi_context)

    def set_states(self, states=None, value=None):
        self._require("binded", "params_initialized", call="set_states")
        self._exec_group.set_states(states, value)

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        self._exec_group.update_metric(eval_metric, labels, pre_sliced)

    def install_monitor(self, mon):
        self._require("binded", call="install_monitor")
        self._exec_group.install_monitor(mon)
        self._emit("install_monitor", self.stage, monitor=mon)

    def prepare(self, data_batch, sparse_row_id_fn=None):
        """Pull the rows of row_sparse parameters that ``data_batch`` needs from the kvstore
        (``sparse_row_id_fn(data_batch)`` gives ``{param name: row ids}``). See notebook 15."""
        self._require("binded", call="prepare")
        if sparse_row_id_fn is not None:
            pull_sparse_rows(self, data_batch, sparse_row_id_fn)

    # -- optimizer states ---------------------------------------------------------------------
    def save_optimizer_states(self, fname):
        """Save optimizer states (MXNet's pickle format), atomically."""
        atomic_write(fname, self._optimizer_states_bytes())

    def _optimizer_states_bytes(self):
        """The states pickle, from the updater or (several devices) the kvstore's updater."""
        self._require("optimizer_initialized", call="save_optimizer_states")
        if self._update_on_kvstore:
            return self._kvstore._require_updater("save_optimizer_states").get_states()
        return self._updater.get_states()

    def load_optimizer_states(self, fname):
        """Load optimizer states saved by save_optimizer_states (here or in MXNet).

        The file is unpickled with a restricted unpickler and checked against this module's
        optimizer and weights (indices, shapes, dtypes, optimizer kind) before it replaces
        anything; a bad file raises MXNetError and leaves the module as it was.
        """
        from ..fileio import recover_pending
        self._require("optimizer_initialized", call="load_optimizer_states")
        recover_pending(fname)  # finish a checkpoint save that a kill interrupted
        if not os.path.exists(fname):
            raise MXNetError(f"optimizer states file '{fname}' does not exist")
        try:
            with open(fname, "rb") as f:
                blob = f.read()
        except OSError as err:
            raise MXNetError(f"cannot read optimizer states file '{fname}': "
                             f"{err.strerror or err}") from None
        group, ndev = self._exec_group, len(self._context)
        if self._update_on_kvstore:
            updater = self._kvstore._require_updater("load_optimizer_states")
            weights = {name: group.param_arrays[i][0] for i, name in
                       enumerate(group.param_names)}
        else:
            updater = self._updater
            weights = {i * ndev + k: w for i, ws in enumerate(group.param_arrays)
                       for k, w in enumerate(ws)}
        updater.load_states(blob, weights, f"optimizer states file '{fname}'")
