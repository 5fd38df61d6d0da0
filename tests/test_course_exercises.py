"""Every exercise check of the course, tested both ways (see mxteach/course/checking.py).

For notebook NN, ``mxteach/course/nbNN*.py`` defines the checks and
``notebooks/solutions/NN_*.py`` holds ``SOLUTIONS = {id: answer}`` (the reference answers) and,
optionally, ``WRONG = {id: [(answer, words the explanation must contain), ...]}`` (typical
mistakes). A reference answer must pass; an empty answer and each typical mistake must fail with
an explanation; each student notebook calls each of its checks.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
from pathlib import Path

import pytest

import mxteach.course as course

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = ROOT / "notebooks" / "solutions"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _load_checks():
    for info in pkgutil.iter_modules(course.__path__):
        if info.name.startswith("nb"):
            importlib.import_module(f"mxteach.course.{info.name}")
    return course.registered_exercises()


def _load_solutions():
    solutions, wrong = {}, {}
    for path in sorted(SOLUTIONS_DIR.glob("[0-9][0-9]_*.py")):
        spec = importlib.util.spec_from_file_location(f"solutions_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        solutions.update(mod.SOLUTIONS)
        wrong.update(getattr(mod, "WRONG", {}))
    return solutions, wrong


CHECKS = _load_checks()
SOLUTIONS, WRONG = _load_solutions()
IDS = sorted(CHECKS)


def test_every_check_has_a_reference_solution_and_back():
    assert sorted(SOLUTIONS) == IDS, (
        f"checks without a solution: {sorted(set(IDS) - set(SOLUTIONS))}; "
        f"solutions without a check: {sorted(set(SOLUTIONS) - set(IDS))}")


@pytest.mark.parametrize("ident", IDS)
def test_reference_solution_passes(ident):
    result = CHECKS[ident](SOLUTIONS[ident])
    assert result.passed, f"the reference solution of {ident} fails its check: {result}"


@pytest.mark.parametrize("ident", IDS)
def test_empty_answer_fails_helpfully(ident):
    for empty in (None, ...):
        result = CHECKS[ident](empty)
        assert not result.passed and "not answered yet" in result.message, repr(result)


@pytest.mark.parametrize("ident", sorted(WRONG))
def test_typical_mistakes_are_explained(ident):
    for answer, words in WRONG[ident]:
        result = CHECKS[ident](answer)
        assert not result.passed, f"{ident}: the mistake {answer!r} passes the check"
        assert words.lower() in result.message.lower(), \
            f"{ident}: explanation {result.message!r} does not mention {words!r}"


def _sources(path):
    with open(path, encoding="utf-8") as f:
        book = json.load(f)
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in book["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_has_three_to_five_exercises_and_calls_each_check(path):
    number = path.stem[:2]
    mine = sorted(i for i in IDS if i.startswith(number + "."))
    assert 3 <= len(mine) <= 5, f"{path.name}: {len(mine)} exercises ({mine}); want 3-5"
    code = "\n".join(_sources(path))
    for ident in mine:
        name = CHECKS[ident].__name__
        assert f"{name}(" in code, f"{path.name} never calls {name} (exercise {ident})"
