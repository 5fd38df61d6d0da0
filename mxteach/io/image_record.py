"""``mx.io.ImageRecordIter``: MXNet 1.9.1's threaded image pipeline over a RecordIO file.

One producer thread walks the records of this part (``num_parts``/``part_index`` split the
file by bytes, as MXNet's InputSplit does), reads them through ``mxteach.recordio``, and
hands each batch to ``preprocess_threads`` workers that decode (OpenCV, which releases the
GIL: the threads really use the cores), resize, crop, mirror and normalise straight into the
batch array; up to ``prefetch_buffer`` finished batches wait in a queue. Every batch carries
``load_time`` (seconds spent reading and decoding it), which ``fit`` reports in its
``batch_end`` events next to ``data_wait`` (how long training waited for it).

Batches equal MXNet's for the deterministic settings (no shuffle, no random crop or mirror):
same pixels, labels and padding, including MXNet's ``round_batch`` rule (the last batch is
filled from the start of the data and the next epoch begins after the rows so used).
Random crops and mirrors are drawn from a generator seeded with ``seed``: the same seed gives
the same batches here, and their distribution is MXNet's (uniform offsets, mirror with p=0.5).
"""
from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..base import MXNetError, MXNetValueError
from ..ndarray.ndarray import NDArray
from .base import DataBatch, DataDesc
from .wrappers import _CurrentBatchIter

__all__ = ["ImageRecordIter"]

ALIGN = 4             # RecordIO records start on 4-byte boundaries
OUT_DTYPES = ("float32", "float16", "uint8", "int8")
# MXNet options that only tune speed or logging here: accepted and ignored
QUIET = {"verbose", "shuffle_chunk_size", "shuffle_chunk_seed", "num_decode_threads", "ctx",
         "seed_aug", "aug_seq", "device_id"}


class RecordSource:
    """The records of a ``.rec`` file by byte offset, through ``mxteach.recordio``.

    With the ``.idx`` file the offsets come from it and each record is read when its batch
    is made (``MXIndexedRecordIO.read_idx``); without it the file is read once
    (``MXRecordIO.read``/``tell``) and this part's records stay in memory as encoded bytes
    (about the part's share of the file). Only the producer thread reads."""

    def __init__(self, path, idx_path=None):
        from .. import recordio
        self.path = path
        self.total_bytes = os.path.getsize(path)
        self._unpack = recordio.unpack
        self.records, self._keys, self._indexed = {}, {}, None
        if idx_path:
            self._indexed = recordio.MXIndexedRecordIO(idx_path, path, "r")
            self._keys = {offset: key for key, offset in self._indexed.idx.items()}
            self.offsets = sorted(self._keys)
            return
        self.offsets = []
        reader = recordio.MXRecordIO(path, "r")
        try:
            while True:
                offset = reader.tell()
                item = reader.read()
                if item is None:
                    break
                self.offsets.append(offset)
                self.records[offset] = item
        finally:
            reader.close()

    def keep(self, begin, end):
        """Forget the records that do not start in ``[begin, end)``; their offsets."""
        self.offsets = [o for o in self.offsets if begin <= o < end]
        if self._indexed is None:
            self.records = {o: self.records[o] for o in self.offsets}
        return self.offsets

    def read_at(self, offset):
        """``(IRHeader, encoded image bytes)`` of the record at ``offset``."""
        raw = self.records[offset] if self._indexed is None else \
            self._indexed.read_idx(self._keys[offset])
        try:
            return self._unpack(raw)
        except MXNetError:
            raise
        except Exception as err:
            raise MXNetError(f"{self.path}: record at byte {offset} is corrupt: {err}") from None

    def close(self):
        if self._indexed is not None:
            self._indexed.close()


def part_range(total_bytes, num_parts, part_index):
    """``[begin, end)`` byte range of part ``part_index``: MXNet's InputSplit cuts the file
    into ``num_parts`` equal steps rounded up to the record alignment; a part holds the
    records that *start* in its range."""
    step = (total_bytes + num_parts - 1) // num_parts
    step = (step + ALIGN - 1) // ALIGN * ALIGN
    return min(step * part_index, total_bytes), min(step * (part_index + 1), total_bytes)


def plan_epoch(n, batch_size, skip, round_batch, order):
    """The batches of one epoch as ``(positions, pad)`` and the rows the next epoch skips.

    ``order`` is this epoch's record order; the epoch starts at ``skip`` (rows MXNet already
    used to fill the previous epoch's last batch). With ``round_batch`` a short last batch
    is completed from the start of ``order`` and ``pad`` counts those rows; without it the
    missing rows are left empty (zeros) and counted in ``pad``."""
    rows = list(order[skip:]) if skip < n else []
    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        pad = batch_size - len(chunk)
        if pad and round_batch:
            chunk = chunk + [order[i % n] for i in range(pad)]
        batches.append((chunk, pad))
    last_pad = batches[-1][1] if batches else 0
    return batches, (last_pad % n if round_batch and n else 0)


class ImageRecordIter(_CurrentBatchIter):
    """Batches of images ``(batch_size, c, h, w)`` and labels from a ``.rec`` file packed by
    ``im2rec``, decoded and augmented in worker threads.

    The parameters have MXNet 1.9.1's names and defaults.

    Parameters
    ----------
    path_imgrec : str
        The RecordIO file. With ``path_imgidx`` (its ``.idx``) records are read as needed;
        without it the part's records are read once and kept (encoded) in memory.
    data_shape : tuple of int
        ``(channels, height, width)``; 3 channels (RGB) or 1 (grey).
    batch_size : int
    label_width : int, default 1
        Labels per record (records packed with several labels).
    shuffle : bool, default False
        A new record order every epoch (generator seeded with ``seed``, default 0).
    rand_crop, rand_mirror : bool, default False
        Random crop position instead of the centre; mirror with probability 0.5.
        ``mirror=True`` mirrors every image.
    resize : int, default -1
        Resize the shorter side to this many pixels before cropping (``inter_method``,
        default 1 = bilinear, OpenCV's codes; 9 and 10 as in ``mx.image``).
    mean_r, mean_g, mean_b, std_r, std_g, std_b, scale : float
        Output = ``(pixel - mean) / std * scale`` per channel.
    num_parts, part_index : int
        Read only part ``part_index`` of ``num_parts`` (distributed training).
    round_batch : bool, default True
        Complete the last batch from the start of the data (``pad`` counts those rows).
    preprocess_threads : int, default 4
        Decoding threads. ``prefetch_buffer`` (default 4): batches prepared ahead.
    data_name, label_name : str
        The names of the batch's data and label.
    dtype : str, default 'float32'
        The data's type.

    Raises
    ------
    MXNetError
        On a bad file, naming the file, the record and its byte offset.

    See notebook 03.
    """

    def __init__(self, path_imgrec=None, data_shape=None, batch_size=None, path_imgidx="",
                 label_width=1, shuffle=False, seed=0, rand_crop=False, rand_mirror=False,
                 mirror=False, resize=-1, inter_method=1, mean_r=0.0, mean_g=0.0,
                 mean_b=0.0, std_r=1.0, std_g=1.0, std_b=1.0, scale=1.0, num_parts=1,
                 part_index=0, round_batch=True, preprocess_threads=4, prefetch_buffer=4,
                 data_name="data", label_name="softmax_label", dtype="float32", **kwargs):
        for name, value in (("path_imgrec", path_imgrec), ("data_shape", data_shape),
                            ("batch_size", batch_size)):
            if value is None:
                raise MXNetValueError(f"ImageRecordIter: required parameter {name} is missing")
        unknown = sorted(set(kwargs) - QUIET)
        if unknown:
            warnings.warn(f"ImageRecordIter ignores {unknown} (not implemented in mxteach)",
                          stacklevel=2)
        data_shape = tuple(int(s) for s in data_shape)
        if len(data_shape) != 3 or data_shape[0] not in (1, 3):
            raise MXNetValueError(f"ImageRecordIter: data_shape must be (channels, height, "
                                  f"width) with 1 or 3 channels, got {data_shape}")
        if not 0 <= part_index < num_parts:
            raise MXNetValueError(f"ImageRecordIter: part_index {part_index} must be in "
                                  f"[0, num_parts={num_parts})")
        if dtype not in OUT_DTYPES:
            raise MXNetValueError(f"ImageRecordIter: dtype must be one of {OUT_DTYPES}, got "
                                  f"{dtype!r}")
        super().__init__(int(batch_size))
        self.path_imgrec = path_imgrec
        self.data_shape = data_shape
        self.label_width = int(label_width)
        self.shuffle, self.round_batch = bool(shuffle), bool(round_batch)
        self.rand_crop, self.rand_mirror, self.mirror = rand_crop, rand_mirror, mirror
        self.resize, self.inter_method = int(resize), int(inter_method)
        self.mean = np.array([mean_r, mean_g, mean_b][:data_shape[0]], np.float32)[:, None, None]
        self.std = np.array([std_r, std_g, std_b][:data_shape[0]], np.float32)[:, None, None]
        self.scale = np.float32(scale)
        self.dtype = dtype
        self.threads = max(1, int(preprocess_threads))
        self.prefetch = max(1, int(prefetch_buffer))
        self._rng = np.random.RandomState(seed)
        label_shape = (self.batch_size,) if self.label_width == 1 else \
            (self.batch_size, self.label_width)
        # numpy's scalar type, not the string: MXNet's descriptors print <class 'numpy.uint8'>
        self.provide_data = [DataDesc(data_name, (self.batch_size,) + data_shape,
                                      np.dtype(dtype).type)]
        self.provide_label = [DataDesc(label_name, label_shape)]
        self._source = RecordSource(path_imgrec, path_imgidx)
        begin, end = part_range(self._source.total_bytes, num_parts, part_index)
        self._offsets = self._source.keep(begin, end)
        if not self._offsets:
            raise MXNetError(f"ImageRecordIter: {path_imgrec} part {part_index} of {num_parts} "
                             f"(bytes {begin}..{end}) holds no record")
        self._pool = ThreadPoolExecutor(self.threads,
                                        thread_name_prefix=f"mxteach-decode-{id(self):x}")
        self._skip = 0
        self._producer = None
        self.current_batch = None
        self.reset()

    # -- epochs -------------------------------------------------------------------------------
    def reset(self):
        """Start the next epoch (a new order when shuffling); prefetching begins at once."""
        self._stop_producer()
        n = len(self._offsets)
        order = self._rng.permutation(n).tolist() if self.shuffle else list(range(n))
        batches, self._skip = plan_epoch(n, self.batch_size, self._skip, self.round_batch,
                                         order)
        draws = [self._draw(len(rows)) for rows, _ in batches]
        self._queue = queue.Queue(self.prefetch)
        self._stop = threading.Event()
        self._producer = threading.Thread(target=self._produce, name="mxteach-prefetch",
                                          args=(batches, draws, self._queue, self._stop),
                                          daemon=True)
        self._producer.start()

    def _draw(self, rows):
        """Random crop positions (fractions of the slack) and mirror flags for ``rows``."""
        crop = self._rng.random_sample((rows, 2)) if self.rand_crop else None
        flip = (self._rng.random_sample(rows) < 0.5) if self.rand_mirror else None
        return crop, flip

    def _stop_producer(self):
        """Stop this epoch's producer: it sees the flag after its current batch; taking
        batches off the queue frees it if it is blocked putting one."""
        if self._producer is None:
            return
        self._stop.set()
        while self._producer.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._producer = None

    # -- the producer thread ------------------------------------------------------------------
    def _produce(self, batches, draws, out, stop):
        """Make the epoch's batches in order; then None (the end) or the exception that
        stopped it, which the consumer raises. Two batches are in the workers at a time, so
        no thread idles while the slowest chunk of a batch finishes. Blocking puts: an
        abandoned iterator's producer waits without spinning."""
        item = None
        in_flight = []
        try:
            for (rows, pad), draw in zip(batches, draws):
                if stop.is_set():
                    return
                in_flight.append(self._start_batch(rows, pad, draw))
                if len(in_flight) == 2:
                    out.put(self._finish_batch(*in_flight.pop(0)))
            while in_flight and not stop.is_set():
                out.put(self._finish_batch(*in_flight.pop(0)))
        except Exception as err:     # handed to the consumer, raised there
            item = err
        if not stop.is_set():
            out.put(item)

    def _start_batch(self, rows, pad, draw):
        """Read the batch's records and hand its rows to the workers (round robin)."""
        c, h, w = self.data_shape
        data = np.zeros((self.batch_size, c, h, w), np.float32)
        label = np.zeros(self.provide_label[0].shape, np.float32)
        records = [(i, self._offsets[pos], self._source.read_at(self._offsets[pos]))
                   for i, pos in enumerate(rows)]
        chunks = [records[k::self.threads] for k in range(self.threads)]
        futures = [self._pool.submit(self._decode_chunk, chunk, data, label, draw)
                   for chunk in chunks if chunk]
        ids = [r[2][0].id for r in records] + [0] * (self.batch_size - len(records))
        return data, label, pad, ids, futures

    def _finish_batch(self, data, label, pad, ids, futures):
        """Wait for the workers; ``load_time`` = their seconds spent on this batch."""
        load_time = sum(f.result() for f in futures)
        if self.dtype != "float32":
            data = data.astype(self.dtype)
        batch = DataBatch([NDArray(data)], [NDArray(label)], pad=pad,
                          index=np.array(ids, np.uint64))
        batch.load_time = load_time
        return batch

    def _decode_chunk(self, chunk, data, label, draw):
        from ..image.image import decode_pixels, pick_interp, resize_pixels
        c, h, w = self.data_shape
        crop, flip = draw
        tic = time.perf_counter()
        for i, offset, (header, payload) in chunk:
            where = f"{self.path_imgrec} record at byte {offset}"
            # BGR as decoded: the channel swap to RGB is free in the final strided write
            img = decode_pixels(payload, flag=1 if c == 3 else 0, to_rgb=False, where=where)
            rows_, cols = img.shape[:2]
            if self.resize > 0:
                nh, nw = ((self.resize * rows_ // cols, self.resize) if rows_ > cols else
                          (self.resize, self.resize * cols // rows_))
                img = resize_pixels(img, nw, nh, pick_interp(self.inter_method,
                                                             (rows_, cols, nh, nw)))
                rows_, cols = img.shape[:2]
            if rows_ < h or cols < w:
                raise MXNetError(f"ImageRecordIter: {where}: image {rows_}x{cols} is smaller "
                                 f"than data_shape {h}x{w}; use resize=… to enlarge it")
            if crop is not None:
                y = int(crop[i, 0] * (rows_ - h + 1))
                x = int(crop[i, 1] * (cols - w + 1))
            else:
                y, x = (rows_ - h) // 2, (cols - w) // 2
            img = img[y:y + h, x:x + w]
            if self.mirror or (flip is not None and flip[i]):
                img = img[:, ::-1]
            out = data[i]
            np.subtract(img[:, :, ::-1].transpose(2, 0, 1), self.mean, out=out)
            out /= self.std
            out *= self.scale
            label[i] = self._label(header, where)
        return time.perf_counter() - tic

    def _label(self, header, where):
        values = np.atleast_1d(np.asarray(header.label, np.float32))
        if values.size < self.label_width:
            raise MXNetError(f"ImageRecordIter: {where} has {values.size} label(s), "
                             f"label_width is {self.label_width}: label_width must be 1 "
                             "unless the records were packed with that many labels")
        return values[0] if self.label_width == 1 else values[:self.label_width]

    # -- the consumer side --------------------------------------------------------------------
    def iter_next(self):
        item = self._queue.get()
        if isinstance(item, Exception):
            self._queue.put(item)
            raise item
        if item is None:
            self._queue.put(None)       # stays at the end until reset()
            self.current_batch = None
            return False
        self.current_batch = item
        return True

    def next(self):
        """The next batch (with ``load_time``: seconds its reading and decoding took)."""
        if not self.iter_next():
            raise StopIteration
        return self.current_batch

    def close(self):
        """Stop the prefetch thread and the decoding workers."""
        self._stop_producer()
        self._pool.shutdown(wait=False)
        self._source.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
