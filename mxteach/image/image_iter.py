"""``mx.image.ImageIter``: MXNet 1.9.1's Python image iterator over a ``.rec`` file, an
``.lst`` image list or a Python list of images, with augmenters.

Batches follow MXNet's: ``last_batch_handle`` 'pad' fills the last batch from the start of
the data (and then stops), 'discard' drops it, 'roll_over' carries the remainder into the
next epoch; ``shuffle`` uses Python's ``random.shuffle`` on the key list at each ``reset``.
"""
from __future__ import annotations

import logging
import os
import random
from numbers import Number

import numpy as np

from ..base import MXNetError, MXNetValueError
from ..io.base import DataBatch, DataDesc, DataIter
from ..ndarray.ndarray import NDArray
from .augmenters import CreateAugmenter
from .image import as_numpy, decode_pixels

__all__ = ["ImageIter"]

LABEL_DTYPES = ("int32", "float32", "int64", "float64")


def _read_list_file(path, dtype):
    """``{key: (label array, relative path)}`` and the keys in file order from an ``.lst``."""
    imglist, keys = {}, []
    with open(path) as fin:
        for lineno, line in enumerate(fin, 1):
            fields = line.strip().split("\t")
            if len(fields) < 3:
                raise MXNetError(f"{path} line {lineno}: expected 'index<TAB>label(s)<TAB>path', "
                                 f"got {len(fields)} tab-separated field(s): {line.strip()!r}")
            key = int(fields[0])
            imglist[key] = (np.array([float(v) for v in fields[1:-1]], dtype=dtype), fields[-1])
            keys.append(key)
    return imglist, keys


def _from_python_list(items, dtype):
    imglist, keys = {}, []
    for index, item in enumerate(items, 1):
        key = str(index)
        if len(item) > 2:
            label = np.array(item[:-1], dtype=dtype)
        elif isinstance(item[0], Number):
            label = np.array([item[0]], dtype=dtype)
        else:
            label = np.array(as_numpy(item[0]), dtype=dtype).ravel()
        imglist[key] = (label, item[-1])
        keys.append(key)
    return imglist, keys


class ImageIter(DataIter):
    """Image batches ``(batch_size, 3, h, w)`` from ``path_imgrec`` (with ``path_imgidx``
    for shuffling and parts), ``path_imglist`` + ``path_root`` or ``imglist``
    (``[[label, path], ...]``), through ``aug_list`` or ``CreateAugmenter(data_shape,
    **kwargs)``.

    Parameters are MXNet 1.9.1's: ``batch_size, data_shape, label_width=1, path_imgrec,
    path_imglist, path_root, path_imgidx, shuffle, part_index, num_parts, aug_list, imglist,
    data_name, label_name, dtype, last_batch_handle`` and CreateAugmenter's keywords.
    For the fast threaded reader of ``.rec`` files see ``mx.io.ImageRecordIter``.
    See notebook 03.
    """

    def __init__(self, batch_size, data_shape, label_width=1, path_imgrec=None,
                 path_imglist=None, path_root=None, path_imgidx=None, shuffle=False,
                 part_index=0, num_parts=1, aug_list=None, imglist=None, data_name="data",
                 label_name="softmax_label", dtype="float32", last_batch_handle="pad",
                 **kwargs):
        super().__init__(batch_size)
        if not (path_imgrec or path_imglist or isinstance(imglist, list)):
            raise MXNetValueError("ImageIter needs path_imgrec, path_imglist or imglist (a "
                                  "list of [label, path])")
        if dtype not in LABEL_DTYPES:
            raise MXNetValueError(f"ImageIter: label dtype {dtype!r} not supported; expected "
                                  f"one of {LABEL_DTYPES}")
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise MXNetValueError(f"ImageIter: last_batch_handle must be 'pad', 'discard' or "
                                  f"'roll_over', got {last_batch_handle!r}")
        if len(data_shape) != 3:
            raise MXNetValueError(f"data_shape should have length 3, with dimensions CxHxW; "
                                  f"got {data_shape}")
        if data_shape[0] != 3:
            raise MXNetValueError(f"This iterator expects inputs to have 3 channels; data_shape "
                                  f"is {data_shape}")
        from .. import recordio
        self.imgrec, self.imgidx = None, None
        if path_imgrec:
            if path_imgidx:
                self.imgrec = recordio.MXIndexedRecordIO(path_imgidx, path_imgrec, "r")
                self.imgidx = list(self.imgrec.keys)
            else:
                self.imgrec = recordio.MXRecordIO(path_imgrec, "r")
        keys = None
        if path_imglist:
            self.imglist, keys = _read_list_file(path_imglist, dtype)
        elif isinstance(imglist, list):
            self.imglist, keys = _from_python_list(imglist, dtype)
        else:
            self.imglist = None
        self.path_root = path_root
        self.data_shape = tuple(data_shape)
        self.label_width = label_width
        self.label_dtype = dtype
        label_shape = (batch_size, label_width) if label_width > 1 else (batch_size,)
        self.provide_data = [DataDesc(data_name, (batch_size,) + self.data_shape)]
        self.provide_label = [DataDesc(label_name, label_shape)]
        self.shuffle = shuffle
        if self.imgrec is None:
            self.seq = keys
        elif shuffle or num_parts > 1 or path_imgidx:
            if self.imgidx is None:
                raise MXNetValueError("ImageIter: shuffle and num_parts > 1 need path_imgidx "
                                      "(the .idx file of the .rec)")
            self.seq = self.imgidx
        else:
            self.seq = None
        if num_parts > 1:
            if not 0 <= part_index < num_parts:
                raise MXNetValueError(f"ImageIter: part_index {part_index} must be in "
                                      f"[0, {num_parts})")
            n = len(self.seq) // num_parts
            self.seq = self.seq[part_index * n:(part_index + 1) * n]
        self.auglist = CreateAugmenter(data_shape, **kwargs) if aug_list is None else aug_list
        self.last_batch_handle = last_batch_handle
        self.num_image = len(self.seq) if self.seq is not None else None
        self.cur = 0
        self._allow_read = True
        self._cache = None            # (data, label, filled) kept by 'roll_over'
        logging.info("ImageIter: decoding in the calling thread; mx.io.ImageRecordIter "
                     "decodes in worker threads")
        self.reset()

    # -- epochs -------------------------------------------------------------------------------
    def reset(self):
        """Back to the start (a new shuffle); 'roll_over' keeps the carried-over rows."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.last_batch_handle != "roll_over" or self._cache is None:
            if self.imgrec is not None:
                self.imgrec.reset()
            self.cur = 0
            self._allow_read = True

    def hard_reset(self):
        """Back to the start, dropping rows carried over by 'roll_over'."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.imgrec is not None:
            self.imgrec.reset()
        self.cur = 0
        self._allow_read = True
        self._cache = None

    # -- samples ------------------------------------------------------------------------------
    def next_sample(self):
        """``(label, encoded image bytes)`` of the next example; StopIteration at the end."""
        from .. import recordio
        if not self._allow_read:
            raise StopIteration
        if self.seq is None:
            record = self.imgrec.read()
            if record is None:
                if self.last_batch_handle != "discard":
                    self.imgrec.reset()
                raise StopIteration
            header, img = recordio.unpack(record)
            return header.label, img
        if self.cur >= self.num_image:
            if self.last_batch_handle != "discard":
                self.cur = 0
            raise StopIteration
        idx = self.seq[self.cur]
        self.cur += 1
        if self.imgrec is not None:
            header, img = recordio.unpack(self.imgrec.read_idx(idx))
            return (header.label if self.imglist is None else self.imglist[idx][0]), img
        label, fname = self.imglist[idx]
        return label, self.read_image(fname)

    def read_image(self, fname):
        """The encoded bytes of ``fname`` under ``path_root``."""
        with open(os.path.join(self.path_root or "", fname), "rb") as fin:
            return fin.read()

    def imdecode(self, s):
        """Decode one sample; the error names the record or file that failed."""
        if self.seq is not None:
            idx = self.seq[self.cur - 1]
        else:
            idx = self.cur - 1
        where = (f"image file '{self.imglist[idx][1]}'" if self.imglist is not None
                 else f"record {idx}")
        return NDArray(decode_pixels(s, where=where))

    def augmentation_transform(self, data):
        """Run the augmenters in order."""
        for aug in self.auglist:
            data = aug(data)
        return data

    def postprocess_data(self, datum):
        """HWC image to the CHW layout of a batch row."""
        return np.transpose(as_numpy(datum), (2, 0, 1))

    def _batchify(self, data, label, start=0):
        i = start
        try:
            while i < self.batch_size:
                lab, s = self.next_sample()
                img = self.augmentation_transform(self.imdecode(s))
                data[i] = self.postprocess_data(img)
                label[i] = np.asarray(as_numpy(lab), dtype=np.float32).reshape(label.shape[1:])
                i += 1
        except StopIteration:
            if not i:
                raise
        return i

    def next(self):
        """The next :class:`DataBatch` (``pad`` = filler rows of the last batch)."""
        c, h, w = self.data_shape
        if self._cache is not None:
            data, label, filled = self._cache
        else:
            data = np.zeros((self.batch_size, c, h, w), dtype=np.float32)
            label = np.empty(self.provide_label[0].shape, dtype=np.float32)
            filled = self._batchify(data, label)
        pad = self.batch_size - filled
        if pad:
            if self.last_batch_handle == "discard":
                raise StopIteration
            if self.last_batch_handle == "roll_over" and self._cache is None:
                self._cache = (data, label, filled)
                raise StopIteration
            self._batchify(data, label, filled)
            if self.last_batch_handle == "pad":
                self._allow_read = False
            else:
                self._cache = None
        return DataBatch([NDArray(data)], [NDArray(label)], pad=pad)
