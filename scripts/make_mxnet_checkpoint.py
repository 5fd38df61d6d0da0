"""Make notebook 07's fixture: a checkpoint written by real MXNet 1.9.1, and MXNet reading ours.

Run it in the MXNet 1.9.1 oracle venv (mxteach itself runs in the project venv, as a child)::

    .oracle/bin/python scripts/make_mxnet_checkpoint.py          # writes notebooks/data/

Steps, each in the Python that owns the library it needs:

1. *mxteach venv* -- draw the digits with ``mxteach.datasets.synthetic_digits`` (generated
   images; OpenCV lives in that venv, not in the oracle): 1000 training and 200 test images
   of 8 x 8 pixels;
2. *MXNet 1.9.1* -- train a small MLP (64-32-10) for two epochs and ``save_checkpoint`` it as
   ``digits-mlp-symbol.json`` + ``digits-mlp-0002.params``; record its predictions on the test
   images;
3. *mxteach venv* -- load that checkpoint, fine-tune it with :data:`FINE_TUNE` (the recipe
   notebook 07 runs), save it as ``digits-mlp-ft-symbol.json`` + ``digits-mlp-ft-0005.params``;
4. *MXNet 1.9.1* -- load mxteach's checkpoint and record its predictions.

Everything recorded goes to ``notebooks/data/digits-mlp-record.json``: the SHA-256 of the test
images (the notebook checks it drew the same ones), MXNet's predicted classes, the probabilities
of the first eight images and the accuracy, for steps 2 and 4.
``tests/test_mxnet_checkpoint_fixture.py`` re-runs steps 2's and 4's loading in the oracle.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "notebooks" / "data"
PREFIX, EPOCH = "digits-mlp", 2              # MXNet's checkpoint
FT_PREFIX, FT_EPOCH = "digits-mlp-ft", 5     # mxteach's fine-tuned checkpoint
DIGITS = {"train": (1000, 7), "test": (200, 8)}      # (count, seed) of each split
SIZE, BATCH = 8, 50
# The fine-tuning recipe of notebook 07 (epochs 2..4 continue MXNet's 0..1).
FINE_TUNE = {"begin_epoch": EPOCH, "num_epoch": FT_EPOCH, "learning_rate": 0.05,
             "momentum": 0.9, "seed": 11}
SHOWN = 8                                    # test images whose probabilities are recorded

_DRAW = """
import sys, numpy as np
from mxteach.datasets import synthetic_digits
out = {}
for split, (n, seed) in SPLITS.items():
    images, labels = synthetic_digits(n, seed=seed, size=SIZE)
    out[split + "_x"], out[split + "_y"] = images, labels
np.savez(sys.argv[1], **out)
"""

_FINE_TUNE = """
import sys, numpy as np, mxteach as mx
d = np.load(sys.argv[1]); src, dst = sys.argv[2], sys.argv[3]
x = d["train_x"].reshape(len(d["train_x"]), -1).astype("float32") / 255
sym, arg, aux = mx.model.load_checkpoint(src, EPOCH)
mx.random.seed(FT["seed"]); np.random.seed(FT["seed"])
mod = mx.mod.Module(sym, context=mx.cpu())
train = mx.io.NDArrayIter(x, d["train_y"].astype("float32"), BATCH, shuffle=False)
mod.fit(train, arg_params=arg, aux_params=aux, begin_epoch=FT["begin_epoch"],
        num_epoch=FT["num_epoch"], optimizer="sgd",
        optimizer_params={"learning_rate": FT["learning_rate"], "momentum": FT["momentum"]})
mod.save_checkpoint(dst, FT["num_epoch"])
"""


def images_digest(images):
    """SHA-256 of the uint8 test images: the notebook checks it drew the same ones."""
    return hashlib.sha256(images.astype("uint8").tobytes()).hexdigest()


def mxteach_python():
    return os.environ.get("MXTEACH_PYTHON", str(ROOT / ".venv" / "bin" / "python"))


def _in_mxteach(code, *args):
    consts = (f"SPLITS = {DIGITS!r}\nSIZE = {SIZE}\nBATCH = {BATCH}\nEPOCH = {EPOCH}\n"
              f"FT = {FINE_TUNE!r}\n")
    subprocess.run([mxteach_python(), "-c", consts + code, *map(str, args)], check=True,
                   cwd=ROOT)


def predictions(mx, np, prefix, epoch, x):
    """Load a checkpoint in MXNet and predict: (classes, probabilities)."""
    sym, arg, aux = mx.model.load_checkpoint(prefix, epoch)
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.bind(data_shapes=[("data", x.shape)], label_shapes=[("softmax_label", (len(x),))],
             for_training=False)
    mod.set_params(arg, aux)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
    prob = mod.get_outputs()[0].asnumpy()
    return prob.argmax(axis=1), prob


def _record(np, classes, prob, labels):
    return {"classes": [int(c) for c in classes],
            "first_probabilities": [[float(v) for v in row] for row in prob[:SHOWN]],
            "accuracy": float((classes == labels).mean())}


def main():
    import numpy as np
    import mxnet as mx   # the oracle venv: this script must run there
    assert mx.__version__ == "1.9.1", f"run in the MXNet 1.9.1 oracle venv, not {mx.__version__}"
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        digits = Path(tmp) / "digits.npz"
        _in_mxteach(_DRAW, digits)                                   # step 1
        d = np.load(digits)
        flat = {s: d[s + "_x"].reshape(len(d[s + "_x"]), -1).astype("float32") / 255
                for s in DIGITS}
        test_y = d["test_y"]

        mx.random.seed(5); np.random.seed(5)                        # step 2
        data = mx.sym.Variable("data")
        h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=32, name="fc1"),
                              act_type="relu", name="relu1")
        net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=10, name="fc2"),
                                   name="softmax")
        mod = mx.mod.Module(net, context=mx.cpu())
        train = mx.io.NDArrayIter(flat["train"], d["train_y"].astype("float32"), BATCH,
                                  shuffle=False)
        mod.fit(train, num_epoch=EPOCH, initializer=mx.init.Xavier(), optimizer="sgd",
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
        mod.save_checkpoint(str(DATA / PREFIX), EPOCH)
        trained = _record(np, *predictions(mx, np, str(DATA / PREFIX), EPOCH, flat["test"]),
                          test_y)

        _in_mxteach(_FINE_TUNE, digits, DATA / PREFIX, DATA / FT_PREFIX)   # step 3
        loaded = _record(np, *predictions(mx, np, str(DATA / FT_PREFIX), FT_EPOCH,  # step 4
                                          flat["test"]), test_y)
    record = {"mxnet_version": mx.__version__, "test_images_sha256": images_digest(d["test_x"]),
              "digits": {k: list(v) for k, v in DIGITS.items()}, "size": SIZE,
              "fine_tune": FINE_TUNE,
              "mxnet_trained": trained, "mxnet_loads_mxteach": loaded}
    with open(DATA / "digits-mlp-record.json", "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(DATA)):
        print(f"{name:28s} {os.path.getsize(DATA / name):7d} bytes")
    print("MXNet accuracy after training:", trained["accuracy"],
          "| MXNet on mxteach's fine-tuned checkpoint:", loaded["accuracy"])


if __name__ == "__main__":
    sys.exit(main())
