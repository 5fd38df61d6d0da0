"""Non-finite watch for ``fit``: say once, clearly, where NaN or inf first appeared.

MXNet trains on happily when a learning rate is too large or an input holds NaN: the loss and
then every weight become NaN and the metric quietly shows garbage. During ``fit`` mxteach
checks after every batch, on a budget of about 1/100 of the parameter count:

* the batch's outputs, and the *smallest* gradient arrays (biases, the last layer's weight):
  a NaN in any input or upstream weight reaches the activations feeding the last layer, and
  so that layer's weight gradient, in the same batch -- the outputs alone are not enough,
  because fastmath softmax kernels may turn NaN into finite garbage;
* a rotating slice of all parameters, so every weight is scanned every ~100 batches.

The check costs well under 1 % of a batch (``benchmarks/bench_nonfinite.py`` measures it).
Once something is non-finite it looks for the cause, in this order: the batch's inputs (data,
then labels), the parameters in the graph's order (the first non-finite one is where the
values went bad), else the outputs themselves. Parameters are also checked at each epoch's
end, when ``fit`` copies them anyway. It then warns once per ``fit``
(:class:`NonFiniteWarning`) and emits one ``nonfinite`` event with ``name``, ``where`` (one of
``'input'``, ``'label'``, ``'parameter'``, ``'aux'``, ``'output'``), ``epoch``, ``nbatch`` and
``message``.

Set ``mxteach.module.health.CHECK_NONFINITE = False`` to switch the check off. See notebook 06.
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["NonFiniteWarning", "NonFiniteWatch", "CHECK_NONFINITE"]

CHECK_NONFINITE = True
BUDGET_FRACTION = 0.01   # elements checked per batch, as a fraction of all parameters ...
MIN_BUDGET = 4096        # ... but at least this many


class NonFiniteWarning(RuntimeWarning):
    """NaN or inf appeared during ``fit``; the message names where, the epoch and the batch."""


def _host(x):
    if getattr(x, "stype", "default") != "default":
        v = x._values      # what a sparse array stores: no dense copy, no fallback
        return v if isinstance(v, np.ndarray) else np.asarray(v)     # on a gpu: copied
    data = getattr(x, "_data", x)
    return data if isinstance(data, np.ndarray) else np.asarray(x.asnumpy())


def _finite(x):
    a = _host(x)
    if a.dtype.kind not in "fc" or a.size == 0:
        return True
    # one reduction, no temporary: a NaN/inf anywhere makes the sum non-finite (a finite sum
    # that overflows is confirmed element-wise before anyone is told)
    if np.isfinite(np.add.reduce(a, axis=None)):
        return True
    return bool(np.isfinite(a).all())


def _groups(module):
    """The executor groups of ``module`` (the current bucket's, every member's of a chain)."""
    group = getattr(module, "_exec_group", None)
    if group is not None:
        return [group]
    inner = getattr(module, "_curr_module", None)
    if inner is not None:
        return _groups(inner)
    return [g for m in getattr(module, "_modules", []) or [] for g in _groups(m)]


class _Plan:
    """What to check each batch for one set of executor groups (see the module notes)."""

    def __init__(self, groups):
        # sparse arrays have no live dense buffer to watch (their stored rows change)
        params = [ws[0]._data for g in groups for ws in g.param_arrays
                  if ws[0].stype == "default" and isinstance(ws[0]._data, np.ndarray)]
        grads = [gs[0]._data for g in groups for gs in g.grad_arrays
                 if gs and gs[0].stype == "default" and isinstance(gs[0]._data, np.ndarray)]
        total = sum(a.size for a in params)
        self.budget = max(MIN_BUDGET, int(total * BUDGET_FRACTION))
        self.small_grads, used = [], 0
        for a in sorted(grads, key=lambda a: a.size):
            if used + a.size > self.budget:
                break
            self.small_grads.append(a)
            used += a.size
        self.flat = [a.reshape(-1) for a in params if a.flags.c_contiguous and a.size]
        self.which, self.offset = 0, 0

    def next_chunk(self):
        """The next ``budget`` parameter elements, round robin (one or more slices)."""
        left, out = self.budget, []
        for _ in range(len(self.flat) + 1):
            if left <= 0 or not self.flat:
                break
            a = self.flat[self.which]
            take = a[self.offset:self.offset + left]
            out.append(take)
            left -= take.size
            self.offset += take.size
            if self.offset >= a.size:
                self.which, self.offset = (self.which + 1) % len(self.flat), 0
        return out


def _as_batches(data_batch):
    return data_batch if isinstance(data_batch, list) else [data_batch]


class NonFiniteWatch:
    """Watches one ``fit`` of ``module``; reports the first non-finite value once."""

    def __init__(self, module):
        self.module = module
        self.enabled = CHECK_NONFINITE
        self.report = None
        self._plans = {}  # per set of executor groups (buckets rebind, reshape replaces)

    # -- the per-batch and per-epoch checks ---------------------------------------------------
    def after_batch(self, data_batch, epoch, nbatch):
        """After forward/backward/update of batch ``nbatch``: check its outputs."""
        if not self.enabled or self.report is not None:
            return
        try:
            outputs = self.module.get_outputs(merge_multi_context=False)
        except Exception:  # noqa: BLE001 - a module kind without per-device outputs
            outputs = self.module.get_outputs()
        flat = [o for out in outputs for o in (out if isinstance(out, list) else [out])]
        if all(_finite(o) for o in flat) and self._plan_finite():
            return
        self._diagnose(data_batch, epoch, nbatch)

    def _plan_finite(self):
        groups = _groups(self.module)
        key = tuple(id(a) for g in groups for ws in g.param_arrays for a in ws[:1])
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 64:  # many buckets: keep the cache bounded
                self._plans.clear()
            plan = self._plans[key] = _Plan(groups)
        return all(_finite(a) for a in plan.small_grads) and \
            all(_finite(a) for a in plan.next_chunk())

    def after_epoch(self, epoch, nbatch, arg_params, aux_params):
        """At an epoch's end, with the parameters ``fit`` copied: catch a last-batch NaN."""
        if not self.enabled or self.report is not None:
            return
        if all(_finite(v) for v in arg_params.values()) and \
                all(_finite(v) for v in aux_params.values()):
            return
        self._report(*self._first_bad_param(arg_params, aux_params), epoch, nbatch)

    # -- finding the cause --------------------------------------------------------------------
    def _ordered(self, names):
        try:
            order = self.module.symbol.list_arguments() + \
                self.module.symbol.list_auxiliary_states()
        except Exception:  # noqa: BLE001 - a module without one symbol (e.g. Sequential)
            order = []
        rank = {n: i for i, n in enumerate(order)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))

    def _first_bad_param(self, arg_params, aux_params):
        for name in self._ordered(list(arg_params)):
            if not _finite(arg_params[name]):
                return name, "parameter"
        for name in self._ordered(list(aux_params)):
            if not _finite(aux_params[name]):
                return name, "aux"
        return None, None

    def _diagnose(self, data_batch, epoch, nbatch):
        mod = self.module
        data_names = list(getattr(mod, "data_names", []) or [])
        label_names = list(getattr(mod, "label_names", []) or [])
        for batch in _as_batches(data_batch):
            for kind, arrays, names in (("input", batch.data, data_names),
                                        ("label", batch.label or [], label_names)):
                for i, arr in enumerate(arrays):
                    if not _finite(arr):
                        name = names[i] if i < len(names) else f"{kind} {i}"
                        return self._report(name, kind, epoch, nbatch)
        try:
            arg_params, aux_params = mod.get_params()
        except Exception:  # noqa: BLE001 - parameters not readable: name the output instead
            arg_params, aux_params = {}, {}
        name, kind = self._first_bad_param(arg_params, aux_params)
        if name is None:
            outputs = list(getattr(mod, "output_names", []) or ["output"])
            name, kind = outputs[0], "output"
        return self._report(name, kind, epoch, nbatch)

    def _report(self, name, kind, epoch, nbatch):
        if name is None:
            return
        what = {"input": "input", "label": "label", "parameter": "parameter",
                "aux": "auxiliary state", "output": "output"}[kind]
        hint = {"input": "the data holds NaN/inf; clean it before training",
                "label": "the labels hold NaN/inf",
                "parameter": "often a learning rate that is too large, or a loss that "
                             "divides by zero; try a smaller learning_rate or clip_gradient",
                "aux": "a BatchNorm statistic overflowed; check the inputs' scale",
                "output": "the forward pass overflowed; check the inputs' scale"}[kind]
        msg = (f"fit: non-finite values (NaN or inf) first found in {what} '{name}' at epoch "
               f"{epoch}, batch {nbatch}: {hint}")
        self.report = {"name": name, "where": kind, "epoch": epoch, "nbatch": nbatch,
                       "message": msg}
        warnings.warn(NonFiniteWarning(msg), stacklevel=4)
        emit = getattr(self.module, "_emit", None)
        if emit is not None:
            emit("nonfinite", self.module.stage, name=name, where=kind, epoch=epoch,
                 nbatch=nbatch, message=msg)
