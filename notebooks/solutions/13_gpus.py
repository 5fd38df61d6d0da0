"""Reference solutions of notebook 13 (GPUs: contexts, device memory, mixed device lists,
group2ctx), and typical mistakes with words their explanation must contain
(tests/test_course_exercises.py)."""

# 13.1
DEVICES = {"A": "gpu(0)", "B": "error", "C": "gpu(1)", "D": "error", "E": "cpu(0)",
           "F": "gpu(0)"}
_IMPLICIT_COPY = dict(DEVICES, D="gpu(0)")          # "mxteach copies c to the gpu for me"
_COPY_FAILS = dict(DEVICES, C="error")


# 13.3
def _forward_sweep(nodes, group2ctx):
    """Groups first, then each unplaced operator follows its first placed input."""
    dev = {}
    for name, group, inputs in nodes:
        if group in group2ctx:
            dev[name] = group2ctx[group]
        elif inputs:
            first = next((i for i in inputs if i in dev), None)
            if first is not None:
                dev[name] = dev[first]
    return dev


def place(nodes, group2ctx, default):
    dev = _forward_sweep(nodes, group2ctx)
    for name, _, inputs in reversed(nodes):       # backward: unplaced inputs follow consumers
        if name in dev:
            for i in inputs:
                dev.setdefault(i, dev[name])
    return {name: dev.get(name, default) for name, _, _ in nodes}


def _place_groups_only(nodes, group2ctx, default):
    return {name: group2ctx.get(group, default) for name, group, _ in nodes}


def _place_without_backward_sweep(nodes, group2ctx, default):
    dev = _forward_sweep(nodes, group2ctx)
    return {name: dev.get(name, default) for name, _, _ in nodes}


# 13.2
SUM_DEVICES = {"fc1_weight": 0, "fc2_weight": 1, "fc3_weight": 1, "fc1_bias": 1,
               "fc2_bias": 1, "fc3_bias": 1}

SOLUTIONS = {"13.1": DEVICES, "13.3": place, "13.4": (2, 2), "13.2": SUM_DEVICES}

WRONG = {
    "13.1": [(_IMPLICIT_COPY, "never moves data implicitly"), (_COPY_FAILS, "works")],
    "13.3": [(_place_groups_only, "first placed input"),
             (_place_without_backward_sweep, "consumer")],
    "13.4": [((1, 1), "crosses twice"), ((2, 0), "gradient")],
    "13.2": [({k: 0 for k in SUM_DEVICES}, "spreads"),
             (dict(SUM_DEVICES, fc3_weight=0), "fc3_weight")],
}
