"""Exercise checks of notebook 06 (training II: callbacks, Monitor, checkpoints).

* 06.1 — build a ``batch_end_callback`` that keeps every n-th batch's metric;
* 06.2 — predict the files ``do_checkpoint`` leaves behind;
* 06.3 — fix a silent Monitor (``interval`` and ``pattern``);
* 06.4 — resume an Adam run exactly from a checkpoint.

Every check trains a small MLP on the synthetic digits (600 examples, 6 batches per epoch) and
compares with what mxteach does. See notebook 06.
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from .checking import Wrong, exercise
from .nb04 import answered, keeps_random_state, unfilled
from .nb05 import _mlp, digits

__all__ = ["check_callback", "check_checkpoint_files", "check_monitor_fix", "check_resume",
           "train_iter", "BATCHES_PER_EPOCH"]

BATCH_SIZE = 100
BATCHES_PER_EPOCH = 6


def train_iter():
    """600 digits in batches of 100: six batches per epoch."""
    from .. import io
    X, y = digits()
    return io.NDArrayIter(X[:600], y[:600], batch_size=BATCH_SIZE)


def _fit(module=None, num_epoch=2, begin_epoch=0, optimizer="sgd", optimizer_params=None,
         **kwargs):
    from .. import init, random
    from ..module import Module
    if module is None:
        random.seed(3)
        module = Module(_mlp(32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # a loaded module keeps its parameters: intended
        module.fit(train_iter(), num_epoch=num_epoch, begin_epoch=begin_epoch,
                   initializer=init.Xavier(), optimizer=optimizer,
                   optimizer_params=optimizer_params or {"learning_rate": 0.1,
                                                         "momentum": 0.9}, **kwargs)
    return module


@exercise("06.1", "a callback that keeps every n-th batch")
@keeps_random_state
def check_callback(EveryNth):
    """``EveryNth(period)``: a callable keeping ``(epoch, nbatch, accuracy)`` in ``.seen`` for
    each batch whose ``nbatch`` is a multiple of ``period``."""
    if not callable(EveryNth):
        raise Wrong(f"expected a class (or function) EveryNth(period), got {EveryNth!r}")
    truth = []

    def reference(param):
        if param.nbatch % 2 == 0:
            truth.append((param.epoch, param.nbatch, param.eval_metric.get()[1]))
    mine = EveryNth(2)
    if not callable(mine):
        raise Wrong("EveryNth(2) must return something fit can call with a BatchEndParam: "
                    "define __call__(self, param)")
    _fit(num_epoch=2, batch_end_callback=[mine, reference])
    seen = getattr(mine, "seen", None)
    if seen is None:
        raise Wrong("not answered yet: EveryNth(2) has no attribute `seen`. Write __init__ "
                    "(keep the period and an empty list `self.seen`) and __call__")
    seen = [tuple(s) for s in seen]
    if [s[:2] for s in seen] != [t[:2] for t in truth]:
        raise Wrong(f"kept batches {[s[:2] for s in seen]}; expected (epoch, nbatch) "
                    f"{[t[:2] for t in truth]}. nbatch starts at 0 in every epoch; keep a batch "
                    "when param.nbatch % period == 0")
    for (e, b, got), (_, _, want) in zip(seen, truth):
        if not isinstance(got, (int, float, np.floating)) or abs(float(got) - want) > 1e-6:
            raise Wrong(f"at epoch {e}, batch {b} you kept {got!r}; the metric said {want:.4f}. "
                        "Read it with param.eval_metric.get()[1]")
    return f"kept {len(seen)} batches with their running accuracy"


@exercise("06.2", "predict do_checkpoint's files")
@keeps_random_state
def check_checkpoint_files(answer):
    """``answer``: the sorted file names ``do_checkpoint("digits", period=2)`` leaves after
    ``fit(num_epoch=5)``."""
    from .. import callback
    if unfilled(answer):
        raise Wrong("not answered yet: replace the `...` with your list of file names")
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        raise Wrong(f"expected a list of file names, got {answer!r}")
    got = sorted(str(a) for a in answer)
    with tempfile.TemporaryDirectory() as tmp:
        _fit(num_epoch=5, epoch_end_callback=callback.do_checkpoint(os.path.join(tmp, "digits"),
                                                                     period=2))
        want = sorted(os.listdir(tmp))
    if got == want:
        return f"fit left {want}"
    if "digits-symbol.json" not in got:
        raise Wrong("every checkpoint also writes the graph, digits-symbol.json (once, same name)")
    params = [g for g in got if g.endswith(".params")]
    if any(p in ("digits-0001.params", "digits-0003.params") for p in params):
        raise Wrong(f"you listed {params}: do_checkpoint numbers a checkpoint by the epochs "
                    "completed (epoch index + 1), and saves when that number is a multiple of "
                    "period")
    raise Wrong(f"you listed {got}; count the epochs completed that are multiples of period "
                "among 1..5")


def _monitored_names(mon, batches):
    """Run ``batches`` training batches the way fit does (tic, forward/backward, toc) and
    return what the Monitor collected: ``{batch index: sorted names}``."""
    from .. import init, random
    from ..module import Module
    random.seed(3)
    mod = Module(_mlp(32))
    it = train_iter()
    mod.bind(data_shapes=it.provide_data, label_shapes=it.provide_label)
    mod.init_params(init.Xavier())
    mod.install_monitor(mon)
    collected = {}
    for k, batch in enumerate(it):
        if k == batches:
            break
        mon.tic()
        mod.forward_backward(batch)
        names = sorted({name for _, name, _ in mon.toc()})
        if names:
            collected[k] = names
    return collected


@exercise("06.3", "fix a silent Monitor")
@keeps_random_state
def check_monitor_fix(answer):
    """``answer = {"interval": ..., "pattern": ...}``: collect fc2's output, weight and bias —
    nothing else — on batches 0, 2 and 4 of a six-batch epoch."""
    from .. import monitor
    if unfilled(answer):
        raise Wrong("not answered yet: replace each `...` with a value")
    if not isinstance(answer, dict) or set(answer) != {"interval", "pattern"}:
        raise Wrong(f"expected a dict with keys 'interval' and 'pattern', got {answer!r}")
    target = ["fc2_bias", "fc2_output", "fc2_weight"]
    mon = monitor.Monitor(**answer)
    got = _monitored_names(mon, BATCHES_PER_EPOCH)
    if not got:
        seen = sorted(mon.diagnose()["not_matched"])
        raise Wrong(f"the Monitor collected nothing: pattern {mon.pattern!r} matched none of "
                    f"{seen} (it is matched at the start of each name, case-sensitive)")
    steps = sorted(got)
    if steps != [0, 2, 4]:
        raise Wrong(f"it collected on batches {steps}; batches 0, 2, 4 need interval=2 "
                    "(a batch is collected when the count of tic() calls before it is a "
                    "multiple of interval)")
    names = got[0]
    extra, missing = sorted(set(names) - set(target)), sorted(set(target) - set(names))
    if extra:
        raise Wrong(f"the pattern also matched {extra}: make it match only names starting "
                    "with fc2")
    if missing:
        raise Wrong(f"the pattern missed {missing}: fc2's output and its parameters all start "
                    "with 'fc2'")
    return f"collected {names} on batches {steps}"


@exercise("06.4", "resume Adam exactly")
@keeps_random_state
def check_resume(resume):
    """``resume(prefix, epoch, batches_per_epoch)`` -> ``(module, optimizer_params)`` that
    continue a checkpointed Adam run (lr 0.01) so it equals a straight run."""
    adam = {"learning_rate": 0.01}
    straight = _fit(num_epoch=4, optimizer="adam", optimizer_params=adam)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "digits")
        _fit(num_epoch=2, optimizer="adam", optimizer_params=adam).save_checkpoint(
            prefix, 2, save_optimizer_states=True)
        out = answered(resume, prefix, 2, BATCHES_PER_EPOCH, what="resume")
        try:
            module, params = out
        except (TypeError, ValueError):
            raise Wrong(f"resume must return (module, optimizer_params); got {out!r}") from None
        if not hasattr(module, "fit") or not isinstance(params, dict):
            raise Wrong("resume must return a Module (from mx.mod.Module.load) and a dict of "
                        f"optimizer parameters; got {type(module).__name__}, "
                        f"{type(params).__name__}")
        preloaded = getattr(module, "_preload_opt_states", None) is not None
        resumed = _fit(module, num_epoch=4, begin_epoch=2, optimizer="adam",
                       optimizer_params=params)
    p_straight, p_resumed = straight.get_params()[0], resumed.get_params()[0]
    if all(np.array_equal(p_straight[k].asnumpy(), p_resumed[k].asnumpy()) for k in p_straight):
        return "2 epochs + resumed 2 epochs == 4 epochs straight, bit for bit"
    if not preloaded:
        raise Wrong("the module did not load the optimizer states (Adam's mean and var): "
                    "Module.load(prefix, epoch, load_optimizer_states=True)")
    done = 2 * BATCHES_PER_EPOCH
    if params.get("begin_num_update") != done:
        raise Wrong(f"optimizer_params has begin_num_update={params.get('begin_num_update')!r}: "
                    "Adam's bias correction depends on the update count t, which the .states "
                    f"file does not hold; {done} updates were done before the checkpoint")
    raise Wrong(f"the resumed run differs from the straight one; use the same learning rate "
                f"as the first run ({adam['learning_rate']}) and begin_num_update={done}")
