"""mx.viz: print_summary and plot_network against real MXNet 1.9.1 (same table and graph for
the cases MXNet gets right, correct parameter counts where it miscounts), and the structured
summary both are built from."""
import contextlib
import io
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

MLP = """
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=128, name='fc1')
a1 = mx.sym.Activation(fc1, act_type='relu', name='relu1')
fc2 = mx.sym.FullyConnected(a1, num_hidden=10, name='fc2')
mlp = mx.sym.SoftmaxOutput(fc2, name='softmax')
"""
CONV = """
data = mx.sym.Variable('data')
c1 = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=16, name='conv1')
b1 = mx.sym.BatchNorm(c1, name='bn1')
r1 = mx.sym.Activation(b1, act_type='relu', name='relu1')
p1 = mx.sym.Pooling(r1, kernel=(2, 2), stride=(2, 2), pool_type='max', name='pool1')
c2 = mx.sym.Convolution(p1, kernel=(3, 3), num_filter=32, no_bias=True, name='conv2')
f = mx.sym.Flatten(c2, name='flat')
fc = mx.sym.FullyConnected(f, num_hidden=10, name='fc')
conv = mx.sym.SoftmaxOutput(fc, name='softmax')
fcd = mx.sym.FullyConnected(c1, num_hidden=10, name='fcd')
"""
MLP_SHAPE = {"data": (32, 784)}
CONV_SHAPE = {"data": (8, 3, 16, 16)}


def build(code):
    env = {"mx": mx}
    exec(code, env)
    return env


def summary_text(symbol, **kwargs):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mx.viz.print_summary(symbol, **kwargs)
    return buf.getvalue().splitlines()


@pytest.fixture(scope="module")
def mxnet_tables():
    """print_summary output, parameter sizes from MXNet's own infer_shape, and plot sources."""
    return run_oracle(MLP + CONV + """
import contextlib, io
def table(sym, shape):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mx.viz.print_summary(sym, shape=shape)
    return buf.getvalue()
def sizes(sym, shape):
    args, _, aux = sym.infer_shape(**shape)
    names = sym.list_arguments()
    params = {n: int(np.prod(s)) for n, s in zip(names, args) if n not in shape
              and not n.endswith('label')}
    return params, sum(int(np.prod(s)) for s in aux)
out['mlp'] = table(mlp, {'data': (32, 784)})
out['mlp_noshape'] = table(mlp, None)
out['conv'] = table(conv, {'data': (8, 3, 16, 16)})
out['fcd'] = table(fcd, {'data': (8, 3, 16, 16)})
out['mlp_sizes'] = sizes(mlp, {'data': (32, 784)})
out['conv_sizes'] = sizes(conv, {'data': (8, 3, 16, 16)})
out['fcd_sizes'] = sizes(fcd, {'data': (8, 3, 16, 16)})
out['conv_plot'] = mx.viz.plot_network(conv, shape={'data': (8, 3, 16, 16)}).source
out['mlp_plot'] = mx.viz.plot_network(mlp, shape={'data': (32, 784)}).source
""")


# -- print_summary against MXNet ------------------------------------------------------------------
@pytest.mark.oracle
def test_mlp_summary_is_mxnets_table(mxnet_tables):
    ours = summary_text(build(MLP)["mlp"], shape=MLP_SHAPE)
    assert ours == mxnet_tables["mlp"].splitlines()
    params, _ = mxnet_tables["mlp_sizes"]
    assert sum(params.values()) == 101770
    assert ours[-2] == "Total params: 101770"
    assert "fc1(FullyConnected)                                 128                     100480" \
        in ours[5]


@pytest.mark.oracle
def test_conv_summary_is_mxnets_table_plus_the_aux_line(mxnet_tables):
    ours = summary_text(build(CONV)["conv"], shape=CONV_SHAPE)
    theirs = mxnet_tables["conv"].splitlines()
    aux_line = [l for l in ours if l.startswith("Auxiliary states")]
    assert aux_line == ["Auxiliary states: 32 (not trained; updated by forward: "
                        "bn1_moving_mean, bn1_moving_var)"]
    assert [l for l in ours if l not in aux_line] == theirs
    params, aux = mxnet_tables["conv_sizes"]
    assert sum(params.values()) == 16618 and aux == 32
    assert "Total params: 16618" in ours
    row = {l.split("(")[0]: l.split() for l in ours if "(" in l and "Layer" not in l}
    assert row["conv1"][1:3] == ["16x16x16", "448"]
    assert row["bn1"][1:3] == ["16x16x16", "32"]
    assert row["conv2"][1:3] == ["32x6x6", "4608"]


@pytest.mark.oracle
def test_fc_on_a_4d_tensor_is_counted_from_the_weight_not_mxnets_guess(mxnet_tables):
    theirs = mxnet_tables["fcd"]
    assert "Total params: 618" in theirs                 # MXNet: 448 + 16*10 + 10 (a bug)
    params, _ = mxnet_tables["fcd_sizes"]
    right = sum(params.values())
    assert right == 448 + 16 * 16 * 16 * 10 + 10 == 41418
    ours = summary_text(build(CONV)["fcd"], shape=CONV_SHAPE)
    assert f"Total params: {right}" in ours
    fcd_row = next(l for l in ours if l.startswith("fcd(FullyConnected)"))
    assert fcd_row.split()[1:4] == ["10", "40970", "conv1"]


@pytest.mark.oracle
def test_without_shapes_counts_are_unknown_not_biases_only(mxnet_tables):
    assert "Total params: 138" in mxnet_tables["mlp_noshape"]   # MXNet counts biases only
    ours = summary_text(build(MLP)["mlp"])
    assert "Total params: ?" in ours
    assert next(l for l in ours if l.startswith("fc1(")).split()[1] == "?"
    assert any("fc1_weight" in l and "unknown" in l for l in ours)


# -- print_summary on its own ---------------------------------------------------------------------
def test_summary_layout_follows_positions():
    mlp = build(MLP)["mlp"]
    lines = summary_text(mlp, shape=MLP_SHAPE, line_length=80, positions=[30, 50, 60, 80])
    assert lines[0] == "_" * 80 and lines[2] == "=" * 80 and lines[-1] == "_" * 80
    assert lines[1] == "Layer (type)".ljust(30) + "Output Shape".ljust(20) + "Param #".ljust(10) \
        + "Previous Layer".ljust(20)
    assert lines[3] == "data(null)".ljust(30) + "784".ljust(20) + "0".ljust(10) + " " * 20
    frac = summary_text(mlp, shape=MLP_SHAPE, line_length=80, positions=[.375, .625, .75, 1.])
    assert frac == lines


def test_several_inputs_get_one_row_each_and_shared_weights_count_once():
    a, b = mx.sym.var("a"), mx.sym.var("b")
    w = mx.sym.var("shared_weight")
    fa = mx.sym.FullyConnected(a, weight=w, num_hidden=4, name="fa")
    fb = mx.sym.FullyConnected(b, weight=w, num_hidden=4, name="fb")
    net = mx.sym.Concat(fa, fb, dim=1, name="cat")
    s = mx.viz.summarize(net, shape={"a": (2, 4), "b": (2, 4)})
    assert s.data_names == ["a", "b"]
    assert s.layer("fa").param_count == 16 + 4 and s.layer("fb").param_count == 4
    assert s.layer("fb").shared == ["shared_weight"]
    assert s.total_params == 16 + 4 + 4
    assert s.layer("cat").previous == ["fa", "fb"]
    lines = summary_text(net, shape={"a": (2, 4), "b": (2, 4)})
    cat = lines.index(next(l for l in lines if l.startswith("cat(Concat)")))
    assert lines[cat].split() == ["cat(Concat)", "8", "0", "fa"]
    assert lines[cat + 1].strip() == "fb"
    assert "Shared parameters, counted once: shared_weight (also in fb)" in lines


def test_summarize_sorts_variables_by_how_they_are_used():
    env = build(CONV)
    s = mx.viz.summarize(env["conv"], shape=CONV_SHAPE)
    kinds = {l.name: l.kind for l in s.layers if not l.is_op}
    assert kinds == {"data": "data", "conv1_weight": "param", "conv1_bias": "param",
                     "bn1_gamma": "param", "bn1_beta": "param", "bn1_moving_mean": "aux",
                     "bn1_moving_var": "aux", "conv2_weight": "param", "fc_weight": "param",
                     "fc_bias": "param", "softmax_label": "label"}
    assert s.param_shapes["conv2_weight"] == (32, 16, 3, 3)
    assert s.aux_shapes == {"bn1_moving_mean": (16,), "bn1_moving_var": (16,)}
    assert s.layer("bn1").aux_count == 32 and s.layer("bn1").param_count == 32
    assert s.layer("pool1").output_shapes == [(8, 16, 8, 8)]
    # with a Module's names (data_names + label_names) the rest are parameters
    explicit = mx.viz.summarize(env["conv"], inputs=["data", "softmax_label"])
    assert explicit.data_names == ["data"] and explicit.label_names == ["softmax_label"]
    assert explicit.total_params is None
    args, _, _ = env["conv"].infer_shape(data=(8, 3, 16, 16))
    sizes = dict(zip(env["conv"].list_arguments(), (int(np.prod(a)) for a in args)))
    assert s.total_params == sum(v for k, v in sizes.items()
                                 if k not in ("data", "softmax_label"))


def test_summary_rejects_unknown_input_names():
    with pytest.raises(mx.MXNetError, match="'dta' is not an input"):
        mx.viz.summarize(build(MLP)["mlp"], shape={"dta": (1, 784)})
    with pytest.raises(mx.MXNetError, match="expected a Symbol"):
        mx.viz.summarize(object())


# -- plot_network ---------------------------------------------------------------------------------
def edges(source):
    """(tail, head, label) of every edge in a dot source."""
    out = set()
    for tail, head, label in re.findall(r'^\s*(\S+) -> (\S+) \[label=("[^"]*"|\S+)', source,
                                        flags=re.M):
        out.add((tail, head, label.strip('"')))
    return out


def nodes(source):
    return set(re.findall(r'^\s*(\w+) \[label=', source, flags=re.M))


@pytest.mark.oracle
def test_plot_has_mxnets_nodes_and_shape_labelled_edges(mxnet_tables):
    pytest.importorskip("graphviz")
    for key, code, shape in (("conv_plot", CONV, CONV_SHAPE), ("mlp_plot", MLP, MLP_SHAPE)):
        symbol = build(code)[key.split("_")[0]]
        ours = mx.viz.plot_network(symbol, shape=shape).source
        theirs = mxnet_tables[key]
        assert nodes(ours) == nodes(theirs)
        assert edges(ours) == edges(theirs)
    assert ("flat", "conv2", "32x6x6") in edges(mxnet_tables["conv_plot"])


def test_plot_labels_colours_and_options():
    graphviz = pytest.importorskip("graphviz")
    env = build(CONV)
    g = mx.viz.plot_network(env["conv"], title="convnet", save_format="svg", shape=CONV_SHAPE,
                            node_attrs={"fixedsize": "false"})
    assert isinstance(g, graphviz.Digraph)
    assert g.name == "convnet" and g.format == "svg"
    src = g.source
    assert 'conv1 [label="Convolution\n3x3/1x1, 16"' in src
    assert 'pool1 [label="Pooling\nmax, 2x2/2x2"' in src
    assert 'relu1 [label="Activation\nrelu"' in src
    assert 'fc [label="FullyConnected\n10"' in src
    assert "fixedsize=false" in src and "fixedsize=true" not in src
    assert "conv1_weight" not in src and "bn1_moving_mean" not in src
    assert 'data [label=data fillcolor="#8dd3c7"' in src and "shape=oval" in src
    # weights shown: their own nodes, edges labelled with the full weight shape
    shown = mx.viz.plot_network(build(MLP)["mlp"], shape=MLP_SHAPE, hide_weights=False,
                                dtype={"data": "float32"}).source
    assert "fc1_weight [label=fc1_weight" in shown
    assert ("fc1", "fc1_weight", "128x784(float32)") in edges(shown)
    assert ("fc1", "data", "784(float32)") in edges(shown)
    # no shapes: edges carry no labels
    plain = mx.viz.plot_network(build(MLP)["mlp"]).source
    assert {label for _, _, label in edges(plain)} == {""}


def test_plot_edge_from_a_multi_output_node_shows_the_output_used():
    pytest.importorskip("graphviz")
    x = mx.sym.var("data")
    parts = mx.sym.SliceChannel(x, num_outputs=2, axis=1, name="split")
    net = mx.sym.FullyConnected(parts[0], num_hidden=3, name="first") + \
        mx.sym.FullyConnected(mx.sym.Reshape(parts[1], shape=(0, -1), name="r"), num_hidden=3,
                              name="second")
    s = mx.viz.summarize(net, shape={"data": (2, 6)})
    assert s.layer("split").output_shapes == [(2, 3), (2, 3)]
    src = mx.viz.plot_network(net, shape={"data": (2, 6)}).source
    assert ("first", "split", "3") in edges(src) and ("r", "split", "3") in edges(src)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot program not installed")
def test_plot_renders_to_svg_with_dot():
    svg = mx.viz.plot_network(build(MLP)["mlp"], shape=MLP_SHAPE,
                              node_attrs={"fixedsize": "false"}).pipe(format="svg").decode()
    for name in ("data", "fc1", "relu1", "fc2", "softmax", "softmax_label"):
        assert f"<title>{name}</title>" in svg
    assert ">784<" in svg and ">128<" in svg


def test_importing_the_core_loads_no_ui_library():
    code = ("import sys, mxteach as mx; mx.viz.summarize; "
            "print(sorted(m for m in ('graphviz', 'matplotlib', 'IPython', 'ipywidgets') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[]"
