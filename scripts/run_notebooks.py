"""Execute notebooks headlessly (the `make demo` twin of `make lab`) and write HTML copies.

``--inplace`` stores each executed notebook back (restart-and-run-all: the reference outputs
nbval compares with), e.g. after a change to how the views render::

    .venv/bin/python scripts/run_notebooks.py --inplace notebooks/08_bucketing_and_rnn.ipynb
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


def notebooks(paths):
    """The .ipynb files named, or found in the folders named, sorted."""
    out = []
    for path in paths:
        out += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", type=pathlib.Path, nargs="+",
                    help="notebooks, or folders of notebooks")
    ap.add_argument("--html", type=pathlib.Path, default=None,
                    help="write an HTML copy of each notebook here")
    ap.add_argument("--inplace", action="store_true",
                    help="store each executed notebook back in its file")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args(argv)
    if args.html is None and not args.inplace:
        args.html = pathlib.Path("build/demo")
    if args.html is not None:
        args.html.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in notebooks(args.paths):
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        try:
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except Exception as err:  # report every notebook, then fail
            failed.append((path.name, err))
            print(f"FAILED {path.name}: {err}", file=sys.stderr)
        else:
            # kernel start included: what a student's restart-and-run-all costs
            print(f"{path.name} ran in {time.perf_counter() - t0:.1f} s")
        if args.inplace and not any(p == path.name for p, _ in failed):
            nbformat.write(nb, path)
            print(f"{path.name} executed and stored")
        if args.html is not None:
            body, _ = HTMLExporter().from_notebook_node(nb)
            out = args.html / (path.stem + ".html")
            out.write_text(body)
            print(f"{path.name} -> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
