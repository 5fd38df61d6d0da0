"""The shared base of mxteach's views: a plain-data model fed by module events, throttled
redraws, a lazy ipywidgets form and a static HTML form.

How a view works
----------------
* ``attach(module)`` subscribes to ``module.events`` (members of composite modules report
  through their container) and reads what the module already is, so a view can be attached
  at any stage, before bind included.
* Each event goes to ``update(event)``, which changes ``self.model`` (dicts, lists, strings,
  numbers: never module objects) and returns False when nothing visible changed. Module state
  is read only there (the training thread, between steps), never while drawing.
* ``render()`` turns the model into HTML (hand-built SVG). ``to_html()``/``_repr_html_`` give
  the static form (nbconvert, GitHub, nbval); ``.widget`` is built only when asked for (or
  when the view is displayed) and is then redrawn at most every ``interval`` seconds. A change
  that arrives too early is drawn by a trailing timer, so the last state is always drawn, and
  training never waits for drawing: a redraw that took ``c`` seconds spaces the next ones by
  at least ``c / budget`` (2 %). There is no ``clear_output``: the view sets the ``value`` of
  its own HTML widget.
* Displayed in a notebook, a view publishes its widget *and* its static HTML in one output;
  ``finish()`` draws the final state and refreshes that static copy, so a saved notebook ends
  with the final picture. ``finish()`` runs by itself on a ``fit_end`` event (and LiveMetrics
  knows the end of fit from its callback arguments).
* A displayed view answers for its own cell: once an event arrives from a *later* cell (the
  kernel's execution count moved on), the widget keeps the picture its cell ended with, and a
  banner above it says what the module is doing now ("now: …") with a button to follow the
  module live again. Its static copy stays the cell's own state too. So after Run All, an
  early cell does not show the end of the notebook under text printed for that cell. Passing
  a displayed view to a later cell's ``fit`` as its callback (``batch_end_callback=view``) says
  "watch this fit": the view adopts that cell and follows it live.
* The static form draws SVG as data-URI images (shown in untrusted notebooks); the widget
  draws inline SVG that follows JupyterLab's light or dark theme (see ``_svg.py``).

Writing a view (GraphView, BucketView, ChainView …)::

    class MyView(View):
        title = "My view"
        kinds = ("bind", "reshape")           # event kinds to receive (None: all)

        def empty_model(self):
            return {"shapes": []}

        def read(self, module):               # called by attach() and refresh()
            ...

        def update(self, event):              # one event; return False if nothing changed
            self.model["shapes"].append(...)

        def render(self):                     # HTML from self.model only
            return "<p>…</p>"

        @classmethod
        def applies_to(cls, module):          # shown in ModuleInspector for this module?
            return True

See notebook 10.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
import warnings

from ._svg import FONT, MUTED, esc, rendering

__all__ = ["View", "Throttle", "StaticHTML", "thread_timer", "exec_groups", "source_label",
           "module_kind", "in_notebook", "current_cell"]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def in_notebook():
    """True inside a Jupyter kernel (an IPython shell with a kernel), where displaying a view
    shows it; False in plain Python, pytest or a terminal IPython. Never imports IPython."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def current_cell():
    """An id of the notebook cell running now: the kernel's execution count (None outside a
    kernel). Only compared, never shown: kernels differ in when they increment it."""
    if not in_notebook():
        return None
    return sys.modules["IPython"].get_ipython().execution_count


def thread_timer(delay, fn):
    """Run ``fn`` after ``delay`` seconds in a daemon thread; returns an object with cancel()."""
    timer = threading.Timer(max(delay, 0.0), fn)
    timer.daemon = True
    timer.start()
    return timer


class Throttle:
    """When to redraw: at most once per ``interval`` seconds, and never spending more than
    ``budget`` of the wall time drawing (a draw that took ``c`` s delays the next by ``c/budget``).

    ``request(draw)`` draws at once when allowed; otherwise it schedules one trailing call (via
    ``schedule(delay, fn)``) so the last change is drawn ``interval`` after the previous draw.
    ``clock`` and ``schedule`` are injectable, so tests can drive time by hand.
    """

    def __init__(self, interval=0.25, budget=0.02, clock=None, schedule=None):
        self.interval = float(interval)
        self.budget = float(budget)
        self.clock = clock or time.monotonic
        self.schedule = schedule or thread_timer
        self.gap = self.interval
        self.last_draw = None
        self.last_cost = 0.0
        self.draws = 0
        self.deferred = 0
        self._pending = None
        self._lock = threading.Lock()

    @property
    def pending(self):
        """True while a trailing draw is scheduled."""
        return self._pending is not None

    def request(self, draw):
        """Something changed. Returns True if ``draw`` ran now, False if it was deferred."""
        now = self.clock()
        with self._lock:
            wait = 0.0 if self.last_draw is None else self.last_draw + self.gap - now
            if wait > 0:
                self.deferred += 1
                if self._pending is None:
                    self._pending = self.schedule(wait, lambda: self._trailing(draw))
                return False
            self.last_draw = now
        self._run(draw, now)
        return True

    def flush(self, draw):
        """Cancel the trailing call, if any, and draw now."""
        with self._lock:
            pending, self._pending = self._pending, None
            now = self.last_draw = self.clock()
        if pending is not None:
            pending.cancel()
        self._run(draw, now)

    def _trailing(self, draw):
        with self._lock:
            self._pending = None
            now = self.last_draw = self.clock()
        self._run(draw, now)

    def _run(self, draw, start):
        draw()
        cost = max(self.clock() - start, 0.0)
        with self._lock:
            self.last_cost = cost
            self.draws += 1
            self.gap = max(self.interval, cost / self.budget if self.budget > 0 else 0.0)


class StaticHTML:
    """Fixed HTML with ``_repr_html_`` only: what ``View.snapshot()`` returns (for notebook
    cells whose output should be compared as text)."""

    def __init__(self, html):
        self.html = html

    def _repr_html_(self):
        return self.html

    def __repr__(self):
        return f"<StaticHTML, {len(self.html)} characters>"


class Displayable:
    """Static HTML, lazy widget and notebook display shared by views and the inspector."""

    title = "view"

    def heading(self):
        return self.title

    def render(self):
        raise NotImplementedError

    def to_html(self):
        """The view as self-contained static HTML: renders without a kernel, also in an
        untrusted notebook (drawings are SVG images with data URIs)."""
        with rendering("image"):
            return self._html()

    def live_html(self):
        """The HTML the live widget shows: the same, with inline SVG that follows the
        notebook's theme."""
        with rendering("inline"):
            return self._html()

    def _html(self):
        body = self._render_locked()
        name = type(self).__name__.lower()
        return (f'<div class="mxteach-view mxt-{name}" style="{FONT};line-height:1.35">'
                f'<div class="mxt-title" style="font-weight:600;font-size:13px;margin:2px 0 4px">'
                f"{esc(self.heading())}</div>{body}</div>")

    def _render_locked(self):
        return self.render()

    def _repr_html_(self):
        return self.to_html()

    def snapshot(self):
        """The current picture as a :class:`StaticHTML` (no widget, no live updates)."""
        return StaticHTML(self.to_html())

    @property
    def widget(self):
        """The ipywidgets form (built on first access; needs ipywidgets)."""
        if getattr(self, "_widget", None) is None:
            import ipywidgets  # the only place a view touches ipywidgets
            self._widget = self._build_widget(ipywidgets)
            self._widget.add_class("mxteach-widget")
            self._widget.add_class(f"mxt-{type(self).__name__.lower()}")
        return self._widget

    def _build_widget(self, ipywidgets):
        raise NotImplementedError

    def _mimebundle(self):
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        try:
            live = self.widget._repr_mimebundle_()
        except ImportError:             # no ipywidgets: the static HTML is all there is
            live = {}
        if WIDGET_MIME in live:
            bundle[WIDGET_MIME] = live[WIDGET_MIME]
        return bundle

    def _ipython_display_(self):
        """Show the live widget, with the static HTML in the same output as its fallback."""
        from IPython.display import display
        self._pin(current_cell())
        self._handle = display(self._mimebundle(), raw=True, display_id=True)

    def _pin(self, cell):
        """Remember the cell this object is displayed in (see ``View``)."""
        self._pin_cell = cell

    def _refresh_display(self):
        handle = getattr(self, "_handle", None)
        if handle is None or getattr(self, "_frozen", None) is not None:
            return                # pinned to an earlier cell: keep that cell's picture
        bundle = self._mimebundle()
        html = bundle.get("text/html")
        if html is not None and html == getattr(self, "_last_static", None):
            return            # finishing twice (callback and fit_end) sends one update
        self._last_static = html
        handle.update(bundle, raw=True)


class View(Displayable):
    """Base of the module views: see the module docstring for the contract.

    Parameters
    ----------
    module : BaseModule, optional
        The module to watch (attach later with :meth:`attach` if None).
    interval : float
        Minimum seconds between two redraws of the widget (default 0.25: four per second).
    clock, schedule : callable, optional
        Time source and ``schedule(delay, fn) -> handle with cancel()`` for trailing redraws;
        tests replace them with fakes.

    See notebook 10.
    """

    title = "view"
    kinds = None

    def __init__(self, module=None, *, interval=0.25, clock=None, schedule=None):
        self._lock = threading.RLock()
        self._throttle = Throttle(interval, clock=clock, schedule=schedule)
        self._widget = None
        self._output = None
        self._handle = None
        self._unsubscribe = None
        self._dirty = True
        self._active = True
        self._finish_requested = False     # update() sets it when it sees the end of fit
        self._finish_hooks = []            # called after finish() (ModuleInspector)
        self._pin_cell = None              # the notebook cell the view is displayed in
        self._frozen = None                # that cell's final live HTML, once a later one acts
        self._following = False            # the user asked to follow the module again
        self._since = 0                    # events seen since the cell ended
        self._banner = None
        self.module = None
        self.draws = 0
        self.cost = {"events": 0.0, "draws": 0.0}   # seconds spent updating and drawing
        self.errors = []                           # (where, exception, traceback) of draws
        self.model = self.empty_model()
        if module is not None:
            self.attach(module)

    # -- what subclasses provide --------------------------------------------------------------
    def empty_model(self):
        return {}

    def read(self, module):
        """Read what ``module`` already is (called under the view's lock)."""

    def update(self, event):
        """Apply one event to the model; return False if nothing visible changed."""
        return False

    @classmethod
    def applies_to(cls, module):
        """Whether the view makes sense for ``module`` (ModuleInspector asks)."""
        return True

    def _controls(self, ipywidgets):
        """Widgets shown above the drawing (e.g. a slider); none by default."""
        return []

    # -- wiring -------------------------------------------------------------------------------
    def attach(self, module):
        """Watch ``module``: subscribe to its events and read its current state."""
        events = getattr(module, "events", None)
        if events is None or not hasattr(events, "subscribe"):
            raise TypeError(f"{type(self).__name__} watches an mxteach module (something with "
                            f".events); got {type(module).__name__}")
        if self.module is not None:
            self.detach()
        self.module = module
        view = self

        def listener(event):
            view._on_event(event)
        listener.__name__ = f"{type(self).__name__}.update"
        kinds = None if self.kinds is None else set(self.kinds) | {"fit_end"}
        self._unsubscribe = events.subscribe(listener, kinds=kinds)
        with self._lock:
            self.read(module)
        self._changed()
        return self

    def detach(self):
        """Stop listening (the model and the drawing stay as they are)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        return self

    def refresh(self):
        """Re-read the module (after changes that emit no event) and redraw."""
        if self.module is not None:
            with self._lock:
                self.read(self.module)
        self._changed()
        return self

    def _on_event(self, event):
        if self._pin_cell is not None and self._frozen is None:
            cell = current_cell()
            if cell is not None and cell != self._pin_cell:
                self._freeze()
        if self._frozen is not None:
            self._since += 1
        start = time.perf_counter()
        with self._lock:
            changed = self.update(event)
        self.cost["events"] += time.perf_counter() - start
        if changed is not False:
            self._changed()
        if (event.kind == "fit_end" and event.source is self.module) or self._finish_requested:
            self._finish_requested = False
            self.finish()

    # -- answering for the displayed cell ------------------------------------------------------
    def _freeze(self):
        """A later cell acts on the module: keep the picture this view's cell ended with."""
        with self._lock:
            self._frozen = self.live_html()
        self._following = False
        self._since = 0
        if self._output is not None:
            self._output.value = self._frozen
        # the static copy in the output: this cell's final state, then no more updates
        self._frozen, frozen = None, self._frozen
        self._refresh_display()
        self._frozen = frozen

    def _adopt_cell(self):
        """Called from a fit callback: follow the running cell (display here, fit below)."""
        if self._pin_cell is None:
            return
        cell = current_cell()
        if cell is None or cell == self._pin_cell:
            return
        self._pin_cell = cell
        if self._frozen is not None:
            self._frozen = None
            self._following = False
            self._changed()

    def now_text(self):
        """One line on what the module is doing now (shown over a pinned picture)."""
        mod = self.module
        stage = getattr(mod, "stage", None)
        what = f"{type(mod).__name__} at stage '{stage}'" if mod is not None else "the module"
        return (f"now: {what} ({self.heading()}; {self._since} event(s) from later cells)")

    def _banner_html(self):
        shown = ("Following the module live (displayed in an earlier cell)." if
                 self._following else "This picture is the module as the cell that displayed "
                 "it left it.")
        return (f'<div class="mxt-now" style="{FONT};color:{MUTED};padding:2px 0">'
                f"{esc(shown)} {esc(self.now_text())}</div>")

    def follow(self, on=True):
        """Show the module's latest state again (True) or the displayed cell's (False)."""
        self._following = bool(on)
        self._dirty = True
        if self._output is not None:
            self._throttle.flush(self._redraw)
        return self

    # -- drawing ------------------------------------------------------------------------------
    def _render_locked(self):
        with self._lock:
            return self.render()

    def _build_widget(self, ipywidgets):
        self._output = ipywidgets.HTML(value=self.live_html())
        self._dirty = False
        text = ipywidgets.HTML(value="")
        button = ipywidgets.ToggleButton(value=False, description="follow the module",
                                         tooltip="show the module's latest state here")
        button.observe(lambda change: self.follow(change["new"]), names="value")
        self._banner = ipywidgets.HBox([text, button], layout=ipywidgets.Layout(display="none"))
        self._banner.add_class("mxt-banner")
        self._banner_text, self._follow_button = text, button
        controls = self._controls(ipywidgets)
        return ipywidgets.VBox([self._banner] + controls + [self._output])

    def _changed(self):
        self._dirty = True
        if self._output is None or not self._active:
            return
        self._throttle.request(self._redraw)

    def _redraw(self):
        start = time.perf_counter()
        try:
            with self._lock:
                if not self._dirty or self._output is None:
                    return
                pinned = self._frozen is not None and not self._following
                html = self._frozen if pinned else self.live_html()
                banner = self._banner_html() if self._frozen is not None else None
                self._dirty = False
            if self._banner is not None:
                self._banner.layout.display = "none" if banner is None else "flex"
                if banner is not None:
                    self._banner_text.value = banner
            self._output.value = html
        except Exception as err:  # drawing runs in a timer thread too: report, never raise
            self.errors.append(("draw", err, traceback.format_exc()))
            warnings.warn(f"{type(self).__name__} could not draw: {err!r}", RuntimeWarning,
                          stacklevel=2)
            return
        self.draws += 1
        self.cost["draws"] += time.perf_counter() - start

    def set_active(self, active):
        """An inactive view (a hidden tab) keeps its model but does not redraw until active."""
        self._active = bool(active)
        if self._active and self._dirty and self._output is not None:
            self._throttle.flush(self._redraw)

    def finish(self):
        """Draw the final state now and refresh the static copy of a displayed view."""
        if self._output is not None:
            self._throttle.flush(self._redraw)
        self._refresh_display()
        for hook in list(self._finish_hooks):
            hook()
        return self

    def __repr__(self):
        mod = self.module
        what = "no module" if mod is None else \
            f"{type(mod).__name__} at stage '{getattr(mod, 'stage', '?')}'"
        return f"<{type(self).__name__} of {what}>"


# -- reading modules through their public attributes ------------------------------------------
def module_kind(module):
    """``'bucketing'``, ``'sequential'``, ``'module'`` (has an exec_group) or ``'other'``."""
    if isinstance(getattr(type(module), "buckets", None), property):
        return "bucketing"
    if isinstance(getattr(type(module), "modules", None), property):
        return "sequential"
    if isinstance(getattr(type(module), "exec_group", None), property):
        return "module"
    return "other"


def exec_groups(module, current_only=False):
    """``[(label, DataParallelExecutorGroup)]`` of a bound module: a Module's own, each member's
    for a SequentialModule (``'module 1'``), each bound bucket's for a BucketingModule
    (``'bucket 10'``; only the current one with ``current_only``)."""
    if module is None or not getattr(module, "binded", False):
        return []
    kind = module_kind(module)
    out = []
    if kind == "bucketing":
        buckets = module.buckets
        keys = [module.current_bucket_key] if current_only else list(buckets)
        for key in keys:
            if key in buckets:
                for label, group in exec_groups(buckets[key], current_only):
                    out.append((_join(f"bucket {key}", label), group))
    elif kind == "sequential":
        for i, member in enumerate(module.modules):
            for label, group in exec_groups(member, current_only):
                out.append((_join(f"module {i}", label), group))
    elif kind == "module" and module.exec_group is not None:
        out.append(("", module.exec_group))
    return out


def _join(a, b):
    return f"{a} · {b}" if a and b else (a or b)


def source_label(source, root):
    """How to name an event's source relative to the watched module: ``''`` for the module
    itself, ``'bucket 10'``, ``'module 1'`` (nested: ``'module 1 · bucket 3'``), else the
    source's class name."""
    found = _locate(source, root)
    return type(source).__name__ if found is None else found


def _locate(source, root):
    """The label of ``source`` inside ``root`` ('' for root itself), or None if absent."""
    if source is root:
        return ""
    kind = module_kind(root)
    if kind == "bucketing":
        for key, member in root.buckets.items():
            inner = _locate(source, member)
            if inner is not None:
                return _join(f"bucket {key}", inner)
        key = getattr(source, "bucket_key", None)   # a bucket binding, not yet registered
        if key is not None:
            return f"bucket {key}"
    if kind == "sequential":
        for i, member in enumerate(root.modules):
            inner = _locate(source, member)
            if inner is not None:
                return _join(f"module {i}", inner)
    return None
