"""Reference answers of notebook 03 (data iterators and RecordIO), and typical wrong ones.

``tests/test_course_exercises.py`` runs every check of ``mxteach/course/nb03.py`` against these.
"""
import struct

import numpy as np


def batches(n, batch_size, mode):
    """One epoch of NDArrayIter's slicing: full batches, then the last one padded or dropped."""
    out = []
    for start in range(0, n, batch_size):
        idx = list(range(start, min(start + batch_size, n)))
        pad = batch_size - len(idx)
        if pad and mode == "discard":
            break
        idx += [i % n for i in range(pad)]          # filled from the start of the data
        out.append((idx, pad))
    return out


def _batches_pad_repeats_last(n, batch_size, mode):
    # mistake: fills a padded batch by repeating the last row
    out = batches(n, batch_size, mode)
    return [(idx[:batch_size - pad] + [n - 1] * pad, pad) for idx, pad in out]


def pack_record(label, ident, payload):
    return struct.pack("<IfQQ", 0, label, ident, 0) + payload


def _pack_int_label(label, ident, payload):
    # mistake: the label written as an integer
    return struct.pack("<IIQQ", 0, int(label), ident, 0) + payload


MEAN = np.array([120.0, 110.0, 100.0], np.float32)[:, None, None]
STD = np.array([60.0, 50.0, 40.0], np.float32)[:, None, None]


def prepare(img):
    y, x = (img.shape[0] - 28) // 2, (img.shape[1] - 28) // 2
    crop = img[y:y + 28, x:x + 28].astype(np.float32).transpose(2, 0, 1)
    return (crop - MEAN) / STD * 0.5


def _prepare_corner_crop(img):
    crop = img[:28, :28].astype(np.float32).transpose(2, 0, 1)
    return (crop - MEAN) / STD * 0.5


def _prepare_hwc(img):
    y, x = (img.shape[0] - 28) // 2, (img.shape[1] - 28) // 2
    crop = img[y:y + 28, x:x + 28].astype(np.float32)
    return (crop - MEAN.ravel()) / STD.ravel() * 0.5


SOLUTIONS = {
    "03.1": {"pad": [3, 3], "discard": [2, 2], "roll_over": [2, 3]},
    "03.2": batches,
    "03.3": pack_record,
    "03.4": prepare,
}

WRONG = {
    "03.1": [({"pad": [3, 3], "discard": [2, 2], "roll_over": [3, 3]}, "next epoch")],
    "03.2": [(_batches_pad_repeats_last, "filled from the start")],
    "03.3": [(_pack_int_label, "label (float32)")],
    "03.4": [(_prepare_corner_crop, "differs"), (_prepare_hwc, "channels first")],
}
