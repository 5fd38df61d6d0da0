"""``mx.test_utils``: MXNet's testing helpers with MXNet's signatures, so MXNet's own unit tests
port unchanged, plus operator-level checks used by mxteach's suite.

MXNet's helpers: tolerances per dtype (``default_rtols``/``default_atols``), ``almost_equal``,
``assert_almost_equal``, ``same``, random data (``rand_ndarray``, ``rand_shape_2d/3d/nd``),
``default_context``/``set_default_context``, finite-difference and forward/backward checks on
symbols (``check_numeric_gradient``, ``check_symbolic_forward``, ``check_symbolic_backward``)
and ``environment``. Operator-level (no graph): ``run_op``, ``run_op_backward``,
``check_op_gradient``.
"""
from __future__ import annotations

import contextlib
import numbers
import os

import numpy as np

from .ops import registry
from . import random as _random
from .base import MXNetValueError
from .context import Context, current_context

__all__ = ["run_op", "run_op_backward", "check_op_gradient", "check_numeric_gradient",
           "numeric_grad", "check_symbolic_forward", "check_symbolic_backward",
           "assert_almost_equal", "almost_equal", "same", "default_context",
           "set_default_context", "default_dtype", "default_rtols", "default_atols",
           "default_numeric_eps", "get_tolerance", "get_tols", "get_rtol", "get_atol",
           "random_arrays", "rand_ndarray", "rand_shape_2d", "rand_shape_3d", "rand_shape_nd",
           "environment"]


def _prepare(name, inputs, params):
    op = registry.get(name)
    p = registry.parse_params(op, params, name)
    arrays = [np.array(a, copy=True) for a in inputs]
    n_args = len(op.list_arguments(p))
    in_shapes, out_shapes = op.infer_shape(p, [a.shape for a in arrays])
    _, out_types = op.types(p, [a.dtype.name for a in arrays])
    outs = [np.zeros(s, dtype=t) for s, t in zip(out_shapes, out_types)]
    return op, p, arrays, n_args, outs


def run_op(name, inputs, is_train=True, seed=None, **params):
    """Forward ``name`` once through the registry. Returns (outputs, state, inputs-after)."""
    op, p, arrays, _, outs = _prepare(name, inputs, params)
    state = {}
    if seed is not None:
        _random.seed(seed)
    op.forward(p, arrays, outs, is_train, state)
    return outs, state, arrays


def run_op_backward(name, inputs, out_grads=None, is_train=True, seed=None, reqs=None,
                    init_grads=None, **params):
    """Forward then backward; returns (outputs, input gradients for the arguments)."""
    op, p, arrays, n_args, outs = _prepare(name, inputs, params)
    state = {}
    if seed is not None:
        _random.seed(seed)
    op.forward(p, arrays, outs, is_train, state)
    reqs = list(reqs) if reqs is not None else ["write"] * n_args
    igrads = [None if r == "null" else
              (np.array(init_grads[i], copy=True) if init_grads is not None
               else np.zeros_like(arrays[i]))
              for i, r in enumerate(reqs)]
    if op.loss:
        ograds = None
    else:
        ograds = out_grads if out_grads is not None else [np.ones_like(o) for o in outs]
    op.backward(p, ograds, arrays, outs, igrads, reqs, state)
    return outs, igrads


def check_op_gradient(name, inputs, params=None, out_grads=None, loss_fn=None,
                           wrt=None, eps=1e-6, rtol=1e-5, atol=1e-7, is_train=True, seed=0):
    """Compare one operator's backward with central differences of a scalar objective.

    The objective is ``sum(out_i * out_grad_i)`` (random ``out_grads`` by default), or for loss
    operators ``loss_fn(outputs, inputs)``, the loss whose gradient the operator defines.
    Use float64 inputs. ``wrt`` lists the argument positions to check (default: all floating).
    """
    params = params or {}
    rs = np.random.RandomState(1234)
    op, p, arrays, n_args, outs = _prepare(name, inputs, params)
    if out_grads is None and not op.loss:
        out_grads = [rs.uniform(-1, 1, o.shape).astype(o.dtype) for o in outs]

    def objective(xs):
        o, _, after = run_op(name, xs, is_train=is_train, seed=seed, **params)
        if op.loss:
            return float(loss_fn(o, xs))
        return float(sum(np.sum(a.astype(np.float64) * g) for a, g in zip(o, out_grads)))

    _, analytic = run_op_backward(name, inputs, out_grads=out_grads, is_train=is_train,
                                  seed=seed, **params)
    wrt = wrt if wrt is not None else [i for i in range(n_args)
                                       if np.issubdtype(np.asarray(inputs[i]).dtype, np.floating)]
    for i in wrt:
        x = [np.array(a, copy=True) for a in inputs]
        num = np.zeros_like(x[i], dtype=np.float64)
        flat = x[i].reshape(-1)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + eps
            fp = objective(x)
            flat[k] = old - eps
            fm = objective(x)
            flat[k] = old
            num.reshape(-1)[k] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(analytic[i], num, rtol=rtol, atol=atol,
                                   err_msg=f"{name}: gradient of input {i} "
                                           f"({op.list_arguments(p)[i]})")
    return analytic


# -- tolerances per dtype, as MXNet's tests use them ----------------------------------------
def default_context():
    """The context tests run on: the current default (``mx.cpu(0)`` unless changed)."""
    return current_context()


def set_default_context(ctx):
    """Make ``ctx`` the default context of this thread (``default_context()``, new arrays)."""
    Context._local.value = ctx


def default_dtype():
    """The dtype test data is made in: float32."""
    return np.float32


_EXACT = ("bool", "int8", "uint8", "int32", "uint32", "int64", "uint64")


def default_rtols():
    """Relative tolerance per dtype: float16 1e-2, float32 1e-4, float64 1e-5, integers 0."""
    tols = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-5}
    tols.update({np.dtype(t): 0 for t in _EXACT})
    return tols


def default_atols():
    """Absolute tolerance per dtype: float16 1e-1, float32 1e-3, float64 1e-20, integers 0."""
    tols = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-20}
    tols.update({np.dtype(t): 0 for t in _EXACT})
    return tols


def default_numeric_eps():
    """Finite-difference step per dtype; powers of two, so adding them loses no bits."""
    return {np.dtype(np.float16): 2.0 ** -6, np.dtype(np.float32): 2.0 ** -9,
            np.dtype(np.float64): 2.0 ** -14}


def get_tolerance(dat, tol, default_tol):
    """``tol`` if it is a number; else its entry (or ``default_tol``'s) for ``dat``'s dtype."""
    if isinstance(tol, numbers.Number):
        return tol
    dtype = np.dtype(dat.dtype)
    return (tol or {}).get(dtype, default_tol[dtype])


def get_tols(x, y, rtol, atol):
    """(rtol, atol) to compare ``x`` with ``y``: the looser default of the two dtypes unless
    given."""
    x = np.array(x) if isinstance(x, numbers.Number) else x
    y = np.array(y) if isinstance(y, numbers.Number) else y
    return (max(get_tolerance(x, rtol, default_rtols()), get_tolerance(y, rtol, default_rtols())),
            max(get_tolerance(x, atol, default_atols()), get_tolerance(y, atol, default_atols())))


def get_rtol(rtol=None, dtype=np.dtype(np.float64)):
    return default_rtols()[np.dtype(dtype)] if rtol is None else rtol


def get_atol(atol=None, dtype=np.dtype(np.float64)):
    return default_atols()[np.dtype(dtype)] if atol is None else atol


def _np(a):
    return a.asnumpy() if hasattr(a, "asnumpy") else a


# -- comparisons --------------------------------------------------------------------------------
def same(a, b):
    """True when ``a`` and ``b`` have the same shape and elements (NDArrays or numpy)."""
    return np.array_equal(_np(a), _np(b))


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False, use_broadcast=True):
    """``numpy.allclose`` with MXNet's float64 defaults (rtol 1e-5, atol 1e-20).

    With ``use_broadcast=False`` the shapes must be equal (else AssertionError)."""
    a, b = _np(a), _np(b)
    if not use_broadcast:
        _check_shapes(a, b)
    return bool(np.allclose(a, b, rtol=get_rtol(rtol), atol=get_atol(atol),
                            equal_nan=equal_nan))


def _check_shapes(a, b):
    if np.shape(a) != np.shape(b):
        raise AssertionError(f"shapes differ: a.shape = {np.shape(a)}, b.shape = {np.shape(b)}")


def _worst(a, b, rtol, atol):
    """Index and size of the largest violation of |a - b| <= atol + rtol * |b|."""
    diff = np.where(np.equal(a, b), 0, np.abs(a - b))   # equal infinities count as equal
    ratio = diff / (atol + rtol * np.abs(b) + 1e-20)
    index = np.unravel_index(np.argmax(ratio), ratio.shape)
    return index, float(np.max(ratio))


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False,
                        use_broadcast=True, mismatches=(10, 10)):
    """Raise AssertionError unless ``a`` and ``b`` agree within tolerances.

    Tolerances default per dtype (``default_rtols``/``default_atols``, the looser of the two
    arrays); a number or a ``{dtype: tol}`` dict overrides them. The message gives the worst
    element, both values, and how many elements fail (up to ``mismatches[1]`` are counted).
    """
    if not use_broadcast:
        _check_shapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = np.asarray(_np(a)), np.asarray(_np(b))
    if a.dtype == np.bool_ and b.dtype == np.bool_:
        np.testing.assert_equal(a, b)
        return
    if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan):
        return
    a64, b64 = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    index, ratio = _worst(a64, b64, rtol, atol)
    close = np.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    bad = int(close.size - np.count_nonzero(close))
    shown = np.argwhere(~close)[:max(mismatches[0], 0)]
    lines = [f"  {tuple(int(i) for i in k)}: {names[0]}={float(a64[tuple(k)])}, "
             f"{names[1]}={float(b64[tuple(k)])}" for k in shown]
    raise AssertionError(
        f"{names[0]} and {names[1]} differ: error {ratio:f} times the tolerance rtol={rtol:e}, "
        f"atol={atol:e} at {tuple(int(i) for i in index)} ({names[0]}={float(a64[index])}, "
        f"{names[1]}={float(b64[index])}); {bad} of {close.size} elements mismatch "
        f"({100.0 * bad / close.size:f}%)\n" + "\n".join(lines))


# -- random data --------------------------------------------------------------------------------
def random_arrays(*shapes):
    """Standard-normal float32 numpy arrays of the given shapes (one array if one shape)."""
    arrays = [np.array(np.random.randn(), dtype=default_dtype()) if len(s) == 0
              else np.random.randn(*s).astype(default_dtype()) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def rand_ndarray(shape, stype="default", density=None, dtype=None, modifier_func=None,
                 shuffle_csr_indices=False, distribution=None, ctx=None):
    """A standard-normal NDArray of ``shape`` (float32 unless ``dtype``) on ``ctx``.

    mxteach NDArrays are dense: ``stype`` other than ``'default'`` is refused (MXNet would
    make a sparse array; ``density``, ``modifier_func``, ``shuffle_csr_indices`` and
    ``distribution`` only concern sparse arrays)."""
    from .ndarray import array
    if stype != "default":
        raise MXNetValueError(f"rand_ndarray: stype '{stype}' asks for a sparse array; "
                              "mxteach NDArrays are dense, use stype='default'")
    return array(random_arrays(shape), ctx=ctx or default_context(), dtype=dtype)


def rand_shape_2d(dim0=10, dim1=10, allow_zero_size=False):
    """A random 2-d shape with sizes in [1, dim] (from 0 with ``allow_zero_size``)."""
    low = 0 if allow_zero_size else 1
    return np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1)


def rand_shape_3d(dim0=10, dim1=10, dim2=10, allow_zero_size=False):
    low = 0 if allow_zero_size else 1
    return (np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1),
            np.random.randint(low, dim2 + 1))


def rand_shape_nd(num_dim, dim=10, allow_zero_size=False):
    low = 0 if allow_zero_size else 1
    return tuple(np.random.randint(low, dim + 1, size=num_dim))


# -- symbols: forward, backward and finite differences ---------------------------------------
def _location(sym, location, ctx, dtype, names=None, what="location"):
    """Arguments (or aux states) as a name -> NDArray dict; every one must be given."""
    from .ndarray import NDArray, array
    names = sym.list_arguments() if names is None else names
    if isinstance(location, dict):
        if set(location) != set(names):
            raise MXNetValueError(f"{what} names {sorted(location)} do not match the symbol's "
                                  f"{sorted(names)}")
    else:
        location = dict(zip(names, location))
    return {k: v if isinstance(v, NDArray)
            else array(v, ctx=ctx, dtype=np.asarray(v).dtype if dtype == "asnumpy" else dtype)
            for k, v in sorted(location.items())}


def _aux(sym, aux_states, ctx, dtype):
    if aux_states is None:
        return None
    return _location(sym, aux_states, ctx, dtype, sym.list_auxiliary_states(), "aux_states")


def numeric_grad(executor, location, aux_states=None, eps=1e-4, use_forward_train=True,
                 dtype=np.float32):
    """Central differences of ``sum(outputs[0])`` for every floating argument in
    ``location`` (name -> numpy array); aux states are reset before each forward."""
    grads = {k: np.zeros(np.shape(v), dtype=dtype) for k, v in location.items()}
    for k, v in location.items():
        executor.arg_dict[k][:] = np.asarray(v, dtype=dtype)
    for k, v in location.items():
        v = np.array(v, order="C")
        if v.dtype.kind != "f":
            continue
        flat = v.reshape(-1)

        def run(value):
            executor.arg_dict[k][:] = value.astype(dtype)
            for name, aux in (aux_states or {}).items():
                executor.aux_dict[name][:] = aux
            executor.forward(is_train=use_forward_train)
            return executor.outputs[0].asnumpy().astype(np.float64)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps / 2.0
            plus = run(v)
            flat[i] = old - eps / 2.0
            minus = run(v)
            flat[i] = old
            grads[k].reshape(-1)[i] = (plus - minus).sum() / eps
        executor.arg_dict[k][:] = v.astype(dtype)
    return grads


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=None, rtol=None,
                           atol=None, grad_nodes=None, use_forward_train=True, ctx=None,
                           grad_stype_dict=None, dtype=np.float32, **op_kwargs):
    """Check ``sym``'s backward against finite differences, as MXNet's test helper does.

    The scalar checked is ``sum(out * P)`` with a fixed random projection ``P`` (through
    ``make_loss``); ``location`` gives every argument (list in ``list_arguments()`` order or a
    dict), ``grad_nodes`` the arguments to check (a dict gives their grad_req). Raises
    AssertionError naming the argument whose gradient is wrong.

    Given an operator *name* instead of a Symbol, checks that operator alone:
    ``check_numeric_gradient("FullyConnected", [x, w, b], params)`` is
    :func:`check_op_gradient` (mxteach's own form, used by its operator tests).
    """
    if isinstance(sym, str):
        params = op_kwargs.pop("params", aux_states)
        return check_op_gradient(sym, location, params=params,
                                 rtol=1e-5 if rtol is None else rtol,
                                 atol=1e-7 if atol is None else atol, **op_kwargs)
    if op_kwargs:
        raise TypeError(f"check_numeric_gradient() got unexpected arguments {sorted(op_kwargs)}")
    from . import symbol as S
    from .ndarray import array
    if dtype not in (np.float16, np.float32, np.float64):
        raise MXNetValueError(f"check_numeric_gradient: dtype {dtype} is not a float type")
    ctx = ctx or default_context()
    location = _location(sym, location, ctx, dtype)
    location_np = {k: v.asnumpy() for k, v in location.items()}
    aux_states = _aux(sym, aux_states, ctx, dtype)
    aux_np = None if aux_states is None else {k: v.asnumpy() for k, v in aux_states.items()}
    if grad_nodes is None or isinstance(grad_nodes, (list, tuple)):
        grad_nodes = list(sym.list_arguments() if grad_nodes is None else grad_nodes)
        grad_req = {k: "write" for k in grad_nodes}
    elif isinstance(grad_nodes, dict):
        grad_req, grad_nodes = dict(grad_nodes), list(grad_nodes)
    else:
        raise MXNetValueError(f"grad_nodes must be None, a list or a dict, got "
                              f"{type(grad_nodes).__name__}")
    _, out_shapes, _ = sym.infer_shape(**{k: v.shape for k, v in location.items()})
    loss = S.make_loss(sym * S.Variable("__random_proj"))
    location["__random_proj"] = array(np.random.rand(*out_shapes[0]) + 0.1, ctx=ctx,
                                      dtype=dtype)
    # gradient buffers start dirty, so 'add' and 'null' are checked against what was there
    grads_np = {k: np.random.normal(0, 0.01, size=location[k].shape)
                for k in grad_nodes + ["__random_proj"]}
    grads = {k: array(v, ctx=ctx, dtype=dtype) for k, v in grads_np.items()}
    exe = loss.bind(ctx, args=location, args_grad=grads, grad_req=grad_req,
                    aux_states=aux_states)
    exe.forward(is_train=True)
    eps = get_tolerance(exe.outputs[0], numeric_eps, default_numeric_eps())
    exe.backward()
    symbolic = {k: exe.grad_dict[k].asnumpy() for k in grad_nodes}
    numeric = numeric_grad(exe, location_np, aux_np, eps=eps,
                           use_forward_train=use_forward_train, dtype=dtype)
    for name in grad_nodes:
        label = (f"NUMERICAL_{name}", f"BACKWARD_{name}")
        req = grad_req[name]
        if req == "write":
            assert_almost_equal(numeric[name], symbolic[name], rtol, atol, label)
        elif req == "add":
            assert_almost_equal(numeric[name], symbolic[name] - grads_np[name], rtol, atol,
                                label)
        elif req == "null":
            assert_almost_equal(grads_np[name], symbolic[name], rtol, atol, label)
        else:
            raise MXNetValueError(f"grad_req '{req}' for '{name}'; expected write, add or null")


def check_symbolic_forward(sym, location, expected, rtol=None, atol=None, aux_states=None,
                           ctx=None, equal_nan=False, dtype=np.float32):
    """Bind ``sym`` to ``location``, run forward (is_train=False) and compare each output
    with ``expected`` (list in ``list_outputs()`` order or dict). Returns the outputs."""
    from .ndarray import zeros
    ctx = ctx or default_context()
    location = _location(sym, location, ctx, dtype)
    aux_states = _aux(sym, aux_states, ctx, dtype)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    grads = {k: zeros(v.shape, ctx=ctx, dtype=v.dtype) for k, v in location.items()}
    exe = sym.bind(ctx, args=location, args_grad=grads, aux_states=aux_states)
    exe.forward(is_train=False)
    for name, want, got in zip(sym.list_outputs(), expected, exe.outputs):
        assert_almost_equal(want, got, rtol, atol, (f"EXPECTED_{name}", f"FORWARD_{name}"),
                            equal_nan=equal_nan)
    return exe.outputs


def check_symbolic_backward(sym, location, out_grads, expected, rtol=None, atol=None,
                            aux_states=None, grad_req="write", ctx=None, grad_stypes=None,
                            equal_nan=False, dtype=np.float32):
    """Forward (is_train=True) then backward with ``out_grads``; compare the gradients with
    ``expected`` (list in ``list_arguments()`` order or dict, only those checked). For
    ``grad_req='add'`` the buffers start from random values that are subtracted first; for
    ``'null'`` they must stay untouched. Returns the gradient arrays."""
    from .ndarray import NDArray, array
    ctx = ctx or default_context()
    location = _location(sym, location, ctx, dtype)
    aux_states = _aux(sym, aux_states, ctx, dtype)
    if isinstance(expected, (list, tuple)):
        expected = dict(zip(sym.list_arguments(), expected))
    start = {k: np.random.normal(size=np.shape(v)) for k, v in sorted(expected.items())}
    grads = {k: array(v, ctx=ctx, dtype=np.asarray(expected[k]).dtype if dtype == "asnumpy"
                      else dtype) for k, v in start.items()}
    if isinstance(grad_req, str):
        grad_req = {k: grad_req for k in sym.list_arguments()}
    elif isinstance(grad_req, (list, tuple)):
        grad_req = dict(zip(sym.list_arguments(), grad_req))
    exe = sym.bind(ctx, args=location, args_grad=grads, aux_states=aux_states,
                   grad_req=grad_req)
    exe.forward(is_train=True)

    def to_nd(v):
        return v if isinstance(v, NDArray) else array(
            v, ctx=ctx, dtype=np.asarray(v).dtype if dtype == "asnumpy" else dtype)
    if isinstance(out_grads, (list, tuple)):
        out_grads = [to_nd(g) for g in out_grads]
    elif isinstance(out_grads, dict):
        out_grads = [to_nd(out_grads[k]) for k in sym.list_outputs()]
    exe.backward(out_grads)
    for name in expected:
        got = grads[name].asnumpy()
        label = (f"EXPECTED_{name}", f"BACKWARD_{name}")
        if grad_req[name] == "write":
            assert_almost_equal(expected[name], got, rtol, atol, label, equal_nan=equal_nan)
        elif grad_req[name] == "add":
            assert_almost_equal(expected[name], got - start[name], rtol, atol, label,
                                equal_nan=equal_nan)
        elif grad_req[name] == "null":
            assert_almost_equal(start[name], got, rtol, atol, label, equal_nan=equal_nan)
        else:
            raise MXNetValueError(f"grad_req '{grad_req[name]}' for '{name}'; expected write, "
                                  "add or null")
    return grads


@contextlib.contextmanager
def environment(*args):
    """``with environment('NAME', 'value'):`` or ``with environment({'A': '1', 'B': None}):``
    sets (None: unsets) environment variables for the block and restores them after, even on
    an exception."""
    if len(args) == 1 and isinstance(args[0], dict):
        wanted = dict(args[0])
    elif len(args) == 2:
        wanted = {args[0]: args[1]}
    else:
        raise MXNetValueError("environment() takes one dict or a name and a value, got "
                              f"{len(args)} arguments")
    saved = {k: os.environ.get(k) for k in wanted}

    def apply(values):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    apply(wanted)
    try:
        yield
    finally:
        apply(saved)
