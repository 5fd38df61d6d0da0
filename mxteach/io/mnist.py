"""``mx.io.MNISTIter``: batches of the MNIST idx files, as MXNet 1.9.1 hands them out.

MXNet loads the whole part of the file into memory, scales the pixels by 1/256 (not 1/255:
the largest value is 255/256), shuffles once -- with ``std::shuffle`` seeded ``seed`` in a
Mersenne twister, so the order is the same on every epoch and on every machine -- and then
gives out full batches only: the remainder that does not fill a batch is never seen and no
batch is padded. This file repeats all of it, the shuffle included, so the same files give
the same batches here and in MXNet.

See notebook 03.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from ..base import MXNetValueError
from .idx_file import read_idx
from .mx_data_iter import MXDataIter, check_kwargs, check_part, positive_int

__all__ = ["MNISTIter", "cxx_shuffle_order"]

_PREFETCH = ("prefetch_buffer", "ctx", "dtype")
_MXNET_IGNORES = ("data_shape", "label_shape", "input_shape")   # passed by MXNet examples


class _MT19937:
    """The raw 32-bit outputs of ``std::mt19937(seed)``: numpy's legacy RandomState seeds its
    Mersenne twister the same way and draws full-range uint32 values one output each."""

    def __init__(self, seed):
        self._state = np.random.RandomState(seed % (1 << 32))
        self._buffer = []

    def __call__(self):
        if not self._buffer:
            block = self._state.randint(0, 1 << 32, size=4096, dtype=np.uint64)
            self._buffer = block[::-1].tolist()
        return self._buffer.pop()


def _uniform_int(gen, high):
    """libstdc++'s ``uniform_int_distribution(0, high)`` on a 32-bit engine: divide the
    engine's range into ``high + 1`` equal slices, redraw when the value lands past them."""
    slices = high + 1
    scaling = 0xFFFFFFFF // slices
    past = slices * scaling
    while True:
        value = gen()
        if value < past:
            return value // scaling


def cxx_shuffle_order(n, seed):
    """The permutation ``std::shuffle`` (libstdc++, as MXNet 1.9.1's wheels are built)
    applies to ``0..n-1`` with ``std::mt19937(seed)``: Fisher-Yates from the front, element
    ``i`` swapped with a uniform position in ``[0, i]``."""
    order = list(range(n))
    gen = _MT19937(seed)
    for i in range(1, n):
        j = _uniform_int(gen, i)
        order[i], order[j] = order[j], order[i]
    return np.asarray(order, dtype=np.int64)


class MNISTIter(MXDataIter):
    """Iterate over MNIST idx files (``train-images-idx3-ubyte`` and its labels).

    Parameters
    ----------
    image, label : str
        Paths of the image file (idx, uint8, 3 dimensions) and the label file (uint8, 1).
    batch_size : int, optional
        Examples per batch (128). Examples that do not fill a last batch are skipped.
    shuffle : bool, optional
        Shuffle once, when the files are loaded (True, as in MXNet).
    flat : bool, optional
        Data of shape ``(batch, rows*cols)`` instead of ``(batch, 1, rows, cols)``.
    seed : int, optional
        Seed of the shuffle (0).
    silent : bool, optional
        Do not print the "load N images" line (False).
    num_parts, part_index : int, optional
        Read only part ``part_index`` of ``num_parts`` equal slices (distributed training).
    data_name, label_name : str, optional
        Names in ``provide_data``/``provide_label``.

    Notes
    -----
    ``prefetch_buffer`` and ``ctx`` are accepted and change nothing (no prefetch thread is
    needed for data already in memory); ``data_shape``, which MXNet's examples pass, is
    ignored as in MXNet. ``getindex()`` returns zeros, as MXNet's does.

    Examples
    --------
    >>> from mxteach.datasets import make_mnist_idx
    >>> files = make_mnist_idx('data')
    >>> it = MNISTIter(image=files['train_images'], label=files['train_labels'],
    ...                batch_size=100, flat=True, silent=True)
    >>> it.provide_data[0].shape
    (100, 784)

    See notebook 03.
    """

    _name = "MNISTIter"

    def __init__(self, image="./train-images-idx3-ubyte", label="./train-labels-idx1-ubyte",
                 batch_size=128, shuffle=True, flat=False, seed=0, silent=False, num_parts=1,
                 part_index=0, data_name="data", label_name="softmax_label", **kwargs):
        check_kwargs("MNISTIter", kwargs, _PREFETCH + _MXNET_IGNORES)
        dtype = kwargs.get("dtype")
        if dtype is not None and np.dtype(dtype) != np.float32:
            raise MXNetValueError(f"MNISTIter: dtype {dtype!r} is not supported; the images "
                                  "come out as float32")
        self._batch_size = positive_int("MNISTIter", "batch_size", batch_size)
        num_parts, part_index = check_part("MNISTIter", num_parts, part_index)
        images = read_idx(image, expect=(0x08, 3))
        labels = read_idx(label, expect=(0x08, 1))
        if len(images) != len(labels):
            raise MXNetValueError(f"MNISTIter: {image} holds {len(images)} images but {label} "
                                  f"holds {len(labels)} labels")
        # the same split as MXNet's, computed in double precision
        begin = int(len(images) / num_parts * part_index)
        end = int(len(images) / num_parts * (part_index + 1))
        # uint8 times 1/256 is exact in float32, as MXNet computes it
        self._images = images[begin:end].astype(np.float32) * np.float32(1.0 / 256.0)
        self._labels = labels[begin:end].astype(np.float32)
        if shuffle:
            order = cxx_shuffle_order(len(self._labels), int(seed))
            self._images, self._labels = self._images[order], self._labels[order]
        rows, cols = images.shape[1:]
        self._shape = (rows * cols,) if flat else (1, rows, cols)
        self._loc = 0
        if not silent:
            self._announce(shuffle, flat)
        super().__init__(data_name, label_name)

    def _announce(self, shuffle, flat):
        # MXNet's C++ log line (stderr, not the logging module), shapes printed its way
        shape = (self._batch_size,) + self._shape
        text = (f"({shape[0]},{shape[1]})" if flat
                else "[" + ",".join(str(d) for d in shape) + "]")
        sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] MNISTIter: load "
                         f"{len(self._labels)} images, shuffle={int(bool(shuffle))}, "
                         f"shape={text}\n")

    def _load(self):
        start, stop = self._loc, self._loc + self._batch_size
        if stop > len(self._labels):
            return None
        self._loc = stop
        data = self._images[start:stop].reshape((self._batch_size,) + self._shape)
        return (data, self._labels[start:stop], 0,
                np.zeros(self._batch_size, np.uint64))

    def _rewind(self):
        self._loc = 0
