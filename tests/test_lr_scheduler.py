"""Learning-rate schedules against real MXNet 1.9.1 (whole sequences, including the stateful
factor schedules called out of order) and against closed forms."""
import math

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from oracle import run_oracle

SCHEDULES = [
    ("FactorScheduler", dict(step=3, factor=0.5, base_lr=1.0)),
    ("FactorScheduler", dict(step=2, factor=0.1, stop_factor_lr=1e-3, base_lr=1.0)),
    ("FactorScheduler", dict(step=4, factor=0.9, base_lr=0.1, warmup_steps=5,
                             warmup_begin_lr=0.01)),
    ("MultiFactorScheduler", dict(step=[2, 5, 9], factor=0.3, base_lr=0.5)),
    ("MultiFactorScheduler", dict(step=[6, 10], factor=0.5, base_lr=0.2, warmup_steps=4,
                                  warmup_begin_lr=0.05, warmup_mode="constant")),
    ("PolyScheduler", dict(max_update=12, base_lr=0.3, pwr=2)),
    ("PolyScheduler", dict(max_update=15, base_lr=0.3, pwr=1.5, final_lr=0.01, warmup_steps=3,
                           warmup_begin_lr=0.1)),
    ("CosineScheduler", dict(max_update=14, base_lr=0.4)),
    ("CosineScheduler", dict(max_update=16, base_lr=0.4, final_lr=0.02, warmup_steps=4,
                             warmup_mode="constant", warmup_begin_lr=0.1)),
]
# monotone 0..20, then a stateful pattern: jump ahead, go back, repeat
CALLS = list(range(21)) + [30, 3, 7, 7, 25, 1]

DRIVER = """
def sequences(mx, schedules, calls):
    res = []
    for cls, kw in schedules:
        s = getattr(mx.lr_scheduler, cls)(**kw)
        res.append([float(s(n)) for n in calls])
    return res
"""


@pytest.mark.oracle
def test_sequences_match_mxnet():
    code = DRIVER + f"\nout['seq'] = sequences(mx, {SCHEDULES!r}, {CALLS!r})\n"
    expected = run_oracle(code)["seq"]
    ns = {}
    exec(DRIVER, ns)
    got = ns["sequences"](mx, SCHEDULES, CALLS)
    for (cls, kw), g, e in zip(SCHEDULES, got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=0, err_msg=f"{cls} {kw}")


def test_factor_closed_form_and_floor():
    s = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=1.0, stop_factor_lr=0.2)
    assert [s(n) for n in range(1, 9)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    s2 = mx.lr_scheduler.FactorScheduler(step=3, factor=0.5, base_lr=1.0)
    assert s2(10) == 0.125 and s2(2) == 0.125  # stateful: never goes back up


def test_warmup_modes():
    lin = mx.lr_scheduler.PolyScheduler(max_update=10, base_lr=1.0, warmup_steps=4,
                                        warmup_begin_lr=0.2)
    assert [lin(n) for n in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    const = mx.lr_scheduler.CosineScheduler(max_update=10, base_lr=1.0, warmup_steps=4,
                                            warmup_begin_lr=0.2, warmup_mode="constant")
    assert [const(n) for n in range(4)] == [0.2] * 4
    assert const(4) == pytest.approx(1.0) and const(10) == pytest.approx(0.0)
    assert const(7) == pytest.approx((1 + math.cos(math.pi * 3 / 6)) / 2)
    # past max_update the scheduler returns whatever it computed last, here for update 7
    assert const(50) == pytest.approx(0.5)


def test_poly_closed_form():
    s = mx.lr_scheduler.PolyScheduler(max_update=8, base_lr=0.5, pwr=3, final_lr=0.1)
    for n in range(9):
        assert s(n) == pytest.approx(0.1 + 0.4 * (1 - n / 8) ** 3)


def test_multifactor_boundaries_are_strict():
    s = mx.lr_scheduler.MultiFactorScheduler(step=[2, 4], factor=0.1, base_lr=1.0)
    assert [round(s(n), 8) for n in range(1, 7)] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    assert s.cur_step_ind == 2 and s.count == 4


@pytest.mark.parametrize("make,match", [
    (lambda: mx.lr_scheduler.FactorScheduler(step=0), "step must be >= 1"),
    (lambda: mx.lr_scheduler.FactorScheduler(step=2, factor=1.5), "factor must be <= 1"),
    (lambda: mx.lr_scheduler.MultiFactorScheduler(step=[3, 2]), "must increase"),
    (lambda: mx.lr_scheduler.MultiFactorScheduler(step=5), "non-empty list"),
    (lambda: mx.lr_scheduler.PolyScheduler(max_update=0), "max_update must be >= 1"),
    (lambda: mx.lr_scheduler.CosineScheduler(max_update=2.5), "max_update must be an int"),
    (lambda: mx.lr_scheduler.LRScheduler(warmup_steps=-1), "warmup_steps must be >= 0"),
    (lambda: mx.lr_scheduler.LRScheduler(warmup_steps=1.0), "warmup_steps must be an int"),
    (lambda: mx.lr_scheduler.LRScheduler(base_lr=0.1, warmup_begin_lr=0.2), "must not exceed"),
    (lambda: mx.lr_scheduler.LRScheduler(warmup_mode="cubic"), "'linear' or 'constant'"),
])
def test_bad_arguments_raise_value_errors(make, match):
    with pytest.raises(MXNetError, match=match) as err:
        make()
    assert isinstance(err.value, ValueError)


def test_base_class_has_no_schedule():
    with pytest.raises(MXNetError, match="has no schedule"):
        mx.lr_scheduler.LRScheduler()(3)
