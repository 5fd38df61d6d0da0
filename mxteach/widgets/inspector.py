"""ModuleInspector: every view of one module in tabs, attachable before bind."""
from __future__ import annotations

import importlib

from ._base import Displayable
from ._svg import MUTED, esc
from .memory import MemoryMap
from .metrics import LiveMetrics
from .params import ParamTable
from .slices import DeviceSlices
from .timeline import StateTimeline

__all__ = ["ModuleInspector", "SLOTS"]

# Views written elsewhere, loaded if their file exists: (tab title, module, class). Each is a
# View subclass taking (module, interval=, clock=, schedule=) and deciding with
# ``applies_to(module)`` whether it has anything to show for this module.
SLOTS = (("Graph", "graph", "GraphView"), ("Buckets", "buckets", "BucketView"),
         ("Chain", "chain", "ChainView"))


def load_slot(module_name, class_name):
    """The class ``mxteach.widgets.<module_name>.<class_name>``, or None if that file does not
    exist yet (any other import error is raised: a broken view should be seen)."""
    full = f"{__package__}.{module_name}"
    try:
        mod = importlib.import_module(full)
    except ModuleNotFoundError as err:
        if err.name == full:
            return None
        raise
    return getattr(mod, class_name)


class ModuleInspector(Displayable):
    """One widget with a tab per view of ``module``: lifecycle, training metrics, memory,
    devices, parameters — and GraphView, BucketView (bucketing modules) and ChainView
    (sequential modules) when those views are installed.

    Attach it at any stage, before bind included; it can also be the fit callback::

        insp = ModuleInspector(mod)
        insp                                         # display: tabs, live while fit runs
        mod.fit(train, eval_data=val, num_epoch=3, batch_end_callback=insp)

    Hidden tabs keep their models up to date but only the visible tab redraws. The static
    form (``to_html()``) shows every view in a collapsible section. ``finish()`` draws the
    final state of every view; it runs by itself when fit ends if the inspector is the
    callback (or on a ``fit_end`` event).

    Attributes: ``views`` (title → view), ``timeline``, ``metrics``, ``memory``, ``slices``,
    ``params``; ``missing`` lists slot views not installed.

    See notebook 10.
    """

    title = "Module inspector"

    def __init__(self, module, *, interval=0.25, clock=None, schedule=None, smoothing=0.6,
                 batch_size=None):
        self.module = module
        self._widget = None
        self._handle = None
        kw = dict(interval=interval, clock=clock, schedule=schedule)
        self.timeline = StateTimeline(module, **kw)
        self.metrics = LiveMetrics(module, smoothing=smoothing, auto_display=False, **kw)
        self.memory = MemoryMap(module, **kw)
        self.slices = DeviceSlices(module, batch_size=batch_size, **kw)
        self.params = ParamTable(module, **kw)
        self.views = {"State": self.timeline, "Metrics": self.metrics, "Memory": self.memory,
                      "Devices": self.slices, "Parameters": self.params}
        self.missing = []
        for title, mod_name, cls_name in SLOTS:
            cls = load_slot(mod_name, cls_name)
            if cls is None:
                self.missing.append(cls_name)
            elif cls.applies_to(module):
                self.views[title] = cls(module, **kw)
                if hasattr(self.views[title], "reference"):
                    self.views[title].reference = f"inspector[{title!r}]"
        # fit's closing fit_end event reaches every view first, then this one (subscribed
        # last): one final refresh of the displayed output
        self._unsubscribe = module.events.subscribe(self._on_fit_end, kinds=("fit_end",))

    def __getitem__(self, title):
        return self.views[title]

    def __call__(self, param):
        """Usable as ``batch_end_callback``: feeds LiveMetrics (which never raises). Every tab
        follows the cell whose fit calls it (display in one cell, fit in the next)."""
        for view in self.views.values():
            if view is not self.metrics:
                view._adopt_cell()
        self.metrics(param)

    def _pin(self, cell):
        """Displayed in a cell: each tab answers for that cell (see ``View``)."""
        self._pin_cell = cell
        for view in self.views.values():
            view._pin(cell)

    def _refresh_display(self):
        if any(view._frozen is not None for view in self.views.values()):
            return                # a later cell acts on the module: keep this cell's picture
        super()._refresh_display()

    def _on_fit_end(self, event):
        if event.source is self.module:
            self.finish()

    def finish(self):
        """Draw every view's final state; refresh the static copy of the displayed output."""
        for view in self.views.values():
            view.finish()
        self._refresh_display()
        return self

    def _build_widget(self, ipywidgets):
        titles = list(self.views)
        tab = ipywidgets.Tab(children=[self.views[t].widget for t in titles])
        tab.titles = tuple(titles)
        tab.selected_index = 0

        def on_select(change):
            self._select(change["new"])
        tab.observe(on_select, names="selected_index")
        self._select(0)
        return tab

    def _select(self, index):
        for i, view in enumerate(self.views.values()):
            view.set_active(i == index)

    def render(self):
        parts = []
        for title, view in self.views.items():
            parts.append(f'<details open class="mxt-section"><summary style="font-weight:600;'
                         f'cursor:pointer">{esc(title)}</summary>{view.to_html()}</details>')
        if self.missing:
            parts.append(f'<div style="color:{MUTED};font-size:11px">not installed: '
                         f'{esc(", ".join(self.missing))}</div>')
        return "".join(parts)

    def heading(self):
        mod = self.module
        return f"{self.title}: {type(mod).__name__} at stage '{mod.stage}'"

    def __repr__(self):
        return f"<ModuleInspector of {type(self.module).__name__} ({', '.join(self.views)})>"
