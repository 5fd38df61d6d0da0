"""2-bit gradient compression against a plain-loop numpy reference of MXNet 1.9's algorithm
(float32 residual, threshold codes 11/10/00, four codes per byte, highest bits first)."""
from __future__ import annotations

import numpy as np
import pytest

from mxteach.gradient_compression import compressed_size, dequantize_2bit, quantize_2bit


def reference_quantize(grad, residual, t):
    t = np.float32(t)
    out = np.zeros(compressed_size(grad.size) * 4, dtype=np.uint8)
    for i in range(grad.size):
        residual[i] = np.float32(residual[i] + grad[i])
        if residual[i] >= t:
            out[i // 4] |= (0xC0, 0x30, 0x0C, 0x03)[i % 4]
            residual[i] = np.float32(residual[i] - t)
        elif residual[i] <= -t:
            out[i // 4] |= (0x80, 0x20, 0x08, 0x02)[i % 4]
            residual[i] = np.float32(residual[i] - (-t))
    return out


def reference_dequantize(raw, n, t):
    vals = np.zeros(n, dtype=np.float32)
    for i in range(n):
        bits = raw[i // 4] & (0xC0, 0x30, 0x0C, 0x03)[i % 4]
        if bits == (0xC0, 0x30, 0x0C, 0x03)[i % 4]:
            vals[i] = t
        elif bits == (0x80, 0x20, 0x08, 0x02)[i % 4]:
            vals[i] = -t
    return vals


@pytest.mark.parametrize("n,t", [(1, 0.5), (16, 0.5), (37, 0.3), (100, 1.0)])
def test_2bit_equals_the_numpy_reference_over_rounds(n, t):
    rng = np.random.RandomState(n)
    res, ref_res = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for _ in range(4):
        grad = (rng.randn(n) * 0.6).astype(np.float32)
        packed = quantize_2bit(grad, res, t)
        want = reference_quantize(grad, ref_res, t)
        assert packed.dtype == np.float32 and packed.size == compressed_size(n)
        np.testing.assert_array_equal(packed.view(np.uint8), want)
        np.testing.assert_array_equal(res, ref_res)
        np.testing.assert_array_equal(dequantize_2bit(packed, n, t),
                                      reference_dequantize(want, n, t))


def test_2bit_layout_and_error_feedback_by_hand():
    res = np.zeros(5, np.float32)
    packed = quantize_2bit(np.array([0.6, -0.7, 0.2, 0.5, -0.5], np.float32), res, 0.5)
    # codes 11 10 00 11 | 10 -> bytes 0b11100011, 0b10000000, then two zero bytes
    assert list(packed.view(np.uint8)) == [0xE3, 0x80, 0, 0]
    np.testing.assert_allclose(res, [0.1, -0.2, 0.2, 0, 0], atol=1e-7)
    np.testing.assert_array_equal(dequantize_2bit(packed, 5, 0.5), [0.5, -0.5, 0, 0.5, -0.5])
