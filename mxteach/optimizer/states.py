"""Optimizer-state pickles that cross between MXNet 1.9 and mxteach (``*.states`` files).

MXNet's ``Updater.get_states`` pickles the dict ``index -> state`` (a state is an NDArray, a
tuple/list of them, or None) with the default pickle protocol (4 under Python 3.8-3.13).
An MXNet NDArray pickles as the class ``mxnet.ndarray.ndarray.NDArray`` called with
``(None,)``, then given the state ``{'handle': bytearray(record)}``, where ``record`` is the
one-array record of ``mx.nd.save`` without the file header (see
:mod:`mxteach.ndarray.serialization`; MXNet loads it with ``MXNDArrayLoadFromRawBytes``, which
needs a writable buffer, hence the bytearray).

:func:`dumps` writes NDArrays in exactly that form, so real MXNet can load mxteach's states;
:func:`loads` maps ``mxnet.ndarray.ndarray.NDArray`` back to mxteach NDArrays on ``cpu(0)``
(the Updater moves them to their weights' devices on the next update) and still reads older
mxteach files, which pickled mxteach's own NDArray class. Everything else (the optimizer object
when ``dump_optimizer=True``) pickles as usual and is therefore mxteach-only.

Loading is restricted: a pickle may name only the globals these files need (MXNet's and
mxteach's NDArray, mxteach's registered optimizers and learning-rate schedulers, numpy
scalars/arrays/dtypes, ``bytearray``, ``set``, ``frozenset``, ``complex``,
``collections.OrderedDict``). Any other global -- ``os.system``, ``builtins.eval``, MXNet's own
optimizer classes -- is refused with MXNetError before anything is called, so a ``.states``
file cannot run code. :func:`mxteach.optimizer.updater.check_states` then compares what was
loaded with the module's weights and optimizer, so that a wrong file is refused before it
replaces anything.

See notebook 05.
"""
from __future__ import annotations

import io
import pickle
import pickletools

from ..base import MXNetError
from ..ndarray.ndarray import NDArray
from ..ndarray.serialization import array_record, load_array_record
from .registry import OPTIMIZERS

__all__ = ["dumps", "loads", "PROTOCOL", "UnsafeStatesError"]

PROTOCOL = 4  # what MXNet 1.9's pickle.dumps uses under the Pythons it supports
_MX_MODULE, _MX_NAME = "mxnet.ndarray.ndarray", "NDArray"


class _MXNetNDArrayClass:
    """Stands for MXNet's NDArray class in a pickle stream written here (never instantiated)."""


class _Pickler(pickle._Pickler):  # the Python pickler: it lets save_global be overridden
    def reducer_override(self, obj):
        if isinstance(obj, NDArray):
            return (_MXNetNDArrayClass, (None,), {"handle": bytearray(array_record(obj))})
        return NotImplemented

    def save_global(self, obj, name=None):
        if obj is not _MXNetNDArrayClass:
            return super().save_global(obj, name)
        # a reference to MXNet's class, which need not be importable here
        self.save(_MX_MODULE)
        self.save(_MX_NAME)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)
        return None


class _LoadingNDArray(NDArray):
    """What an MXNet NDArray unpickles into until ``__setstate__`` makes it a plain NDArray."""

    def __init__(self, handle=None):  # pylint: disable=super-init-not-called
        if handle is not None:
            raise MXNetError("mxnet NDArray pickle: unexpected constructor argument")

    def __setstate__(self, state):
        handle = state.get("handle") if isinstance(state, dict) else None
        if not isinstance(handle, (bytes, bytearray)):
            raise MXNetError(f"mxnet NDArray pickle: expected {{'handle': bytes}}, got "
                             f"{type(handle).__name__ if isinstance(state, dict) else state!r}")
        loaded = load_array_record(bytes(handle), "pickled NDArray")
        self._data, self._ctx = loaded._data, loaded._ctx
        self.__class__ = NDArray


class UnsafeStatesError(MXNetError, pickle.UnpicklingError):
    """A states pickle names a global that optimizer states never contain."""


class _LegacyNDArray(NDArray):
    """mxteach's own NDArray in older files: its state must be a numpy array and a context."""

    def __setstate__(self, state):
        import numpy as np
        from ..context import Context
        data = state.get("data") if isinstance(state, dict) else None
        ctx = state.get("ctx") if isinstance(state, dict) else None
        if not isinstance(data, np.ndarray) or data.dtype.hasobject or \
                not (isinstance(ctx, tuple) and len(ctx) == 2 and ctx[0] in ("cpu", "gpu")
                     and isinstance(ctx[1], int)):
            raise MXNetError("mxteach NDArray pickle: expected {'data': numeric array, 'ctx': "
                             "(device_type, id)}")
        self._data, self._ctx = data, Context("cpu", 0)
        self.__class__ = NDArray


def _bytearray(*args):
    """``bytearray`` from bytes only: ``bytearray(2**40)`` in a hostile pickle would allocate
    a terabyte before anything could be checked."""
    if len(args) > 2 or (args and not isinstance(args[0], (bytes, bytearray, str))):
        raise UnsafeStatesError("bytearray in a states pickle must be built from bytes")
    return bytearray(*args)


def _reconstruct(cls, shape, typecode):
    """numpy's ``_reconstruct``, which numpy pickles call with shape ``(0,)`` before
    ``__setstate__`` fills the array; any other shape would allocate it up front."""
    import numpy as np
    core = getattr(np, "_core", None) or np.core
    if cls is not np.ndarray or not isinstance(shape, tuple) or \
            not all(isinstance(d, int) and 0 <= d <= 1 for d in shape):
        raise UnsafeStatesError(f"numpy array reconstruction with shape {shape!r} refused")
    return core.multiarray._reconstruct(cls, shape, typecode)


# Where the optimizer classes lived before mxteach.optimizer became a package: states saved
# with dump_optimizer=True by those versions name them so.
_MOVED_MODULES = {"mxteach.optimizer_base": "mxteach.optimizer.base",
                  "mxteach.optimizer_sgd": "mxteach.optimizer.sgd",
                  "mxteach.optimizer_adaptive": "mxteach.optimizer.adaptive"}

_SAFE_BUILTINS = {("builtins", "bytearray"): _bytearray, ("builtins", "set"): set,
                  ("builtins", "frozenset"): frozenset, ("builtins", "complex"): complex}
_NUMPY_NAMES = {"scalar", "_reconstruct", "dtype", "ndarray"}


def _allowed_class(module, name):
    """The object a states pickle may refer to as ``module.name``, or None."""
    if (module, name) == (_MX_MODULE, _MX_NAME):
        return _LoadingNDArray
    if (module, name) == ("mxteach.ndarray.ndarray", "NDArray"):
        return _LegacyNDArray
    if (module, name) in _SAFE_BUILTINS:
        return _SAFE_BUILTINS[(module, name)]
    if (module, name) == ("collections", "OrderedDict"):
        import collections
        return collections.OrderedDict
    if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray") and \
            name in _NUMPY_NAMES:
        import numpy as np
        if name in ("dtype", "ndarray"):
            return getattr(np, name)
        if name == "_reconstruct":
            return _reconstruct
        # numpy 2 keeps these in numpy._core (pickles of numpy 1 name numpy.core)
        core = getattr(np, "_core", None) or np.core
        return getattr(core.multiarray, name)
    if module.startswith("mxteach."):
        from ..lr_scheduler import LRScheduler
        module = _MOVED_MODULES.get(module, module)
        for klass in set(OPTIMIZERS.as_dict().values()):
            if (klass.__module__, klass.__name__) == (module, name):
                return klass
        import mxteach.lr_scheduler as lrs
        klass = getattr(lrs, name, None)
        if module == lrs.__name__ and isinstance(klass, type) and issubclass(klass, LRScheduler):
            return klass
    return None


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        klass = _allowed_class(module, name)
        if klass is None:
            hint = (" (an optimizer pickled by MXNet itself: save its states without "
                    "dump_optimizer)" if module.startswith("mxnet.") else "")
            raise UnsafeStatesError(f"refusing to load global '{module}.{name}': optimizer "
                                    f"states hold only arrays, numbers, containers and "
                                    f"mxteach optimizers{hint}")
        return klass


def dumps(obj):
    """Pickle ``obj`` (states, or ``(states, optimizer)``) with NDArrays in MXNet's form."""
    buf = io.BytesIO()
    _Pickler(buf, protocol=PROTOCOL).dump(obj)
    return buf.getvalue()


def loads(blob, source="optimizer states"):
    """Unpickle what :func:`dumps` or MXNet 1.9's ``Updater.get_states`` wrote.

    Any failure (truncated or corrupt data, a bad array record) raises MXNetError naming
    ``source``.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise MXNetError(f"{source}: states must be bytes, got {type(blob).__name__}")
    _check_lengths(blob, source)
    try:
        return _Unpickler(io.BytesIO(blob)).load()
    except UnsafeStatesError as err:
        raise UnsafeStatesError(f"{source}: {err}") from None
    except MXNetError as err:
        raise MXNetError(f"{source}: {err}") from None
    except Exception as err:  # pickle raises many types on corrupt input
        raise MXNetError(f"{source}: cannot unpickle ({type(err).__name__}: "
                         f"{str(err)[:200]})") from None


def _check_lengths(blob, source):
    """Walk the opcodes once, so that every declared length and memo index is checked against
    the file's size before the C unpickler allocates it (it allocates a BINBYTES payload first,
    then reads: a 700-byte file announcing 2.4 GB would get 2.4 GB)."""
    try:
        for op, arg, pos in pickletools.genops(io.BytesIO(blob)):
            # the memo is an array indexed by these: PUT 57148491 would allocate 450 MB
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and not 0 <= arg <= len(blob):
                raise ValueError(f"memo index {arg} at byte {pos} is larger than the file")
    except Exception as err:  # genops raises ValueError and others on corrupt input
        raise MXNetError(f"{source}: corrupt pickle ({str(err)[:200]})") from None
