"""Operator families. Importing this package registers every operator."""
import importlib

from . import registry

# Each family file registers its operators on import.
FAMILIES = ("nn", "conv", "loss", "shape", "elemwise", "reduce", "init_ops")

for _fam in FAMILIES:
    importlib.import_module(f"{__name__}.{_fam}")
from . import rnn, shape_swap  # noqa: E402,F401  (the fused RNN operator; SwapAxis)
