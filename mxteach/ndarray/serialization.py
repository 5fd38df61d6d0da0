"""``mx.nd.save`` / ``mx.nd.load``: MXNet 1.x's binary NDArray list format, byte for byte.

A file holds a list of arrays and, optionally, one name per array (a saved dict)::

    uint64  0x112                       list magic
    uint64  0                           reserved
    uint64  n                           number of arrays, then n array records
    uint64  k                           number of names (0 for a saved list, else n), then
                                        k times: uint64 byte length + UTF-8 bytes

An array record (all integers little-endian)::

    uint32  0xF993FAC9 (V2) or 0xF993FACA (V3, written under numpy shape semantics)
    int32   storage type: 0 dense, 1 row_sparse, 2 csr
    [sparse only: storage shape, as below]
    int32   ndim, then ndim x int64 dims    (V2: ndim 0 = no array; V3: ndim -1 = no array)
    int32   dev_type (1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared), int32 dev_id
    int32   dtype flag (0 float32, 1 float64, 2 float16, 3 uint8, 4 int32, 5 int8, 6 int64, 7 bool)
    [sparse only: per auxiliary array its int32 dtype flag and its shape]
    raw C-order data (for sparse: the stored values, then each auxiliary array's data)

Older records that MXNet 1.9 still reads are read here too: V1 (magic 0xF993FAC8, no storage
type) and the pre-V1 layout, whose first uint32 is ndim followed by uint32 dims.

Differences from MXNet worth knowing:

* Loaded arrays are always on ``cpu(0)`` (MXNet does the same for CPU contexts; it would move a
  GPU-saved array back to the GPU when one is present).
* Sparse records load as ``RowSparseNDArray`` / ``CSRNDArray``, as in MXNet; their indices
  are checked (MXNet trusts them).
* Every declared size is checked against the bytes that remain before anything is allocated;
  a shape of more than 2**40 elements is refused as corrupt.
* MXNet's legacy shape semantics cannot express 0-d or zero-size arrays (MXNet 1.9.1 even writes
  a 0-d array as a V2 record that it cannot read back). When any array is 0-d or zero-size, this
  module writes the whole file with V3 records, as MXNet does under ``mx.util.np_shape(True)``;
  real MXNet then loads it only inside ``with mx.util.np_shape(True):``. mxteach loads V2 and V3
  files alike.
* A saved empty dict comes back as an empty list, exactly as in MXNet (no names are stored).

See notebook 01.
"""
from __future__ import annotations

import os
import struct

import numpy as np

from ..fileio import atomic_write
from ..base import MXNetError
from ..context import Context
from .ndarray import NDArray
from .sparse_storage import from_parts

__all__ = ["save", "load", "load_frombuffer", "dumps", "loads", "array_record",
           "load_array_record"]

LIST_MAGIC = 0x112
V1_MAGIC = 0xF993FAC8
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA

STYPE_DEFAULT, STYPE_ROW_SPARSE, STYPE_CSR = 0, 1, 2
_STYPE_NAMES = {STYPE_DEFAULT: "default", STYPE_ROW_SPARSE: "row_sparse", STYPE_CSR: "csr"}
_NUM_AUX = {STYPE_DEFAULT: 0, STYPE_ROW_SPARSE: 1, STYPE_CSR: 2}

# mshadow's type flags as MXNet 1.9.1's Python front-end knows them
FLAG_TO_DTYPE = {0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
                 4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?")}
DTYPE_TO_FLAG = {d.newbyteorder("="): f for f, d in FLAG_TO_DTYPE.items()}
# flags mshadow defines but MXNet 1.9.1's Python (and numpy, for bfloat16) cannot use
_KNOWN_UNSUPPORTED = {8: "int16", 9: "uint16", 10: "uint32", 11: "uint64", 12: "bfloat16"}

# No real array has a dimension, or a count of elements (zero-size axes left out), beyond
# 2**40; a larger declared shape is corruption, refused before numpy is asked to make it.
MAX_ELEMENTS = 1 << 40


class SerializationTypeError(MXNetError, TypeError):
    """A value, key or argument of the wrong type (MXNet raises TypeError here)."""


class SerializationValueError(MXNetError, ValueError):
    """``save`` was given something other than an NDArray, a list or a dict."""


class NDArrayFileNotFound(MXNetError, FileNotFoundError):
    """``load`` was given a path where there is no file."""


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
def _normalise(data):
    """(arrays, names) from what ``save`` accepts, or raise the error MXNet would."""
    if isinstance(data, NDArray):
        return [data], []
    if isinstance(data, dict):
        for k, v in data.items():
            if not isinstance(k, str):
                raise SerializationTypeError(f"save: dict keys must be str, got key {k!r} of "
                                             f"type {type(k).__name__}")
            if not isinstance(v, NDArray):
                raise SerializationTypeError(f"save: value for key {k!r} is a "
                                             f"{type(v).__name__}, not an NDArray (wrap numpy "
                                             f"data with mx.nd.array)")
        return list(data.values()), list(data.keys())
    if isinstance(data, list):
        for i, v in enumerate(data):
            if not isinstance(v, NDArray):
                raise SerializationTypeError(f"save: list item {i} is a {type(v).__name__}, "
                                             f"not an NDArray (wrap numpy data with "
                                             f"mx.nd.array)")
        return list(data), []
    raise SerializationValueError(f"save: data must be an NDArray, a list of NDArrays or a "
                                  f"dict str -> NDArray, got {type(data).__name__}")


def _dtype_flag(dtype, what):
    flag = DTYPE_TO_FLAG.get(np.dtype(dtype).newbyteorder("="))
    if flag is None:
        raise SerializationTypeError(f"save: {what} has dtype {np.dtype(dtype).name}, which "
                                     f"MXNet files cannot hold; supported: "
                                     f"{', '.join(d.name for d in FLAG_TO_DTYPE.values())}")
    return flag


def _shape_bytes(shape):
    return struct.pack(f"<i{len(shape)}q", len(shape), *shape)


def _sparse_bytes(arr, magic, what):
    values, aux = arr._values, arr._aux
    stype = STYPE_CSR if arr.stype == "csr" else STYPE_ROW_SPARSE
    flag = _dtype_flag(values.dtype, what)
    ctx = arr.context
    parts = [struct.pack("<Ii", magic, stype), _shape_bytes(values.shape),
             _shape_bytes(arr.shape), struct.pack("<iii", ctx.device_typeid, ctx.device_id, flag)]
    for a in aux:
        parts += [struct.pack("<i", _dtype_flag(a.dtype, what)), _shape_bytes(a.shape)]
    parts.append(np.ascontiguousarray(values, dtype=FLAG_TO_DTYPE[flag]).tobytes())
    parts += [np.ascontiguousarray(a, dtype=FLAG_TO_DTYPE[_dtype_flag(a.dtype, what)]).tobytes()
              for a in aux]
    return b"".join(parts)


def _array_bytes(arr, magic, what):
    if arr.stype != "default":
        return _sparse_bytes(arr, magic, what)
    host = arr.asnumpy()
    flag = DTYPE_TO_FLAG.get(host.dtype.newbyteorder("="))
    if flag is None:
        raise SerializationTypeError(f"save: {what} has dtype {host.dtype.name}, which MXNet "
                                     f"files cannot hold; supported: "
                                     f"{', '.join(d.name for d in FLAG_TO_DTYPE.values())}")
    ctx = arr.context
    parts = [struct.pack("<Ii", magic, STYPE_DEFAULT),
             struct.pack(f"<i{host.ndim}q", host.ndim, *host.shape),
             struct.pack("<iii", ctx.device_typeid, ctx.device_id, flag),
             np.ascontiguousarray(host, dtype=FLAG_TO_DTYPE[flag]).tobytes()]
    return b"".join(parts)


def dumps(data):
    """The bytes ``save(fname, data)`` would write (for checkpoint code and in-memory use)."""
    arrays, names = _normalise(data)
    needs_np_shape = any(a.ndim == 0 or a.size == 0 for a in arrays)
    magic = V3_MAGIC if needs_np_shape else V2_MAGIC
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    for i, arr in enumerate(arrays):
        parts.append(_array_bytes(arr, magic, f"key {names[i]!r}" if names else f"item {i}"))
    parts.append(struct.pack("<Q", len(names)))
    for name in names:
        raw = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(raw)) + raw)
    return b"".join(parts)


def save(fname, data):
    """Save an NDArray, a list of NDArrays or a dict ``str -> NDArray`` in MXNet's format.

    The file is written atomically: the data is serialised first (so a bad value raises before
    any file is touched), then written to a temporary file in the same folder and renamed.

    Parameters
    ----------
    fname : str or os.PathLike
        The file to write.
    data : NDArray, list of NDArray or dict of str to NDArray
        What to save. A single NDArray is saved as a one-item list.

    Examples
    --------
    >>> import mxteach as mx, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "w.params")
    >>> mx.nd.save(f, {"arg:w": mx.nd.ones((2, 3))})
    >>> mx.nd.load(f)["arg:w"].shape
    (2, 3)
    """
    fname = _fspath(fname, "save")
    atomic_write(fname, dumps(data))


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
class _Reader:
    """A cursor over the bytes of one file; every failure names the file and the byte offset."""

    def __init__(self, buf, source):
        self.buf = memoryview(buf).cast("B")
        self.pos = 0
        self.source = source

    def fail(self, msg, at=None):
        at = self.pos if at is None else at
        raise MXNetError(f"{self.source}: {msg} (at byte {at} of {len(self.buf)})")

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.buf):
            self.fail(f"truncated: {what} needs {n} bytes, only {len(self.buf) - self.pos} left")
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt, what):
        size = struct.calcsize(fmt)
        start = self.take(size, what)
        return struct.unpack_from(fmt, self.buf, start)

    def one(self, fmt, what):
        return self.unpack(fmt, what)[0]


def _read_shape(r, what, legacy_ndim=None):
    if legacy_ndim is not None:  # pre-V1: the "magic" was ndim, dims are uint32
        ndim = legacy_ndim
        if ndim > 64:
            r.fail(f"{what}: not an array record (first word 0x{ndim:08X} is neither a known "
                   f"magic number nor a plausible ndim)", r.pos - 4)
        shape = tuple(r.unpack(f"<{ndim}I", f"{what} shape"))
        _check_plausible(r, shape, what, r.pos)
        return shape, False
    at = r.pos
    ndim = r.one("<i", f"{what} ndim")
    if ndim == -1:
        return None, True  # V3 "unknown shape": no data follows
    if ndim < 0 or ndim > 64:
        r.fail(f"{what}: implausible ndim {ndim}", at)
    shape = r.unpack(f"<{ndim}q", f"{what} shape")
    if any(d < 0 for d in shape):
        return shape, True  # an unknown dimension: MXNet stores no data either
    _check_plausible(r, shape, what, at)
    return tuple(shape), False


def _check_plausible(r, shape, what, at):
    count = 1
    for d in shape:
        count *= d if d else 1
    if count > MAX_ELEMENTS:
        r.fail(f"{what}: implausible shape {tuple(shape)} ({count} elements; corrupt file?)", at)


def _read_dtype(r, what):
    at = r.pos
    flag = r.one("<i", f"{what} dtype flag")
    if flag in FLAG_TO_DTYPE:
        return FLAG_TO_DTYPE[flag]
    if flag in _KNOWN_UNSUPPORTED:
        r.fail(f"{what}: dtype flag {flag} ({_KNOWN_UNSUPPORTED[flag]}) is not supported "
               f"(MXNet 1.9.1's Python cannot use it either)", at)
    r.fail(f"{what}: unknown dtype flag {flag} (corrupt file?)", at)


def _read_data(r, dtype, shape, what):
    count = int(np.prod(shape, dtype=object)) if shape else 1
    start = r.take(count * dtype.itemsize, f"{what} data ({count} x {dtype.name})")
    flat = np.frombuffer(r.buf, dtype=dtype, count=count, offset=start)
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _sparse(stype, values, aux, shape, r, what, at):
    """The sparse array a record holds; its indices are checked, never trusted (a negative one
    would silently wrap around)."""
    try:
        return from_parts(_STYPE_NAMES[stype], values, aux, shape)
    except MXNetError as err:
        r.fail(f"{what}: {err}", at)


def _read_array(r, index):
    what = f"array #{index}"
    at = r.pos
    magic = r.one("<I", f"{what} magic")
    stype = STYPE_DEFAULT
    if magic in (V2_MAGIC, V3_MAGIC):
        stype = r.one("<i", f"{what} storage type")
        if stype not in _NUM_AUX:
            r.fail(f"{what}: unknown storage type {stype}", r.pos - 4)
        sshape = None
        if _NUM_AUX[stype]:
            sshape, none = _read_shape(r, f"{what} storage")
            if none:
                r.fail(f"{what}: sparse record without a storage shape", at)
        shape, none = _read_shape(r, what)
        if magic == V2_MAGIC and shape == ():
            none = True  # legacy semantics: ndim 0 means "no shape"
    elif magic == V1_MAGIC:
        shape, none = _read_shape(r, what)
        none = none or shape == ()
    else:
        shape, none = _read_shape(r, what, legacy_ndim=magic)
        none = none or shape == () or 0 in shape
    if none:
        r.fail(f"{what} is an empty placeholder ('none' NDArray without a shape), which "
               f"mxteach cannot represent", at)
    r.unpack("<ii", f"{what} context")  # the saved device; arrays always load onto cpu(0)
    dtype = _read_dtype(r, what)
    if stype == STYPE_DEFAULT:
        return _read_data(r, dtype, shape, what)
    aux_meta = []
    for k in range(_NUM_AUX[stype]):
        aux_dtype = _read_dtype(r, f"{what} aux {k}")
        aux_shape, aux_none = _read_shape(r, f"{what} aux {k}")
        if aux_none:
            r.fail(f"{what}: aux {k} has no shape", at)
        aux_meta.append((aux_dtype, aux_shape))
    values = _read_data(r, dtype, sshape, what)
    aux = [_read_data(r, d, s, f"{what} aux {k}") for k, (d, s) in enumerate(aux_meta)]
    return _sparse(stype, values, aux, shape, r, what, at)


def loads(buf, source="<bytes>"):
    """Parse MXNet's NDArray list format from ``buf``: a list, or a dict when names are stored.

    ``source`` names the data in error messages (``load`` passes the file name).
    """
    r = _Reader(buf, source)
    if len(r.buf) < 16:
        r.fail(f"truncated: {len(r.buf)} bytes is shorter than the 16-byte header", 0)
    magic, _reserved = r.unpack("<QQ", "header")
    if magic != LIST_MAGIC:
        r.fail(f"bad magic 0x{magic:X}, expected 0x{LIST_MAGIC:X}: not an MXNet NDArray file", 0)
    at = r.pos
    count = r.one("<Q", "array count")
    if count * 16 > len(r.buf) - r.pos:  # each record is at least 16 bytes
        r.fail(f"truncated or corrupt: the header announces {count} arrays, which cannot fit "
               f"in the remaining {len(r.buf) - r.pos} bytes", at)
    arrays = [_read_array(r, i) for i in range(count)]
    at = r.pos
    n_names = r.one("<Q", "name count")
    if n_names not in (0, count):
        r.fail(f"corrupt: {n_names} names for {count} arrays", at)
    names = []
    for i in range(n_names):
        length = r.one("<Q", f"length of name #{i}")
        start = r.take(length, f"name #{i}")
        try:
            names.append(bytes(r.buf[start:start + length]).decode("utf-8"))
        except UnicodeDecodeError:
            r.fail(f"name #{i} is not valid UTF-8", start)
    cpu0 = Context("cpu", 0)
    nds = [a if isinstance(a, NDArray) else NDArray(a, cpu0) for a in arrays]  # sparse: as is
    if not names:
        return nds
    return dict(zip(names, nds))


def array_record(arr):
    """One array's record, without the list header: what MXNet's ``MXNDArraySaveRawBytes``
    returns and what a pickled MXNet NDArray carries as ``{'handle': record}``.

    V2 as ``save`` writes it; V3 for a 0-d or zero-size array (see the module notes).
    """
    magic = V3_MAGIC if (arr.ndim == 0 or arr.size == 0) else V2_MAGIC
    return _array_bytes(arr, magic, "array")


def load_array_record(buf, source="<bytes>"):
    """The NDArray (on ``cpu(0)``) held in one record, as :func:`array_record` writes it.

    A truncated or corrupt record, or bytes left over after it, raise MXNetError naming
    ``source``.
    """
    r = _Reader(buf, source)
    data = _read_array(r, 0)
    if r.pos != len(r.buf):
        r.fail(f"{len(r.buf) - r.pos} unexpected bytes after the array record")
    return data if isinstance(data, NDArray) else NDArray(data, Context("cpu", 0))


def load_frombuffer(buf):
    """Like ``load``, from bytes holding a saved file (e.g. read from a zip or a socket)."""
    if isinstance(buf, str):  # MXNet accepts a str holding the raw bytes
        buf = buf.encode("latin-1")
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise SerializationTypeError(f"load_frombuffer needs bytes, got {type(buf).__name__}")
    return loads(buf, "<buffer>")


def load(fname):
    """Load a file written by ``mx.nd.save`` (here or in MXNet 1.x).

    Returns a list of NDArrays, or a dict ``name -> NDArray`` when the file stores names.
    Arrays are placed on ``cpu(0)``. A missing, truncated or corrupt file raises MXNetError
    naming the file and the problem.
    """
    fname = _fspath(fname, "load")
    try:
        with open(fname, "rb") as f:
            payload = f.read()
    except FileNotFoundError as err:
        raise NDArrayFileNotFound(f"load: no such file {fname!r}") from err
    except OSError as err:
        raise MXNetError(f"load: cannot read {fname!r}: {err.strerror or err}") from err
    return loads(payload, repr(fname))


def _fspath(fname, fn):
    try:
        return os.fspath(fname)
    except TypeError:
        raise SerializationTypeError(f"{fn}: fname must be a str or path, got "
                                     f"{type(fname).__name__}") from None
