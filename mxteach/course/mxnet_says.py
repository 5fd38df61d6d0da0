"""Outputs of real MXNet 1.9.1, recorded once and shown beside mxteach's in the notebooks.

``mxnet_outputs/NN.json`` maps a key to ``{"code": ..., "output": ...}``: ``code`` is a snippet
run by ``scripts/record_mxnet_outputs.py`` in the MXNet 1.9.1 oracle (``mx``/``np`` imported,
seeds 0), ``output`` what it printed (warnings and log lines included, an exception as its type
and first line). ``tests/test_course_mxnet_outputs.py`` re-runs every snippet and keeps the
stored outputs in sync. See notebook 01.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..base import MXNetError

_DIR = Path(__file__).resolve().parent / "mxnet_outputs"


def recorded(notebook=None):
    """``{key: {"code", "output"}}`` of one notebook (``"02"``) or of all of them."""
    files = [_DIR / f"{notebook}.json"] if notebook else sorted(_DIR.glob("*.json"))
    out = {}
    for path in files:
        if not path.exists():
            raise MXNetError(f"no recorded MXNet outputs for notebook {notebook!r} ({path.name})")
        with open(path, encoding="utf-8") as f:
            out.update(json.load(f))
    return out


class MXNetSays:
    """A recorded snippet and MXNet 1.9.1's output; shows as text in a notebook."""

    def __init__(self, key, code, output):
        self.key, self.code, self.output = key, code, output

    def __repr__(self):
        code = "\n".join(">>> " + line if line and not line.startswith(" ") else "... " + line
                         for line in self.code.rstrip().splitlines())
        return (f"What real MXNet 1.9.1 does ({self.key}, recorded from the oracle):\n"
                f"{code}\n{self.output.rstrip()}")

    __str__ = __repr__


def what_mxnet_does(key):
    """The recorded MXNet 1.9.1 snippet ``key`` (``"02.label_shapes"``) with its output."""
    notebook = key.split(".", 1)[0]
    table = recorded(notebook)
    if key not in table:
        raise MXNetError(f"no recorded MXNet output {key!r}; recorded for notebook {notebook}: "
                         f"{sorted(table)}")
    entry = table[key]
    return MXNetSays(key, entry["code"], entry["output"])
