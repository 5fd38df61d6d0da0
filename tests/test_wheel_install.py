"""The course where students already are: the built wheel, installed with its ``lab`` extra in
a fresh virtual environment (no checkout, no editable install), runs notebook 01 with nbclient
and reproduces its checked outputs. This is what the README's "Run the course where your
students are" tells a teacher to do on JupyterHub, a lab machine or a laptop.

Builds the wheel from a copy of the package files (the checkout is never written to), without
build isolation (setuptools of the project's venv), then lets pip resolve the extra's packages
as a student's pip would.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_ndarray_and_symbol.ipynb"
CHECK = "# NBVAL_CHECK_OUTPUT"
# outputs that legitimately differ between runs (notebooks/sanitize.cfg masks the same)
VOLATILE = [(re.compile(r"0x[0-9a-fA-F]{6,16}"), "0xADDRESS"),
            (re.compile(r"(/private)?(/var/folders/[^/\s]+/[^/\s]+/T|/tmp)/tmp[0-9a-zA-Z_]+"),
             "<tmpdir>")]


def _run(cmd, timeout, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout, **kw)
    assert proc.returncode == 0, \
        f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n" \
        f"{proc.stderr[-4000:]}"
    return proc


def _clean_env(venv):
    """A student's shell: the fresh venv first on PATH, nothing of this checkout visible."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER", "PYTEST", "MXTEACH"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "mxteach", src / "mxteach",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", dist, src], timeout=300, cwd=src)
    wheels = list(dist.glob("mxteach-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_the_package_and_its_course_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("mxteach/__init__.py", "mxteach/module/module.py",
                   "mxteach/widgets/inspector.py", "mxteach/course/checking.py",
                   "mxteach/course/mxnet_outputs/01.json"):
        assert needed in names, f"{needed} is not in {wheel.name}"
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Provides-Extra: lab" in text and "extra == \"lab\"" in text


def test_fresh_venv_with_lab_extra_runs_notebook_01(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], timeout=120)
    py = venv / "bin" / "python"
    env = _clean_env(venv)
    _run([py, "-m", "pip", "install", "-q", f"{wheel}[lab]"], timeout=900, env=env,
         cwd=tmp_path)
    work = tmp_path / "course"
    work.mkdir()
    shutil.copy2(NOTEBOOK, work / NOTEBOOK.name)
    # execute with the fresh venv's own nbclient (the lab extra brings it through
    # JupyterLab) and its own kernel; a last cell says where mxteach was imported from
    script = f"""
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read({str(work / NOTEBOOK.name)!r}, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell(
    "import sys, mxteach; print(mxteach.__file__); print(sys.executable)"))
NotebookClient(nb, timeout=300, kernel_name="python3").execute()
json.dump(nb, open({str(work / 'executed.json')!r}, "w"))
"""
    _run([py, "-c", script], timeout=600, env=env, cwd=work)
    executed = json.loads((work / "executed.json").read_text())
    where = "".join(executed["cells"][-1]["outputs"][0]["text"]).split()
    assert where[0].startswith(str(venv)) and "site-packages" in where[0], where
    assert where[1].startswith(str(venv)), where
    stored = json.loads(NOTEBOOK.read_text())
    compared = 0
    for old, new in zip(stored["cells"], executed["cells"]):
        assert old["source"] == new["source"] or "".join(old["source"]) == new["source"]
        if old["cell_type"] != "code":
            continue
        for out in new.get("outputs", []):
            assert out["output_type"] != "error", f"{out['ename']}: {out['evalue']}"
        if "".join(old["source"]).lstrip().startswith(CHECK):
            assert _text(new) == _text(old), "".join(old["source"])[:300]
            compared += 1
    assert compared >= 4


def _text(cell):
    """The cell's printed and displayed text, volatile parts masked."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        elif "text/plain" in out.get("data", {}):
            parts.append("".join(out["data"]["text/plain"]))
    text = "".join(parts)
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text
