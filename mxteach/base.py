"""Errors, the name manager and small helpers shared by the whole core.

Every error is an :class:`MXNetError` (a RuntimeError, as in MXNet); where MXNet 1.9.1 raises a
narrower builtin (ValueError, KeyError, AssertionError, ...) the mxteach class is that builtin
too. :data:`ERROR_TABLE` at the end lists each situation, the builtin and the class. The small
helpers of ``mxnet.base`` that scripts import (``py_str``, ``_as_list``, ``string_types``,
``numeric_types``, ``integer_types``, ``data_dir`` ...) are here as well.
"""
from __future__ import annotations

import difflib
import threading

import numpy as np

__all__ = ["MXNetError", "NotBoundError", "ShapeError", "DTypeError", "MXNetValueError",
           "MXNetTypeError", "MXNetKeyError", "MXNetIndexError", "MXNetAssertionError",
           "MXNetNotImplementedError", "MXNetAttributeError", "ERROR_TABLE", "NameManager",
           "did_you_mean", "string_types", "numeric_types", "integer_types", "mx_real_t",
           "py_str", "data_dir", "data_dir_default", "register_error", "error_types",
           "NotImplementedForSymbol", "NotSupportedForSparseNDArray"]

# The small type tuples and helpers of ``mxnet.base`` that user scripts import.
string_types = (str,)
numeric_types = (float, int, np.generic)
integer_types = (int, np.int32, np.int64)
mx_real_t = np.float32


def py_str(x):
    """Text from the bytes a C API would return (UTF-8); a ``str`` passes through."""
    return x if isinstance(x, str) else bytes(x).decode("utf-8")


def _as_list(obj):
    """``obj`` itself when it is a list or tuple, else ``[obj]`` (as ``mxnet.base._as_list``)."""
    return obj if isinstance(obj, (list, tuple)) else [obj]


class _NullType:
    """Marks "argument not given" where None is a meaningful value (``mxnet.base._Null``)."""

    def __repr__(self):
        return "_Null"


_Null = _NullType()


# MXNet keeps these in mx.base; the environment switch lives in config.py
from .config import data_dir, data_dir_default  # noqa: E402,F401


error_types = {}


def register_error(func_name=None, cls=None):
    """Record an error class in :data:`error_types` under its name (usable as a decorator).

    MXNet uses this table to turn ``"Name: message"`` errors from C++ into Python classes;
    mxteach raises its classes directly and keeps the table for scripts that register their own.
    """
    if callable(func_name):
        cls, func_name = func_name, None

    def register(klass):
        error_types[func_name if isinstance(func_name, str) else klass.__name__] = klass
        return klass
    return register if cls is None else register(cls)


class MXNetError(RuntimeError):
    """Raised for every user-facing error in mxteach, as in MXNet."""


class NotBoundError(MXNetError, AssertionError):
    """A call came before the state it needs (forward before bind, update before init_optimizer).

    Also an ``AssertionError``: MXNet checks call order with bare ``assert self.binded``."""


class ShapeError(MXNetError, ValueError):
    """Shapes that cannot work together; the message names the node and both shapes."""


class DTypeError(MXNetError, TypeError):
    """A dtype that an argument or operator does not accept."""


# -- MXNetError that is also the builtin MXNet raises in the same situation (see ERROR_TABLE) ---
class MXNetValueError(MXNetError, ValueError):
    """Bad value where MXNet raises ``ValueError`` (unknown input names, duplicate outputs)."""


class MXNetTypeError(MXNetError, TypeError):
    """Wrong kind of object where MXNet raises ``TypeError`` (a Variable name that is no str)."""


class MXNetKeyError(MXNetError, KeyError):
    """A name looked up and not found where MXNet raises ``KeyError``."""

    def __str__(self):
        # KeyError.__str__ would print the message quoted, as a repr; keep it readable
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class MXNetIndexError(MXNetError, IndexError):
    """A position out of range where MXNet raises ``IndexError``."""


class MXNetAssertionError(MXNetError, AssertionError):
    """Where MXNet checks with a bare ``assert`` (empty SequentialModule, unknown metric name)."""


class MXNetNotImplementedError(MXNetError, NotImplementedError):
    """A base class method a subclass must provide, where MXNet raises ``NotImplementedError``."""


class MXNetAttributeError(MXNetError, AttributeError):
    """Where MXNet fails with ``AttributeError`` (a non-string optimizer name)."""


class _OnlyForNDArray(MXNetError):
    """Shared shape of the two "only available in NDArray" errors of ``mxnet.base``."""
    _what = ""

    def __init__(self, function, alias, *args):
        super().__init__()
        self.function = getattr(function, "__name__", str(function))
        self.alias = alias
        self.args = [str(type(a)) for a in args]

    def __str__(self):
        text = f"Function {self.function}"
        if self.alias:
            text += f' (namely operator "{self.alias}")'
        if self.args:
            text += f" with arguments ({', '.join(self.args)})"
        return text + f" is not {self._what} and only available in NDArray."


class NotImplementedForSymbol(_OnlyForNDArray):
    """An NDArray-only function called on a Symbol (``mxnet.base.NotImplementedForSymbol``)."""
    _what = "implemented for Symbol"


class NotSupportedForSparseNDArray(_OnlyForNDArray):
    """A dense-only function called on a sparse array."""
    _what = "supported for SparseNDArray"


for _cls in (NotImplementedForSymbol, ValueError, TypeError, AttributeError, IndexError,
             NotImplementedError):
    register_error(_cls)


def did_you_mean(name, choices):
    """Return ' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


class NameManager:
    """Gives operators without a name one like ``fullyconnected0`` (per-hint counters).

    Use as a context manager to scope counters, as ``mx.name.NameManager`` in MXNet.
    """

    _local = threading.local()

    def __init__(self):
        self._counter = {}
        self._old = None

    def get(self, name, hint):
        if name:
            return name
        n = self._counter.get(hint, 0)
        self._counter[hint] = n + 1
        return f"{hint}{n}"

    def __enter__(self):
        self._old = NameManager.current()
        NameManager._local.value = self
        return self

    def __exit__(self, *exc):
        NameManager._local.value = self._old

    @staticmethod
    def current():
        cur = getattr(NameManager._local, "value", None)
        if cur is None:
            cur = NameManager._local.value = NameManager()
        return cur


class Prefix(NameManager):
    """A name manager that puts ``prefix`` before every name, given or generated."""

    def __init__(self, prefix):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)


# -- which builtin each error is, and why -------------------------------------------------------
# MXNet scripts catch builtins (``except ValueError``), so wherever MXNet 1.9.1 raises one, the
# mxteach error is an instance of it too, with MXNetError in its bases and a clearer message.
# Each row: (key, the situation, the builtin MXNet 1.9.1 raises there, the mxteach class).
# "RuntimeError" rows are MXNet's own MXNetError (a RuntimeError), never a narrower builtin.
# tests/test_compat_errors.py runs one snippet per key on MXNet and on mxteach and compares.
ERROR_TABLE = (
    # call order: MXNet checks it with bare ``assert self.binded and ...``
    ("forward_before_bind", "forward/backward/get_outputs/score/predict before bind",
     "AssertionError", "NotBoundError"),
    ("init_params_before_bind", "init_params/init_optimizer/reshape/install_monitor before bind",
     "AssertionError", "NotBoundError"),
    ("forward_before_init", "forward/get_params before init_params", "AssertionError",
     "NotBoundError"),
    ("update_before_init_optimizer", "update/save_optimizer_states before init_optimizer",
     "AssertionError", "NotBoundError"),
    ("data_shapes_before_bind", "data_shapes/label_shapes/output_shapes before bind",
     "AssertionError", "NotBoundError"),
    ("get_input_grads_no_inputs_need_grad", "get_input_grads without inputs_need_grad=True",
     "AssertionError", "MXNetAssertionError"),
    # names given to modules and executors
    ("module_bad_data_name", "Module(data_names=...) naming no argument of the symbol",
     "ValueError", "MXNetValueError"),
    ("bind_bad_data_name", "bind(data_shapes=...) names differ from data_names", "ValueError",
     "MXNetValueError"),
    ("bind_bad_label_name", "bind(label_shapes=...) names differ from label_names (MXNet's "
     "label check only warns, then a dict lookup fails)", "KeyError", "MXNetKeyError"),
    ("set_params_extra_allow_missing", "set_params(allow_missing=True, allow_extra=False) with "
     "names the module does not have", "ValueError", "MXNetValueError"),
    ("set_params_missing", "set_params/init_params without allow_missing, a parameter missing",
     "RuntimeError", "MXNetError"),
    ("bind_args_missing", "Symbol.bind args without an array for an argument", "ValueError",
     "MXNetValueError"),
    ("bind_args_list_length", "Symbol.bind args list of the wrong length", "ValueError",
     "MXNetValueError"),
    ("executor_forward_unknown_kwarg", "Executor.forward(name=...) naming no argument",
     "TypeError", "MXNetTypeError"),
    ("executor_copy_params_extra", "Executor.copy_params_from with unknown names",
     "ValueError", "MXNetValueError"),
    ("context_bad_type", "Context('tpu'): unknown device type", "KeyError", "MXNetKeyError"),
    # composite modules and data parallelism
    ("bucketing_no_default", "BucketingModule without default_bucket_key", "AssertionError",
     "MXNetAssertionError"),
    ("sequential_no_modules_bind", "SequentialModule.bind with no modules", "AssertionError",
     "MXNetAssertionError"),
    ("sequential_bad_meta", "SequentialModule.add(..., unknown_option=...)", "AssertionError",
     "MXNetAssertionError"),
    ("mod_bad_context_type", "a batch too small for the contexts (MXNet: 'Too many slices')",
     "ValueError", "MXNetValueError"),
    ("init_optimizer_not_optimizer", "init_optimizer(optimizer=<not a name or Optimizer>)",
     "AssertionError", "MXNetAssertionError"),
    # registries: optimizers, metrics, initializers, schedulers
    ("unknown_optimizer", "unknown optimizer name", "ValueError", "OptimizerError"),
    ("opt_create_bad_type", "mx.optimizer.create(<not a str>)", "AttributeError",
     "MXNetAttributeError"),
    ("unknown_metric", "unknown metric name", "AssertionError", "MXNetAssertionError"),
    ("metric_create_bad_type", "mx.metric.create(<not a name, metric, list or function>)",
     "AssertionError", "MXNetAssertionError"),
    ("metric_config_no_metric_key", "mx.metric.create(dict without 'metric')", "KeyError",
     "MXNetKeyError"),
    ("topk_bad_k", "TopKAccuracy(top_k <= 1)", "AssertionError", "MXNetAssertionError"),
    ("metric_label_count_mismatch", "a metric given more labels than predictions",
     "ValueError", "ShapeError"),
    ("unknown_initializer", "mx.init.create(unknown name)", "AssertionError",
     "InitializerAssertionError"),
    ("xavier_bad_rnd_type", "Xavier(rnd_type=<unknown>)", "ValueError", "InitializerError"),
    ("initializer_unknown_name", "default initialization of a name matching no pattern",
     "ValueError", "UnknownInitPatternError"),
    ("factor_scheduler_bad_step", "FactorScheduler(step < 1) and other bad schedules",
     "ValueError", "LRSchedulerError"),
    ("optimizer_base_update", "Optimizer.update of the base class", "NotImplementedError",
     "MXNetNotImplementedError"),
    ("metric_base_update", "EvalMetric.update of the base class", "NotImplementedError",
     "MXNetNotImplementedError"),
    ("lr_scheduler_base_call", "LRScheduler.__call__ of the base class",
     "NotImplementedError", "MXNetNotImplementedError"),
    # symbols
    ("internals_missing_name", "sym.get_internals()['no_such_output']", "ValueError",
     "MXNetValueError"),
    ("symbol_list_outputs_getitem_str_on_group_dup", "sym['name'] when two outputs have it",
     "ValueError", "MXNetValueError"),
    ("internals_index_out_of_range", "sym[i] out of range", "IndexError", "IndexError"),
    ("variable_not_string", "Variable(<not a str>)", "TypeError", "MXNetTypeError"),
    ("variable_bad_kwarg", "Variable(name, attr_without_underscores=...)", "ValueError",
     "MXNetValueError"),
    ("group_not_symbols", "Group([<not Symbols>])", "TypeError", "MXNetTypeError"),
    ("attrscope_bad_value", "AttrScope(key=<not a str>)", "ValueError", "MXNetValueError"),
    ("infer_shape_positional_and_kw", "infer_shape(shapes by position and by name)",
     "ValueError", "MXNetValueError"),
    # arrays and data
    ("ndarray_array_ragged", "mx.nd.array(<not array-like>)", "TypeError", "MXNetTypeError"),
    ("ndarray_asscalar_not_scalar", "asscalar() of an array with more than one element",
     "ValueError", "ShapeError"),
    ("ndarray_copyto_bad_type", "copyto(<not an NDArray or Context>)", "TypeError",
     "DTypeError"),
    ("ndarray_index_out_of_range", "nd[i] out of range", "IndexError", "IndexError"),
    ("nd_save_bad_type", "mx.nd.save(<not NDArray, list or dict>)", "ValueError",
     "SerializationValueError"),
    ("nd_save_bad_values", "mx.nd.save({'a': <not an NDArray>})", "TypeError",
     "SerializationTypeError"),
    ("io_databatch_bad_data", "DataBatch(data=<not a list>)", "AssertionError",
     "MXNetAssertionError"),
    ("ndarrayiter_bad_data_type", "NDArrayIter(<not an array, list or dict>)", "TypeError",
     "TypeError"),
)

# Where mxteach's class is a builtin that MXNet's error is not: MXNet's C++ back-end reports
# shape conflicts, key-value store misuse and missing files as a plain MXNetError; mxteach checks
# them in Python and says what kind of error it is. Each adds only that one builtin.
EXTRA_BUILTINS = {
    "ShapeError": "ValueError",          # shape inference, reshape, concat, dot, set_params
    "DTypeError": "TypeError",
    "KVStoreError": "ValueError",        # pull/push of a key never initialised, double init
    "NDArrayFileNotFound": "FileNotFoundError",
    "SymbolFileError": "ValueError",     # a symbol JSON that does not parse
}
