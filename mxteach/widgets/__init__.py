"""mxteach.widgets: views of modules, executors and training.

Each view watches a module through its events (``mod.events``), never by patching it, and
renders two ways: a live ipywidgets form (redrawn at most a few times a second) and static
HTML with hand-drawn SVG (``to_html()``, ``_repr_html_``) that needs no kernel.

=================  ============================================================
StateTimeline      lifecycle stages and the calls that moved the module
MemoryMap          executor memory per buffer, role and device; ``compare``/``sweep``
DeviceSlices       batch rows per device (preview before bind), timings, padding
LiveMetrics        training curves while fit runs (``batch_end_callback=LiveMetrics()``)
ParamTable         grad_req, fixed, lr_mult/wd_mult per parameter; input gradients
GraphView          the symbol graph (graphviz) with shapes, parameter counts, Monitor values
BucketView         a BucketingModule's buckets, switches, shared memory, mod.symbol now
ChainView          a SequentialModule's members, junction shapes, labels, gradient path
ModuleInspector    all of them in tabs (Graph, Buckets or Chain where they apply)
View               the base class (``widgets/_base.py``) for writing more views
=================  ============================================================

The static form (``to_html()``) draws with SVG images, so it shows in an untrusted notebook;
the live widget draws inline SVG in JupyterLab's theme colours (light or dark).

Importing this package loads neither ipywidgets nor matplotlib: a view imports ipywidgets
when its ``.widget`` is first needed. See notebook 10.
"""
from __future__ import annotations

import importlib
import importlib.util

_EXPORTS = {"View": "_base", "StaticHTML": "_base", "Throttle": "_base",
            "StateTimeline": "timeline", "MemoryMap": "memory", "MemoryComparison": "memory",
            "DeviceSlices": "slices", "LiveMetrics": "metrics", "ParamTable": "params",
            "ModuleInspector": "inspector",
            "GraphView": "graph", "BucketView": "buckets", "ChainView": "chain",
            "WorkersView": "workers"}

__all__ = sorted(n for n, m in _EXPORTS.items()
                 if importlib.util.find_spec(f"{__name__}.{m}") is not None)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mxteach.widgets' has no attribute '{name}'")
    try:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as err:
        if err.name == f"{__name__}.{module}":
            raise AttributeError(f"mxteach.widgets.{name} is not available yet (no "
                                 f"mxteach/widgets/{module}.py)") from None
        raise
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
