"""Record what real MXNet 1.9.1 prints for the snippets the notebooks quote.

    .venv/bin/python scripts/record_mxnet_outputs.py            # every notebook's file
    .venv/bin/python scripts/record_mxnet_outputs.py 02 06      # some of them

Reads ``mxteach/course/mxnet_outputs/NN.json`` (``{key: {"code": ...}}``), runs each snippet in the
oracle venv (``.oracle``, or ``$MXTEACH_ORACLE``) in a fresh namespace with ``mx`` and ``np``
imported and both seeded with 0, and stores what it printed as ``output``: stdout, then
warnings and log records as ``Category: message``, then an exception as ``Type: first line``.
``tests/test_course_mxnet_outputs.py`` calls :func:`run_snippets` to check the stored outputs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ROOT / "mxteach" / "course" / "mxnet_outputs"

_DRIVER = r'''
import contextlib, io, json, logging, os, sys, tempfile, warnings
import numpy as np
import mxnet as mx
snippets = json.load(sys.stdin)
results = {}
for key, code in snippets.items():
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    np.random.seed(0); mx.random.seed(0)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        os.chdir(tmp)
        try:
            with contextlib.redirect_stdout(buf):
                exec(compile(code, key, "exec"), {"mx": mx, "np": np, "__name__": "__main__"})
                mx.nd.waitall()
        except BaseException as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            buf.write(f"{type(err).__name__}: {first}\n")
        finally:
            os.chdir(cwd)
    text = buf.getvalue()
    for w in caught:
        text += f"{w.category.__name__}: {w.message}\n"
    results[key] = text
json.dump(results, sys.stdout)
'''


def oracle_python():
    env = os.environ.get("MXTEACH_ORACLE")
    py = Path(env) if env else ROOT / ".oracle" / "bin" / "python"
    return str(py) if py.exists() else None


def run_snippets(snippets, python=None):
    """``{key: code}`` → ``{key: output}`` printed by MXNet 1.9.1 (one oracle process)."""
    python = python or oracle_python()
    if python is None:
        raise SystemExit("the MXNet 1.9.1 oracle venv is missing: run `make oracle`")
    proc = subprocess.run([python, "-c", _DRIVER], input=json.dumps(snippets),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"the oracle failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def record(path):
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    outputs = run_snippets({k: v["code"] for k, v in table.items()})
    for key, out in outputs.items():
        table[key]["output"] = out
    tmp = path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(table, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return outputs


def main(argv):
    paths = [OUTPUTS / f"{n}.json" for n in argv] if argv else sorted(OUTPUTS.glob("*.json"))
    for path in paths:
        outputs = record(path)
        print(f"{path.name}: {len(outputs)} snippets recorded")


if __name__ == "__main__":
    main(sys.argv[1:])
