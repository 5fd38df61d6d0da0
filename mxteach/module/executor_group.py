"""DataParallelExecutorGroup: one executor per device, each batch sliced over the devices by
``work_load_list``. Slices are exposed (``slices``) so students can see who got which rows."""
from __future__ import annotations

import time

import numpy as np

from ..base import MXNetError, ShapeError
from ..context import cpu
from ..executor import Executor
from ..io import DataDesc
from ..ndarray.ndarray import NDArray

__all__ = ["DataParallelExecutorGroup", "split_input_slice", "slice_counts"]


def slice_counts(batch_size, work_load_list):
    """Rows per device for ``batch_size`` split by ``work_load_list`` (rounded; the last
    device takes what rounding leaves); may contain zeros — never raises."""
    total = float(sum(work_load_list))
    counts = [int(round(w * batch_size / total)) for w in work_load_list]
    if sum(counts) < batch_size:
        counts[-1] += batch_size - sum(counts)
    clipped, end = [], 0
    for n in counts:        # rounding up may overshoot: later devices get what is left
        begin = min(end, batch_size)
        end = min(begin + n, batch_size)
        clipped.append(end - begin)
    return clipped


def split_input_slice(batch_size, work_load_list):
    """Slices of ``range(batch_size)`` from :func:`slice_counts`. An empty slice is an
    error naming the device."""
    counts = slice_counts(batch_size, work_load_list)
    slices, end = [], 0
    for k, n in enumerate(counts):
        begin = min(end, batch_size)
        end = min(begin + n, batch_size)
        if begin >= end:
            raise MXNetError(f"batch of {batch_size} is too small for work_load_list "
                             f"{list(work_load_list)}: device {k} would get no rows; use a "
                             "larger batch or fewer devices")
        slices.append(slice(begin, end))
    return slices


def _merge(per_device):
    """Concatenate per-device arrays along the batch axis onto the first device's context."""
    if len(per_device) == 1:
        return per_device[0]
    ctx = per_device[0].context
    return NDArray(np.concatenate([a._data for a in per_device], axis=0), ctx)


def _desc(d):
    return d if isinstance(d, DataDesc) else DataDesc(*d)


class DataParallelExecutorGroup:
    """Executors for ``symbol`` on each of ``contexts``, fed by slices of every batch.

    See notebook 03.
    """

    def __init__(self, symbol, contexts, workload, data_shapes, label_shapes, param_names,
                 for_training, inputs_need_grad, shared_group=None, logger=None,
                 fixed_param_names=None, grad_req="write", state_names=None, group2ctxs=None):
        self.symbol = symbol
        self.contexts = list(contexts)
        self.workload = list(workload or [1] * len(self.contexts))
        if len(self.workload) != len(self.contexts):
            raise MXNetError(f"work_load_list has {len(self.workload)} entries for "
                             f"{len(self.contexts)} contexts")
        self.param_names = list(param_names)
        self.arg_names = symbol.list_arguments()
        self.aux_names = symbol.list_auxiliary_states()
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        self.logger = logger
        self.fixed_param_names = list(fixed_param_names or [])
        self.state_names = list(state_names or [])
        self.group2ctxs = group2ctxs
        self.shared_data_arrays = shared_group.shared_data_arrays if shared_group else \
            [{} for _ in self.contexts]
        self.grad_req = self._grad_reqs(grad_req, data_shapes)
        self.execs = []
        self.timings = [0.0] * len(self.contexts)
        self.batch_size = None
        self.slices = None
        self.bind_exec(data_shapes, label_shapes, shared_group)

    def _group2ctx_for(self, k):
        """group2ctxs may be one dict for every device, a list of dicts (one per device), or a
        dict whose values are lists of contexts (one per device)."""
        g = self.group2ctxs
        if not g:
            return None
        if isinstance(g, (list, tuple)):
            return g[k]
        return {name: (c[k] if isinstance(c, (list, tuple)) else c) for name, c in g.items()}

    def _grad_reqs(self, grad_req, data_shapes):
        data_names = [_desc(d).name for d in data_shapes]
        if isinstance(grad_req, str):
            reqs = {}
            for name in self.arg_names:
                if not self.for_training:
                    reqs[name] = "null"
                elif name in self.param_names:
                    reqs[name] = "null" if name in self.fixed_param_names else grad_req
                elif name in data_names:
                    reqs[name] = grad_req if self.inputs_need_grad else "null"
                else:
                    reqs[name] = "null"
            return reqs
        if isinstance(grad_req, (list, tuple)):
            return dict(zip(self.arg_names, grad_req))
        if isinstance(grad_req, dict):
            reqs = {n: "null" for n in self.arg_names}
            reqs.update(grad_req)
            return reqs
        raise MXNetError(f"grad_req must be str, list or dict, got {type(grad_req).__name__}")

    # -- binding ------------------------------------------------------------------------------
    def decide_slices(self, data_shapes):
        """Set ``batch_size`` and per-device ``slices`` from the data's batch axis."""
        sizes = set()
        for d in data_shapes:
            d = _desc(d)
            axis = DataDesc.get_batch_axis(d.layout)
            if axis >= 0:
                sizes.add(d.shape[axis])
        if len(sizes) > 1:
            raise ShapeError(f"all data must have the same batch size, got {sorted(sizes)} "
                             f"from {[(_desc(d).name, _desc(d).shape) for d in data_shapes]}")
        self.batch_size = sizes.pop() if sizes else 1
        self.slices = split_input_slice(self.batch_size, self.workload)
        return self.slices

    def _sliced(self, shapes, k):
        out = []
        for d in shapes:
            d = _desc(d)
            axis = DataDesc.get_batch_axis(d.layout)
            shape = list(d.shape)
            if axis >= 0:
                shape[axis] = self.slices[k].stop - self.slices[k].start
            out.append(DataDesc(d.name, tuple(shape), d.dtype, d.layout))
        return out

    def bind_exec(self, data_shapes, label_shapes, shared_group=None, reshape=False):
        """Create (or, with ``reshape``, re-create) one executor per device."""
        self.data_shapes = [_desc(d) for d in data_shapes]
        self.label_shapes = [_desc(d) for d in label_shapes] if label_shapes else None
        self.data_names = [d.name for d in self.data_shapes]
        self.label_names = [d.name for d in self.label_shapes] if self.label_shapes else []
        self.decide_slices(self.data_shapes)
        old = self.execs
        self.execs = []
        for k, ctx in enumerate(self.contexts):
            descs = self._sliced(self.data_shapes, k)
            if self.label_shapes:
                descs += self._sliced(self.label_shapes, k)
            shapes = {d.name: d.shape for d in descs if d.name in self.arg_names}
            types = {d.name: d.dtype for d in descs if d.name in self.arg_names}
            if reshape and old:
                exe = old[k].reshape(partial_shaping=True, allow_up_sizing=True, **shapes)
                _retarget_monitor(old[k], exe)
            else:
                shared_exec = shared_group.execs[k] if shared_group is not None else None
                exe = Executor.simple_bind(
                    self.symbol, ctx, grad_req=self.grad_req, type_dict=types,
                    group2ctx=self._group2ctx_for(k),
                    shared_arg_names=self.param_names, shared_exec=shared_exec,
                    shared_buffer=self.shared_data_arrays[k], shapes=shapes,
                    private_names=self.state_names)
            self.execs.append(exe)
        self._collect_arrays()

    def reshape(self, data_shapes, label_shapes):
        if [_desc(d) for d in data_shapes] == self.data_shapes and (
                (label_shapes and [_desc(d) for d in label_shapes]) or None) == self.label_shapes:
            return
        self.bind_exec(data_shapes, label_shapes, reshape=True)

    def _collect_arrays(self):
        e = self.execs
        self.data_arrays = [[(self.slices[k], x.arg_dict[n]) for k, x in enumerate(e)]
                            for n in self.data_names]
        self.label_arrays = [[(self.slices[k], x.arg_dict[n]) for k, x in enumerate(e)]
                             for n in self.label_names if n in self.arg_names]
        self.param_arrays = [[x.arg_dict[n] for x in e] for n in self.param_names]
        self.grad_arrays = [[x.grad_dict[n] for x in e] for n in self.param_names
                            if n in e[0].grad_dict] if self.for_training else []
        self.aux_arrays = [[x.aux_dict[n] for x in e] for n in self.aux_names]
        self.state_arrays = [[x.arg_dict[n] for x in e] for n in self.state_names]
        self.input_grad_arrays = [[x.grad_dict[n] for x in e] for n in self.data_names
                                  if n in e[0].grad_dict] if self.inputs_need_grad else []

    # -- parameters ---------------------------------------------------------------------------
    def set_params(self, arg_params, aux_params, allow_extra=False):
        for exe in self.execs:
            exe.copy_params_from(arg_params, aux_params, allow_extra_params=allow_extra)

    def get_params(self, arg_params, aux_params):
        """Average each parameter over the devices into the given CPU dicts (in place)."""
        for names, blocks, target in ((self.param_names, self.param_arrays, arg_params),
                                      (self.aux_names, self.aux_arrays, aux_params)):
            for name, block in zip(names, blocks):
                mean = sum(a._data.astype(np.float64) for a in block) / len(block) \
                    if len(block) > 1 else block[0]._data
                value = np.asarray(mean, dtype=block[0]._data.dtype)
                if name in target and target[name].shape == value.shape:
                    target[name]._data[...] = value
                else:
                    target[name] = NDArray(value.copy(), cpu())

    # -- computation --------------------------------------------------------------------------
    def _load(self, batch_arrays, targets, what):
        if len(batch_arrays) != len(targets):
            raise MXNetError(f"the batch has {len(batch_arrays)} {what} arrays, the module "
                             f"expects {len(targets)}")
        for src, dst_list in zip(batch_arrays, targets):
            if isinstance(src, (list, tuple)):   # already sliced per device
                for s, (_, dst) in zip(src, dst_list):
                    dst._data[...] = s._data
                continue
            data = src._data if isinstance(src, NDArray) else np.asarray(src)
            for sl, dst in dst_list:
                part = data[sl]
                if part.shape != dst.shape:
                    raise ShapeError(f"{what} slice {sl.start}:{sl.stop} has shape "
                                     f"{part.shape}, the executor expects {dst.shape}")
                dst._data[...] = part

    def forward(self, data_batch, is_train=None):
        self._load(data_batch.data, self.data_arrays, "data")
        if is_train is None:
            is_train = self.for_training
        if self.label_arrays and data_batch.label:
            self._load(data_batch.label, self.label_arrays, "label")
        for k, exe in enumerate(self.execs):
            t = time.perf_counter()
            exe.forward(is_train=is_train)
            self.timings[k] = time.perf_counter() - t

    def backward(self, out_grads=None):
        if not self.for_training:
            raise MXNetError("backward: the module was bound with for_training=False; "
                             "re-bind with for_training=True to compute gradients")
        for k, exe in enumerate(self.execs):
            grads = None
            if out_grads is not None:
                sl = self.slices[k]
                grads = [NDArray(g._data[sl], exe.context) if isinstance(g, NDArray)
                         else g for g in out_grads]
            t = time.perf_counter()
            exe.backward(out_grads=grads)
            self.timings[k] += time.perf_counter() - t

    def get_output_shapes(self):
        outs = self.execs[0].outputs
        shapes = []
        for name, o in zip(self.execs[0].output_names, outs):
            shape = (self.batch_size,) + o.shape[1:] if o.ndim else o.shape
            shapes.append((name, shape))
        return shapes

    def get_outputs(self, merge_multi_context=True, begin=0, end=None):
        n = len(self.execs[0].outputs)
        end = n if end is None else end
        per = [[exe.outputs[i] for exe in self.execs] for i in range(begin, end)]
        return [_merge(p) for p in per] if merge_multi_context else per

    def get_states(self, merge_multi_context=False):
        return [_merge(s) for s in self.state_arrays] if merge_multi_context else \
            [list(s) for s in self.state_arrays]

    def set_states(self, states=None, value=None):
        if states is not None:
            if value is not None:
                raise MXNetError("set_states: give states or value, not both")
            for src, dsts in zip(states, self.state_arrays):
                for s, d in zip(src, dsts):
                    s.copyto(d)
        else:
            for dsts in self.state_arrays:
                for d in dsts:
                    d[:] = value

    def get_input_grads(self, merge_multi_context=True):
        if not self.inputs_need_grad:
            raise MXNetError("get_input_grads: bind with inputs_need_grad=True to get "
                             "gradients of the inputs")
        return [_merge(g) for g in self.input_grad_arrays] if merge_multi_context else \
            [list(g) for g in self.input_grad_arrays]

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        for k, exe in enumerate(self.execs):
            if pre_sliced:
                labels_k = labels[k]
            else:
                sl = self.slices[k]
                labels_k = [NDArray((lb._data if isinstance(lb, NDArray) else
                                     np.asarray(lb))[sl], exe.context) for lb in labels]
            eval_metric.update_dict(dict(zip(self.label_names, labels_k)),
                                    dict(zip(exe.output_names, exe.outputs)))

    def install_monitor(self, mon):
        for exe in self.execs:
            mon.install(exe)


def _retarget_monitor(old_exe, new_exe):
    """A Monitor installed on ``old_exe`` now watches ``new_exe`` (its reshaped successor)."""
    mon = getattr(old_exe._monitor, "__self__", None)
    if mon is not None and hasattr(mon, "exes"):
        mon.exes = [new_exe if e is old_exe else e for e in mon.exes]
