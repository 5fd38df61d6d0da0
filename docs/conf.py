"""Sphinx configuration of mxteach's documentation site (``make docs`` → ``build/docs/``).

The site is built from what the repository already holds, never by running anything slow:

* the API reference from the docstrings (autodoc + numpydoc), laid out like MXNet 1.9's
  Module API pages (``api/``);
* the course: the stored, executed notebooks of ``notebooks/`` rendered by myst-nb with their
  stored outputs (``nb_execution_mode = "off"``), so every static view shows as it was run;
  they are copied into ``docs/course/`` (generated, not in git) when the build starts;
* the teacher's guide, the benchmarks (``benchmarks/RESULTS.md``), the design notes and
  CONTRIBUTING.md, included as they are.

``tests/test_docs.py`` builds it with warnings as errors and checks every internal link.
"""
from __future__ import annotations

import filecmp
import glob
import os
import shutil
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)          # document this checkout, not an installed copy


def _copy_course():
    """notebooks/NN_*.ipynb -> docs/course/ (only what changed, so rebuilds stay incremental).

    A copy rather than a link: Sphinx resolves links between pages by real paths, and the
    notebooks must stay where students and nbval find them."""
    dest = os.path.join(DOCS, "course")
    os.makedirs(dest, exist_ok=True)
    wanted = {os.path.basename(p): p
              for p in glob.glob(os.path.join(ROOT, "notebooks", "[0-9][0-9]_*.ipynb"))}
    for name in os.listdir(dest):
        if name.endswith(".ipynb") and name not in wanted:
            os.remove(os.path.join(dest, name))
    for name, src in wanted.items():
        target = os.path.join(dest, name)
        if not (os.path.exists(target) and filecmp.cmp(src, target, shallow=False)):
            shutil.copy2(src, target)


_copy_course()

project = "mxteach"
author = "the mxteach authors"
copyright = "the mxteach authors, Apache-2.0"
release = version = "0.1.0"

extensions = [
    "myst_nb",                    # Markdown pages and the stored notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",     # the method tables of the API pages (no generated stubs)
    "numpydoc",                   # the docstrings are numpydoc
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
]

# --- notebooks: stored outputs only -----------------------------------------------------
nb_execution_mode = "off"
# a live widget cell stores the widget's model id plus its static HTML; without the widget
# state the HTML is what a reader can see, so prefer it to the widget view
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
]
nb_output_stderr = "show"
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3


def _course_links(app, docname, source):
    """Pages link the notebooks as ``../notebooks/NN_x.ipynb`` (right on GitHub); on the site
    they are the pages ``course/NN_x``."""
    if docname in ("teaching", "course"):
        source[0] = source[0].replace("](../notebooks/", "](course/")


def setup(app):
    app.connect("source-read", _course_links)

# --- API reference ------------------------------------------------------------------------
autosummary_generate = False      # the tables link to the autodoc entries on the same page
autodoc_member_order = "groupwise"
autodoc_default_options = {"show-inheritance": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- HTML ---------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = "mxteach"
html_static_path = []
html_theme_options = {
    "description": "MXNet 1.9's Module API, re-implemented on Numba kernels, for teaching",
    "fixed_sidebar": True,
    # notebook cells and the views' drawings need more than alabaster's default 940 px
    "page_width": "1320px",
    "sidebar_width": "250px",
    "body_max_width": "none",
}
