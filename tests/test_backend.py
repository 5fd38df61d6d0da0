"""The backends (mxteach/backend/): one object per device gives memory, views, kernels and device
checks, and the executor, NDArray and the optimizer reach the device only through it.

Tests marked cudasim run on numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim
tests/test_backend.py``).
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mxteach as mx
from mxteach import backend
from mxteach.base import MXNetError
from mxteach.ops import registry
from mxteach.optimizer.sgd import sgd_step

ROOT = Path(__file__).resolve().parent.parent


def test_one_backend_object_per_device():
    cpu0, cpu1 = backend.for_context(mx.cpu(0)), backend.for_context(mx.cpu(1))
    assert backend.for_context(mx.Context("cpu", 0)) is cpu0 and cpu0 is not cpu1
    assert isinstance(backend.for_context(mx.cpu_pinned(0)), backend.CPUBackend)
    gpu = backend.for_context(mx.gpu(1))
    assert isinstance(gpu, backend.GPUBackend) and gpu.ctx == mx.gpu(1)
    assert gpu.array_class.__name__ == "GPUNDArray" and cpu0.array_class is mx.nd.NDArray


def test_cpu_arena_views_share_its_bytes():
    be = backend.for_context(mx.cpu())
    arena = be.arena(24)
    assert arena.dtype == np.uint8 and arena.shape == (24,) and not arena.any()
    a = be.view(arena, (2, 3), "float32")
    b = be.view(arena, (3,), "float64")
    a[...] = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.shares_memory(a, b)
    np.testing.assert_array_equal(b.view(np.float32), np.arange(6, dtype=np.float32))
    wrapped = be.wrap(a)
    assert type(wrapped) is mx.nd.NDArray and wrapped.context == mx.cpu()
    wrapped[0] = 7
    assert a[0].tolist() == [7, 7, 7]


def test_kernel_pairs_come_from_the_operator(op_without_cuda):
    fc = registry.get("FullyConnected")
    assert backend.for_context(mx.cpu()).kernels(fc, "x") == (fc.forward, fc.backward)
    assert backend.for_context(mx.gpu(0)).kernels(fc, "x") == (fc.gpu_forward, fc.gpu_backward)
    # a test-only operator without CUDA kernels (tests/conftest.py) shows the refusal
    assert backend.for_context(mx.cpu()).kernels(op_without_cuda, "x") == (
        op_without_cuda.forward, op_without_cuda.backward)
    with pytest.raises(MXNetError, match=r"_test_no_cuda \(node 'c'\) has no CUDA kernel yet, so "
                                         r"it cannot run on gpu\(0\); operators with CUDA "
                                         r"kernels: .*FullyConnected.*Use mx.cpu\(\)") as err:
        backend.for_context(mx.gpu(0)).kernels(op_without_cuda, "node 'c'")
    assert "_test_no_cuda" not in str(err.value).split("operators with CUDA kernels:")[1]


def test_bind_checks_devices_and_dtypes_through_the_backend():
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    exe = fc.simple_bind(mx.cpu(), data=(2, 3))
    assert isinstance(exe._backend, backend.CPUBackend)
    assert mx.sym.Symbol.executor_class is mx.executor.Executor    # the bind slot is filled
    gpu = backend.for_context(mx.gpu(0))
    arr = mx.nd.ones((2, 3), dtype="int32")
    with pytest.raises(MXNetError, match=r"bind on gpu\(0\): argument 'x' lives on cpu\(0\)"):
        gpu.check_arrays("bind", [("argument", "x", arr)])
    with pytest.raises(MXNetError, match="'y' is int32; the CUDA kernels take float32 or "
                                         "float64"):
        gpu.check_dtype("bind", "'y'", np.int32)
    backend.for_context(mx.cpu(1)).check_arrays("bind", [("argument", "x", arr)])   # host: ok


def test_importing_and_naming_gpus_loads_no_cuda():
    code = textwrap.dedent("""
        import sys
        import mxteach as mx
        from mxteach import backend
        from mxteach.ops import registry
        be = backend.for_context(mx.gpu(0))
        be.kernels(registry.get("FullyConnected"), "x")
        mx.nd.waitall()
        assert "numba.cuda" not in sys.modules, "a backend loaded numba.cuda before any use"
        print("ok")
        """)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]


@pytest.mark.cudasim
def test_gpu_arena_views_and_the_sgd_twin_on_the_device():
    be = backend.for_context(mx.gpu(0))
    arena = be.arena(48)
    w = be.view(arena, (2, 3), "float64")
    w[...] = np.arange(6.0).reshape(2, 3)
    g = be.as_buffer(np.full((2, 3), 0.5))
    mom = be.zeros((2, 3), "float64")
    be.twin(sgd_step, "optim")(w, g, mom, 0.1, 0.01, 1.0, -1.0, 0.9)
    host_w, host_mom = np.arange(6.0).reshape(2, 3), np.zeros((2, 3))
    sgd_step(host_w, np.full((2, 3), 0.5), host_mom, 0.1, 0.01, 1.0, -1.0, 0.9)
    np.testing.assert_allclose(be.to_host(be.view(arena, (2, 3), "float64")), host_w)
    np.testing.assert_allclose(be.to_host(mom), host_mom)
    assert be.wrap(w).context == mx.gpu(0)
    with pytest.raises(MXNetError, match="sgd_step on gpu\\(0\\): 'g' is float16"):
        be.twin(sgd_step, "optim")(w, be.as_buffer(np.ones((2, 3), np.float16)), None, 0.1, 0,
                                   1.0, -1.0, 0.0)
