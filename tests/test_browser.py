"""A real browser: JupyterLab in Debian's headless Chromium, driven by Playwright (the harness
is tests/browser_notebook/harness.py, shared with scripts/screenshots.py).

* tests/browser_notebook/inspector.ipynb (a ModuleInspector shown, then a short fit in the next
  cell): the live views render, the Metrics curves gain points *while* fit runs, the final
  curve holds every batch, the Graph tab draws the bound graph;
* the stored course notebooks that show the most views — 10 (ModuleInspector on six planted
  bugs), 08 (BucketView) and 09 (ChainView) — opened *untrusted* (as a student first meets
  them): every static view shows its drawings (data-URI images; JupyterLab strips inline SVG
  there), none left as run-on text; in the dark theme their text keeps its contrast;
* notebook 10 and a gallery of every view (scripts/screenshots.py's cells) run in the dark
  theme: every text of every view (live and static) has enough
  contrast against what is behind it (computed colours), and every hatched buffer is hatched by
  its own drawing's pattern.

Screenshots go to test-artifacts/browser/. Skips only when Chromium, JupyterLab or Playwright
is missing *and* MXTEACH_REQUIRE_BROWSER is not '1' (CI sets it, and fails instead). Never
downloads a browser.
"""
import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser_notebook"))
import harness as H  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "tests" / "browser_notebook" / "inspector.ipynb"
STORED = [ROOT / "notebooks" / f"{n}.ipynb" for n in
          ("10_debugging_a_broken_composition", "08_bucketing_and_rnn",
           "09_sequential_and_python_modules")]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
BATCHES = 300                     # 3 epochs of 100 batches in the notebook
MIN_CONTRAST = 3.0                # WCAG's floor for large text and drawings
VIEWS = ".mxt-current .jp-OutputArea .mxteach-view"     # the notebook shown now

pytestmark = pytest.mark.browser
GALLERY = "views_gallery"        # every view live on one page (scripts/screenshots.py's cells)


def _write_gallery(path):
    """The gallery of scripts/screenshots.py, one view per cell, stored unexecuted: run in
    JupyterLab it puts every view, live, on one page (what the old widget tour, notebook 05,
    did before the course spread the views over the notebooks that teach their concepts)."""
    import importlib.util
    import nbformat
    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts" / "screenshots.py")
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# mxteach views"),
                nbformat.v4.new_code_cell(shots.SETUP)] + \
        [nbformat.v4.new_code_cell(code) for code in shots.VIEWS.values()]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def _require_browser():
    missing = H.missing()
    if not missing:
        return
    if os.environ.get("MXTEACH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required (MXTEACH_REQUIRE_BROWSER=1) but missing: "
                    f"{', '.join(missing)}; apt-get install -y chromium")
    pytest.skip(f"browser test needs {', '.join(missing)}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One token-less JupyterLab for the module, serving copies of the notebooks."""
    _require_browser()
    tmp = tmp_path_factory.mktemp("lab")
    gallery = tmp / f"{GALLERY}.ipynb"
    _write_gallery(gallery)
    with H.lab(tmp / "nb", tmp, [NOTEBOOK, gallery] + STORED) as base:
        yield base


@pytest.fixture(scope="module")
def browser(lab):
    with H.chromium() as b:
        yield b


POINTS_JS = """() => {
  const view = document.querySelector('.jp-OutputArea .mxt-livemetrics .mxteach-view');
  if (!view) return null;
  const line = view.querySelector('polyline.mxt-raw');
  const done = [...document.querySelectorAll('.jp-OutputArea-output pre')]
      .some(e => e.textContent.includes('FIT-DONE'));
  return {points: line ? line.getAttribute('points').trim().split(/\\s+/).length : 0,
          done: done};
}"""


def test_inspector_renders_and_curves_grow_while_fit_runs(lab, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "inspector-failure.png").unlink(missing_ok=True)
    if True:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        try:
            page.goto(f"{lab}/lab/tree/{NOTEBOOK.name}")
            page.wait_for_function("window.jupyterapp && document.querySelector("
                                   "'.jp-NotebookPanel .jp-Cell')", timeout=30000)
            page.wait_for_function(
                "() => { const s = window.jupyterapp.shell.currentWidget;"
                " return s && s.sessionContext && s.sessionContext.session &&"
                " s.sessionContext.session.kernel; }", timeout=30000)
            # start run-all without awaiting its promise (it settles only when every cell ran)
            page.evaluate("() => { window.jupyterapp.commands.execute("
                          "'notebook:run-all-cells'); return true; }")
            # the inspector's tabs and the Metrics view appear
            page.wait_for_selector(".mxteach-widget.mxt-moduleinspector .lm-TabBar-tab",
                                   timeout=40000)
            page.wait_for_selector(".mxt-livemetrics .mxteach-view", timeout=40000)
            tabs = page.locator(".mxt-moduleinspector .lm-TabBar-tab").all_inner_texts()
            assert {"State", "Metrics", "Memory", "Devices", "Parameters", "Graph"} <= \
                {t.strip() for t in tabs}
            samples = []
            deadline = time.time() + 120       # generous: a loaded machine is slow
            while time.time() < deadline:
                s = page.evaluate(POINTS_JS)
                if s is not None:
                    samples.append(s)
                    if s["done"]:
                        break
                page.wait_for_timeout(100)
            during = [s["points"] for s in samples if not s["done"] and s["points"]]
            assert samples and samples[-1]["done"], f"fit did not finish: {samples[-3:]}"
            # several different, growing counts seen before fit finished
            assert len(set(during)) >= 2, f"no live growth seen: {during}"
            assert during == sorted(during) and during[0] < during[-1] <= BATCHES
            assert len({c for c in during if c < BATCHES}) >= 2, f"too few redraws: {during}"
            (ARTIFACTS / "points-during-fit.txt").write_text(" ".join(map(str, during)))
            # the final picture holds every batch (finish() draws the last state)
            page.wait_for_function(
                f"() => (({POINTS_JS})() || {{}}).points === {BATCHES}", timeout=15000)
            final = page.evaluate(POINTS_JS)
            assert final["points"] == BATCHES
            page.locator(".mxt-moduleinspector").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "inspector.png"), full_page=False)
            # the Graph tab draws the bound graph with the executor's parameter count
            page.locator(".mxt-moduleinspector .lm-TabBar-tab", has_text="Graph").click()
            page.wait_for_function(
                "() => { const v = document.querySelector('.mxt-graphview .mxteach-view');"
                " return v && v.textContent.includes('parameters (from the bound executor)')"
                " && v.querySelectorAll('svg g.node').length >= 6; }", timeout=15000)
            titles = page.evaluate("[...document.querySelectorAll('.mxt-graphview svg g.node > "
                                   "title')].map(t => t.textContent)")
            assert {"data", "fc1", "relu1", "fc2", "softmax"} <= set(titles)
            graph_text = page.locator(".mxt-graphview .mxteach-view").inner_text()
            assert "738 parameters (from the bound executor)" in graph_text   # 20*32+32+32*2+2
            page.screenshot(path=str(ARTIFACTS / "inspector-graph.png"), full_page=False)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "inspector-failure.png"), full_page=True)
            raise
        finally:
            page.close()
    assert (ARTIFACTS / "inspector.png").stat().st_size > 10000


@pytest.mark.parametrize("path", STORED, ids=[p.stem[:2] for p in STORED])
def test_stored_notebook_untrusted_shows_every_drawing(lab, browser, path):
    expected = H.stored_images(path)
    assert len(expected) >= 3, f"{path.name} holds too few static drawings: {len(expected)}"
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        H.open_notebook(page, lab, path.name, kernel=False)
        page.wait_for_selector(VIEWS, timeout=30000)
        assert H.is_trusted(page) is False          # as a student first opens it
        H.wait_images(page, VIEWS)
        seen = page.evaluate(H.IMAGES_JS, VIEWS)
        # every drawing stored is shown, as a loaded image; no inline SVG left as word soup
        assert seen["images"] == len(expected) and seen["loaded"] == seen["images"], seen
        assert seen["inline_svg"] == 0 and not seen["broken"], seen
        hatch = page.evaluate(H.HATCH_JS, VIEWS)
        assert hatch["ok"] == hatch["hatched"] and not hatch["bad"], hatch
        page.screenshot(path=str(ARTIFACTS / f"untrusted-{path.stem[:2]}.png"))
        H.set_theme(page, H.DARK)
        contrast = page.evaluate(H.CONTRAST_JS, [VIEWS, MIN_CONTRAST])
        assert contrast["checked"] > 100 and not contrast["bad"], contrast
        (ARTIFACTS / f"contrast-untrusted-{path.stem[:2]}.txt").write_text(str(contrast))
        H.set_theme(page, H.LIGHT)
    finally:
        page.close()


# run live in the dark theme, with the least each must show: live drawings, texts checked
# for contrast, hatched buffers. Notebook 10 (ModuleInspector's tabs on six planted bugs, ~270
# texts, one memory map) and the gallery of every view (the bar the old widget tour, notebook
# 05, set: 8 live drawings, 300 texts, 4 hatched buffers on one page)
DARK_RUNS = {"10_debugging_a_broken_composition": (8, 200, 1),
             GALLERY: (8, 300, 4)}


@pytest.mark.parametrize("stem", list(DARK_RUNS), ids=[s[:2] for s in DARK_RUNS])
def test_notebook_runs_in_the_dark_theme_legibly_and_hatched(lab, browser, stem):
    name = f"{stem}.ipynb"
    min_live, min_texts, min_hatched = DARK_RUNS[stem]
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        H.open_notebook(page, lab, name)
        H.set_theme(page, H.DARK)
        H.run_all(page)
        page.wait_for_selector(".mxteach-widget .mxteach-view svg", state="attached",
                               timeout=30000)
        # run here: live widgets and inline SVG (JupyterLab marks the cells trusted as their
        # outputs arrive; on a loaded machine that can trail the last execution count)
        deadline = time.time() + 15
        while not H.is_trusted(page) and time.time() < deadline:
            page.wait_for_timeout(250)
        assert H.is_trusted(page)
        live = page.evaluate("document.querySelectorAll('.mxt-current .mxteach-widget svg')"
                             ".length")
        assert live >= min_live, live
        contrast = page.evaluate(H.CONTRAST_JS, [VIEWS, MIN_CONTRAST])
        (ARTIFACTS / f"contrast-dark-{stem[:2]}.txt").write_text(str(contrast))
        assert contrast["checked"] > min_texts and not contrast["bad"], contrast
        # every hatched buffer, in every drawing on the page (hidden tabs included), is
        # painted by a pattern of its own drawing
        hatch = page.evaluate(H.HATCH_JS, ".mxt-current .jp-OutputArea")
        assert hatch["hatched"] >= min_hatched and hatch["ok"] == hatch["hatched"], hatch
        page.screenshot(path=str(ARTIFACTS / f"dark-{stem[:2]}.png"))
    finally:
        H.set_theme(page, H.LIGHT)
        page.close()
