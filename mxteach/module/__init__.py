"""``mx.mod``: Module and its composite kinds."""
import importlib as _importlib

from .base_module import BaseModule
from .executor_group import DataParallelExecutorGroup
from .module import Module

for _name, _cls in (("bucketing_module", "BucketingModule"),
                    ("sequential_module", "SequentialModule"),
                    ("python_module", "PythonModule"), ("python_module", "PythonLossModule")):
    try:
        globals()[_cls] = getattr(_importlib.import_module(f"{__name__}.{_name}"), _cls)
    except ModuleNotFoundError as _err:   # composite modules arrive in their own files
        if _err.name != f"{__name__}.{_name}":
            raise
