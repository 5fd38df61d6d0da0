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
