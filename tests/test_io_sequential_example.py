"""MXNet 1.9.1's ``example/module/sequential_module.py``, unchanged but for ``import mxnet as
mx`` -> ``import mxteach as mx``, on four simulated gpus (``NUMBA_ENABLE_CUDASIM=1``,
``MXTEACH_SIM_GPUS=4``), next to real MXNet running the same script on the same generated idx
files.

The script asks for ``gpu(0)``..``gpu(3)``: two modules, each data-parallel over two devices,
chained by a SequentialModule. The oracle has no GPU, so its copy of the script has the four
``gpu(i)`` replaced by ``cpu(i)`` (MXNet runs cpu(i) contexts as separate devices too); here
every operator of the network runs as a CUDA kernel on the simulator.

A few hundred images keep the run short: every simulated thread is a Python thread, and one
batch of 100 through the script's 784-128-64-10 network is ~23 M multiply-adds
(``kernels/cuda/nn.py``'s blocked GEMM, picked by the simulator's launch policy). With so few
images two epochs of the script's SGD stay on the plateau (about 10 %), in MXNet as here. The
test checks that the script runs unchanged to the end on the gpus, that its logged accuracies
are those of mxteach running the script on ``cpu(0..3)`` (the same initial weights and
batches: the CUDA kernels against the CPU kernels), and that they agree with MXNet's.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mxteach import datasets
from oracle import require_oracle
from test_io_mnist_example import GET_DATA, _numbers

pytestmark = pytest.mark.cudasim

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT / "data" / "mxnet_examples" / "sequential_module.py"
GPUS = "[mx.context.gpu(0), mx.context.gpu(1)], [mx.context.gpu(2), mx.context.gpu(3)]"
CPUS = "[mx.context.cpu(0), mx.context.cpu(1)], [mx.context.cpu(2), mx.context.cpu(3)]"


def _prepare(folder, script_text, data_dir):
    (folder / "utils").mkdir(parents=True)
    (folder / "utils" / "__init__.py").write_text("")
    (folder / "utils" / "get_data.py").write_text(GET_DATA)
    (folder / "data").symlink_to(data_dir, target_is_directory=True)
    (folder / "sequential_module.py").write_text(script_text)
    return folder / "sequential_module.py"


def run_scripts(runs, env=None):
    """Run each ``(python, script)`` at once, each in its script's folder; the numbers each
    logged (``_numbers``), after checking every run ended well."""
    procs = [subprocess.Popen([python, str(path)], cwd=path.parent, text=True, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for python, path in runs]
    numbers = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        numbers.append(_numbers(out + err))
    return numbers


def _scripts():
    """The script for mxteach on the gpus (only the import swapped), and the script on
    ``cpu(0..3)`` for MXNet and for mxteach's own CPU reference run."""
    original = SCRIPT.read_text()
    assert original.count("\nimport mxnet as mx\n") == 1 and original.count(GPUS) == 1
    ours = original.replace("\nimport mxnet as mx\n", "\nimport mxteach as mx\n")
    return ours, original.replace(GPUS, CPUS), ours.replace(GPUS, CPUS)


def test_sequential_module_example_runs_unchanged_on_four_simulated_gpus(tmp_path):
    # 200 training images (two batches of the script's 100 per epoch), 100 validation images
    datasets.make_mnist_idx(str(tmp_path / "data"), n_train=200, n_test=100)
    runs = []
    for name, text, python in zip(("gpu", "mxnet", "cpu"), _scripts(),
                                  (sys.executable, os.path.abspath(require_oracle()),
                                   sys.executable)):
        runs.append((python, _prepare(tmp_path / name, text, tmp_path / "data")))
    # all at once: the two CPU runs take a few seconds next to the simulated one
    numbers = run_scripts(runs, dict(os.environ, NUMBA_ENABLE_CUDASIM="1", MXTEACH_SIM_GPUS="4"))
    gpu, mxnet, cpu = numbers
    for key in ("train", "val"):
        assert len(gpu[key]) == len(mxnet[key]) == len(cpu[key]) == 2, (key, numbers)
        for ours, theirs, ours_cpu in zip(gpu[key], mxnet[key], cpu[key]):
            # the CUDA kernels against mxteach's CPU kernels, same initial weights and batches:
            # the same predictions (float32 rounding may flip one image at most)
            assert abs(ours - ours_cpu) <= 0.01, (key, gpu, cpu)
            # against MXNet (other initial weights): 100-200 images on the plateau, where
            # one image is 0.5-1 % and chance is 10 %
            assert abs(ours - theirs) <= 0.06, (key, gpu, mxnet)
