import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")


# -- cudasim: tests marked @pytest.mark.cudasim run CUDA kernels on numba-cuda's simulator, which
# numba enables only when NUMBA_ENABLE_CUDASIM=1 is set before it is imported:
#     NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim tests/test_cuda_kernels.py tests/test_gpu_module.py
# Without it they are skipped; other tests are untouched.
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _cudasim_only(request):
    if request.node.get_closest_marker("cudasim") is not None:
        from numba.core import config
        if not config.ENABLE_CUDASIM:
            pytest.skip("CUDA simulator test: run with NUMBA_ENABLE_CUDASIM=1 (no GPU needed)")


@pytest.fixture
def op_without_cuda(monkeypatch):
    """A test-only operator ``_test_no_cuda`` (y = 2 * x, CPU kernels, no CUDA kernel) registered
    for one test: the GPU refusal is tested on it, whatever real operators have kernels by now."""
    from mxteach.ops.registry import Op, _OPS, assign

    def forward(p, ins, outs, is_train, state):
        outs[0][...] = 2 * ins[0]

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        assign(igrads[0], reqs[0], 2 * ograds[0])
    op = Op(name="_test_no_cuda", params={}, arguments=("data",),
            infer_shape=lambda p, s: (list(s), [s[0]]), forward=forward, backward=backward)
    monkeypatch.setitem(_OPS.live, op.name, op)
    return op
