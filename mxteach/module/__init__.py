"""``mx.mod``: Module and its composite kinds."""
from .base_module import BaseModule
from .executor_group import DataParallelExecutorGroup
from .module import Module
from .bucketing_module import BucketingModule
from .sequential_module import SequentialModule
from .python_module import PythonModule, PythonLossModule

__all__ = ["BaseModule", "DataParallelExecutorGroup", "Module", "BucketingModule",
           "SequentialModule", "PythonModule", "PythonLossModule"]
