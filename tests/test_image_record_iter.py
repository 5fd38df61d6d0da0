"""mx.io.ImageRecordIter against MXNet 1.9.1 on the same .rec files: deterministic settings
batch for batch (pixels, labels, pad, epochs, parts), random crops/mirrors by shape and
distribution, threads, bad records, and the data-wait numbers fit reports in its events."""
import re
import threading
import time

import numpy as np
import pytest

import mxteach as mx
from mxteach import recordio
from mxteach.base import MXNetError
from mxteach.io.image_record import ImageRecordIter, part_range, plan_epoch
from oracle import run_oracle

N_IMAGES = 11


def _image(rng, h, w):
    import cv2
    noise = rng.randint(0, 255, (h, w, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 2)    # smooth: JPEG keeps it close to itself


@pytest.fixture(scope="module")
def recfile(tmp_path_factory):
    """11 JPEG records of 20..39 px sides, labels i % 3, ids 100 + i; written by mxteach's
    recordio. Returns (path of .rec, path of .idx, list of the decoded RGB images)."""
    import cv2
    folder = tmp_path_factory.mktemp("rec")
    rng = np.random.RandomState(1)
    rec_path, idx_path = str(folder / "a.rec"), str(folder / "a.idx")
    writer = recordio.MXIndexedRecordIO(idx_path, rec_path, "w")
    images = []
    for i in range(N_IMAGES):
        img = _image(rng, rng.randint(20, 40), rng.randint(20, 40))
        buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        writer.write_idx(i, recordio.pack(recordio.IRHeader(0, float(i % 3), 100 + i, 0), buf))
        images.append(cv2.imdecode(np.frombuffer(buf, np.uint8), 1)[:, :, ::-1])
    writer.close()
    return rec_path, idx_path, images


def _epochs(it, n=1):
    out = []
    for _ in range(n):
        out.append([(b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad) for b in it])
        it.reset()
    return out


CONFIGS = [
    dict(data_shape=(3, 16, 16), batch_size=4),
    dict(data_shape=(3, 16, 16), batch_size=4, resize=20),
    dict(data_shape=(3, 18, 14), batch_size=5, mean_r=123.7, mean_g=116.3, mean_b=103.5,
         std_r=58.4, std_g=57.1, std_b=57.4, scale=0.5),
    dict(data_shape=(3, 16, 16), batch_size=4, num_parts=3, part_index=0),
    dict(data_shape=(3, 16, 16), batch_size=4, num_parts=3, part_index=1),
    dict(data_shape=(3, 16, 16), batch_size=4, num_parts=3, part_index=2),
    dict(data_shape=(3, 16, 16), batch_size=3, num_parts=2, part_index=1, resize=24),
    dict(data_shape=(1, 16, 16), batch_size=4),
]


@pytest.mark.oracle
def test_deterministic_batches_equal_mxnet(recfile):
    rec_path, _, _ = recfile
    mxnet = run_oracle("""
for k, cfg in enumerate(configs):
    it = mx.io.ImageRecordIter(path_imgrec=rec, preprocess_threads=2, **cfg)
    for e in range(2):
        for j, b in enumerate(it):
            out[f"{k}/{e}/{j}/data"] = b.data[0].asnumpy()
            out[f"{k}/{e}/{j}/label"] = b.label[0].asnumpy()
            out[f"{k}/{e}/{j}/pad"] = b.pad
        out[f"{k}/{e}/n"] = j + 1
        it.reset()
""", rec=rec_path, configs=CONFIGS)
    for k, cfg in enumerate(CONFIGS):
        it = ImageRecordIter(path_imgrec=rec_path, preprocess_threads=2, **cfg)
        for e, batches in enumerate(_epochs(it, 2)):
            assert len(batches) == mxnet[f"{k}/{e}/n"], (cfg, e)
            for j, (data, label, pad) in enumerate(batches):
                key = f"{k}/{e}/{j}"
                assert pad == mxnet[key + "/pad"], (cfg, key)
                np.testing.assert_array_equal(label, mxnet[key + "/label"], err_msg=str(cfg))
                # same decoder and resize: equal pixels; normalisation may differ by rounding
                np.testing.assert_allclose(data, mxnet[key + "/data"], rtol=1e-6, atol=1e-5,
                                           err_msg=f"{cfg} {key}")


@pytest.mark.oracle
def test_multi_label_records_and_label_width(tmp_path):
    import cv2
    rng = np.random.RandomState(2)
    rec_path = str(tmp_path / "m.rec")
    writer = recordio.MXRecordIO(rec_path, "w")
    for i in range(5):
        buf = cv2.imencode(".png", _image(rng, 20, 22))[1].tobytes()
        labels = np.array([i, 10 + i, 20 + i], np.float32)
        writer.write(recordio.pack(recordio.IRHeader(0, labels, i, 0), buf))
    writer.close()
    mxnet = run_oracle("""
it = mx.io.ImageRecordIter(path_imgrec=rec, data_shape=(3, 20, 20), batch_size=2,
                           label_width=3)
out["labels"] = [b.label[0].asnumpy() for b in it]
out["shape"] = it.provide_label[0][1]
""", rec=rec_path)
    it = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 20, 20), batch_size=2,
                         label_width=3)
    assert it.provide_label[0].shape == tuple(mxnet["shape"]) == (2, 3)
    got = [b.label[0].asnumpy() for b in it]
    assert len(got) == len(mxnet["labels"])
    for a, b in zip(got, mxnet["labels"]):
        np.testing.assert_array_equal(a, b)


def test_reading_through_the_index_gives_the_same_batches(recfile):
    rec_path, idx_path, _ = recfile
    for cfg in CONFIGS:
        plain = _epochs(ImageRecordIter(path_imgrec=rec_path, **cfg), 2)
        indexed_it = ImageRecordIter(path_imgrec=rec_path, path_imgidx=idx_path, **cfg)
        assert not indexed_it._source.records      # nothing kept in memory
        indexed = _epochs(indexed_it, 2)
        for e in range(2):
            assert len(plain[e]) == len(indexed[e])
            for (d1, l1, p1), (d2, l2, p2) in zip(plain[e], indexed[e]):
                assert p1 == p2
                np.testing.assert_array_equal(l1, l2)
                np.testing.assert_array_equal(d1, d2)


@pytest.mark.oracle
def test_provide_data_prints_as_mxnet_for_every_dtype(recfile):
    # MXNet's descriptors carry numpy scalar types (<class 'numpy.uint8'>), as the other
    # iterators do, whatever dtype the data comes out in; a printed string differs
    rec_path, _, _ = recfile
    dtypes = ["float32", "uint8", "int8"]
    mxnet = run_oracle("""
for dt in dtypes:
    it = mx.io.ImageRecordIter(path_imgrec=rec, data_shape=(3, 16, 16), batch_size=4, dtype=dt)
    b = it.next()
    out[dt] = [str(it.provide_data), str(it.provide_label), str(b.data[0].dtype)]
""", rec=rec_path, dtypes=dtypes)
    for dt in dtypes:
        it = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=4, dtype=dt)
        b = it.next()
        assert [str(it.provide_data), str(it.provide_label), str(b.data[0].dtype)] == mxnet[dt]
        assert it.provide_data[0].dtype is np.dtype(dt).type


def test_round_batch_rule_and_part_ranges():
    # 11 rows in batches of 4: 4, 4, 3 + 1 from the start; the next epoch starts after it
    batches, skip = plan_epoch(11, 4, 0, True, list(range(11)))
    assert [b for b, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 0]]
    assert [p for _, p in batches] == [0, 0, 1] and skip == 1
    batches, skip = plan_epoch(11, 4, 1, True, list(range(11)))
    assert batches[-1] == ([9, 10, 0, 1], 2) and skip == 2
    batches, skip = plan_epoch(11, 4, 0, False, list(range(11)))
    assert batches[-1] == ([8, 9, 10], 1) and skip == 0
    # byte ranges cover the file once, on 4-byte steps
    ranges = [part_range(1001, 3, k) for k in range(3)]
    assert ranges == [(0, 336), (336, 672), (672, 1001)]


def test_round_batch_false_pads_with_zeros(recfile):
    rec_path, _, _ = recfile
    it = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=4,
                         round_batch=False)
    last = list(it)[-1]
    assert last.pad == 1
    assert np.all(last.data[0].asnumpy()[3] == 0) and np.any(last.data[0].asnumpy()[2] != 0)


def _crops(img, h, w):
    """Every (h, w) crop of ``img`` and its mirror, CHW float32."""
    rows, cols = img.shape[:2]
    out = {}
    for y in range(rows - h + 1):
        for x in range(cols - w + 1):
            patch = img[y:y + h, x:x + w]
            out[(y, x, False)] = patch.transpose(2, 0, 1).astype(np.float32)
            out[(y, x, True)] = patch[:, ::-1].transpose(2, 0, 1).astype(np.float32)
    return out


def test_random_crop_and_mirror_are_real_crops_uniformly_placed(recfile):
    rec_path, _, images = recfile
    h = w = 18
    seen, flips = [], 0
    it = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, h, w), batch_size=N_IMAGES,
                         rand_crop=True, rand_mirror=True, seed=7)
    for epoch in range(12):
        data = next(it).data[0].asnumpy()
        assert data.shape == (N_IMAGES, 3, h, w)
        for i, img in enumerate(images):
            found = [k for k, v in _crops(img, h, w).items() if np.array_equal(v, data[i])]
            assert found, f"row {i} of epoch {epoch} is no crop of image {i}"
            y, x, flip = found[0]
            seen.append((y / max(img.shape[0] - h, 1), x / max(img.shape[1] - w, 1)))
            flips += flip
        it.reset()
    n = len(seen)
    # mirror with p = 0.5 and offsets spread over the slack (means near 1/2)
    assert abs(flips / n - 0.5) < 0.15
    assert abs(np.mean([s[0] for s in seen]) - 0.5) < 0.12
    assert abs(np.mean([s[1] for s in seen]) - 0.5) < 0.12
    # the same seed gives the same batches; another seed others
    again = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, h, w), batch_size=N_IMAGES,
                            rand_crop=True, rand_mirror=True, seed=7)
    other = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, h, w), batch_size=N_IMAGES,
                            rand_crop=True, rand_mirror=True, seed=8)
    first = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, h, w), batch_size=N_IMAGES,
                            rand_crop=True, rand_mirror=True, seed=7)
    a = next(first).data[0].asnumpy()
    assert np.array_equal(a, next(again).data[0].asnumpy())
    assert not np.array_equal(a, next(other).data[0].asnumpy())


@pytest.mark.oracle
def test_random_augmentation_matches_mxnet_in_shape_and_statistics(recfile):
    rec_path, _, _ = recfile
    cfg = dict(data_shape=(3, 16, 16), batch_size=N_IMAGES, rand_crop=True, rand_mirror=True)
    mxnet = run_oracle("""
it = mx.io.ImageRecordIter(path_imgrec=rec, **cfg)
datas = []
for e in range(6):
    datas.append(next(it).data[0].asnumpy()); it.reset()
out["data"] = np.stack(datas)
out["shape"] = it.provide_data[0][1]
""", rec=rec_path, cfg=cfg)
    it = ImageRecordIter(path_imgrec=rec_path, **cfg)
    ours = []
    for _ in range(6):
        ours.append(next(it).data[0].asnumpy())
        it.reset()
    ours = np.stack(ours)
    assert tuple(mxnet["shape"]) == it.provide_data[0].shape
    assert ours.shape == mxnet["data"].shape
    # per image: the mean over its random crops agrees with MXNet's within the crop spread
    diff = np.abs(ours.mean(axis=(0, 3, 4)) - mxnet["data"].mean(axis=(0, 3, 4)))
    spread = mxnet["data"].mean(axis=(3, 4)).std(axis=0) + ours.mean(axis=(3, 4)).std(axis=0)
    assert np.all(diff <= 3 * spread + 2.0)


def test_shuffle_gives_a_new_permutation_each_epoch(recfile):
    rec_path, idx_path, _ = recfile
    it = ImageRecordIter(path_imgrec=rec_path, path_imgidx=idx_path, data_shape=(3, 16, 16),
                         batch_size=N_IMAGES, shuffle=True)
    orders = [tuple(next(it).index.tolist()) for _ in range(3) if it.reset() is None]
    assert all(sorted(o) == list(range(100, 100 + N_IMAGES)) for o in orders)
    assert len(set(orders)) == 3


def test_decoding_runs_in_worker_threads(recfile):
    rec_path, _, _ = recfile
    it = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=4,
                         preprocess_threads=2, prefetch_buffer=2)
    batches = list(it)
    names = {t.name for t in threading.enumerate()}
    assert sum(n.startswith(f"mxteach-decode-{id(it):x}") for n in names) == 2
    assert all(b.load_time > 0 for b in batches)
    one = ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=4,
                          preprocess_threads=1)
    for a, b in zip(batches, list(one)):
        np.testing.assert_array_equal(a.data[0].asnumpy(), b.data[0].asnumpy())
    it.close()


def test_bad_records_and_parameters_raise_mxneterror(recfile, tmp_path):
    rec_path, _, _ = recfile
    bad = str(tmp_path / "bad.rec")
    writer = recordio.MXRecordIO(bad, "w")
    writer.write(recordio.pack(recordio.IRHeader(0, 1.0, 0, 0), b"not an image at all"))
    writer.close()
    it = ImageRecordIter(path_imgrec=bad, data_shape=(3, 8, 8), batch_size=1)
    with pytest.raises(MXNetError, match=r"bad\.rec record at byte 0"):
        next(it)
    with pytest.raises(MXNetError, match="smaller than data_shape"):
        next(ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 60, 60), batch_size=2))
    with pytest.raises(MXNetError, match="label_width is 2"):
        next(ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=2,
                             label_width=2))
    with pytest.raises(MXNetError, match="data_shape"):
        ImageRecordIter(path_imgrec=rec_path, data_shape=(2, 16, 16), batch_size=2)
    with pytest.raises(MXNetError, match="part_index 3"):
        ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=2,
                        num_parts=3, part_index=3)


def test_mx_io_exports_it_and_fit_reports_waiting_for_data(recfile):
    from mxteach.widgets import DeviceSlices
    from test_widgets_core import expand, text_of

    class Slow(mx.io.DataIter):
        """ImageRecordIter with a deliberate 20 ms pause per batch: input-bound."""

        def __init__(self, inner):
            super().__init__(inner.batch_size)
            self.inner = inner
            self.provide_data, self.provide_label = inner.provide_data, inner.provide_label

        def reset(self):
            self.inner.reset()

        def next(self):
            time.sleep(0.02)
            return self.inner.next()

    rec_path, _, _ = recfile
    assert mx.io.ImageRecordIter is ImageRecordIter
    data = mx.sym.Variable("data")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.flatten(data), num_hidden=3),
                               name="softmax")
    mod = mx.mod.Module(net)
    view = DeviceSlices(mod)
    events = []
    mod.events.subscribe(events.append, kinds=["batch_end"])
    train = Slow(ImageRecordIter(path_imgrec=rec_path, data_shape=(3, 16, 16), batch_size=4,
                                 scale=1 / 255))
    mod.fit(train, num_epoch=2)
    assert len(events) == 6
    assert all(e["data_wait"] >= 0.015 for e in events)
    assert all(e["data_load"] > 0 for e in events)
    share = view.input_share()          # epoch 1: no kernel compilation in the compute part
    waits = sum(e["data_wait"] for e in events[3:])
    assert share == pytest.approx(waits / events[-1]["elapsed"])
    assert 0.3 < share <= 1.0
    assert view.model["input"]["batches"] == 3
    text = text_of(view.to_html())
    assert "waiting for data" in text and f"{share:.0%}" in text
    assert "Input-bound" in text and "reading and decoding" in text
    # the drawn bar: the orange part's width over the whole is the share
    svg = expand(view.to_html())
    wait_w = float(re.search(r'<rect[^>]*class="mxt-wait"[^>]*', svg).group(0)
                   .split(' width="')[1].split('"')[0])
    compute_w = float(re.search(r'<rect[^>]*class="mxt-compute"[^>]*', svg).group(0)
                      .split(' width="')[1].split('"')[0])
    assert wait_w / (wait_w + compute_w) == pytest.approx(share, abs=0.01)
