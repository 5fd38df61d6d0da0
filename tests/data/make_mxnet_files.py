"""Regenerate the MXNet-written fixture files in this folder (not run by the tests).

Run from the repository root with the project venv; it needs the MXNet 1.9.1 oracle venv::

    .venv/bin/python tests/data/make_mxnet_files.py

It builds deterministic arrays with numpy here, has real MXNet 1.9.1 save them (through
``tests/oracle.py``) and writes, next to this script:

* ``mxnet191_dict.params``  ``mx.nd.save`` of a dict: every dtype MXNet 1.9.1 saves, shapes
  from (1,) to 4-d, NaN/inf/-0.0, int64 values beyond 32 bits, checkpoint-style names
* ``mxnet191_list.nd``      ``mx.nd.save`` of a list (one array lives on ``cpu(1)``)
* ``mxnet191_npshape.nd``   saved under ``mx.util.np_shape(True)``: V3 records with a 0-d
  scalar and a zero-size (2, 0) array, the only way MXNet 1.9 stores those
* ``mxnet191_sparse.nd``    a row_sparse and a csr array (mxteach loads them dense)
* ``mxnet191_expected.npz`` the expected values, keys ``<file>/<name or index>``, written by
  this venv's numpy
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from oracle import run_oracle  # noqa: E402


def expected_arrays():
    """The arrays, by file; dict order is the save order."""
    f32 = np.array([[0.5, -1.25, np.nan, np.inf], [-np.inf, -0.0, 3e-38, 1e38],
                    [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    dict_file = {
        "arg:fc1_weight": f32,
        "arg:fc1_bias": np.array([0.1, -0.2, 0.3], dtype=np.float32),
        "aux:bn_moving_var": (np.arange(8, dtype=np.float64).reshape(2, 2, 2) / 7.0),
        "f16": np.array([0.1, 65504.0, -2.5, 6e-5, 1.0], dtype=np.float16),
        "u8": np.array([[0, 1, 127], [128, 254, 255]], dtype=np.uint8),
        "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
        "i32": np.array([[-2 ** 31, 2 ** 31 - 1], [7, -7]], dtype=np.int32),
        "i64": np.array([2 ** 40 + 3, -(2 ** 62), 5], dtype=np.int64),
        "mask": np.array([[True, False, True], [False, False, True]]),
        "one": np.array([42.5], dtype=np.float32),
        "nd4": np.arange(6, dtype=np.float32).reshape(1, 2, 1, 3) - 2.5,
    }
    list_file = [np.linspace(-1, 1, 5, dtype=np.float32),
                 np.arange(12, dtype=np.int32).reshape(3, 4),
                 np.array([[1.5, 2.5]], dtype=np.float64)]
    npshape_file = {"scalar": np.array(2.5, dtype=np.float32),
                    "empty": np.zeros((2, 0), dtype=np.float32),
                    "vec": np.array([1, 2, 3], dtype=np.int64)}
    sparse_file = [np.array([[0, 0, 0], [1, 2, 3], [0, 0, 0], [4, 5, 6]], dtype=np.float32),
                   np.array([[1, 0, 2], [0, 0, 0], [0, 3, 0]], dtype=np.float32)]
    return {"dict": dict_file, "list": list_file, "npshape": npshape_file,
            "sparse": sparse_file}


CODE = """
import os
p = lambda n: os.path.join(workdir, n)
d = {k: mx.nd.array(v, dtype=v.dtype) for k, v in dict_arrays.items()}
mx.nd.save(p('dict'), d)
lst = [mx.nd.array(list_0), mx.nd.array(list_1, ctx=mx.cpu(1), dtype=list_1.dtype),
       mx.nd.array(list_2, dtype=list_2.dtype)]
mx.nd.save(p('list'), lst)
with mx.util.np_shape(True):
    mx.nd.save(p('npshape'), {'scalar': mx.nd.array(scalar), 'empty': mx.nd.zeros((2, 0)),
                              'vec': mx.nd.array(vec, dtype=vec.dtype)})
rsp = mx.nd.sparse.row_sparse_array((sparse_0[[1, 3]], [1, 3]), shape=(4, 3))
csr = mx.nd.sparse.csr_matrix(sparse_1)
mx.nd.save(p('sparse'), [rsp, csr])
for n in ('dict', 'list', 'npshape', 'sparse'):
    out[n] = open(p(n), 'rb').read()
out['check'] = {k: v for k, v in mx.nd.load(p('dict')).items()}
"""


def main():
    exp = expected_arrays()
    res = run_oracle(CODE, dict_arrays=exp["dict"],
                     list_0=exp["list"][0], list_1=exp["list"][1], list_2=exp["list"][2],
                     scalar=exp["npshape"]["scalar"], vec=exp["npshape"]["vec"],
                     sparse_0=exp["sparse"][0], sparse_1=exp["sparse"][1])
    for k, v in exp["dict"].items():  # MXNet read back what it wrote: the inputs crossed intact
        np.testing.assert_array_equal(res["check"][k], v)
    names = {"dict": "mxnet191_dict.params", "list": "mxnet191_list.nd",
             "npshape": "mxnet191_npshape.nd", "sparse": "mxnet191_sparse.nd"}
    for key, fname in names.items():
        (HERE / fname).write_bytes(res[key])
    flat = {}
    for group, content in exp.items():
        items = content.items() if isinstance(content, dict) else enumerate(content)
        for k, v in items:
            flat[f"{group}/{k}"] = v
    np.savez(HERE / "mxnet191_expected.npz", **flat)
    for fname in [*names.values(), "mxnet191_expected.npz"]:
        print(f"{fname}: {(HERE / fname).stat().st_size} bytes")


if __name__ == "__main__":
    main()
