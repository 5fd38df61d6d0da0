"""The idx file format of the MNIST files: a magic number, the dimensions, the elements.

The file starts with the magic number ``0x0000TTNN`` (``TT`` the element type, ``NN`` the
number of dimensions), then each dimension as a big-endian int32, then the elements in C
order, big-endian. :func:`read_idx` checks all of it and names the file and the byte offset
when something does not fit. See notebook 03.
"""
from __future__ import annotations

import struct

import numpy as np

from ..base import MXNetError

__all__ = ["read_idx", "write_idx", "IDX_TYPES"]

# idx type codes (the third byte of the magic number) and their big-endian numpy types
IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def write_idx(path, array):
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64) as an idx file."""
    array = np.asarray(array)
    codes = {dt.kind + str(dt.itemsize): code for code, dt in IDX_TYPES.items()}
    code = codes.get(array.dtype.kind + str(array.dtype.itemsize))
    if code is None:
        raise MXNetError(f"write_idx({path!r}): dtype {array.dtype} has no idx type code; use "
                         "uint8, int8, int16, int32, float32 or float64")
    head = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}i",
                                                                        *array.shape)
    with open(path, "wb") as f:
        f.write(head)
        f.write(array.astype(IDX_TYPES[code], copy=False).tobytes())


def read_idx(path, expect=None):
    """The array stored in the idx file ``path``.

    ``expect=(type code, ndim)``, e.g. ``(0x08, 3)`` for MNIST images, also checks the
    magic number against it. MXNetError names the file and the byte offset when the magic
    number is wrong or the file is shorter than its header says.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise MXNetError(f"cannot read idx file {path!r}: {err.strerror}") from None
    if len(data) < 4:
        raise MXNetError(f"{path}: {len(data)} bytes, too short for the 4-byte idx magic "
                         "number")
    zero, code, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or code not in IDX_TYPES:
        raise MXNetError(f"{path}: bad idx magic number 0x{data[:4].hex()} at byte 0; "
                         "expected 0x0000TTNN with type TT in "
                         f"{sorted(hex(c) for c in IDX_TYPES)}")
    if expect is not None and (code, ndim) != tuple(expect):
        raise MXNetError(f"{path}: idx magic number 0x{data[:4].hex()} at byte 0 means type "
                         f"0x{code:02x} with {ndim} dimensions; expected "
                         f"0x0000{expect[0]:02x}{expect[1]:02x} (type 0x{expect[0]:02x}, "
                         f"{expect[1]} dimensions)")
    end = 4 + 4 * ndim
    if len(data) < end:
        raise MXNetError(f"{path}: file ends at byte {len(data)} inside the header "
                         f"({ndim} dimensions need bytes 4-{end})")
    shape = struct.unpack(f">{ndim}i", data[4:end])
    dtype = IDX_TYPES[code]
    need = end + int(np.prod(shape)) * dtype.itemsize
    if len(data) < need:
        item = max(int(np.prod(shape[1:])), 1) * dtype.itemsize
        first = (len(data) - end) // item
        raise MXNetError(f"{path}: truncated, {len(data)} bytes but shape {shape} needs "
                         f"{need}; item {first} of {shape[0]} (at byte {end + first * item}) "
                         f"is cut off at byte {len(data)}")
    return np.frombuffer(data, dtype, int(np.prod(shape)), end).reshape(shape)
