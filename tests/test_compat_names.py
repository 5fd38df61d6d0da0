"""Issue 8 item 6: the names MXNet 1.9.1 scripts import exist in mxteach and mean the same.

The list of ``mx.nd``/``mx.sym`` names is not written down here: it is computed from the oracle
at test time. Every name MXNet exposes for an operator mxteach implements (the operator itself,
its aliases, and MXNet's Python-level functions built only on implemented operators, such as
``mx.nd.divide``) must exist, map to the same operator, and give MXNet's numbers.
"""
import numpy as np
import pytest

import mxteach as mx
from mxteach import base
from mxteach.ops import registry
from oracle import run_oracle

# Runs in the oracle: for each name, the canonical operator MXNet registers it under (aliases
# share one operator handle), and for the callables in dir(mx.nd)/dir(mx.sym), what they are.
ORACLE_NAMES = r'''
import ctypes, types, inspect
from mxnet.base import _LIB, check_call, py_str, c_str, mx_uint
size = mx_uint(); plist = ctypes.POINTER(ctypes.c_char_p)()
check_call(_LIB.MXListAllOpNames(ctypes.byref(size), ctypes.byref(plist)))
# read every name first: the next C API calls reuse the buffer plist points into
all_names = [py_str(plist[i]) for i in range(size.value)]
canon = {}
for name in all_names:
    handle = ctypes.c_void_p()
    check_call(_LIB.NNGetOpHandle(c_str(name), ctypes.byref(handle)))
    real = ctypes.c_char_p(); desc = ctypes.c_char_p(); nargs = mx_uint()
    a1 = ctypes.POINTER(ctypes.c_char_p)(); a2 = ctypes.POINTER(ctypes.c_char_p)()
    a3 = ctypes.POINTER(ctypes.c_char_p)(); kv = ctypes.c_char_p(); rt = ctypes.c_char_p()
    check_call(_LIB.MXSymbolGetAtomicSymbolInfo(handle, ctypes.byref(real), ctypes.byref(desc),
               ctypes.byref(nargs), ctypes.byref(a1), ctypes.byref(a2), ctypes.byref(a3),
               ctypes.byref(kv), ctypes.byref(rt)))
    canon[name] = py_str(real.value)
spaces = {}
for key, ns in (('nd', mx.nd), ('sym', mx.sym)):
    entries = {}
    for attr in dir(ns):
        value = getattr(ns, attr)
        if not callable(value) or inspect.isclass(value) or attr.startswith('_'):
            continue
        if attr in canon:
            entries[attr] = ('op', canon[attr])
        elif isinstance(value, types.FunctionType):
            entries[attr] = ('py', list(value.__code__.co_names))
    spaces[key] = entries
out['canon'] = canon
out['spaces'] = spaces
'''


@pytest.fixture(scope="module")
def oracle_names():
    return run_oracle(ORACLE_NAMES)


def _implemented(canon):
    """MXNet canonical names of the operators mxteach registers."""
    return {canon[n] for n in registry.all_ops() if n in canon}


# MXNet's NDArray-indexing helper: a Python function of mx.nd that scripts do not call; it
# counts as "built on operators" only because it uses Python's builtin ``slice``.
INTERNAL = {"indexing_key_expand_implicit_axes"}


def required_names(oracle_names, space):
    """Names of ``mx.<space>`` that MXNet has for operators mxteach implements:
    name -> ('op', canonical) or ('py', [operators it uses])."""
    canon = oracle_names["canon"]
    done = _implemented(canon)
    entries = {k: v for k, v in oracle_names["spaces"][space].items() if k not in INTERNAL}
    need = {}
    for attr, (kind, what) in entries.items():
        if kind == "op" and what in done:
            need[attr] = ("op", what)
        elif kind == "py":
            ops = [canon[n] for n in what if n in canon]
            if ops and all(o in done for o in ops):
                need[attr] = ("py", ops)
    # Python functions defined by another one (true_divide calls divide)
    for attr, (kind, what) in entries.items():
        if kind == "py" and attr not in need and what and all(n in need for n in what):
            need[attr] = ("py", [o for n in what for o in need[n][1]])
    return need


@pytest.mark.oracle
@pytest.mark.parametrize("space", ["nd", "sym"])
def test_every_mxnet_name_of_an_implemented_operator_exists(oracle_names, space):
    need = required_names(oracle_names, space)
    ns = mx.nd if space == "nd" else mx.sym
    assert len(need) > 80           # the comparison really ran over MXNet's namespace
    missing = sorted(n for n in need if not callable(getattr(ns, n, None)))
    assert not missing, f"mx.{space} lacks {missing} (MXNet 1.9.1 has them)"
    for name in ("divide", "multiply", "subtract", "add", "make_loss", "flatten", "concat"):
        if space == "nd":
            assert name in need


@pytest.mark.oracle
def test_each_alias_is_the_same_operator_as_in_mxnet(oracle_names):
    canon = oracle_names["canon"]
    for space in ("nd", "sym"):
        for name, (kind, what) in required_names(oracle_names, space).items():
            if kind == "op":
                assert registry.get(name).name == registry.get(what).name, (
                    f"mx.{space}.{name} is {registry.get(name).name} here, {what} in MXNet")
    # and every alias mxteach registers is an alias in MXNet too
    for name, op in registry.all_ops().items():
        if name in canon:
            assert canon[name] == canon.get(op.name, op.name), name


def _sample(shape, k=0):
    n = int(np.prod(shape))
    return (np.linspace(-1.5, 2.0, n) * (1 + 0.1 * k) + 0.05 * k).reshape(shape).astype(np.float32)


# One small call per canonical operator that has more than one name in mx.nd: inputs, params.
SAMPLE_CALLS = {
    "BlockGrad": ([_sample((2, 3))], {}),
    "Cast": ([_sample((2, 3))], {"dtype": "float16"}),
    "Concat": ([_sample((2, 3)), _sample((2, 2), 1)], {"dim": 1}),
    "Flatten": ([_sample((2, 3, 2))], {}),
    "Reshape": ([_sample((2, 3))], {"shape": (3, 2)}),
    "SliceChannel": ([_sample((2, 4))], {"num_outputs": 2}),
    "SoftmaxOutput": ([_sample((2, 3)), np.array([0, 2], np.float32)], {}),
    "_copy": ([_sample((2, 3))], {}),
    "add_n": ([_sample((2, 3)), _sample((2, 3), 1), _sample((2, 3), 2)], {}),
    "broadcast_add": ([_sample((2, 3)), _sample((1, 3), 1)], {}),
    "broadcast_sub": ([_sample((2, 3)), _sample((2, 1), 1)], {}),
    "broadcast_axis": ([_sample((1, 3))], {"axis": 0, "size": 2}),
    "max": ([_sample((2, 3))], {"axis": 1}),
    "min": ([_sample((2, 3))], {"axis": 0}),
    "sum": ([_sample((2, 3))], {"axis": 1}),
    "SwapAxis": ([_sample((2, 3, 4))], {"dim1": 0, "dim2": 2}),
    "Pad": ([_sample((1, 1, 2, 3))], {"mode": "edge", "pad_width": (0, 0, 0, 0, 1, 0, 0, 2)}),
    "pick": ([_sample((2, 3)), np.array([2, 0], np.float32)], {"axis": 1}),
    "reverse": ([_sample((2, 3))], {"axis": 1}),
    "slice": ([_sample((3, 4))], {"begin": (1, None), "end": (3, -1)}),
    "CTCLoss": ([_sample((4, 2, 3)), np.array([[1, 2], [2, 0]], np.float32)], {}),
    # samplers with a degenerate distribution (low == high, a scale far below float32's
    # resolution), so the numbers do not depend on the generator
    "_random_uniform": ([], {"low": 2.0, "high": 2.0, "shape": (2, 3)}),
    "_random_normal": ([], {"loc": -1.5, "scale": 1e-30, "shape": (3,)}),
}

RUN_CALLS = '''
res = {}
for name, (inputs, params) in calls.items():
    got = getattr(mx.nd, name)(*[mx.nd.array(a) for a in inputs], **params)
    res[name] = [g.asnumpy() for g in got] if isinstance(got, list) else [got.asnumpy()]
out['res'] = res
'''


def _run_here(name, inputs, params):
    got = getattr(mx.nd, name)(*[mx.nd.array(a) for a in inputs], **params)
    return [g.asnumpy() for g in got] if isinstance(got, list) else [got.asnumpy()]


@pytest.mark.oracle
def test_each_alias_gives_mxnets_numbers(oracle_names):
    groups = {}
    for name, (kind, what) in required_names(oracle_names, "nd").items():
        if kind == "op":
            groups.setdefault(what, []).append(name)
    aliased = {c: names for c, names in groups.items() if len(names) > 1}
    assert "Concat" in aliased and "Flatten" in aliased
    lacking = sorted(set(aliased) - set(SAMPLE_CALLS))
    assert not lacking, f"add a sample call for {lacking} to SAMPLE_CALLS"
    calls = {name: SAMPLE_CALLS[c] for c, names in aliased.items() for name in names}
    theirs = run_oracle(RUN_CALLS, calls=calls)["res"]
    for c, names in aliased.items():
        canonical_here = _run_here(c, *SAMPLE_CALLS[c])
        for name in names:
            ours = _run_here(name, *calls[name])
            for a, b, ref in zip(ours, theirs[name], canonical_here):
                assert a.dtype == b.dtype and a.shape == b.shape, name
                np.testing.assert_allclose(a.astype(np.float64), b, rtol=1e-5, atol=1e-6,
                                           err_msg=f"mx.nd.{name} vs MXNet")
                np.testing.assert_array_equal(a, ref, err_msg=f"mx.nd.{name} vs mx.nd.{c}")


UFUNC_CASES = '''
res = {}
for name in names:
    f = getattr(mx.nd, name)
    res[name] = [f(mx.nd.array(a), mx.nd.array(b)).asnumpy(), f(mx.nd.array(a), 3).asnumpy(),
                 f(3, mx.nd.array(a)).asnumpy(), f(3, 2), f(2.5, 2.5)]
out['res'] = res
'''


@pytest.mark.oracle
def test_python_level_functions_match_mxnet(oracle_names):
    # every Python-level function MXNet builds on our operators, but moveaxis (tested below)
    # and the creation functions (ones; arange, eye, linspace: tests/test_ops_creation.py):
    # the binary functions over arrays and numbers
    names = sorted(n for n, (kind, _) in required_names(oracle_names, "nd").items()
                   if kind == "py" and n not in ("moveaxis", "ones", "arange", "eye",
                                                  "linspace", "split_v2", "histogram",
                                                  "onehot_encode"))  # test_ops_im2col/_index_extra
    assert {"add", "subtract", "multiply", "divide", "true_divide", "maximum"} <= set(names)
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    b = np.array([2.0, 3.0, 3.0], np.float32)
    theirs = run_oracle(UFUNC_CASES, names=names, a=a, b=b)["res"]
    for name in names:
        f = getattr(mx.nd, name)
        ours = [f(mx.nd.array(a), mx.nd.array(b)).asnumpy(), f(mx.nd.array(a), 3).asnumpy(),
                f(3, mx.nd.array(a)).asnumpy(), f(3, 2), f(2.5, 2.5)]
        for k, (x, y) in enumerate(zip(ours, theirs[name])):
            if k < 3:
                assert x.dtype == y.dtype and x.shape == y.shape, (name, k)
                np.testing.assert_allclose(x, y, rtol=1e-6, err_msg=f"{name} case {k}")
            else:
                assert x == y and type(x) is type(y), (name, k, x, y)


MAKE_LOSS = '''
with mx.name.NameManager():   # auto names start at 0 whatever ran before
    x = mx.sym.Variable('x')
    s = mx.sym.make_loss(x * 2)
exe = s.simple_bind(mx.cpu(), x=(2, 3))
exe.forward(is_train=True, x=mx.nd.array(xv))
exe.backward()
out['outputs'] = s.list_outputs()
out['y'] = exe.outputs[0].asnumpy()
out['gx'] = exe.grad_dict['x'].asnumpy()
out['op'] = [n['op'] for n in __import__('json').loads(s.tojson())['nodes']]
'''


@pytest.mark.oracle
def test_make_loss_is_mxnets_own_operator():
    xv = _sample((2, 3))
    theirs = run_oracle(MAKE_LOSS, xv=xv)
    ns = {"mx": mx, "xv": xv, "out": {}}
    exec(MAKE_LOSS, ns)
    ours = ns["out"]
    assert ours["outputs"] == theirs["outputs"] == ["make_loss0_loss"]
    assert ours["op"] == theirs["op"]
    np.testing.assert_allclose(ours["y"], theirs["y"], rtol=1e-6)
    np.testing.assert_allclose(ours["gx"], theirs["gx"], rtol=1e-6)


BASE_HELPERS = '''
import os
os.environ['MXNET_HOME'] = '/tmp/mxhome'
b = mx.base
out['types'] = {k: sorted({t.__name__ for t in getattr(b, k)})  # MXNet lists int twice (long)
                for k in ('string_types', 'numeric_types', 'integer_types')}
out['values'] = [b.py_str(b'caf\\xc3\\xa9'), b._as_list(3), b._as_list([1, 2]),
                 list(b._as_list((1, 2))), repr(b._Null), b.mx_real_t.__name__, b.data_dir(),
                 str(b.NotImplementedForSymbol(len, 'foo', 1)),
                 str(b.NotSupportedForSparseNDArray(len, None, 1.5)),
                 issubclass(b.MXNetError, RuntimeError)]
@b.register_error
class MyError(b.MXNetError):
    pass
out['registered'] = b.error_types['MyError'].__name__
out['dir'] = sorted(dir(b))
'''


@pytest.mark.oracle
def test_base_helpers_match_mxnet(monkeypatch):
    theirs = run_oracle(BASE_HELPERS)
    monkeypatch.setenv("MXNET_HOME", "/tmp/mxhome")
    ns = {"mx": mx, "out": {}}
    exec(BASE_HELPERS.replace("os.environ['MXNET_HOME'] = '/tmp/mxhome'", ""), ns)
    ours = ns["out"]
    assert ours["types"] == theirs["types"]
    assert ours["values"] == theirs["values"]
    assert ours["registered"] == theirs["registered"] == "MyError"
    for name in ("py_str", "_as_list", "string_types", "numeric_types", "integer_types",
                 "mx_real_t", "_Null", "data_dir", "data_dir_default", "register_error",
                 "error_types", "MXNetError", "NotImplementedForSymbol",
                 "NotSupportedForSparseNDArray"):
        assert name in theirs["dir"] and hasattr(base, name), name


TOP_LEVEL = '''
with mx.AttrScope(ctx_group='dev1'):
    v = mx.sym.Variable('v')
    with mx.AttrScope(ctx_group='dev2'):
        w = mx.sym.FullyConnected(v, num_hidden=2, name='fc')
    u = mx.sym.Variable('u')
out['attrs'] = [v.attr('ctx_group'), w.attr('ctx_group'), u.attr('ctx_group'),
                mx.sym.Variable('x').attr('ctx_group')]
out['same'] = mx.AttrScope is mx.attribute.AttrScope
p = mx.model.BatchEndParam(epoch=1, nbatch=2, eval_metric=None, locals=None)
out['bep'] = [type(p).__name__, list(p._fields), p.nbatch]
try:
    mx.AttrScope(ctx_group=1)
except ValueError as err:
    out['bad'] = 'ValueError'
'''


@pytest.mark.oracle
def test_top_level_names_match_mxnet():
    theirs = run_oracle(TOP_LEVEL)
    ns = {"mx": mx, "out": {}}
    exec(TOP_LEVEL, ns)
    assert ns["out"] == theirs
    assert theirs["attrs"] == ["dev1", "dev2", "dev1", None]


MOVEAXIS = '''
x = mx.nd.array(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
out['res'] = [mx.nd.moveaxis(x, 0, -1).asnumpy(), mx.nd.moveaxis(x, (0, 1), (2, 0)).asnumpy()]
try:
    mx.nd.moveaxis(x, 5, 0)
except (ValueError, IndexError) as err:
    out['err'] = [isinstance(err, ValueError), isinstance(err, IndexError)]
'''


@pytest.mark.oracle
def test_moveaxis_matches_mxnet():
    theirs = run_oracle(MOVEAXIS)
    ns = {"mx": mx, "np": np, "out": {}}
    exec(MOVEAXIS, ns)
    for a, b in zip(ns["out"]["res"], theirs["res"]):
        np.testing.assert_array_equal(a, b)
    assert ns["out"]["err"] == theirs["err"]
