"""Every registered operator runs on ``mx.gpu(i)``: it has a CUDA forward, and a CUDA backward
wherever it has a CPU backward (issue 12). Operators without inputs (``_zeros`` ...) have no
backward on either side. Checked on the registry alone: no GPU, no simulator, no numba.cuda.
"""
from mxteach.ops import registry


def _without_gpu_side():
    missing = set()
    for op in registry.all_ops().values():
        if op.gpu_forward is None:
            missing.add(f"{op.name} (gpu_forward)")
        if op.backward is not None and op.gpu_backward is None:
            missing.add(f"{op.name} (gpu_backward)")
        if op.backward is None and op.gpu_backward is not None:
            missing.add(f"{op.name} (a gpu_backward without a CPU backward)")
    return sorted(missing)


def test_every_registered_operator_has_a_cuda_forward_and_backward():
    assert _without_gpu_side() == []


def test_the_gpu_sides_are_functions_of_the_documented_signatures():
    import inspect
    for op in {id(o): o for o in registry.all_ops().values()}.values():
        for fn, n in ((op.gpu_forward, 5), (op.gpu_backward, 7)):
            if fn is not None:
                params = inspect.signature(fn).parameters
                assert len(params) >= n, f"{op.name}: {fn} takes {list(params)}"
