"""Exercise checks of notebook 03 (data iterators and RecordIO).

Each check runs mxteach's own iterators, RecordIO writer or ImageRecordIter to find the truth,
then compares the student's answer with it. See notebook 03.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .checking import Wrong, close, exercise

MODES = ("pad", "discard", "roll_over")


def _answered(fn, *args, what):
    """Call the student's function; an empty body (``...`` or no ``return``) is not answered yet."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__} {fn!r}")
    out = fn(*args)
    if out is None or out is Ellipsis:
        raise Wrong(f"not answered yet: {what} returned {out!r}; write its body (with a "
                    "`return`) and run its cell again.")
    return out


def epochs(n, batch_size, mode, count=2):
    """``[[(labels, pad) per batch] per epoch]`` of ``NDArrayIter`` over ``n`` examples."""
    from ..io import NDArrayIter
    x = np.arange(n * 2, dtype="float32").reshape(n, 2)
    it = NDArrayIter(x, np.arange(n, dtype="float32"), batch_size=batch_size,
                     last_batch_handle=mode)
    out = []
    for _ in range(count):
        out.append([(b.label[0].asnumpy().astype(int).tolist(), int(b.pad or 0)) for b in it])
        it.reset()
    return out


@exercise("03.1", "how many batches?")
def check_batch_counts(answer):
    """``answer``: ``{mode: [batches in epoch 1, batches in epoch 2]}`` for 10 examples, batch 4."""
    if not isinstance(answer, dict) or set(answer) != set(MODES):
        raise Wrong(f"expected a dict with the keys {list(MODES)}")
    for mode in MODES:
        truth = [len(e) for e in epochs(10, 4, mode)]
        said = list(answer[mode]) if isinstance(answer[mode], (list, tuple)) else answer[mode]
        if said != truth:
            why = {"pad": "the last batch is filled up from the start of the data (pad tells "
                          "how many rows are filler), every epoch",
                   "discard": "the incomplete last batch is dropped, every epoch",
                   "roll_over": "the leftover rows are kept and start the next epoch, so "
                                "epoch 1 drops them and epoch 2 has one batch more"}[mode]
            raise Wrong(f"{mode!r}: the epochs have {truth} batches, you said {said}: {why}")
    return "Right: only 'pad' keeps every row in every epoch, at the price of filler rows."


@exercise("03.2", "slice an epoch into batches")
def check_batches(batches):
    """``batches(n, batch_size, mode)`` → ``[(row indices, pad), ...]`` of one epoch, for
    ``'pad'`` and ``'discard'``; compared with ``NDArrayIter`` for several sizes."""
    for n, bs in ((10, 4), (12, 4), (7, 3), (5, 8), (9, 2)):
        for mode in ("pad", "discard"):
            if mode == "discard" and n < bs:
                continue     # NDArrayIter refuses a batch larger than the data here
            truth = epochs(n, bs, mode, count=1)[0]
            got = _answered(batches, n, bs, mode, what="batches")
            got = [(list(map(int, idx)), int(pad)) for idx, pad in got]
            if len(got) != len(truth):
                raise Wrong(f"batches({n}, {bs}, {mode!r}) gave {len(got)} batches; "
                            f"NDArrayIter gives {len(truth)}")
            for k, ((idx, pad), (tidx, tpad)) in enumerate(zip(got, truth)):
                if idx != tidx:
                    raise Wrong(f"batches({n}, {bs}, {mode!r}): batch {k} holds rows {idx}, "
                                f"NDArrayIter's holds {tidx}"
                                + (" — a padded batch is filled from the start of the data"
                                   if tpad else ""))
                if pad != tpad:
                    raise Wrong(f"batches({n}, {bs}, {mode!r}): batch {k} has pad {pad}; "
                                f"expected {tpad} (the number of filler rows)")
    return "Right: this is the slicing NDArrayIter (and every MXNet iterator's pad) follows."


def _pack_truth(label, ident, payload):
    from ..recordio import IRHeader, pack
    return pack(IRHeader(0, label, ident, 0), payload)


@exercise("03.3", "pack a record header")
def check_pack(pack_record):
    """``pack_record(label, id, payload)`` must give ``mx.recordio.pack``'s bytes."""
    for label, ident, payload in ((3.0, 7, b"ab"), (0.5, 123456789012, b""),
                                  (9.0, 0, bytes(range(40)))):
        got = _answered(pack_record, label, ident, payload, what="pack_record")
        want = _pack_truth(label, ident, payload)
        if not isinstance(got, (bytes, bytearray)):
            raise Wrong(f"pack_record should return bytes, got {type(got).__name__}")
        if len(got) != len(want):
            raise Wrong(f"pack_record({label}, {ident}, {payload[:4]!r}...) has {len(got)} "
                        f"bytes; mx.recordio.pack gives {len(want)}: the header is 24 bytes "
                        "(flag uint32, label float32, id uint64, id2 uint64) then the payload")
        if bytes(got) != want:
            k = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
            field = ("flag" if k < 4 else "label (float32)" if k < 8 else "id (uint64)"
                     if k < 16 else "id2 (uint64)" if k < 24 else "payload")
            raise Wrong(f"pack_record({label}, {ident}, ...) differs from mx.recordio.pack at "
                        f"byte {k}, in the {field} field; the format is little-endian "
                        "struct 'IfQQ'")
    return "Right: a record is this header plus the image bytes; im2rec writes nothing else."


PREP = {"data_shape": (3, 28, 28), "mean_r": 120.0, "mean_g": 110.0, "mean_b": 100.0,
        "std_r": 60.0, "std_g": 50.0, "std_b": 40.0, "scale": 0.5}


def _colour_record(directory):
    from ..datasets import synthetic_digits
    from ..recordio import IRHeader, MXIndexedRecordIO, pack_img
    images, labels = synthetic_digits(3, seed=11, size=32)
    path = os.path.join(directory, "colour")
    rec = MXIndexedRecordIO(path + ".idx", path + ".rec", "w")
    for i, (img, lab) in enumerate(zip(images, labels)):
        bgr = np.stack([img * 0.3, img * 0.6, img * 1.0], axis=-1).astype(np.uint8)
        bgr[..., 0] += np.arange(32, dtype=np.uint8)[None, :]      # not symmetric: crops show
        rec.write_idx(i, pack_img(IRHeader(0, float(lab), i, 0), bgr, img_fmt=".png", quality=3))
    rec.close()
    return path


@exercise("03.4", "ImageRecordIter's pixel pipeline")
def check_prepare(prepare):
    """``prepare(img)`` turns a decoded HWC RGB uint8 image (32 x 32) into the CHW float32
    array ``ImageRecordIter`` gives for ``PREP``'s settings (centre crop, mean, std, scale)."""
    from ..image import imdecode
    from ..io import ImageRecordIter
    from ..recordio import MXIndexedRecordIO, unpack
    with tempfile.TemporaryDirectory() as tmp:
        path = _colour_record(tmp)
        it = ImageRecordIter(path_imgrec=path + ".rec", batch_size=3, preprocess_threads=1,
                             **PREP)
        want = next(iter(it)).data[0].asnumpy()
        it.close()
        rec = MXIndexedRecordIO(path + ".idx", path + ".rec", "r")
        images = [imdecode(unpack(rec.read_idx(i))[1]).asnumpy() for i in range(3)]
        rec.close()
    for i, img in enumerate(images):
        got = _answered(prepare, img.copy(), what="prepare")
        got = np.asarray(got.asnumpy() if hasattr(got, "asnumpy") else got, dtype=np.float32)
        if got.shape != want[i].shape:
            raise Wrong(f"prepare gave shape {got.shape}; ImageRecordIter gives {want[i].shape} "
                        "(channels first: transpose HWC to CHW, after a centred 28 x 28 crop)")
        close(got, want[i], f"prepare(image {i})", atol=1e-3)
    return "Right: crop, then (pixel - mean) / std * scale per RGB channel, channels first."
