"""``mx.recordio``: MXNet's RecordIO files (``.rec``) and their text indexes (``.idx``).

A ``.rec`` file is a plain sequence of records, each one written as::

    uint32 magic = 0xced7230a | uint32 lrec | payload | zero padding to a multiple of 4 bytes

where the top 3 bits of ``lrec`` are a continuation flag and the low 29 bits the payload
length. The magic number marks where a record starts, so a reader can find its place again
after a seek into the middle of a file. Should a payload itself hold the magic number at a
4-byte aligned position, the writer cuts the record there and drops those 4 bytes: the parts
carry flag 1 (first), 2 (middle) and 3 (last) and the reader puts the magic back between
them; a record in one piece carries flag 0. All integers are little-endian. The ``.idx``
file written next to it by :class:`MXIndexedRecordIO` holds one ``key<TAB>byte offset`` line
per record. Files written here are read by MXNet and the reverse, byte for byte.

An *image record* (what ``im2rec`` and ``ImageRecordIter`` use) is a record whose payload
starts with the 24-byte :class:`IRHeader` (``struct`` format ``'IfQQ'``: flag, label, id,
id2); when ``flag > 0`` the header's label is 0 and ``flag`` float32 labels follow it. Then
comes the encoded image. :func:`pack`/:func:`unpack` handle the header,
:func:`pack_img`/:func:`unpack_img` also encode and decode the pixels (with OpenCV, as MXNet).

A damaged file (bad magic, cut short, a record part out of order) raises
:class:`~mxteach.base.MXNetError` naming the file, the record and its byte offset.
See notebook 03.
"""
from __future__ import annotations

import numbers
import os
import struct
from collections import namedtuple

import numpy as np

from .base import MXNetError, MXNetKeyError, MXNetTypeError, MXNetValueError

__all__ = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "pack", "unpack", "pack_img",
           "unpack_img"]

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_MAX_LEN = (1 << 29) - 1     # the 29 low bits of lrec hold the length
_FLAG_SHIFT = 29


def _encode_lrec(cflag, length):
    return struct.pack("<II", MAGIC, (cflag << _FLAG_SHIFT) | length)


def _pad(length):
    """Zero bytes that bring ``length`` up to a multiple of 4."""
    return -length % 4


class MXRecordIO:
    """Read or write a RecordIO file one record after the other.

    Parameters
    ----------
    uri : str
        Path of the ``.rec`` file.
    flag : {'r', 'w'}
        ``'r'`` reads an existing file; ``'w'`` creates (or empties) the file and appends.

    Examples
    --------
    >>> w = MXRecordIO('tmp.rec', 'w')
    >>> for i in range(3):
    ...     w.write(b'record_%d' % i)
    >>> w.close()
    >>> r = MXRecordIO('tmp.rec', 'r')
    >>> r.read(), r.read()
    (b'record_0', b'record_1')

    Notes
    -----
    The object can be pickled (it reopens the file on the other side, as MXNet's does); a
    reader used from another process than the one that opened it is reopened first.
    :meth:`tell` works for readers here too (MXNet has it on indexed writers only).

    See notebook 03.
    """

    def __init__(self, uri, flag):
        self.uri = os.fspath(uri)
        self.flag = flag
        self.is_open = False
        self.pid = None
        self._file = None
        self._count = 0       # records read since open/reset: named in error messages
        self._key = None      # the key MXIndexedRecordIO.seek moved to, for the same reason
        self.open()

    # -- opening and closing -------------------------------------------------------------
    def open(self):
        """Open the file (``'w'`` truncates it)."""
        if self.flag not in ("r", "w"):
            raise MXNetValueError(f"MXRecordIO {self.uri!r}: invalid flag {self.flag!r}; "
                                  "expected 'r' (read) or 'w' (write)")
        self.writable = self.flag == "w"
        try:
            self._file = open(self.uri, "wb" if self.writable else "rb")  # noqa: SIM115
        except OSError as err:
            what = "writing" if self.writable else "reading"
            raise MXNetError(f"MXRecordIO: cannot open {self.uri!r} for {what}: "
                             f"{err.strerror}") from None
        self.pid = os.getpid()
        self.is_open = True
        self._count = 0

    def close(self):
        """Close the file (flushing what was written)."""
        if not getattr(self, "is_open", False):
            return
        self._file.close()
        self._file = None
        self.is_open = False
        self.pid = None

    def reset(self):
        """Go back to the first record; a writer starts the file again, empty."""
        self.close()
        self.open()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):
        was_open = self.is_open
        self.close()
        state = dict(self.__dict__)
        state["is_open"] = was_open
        state["_file"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        was_open = state["is_open"]
        self.is_open = False
        if was_open:
            self.open()

    def _check_open(self, action, writing):
        if not self.is_open:
            raise MXNetError(f"MXRecordIO {self.uri!r}: cannot {action}, the file is closed")
        if writing != self.writable:
            mode = "write" if self.writable else "read"
            raise MXNetError(f"MXRecordIO {self.uri!r}: cannot {action} a file opened for "
                             f"{mode} (flag {self.flag!r})")

    def _check_pid(self, allow_reset):
        # a file handle shared across fork() would interleave positions: reopen or refuse
        if self.pid != os.getpid():
            if not allow_reset:
                raise MXNetError(f"MXRecordIO {self.uri!r}: opened in process {self.pid}, "
                                 f"used in {os.getpid()}; forbidden for a writer")
            self.reset()

    def tell(self):
        """The byte offset where the next record will be written (or read)."""
        if not self.is_open:
            raise MXNetError(f"MXRecordIO {self.uri!r}: cannot tell, the file is closed")
        return self._file.tell()

    # -- writing ---------------------------------------------------------------------------
    def write(self, buf):
        """Append one record holding the bytes ``buf``.

        Parameters
        ----------
        buf : bytes, bytearray or memoryview
            The payload, shorter than 2**29 bytes.
        """
        self._check_open("write", writing=True)
        self._check_pid(allow_reset=False)
        if not isinstance(buf, (bytes, bytearray, memoryview)):
            raise MXNetTypeError(f"MXRecordIO.write({self.uri!r}): a record must be bytes, "
                                 f"got {type(buf).__name__}")
        buf = bytes(buf)
        if len(buf) > _MAX_LEN:
            raise MXNetValueError(f"MXRecordIO.write({self.uri!r}): a record holds at most "
                                  f"{_MAX_LEN} bytes, got {len(buf)}")
        self._file.write(b"".join(_record_parts(buf)))

    # -- reading ---------------------------------------------------------------------------
    def read(self):
        """The next record's bytes, or None at the end of the file."""
        self._check_open("read", writing=False)
        self._check_pid(allow_reset=False)
        label = f"record {self._count}" if self._key is None else f"record of key {self._key!r}"
        record = _read_record(self._file, self.uri, label)
        self._key = None
        if record is not None:
            self._count += 1
        return record


def _record_parts(buf):
    """The bytes that store ``buf`` as one record: cut wherever the magic number sits at a
    4-byte aligned position (those 4 bytes are dropped), then padded with zeros."""
    parts, start = [], 0
    aligned_end = len(buf) - len(buf) % 4
    pos = buf.find(_MAGIC_BYTES)
    while 0 <= pos < aligned_end:
        if pos % 4 == 0:
            parts.append(_encode_lrec(1 if start == 0 else 2, pos - start))
            parts.append(buf[start:pos])
            start = pos + 4
            pos = buf.find(_MAGIC_BYTES, start)
        else:
            pos = buf.find(_MAGIC_BYTES, pos + 1)
    parts.append(_encode_lrec(3 if start else 0, len(buf) - start))
    parts.append(buf[start:])
    parts.append(b"\0" * _pad(len(buf)))
    return parts


def _read_record(f, path, label):
    """Read one (possibly multi-part) record from the file object ``f``; None at the end."""
    start = f.tell()
    pieces = []
    while True:
        at = f.tell()
        head = f.read(8)
        if not head and not pieces:
            return None
        where = f"{path}: {label} (starting at byte {start})"
        if len(head) < 8:
            raise MXNetError(f"{where}: file ends at byte {at + len(head)} inside a record "
                             f"header (8 bytes expected at byte {at}); the file is truncated")
        magic, lrec = struct.unpack("<II", head)
        if magic != MAGIC:
            raise MXNetError(f"{where}: bad magic number 0x{magic:08x} at byte {at}, "
                             f"expected 0x{MAGIC:08x}; not a RecordIO file, or corrupt, or "
                             "the offset is not the start of a record")
        cflag, length = lrec >> _FLAG_SHIFT, lrec & _MAX_LEN
        expected = (0, 1) if not pieces else (2, 3)
        if cflag not in expected:
            raise MXNetError(f"{where}: record part at byte {at} has continuation flag "
                             f"{cflag}, expected one of {expected}; the file is corrupt")
        padded = length + _pad(length)
        payload = f.read(padded)
        if len(payload) < padded:
            raise MXNetError(f"{where}: payload of {length} bytes at byte {at + 8} is cut "
                             f"short, only {len(payload)} bytes remain; the file is truncated")
        pieces.append(payload[:length])
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(pieces)


class MXIndexedRecordIO(MXRecordIO):
    """A RecordIO file plus its ``.idx`` index: read any record by its key.

    Parameters
    ----------
    idx_path : str
        Path of the text index (``key<TAB>offset`` per line).
    uri : str
        Path of the ``.rec`` file.
    flag : {'r', 'w'}
        Read, or write both files from scratch.
    key_type : type, optional
        How keys are parsed from the index (``int`` by default).

    Examples
    --------
    >>> w = MXIndexedRecordIO('tmp.idx', 'tmp.rec', 'w')
    >>> for i in range(5):
    ...     w.write_idx(i, b'record_%d' % i)
    >>> w.close()
    >>> MXIndexedRecordIO('tmp.idx', 'tmp.rec', 'r').read_idx(3)
    b'record_3'

    See notebook 03.
    """

    def __init__(self, idx_path, uri, flag, key_type=int):
        self.idx_path = os.fspath(idx_path)
        self.idx = {}
        self.keys = []
        self.key_type = key_type
        self.fidx = None
        super().__init__(uri, flag)

    def open(self):
        super().open()
        self.idx, self.keys = {}, []
        try:
            self.fidx = open(self.idx_path, self.flag)  # noqa: SIM115
        except OSError as err:
            super().close()
            raise MXNetError(f"MXIndexedRecordIO: cannot open index {self.idx_path!r}: "
                             f"{err.strerror}") from None
        if not self.writable:
            self._read_index()

    def _read_index(self):
        for lineno, line in enumerate(self.fidx, 1):
            if not line.strip():
                continue
            fields = line.strip().split("\t")
            try:
                if len(fields) != 2:
                    raise ValueError(f"{len(fields)} tab-separated fields")
                key, offset = self.key_type(fields[0]), int(fields[1])
            except ValueError as err:
                raise MXNetValueError(f"{self.idx_path}: line {lineno} is {line.rstrip()!r}; "
                                      f"expected 'key<TAB>byte offset' ({err})") from None
            self.idx[key] = offset
            self.keys.append(key)

    def close(self):
        if not getattr(self, "is_open", False):
            return
        super().close()
        self.fidx.close()

    def __getstate__(self):
        state = super().__getstate__()
        state["fidx"] = None
        return state

    def seek(self, idx):
        """Move the reader to the record of key ``idx``."""
        self._check_open("seek", writing=False)
        self._check_pid(allow_reset=True)
        try:
            pos = self.idx[idx]
        except KeyError:
            raise MXNetKeyError(f"MXIndexedRecordIO: key {idx!r} is not in the index "
                                f"{self.idx_path!r} ({len(self.keys)} keys)") from None
        self._file.seek(pos)
        self._key = idx

    def read_idx(self, idx):
        """The bytes of the record of key ``idx``."""
        self.seek(idx)
        return self.read()

    def write_idx(self, idx, buf):
        """Append the record ``buf`` under key ``idx`` (its offset goes to the index)."""
        key = self.key_type(idx)
        pos = self.tell()
        self.write(buf)
        self.fidx.write(f"{key}\t{pos}\n")
        self.idx[key] = pos
        self.keys.append(key)


IRHeader = namedtuple("HEADER", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """The header of an image record: ``(flag, label, id, id2)``.

``label`` is a number or an array of floats (then ``flag`` becomes its length when packed);
``id`` usually numbers the image and ``id2`` is 0. See notebook 03."""

_IR_FORMAT = "IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


def pack(header, s):
    """Bytes of an image record: the packed :class:`IRHeader` (plus float32 labels when
    ``header.label`` is an array), then ``s``.

    Examples
    --------
    >>> rec = pack(IRHeader(0, [1, 2, 3], 7, 0), b'jpeg bytes')
    >>> unpack(rec)[0].flag
    3

    See notebook 03.
    """
    header = IRHeader(*header)
    if not isinstance(s, (bytes, bytearray)):
        raise MXNetTypeError(f"recordio.pack: the payload must be bytes, got {type(s).__name__}")
    if isinstance(header.label, numbers.Number):
        header = header._replace(flag=0)
    else:
        label = np.asarray(header.label, dtype=np.float32)
        header = header._replace(flag=label.size, label=0)
        s = label.tobytes() + bytes(s)
    try:
        head = struct.pack(_IR_FORMAT, *header)
    except struct.error as err:
        raise MXNetValueError(f"recordio.pack: header {tuple(header)} does not fit "
                              f"'{_IR_FORMAT}' (uint32 flag, float label, uint64 id, id2): "
                              f"{err}") from None
    return head + bytes(s)


def unpack(s):
    """``(IRHeader, payload bytes)`` of an image record made by :func:`pack`.

    An array label comes back as a float32 numpy array in ``header.label``. A record too
    short for its header or its labels raises MXNetError. See notebook 03.
    """
    s = bytes(s)
    if len(s) < _IR_SIZE:
        raise MXNetError(f"recordio.unpack: record of {len(s)} bytes is shorter than the "
                         f"{_IR_SIZE}-byte image record header")
    header = IRHeader(*struct.unpack(_IR_FORMAT, s[:_IR_SIZE]))
    s = s[_IR_SIZE:]
    if header.flag > 0:
        need = header.flag * 4
        if len(s) < need:
            raise MXNetError(f"recordio.unpack: header announces {header.flag} float32 labels "
                             f"({need} bytes at byte {_IR_SIZE}) but only {len(s)} bytes "
                             "follow; the record is corrupt")
        header = header._replace(label=np.frombuffer(s, np.float32, header.flag))
        s = s[need:]
    return header, s


def _cv2():
    # OpenCV is a core dependency, imported on first use (as mx.image does)
    import cv2
    return cv2


def unpack_img(s, iscolor=-1):
    """``(IRHeader, image)``: the record's header and its decoded pixels as a numpy uint8
    array in OpenCV's BGR order (``iscolor``: -1 as stored, 0 grey, 1 colour).

    Unlike MXNet (which returns None for the image), bytes that do not decode raise
    MXNetError. See notebook 03.
    """
    header, payload = unpack(s)
    img = _cv2().imdecode(np.frombuffer(payload, dtype=np.uint8), iscolor)
    if img is None:
        raise MXNetError(f"recordio.unpack_img: record id {header.id}: {len(payload)} bytes "
                         f"starting {payload[:8].hex(' ')} are not an image OpenCV decodes")
    return header, img


def pack_img(header, img, quality=95, img_fmt=".jpg"):
    """Encode the numpy image ``img`` (BGR, as OpenCV) with ``img_fmt`` and :func:`pack` it.

    ``quality`` is the JPEG quality (0-100) or, for ``'.png'``, the compression level (0-9).
    See notebook 03.
    """
    cv2 = _cv2()
    fmt = img_fmt.upper()
    params = []
    if fmt in (".JPG", ".JPEG"):
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif fmt == ".PNG":
        params = [cv2.IMWRITE_PNG_COMPRESSION, quality]
    try:
        ok, buf = cv2.imencode(img_fmt, np.asarray(img), params)
    except cv2.error as err:
        raise MXNetValueError(f"recordio.pack_img: cannot encode an image of shape "
                              f"{np.shape(img)} as {img_fmt!r}: {err}") from None
    if not ok:
        raise MXNetValueError(f"recordio.pack_img: encoding as {img_fmt!r} failed")
    return pack(header, buf.tobytes())
