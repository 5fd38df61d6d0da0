"""mx.io.MNISTIter and mx.io.CSVIter against MXNet 1.9.1 reading the same files, batch for
batch; the lesson data generator; errors for damaged files."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach import datasets
from mxteach.base import MXNetError
from mxteach.io.idx_file import read_idx, write_idx
from mxteach.io.mnist import cxx_shuffle_order
from oracle import run_oracle

EPOCHS = 3


def _collect(it, epochs=EPOCHS):
    """Everything a script can see of an iterator over a few epochs."""
    out = {"provide_data": [(d.name, tuple(d.shape), np.dtype(d.dtype).name)
                            for d in it.provide_data],
           "provide_label": [(d.name, tuple(d.shape), np.dtype(d.dtype).name)
                             for d in it.provide_label],
           "epochs": []}
    for _ in range(epochs):
        batches = []
        for b in it:
            index = b.index if b.index is None else np.asarray(b.index, np.uint64)
            batches.append([b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad, index])
        out["epochs"].append(batches)
        it.reset()
    return out


COLLECT = """
def _collect(it, epochs):
    out = {'provide_data': [(d.name, tuple(d.shape), np.dtype(d.dtype).name)
                            for d in it.provide_data],
           'provide_label': [(d.name, tuple(d.shape), np.dtype(d.dtype).name)
                             for d in it.provide_label],
           'epochs': []}
    for _ in range(epochs):
        batches = []
        for b in it:
            index = b.index if b.index is None else np.asarray(b.index, np.uint64)
            batches.append([b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad, index])
        out['epochs'].append(batches)
        it.reset()
    return out
"""


def _assert_same(ours, theirs, what):
    assert ours["provide_data"] == [tuple(x) for x in theirs["provide_data"]], what
    assert ours["provide_label"] == [tuple(x) for x in theirs["provide_label"]], what
    assert len(ours["epochs"]) == len(theirs["epochs"])
    for e, (mine, ref) in enumerate(zip(ours["epochs"], theirs["epochs"])):
        assert len(mine) == len(ref), f"{what}: epoch {e} has {len(mine)} batches, MXNet {len(ref)}"
        for k, (a, b) in enumerate(zip(mine, ref)):
            where = f"{what}, epoch {e}, batch {k}"
            assert a[0].dtype == b[0].dtype and a[1].dtype == b[1].dtype, where
            np.testing.assert_array_equal(a[0], b[0], err_msg=where)
            np.testing.assert_array_equal(a[1], b[1], err_msg=where)
            assert a[2] == b[2], where
            if b[3] is None:
                assert a[3] is None, where
            else:
                np.testing.assert_array_equal(a[3], b[3], err_msg=where)


@pytest.fixture(scope="module")
def mnist_small(tmp_path_factory):
    return datasets.make_mnist_idx(str(tmp_path_factory.mktemp("mnist")), n_train=230,
                                   n_test=70, seed=3)


MNIST_CONFIGS = [dict(batch_size=20, shuffle=False),
                 dict(batch_size=20, shuffle=True, seed=10, flat=True),
                 dict(batch_size=7),                                  # MXNet's defaults
                 dict(batch_size=16, seed=5, num_parts=3, part_index=2, flat=True),
                 dict(batch_size=15, shuffle=False, num_parts=4, part_index=1),
                 dict(batch_size=230, shuffle=True, seed=1)]


@pytest.mark.oracle
def test_mnist_iter_batches_equal_mxnet(mnist_small):
    got = run_oracle(COLLECT + """
out['runs'] = [_collect(mx.io.MNISTIter(image=image, label=label, silent=True, **cfg), 2)
               for cfg in configs]
""", image=mnist_small["train_images"], label=mnist_small["train_labels"],
        configs=MNIST_CONFIGS)
    for cfg, theirs in zip(MNIST_CONFIGS, got["runs"]):
        it = mx.io.MNISTIter(image=mnist_small["train_images"],
                             label=mnist_small["train_labels"], silent=True, **cfg)
        _assert_same(_collect(it, 2), theirs, f"MNISTIter{cfg}")


@pytest.mark.oracle
def test_shuffle_order_equals_mxnet_on_6000(tmp_path):
    # every image carries its own number in two pixels, so the batch spells the order; 6000
    # is enough to tell libstdc++'s two ways of drawing a bounded integer apart (15 places
    # differ), so this pins the one MXNet's wheel was built with
    n = 6000
    images = np.zeros((n, 2, 2), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", (np.arange(n) % 10).astype(np.uint8))
    it = mx.io.MNISTIter(image=str(tmp_path / "img"), label=str(tmp_path / "lab"),
                         batch_size=n, seed=10, silent=True, flat=True)
    data = it.next().data[0].asnumpy() * 256
    ours = (data[:, 0] * 256 + data[:, 1]).astype(np.int64)
    np.testing.assert_array_equal(ours, cxx_shuffle_order(n, 10))
    assert sorted(ours.tolist()) == list(range(n))
    theirs = run_oracle("""
it = mx.io.MNISTIter(image=d + '/img', label=d + '/lab', batch_size=6000, seed=10,
                     silent=True, flat=True)
x = it.next().data[0].asnumpy() * 256
out['order'] = (x[:, 0] * 256 + x[:, 1]).astype(np.int64)
""", d=str(tmp_path))
    np.testing.assert_array_equal(ours, theirs["order"])


def test_mnist_iter_protocol(mnist_small, capsys):
    it = mx.io.MNISTIter(image=mnist_small["test_images"], label=mnist_small["test_labels"],
                         batch_size=30, shuffle=False)
    assert "MNISTIter: load 70 images, shuffle=0, shape=[30,1,28,28]" in capsys.readouterr().err
    images = read_idx(mnist_small["test_images"])
    labels = read_idx(mnist_small["test_labels"])
    assert it.provide_data[0].shape == (30, 1, 28, 28) and it.batch_size == 30
    # iter_next consumes the batch the constructor read; getdata/getlabel describe it
    assert it.iter_next()
    np.testing.assert_array_equal(it.getdata().asnumpy()[:, 0] * 256, images[:30])
    np.testing.assert_array_equal(it.getlabel().asnumpy(), labels[:30])
    assert it.getpad() == 0 and it.getindex().tolist() == [0] * 30
    assert it.iter_next()
    np.testing.assert_array_equal(it.getlabel().asnumpy(), labels[30:60])
    assert not it.iter_next()                      # the last 10 never make a batch
    it.reset()
    first = it.next()
    np.testing.assert_array_equal(first.label[0].asnumpy(), labels[:30])
    second = it.next()
    # a batch handed out earlier keeps its data
    np.testing.assert_array_equal(first.label[0].asnumpy(), labels[:30])
    np.testing.assert_array_equal(second.label[0].asnumpy(), labels[30:60])


def _write_csv(path, rows):
    path.write_text("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(0)
    data = np.round(rng.uniform(-9, 9, size=(10, 6)), 2)
    files = {"data": _write_csv(d / "data.csv", data.tolist()),
             "label1": _write_csv(d / "label1.csv", [[i] for i in range(10)]),
             "label2": _write_csv(d / "label2.csv", [[i, -i] for i in range(10)]),
             "label3": _write_csv(d / "label3.csv", [[i, 2 * i, 3 * i] for i in range(10)])}
    # blank lines, CRLF ends and a trailing comma are all read as MXNet reads them
    (d / "messy.csv").write_bytes(b"1,2,3\r\n\r\n4.5, 5e1 ,-6,\n\n7,8,9")
    files["messy"] = str(d / "messy.csv")
    digits = datasets.make_digits_csv(str(d / "digits"), n=150, seed=2)
    files.update(digits_data=digits["data"], digits_label=digits["label"])
    return files


CSV_CONFIGS = [
    dict(data_csv="data", data_shape=(6,), batch_size=3),
    dict(data_csv="data", data_shape=(6,), batch_size=3, round_batch=False, label_csv="label1"),
    dict(data_csv="data", data_shape=(2, 3), batch_size=4, label_csv="label2", label_shape=(2,)),
    dict(data_csv="data", data_shape=(6,), batch_size=7, label_csv="label1"),
    dict(data_csv="data", data_shape=(6,), batch_size=10),
    dict(data_csv="data", data_shape=(6,), batch_size=12, label_csv="label1"),
    dict(data_csv="data", data_shape=(6,), batch_size=4, round_batch=False, dtype="int32"),
    dict(data_csv="data", data_shape=(3, 2), batch_size=3, dtype="int64", label_csv="label1"),
    dict(data_csv="data", data_shape=(6,), batch_size=4, label_csv="label3",
         label_shape=(1, 3)),
    dict(data_csv="messy", data_shape=(3,), batch_size=2),
    dict(data_csv="digits_data", data_shape=(64,), batch_size=32, label_csv="digits_label"),
]


def _resolve(cfg, files):
    return {k: files.get(v, v) if k in ("data_csv", "label_csv") else v
            for k, v in cfg.items()}


@pytest.mark.oracle
def test_csv_iter_batches_equal_mxnet(csv_files):
    configs = [_resolve(c, csv_files) for c in CSV_CONFIGS]
    got = run_oracle(COLLECT + """
out['runs'] = [_collect(mx.io.CSVIter(**cfg), epochs) for cfg in configs]
""", configs=configs, epochs=EPOCHS + 1)
    for cfg, theirs in zip(configs, got["runs"]):
        _assert_same(_collect(mx.io.CSVIter(**cfg), EPOCHS + 1), theirs, f"CSVIter{cfg}")


def test_csv_round_batch_walks_on_across_resets(tmp_path):
    # MXNet's documented example: 4 rows, batch_size=3
    path = _write_csv(tmp_path / "d.csv", [[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]])
    it = mx.io.CSVIter(data_csv=path, data_shape=(3,), batch_size=3)
    firsts = []
    for _ in range(3):
        firsts.append([b.data[0].asnumpy()[:, 0].tolist() for b in it])
        it.reset()
    assert firsts == [[[1, 2, 3], [4, 1, 2]], [[3, 4, 1]], [[2, 3, 4]]]
    it = mx.io.CSVIter(data_csv=path, data_shape=(3,), batch_size=3, round_batch=False)
    batches = [(b.data[0].asnumpy()[:, 0].tolist(), b.pad) for b in it]
    assert batches == [([1, 2, 3], 0), ([4, 2, 3], 2)]     # stale rows as padding


def test_csv_iter_trains_a_module(csv_files):
    it = mx.io.CSVIter(data_csv=csv_files["digits_data"], data_shape=(64,),
                       label_csv=csv_files["digits_label"], batch_size=25)
    x = mx.sym.Variable("data") / 255.0
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(x, num_hidden=10), name="softmax")
    mod = mx.mod.Module(net)
    mod.fit(it, num_epoch=10, optimizer_params={"learning_rate": 0.5},
            initializer=mx.init.Xavier())
    assert mod.score(it, "acc")[0][1] > 0.6            # 10 classes: chance is 0.1


def test_lesson_data_is_deterministic(tmp_path):
    a, la = datasets.synthetic_digits(50, seed=4)
    b, lb = datasets.synthetic_digits(50, seed=4)
    c, _ = datasets.synthetic_digits(50, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert a.shape == (50, 28, 28) and a.dtype == np.uint8 and not np.array_equal(a, c)
    assert set(la.tolist()) <= set(range(10)) and len(set(la.tolist())) >= 8
    assert 15 < a.mean() < 80                           # MNIST-like ink: ~33 of 255
    paths = datasets.make_mnist_idx(str(tmp_path), n_train=12, n_test=5)
    stamp = (tmp_path / "train-images-idx3-ubyte").stat().st_mtime_ns
    assert datasets.make_mnist_idx(str(tmp_path), n_train=99)["train_images"] == \
        paths["train_images"]
    assert (tmp_path / "train-images-idx3-ubyte").stat().st_mtime_ns == stamp   # kept
    assert read_idx(paths["train_images"]).shape == (12, 28, 28)
    assert read_idx(paths["test_labels"]).shape == (5,)
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        write_idx(tmp_path / "x.idx", arr)
        back = read_idx(tmp_path / "x.idx")
        assert back.dtype.kind == np.dtype(dtype).kind
        np.testing.assert_array_equal(back, arr)


def _small_idx(tmp_path, n=10):
    images = (np.arange(n * 28 * 28) % 256).astype(np.uint8).reshape(n, 28, 28)
    write_idx(tmp_path / "img", images)
    write_idx(tmp_path / "lab", (np.arange(n) % 10).astype(np.uint8))
    return str(tmp_path / "img"), str(tmp_path / "lab")


def test_bad_idx_files_name_file_item_and_offset(tmp_path):
    img, lab = _small_idx(tmp_path)
    data = (tmp_path / "img").read_bytes()
    (tmp_path / "cut").write_bytes(data[:16 + 7 * 784 + 100])   # inside image 7
    with pytest.raises(MXNetError, match=r"cut: truncated, .* item 7 of 10 \(at byte 5504\) "
                                         r"is cut off at byte 5604"):
        mx.io.MNISTIter(image=str(tmp_path / "cut"), label=lab, batch_size=2)
    with pytest.raises(MXNetError, match=r"lab: idx magic number 0x00000801 at byte 0 .*"
                                         r"expected 0x00000803"):
        mx.io.MNISTIter(image=lab, label=lab, batch_size=2)
    (tmp_path / "junk").write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(MXNetError, match=r"junk: bad idx magic number 0x47494638 at byte 0"):
        mx.io.MNISTIter(image=str(tmp_path / "junk"), label=lab, batch_size=2)
    (tmp_path / "head").write_bytes(data[:10])
    with pytest.raises(MXNetError, match=r"head: file ends at byte 10 inside the header"):
        mx.io.MNISTIter(image=str(tmp_path / "head"), label=lab, batch_size=2)
    write_idx(tmp_path / "lab9", np.zeros(9, np.uint8))
    with pytest.raises(MXNetError, match=r"holds 10 images but .*lab9 holds 9 labels"):
        mx.io.MNISTIter(image=img, label=str(tmp_path / "lab9"), batch_size=2)
    with pytest.raises(MXNetError, match=r"cannot read idx file .*nothere"):
        mx.io.MNISTIter(image=str(tmp_path / "nothere"), label=lab, batch_size=2)
    with pytest.raises(MXNetError, match="no complete batch"):
        mx.io.MNISTIter(image=img, label=lab, batch_size=11, silent=True)
    with pytest.raises(ValueError, match="part_index 2 must be smaller than num_parts 2"):
        mx.io.MNISTIter(image=img, label=lab, batch_size=2, num_parts=2, part_index=2)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        mx.io.MNISTIter(image=img, label=lab, batch_size=0)
    with pytest.warns(UserWarning, match=r"ignoring unknown argument\(s\) \['shufle'\]"):
        mx.io.MNISTIter(image=img, label=lab, batch_size=2, shufle=False, silent=True)


@pytest.mark.oracle
def test_bad_csv_rows_name_file_line_and_offset(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2,3\n4,5,6\n\n7,8\n9,10,11\n")
    with pytest.raises(MXNetError, match=r"d\.csv: line 4 \(byte 13\) holds 2 values but "
                                         r"data_csv rows must hold 3 \(shape \(3,\)\)"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(3,), batch_size=2)
    theirs = run_oracle("""
try:
    it = mx.io.CSVIter(data_csv=p, data_shape=(3,), batch_size=2)
    for b in it:
        pass
    out['error'] = ''
except mx.base.MXNetError as e:
    out['error'] = str(e)
""", p=str(path))
    assert "do not match size of shape" in theirs["error"]      # MXNet refuses it too

    path.write_text("1,2,3\n4,x5,6\n")
    with pytest.raises(MXNetError, match=r"line 2 \(byte 6\), field 2 is 'x5': not a number"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(3,), batch_size=2)
    path.write_text("1,,3\n")
    with pytest.raises(MXNetError, match=r"line 1 \(byte 0\), field 2 is '': empty"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(3,), batch_size=1)
    path.write_text("1,2,3\n4,5,6\n")
    (tmp_path / "l.csv").write_text("1\n")
    with pytest.raises(MXNetError, match=r"l\.csv holds 1 label rows but .*d\.csv holds 2"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(3,), batch_size=1,
                      label_csv=str(tmp_path / "l.csv"))
    with pytest.raises(ValueError, match="dtype 'float64' is not supported"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(3,), batch_size=1, dtype="float64")
    with pytest.raises(MXNetError, match="2 rows cannot fill a batch of 5"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(3,), batch_size=5)
    with pytest.raises(ValueError, match=r"data_shape must be a tuple of positive ints"):
        mx.io.CSVIter(data_csv=str(path), data_shape=(0,), batch_size=1)
    with pytest.raises(MXNetError, match=r"cannot open .*missing\.csv"):
        mx.io.CSVIter(data_csv=str(tmp_path / "missing.csv"), data_shape=(3,), batch_size=1)
