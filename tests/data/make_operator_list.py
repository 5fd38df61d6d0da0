"""Regenerate ``mxnet191_operators.json``, the list of MXNet 1.9.1's public operator names that
``tests/test_operator_coverage.py`` checks (not run by the tests).

Run from the repository root with the project venv; it needs the MXNet 1.9.1 oracle venv::

    .venv/bin/python tests/data/make_operator_list.py

The oracle lists ``dir()`` of ``mx.nd``, ``mx.sym``, ``mx.nd.random``, ``mx.nd.linalg`` and
``mx.nd.contrib``. Left out of the list altogether (not operators of the Module API): the
``np``/``npx`` numpy interface, sub-modules, AMP casts, image decoding, DLPack, the generated
``gen_*`` helpers and the internal indexing helpers. Every remaining name gets a status:

* ``present``: mxteach has it under the same name in the same namespace;
* ``out``: deliberately not provided; ``reason`` says why (the categories in ``OUT`` below);
* ``missing``: not provided yet, to be done (``reason`` is "not implemented yet").

Statuses are recomputed from mxteach each run, so rerun this after adding operators (the
coverage test fails when the file and mxteach disagree).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from oracle import run_oracle  # noqa: E402

NAMESPACES = ("nd", "sym", "nd.random", "nd.linalg", "nd.contrib")

_LIST_CODE = """
import types
for ns in NAMESPACES:
    mod = mx
    for part in ns.split('.'):
        mod = getattr(mod, part)
    names = []
    for n in sorted(dir(mod)):
        if n.startswith('_'):
            continue
        names.append([n, isinstance(getattr(mod, n), types.ModuleType)])
    out[ns] = names
"""

# whole categories that are not operators of MXNet's Module API (not listed at all)
_EXCLUDED = {
    "amp_cast", "amp_multicast",                               # AMP casts
    "imdecode",                                                # image decoding
    "from_dlpack", "to_dlpack_for_read", "to_dlpack_for_write",  # DLPack
    "get_indexing_dispatch_code", "get_oshape_of_gather_nd_op",  # internal indexing helpers
    "indexing_key_expand_implicit_axes",
    "current_context", "numeric_types", "NDArray", "Symbol",   # re-exported, not operators
}

_SPARSE = "sparse operator not implemented yet (mx.nd.sparse covers storage, dot, elemwise)"
_DETECT = "object-detection / region operators of GluonCV-era models, not used by Module lessons"
_GRAPH = "DGL graph-sampling operators (CSR graphs), outside the Module API"
_FLOW = "control-flow operators (cond/foreach/while_loop) run subgraphs; mxteach graphs are static"
_GLUON = "Gluon/transformer-era fused kernel, not used by Module-era models"
_GPUONLY = "MXNet itself has no CPU implementation of this operator"
_V1 = "deprecated *_v1 operator kept by MXNet only for old checkpoints"
_INTERNAL = "backward helper exposed by accident; the forward operator carries its gradient"

OUT = {
    "SparseEmbedding": _SPARSE, "getnnz": _SPARSE,
    "CachedOp": "Gluon's hybridized-graph handle, not an operator",
    "Convolution_v1": _V1, "Pooling_v1": _V1, "BatchNorm_v1": _V1,
    "DeformablePSROIPooling": _DETECT, "DeformableConvolution": _DETECT,
    "ModulatedDeformableConvolution": _DETECT, "ROIAlign": _DETECT, "RROIAlign": _DETECT,
    "dgl_adjacency": _GRAPH, "dgl_csr_neighbor_non_uniform_sample": _GRAPH,
    "dgl_csr_neighbor_uniform_sample": _GRAPH, "dgl_graph_compact": _GRAPH,
    "dgl_subgraph": _GRAPH, "edge_id": _GRAPH,
    "cond": _FLOW, "foreach": _FLOW, "while_loop": _FLOW,
    "interleaved_matmul_encdec_qk": _GLUON, "interleaved_matmul_encdec_valatt": _GLUON,
    "interleaved_matmul_selfatt_qk": _GLUON, "interleaved_matmul_selfatt_valatt": _GLUON,
    "div_sqrt_dim": _GLUON,
    "fft": _GPUONLY, "ifft": _GPUONLY, "count_sketch": _GPUONLY,
    "backward_gradientmultiplier": _INTERNAL,
    "backward_index_copy": _INTERNAL, "backward_quadratic": _INTERNAL,
}


def _excluded(name, is_module):
    return is_module or name in _EXCLUDED or name.startswith("gen_")


def mxteach_namespace(ns):
    """The mxteach object that stands for MXNet namespace ``ns`` (None when absent)."""
    import mxteach as mx
    obj = mx
    for part in ns.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def build():
    listed = run_oracle(_LIST_CODE, NAMESPACES=list(NAMESPACES))
    rows = []
    for ns in NAMESPACES:
        target = mxteach_namespace(ns)
        for name, is_module in listed[ns]:
            if _excluded(name, is_module):
                continue
            if target is not None and hasattr(target, name):
                status, reason = "present", ""
            elif name in OUT:
                status, reason = "out", OUT[name]
            else:
                status, reason = "missing", "not implemented yet"
            rows.append({"namespace": ns, "name": name, "status": status, "reason": reason})
    return rows


if __name__ == "__main__":
    rows = build()
    path = HERE / "mxnet191_operators.json"
    path.write_text(json.dumps(rows, indent=0) + "\n")
    counts = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"wrote {path.name}: {len(rows)} names, {counts}")
