"""Coverage of MXNet 1.9.1's public operator names (issue 17).

``tests/data/mxnet191_operators.json`` lists every public name of ``mx.nd``, ``mx.sym``,
``mx.nd.random``, ``mx.nd.linalg`` and ``mx.nd.contrib`` in real MXNet 1.9.1 (generated from the
oracle by ``tests/data/make_operator_list.py``), each ``present``, ``out`` (deliberately, with a
reason) or ``missing``. These tests keep that file and mxteach in agreement and print the
coverage by namespace.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from data.make_operator_list import mxteach_namespace as _namespace

DATA = Path(__file__).resolve().parent / "data" / "mxnet191_operators.json"
ROWS = json.loads(DATA.read_text())
NAMESPACES = ("nd", "sym", "nd.random", "nd.linalg", "nd.contrib")


def _has(ns, name):
    target = _namespace(ns)
    return target is not None and hasattr(target, name)


def test_list_is_well_formed():
    assert len(ROWS) > 600                       # MXNet 1.9.1 has ~700 such names
    seen = set()
    for r in ROWS:
        assert r["namespace"] in NAMESPACES, r
        assert r["status"] in ("present", "out", "missing"), r
        assert (r["status"] == "present") == (r["reason"] == ""), r
        key = (r["namespace"], r["name"])
        assert key not in seen, f"{key} listed twice"
        seen.add(key)
    # the categories the issue leaves out are not in the list at all
    names = {r["name"] for r in ROWS}
    for excluded in ("np", "npx", "amp_cast", "imdecode", "to_dlpack_for_read", "gen_op"):
        assert excluded not in names


@pytest.mark.parametrize("ns", NAMESPACES)
def test_present_names_exist(ns):
    absent = [r["name"] for r in ROWS
              if r["namespace"] == ns and r["status"] == "present" and not _has(ns, r["name"])]
    assert not absent, f"mx.{ns} lacks names the coverage list says are present: {absent}"


@pytest.mark.parametrize("ns", NAMESPACES)
def test_list_is_up_to_date(ns):
    """A name mxteach now provides must be marked present (rerun make_operator_list.py)."""
    stale = [r["name"] for r in ROWS
             if r["namespace"] == ns and r["status"] != "present" and _has(ns, r["name"])]
    assert not stale, (f"mx.{ns} provides {stale}, listed as out/missing in {DATA.name}; "
                       "rerun tests/data/make_operator_list.py")


def test_present_names_are_callable_or_classes():
    for r in ROWS:
        if r["status"] == "present":
            obj = getattr(_namespace(r["namespace"]), r["name"])
            assert callable(obj), f"mx.{r['namespace']}.{r['name']} is not callable"


def coverage_table():
    """{namespace: (present, out, missing, percent present of the non-out names)}."""
    table = {}
    for ns in NAMESPACES:
        c = Counter(r["status"] for r in ROWS if r["namespace"] == ns)
        wanted = c["present"] + c["missing"]
        table[ns] = (c["present"], c["out"], c["missing"],
                     100.0 * c["present"] / wanted if wanted else 100.0)
    return table


def test_report_coverage(capsys):
    table = coverage_table()
    with capsys.disabled():
        print("\nMXNet 1.9.1 operator coverage (present / out / missing, % of non-out):")
        for ns, (p, o, m, pct) in table.items():
            print(f"  mx.{ns:<11} {p:4d} {o:4d} {m:4d}  {pct:5.1f} %")
    total_present = sum(v[0] for v in table.values())
    assert total_present == sum(r["status"] == "present" for r in ROWS)
    # every out name has a reason a student can read
    assert all(len(r["reason"]) > 10 for r in ROWS if r["status"] == "out")
