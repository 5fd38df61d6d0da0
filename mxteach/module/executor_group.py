"""DataParallelExecutorGroup: one executor per device, each batch sliced over the devices by
``work_load_list``. Slices are exposed (``slices``) so students can see who got which rows."""
from __future__ import annotations

import time

import numpy as np

from ..base import MXNetAssertionError, MXNetError, MXNetValueError, ShapeError
from ..context import cpu
from ..executor import Executor
from ..io import DataDesc
from ..ndarray.ndarray import NDArray
from .sparse_rows import is_sparse_batch, load_sparse

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
            raise MXNetValueError(f"batch of {batch_size} is too small for work_load_list "
                                  f"{list(work_load_list)}: device {k} would get no rows; use a "
                                  "larger batch or fewer devices")
        slices.append(slice(begin, end))
    return slices


def _merge(per_device, axis=0):
    """Concatenate per-device arrays along ``axis`` (their batch axis) onto the first
    device's context; an output without a batch axis (``axis < 0``) is the first device's."""
    if len(per_device) == 1 or axis < 0:
        return per_device[0]
    ctx = per_device[0].context
    return NDArray(np.concatenate([np.asarray(a._data) for a in per_device], axis=axis), ctx)


def _desc(d):
    return d if isinstance(d, DataDesc) else DataDesc(*d)


def _take(data, sl, axis):
    """Rows ``sl`` of ``data`` along its batch ``axis`` (the whole array when axis < 0)."""
    if axis < 0:
        return data
    if axis == 0:
        return data[sl]
    index = [slice(None)] * data.ndim
    index[axis] = sl
    return np.ascontiguousarray(data[tuple(index)])


def _slice_array(arr, sl, axis):
    """Rows ``sl`` of an NDArray (or array-like) along ``axis``; a device array sliced on
    axis 0 stays on its device (the common case), other axes go through the host."""
    if isinstance(arr, NDArray):
        return arr._data[sl] if axis == 0 else _take(np.asarray(arr._data), sl, axis)
    return _take(np.asarray(arr), sl, axis)


def _layout_axis(symbol, name):
    """Batch axis from the ``__layout__`` attribute of ``symbol``'s node ``name`` (0 when the
    attribute is absent), as MXNet reads it for outputs and states."""
    for node in symbol._order():
        if node.name == name:
            return DataDesc.get_batch_axis(node.attr.get("__layout__"))
    return 0


class DataParallelExecutorGroup:
    """Executors for ``symbol`` on each of ``contexts``, fed by slices of every batch.

    See notebook 04.
    """

    def __init__(self, symbol, contexts, workload, data_shapes, label_shapes, param_names,
                 for_training, inputs_need_grad, shared_group=None, logger=None,
                 fixed_param_names=None, grad_req="write", state_names=None, group2ctxs=None,
                 label_names=None):
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
        # the module's label names: labels the symbol takes are bound even when the caller
        # gave no label shapes (then inferred from the data, as MXNet's simple_bind does)
        self.module_label_names = [n for n in (label_names or []) if n in self.arg_names]
        # bound without label shapes: a training step must then bring its own labels
        self.labels_inferred = bool(self.module_label_names) and not label_shapes
        self.labels_fed = False
        self.output_layouts = [_layout_axis(symbol, n[:-len("_output")] if
                                            n.endswith("_output") else n)
                               for n in symbol.list_outputs()]
        self.state_layouts = [_layout_axis(symbol, n) for n in self.state_names]
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
            raise MXNetAssertionError(f"all data must have the same batch size, got "
                                      f"{sorted(sizes)} from "
                                      f"{[(_desc(d).name, _desc(d).shape) for d in data_shapes]}")
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

    def infer_label_shapes(self, data_shapes):
        """DataDescs for the module's labels inferred from ``data_shapes`` (the loss ties a
        label's shape to its data, e.g. SoftmaxOutput's label is (batch,))."""
        names = self.module_label_names
        if not names:
            return None
        shapes = {d.name: d.shape for d in data_shapes}
        types = {d.name: d.dtype for d in data_shapes}
        try:
            arg_shapes, _, _ = self.symbol.infer_shape_partial(**shapes)
            arg_types, _, _ = self.symbol.infer_type_partial(**types)
        except MXNetError as err:
            raise ShapeError(f"bind: cannot infer the label shapes {names} from data shapes "
                             f"{shapes}: {err}") from err
        by_name = dict(zip(self.arg_names, zip(arg_shapes, arg_types)))
        unknown = [n for n in names if not by_name[n][0] or 0 in by_name[n][0]]
        if unknown:
            raise ShapeError(f"bind: the shapes of labels {unknown} do not follow from the data "
                             f"shapes {shapes}; pass label_shapes")
        descs = []
        for n in names:
            shape, dtype = by_name[n]
            axis = 0 if len(shape) else -1
            descs.append(DataDesc(n, tuple(shape), dtype or np.float32,
                                  "N" if axis == 0 else ""))
        return descs

    def bind_exec(self, data_shapes, label_shapes, shared_group=None, reshape=False):
        """Create (or, with ``reshape``, re-create) one executor per device.

        Without ``label_shapes`` the labels the symbol takes are still bound, with shapes
        inferred from the data (``labels_inferred``)."""
        self.data_shapes = [_desc(d) for d in data_shapes]
        self.label_shapes = [_desc(d) for d in label_shapes] if label_shapes else None
        if self.label_shapes is None and self.module_label_names:
            self.label_shapes = self.infer_label_shapes(self.data_shapes)
        self.labels_fed = False
        self.data_names = [d.name for d in self.data_shapes]
        self.label_names = [d.name for d in self.label_shapes] if self.label_shapes else []
        self.data_layouts = [DataDesc.get_batch_axis(d.layout) for d in self.data_shapes]
        self.label_layouts = [DataDesc.get_batch_axis(d.layout)
                              for d in (self.label_shapes or [])]
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
        data_shapes = [_desc(d) for d in data_shapes]
        if not label_shapes and self.module_label_names:
            label_shapes = self.infer_label_shapes(data_shapes)
        new_labels = [_desc(d) for d in label_shapes] if label_shapes else None
        if data_shapes == self.data_shapes and new_labels == self.label_shapes:
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
                if name in target and target[name].stype == "row_sparse":
                    # MXNet: the devices' row_sparse copies summed (union of their rows),
                    # averaged, copied into the row_sparse target with those rows
                    mean = block[0].tostype("row_sparse")
                    for a in block[1:]:
                        mean = mean + a.tostype("row_sparse")
                    (mean / len(block) if len(block) > 1 else mean).copyto(target[name])
                    continue
                block = [a.tostype("default") for a in block]   # sparse: rows stored, rest 0
                mean = sum(a._data.astype(np.float64) for a in block) / len(block) \
                    if len(block) > 1 else block[0]._data
                value = np.asarray(mean, dtype=block[0]._data.dtype)
                if name in target and target[name].shape == value.shape:
                    target[name]._data[...] = value
                else:
                    target[name] = NDArray(value.copy(), cpu())

    # -- computation --------------------------------------------------------------------------
    def _load(self, batch_arrays, targets, what, axes):
        """Copy each batch array's slices into the devices' arrays; values are cast to the
        bound dtype (integer data into a float model stays a float model, as in MXNet)."""
        if len(batch_arrays) != len(targets):
            raise MXNetError(f"the batch has {len(batch_arrays)} {what} arrays, the module "
                             f"expects {len(targets)}")
        for src, dst_list, axis in zip(batch_arrays, targets, axes):
            if isinstance(src, (list, tuple)):   # already sliced per device
                for s, (_, dst) in zip(src, dst_list):
                    dst._data[...] = s._data
                continue
            if is_sparse_batch(src, dst_list):      # csr batches (module/sparse_rows.py)
                load_sparse(src, dst_list, what)
                continue
            data = src._data if isinstance(src, NDArray) else np.asarray(src)
            for sl, dst in dst_list:
                part = _take(data, sl, axis)
                if part.shape != dst.shape:
                    raise ShapeError(f"{what} slice {sl.start}:{sl.stop} has shape "
                                     f"{part.shape}, the executor expects {dst.shape}")
                dst._data[...] = part

    def forward(self, data_batch, is_train=None):
        self._load(data_batch.data, self.data_arrays, "data", self.data_layouts)
        if is_train is None:
            is_train = self.for_training
        if self.label_arrays and data_batch.label:
            self._load(data_batch.label, self.label_arrays, "label", self.label_layouts)
            self.labels_fed = True
        elif self.labels_inferred:
            self.labels_fed = False
        for k, exe in enumerate(self.execs):
            t = time.perf_counter()
            exe.forward(is_train=is_train)
            self.timings[k] = time.perf_counter() - t

    def backward(self, out_grads=None):
        if not self.for_training:
            raise MXNetError("backward: the module was bound with for_training=False; "
                             "re-bind with for_training=True to compute gradients")
        if self.labels_inferred and not self.labels_fed:
            raise MXNetError(
                f"backward: the loss needs labels {self.label_names}, but the last forward's "
                "batch had none (the module was bound without label_shapes); give the batch "
                "labels, e.g. DataBatch(data=[x], label=[y])")
        for k, exe in enumerate(self.execs):
            grads = None
            if out_grads is not None:
                sl = self.slices[k]
                grads = [NDArray(_slice_array(g, sl, axis), exe.context)
                         if isinstance(g, NDArray) else g
                         for g, axis in zip(out_grads, self.output_layouts)]
            t = time.perf_counter()
            exe.backward(out_grads=grads)
            self.timings[k] += time.perf_counter() - t

    def get_output_shapes(self):
        outs = self.execs[0].outputs
        shapes = []
        for name, o, axis in zip(self.execs[0].output_names, outs, self.output_layouts):
            shape = list(o.shape)
            if 0 <= axis < len(shape):
                shape[axis] = self.batch_size
            shapes.append((name, tuple(shape)))
        return shapes

    def get_outputs(self, merge_multi_context=True, begin=0, end=None):
        n = len(self.execs[0].outputs)
        end = n if end is None else end
        per = [[exe.outputs[i] for exe in self.execs] for i in range(begin, end)]
        return [_merge(p, self.output_layouts[i]) for i, p in zip(range(begin, end), per)] \
            if merge_multi_context else per

    def get_states(self, merge_multi_context=False):
        """Per state, one array per device; merged along each state's batch axis (from its
        ``__layout__`` attribute, 'NC' → 0, 'LNC' → 1) when ``merge_multi_context``."""
        if not merge_multi_context:
            return [list(s) for s in self.state_arrays]
        return [_merge(s, axis) for s, axis in zip(self.state_arrays, self.state_layouts)]

    def set_states(self, states=None, value=None):
        """``states``: per state either one whole-batch array (sliced over the devices, as
        ``get_outputs()`` returns it) or a list with one array per device."""
        if states is not None:
            if value is not None:
                raise MXNetError("set_states: give states or value, not both")
            if len(states) != len(self.state_arrays):
                raise MXNetError(f"set_states: got {len(states)} states for the module's "
                                 f"{len(self.state_arrays)} state_names {self.state_names}")
            for name, src, dsts, axis in zip(self.state_names, states, self.state_arrays,
                                             self.state_layouts):
                if isinstance(src, (list, tuple)):
                    if len(src) != len(dsts):
                        raise MXNetError(f"set_states: state '{name}' has {len(src)} arrays "
                                         f"for {len(dsts)} devices")
                    for s, d in zip(src, dsts):
                        _copy_into(name, s, d)
                    continue
                data = np.asarray(src._data) if isinstance(src, NDArray) else np.asarray(src)
                for sl, d in zip(self.slices, dsts):
                    _copy_into(name, _take(data, sl, axis), d)
        else:
            for dsts in self.state_arrays:
                for d in dsts:
                    d[:] = value

    def get_input_grads(self, merge_multi_context=True):
        if not self.inputs_need_grad:
            raise MXNetError("get_input_grads: bind with inputs_need_grad=True to get "
                             "gradients of the inputs")
        if not merge_multi_context:
            return [list(g) for g in self.input_grad_arrays]
        axes = [a for n, a in zip(self.data_names, self.data_layouts)
                if n in self.execs[0].grad_dict]
        return [_merge(g, a) for g, a in zip(self.input_grad_arrays, axes)]

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        for k, exe in enumerate(self.execs):
            if pre_sliced:
                labels_k = labels[k]
            else:
                sl = self.slices[k]
                axes = self.label_layouts or [0] * len(labels)
                labels_k = [NDArray(_slice_array(lb, sl, axis), exe.context)
                            for lb, axis in zip(labels, axes)]
            eval_metric.update_dict(dict(zip(self.label_names, labels_k)),
                                    dict(zip(exe.output_names, exe.outputs)))

    def install_monitor(self, mon):
        for exe in self.execs:
            mon.install(exe)


def _copy_into(name, src, dst):
    data = np.asarray(src._data) if isinstance(src, NDArray) else np.asarray(src)
    if data.shape != dst.shape:
        raise ShapeError(f"set_states: state '{name}' has shape {data.shape}, the executor's "
                         f"is {dst.shape}")
    dst._data[...] = data


def _retarget_monitor(old_exe, new_exe):
    """A Monitor installed on ``old_exe`` now watches ``new_exe`` (its reshaped successor)."""
    mon = getattr(old_exe._monitor, "__self__", None)
    if mon is not None and hasattr(mon, "exes"):
        mon.exes = [new_exe if e is old_exe else e for e in mon.exes]
