"""mx.image against MXNet 1.9.1: decoding, resizing, crops (same Python random draws), the
augmenter list and its random jitter, and ImageIter batches over image lists and .rec files."""
import random

import numpy as np
import pytest

import mxteach as mx
from mxteach import recordio
from mxteach.base import MXNetError
from oracle import run_oracle

N_IMAGES = 7


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """7 smooth images (JPEG and PNG) of 20..39 px sides; returns (folder, [file names])."""
    import cv2
    root = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(3)
    names = []
    for i in range(N_IMAGES):
        img = cv2.GaussianBlur(rng.randint(0, 255, (rng.randint(20, 40), rng.randint(20, 40), 3))
                               .astype(np.uint8), (5, 5), 2)
        name = f"img{i}.{'png' if i % 3 == 0 else 'jpg'}"
        cv2.imwrite(str(root / name), img)
        names.append(name)
    return str(root), names


@pytest.mark.oracle
def test_decode_and_resize_equal_mxnet(folder):
    root, names = folder
    mxnet = run_oracle("""
for n in names:
    buf = open(root + '/' + n, 'rb').read()
    img = mx.image.imdecode(buf)
    out[n] = img.asnumpy()
    out[n + '/gray'] = mx.image.imdecode(buf, flag=0).asnumpy()
    out[n + '/bgr'] = mx.image.imdecode(buf, to_rgb=0).asnumpy()
    out[n + '/read'] = mx.image.imread(root + '/' + n).asnumpy()
    for interp in range(5):
        out[n + '/resize%d' % interp] = mx.image.imresize(img, 17, 23, interp=interp).asnumpy()
    out[n + '/short'] = mx.image.resize_short(img, 15, interp=1).asnumpy()
    out[n + '/center'] = mx.image.center_crop(img, (12, 14), interp=1)[0].asnumpy()
    out[n + '/fixed'] = mx.image.fixed_crop(img, 2, 3, 10, 12, size=(8, 8), interp=0).asnumpy()
""", root=root, names=names)
    for n in names:
        with open(f"{root}/{n}", "rb") as f:
            buf = f.read()
        img = mx.image.imdecode(buf)
        assert img.dtype == np.uint8
        np.testing.assert_array_equal(img.asnumpy(), mxnet[n])
        np.testing.assert_array_equal(mx.image.imdecode(buf, flag=0).asnumpy(), mxnet[n + "/gray"])
        np.testing.assert_array_equal(mx.image.imdecode(buf, to_rgb=0).asnumpy(), mxnet[n + "/bgr"])
        np.testing.assert_array_equal(mx.image.imread(f"{root}/{n}").asnumpy(), mxnet[n + "/read"])
        for interp in range(5):
            ours = mx.image.imresize(img, 17, 23, interp=interp).asnumpy().astype(int)
            # nearest, bilinear and area are bit-exact; OpenCV's bicubic and Lanczos
            # tables differ by one grey level between its versions
            tol = 0 if interp in (0, 1, 3) else 1
            assert np.abs(ours - mxnet[n + f"/resize{interp}"]).max() <= tol, (n, interp)
        np.testing.assert_array_equal(mx.image.resize_short(img, 15, interp=1).asnumpy(),
                                      mxnet[n + "/short"])
        np.testing.assert_array_equal(mx.image.center_crop(img, (12, 14), interp=1)[0].asnumpy(),
                                      mxnet[n + "/center"])
        np.testing.assert_array_equal(
            mx.image.fixed_crop(img, 2, 3, 10, 12, size=(8, 8), interp=0).asnumpy(),
            mxnet[n + "/fixed"])


@pytest.mark.oracle
def test_random_crops_draw_like_mxnet(folder):
    root, names = folder
    mxnet = run_oracle("""
import random
img = mx.image.imread(root + '/' + names[1])
random.seed(11)
out['crops'] = [mx.image.random_crop(img, (15, 12), interp=1)[1] for _ in range(5)]
out['sized'] = [mx.image.random_size_crop(img, (10, 10), 0.3, (0.75, 1.33), interp=1)[1]
                for _ in range(5)]
out['last'] = mx.image.random_size_crop(img, (10, 10), 0.3, (0.75, 1.33), interp=1)[0].asnumpy()
""", root=root, names=names)
    img = mx.image.imread(f"{root}/{names[1]}")
    random.seed(11)
    crops = [mx.image.random_crop(img, (15, 12), interp=1)[1] for _ in range(5)]
    sized = [mx.image.random_size_crop(img, (10, 10), 0.3, (0.75, 1.33), interp=1)[1]
             for _ in range(5)]
    last = mx.image.random_size_crop(img, (10, 10), 0.3, (0.75, 1.33), interp=1)[0]
    assert [list(c) for c in crops] == [list(c) for c in mxnet["crops"]]
    assert [list(c) for c in sized] == [list(c) for c in mxnet["sized"]]
    np.testing.assert_array_equal(last.asnumpy(), mxnet["last"])


AUG = dict(resize=24, rand_crop=True, rand_resize=True, rand_mirror=True, mean=True, std=True,
           brightness=0.3, contrast=0.3, saturation=0.3, hue=0.2, pca_noise=0.1, rand_gray=0.3,
           inter_method=1)


@pytest.mark.oracle
def test_create_augmenter_list_and_random_pipeline_equal_mxnet(folder):
    root, names = folder
    mxnet = run_oracle("""
import random
augs = mx.image.CreateAugmenter((3, 16, 16), **aug)
out['dumps'] = [a.dumps() for a in augs]
img = mx.image.imread(root + '/' + names[2])
res = []
for seed in range(6):
    random.seed(seed); np.random.seed(seed)
    x = img
    for a in augs:
        x = a(x)
    res.append(x.asnumpy())
out['res'] = np.stack(res)
""", root=root, names=names, aug=AUG)
    augs = mx.image.CreateAugmenter((3, 16, 16), **AUG)
    assert [a.dumps() for a in augs] == mxnet["dumps"]
    img = mx.image.imread(f"{root}/{names[2]}")
    for seed in range(6):
        random.seed(seed)
        np.random.seed(seed)
        x = img
        for a in augs:
            x = a(x)
        assert x.shape == (16, 16, 3) and x.dtype == np.float32
        np.testing.assert_allclose(x.asnumpy(), mxnet["res"][seed], rtol=1e-4, atol=1e-3)


@pytest.mark.oracle
@pytest.mark.parametrize("handle", ["pad", "discard", "roll_over"])
def test_image_iter_over_an_image_list_equals_mxnet(folder, handle):
    root, names = folder
    imglist = [[float(i % 2), n] for i, n in enumerate(names)]
    code = """
import random
random.seed(5)
it = mx.image.ImageIter(3, (3, 16, 16), imglist=imglist, path_root=root, shuffle=True,
                        last_batch_handle=handle, resize=18, inter_method=1)
for e in range(2):
    batches = []
    while True:
        try:
            b = it.next()
        except StopIteration:
            break
        batches.append((b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad))
    out[str(e)] = batches
    it.reset()
"""
    mxnet = run_oracle(code, root=root, imglist=imglist, handle=handle)
    random.seed(5)
    it = mx.image.ImageIter(3, (3, 16, 16), imglist=imglist, path_root=root, shuffle=True,
                            last_batch_handle=handle, resize=18, inter_method=1)
    for e in range(2):
        ours = list(it)
        it.reset()
        assert len(ours) == len(mxnet[str(e)]), (handle, e)
        for b, (data, label, pad) in zip(ours, mxnet[str(e)]):
            assert b.pad == pad
            np.testing.assert_array_equal(b.label[0].asnumpy(), label)
            np.testing.assert_array_equal(b.data[0].asnumpy(), data)


@pytest.mark.oracle
def test_image_iter_over_a_rec_file_equals_mxnet(folder, tmp_path):
    root, names = folder
    rec, idx = str(tmp_path / "x.rec"), str(tmp_path / "x.idx")
    writer = recordio.MXIndexedRecordIO(idx, rec, "w")
    for i, n in enumerate(names):
        with open(f"{root}/{n}", "rb") as f:
            writer.write_idx(i, recordio.pack(recordio.IRHeader(0, float(i), i, 0), f.read()))
    writer.close()
    mxnet = run_oracle("""
import random
random.seed(2)
it = mx.image.ImageIter(4, (3, 16, 16), path_imgrec=rec, path_imgidx=idx, shuffle=True,
                        num_parts=2, part_index=1)
out['batches'] = [(b.data[0].asnumpy(), b.label[0].asnumpy(), b.pad) for b in it]
""", rec=rec, idx=idx)
    random.seed(2)
    it = mx.image.ImageIter(4, (3, 16, 16), path_imgrec=rec, path_imgidx=idx, shuffle=True,
                            num_parts=2, part_index=1)
    ours = list(it)
    assert len(ours) == len(mxnet["batches"])
    for b, (data, label, pad) in zip(ours, mxnet["batches"]):
        assert b.pad == pad
        np.testing.assert_array_equal(b.label[0].asnumpy(), label)
        # default interp 2 (bicubic): one grey level apart between OpenCV versions
        assert np.abs(b.data[0].asnumpy() - data).max() <= 1


def test_jitter_augmenters_follow_their_formulas():
    rng = np.random.RandomState(0)
    pixels = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    gray_w = np.array([0.299, 0.587, 0.114], np.float32)
    random.seed(4)
    alpha = 1.0 + random.uniform(-0.4, 0.4)
    random.seed(4)
    out = mx.image.SaturationJitterAug(0.4)(mx.nd.array(pixels)).asnumpy()
    gray = (pixels * gray_w).sum(axis=2, keepdims=True)
    np.testing.assert_allclose(out, pixels * alpha + gray * (1 - alpha), rtol=1e-5)
    random.seed(4)
    out = mx.image.ContrastJitterAug(0.4)(mx.nd.array(pixels)).asnumpy()
    mean_gray = (pixels * gray_w).sum() * 3.0 / pixels.size
    np.testing.assert_allclose(out, pixels * alpha + (1 - alpha) * mean_gray, rtol=1e-5)
    flipped = mx.image.HorizontalFlipAug(1.0)(mx.nd.array(pixels)).asnumpy()
    np.testing.assert_array_equal(flipped, pixels[:, ::-1])
    norm = mx.image.ColorNormalizeAug(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 8.0]))
    np.testing.assert_allclose(norm(mx.nd.array(pixels)).asnumpy(),
                               (pixels - [1, 2, 3]) / [2, 4, 8], rtol=1e-6)


def test_bad_input_raises_mxneterror(folder, tmp_path):
    root, names = folder
    with pytest.raises(MXNetError, match="empty"):
        mx.image.imdecode(b"")
    with pytest.raises(MXNetError, match="decoding failed .*19 bytes"):
        mx.image.imdecode(b"not an image at all")
    with pytest.raises(MXNetError, match="couldn't open file"):
        mx.image.imread(str(tmp_path / "missing.jpg"))
    img = mx.image.imread(f"{root}/{names[0]}")
    with pytest.raises(MXNetError, match="parameter w should be >= 1"):
        mx.image.imresize(img, 0, 4)
    with pytest.raises(MXNetError, match="Unknown interp method 7"):
        mx.image.imresize(img, 4, 4, interp=7)
    with pytest.raises(MXNetError, match="3 channels"):
        mx.image.ImageIter(2, (1, 8, 8), imglist=[[0, names[0]]], path_root=root)
    with pytest.raises(MXNetError, match="mean must be"):
        mx.image.CreateAugmenter((3, 8, 8), mean=[1, 2])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    it = mx.image.ImageIter(1, (3, 8, 8), imglist=[[0, "broken.jpg"]], path_root=str(tmp_path))
    with pytest.raises(MXNetError, match="image file 'broken.jpg'"):
        it.next()


def test_core_import_does_not_load_opencv():
    import subprocess
    import sys
    code = ("import sys, mxteach as mx; mx.io; mx.image; "
            "assert 'cv2' not in sys.modules, 'cv2 imported'; "
            "mx.image.imdecode(open(sys.argv[1], 'rb').read()); assert 'cv2' in sys.modules")
    import cv2
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".png") as f:
        cv2.imwrite(f.name, np.zeros((4, 4, 3), np.uint8))
        res = subprocess.run([sys.executable, "-c", code, f.name], capture_output=True,
                             text=True)
    assert res.returncode == 0, res.stderr
