"""LibSVMIter with ``label_libsvm`` (issue 15): labels read as csr rows of a second LibSVM
file, shaped ``(batch_size,) + label_shape``, batched, padded and split into parts exactly as
MXNet 1.9.1 does. Lines may list their pairs in any order: MXNet keeps the file order in the
csr row, mxteach sorts it (the same numbers, a canonical csr array)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError

from oracle import run_oracle

CODE = """
import os
data_path, label_path = os.path.join(workdir, 'd.libsvm'), os.path.join(workdir, 'l.libsvm')
with open(data_path, 'w') as f:
    for i in range(7):
        f.write(f"{i % 2} {i % 5}:{i + 1}.5 {5 + i % 3}:2\\n")
with open(label_path, 'w') as f:             # multi-label rows, some empty, one unsorted
    for i in range(7):
        f.write(f"0 {i % 3}:1 {(i + 1) % 3}:{i}\\n" if i % 3 else "0\\n")
res = []
for kw in cases:
    it = mx.io.LibSVMIter(data_libsvm=data_path, data_shape=(8,), label_libsvm=label_path,
                          label_shape=(3,), batch_size=3, **dict(kw))
    epochs = []
    for _ in range(2):
        epochs.append([(b.data[0].stype, b.label[0].stype, b.data[0].asnumpy(),
                        b.label[0].asnumpy(), b.pad) for b in it])
        it.reset()
    res.append(((it.provide_data[0].name, tuple(it.provide_data[0].shape)),
                (it.provide_label[0].name, tuple(it.provide_label[0].shape)), epochs))
out['res'] = res
try:
    mx.io.LibSVMIter(data_libsvm=data_path, data_shape=(8,), label_libsvm=label_path,
                     label_shape=(3,), batch_size=3, round_batch=False)
    out['no_round'] = 'accepted'
except mx.base.MXNetError as err:
    out['no_round'] = 'round_batch' in str(err)
"""
CASES = [(), (("num_parts", 2), ("part_index", 0)), (("num_parts", 2), ("part_index", 1))]


def _ours(tmp_path):
    ns = {"mx": mx, "np": np, "out": {}, "workdir": str(tmp_path), "cases": CASES}
    exec(CODE, ns)
    return ns["out"]


def test_label_libsvm_gives_csr_label_rows(tmp_path):
    out = _ours(tmp_path)
    provide_data, provide_label, epochs = out["res"][0]
    assert provide_label == ("softmax_label", (3, 3))
    first = epochs[0][0]
    assert first[:2] == ("csr", "csr")
    # lines 0-2 of the label file: empty, "1:1 2:1", "2:1 0:2" (unsorted in the file)
    np.testing.assert_array_equal(first[3], [[0, 0, 0], [0, 1, 1], [2, 0, 1]])
    last = epochs[0][-1]
    assert last[4] == 2                                    # padded from the start
    np.testing.assert_array_equal(last[3][1:], epochs[0][0][3][:2])
    assert out["no_round"] is True


def test_label_libsvm_line_with_a_repeated_index_is_refused(tmp_path):
    (tmp_path / "d").write_text("1 0:1\n")
    (tmp_path / "l").write_text("0 1:1 1:2\n")
    with pytest.raises(MXNetError, match="feature index twice"):
        mx.io.LibSVMIter(data_libsvm=str(tmp_path / "d"), data_shape=(2,),
                         label_libsvm=str(tmp_path / "l"), label_shape=(3,), batch_size=1)


@pytest.mark.oracle
def test_label_libsvm_matches_mxnet(tmp_path):
    ours = _ours(tmp_path)
    theirs = run_oracle(CODE, cases=CASES)
    assert ours["no_round"] == theirs["no_round"] is True
    for kw, mine, real in zip(CASES, ours["res"], theirs["res"]):
        assert tuple(mine[0]) == tuple(real[0]) and tuple(mine[1]) == tuple(real[1]), kw
        assert len(mine[2]) == len(real[2])
        for ep, ep2 in zip(mine[2], real[2]):
            assert [(a, b, p) for a, b, _, _, p in ep] == [(a, b, p) for a, b, _, _, p in ep2]
            for (_, _, d, lb, _), (_, _, d2, lb2, _) in zip(ep, ep2):
                np.testing.assert_array_equal(d, d2, err_msg=str(kw))
                np.testing.assert_array_equal(lb, lb2, err_msg=str(kw))
