"""``mx.nd.contrib.isfinite``, ``isinf`` and ``isnan``: in MXNet 1.9.1 these are Python
functions built from operators (no ``mx.sym`` twin), and so they are here. Each returns 1.0
where the test holds and 0.0 elsewhere, in the data's dtype and on its device. See notebook 01.
"""
from __future__ import annotations

import math

__all__ = ["isfinite", "isinf", "isnan"]


def isinf(data):
    """1 where ``data`` is +inf or -inf, else 0. See notebook 01."""
    return data.abs() == math.inf


def isnan(data):
    """1 where ``data`` is NaN (the only value not equal to itself), else 0. See notebook 01."""
    return data != data


def isfinite(data):
    """1 where ``data`` is neither infinite nor NaN, else 0. See notebook 01."""
    return (data.abs() != math.inf) * (data == data)
