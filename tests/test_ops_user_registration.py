"""An operator registered from user code (a notebook) after ``import mxteach`` gets its
``mx.sym.X`` and ``mx.nd.X`` front-ends at once, and re-running the cell that registers it
(``replace=True``) swaps in the new definition. See notebook 12."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.ops import registry
from mxteach.ops.registry import Op, assign


def _cube(factor):
    def forward(p, ins, outs, is_train, state):
        outs[0][...] = factor * ins[0] ** 3

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        assign(igrads[0], reqs[0], ograds[0] * 3 * factor * ins[0] ** 2)
    return Op(name="_test_user_cube", params={}, arguments=("data",),
              infer_shape=lambda p, s: (list(s), [s[0]]), forward=forward, backward=backward)


@pytest.fixture
def cleanup():
    yield
    # leave the process as it was: other tests list every registered operator
    registry._OPS.live.pop("_test_user_cube", None)
    for ns in (vars(mx.sym), vars(mx.nd)):
        ns.pop("_test_user_cube", None)


def test_registering_after_import_installs_the_front_ends(cleanup):
    registry.register(_cube(1.0))
    x = mx.nd.array([[1.0, -2.0]])
    np.testing.assert_allclose(mx.nd._test_user_cube(x).asnumpy(), [[1.0, -8.0]])
    data = mx.sym.Variable("data")
    y = mx.sym._test_user_cube(data, name="cube")
    assert y.name == "cube" and y.list_arguments() == ["data"]
    exe = y.simple_bind(mx.cpu(), data=(1, 2))
    exe.forward(is_train=True, data=x)
    exe.backward(mx.nd.ones((1, 2)))
    np.testing.assert_allclose(exe.grad_dict["data"].asnumpy(), [[3.0, 12.0]])


def test_registering_twice_fails_unless_replace(cleanup):
    registry.register(_cube(1.0))
    with pytest.raises(MXNetError, match="registered twice"):
        registry.register(_cube(2.0))
    registry.register(_cube(2.0), replace=True)
    x = mx.nd.array([2.0])
    np.testing.assert_allclose(mx.nd._test_user_cube(x).asnumpy(), [16.0])
    y = mx.sym._test_user_cube(mx.sym.Variable("data"))
    out = y.eval(ctx=mx.cpu(), data=x)[0]
    np.testing.assert_allclose(out.asnumpy(), [16.0])
