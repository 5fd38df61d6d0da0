"""Notebook 07's fixture (notebooks/data/, made by scripts/make_mxnet_checkpoint.py) is honest.

MXNet 1.9.1 wrote ``digits-mlp``; mxteach fine-tuned it into ``digits-mlp-ft``; the record says
what MXNet predicted from each. These tests re-check every claim: the test images are the ones
drawn, MXNet (oracle) and mxteach predict what is recorded, and the fine-tuning recipe
reproduces the shipped mxteach checkpoint.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import mxteach as mx
from mxteach.datasets import synthetic_digits
from oracle import run_oracle

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "notebooks" / "data"
_spec = importlib.util.spec_from_file_location("make_mxnet_checkpoint",
                                               ROOT / "scripts" / "make_mxnet_checkpoint.py")
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)
RECORD = json.loads((DATA / "digits-mlp-record.json").read_text(encoding="utf-8"))


def _test_images():
    n, seed = maker.DIGITS["test"]
    images, labels = synthetic_digits(n, seed=seed, size=maker.SIZE)
    return images, labels, images.reshape(n, -1).astype("float32") / 255


def _predict_here(prefix, epoch, x):
    sym, arg, aux = mx.model.load_checkpoint(str(DATA / prefix), epoch)
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.bind(data_shapes=[("data", x.shape)], label_shapes=[("softmax_label", (len(x),))],
             for_training=False)
    mod.set_params(arg, aux)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
    return mod.get_outputs()[0].asnumpy()


def test_the_test_images_are_the_recorded_ones():
    images, _, _ = _test_images()
    assert maker.images_digest(images) == RECORD["test_images_sha256"]


@pytest.mark.parametrize("prefix,epoch,key", [(maker.PREFIX, maker.EPOCH, "mxnet_trained"),
                                              (maker.FT_PREFIX, maker.FT_EPOCH,
                                               "mxnet_loads_mxteach")])
def test_mxteach_predicts_what_mxnet_recorded(prefix, epoch, key):
    _, labels, x = _test_images()
    prob = _predict_here(prefix, epoch, x)
    assert prob.argmax(1).tolist() == RECORD[key]["classes"]
    np.testing.assert_allclose(prob[:maker.SHOWN], RECORD[key]["first_probabilities"],
                               rtol=1e-5, atol=1e-6)
    assert float((prob.argmax(1) == labels).mean()) == RECORD[key]["accuracy"]


def test_fine_tuning_recipe_reproduces_the_shipped_checkpoint(tmp_path):
    n, seed = maker.DIGITS["train"]
    images, labels = synthetic_digits(n, seed=seed, size=maker.SIZE)
    x = images.reshape(n, -1).astype("float32") / 255
    ft = maker.FINE_TUNE
    sym, arg, aux = mx.model.load_checkpoint(str(DATA / maker.PREFIX), maker.EPOCH)
    mx.random.seed(ft["seed"])
    np.random.seed(ft["seed"])
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.fit(mx.io.NDArrayIter(x, labels.astype("float32"), maker.BATCH, shuffle=False),
            arg_params=arg, aux_params=aux, begin_epoch=ft["begin_epoch"],
            num_epoch=ft["num_epoch"], optimizer="sgd",
            optimizer_params={"learning_rate": ft["learning_rate"], "momentum": ft["momentum"]})
    mine = mod.get_params()[0]
    shipped = mx.nd.load(str(DATA / f"{maker.FT_PREFIX}-{maker.FT_EPOCH:04d}.params"))
    assert sorted(shipped) == sorted(f"arg:{k}" for k in mine)
    for k, v in mine.items():
        np.testing.assert_allclose(v.asnumpy(), shipped[f"arg:{k}"].asnumpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.oracle
def test_mxnet_predicts_what_is_recorded():
    _, _, x = _test_images()
    out = run_oracle("""
for key, prefix, epoch in cases:
    sym, arg, aux = mx.model.load_checkpoint(data_dir + "/" + prefix, int(epoch))
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.bind(data_shapes=[("data", x.shape)], label_shapes=[("softmax_label", (len(x),))],
             for_training=False)
    mod.set_params(arg, aux)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=False)
    out[key] = mod.get_outputs()[0].asnumpy()
""", x=x, data_dir=str(DATA), cases=[["mxnet_trained", maker.PREFIX, maker.EPOCH],
                                      ["mxnet_loads_mxteach", maker.FT_PREFIX, maker.FT_EPOCH]])
    for key in ("mxnet_trained", "mxnet_loads_mxteach"):
        assert out[key].argmax(1).tolist() == RECORD[key]["classes"], key
        np.testing.assert_allclose(out[key][:maker.SHOWN], RECORD[key]["first_probabilities"],
                                   rtol=1e-6, atol=1e-7)
