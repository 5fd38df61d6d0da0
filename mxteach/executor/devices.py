"""Model parallelism: one executor whose nodes run on several devices (``group2ctx``).

**Placement** follows MXNet's rule (nnvm's ``PlaceDevice`` pass):

1. a node whose ``ctx_group`` attribute (``with mx.AttrScope(ctx_group='dev1'):``) names a
   group of ``group2ctx`` runs on that group's device;
2. any other operator runs where its first placed input lives (a forward sweep);
3. a variable still unplaced lives where a consumer runs (a backward sweep), so a weight sits
   beside the layer that reads it;
4. whatever is left stays on the executor's device.

**Copies** are made only where an edge crosses devices and one side is a gpu (host memory is
shared by every ``cpu(i)``, so cpu-to-cpu edges need none): the consumer reads a copy of the
value made on its device just before it runs, and a gradient computed on the consumer's device
is sent back to the producer's device, where it is written or added as ``grad_req`` says.
Each copy is a buffer of its own (role ``'copy'`` in ``memory_report``) and a step of the plan.
"""
from __future__ import annotations

import numpy as np

from ..backend import for_context
from ..context import Context
from .memory import Request

__all__ = ["place_nodes", "crosses", "copy_step", "grad_transfer_step", "Crossings"]


def _as_ctx(ctx):
    return ctx if isinstance(ctx, Context) else Context(ctx)


def place_nodes(order, group2ctx):
    """{id(node): device} for the nodes of ``order`` (topological) that ``group2ctx`` places,
    directly or by the sweeps above; nodes left out run on the executor's device."""
    if not group2ctx:
        return {}
    dev = {}
    for node in order:
        group = node.attr.get("ctx_group")
        if group is not None and group in group2ctx:
            dev[id(node)] = _as_ctx(group2ctx[group])
        elif node.op is not None:
            first = next((c for c, _ in node.inputs if id(c) in dev), None)
            if first is not None:
                dev[id(node)] = dev[id(first)]
    for node in reversed(order):
        if id(node) in dev:
            for c, _ in node.inputs:
                dev.setdefault(id(c), dev[id(node)])
    return dev


def crosses(src, dst):
    """Does a value on ``src`` need a copy to be read on ``dst``?"""
    return src != dst and "gpu" in (src.device_type, dst.device_type)


def copy_step(src, dst):
    """A forward step (the plan's step signature) that copies buffer ``src`` into ``dst`` on
    another device (``DeviceBuffer.__setitem__`` / numpy assignment do the transfer)."""
    def copy(p, ins, outs, is_train, state):
        dst[...] = src
    copy.__name__ = "copy_across_devices"
    return copy


def grad_transfer_step(local, staging, target, req, target_backend):
    """A backward step that sends gradient ``local`` (written on the consumer's device) to
    ``target`` on the producer's device: copied over it for ``req='write'``, or copied into
    ``staging`` there and added for ``'add'``."""
    def transfer(p, ograds, ins, outs, igrads, reqs, state):
        if req == "write":
            target[...] = local
        else:
            staging[...] = local
            target_backend.accumulate(target, staging)
    transfer.__name__ = "gradient_across_devices"
    return transfer


class Crossings:
    """The copies one executor makes between devices: their buffers (in ``buf``, listed in
    ``requests`` with role ``'copy'`` so ``memory_report`` shows them) and their steps."""

    def __init__(self, buf, requests, req_dev):
        self.buf, self.requests, self.req_dev = buf, requests, req_dev

    def _buffer(self, key, name, like, dev):
        self.requests.append(Request(key, name, "copy", tuple(like.shape),
                                     np.dtype(like.dtype).name, 0, 0, planned=False))
        self.req_dev[key] = dev
        self.buf[key] = for_context(dev).zeros(like.shape, like.dtype)
        return self.buf[key]

    def input(self, c, i, src_dev, dev, steps):
        """The buffer a node on ``dev`` reads for entry ``(c, i)`` living on ``src_dev``: the
        entry itself, or its copy on ``dev``, filled by a step appended to the forward
        ``steps`` (so before the first node on ``dev`` that reads it)."""
        entry = self.buf[(id(c), i)]
        if not crosses(src_dev, dev):
            return entry
        key = ("copy", dev, id(c), i)
        if key not in self.buf:
            name = c.name if c.op is None else c.output_names()[i]
            copy = copy_step(entry, self._buffer(key, f"{name}_to_{dev}", entry, dev))
            steps.append((copy, None, [], [], None, None))
        return self.buf[key]

    def gradient(self, node, slot, gkey, req, dev, target_dev):
        """(the buffer ``node``'s backward on ``dev`` writes input ``slot``'s gradient into,
        the backward step that sends it to ``buf[gkey]`` on ``target_dev`` under ``req``)."""
        target = self.buf[gkey]
        local = self._buffer(("copy", dev, "grad", id(node), slot),
                             f"{node.name}_{slot}_grad_on_{dev}", target, dev)
        staging = None
        if req == "add":
            staging = self._buffer(("copy", target_dev, "grad", id(node), slot),
                                   f"{node.name}_{slot}_grad_staging", target, target_dev)
        send = grad_transfer_step(local, staging, target, req, for_context(target_dev))
        return local, (send, None, None, [], [], None, None, None, None)
