"""Sentences to integer ids, and an iterator that batches them by length (buckets).

:func:`encode_sentences` builds (or applies) a vocabulary; :class:`BucketSentenceIter` pads
each sentence to the smallest bucket that holds it and hands out batches whose ``bucket_key``
tells a ``BucketingModule`` which unrolled graph to use. The label is the data shifted left by
one step (next-word prediction). See notebook 08.
"""
from __future__ import annotations

import bisect
import random

import numpy as np

from .. import ndarray as _nd
from ..base import MXNetError
from ..io import DataBatch, DataDesc, DataIter

__all__ = ["encode_sentences", "BucketSentenceIter"]


def encode_sentences(sentences, vocab=None, invalid_label=-1, invalid_key="\n", start_label=0,
                     unknown_token=None):
    """Replace every word by an integer id.

    Parameters
    ----------
    sentences : list of list of str
        Tokenized sentences.
    vocab : dict of str to int, optional
        An existing vocabulary (then unseen words need ``unknown_token``). When None a new one
        is built, starting with ``{invalid_key: invalid_label}``; it is also extended in place.
    invalid_label : int
        Id kept for padding; never handed to a word.
    invalid_key : str
        The key stored for ``invalid_label`` in a new vocabulary.
    start_label : int
        The first id for words.
    unknown_token : str, optional
        Words missing from a given vocabulary map to this token (added on first use).

    Returns
    -------
    (list of list of int, dict of str to int)
        The encoded sentences and the vocabulary.

    Examples
    --------
    >>> encode_sentences([['a', 'b'], ['b', 'c']], invalid_label=0, start_label=1)[0]
    [[1, 2], [2, 3]]

    See notebook 08.
    """
    building = vocab is None
    if building:
        vocab = {invalid_key: invalid_label}
    next_id = start_label
    encoded = []
    for sentence in sentences:
        ids = []
        for word in sentence:
            if word not in vocab:
                if not (building or unknown_token):
                    raise MXNetError(f"Unknown token {word}: it is not in the given vocab; "
                                     f"pass unknown_token='<unk>' to map unseen words")
                if next_id == invalid_label:
                    next_id += 1
                if unknown_token:
                    word = unknown_token
                vocab[word] = next_id
                next_id += 1
            ids.append(vocab[word])
        encoded.append(ids)
    return encoded, vocab


class BucketSentenceIter(DataIter):
    """Batches of equal-length, padded sentences for a ``BucketingModule``.

    Each sentence goes to the smallest bucket at least as long (longer ones are discarded);
    it is padded with ``invalid_label``. Only whole batches are served: a bucket holding
    ``n`` sentences gives ``n // batch_size`` batches. ``reset()`` shuffles the batch order with
    Python's ``random`` and the sentences inside each bucket with ``numpy.random`` — the same
    generators MXNet 1.9 uses, so seeding both (``random.seed``, ``np.random.seed``) reproduces
    MXNet's batches exactly.

    Parameters
    ----------
    sentences : list of list of int
        Encoded sentences (see :func:`encode_sentences`).
    batch_size : int
    buckets : list of int, optional
        Bucket lengths. Default: every length that at least ``batch_size`` sentences have.
    invalid_label : int
        Padding id, also the label after the last word.
    data_name, label_name : str
    dtype : str
    layout : {'NT', 'TN'}
        Batch-major or time-major batches.

    Attributes
    ----------
    buckets : list of int
        The buckets that received at least one sentence, sorted.
    default_bucket_key : int
        The largest bucket; ``provide_data`` describes it.
    data : list of numpy.ndarray
        One ``(sentences, bucket length)`` array per bucket.
    idx : list of (int, int)
        (bucket, first row) of every batch, in serving order.

    See notebook 08.
    """

    def __init__(self, sentences, batch_size, buckets=None, invalid_label=-1, data_name="data",
                 label_name="softmax_label", dtype="float32", layout="NT"):
        super().__init__(batch_size)
        if not buckets:
            counts = np.bincount([len(s) for s in sentences])
            buckets = [length for length, n in enumerate(counts) if n >= batch_size]
        buckets = sorted(buckets)
        rows = [[] for _ in buckets]
        used = [False] * len(buckets)
        ndiscard = 0
        for sentence in sentences:
            b = bisect.bisect_left(buckets, len(sentence))
            if b == len(buckets):
                ndiscard += 1
                continue
            used[b] = True
            row = np.full((buckets[b],), invalid_label, dtype=dtype)
            row[:len(sentence)] = sentence
            rows[b].append(row)
        self.buckets = [length for length, u in zip(buckets, used) if u]
        self.data = [np.asarray(r, dtype=dtype) for r in rows if r]
        if not self.data:
            raise MXNetError(f"BucketSentenceIter: no sentence fits the buckets {buckets}")
        print(f"WARNING: discarded {ndiscard} sentences longer than the largest bucket.")
        self.batch_size = batch_size
        self.data_name = data_name
        self.label_name = label_name
        self.dtype = dtype
        self.invalid_label = invalid_label
        self.layout = layout
        self.major_axis = layout.find("N")
        if self.major_axis not in (0, 1):
            raise ValueError(f"Invalid layout {layout}: Must by NT (batch major) or TN "
                             f"(time major)")
        self.default_bucket_key = max(self.buckets)
        self.provide_data = [self._desc(self.data_name, self.default_bucket_key)]
        self.provide_label = [self._desc(self.label_name, self.default_bucket_key)]
        self.idx = [(b, start) for b, block in enumerate(self.data)
                    for start in range(0, len(block) - batch_size + 1, batch_size)]
        self.nddata = []
        self.ndlabel = []
        self.curr_idx = 0
        self.reset()

    def _desc(self, name, length):
        shape = (self.batch_size, length) if self.major_axis == 0 else (length,
                                                                        self.batch_size)
        return DataDesc(name=name, shape=shape, layout=self.layout)

    def reset(self):
        """Shuffle the batch order and each bucket's sentences; rebuild the labels."""
        self.curr_idx = 0
        random.shuffle(self.idx)
        for block in self.data:
            np.random.shuffle(block)
        self.nddata, self.ndlabel = [], []
        for block in self.data:
            label = np.empty_like(block)
            label[:, :-1] = block[:, 1:]
            label[:, -1] = self.invalid_label
            self.nddata.append(_nd.array(block, dtype=self.dtype))
            self.ndlabel.append(_nd.array(label, dtype=self.dtype))

    def next(self):
        """The next :class:`DataBatch`, with ``bucket_key`` and per-batch shapes."""
        if self.curr_idx == len(self.idx):
            raise StopIteration
        b, start = self.idx[self.curr_idx]
        self.curr_idx += 1
        data = self.nddata[b][start:start + self.batch_size]
        label = self.ndlabel[b][start:start + self.batch_size]
        if self.major_axis == 1:
            data, label = data.T, label.T
        return DataBatch([data], [label], pad=0, bucket_key=self.buckets[b],
                         provide_data=[DataDesc(name=self.data_name, shape=data.shape,
                                                layout=self.layout)],
                         provide_label=[DataDesc(name=self.label_name, shape=label.shape,
                                                 layout=self.layout)])
