"""mx.operator: Python custom operators (issue 17). The custom softmax of MXNet's example
(``tests/data/custom_softmax_example.py``, run unchanged in both) trains to MXNet's numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

EXAMPLE = (Path(__file__).resolve().parent / "data" / "custom_softmax_example.py").read_text()


def _data():
    rs = np.random.RandomState(0)
    x = rs.randn(40, 5).astype(np.float32)
    y = (rs.rand(40) * 3).astype(np.int64).astype(np.float32)
    w1 = (rs.randn(16, 5) * 0.3).astype(np.float32)
    w2 = (rs.randn(3, 16) * 0.3).astype(np.float32)
    return dict(X=x, Y=y, W1=w1, W2=w2)


@pytest.mark.oracle
def test_custom_softmax_example_trains_like_mxnet():
    data = _data()
    ref = run_oracle(EXAMPLE, **data)
    out = {}
    exec(EXAMPLE, {"mx": mx, "np": np, "out": out, **data})
    assert out["acc"] == pytest.approx(ref["acc"])
    for k in ("w1", "w2", "pred", "nd"):
        np.testing.assert_allclose(out[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)


class _Scale(mx.operator.CustomOp):
    """y = a * x (a from the property), gradient through self.assign with req."""

    def __init__(self, a):
        self.a = a

    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], in_data[0] * self.a)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], out_grad[0] * self.a)


@mx.operator.register("g8_scale")
class _ScaleProp(mx.operator.CustomOpProp):
    def __init__(self, a="2"):
        super().__init__(need_top_grad=True)
        self.a = float(a)            # parameters arrive as strings, as in MXNet

    def create_operator(self, ctx, shapes, dtypes):
        return _Scale(self.a)


def _bind(req, ctx=None):
    x = mx.sym.Variable("x")
    y = mx.sym.Custom(x, op_type="g8_scale", a=3, name="sc") * 2
    return y.simple_bind(ctx or mx.cpu(), x=(2, 3), grad_req=req)


def test_custom_in_the_middle_of_a_graph_and_grad_req():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    ex = _bind("write")
    out = ex.forward(is_train=True, x=x)[0].asnumpy()
    np.testing.assert_allclose(out, 6 * x)
    g = np.full((2, 3), 0.5, np.float32)
    ex.backward(mx.nd.array(g))
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), 3.0 * np.ones((2, 3)))
    ex = _bind("add")
    ex.grad_dict["x"][:] = 1.0
    ex.forward(is_train=True, x=x)
    ex.backward(mx.nd.array(g))
    ex.backward(mx.nd.array(g))
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), 7.0 * np.ones((2, 3)))
    ex = _bind("null")
    ex.forward(is_train=True, x=x)
    ex.backward(mx.nd.array(g))
    assert ex.grad_dict.get("x") is None


def test_custom_shows_in_monitor_and_json():
    x = mx.sym.Variable("x")
    y = mx.sym.Custom(x, op_type="g8_scale", a=0.5, name="half")
    seen = {}
    ex = y.simple_bind(mx.cpu(), x=(2, 2))
    mon = mx.monitor.Monitor(1, stat_func=lambda a: a, pattern=".*")
    mon.install(ex)
    mon.tic()
    ex.forward(is_train=False, x=np.ones((2, 2), np.float32))
    for _, name, value in mon.toc():
        seen[name] = value
    assert any(k.startswith("half") for k in seen), seen
    back = mx.sym.load_json(y.tojson())
    assert back.list_arguments() == ["x"]
    ex2 = back.simple_bind(mx.cpu(), x=(2, 2))
    np.testing.assert_allclose(ex2.forward(x=np.ones((2, 2), np.float32))[0].asnumpy(), 0.5)


def test_unregistered_op_type_is_an_error():
    with pytest.raises(mx.base.MXNetError, match="not registered"):
        mx.sym.Custom(mx.sym.Variable("x"), op_type="g8_no_such_op")


@pytest.mark.cudasim
def test_custom_on_gpu_runs_on_host_copies():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    ex = _bind("write", mx.gpu(0))
    out = ex.forward(is_train=True, x=x)[0].asnumpy()
    np.testing.assert_allclose(out, 6 * x)
    ex.backward(mx.nd.array(np.ones((2, 3), np.float32), ctx=mx.gpu(0)))
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(), 6.0 * np.ones((2, 3)))
