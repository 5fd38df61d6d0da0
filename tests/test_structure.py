"""The source tree keeps its shape: layers, no import circles, one place for environment switches,
kernels that never reach up into operators, small files, and docstrings that point at real files.

The import graph counts every import, also those inside functions: a lazy import is still an
arrow, and an arrow pointing up is how circles start. The layers are CONTRIBUTING.md's.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "mxteach"

# (module prefix, layer); the longest matching prefix wins. Bottom → top.
LAYERS = [
    ("mxteach.base", 0), ("mxteach.config", 0), ("mxteach.registry", 0), ("mxteach.context", 0),
    ("mxteach.events", 0), ("mxteach.fileio", 0), ("mxteach.io_checks", 0),
    ("mxteach.random_state", 0), ("mxteach.lr_scheduler", 0), ("mxteach.shape_codes", 0),
    ("mxteach.recordio", 0),   # .rec/.idx files: base + numpy (+ OpenCV for pack_img)
    ("mxteach.kernels", 1),
    ("mxteach.ndarray.ndarray", 2), ("mxteach.ndarray.gpu", 2), ("mxteach.ndarray.serialization", 2),
    ("mxteach.ndarray.sparse_storage", 2),
    ("mxteach.backend", 2),
    ("mxteach.ops", 3),
    ("mxteach.ops.frontend", 4), ("mxteach.ndarray", 4), ("mxteach.random", 4),
    ("mxteach.symbol", 5),
    ("mxteach.executor", 6),
    ("mxteach.initializer", 7), ("mxteach.optimizer", 7), ("mxteach.metric", 7),
    ("mxteach.kvstore", 7), ("mxteach.io", 7), ("mxteach.monitor", 7),
    ("mxteach.image", 7),   # mx.image: ImageIter is an io iterator; ImageRecordIter decodes here
    ("mxteach.rnn", 8), ("mxteach.model", 8), ("mxteach.callback", 8),
    ("mxteach.module", 9),
    ("mxteach.visualization", 10), ("mxteach.test_utils", 10), ("mxteach", 10),
    ("mxteach.course", 10),   # exercise checks and recorded MXNet outputs for the notebooks
    ("mxteach.widgets", 11),
]
# One concept split over two files: the only circles allowed.
ALLOWED_CIRCLES = [{"mxteach.ndarray.ndarray", "mxteach.ndarray.gpu"},
                   {"mxteach.symbol.symbol", "mxteach.symbol.frontend"}]
UI_PACKAGES = ("ipywidgets", "matplotlib", "graphviz", "IPython")


def _modules():
    mods = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name, path):
    """(target module, line, is_top_level) for each import of a module of the package."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else target), node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top


def _layer(module):
    best = None
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return None if best is None else best[1]


EDGES = sorted({(a, b, line) for a, p in MODULES.items() for b, line, _ in _imports(a, p)
                if b in MODULES and b != a})


def test_every_module_has_a_layer():
    assert [m for m in MODULES if _layer(m) is None] == []


def test_no_import_points_up():
    up = [f"{a} (layer {_layer(a)}) line {line} imports {b} (layer {_layer(b)})"
          for a, b, line in EDGES if _layer(b) > _layer(a)]
    assert up == []


def _circles():
    graph = {}
    for a, b, _ in EDGES:
        graph.setdefault(a, set()).add(b)
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):          # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)
    for v in MODULES:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_but_the_two_named_ones():
    assert [sorted(c) for c in _circles() if c not in ALLOWED_CIRCLES] == []


def test_kernels_import_only_kernels_and_the_base_layer():
    bad = [f"{a} line {line} imports {b}" for a, b, line in EDGES
           if a.startswith("mxteach.kernels") and _layer(b) > 1]
    assert bad == []


def test_kernel_directories_share_family_names():
    kernels = PKG / "kernels"
    families = {d: {p.stem for p in (kernels / d).glob("*.py") if p.stem != "__init__"}
                for d in ("reference", "cpu", "cuda")}
    # every reference family has a CPU kernel file of the same name
    assert families["reference"] - families["cpu"] == set()
    assert families["reference"], "kernels/reference/ holds the numpy twins of the kernels"


def test_core_never_imports_ui_packages_at_import_time():
    bad = []
    for name, path in MODULES.items():
        if name.startswith("mxteach.widgets"):
            continue
        for target, line, top in _imports(name, path):
            if top and (target.split(".")[0] in UI_PACKAGES or target.startswith("mxteach.widgets")):
                bad.append(f"{name} line {line} imports {target}")
    assert bad == []


_ENV_READ = re.compile(r"os\.environ\b|os\.getenv\b")


def test_environment_switches_are_read_in_one_place():
    allowed = {"mxteach.config", "mxteach.test_utils"}   # test_utils.environment *sets* them
    readers = [name for name, path in MODULES.items()
               if name not in allowed and _ENV_READ.search(path.read_text())]
    assert readers == []


def test_source_files_stay_small():
    big = {str(p.relative_to(ROOT)): n for p in MODULES.values()
           if (n := len(p.read_text().splitlines())) > 600}
    assert big == {}


def test_registries_share_one_helper():
    hand_written = [name for name, path in MODULES.items() if name != "mxteach.registry"
                    and re.search(r"^_REGISTRY\s*[:=]", path.read_text(), re.M)]
    assert hand_written == []
    users = {name for name, path in MODULES.items() if "Registry(" in path.read_text()}
    for kind in ("mxteach.ops", "mxteach.metric", "mxteach.initializer", "mxteach.optimizer",
                 "mxteach.kvstore"):
        assert any(u == kind or u.startswith(kind + ".") for u in users), kind


# ``ops/nn.py``, ``kernels/cpu/nn.py``, ``CONTRIBUTING.md`` ... in docstrings and
# comments (file-name examples such as ``prefix-symbol.json`` are not references)
_PATH_REF = re.compile(r"`{1,2}((?:[\w.-]+/)*[\w-]+\.(?:py|md))`{1,2}")
_REPO_FILES = {p.name for p in ROOT.rglob("*") if not ({".venv", ".oracle", ".git"} & set(p.parts))}


@pytest.mark.parametrize("path", sorted(MODULES.values()), ids=lambda p: str(p.relative_to(PKG)))
def test_docstrings_point_at_files_that_exist(path):
    missing = []
    for ref in set(_PATH_REF.findall(path.read_text())):
        if "/" not in ref:
            if ref not in _REPO_FILES:
                missing.append(ref)
            continue
        candidates = [PKG / ref, ROOT / ref] + [d / ref for d in path.parents
                                                 if d == PKG or PKG in d.parents]
        if not any(c.exists() for c in candidates):
            missing.append(ref)
    assert missing == []
