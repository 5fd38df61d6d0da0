"""Hand-built SVG and HTML strings for the views: small, dependency-free, deterministic.

Everything here returns text. A drawing is emitted in one of two forms, chosen by
:func:`rendering` (a context variable, so timer threads drawing live widgets do not disturb
static renders):

* ``'image'`` (the default, every static form): ``<img src="data:image/svg+xml;base64,…">``.
  JupyterLab renders that in an *untrusted* notebook (it strips inline ``<svg>`` there), as do
  nbconvert and GitHub; ids inside the image cannot collide with other drawings on the page.
* ``'inline'`` (live widgets): the ``<svg>`` itself, so it follows the page's theme; pattern ids
  get a per-drawing prefix so two drawings never share (or hide) each other's hatching.

Colours that must follow the theme (text, paper, grid) are CSS variables of JupyterLab with a
light fallback (``var(--jp-ui-font-color1, #222222)``) written into ``style`` attributes (SVG
presentation attributes do not take ``var()``): inline they follow JupyterLab's light or dark
theme, inside an image the fallbacks give dark ink on a white card. Semantic colours (roles,
devices, highlights) are mid-tones that read on either background. No ``$`` is ever emitted:
the ipywidgets HTML widget would typeset it as mathematics. See notebook 10.
"""
from __future__ import annotations

import base64
import contextlib
import contextvars
import itertools
import math
import re
from html import escape

# Tableau 10: distinguishable, colour-blind tolerant, prints well in grey.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")

ROLE_ORDER = ("argument", "gradient", "auxiliary", "output", "intermediate",
              "intermediate_grad", "head_grad", "workspace")
ROLE_COLORS = {"argument": "#4e79a7", "gradient": "#e15759", "auxiliary": "#b07aa1",
               "output": "#59a14f", "intermediate": "#f28e2b", "intermediate_grad": "#edc948",
               "head_grad": "#9c755f", "workspace": "#76b7b2"}
ROLE_TITLES = {"argument": "arguments (data, labels, parameters)",
               "gradient": "gradients (grad_req write/add)",
               "auxiliary": "auxiliary states (BatchNorm moving statistics)",
               "output": "outputs (kept for get_outputs)",
               "intermediate": "intermediates (planned)",
               "intermediate_grad": "intermediate gradients (planned)",
               "head_grad": "head gradients",
               "workspace": "workspace (operator scratch; exists after the first forward)"}

HIGHLIGHT = "#f28e2b"
# theme-following colours: JupyterLab's variables, with the light theme's look as fallback
INK = "var(--jp-ui-font-color1, #222222)"
MUTED = "var(--jp-ui-font-color2, #616161)"
PAPER = "var(--jp-layout-color0, #ffffff)"
GRID = "var(--jp-border-color2, #e0e0e0)"
BORDER = "var(--jp-border-color1, #9e9e9e)"
# fixed ink for text drawn on a fixed light fill (a highlighted box): readable in any theme
DARK_INK = "#222222"
FONT = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:12px"

_MODE = contextvars.ContextVar("mxteach_render_mode", default="image")
_IDS = itertools.count(1)


@contextlib.contextmanager
def rendering(mode):
    """Render drawings as ``'image'`` (data-URI ``<img>``, the static default) or
    ``'inline'`` (``<svg>`` elements, for live widgets) inside the ``with`` block."""
    if mode not in ("image", "inline"):
        raise ValueError(f"rendering mode must be 'image' or 'inline', got {mode!r}")
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def render_mode():
    """The current drawing form: ``'image'`` or ``'inline'``."""
    return _MODE.get()


_IMG = re.compile(r'<img class="mxt-svg[^"]*"[^>]*?src="data:image/svg\+xml;base64,([^"]+)"[^>]*>')


def expand_images(html):
    """``html`` with every drawing image replaced by its SVG text (for reading a static form
    back: tests, search)."""
    return _IMG.sub(lambda m: base64.b64decode(m.group(1)).decode("utf-8"), html)


def esc(value):
    """HTML-escape ``value`` (quotes too); ``$`` becomes an entity so no math is typeset."""
    return escape(str(value), quote=True).replace("$", "&#36;")


def num(x):
    """A coordinate with at most one decimal (keeps SVG small and deterministic)."""
    s = f"{x:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def fmt_bytes(n):
    """``512 B``, ``2.7 KiB``, ``1.20 MiB``, ``3.05 GiB``."""
    n = int(n)
    if abs(n) < 1024:
        return f"{n} B"
    for unit, scale in (("KiB", 2 ** 10), ("MiB", 2 ** 20), ("GiB", 2 ** 30)):
        if abs(n) < 1024 * scale or unit == "GiB":
            value = n / scale
            return f"{value:.1f} {unit}" if abs(value) >= 10 or unit == "KiB" else \
                f"{value:.2f} {unit}"
    return f"{n} B"


def fmt_value(x):
    """A metric value with 4 significant digits (``nan`` stays ``nan``)."""
    if x is None:
        return "–"
    x = float(x)
    if math.isnan(x):
        return "nan"
    if 1e4 <= abs(x) < 1e7:
        return f"{x:,.0f}"
    if x != 0 and (abs(x) >= 1e7 or abs(x) < 1e-3):
        return f"{x:.3e}"
    return f"{x:.4g}"


def fmt_seconds(s):
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def shape_str(shape):
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def nice_ticks(lo, hi, count=5):
    """About ``count`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        return [lo]
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    n = min(int(math.floor((hi - first) / step + 1e-9)) + 1, 4 * count)
    return [round(first + i * step, 12) for i in range(max(n, 0))]


class Svg:
    """An SVG document built element by element.

    >>> s = Svg(100, 20); s.rect(0, 0, 10, 10, "#4e79a7"); s.text(12, 10, "a<b")
    >>> "a&lt;b" in s.svg_text()
    True
    """

    def __init__(self, width, height, label=None, glyph=False):
        self.width, self.height = width, height
        self.label = label
        self.glyph = glyph            # a legend square or a table bar, not a drawing
        self.parts = []
        self._defs = {}

    def _attrs(self, attrs):
        """Attributes as text; colours given as ``var(…)`` go into one ``style`` attribute."""
        out, style = [], []
        for key, value in attrs.items():
            if value is None:
                continue
            key = key.rstrip("_").replace("_", "-")
            if key in ("fill", "stroke") and str(value).startswith("var("):
                style.append(f"{key}:{value}")
                # a plain fallback too, for renderers without CSS (rsvg, some converters)
                value = _fallback(value)
            out.append(f'{key}="{esc(value)}"')
        if style:
            out.append(f'style="{esc(";".join(style))}"')
        return (" " + " ".join(out)) if out else ""

    def rect(self, x, y, w, h, fill, **attrs):
        self.parts.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" '
                          f'height="{num(max(h, 0))}"{self._attrs({"fill": fill, **attrs})}/>')

    def line(self, x1, y1, x2, y2, stroke=INK, width=1, **attrs):
        self.parts.append(f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}"'
                          f'{self._attrs({"stroke": stroke, "stroke_width": width, **attrs})}/>')

    def polyline(self, points, stroke, width=1.5, **attrs):
        if not points:
            return
        pts = " ".join(f"{num(x)},{num(y)}" for x, y in points)
        self.parts.append(f'<polyline points="{pts}" fill="none"'
                          f'{self._attrs({"stroke": stroke, "stroke_width": width, **attrs})}/>')

    def path(self, d, stroke=INK, width=1, fill="none", **attrs):
        attrs = {"fill": fill, "stroke": stroke, "stroke_width": width, **attrs}
        self.parts.append(f'<path d="{d}"{self._attrs(attrs)}/>')

    def circle(self, cx, cy, r, fill, **attrs):
        self.parts.append(f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}"'
                          f'{self._attrs({"fill": fill, **attrs})}/>')

    def marker(self, x, y, shape, color, size=4, **attrs):
        """A point marker: ``'circle'``, ``'square'`` or ``'diamond'``."""
        if shape == "square":
            self.rect(x - size, y - size, 2 * size, 2 * size, color, **attrs)
        elif shape == "diamond":
            s = size * 1.3
            self.path(f"M{num(x)},{num(y - s)} L{num(x + s)},{num(y)} L{num(x)},{num(y + s)} "
                      f"L{num(x - s)},{num(y)} Z", stroke="none", fill=color, **attrs)
        else:
            self.circle(x, y, size, color, **attrs)

    def text(self, x, y, s, size=12, anchor="start", fill=INK, weight=None, **attrs):
        self.parts.append(f'<text x="{num(x)}" y="{num(y)}" font-size="{size}" '
                          f'text-anchor="{anchor}"'
                          f'{self._attrs({"fill": fill, "font_weight": weight, **attrs})}>'
                          f'{esc(s)}</text>')

    def arrow_head(self, x, y, dx, dy, color=INK, size=6):
        """A filled triangle at (x, y) pointing along (dx, dy)."""
        norm = math.hypot(dx, dy) or 1.0
        ux, uy = dx / norm, dy / norm
        bx, by = x - ux * size, y - uy * size
        px, py = -uy * size * 0.5, ux * size * 0.5
        self.path(f"M{num(x)},{num(y)} L{num(bx + px)},{num(by + py)} "
                  f"L{num(bx - px)},{num(by - py)} Z", stroke="none", fill=color)

    def hatch(self, color):
        """A fill reference ``url(#…)`` for diagonal hatching in ``color`` (shared buffers).

        The id carries a placeholder that :meth:`tostring` replaces by a prefix unique to
        this drawing (inline) — ids are global to a page, and a page that reused one id would
        paint every drawing with the first definition, which is not painted at all when its
        drawing sits in a hidden tab."""
        pid = "@ID@hatch-" + color.lstrip("#")
        if pid not in self._defs:
            self._defs[pid] = (
                f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6" '
                f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{color}" '
                f'fill-opacity="0.3"/><line x1="0" y1="0" x2="0" y2="6" stroke="{color}" '
                f'stroke-width="3"/></pattern>')
        return f"url(#{pid})"

    def svg_text(self, prefix="mxt-"):
        """The ``<svg>`` document, pattern ids prefixed with ``prefix``. A paper-coloured
        background comes first: the page's background inline, white inside an image."""
        defs = ("<defs>" + "".join(self._defs.values()) + "</defs>") if self._defs else ""
        label = f'<title>{esc(self.label)}</title>' if self.label else ""
        paper = (f'<rect class="mxt-paper" width="{num(self.width)}" height="{num(self.height)}"'
                 f'{self._attrs({"fill": PAPER})}/>')
        cls = ' class="mxt-glyph"' if self.glyph else ""
        text = (f'<svg xmlns="http://www.w3.org/2000/svg"{cls} width="{num(self.width)}" '
                f'height="{num(self.height)}" viewBox="0 0 {num(self.width)} '
                f'{num(self.height)}" style="max-width:100%;height:auto;{FONT}">'
                f'{label}{defs}{paper}{"".join(self.parts)}</svg>')
        return text.replace("@ID@", prefix)

    def tostring(self):
        """The drawing in the current :func:`rendering` form."""
        if render_mode() == "inline":
            return self.svg_text(f"mxt{next(_IDS)}-")
        return svg_image(self.svg_text(), self.width, self.height, self.label, self.glyph)


def _fallback(value):
    """``#222222`` from ``var(--x, #222222)``."""
    inner = value[4:-1]
    return inner.split(",", 1)[1].strip() if "," in inner else "currentColor"


def svg_image(svg_text, width, height, label=None, glyph=False):
    """An SVG document as an ``<img>`` with a base64 data URI: what JupyterLab shows in an
    untrusted notebook (and nbconvert, GitHub) where it would strip an inline ``<svg>``."""
    data = base64.b64encode(svg_text.encode("utf-8")).decode("ascii")
    alt = esc(label or "drawing")
    cls = "mxt-svg mxt-glyph" if glyph else "mxt-svg"
    return (f'<img class="{cls}" alt="{alt}" width="{num(width)}" height="{num(height)}" '
            f'style="max-width:100%;height:auto;vertical-align:top" '
            f'src="data:image/svg+xml;base64,{data}">')


def table(headers, rows, cls="mxt-table"):
    """An HTML table; cells are escaped unless given as ``Raw``. Cells are left-aligned
    explicitly: JupyterLab right-aligns table cells of rendered HTML outputs."""
    th = "".join(f'<th style="text-align:left;padding:2px 8px;border-bottom:1px solid '
                 f'{BORDER}">{_cell(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td style="text-align:left;padding:2px 8px;'
                                     f'vertical-align:top">{_cell(c)}</td>' for c in row)
                   + "</tr>" for row in rows)
    return (f'<table class="{cls}" style="border-collapse:collapse;{FONT}">'
            f"<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>")


class Raw(str):
    """A string that is already HTML (not escaped by :func:`table`)."""


def _cell(c):
    return str(c) if isinstance(c, Raw) else esc(c)


def note(text, level="info"):
    """A short highlighted remark: ``'info'`` (a teaching note) or ``'warn'`` (a pitfall).

    The background is a translucent tint and the text keeps the page's colour, so the note
    reads on a light and on a dark theme."""
    colour = {"warn": ("rgba(232,163,61,0.16)", "#e8a33d"),
              "info": ("rgba(78,121,167,0.14)", "#4e79a7")}[level]
    icon = "⚠ " if level == "warn" else ""
    return (f'<div class="mxt-note mxt-{level}" style="background:{colour[0]};border-left:3px '
            f'solid {colour[1]};padding:3px 8px;margin:3px 0;{FONT}">{icon}{esc(text)}</div>')


def swatch(color, hatched=False):
    """A 10-px legend square (hatched like the drawings' shared buffers), as a drawing."""
    svg = Svg(12, 10, label="legend", glyph=True)
    svg.rect(0, 0, 10, 10, svg.hatch(color) if hatched else color,
             stroke=color if hatched else None, class_="mxt-swatch" +
             (" mxt-shared" if hatched else ""))
    return Raw(f'<span style="display:inline-block;vertical-align:middle;margin-right:2px">'
               f'{svg.tostring()}</span>')


def hbar(segments, width=160, height=9, label="bar"):
    """A horizontal bar of ``[(pixels, colour, hatched)]`` segments, as a small drawing (CSS
    backgrounds do not survive JupyterLab's sanitizer of untrusted outputs)."""
    svg = Svg(max(width, 1), height, label=label, glyph=True)
    x = 0.0
    for w, color, hatched in segments:
        if w > 0:
            svg.rect(x, 0, w, height, svg.hatch(color) if hatched else color,
                     stroke=color if hatched else None,
                     class_="mxt-hbar" + (" mxt-shared" if hatched else ""))
        x += w
    return Raw(svg.tostring())


def line_chart(series, width=360, height=200, title="", x_label="", vlines=(), y_label="",
               y_cap=None):
    """A small line chart.

    ``series`` is a list of dicts with ``points`` [(x, y)], ``color``, ``style`` (``'raw'``:
    faint dots and a thin line; ``'line'``: a solid line; ``'markers'``: markers joined by a
    dashed line), optional ``marker`` and ``label``. ``vlines`` are x positions of dotted
    vertical lines (epoch boundaries). Non-finite values are skipped. Values above ``y_cap``
    are drawn on the top edge (the title says so), so one outlier cannot flatten a curve.
    """
    left, right, top, bottom = 52, 10, 22, 32
    if y_cap is not None and any(p[1] > y_cap for s in series for p in s["points"]
                                 if _finite(p[1])):
        series = [dict(s, points=[(x, min(y, y_cap)) if _finite(y) else (x, y)
                                  for x, y in s["points"]]) for s in series]
        title = f"{title} (capped at {fmt_value(y_cap)})"
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for s in series for p in s["points"] if _finite(p[1])]
    ys = [p[1] for s in series for p in s["points"] if _finite(p[1])]
    svg = Svg(width, height, label=title)
    svg.text(left, 14, title, size=12, weight="bold")
    if not xs:
        svg.rect(left, top, pw, ph, PAPER, stroke=GRID)
        svg.text(left + pw / 2, top + ph / 2, "waiting for data …", anchor="middle",
                 fill=MUTED)
        return svg.tostring()
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 - x0 <= 1e-9 * max(1.0, abs(x0)):
        x0, x1 = x0 - 1, x1 + 1
    if y1 - y0 <= 1e-9 * max(1.0, abs(y0)):
        pad = abs(y0) * 0.05 or 0.5
        y0, y1 = y0 - pad, y1 + pad
    else:
        pad = (y1 - y0) * 0.06
        y0, y1 = y0 - pad, y1 + pad

    def sx(x):
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y):
        return top + ph - (y - y0) / (y1 - y0) * ph

    svg.rect(left, top, pw, ph, PAPER, stroke=BORDER)
    for t in nice_ticks(y0, y1, 5):
        svg.line(left, sy(t), left + pw, sy(t), stroke=GRID)
        svg.text(left - 4, sy(t) + 4, fmt_value(t), size=10, anchor="end", fill=MUTED)
    for t in nice_ticks(x0, x1, 6):
        svg.line(sx(t), top + ph, sx(t), top + ph + 3, stroke=MUTED)
        svg.text(sx(t), top + ph + 14, fmt_value(t), size=10, anchor="middle", fill=MUTED)
    for v in vlines:
        if x0 <= v <= x1:
            svg.line(sx(v), top, sx(v), top + ph, stroke=BORDER, stroke_dasharray="2,3")
    if x_label:
        svg.text(left + pw / 2, height - 4, x_label, size=10, anchor="middle", fill=MUTED)
    if y_label:
        svg.text(left - 40, top - 8, y_label, size=10, fill=MUTED)
    for s in series:
        pts = [(sx(x), sy(y)) for x, y in s["points"] if _finite(y)]
        if not pts:
            continue
        style, color = s.get("style", "line"), s["color"]
        if style == "raw":
            svg.polyline(pts, color, width=0.8, stroke_opacity="0.35", class_="mxt-raw")
            # every point as a round dot: zero-length segments of one path (small markup)
            dots = "".join(f"M{num(x)},{num(y)}h0" for x, y in pts)
            svg.path(dots, stroke=color, width=3.2, stroke_linecap="round",
                     stroke_opacity="0.5", class_="mxt-raw-pts")
        elif style == "band":
            # min/max envelope of binned raw points: one vertical stroke per bin, one path
            strokes = "".join(f"M{num(x)},{num(lo)}V{num(hi)}"
                              for (x, lo), (_, hi) in zip(pts[0::2], pts[1::2]))
            svg.path(strokes, stroke=color, width=1.2, stroke_opacity="0.4",
                     class_="mxt-raw-band")
        elif style == "markers":
            if len(pts) > 1:
                svg.polyline(pts, color, width=1, stroke_dasharray="4,3")
            for x, y in pts:
                svg.marker(x, y, s.get("marker", "square"), color, size=3.5,
                           class_="mxt-marker")
        else:
            svg.polyline(pts, color, width=2, class_="mxt-line")
    return svg.tostring()


def _finite(y):
    return y is not None and math.isfinite(y)
