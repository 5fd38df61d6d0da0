"""Every NDArray method and Python operator runs on ``mx.gpu(i)`` (issue 12): through the
registered operators' CUDA sides (``a.exp()`` is ``mx.nd.exp(a)``), or, for ``prod`` (no
operator), the CUDA tree reduction directly. Each result equals the same method on mx.cpu().

Run under the simulator: ``NUMBA_ENABLE_CUDASIM=1 pytest -m cudasim
tests/test_gpu_ndarray_methods.py``.
"""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ndarray.gpu import GPUNDArray
from mxteach.ndarray.ndarray import NDArray

pytestmark = pytest.mark.cudasim

_X = np.random.RandomState(0).randn(3, 4).astype("f")
_POS = np.abs(_X) + 0.5

# name: f(a, p) with ``a`` holding _X and ``p`` holding _POS (for log, sqrt, prod ...)
CALLS = {
    "exp": lambda a, p: a.exp(), "log": lambda a, p: p.log(), "sqrt": lambda a, p: p.sqrt(),
    "square": lambda a, p: a.square(), "abs": lambda a, p: a.abs(),
    "sign": lambda a, p: a.sign(), "__abs__": lambda a, p: abs(a),
    "clip": lambda a, p: a.clip(-0.5, 0.5), "softmax": lambda a, p: a.softmax(axis=0),
    "sum": lambda a, p: a.sum(), "sum_axis": lambda a, p: a.sum(axis=1),
    "sum_keepdims": lambda a, p: a.sum(axis=[0, 1], keepdims=True),
    "mean": lambda a, p: a.mean(axis=0), "max": lambda a, p: a.max(),
    "min": lambda a, p: a.min(axis=1, keepdims=True), "prod": lambda a, p: p.prod(axis=1),
    "prod_all": lambda a, p: p.prod(), "norm": lambda a, p: a.norm(),
    "argmax": lambda a, p: a.argmax(), "argmax_axis": lambda a, p: a.argmax(axis=1),
    "argmin": lambda a, p: a.argmin(axis=0), "argmin_all": lambda a, p: a.argmin(),
    "one_hot": lambda a, p: (a > 0).one_hot(2), "T": lambda a, p: a.T,
    "transpose": lambda a, p: a.transpose((1, 0)),
    "broadcast_to": lambda a, p: a[0:1].broadcast_to((3, 4)),
    "slice_axis": lambda a, p: a.slice_axis(1, 1, 3), "tile": lambda a, p: a.tile((2, 1)),
    "tile_1d": lambda a, p: a[0].tile(3), "%": lambda a, p: a % 0.7,
    "r%": lambda a, p: 2.0 % p, "**": lambda a, p: p ** 2, "r**": lambda a, p: 2 ** a,
    "==": lambda a, p: a == a, "!=": lambda a, p: a != 0.1, "<": lambda a, p: a < 0,
    "<=": lambda a, p: a <= p, ">=": lambda a, p: a >= p, "r>": lambda a, p: 0 > a,
    "take": lambda a, p: a[mx.nd.array([2, 0])], "tostype": lambda a, p: a.tostype("default"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_method_on_gpu_equals_the_cpu(name):
    g = mx.gpu(0)
    cpu = CALLS[name](mx.nd.array(_X), mx.nd.array(_POS))
    gpu = CALLS[name](mx.nd.array(_X, ctx=g), mx.nd.array(_POS, ctx=g))
    assert isinstance(gpu, GPUNDArray) and gpu.context == g
    assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype
    np.testing.assert_allclose(gpu.asnumpy(), cpu.asnumpy(), rtol=1e-5, atol=1e-6)


def test_no_public_ndarray_method_is_refused_on_gpu():
    refused = [name for name in vars(NDArray) if not name.startswith("_")
               and "no CUDA side" in (getattr(getattr(GPUNDArray, name), "__doc__", "") or "")]
    assert refused == []


def test_a_float64_reduction_keeps_its_dtype_and_bad_axes_are_named():
    x = np.arange(1, 7, dtype=np.float64).reshape(2, 3)
    a = mx.nd.array(x, ctx=mx.gpu(0), dtype="float64")
    got = a.prod(axis=0)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.asnumpy(), x.prod(axis=0))
    np.testing.assert_array_equal(a.argmin(axis=1, keepdims=True).asnumpy(), [[0], [0]])
    with pytest.raises(MXNetError, match="axis 2 is out of range for 2-d"):
        a.prod(axis=2)
    rsp = a.tostype("row_sparse")       # sparse storage on the gpu (ndarray/sparse_gpu.py)
    assert rsp.stype == "row_sparse" and rsp.context == mx.gpu(0)
    np.testing.assert_array_equal(rsp.asnumpy(), x)
