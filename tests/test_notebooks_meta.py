"""The stored classroom notebooks are complete, executed references for nbval (see notebooks/README.md).

These tests read the .ipynb files only; executing them is nbval's job (``make test``).
"""
from __future__ import annotations

import json
import pathlib

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CHECK = "# NBVAL_CHECK_OUTPUT"
MIN_CHECKED = 4


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _checked(nb):
    return [c for c in _code_cells(nb) if _source(c).lstrip().startswith(CHECK)]


def test_there_are_notebooks():
    names = [p.name for p in NOTEBOOKS]
    for stem in ("01_ndarray_and_symbol", "02_executor_and_lifecycle", "03_data_parallel",
                 "04_training"):
        assert f"{stem}.ipynb" in names, f"notebooks/{stem}.ipynb is missing (have {names})"


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def nb(request):
    return request.param, _load(request.param)


def test_title_cell(nb):
    path, book = nb
    first = book["cells"][0]
    text = _source(first).lstrip()
    assert first["cell_type"] == "markdown" and text.startswith("# "), \
        f"{path.name}: the first cell must be a markdown title ('# NN — ...'), got {text[:60]!r}"


def test_executed_top_to_bottom(nb):
    path, book = nb
    counts = [c.get("execution_count") for c in _code_cells(book)]
    assert counts, f"{path.name} has no code cells"
    assert None not in counts, \
        f"{path.name}: code cell {counts.index(None)} was never executed; store the notebook executed"
    assert counts == list(range(1, len(counts) + 1)), \
        f"{path.name}: execution counts {counts} are not one restart-and-run-all (1..{len(counts)})"
    assert any(c.get("outputs") for c in _code_cells(book)), f"{path.name} has no outputs"


def test_no_error_outputs(nb):
    path, book = nb
    for k, cell in enumerate(book["cells"]):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", \
                f"{path.name}, cell {k}: stored error {out.get('ename')}: {out.get('evalue')}"


def test_enough_checked_cells_with_output(nb):
    path, book = nb
    checked = _checked(book)
    assert len(checked) >= MIN_CHECKED, \
        f"{path.name}: {len(checked)} cells marked {CHECK}, need at least {MIN_CHECKED}"
    for cell in checked:
        assert cell.get("outputs"), \
            f"{path.name}: a {CHECK} cell has no output to compare:\n{_source(cell)[:200]}"


def test_checked_cells_write_nothing_to_stderr(nb):
    # warnings and logging (timings, paths) go to stderr; nbval would compare them
    path, book = nb
    for cell in _checked(book):
        for out in cell.get("outputs", []):
            assert out.get("name") != "stderr", \
                f"{path.name}: a {CHECK} cell writes to stderr: {''.join(out.get('text', ''))[:200]!r}"

