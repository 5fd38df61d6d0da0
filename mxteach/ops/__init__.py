"""Operator families. Importing this package registers every operator: each family file
registers its own operators when it is imported, and imports only ``registry.py`` and the
shared helpers of ``common.py``, never another family file."""
import importlib

from . import registry

__all__ = ["registry", "FAMILIES"]

# registration order is the order of ``registry.all_ops()``
FAMILIES = ("nn", "nn_norm", "conv", "loss", "shape", "shape_index", "elemwise", "reduce",
            "init_ops", "rnn", "shape_swap", "custom", "math", "sparse_nn",
            "movement", "ordering", "optimizer_ops", "nn_extra", "nn_extra_conv", "nn_extra_act",
            "nn_extra_ctc",
            "reduce_extra", "logic", "linalg", "linalg_factor",
            "creation", "random_ops",
            "math_extra", "norm_variants", "index_extra", "index_contrib", "im2col",
            "optimizer_multi",
            "optimizer_lamb", "spatial", "roi", "random_pdf", "legacy_v1", "attention", "signal",
            "box", "proposal", "misc_contrib", "quantization", "quantized_gemm", "quantized_ops",
            "quantized_nn")

for _fam in FAMILIES:
    importlib.import_module(f"{__name__}.{_fam}")
