"""Exercise checks of notebook 11 (your own layer as a Python CustomOp). See notebook 11.

Each check computes the truth by running mxteach (a probe CustomOpProp, central differences in
numpy, the custom operator bound in an executor), never from stored constants.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, blank_is_unanswered, close, exercise, returned

__all__ = ["check_param_type", "check_numeric_grad", "check_softsign_backward",
           "check_infer_shape"]


def _mx():
    import mxteach
    return mxteach


_COUNT = [0]


def _fresh(stem):
    """A new op_type per check run: mxteach keeps one property object per parameter set, so a
    second answer registered under an old name would not be seen."""
    _COUNT[0] += 1
    return f"_course_nb11_{stem}_{_COUNT[0]}"


# -- 11.1 -------------------------------------------------------------------------------------
def _param_type_seen():
    """The type a CustomOpProp constructor receives for ``beta=2.0`` (found by running it)."""
    mx = _mx()
    seen = {}

    class _ProbeOp(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0])

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            self.assign(in_grad[0], req[0], out_grad[0])

    name = _fresh("probe")

    @mx.operator.register(name)
    class _ProbeProp(mx.operator.CustomOpProp):
        def __init__(self, beta):
            super().__init__(need_top_grad=True)
            seen["type"] = type(beta)

        def create_operator(self, ctx, in_shapes, in_dtypes):
            return _ProbeOp()

    mx.nd.Custom(mx.nd.ones((1, 2)), op_type=name, beta=2.0)
    return seen["type"]


@exercise("11.1", "what type a parameter has when it reaches the property")
def check_param_type(answer):
    truth = _param_type_seen()
    if isinstance(answer, str) and answer in ("str", "float", "int", "bool"):
        answer = {"str": str, "float": float, "int": int, "bool": bool}[answer]
    if not isinstance(answer, type):
        raise Wrong(f"answer with a Python type such as float or str, not {answer!r}")
    if answer is not truth:
        raise Wrong(f"you predicted {answer.__name__}, but the property receives "
                    f"{truth.__name__}: every keyword of mx.sym.Custom/mx.nd.Custom other than "
                    "op_type travels as a string, as in the symbol's JSON, so the constructor "
                    "must convert it itself (float(beta)).")
    return f"yes: {truth.__name__}; that is why SwishProp calls float(beta)."


# -- 11.2 -------------------------------------------------------------------------------------
def _central(f, x, eps):
    """Central differences: the truth for 11.2 and 11.3 (the reference answer of 11.2 in
    notebooks/solutions/11_custom_op.py is, necessarily, its twin)."""
    g = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        up, down = x.astype(np.float64), x.astype(np.float64)
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


@exercise("11.2", "central differences")
def check_numeric_grad(numeric_grad):
    rng = np.random.RandomState(11)
    cases = [
        ("sum(x**3)", lambda x: float(np.sum(x ** 3)), rng.randn(3).astype(np.float64)),
        ("sum(sin(x) * w)", lambda x: float(np.sum(np.sin(x) * np.arange(1, 7).reshape(2, 3))),
         rng.randn(2, 3).astype(np.float64)),
    ]
    for text, f, x in cases:
        got = returned(numeric_grad, f, x.copy(), 1e-4, what="numeric_grad")
        got = np.asarray(got, dtype=np.float64)
        want = _central(f, x, 1e-4)
        if got.shape != x.shape:
            raise Wrong(f"for f = {text} on x of shape {x.shape} your gradient has shape "
                        f"{got.shape}: there is one partial derivative per element of x")
        if np.allclose(got, want / 2, rtol=1e-3, atol=1e-6) and not np.allclose(want, 0):
            raise Wrong(f"for f = {text} your gradient is half the true one: a central "
                        "difference divides f(x+eps) - f(x-eps) by 2*eps, and both points "
                        "move by eps")
        if np.allclose(got, 2 * want, rtol=1e-3, atol=1e-6) and not np.allclose(want, 0):
            raise Wrong(f"for f = {text} your gradient is twice the true one: divide "
                        "f(x+eps) - f(x-eps) by 2*eps, not by eps")
        close(got, want, f"your gradient of f = {text}", atol=1e-5, rtol=1e-4)
    return "your central differences agree; the notebook now uses them on the Swish layer."


# -- 11.3 -------------------------------------------------------------------------------------
def _softsign_prop(op_cls, name):
    mx = _mx()

    @mx.operator.register(name)
    class _Prop(mx.operator.CustomOpProp):
        def __init__(self):
            super().__init__(need_top_grad=True)

        def create_operator(self, ctx, in_shapes, in_dtypes):
            return op_cls()
    return _Prop


def _run_custom(name, x, ograd, req, init):
    mx = _mx()
    data = mx.sym.Variable("data")
    sym = mx.sym.Custom(data, op_type=name, name="softsign")
    exe = sym.simple_bind(mx.cpu(), data=x.shape, grad_req=req)
    exe.grad_dict["data"][:] = init
    exe.forward(is_train=True, data=mx.nd.array(x))
    exe.backward([mx.nd.array(ograd)])
    return exe.outputs[0].asnumpy(), exe.grad_dict["data"].asnumpy()


@exercise("11.3", "the backward of a CustomOp (Softsign)")
def check_softsign_backward(op_cls):
    mx = _mx()
    if not (isinstance(op_cls, type) and issubclass(op_cls, mx.operator.CustomOp)):
        raise Wrong(f"answer with your CustomOp subclass (the class itself), got {op_cls!r}")
    name = _fresh("softsign")
    _softsign_prop(op_cls, name)
    rng = np.random.RandomState(3)
    x = rng.randn(4, 3).astype(np.float32)
    ograd = rng.randn(4, 3).astype(np.float32)
    y, g = _run_custom(name, x, ograd, "write", 0.0)
    close(y, x / (1 + np.abs(x)), "the forward output (it is given: do not change it)")
    if np.allclose(g, 0):
        raise Wrong("the input gradient stayed all zeros: backward must store into in_grad[0] "
                    "with self.assign(in_grad[0], req[0], value)")
    # the truth: central differences of sum(softsign(x) * ograd), in float64
    f = (lambda v: float(np.sum(v / (1 + np.abs(v)) * ograd)))
    want = _central(f, x.astype(np.float64), 1e-5)
    if np.allclose(g, want / ograd.astype(np.float64), rtol=1e-3, atol=1e-5):
        raise Wrong("your gradient ignores out_grad: the chain rule multiplies the local "
                    "derivative 1/(1+|x|)**2 by out_grad[0], the gradient arriving from above")
    close(g, want, "your in_grad (against finite differences)", atol=1e-4, rtol=1e-3)
    # grad_req='add' must add to what is there
    _, g_add = _run_custom(name, x, ograd, "add", 1.0)
    if np.allclose(g_add, g, rtol=1e-4, atol=1e-6):
        raise Wrong("with grad_req='add' your backward overwrote the gradient instead of adding "
                    "to it: write with self.assign(in_grad[0], req[0], value), which honours req")
    close(g_add, g + 1.0, "in_grad with grad_req='add' (started at 1)", atol=1e-4, rtol=1e-3)
    return "your backward matches finite differences and honours req."


# -- 11.4 -------------------------------------------------------------------------------------
def _shape_prop(infer_shape, name):
    mx = _mx()

    class _Op(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            x, w = in_data[0].asnumpy(), in_data[1].asnumpy()
            self.assign(out_data[0], req[0], mx.nd.array(x * w.reshape(1, -1)))

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            pass

    @mx.operator.register(name)
    class _Prop(mx.operator.CustomOpProp):
        def __init__(self):
            super().__init__(need_top_grad=True)

        def list_arguments(self):
            return ["data", "weight"]

        def infer_shape(self, in_shape):
            return infer_shape(in_shape)

        def create_operator(self, ctx, in_shapes, in_dtypes):
            return _Op()
    return _Prop


@exercise("11.4", "infer_shape that creates a parameter's shape")
def check_infer_shape(infer_shape):
    mx = _mx()
    if not callable(infer_shape):
        raise Wrong(f"answer with a function infer_shape(in_shape), got {infer_shape!r}")
    for n, d in ((8, 5), (2, 3)):
        got = returned(infer_shape, [[n, d], []], what="infer_shape")
        if not (isinstance(got, (tuple, list)) and len(got) == 3):
            raise Wrong("infer_shape returns three lists: (argument shapes, output shapes, "
                        f"aux shapes); got {got!r}")
        args, outs, aux = got
        args = [tuple(int(v) for v in s) for s in args]
        outs = [tuple(int(v) for v in s) for s in outs]
        if len(args) != 2:
            raise Wrong(f"give a shape for each of the 2 arguments (data, weight); got {args}")
        if args[0] != (n, d):
            raise Wrong(f"the data shape must come back unchanged: {(n, d)}, got {args[0]}")
        if args[1] == (n,) or args[1] == (n, d):
            raise Wrong(f"weight got {args[1]}: it holds one scale per column (feature), so "
                        f"its shape is (d,) = {(d,)} -- it must not depend on the batch size")
        if args[1] != (d,):
            raise Wrong(f"weight shape for data {(n, d)}: expected {(d,)}, got {args[1]}")
        if outs != [(n, d)]:
            raise Wrong(f"one output shaped like data {(n, d)}; got {outs}")
        if list(aux):
            raise Wrong(f"this layer has no auxiliary states: return [] as the third list, "
                        f"got {aux}")
    # and it works in a graph: the Module can now create 'scale_weight' from the data shape
    name = _fresh("colscale")
    _shape_prop(infer_shape, name)
    sym = mx.sym.Custom(mx.sym.Variable("data"), op_type=name, name="scale")
    arg_shapes, out_shapes, _ = sym.infer_shape(data=(6, 4))
    names = sym.list_arguments()
    if dict(zip(names, arg_shapes)).get("scale_weight") != (4,):
        raise Wrong(f"in a graph your rule gives {dict(zip(names, arg_shapes))}; expected "
                    "scale_weight (4,)")
    return "the graph infers scale_weight (4,) from data (6, 4): Module can now allocate it."


# a template left as written (an empty body) is "not answered yet"
check_numeric_grad = blank_is_unanswered(check_numeric_grad)
check_softsign_backward = blank_is_unanswered(check_softsign_backward, ("backward",))
check_infer_shape = blank_is_unanswered(check_infer_shape)
