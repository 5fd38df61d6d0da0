"""The executor's memory plan: buffers whose lifetimes do not overlap share one arena.

Each planned buffer is an interval ``[start, end]`` of execution steps (forward steps first, then
backward steps). A linear scan hands out arenas best-fit; an arena freed at step ``t`` can serve
a buffer that starts at ``t + 1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Request:
    key: object              # what the buffer is for (an entry, or ('grad', entry))
    name: str                # a readable name: fc1_output, fc1_output_grad ...
    role: str                # 'output' | 'intermediate' | 'intermediate_grad' | 'head_grad' ...
    shape: tuple
    dtype: str
    start: int
    end: int
    planned: bool = True     # False: a dedicated buffer (outputs the user reads)

    @property
    def nbytes(self):
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Arena:
    index: int
    nbytes: int
    users: list = field(default_factory=list)


def plan(requests):
    """Assign each planned request to an arena; returns (arenas, {key: arena})."""
    arenas, assign = [], {}
    active, free = [], []   # active: [end, arena] pairs still in use
    for req in sorted((r for r in requests if r.planned), key=lambda r: (r.start, -r.nbytes)):
        for pair in [p for p in active if p[0] < req.start]:
            active.remove(pair)
            free.append(pair[1])
        fitting = [a for a in free if a.nbytes >= req.nbytes]
        if fitting:
            arena = min(fitting, key=lambda a: a.nbytes)
        elif free:
            arena = max(free, key=lambda a: a.nbytes)
            arena.nbytes = req.nbytes        # grow the largest free arena
        else:
            arena = Arena(len(arenas), req.nbytes)
            arenas.append(arena)
        if arena in free:
            free.remove(arena)
        arena.users.append(req)
        assign[req.key] = arena
        active.append([req.end, arena])
    return arenas, assign
