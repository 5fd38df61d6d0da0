"""Screenshots of every view — light and dark theme, live (run in JupyterLab) and stored
(opened untrusted, the static form) — into a folder (``make screenshots``: docs/img/).

Drives the browser harness of tests/test_browser.py (tests/browser_notebook/harness.py): a
gallery notebook, one view per cell, is executed headlessly (the stored form), opened in
JupyterLab untrusted, then run there.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser_notebook"))
import harness as H  # noqa: E402

SETUP = '''import numpy as np
import mxteach as mx
from mxteach.io import DataBatch, DataDesc
from mxteach.widgets import (BucketView, ChainView, DeviceSlices, GraphView, LiveMetrics,
                             MemoryMap, ModuleInspector, ParamTable, StateTimeline)
rng = np.random.RandomState(0)
centers = rng.randn(3, 5).astype("float32") * 1.5
y = np.arange(240) % 3
X = (centers[y] + rng.randn(240, 5)).astype("float32")
y = y.astype("float32")
def it(): return mx.io.NDArrayIter(X, y, batch_size=12)
def mlp():
    h = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=16, name="fc1"),
                          act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                name="softmax")
def fit(mod, **kw):
    mod.fit(it(), num_epoch=3, initializer=mx.init.Xavier(),
            optimizer_params={"learning_rate": 0.1}, **kw)
mx.mod.Module(mlp()).fit(it(), num_epoch=1)       # compile the kernels first'''

VIEWS = {
    "statetimeline": "mod = mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1)])\n"
                     "v = StateTimeline(mod); display(v); fit(mod)",
    "memorymap": "mod = mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1)])\n"
                 "v = MemoryMap(mod); display(v); fit(mod)",
    "deviceslices": "mod = mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1)], "
                    "work_load_list=[1, 3])\nv = DeviceSlices(mod); display(v); fit(mod)",
    "livemetrics": "mod = mx.mod.Module(mlp())\nv = LiveMetrics(); display(v)\n"
                   "fit(mod, batch_end_callback=v)",
    "paramtable": "mod = mx.mod.Module(mlp(), fixed_param_names=['fc1_bias'])\n"
                  "v = ParamTable(mod); display(v); fit(mod)",
    "graphview": "mod = mx.mod.Module(mlp())\nv = GraphView(mod); display(v)\n"
                 "fit(mod, monitor=v.monitor(pattern='fc'))",
    "bucketview": '''def sym_gen(n):
    h = mx.sym.Embedding(mx.sym.var("data"), input_dim=12, output_dim=4, name="embed")
    h = mx.sym.FullyConnected(h, num_hidden=12, flatten=False, name="fc")
    return mx.sym.SoftmaxOutput(h, preserve_shape=True, name="softmax"), ("data",), ("softmax_label",)
def batch(n):
    r = np.random.RandomState(n)
    return DataBatch([mx.nd.array(r.randint(0, 12, (4, n)))], [mx.nd.array(r.randint(0, 12, (4, n)))],
                     bucket_key=n, provide_data=[DataDesc("data", (4, n))],
                     provide_label=[DataDesc("softmax_label", (4, n))])
mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=8, context=[mx.cpu(0), mx.cpu(1)])
v = BucketView(mod); display(v)
mod.bind(batch(8).provide_data, batch(8).provide_label); mod.init_params(); mod.init_optimizer()
for n in [3, 5, 8, 5, 3, 8, 3] * 3:
    mod.forward(batch(n), is_train=True); mod.backward(); mod.update()
_ = v.finish()       # not the cell's value: that would display the view twice''',
    "chainview": '''seq = mx.mod.SequentialModule()
seq.add(mx.mod.Module(mx.sym.Activation(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=8,
        name="fc1"), act_type="relu", name="relu1"), label_names=None))
seq.add(mx.mod.Module(mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3,
        name="fc2"), name="softmax")), take_labels=True, auto_wiring=True)
v = ChainView(seq); display(v); fit(seq)''',
    "moduleinspector": "mod = mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1)])\n"
                       "v = ModuleInspector(mod); display(v); fit(mod, batch_end_callback=v)",
}


def gallery(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# mxteach views"),
                nbformat.v4.new_code_cell(SETUP)] + \
        [nbformat.v4.new_code_cell(code) for code in VIEWS.values()]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    nbformat.write(nb, path)


def shoot(page, out, mode, theme):
    for name in VIEWS:
        if mode == "live":
            sel = f".mxt-current .mxteach-widget.mxt-{name}"
        else:
            sel = f".mxt-current .jp-OutputArea-output .mxteach-view.mxt-{name}"
        element = page.locator(sel).first
        element.scroll_into_view_if_needed()
        page.wait_for_timeout(150)
        target = out / f"{name}-{mode}-{theme}.png"
        element.screenshot(path=str(target))
        print(target)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=pathlib.Path, nargs="?", default=ROOT / "docs" / "img")
    args = ap.parse_args(argv)
    missing = H.missing()
    if missing:
        print(f"screenshots need: {', '.join(missing)}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        nb_path = tmp / "views.ipynb"
        gallery(nb_path)
        with H.lab(tmp / "nb", tmp, [nb_path]) as base, H.chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            H.open_notebook(page, base, nb_path.name, kernel=False)
            H.wait_images(page, ".mxt-current .mxteach-view")
            for theme in (H.LIGHT, H.DARK):
                H.set_theme(page, theme)
                shoot(page, args.out, "stored", "dark" if theme == H.DARK else "light")
            H.set_theme(page, H.LIGHT)
            H.open_notebook(page, base, nb_path.name)
            H.run_all(page)
            page.wait_for_timeout(1000)
            for theme in (H.LIGHT, H.DARK):
                H.set_theme(page, theme)
                shoot(page, args.out, "live", "dark" if theme == H.DARK else "light")
    return 0


if __name__ == "__main__":
    sys.exit(main())
