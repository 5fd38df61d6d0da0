"""mx.init against real MXNet 1.9.1: name rules, constants, kernels, bounds, dumps, errors.

Random draws cannot match MXNet's generator bit for bit, so random fills are compared by their
bounds and moments on large arrays; everything deterministic is compared exactly. One oracle run
(module fixture) gathers all of MXNet's answers.
"""
import builtins
import json
import logging
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach import initializer as I  # noqa: N812 - reads like mx.init in the oracle code
from oracle import run_oracle

DESC_NAMES = ["fc1_weight", "fc1_bias", "bn_gamma", "bn_beta", "bn_moving_mean", "bn_moving_var",
              "bn_moving_inv_var", "x_moving_avg", "q_min", "q_max", "stn_loc_weight",
              "stn_loc_bias", "upsampling0_weight", "foo", "fc_weight_quantize",
              "fc_bias_quantize", "data", "weight_x"]
LEGACY_NAMES = ["fc1_weight", "fc1_bias", "bn_gamma", "bn_beta", "bn_moving_mean",
                "bn_moving_var", "bn_moving_inv_var", "x_moving_avg", "q_min", "q_max",
                "stn_loc_weight", "upsampling0_weight", "foo", "fc_weight_quantize", "data"]
RULE_INITS = ["I.Uniform(0.01)", "I.Constant(3.0)", "I.Zero()", "I.One()", "I.Xavier()",
              "I.Normal(0.5)", "I.LSTMBias(2.0)"]
DUMPS = ["I.Uniform()", "I.Uniform(0.01)", "I.Normal()", "I.Normal(0.5)", "I.Constant(2)",
         "I.Constant(np.array([1., 2.]))", "I.Constant(mx.nd.array([1, 2]))", "I.Zero()",
         "I.One()", "I.Xavier()", "I.Xavier(factor_type='in', magnitude=2.34)",
         "I.Xavier('gaussian', 'out', 2)", "I.MSRAPrelu()", "I.MSRAPrelu('in', 0.1)",
         "I.Orthogonal()", "I.Orthogonal(2.0, 'normal')", "I.Bilinear()", "I.LSTMBias()",
         "I.LSTMBias(0.5)", "I.Initializer()", "I.Initializer(a=1, b=[1, 2])"]
CREATE = ["'uniform'", "'UNIFORM'", "'zeros'", "'ones'", "'zero'", "'msraprelu'", "'lstmbias'",
          "'[\"uniform\", {\"scale\": 0.3}]'", "'{\"initializer\": \"normal\", \"sigma\": 0.2}'",
          "dict(initializer='xavier', magnitude=2)", "'uniform', 0.5",
          "'xavier', rnd_type='gaussian'", "initializer='normal', sigma=0.3",
          "I.Xavier(magnitude=1)"]
CREATE_ERRORS = ["'nope'", "'load'", "'mixed'", "I.Uniform(), scale=3", "3"]
BILINEAR_SHAPES = [(1, 1, 4, 4), (2, 3, 3, 3), (1, 1, 5, 5), (1, 2, 4, 6), (3, 1, 6, 3),
                   (1, 1, 2, 3, 4)]
# (initializer, shape, distribution); every array has tens of thousands of values
STATS = [("I.Uniform()", (300, 300), "uniform"), ("I.Uniform(0.01)", (300, 300), "uniform"),
         ("I.Normal(0.5)", (300, 300), "gaussian"), ("I.Xavier()", (400, 300), "uniform"),
         ("I.Xavier(factor_type='in', magnitude=2)", (128, 64, 3, 3), "uniform"),
         ("I.Xavier('gaussian', 'out', 3)", (128, 64, 3, 3), "gaussian"),
         ("I.MSRAPrelu()", (256, 300), "gaussian"),
         ("I.MSRAPrelu('in', 0.0)", (64, 32, 5, 5), "gaussian"),
         ("I.Xavier('uniform', 'avg', 6)", (20, 3000), "uniform")]
ORTHO = [("I.Orthogonal()", (4, 6)), ("I.Orthogonal()", (6, 4)), ("I.Orthogonal(0.5)", (5, 5)),
         ("I.Orthogonal(1.0, 'normal')", (3, 2, 2)), ("I.Orthogonal(2.0, 'normal')", (8, 3))]
ERRORS = {
    "xavier_vector": "I.Xavier()(I.InitDesc('x_weight'), mx.nd.zeros(3))",
    "xavier_factor": "I.Xavier(factor_type='bad')(I.InitDesc('x_weight'), mx.nd.zeros((3, 3)))",
    "xavier_rnd": "I.Xavier(rnd_type='bad')(I.InitDesc('x_weight'), mx.nd.zeros((3, 3)))",
    "msra_vector": "I.MSRAPrelu()(I.InitDesc('p_weight'), mx.nd.zeros(4))",
    "base_weight": "I.Initializer()(I.InitDesc('w_weight'), mx.nd.zeros(2))",
    "mixed_nomatch": "I.Mixed(['bias'], [I.Zero()])(I.InitDesc('fc_weight'), mx.nd.zeros(2))",
    "mixed_lengths": "I.Mixed(['a', 'b'], [I.Zero()])",
    "load_shape": "I.Load(P)(I.InitDesc('fc_weight'), mx.nd.zeros((3,)))",
    "load_missing": "I.Load(P)(I.InitDesc('zzz'), mx.nd.zeros((3,)))",
    "load_notdict": "I.Load([1])",
    "register_int": "I.register(int)",
    "legacy_name": "I.Uniform()(3, mx.nd.zeros(3))",
    "legacy_loc_bias": "I.Uniform()('stn_loc_bias', mx.nd.zeros(5))",
    "unknown": "I.Uniform()(I.InitDesc('foo'), mx.nd.zeros(3))",
}

_ORACLE_CODE = r"""
import warnings, logging, json
I = mx.init
def outcome(fn):
    try:
        fn()
        return None
    except BaseException as e:
        return [type(e).__name__, str(e)]
def fill(init, desc, shape):
    a = mx.nd.full(shape, 7.0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        err = outcome(lambda: init(desc, a))
    return {'err': err, 'val': a.asnumpy(), 'warn': [x.category.__name__ for x in w]}

out['desc'] = {(e, n): fill(eval(e), I.InitDesc(n), (6, 4)) for e in RULE_INITS
               for n in DESC_NAMES}
out['legacy'] = {n: fill(I.Uniform(0.01), n, (6, 2, 2, 2)) for n in LEGACY_NAMES}
out['legacy']['stn_loc_bias'] = fill(I.Uniform(0.01), 'stn_loc_bias', (6,))
out['dumps'] = [eval(e).dumps() for e in DUMPS]
out['create'] = [[type(c).__name__, c.dumps()] for c in
                 (eval('I.create(%s)' % e) for e in CREATE)]
out['create_err'] = [outcome(lambda: eval('I.create(%s)' % e)) for e in CREATE_ERRORS]
P = {'arg:fc_weight': mx.nd.ones((2, 2)), 'aux:bn_moving_mean': mx.nd.full((2,), 3),
     'plain': mx.nd.full((1,), 5)}
out['errors'] = {k: outcome(lambda: eval(v)) for k, v in ERRORS.items()}

# attribute overrides, as Variable(init=...) and BatchNorm set them
attrs = {}
attrs.update(mx.sym.Variable('v', init=I.Uniform(0.3)).attr_dict())
attrs.update(mx.sym.Variable('w', init=I.Constant(np.array([1., 2., 3., 4.]))).attr_dict())
attrs.update(mx.sym.Variable('s', init='one').attr_dict())
attrs.update(mx.sym.Variable('l_bias', init=I.LSTMBias(2.5)).attr_dict())
attrs.update(mx.sym.Variable('z_gamma', init=I.Zero()).attr_dict())
attrs.update(mx.sym.BatchNorm(mx.sym.Variable('data'), name='bn').attr_dict())
out['attrs'] = attrs
out['attr_fill'] = {(e, n): fill(eval(e), I.InitDesc(n, attrs[n]), (4,))
                    for e in ['I.Uniform(0.01)', 'I.Xavier()'] for n in attrs}
out['lstm'] = {str(s): fill(I.Uniform(), I.InitDesc('l_bias', attrs['l_bias']), s)
               for s in [(8,), (10,), (12,), (8, 3)]}

# the Module default: Uniform(0.01) with the symbol's attributes
data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data, num_hidden=8, name='fc1')
bn = mx.sym.BatchNorm(fc1, name='bn', fix_gamma=False)
w2 = mx.sym.Variable('fc2_weight', init=I.Constant(0.5))
fc2 = mx.sym.FullyConnected(bn, weight=w2, num_hidden=3, name='fc2')
net = mx.sym.SoftmaxOutput(fc2, name='softmax')
mod = mx.mod.Module(net)
mod.bind(data_shapes=[('data', (4, 5))], label_shapes=[('softmax_label', (4,))])
mod.init_params()
arg, aux = mod.get_params()
out['mod_params'] = dict(arg, **aux)
out['mod_attrs'] = net.attr_dict()

out['bilinear'] = {}
for s in BILINEAR_SHAPES:
    a = mx.nd.zeros(s)
    I.Bilinear()(I.InitDesc('up_weight'), a)
    out['bilinear'][s] = a.asnumpy()

out['stats'] = []
for e, shape, _ in STATS:
    a = mx.nd.zeros(shape)
    eval(e)(I.InitDesc('w_weight'), a)
    v = a.asnumpy().astype(np.float64)
    out['stats'].append([float(v.min()), float(v.max()), float(v.std()), float(v.mean())])
out['ortho'] = []
for e, shape in ORTHO:
    a = mx.nd.zeros(shape)
    eval(e)(I.InitDesc('o_weight'), a)
    out['ortho'].append(a.asnumpy())

m = I.Mixed(['bias', '.*'], [I.Zero(), I.One()])
out['mixed'] = {n: fill(m, I.InitDesc(n), (2,)) for n in ['fc_bias', 'fc_weight', 'bias_x']}
out['mixed_const'] = fill(I.Mixed(['.*'], [I.Constant(4.0)]), I.InitDesc('fc_bias'), (2,))

L = I.Load(P, default_init=I.Constant(9))
out['load_keys'] = sorted(L.param)
out['load'] = {n: fill(L, I.InitDesc(n), s) for n, s in
               [('fc_weight', (2, 2)), ('bn_moving_mean', (2,)), ('plain', (1,)),
                ('other_weight', (2,)), ('other', (2,))]}
mx.nd.save(workdir + '/p.params', P)
out['params_file'] = open(workdir + '/p.params', 'rb').read()

records = []
class _Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger().addHandler(_Keep())
logging.getLogger().setLevel(logging.INFO)
class Two(I.Initializer):
    def _init_weight(self, _, arr):
        arr[:] = 2.0
t = Two().set_verbosity(True)
a = mx.nd.array([[3., 4.]])
for d in [I.InitDesc('w_weight'), I.InitDesc('w_bias'),
          I.InitDesc('w', {'__init__': '["one", {}]'})]:
    t(d, a)
t.set_verbosity(True, print_func=lambda arr: 'S%d' % arr.shape[1])
for n in ['w_gamma', 'w_max', 'w_weight_quantize']:
    t(I.InitDesc(n), a)
LV = I.Load({'arg:fc_weight': mx.nd.ones((1, 2))}, default_init=I.Zero(), verbose=True)
LV(I.InitDesc('fc_weight'), a)
LV(I.InitDesc('fc_bias'), a)
out['log'] = records

out['eq'] = [I.Uniform(0.1) == I.Uniform(0.1), I.Uniform(0.1) == I.Normal(0.1),
             I.Xavier() == I.Xavier(magnitude=3), I.Uniform(0.1) == I.Uniform(0.2)]
out['hash'] = outcome(lambda: hash(I.Uniform()))
class My(I.Initializer):
    def __init__(self, k=1):
        super().__init__(k=k)
out['my_dumps'] = My(3).dumps()
d = I.InitDesc('abc_weight')
u = I.Uniform(0.01)
u(d, mx.nd.zeros((2, 2)))
d2 = I.InitDesc('abc_weight', global_init=I.Normal())
u(d2, mx.nd.zeros((2, 2)))
out['global_init'] = [d.global_init is u, type(d2.global_init).__name__]
"""


@pytest.fixture(scope="module")
def oracle():
    return run_oracle(_ORACLE_CODE, DESC_NAMES=DESC_NAMES, LEGACY_NAMES=LEGACY_NAMES,
                      RULE_INITS=RULE_INITS, DUMPS=DUMPS, CREATE=CREATE,
                      CREATE_ERRORS=CREATE_ERRORS, BILINEAR_SHAPES=BILINEAR_SHAPES,
                      STATS=STATS, ORTHO=ORTHO, ERRORS=ERRORS)


def _fill(init, desc, shape):
    a = mx.nd.full(shape, 7.0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            init(desc, a)
            err = None
        except Exception as e:  # noqa: BLE001 - compared with the oracle's outcome
            err = e
    return {"err": err, "val": a.asnumpy(), "warn": [x.category.__name__ for x in w]}


def _same_outcome(ours, theirs, what, random_bound=None):
    """Errors of the same builtin kind; else equal values, or for a random draw
    (``random_bound`` given) values spread inside the same bound on both sides."""
    if theirs["err"] is not None:
        kind = getattr(builtins, theirs["err"][0])
        assert isinstance(ours["err"], kind), (what, theirs["err"], ours["err"])
        return
    assert ours["err"] is None, (what, ours["err"])
    if random_bound is None:
        np.testing.assert_array_equal(ours["val"], theirs["val"], err_msg=str(what))
        return
    for vals in (ours["val"], theirs["val"]):
        assert np.unique(vals).size == vals.size, what
        assert np.abs(vals).max() <= random_bound, what


# -- which name gets which rule ----------------------------------------------------------------
@pytest.mark.oracle
def test_name_rules_match_mxnet(oracle):
    for (expr, name), theirs in oracle["desc"].items():
        ours = _fill(eval(expr), I.InitDesc(name), (6, 4))
        bound = None
        if I.match_rule(I.InitDesc(name)) == "weight":
            bound = {"I.Uniform(0.01)": 0.01, "I.Xavier()": np.sqrt(3 / 5),
                     "I.Normal(0.5)": 0.5 * 6}.get(expr)
        if name == "fc_weight_quantize":  # one random integer repeated: compare the form
            assert np.unique(theirs["val"]).size == 1 and np.unique(ours["val"]).size == 1
            v = ours["val"].flat[0]
            assert v == int(v) and -127 <= v < 127
            continue
        _same_outcome(ours, theirs, (expr, name), bound)


@pytest.mark.oracle
def test_legacy_string_names_match_mxnet(oracle):
    for name, theirs in oracle["legacy"].items():
        shape = (6,) if name == "stn_loc_bias" else (6, 2, 2, 2)
        ours = _fill(I.Uniform(0.01), name, shape)
        assert ours["warn"] == theirs["warn"] == ["DeprecationWarning"]
        _same_outcome(ours, theirs, name, 0.01 if name == "fc1_weight" else None)
    np.testing.assert_array_equal(oracle["legacy"]["stn_loc_bias"]["val"], [1, 0, 0, 0, 1, 0])


def test_match_rule_table():
    assert [I.match_rule(I.InitDesc(n)) for n in
            ["a_weight", "a_bias", "a_gamma", "a_beta", "a_min", "a_max", "a_weight_quantize",
             "a_bias_quantize", "bn_moving_mean", "data"]] == \
        ["weight", "bias", "gamma", "beta", "min", "max", "weight_quantize", "bias_quantize",
         None, None]
    assert [I.match_rule(n) for n in ["bn_moving_mean", "bn_moving_var", "upsampling1_weight",
                                      "stn_loc_bias", "stn_loc_weight", "x"]] == \
        ["zero", "one", "bilinear", "loc_bias", "zero", None]
    assert I.match_rule(I.InitDesc("bn_moving_var", {"__init__": '["one", {}]'})) == \
        '__init__:["one", {}]'


@pytest.mark.oracle
def test_unknown_pattern_error(oracle):
    kind, msg = oracle["errors"]["unknown"]
    assert kind == "ValueError" and msg.startswith("Unknown initialization pattern for foo.")
    for init in [I.Uniform(), I.Constant(3.0), I.Xavier(), I.Zero()]:
        with pytest.raises(I.UnknownInitPatternError) as exc:
            init(I.InitDesc("bn_moving_mean"), mx.nd.zeros(3))
        assert isinstance(exc.value, ValueError) and isinstance(exc.value, mx.MXNetError)
        assert str(exc.value).startswith("Unknown initialization pattern for bn_moving_mean.")
        assert "init=mx.init" in str(exc.value)


# -- the __init__ attribute and the Module default -------------------------------------------
@pytest.mark.oracle
def test_init_attribute_overrides_name(oracle):
    attrs = oracle["attrs"]
    assert attrs["v"] == {"__init__": I.Uniform(0.3).dumps()}
    assert attrs["w"] == {"__init__": I.Constant(np.array([1., 2., 3., 4.])).dumps()}
    assert attrs["bn_moving_mean"] == {"__init__": I.Zero().dumps()}
    assert attrs["bn_moving_var"] == {"__init__": I.One().dumps()}
    for (expr, name), theirs in oracle["attr_fill"].items():
        ours = _fill(eval(expr), I.InitDesc(name, attrs[name]), (4,))
        _same_outcome(ours, theirs, (expr, name), 0.3 if name == "v" else None)
    np.testing.assert_array_equal(oracle["attr_fill"][("I.Xavier()", "w")]["val"], [1, 2, 3, 4])


@pytest.mark.oracle
def test_module_default_uniform_001(oracle):
    attrs = oracle["mod_attrs"]
    params = oracle["mod_params"]
    assert sorted(params) == ["bn_beta", "bn_gamma", "bn_moving_mean", "bn_moving_var",
                              "fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"]
    init = I.Uniform(0.01)
    for name, ref in params.items():
        arr = mx.nd.full(ref.shape, 7.0)
        init(I.InitDesc(name, attrs.get(name)), arr)
        ours = arr.asnumpy()
        if name == "fc1_weight":
            assert np.abs(ref).max() <= 0.01 and np.abs(ours).max() <= 0.01
            assert np.unique(ours).size == ours.size
        else:
            np.testing.assert_array_equal(ours, ref, err_msg=name)
    np.testing.assert_array_equal(params["fc2_weight"], np.full((3, 8), 0.5, np.float32))


@pytest.mark.oracle
def test_lstm_bias_layout(oracle):
    attrs = oracle["attrs"]
    for shape, theirs in oracle["lstm"].items():
        ours = _fill(I.Uniform(), I.InitDesc("l_bias", attrs["l_bias"]), eval(shape))
        np.testing.assert_array_equal(ours["val"], theirs["val"], err_msg=shape)
    np.testing.assert_array_equal(oracle["lstm"]["(12,)"]["val"],
                                  [0, 0, 0, 2.5, 2.5, 2.5, 0, 0, 0, 0, 0, 0])
    # by suffix alone LSTMBias is just another initializer: biases stay 0
    ref = oracle["desc"][("I.LSTMBias(2.0)", "fc1_bias")]["val"]
    np.testing.assert_array_equal(ref, np.zeros((6, 4)))


# -- deterministic kernels ---------------------------------------------------------------------
@pytest.mark.oracle
def test_bilinear_kernels_exact(oracle):
    for shape, ref in oracle["bilinear"].items():
        arr = mx.nd.zeros(shape)
        I.Bilinear()(I.InitDesc("up_weight"), arr)
        np.testing.assert_array_equal(arr.asnumpy(), ref, err_msg=str(shape))
        np.testing.assert_array_equal(I.bilinear_kernel(shape), ref)
    np.testing.assert_array_equal(oracle["bilinear"][(1, 1, 4, 4)][0, 0, 0],
                                  [0.0625, 0.1875, 0.1875, 0.0625])
    with pytest.raises(I.InitializerError, match="4-D"):
        I.Bilinear()(I.InitDesc("up_weight"), mx.nd.zeros((3, 3)))


@pytest.mark.oracle
def test_constant_and_mixed(oracle):
    arr = mx.nd.zeros((2, 3))
    I.Constant(mx.nd.array([1, 2, 3]))(I.InitDesc("c_weight"), arr)
    np.testing.assert_array_equal(arr.asnumpy(), [[1, 2, 3], [1, 2, 3]])
    m = I.Mixed(["bias", ".*"], [I.Zero(), I.One()])
    for name, theirs in oracle["mixed"].items():
        _same_outcome(_fill(m, I.InitDesc(name), (2,)), theirs, name)
    # re.match anchors at the start: 'bias' misses fc_bias, which '.*' -> One() zeroes by suffix
    np.testing.assert_array_equal(oracle["mixed"]["fc_bias"]["val"], [0, 0])
    assert oracle["mixed"]["bias_x"]["err"][0] == "ValueError"
    ours = _fill(I.Mixed([".*"], [I.Constant(4.0)]), I.InitDesc("fc_bias"), (2,))
    np.testing.assert_array_equal(ours["val"], oracle["mixed_const"]["val"])


# -- random initializers: bounds and moments -------------------------------------------------
@pytest.mark.oracle
def test_random_bounds_and_moments(oracle):
    mx.random.seed(3)
    for (expr, shape, dist), (lo, hi, std, mean) in zip(STATS, oracle["stats"]):
        init = eval(expr)
        arr = mx.nd.zeros(shape)
        init(I.InitDesc("w_weight"), arr)
        v = arr.asnumpy().astype(np.float64)
        n = v.size
        if dist == "uniform":
            bound = init.scale if isinstance(init, I.Uniform) else init.scale_for(shape)
            # MXNet's extremes sit just inside the same bound
            assert -bound <= lo and hi <= bound and hi > bound * (1 - 1e-3), expr
            assert -bound <= v.min() and v.max() <= bound, expr
            assert v.max() > bound * (1 - 1e-3) and v.min() < -bound * (1 - 1e-3), expr
            expected_std = bound / np.sqrt(3)
        else:
            expected_std = init.sigma if isinstance(init, I.Normal) else init.scale_for(shape)
        assert abs(std / expected_std - 1) < 0.02, (expr, "oracle", std, expected_std)
        assert abs(v.std() / std - 1) < 0.03, (expr, v.std(), std)
        assert abs(v.mean()) < 5 * std / np.sqrt(n) and abs(mean) < 5 * std / np.sqrt(n), expr


def test_xavier_and_msra_scale_by_hand():
    # (out, in, kh, kw) = (2, 3, 4, 5): fan_in = 60, fan_out = 40
    assert I.Xavier().scale_for((2, 3, 4, 5)) == pytest.approx(np.sqrt(3 / 50))
    assert I.Xavier(factor_type="in", magnitude=2).scale_for((2, 3, 4, 5)) == \
        pytest.approx(np.sqrt(2 / 60))
    assert I.Xavier(factor_type="out").scale_for((2, 3, 4, 5)) == pytest.approx(np.sqrt(3 / 40))
    assert I.MSRAPrelu("in", 0.0).scale_for((10, 8)) == pytest.approx(np.sqrt(2 / 8))
    assert I.MSRAPrelu(slope=1.0).scale_for((10, 10)) == pytest.approx(np.sqrt(1 / 10))


@pytest.mark.oracle
def test_orthogonal(oracle):
    mx.random.seed(0)
    for (expr, shape), ref in zip(ORTHO, oracle["ortho"]):
        init = eval(expr)
        arr = mx.nd.zeros(shape)
        init(I.InitDesc("o_weight"), arr)
        for w in (arr.asnumpy(), ref):
            m = w.reshape(shape[0], -1).astype(np.float64)
            gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
            np.testing.assert_allclose(gram, init.scale ** 2 * np.eye(len(gram)), atol=1e-5,
                                       err_msg=expr)
        np.testing.assert_allclose(np.linalg.svd(arr.asnumpy().reshape(shape[0], -1))[1],
                                   np.linalg.svd(ref.reshape(shape[0], -1))[1], atol=1e-5)
    with pytest.raises(I.InitializerError, match="rand_type"):
        I.Orthogonal(rand_type="bad")(I.InitDesc("o_weight"), mx.nd.zeros((3, 3)))


def test_seed_makes_draws_repeat():
    def draw(seed, init):
        mx.random.seed(seed)
        arr = mx.nd.zeros((5, 7))
        init(I.InitDesc("w_weight"), arr)
        return arr.asnumpy()
    for init in [I.Uniform(), I.Normal(), I.Xavier(), I.MSRAPrelu(), I.Orthogonal()]:
        np.testing.assert_array_equal(draw(7, init), draw(7, init))
        assert not np.array_equal(draw(7, init), draw(8, init))


def test_other_dtypes_are_filled():
    for dtype in ["float64", "float16"]:
        arr = mx.nd.zeros((40, 30), dtype=dtype)
        I.Xavier()(I.InitDesc("w_weight"), arr)
        assert arr.asnumpy().dtype == np.dtype(dtype)
        assert 0 < np.abs(arr.asnumpy()).max() <= I.Xavier().scale_for((40, 30)) * 1.001
    arr = np.zeros((4, 4), dtype=np.float32)
    I.Constant(2.5)(I.InitDesc("w_weight"), arr)
    np.testing.assert_array_equal(arr, np.full((4, 4), 2.5))


# -- dumps, create, register ------------------------------------------------------------------
@pytest.mark.oracle
def test_dumps_match_mxnet(oracle):
    assert [eval(e).dumps() for e in DUMPS] == oracle["dumps"]
    assert oracle["dumps"][1] == '["uniform", {"scale": 0.01}]'


@pytest.mark.oracle
def test_create_matches_mxnet(oracle):
    ours = [[type(c).__name__, c.dumps()] for c in (eval(f"I.create({e})") for e in CREATE)]
    assert ours == oracle["create"]
    for expr, (kind, msg) in zip(CREATE_ERRORS, oracle["create_err"]):
        assert kind == "AssertionError"
        with pytest.raises(AssertionError) as exc:
            eval(f"I.create({expr})")
        assert isinstance(exc.value, mx.MXNetError)
    with pytest.raises(I.InitializerAssertionError, match="Did you mean 'uniform'"):
        I.create("unifrom")
    # create() round-trips every registered initializer's dumps()
    for expr in DUMPS[:-2]:
        init = eval(expr)
        assert I.create(init.dumps()) == I.create(init.dumps())
        assert I.create(init.dumps()).dumps() == init.dumps()


@pytest.mark.oracle
def test_register_alias_and_custom_dumps(oracle):
    class My(I.Initializer):
        def __init__(self, k=1):
            super().__init__(k=k)

        def _init_weight(self, _, arr):
            arr[:] = self._kwargs["k"]

    assert My(3).dumps() == oracle["my_dumps"] == '["my", {"k": 3}]'
    try:
        I.register(My)
        I.alias("mine", "MyOwn")(My)
        for name in ["my", "mine", "myown"]:
            arr = mx.nd.zeros(3)
            I.create(name, k=4)(I.InitDesc("a_weight"), arr)
            np.testing.assert_array_equal(arr.asnumpy(), [4, 4, 4])
        with pytest.warns(UserWarning, match="replaces"):
            I.register(type("My", (I.Initializer,), {}))
    finally:
        for name in ["my", "mine", "myown"]:
            I.base.INITIALIZERS.live.pop(name, None)
    kind, _ = oracle["errors"]["register_int"]
    with pytest.raises(getattr(builtins, kind), match="subclasses of Initializer"):
        I.register(int)


@pytest.mark.oracle
def test_equality_and_hash(oracle):
    assert [I.Uniform(0.1) == I.Uniform(0.1), I.Uniform(0.1) == I.Normal(0.1),
            I.Xavier() == I.Xavier(magnitude=3), I.Uniform(0.1) == I.Uniform(0.2)] == \
        oracle["eq"] == [True, False, True, False]
    assert oracle["hash"][0] == "TypeError"
    with pytest.raises(TypeError):
        hash(I.Uniform())


# -- InitDesc, verbosity -----------------------------------------------------------------------
@pytest.mark.oracle
def test_init_desc(oracle):
    d = I.InitDesc("fc_weight")
    assert isinstance(d, str) and d == "fc_weight" and d.attrs == {} and d.global_init is None
    u = I.Uniform(0.01)
    u(d, mx.nd.zeros((2, 2)))
    d2 = I.InitDesc("abc_weight", global_init=I.Normal())
    u(d2, mx.nd.zeros((2, 2)))
    assert [d.global_init is u, type(d2.global_init).__name__] == oracle["global_init"]
    assert {I.InitDesc("a"): 1}["a"] == 1


@pytest.mark.oracle
def test_verbose_logging_matches_mxnet(oracle, caplog):
    class Two(I.Initializer):
        def _init_weight(self, _, arr):
            arr[:] = 2.0

    with caplog.at_level(logging.INFO):
        t = Two().set_verbosity(True)
        a = mx.nd.array([[3., 4.]])
        for d in [I.InitDesc("w_weight"), I.InitDesc("w_bias"),
                  I.InitDesc("w", {"__init__": '["one", {}]'})]:
            t(d, a)
        t.set_verbosity(True, print_func=lambda arr: "S%d" % arr.shape[1])
        for n in ["w_gamma", "w_max", "w_weight_quantize"]:
            t(I.InitDesc(n), a)
        lv = I.Load({"arg:fc_weight": mx.nd.ones((1, 2))}, default_init=I.Zero(), verbose=True)
        lv(I.InitDesc("fc_weight"), a)
        lv(I.InitDesc("fc_bias"), a)
    ours = [r.getMessage() for r in caplog.records if r.name == "root"]
    assert ours == oracle["log"]
    assert oracle["log"][0] == "Initialized w_weight as weight: 2.0"


# -- Load ----------------------------------------------------------------------------------------
def _params():
    return {"arg:fc_weight": mx.nd.ones((2, 2)), "aux:bn_moving_mean": mx.nd.full((2,), 3),
            "plain": mx.nd.full((1,), 5)}


@pytest.mark.oracle
def test_load_from_dict_matches_mxnet(oracle):
    load = I.Load(_params(), default_init=I.Constant(9))
    assert sorted(load.param) == oracle["load_keys"] == ["bn_moving_mean", "fc_weight", "plain"]
    for name, theirs in oracle["load"].items():
        _same_outcome(_fill(load, I.InitDesc(name), theirs["val"].shape), theirs, name)
    np.testing.assert_array_equal(oracle["load"]["other_weight"]["val"], [9, 9])


@pytest.mark.oracle
def test_load_reads_a_file_lazily(oracle, tmp_path, monkeypatch):
    seen = []

    def fake_load(path):
        seen.append(path)
        return {"arg:x_weight": mx.nd.full((2,), 4.0)}

    monkeypatch.setattr(mx.nd, "load", fake_load, raising=False)
    load = I.Load("somewhere.params")
    arr = mx.nd.zeros(2)
    load(I.InitDesc("x_weight"), arr)
    assert seen == ["somewhere.params"] and arr.asnumpy().tolist() == [4.0, 4.0]
    monkeypatch.undo()
    if not hasattr(mx.nd, "load"):
        pytest.skip("mxteach.ndarray.load is not there yet")
    path = tmp_path / "p.params"
    path.write_bytes(oracle["params_file"])
    load = I.Load(str(path), default_init=I.Constant(9))
    assert sorted(load.param) == oracle["load_keys"]
    arr = mx.nd.zeros((2,))
    load(I.InitDesc("bn_moving_mean"), arr)
    np.testing.assert_array_equal(arr.asnumpy(), [3, 3])


# -- errors -----------------------------------------------------------------------------------
@pytest.mark.oracle
def test_errors_have_mxnets_kind_and_teach(oracle):
    P = _params()  # noqa: N806 - the name the ERRORS expressions use
    fragments = {
        "xavier_vector": "cannot be applied to vector x_weight",
        "xavier_factor": "Incorrect factor type",
        "xavier_rnd": "Unknown random type",
        "msra_vector": "cannot be applied to vector p_weight",
        "base_weight": "_init_weight",
        "mixed_nomatch": "fc_weight did not match any pattern",
        "mixed_lengths": "one initializer per pattern",
        "load_shape": "Shape mismatch, target (3,) vs loaded (2, 2)",
        "load_missing": "Cannot initialize zzz",
        "load_notdict": "needs a dict",
        "register_int": "subclasses of Initializer",
        "legacy_name": "must be a string",
        "legacy_loc_bias": "shape (6,)",
        "unknown": "Unknown initialization pattern for foo.",
    }
    for key, expr in ERRORS.items():
        kind, msg = oracle["errors"][key]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(getattr(builtins, kind)) as exc:
                eval(expr)
        assert fragments[key] in str(exc.value), (key, str(exc.value))
        if kind != "NotImplementedError":
            assert isinstance(exc.value, mx.MXNetError), key
    # MXNet forgets to format the name into Mixed's message; ours names it
    assert "%s" in oracle["errors"]["mixed_nomatch"][1]
    assert oracle["errors"]["load_shape"][1].endswith("target (3,) vs loaded (2, 2)")
