"""Run code in real MXNet 1.9.1 (the oracle venv, a separate process: it needs numpy 1.x).

``run_oracle(code, **arrays)`` executes ``code`` in the oracle's Python with ``mx`` and ``np``
imported, the given numpy arrays bound as variables and ``workdir`` set to a temp folder; the
code stores results in the dict ``out`` (numpy arrays, numbers, strings, lists), which is returned.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def oracle_python():
    env = os.environ.get("MXTEACH_ORACLE")
    if env:
        return env
    default = ROOT / ".oracle" / "bin" / "python"
    return str(default) if default.exists() else None


def require_oracle():
    """Skip when real MXNet is absent, except where MXTEACH_REQUIRE_ORACLE=1 (CI): then fail."""
    py = oracle_python()
    if py and Path(py).exists():
        return py
    if os.environ.get("MXTEACH_REQUIRE_ORACLE") == "1":
        pytest.fail("the MXNet 1.9.1 oracle venv is required (make oracle) but missing")
    pytest.skip("MXNet 1.9.1 oracle venv not installed (make oracle)")


# numpy 2 pickles do not load under numpy 1.x: arrays cross as (dtype, shape, bytes) triples.
_CODEC = """
def _enc(v):
    if isinstance(v, np.ndarray):
        return ('__array__', v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_enc(x) for x in v)
    return v
def _dec(v):
    if isinstance(v, tuple) and len(v) == 4 and v[0] == '__array__':
        return np.frombuffer(v[3], dtype=np.dtype(v[1])).reshape(v[2]).copy()
    if isinstance(v, dict):
        return {k: _dec(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_dec(x) for x in v)
    return v
"""
_codec = {"np": np}
exec(_CODEC, _codec)

_PRELUDE = """
import pickle, sys, numpy as np, mxnet as mx
""" + _CODEC + """
with open(sys.argv[1], 'rb') as f:
    _inputs = _dec(pickle.load(f))
globals().update(_inputs)
out = {}
"""

_EPILOGUE = """
def _plain(v):
    if isinstance(v, mx.nd.NDArray):
        return v.asnumpy()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    return v
with open(sys.argv[2], 'wb') as f:
    pickle.dump(_enc(_plain(out)), f, protocol=2)
"""


def run_oracle(code, timeout=300, **inputs):
    py = require_oracle()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs.setdefault("workdir", str(tmp))
        (tmp / "in.pkl").write_bytes(pickle.dumps(_codec["_enc"](inputs), protocol=2))
        script = _PRELUDE + textwrap.dedent(code) + _EPILOGUE
        (tmp / "script.py").write_text(script)
        res = subprocess.run([py, str(tmp / "script.py"), str(tmp / "in.pkl"),
                              str(tmp / "out.pkl")], capture_output=True, text=True,
                             timeout=timeout, env={**os.environ, "MXNET_ENGINE_TYPE":
                                                   "NaiveEngine", "OMP_NUM_THREADS": "1"})
        if res.returncode != 0:
            raise RuntimeError(f"oracle failed:\n{res.stderr[-4000:]}")
        return _codec["_dec"](pickle.loads((tmp / "out.pkl").read_bytes()))
