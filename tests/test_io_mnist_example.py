"""MXNet 1.9.1's ``example/module/mnist_mlp.py``, unchanged but for ``import mxnet as mx``
-> ``import mxteach as mx``, on generated MNIST idx files, next to real MXNet running the
original script on the same files.

The script (kept verbatim in ``tests/data/mxnet_examples/``) fetches its data through
``utils.get_data.get_mnist``, which downloads only when the four files are missing; the
stand-in written here checks that they are there, so nothing is ever downloaded.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mxteach import datasets
from oracle import require_oracle

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT / "data" / "mxnet_examples" / "mnist_mlp.py"

GET_DATA = '''"""Stand-in for MXNet's example/module/utils/get_data.py: the files are already there."""
import os


def get_mnist(data_dir):
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    missing = [n for n in names if not os.path.exists(os.path.join(data_dir, n))]
    if missing:
        raise RuntimeError("lesson data missing in %s: %s" % (data_dir, missing))
'''


def _prepare(folder, script_text, data_dir):
    folder.mkdir()
    (folder / "utils").mkdir()
    (folder / "utils" / "__init__.py").write_text("")
    (folder / "utils" / "get_data.py").write_text(GET_DATA)
    (folder / "data").symlink_to(data_dir, target_is_directory=True)
    (folder / "mnist_mlp.py").write_text(script_text)
    return folder / "mnist_mlp.py"


def _numbers(output):
    """The accuracies the script prints (stdout) and logs (stderr), in order."""
    return {"loop": [float(v) for v in re.findall(r"epoch \d+: accuracy=([\d.]+)", output)],
            "train": [float(v) for v in re.findall(r"Train-accuracy=([\d.]+)", output)],
            "val": [float(v) for v in re.findall(r"Validation-accuracy=([\d.]+)", output)],
            "manual": [float(v) for v in re.findall(r"validation Accuracy: ([\d.]+)", output)],
            "score": [float(v) for v in re.findall(r"^accuracy=([\d.]+)", output, re.M)]}


def _run_both(tmp_path, data_dir):
    original = SCRIPT.read_text()
    swapped = original.replace("\nimport mxnet as mx\n", "\nimport mxteach as mx\n")
    assert swapped.count("import mxteach as mx") == 1 and "mxnet" not in swapped.split(
        "import mxteach as mx")[1].split("\n", 1)[1].replace("# ", "")
    ours = _prepare(tmp_path / "mxteach", swapped, data_dir)
    theirs = _prepare(tmp_path / "mxnet", original, data_dir)
    # both at once: one core each
    procs = [subprocess.Popen([python, str(path)], cwd=path.parent, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for python, path in ((sys.executable, ours), (os.path.abspath(require_oracle()), theirs))]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        results.append(_numbers(out + err))
    return results


@pytest.mark.oracle
def test_mnist_mlp_example_runs_unchanged_small(tmp_path):
    # 6000 images: the script's two epochs of tiny-initialised SGD stay on the plateau
    # (about 10 %), in MXNet as here; the numbers agree closely, the script runs unchanged
    data = datasets.make_mnist_idx(str(tmp_path / "data"), n_train=6000, n_test=1000)
    assert Path(data["train_images"]).stat().st_size == 16 + 6000 * 784
    ours, theirs = _run_both(tmp_path, tmp_path / "data")
    for key in ("loop", "train", "val", "manual", "score"):
        assert len(ours[key]) == len(theirs[key]) > 0, key
        for a, b in zip(ours[key], theirs[key]):
            assert abs(a - b) < 0.02, (key, ours, theirs)


@pytest.mark.oracle
@pytest.mark.slow
def test_mnist_mlp_example_reaches_mxnet_accuracy(tmp_path):
    # MNIST's sizes: 60000 training and 10000 test images; the second epoch leaves the
    # plateau and both end well above 90 %
    datasets.make_mnist_idx(str(tmp_path / "data"), n_train=60000, n_test=10000)
    ours, theirs = _run_both(tmp_path, tmp_path / "data")
    assert theirs["manual"][0] > 0.9 and ours["manual"][0] > 0.9, (ours, theirs)
    for key in ("val", "manual", "score"):
        assert abs(ours[key][-1] - theirs[key][-1]) < 0.03, (key, ours, theirs)
