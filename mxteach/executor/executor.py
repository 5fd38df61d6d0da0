"""Executor: a symbol bound to arrays on one device, running its plan forward and backward.

The plan (``plan.py``, ``memory.py``) is built once, and one build serves every device: memory,
kernels and device checks come from the device's backend (``mxteach/backend/``), so a gpu
binding is the same code with the GPU backend. ``arrays.py`` turns bind's arguments into arrays.
"""
from __future__ import annotations

import sys
from collections import namedtuple

import numpy as np

from .. import config
from ..base import MXNetError, MXNetTypeError, MXNetValueError, ShapeError, did_you_mean
from ..context import Context
from ..ndarray.ndarray import NDArray
from ..symbol.infer import infer_shapes, infer_types
from .. import backend
from . import devices, memory
from .arrays import as_dict, from_pool, norm_reqs, placement, zeros
from .plan import GraphPlan
from . import sparse

__all__ = ["Executor"]

class Executor:
    """A bound symbol. Build it with ``Symbol.bind`` or ``Symbol.simple_bind``.

    Binding plans everything once (step order, gradient flow, buffers); ``forward`` and
    ``backward`` then only run kernels over preallocated memory. See notebook 02.
    """

    def __init__(self, symbol, ctx, args, grads, grad_reqs, aux, shared_from=None,
                 group2ctx=None):
        self._symbol = symbol
        self._ctx = ctx
        self._group2ctx = group2ctx
        self._place = placement(symbol, ctx, group2ctx)
        self.arg_names = symbol.list_arguments()
        self.aux_names = symbol.list_auxiliary_states()
        self.output_names = symbol.list_outputs()
        self._args, self._grads, self._aux = args, grads, aux
        self._reqs = grad_reqs
        self._shared_from = shared_from or {}
        self._monitor = None
        self._monitor_all = False
        self._debug = config.flag("MXTEACH_DEBUG")
        given = {n: a.shape for n, a in {**args, **aux}.items()}
        order, shapes = infer_shapes(symbol._outputs, given)
        _, types = infer_types(symbol._outputs, {n: np.dtype(a.dtype).name
                                                 for n, a in {**args, **aux}.items()})
        self._plan = GraphPlan(symbol._outputs, shapes, types, grad_reqs)
        self._mirrors = sparse.Mirrors()
        sparse.check_fallbacks(order, {n: a.stype for n, a in args.items()})
        sparse.check_grad_stypes(order, {n: a.stype for n, a in args.items()}, grads, grad_reqs)
        self._build()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def simple_bind(cls, symbol, ctx, grad_req="write", type_dict=None, group2ctx=None,
                    shared_arg_names=None, shared_exec=None, shared_buffer=None, shapes=None,
                    private_names=(), stype_dict=None):
        """Allocate every array from the given input shapes, then bind.

        ``private_names`` (states) never take memory from ``shared_buffer``: sharing it would
        leak one bucket's state into another's.
        """
        ctx = Context(ctx) if not isinstance(ctx, Context) else ctx
        shapes = dict(shapes or {})
        arg_shapes, _, aux_shapes = symbol.infer_shape_partial(**shapes)
        names, aux_names = symbol.list_arguments(), symbol.list_auxiliary_states()
        unknown = [n for n, s in zip(names + aux_names, arg_shapes + aux_shapes) if s == ()]
        if unknown:
            raise MXNetError(f"simple_bind: cannot infer the shape of {unknown}; pass their "
                             f"shapes, e.g. {unknown[0]}=(batch, ...). Given: {shapes}")
        given_types = dict(type_dict or {})
        arg_types, _, aux_types = symbol.infer_type_partial(**given_types)
        arg_types = [t or np.float32 for t in arg_types]
        aux_types = [t or np.float32 for t in aux_types]
        reqs = norm_reqs(grad_req, names)
        shared_names = set(names if shared_arg_names is None else shared_arg_names)
        place = placement(symbol, ctx, group2ctx)
        shared_from, args, grads, aux = {}, {}, {}, {}
        stypes = sparse.arg_stypes(symbol._order(), names, stype_dict)
        grad_stypes = sparse.sparse_grad_names(symbol._order(), stypes)

        def reuse(pool, name, shape, dtype):
            arr = pool.get(name) if pool is not None else None
            if arr is not None and arr.shape == tuple(shape) and arr.dtype == dtype:
                return arr
            if arr is not None and arr.shape != tuple(shape):
                # a parameter of the same name with another shape would silently stop being
                # shared (bucketing); MXNet refuses it too
                raise ShapeError(f"simple_bind: parameter '{name}' has shape {tuple(shape)} "
                                 f"here but {arr.shape} in the shared executor, so its memory "
                                 "cannot be shared; parameters must have the same shape in "
                                 "every bucket")
            return None

        for n, s, t in zip(names, arg_shapes, arg_types):
            from_exec = reuse(shared_exec.arg_dict, n, s, t) \
                if shared_exec is not None and n in shared_names else None
            if from_exec is not None:
                args[n] = from_exec
                shared_from[n] = "shared_exec"
            elif n in stypes:        # a sparse argument (stype_dict or the variable's stype)
                args[n] = sparse.sparse_zeros(stypes[n], s, place.get(n, ctx), t)
            elif shared_buffer is not None and n not in shared_names and \
                    n not in private_names:
                args[n], reused = from_pool(shared_buffer, n, s, t, place.get(n, ctx))
                if reused:
                    shared_from[n] = "shared_buffer"
            else:
                args[n] = zeros(s, t, place.get(n, ctx))
            if reqs[n] != "null":
                g = reuse(shared_exec.grad_dict, n, s, t) \
                    if shared_exec is not None and n in shared_names else None
                if g is not None:
                    shared_from[n + "_grad"] = "shared_exec"
                if g is None and grad_stypes.get(n) == "row_sparse":
                    g = sparse.sparse_zeros("row_sparse", s, place.get(n, ctx), t)
                grads[n] = g if g is not None else zeros(s, t, place.get(n, ctx))
        for n, s, t in zip(aux_names, aux_shapes, aux_types):
            a = reuse(shared_exec.aux_dict, n, s, t) if shared_exec is not None else None
            if a is not None:
                shared_from[n] = "shared_exec"
            aux[n] = a if a is not None else zeros(s, t, place.get(n, ctx))
        return cls(symbol, ctx, args, grads, reqs, aux, shared_from, group2ctx)

    @classmethod
    def bind(cls, symbol, ctx, args, args_grad=None, grad_req="write", aux_states=None,
             group2ctx=None, shared_exec=None):
        """Bind to arrays you provide (list in list_arguments order, or a dict)."""
        ctx = Context(ctx) if not isinstance(ctx, Context) else ctx
        names, aux_names = symbol.list_arguments(), symbol.list_auxiliary_states()
        args = as_dict(args, names, "bind args")
        for n, a in args.items():
            if not isinstance(a, NDArray):
                raise MXNetError(f"bind: argument '{n}' must be an NDArray, got "
                                 f"{type(a).__name__}")
        grads = as_dict(args_grad, names, "bind args_grad", allow_missing=True)
        aux = as_dict(aux_states, aux_names, "bind aux_states")
        reqs = norm_reqs(grad_req, names)
        reqs = {n: (r if n in grads and grads[n] is not None else "null")
                for n, r in reqs.items()}
        grads = {n: g for n, g in grads.items() if g is not None and reqs[n] != "null"}
        for n, g in grads.items():
            if g.shape != args[n].shape:
                raise ShapeError(f"bind: gradient array for '{n}' has shape {g.shape}, the "
                                 f"argument has {args[n].shape}")
        return cls(symbol, ctx, args, grads, reqs, aux, group2ctx=group2ctx)

    def _arrays(self):
        """(kind, name, NDArray) of every bound array, for the backend's checks."""
        for kind, d in (("argument", self._args), ("gradient of", self._grads),
                        ("auxiliary state", self._aux)):
            for name, arr in d.items():
                yield kind, name, arr

    def _device(self, node):
        return self._place.get(node.name, self._ctx)

    def _build(self):
        """Allocate the plan's buffers and fill the step lists, through each node's device's
        backend: the same code for the CPU, a gpu, and a graph spread over devices."""
        plan = self._plan
        self._backend = backend.for_context(self._ctx)
        nodes = {id(n): n for n in plan.order}
        be_of = {id(n): backend.for_context(self._device(n)) for n in plan.order}
        self._be_of = be_of
        names = {n.name: n for n in plan.arg_nodes + plan.aux_nodes}
        for kind, name, arr in self._arrays():
            be_of[id(names[name])].check_arrays("bind", [(kind, name, arr)])
        # every operator's kernels are looked up before anything is allocated, so an operator
        # the device cannot run fails the bind at once, naming the node
        self._kernels = {id(n): be_of[id(n)].kernels(n.op, f"node '{n.name}'")
                         for n in plan.op_nodes}
        requests = plan.buffer_requests()
        self._req_dev = {r.key: self._device(nodes[r.key[-2]]) for r in requests}
        for req in requests:
            be_of[req.key[-2]].check_dtype("bind", f"'{req.name}'", req.dtype)
        buf = {}
        self._arenas, pools, where = [], {}, {}
        for dev in dict.fromkeys(self._req_dev.values()):   # one memory plan per device
            arenas, placed = memory.plan([r for r in requests if self._req_dev[r.key] == dev])
            be = backend.for_context(dev)
            for arena in arenas:
                arena.index += len(self._arenas)
                pools[arena.index] = be.arena(arena.nbytes)
            self._arenas += arenas
            where.update(placed)
        for req in requests:
            be = be_of[req.key[-2]]
            buf[req.key] = (be.view(pools[where[req.key].index], req.shape, req.dtype)
                            if req.planned else be.zeros(req.shape, req.dtype))
        stypes = {k: a.stype for k, a in self._args.items()}
        for n in plan.arg_nodes:
            arg = self._args[n.name]
            if sparse.is_sparse(arg) and sparse.reads_sparse(n, plan, stypes, self._grads,
                                                             self._reqs):
                buf[(id(n), 0)] = arg      # its readers take it sparse: no dense copy
            else:
                buf[(id(n), 0)] = arg._data if not sparse.is_sparse(arg) else \
                    self._mirrors.add(arg, be_of[id(n)].zeros(arg.shape, np.dtype(arg.dtype)))
            if n.name in self._grads and not sparse.is_sparse(self._grads[n.name]):
                buf[("grad", id(n), 0)] = self._grads[n.name]._data
        for n in plan.aux_nodes:
            buf[(id(n), 0)] = self._aux[n.name]._data
        self._buf = buf
        self._requests = requests
        self._cross = devices.Crossings(buf, requests, self._req_dev)
        self._states = {id(n): {} for n in plan.op_nodes}
        self._fwd, self._ins = [], {}
        for n in plan.op_nodes:
            be = be_of[id(n)]
            ins = [be.raw(self._cross.input(c, i, self._device(c), self._device(n), self._fwd))
                   for c, i in n.inputs]
            outs = [be.raw(buf[(id(n), j)]) for j in range(n.num_outputs())]
            self._ins[id(n)] = ins
            fn = sparse.sparse_forward(n, ins) or be.forward_step(self._kernels[id(n)][0], ins,
                                                                  outs)
            self._fwd.append((fn, n.params, ins, outs, self._states[id(n)], n))
        self._bwd = self._backward_steps()
        self.outputs = []
        self._head_copies = []
        for n, i in plan.heads:
            be = be_of[id(n)]
            if n.op is None:       # a variable as an output: MXNet returns a copy
                src = buf[(id(n), 0)]
                out = be.zeros(src.shape, src.dtype)
                self._head_copies.append((src, out))
                self.outputs.append(be.wrap(out))
            else:
                self.outputs.append(be.wrap(buf[(id(n), i)]))

    def _backward_steps(self):
        plan, buf = self._plan, self._buf

        def raw(key, be):
            return be.raw(buf[key])

        steps = []
        # a head's gradient arrives through out_grads; internal consumers add to it
        written = {("grad", id(n), i) for n, i in plan.heads
                   if n.op is not None and not n.op.loss}
        for n in plan.backward_nodes:
            be, dev = self._be_of[id(n)], self._device(n)
            k = n.num_args()
            ograds = None if n.op.loss else [raw(("grad", id(n), j), be)
                                             for j in range(n.num_outputs())]
            sparse_step = sparse.make_step(n, self._grads, self._reqs, plan, self._args)
            if sparse_step is not None:     # a row_sparse weight gradient (Embedding)
                steps.append((sparse_step, n.params, ograds, self._ins[id(n)], [], [], [], {},
                              n))
                continue
            igrads, reqs, transfers = [], [], []
            for slot, (c, i) in enumerate(n.inputs[:k]):
                key = (id(c), i)
                gkey = ("grad",) + key
                if not plan.needs_grad.get(key) or gkey not in buf:
                    igrads.append(None)
                    reqs.append("null")
                    continue
                first = gkey not in written
                written.add(gkey)
                if c.op is None:
                    req = self._reqs[c.name] if first else "add"
                else:
                    req = "write" if first else "add"
                if devices.crosses(self._device(c), dev):
                    # computed here, then sent to the producer's device and written/added there
                    local, send = self._cross.gradient(n, slot, gkey, req, dev, self._device(c))
                    transfers.append(send)
                    igrads.append(be.raw(local))
                    reqs.append("write")
                    continue
                igrads.append(raw(gkey, be))
                reqs.append(req)
            ins = self._ins[id(n)]
            outs = [raw((id(n), j), be) for j in range(n.num_outputs())]
            backward = self._kernels[id(n)][1]
            if backward is None:     # a device may have an operator's forward only
                raise MXNetError(f"operator {n.op.name} ('{n.name}') has no gradient on "
                                 f"{dev}; set grad_req='null' for the arguments below "
                                 "it, or bind on mx.cpu()")
            fn = be.backward_step(backward, ograds, ins, outs, igrads)
            steps.append((fn, n.params, ograds, ins, outs, igrads, reqs,
                          self._states[id(n)], n))
            steps += transfers
        return steps

    # -- running ------------------------------------------------------------------------------
    def forward(self, is_train=False, **kwargs):
        """Run the graph. Keyword arrays are copied into the arguments of the same name."""
        for name, value in kwargs.items():
            if name not in self._args:
                raise MXNetTypeError(f"forward: '{name}' is not an argument; arguments are "
                                     f"{self.arg_names}.{did_you_mean(name, self.arg_names)}")
            dst = self._args[name]
            src = value if sparse.is_sparse(value) else \
                value._data if isinstance(value, NDArray) else np.asarray(value)
            if src.shape != dst.shape:
                raise ShapeError(f"forward: '{name}' has shape {src.shape}, the executor was "
                                 f"bound with {dst.shape}; use reshape()")
            if sparse.is_sparse(dst) or sparse.is_sparse(src):
                dst[:] = src          # re-stored in the argument's own storage type
            else:
                dst._data[...] = src
        self._mirrors.refresh()
        is_train = bool(is_train)
        if self._monitor is None and not self._debug:
            for fn, p, ins, outs, st, _ in self._fwd:
                fn(p, ins, outs, is_train, st)
        else:
            for fn, p, ins, outs, st, node in self._fwd:
                if node is None:            # a copy across devices (devices.py)
                    fn(p, ins, outs, is_train, st)
                    continue
                if self._debug:
                    print(f"[mxteach] forward {node.op.name} {node.name} "
                          f"{[x.shape for x in ins]} -> {[o.shape for o in outs]}",
                          file=sys.stderr)
                fn(p, ins, outs, is_train, st)
                if self._monitor is not None:
                    self._emit_monitor(node, ins, outs)
        for src, dst in self._head_copies:
            dst[...] = src
        return self.outputs

    def _emit_monitor(self, node, ins, outs):
        be = self._be_of[id(node)]
        if self._monitor_all:
            for name, arr in zip(node.input_names(), ins):
                self._monitor(f"{node.name}_{name}", arr if sparse.is_sparse(arr) else
                              be.wrap(arr))
        for name, arr in zip(node.output_names(), outs):
            self._monitor(name, be.wrap(arr))

    def backward(self, out_grads=None, is_train=True):
        """Propagate gradients into ``grad_arrays`` (loss heads need no ``out_grads``)."""
        plan = self._plan
        if out_grads is not None:
            if isinstance(out_grads, NDArray):
                out_grads = [out_grads]
            if len(out_grads) != len(plan.heads):
                raise MXNetError(f"backward: got {len(out_grads)} out_grads for "
                                 f"{len(plan.heads)} outputs {self.output_names}")
        copied = set()
        for k, (n, i) in enumerate(plan.heads):
            gkey = ("grad", id(n), i)
            if n.op is None or n.op.loss or gkey not in self._buf:
                continue
            if out_grads is None or out_grads[k] is None:
                raise MXNetError(f"backward: output '{self.output_names[k]}' is not a loss, so "
                                 "its head gradient is required: backward(out_grads=[...])")
            g = out_grads[k]
            g = g._data if isinstance(g, NDArray) else np.asarray(g)
            if g.shape != self._buf[gkey].shape:
                raise ShapeError(f"backward: out_grad for '{self.output_names[k]}' has shape "
                                 f"{g.shape}, expected {self._buf[gkey].shape}")
            if gkey in copied:      # the same output listed twice in a Group: gradients add
                self._buf[gkey] += g
            else:
                self._buf[gkey][...] = g
                copied.add(gkey)
        for fn, p, og, ins, outs, ig, reqs, st, _ in self._bwd:
            fn(p, og, ins, outs, ig, reqs, st)

    def set_monitor_callback(self, callback, monitor_all=False):
        """Call ``callback(name, NDArray)`` for every output (and input if ``monitor_all``) of
        every operator as forward runs."""
        self._monitor = callback
        self._monitor_all = monitor_all

    # -- views --------------------------------------------------------------------------------
    @property
    def arg_arrays(self):
        return [self._args[n] for n in self.arg_names]

    @property
    def grad_arrays(self):
        return [self._grads.get(n) for n in self.arg_names]

    @property
    def aux_arrays(self):
        return [self._aux[n] for n in self.aux_names]

    @property
    def arg_dict(self):
        return dict(self._args)

    @property
    def grad_dict(self):
        return dict(self._grads)

    @property
    def aux_dict(self):
        return dict(self._aux)

    @property
    def output_dict(self):
        return dict(zip(self.output_names, self.outputs))

    @property
    def grad_req(self):
        return dict(self._reqs)

    @property
    def symbol(self):
        return self._symbol

    @property
    def context(self):
        return self._ctx

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copy parameter values in; unknown names raise unless ``allow_extra_params``."""
        for kind, src, dst in (("argument", arg_params, self._args),
                               ("auxiliary state", aux_params or {}, self._aux)):
            for name, value in src.items():
                if name not in dst:
                    if allow_extra_params:
                        continue
                    raise MXNetValueError(f"copy_params_from: '{name}' is not an {kind} of "
                                          f"this executor.{did_you_mean(name, dst)}")
                value = value if isinstance(value, NDArray) else NDArray(np.asarray(value))
                if value.shape != dst[name].shape:
                    raise ShapeError(f"copy_params_from: '{name}' has shape {value.shape}, "
                                     f"expected {dst[name].shape}")
                if sparse.is_sparse(dst[name]) or sparse.is_sparse(value):
                    dst[name][:] = value
                else:
                    dst[name]._data[...] = value._data

    def reshape(self, partial_shaping=False, allow_up_sizing=False, **kwargs):
        """A new executor for new input shapes, sharing parameter arrays with this one."""
        arg_shapes, _, aux_shapes = self._symbol.infer_shape(**kwargs)
        if arg_shapes is None:
            raise MXNetError(f"reshape: shapes {kwargs} do not determine every argument")
        args, grads, aux = {}, {}, {}
        for n, s in zip(self.arg_names, arg_shapes):
            old = self._args[n]
            if old.shape == tuple(s):
                args[n] = old
                if n in self._grads:
                    grads[n] = self._grads[n]
                continue
            if n not in kwargs and not partial_shaping:
                raise MXNetError(f"reshape: the shape of '{n}' changes from {old.shape} to "
                                 f"{tuple(s)}; pass partial_shaping=True to allow it")
            if int(np.prod(s)) > old.size and not allow_up_sizing:
                raise MXNetError(f"reshape: '{n}' grows from {old.shape} to {tuple(s)}; pass "
                                 "allow_up_sizing=True to allocate a larger array")
            args[n] = zeros(s, old._data.dtype, old.context)
            if n in self._grads:
                grads[n] = zeros(s, old._data.dtype, old.context)
        for n, s in zip(self.aux_names, aux_shapes):
            old = self._aux[n]
            aux[n] = old if old.shape == tuple(s) else zeros(s, old._data.dtype, old.context)
        exe = Executor(self._symbol, self._ctx, args, grads, self._reqs, aux,
                       {n: "reshaped_from" for n in args if args[n] is self._args.get(n)},
                       self._group2ctx)
        exe._monitor, exe._monitor_all = self._monitor, self._monitor_all
        return exe

    # -- memory -------------------------------------------------------------------------------
    def memory_report(self):
        """Rows (name, role, shape, dtype, bytes, device, shared_with), one per buffer.

        Planned buffers that share an arena name each other in ``shared_with``; arrays taken
        from another executor (bucketing, reshape) say so. See notebook 02.
        """
        rows = []
        dev = str(self._ctx)

        def row(name, role, arr, shared, device=dev):
            rows.append(MemoryRow(name, role, tuple(arr.shape), arr.dtype.name,
                                  int(arr.nbytes), str(device), shared))

        for n in self.arg_names:
            row(n, "argument", sparse.stored(self._args[n]), self._shared_from.get(n, ""),
                self._args[n].context)
        for n in self.arg_names:
            if n in self._grads:
                shared = self._shared_from.get(n + "_grad", "")
                if not shared and self._shared_from.get(n) == "reshaped_from":
                    shared = "reshaped_from"
                row(n + "_grad", "gradient", sparse.stored(self._grads[n]), shared,
                    self._grads[n].context)
        for n in self.aux_names:
            row(n, "auxiliary", self._aux[n]._data, self._shared_from.get(n, ""),
                self._aux[n].context)
        for arr, dense in self._mirrors.pairs:      # what the kernels read of a sparse arg
            name = next(k for k, a in self._args.items() if a is arr)
            row(f"{name}_dense_copy", "dense copy", dense, "", arr.context)
        for req in self._requests:
            arr = self._buf[req.key]
            shared = ""
            if req.planned:
                arena = next(a for a in self._arenas if req in a.users)
                others = [u.name for u in arena.users if u is not req]
                shared = f"arena{arena.index}" + (": " + ", ".join(others) if others else "")
            row(req.name, req.role, arr, shared, self._req_dev[req.key])
        # scratch an operator keeps between calls (im2col columns, masks, batch statistics);
        # it exists only after the first forward
        for node in self._plan.op_nodes:
            for key, value in self._states[id(node)].items():
                if isinstance(value, np.ndarray):
                    row(f"{node.name}:{key}", "workspace", value, "",
                        self._place.get(node.name, dev))
        return rows

    def memory_summary(self):
        """Bytes per role, and what the plan saves over one buffer per value."""
        naive = sum(r.nbytes for r in self._requests if r.planned)
        planned = sum(a.nbytes for a in self._arenas)
        fixed = sum(r.nbytes for r in self._requests if not r.planned)
        workspace = sum(v.nbytes for st in self._states.values() for v in st.values()
                        if isinstance(v, np.ndarray))
        arrays = sum(sparse.stored(a).nbytes for d in (self._args, self._grads, self._aux)
                     for a in d.values()) + sum(d.nbytes for _, d in self._mirrors.pairs)
        return {"arrays_bytes": arrays, "dedicated_bytes": fixed,
                "intermediate_naive_bytes": naive, "intermediate_planned_bytes": planned,
                "saved_bytes": naive - planned, "workspace_bytes": workspace,
                "total_bytes": arrays + fixed + planned + workspace}

    def debug_str(self):
        s = self.memory_summary()
        lines = [self._symbol.debug_str(), f"Total {s['total_bytes'] / 2**20:.3f} MB allocated",
                 f"Planner saved {s['saved_bytes'] / 2**20:.3f} MB"]
        return "\n".join(lines)


MemoryRow = namedtuple("MemoryRow", "name role shape dtype bytes device shared_with")
MemoryRow.__doc__ = "One buffer of an executor (see Executor.memory_report)."
