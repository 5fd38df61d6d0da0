"""Monitor: statistics of every operator output (and the arguments and auxiliary states) every
``interval`` batches, formatted as MXNet formats them.

A Monitor prints nothing unless ``tic()`` opened a step whose number is a multiple of
``interval`` and the names match ``pattern`` — the usual reasons a Monitor "prints nothing".
See notebook 06.
"""
from __future__ import annotations

import logging
import math
import re

import numpy as np

from .ndarray.ndarray import NDArray

__all__ = ["Monitor", "format_stats"]


def format_stats(value):
    """One statistic (or a list of them) as MXNet's ``Monitor.toc`` writes it: each value and
    a tab; a value of shape ``(1,)`` as a scalar, anything else as its numpy array."""
    values = value if isinstance(value, (list, tuple)) else [value]
    text = ""
    for v in values:
        arr = v.asnumpy() if isinstance(v, NDArray) else np.asarray(v)
        text += (str(arr[0]) if arr.shape == (1,) else str(arr)) + "\t"
    return text


def _rms(x):
    """Default statistic: ||x|| / sqrt(size)."""
    return x.norm() / math.sqrt(max(x.size, 1))


class Monitor:
    """Collect ``stat_func(array)`` for outputs whose name matches ``pattern``.

    Parameters: interval, stat_func (default norm/sqrt(size)), pattern (regex, matched at the
    start of the name), sort (by name), monitor_all (inputs of every op too). See notebook 06.
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
        """Stop collecting; return ``[(step, name, text)]`` for the outputs seen since
        ``tic()``, then every argument and auxiliary state whose name matches.

        ``text`` is formatted as MXNet does, so scripts that parse it keep working: each
        statistic followed by a tab; a one-element statistic prints as a scalar
        (``'0.3718\t'``), any other as its numpy array. A list of statistics gives one entry
        per element. (MXNet insists on NDArrays; numbers and numpy arrays are accepted here and
        printed the same way.)
        """
        if not self.activated:
            return []
        for exe in self.exes:
            for names, arrays in ((exe.arg_names, exe.arg_arrays),
                                  (exe.aux_names, exe.aux_arrays)):
                for name, array in zip(names, arrays):
                    if self.re_prog.match(name):
                        self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        if self.sort:
            self.queue.sort(key=lambda item: item[1])
        res = [(step, name, format_stats(value)) for step, name, value in self.queue]
        self.queue = []
        return res

    def toc_print(self):
        for step, name, text in self.toc():
            # MXNet writes str.format's {:30s}: the name padded on the right
            logging.info("Batch: {:7d} {:30s} {:s}".format(step, name, text))

    def diagnose(self):
        """Why nothing was collected: the interval, the pattern and the names it missed."""
        matched = sorted(n for n in self.seen_names if self.re_prog.match(n))
        missed = sorted(n for n in self.seen_names if not self.re_prog.match(n))
        return {"installed_on": len(self.exes), "interval": self.interval, "step": self.step,
                "pattern": self.pattern, "matched": matched, "not_matched": missed}
