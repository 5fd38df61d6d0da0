"""Issue 13's CPU fast paths give the results of the code they replace: the one-pass Numba twins
of the optimizers' SGD and Adam rules (bit for bit), the unrolled 2x2 max pooling (values and recorded
positions of the general window walk), and the thread policy per GEMM."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.backend import for_context
from mxteach.kernels import cpu as KCPU
from mxteach.kernels.cpu import conv as KC
from mxteach.optimizer.steps import adam_step, nag_step, sgd_step


def _operands(n, dtype, seed):
    r = np.random.RandomState(seed)
    w, g, m = (r.randn(n).astype(dtype), (3 * r.randn(n)).astype(dtype),
               r.randn(n).astype(dtype))
    g[:3] = [np.inf, -np.inf, np.nan]            # clipping and non-finite gradients
    return w, g, m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1000, 70_000])                   # serial and parallel loops
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("clip", [None, 0.0, 0.05, -1.0])
@pytest.mark.filterwarnings("ignore:invalid value")
def test_cpu_sgd_twin_is_numba_and_bit_identical(dtype, n, momentum, clip):
    twin = for_context(mx.cpu()).twin(sgd_step, "optim")
    assert twin is not sgd_step and twin.__name__ == "sgd_step"
    w, g, m = _operands(n, dtype, seed=n)
    w2, m2 = w.copy(), m.copy()
    mom, mom2 = (m, m2) if momentum else (None, None)
    for _ in range(3):                   # several steps: the states feed back
        sgd_step(w, g, mom, 0.1, 1e-3, 1 / 128, clip, momentum)
        twin(w2, g, mom2, 0.1, 1e-3, 1 / 128, clip, momentum)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(m2, m)


@pytest.mark.filterwarnings("ignore:invalid value")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1000, 70_000])
@pytest.mark.parametrize("clip", [None, 0.0, 0.05, -1.0])
def test_cpu_adam_twin_is_numba_and_bit_identical(dtype, n, clip):
    twin = for_context(mx.cpu()).twin(adam_step, "optim")
    assert twin is not adam_step
    w, g, mean = _operands(n, dtype, seed=n + 1)
    var = np.abs(mean) * 0.1
    ref = [w, g, mean * 0.1, var]
    got = [a.copy() for a in ref]
    for _ in range(3):
        adam_step(*ref, 0.01, 1e-3, 1 / 128, clip, 0.9, 0.999, 1e-8)
        twin(*got, 0.01, 1e-3, 1 / 128, clip, 0.9, 0.999, 1e-8)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)


def test_cpu_sgd_twin_falls_back_to_numpy_for_other_operands():
    twin = for_context(mx.cpu()).twin(sgd_step, "optim")
    for wdt, gdt in ((np.float16, np.float16), (np.float32, np.float16)):
        w, g, m = _operands(64, wdt, seed=1)
        g = g.astype(gdt)
        w2, m2 = w.copy(), m.copy()
        sgd_step(w, g, m, 0.5, 0.01, 1.0, 0.1, 0.9)
        twin(w2, g, m2, 0.5, 0.01, 1.0, 0.1, 0.9)
        np.testing.assert_array_equal(w2, w)
        np.testing.assert_array_equal(m2, m)
    # a rule without a twin is the numpy function itself
    assert for_context(mx.cpu()).twin(nag_step, "optim") is nag_step


def test_module_sgd_update_matches_the_numpy_rule():
    """Module.update goes through the twin: the weights equal the numpy rule's by hand."""
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=300, name="fc")      # 300x400 > parallel size
    net = mx.sym.LinearRegressionOutput(net, name="lro")
    mod = mx.mod.Module(net, label_names=["lro_label"])
    mod.bind(data_shapes=[("data", (8, 400))], label_shapes=[("lro_label", (8, 300))])
    mod.init_params(mx.init.Xavier())
    opt = {"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3, "rescale_grad": 1 / 8}
    mod.init_optimizer(optimizer="sgd", optimizer_params=opt)
    r = np.random.RandomState(0)
    batch = mx.io.DataBatch([mx.nd.array(r.randn(8, 400))], [mx.nd.array(r.randn(8, 300))])
    w = mod.get_params()[0]["fc_weight"].asnumpy()
    mom = np.zeros_like(w)
    for _ in range(2):
        mod.forward_backward(batch)
        grads = dict(zip(mod._exec_group.param_names, mod._exec_group.grad_arrays))
        grad = grads["fc_weight"][0].asnumpy()
        mod.update()
        sgd_step(w, grad, mom, 0.1, 1e-3, 1 / 8, None, 0.9)
    np.testing.assert_array_equal(mod.get_params()[0]["fc_weight"].asnumpy(), w)


def _window_walk(x, lowest):
    """2x2/2 max pooling written out: the first maximum (strict >) from ``lowest``, else the
    first value equal to ``lowest``, else -1."""
    n_, c_, h_, w_ = x.shape
    out = np.empty((n_, c_, h_ // 2, w_ // 2), x.dtype)
    pos = np.empty(out.shape, np.int32)
    for idx in np.ndindex(*out.shape):
        n, c, i, j = idx
        cells = [(h, w) for h in (2 * i, 2 * i + 1) for w in (2 * j, 2 * j + 1)]
        m, best = lowest, -1
        for h, w in cells:
            if x[n, c, h, w] > m:
                m, best = x[n, c, h, w], h * w_ + w
        if best < 0:
            best = next((h * w_ + w for h, w in cells if x[n, c, h, w] == lowest), -1)
        out[idx], pos[idx] = m, best
    return out, pos


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3, 6, 8), (2, 3, 7, 9)])      # odd sizes drop a row/col
def test_pool_max_2x2_fast_path_matches_window_walk(dtype, shape):
    x = np.round(np.random.RandomState(3).randn(*shape) * 2).astype(dtype) / 2   # many ties
    lowest = np.finfo(dtype).min
    x[0, 0, :2, :4] = lowest
    x[0, 1, :2, :] = -np.inf
    x[1, 0, 0, 1] = np.nan
    want, want_pos = _window_walk(x, lowest)
    got, pos = np.empty_like(want), np.empty_like(want_pos)
    KC.pool_max_forward_argmax(x, got, pos, 2, 2, 2, 2, 0, 0, lowest)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(pos, want_pos)
    got2 = np.empty_like(want)
    KC.pool_forward(x, got2, 2, 2, 2, 2, 0, 0, 0, True, 1, lowest)
    np.testing.assert_array_equal(got2, want)


def test_gemm_thread_policy_per_size_and_load(monkeypatch):
    calls = []
    state = dict(setter=calls.append, now=1, many=2, checked=-1.0, others=0.0, busy=False)
    monkeypatch.setattr(KCPU, "_GEMM", state)
    numba_threads = []
    monkeypatch.setattr(KCPU, "_numba_threads", numba_threads.append)
    monkeypatch.setattr(KCPU, "_others_running", lambda: 0)          # a quiet machine
    KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS)             # large: every thread
    KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS * 4)         # unchanged: no call
    KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS - 1)         # small: back to one
    assert calls == [2, 1]
    monkeypatch.setattr(KCPU, "_others_running", lambda: 40)         # 40 other busy threads
    state["checked"] = -1.0                              # look at the machine again now
    KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS * 4)         # oversubscribed: stays on one
    assert calls == [2, 1] and state["busy"] and numba_threads == [1]   # Numba serial too
    monkeypatch.setattr(KCPU, "_others_running", lambda: 0)
    for _ in range(8):                                   # quiet again, the average decays
        state["checked"] = -1.0
        KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS * 4)
    assert calls == [2, 1, 2] and numba_threads == [1, 2] and not state["busy"]
    KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS - 1)
    state["many"] = 0                                    # policy off (MXTEACH_THREADS set)
    KCPU.gemm_threads(KCPU.GEMM_SPLIT_FLOPS * 4)
    assert calls == [2, 1, 2, 1]


def test_other_processes_runnable_threads_are_counted():
    """The instant count excludes this process's own threads and is never negative."""
    n = KCPU._others_running()
    assert n is None or (isinstance(n, int) and n >= 0)
    if n is not None:                                    # Linux: /proc/loadavg's running field
        with open("/proc/loadavg") as f:
            total = int(f.read().split()[3].split("/")[1])
        assert n <= total
