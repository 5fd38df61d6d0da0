"""The documentation site (``make docs``): Sphinx builds it with warnings as errors, from the
docstrings and the stored notebooks (nothing executed), and every internal link resolves.

One build for the module (about 15 s of CPU); the checks read its HTML.
"""
from __future__ import annotations

import html.parser
import pathlib
import re
import resource
import subprocess
import sys
import time
import urllib.parse

import pytest
import sphinx  # noqa: F401  (the docs extra: make install / pip install -e '.[docs]')

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUILD_LIMIT_S = 120      # CPU seconds of the build (about 15 s today); wall time waits on load




@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    t0, cpu0 = time.perf_counter(), _children_cpu()
    # -E -a: a fresh environment, every page written; -W: any warning fails the build
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-a", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=5 * BUILD_LIMIT_S)
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stderr[-6000:]}"
    return out, (seconds, cpu), proc.stderr


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Links(html.parser.HTMLParser):
    """Every href/src of a page, and every id/name it defines (link targets)."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "a" and key == "src"):
                self.links.append(attrs[key])


def _parse(path, cache={}):
    if path not in cache:
        p = _Links()
        p.feed(path.read_text(encoding="utf-8"))
        cache[path] = p
    return cache[path]


def _internal(link):
    parts = urllib.parse.urlsplit(link)
    return not (parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")))


def test_builds_with_warnings_as_errors_quickly(site):
    out, (seconds, cpu), stderr = site
    assert (out / "index.html").is_file()
    assert cpu < BUILD_LIMIT_S, \
        f"the docs build took {cpu:.0f} s of CPU ({seconds:.0f} s wall; limit {BUILD_LIMIT_S})"
    assert "WARNING" not in stderr and "ERROR" not in stderr, stderr[-3000:]


def test_every_internal_link_and_anchor_resolves(site):
    out = site[0]
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 20
    broken, checked = [], 0
    for page in pages:
        for link in _parse(page).links:
            if not _internal(link):
                continue
            parts = urllib.parse.urlsplit(link)
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() \
                if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(out)}: {link} (no file)")
            elif parts.fragment and target.suffix == ".html" and \
                    urllib.parse.unquote(parts.fragment) not in _parse(target).ids:
                broken.append(f"{page.relative_to(out)}: {link} (no anchor)")
    assert checked > 500, f"only {checked} internal links seen"
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:40])


def test_api_reference_is_laid_out_like_mxnets_module_page(site):
    page = (site[0] / "api" / "module.html").read_text(encoding="utf-8")
    page = page[page.index('role="main"'):]          # the page itself, not the sidebar
    # MXNet 1.9's Module API page: an overview, BaseModule's calls grouped by purpose, the
    # other modules' own calls, then the reference
    headings = ["Overview", "The BaseModule class", "Initialize memory",
                "Get and set parameters", "Train and predict", "Forward and backward",
                "Update parameters", "Input and output", "Other built-in modules",
                "API reference"]
    seen = [h for h in re.findall(r"<h[1-4]>(.*?)<a class=\"headerlink\"", page)
            if h in headings]
    assert seen == headings, seen
    # the tables link to the entries written from the docstrings, with numpydoc's sections
    for name in ("BaseModule.bind", "BaseModule.fit", "Module.save_checkpoint",
                 "BucketingModule.switch_bucket", "SequentialModule.add"):
        assert f'href="#mxteach.module.{name}"' in page, name
        assert f'id="mxteach.module.{name}"' in page, name
    # signatures as MXNet's (names and defaults), and the docstring text
    assert re.search(r'<span class="sig-name descname"><span class="pre">bind</span>', page)
    assert "label_shapes" in page and "begin_epoch" in page
    # numpydoc turned "Parameters" sections into field lists (an iterator page has them)
    io_page = (site[0] / "api" / "io.html").read_text(encoding="utf-8")
    assert re.search(r'>Parameters<span class="colon">', io_page)


def test_course_pages_show_the_stored_outputs(site):
    out = site[0]
    assert len(NOTEBOOKS) >= 6
    course = (out / "course.html").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        page = out / "course" / f"{nb.stem}.html"
        assert page.is_file(), f"{nb.name} is not on the site"
        assert f'href="course/{nb.stem}.html"' in course, f"{nb.name} is not in the course index"
        text = page.read_text(encoding="utf-8")
        assert 'class="cell_output' in text, f"{nb.name}: no stored output rendered"
    # the static views (SVG as data-URI images) appear as stored, not re-executed
    views = sum((out / "course" / f"{nb.stem}.html").read_text(encoding="utf-8")
                .count("data:image/svg+xml") for nb in NOTEBOOKS)
    assert views >= 5, f"only {views} stored drawings on the course pages"


def test_guide_benchmarks_and_design_notes_are_on_the_site(site):
    out = site[0]
    teaching = (out / "teaching.html").read_text(encoding="utf-8")
    assert "2-hour lab" in teaching and "6-week module" in teaching
    bench = (out / "benchmarks.html").read_text(encoding="utf-8")
    assert "MXNet 1.9.1" in bench and "samples/s" in bench
    design = (out / "design.html").read_text(encoding="utf-8")
    assert "Layering" in design
    index = (out / "index.html").read_text(encoding="utf-8")
    for target in ("course.html", "teaching.html", "api/index.html", "benchmarks.html",
                   "design.html"):
        assert f'href="{target}"' in index, target
