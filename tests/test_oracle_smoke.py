import numpy as np
import pytest

from oracle import run_oracle


@pytest.mark.oracle
def test_oracle_runs_real_mxnet():
    out = run_oracle("out['v'] = mx.__version__; out['y'] = (mx.nd.array(x) * 2).asnumpy()",
                     x=np.arange(3, dtype=np.float32))
    assert out["v"] == "1.9.1"
    np.testing.assert_array_equal(out["y"], [0, 2, 4])
