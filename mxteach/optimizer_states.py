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

See notebook 04.
"""
from __future__ import annotations

import io
import pickle

from .base import MXNetError
from .ndarray.ndarray import NDArray
from .ndarray.serialization import array_record, load_array_record

__all__ = ["dumps", "loads", "PROTOCOL"]

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


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == (_MX_MODULE, _MX_NAME):
            return _LoadingNDArray
        return super().find_class(module, name)


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
    try:
        return _Unpickler(io.BytesIO(blob)).load()
    except MXNetError as err:
        raise MXNetError(f"{source}: {err}") from None
    except Exception as err:  # pickle raises many types on corrupt input
        raise MXNetError(f"{source}: cannot unpickle ({type(err).__name__}: {err})") from None
