"""Reading CSV rows the way MXNet 1.9.1's CSVIter does, number for number.

MXNet does not use the C library to read numbers: its own fast parser (dmlc-core's
``strtof``) builds a float32 from the integer part, adds the fraction computed in double
precision and rounded to float32, and scales by powers of ten in float32. The result is not
always the float32 nearest to the text: ``1.92`` becomes 1.9200000762939453, not
1.9199999570846558. :func:`mxnet_strtof` repeats those steps, so a CSV file gives the
same bits here as in MXNet. Integer columns (``dtype='int32'``/``'int64'``) are read as C's
``strtoll`` with base 0 reads them: ``0x10`` is 16, ``010`` is 8 and ``1.9`` is 1.

Where MXNet silently turns a field that is not a number into nothing or into 0, this reader
raises MXNetError naming the file, the line, its byte offset and the field.
See notebook 03.
"""
from __future__ import annotations

import os
import re

import numpy as np

from ..base import MXNetError

__all__ = ["read_csv_rows", "mxnet_strtof", "mxnet_strtoll"]

_LINE = re.compile(rb"[^\r\n]+")                    # empty lines are skipped, as in MXNet
_INTS_ONLY = re.compile(r"[0-9,+\- \t]*")           # lines the fast path can read
_FLOAT = re.compile(r"([+-]?)(?:(inf|infinity)|(nan(?:\([A-Za-z0-9_]*\))?)|"
                    r"(\d*)(?:\.(\d*))?(?:[eE]([+-]?)(\d*))?)[fF]?", re.IGNORECASE)
_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)")
_F32 = np.float32
_MAX_SIGNIFICAND = _F32(3.402823466)       # the parser's clip at exponent +38 ...
_MIN_SIGNIFICAND = _F32(1.175494351)       # ... and at exponent -38
_MAX_FRACTION_DIGITS = 19


def mxnet_strtof(text):
    """The float32 MXNet's CSV parser reads from the number ``text``, or None when ``text``
    (stripped) is not a number in full."""
    m = _FLOAT.fullmatch(text.strip())
    if m is None:
        return None
    sign, inf, nan, whole, frac, exp_sign, exp = m.groups()
    if inf or nan:
        value = _F32("inf") if inf else _F32("nan")
        return -value if sign == "-" and inf else value
    if not (whole or frac):
        return None
    with np.errstate(over="ignore", under="ignore"):
        value = np.uint64(int(whole or 0) % (1 << 64)).astype(_F32)
        if frac is not None:
            digits = frac[:_MAX_FRACTION_DIGITS]
            # the fraction is divided in double precision, then rounded once to float32
            value = _F32(value + _F32(float(int(digits or 0)) / float(10 ** len(digits))))
        if exp is not None:
            expon, shrink = min(int(exp or 0), 38), exp_sign == "-"
            if expon == 38 and not shrink and value > _MAX_SIGNIFICAND:
                value = _MAX_SIGNIFICAND
            elif expon == 38 and shrink and value < _MIN_SIGNIFICAND:
                value = _MIN_SIGNIFICAND
            scale = _F32(1.0)
            while expon >= 8:
                scale, expon = _F32(scale * _F32(1e8)), expon - 8
            while expon > 0:
                scale, expon = _F32(scale * _F32(10.0)), expon - 1
            value = _F32(value / scale) if shrink else _F32(value * scale)
    return -value if sign == "-" else value


def mxnet_strtoll(text):
    """The integer C's ``strtoll(text, base=0)`` reads from the start of ``text`` (clamped
    to int64), or None when ``text`` is not a number in full. Digits after what strtoll
    reads are ignored, as in MXNet (``'1.9'`` gives 1)."""
    text = text.strip()
    m = _INT.match(text)
    if m is None or (m.end() < len(text) and mxnet_strtof(text) is None):
        return None
    sign, digits = m.groups()
    value = int(digits, 0) if not digits.startswith("0") or len(digits) == 1 or \
        digits[1] in "xX" else int(digits, 8)
    value = -value if sign == "-" else value
    return max(min(value, (1 << 63) - 1), -(1 << 63))


def _csv_files(path):
    """The file itself, or every file of a directory in name order."""
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
        return [os.path.join(path, n) for n in names]
    if not os.path.exists(path):
        raise MXNetError(f"CSVIter: cannot open {path!r}: no such file or directory")
    return [path]


def _where(path, data, start):
    lineno = data.count(b"\n", 0, start) + 1
    return f"{path}: line {lineno} (byte {start})"


def _parse_line(path, data, start, line, dtype):
    fields = line.split(",")
    if len(fields) > 1 and not fields[-1].strip():
        fields.pop()                                 # a trailing comma ends the row
    if dtype is np.float32 and _INTS_ONLY.fullmatch(line):
        try:                                         # small integers: exact either way
            values = np.array(fields, dtype=np.float64)
            if np.abs(values).max(initial=0) < 2 ** 24:
                return values.astype(np.float32)
        except ValueError:
            pass                                     # the slow path names the bad field
    parse = mxnet_strtof if dtype is np.float32 else mxnet_strtoll
    values = []
    for k, field in enumerate(fields):
        value = parse(field)
        if value is None:
            what = "empty" if not field.strip() else "not a number"
            raise MXNetError(f"{_where(path, data, start)}, field {k + 1} is {field!r}: "
                             f"{what}. The line: {line[:80]!r}")
        values.append(value)
    if dtype is np.int32:                            # C's cast from long long wraps
        return np.array(values, dtype=np.int64).astype(np.int32)
    return np.array(values, dtype=dtype)


def read_csv_rows(path, shape, dtype=np.float32, what="data_csv"):
    """The rows of the CSV file (or directory of files) ``path`` as an array of shape
    ``(rows,) + shape``; a row that does not hold ``prod(shape)`` numbers, or a field that
    is not a number, raises MXNetError naming the file, the line and its byte offset."""
    size = int(np.prod(shape))
    rows = []
    for fname in _csv_files(path):
        with open(fname, "rb") as f:
            data = f.read()
        offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0   # a UTF-8 byte order mark
        for match in _LINE.finditer(data, offset):
            line = match.group().decode("utf-8", errors="replace")
            values = _parse_line(fname, data, match.start(), line, dtype)
            if len(values) != size:
                raise MXNetError(f"CSVIter: {_where(fname, data, match.start())} holds "
                                 f"{len(values)} values but {what} rows must hold {size} "
                                 f"(shape {tuple(shape)}). The line: {line[:80]!r}")
            rows.append(values)
    if not rows:
        raise MXNetError(f"CSVIter: {path} holds no rows")
    return np.stack(rows).astype(dtype, copy=False).reshape((len(rows),) + tuple(shape))
