"""Row heat of row_sparse gradients: which rows of an embedding each batch touched.

The module's ``backward`` event carries, per row_sparse gradient, the rows the batch wrote
(``event.data['sparse_grads']``, see ``mxteach/module/sparse_rows.py``). :class:`RowHeat`
folds them into a plain model: the rows are grouped into at most :data:`MAX_BINS` bins, and
per bin the count of touched rows in the last batch and summed over all batches seen.
:func:`heat_strip` draws one strip per parameter: the upper band is the heat so far (darker =
touched more often), the lower band marks the bins the last batch touched. ParamTable shows
it under the parameters; MemoryMap uses the stored sizes. See notebook 15.
"""
from __future__ import annotations

import numpy as np

from ._svg import GRID, MUTED, Svg, esc, fmt_bytes

__all__ = ["RowHeat", "heat_strip", "MAX_BINS"]

MAX_BINS = 200            # cells in a strip: a 100k-row embedding is 500 rows per cell
HOT = "#e15759"           # the gradient role colour (MemoryMap): a mid-tone on both themes


class RowHeat:
    """Accumulates ``sparse_grads`` event data into ``model`` (a dict of plain data per
    parameter name: ``num_rows``, ``bins``, ``rows_per_bin``, ``batches``, ``last`` and
    ``total`` (touched rows per bin), ``last_touched``, ``ever_touched``, ``stored_bytes``,
    ``dense_bytes``). See notebook 15."""

    def __init__(self):
        self.model = {}
        self._ever = {}          # name -> bool per row: touched by some batch so far

    def reset(self):
        self.model.clear()
        self._ever.clear()

    def observe(self, sparse_grads):
        """Add one batch; returns True when some parameter had a row_sparse gradient."""
        for name, info in (sparse_grads or {}).items():
            n = int(info["num_rows"])
            entry = self.model.get(name)
            if entry is None or entry["num_rows"] != n:
                bins = max(1, min(MAX_BINS, n))
                entry = self.model[name] = {
                    "num_rows": n, "bins": bins, "rows_per_bin": -(-n // bins),
                    "batches": 0, "last": [0] * bins, "total": [0] * bins,
                    "last_touched": 0, "ever_touched": 0, "stored_bytes": 0,
                    "dense_bytes": 0}
                self._ever[name] = np.zeros(n, bool)
            rows = np.asarray(info["rows"], np.int64)
            counts = np.bincount(rows // entry["rows_per_bin"], minlength=entry["bins"])
            entry["last"] = counts[:entry["bins"]].tolist()
            entry["total"] = [a + b for a, b in zip(entry["total"], entry["last"])]
            entry["batches"] += 1
            entry["last_touched"] = int(rows.size)
            self._ever[name][rows] = True
            entry["ever_touched"] = int(self._ever[name].sum())
            entry["stored_bytes"] = int(info.get("stored_bytes", 0))
            entry["dense_bytes"] = int(info.get("dense_bytes", 0))
        return bool(sparse_grads)


def heat_strip(name, entry, width=420):
    """One parameter's strip as HTML (an SVG drawing and a caption)."""
    bins, n = entry["bins"], entry["num_rows"]
    cell = width / bins
    svg = Svg(width, 44, label=f"rows of {name} touched by row_sparse gradients")
    peak = max(entry["total"]) or 1
    svg.rect(0, 4, width, 16, "none", stroke=GRID, class_="mxt-heat-frame")
    for i, (last, total) in enumerate(zip(entry["last"], entry["total"])):
        if total:
            # at least a faint mark for any touched bin, darker with more touches
            svg.rect(i * cell, 4, cell, 16, HOT, fill_opacity=f"{0.15 + 0.85 * total / peak:.3f}",
                     class_="mxt-heat-total")
        if last:
            svg.rect(i * cell, 24, cell, 6, HOT, class_="mxt-heat-last")
    svg.text(0, 42, "row 0", size=9, fill=MUTED)
    svg.text(width, 42, f"row {n - 1:,}", size=9, fill=MUTED, anchor="end")
    share = 100.0 * entry["last_touched"] / max(n, 1)
    caption = (f"{name}: the last batch touched {entry['last_touched']:,} of {n:,} rows "
               f"({share:.2g}%); {entry['ever_touched']:,} rows touched in "
               f"{entry['batches']} batch{'es' if entry['batches'] != 1 else ''}")
    if entry["dense_bytes"]:
        caption += (f"; the row_sparse gradient stores {fmt_bytes(entry['stored_bytes'])} "
                    f"where a dense one takes {fmt_bytes(entry['dense_bytes'])}")
    per_bin = entry["rows_per_bin"]
    legend = (f"upper band: how often each {'row' if per_bin == 1 else f'group of {per_bin} rows'}"
              f" was touched so far; lower band: the last batch")
    return (f"<div class='mxt-row-heat' style='margin:4px 0'>{svg.tostring()}"
            f"<div>{esc(caption)}</div><div style='color:{MUTED};font-size:11px'>"
            f"{esc(legend)}</div></div>")
