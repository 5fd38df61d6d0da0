"""mx.recordio: .rec/.idx files byte-compatible with MXNet 1.9.1, image record headers, and
clear errors for damaged files."""
from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest

from mxteach import recordio
from mxteach.base import MXNetError
from oracle import run_oracle

MAGIC = struct.pack("<I", 0xCED7230A)
# records that exercise the writer's cutting rule: the magic number at aligned and unaligned
# positions, at the start, the end, twice in a row, and records of every length modulo 4
RECORDS = [b"record_0", b"", b"a", b"ab", b"abc", MAGIC, b"ab" + MAGIC + b"cd",
           b"abcd" + MAGIC + MAGIC + b"xy" + MAGIC, MAGIC * 3, b"x" + MAGIC + b"yyy",
           bytes(range(256)) * 3]

ORACLE_WRITE = """
import struct
w = mx.recordio.MXIndexedRecordIO(workdir + '/o.idx', workdir + '/o.rec', 'w')
for i, r in enumerate(records):
    w.write_idx(i, bytes(r))
w.close()
out['rec'] = np.frombuffer(open(workdir + '/o.rec', 'rb').read(), np.uint8)
out['idx'] = open(workdir + '/o.idx').read()
"""


def _records_arrays():
    return [np.frombuffer(r, np.uint8) for r in RECORDS]


@pytest.mark.oracle
def test_writer_bytes_equal_mxnet(tmp_path):
    got = run_oracle(ORACLE_WRITE, records=_records_arrays())
    w = recordio.MXIndexedRecordIO(tmp_path / "m.idx", tmp_path / "m.rec", "w")
    offsets = []
    for i, r in enumerate(RECORDS):
        offsets.append(w.tell())
        w.write_idx(i, r)
    w.close()
    assert (tmp_path / "m.rec").read_bytes() == got["rec"].tobytes()
    assert (tmp_path / "m.idx").read_text() == got["idx"]
    assert offsets[:3] == [0, 16, 24]      # 8-byte header + payload padded to 4


@pytest.mark.oracle
def test_reads_mxnet_file_and_mxnet_reads_ours(tmp_path):
    got = run_oracle(ORACLE_WRITE, records=_records_arrays())
    (tmp_path / "o.rec").write_bytes(got["rec"].tobytes())
    (tmp_path / "o.idx").write_text(got["idx"])
    seq = recordio.MXRecordIO(str(tmp_path / "o.rec"), "r")
    assert [seq.read() for _ in RECORDS] == RECORDS
    assert seq.read() is None and seq.read() is None
    seq.reset()
    assert seq.read() == RECORDS[0]
    seq.close()
    ind = recordio.MXIndexedRecordIO(str(tmp_path / "o.idx"), str(tmp_path / "o.rec"), "r")
    assert ind.keys == list(range(len(RECORDS)))
    for k in (7, 0, 10, 5):
        assert ind.read_idx(k) == RECORDS[k]

    ours = recordio.MXIndexedRecordIO(str(tmp_path / "w.idx"), str(tmp_path / "w.rec"), "w")
    for k in reversed(range(len(RECORDS))):
        ours.write_idx(k, RECORDS[k])
    ours.close()
    back = run_oracle("""
r = mx.recordio.MXIndexedRecordIO(workdir_in + '/w.idx', workdir_in + '/w.rec', 'r')
out['keys'] = list(r.keys)
out['by_key'] = [np.frombuffer(r.read_idx(k), np.uint8) for k in range(n)]
s = mx.recordio.MXRecordIO(workdir_in + '/w.rec', 'r')
out['seq'] = []
while True:
    item = s.read()
    if item is None:
        break
    out['seq'].append(np.frombuffer(item, np.uint8))
""", workdir_in=str(tmp_path), n=len(RECORDS))
    assert back["keys"] == list(reversed(range(len(RECORDS))))
    assert [a.tobytes() for a in back["by_key"]] == RECORDS
    assert [a.tobytes() for a in back["seq"]] == RECORDS[::-1]


HEADERS = [(0, 3.0, 17, 0), (5, 2.5, 2 ** 40, 9), (0, [1.0, 2.0, 3.5], 4, 0),
           (0, np.arange(6, dtype=np.float64) / 4, 1, 2), (0, [], 3, 0)]


@pytest.mark.oracle
def test_pack_unpack_equal_mxnet():
    got = run_oracle("""
out['packed'] = []
out['unpacked'] = []
for h in headers:
    h = list(h)
    p = mx.recordio.pack(mx.recordio.IRHeader(*h), b'payload!')
    out['packed'].append(np.frombuffer(p, np.uint8))
    hd, s = mx.recordio.unpack(p)
    out['unpacked'].append([hd.flag, np.asarray(hd.label, np.float32), hd.id, hd.id2, s.decode()])
""", headers=[list(h) if not isinstance(h[1], np.ndarray) else [h[0], h[1], h[2], h[3]]
              for h in HEADERS])
    for h, packed, (flag, label, id_, id2, payload) in zip(HEADERS, got["packed"],
                                                         got["unpacked"]):
        mine = recordio.pack(recordio.IRHeader(*h), b"payload!")
        assert mine == packed.tobytes()
        hd, s = recordio.unpack(mine)
        assert (hd.flag, hd.id, hd.id2, s) == (flag, id_, id2, payload.encode())
        np.testing.assert_array_equal(np.asarray(hd.label, np.float32), label)
    # an array label always reports its length in flag, whatever flag was given
    assert recordio.unpack(recordio.pack((9, [1, 2], 0, 0), b""))[0].flag == 2


def test_pack_img_round_trip_png_is_exact():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    rec = recordio.pack_img(recordio.IRHeader(0, [4.0, 5.0], 3, 0), img, quality=3,
                            img_fmt=".png")
    header, back = recordio.unpack_img(rec)
    np.testing.assert_array_equal(back, img)
    np.testing.assert_array_equal(header.label, [4.0, 5.0])
    _, grey = recordio.unpack_img(rec, 0)
    assert grey.shape == (7, 9)
    import cv2
    for quality in (100, 30):                       # the quality reaches the JPEG encoder
        rec = recordio.pack_img((0, 1.0, 8, 0), img, quality=quality)
        expected = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        assert recordio.unpack(rec)[1] == expected.tobytes()
        header, jpg = recordio.unpack_img(rec)
        assert jpg.shape == img.shape and header.label == 1.0 and header.id == 8


@pytest.mark.oracle
def test_mxnet_unpacks_our_image_record(tmp_path):
    img = (np.arange(5 * 6 * 3) % 251).astype(np.uint8).reshape(5, 6, 3)
    w = recordio.MXRecordIO(str(tmp_path / "i.rec"), "w")
    w.write(recordio.pack_img((0, [7.0, 8.0], 11, 0), img, img_fmt=".png"))
    w.close()
    got = run_oracle("""
r = mx.recordio.MXRecordIO(path, 'r')
h, s = mx.recordio.unpack(r.read())
out['label'] = np.asarray(h.label); out['id'] = h.id; out['png'] = np.frombuffer(s, np.uint8)
""", path=str(tmp_path / "i.rec"))
    np.testing.assert_array_equal(got["label"], [7.0, 8.0])
    assert got["id"] == 11
    import cv2
    np.testing.assert_array_equal(cv2.imdecode(got["png"], -1), img)


def test_pickle_reopens_and_tell(tmp_path):
    path = str(tmp_path / "p.rec")
    w = recordio.MXRecordIO(path, "w")
    for r in RECORDS[:4]:
        w.write(r)
    assert w.tell() == 16 + 8 + 12 + 12
    w.close()
    r = recordio.MXRecordIO(path, "r")
    assert r.read() == RECORDS[0]
    clone = pickle.loads(pickle.dumps(r))          # reopened at the start, as MXNet does
    assert clone.read() == RECORDS[0] and clone.read() == RECORDS[1]
    assert r.is_open is False                       # pickling closed the original
    with recordio.MXRecordIO(path, "r") as again:
        assert again.tell() == 0 and again.read() == RECORDS[0] and again.tell() == 16


def _write(path, records):
    w = recordio.MXRecordIO(str(path), "w")
    for r in records:
        w.write(r)
    w.close()
    return path.read_bytes()


def _read_all(path):
    r = recordio.MXRecordIO(str(path), "r")
    return [r.read() for _ in range(10)]


def test_bad_magic_names_file_record_and_offset(tmp_path):
    path = tmp_path / "bad.rec"
    data = bytearray(_write(path, [b"aaaa", b"bbbbbbbb", b"cc"]))
    data[12:16] = b"XXXX"                            # magic of record 1, at byte 12
    path.write_bytes(bytes(data))
    with pytest.raises(MXNetError, match=r"bad\.rec: record 1 .*bad magic .* at byte 12"):
        _read_all(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.rec"
    data = _write(path, [b"aaaa", b"bbbbbbbb"])
    path.write_bytes(data[:-3])
    with pytest.raises(MXNetError, match=r"cut\.rec: record 1 .*8 bytes at byte 20 .*"
                                         r"only 5 bytes remain.*truncated"):
        _read_all(path)
    path.write_bytes(data[:15])
    with pytest.raises(MXNetError, match=r"record 1 .*ends at byte 15 inside a record header"):
        _read_all(path)


def test_part_out_of_order_is_corrupt(tmp_path):
    path = tmp_path / "parts.rec"
    data = bytearray(_write(path, [b"abcd" + MAGIC + b"zz"]))
    assert struct.unpack("<I", data[4:8])[0] >> 29 == 1    # written as a first part
    data[4:8] = struct.pack("<I", (2 << 29) | 4)          # ... now claims to be a middle part
    path.write_bytes(bytes(data))
    with pytest.raises(MXNetError, match=r"record 0 .*continuation flag 2"):
        _read_all(path)


def test_bad_index_and_arguments(tmp_path):
    rec, idx = tmp_path / "x.rec", tmp_path / "x.idx"
    w = recordio.MXIndexedRecordIO(idx, rec, "w")
    w.write_idx(0, b"zero")
    w.close()
    r = recordio.MXIndexedRecordIO(idx, rec, "r")
    with pytest.raises(MXNetError, match=r"key 5 is not in the index .*x\.idx"):
        r.read_idx(5)
    with pytest.raises(MXNetError, match="cannot write a file opened for read"):
        r.write(b"no")
    idx.write_text("0\t0\n1\tnot-a-number\n")
    with pytest.raises(MXNetError, match=r"x\.idx: line 2 is '1\\tnot-a-number'"):
        recordio.MXIndexedRecordIO(idx, rec, "r")
    idx.write_text("0\t4\n")                          # an offset inside a record
    with pytest.raises(MXNetError, match=r"record of key 0 .*bad magic"):
        recordio.MXIndexedRecordIO(idx, rec, "r").read_idx(0)
    with pytest.raises(ValueError, match="invalid flag 'a'"):
        recordio.MXRecordIO(str(rec), "a")
    with pytest.raises(MXNetError, match=r"cannot open .*missing\.rec"):
        recordio.MXRecordIO(str(tmp_path / "missing.rec"), "r")
    with pytest.raises(TypeError, match="must be bytes, got str"):
        recordio.MXRecordIO(str(tmp_path / "s.rec"), "w").write("text")


def test_corrupt_image_record():
    with pytest.raises(MXNetError, match="record of 10 bytes is shorter than the 24-byte"):
        recordio.unpack(b"0123456789")
    short = struct.pack("IfQQ", 3, 0.0, 1, 0) + b"\0" * 8
    with pytest.raises(MXNetError, match="announces 3 float32 labels .* only 8 bytes"):
        recordio.unpack(short)
    with pytest.raises(MXNetError, match="record id 6: 5 bytes starting 6e 6f 74 20 61"):
        recordio.unpack_img(recordio.pack((0, 1.0, 6, 0), b"not a"))
