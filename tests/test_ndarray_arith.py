"""mx.nd.NDArray arithmetic, comparison, broadcasting, indexing and in-place operators against
real MXNet 1.9.1: each snippet runs in both, and values, shapes and dtypes must agree (or both
must raise). Known mismatches are marked xfail with the reason. Deliberately includes the
integer-dtype rules (the scalar is cast to the array's dtype, division truncates)."""
import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError

from oracle import run_oracle

A = "a = nd.array([[1.5, -2, 3], [4, 0.5, -6]]); "
B = "b = nd.array([[2, 4, -1], [0.5, 3, 2]]); "
I = "i = nd.array([-5, 5, 7], dtype='int32'); "

# id: code that sets `r`
SNIPPETS = {
    # arithmetic, same shapes
    "add": A + B + "r = a + b", "sub": A + B + "r = a - b", "mul": A + B + "r = a * b",
    "div": A + B + "r = a / b", "mod": A + B + "r = a % b", "pow": B + "r = b ** b",
    "neg": A + "r = -a", "abs": A + "r = abs(a)",
    # with scalars, both sides
    "add_s": A + "r = a + 2", "radd_s": A + "r = 2 + a", "sub_s": A + "r = a - 2",
    "rsub_s": A + "r = 2 - a", "mul_s": A + "r = a * -1.5", "rmul_s": A + "r = 3 * a",
    "div_s": A + "r = a / 4", "rdiv_s": A + "r = 3 / a", "mod_s": A + "r = a % 1.5",
    "rmod_s": A + "r = 7 % a", "pow_s": A + "r = a ** 2", "rpow_s": A + "r = 2 ** a",
    "np_scalar": A + "r = a + np.float64(0.5)", "np_scalar_left": A + "r = np.float32(2) * a",
    "div_zero": "r = nd.array([1, -1, 0]) / 0",
    # broadcasting
    "bc_row": A + "r = a + nd.array([1, 2, 3])", "bc_col": A + "r = a * nd.array([[2], [3]])",
    "bc_outer": "r = nd.array([[1], [2]]) - nd.array([[1, 2, 3]])",
    "bc_3d": "r = nd.ones((4, 1, 3)) / nd.array([[2], [4]])",
    "bc_pow": "r = nd.array([[1], [2]]) ** nd.array([1, 2, 3])",
    "bc_bad": "r = nd.ones((2, 3)) + nd.ones((2,))",
    # comparisons
    "eq": A + B + "r = a == b", "ne": A + B + "r = a != b", "lt": A + B + "r = a < b",
    "le": A + "r = a <= a", "gt": A + B + "r = a > b", "ge": A + B + "r = a >= b",
    "eq_s": A + "r = a == 3", "lt_s": A + "r = a < 0.5", "rlt_s": A + "r = 2 < a",
    "ge_s": A + "r = a >= 1.5", "eq_bc": "r = nd.array([[1], [2]]) == nd.array([1, 2])",
    "eq_f64": "r = nd.array([1, 2, 3], dtype='float64') == 2",
    # dtypes
    "default_dtype": "r = nd.array(np.arange(6).reshape(2, 3))",
    "f64": "r = nd.array([1, 2], dtype='float64') * 0.1",
    "f16": "r = nd.array([1, 2], dtype='float16') + 1",
    "mixed": "r = nd.ones(2) + nd.ones(2, dtype='float64')",
    "int_add_half": I + "r = i + 0.5", "int_mul": I + "r = i * 1.5",
    "int_div_s": I + "r = i / 2", "int_div": I + "r = i / nd.array([2, -2, 2], dtype='int32')",
    "int_rdiv": "r = 7 / nd.array([-2, 2, 3], dtype='int32')", "int_mod": I + "r = i % 3",
    "int_eq": I + "r = i == 5.5", "uint8_wrap": "r = nd.array([1, 2], dtype='uint8') - 3",
    # indexing
    "row": A + "r = a[1]", "row_neg": A + "r = a[-1]", "rows": A + "r = a[0:1]",
    "elem": A + "r = a[1, 2]", "col": A + "r = a[:, 1]", "step": "r = nd.arange(6)[::2]",
    "vec_elem": "r = nd.arange(6)[1]", "take_nd": A + "r = a[nd.array([1, 0, 1])]",
    "take_list": A + "r = a[[1, 1]]",
    "row_view": A + "v = a[1]; v[:] = 7; r = a", "slice_view": A + "v = a[0:1]; v[:] = 9; r = a",
    "col_copy": A + "v = a[:, 1]; v[:] = 7; r = a",
    "set_row": A + "a[1] = 5; r = a", "set_all_bc": A + "a[:] = nd.array([9, 8, 7]); r = a",
    "set_col": A + "a[:, 0] = 3; r = a", "set_elem": A + "a[0, 1] = 7; r = a",
    "set_slice_nd": A + "a[1:2] = nd.ones((1, 3)); r = a",
    # in-place
    "iadd": A + B + "c = a; a += b; r = (c is a, a.asnumpy().tolist())",
    "isub_s": A + "c = a; a -= 2; r = c", "imul_bc": A + "a *= nd.array([1, 2, 3]); r = a",
    "itruediv": A + "a /= 2; r = a", "itruediv_int": I + "i /= 2; r = i",
    "imod": A + "a %= 2; r = a", "ipow": A + "c = a; a **= 2; r = (c is a, a.asnumpy().tolist())",
    "iadd_bc_col": A + "a += nd.array([[1], [2]]); r = a",
    # scalars out
    "asscalar": "r = nd.array([2.5]).asscalar()", "bool_false": "r = bool(nd.array([0]))",
    "len": A + "r = len(a)",
}

RUN = """
def _pack(r):
    if isinstance(r, nd.NDArray):
        return ['array', r.asnumpy(), np.dtype(r.dtype).name]
    if isinstance(r, tuple):
        return ['tuple', [_pack(x) for x in r]]
    if isinstance(r, (np.generic,)):
        return ['scalar', r.item(), np.dtype(type(r)).name]
    return ['py', r, type(r).__name__]
for key, code in snippets.items():
    g = {'nd': nd, 'np': np, 'mx': mx}
    try:
        exec(code, g)
        out[key] = _pack(g['r'])
    except Exception as err:
        out[key] = ['error', type(err).__name__, str(err).splitlines()[0][:200]]
"""


def _run_local(snippets):
    out = {}
    exec(RUN, {"nd": mx.nd, "np": np, "mx": mx, "snippets": snippets, "out": out})
    return out


@pytest.fixture(scope="module")
def results():
    want = run_oracle("nd = mx.nd\n" + RUN, snippets=SNIPPETS)
    return want, _run_local(SNIPPETS)


def _compare(got, want, key):
    if want[0] == "error":
        assert got[0] == "error", f"{key}: MXNet raises {want[1]} ({want[2]}), mxteach gave {got}"
        mxnet_like = "TypeError" if want[1] == "TypeError" else None
        if mxnet_like:
            assert got[1] == mxnet_like, key
        else:
            assert got[1] in {c.__name__ for c in [MXNetError, *MXNetError.__subclasses__()]}, \
                f"{key}: expected an MXNetError, got {got[1]}: {got[2]}"
        return
    assert got[0] == want[0], f"{key}: mxteach gave {got}, MXNet {want}"
    if want[0] == "tuple":
        assert len(got[1]) == len(want[1])
        for g, w in zip(got[1], want[1]):
            _compare(g, w, key)
    elif want[0] == "array":
        assert got[2] == want[2], f"{key}: dtype {got[2]} vs MXNet {want[2]}"
        assert got[1].shape == want[1].shape, f"{key}: shape {got[1].shape} vs {want[1].shape}"
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6, err_msg=key)
    else:
        assert got[2] == want[2], f"{key}: type {got[2]} vs MXNet {want[2]}"
        np.testing.assert_allclose(np.asarray(got[1], float), np.asarray(want[1], float),
                                   rtol=1e-6, err_msg=key)


@pytest.mark.oracle
@pytest.mark.parametrize("key", list(SNIPPETS))
def test_ndarray_matches_mxnet(results, key):
    want, got = results
    _compare(got[key], want[key], key)


def test_snippets_run_locally_without_oracle():
    """The parts that need no oracle: values against numpy for a few snippets."""
    got = _run_local({k: SNIPPETS[k] for k in ("add", "bc_row", "lt_s", "row_view", "iadd")})
    a = np.array([[1.5, -2, 3], [4, 0.5, -6]], np.float32)
    b = np.array([[2, 4, -1], [0.5, 3, 2]], np.float32)
    np.testing.assert_allclose(got["add"][1], a + b)
    np.testing.assert_allclose(got["bc_row"][1], a + [1, 2, 3])
    np.testing.assert_array_equal(got["lt_s"][1], (a < 0.5).astype(np.float32))
    assert got["lt_s"][2] == "float32"
    np.testing.assert_array_equal(got["row_view"][1], [[1.5, -2, 3], [7, 7, 7]])
    assert got["iadd"][1][0][1] is True
