"""python -m mxteach.tools.im2rec against MXNet 1.9.1's tools/im2rec.py on the same folder:
the same .lst files (list mode), byte-identical .rec/.idx (pass-through pack), and re-encoded
records that MXNet's ImageRecordIter reads."""
import os
import subprocess
import sys

import numpy as np
import pytest

from mxteach import recordio
from mxteach.tools import im2rec
from oracle import run_oracle

# MXNet's im2rec imports cv2 at the top though list and pass-through modes never call it;
# the oracle venv has no OpenCV for Python, so a placeholder module stands in for it.
RUN_MXNET_IM2REC = """
import os, runpy, sys, types
sys.modules['cv2'] = types.ModuleType('cv2')
saved_argv, sys.argv = sys.argv, ['im2rec.py'] + argv
os.chdir(workdir)
runpy.run_path(os.path.join(os.path.dirname(mx.__file__), 'tools', 'im2rec.py'),
               run_name='__main__')
sys.argv = saved_argv
"""


@pytest.fixture()
def tree(tmp_path):
    """Images in class folders cat/ (3), dog/ (2) and a stray text file."""
    import cv2
    rng = np.random.RandomState(0)
    root = tmp_path / "images"
    for cls, n in (("cat", 3), ("dog", 2)):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            img = rng.randint(0, 255, (20 + 3 * i, 26, 3)).astype(np.uint8)
            cv2.imwrite(str(root / cls / f"{cls}{i}.{'png' if i else 'jpg'}"), img)
    (root / "cat" / "notes.txt").write_text("not an image")
    return root


def _read(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.oracle
def test_list_mode_writes_mxnets_lists(tree, tmp_path):
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    for args in (["--recursive"], ["--recursive", "--train-ratio", "0.6", "--test-ratio", "0.2"],
                 ["--no-shuffle", "--recursive", "--chunks", "2"]):
        im2rec.main([str(ours_dir / "data"), str(tree), "--list"] + args)
        run_oracle(RUN_MXNET_IM2REC, argv=[str(theirs_dir / "data"), str(tree), "--list"] + args)
        names = sorted(os.listdir(theirs_dir))
        assert sorted(os.listdir(ours_dir)) == names
        for name in names:
            assert _read(ours_dir / name) == _read(theirs_dir / name), (args, name)
        for d in (ours_dir, theirs_dir):
            for name in os.listdir(d):
                os.remove(d / name)


@pytest.mark.oracle
def test_pass_through_pack_is_byte_identical_and_encoded_pack_reads_in_mxnet(tree, tmp_path):
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    im2rec.main([str(ours_dir / "data"), str(tree), "--list", "--recursive"])
    (theirs_dir / "data.lst").write_bytes(_read(ours_dir / "data.lst"))
    im2rec.main([str(ours_dir / "data"), str(tree), "--pass-through"])
    run_oracle(RUN_MXNET_IM2REC, argv=[str(theirs_dir / "data"), str(tree), "--pass-through"])
    for ext in (".rec", ".idx"):
        assert _read(ours_dir / f"data{ext}") == _read(theirs_dir / f"data{ext}")

    # re-encoded with a resize through the command line, read back by MXNet
    res = subprocess.run([sys.executable, "-m", "mxteach.tools.im2rec", str(ours_dir / "data"),
                          str(tree), "--resize", "16", "--num-thread", "2"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    mxnet = run_oracle("""
rec = mx.recordio.MXIndexedRecordIO(idx, path, 'r')
out['keys'] = list(rec.keys)
shapes, labels = [], []
for k in rec.keys:
    header, buf = mx.recordio.unpack(rec.read_idx(k))
    shapes.append(mx.image.imdecode(buf).shape)
    labels.append(header.label)
out['shapes'], out['labels'] = shapes, labels
""", idx=str(ours_dir / "data.idx"), path=str(ours_dir / "data.rec"))
    lst = [line.split("\t") for line in (ours_dir / "data.lst").read_text().splitlines()]
    assert mxnet["keys"] == [int(f[0]) for f in lst]
    assert mxnet["labels"] == [float(f[1]) for f in lst]
    assert all(min(s[:2]) == 16 and s[2] == 3 for s in mxnet["shapes"])
    # a record's image: shorter side 16, the other scaled with integer division as MXNet
    reader = recordio.MXIndexedRecordIO(str(ours_dir / "data.idx"), str(ours_dir / "data.rec"),
                                        "r")
    header, _ = recordio.unpack(reader.read_idx(int(lst[0][0])))
    reader.close()
    assert header.id == int(lst[0][0])


def test_pack_without_a_list_says_so(tmp_path, capsys):
    assert im2rec.main([str(tmp_path / "none"), str(tmp_path)]) == 1
    assert "Did not find any list file" in capsys.readouterr().out
