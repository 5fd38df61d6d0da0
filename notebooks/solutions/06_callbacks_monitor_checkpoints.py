"""Reference solutions of notebook 06's exercises, and typical mistakes with the words their
explanation must contain (see tests/test_course_exercises.py)."""
import mxteach as mx


class EveryNth:
    def __init__(self, period):
        self.period = period
        self.seen = []

    def __call__(self, param):
        if param.nbatch % self.period == 0:
            self.seen.append((param.epoch, param.nbatch, param.eval_metric.get()[1]))


class EveryNthCountingFromOne:
    # counts batches from 1: keeps nbatch 1, 3, 5 instead of 0, 2, 4
    def __init__(self, period):
        self.period = period
        self.seen = []

    def __call__(self, param):
        if (param.nbatch + 1) % self.period == 0:
            self.seen.append((param.epoch, param.nbatch, param.eval_metric.get()[1]))


def resume(prefix, epoch, batches_per_epoch):
    module = mx.mod.Module.load(prefix, epoch, load_optimizer_states=True)
    return module, {"learning_rate": 0.01, "begin_num_update": epoch * batches_per_epoch}


def resume_without_counter(prefix, epoch, batches_per_epoch):
    return mx.mod.Module.load(prefix, epoch, load_optimizer_states=True), {"learning_rate": 0.01}


def resume_without_states(prefix, epoch, batches_per_epoch):
    module = mx.mod.Module.load(prefix, epoch)
    return module, {"learning_rate": 0.01, "begin_num_update": epoch * batches_per_epoch}


SOLUTIONS = {
    "06.1": EveryNth,
    "06.2": ["digits-0002.params", "digits-0004.params", "digits-symbol.json"],
    "06.3": {"interval": 2, "pattern": "fc2"},
    "06.4": resume,
}

WRONG = {
    "06.1": [(EveryNthCountingFromOne, "nbatch starts at 0")],
    "06.2": [(["digits-0001.params", "digits-0003.params", "digits-0005.params",
               "digits-symbol.json"], "epochs completed"),
             (["digits-0002.params", "digits-0004.params"], "symbol.json")],
    "06.3": [({"interval": 2, "pattern": "FC2"}, "matched none"),
             ({"interval": 1, "pattern": "fc2"}, "interval=2"),
             ({"interval": 2, "pattern": "fc"}, "also matched")],
    "06.4": [(resume_without_counter, "begin_num_update"),
             (resume_without_states, "optimizer states")],
}
