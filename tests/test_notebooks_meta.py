"""The stored course notebooks are complete, executed references for nbval, and follow the
course's conventions (see notebooks/README.md, "Writing or changing a notebook").

These tests read the .ipynb files only; executing them is nbval's job (``make test``).
"""
from __future__ import annotations

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
README = ROOT / "notebooks" / "README.md"
CHECK = "# NBVAL_CHECK_OUTPUT"
MIN_CHECKED = 4
COURSE = ["01_ndarray_and_symbol", "02_executor_and_lifecycle", "03_data_iterators_and_recordio",
          "04_data_parallel", "05_training_fit", "06_callbacks_monitor_checkpoints",
          "07_checkpoints_and_real_mxnet", "08_bucketing_and_rnn",
          "09_sequential_and_python_modules", "10_debugging_a_broken_composition",
          "11_custom_op", "12_writing_an_operator", "13_gpus",
          "14_performance_and_memory_planner", "15_sparse_embeddings", "16_distributed_mpi"]
MIN_CELLS, MAX_CELLS = 15, 35
MXTEACH_ONLY = "> **mxteach only:**"
REAL_MXNET = "> **Real MXNet 1.9.1:**"
# mxteach-only features (issue 18) and how a code line uses them; their first use in a notebook
# must come after a "> **mxteach only:**" note that names them
FEATURES = {
    "stage": r"\.stage\b", "events": r"\.events\b", "memory_report": r"\bmemory_report\(",
    "memory_summary": r"\bmemory_summary\(", "diagnose": r"\.diagnose\(",
    "switch_history": r"\bswitch_history\b", "junctions": r"\.junctions\(",
    "ShapeError": r"\bShapeError\b", "NotBoundError": r"\bNotBoundError\b",
    **{view: rf"\b{view}\(" for view in (
        "StateTimeline", "MemoryMap", "MemoryComparison", "DeviceSlices", "LiveMetrics",
        "ParamTable", "GraphView", "BucketView", "ChainView", "ModuleInspector", "WorkersView")},
}


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


def _code_lines(cell):
    """A code cell's statements: comments and imports are not uses of a feature."""
    return "\n".join(line for line in _source(cell).splitlines()
                     if not line.strip().startswith(("#", "import ", "from ")))


def _quotes(text, marker):
    """The blockquotes of a markdown text that open with ``marker``, each as one string."""
    found, current = [], None
    for line in text.splitlines():
        if line.startswith(marker):
            current = [line]
            found.append(current)
        elif current is not None and line.startswith(">"):
            current.append(line)
        else:
            current = None
    return [" ".join(q) for q in found]


def _header(book):
    """(outcome bullets, prerequisites text, minutes) from the notebook's second cell."""
    text = _source(book["cells"][1])
    outcomes = re.search(r"\*\*Learning outcomes[.:]?\*\*(.*?)\*\*Prerequisites", text, re.S)
    prereq = re.search(r"\*\*Prerequisites[.:]?\*\*(.*?)\*\*Time", text, re.S)
    time = re.search(r"\*\*Time[.:]?\*\*\s*(?:about\s+)?(\d+)\s*min", text, re.I)
    bullets = [] if outcomes is None else \
        [line for line in outcomes.group(1).splitlines() if re.match(r"\s*[-*] ", line)]
    return bullets, (prereq.group(1) if prereq else None), (int(time.group(1)) if time else None)


def test_the_course_has_its_sixteen_notebooks():
    names = [p.stem for p in NOTEBOOKS]
    assert len(names) >= 16, f"{len(names)} notebooks, the course has at least 16: {names}"
    missing = [stem for stem in COURSE if stem not in names]
    assert not missing, f"notebooks missing from notebooks/: {missing}"
    numbers = [n[:2] for n in names]
    assert len(set(numbers)) == len(numbers), f"two notebooks share a number: {names}"


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def nb(request):
    return request.param, _load(request.param)


def test_title_cell(nb):
    path, book = nb
    first = book["cells"][0]
    text = _source(first).lstrip()
    assert first["cell_type"] == "markdown" and text.startswith(f"# {path.stem[:2]} — "), \
        f"{path.name}: the first cell must be a markdown title '# {path.stem[:2]} — Title', " \
        f"got {text[:60]!r}"


def test_outcomes_prerequisites_and_time_open_the_notebook(nb):
    path, book = nb
    assert book["cells"][1]["cell_type"] == "markdown", \
        f"{path.name}: cell 2 must be markdown with the outcomes, prerequisites and time"
    bullets, prereq, minutes = _header(book)
    assert 3 <= len(bullets) <= 5, \
        f"{path.name}: **Learning outcomes** needs 3-5 bullets in cell 2, found {len(bullets)}"
    assert prereq is not None and prereq.strip(), \
        f"{path.name}: cell 2 needs **Prerequisites** (notebook numbers, or none) before **Time**"
    earlier = [int(n) for n in re.findall(r"\b(\d{2})\b", prereq)]
    later = [n for n in earlier if n >= int(path.stem[:2])]
    assert not later, f"{path.name}: prerequisites name notebooks that come later: {later}"
    assert minutes is not None and 10 <= minutes <= 120, \
        f"{path.name}: cell 2 needs **Time** in minutes for a student (10-120), got {minutes}"


def test_cell_count_and_what_to_remember(nb):
    path, book = nb
    n = len(book["cells"])
    assert MIN_CELLS <= n <= MAX_CELLS, f"{path.name}: {n} cells (want {MIN_CELLS}-{MAX_CELLS})"
    tail = [c for c in book["cells"][-3:] if c["cell_type"] == "markdown"]
    assert any(re.search(r"^#+ .*What to remember", _source(c), re.M) for c in tail), \
        f"{path.name}: should end with a 'What to remember' section"


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


def test_mxteach_only_features_are_labelled(nb):
    """Each mxteach-only feature is introduced by a '> **mxteach only:**' note naming it, in
    the notebook before (or in the markdown just above) the first code that uses it; and the
    note is always written the same way."""
    path, book = nb
    notes, first_use, variants = [], {}, []
    for k, cell in enumerate(book["cells"]):
        text = _source(cell)
        if cell["cell_type"] == "markdown":
            notes += [(k, q) for q in _quotes(text, MXTEACH_ONLY)]
            variants += [line[:70] for line in text.splitlines()
                         if re.match(r">\s*\*\*mxteach[- ]only", line, re.I)
                         and not line.startswith(MXTEACH_ONLY)]
            continue
        code = _code_lines(cell)
        for feature, pattern in FEATURES.items():
            if feature not in first_use and re.search(pattern, code):
                first_use[feature] = k
    assert not variants, f"{path.name}: write the note as '{MXTEACH_ONLY} …', not {variants}"
    unlabelled = {f: k for f, k in first_use.items()
                  if not any(j < k and f in note for j, note in notes)}
    assert not unlabelled, \
        f"{path.name}: mxteach-only features used (feature: first code cell) without a " \
        f"'{MXTEACH_ONLY}' note naming them before: {unlabelled}"


def test_real_mxnet_notes_show_recorded_outputs(nb):
    """'> **Real MXNet 1.9.1:**' is followed by a checked cell showing MXNet's recorded output
    (``what_mxnet_does("NN.key")``, keys of this notebook), so nbval keeps it in sync."""
    path, book = nb
    cells = book["cells"]
    for k, cell in enumerate(cells):
        if cell["cell_type"] == "markdown" and _quotes(_source(cell), REAL_MXNET):
            nxt = next((c for c in cells[k + 1:] if c["cell_type"] == "code"), None)
            assert nxt is not None and _source(nxt).lstrip().startswith(CHECK), \
                f"{path.name}, cell {k}: a '{REAL_MXNET}' note must be followed by a {CHECK} " \
                f"cell showing MXNet's recorded output"
    for k, cell in enumerate(cells):
        keys = re.findall(r"what_mxnet_does\(\s*[\"']([^\"']+)[\"']", _code_lines(cell))
        wrong = [key for key in keys if not key.startswith(f"{path.stem[:2]}.")]
        assert not wrong, f"{path.name}, cell {k}: recorded outputs of another notebook: {wrong}"
        if keys:
            assert _source(cell).lstrip().startswith(CHECK), \
                f"{path.name}, cell {k}: a cell showing what_mxnet_does(...) must be {CHECK}"


def test_course_table_lists_each_notebook_with_its_time():
    table = README.read_text(encoding="utf-8").split("<!-- course-table -->")[1] \
        .split("<!-- /course-table -->")[0]
    rows = {}
    for line in table.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.match(r"`(\d\d_\w+)`", cols[1]) if len(cols) >= 5 else None
        if m:
            rows[m.group(1)] = cols
    for path in NOTEBOOKS:
        assert path.stem in rows, f"notebooks/README.md's course table has no row for {path.stem}"
        _, _, minutes = _header(_load(path))
        stated = re.match(r"(\d+) min", rows[path.stem][-1])
        assert stated and int(stated.group(1)) == minutes, \
            f"notebooks/README.md gives {path.stem} {rows[path.stem][-1]!r}; the notebook says " \
            f"{minutes} min"
    assert set(rows) <= {p.stem for p in NOTEBOOKS}, \
        f"the course table names notebooks that do not exist: {set(rows) - {p.stem for p in NOTEBOOKS}}"
