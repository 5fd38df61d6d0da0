"""Issue 8 item 10: ``Monitor.toc()`` formats statistics exactly as MXNet 1.9.1.

The same small net, parameters and batch run on MXNet (the oracle) and on mxteach, and the
``toc()`` results are compared: names, steps, and the text (a one-element statistic prints as
a scalar, lists are joined with tabs, arguments and auxiliary states are included).

Statistics that both libraries compute exactly (max/min of values that are exact in float32)
are compared as strings; the default statistic (a float32 norm, rounded differently by MXNet's
kernels) is compared by value, its format exactly.
MXNet also reports BatchNorm's hidden ``_mean``/``_var`` outputs to a monitor; mxteach does not,
so the patterns below leave those two names out.
"""
import logging

import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

SCRIPT = '''
import logging, os
os.environ['MXNET_SUBGRAPH_BACKEND'] = 'NONE'   # no fused-operator names in MXNet's monitor
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=4, name='fc1')
relu1 = mx.sym.Activation(fc1, act_type='relu', name='relu1')
fc2 = mx.sym.FullyConnected(relu1, num_hidden=3, name='fc2')
bn = mx.sym.BatchNorm(fc2, name='bn', fix_gamma=False)
net = mx.sym.SoftmaxOutput(bn, name='softmax')
mod = mx.mod.Module(net, context=mx.cpu())
mod.bind(data_shapes=[('data', (4, 5))], label_shapes=[('softmax_label', (4,))])
mod.init_params(arg_params={k: mx.nd.array(v) for k, v in args.items()},
                aux_params={k: mx.nd.array(v) for k, v in auxs.items()})
batch = mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)])
NO_HIDDEN = '(?!bn_mean$|bn_var$)'
EXACT = NO_HIDDEN + '(fc|relu|data|softmax_label|bn_(gamma|beta|moving))'
def exact_stats(x):
    return [mx.nd.max(x), mx.nd.min(x, axis=0)]
res = {}
def run(key, mon, n_batches=1, is_train=True):
    mod.install_monitor(mon)
    got = []
    for _ in range(n_batches):
        mon.tic()
        mod.forward(batch, is_train=is_train)
        got.append([list(r) for r in mon.toc()])
    res[key] = got
run('default_sorted', mx.mon.Monitor(1, pattern=NO_HIDDEN + '.*', sort=True))
run('exact_lists', mx.mon.Monitor(1, stat_func=exact_stats, pattern=EXACT))
run('exact_scalar_sorted', mx.mon.Monitor(1, stat_func=lambda x: mx.nd.max(x), pattern=EXACT,
                                          sort=True))
run('interval_2', mx.mon.Monitor(2, stat_func=lambda x: mx.nd.max(x), pattern='fc2_.*'), 3)
run('monitor_all', mx.mon.Monitor(1, stat_func=lambda x: mx.nd.max(x), pattern='fc1_.*',
                                  sort=True, monitor_all=True))
lines = []
class Grab(logging.Handler):
    def emit(self, record):
        lines.append(record.getMessage())
root = logging.getLogger()
root.addHandler(Grab())
root.setLevel(logging.INFO)
mon = mx.mon.Monitor(1, stat_func=exact_stats, pattern='fc1_.*')
mod.install_monitor(mon)
mon.tic()
mod.forward(batch, is_train=True)
mon.toc_print()
res['toc_print'] = lines
out['res'] = res
'''

RNG = np.random.RandomState(5)
# values exact in float32 (multiples of 1/8, small), so sums of products are exact everywhere
INPUTS = {
    "X": (RNG.randint(-8, 9, (4, 5)) / 4.0).astype(np.float32),
    "y": np.array([0, 1, 2, 1], np.float32),
    "args": {"fc1_weight": (RNG.randint(-4, 5, (4, 5)) / 8.0).astype(np.float32),
             "fc1_bias": (RNG.randint(-4, 5, (4,)) / 8.0).astype(np.float32),
             "fc2_weight": (RNG.randint(-4, 5, (3, 4)) / 8.0).astype(np.float32),
             "fc2_bias": (RNG.randint(-4, 5, (3,)) / 8.0).astype(np.float32),
             "bn_gamma": np.array([1.0, 0.5, 2.0], np.float32),
             "bn_beta": np.array([0.0, 0.25, -0.5], np.float32)},
    "auxs": {"bn_moving_mean": np.array([0.5, 0.0, -1.0], np.float32),
             "bn_moving_var": np.array([1.0, 2.0, 0.5], np.float32)},
}


@pytest.fixture(scope="module")
def both():
    theirs = run_oracle(SCRIPT, **INPUTS)["res"]
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        ns = {"mx": mx, "np": np, "out": {}, **INPUTS}
        exec(SCRIPT, ns)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return theirs, ns["out"]["res"]


@pytest.mark.oracle
@pytest.mark.parametrize("key", ["exact_lists", "exact_scalar_sorted", "interval_2"])
def test_toc_strings_equal_mxnets(both, key):
    theirs, ours = both
    assert ours[key] == theirs[key]


@pytest.mark.oracle
def test_toc_formats_as_mxnet_examples(both):
    theirs, ours = both
    rows = {name: text for _, name, text in ours["exact_lists"][0]}
    # a list statistic: the (1,)-shaped max as a scalar, the per-column min as an array
    assert rows["fc1_weight"].count("\t") == 2 and rows["fc1_weight"].endswith("]\t")
    assert "[" not in rows["fc1_weight"].split("\t")[0]
    # a 1-d parameter: min over axis 0 has shape (1,) too, so both print as scalars
    assert "[" not in rows["fc1_bias"]
    # arguments and auxiliary states come after the outputs, aux states included
    names = [r[1] for r in ours["exact_lists"][0]]
    assert names.index("fc2_output") < names.index("data") < names.index("bn_moving_var")
    assert [len(batch) > 0 for batch in ours["interval_2"]] == [True, False, True]


@pytest.mark.oracle
def test_default_statistic_same_format_and_values(both):
    theirs, ours = both
    ours, theirs = ours["default_sorted"][0], theirs["default_sorted"][0]
    assert [r[:2] for r in ours] == [r[:2] for r in theirs]
    for (_, name, a), (_, _, b) in zip(ours, theirs):
        assert a.endswith("\t") and a.count("\t") == 1 and "[" not in a, name
        assert float(a) == pytest.approx(float(b), rel=2e-6, abs=1e-7), name


@pytest.mark.oracle
def test_toc_print_lines_equal_mxnets(both):
    theirs, ours = both
    assert ours["toc_print"] == theirs["toc_print"]
    assert ours["toc_print"][0].startswith("Batch:       1 ")


@pytest.mark.oracle
def test_monitor_all_names_of_fc_inputs(both):
    theirs, ours = both
    # MXNet reports a parameter once per use and once as an argument; compare what each
    # distinct name shows
    assert dict((n, t) for _, n, t in ours["monitor_all"][0]) == \
        dict((n, t) for _, n, t in theirs["monitor_all"][0])


def test_format_stats_without_oracle():
    from mxteach.monitor import format_stats
    assert format_stats(mx.nd.array([0.5])) == "0.5\t"
    assert format_stats([mx.nd.array([2.0]), mx.nd.array([1.0, 2.0])]) == "2.0\t[1. 2.]\t"
    assert format_stats(mx.nd.array([[1.0]])) == "[[1.]]\t"
