"""Every loader answers malformed files with MXNetError (issue 9, item 3).

Seeded mutations of valid files -- bit flips, truncations, huge or negative sizes written over
length fields, wrong magic, invalid UTF-8, deep nesting, spliced chunks -- go through each
loader: ``mx.nd.load``, ``mx.sym.load`` / ``load_json``, ``mx.model.load_checkpoint``,
``Module.load`` and ``Module.load_optimizer_states``. Each case must either load or raise
MXNetError (never UnicodeDecodeError, RecursionError, IndexError, struct.error, TypeError,
MemoryError ...), within a time limit, with the memory it allocates bounded by the file size
(tracemalloc sees numpy's allocations too). 2,000 cases per loader by default; ``-m slow``
runs 20,000.
"""
import collections
import json
import random
import struct
import time
import tracemalloc

import numpy as np
import pytest

import mxteach as mx
from mxteach.optimizer import states as optimizer_states
from mxteach.base import MXNetError
from mxteach.ndarray import serialization as ser

# mutated names end up in Module's "label_names not an argument" warnings: not the subject here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CASES, SLOW_CASES = 2000, 20000
SPECIAL = [0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 2**63 - 1, 2**64 - 1, 2**40, 2**31, 0, 1, 65,
           2**64 - 16]
PER_CASE_SECONDS = 2.0


def _memory_limit(nbytes):
    return 64 * nbytes + (4 << 20)


# -- valid files ---------------------------------------------------------------------------------
def _net():
    net = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=6, name="fc1")
    net = mx.sym.BatchNorm(mx.sym.Activation(net, act_type="relu"), name="bn")
    net = mx.sym.Reshape(net, shape=(0, -1))
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(net, num_hidden=3, name="fc2"),
                                name="softmax")


def _csr_file():
    """A one-array file holding a 3x4 CSR record (built by hand: mxteach writes dense)."""
    rec = struct.pack("<Ii", ser.V2_MAGIC, ser.STYPE_CSR) + struct.pack("<iq", 1, 3)
    rec += struct.pack("<iqq", 2, 3, 4) + struct.pack("<iii", 1, 0, 0)
    rec += struct.pack("<i", 6) + struct.pack("<iq", 1, 4) + struct.pack("<i", 6)
    rec += struct.pack("<iq", 1, 3)
    rec += np.array([1, 2, 3], "<f4").tobytes() + np.array([0, 1, 3, 3], "<i8").tobytes()
    rec += np.array([0, 1, 3], "<i8").tobytes()
    return struct.pack("<QQQ", ser.LIST_MAGIC, 0, 1) + rec + struct.pack("<Q", 0)


def _row_sparse_file():
    rec = struct.pack("<Ii", ser.V2_MAGIC, ser.STYPE_ROW_SPARSE) + struct.pack("<iqq", 2, 2, 3)
    rec += struct.pack("<iqq", 2, 5, 3) + struct.pack("<iii", 1, 0, 0)
    rec += struct.pack("<i", 6) + struct.pack("<iq", 1, 2)
    rec += np.arange(6, dtype="<f4").tobytes() + np.array([1, 4], "<i8").tobytes()
    return struct.pack("<QQQ", ser.LIST_MAGIC, 0, 1) + rec + struct.pack("<Q", 0)


def _module():
    mod = mx.mod.Module(_net())
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer(optimizer_params=(("learning_rate", 0.1), ("momentum", 0.9)))
    batch = mx.io.DataBatch([mx.nd.ones((4, 5))], [mx.nd.array([0, 1, 2, 1])])
    mod.forward_backward(batch)
    mod.update()
    return mod


# -- mutations -----------------------------------------------------------------------------------
def _mutate_bytes(rng, data, text=False):
    b = bytearray(data)
    kind = rng.randrange(9)
    if kind == 0 or not b:
        for _ in range(rng.randint(1, 8)):
            if b:
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        b = b[:rng.randrange(len(b))]
    elif kind in (2, 3):                                       # huge / negative sizes
        i = rng.randrange(0, max(1, len(b) - 8))
        v = rng.choice(SPECIAL)
        if rng.random() < 0.5:
            b[i:i + 8] = struct.pack("<Q", v % 2**64)
        else:
            b[i:i + 4] = struct.pack("<I", v % 2**32)
    elif kind == 4:                                            # wrong magic
        n = 4 if text else rng.choice([1, 4, 8])
        b[0:n] = bytes(rng.randrange(256) for _ in range(n))
    elif kind == 5:                                            # invalid UTF-8
        i = rng.randrange(len(b) + 1)
        b[i:i] = rng.choice([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                             b"\xe2\x82"])
    elif kind == 6:                                            # deep nesting
        i = rng.randrange(len(b) + 1)
        n = rng.choice([40, 1000, 200000] if text else [40, 1000, 20000])
        b[i:i] = (b"[" if text else rng.choice([b"(", b"]", b"\x28\x5d"])) * n
    elif kind == 7:                                            # splice a chunk elsewhere
        i, j = sorted(rng.randrange(len(b) + 1) for _ in range(2))
        k = rng.randrange(len(b) + 1)
        b[k:k] = b[i:j]
    else:                                                      # delete a chunk
        i, j = sorted(rng.randrange(len(b) + 1) for _ in range(2))
        del b[i:j]
    return bytes(b)


def _mutate_json(rng, text):
    """Structural mutations of a symbol graph, or byte-level ones."""
    if rng.random() < 0.5:
        return _mutate_bytes(rng, text.encode("utf-8"), text=True)
    g = json.loads(text)
    node = rng.choice(g["nodes"])
    kind = rng.randrange(6)
    bad = [-1, 10**6, 2**70, 1.5, "x", None, [], True]
    if kind == 0 and node.get("inputs"):
        entry = rng.choice(node["inputs"])
        entry[rng.randrange(len(entry))] = rng.choice(bad)
    elif kind == 1:
        node["op"] = rng.choice(["NoSuchOp", "null", "Convolution", 7, None, "FullyConnected"])
    elif kind == 2:
        attrs = node.setdefault("attrs", {})
        key = rng.choice(list(attrs) or ["num_hidden"])
        attrs[key] = rng.choice(["-1", "(" * 5000, "((((1", "1e999", "abc", "[" * 30 + "]" * 30,
                                 "0", "None", "2**100", "\x00", 3, None, {"a": 1}])
    elif kind == 3:
        g["heads"] = rng.choice([[], [[99, 0, 0]], [[0, 5, 0]], "x", [[-1, 0, 0]], None])
    elif kind == 4:                                            # a cycle / forward reference
        k = g["nodes"].index(node)
        node.setdefault("inputs", []).append([min(k + rng.randrange(3), len(g["nodes"]) - 1),
                                              0, 0])
    else:
        del g[rng.choice(list(g))]
    return json.dumps(g).encode("utf-8")


# -- the harness ---------------------------------------------------------------------------------
def _run(cases, seed, make_case, load):
    """Apply ``load`` to ``cases`` mutated inputs; assert only MXNetError, time and memory."""
    rng = random.Random(seed)
    outcomes = collections.Counter()
    tracemalloc.start()
    try:
        for n in range(cases):
            payload_size, args = make_case(rng)
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            t = time.perf_counter()
            try:
                load(*args)
                outcomes["loaded"] += 1
            except MXNetError:
                outcomes["MXNetError"] += 1
            except Exception as err:  # noqa: BLE001 - the point of the test
                raise AssertionError(f"case {n} (seed {seed}): {type(err).__name__}: "
                                     f"{str(err)[:300]}") from err
            elapsed = time.perf_counter() - t
            assert elapsed < PER_CASE_SECONDS, f"case {n} took {elapsed:.1f} s"
            _, peak = tracemalloc.get_traced_memory()
            assert peak - base <= _memory_limit(payload_size), \
                f"case {n}: {peak - base} bytes allocated for a {payload_size}-byte file"
    finally:
        tracemalloc.stop()
    print(f"{cases} cases: {dict(outcomes)}")
    assert outcomes["MXNetError"] > cases // 4     # the mutations do reach the checks
    return outcomes


# -- one fuzz test per loader --------------------------------------------------------------------
def _nd_case_maker(tmp_path):
    bases = [ser.dumps({"arg:w": mx.nd.array(np.arange(12).reshape(3, 4)),
                        "aux:m": mx.nd.ones((2,), dtype="int32")}),
             ser.dumps([mx.nd.array(np.float64(3.0).reshape(()))]),
             ser.dumps([mx.nd.zeros((0, 3)), mx.nd.ones((2, 2), dtype="float16")]),
             _csr_file(), _row_sparse_file()]
    fname = str(tmp_path / "fuzz.params")

    def make(rng):
        data = _mutate_bytes(rng, rng.choice(bases))
        with open(fname, "wb") as f:
            f.write(data)
        return len(data), (fname,)
    return make


def _sym_case_maker(tmp_path):
    text = _net().tojson()
    fname = str(tmp_path / "fuzz-symbol.json")

    def make(rng):
        data = _mutate_json(rng, text)
        if rng.random() < 0.5:
            with open(fname, "wb") as f:
                f.write(data)
            return len(data), ("file", fname)
        return len(data), ("json", data.decode("utf-8", "surrogateescape"))
    return make


def _load_symbol(how, arg):
    return mx.sym.load(arg) if how == "file" else mx.sym.load_json(arg)


def _checkpoint_case_maker(tmp_path):
    prefix = str(tmp_path / "fz")
    mod = _module()
    mod.save_checkpoint(prefix, 3)
    sym_text = open(f"{prefix}-symbol.json").read()
    params = open(f"{prefix}-0003.params", "rb").read()

    def make(rng):
        if rng.random() < 0.5:
            s, p = _mutate_json(rng, sym_text), params
        else:
            s, p = sym_text.encode("utf-8"), _mutate_bytes(rng, params)
        with open(f"{prefix}-symbol.json", "wb") as f:
            f.write(s)
        with open(f"{prefix}-0003.params", "wb") as f:
            f.write(p)
        return len(s) + len(p), (prefix, 3)
    return make


def _states_case_maker(tmp_path):
    mod = _module()
    plain = mod._updater.get_states()
    dumped = mod._updater.get_states(dump_optimizer=True)
    fname = str(tmp_path / "fuzz.states")

    def make(rng):
        data = _mutate_bytes(rng, rng.choice([plain, dumped]))
        with open(fname, "wb") as f:
            f.write(data)
        return len(data), (fname,)
    return make, mod


LOADERS = ["nd.load", "sym.load/load_json", "model.load_checkpoint", "Module.load",
           "load_optimizer_states"]


def _fuzz(loader, tmp_path, cases, seed):
    if loader == "nd.load":
        return _run(cases, seed, _nd_case_maker(tmp_path), mx.nd.load)
    if loader == "sym.load/load_json":
        return _run(cases, seed, _sym_case_maker(tmp_path), _load_symbol)
    if loader == "model.load_checkpoint":
        return _run(cases, seed, _checkpoint_case_maker(tmp_path), mx.model.load_checkpoint)
    if loader == "Module.load":
        return _run(cases, seed, _checkpoint_case_maker(tmp_path), mx.mod.Module.load)
    make, mod = _states_case_maker(tmp_path)
    before = {k: v.asnumpy() for k, v in mod._updater.states.items()}
    outcomes = _run(cases, seed, make, mod.load_optimizer_states)
    # whatever loaded had the module's own structure; the module still trains
    assert sorted(mod._updater.states) == sorted(before)
    for k, v in mod._updater.states.items():
        assert v.shape == before[k].shape and v.dtype == before[k].dtype
    return outcomes


@pytest.mark.parametrize("loader", LOADERS)
def test_fuzz_loader(loader, tmp_path):
    outcomes = _fuzz(loader, tmp_path, CASES, seed=LOADERS.index(loader))
    assert sum(outcomes.values()) == CASES


@pytest.mark.slow
@pytest.mark.parametrize("loader", LOADERS)
def test_fuzz_loader_long(loader, tmp_path):
    outcomes = _fuzz(loader, tmp_path, SLOW_CASES, seed=100 + LOADERS.index(loader))
    assert sum(outcomes.values()) == SLOW_CASES


# -- targeted regressions the fuzzer found or the issue measured ---------------------------------
def test_declared_sizes_are_checked_before_allocation():
    # a dense record announcing 2**30 float32 elements in a 60-byte file
    rec = struct.pack("<Ii", ser.V2_MAGIC, 0) + struct.pack("<iqq", 2, 2**15, 2**15)
    rec += struct.pack("<iii", 1, 0, 0)
    blob = struct.pack("<QQQ", ser.LIST_MAGIC, 0, 1) + rec + b"\0" * 8
    with pytest.raises(MXNetError, match="truncated"):
        mx.nd.load_frombuffer(blob)
    # a CSR header claiming 2**16 x 2**16 with the indptr of a 3-row matrix: sparse arrays stay
    # sparse (nothing dense is allocated), and the structure is checked against the shape
    csr = bytearray(_csr_file())
    at = 24 + 8 + 12 + 4                        # magic, stype, storage shape; then ndim 2
    csr[at:at + 16] = struct.pack("<qq", 2**16, 2**16)
    with pytest.raises(MXNetError, match="indptr must be 65537 non-decreasing offsets"):
        mx.nd.load_frombuffer(bytes(csr))
    # an absurd shape with a zero axis
    rec = struct.pack("<Ii", ser.V2_MAGIC, 0) + struct.pack("<iqqq", 3, 2**40, 2**40, 0)
    rec += struct.pack("<iii", 1, 0, 0)
    with pytest.raises(MXNetError, match="implausible shape"):
        mx.nd.load_frombuffer(struct.pack("<QQQ", ser.LIST_MAGIC, 0, 1) + rec + b"\0" * 8)


def test_sparse_indices_are_checked_not_wrapped():
    rs = bytearray(_row_sparse_file())
    idx_at = len(rs) - 8 - 16                   # the two row ids, before the name count
    rs[idx_at:idx_at + 8] = struct.pack("<q", -1)
    with pytest.raises(MXNetError, match=r"row_sparse indices must be strictly increasing row "
                                         r"numbers in \[0, "):
        mx.nd.load_frombuffer(bytes(rs))


def test_symbol_json_validation_messages(tmp_path):
    g = json.loads(_net().tojson())
    deep = "[" * 100000 + "]" * 100000
    with pytest.raises(MXNetError, match="nested deeper than 32"):
        mx.sym.load_json(deep)
    f = tmp_path / "bad-symbol.json"
    f.write_bytes(_net().tojson().encode()[:50] + b"\xff" + _net().tojson().encode()[50:])
    with pytest.raises(MXNetError, match="not valid UTF-8 .*offset 50"):
        mx.sym.load(str(f))
    cyc = json.loads(json.dumps(g))
    cyc["nodes"][1]["inputs"] = [[3, 0, 0]]     # a later node: a forward reference/cycle
    with pytest.raises(MXNetError, match="refers to node 3, but only nodes 0..0 come before"):
        mx.sym.load_json(json.dumps(cyc))
    neg = json.loads(json.dumps(g))
    k = next(i for i, n in enumerate(neg["nodes"]) if n["op"] != "null")
    neg["nodes"][k]["inputs"][0][0] = -1        # used to mean "the last node" silently
    with pytest.raises(MXNetError, match="refers to node -1"):
        mx.sym.load_json(json.dumps(neg))
    unk = json.loads(json.dumps(g))
    unk["nodes"][k]["op"] = "FullyConected"
    with pytest.raises(MXNetError, match="unknown operator 'FullyConected'.*FullyConnected"):
        mx.sym.load_json(json.dumps(unk))
    par = json.loads(json.dumps(g))
    par["nodes"][k]["attrs"]["num_hidden"] = "(" * 500
    with pytest.raises(MXNetError, match="nests brackets"):
        mx.sym.load_json(json.dumps(par))
    out = json.loads(json.dumps(g))
    out["heads"] = [[len(out["nodes"]) - 1, 4, 0]]
    with pytest.raises(MXNetError, match="asks for output 4 .* has 1 output"):
        mx.sym.load_json(json.dumps(out))
    few = json.loads(json.dumps(g))
    few["nodes"][k]["inputs"] = few["nodes"][k]["inputs"][:1]
    with pytest.raises(MXNetError, match="has 1 inputs; the operator takes 3"):
        mx.sym.load_json(json.dumps(few))
