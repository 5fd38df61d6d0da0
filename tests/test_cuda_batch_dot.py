"""batch_dot on the GPU is ONE launch of the batched tiled GEMM (``kernels/cuda/nn.py``
``batch_matmul``: grid z = batch entry), not one GEMM per batch entry (issue 12).

Run under the simulator: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_cuda_batch_dot.py``.
"""
import numpy as np
import pytest

from cuda_compare import check, rnd
from mxteach.base import MXNetError

pytestmark = pytest.mark.cudasim


def _nn():
    from mxteach.kernels.cuda import nn
    return nn


def _stored(x, transposed):
    return np.ascontiguousarray(np.swapaxes(x, -1, -2)) if transposed else x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_matmul_equals_numpy_for_every_transpose(ta, tb, dtype):
    from numba import cuda
    a, b = rnd(3, 5, 18, seed=1, dtype=dtype), rnd(3, 18, 4, seed=2, dtype=dtype)
    base = rnd(3, 5, 4, seed=3, dtype=dtype)
    for accumulate in (False, True):
        out = cuda.to_device(base.copy())
        _nn().batch_matmul(cuda.to_device(_stored(a, ta)), cuda.to_device(_stored(b, tb)), out,
                           ta, tb, accumulate)
        want = a @ b + (base if accumulate else 0)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out.copy_to_host(), want, rtol=tol, atol=tol)


def test_batches_beyond_the_grid_are_strided_inside_the_kernel(monkeypatch):
    from numba import cuda
    monkeypatch.setattr(_nn(), "_MAX_GRID_Z", 2)       # 5 entries over a grid of depth 2
    a, b = rnd(5, 3, 2, seed=4), rnd(5, 2, 3, seed=5)
    out = cuda.device_array((5, 3, 3), np.float32)
    _nn().batch_matmul(cuda.to_device(a), cuda.to_device(b), out)
    np.testing.assert_allclose(out.copy_to_host(), a @ b, rtol=1e-5, atol=1e-6)


def test_batch_matmul_names_bad_operands():
    from numba import cuda
    a = cuda.to_device(rnd(2, 3, 4))
    with pytest.raises(MXNetError, match="batch sizes differ: a 2, b 3"):
        _nn().batch_matmul(a, cuda.to_device(rnd(3, 4, 2)), cuda.device_array((2, 3, 2), "f"))
    with pytest.raises(MXNetError, match="needs 3-D arrays"):
        _nn().batch_matmul(a[0], a[0], a[0])


def test_batch_dot_forward_and_backward_are_one_launch_each(monkeypatch):
    nn = _nn()
    calls = {"batch_matmul": 0, "matmul": 0}

    def counted(name, fn):
        def run(*args):
            calls[name] += 1
            return fn(*args)
        return run

    monkeypatch.setattr(nn, "batch_matmul", counted("batch_matmul", nn.batch_matmul))
    monkeypatch.setattr(nn, "matmul", counted("matmul", nn.matmul))
    # 2x3 batch entries: per-entry GEMMs would be 6 launches forward and 12 backward
    check("batch_dot", [rnd(2, 3, 4, 5, seed=6), rnd(2, 3, 5, 3, seed=7)],
          {"transpose_a": False, "transpose_b": False}, rtol=1e-4, atol=1e-5, modes=("add",))
    assert calls == {"batch_matmul": 3, "matmul": 0}
