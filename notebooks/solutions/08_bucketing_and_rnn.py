"""Reference solutions of notebook 08 (bucketing and mx.rnn)."""
import numpy as np

from mxteach.course.nb08 import SWITCH_LENGTHS


# 08.1
def padding(lengths, buckets):
    lengths = np.asarray(lengths)
    padded = np.array([min(b for b in buckets if b >= n) for n in lengths])
    return 1 - lengths.sum() / padded.sum()


def padding_to_largest(lengths, buckets):        # typical mistake: pad to the largest bucket
    lengths = np.asarray(lengths)
    return 1 - lengths.sum() / (max(buckets) * len(lengths))


def padded_positions(lengths, buckets):          # typical mistake: a count, not a fraction
    lengths = np.asarray(lengths)
    return float(sum(min(b for b in buckets if b >= n) - n for n in lengths))


SOLUTIONS = {
    "08.1": padding,
    # 8 (current after bind) → 3 → 5 → 8 → 3 → 5, then 5 again: no switch
    "08.2": {"switches": 5, "bound_on_switch": [3, 5]},
    "08.3": "error at bind",
}

WRONG = {
    "08.1": [(padding_to_largest, "smallest"), (padded_positions, "fraction")],
    "08.2": [({"switches": len(SWITCH_LENGTHS), "bound_on_switch": [3, 5]}, "counts every batch"),
             ({"switches": 5, "bound_on_switch": [8, 3, 5]}, "bound by bind()")],
    "08.3": [("zeros", "mxteach"), ("random", "initializer")],
}
