"""Monitor: statistics of every operator output (and the arguments) every ``interval`` batches.

A Monitor prints nothing unless ``tic()`` opened a step whose number is a multiple of
``interval`` and the names match ``pattern`` — the usual reasons a Monitor "prints nothing".
See notebook 05.
"""
from __future__ import annotations

import logging
import math
import re

from .ndarray.ndarray import NDArray

__all__ = ["Monitor"]


def _rms(x):
    """Default statistic: ||x|| / sqrt(size)."""
    return x.norm() / math.sqrt(max(x.size, 1))


class Monitor:
    """Collect ``stat_func(array)`` for outputs whose name matches ``pattern``.

    Parameters: interval, stat_func (default norm/sqrt(size)), pattern (regex, matched at the
    start of the name), sort (by name), monitor_all (inputs of every op too).
    """

    def __init__(self, interval, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        self.interval = int(interval)
        self.stat_func = stat_func or _rms
        self.pattern = pattern
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all
        self.activated = False
        self.queue = []
        self.step = 0
        self.exes = []
        self.seen_names = set()      # every name offered, matched or not (for diagnosis)

    def stat_helper(self, name, array):
        self.seen_names.add(name)
        if not self.activated or not self.re_prog.match(name):
            return
        self.queue.append((self.step, name, self.stat_func(array)))

    def install(self, exe):
        exe.set_monitor_callback(self.stat_helper, self.monitor_all)
        self.exes.append(exe)

    def tic(self):
        """Start collecting if this step is one to monitor."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self):
        """Stop collecting; return [(step, name, 'values')], arguments included."""
        if not self.activated:
            return []
        for exe in self.exes:
            for name, array in zip(exe.arg_names, exe.arg_arrays):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        if self.sort:
            self.queue.sort(key=lambda item: item[1])
        res = []
        for step, name, value in self.queue:
            values = value if isinstance(value, (list, tuple)) else [value]
            text = "".join(str(v.asnumpy() if isinstance(v, NDArray) else v) + "\t"
                           for v in values)
            res.append((step, name, text))
        self.queue = []
        return res

    def toc_print(self):
        for step, name, text in self.toc():
            logging.info("Batch: %7d %30s %s", step, name, text)

    def diagnose(self):
        """Why nothing was collected: the interval, the pattern and the names it missed."""
        matched = sorted(n for n in self.seen_names if self.re_prog.match(n))
        missed = sorted(n for n in self.seen_names if not self.re_prog.match(n))
        return {"installed_on": len(self.exes), "interval": self.interval, "step": self.step,
                "pattern": self.pattern, "matched": matched, "not_matched": missed}
