"""The MXNet outputs the notebooks show are what MXNet 1.9.1 prints (mxteach/course/mxnet_says.py)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from oracle import require_oracle

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "mxteach" / "course" / "mxnet_outputs").glob("*.json"))
_spec = importlib.util.spec_from_file_location("record_mxnet_outputs",
                                               ROOT / "scripts" / "record_mxnet_outputs.py")
recorder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recorder)


@pytest.mark.oracle
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_stored_mxnet_outputs_match_the_oracle(path):
    python = require_oracle()
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    for key, entry in table.items():
        assert key.startswith(path.stem + "."), f"{path.name}: key {key!r} must start with {path.stem}."
        assert "output" in entry, f"{key}: no output recorded (scripts/record_mxnet_outputs.py {path.stem})"
    outputs = recorder.run_snippets({k: v["code"] for k, v in table.items()}, python)
    for key, entry in table.items():
        assert outputs[key] == entry["output"], (
            f"{key}: MXNet 1.9.1 now prints {outputs[key]!r}, the notebook shows "
            f"{entry['output']!r}; re-record with scripts/record_mxnet_outputs.py {path.stem}")


def test_what_mxnet_does_shows_code_and_output():
    from mxteach.course import what_mxnet_does
    from mxteach.base import MXNetError
    for path in FILES:
        with open(path, encoding="utf-8") as f:
            table = json.load(f)
        for key, entry in table.items():
            text = repr(what_mxnet_does(key))
            assert entry["output"].strip() in text and key in text
    with pytest.raises(MXNetError, match="no recorded MXNet output"):
        what_mxnet_does("01.no_such_snippet")
