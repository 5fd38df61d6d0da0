"""The browser harness shared by tests/test_browser.py and scripts/screenshots.py: a token-less
JupyterLab on a free port (its own config, settings and data folders, so nothing of the user's
leaks in and no notebook is trusted by accident), Debian's Chromium driven by Playwright, and
page-side checks (drawings shown, text contrast, hatching) written in JavaScript.

Never downloads a browser: Chromium comes from the system (``/usr/bin/chromium``, or
``MXTEACH_CHROMIUM``), started with the flags of ``CHROMIUM_ARGS`` below.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("MXTEACH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DARK = "JupyterLab Dark"
LIGHT = "JupyterLab Light"


def missing():
    """What the browser checks need and this machine lacks (empty when all is there)."""
    what = []
    if not Path(CHROMIUM).exists():
        what.append(f"chromium ({CHROMIUM})")
    if shutil.which("jupyter-lab", path=str(Path(sys.executable).parent)) is None:
        what.append("jupyter-lab (pip install jupyterlab)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        what.append("playwright (pip install playwright)")
    return what


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, method="GET", timeout=2.0):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
        return json.loads(body) if body else None


@contextmanager
def lab(workdir, tmp, notebooks=()):
    """Serve ``workdir`` (after copying ``notebooks`` into it) with JupyterLab; yields the
    base URL. Kernels are stopped by id and the server by its own PID at the end."""
    workdir, tmp = Path(workdir), Path(tmp)
    workdir.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copy(nb, workdir / Path(nb).name)
    config = tmp / "config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)   # no "Select Kernel" dialog: python3 at once
    # every cell in the DOM and laid out (no windowing): the checks read all outputs
    (settings / "tracker.jupyterlab-settings").write_text(
        json.dumps({"autoStartDefaultKernel": True, "windowingMode": "none"}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "JUPYTER_DATA_DIR": str(tmp / "data"),     # a fresh trust database: nothing trusted
           "IPYTHONDIR": str(tmp / "ipython"), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get(
               "PYTHONPATH")] if p])}
    port = _free_port()
    log_path = tmp / "lab.log"
    log = open(log_path, "wb")
    args = [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser",
            "--ip", "127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True",
            f"--ServerApp.root_dir={workdir}"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        args.append("--allow-root")
    server = subprocess.Popen(args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 40
        while True:
            try:
                _get(f"{base}/api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if server.poll() is not None or time.time() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n" +
                                       log_path.read_text()[-3000:])
                time.sleep(0.2)
        yield base
    finally:
        try:
            for kernel in _get(f"{base}/api/kernels") or []:
                _get(f"{base}/api/kernels/{kernel['id']}", method="DELETE", timeout=10)
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


@contextmanager
def chromium():
    """A headless Chromium browser (Playwright over the system's binary)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(page, base, name, kernel=True):
    """Open ``name``; with ``kernel`` wait until its kernel is there."""
    page.goto(f"{base}/lab/tree/{name}")
    page.wait_for_function("window.jupyterapp && document.querySelector("
                           "'.jp-NotebookPanel .jp-Cell')", timeout=40000)
    page.wait_for_function(
        f"() => {{ const w = window.jupyterapp.shell.currentWidget;"
        f" return w && w.context && w.context.path.endsWith({json.dumps(name)}); }}",
        timeout=40000)
    # mark the notebook shown now: JupyterLab keeps earlier ones open (hidden) in the page
    page.evaluate("() => { document.querySelectorAll('.mxt-current').forEach("
                  "e => e.classList.remove('mxt-current'));"
                  " window.jupyterapp.shell.currentWidget.node.classList.add('mxt-current'); }")
    if kernel:
        page.wait_for_function(
            "() => { const s = window.jupyterapp.shell.currentWidget;"
            " return s && s.sessionContext && s.sessionContext.session &&"
            " s.sessionContext.session.kernel; }", timeout=40000)


def set_theme(page, theme):
    """Switch JupyterLab's theme (``DARK`` or ``LIGHT``) and wait until it applies."""
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  f"{{theme: {json.dumps(theme)}}})")
    light = "true" if theme == LIGHT else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'",
                           timeout=20000)
    page.wait_for_timeout(300)


def run_all(page, timeout=180):
    """Run every cell and wait until the last one has executed (its prompt shows a count)."""
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells');"
                  " return true; }")
    page.wait_for_function(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " const cells = nb.widgets.filter(c => c.model.type === 'code');"
        " return cells.length && cells.every(c => c.model.executionCount !== null &&"
        " !c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*')); }",
        timeout=timeout * 1000)
    page.wait_for_timeout(500)       # trailing redraws of the live views


def is_trusted(page):
    """Whether JupyterLab trusts the open notebook's outputs (any cell)."""
    return page.evaluate(
        "() => { const m = window.jupyterapp.shell.currentWidget.content.model;"
        " const out = []; for (let i = 0; i < m.cells.length; i++)"
        " out.push(m.cells.get(i).trusted); return out.some(Boolean); }")


def stored_images(path):
    """How many drawing images the stored static views of notebook ``path`` hold, and their
    SVG sources (what an untrusted JupyterLab must show)."""
    nb = json.loads(Path(path).read_text())
    sources = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html is None:
                continue
            html = "".join(html) if isinstance(html, list) else html
            if "mxteach-view" not in html:
                continue
            sources += [base64.b64decode(m).decode() for m in re.findall(
                r'<img class="mxt-svg[^"]*"[^>]*src="data:image/svg\+xml;base64,([^"]+)"', html)]
    return sources


# -- page-side checks ---------------------------------------------------------------------------
_COLOR_JS = r"""
const parse = c => { const m = /rgba?\(([^)]+)\)/.exec(c || ''); if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const blend = (top, bottom) => { const a = top[3];
  return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]); };
const lum = c => { const f = v => { v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
const contrast = (a, b) => { const x = lum(a), y = lum(b);
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const pageBg = el => { const chain = []; for (let e = el; e; e = e.parentElement) chain.push(e);
  let bg = [255, 255, 255, 1];
  for (const e of chain.reverse()) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) bg = blend(c, bg); }
  return bg; };
const visible = el => !!(el.getClientRects().length) &&
  getComputedStyle(el).visibility !== 'hidden';
// the colour behind an SVG text: the page, then every painted shape under its centre
const svgBg = (text, base) => { const svg = text.ownerSVGElement; let bg = base;
  let box; try { box = text.getBBox(); } catch (e) { return null; }
  const pt = new DOMPoint(box.x + box.width / 2, box.y + box.height / 2);
  for (const shape of svg.querySelectorAll('rect, circle, ellipse, polygon, path')) {
    if (shape.compareDocumentPosition(text) & Node.DOCUMENT_POSITION_PRECEDING) break;
    if (shape.closest('defs, pattern')) continue;
    const cs = getComputedStyle(shape); const fill = cs.fill;
    if (!fill || fill === 'none') continue;
    let inside = false; try { inside = shape.isPointInFill(pt); } catch (e) { inside = false; }
    if (!inside) continue;
    if (fill.startsWith('url(')) return null;     // a hatch pattern: not judged
    const c = parse(fill); if (!c) continue;
    c[3] *= Number(cs.fillOpacity) * Number(cs.opacity);
    bg = blend(c, bg); }
  return bg; };
const textColor = el => { const cs = getComputedStyle(el);
  const c = parse(el instanceof SVGElement ? cs.fill : cs.color); if (!c) return null;
  if (el instanceof SVGElement) c[3] *= Number(cs.fillOpacity);
  c[3] *= Number(cs.opacity); return c; };
"""

CONTRAST_JS = "(args) => {" + _COLOR_JS + r"""
const [selector, minimum] = args; const bad = []; let checked = 0; let lowest = 99;
const judge = (el, bg, what) => { const fg = textColor(el); if (!fg || !bg) return;
  const c = contrast(blend(fg, bg), bg); checked += 1; lowest = Math.min(lowest, c);
  if (c < minimum) bad.push({what, text: el.textContent.trim().slice(0, 60),
                             contrast: Math.round(c * 100) / 100}); };
for (const view of document.querySelectorAll(selector)) {
  if (!visible(view)) continue;
  // HTML text: every element with a text node of its own
  for (const el of view.querySelectorAll('*')) {
    if (el instanceof SVGElement || !visible(el)) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (own) judge(el, pageBg(el), 'html');
  }
  // inline SVG text (live widgets)
  for (const t of view.querySelectorAll('svg text')) {
    if (!visible(t) || !t.textContent.trim()) continue;
    judge(t, svgBg(t, pageBg(t.ownerSVGElement.parentElement)), 'svg');
  }
  // drawing images (static forms): their SVG, drawn as the image draws it (CSS variables of
  // the page do not reach inside an image, so they are reset to their fallbacks here)
  for (const img of view.querySelectorAll('img.mxt-svg')) {
    if (!visible(img)) continue;
    const src = atob(img.src.split(',')[1]);
    const box = document.createElement('div');
    box.style.cssText = 'position:absolute;left:0;top:0;background:#ffffff;color:#000;' +
      '--jp-ui-font-color1:initial;--jp-ui-font-color2:initial;--jp-layout-color0:initial;' +
      '--jp-border-color1:initial;--jp-border-color2:initial';
    box.innerHTML = new TextDecoder().decode(Uint8Array.from(src, c => c.charCodeAt(0)));
    document.body.appendChild(box);
    for (const t of box.querySelectorAll('svg text'))
      if (t.textContent.trim()) judge(t, svgBg(t, [255, 255, 255, 1]), 'image');
    box.remove();
  }
}
return {checked, lowest: Math.round(lowest * 100) / 100, bad};
}"""

HATCH_JS = r"""(selector) => {
const out = {hatched: 0, ok: 0, bad: []};
const seen = new Set();
const check = (el, root, where) => { out.hatched += 1;
  const fill = getComputedStyle(el).fill; const m = /url\("?#([^")]+)"?\)/.exec(fill);
  if (!m) { out.bad.push({where, why: 'not a pattern fill: ' + fill}); return; }
  const target = root.getElementById ? root.getElementById(m[1]) : root.querySelector('#' + m[1]);
  const own = el.ownerSVGElement.querySelector('pattern#' + CSS.escape(m[1]));
  if (!target || !own || target !== own)
    out.bad.push({where, why: 'pattern ' + m[1] + ' resolves to another drawing'});
  else out.ok += 1; };
for (const view of document.querySelectorAll(selector)) {
  for (const el of view.querySelectorAll('svg .mxt-shared, svg .mxt-pad')) {
    if (seen.has(el)) continue; seen.add(el); check(el, document, 'inline'); }
  for (const img of view.querySelectorAll('img.mxt-svg')) {
    if (seen.has(img)) continue; seen.add(img);
    const src = new TextDecoder().decode(Uint8Array.from(atob(img.src.split(',')[1]),
                                                          c => c.charCodeAt(0)));
    if (!src.includes('mxt-shared') && !src.includes('mxt-pad')) continue;
    const frame = document.createElement('div'); frame.style.cssText = 'position:absolute';
    const doc = new DOMParser().parseFromString(src, 'image/svg+xml');
    frame.appendChild(doc.documentElement); document.body.appendChild(frame);
    for (const el of frame.querySelectorAll('.mxt-shared, .mxt-pad')) {
      // inside an image the ids are the image's own: resolve them within it
      const fill = el.getAttribute('fill') || ''; const m = /url\(#([^)]+)\)/.exec(fill);
      out.hatched += 1;
      if (m && frame.querySelector('pattern#' + CSS.escape(m[1]))) out.ok += 1;
      else out.bad.push({where: 'image', why: 'no pattern ' + fill});
    }
    frame.remove();
  }
}
return out; }"""

IMAGES_JS = r"""(selector) => {
const out = {views: 0, images: 0, loaded: 0, inline_svg: 0, broken: []};
for (const view of document.querySelectorAll(selector)) {
  if (view.parentElement.closest('.mxteach-view')) continue;   // inside another view
  out.views += 1;
  out.inline_svg += view.querySelectorAll('svg').length;
  for (const img of view.querySelectorAll('img.mxt-svg')) {
    out.images += 1;
    if (img.complete && img.naturalWidth > 0) out.loaded += 1;
    else out.broken.push(img.alt);
  }
}
return out; }"""


def wait_images(page, selector, timeout=20000):
    """Wait until every drawing image under ``selector`` has loaded (or timeout)."""
    page.wait_for_function(
        "(sel) => [...document.querySelectorAll(sel + ' img.mxt-svg')]"
        ".every(i => i.complete)", arg=selector, timeout=timeout)


def scroll_through(page):
    """Scroll the notebook top to bottom: JupyterLab renders cells lazily (windowing)."""
    page.evaluate("""async () => {
      const nb = window.jupyterapp.shell.currentWidget.content;
      for (const cell of nb.widgets) { cell.node.scrollIntoView(); 
        await new Promise(r => setTimeout(r, 30)); } }""")
