"""How :class:`~mxteach.optimizer.LAMB` updates weights: through MXNet's LAMB operators, as
MXNet 1.9.1's optimizer does, so a student can run the same step by hand.

* one weight (``opt.update(i, w, g, state)``, or ``aggregate_num <= 1``)::

      g = mx.nd.lamb_update_phase1(w, grad, mean, var, t=t, wd=wd, ...)   # moments in place
      mx.nd.lamb_update_phase2(w, g, w.norm(), g.norm(), lr=lr, out=w)

* a list from the Updater (up to ``aggregate_num`` = 45 weights): one
  ``mx.nd.contrib.multi_lamb_update`` (``multi_mp_lamb_update`` with float16 master copies).

One deliberate difference: with a float16 weight and ``multi_precision``, MXNet's one-weight path
calls ``mp_lamb_update_phase2``, which writes the float16 weight but never the float32 master
copy, so every later step starts again from the first master weights. Here phase 2 updates the
master copy (``lamb_update_phase2`` on it) and the weight is its float16 cast: the first step is
MXNet's, later ones keep learning. The aggregated path has no such gap and is MXNet's.
"""
from __future__ import annotations

from .. import ndarray as nd
from .base import _check_same_shape

__all__ = ["lamb_update"]


def _options(opt):
    phase1 = {"beta1": opt.beta1, "beta2": opt.beta2, "epsilon": opt.epsilon,
              "bias_correction": opt.bias_correction, "rescale_grad": opt.rescale_grad}
    if opt.clip_gradient:
        phase1["clip_gradient"] = opt.clip_gradient
    bounds = {}
    if opt.lower_bound:
        bounds["lower_bound"] = opt.lower_bound
    if opt.upper_bound:
        bounds["upper_bound"] = opt.upper_bound
    return phase1, bounds


def _one(opt, index, weight, grad, state, multi_precision):
    _check_same_shape(weight, grad, index)
    opt._update_count(index)
    lr, wd, t = opt._get_lr(index), opt._get_wd(index), opt._index_update_count[index]
    phase1, bounds = _options(opt)
    if multi_precision:
        master, (mean, var) = state
        g = nd.mp_lamb_update_phase1(weight, grad, mean, var, master, t=t, wd=wd, **phase1)
        nd.lamb_update_phase2(master, g, master.norm(), g.norm(), lr=lr, out=master, **bounds)
        weight[:] = master.astype(weight.dtype)
        return
    mean, var = state
    g = nd.lamb_update_phase1(weight, grad, mean, var, t=t, wd=wd, **phase1)
    nd.lamb_update_phase2(weight, g, weight.norm(), g.norm(), lr=lr, out=weight, **bounds)


def lamb_update(opt, index, weight, grad, state, multi_precision):
    """One LAMB update of ``opt`` for one index or a list of them (see the module docstring)."""
    if not isinstance(index, (list, tuple)):
        return _one(opt, index, weight, grad, state, multi_precision)
    if opt.aggregate_num <= 1:
        for args in zip(index, weight, grad, state):
            _one(opt, *args, multi_precision)
        return None
    steps, lrs, wds = [], [], []
    for i, w, g in zip(index, weight, grad):
        _check_same_shape(w, g, i)
        opt._update_count(i)
        steps.append(opt._index_update_count[i])
        lrs.append(opt._get_lr(i))
        wds.append(opt._get_wd(i))
    phase1, bounds = _options(opt)
    size = opt.aggregate_num
    for start in range(0, len(index), size):
        part = slice(start, start + size)
        kw = dict(out=weight[part], step_count=steps[part], lrs=lrs[part], wds=wds[part],
                  **phase1, **bounds)
        if multi_precision:
            masters = [s[0] for s in state[part]]
            means, variances = [s[1][0] for s in state[part]], [s[1][1] for s in state[part]]
            nd.contrib.multi_mp_lamb_update(weight[part], grad[part], means, variances, masters,
                                            **kw)
        else:
            means, variances = [s[0] for s in state[part]], [s[1] for s in state[part]]
            nd.contrib.multi_lamb_update(weight[part], grad[part], means, variances, **kw)
    return None
