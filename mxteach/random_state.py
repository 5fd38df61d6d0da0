"""The random state behind every random draw in mxteach (layer 0: imports numpy only).

Dropout, LeakyReLU's ``rrelu``, the RNN operator's dropout, initializers and the SGLD optimizer
all draw from :func:`rng`; ``mx.random.seed`` (re-exported by :mod:`mxteach.random`, which also
holds the ``mx.random.*`` samplers) reseeds it. Keeping the state here, below ``ndarray`` and the
operators, lets those lower layers draw without importing the sampler front-end.

MXNet keeps one generator per device; mxteach runs every device's kernels from one host stream,
so a single generator serves all contexts and ``ctx`` only selects which ones a seed applies to.

>>> seed(7); a = rng().uniform(); seed(7); a == rng().uniform()
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["seed", "rng"]

_state = {"rng": np.random.RandomState(0)}


def seed(seed_state, ctx="all"):
    """Seed every random source.

    Parameters
    ----------
    seed_state : int
        The seed; reduced modulo 2**32 as numpy requires.
    ctx : Context or 'all'
        Accepted for MXNet compatibility: every device shares one stream here, so any value
        reseeds it.

    See notebook 01
    """
    _state["rng"] = np.random.RandomState(int(seed_state) % (2 ** 32))


def rng() -> np.random.RandomState:
    """The current generator (replaced, not mutated, by :func:`seed`, so fetch it per draw)."""
    return _state["rng"]
