"""mxteach: MXNet 1.x's Module API, re-implemented on Numba kernels, for teaching.

``import mxteach as mx`` gives MXNet's namespace: ``mx.nd``, ``mx.sym``, ``mx.mod``, ``mx.io``,
``mx.metric``, ``mx.init``, ``mx.optimizer``, ``mx.kv``, ``mx.callback`` ...
"""
from __future__ import annotations

import importlib

from . import base
from .base import MXNetError
from .context import Context, cpu, gpu, cpu_pinned, current_context, num_gpus
from . import context
from . import ops
from . import ndarray
from . import ndarray as nd
from . import random
from . import executor  # installs Symbol.executor_class, the slot Symbol.bind calls
from . import kvstore_dist  # registers the dist_* kvstore types (mpi4py loads on first use)
from . import test_utils
from . import base as name  # mx.name.NameManager / mx.name.Prefix
from . import base as error  # mx.error.MXNetError / mx.error.register_error

__version__ = "0.1.0"

# Imported on first use, so `import mxteach` stays quick and light.
_OPTIONAL = {
    "symbol": "symbol", "sym": "symbol", "executor": "executor",
    "io": "io", "metric": "metric", "optimizer": "optimizer", "opt": "optimizer",
    "lr_scheduler": "lr_scheduler", "initializer": "initializer", "init": "initializer",
    "callback": "callback", "kvstore": "kvstore", "kv": "kvstore", "model": "model",
    "monitor": "monitor", "mon": "monitor", "visualization": "visualization",
    "viz": "visualization", "module": "module", "mod": "module", "rnn": "rnn", "events": "events", "operator": "operator",
    "image": "image", "img": "image",   # mx.image (OpenCV loaded on first decode)
    "recordio": "recordio",
    "attribute": "symbol.frontend",   # mx.attribute.AttrScope
}
# Names MXNet exports at the top level from a submodule: name -> (submodule, attribute).
_OPTIONAL_NAMES = {"AttrScope": ("symbol.frontend", "AttrScope")}


def __getattr__(attr):
    if attr in _OPTIONAL_NAMES:
        where, name_ = _OPTIONAL_NAMES[attr]
        value = getattr(importlib.import_module(f"{__name__}.{where}"), name_)
        globals()[attr] = value
        return value
    target = _OPTIONAL.get(attr)
    if target is None:
        raise AttributeError(f"module 'mxteach' has no attribute '{attr}'")
    mod = importlib.import_module(f"{__name__}.{target}")
    globals()[attr] = mod
    return mod
