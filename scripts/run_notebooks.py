"""Execute notebooks headlessly (the `make demo` twin of `make lab`) and write HTML copies."""
from __future__ import annotations

import argparse
import pathlib
import sys

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folder", type=pathlib.Path)
    ap.add_argument("--html", type=pathlib.Path, default=pathlib.Path("build/demo"))
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args(argv)
    args.html.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in sorted(args.folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        try:
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
        except Exception as err:  # report every notebook, then fail
            failed.append((path.name, err))
            print(f"FAILED {path.name}: {err}", file=sys.stderr)
        body, _ = HTMLExporter().from_notebook_node(nb)
        out = args.html / (path.stem + ".html")
        out.write_text(body)
        print(f"{path.name} -> {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
